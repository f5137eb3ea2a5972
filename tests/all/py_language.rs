//! The Python language guest `py-tiers` (`guests/py-tiers`, the `language` world
//! through `camel_wasm_guest.Language`) through the public API: its entries,
//! predicates, expressions, `init` config and predicate groups.

use camel_wasm::{Entry, EntryKind, Exchange, GuestError, Language, Limits, WasmError};
use serde_json::{Value, json};

use crate::python::{py_guest, python_runtime};

async fn tiers(config: &[(&str, &str)]) -> Result<Language, WasmError> {
    let config = config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Language::load(python_runtime(), &py_guest("py-tiers"), Limits::default(), config).await
}

fn order(body: Value) -> Exchange {
    Exchange::new(body)
}

#[tokio::test]
async fn py_tiers_lists_its_entries_with_their_kinds() {
    let language = tiers(&[]).await.expect("load");
    let entry = |name: &str, kind| Entry { name: name.into(), kind };
    assert_eq!(
        &*language.entries(),
        [
            entry("is-gold", EntryKind::Predicate),
            entry("is-silver", EntryKind::Predicate),
            entry("is-big", EntryKind::Predicate),
            entry("tier", EntryKind::Expression),
            entry("items", EntryKind::Expression),
        ],
        "in declaration order; `is_gold` is named `is-gold`, `tier_name` is named `tier` by its decorator"
    );
}

