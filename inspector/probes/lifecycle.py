"""The lifecycle probe: start the image as a user would, watch it, stop it as Docker does.

The container gets the image's own ENTRYPOINT, CMD, USER and env (no capabilities dropped: an
entrypoint may legitimately start as root and drop privileges), only the network is off and
memory and PIDs are limited. After the warm-up the processes are read from the host's /proc when
the engine runs on this machine (container PIDs, real UIDs, zombies, listening sockets), else
from `docker top` (host PIDs, no sockets). Then `docker stop`: STOPSIGNAL, and SIGKILL after the
grace period, timed. How it ended is read from the exit status and the log: death by the
signal, SIGKILL after the grace period, or a crash of its own while the probe waited
(`exits.stop_outcome`).
"""

from __future__ import annotations

import math
import os
import posixpath
import time
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import requests.exceptions

from inspector.analysers.secrets import redact_argv, redact_text
from inspector.probes import containers
from inspector.probes.exits import (
    ExitCause,
    classify,
    exit_signal,
    signal_number,
    stop_outcome,
    tail_lines,
)
from inspector.probes.given import Given, shown_memory
from inspector.probes.limits import ProbeLimits
from inspector.probes.model import LifecycleProbe, Process, Socket, Written
from inspector.probes.plan import ProbePlan
from inspector.probes.proc import processes_from_proc, sockets_from_proc
from inspector.probes.ready import Settling, snapshot
from inspector.probes.upperdir import changes_from_upper
from inspector.probes.usage import WriteMeter

WARMUP = 3.0
GRACE = 10.0
LOG_LINES = 20
WRITTEN_SHOWN = 500
POLL = 0.1
SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "fish"})
INITS = frozenset(
    {
        "tini",
        "tini-static",
        "dumb-init",
        "catatonit",
        "docker-init",
        "s6-svscan",
        "runsvdir",
        "runit",
        "supervisord",
        "init",
        "systemd",
        "my_init",
        "s6-linux-init",
        "pid1",
    }
)
_DIFF_KINDS = {0: "changed", 1: "added", 2: "deleted"}


def run(
    client: docker.DockerClient,
    plan: ProbePlan,
    warmup: float = WARMUP,
    grace: float = GRACE,
    proc_root: str = "/proc",
    limits: ProbeLimits | None = None,
    given: Given | None = None,
) -> LifecycleProbe:
    limits = limits or ProbeLimits()
    given = given or Given()
    with containers.probe_container(
        client, plan.image_id, "lifecycle", log_config=limits.log_config(),
        **given.container_options(),
    ) as container:  # fmt: skip
        try:
            container.start()
            started = time.monotonic()
        except docker.errors.APIError as exc:
            return LifecycleProbe(
                "could-not-start",
                "Docker refused to start the container",
                containers.explain(exc),
                warmup,
                grace,
            )
        meter = WriteMeter(container)
        state, settled = _warm_up(container, warmup, meter, limits.write_bytes, proc_root)
        over_written = _over(meter, limits.write_bytes)
        if over_written and state["Status"] == "running":
            # Frozen, so it writes no more while we look; then killed, as a `docker stop` with
            # its grace period would let it write gigabytes more.
            return _limited(container, state, plan, proc_root, warmup, grace, meter, limits)
        if state["Status"] != "running":
            tail, cause = _exit_told(container, state)
            return LifecycleProbe(
                "exited-early",
                early_exit_reason(cause, state.get("ExitCode"), warmup, given),
                warmup_seconds=warmup,
                grace_seconds=grace,
                exit_code=state.get("ExitCode"),
                exit_signal=exit_signal(state.get("ExitCode")),
                oom_killed=state.get("OOMKilled"),
                log_tail=tail,
                exit_cause=cause,
                **_written(container, plan),
                **_usage(container, meter, limits, over_written),
            )
        signal = (container.attrs.get("Config") or {}).get("StopSignal") or "SIGTERM"
        seen = _processes(container, state.get("Pid") or 0, proc_root, signal_number(signal))
        listening = sockets_from_proc(proc_root, state.get("Pid") or 0)
        sent = round(time.monotonic() - started, 3)
        stop_seconds = _stop(container, grace)
        container.reload()
        tail = _log_tail(container)
        exit_code = container.attrs["State"].get("ExitCode")
        stopped_by, cause = stop_outcome(exit_code, signal, stop_seconds, grace, tail)
        watched = Watched(container, plan, warmup, grace, meter, limits, settled)
        return watched.ran(seen, listening, stop_seconds, stopped_by,
                           Stopped(sent, tail, cause))  # fmt: skip


