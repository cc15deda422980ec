"""A container's processes and sockets, read from the host's /proc (engine on this machine).

Starting at the container's PID 1 (its host PID, from `docker inspect`), the tree is walked through
`/proc/PID/task/TID/children`, which lists zombies too (cgroup listings may not). `NSpid` gives each
process's PID inside the container. The net files of PID 1 are the container's network namespace.
The signal masks of `status` (SigIgn, SigCgt, and SigBlk of every thread) say what a process does
with the container's stop signal before the probe sends it.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path

from inspector.probes.model import Process, Socket

# /proc/net states: TCP LISTEN, and for UDP the unconnected (bound) state.
_TCP_LISTEN = "0A"
_UDP_BOUND = "07"
MAX_PROCESSES = 4096
# Bounds on what one container can make us read: an argv may be megabytes (ARG_MAX is 2 MiB per
# process, 256 processes per probe), and a socket table grows with every socket it opens.
CMDLINE_CAP = 64 * 1024
STATUS_CAP = 64 * 1024
NET_CAP = 8 * 1024 * 1024
# Threads whose masks are read to tell whether a signal is blocked in all of them.
THREADS_READ = 256


def read_capped(path: Path, cap: int) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(cap)


def processes_from_proc(
    proc_root: str, host_pid: int, container_id: str, stop_signal: int | None = None
) -> list[Process] | None:
    """The container's processes, or None when this /proc is not the engine's."""
    root = Path(proc_root)
    first = _status(root, host_pid)
    if first is None or first.get("NSpid", "").split()[-1:] != ["1"]:
        return None
    if not belongs(root, host_pid, container_id):
        return None
    found: dict[int, tuple[dict[str, str], tuple[str, ...]]] = {}
    queue = [host_pid]
    while queue and len(found) < MAX_PROCESSES:
        pid = queue.pop(0)
        if pid in found:
            continue
        status = _status(root, pid)
        if status is None:
            continue  # it exited while we looked
        found[pid] = (status, _cmdline(root, pid))
        queue.extend(children(root, pid))
    inner = {pid: _inner_pid(status, pid) for pid, (status, _) in found.items()}
    out = []
    for pid, (status, argv) in found.items():
        uids, gids = status.get("Uid", "").split(), status.get("Gid", "").split()
        ppid = int(status.get("PPid", "0"))
        out.append(
            Process(
                pid=inner[pid],
                ppid=0 if pid == host_pid else inner.get(ppid, ppid),
                uid=int(uids[0]) if uids else -1,
                gid=int(gids[0]) if gids else -1,
                euid=int(uids[1]) if len(uids) > 1 else None,
                egid=int(gids[1]) if len(gids) > 1 else None,
                state=status.get("State", "?")[:1],
                name=status.get("Name", ""),
                cmdline=argv,
                stop_signal_handling=_handling(root, pid, status, stop_signal),
            )
        )
    return sorted(out, key=lambda p: p.pid)


def _handling(root: Path, pid: int, status: dict[str, str], number: int | None) -> str | None:
    """What the process does with signal `number`: "ignored" (SIG_IGN), "blocked" (masked in
    every thread, so it stays pending), "caught" (a handler) or "default"; None if unknown."""
    if number is None or not 0 < number <= 64:
        return None
    bit = 1 << (number - 1)
    try:
        ignored, caught = (int(status[key], 16) & bit for key in ("SigIgn", "SigCgt"))
    except (KeyError, ValueError):
        return None
    if ignored:
        return "ignored"
    if _blocked_everywhere(root, pid, status, bit):
        return "blocked"
    return "caught" if caught else "default"


def _blocked_everywhere(root: Path, pid: int, status: dict[str, str], bit: int) -> bool:
    """A process-directed signal goes to any thread that does not block it."""
    masks = [status.get("SigBlk", "0")]
    try:
        if not int(masks[0] or "0", 16) & bit:
            return False  # the main thread takes it: no need to read the others
    except ValueError:
        return False
    try:
        tasks = sorted(os.listdir(root / str(pid) / "task"))[:THREADS_READ]
    except OSError:
        tasks = []
    for tid in tasks:
        try:
            text = read_capped(root / str(pid) / "task" / tid / "status", STATUS_CAP).decode()
        except (OSError, UnicodeDecodeError):
            continue
        masks += [ln.partition(":")[2] for ln in text.splitlines() if ln.startswith("SigBlk:")]
    try:
        return all(int(mask.strip() or "0", 16) & bit for mask in masks)
    except ValueError:
        return False


def belongs(root: Path, pid: int, container_id: str) -> bool:
    """PID 1 of *this* container, not a recycled PID: its cgroup path names the container."""
    try:
        return container_id in (root / str(pid) / "cgroup").read_text()
    except OSError:
        return False


def _status(root: Path, pid: int) -> dict[str, str] | None:
    try:
        text = read_capped(root / str(pid) / "status", STATUS_CAP).decode(errors="replace")
    except OSError:
        return None
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def _cmdline(root: Path, pid: int) -> tuple[str, ...]:
    try:
        raw = read_capped(root / str(pid) / "cmdline", CMDLINE_CAP)
    except OSError:
        return ()
    return tuple(part.decode(errors="replace") for part in raw.rstrip(b"\0").split(b"\0") if raw)


def children(root: Path, pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(root / str(pid) / "task")
    except OSError:
        return out
    for tid in tasks:
        try:
            text = (root / str(pid) / "task" / tid / "children").read_text()
            out += [int(c) for c in text.split()]
        except (OSError, ValueError):
            continue
    return out


def _inner_pid(status: dict[str, str], pid: int) -> int:
    ns = status.get("NSpid", "").split()
    return int(ns[-1]) if ns else pid


def sockets_from_proc(proc_root: str, host_pid: int) -> tuple[Socket, ...] | None:
    """Listening TCP and bound UDP sockets of the container's network namespace."""
    if not host_pid:
        return None
    base = Path(proc_root) / str(host_pid) / "net"
    if not base.is_dir():
        return None
    found: set[Socket] = set()
    for protocol, wanted in (
        ("tcp", _TCP_LISTEN),
        ("tcp6", _TCP_LISTEN),
        ("udp", _UDP_BOUND),
        ("udp6", _UDP_BOUND),
    ):
        try:
            text = read_capped(base / protocol, NET_CAP).decode(errors="replace")
            lines = text.splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 4 or fields[3] != wanted:
                continue
            address, port = parse_address(fields[1])
            found.add(Socket(protocol, address, port))
    return tuple(sorted(found, key=lambda s: (s.port, s.protocol, s.address)))


def parse_address(text: str) -> tuple[str, int]:
    """'0100007F:1F40' -> ('127.0.0.1', 8000): each 32-bit word of the address is host order."""
    hex_address, _, hex_port = text.partition(":")
    raw = bytes.fromhex(hex_address)
    if sys.byteorder == "little":
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(raw)), int(hex_port, 16)
