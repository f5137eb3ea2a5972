# camel-wasm tasks. `just test` builds the guests and runs every test.
# Without just: `cargo demo` and `cargo test-all` (aliases in .cargo/config.toml)
# install it with `cargo install just --locked`, then run `just demo` / `just test`.

set shell := ["bash", "-euo", "pipefail", "-c"]

# One feature set for every recipe, so the build is shared (camel-toml includes rust-camel).
features := "--features camel-toml"

# Builds with clippy's lints, warnings denied, on the workspace's crates only (`camel-toml` is every feature).
linted := 'RUSTC_WORKSPACE_WRAPPER="$(command -v clippy-driver)" CLIPPY_ARGS=-Dwarnings'

# List the recipes.
default:
    @just --list

# Build every guest component into guests/dist (rustup wasm32-wasip2 target, or the Debian fallback).
guests:
    bash guests/build.sh

# The Redis state tests start their own redis-server (installed with apt when missing).
# Clippy lints every target while the tests build: clippy-driver is the workspace's rustc
# wrapper (as under `cargo clippy`), so the dependencies are compiled once, not also checked.
# Build the guests, then run the guest SDK's unit tests and every host test (rust-camel included).
test: guests
    cargo fmt --check
    @cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
    cargo clippy --lib --no-default-features --quiet -- -D warnings
    @echo "core library builds without the cli and rust-camel features"
    bash scripts/ensure-redis.sh
    bash guests/test-sdk.sh
    {{linted}} cargo test --release --all-targets {{features}}
    {{linted}} cargo test --release --doc {{features}}

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

# One section of the benchmarks alone: just bench-only language|endpoints|python|streams|sources|state|versus (not written to results.md; its charts go to target/bench-only).
bench-only section: guests
    bash scripts/ensure-redis.sh
    cargo bench {{features}} --bench suite -- --bench {{section}}

# (For a standalone guest project anywhere: camel-wasm new DIR --lang rust|python --world plugin|bean|policy|source.)
# Create a guest crate in the guest workspace: just new-guest NAME plugin|bean|policy|source|language
new-guest name world:
    bash guests/new-guest.sh {{name}} {{world}}
