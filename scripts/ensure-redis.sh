#!/usr/bin/env bash
# Makes sure `redis-server` is on PATH for the Redis state tests (`just test`).
# Installs Debian's redis-server with apt when it is missing and this runs as
# root; otherwise says how to install it and fails. The tests start their own
# server on a free loopback port, so the package's system service is not used.
set -euo pipefail

if command -v redis-server >/dev/null; then
    echo "redis: $(redis-server --version | cut -d' ' -f1-3)"
    exit 0
fi

install=(redis-server)
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "ensure-redis.sh: no redis-server; installing ${install[*]} with apt" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    # policy-rc.d keeps apt from starting the system service: tests run their own.
    policy=/usr/sbin/policy-rc.d
    created_policy=false
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=true
    fi
    apt-get install -y --no-install-recommends "${install[@]}" || status=$?
    if $created_policy; then rm -f "$policy"; fi
    [[ ${status:-0} -eq 0 ]] || exit "${status}"
fi

if ! command -v redis-server >/dev/null; then
    echo "ensure-redis.sh: redis-server not found, and it cannot be installed here. Either:" >&2
    echo "  apt-get update && apt-get install -y --no-install-recommends redis-server   (as root, Debian/Ubuntu)" >&2
    echo "or put any redis-server 6+ on PATH, then run the tests again." >&2
    exit 1
fi
echo "redis: $(redis-server --version | cut -d' ' -f1-3)"
