"""How many bytes a running probe container has written: its writable layer and its volumes.

With the engine on this machine (overlay2, run as root) the upper dir and the volumes' host
directories are summed directly, in allocated blocks (a sparse file costs the host only what it
holds). Otherwise the engine's own figure (`SizeRw` from the container list) is used, which walks
the layer on the engine's side and so is asked for less often.
"""

from __future__ import annotations

import os
import stat
import time
from typing import Any

# MAX_ENTRIES bounds one measurement too: a container that made more entries than the walk of
# what it wrote takes is stopped like one that wrote too many bytes (inodes are a host resource).
from inspector.probes.upperdir import MAX_ENTRIES, upper_dir

ENGINE_INTERVAL = 1.0
LOCAL_INTERVAL = 0.2


class WriteMeter:
    """Measures a container's writes at most every `interval` seconds."""

    def __init__(self, container: Any) -> None:
        self._container = container
        self._dirs = _local_dirs(container.attrs)
        self._interval = LOCAL_INTERVAL if self._dirs is not None else ENGINE_INTERVAL
        self._next = 0.0
        self.bytes: int | None = None
        self.too_many_entries = False

    def measure(self) -> int | None:
        """Bytes written so far (None when it cannot be known); cached between intervals."""
        now = time.monotonic()
        if now < self._next:
            return self.bytes
        return self.measure_now()

    def measure_now(self) -> int | None:
        """Bytes written so far, measured now whatever the interval (the app just settled: what
        it wrote while starting must be judged before the warm-up ends)."""
        now = time.monotonic()
        self._next = now + self._interval
        if self._dirs is not None:
            total, entries = 0, 0
            for directory in self._dirs:
                used, counted = disk_usage(directory, MAX_ENTRIES - entries)
                total, entries = total + used, entries + counted
            self.too_many_entries = entries >= MAX_ENTRIES
            self.bytes = total
        else:
            self.bytes = _engine_size(self._container)
        return self.bytes


def disk_usage(top: str, max_entries: int) -> tuple[int, int]:
    """Allocated bytes under `top`, and the entries walked (at most `max_entries`)."""
    total, seen = 0, 0
    stack = [top]
    while stack and seen < max_entries:
        try:
            entries = os.scandir(stack.pop())
        except OSError:
            continue
        with entries:
            for entry in entries:
                seen += 1
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue  # removed while we look
                total += info.st_blocks * 512
                if stat.S_ISDIR(info.st_mode):
                    stack.append(entry.path)
                if seen >= max_entries:
                    break
    return total, seen


def _local_dirs(attrs: dict[str, Any]) -> list[str] | None:
    upper = upper_dir(attrs)
    if upper is None:
        return None
    volumes = [
        m["Source"]
        for m in attrs.get("Mounts") or []
        if m.get("Type") == "volume" and m.get("Source") and os.path.isdir(m["Source"])
    ]
    return [upper, *volumes]


def _engine_size(container: Any) -> int | None:
    import docker.errors
    import requests.exceptions

    try:
        rows = container.client.api.containers(all=True, filters={"id": container.id}, size=True)
    except (docker.errors.APIError, requests.exceptions.RequestException):
        return None
    return rows[0].get("SizeRw") if rows else None
