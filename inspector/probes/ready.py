"""When the app under the lifecycle probe has started: its start-up has settled.

A fixed warm-up looks at an app too early on a loaded machine (Python still importing, no
SIGTERM handler yet, no listener) and wastes seconds on an idle one. Instead the probe reads the
container's process tree from the host's /proc and calls the start-up over once, for `SETTLE`
seconds in a row, the same processes have used no CPU and every one of them sleeps (on a socket,
a pipe, a child, a timer), none runnable, none in disk wait, and none is the `sleep` program (a
`sleep 2 && exec app` start script is still starting). A process waiting for a CPU on a loaded
machine is runnable, so load delays the look instead of changing what it sees. The warm-up stays
the bound.

With a remote engine (no /proc of its processes here) nothing can be read: the probe waits out
the warm-up as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from inspector.probes.proc import MAX_PROCESSES, belongs, children, read_capped

SETTLE = 0.5
STAT_CAP = 4096
# States of a process waiting for an event: S (interruptible sleep), Z (zombie), T/t (stopped);
# I is an idle kernel thread. R (runnable) and D (disk wait) are still working.
_WAITING = frozenset("SZTtI")
# Programs whose only job is to let time pass: a start script that runs one is still starting.
_DELAYS = frozenset({"sleep"})


@dataclass(frozen=True)
class Snapshot:
    """The container's processes at one moment: which, how much CPU they used, and whether all
    of them wait for an event."""

    pids: frozenset[int]
    cpu_ticks: int
    waiting: bool


def snapshot(proc_root: str, host_pid: int, container_id: str) -> Snapshot | None:
    """The process tree under the container's PID 1, or None when this /proc cannot tell."""
    root = Path(proc_root)
    if not host_pid or not belongs(root, host_pid, container_id):
        return None
    seen: set[int] = set()
    ticks = 0
    waiting = True
    queue = [host_pid]
    while queue and len(seen) < MAX_PROCESSES:
        pid = queue.pop(0)
        if pid in seen:
            continue
        stat = _stat(root, pid)
        if stat is None:
            continue  # it exited while we looked
        seen.add(pid)
        name, state, cpu = stat
        ticks += cpu
        if state not in _WAITING or name in _DELAYS:
            waiting = False
        queue.extend(children(root, pid))
    if host_pid not in seen:
        return None
    return Snapshot(frozenset(seen), ticks, waiting)


def _stat(root: Path, pid: int) -> tuple[str, str, int] | None:
    """Program name, state, and user+system CPU ticks from /proc/PID/stat."""
    try:
        text = read_capped(root / str(pid) / "stat", STAT_CAP).decode(errors="replace")
        # The name sits in parentheses and may itself hold spaces and parentheses.
        head, _, tail = text.rpartition(")")
        fields = tail.split()
        return head.partition("(")[2], fields[0], int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None


class Settling:
    """Feed it a snapshot per poll; it says when the start-up has been still for SETTLE s."""

    def __init__(self, settle: float = SETTLE) -> None:
        self._settle = settle
        self._last: Snapshot | None = None
        self._still_since: float | None = None

    def settled(self, now: float, current: Snapshot | None) -> bool:
        if current is None or not current.waiting:
            self._last, self._still_since = current, None
            return False
        last, self._last = self._last, current
        if last is None or last.pids != current.pids or last.cpu_ticks != current.cpu_ticks:
            self._still_since = now
            return False
        if self._still_since is None:
            self._still_since = now
        return now - self._still_since >= self._settle