def _limited(
    container: Any,
    state: dict[str, Any],
    plan: ProbePlan,
    proc_root: str,
    warmup: float,
    grace: float,
    meter: WriteMeter,
    limits: ProbeLimits,
) -> LifecycleProbe:
    """The app passed the write limit during the warm-up: look at it frozen, then kill it."""
    paused = _try(container.pause)
    signal = (container.attrs.get("Config") or {}).get("StopSignal") or "SIGTERM"
    seen = _processes(container, state.get("Pid") or 0, proc_root, signal_number(signal))
    listening = sockets_from_proc(proc_root, state.get("Pid") or 0)
    if paused:
        _try(container.unpause)
    _try(container.kill)
    _try(container.wait, timeout=30)
    container.reload()
    watched = Watched(container, plan, warmup, grace, meter, limits)
    return watched.ran(seen, listening, None, "limit", Stopped(None, _log_tail(container), None))


@dataclass(frozen=True)
class Stopped:
    """What the probe knew once the container had ended: when it sent the stop signal (seconds
    after the start), the log's last lines, and the crash the log shows if it ended by itself."""

    sent_seconds: float | None
    log_tail: tuple[str, ...]
    crash: ExitCause | None


@dataclass(frozen=True)
class Watched:
    """A container the probe watched to its end, and what it knew of it."""

    container: Any
    plan: ProbePlan
    warmup: float
    grace: float
    meter: WriteMeter
    limits: ProbeLimits
    settled: float | None = None

    def ran(
        self,
        seen: tuple[tuple[Process, ...], str],
        listening: tuple[Socket, ...] | None,
        stop_seconds: float | None,
        stopped_by: str,
        stopped: Stopped,
    ) -> LifecycleProbe:
        container = self.container
        procs, namespace = seen
        final = container.attrs["State"]
        return LifecycleProbe(
            "ran",
            warmup_seconds=self.warmup,
            settled_seconds=self.settled,
            grace_seconds=self.grace,
            processes=procs,
            pid_namespace=namespace,
            pid1_kind=pid1_kind(procs),
            pid1_cmdline=_pid1(procs).cmdline if _pid1(procs) else (),
            app_pid=app_pid(procs),
            zombies=sum(1 for p in procs if p.state == "Z"),
            listening=listening or (),
            sockets_known=listening is not None,
            stop_signal=(container.attrs.get("Config") or {}).get("StopSignal") or "SIGTERM",
            stop_sent_seconds=stopped.sent_seconds,
            stop_seconds=stop_seconds,
            stopped_by=stopped_by,
            exit_code=final.get("ExitCode"),
            exit_signal=exit_signal(final.get("ExitCode")),
            oom_killed=final.get("OOMKilled"),
            log_tail=stopped.log_tail,
            exit_cause=stopped.crash,
            **_written(container, self.plan),
            **_usage(container, self.meter, self.limits, over_written=stopped_by == "limit"),
        )


def _try(action: Any, **kwargs: Any) -> bool:
    try:
        action(**kwargs)
    except (docker.errors.APIError, requests.exceptions.RequestException):
        return False
    return True


def _over(meter: WriteMeter, limit: int) -> bool:
    return meter.too_many_entries or (meter.bytes or 0) > limit


def _log_rotated(container: Any) -> bool:
    """The engine rotated the container's log: it printed past the probe's log limit."""
    log_path = container.attrs.get("LogPath") or ""
    return bool(log_path) and os.path.exists(f"{log_path}.1")


