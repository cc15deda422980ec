"""The lifecycle probe looks at an app once its start-up has settled, not after a fixed sleep:
what it sees (the SIGTERM handler, the listener) is the same on a loaded machine as on an idle one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from inspector.probes import lifecycle
from inspector.probes.ready import SETTLE, Settling, Snapshot, snapshot
from tests.conftest import own_probes
from tests.test_probes import plan_for

CONTAINER = "c0ffee" * 10 + "abcd"


def _process(root: Path, pid: int, name: str, state: str, ticks: int, kids: tuple[int, ...] = (),
             container: str = CONTAINER) -> None:  # fmt: skip
    """A /proc/PID with the files snapshot() reads: stat, cgroup, and the children of its task."""
    base = root / str(pid)
    (base / "task" / str(pid)).mkdir(parents=True)
    fields = [state, "1", str(pid), str(pid), "0", "-1", "4194560", "0", "0", "0", "0",
              str(ticks), "0"]  # fmt: skip
    (base / "stat").write_text(f"{pid} ({name}) {' '.join(fields)} 0 0 20 0 1 0\n")
    (base / "cgroup").write_text(f"0::/system.slice/docker-{container}.scope\n")
    (base / "task" / str(pid) / "children").write_text(" ".join(map(str, kids)))


# --- what counts as settled (pure) -------------------------------------------------------------


def test_a_tree_of_sleeping_processes_is_waiting_and_its_cpu_is_summed(tmp_path):
    """PID 1 (a shell) and its python child, both sleeping: one snapshot of both, CPU summed."""
    _process(tmp_path, 100, "sh", "S", 3, (101,))
    _process(tmp_path, 101, "python3 (app)", "S", 40)
    seen = snapshot(str(tmp_path), 100, CONTAINER)
    assert seen == Snapshot(frozenset({100, 101}), 43, waiting=True)


@pytest.mark.parametrize(
    ("name", "state"),
    [("python3", "R"), ("python3", "D"), ("sleep", "S")],
    ids=["runnable (working, or waiting for a CPU)", "in disk wait", "a start script's sleep"],
)
def test_a_process_still_starting_makes_the_tree_not_waiting(tmp_path, name, state):
    """A runnable process (a loaded machine's too), one in disk wait, or the `sleep` program
    of a start script: the start-up is not over."""
    _process(tmp_path, 100, "sh", "S", 1, (101,))
    _process(tmp_path, 101, name, state, 5)
    seen = snapshot(str(tmp_path), 100, CONTAINER)
    assert seen is not None
    assert not seen.waiting


def test_a_pid_of_another_container_is_not_read(tmp_path):
    """A recycled PID whose cgroup names another container gives no snapshot: the probe then
    waits out its warm-up as with a remote engine."""
    _process(tmp_path, 100, "python3", "S", 1, container="another")
    assert snapshot(str(tmp_path), 100, CONTAINER) is None
    assert snapshot(str(tmp_path), 0, CONTAINER) is None


def test_settled_only_after_the_same_still_tree_for_the_whole_settle_time():
    """Settled once the same processes used no CPU for SETTLE seconds; CPU used, a new process
    or a runnable one starts the count again, and so does a snapshot that cannot be read."""
    still = Snapshot(frozenset({1}), 10, waiting=True)
    settling = Settling()
    assert not settling.settled(0.0, still)
    assert not settling.settled(SETTLE / 2, still)
    assert not settling.settled(SETTLE * 0.9, Snapshot(frozenset({1}), 11, waiting=True))
    assert not settling.settled(SETTLE * 1.5, Snapshot(frozenset({1}), 11, waiting=True))
    assert settling.settled(SETTLE * 2, Snapshot(frozenset({1}), 11, waiting=True))
    again = Settling()
    assert not again.settled(0.0, still)
    assert not again.settled(SETTLE, Snapshot(frozenset({1, 2}), 10, waiting=True))
    assert not again.settled(SETTLE * 1.2, Snapshot(frozenset({1, 2}), 10, waiting=False))
    assert not again.settled(SETTLE * 1.4, None)
    assert not again.settled(SETTLE * 3, still)
    assert again.settled(SETTLE * 4, still)


# --- on the engine: events, not timers -----------------------------------------------------------


@pytest.mark.docker
def test_the_stop_comes_after_the_app_said_it_was_ready_and_its_listener_is_seen(docker_client):
    """su-ready works (counted work, not seconds) before it installs its SIGTERM handler and
    listens: the probe, with a bound far above its start-up, looks once it settled, sees the
    listener, and its log shows "ready" before "stopping on SIGTERM": OPS002's stop and OPS004's
    listener are the app's real ones however long a loaded machine takes to get there."""
    bound = 120.0
    life = lifecycle.run(docker_client, plan_for("su-ready"), warmup=bound, grace=3)
    assert life.status == "ran"
    assert life.settled_seconds is not None  # it looked when the app settled, not at the bound
    assert [s.port for s in life.listening] == [8080]
    events = [line.split(":")[0] for line in life.log_tail]
    assert events == ["ready", "stopping on SIGTERM"], life.log_tail
    assert (life.stopped_by, life.exit_code) == ("signal", 0)
    (pid1,) = [p for p in life.processes if p.pid == 1]
    assert pid1.stop_signal_handling == "caught"
    assert not own_probes(docker_client)


@pytest.mark.docker
def test_a_start_script_that_keeps_sleeping_is_looked_at_when_the_warm_up_runs_out(docker_client):
    """su-start-script polls with `sleep 1` forever: its start-up never settles, so the probe
    says so (no settled time) and looks at what the warm-up left, the script still waiting."""
    life = lifecycle.run(docker_client, plan_for("su-start-script"), warmup=2, grace=1)
    assert life.status == "ran"
    assert life.settled_seconds is None
    assert life.log_tail == ("waiting for the database",)
    assert life.stopped_by == "kill"
    assert not own_probes(docker_client)
