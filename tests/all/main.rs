//! Integration tests through the real compiled guests in `guests/dist`
//! (built by `just guests`). One binary, a module per area.

#[path = "../support/edge.rs"]
mod edge;
mod fixture;
#[path = "../support/python.rs"]
mod python;
#[path = "../support/redis.rs"]
mod redis_server;

mod bean;
mod cache;
mod cli;
mod hardening;
mod hostile;
mod language;
mod mapping;
mod observability;
mod packaging;
mod plugin;
mod policy;
mod pooling;
mod py_guests;
mod py_language;
mod reload;
mod safety;
mod source;
mod source_edge;
mod state;
mod streams;
