"""What a running container wrote, read from its overlay upper dir (engine on this machine).

`docker diff` asks the engine, which on kernels where overlay's native diff is off walks the whole
image to compare (about 0.7 s for a small image here). The container's upper dir already holds
exactly what it wrote: files and dirs it added or copied up, and whiteouts (0/0 character devices)
for what it deleted. A path is "changed" when the image (or Docker's init layer) had it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Container
from typing import Any

from inspector.probes.model import Written

MAX_ENTRIES = 200_000  # a hostile image cannot make us walk forever


def upper_dir(attrs: dict[str, Any]) -> str | None:
    """The container's overlay upper dir when this process can read it (the engine runs here,
    with overlay, and we are root), else None."""
    driver = attrs.get("GraphDriver") or {}
    upper = (driver.get("Data") or {}).get("UpperDir")
    if driver.get("Name") not in ("overlay2", "overlay") or not upper:
        return None
    if not os.path.isdir(upper) or not os.access(upper, os.R_OK | os.X_OK):
        return None
    return upper


def changes_from_upper(attrs: dict[str, Any], image_paths: Container[str]) -> list[Written] | None:
    """The container's changes as `docker diff` lists them, or None when the upper dir is not ours
    to read (another storage driver, a remote engine, not root)."""
    upper = upper_dir(attrs)
    if upper is None:
        return None
    lowers = (attrs["GraphDriver"]["Data"].get("LowerDir") or "").split(":")
    init = next((d for d in lowers if d.endswith("-init/diff")), None)

    def existed(path: str) -> bool:
        return path in image_paths or (init is not None and os.path.lexists(init + path))

    out: list[Written] = []
    stack = [""]
    seen = 0
    while stack and seen < MAX_ENTRIES:
        relative = stack.pop()
        try:
            entries = list(os.scandir(upper + relative if relative else upper))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            path = f"{relative}/{entry.name}"
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISCHR(info.st_mode) and info.st_rdev == 0:
                out.append(Written(path, "deleted"))
                continue
            out.append(Written(path, "changed" if existed(path) else "added"))
            if entry.is_dir(follow_symlinks=False):
                stack.append(path)
    return sorted(out, key=lambda w: w.path)
