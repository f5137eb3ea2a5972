//! Issue 22, item 4: `allow-call` prefixes are path boundaries. Through the
//! `forward` guest, which calls whatever URI its header names: dot segments
//! (plain or percent-encoded) and query options are refused after a
//! `scheme:path` prefix, unless the entry ends in `?*`.

use std::sync::{Arc, Mutex};

use camel_wasm::{CallRequest, Exchange, Limits, Plugin, Runtime, WasmError};

use crate::fixture::{guest, guests_dir};

/// A runtime whose `log:` endpoint records every URI that reached it.
fn recording_runtime() -> (Runtime, Arc<Mutex<Vec<String>>>) {
    let runtime = Runtime::builder().base_dir(guests_dir()).build().expect("runtime");
    let reached = Arc::new(Mutex::new(Vec::new()));
    let seen = reached.clone();
    runtime.endpoints().register_fn("log", move |req: CallRequest| {
        let seen = seen.clone();
        async move {
            seen.lock().unwrap().push(req.uri.clone());
            Ok(format!("logged {}", req.uri))
        }
    });
    (runtime, reached)
}

fn forward(runtime: &Runtime, allow_call: &str) -> Plugin {
    let limits = Limits { allow_call: allow_call.parse().unwrap(), ..Limits::default() };
    Plugin::load(runtime, &guest("forward"), limits).expect("load forward")
}

async fn call(plugin: &Plugin, uri: &str) -> Result<Exchange, WasmError> {
    plugin.process(Exchange::new("payload").with_header("forward-to", uri)).await
}

/// The denial the guest got back (and returned unchanged), as text.
fn denial(result: Result<Exchange, WasmError>) -> String {
    match result {
        Err(WasmError::Guest { error, .. }) => {
            let text = error.to_string();
            assert!(text.contains("denied"), "a denial: {text}");
            text
        }
        other => panic!("expected the guest to be denied, got {other:?}"),
    }
}

#[tokio::test]
async fn dot_segments_and_query_options_stay_inside_the_prefix() {
    let (runtime, reached) = recording_runtime();
    let plugin = forward(&runtime, "log:audit");

    let ok = call(&plugin, "log:audit/x").await.expect("a sub-path of the prefix passes");
    assert_eq!(ok.input.body.as_text(), Some("logged log:audit/x"));
    call(&plugin, "log:audit").await.expect("the prefix itself passes");

    for uri in [
        "log:audit/../secret",
        "log:audit/./x",
        "log:audit/x/..",
        "log:audit/%2e%2E/secret",
        "log:audit/.%2e",
        "log:audit/%2E/x",
        "log:audit/..%2fsecret",
        "log:audit/x%2F..%2Fsecret",
        "log:audit/..\\secret",
        "log:audit/%252e%252e/secret",
        "log:audit/x#frag",
    ] {
        let text = denial(call(&plugin, uri).await);
        assert!(text.contains("allow-call=log)"), "{uri}: only the whole scheme would allow it: {text}");
    }
    let text = denial(call(&plugin, "log:audit?fileName=../../etc/passwd").await);
    assert!(text.contains("allow-call=log:audit?*"), "the narrowest entry allowing the query: {text}");
    let text = denial(call(&plugin, "log:other").await);
    assert!(text.contains("allow-call=log:other"), "the narrowest entry, not the scheme: {text}");
    assert_eq!(*reached.lock().unwrap(), ["log:audit/x", "log:audit"], "nothing denied reached the endpoint");

    // `?*` lets options through, still not dot segments.
    let plugin = forward(&runtime, "log:audit?*");
    call(&plugin, "log:audit?fileName=x.txt").await.expect("?* allows query options");
    call(&plugin, "log:audit/x?level=info").await.expect("on sub-paths too");
    denial(call(&plugin, "log:audit/../secret?level=info").await);
    assert_eq!(reached.lock().unwrap().len(), 4);

    // A bare scheme still allows every log: URI.
    let plugin = forward(&runtime, "log");
    call(&plugin, "log:audit/../secret?fileName=../../etc/passwd").await.expect("the scheme allows all");
}
