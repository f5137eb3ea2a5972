# camel-wasm tasks. `just test` builds the guests and runs every test.

set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes.
default:
    @just --list

# Build every guest component into guests/dist (rustup wasm32-wasip2 target, or the Debian fallback).
guests:
    bash guests/build.sh

# Build the guests, then run the guest SDK's unit tests and every host test.
test: guests
    bash guests/test-sdk.sh
    cargo test --release --all-targets

# The main job: push exchanges through guests of every world, printing each step.
demo: guests
    cargo run --release --quiet --example demo

# Create a guest crate from the template: just new-guest NAME plugin|bean|policy
new-guest name world:
    bash guests/new-guest.sh {{name}} {{world}}

# Benchmarks: medians and p99s of per-call latency, loads, throughput and memory (writes benches/results.md).
bench: guests
    cargo bench --bench suite
