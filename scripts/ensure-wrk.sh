#!/usr/bin/env bash
# Makes sure `wrk` (the HTTP load generator) is on PATH for the source edge's
# keep-alive benchmark (`just bench`). Installs Debian's wrk with apt when it is
# missing and this runs as root; otherwise the benchmark says it was not measured.
set -euo pipefail

if command -v wrk >/dev/null; then
    echo "wrk: $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)"
    exit 0
fi
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "ensure-wrk.sh: no wrk; installing it with apt" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends wrk
    exit 0
fi
echo "ensure-wrk.sh: wrk not found and it cannot be installed here (apt install wrk): the keep-alive benchmark will be skipped" >&2
