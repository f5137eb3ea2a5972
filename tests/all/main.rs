//! Integration tests through the real compiled guests in `guests/dist`
//! (built by `just guests`). One binary, a module per area.

mod fixture;
#[path = "../support/redis.rs"]
mod redis_server;
#[path = "../support/edge.rs"]
mod edge;

mod bean;
mod cache;
mod cli;
mod hardening;
mod hostile;
mod mapping;
mod observability;
mod packaging;
mod plugin;
mod reload;
mod safety;
mod source;
mod source_edge;
mod state;
mod streams;
mod pooling;
mod policy;
