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


def _one_run(client, rng: random.Random, *reference: str,
             delay: float = 6) -> tuple[int | None, str, list[containers.Listed]]:  # fmt: skip
    # su-start-script never settles: the lifecycle probe waits out its whole 30 s warm-up
    # (good settles in a second, and its run could end before the burst).
    args = reference or (fixture_image("su-start-script"), "--warmup", "30")
    child = subprocess.Popen(
        [sys.executable, "-m", "inspector", "audit", *args, "--no-cache"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        while not _handlers_installed(child.pid) and child.poll() is None:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, delay))  # anywhere in the run: layers, probes, removal
        for _ in range(rng.randint(1, 4)):  # a burst, as a held or repeated Ctrl-C sends
            if child.poll() is not None:
                break
            os.killpg(child.pid, signal.SIGINT)
            time.sleep(rng.uniform(0, 0.02))
        try:
            _, err = child.communicate(timeout=BOUND_SECONDS)
        except subprocess.TimeoutExpired:
            return None, "", _own_probes(client, child.pid) if client is not None else []
        return child.returncode, err, _own_probes(client, child.pid) if client is not None else []
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            for leftover in _own_probes(client, child.pid) if client is not None else ():
                containers.remove_listed(client, leftover)


@pytest.mark.docker
def test_a_storm_of_group_sigints_at_random_moments_never_hangs_or_leaks(docker_client):
    """Twelve audits, each hit by a burst of 1-4 group SIGINTs at a random moment: every one
    ends within the bound with exit 130 (or its verdict when it ended first, never a signal
    death), no traceback, and none of its probe containers remain."""
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    for run in range(RUNS):
        code, err, left = _one_run(docker_client, rng)
        where = f"run {run} (seed {seed})"
        assert code is not None, f"{where}: still running after {BOUND_SECONDS}s (a hang)"
        # 0 (good's verdict) when the audit ended before the burst landed (the warm-up ends
        # once the app is ready); never a death by signal.
        assert code in (130, 0), f"{where}: exit {code}: {err}"
        assert "Traceback" not in err, f"{where}: {err}"
        assert not left, f"{where}: left {[c.name for c in left]}"


def test_group_sigints_while_layers_are_read_end_with_130_never_a_signal_death(tmp_path):
    """No engine: bursts of group SIGINTs while a 60 MB layer is read. Every run exits 130 (or
    its verdict, when it ended first), never a death by SIGINT (once, now and then, the
    interpreter's shutdown after the cleanup died of one), within the bound, no traceback."""
    from tests.layertools import image_archive, layer

    archive = tmp_path / "big.tar"
    filler = os.urandom(1024) * (60 * 1024)
    archive.write_bytes(image_archive([layer(("srv/blob.bin", filler))]))
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    for run in range(8):
        code, err, _ = _one_run(None, rng, f"docker-archive:{archive}", "--no-probe",
                                "--no-config", delay=1.5)  # fmt: skip
        where = f"run {run} (seed {seed})"
        assert code is not None, f"{where}: still running after {BOUND_SECONDS}s (a hang)"
        # 1 (the image's findings) when the whole read ended before the burst landed.
        assert code in (130, 1), f"{where}: exit {code}: {err}"
        assert "Traceback" not in err, f"{where}: {err}"
