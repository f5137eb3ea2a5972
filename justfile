# camel-wasm tasks. `just test` builds the guests and runs every test.
# Without just: `cargo demo` and `cargo test-all` (aliases in .cargo/config.toml)
# install it with `cargo install just --locked`, then run `just demo` / `just test`.

set shell := ["bash", "-euo", "pipefail", "-c"]

# One feature set for every recipe, so the build is shared (camel-toml includes rust-camel).
features := "--features camel-toml"

# List the recipes.
default:
    @just --list

# Build every guest component into guests/dist (rustup wasm32-wasip2 target, or the Debian fallback).
guests:
    bash guests/build.sh

# Build the guests, then run the guest SDK's unit tests and every host test (rust-camel included).
# The Redis state tests start their own redis-server (installed with apt when missing).
test: guests
    cargo fmt --check
    @cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
    cargo clippy --all-targets --all-features --quiet -- -D warnings
    bash scripts/ensure-redis.sh
    bash guests/test-sdk.sh
    cargo test --release --all-targets {{features}}
    cargo test --release --doc {{features}}
    cargo check --release --lib --no-default-features --quiet
    @echo "core library builds without the cli and rust-camel features"

# The main job: exchanges through guests of every world, then the same pipeline in a CamelContext.
demo: guests
    cargo run --release --quiet {{features}} --example demo
    cargo run --release --quiet {{features}} --example camel_demo
    cargo run --release --quiet {{features}} --example camel_toml

# Benchmarks: medians and p99s of per-call latency, loads, throughput and memory (writes benches/results.md).
bench: guests
    bash scripts/ensure-redis.sh
    bash scripts/ensure-wrk.sh
    cargo bench {{features}} --bench suite

# (For a standalone guest crate anywhere: camel-wasm new DIR --world plugin|bean|policy.)
# Create a guest crate in the guest workspace: just new-guest NAME plugin|bean|policy
new-guest name world:
    bash guests/new-guest.sh {{name}} {{world}}
