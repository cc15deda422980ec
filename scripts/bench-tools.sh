#!/usr/bin/env bash
# Tools `make bench` runs besides the test tools: Debian's skopeo (the download floor of the
# registry bench, and what pushes the bench image to its loopback registry). Installed as root on
# Debian/Ubuntu when missing; elsewhere, say so (scripts/bench_registry.py then skips itself).
set -euo pipefail
if command -v skopeo >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "bench-tools: skopeo is missing; the registry bench will be skipped" >&2
    exit 0
fi
echo "bench-tools: installing Debian's skopeo" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends skopeo >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends skopeo >/dev/null; }
