//! The `language` world (`camel:language@1.0.0`) through the `tiers` guest and
//! the hostile `language-chaos` guest: entries, predicates, expressions,
//! groups in one call, and every way an entry can fail.

use camel_wasm::{Body, Entry, EntryKind, Exchange, GuestError, Language, Limits, TrapReason, WasmError};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use serde_json::{Value, json};

use crate::fixture::{guest, runtime};

async fn load(name: &str, knobs: &str, config: &[(&str, &str)]) -> Language {
    let config = config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Language::from_uri(runtime(), &format!("wasm:{}?{knobs}", guest(name)), config).await.expect("language loads")
}

fn order(body: Value) -> Exchange {
    Exchange::new(Body::Json(body))
}

#[tokio::test]
async fn tiers_lists_its_entries_with_their_kinds() {
    let tiers = load("tiers", "", &[]).await;
    let entries: Vec<(String, EntryKind)> = tiers.entries().iter().map(|e| (e.name.clone(), e.kind)).collect();
    let predicates = ["is-platinum", "is-gold", "is-silver", "is-bronze", "is-big", "is-eu", "is-express", "is-suspicious"];
    let expressions = ["tier", "discount", "items", "summary"];
    let expected: Vec<(String, EntryKind)> = predicates
        .iter()
        .map(|n| (n.to_string(), EntryKind::Predicate))
        .chain(expressions.iter().map(|n| (n.to_string(), EntryKind::Expression)))
        .collect();
    assert_eq!(entries, expected);
    assert_eq!(tiers.entries()[0], Entry { name: "is-platinum".into(), kind: EntryKind::Predicate });
    let info = runtime().inspect(&guest("tiers")).unwrap();
    assert_eq!(info.worlds, ["language"], "tiers fits the language world only");
    assert!(info.exports.iter().any(|e| e == "first-match"), "{:?}", info.exports);
}

#[tokio::test]
async fn predicates_read_headers_over_the_json_body() {
    let tiers = load("tiers", "", &[]).await;
    let is = async |name: &str, exchange: Exchange| tiers.matches(name, exchange).await.unwrap();
    assert!(is("is-gold", order(json!({"tier": "GOLD"}))).await);
    assert!(!is("is-gold", order(json!({"tier": "silver"}))).await);
    assert!(is("is-gold", order(json!({"tier": "silver"})).with_header("tier", "gold")).await, "the header wins");
    assert!(is("is-big", order(json!({"amount": 1000}))).await);
    assert!(!is("is-big", order(json!({"amount": 999.5}))).await);
    assert!(is("is-big", Exchange::new("x").with_header("amount", "2500")).await, "a numeric text header");
    assert!(is("is-eu", order(json!({"country": "de"}))).await);
    assert!(!is("is-eu", order(json!({"country": "US"}))).await);
    assert!(is("is-express", Exchange::new("").with_header("shipping", "express")).await);
    assert!(is("is-suspicious", order(json!({"amount": 20000}))).await, "no tier and a large amount");
    assert!(!is("is-suspicious", order(json!({"amount": 20000, "tier": "gold"}))).await);
    let bad = tiers.matches("is-big", order(json!({"amount": [1]}))).await.unwrap_err();
    assert!(
        matches!(&bad, WasmError::Guest { error: GuestError::TypeConversion(m), .. } if m.contains("not a number")),
        "{bad:?}"
    );
}

#[tokio::test]
async fn expressions_return_json_values() {
    let tiers = load("tiers", "", &[]).await;
    let value = async |name: &str, exchange: Exchange| tiers.evaluate(name, exchange).await.unwrap();
    assert_eq!(value("tier", order(json!({"tier": "Platinum"}))).await, json!("platinum"));
    assert_eq!(value("discount", order(json!({"tier": "gold"}))).await, json!(10));
    assert_eq!(value("items", order(json!({"items": [{"sku": "a"}, {"sku": "b"}]}))).await, json!([{"sku": "a"}, {"sku": "b"}]));
    assert_eq!(value("items", order(json!({}))).await, json!([]));
    assert_eq!(
        value("summary", order(json!({"tier": "silver", "amount": 1500}))).await,
        json!({"tier": "silver", "discount": 5, "big": true})
    );
}

#[tokio::test]
async fn init_config_reaches_every_instance() {
    let tiers = load("tiers", "", &[("big-from", "100")]).await;
    assert!(tiers.matches("is-big", order(json!({"amount": 150}))).await.unwrap());
    let failed = Language::load(runtime(), &guest("tiers"), Limits::default(), vec![("big-from".into(), "lots".into())])
        .await
        .unwrap_err();
    assert!(
        matches!(&failed, WasmError::InitFailed { message, .. } if message.contains("big-from 'lots' is not a whole number")),
        "{failed:?}"
    );
}

