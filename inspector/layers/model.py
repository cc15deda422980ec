"""What reading a layer yields: its entries (tar members as the layer declares them), the small
files analysers asked for, and the kinds an entry can be.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from inspector.errors import InspectorError

WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"

# kind values of Entry
FILE, DIR, SYMLINK, HARDLINK, CHAR, BLOCK, FIFO = (
    "file",
    "dir",
    "symlink",
    "hardlink",
    "char",
    "block",
    "fifo",
)
WHITEOUT, OPAQUE_DIR = "whiteout", "opaque"


class LayerError(InspectorError):
    """A layer that cannot be read: truncated, corrupt, or in a format we do not read."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One tar member, as the layer declares it. `path` is absolute and normalised."""

    path: str
    kind: str
    size: int
    mode: int
    uid: int
    gid: int
    mtime: int
    link: str | None = None
    # security.capability xattr, hex-encoded, when the file carries file capabilities.
    capability: str | None = None

    def to_row(self) -> list[object]:
        return [self.path, self.kind, self.size, self.mode, self.uid, self.gid, self.mtime,
                self.link, self.capability]  # fmt: skip

    @classmethod
    def from_row(cls, row: list) -> Entry:  # type: ignore[type-arg]
        return cls(*row)


@dataclass(frozen=True)
class LayerRead:
    """What one pass over a layer yields; cached by `diff_id`."""

    diff_id: str
    size: int  # bytes of the uncompressed tar stream
    entries: tuple[Entry, ...]
    # Small files captured during the pass: path -> content (only those `capture` asked for).
    contents: dict[str, bytes]
    # Member names that tried to leave the root (`..`, absolute): harmless here, worth reporting.
    unsafe_names: tuple[str, ...] = ()


# capture(path, size) returns how many bytes to keep of that file, or None to skip it.
Capture = Callable[[str, int], "int | None"]