def _usage(container: Any, meter: WriteMeter, limits: ProbeLimits, over_written: bool) -> dict:
    """What the container took of its write and log limits."""
    hit = []
    if over_written:
        hit.append("write")
    log_path = container.attrs.get("LogPath") or ""
    if _log_rotated(container):
        hit.append("log")
    return {
        "written_bytes": meter.bytes,
        "write_limit_bytes": limits.write_bytes,
        "log_limit_bytes": limits.log_bytes,
        "log_known": bool(log_path) and os.path.exists(log_path),
        "limits_hit": tuple(hit),
    }


def early_exit_reason(cause: ExitCause, exit_code: int | None, warmup: float,
                      given: Given | None = None) -> str:  # fmt: skip
    """What an exit during the warm-up means, in words a release manager can act on."""
    during = f"the app exited during the {warmup:g}s warm-up with status {exit_code}"
    said = f": {cause.line}" if cause.line else ""
    if cause.verdict == "broken":
        return f"{during}{said}: the image cannot start as built"
    if cause.kind == "needs-config":
        what = f" ({cause.subject})" if cause.subject else ""
        how = (
            f"give it {cause.subject} as a deployment does (`docker run -e {cause.subject}=...`; "
            f"to the probes, `--probe-env {cause.subject}=...`)"
            if cause.subject and cause.subject.isidentifier()
            else "give it the settings a deployment gives it (`--probe-env`, `--probe-env-file`)"
        )
        return (
            f"{during}, waiting for configuration it was not given{what}{said}: "
            f"inconclusive, neither a pass nor a fail; {how}"
        )
    if cause.kind == "needs-service":
        what = f" ({cause.subject})" if cause.subject else ""
        return (
            f"{during}, unable to reach a service it needs{what} (the probe runs without a "
            f"network){said}: inconclusive, neither a pass nor a fail"
        )
    if cause.kind == "out-of-memory":
        limit = shown_memory((given or Given()).memory)
        return (
            f"the app was killed for exceeding the probe's {limit} memory limit "
            "during the warm-up: inconclusive; it needs more memory than that to start (give "
            "it what a deployment gives it: `--probe-memory 2GiB`)"
        )
    if cause.verdict == "finished":
        return (
            f"the app finished during the {warmup:g}s warm-up with status 0: a one-off "
            "command, not a service; runtime checks that watch a running app are skipped"
        )
    return f"{during}{said}; its log does not say why"


def _warm_up(
    container: Any, warmup: float, meter: WriteMeter, write_limit: int, proc_root: str
) -> tuple[dict[str, Any], float | None]:
    """Wait until the app's start-up has settled (`ready.py`), at most `warmup` seconds;
    return early if the container stops, writes too much or floods its log past the limit (it
    is not going to settle, and what it does is plain). Also returns when, after the start, the
    start-up settled (None: it did not)."""
    started = time.monotonic()
    deadline = started + warmup
    settling = Settling()
    while True:
        container.reload()
        state = container.attrs["State"]
        meter.measure()
        now = time.monotonic()
        if state["Status"] != "running" or _over(meter, write_limit) or _log_rotated(container):
            return dict(state), None
        current = snapshot(proc_root, state.get("Pid") or 0, container.id)
        if settling.settled(now, current):
            meter.measure_now()  # the engine's figure is asked for once a second at most
            return dict(state), round(now - started, 3)
        if now >= deadline:
            return dict(state), None
        time.sleep(min(POLL, deadline - now))


def _stop(container: Any, grace: float) -> float:
    started = time.monotonic()
    try:
        container.stop(timeout=max(0, math.ceil(grace)))
    except requests.exceptions.RequestException:
        container.kill()
    return round(time.monotonic() - started, 3)


def _processes(
    container: Any, host_pid: int, proc_root: str, stop_signal: int | None = None
) -> tuple[tuple[Process, ...], str]:
    found = None
    if host_pid:
        found = processes_from_proc(proc_root, host_pid, container.id, stop_signal)
    if found is not None:
        return tuple(_redacted(p) for p in found), "container"
    return tuple(_redacted(p) for p in _from_top(container, host_pid)), "host"


