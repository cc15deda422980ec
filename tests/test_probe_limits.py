"""Runtime images built to be hostile: a log flood, a disk filler, a memory hog, huge log lines
and a storm of signals. Each is bounded, reported as what it is, and leaves no container behind."""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from inspector.cli.commands import main
from inspector.facts.collect import collect
from inspector.layers.limits import parse_size
from inspector.probes import ProbeOptions, lifecycle, usage
from inspector.probes.exits import LINE_LIMIT
from inspector.probes.limits import ProbeLimits, from_environment
from tests.conftest import fixture_image
from tests.test_probes import plan_for, probe_containers

MiB = 1024 * 1024


@pytest.mark.parametrize(
    ("text", "size"),
    [("1000", 1000), ("64MiB", 64 * MiB), ("2G", 2 * 1024 * MiB), ("512kb", 512 * 1024),
     ("7 KiB", 7168), ("1.5G", None), ("-1", None), ("lots", None), ("9" * 40, None)],
)  # fmt: skip
def test_limit_sizes_parse_as_documented(text, size):
    """Sizes in the environment, as every INSPECTOR_* limit takes them: bytes, K/M/G/T binary."""
    assert parse_size(text) == size


def test_a_bad_limit_in_the_environment_is_exit_2_in_one_line(monkeypatch, capsys):
    """INSPECTOR_PROBE_WRITE_LIMIT=lots: exit 2 naming the variable, before anything runs."""
    monkeypatch.setenv("INSPECTOR_PROBE_WRITE_LIMIT", "lots")
    assert main(["facts", "inspector-fixture/none:test"]) == 2
    err = capsys.readouterr().err.strip()
    assert "INSPECTOR_PROBE_WRITE_LIMIT='lots' is not a size" in err
    assert len(err.splitlines()) == 1
    assert from_environment({"INSPECTOR_PROBE_LOG_LIMIT": "1MiB"}).log_bytes == MiB


