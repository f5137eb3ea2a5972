//! Bean: text methods on the body.
//!
//! | method | result |
//! |---|---|
//! | `upper` | the text upper-cased |
//! | `reverse` | the text reversed (by character) |
//! | `count` | a JSON body `{"count": <number of characters>}` |
//! | `fail` | the processor error `text-utils: fail was called` |
//! | `suffix` | the text followed by the suffix `init` stored (config key `suffix`, default `!`) |

use camel_wasm_guest::prelude::*;

const SUFFIX: &str = "suffix";

/// The body as text; empty for an empty or binary body.
fn text(ex: &Exchange) -> &str {
    ex.body().text().unwrap_or_default()
}

struct TextUtils;

impl TextUtils {
    async fn upper(mut ex: Exchange) -> Result<Exchange, Error> {
        let upper = text(&ex).to_uppercase();
        ex.set_body(upper);
        Ok(ex)
    }

    async fn reverse(mut ex: Exchange) -> Result<Exchange, Error> {
        let reversed: String = text(&ex).chars().rev().collect();
        ex.set_body(reversed);
        Ok(ex)
    }

    async fn count(mut ex: Exchange) -> Result<Exchange, Error> {
        let count = text(&ex).chars().count();
        ex.body_mut().set_json(&json!({ "count": count }))?;
        Ok(ex)
    }

    async fn fail(_ex: Exchange) -> Result<Exchange, Error> {
        Err(Error::processor("text-utils: fail was called"))
    }

    async fn suffix(mut ex: Exchange) -> Result<Exchange, Error> {
        let suffixed = format!("{}{}", text(&ex), state::load(SUFFIX)?.unwrap_or_default());
        ex.set_body(suffixed);
        Ok(ex)
    }
}

impl Bean for TextUtils {
    const METHODS: &'static [Method] = bean_methods! {
        "upper" => Self::upper,
        "reverse" => Self::reverse,
        "count" => Self::count,
        "fail" => Self::fail,
        "suffix" => Self::suffix,
    };

    fn init(config: Config) -> Result<(), String> {
        state::store(SUFFIX, config.get_or(SUFFIX, "!")).map_err(|e| e.to_string())
    }
}

export_bean!(TextUtils);
