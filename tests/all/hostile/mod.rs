//! Hostile guests, round 3: each reproduction of issue 22 through a real
//! compiled guest, asserting the bound it meets and that another endpoint
//! keeps serving. One file per area.

mod pool;
mod returns;
mod handles;
mod properties;
mod spares;
mod source;
mod allowlist;
mod output;
mod reload;
mod redis;
