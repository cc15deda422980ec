"""Read one layer tar as a stream, once: every entry, plus the small files analysers need.

Nothing is extracted to the host. Compression is detected from the first bytes; the digest of the
uncompressed stream is computed on the way, so it can be checked against the config's diff_id.
"""

from __future__ import annotations

import hashlib
import posixpath
import queue
import threading
import zlib
from collections.abc import Callable, Iterator
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
    unsafe = name.startswith("/") or ".." in name.split("/")
    # normpath keeps a leading "//"; stripping first makes the root single and `..` stop at it.
    return posixpath.normpath("/" + name.lstrip("/")), unsafe


class Slice:
    """The next `size` bytes of a stream, as a stream of their own (one tar member's data)."""

    def __init__(self, source: _Reader, size: int) -> None:
        self.source, self.left = source, size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        data = self.source.read(n)
        self.left -= len(data)
        return data


class _Hasher:
    """sha256 on a worker thread: hashlib releases the GIL on large buffers, so the digest of a
    layer costs the parser (nearly) nothing on a machine with a second core."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.queue: queue.Queue[bytes | None] = queue.Queue(maxsize=32)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (data := self.queue.get()) is not None:
            self.digest.update(data)

    def update(self, data: bytes) -> None:
        self.queue.put(data)

    def hexdigest(self) -> str:
        self.close()
        return self.digest.hexdigest()

    def close(self) -> None:
        if self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()


class _Reader:
    """A read-only stream that hashes and counts the uncompressed bytes passing through it."""

    def __init__(self, raw: BinaryIO, *, hashed: bool = True) -> None:
        self.raw = raw
        self.hash = _Hasher() if hashed else None
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
        if self.hash is not None:
            self.hash.update(data)
        self.count += len(data)
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
        return out

    def _fill(self) -> bool:
        chunk = self._read_raw(CHUNK)
        if not chunk:
            if self._inflate is not None and not self._inflate.eof:
                raise LayerError("gzip layer ends before its end marker (truncated)")
            return False
        self._feed(chunk)
        return True

    def skip(self, n: int) -> int:
        """Consume `n` bytes without copying them; returns how many there were."""
        done = 0
        while done < n:
            available = len(self._buf) - self._pos
            if not available:
                if not self._fill():
                    break
                continue
            step = min(available, n - done)
            self._pos += step
            done += step
        return done

    def close(self) -> None:
        if self.hash is not None:
            self.hash.close()

    def drain(self) -> None:
        self._pos = len(self._buf)
        while self._fill():
            self._pos = len(self._buf)


_KINDS = {
    b"0": FILE, b"\0": FILE, b"7": FILE, b"S": FILE, b"5": DIR, b"2": SYMLINK, b"1": HARDLINK,
    b"3": CHAR, b"4": BLOCK, b"6": FIFO,
}  # fmt: skip
BLOCK_SIZE = 512
ZERO_BLOCK = bytes(BLOCK_SIZE)


@dataclass(frozen=True, slots=True)
class _Member:
    name: str
    kind: str
    size: int  # apparent size (a sparse file's real size)
    stored: int  # bytes of data that follow the header in the tar
    mode: int
    uid: int
    gid: int
    mtime: int
    link: str
    pax: dict[str, str]


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _number(field: bytes) -> int:
    if field[:1] and field[0] & 0x80:  # GNU base-256 for values octal cannot hold
        value = int.from_bytes(field[1:], "big")
        return value - (1 << (8 * len(field) - 1)) if field[0] & 0x40 else value
    digits = field.split(b"\0", 1)[0].strip()
    try:
        return int(digits, 8) if digits else 0
    except ValueError as exc:
        raise LayerError(f"corrupt tar header: bad number {field!r}") from exc


def _pax_records(data: bytes) -> dict[str, str]:
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            break
        try:
            length = int(data[pos:space])
        except ValueError as exc:
            raise LayerError("corrupt PAX header") from exc
        if length <= 0:
            break
        record = data[space + 1 : pos + length - 1]
        key, _, value = record.partition(b"=")
        records[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return records


def members(raw: BinaryIO) -> Iterator[tuple[_Member, Slice]]:
    """An outer archive's members with a stream of each one's data (unread data is skipped)."""
    reader = _Reader(raw, hashed=False)
    for member in _members(reader):
        body = Slice(reader, member.stored)
        yield member, body
        if reader.skip(body.left) < body.left:
            raise LayerError(f"archive is truncated inside {member.name!r}")
        reader.skip(-member.stored % BLOCK_SIZE)


def _members(reader: _Reader) -> Iterator[_Member]:
    """Tar headers in order (ustar, GNU long names and sparse files, PAX), data left unread."""
    long_name: str | None = None
    long_link: str | None = None
    pax: dict[str, str] = {}
    global_pax: dict[str, str] = {}
    while True:
        header = reader.read(BLOCK_SIZE)
        if not header or header == ZERO_BLOCK:
            return  # end of archive (a second zero block and padding are drained by the caller)
        if len(header) < BLOCK_SIZE:
            raise LayerError("layer tar is truncated inside a header")
        stored_sum = _number(header[148:156])
        if stored_sum != sum(header[:148]) + 256 + sum(header[156:]):
            raise LayerError("layer tar is corrupt: header checksum mismatch")
        kind_flag = header[156:157]
        size = _number(header[124:136])
        if kind_flag in (b"L", b"K", b"x", b"g"):
            data = reader.read(size)
            reader.skip(-size % BLOCK_SIZE)
            if len(data) < size:
                raise LayerError("layer tar is truncated inside an extended header")
            if kind_flag == b"L":
                long_name = _text(data)
            elif kind_flag == b"K":
                long_link = _text(data)
            elif kind_flag == b"x":
                pax = _pax_records(data)
            else:
                global_pax.update(_pax_records(data))
            continue
        name = _text(header[0:100])
        if header[257:263] == b"ustar\0" and header[345]:
            name = _text(header[345:500]) + "/" + name
        link = _text(header[157:257])
        meta = {**global_pax, **pax} if global_pax else pax
        name = meta.get("path", long_name or name)
        link = meta.get("linkpath", long_link or link)
        apparent = size
        if kind_flag == b"S":
            apparent = _number(header[483:495])
        if "GNU.sparse.realsize" in meta or "GNU.sparse.size" in meta:
            apparent = int(meta.get("GNU.sparse.realsize") or meta.get("GNU.sparse.size") or size)
            name = meta.get("GNU.sparse.name", name)
        if "size" in meta:
            size = apparent = int(meta["size"])
        yield _Member(
            name=name,
            kind=_KINDS.get(kind_flag, FILE),
            size=apparent,
            stored=size if kind_flag not in (b"1", b"2", b"3", b"4", b"5", b"6") else 0,
            mode=_number(header[100:108]) & 0o7777,
            uid=int(meta["uid"]) if "uid" in meta else _number(header[108:116]),
            gid=int(meta["gid"]) if "gid" in meta else _number(header[116:124]),
            mtime=int(float(meta["mtime"])) if "mtime" in meta else _number(header[136:148]),
            link=link,
            pax=meta,
        )
        long_name = long_link = None
        pax = {}


def read_layer(raw: BinaryIO, capture: Capture | None = None) -> LayerRead:
    """Read a layer tar (plain or gzip) from `raw` in one pass."""
    reader = _Reader(raw)
    try:
        entries: list[Entry] = []
        contents: dict[str, bytes] = {}
        unsafe: list[str] = []
        for member in _members(reader):
            path, escaped = normalize(member.name)
            if escaped:
                unsafe.append(member.name)
            entry = _entry(member, path)
            entries.append(entry)
            data_left = member.stored
            if capture is not None and entry.kind == FILE and data_left:
                keep = capture(path, member.size)
                if keep is not None:
                    data = reader.read(min(keep, data_left))
                    if len(data) < min(keep, data_left):
                        raise LayerError(f"layer tar is truncated inside {member.name!r}")
                    contents[path] = data
                    data_left -= len(data)
            padded = data_left + (-member.stored % BLOCK_SIZE)
            if reader.skip(padded) < padded:
                raise LayerError(f"layer tar is truncated inside {member.name!r}")
        reader.drain()
        assert reader.hash is not None
    finally:
        reader.close()  # no hashing thread outlives a failed read
    return LayerRead(
        diff_id=f"sha256:{reader.hash.hexdigest()}",
        size=reader.count,
        entries=tuple(entries),
        contents=contents,
        unsafe_names=tuple(unsafe),
    )


def _entry(member: _Member, path: str) -> Entry:
    base = posixpath.basename(path)
    if base == OPAQUE:
        return Entry(posixpath.dirname(path), OPAQUE_DIR, 0, member.mode, member.uid, member.gid,
                     member.mtime)  # fmt: skip
    if base.startswith(WHITEOUT_PREFIX):
        target = posixpath.join(posixpath.dirname(path), base[len(WHITEOUT_PREFIX) :])
        return Entry(target, WHITEOUT, 0, member.mode, member.uid, member.gid, member.mtime)
    kind = member.kind
    link = None
    if kind == SYMLINK:
        link = member.link
    elif kind == HARDLINK:
        link = normalize(member.link)[0]
    cap = member.pax.get("SCHILY.xattr.security.capability") if member.pax else None
    capability = cap.encode("utf-8", "surrogateescape").hex() if cap else None
    size = member.size if kind == FILE else 0
    return Entry(path, kind, size, member.mode, member.uid, member.gid, member.mtime, link,
                 capability)  # fmt: skip
