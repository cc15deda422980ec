#!/usr/bin/env bash
# Make sure a program from a Debian package is on PATH: `debian-tool.sh COMMAND PACKAGE WHY`.
# The suite needs docker-registry (a real Distribution registry it starts on 127.0.0.1); `make
# bench` also needs skopeo (the registry bench's download floor). Installed as root on
# Debian/Ubuntu when missing; elsewhere, say what is skipped (WHY) and go on.
set -euo pipefail
command=$1 package=$2 why=$3
if command -v "$command" >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "tools: $command is missing; $why" >&2
    exit 0
fi
echo "tools: installing Debian's $package" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends "$package" >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "$package" >/dev/null; }