@pytest.mark.docker
def test_a_log_flood_keeps_only_the_newest_log_within_the_limit(docker_client, monkeypatch):
    """log-flood prints ~200 MB/s: the engine's files for it never pass the limit, and the facts
    say the limit was hit (what OPS011 reports)."""
    seen: list[int] = []
    real_usage = lifecycle._usage

    def measured(container: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        log_path = container.attrs["LogPath"]
        seen.append(sum(_size(p) for p in glob.glob(f"{log_path}*")))
        return real_usage(container, *args, **kwargs)

    monkeypatch.setattr(lifecycle, "_usage", measured)
    limit = 256 * 1024
    life = lifecycle.run(docker_client, plan_for("log-flood"), warmup=60, grace=1,
                         limits=ProbeLimits(log_bytes=limit))  # fmt: skip
    assert "log" in life.limits_hit
    assert life.log_known
    # json-file rotates after a write passes the size, so one message may overshoot a file.
    assert 0 < seen[0] <= limit + 2 * 64 * 1024
    assert life.log_tail
    assert all(len(line) <= LINE_LIMIT + 1 for line in life.log_tail)
    assert not probe_containers(docker_client)


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0  # rotated away between the listing and the stat


@pytest.mark.docker
@pytest.mark.parametrize("where", ["upper dir", "engine"])
def test_a_disk_filler_is_stopped_at_the_write_limit(docker_client, monkeypatch, where):
    """disk-fill reserves 3 GiB: the probe stops it past a 64 MiB limit, measured on the host's
    upper dir or, for a remote engine, by the engine's SizeRw; its processes are still seen."""
    if where == "engine":
        monkeypatch.setattr(usage, "_local_dirs", lambda attrs: None)
    limits = ProbeLimits(write_bytes=64 * MiB)
    life = lifecycle.run(docker_client, plan_for("disk-fill"), warmup=60, grace=1, limits=limits)
    assert life.limits_hit == ("write",)
    assert life.stopped_by == "limit"
    assert life.written_bytes is not None
    assert life.written_bytes > 64 * MiB
    assert any(w.path == "/var/tmp/cache.bin" for w in life.written)
    assert any(p.cmdline[-1:] == ("/srv/fill.py",) for p in life.processes)
    assert not probe_containers(docker_client)


@pytest.mark.docker
def test_the_write_limit_does_not_touch_an_app_that_writes_little(docker_client):
    """good writes a few files at start: measured, under the limit, stopped by its signal."""
    life = lifecycle.run(docker_client, plan_for("good"), warmup=30, grace=2)
    assert life.limits_hit == ()
    assert life.stopped_by == "signal"
    assert life.written_bytes is not None
    assert life.written_bytes < MiB
    assert life.write_limit_bytes == ProbeLimits().write_bytes


@pytest.mark.docker
def test_an_app_killed_for_memory_is_out_of_memory_not_a_missing_setting(docker_client):
    """oom-at-start: oom_killed, exit cause out-of-memory (inconclusive), no container left."""
    runtime = collect(fixture_image("oom-at-start"),
                      probe=ProbeOptions(warmup=60, grace=1)).to_json()["runtime"]  # fmt: skip
    life = runtime["lifecycle"]
    assert life["status"] == "exited-early"
    assert life["oom_killed"] is True
    assert life["exit_cause"]["kind"] == "out-of-memory"
    assert life["exit_cause"]["verdict"] == "inconclusive"
    assert "512 MiB memory limit" in life["reason"]
    assert "--probe-memory" in life["reason"]
    assert not probe_containers(docker_client)


@pytest.mark.docker
def test_lines_of_200000_characters_are_judged_and_kept_short(docker_client):
    """long-lines: the exception is found in its 200k-character line; every kept line is cut."""
    runtime = collect(fixture_image("long-lines"),
                      probe=ProbeOptions(warmup=60, grace=1)).to_json()["runtime"]  # fmt: skip
    life = runtime["lifecycle"]
    assert life["exit_cause"]["kind"] == "python-exception"
    assert life["exit_cause"]["exception"] == "RuntimeError"
    assert max(len(line) for line in life["log_tail"]) == LINE_LIMIT + 1
    assert not probe_containers(docker_client)


@pytest.mark.docker
def test_a_storm_of_signals_during_a_probe_leaves_nothing_behind(docker_client):
    """Fifty SIGINT and SIGTERM, 10 ms apart, from the moment a probe runs: inspector exits
    130 or 143 without a traceback, and no probe container remains."""
    child = subprocess.Popen(
        [sys.executable, "-m", "inspector", "facts", fixture_image("su-start-script"),
         "--warmup", "60"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not probe_containers(docker_client) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert probe_containers(docker_client), "no probe container appeared"
        for i in range(50):
            if child.poll() is not None:
                break
            child.send_signal(signal.SIGINT if i % 2 else signal.SIGTERM)
            time.sleep(0.01)
        _, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 143  # the first signal decides
    assert "Traceback" not in err
    assert not probe_containers(docker_client)


def test_a_process_with_a_megabyte_argv_is_read_only_to_the_cap(tmp_path):
    """A container process whose argv is 5 MiB (ARG_MAX allows 2 MiB per process, and /proc can
    be anything on a hostile host): its cmdline is read only to CMDLINE_CAP."""
    from inspector.probes.proc import CMDLINE_CAP, processes_from_proc

    pid = tmp_path / "100"
    (pid / "task" / "100").mkdir(parents=True)
    (pid / "task" / "100" / "children").write_text("")
    (pid / "status").write_text("Name:\tpython3\nState:\tS\nPPid:\t0\nUid:\t0 0 0 0\n"
                                "Gid:\t0 0 0 0\nNSpid:\t100\t1\n")  # fmt: skip
    (pid / "cgroup").write_text("0::/docker/abc123\n")
    (pid / "cmdline").write_bytes(b"python3\0" + b"x" * 5 * MiB + b"\0")
    (found,) = processes_from_proc(str(tmp_path), 100, "abc123")
    assert found.cmdline[0] == "python3"
    assert sum(len(a) + 1 for a in found.cmdline) - 1 <= CMDLINE_CAP  # NULs between args


def test_a_missing_library_is_named_at_the_end_of_a_long_line():
    """The shared-object pattern is tried just before its phrase, and still finds the library
    after 1900 characters of noise (and nothing in a line of `a.so` repeated)."""
    from inspector.probes.exits import classify

    noise = "a.so" * 475
    found = classify([f"{noise} libbar.so.2: cannot open shared object file: No such file"], 1,
                     False)  # fmt: skip
    assert (found.kind, found.subject) == ("missing-library", "libbar.so.2")
    assert classify([noise] * 20, 1, False).kind == "unexplained"
