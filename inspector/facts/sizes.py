"""Where an image's bytes are: every visible path (file or directory, directories summed over
everything below them) holding at least a threshold, so two images' facts tell which paths
grew (`inspector diff`'s biggest paths added) without either being read again."""

from __future__ import annotations

import posixpath
from collections import defaultdict
from dataclasses import dataclass

from inspector.layers.overlay import FileSystem

THRESHOLD = 1 << 20  # 1 MiB: below it, a path's growth is not worth a line
MAX_PATHS = 400  # the largest kept; past it the threshold rises to the smallest kept


@dataclass(frozen=True)
class PathSize:
    path: str
    bytes: int


@dataclass(frozen=True)
class PathSizes:
    threshold: int  # every path holding at least this many visible bytes is listed
    paths: tuple[PathSize, ...]  # largest first, then by path


def path_sizes(fs: FileSystem) -> PathSizes:
    """Files and directories with at least THRESHOLD visible bytes (at most MAX_PATHS)."""
    per_dir: dict[str, int] = defaultdict(int)
    big_files: list[PathSize] = []
    for path, version in fs.visible.items():
        size = version.bytes
        if not size:
            continue
        per_dir[posixpath.dirname(path) or "/"] += size
        if size >= THRESHOLD:
            big_files.append(PathSize(path, size))
    # Each directory's own files, then carried up to every ancestor: one step per directory.
    totals: dict[str, int] = defaultdict(int)
    for directory, size in per_dir.items():
        current = directory
        while True:
            totals[current] += size
            if current == "/":
                break
            current = posixpath.dirname(current) or "/"
    listed = [PathSize(p, b) for p, b in totals.items() if b >= THRESHOLD] + big_files
    listed.sort(key=lambda p: (-p.bytes, p.path))
    threshold = THRESHOLD
    if len(listed) > MAX_PATHS:
        listed = listed[:MAX_PATHS]
        threshold = listed[-1].bytes + 1  # a path not listed held less than this
    return PathSizes(threshold, tuple(listed))
