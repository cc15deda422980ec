#!/usr/bin/env bash
# Make sure PostgreSQL's server binaries are installed: `postgres-tool.sh WHY`. The suite starts
# its own server on 127.0.0.1 (tests/postgres.py) from Debian's /usr/lib/postgresql/VER/bin,
# which is not on PATH, so debian-tool.sh's `command -v` cannot tell. Installed as root on
# Debian/Ubuntu when missing; elsewhere, say what is skipped (WHY) and go on. The cluster the
# package starts is left alone: the tests never use it.
set -euo pipefail
why=$1
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "tools: PostgreSQL's server is missing; $why" >&2
    exit 0
fi
echo "tools: installing Debian's postgresql" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends postgresql >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql >/dev/null; }