#[tokio::test]
async fn py_tiers_predicates_read_the_header_first_then_the_json_body() {
    let language = tiers(&[]).await.expect("load");
    let is = async |name: &str, exchange: Exchange| language.matches(name, exchange).await.unwrap();

    assert!(is("is-gold", order(json!({"tier": "Gold"}))).await, "the body's tier, case-insensitive");
    assert!(!is("is-gold", order(json!({"tier": "silver"}))).await);
    assert!(is("is-silver", order(json!({"tier": "silver"}))).await);
    assert!(!is("is-silver", order(json!({"amount": 5}))).await, "no tier at all");
    assert!(is("is-gold", order(json!({"tier": "silver"})).with_header("tier", "GOLD")).await, "the header wins");
    assert!(!is("is-silver", order(json!({"tier": "silver"})).with_header("tier", "gold")).await);
    assert!(is("is-silver", Exchange::new(r#"{"tier": "silver"}"#)).await, "a text body holding JSON counts");

    assert!(is("is-big", order(json!({"amount": 1000}))).await, "from 1000 on");
    assert!(!is("is-big", order(json!({"amount": 999.5}))).await);
    assert!(!is("is-big", order(json!({"tier": "gold"}))).await, "no amount is 0");
    assert!(is("is-big", Exchange::new("x").with_header("amount", "1500")).await, "a header's text is read as JSON");
    assert!(!is("is-big", order(json!({"amount": 5000})).with_header("amount", 5)).await, "the header wins");
    assert!(is("is-big", order(json!({"amount": " 2000 "}))).await, "a numeric string counts");

    let bad = language.matches("is-big", order(json!({"amount": "lots"}))).await;
    assert!(
        matches!(&bad, Err(WasmError::Guest { error: GuestError::TypeConversion(m), .. }) if m == "amount 'lots' is not a number"),
        "{bad:?}"
    );
}

#[tokio::test]
async fn py_tiers_expressions_return_json_values_and_init_config_moves_is_big() {
    let language = tiers(&[]).await.expect("load");
    let value = async |name: &str, exchange: Exchange| language.evaluate(name, exchange).await.unwrap();
    assert_eq!(value("tier", order(json!({"tier": "PLATINUM"}))).await, json!("platinum"));
    assert_eq!(value("tier", order(json!({"tier": "gold"})).with_header("tier", "Silver")).await, json!("silver"));
    assert_eq!(value("tier", order(json!({"amount": 1}))).await, json!("none"));
    assert_eq!(value("tier", order(json!({"tier": 7}))).await, json!("none"), "a tier that is not a string");
    let items = json!([{"sku": "a-1", "qty": 2}, {"sku": "b-2", "qty": 1}]);
    assert_eq!(value("items", order(json!({"tier": "gold", "items": items.clone()}))).await, items);
    assert_eq!(value("items", order(json!({"tier": "gold"}))).await, json!([]));
    let not_a_list = language.evaluate("items", order(json!({"items": 3}))).await;
    assert!(
        matches!(&not_a_list, Err(WasmError::Guest { error: GuestError::TypeConversion(m), .. }) if m == "items is 3, not an array"),
        "{not_a_list:?}"
    );

    let low = tiers(&[("big-from", "50")]).await.expect("load with big-from");
    assert!(low.matches("is-big", order(json!({"amount": 60}))).await.unwrap(), "big from 50 on");
    assert!(!low.matches("is-big", order(json!({"amount": 49}))).await.unwrap());
    assert!(!language.matches("is-big", order(json!({"amount": 60}))).await.unwrap(), "the default endpoint keeps 1000");
    // init's exception fails the load (or the first call) with its message.
    let refused = match tiers(&[("big-from", "lots")]).await {
        Err(e) => e.to_string(),
        Ok(language) => language.matches("is-big", order(json!({}))).await.expect_err("init must fail").to_string(),
    };
    assert!(refused.contains("big-from 'lots' is not a whole number"), "{refused}");
}

#[tokio::test]
async fn py_tiers_groups_answer_the_first_match_in_one_call_and_name_a_failing_clause() {
    let language = tiers(&[]).await.expect("load");
    let group = language.group(&["is-gold", "is-silver", "is-big"]).unwrap();
    let first = async |exchange: Exchange| language.first_match(&group, exchange).await;
    assert_eq!(first(order(json!({"tier": "silver", "amount": 5000}))).await.unwrap(), Some(1));
    assert_eq!(first(order(json!({"tier": "gold", "amount": 5000}))).await.unwrap(), Some(0), "the first of two matches");
    assert_eq!(first(order(json!({"tier": "bronze", "amount": 1000}))).await.unwrap(), Some(2));
    assert_eq!(first(order(json!({"tier": "bronze", "amount": 10}))).await.unwrap(), None);
    // A gold order matches clause 0, so the bad amount of clause 2 is never read.
    assert_eq!(first(order(json!({"tier": "gold", "amount": "lots"}))).await.unwrap(), Some(0));
    match first(order(json!({"tier": "bronze", "amount": "lots"}))).await {
        Err(WasmError::Clause { index, entry, error, .. }) => {
            assert_eq!((index, entry.as_str()), (2, "is-big"));
            assert_eq!(error, GuestError::TypeConversion("amount 'lots' is not a number".into()));
        }
        other => panic!("expected clause 2 to fail, got {other:?}"),
    }
}

#[tokio::test]
async fn py_tiers_unknown_or_mistyped_entries_are_unknown_entry_errors() {
    let language = tiers(&[]).await.expect("load");
    let unknown = language.matches("is-platinum", order(json!({"tier": "platinum"}))).await;
    assert!(
        matches!(&unknown, Err(WasmError::UnknownEntry { entry, kind, available, .. })
            if entry == "is-platinum" && *kind == "predicate" && available.contains(&"is-gold (predicate)".to_string())),
        "{unknown:?}"
    );
    let mistyped = language.evaluate("is-gold", order(json!({}))).await;
    assert!(
        matches!(&mistyped, Err(WasmError::UnknownEntry { entry, kind, .. }) if entry == "is-gold" && *kind == "expression"),
        "a predicate asked as an expression: {mistyped:?}"
    );
    let in_group = language.group(&["is-gold", "tier"]);
    assert!(
        matches!(&in_group, Err(WasmError::UnknownEntry { entry, kind, .. }) if entry == "tier" && *kind == "predicate"),
        "an expression in a group: {in_group:?}"
    );
}
