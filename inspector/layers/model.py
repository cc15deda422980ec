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


@dataclass(frozen=True, slots=True)
class ContentHit:
    """A credential a content scanner found in one file version: where and what, never its value."""

    path: str
    rule: str  # the scanner's rule id, e.g. "aws-access-key-id"
    line: int  # 1-based
    length: int  # characters in the value
    fingerprint: str  # a short hash of the value, to tell leaks apart
    example: bool  # a published example value, or test or documentation material
    # The value passes its format's own verification (a checksum, a key body that decodes to a
    # key structure): a live credential's shape, not a string that merely looks like one.
    live: bool = False

    def to_row(self) -> list[object]:
        return [self.path, self.rule, self.line, self.length, self.fingerprint, self.example,
                self.live]  # fmt: skip


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
    # What the content scanner found in this layer's files, in tar order.
    hits: tuple[ContentHit, ...] = ()
    scanned_bytes: int = 0  # bytes of file data the scanner looked at


# capture(path, size) returns how many bytes to keep of that file, or None to skip it.
Capture = Callable[[str, int], "int | None"]


@dataclass(frozen=True)
class Scanner:
    """A content scan run on file data as the layer streams (the bytes are read once)."""

    wants: Callable[[str, int], bool]  # (path, size): scan this file?
    text: Callable[[bytes], bool]  # (its first `probe` bytes): text, worth reading on?
    scan: Callable[[str, bytes], tuple[ContentHit, ...]]  # (path, its first `cap` bytes)
    cap: int  # bytes of each file handed to `scan`
    probe: int  # bytes read first to decide `text`
