#![cfg(feature = "rust-camel")]