#[tokio::test]
async fn unknown_entries_and_the_wrong_kind_fail_without_a_call() {
    let tiers = load("tiers", "", &[]).await;
    let unknown = tiers.matches("is-gol", Exchange::new("")).await.unwrap_err();
    let WasmError::UnknownEntry { plugin, entry, kind, available } = &unknown else { panic!("{unknown:?}") };
    assert_eq!((plugin.as_str(), entry.as_str(), *kind), ("tiers.wasm", "is-gol", "predicate"));
    assert!(available.contains(&"is-gold (predicate)".to_string()) && available.contains(&"tier (expression)".to_string()));
    assert!(unknown.to_string().starts_with("plugin 'tiers.wasm' has no predicate 'is-gol' (entries: is-platinum (predicate)"));
    assert!(matches!(
        tiers.evaluate("is-gold", Exchange::new("")).await,
        Err(WasmError::UnknownEntry { kind: "expression", .. })
    ));
    assert!(matches!(tiers.matches("tier", Exchange::new("")).await, Err(WasmError::UnknownEntry { kind: "predicate", .. })));
    assert!(matches!(tiers.group(&["is-gold", "tier"]), Err(WasmError::UnknownEntry { entry, .. }) if entry == "tier"));
}

#[test]
fn a_group_of_eight_is_one_guest_call() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // Per-entry series are made on the first call, on this thread: the local recorder sees them.
    let (label, firsts) = metrics::with_local_recorder(&recorder, || {
        rt.block_on(async {
            let tiers = load("tiers", "", &[]).await;
            let names = ["is-suspicious", "is-platinum", "is-gold", "is-silver", "is-bronze", "is-express", "is-eu", "is-big"];
            let group = tiers.group(&names).unwrap();
            assert_eq!(group.names(), names);
            let mut firsts = Vec::new();
            for body in [
                json!({"tier": "gold"}),
                json!({"tier": "bronze"}),
                json!({"amount": 99999}),
                json!({"country": "FR"}),
                json!({"amount": 1}),
            ] {
                firsts.push(tiers.first_match(&group, order(body)).await.unwrap());
            }
            (names.join("|"), firsts)
        })
    });
    assert_eq!(firsts, [Some(2), Some(4), Some(0), Some(6), None]);
    let calls: Vec<(String, u64)> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| key.key().name() == "camel_wasm_calls_total")
        .filter_map(|(key, _, _, value)| {
            let labels: Vec<_> = key.key().labels().map(|l| format!("{}={}", l.key(), l.value())).collect();
            let DebugValue::Counter(n) = value else { return None };
            (n > 0).then(|| (labels.join(","), n))
        })
        .collect();
    assert_eq!(calls, [(format!("plugin=tiers.wasm,world=language,method={label}"), 5)], "five exchanges, five guest calls");
}

#[tokio::test]
async fn hostile_entries_get_typed_errors_and_the_endpoint_keeps_serving() {
    let chaos = load("language-chaos", "timeout=0.5", &[]).await;
    let not_json = chaos.evaluate("not-json", Exchange::new("")).await.unwrap_err();
    assert!(
        matches!(&not_json, WasmError::InvalidOutput { reason, .. } if reason.contains("expression 'not-json' returned text that is not JSON")),
        "{not_json:?}"
    );
    let trapped = chaos.matches("trap", Exchange::new("")).await.unwrap_err();
    assert!(
        matches!(&trapped, WasmError::GuestPanic { message, .. } if message.contains("the predicate trapped"))
            || matches!(&trapped, WasmError::Trap { reason: TrapReason::Unreachable, .. }),
        "{trapped:?}"
    );
    assert!(matches!(chaos.matches("spin", Exchange::new("")).await, Err(WasmError::Timeout { .. })));
    let failed = chaos.matches("fail", Exchange::new("")).await.unwrap_err();
    assert!(
        matches!(&failed, WasmError::Guest { error: GuestError::Processor(m), .. } if m == "no decision today"),
        "{failed:?}"
    );
    assert!(!chaos.matches("never", Exchange::new("")).await.unwrap(), "after a trap and a timeout, it still answers");

    let group = chaos.group(&["never", "fail", "trap"]).unwrap();
    let clause = chaos.first_match(&group, Exchange::new("")).await.unwrap_err();
    assert!(
        matches!(&clause, WasmError::Clause { index: 1, entry, error: GuestError::Processor(m), .. } if entry == "fail" && m == "no decision today"),
        "{clause:?}"
    );
    assert_eq!(
        clause.to_string(),
        "plugin 'language-chaos.wasm' failed on clause 1 ('fail'): processor error: no decision today"
    );
    let trap_group = chaos.group(&["never", "trap"]).unwrap();
    assert!(matches!(
        chaos.first_match(&trap_group, Exchange::new("")).await,
        Err(WasmError::GuestPanic { .. } | WasmError::Trap { .. })
    ));
    assert_eq!(chaos.first_match(&chaos.group(&["never"]).unwrap(), Exchange::new("")).await.unwrap(), None);
}

#[tokio::test]
async fn a_predicate_keeps_state_and_cannot_change_the_exchange() {
    let chaos = load("language-chaos", "", &[]).await;
    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(chaos.matches("even-calls", Exchange::new("")).await.unwrap());
    }
    assert_eq!(answers, [false, true, false, true], "host-store state lives across calls");
    assert!(chaos.matches("even-calls", Exchange::new("").with_property("force", "yes")).await.unwrap(), "properties are read");
    assert_eq!(chaos.state().get("seen").await.unwrap().as_deref(), Some("5"));
}
