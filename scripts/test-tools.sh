#!/usr/bin/env bash
# Tools the test suite runs itself: Debian's docker-registry (a real Distribution registry it
# starts on 127.0.0.1). Installed as root on Debian/Ubuntu when missing; elsewhere, say so.
set -euo pipefail
if command -v docker-registry >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "test-tools: docker-registry is missing; registry tests will be skipped (or fail with --require-docker)" >&2
    exit 0
fi
echo "test-tools: installing Debian's docker-registry" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends docker-registry >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends docker-registry >/dev/null; }
