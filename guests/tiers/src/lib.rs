//! An order's routing rules: which tier, how big, where to, and what it costs.
//!
//! The order is a JSON body (`{"tier": "gold", "amount": 1200, "country": "DE", "items": [...]}`);
//! a `tier`, `amount` or `country` header, when present, wins over the body.
use camel_wasm_guest::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};

/// Orders from this amount on are big (`init` config `big-from`).
static BIG_FROM: AtomicU64 = AtomicU64::new(1000);

/// Countries `is-eu` accepts.
const EU: &[&str] = &["AT", "BE", "DE", "ES", "FI", "FR", "IE", "IT", "NL", "PT"];

struct Tiers;

fn field(ex: &Exchange, key: &str) -> Option<Value> {
    if let Some(value) = ex.header_value(key) {
        return Some(value.clone());
    }
    let body: Value = ex.body().json().ok()?;
    body.get(key).cloned()
}

fn tier(ex: &Exchange) -> String {
    match field(ex, "tier") {
        Some(Value::String(tier)) => tier.to_lowercase(),
        _ => "none".into(),
    }
}

fn amount(ex: &Exchange) -> Result<f64, Error> {
    match field(ex, "amount") {
        None => Ok(0.0),
        Some(Value::Number(n)) => Ok(n.as_f64().unwrap_or(0.0)),
        Some(Value::String(s)) => s.trim().parse().map_err(|_| Error::type_conversion(format!("amount '{s}' is not a number"))),
        Some(other) => Err(Error::type_conversion(format!("amount is {other}, not a number"))),
    }
}

impl Tiers {
    fn is_platinum(ex: &Exchange) -> Result<bool, Error> {
        Ok(tier(ex) == "platinum")
    }
    fn is_gold(ex: &Exchange) -> Result<bool, Error> {
        Ok(tier(ex) == "gold")
    }
    fn is_silver(ex: &Exchange) -> Result<bool, Error> {
        Ok(tier(ex) == "silver")
    }
    fn is_bronze(ex: &Exchange) -> Result<bool, Error> {
        Ok(tier(ex) == "bronze")
    }
    fn is_big(ex: &Exchange) -> Result<bool, Error> {
        Ok(amount(ex)? >= BIG_FROM.load(Ordering::Relaxed) as f64)
    }
    fn is_eu(ex: &Exchange) -> Result<bool, Error> {
        Ok(matches!(field(ex, "country"), Some(Value::String(c)) if EU.contains(&c.to_uppercase().as_str())))
    }
    fn is_express(ex: &Exchange) -> Result<bool, Error> {
        Ok(ex.header_str("shipping") == Some("express"))
    }
    /// No tier and a large amount: held for review.
    fn is_suspicious(ex: &Exchange) -> Result<bool, Error> {
        Ok(tier(ex) == "none" && amount(ex)? >= 10.0 * BIG_FROM.load(Ordering::Relaxed) as f64)
    }
    fn tier_name(ex: &Exchange) -> Result<String, Error> {
        Ok(tier(ex))
    }
    /// The discount in percent.
    fn discount(ex: &Exchange) -> Result<u32, Error> {
        Ok(match tier(ex).as_str() {
            "platinum" => 20,
            "gold" => 10,
            "silver" => 5,
            _ => 0,
        })
    }
    /// The order's items, for a `split`.
    fn items(ex: &Exchange) -> Result<Value, Error> {
        match field(ex, "items") {
            Some(items @ Value::Array(_)) => Ok(items),
            None => Ok(json!([])),
            Some(other) => Err(Error::type_conversion(format!("items is {other}, not an array"))),
        }
    }
    /// A summary of the order, for a `set-body`.
    fn summary(ex: &Exchange) -> Result<Value, Error> {
        Ok(json!({ "tier": tier(ex), "discount": Self::discount(ex)?, "big": Self::is_big(ex)? }))
    }
}

impl Language for Tiers {
    const ENTRIES: &'static [Entry] = entries! {
        predicate "is-platinum" => Self::is_platinum,
        predicate "is-gold" => Self::is_gold,
        predicate "is-silver" => Self::is_silver,
        predicate "is-bronze" => Self::is_bronze,
        predicate "is-big" => Self::is_big,
        predicate "is-eu" => Self::is_eu,
        predicate "is-express" => Self::is_express,
        predicate "is-suspicious" => Self::is_suspicious,
        expression "tier" => Self::tier_name,
        expression "discount" => Self::discount,
        expression "items" => Self::items,
        expression "summary" => Self::summary,
    };

    fn init(config: Config) -> Result<(), String> {
        if let Some(from) = config.get("big-from") {
            BIG_FROM.store(from.parse().map_err(|_| format!("big-from '{from}' is not a whole number"))?, Ordering::Relaxed);
        }
        Ok(())
    }
}

export_language!(Tiers);
