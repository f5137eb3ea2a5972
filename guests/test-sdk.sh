#!/usr/bin/env bash
# Runs the guest SDK's unit and doc tests on the host target (no wasm needed),
# with the ordinary rustup cargo, and the unit tests of the guests that have
# some (webhook-source). Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
cargo test -p camel-wasm-guest -p webhook-source "$@"
