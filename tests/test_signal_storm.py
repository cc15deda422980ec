"""Ctrl-C at any moment: a terminal's Ctrl-C signals the whole process group, often twice in a
row. Whenever the bursts land (reading layers, creating a probe, inside the first handler, during
the removal), `inspector audit` ends, exits 130 without a traceback, and leaves no probe
container of its own."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time

import pytest

from inspector.probes import containers
from tests.conftest import fixture_image

RUNS = 12
# Long enough for any one run to clean up; a run still alive then is a hang.
BOUND_SECONDS = 90
SIGTERM_CAUGHT = 1 << (signal.SIGTERM - 1)


def _handlers_installed(pid: int) -> bool:
    """inspector's handlers are in (Python alone never catches SIGTERM): from here on, a
    signal meets inspector's code, not the interpreter's start-up."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) & SIGTERM_CAUGHT)
    except OSError:
        pass
    return False


def _own_probes(client, pid: int) -> list[containers.Listed]:
    """Probe containers this child made: its owner label names this host and its pid."""
    prefix = f"{socket.gethostname()}:{pid}:"
    return [c for c in containers.listed(client)
            if c.labels.get(containers.OWNER_LABEL, "").startswith(prefix)]  # fmt: skip


def _one_run(client, rng: random.Random) -> tuple[int | None, str, list[containers.Listed]]:
    child = subprocess.Popen(
        [sys.executable, "-m", "inspector", "audit", fixture_image("good"), "--warmup", "30",
         "--no-cache"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        while not _handlers_installed(child.pid) and child.poll() is None:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 6))  # anywhere in the run: layers, probes, removal
        for _ in range(rng.randint(1, 4)):  # a burst, as a held or repeated Ctrl-C sends
            if child.poll() is not None:
                break
            os.killpg(child.pid, signal.SIGINT)
            time.sleep(rng.uniform(0, 0.02))
        try:
            _, err = child.communicate(timeout=BOUND_SECONDS)
        except subprocess.TimeoutExpired:
            return None, "", _own_probes(client, child.pid)
        return child.returncode, err, _own_probes(client, child.pid)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            for leftover in _own_probes(client, child.pid):
                containers.remove_listed(client, leftover)


@pytest.mark.docker
def test_a_storm_of_group_sigints_at_random_moments_never_hangs_or_leaks(docker_client):
    """Twelve audits, each hit by a burst of 1-4 group SIGINTs at a random moment: every one
    ends within the bound with exit 130 (a 30 s warm-up keeps every run going past its burst),
    no traceback, and none of its probe containers remain."""
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    for run in range(RUNS):
        code, err, left = _one_run(docker_client, rng)
        where = f"run {run} (seed {seed})"
        assert code is not None, f"{where}: still running after {BOUND_SECONDS}s (a hang)"
        assert code == 130, f"{where}: exit {code}: {err}"
        assert "Traceback" not in err, f"{where}: {err}"
        assert not left, f"{where}: left {[c.name for c in left]}"
