#!/usr/bin/env bash
# Make sure a Docker engine answers. Never stops or reconfigures one that already runs.
#
# On Debian/Ubuntu as root it installs Debian's docker.io when dockerd is missing and starts
# dockerd without a bridge or iptables rules: containers here run with network_mode="none" and
# builds use host networking only to reach our own loopback services, so no NAT is needed.
set -euo pipefail

LOG=${INSPECTOR_DOCKERD_LOG:-/var/log/inspector-dockerd.log}
WAIT_SECONDS=${INSPECTOR_DOCKERD_WAIT:-60}

say() { printf 'engine: %s\n' "$*" >&2; }

answers() {
    if command -v docker >/dev/null 2>&1; then
        docker version --format '{{.Server.APIVersion}}' >/dev/null 2>&1 && return 0
    fi
    # Without a CLI (or with a DOCKER_HOST the CLI cannot read) ask the default socket directly.
    if [ -z "${DOCKER_HOST:-}" ] && [ -S /var/run/docker.sock ] && command -v curl >/dev/null 2>&1; then
        curl -sf --max-time 5 --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null 2>&1 && return 0
    fi
    return 1
}

if answers; then
    say "a Docker engine already answers; leaving it as it is"
    exit 0
fi

if [ -n "${DOCKER_HOST:-}" ]; then
    say "DOCKER_HOST=${DOCKER_HOST} does not answer; start that engine, or unset DOCKER_HOST to use a local one"
    exit 1
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "no Docker engine answers, and this is not root on Debian/Ubuntu, so I will not install one."
    say "Start Docker yourself (Docker Desktop, 'sudo systemctl start docker', or colima/podman with a"
    say "Docker-compatible socket), check that 'docker version' shows a Server, then run make again."
    exit 1
fi

if ! command -v dockerd >/dev/null 2>&1; then
    say "dockerd is missing; installing Debian's docker.io (this takes a minute)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # policy-rc.d keeps the package's maintainer scripts from starting a daemon with the default
    # (bridge + iptables) configuration; we start our own below.
    had_policy=0
    [ -e /usr/sbin/policy-rc.d ] && had_policy=1
    if [ "$had_policy" = 0 ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; fi
    status=0
    apt-get install -y -qq --no-install-recommends docker.io >/dev/null || status=$?
    if [ "$had_policy" = 0 ]; then rm -f /usr/sbin/policy-rc.d; fi
    if [ "$status" != 0 ]; then say "apt-get install docker.io failed (exit $status)"; exit 1; fi
fi

if [ -S /var/run/docker.sock ] && pgrep -x dockerd >/dev/null 2>&1; then
    say "a dockerd process exists but does not answer yet; waiting for it instead of starting another"
else
    say "starting dockerd (log: $LOG)"
    mkdir -p "$(dirname "$LOG")"
    # setsid + nohup: the daemon must outlive make and the shell that started it.
    setsid nohup dockerd --bridge=none --iptables=false --ip-masq=false >"$LOG" 2>&1 < /dev/null &
fi

for _ in $(seq 1 "$WAIT_SECONDS"); do
    if answers; then
        say "Docker engine answers"
        exit 0
    fi
    sleep 1
done

say "dockerd did not answer within ${WAIT_SECONDS}s; the end of its log ($LOG):"
tail -n 30 "$LOG" >&2 || true
exit 1
