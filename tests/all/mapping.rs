//! Property test: arbitrary headers and properties survive a real guest unchanged.

use std::collections::BTreeMap;

use camel_wasm::{Exchange, Limits, Plugin};
use proptest::prelude::*;
use serde_json::Value;

use crate::fixture::{guest, runtime};

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        "[0-9]{1,5}".prop_map(Value::from),
        ".{0,16}".prop_map(Value::from),
        prop::collection::vec(any::<i16>(), 0..4).prop_map(Value::from),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn values_the_guest_does_not_touch_come_back_with_their_type(
        headers in prop::collection::btree_map("[a-w][a-z-]{0,8}", value(), 0..6),
        properties in prop::collection::btree_map("[a-z][a-z.]{0,8}", value(), 0..6),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let mut sent = Exchange::new("body");
        sent.input.headers = headers.clone();
        sent.properties = properties.clone();
        for name in ["upper", "raw-upper"] {
            let plugin = Plugin::load(runtime(), &guest(name), Limits::default()).unwrap();
            let out = rt.block_on(plugin.process(sent.clone())).unwrap();
            let mut got: BTreeMap<String, Value> = out.input.headers.clone();
            got.remove("x-processed-by");
            prop_assert_eq!(&got, &headers, "{}", name);
            prop_assert_eq!(&out.properties, &properties, "{}", name);
        }
    }
}
