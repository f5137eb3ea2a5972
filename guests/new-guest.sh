#!/usr/bin/env bash
# Creates a guest crate from a template and adds it to the workspace:
#
#     guests/new-guest.sh NAME WORLD        WORLD: plugin | bean | policy
#
# `guests/build.sh` then builds it to guests/dist/NAME.wasm.
set -euo pipefail

usage() {
    echo "usage: $0 NAME plugin|bean|policy" >&2
    echo "  NAME: lower-case letters, digits and '-', starting with a letter" >&2
    exit 2
}

[[ $# -eq 2 ]] || usage
name=$1
world=$2
[[ $name =~ ^[a-z][a-z0-9-]*$ && $name != *- ]] || usage
case $world in plugin | bean | policy) ;; *) usage ;; esac

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="$here/$name"
if [[ -e $dir ]]; then
    echo "$0: $dir already exists" >&2
    exit 1
fi
if [[ $name == sdk || $name == target || $name == dist ]] || grep -q "^    \"$name\",\$" "$here/Cargo.toml"; then
    echo "$0: the name '$name' is taken" >&2
    exit 1
fi

# my-guest -> MyGuest
type_name="$(sed -E 's/(^|-)([a-z0-9])/\U\2/g' <<<"$name")"

mkdir -p "$dir/src"
cat >"$dir/Cargo.toml" <<TOML
[package]
name = "$name"
description = "A camel-wasm $world guest"
version.workspace = true
edition.workspace = true
license.workspace = true
publish.workspace = true

[lib]
crate-type = ["cdylib"]

[dependencies]
camel-wasm-guest.workspace = true
TOML

case $world in
plugin)
    cat >"$dir/src/lib.rs" <<RUST
//! Plugin \`$name\`: marks the exchange with header \`x-processed-by\`.

use camel_wasm_guest::prelude::*;

struct $type_name;

impl Plugin for $type_name {
    async fn process(mut ex: Exchange) -> Result<Exchange, Error> {
        ex.set_header("x-processed-by", "$name");
        Ok(ex)
    }
}

export_plugin!($type_name);
RUST
    ;;
bean)
    cat >"$dir/src/lib.rs" <<RUST
//! Bean \`$name\`: method \`echo\` returns the exchange unchanged.

use camel_wasm_guest::prelude::*;

struct $type_name;

impl $type_name {
    async fn echo(ex: Exchange) -> Result<Exchange, Error> {
        Ok(ex)
    }
}

impl Bean for $type_name {
    const METHODS: &'static [Method] = bean_methods! {
        "echo" => Self::echo,
    };
}

export_bean!($type_name);
RUST
    ;;
policy)
    cat >"$dir/src/lib.rs" <<RUST
//! Authorization policy \`$name\`: grants callers with a subject.

use camel_wasm_guest::prelude::*;

struct $type_name;

impl Policy for $type_name {
    fn evaluate(ex: &Exchange) -> Result<Decision, Error> {
        Ok(match ex.property_str("camel.auth.subject") {
            Some(_) => Decision::Grant,
            None => Decision::deny("$name: no subject"),
        })
    }
}

export_policy!($type_name);
RUST
    ;;
esac

# Append the crate to the workspace's `members = [ ... ]` list.
manifest="$here/Cargo.toml"
awk -v member="    \"$name\"," '
    /^members = \[/ { in_members = 1 }
    in_members && /^\]/ { print member; in_members = 0 }
    { print }
' "$manifest" >"$manifest.tmp"
mv "$manifest.tmp" "$manifest"

echo "created $dir ($world); build it with: bash ${here}/build.sh"
