#!/usr/bin/env bash
# Creates a guest crate from a template and adds it to the workspace:
#
#     guests/new-guest.sh NAME WORLD        WORLD: plugin | bean | policy | source | language
#
# `guests/build.sh` then builds it to guests/dist/NAME.wasm. The src/lib.rs
# templates are the CLI's (src/bin/camel-wasm/templates), which
# `camel-wasm new` uses for standalone guest crates.
set -euo pipefail

usage() {
    echo "usage: $0 NAME plugin|bean|policy|source|language" >&2
    echo "  NAME: lower-case letters, digits and single '-', starting with a letter" >&2
    exit 2
}

[[ $# -eq 2 ]] || usage
name=$1
world=$2
[[ $name =~ ^[a-z][a-z0-9]*(-[a-z0-9]+)*$ ]] || usage
case $world in plugin | bean | policy | source | language) ;; *) usage ;; esac

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="$here/$name"
templates="$here/../src/bin/camel-wasm/templates"
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

# src/lib.rs from the template `camel-wasm new` uses too.
sed -e "s/{{name}}/$name/g" -e "s/{{Type}}/$type_name/g" \
    "$templates/$world.rs" >"$dir/src/lib.rs"

# Append the crate to the workspace's `members = [ ... ]` list.
manifest="$here/Cargo.toml"
awk -v member="    \"$name\"," '
    /^members = \[/ { in_members = 1 }
    in_members && /^\]/ { print member; in_members = 0 }
    { print }
' "$manifest" >"$manifest.tmp"
mv "$manifest.tmp" "$manifest"

echo "created $dir ($world); build it with: bash ${here}/build.sh"
