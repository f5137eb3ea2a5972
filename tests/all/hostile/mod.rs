//! Hostile guests, round 3: each reproduction of issue 22 through a real
//! compiled guest, asserting the bound it meets and that another endpoint
//! keeps serving. One file per area.

mod allowlist;
mod handles;
mod output;
mod pool;
mod properties;
mod redis;
mod reload;
mod returns;
mod source;
mod spares;
