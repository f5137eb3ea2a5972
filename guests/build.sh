#!/usr/bin/env bash
# Builds every guest crate of this workspace for wasm32-wasip2 (release) and
# copies each component to guests/dist/<crate-name>.wasm; then builds the
# Python guests (guests/py-*, see python/build.py).
#
# Toolchain: an installed rustup wasm32-wasip2 target if there is one;
# otherwise Debian 12's matched rustc-web 1.96 + library source, building std
# for the target (-Zbuild-std). See the guest toolchain notes, guest-toolchain.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

target=wasm32-wasip2
sdk=camel-wasm-guest
build_args=(build --release --target "$target" --workspace --exclude "$sdk")

# The Debian fallback's linker: rust-web-llvm's wasm-component-ld runs
# `wasm-ld`, which comes with lld-N, N being the LLVM that /usr/bin/rust-lld
# (from rust-web-llvm, a link to lld-N) names.
lld_package() {
    local lld
    lld="$(readlink /usr/bin/rust-lld 2>/dev/null || true)"
    echo "${lld:-lld-22}"
}
wasm_ld() {
    local lld
    lld="$(lld_package)"
    echo "/usr/lib/llvm-${lld#lld-}/bin/wasm-ld"
}

# Whether every file the Debian fallback needs is present.
have_debian_toolchain() {
    [[ -x /usr/bin/rustc && -x /usr/bin/cargo && -x "$(wasm_ld)" \
        && -d /usr/lib/rustlib/src/rust/library \
        && -x /usr/lib/rustlib/x86_64-unknown-linux-gnu/bin/wasm-component-ld \
        && -f /usr/lib/wasm32-wasi/libc.a ]]
}

if command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx "$target"; then
    echo "guest toolchain: rustup $target target"
    cargo "${build_args[@]}"
else
    if ! have_debian_toolchain; then
        base=(rustc-web cargo-web rust-web-src rust-web-llvm wasi-libc)
        if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
            echo "build.sh: no $target toolchain; installing ${base[*]} $(lld_package)" >&2
            export DEBIAN_FRONTEND=noninteractive
            apt-get update
            apt-get install -y --no-install-recommends "${base[@]}"
            apt-get install -y --no-install-recommends "$(lld_package)"
        fi
        if ! have_debian_toolchain; then
            echo "build.sh: no $target toolchain found. Either:" >&2
            echo "  rustup target add $target" >&2
            echo "or, on Debian 12 as root:" >&2
            echo "  apt-get update && apt-get install -y --no-install-recommends ${base[*]} $(lld_package)" >&2
            exit 1
        fi
    fi
    version="$(/usr/bin/rustc --version | cut -d' ' -f2 | cut -d. -f1,2)"
    echo "guest toolchain: Debian rustc-web $version + build-std (fallback)"
    RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
        RUSTFLAGS="-L /usr/lib/wasm32-wasi -C link-arg=--wasm-ld-path=$(wasm_ld)" \
        /usr/bin/cargo "${build_args[@]}" -Zbuild-std=std,panic_abort
fi

# Copy each cdylib member's component to dist/, named after its package, and
# drop components of crates that are gone.
out="$here/target/$target/release"
dist="$here/dist"
mkdir -p "$dist"
names=()
for manifest in "$here"/*/Cargo.toml; do
    grep -q 'crate-type *= *\["cdylib"\]' "$manifest" || continue
    name="$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$manifest" | head -n 1)"
    cp "$out/${name//-/_}.wasm" "$dist/$name.wasm"
    names+=("$name")
done
rust_count=${#names[@]}

# The Python guests (guests/py-*): componentize-py, pinned, in a virtual
# environment under target/ (python/build.py). Python 3.10+ and its venv
# module are needed; as root with apt they are installed when missing.
python_ok() {
    command -v python3 >/dev/null && python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 10))' 2>/dev/null
}
if ! python_ok; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        echo "build.sh: no Python 3.10+ with venv; installing python3 python3-venv" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update
        apt-get install -y --no-install-recommends python3 python3-venv
    fi
    if ! python_ok; then
        echo "build.sh: the Python guests need Python 3.10 or newer with its venv module:" >&2
        echo "  Debian/Ubuntu: apt-get install python3 python3-venv" >&2
        echo "  elsewhere: https://www.python.org/downloads/ (3.10+)" >&2
        exit 1
    fi
fi
python3 "$here/python/build.py" --out "$dist"
for guest in "$here"/py-*/; do
    [[ -f $guest/pyproject.toml ]] && names+=("$(basename "$guest")")
done

for file in "$dist"/*.wasm; do
    [[ " ${names[*]} " == *" $(basename "$file" .wasm) "* ]] || rm -f "$file"
done
echo "build.sh: ${#names[@]} components in $dist ($rust_count Rust, $((${#names[@]} - rust_count)) Python):"
ls -l "$dist"
