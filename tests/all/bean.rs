//! The `bean` world through the `text-utils` guest.

use camel_wasm::{Bean, Body, Exchange, GuestError, Limits, WasmError};
use serde_json::json;

use crate::fixture::{guest, runtime, snapshots};

async fn text_utils(config: Vec<(String, String)>) -> Bean {
    Bean::load(runtime(), &guest("text-utils"), Limits::default(), config).await.expect("load text-utils")
}

#[tokio::test]
async fn lists_methods_at_load() {
    let bean = text_utils(vec![]).await;
    let mut methods = bean.methods().to_vec();
    methods.sort();
    assert_eq!(methods, ["count", "fail", "reverse", "suffix", "upper"]);
}

#[tokio::test]
async fn invokes_each_method() {
    let bean = text_utils(vec![]).await;
    let upper = bean.invoke("upper", Exchange::new("abc")).await.unwrap();
    assert_eq!(upper.input.body, Body::Text("ABC".into()));
    let reverse = bean.invoke("reverse", Exchange::new("abc").with_header("keep", 1)).await.unwrap();
    assert_eq!(reverse.input.body, Body::Text("cba".into()));
    assert_eq!(reverse.header("keep"), Some(&json!(1)));
    let count = bean.invoke("count", Exchange::new("héllo")).await.unwrap();
    assert_eq!(count.input.body, Body::Json(json!({"count": 5})));
    snapshots(|| {
        insta::assert_json_snapshot!("bean-reverse", reverse);
        insta::assert_json_snapshot!("bean-count", count);
    });
    let err = bean.invoke("fail", Exchange::new("x")).await.unwrap_err();
    assert!(
        matches!(&err, WasmError::Guest { plugin, error: GuestError::Processor(m) }
            if plugin == "text-utils.wasm" && m == "text-utils: fail was called"),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_unknown_method_lists_the_available_ones_without_calling_the_guest() {
    let bean = text_utils(vec![]).await;
    let err = bean.invoke("shout", Exchange::new("x")).await.unwrap_err();
    assert!(matches!(&err, WasmError::UnknownMethod { method, available, .. } if method == "shout" && available.len() == 5));
    let text = err.to_string();
    assert!(text.contains("text-utils.wasm") && text.contains("reverse") && text.contains("'shout'"), "{text}");
    assert_eq!(bean.state().key_count().await.unwrap(), 0, "no instance was created, so init never stored anything");
}

#[tokio::test]
async fn init_gets_the_config_once_per_instance() {
    let default = text_utils(vec![]).await;
    let out = default.invoke("suffix", Exchange::new("hi")).await.unwrap();
    assert_eq!(out.input.body.as_text(), Some("hi!"));
    let custom = text_utils(vec![("suffix".into(), " [checked]".into())]).await;
    let out = custom.invoke("suffix", Exchange::new("hi")).await.unwrap();
    assert_eq!(out.input.body.as_text(), Some("hi [checked]"));
    assert_eq!(custom.state().get("suffix").await.unwrap().as_deref(), Some(" [checked]"));
}
