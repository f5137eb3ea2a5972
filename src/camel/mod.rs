//! rust-camel integration (stub).