def _from_top(container: Any, host_pid: int) -> list[Process]:
    """`docker top`: works with a remote engine, but PIDs are the host's (PID 1 is renamed 1)."""
    top = container.top(ps_args="-o pid,ppid,ruid,rgid,euid,egid,stat,args")
    out = []
    for row in top.get("Processes") or []:
        pid, ppid, ruid, rgid, euid, egid, state, args = row[:8]
        argv = tuple(args.split())
        out.append(
            Process(
                pid=1 if int(pid) == host_pid else int(pid),
                ppid=0 if int(pid) == host_pid else (1 if int(ppid) == host_pid else int(ppid)),
                uid=int(ruid),
                gid=int(rgid),
                euid=int(euid),
                egid=int(egid),
                state=state[:1],
                name=posixpath.basename(argv[0]) if argv else "",
                cmdline=argv,
            )
        )
    return out


def _redacted(process: Process) -> Process:
    return Process(**{**process.__dict__, "cmdline": tuple(redact_argv(process.cmdline))})


# The engine copies a container's output to its log on its own; the last lines of an app that
# just exited can reach the log a moment after the exit is seen. Read again, briefly, before
# calling an exit unexplained.
LOG_CATCH_UP = (0.3, 0.7, 1.0)


def _exit_told(container: Any, state: dict[str, Any]) -> tuple[tuple[str, ...], Any]:
    """The log's tail and the exit cause it tells, read again while the log may lag."""
    tail = _log_tail(container)
    cause = classify(tail, state.get("ExitCode"), state.get("OOMKilled"))
    for wait in LOG_CATCH_UP:
        if getattr(cause, "kind", None) != "unexplained":
            break
        time.sleep(wait)
        again = _log_tail(container)
        if again == tail:
            continue
        tail = again
        cause = classify(tail, state.get("ExitCode"), state.get("OOMKilled"))
    return tail, cause


def _log_tail(container: Any) -> tuple[str, ...]:
    try:
        text = container.logs(tail=LOG_LINES).decode(errors="replace")
    except docker.errors.APIError:
        return ()
    return tail_lines("\n".join(redact_text(line) or "" for line in text.splitlines()), LOG_LINES)


def _written(container: Any, plan: ProbePlan) -> dict[str, Any]:
    written = changes_from_upper(container.attrs, plan.image_paths)
    if written is None:
        written = docker_diff(container)
    pyc = sum(1 for w in written if w.kind != "deleted" and w.path.endswith(".pyc"))
    return {
        "written": tuple(written[:WRITTEN_SHOWN]),
        "written_total": len(written),
        "pyc_written": pyc,
    }


def docker_diff(container: Any) -> list[Written]:
    try:
        changes = container.diff() or []
    except docker.errors.APIError:
        changes = []
    return [Written(c["Path"], _DIFF_KINDS.get(c["Kind"], str(c["Kind"]))) for c in changes]


def _pid1(procs: tuple[Process, ...]) -> Process | None:
    return next((p for p in procs if p.pid == 1), None)


def program(process: Process) -> str:
    """The program a process runs, as a name: `tini`, `sh`, `python3`, `gunicorn`."""
    argv = [a for a in process.cmdline if a]
    if not argv:
        return process.name
    name = posixpath.basename(argv[0])
    if name == "busybox" and len(argv) > 1:
        return posixpath.basename(argv[1])
    if name.startswith("python") and len(argv) > 1 and not argv[1].startswith("-"):
        return posixpath.basename(argv[1])  # `python /usr/bin/supervisord`
    return name


def kind(process: Process) -> str:
    name = program(process)
    if name in SHELLS:
        return "shell"
    if name in INITS:
        return "init"
    return "app"


def pid1_kind(procs: tuple[Process, ...]) -> str | None:
    first = _pid1(procs)
    return kind(first) if first else None


def app_pid(procs: tuple[Process, ...]) -> int | None:
    """The application: PID 1 itself, or the first live process under its shells and inits."""
    children: dict[int | None, list[Process]] = {}
    for p in procs:
        children.setdefault(p.ppid, []).append(p)
    queue = [p for p in procs if p.pid == 1]
    while queue:
        process = queue.pop(0)
        if process.state == "Z":
            continue
        if kind(process) == "app":
            return process.pid
        queue.extend(sorted(children.get(process.pid, ()), key=lambda p: p.pid))
    return None
