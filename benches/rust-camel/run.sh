#!/usr/bin/env bash
# Build (quietly) and run the rust-camel 0.64 comparison bench.
#
#   benches/rust-camel/run.sh            # 64 KiB chunks (+ return-stream and call
#                                        # latency), then 4 KiB chunks, in two
#                                        # processes so each peak RSS is its own
#   benches/rust-camel/run.sh ARGS...    # one run, ARGS passed through
#                                        # (--guest --bytes --chunk --rounds
#                                        #  --max-memory --calls --no-extras ...)
#
# rust-camel 0.64 needs wasmtime 49 = rustc >= 1.96, newer than the default
# toolchain, so this uses Debian's rustc-web 1.96 (/usr/bin/cargo, /usr/bin/rustc)
# and its own target dir (target/rust-camel-bench), never the main build's.
#
# Guests: rust-camel 0.64 links no wasi:filesystem (its ADR-0050 denial
# boundary), and guests/dist/*.wasm import it (guests/build.sh's Debian fallback
# links a WASI preview-1 libc, whose adapter imports wasi:filesystem for
# stderr), so rust-camel cannot instantiate them. This script builds the three
# guests the bench uses (rc-count-stream, rc-emit-stream, upper) from the same
# sources, Cargo.lock and release profile, with -Cpanic=immediate-abort (no
# panic message printing, hence no stderr, hence no wasi:filesystem import), into
# target/rust-camel-bench/dist/, and passes --guest there unless you give one.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if [[ ! -x /usr/bin/cargo || ! -x /usr/bin/rustc ]]; then
    echo "rust-camel bench: /usr/bin/cargo or /usr/bin/rustc is missing." >&2
    echo "  rust-camel 0.64 needs rustc >= 1.96 (wasmtime 49); install Debian's" >&2
    echo "  packages rustc-web and cargo-web (guests/build.sh's Debian fallback does)." >&2
    exit 1
fi

export PATH="/usr/bin:$PATH"
export RUSTC=/usr/bin/rustc
unset RUSTC_WRAPPER RUSTUP_TOOLCHAIN CARGO_BUILD_TARGET RUSTFLAGS CARGO_ENCODED_RUSTFLAGS
tdir="${RC_BENCH_TARGET_DIR:-$root/target/rust-camel-bench}"
mkdir -p "$tdir"
log="$tdir/build.log"
: >"$log"

# --- the bench binary (host, rustc 1.96) -------------------------------------
if ! CARGO_TARGET_DIR="$tdir" /usr/bin/cargo build --release --locked --quiet \
        --manifest-path "$here/Cargo.toml" >>"$log" 2>&1; then
    echo "rust-camel bench: build failed ($(/usr/bin/cargo --version 2>/dev/null)); last lines of $log:" >&2
    tail -n 30 "$log" >&2
    exit 1
fi
bin="$tdir/release/rust-camel-bench"

# --- rust-camel-compatible guest builds (wasm32-wasip2, Debian toolchain) ----
guests=(rc-count-stream rc-emit-stream upper)
dist="$tdir/dist"
lld="$(readlink /usr/bin/rust-lld 2>/dev/null || true)"
lld="${lld:-lld-22}"
wasm_ld="/usr/lib/llvm-${lld#lld-}/bin/wasm-ld"
if [[ ! -x "$wasm_ld" || ! -d /usr/lib/rustlib/src/rust/library \
        || ! -x /usr/lib/rustlib/x86_64-unknown-linux-gnu/bin/wasm-component-ld \
        || ! -f /usr/lib/wasm32-wasi/libc.a ]]; then
    echo "rust-camel bench: the Debian wasm32-wasip2 guest toolchain is incomplete." >&2
    echo "  Install it (as guests/build.sh's fallback does): apt-get install -y" >&2
    echo "  --no-install-recommends rustc-web cargo-web rust-web-src rust-web-llvm wasi-libc $lld" >&2
    exit 1
fi
pkgs=()
for g in "${guests[@]}"; do pkgs+=(-p "$g"); done
if ! CARGO_TARGET_DIR="$tdir/guests" RUSTC_BOOTSTRAP=1 \
        RUSTFLAGS="-L /usr/lib/wasm32-wasi -C link-arg=--wasm-ld-path=$wasm_ld -Zunstable-options -Cpanic=immediate-abort" \
        /usr/bin/cargo build --release --locked --quiet --target wasm32-wasip2 \
        --manifest-path "$root/guests/Cargo.toml" "${pkgs[@]}" \
        -Zbuild-std=std,panic_abort >>"$log" 2>&1; then
    echo "rust-camel bench: guest build failed; last lines of $log:" >&2
    tail -n 30 "$log" >&2
    exit 1
fi
mkdir -p "$dist"
for g in "${guests[@]}"; do
    src="$tdir/guests/wasm32-wasip2/release/${g//-/_}.wasm"
    cmp -s "$src" "$dist/$g.wasm" 2>/dev/null || cp "$src" "$dist/$g.wasm"
    if grep -aq 'wasi:filesystem' "$dist/$g.wasm"; then
        echo "rust-camel bench: $dist/$g.wasm still imports wasi:filesystem; rust-camel 0.64 cannot load it." >&2
        exit 1
    fi
done

# --- run ----------------------------------------------------------------------
if [[ $# -gt 0 ]]; then
    case " $* " in
        *" --guest "*) exec "$bin" "$@" ;;
        *) exec "$bin" --guest "$dist/rc-count-stream.wasm" "$@" ;;
    esac
fi
"$bin" --guest "$dist/rc-count-stream.wasm" --chunk 65536
"$bin" --guest "$dist/rc-count-stream.wasm" --chunk 4096 --no-extras
