"""Read one layer tar as a stream, once: every entry, plus the small files analysers need.

Nothing is extracted to the host. Compression is detected from the first bytes; the digest of the
uncompressed stream is computed on the way, so it can be checked against the config's diff_id.
"""

from __future__ import annotations

import hashlib
import posixpath
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from inspector.errors import InspectorError

WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"
CHUNK = 1 << 20

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


def normalize(name: str) -> tuple[str, bool]:
    """The absolute path a tar member name stands for, and whether the name tried to escape."""
    raw = name
    unsafe = raw.startswith("/") or ".." in raw.split("/")
    path = posixpath.normpath("/" + raw.lstrip("/"))
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    return path, unsafe


class _Reader:
    """A read-only stream that hashes and counts the uncompressed bytes passing through it."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.hash = hashlib.sha256()
        self.count = 0
        head = self._read_raw(CHUNK)
        if head[:2] == b"\x1f\x8b":
            self._inflate: zlib._Decompress | None = zlib.decompressobj(wbits=47)
        elif head[:4] == b"\x28\xb5\x2f\xfd":
            raise LayerError("zstd-compressed layers are not supported yet")
        else:
            self._inflate = None
        self._buf = b""
        self._pos = 0
        self._feed(head)

    def _read_raw(self, n: int) -> bytes:
        try:
            return self.raw.read(n)
        except (OSError, EOFError) as exc:
            raise LayerError(f"layer stream broke off: {exc}") from exc

    def _feed(self, data: bytes) -> None:
        if self._inflate is not None:
            try:
                data = self._inflate.decompress(data)
            except zlib.error as exc:
                raise LayerError(f"corrupt gzip layer: {exc}") from exc
        # Copy only the unread tail, once per chunk, never the whole buffer per read.
        self._buf = self._buf[self._pos :] + data
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            while self._fill():
                pass
            n = len(self._buf) - self._pos
        while len(self._buf) - self._pos < n and self._fill():
            pass
        out = self._buf[self._pos : self._pos + n]
        self._pos += len(out)
        self.hash.update(out)
        self.count += len(out)
        return out

    def _fill(self) -> bool:
        chunk = self._read_raw(CHUNK)
        if not chunk:
            if self._inflate is not None and not self._inflate.eof:
                raise LayerError("gzip layer ends before its end marker (truncated)")
            return False
        self._feed(chunk)
        return True

    def drain(self) -> None:
        while self.read(CHUNK):
            pass


_KINDS = {
    tarfile.REGTYPE: FILE, tarfile.AREGTYPE: FILE, tarfile.CONTTYPE: FILE,
    tarfile.GNUTYPE_SPARSE: FILE, tarfile.DIRTYPE: DIR, tarfile.SYMTYPE: SYMLINK,
    tarfile.LNKTYPE: HARDLINK, tarfile.CHRTYPE: CHAR, tarfile.BLKTYPE: BLOCK,
    tarfile.FIFOTYPE: FIFO,
}  # fmt: skip


def read_layer(raw: BinaryIO, capture: Capture | None = None) -> LayerRead:
    """Read a layer tar (plain or gzip) from `raw` in one pass."""
    reader = _Reader(raw)
    entries: list[Entry] = []
    contents: dict[str, bytes] = {}
    unsafe: list[str] = []
    try:
        with tarfile.open(fileobj=reader, mode="r|", bufsize=CHUNK) as tar:  # type: ignore[call-overload]
            for member in tar:
                path, escaped = normalize(member.name)
                if escaped:
                    unsafe.append(member.name)
                entry = _entry(member, path)
                entries.append(entry)
                if capture is not None and entry.kind == FILE:
                    keep = capture(path, member.size)
                    if keep is not None:
                        handle = tar.extractfile(member)
                        if handle is not None:
                            contents[path] = handle.read(min(keep, member.size))
        reader.drain()
    except tarfile.ReadError as exc:
        raise LayerError(f"not a readable tar layer: {exc}") from exc
    except (tarfile.TarError, EOFError) as exc:
        raise LayerError(f"layer tar is truncated or corrupt: {exc}") from exc
    return LayerRead(
        diff_id=f"sha256:{reader.hash.hexdigest()}",
        size=reader.count,
        entries=tuple(entries),
        contents=contents,
        unsafe_names=tuple(unsafe),
    )


def _entry(member: tarfile.TarInfo, path: str) -> Entry:
    base = posixpath.basename(path)
    if base == OPAQUE:
        return Entry(posixpath.dirname(path), OPAQUE_DIR, 0, member.mode, member.uid, member.gid,
                     int(member.mtime))  # fmt: skip
    if base.startswith(WHITEOUT_PREFIX):
        target = posixpath.join(posixpath.dirname(path), base[len(WHITEOUT_PREFIX) :])
        return Entry(target, WHITEOUT, 0, member.mode, member.uid, member.gid, int(member.mtime))
    kind = _KINDS.get(member.type, FILE)
    link = None
    if kind == SYMLINK:
        link = member.linkname
    elif kind == HARDLINK:
        link = normalize(member.linkname)[0]
    cap = member.pax_headers.get("SCHILY.xattr.security.capability") if member.pax_headers else None
    capability = cap.encode("utf-8", "surrogateescape").hex() if cap else None
    size = member.size if kind == FILE else 0
    return Entry(path, kind, size, member.mode, member.uid, member.gid, int(member.mtime), link,
                 capability)  # fmt: skip
