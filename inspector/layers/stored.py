"""A layer read where the engine stores it, unpacked: no `docker save`, no tar stream, no hash.

Docker's overlay2 driver keeps each layer as a directory of files (its "diff" directory) and,
beside it in the layer database, the layer's tar-split: the tar headers and padding of the layer
as it was pulled, loaded or committed, without the file data. `docker save` replays exactly
that record, taking each file's data from the diff directory, which is how its output hashes to
the layer's diff_id. Replaying the same record here gives the same members in the same order
(names, modes, owners, times, link targets, hard links, PAX xattrs such as file capabilities)
as reading the export would; only the data analysers ask for is read, straight from the file.

A layer with no tar-split (stores that keep none) is read by walking its directory
(`dirwalk.py`), mapping overlayfs' whiteouts and opaque directories back to what a tar says.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import posixpath
import re
import stat
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from inspector.layers.limits import layer_size
from inspector.layers.model import Capture, LayerError, LayerRead, Scanner
from inspector.layers.reader import read_members
from inspector.layers.tail import TailPicker

# A tar-split line holds one header segment (a few hundred bytes, base64) or one file's name; a
# PAX header longer than the reader accepts (1 MiB) cannot be in a layer we can read anyway.
MAX_RECORD_LINE = 4 << 20
# tar-split's entry types (github.com/vbatts/tar-split, archive/tar/storage).
FILE_RECORD, SEGMENT_RECORD = _FILE, _SEGMENT = 1, 2


class StoredLayerError(LayerError):
    """A stored layer that cannot be replayed here (missing, changed, or not what it claims):
    the caller falls back to the engine's export."""


@dataclass(frozen=True)
class StoredLayer:
    """Where one layer of a local image sits in the engine's storage."""

    diff_id: str  # from the engine's layer database (it hashed the layer when storing it)
    diff_dir: Path  # the unpacked layer: overlayfs' upper directory when it was made
    tar_split: Path | None  # the layer's tar headers as recorded (gzip JSON lines), if kept


# INSPECTOR_ENGINE_STORAGE=export makes a local image always exported (to compare the two paths,
# or to step around a storage this module misreads).
STORAGE_VAR = "INSPECTOR_ENGINE_STORAGE"


def local_storage_allowed() -> bool:
    """Whether a local image's layers may be read from the engine's storage."""
    return os.environ.get(STORAGE_VAR, "").strip().lower() not in ("export", "0", "no", "off")


# How a source hands a stored layer to be read (collect gives it the capture rule and scanner).
ReadStored = Callable[[StoredLayer], LayerRead]


def read_stored_layer(
    layer: StoredLayer,
    capture: Capture | None = None,
    scanner: Scanner | None = None,
    tail: TailPicker | None = None,
) -> LayerRead:
    """The `LayerRead` that `read_layer` makes of this layer's tar, made from the storage."""
    if layer.tar_split is None:
        from inspector.layers.dirwalk import walk_layer

        return walk_layer(layer, capture, scanner, tail)
    replay = Replay(layer.diff_dir, _records(layer.tar_split))
    try:
        read = read_members(replay, capture, scanner, tail)  # type: ignore[arg-type]
        replay.skip_rest()
    finally:
        replay.close()
    return LayerRead(layer.diff_id, replay.count, *read)


def _records(path: Path) -> Iterator[tuple[int, bytes, int]]:
    """(type, segment bytes or the file record's line, file size) for each tar-split line; a
    file's name is decoded only when its data is read (most never are)."""
    try:
        for line in _lines(path):
            yield _record(line, path)
    except (OSError, EOFError, zlib.error) as exc:
        raise StoredLayerError(f"cannot read {path}: {exc}") from exc


def _lines(path: Path, chunk: int = 1 << 16, most: int = 1 << 20) -> Iterator[bytes]:
    """The lines of a gzip file, inflated at most `most` bytes at a time (GzipFile.readline is
    slow, and a record of zeros inflates a thousandfold)."""
    inflate = zlib.decompressobj(wbits=31)
    tail = pending = b""
    ended = False
    with open(path, "rb") as file:
        while True:
            if not pending and not ended:
                pending = file.read(chunk)
                ended = not pending
            if ended and not pending:
                data = inflate.flush()
            else:
                data = inflate.decompress(pending, most)
                pending = inflate.unconsumed_tail
            if inflate.eof and inflate.unused_data:  # a second gzip member follows
                pending = inflate.unused_data + pending
                inflate = zlib.decompressobj(wbits=31)
            lines = (tail + data).split(b"\n")
            tail = lines.pop()
            if len(tail) > MAX_RECORD_LINE:
                raise StoredLayerError(f"{path}: a tar-split record is over 4 MiB")
            yield from lines
            if ended and not pending:
                break
    if not inflate.eof:
        raise StoredLayerError(f"{path}: the tar-split is truncated")
    if tail.strip():
        yield tail


_SEGMENT_HEAD = b'{"type":2,"payload":"'
_FILE_HEAD = b'{"type":1,'
_SIZE = re.compile(rb',"size":([0-9]{1,20}),')


def _record(line: bytes, path: Path) -> tuple[int, bytes, int]:
    # tar-split writes its records in one shape (Go's encoding of storage.Entry); those are
    # sliced, anything else is parsed as JSON.
    if line.startswith(_SEGMENT_HEAD) and line.endswith(b"}"):
        end = line.find(b'"', len(_SEGMENT_HEAD))
        if end > 0:
            try:
                return _SEGMENT, base64.b64decode(line[len(_SEGMENT_HEAD) : end]), 0
            except binascii.Error as exc:
                raise StoredLayerError(f"{path}: corrupt tar-split record ({exc})") from exc
    if line.startswith(_FILE_HEAD):
        # Inside a JSON string every quote is escaped, so `,"size":N,` can only be the key.
        size = _SIZE.search(line)
        return _FILE, line, int(size.group(1)) if size else 0
    try:
        record = json.loads(line)
        kind = record["type"]
        if kind == _SEGMENT:
            return kind, base64.b64decode(record.get("payload") or ""), 0
        if kind == _FILE:
            size = record.get("size") or 0
            if not isinstance(size, int) or size < 0:
                raise ValueError("bad file size")
            return kind, line, size
        raise ValueError(f"unknown record type {kind!r}")
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise StoredLayerError(f"{path}: corrupt tar-split record ({exc})") from exc


def _file_name(line: bytes) -> str:
    """The member name a file record holds (a name that is not UTF-8 is kept as raw bytes)."""
    try:
        record = json.loads(line)
        name = record.get("name")
        if name is None:
            name = os.fsdecode(base64.b64decode(record.get("name_raw") or ""))
    except (ValueError, TypeError, AttributeError, binascii.Error) as exc:
        raise StoredLayerError(f"corrupt tar-split file record ({exc})") from exc
    if not isinstance(name, str):
        raise StoredLayerError("corrupt tar-split file record (a name that is not text)")
    return name


class Replay:
    """The layer's tar as a stream `read_members` can read: header bytes from the recorded
    segments, file data from the diff directory, opened only when some of it is read."""

    def __init__(
        self,
        root: Path,
        records: Iterator[tuple[int, bytes, int]],
        name_of: Callable[[bytes], str] = _file_name,
    ) -> None:
        # Resolved once: a data-root reached through a symlink (/var/lib/docker on another
        # disk) is not a symlink inside the layer.
        self.root = os.path.realpath(root)
        self.records = records
        self.name_of = name_of  # a file record's member name
        self.segment = memoryview(b"")
        self.line = b""  # the record of the file whose data comes next, and how much is left
        self.name = ""
        self.left = 0
        self.offset = 0  # where in that file the next read starts
        self.fd: int | None = None
        self.count = 0  # bytes of the tar so far: the layer's size as the export would have it
        self.limit = layer_size()
        self.safe_dirs: set[str] = {self.root}

    def _next(self) -> bool:
        """Move to the next record; False at the end of the layer."""
        self._close_file()
        for kind, value, size in self.records:
            if kind == _SEGMENT:
                self.segment = memoryview(value)
                self._count(len(value))
                if value:
                    return True
            elif size:
                self.line, self.name, self.left, self.offset = value, "", size, 0
                self._count(size)
                return True
        return False

    def _count(self, n: int) -> None:
        self.count += n
        if self.count > self.limit.value:
            raise self.limit.exceeded("a layer")

    def read(self, n: int = -1) -> bytes:
        out: list[bytes] = []
        while n:
            if self.segment:
                take = len(self.segment) if n < 0 else min(n, len(self.segment))
                out.append(bytes(self.segment[:take]))
                self.segment = self.segment[take:]
            elif self.left:
                take = self.left if n < 0 else min(n, self.left)
                data = os.pread(self._file(), take, self.offset)
                if len(data) < take:
                    raise StoredLayerError(f"{self.name!r} is shorter on disk than in the layer")
                out.append(data)
                self.left -= take
                self.offset += take
            elif not self._next():
                break
            else:
                continue
            if n > 0:
                n -= take
        return b"".join(out)

    def skip(self, n: int) -> int:
        skipped = 0
        while skipped < n:
            if self.segment:
                take = min(n - skipped, len(self.segment))
                self.segment = self.segment[take:]
            elif self.left:
                take = min(n - skipped, self.left)
                self.left -= take
                self.offset += take
            elif not self._next():
                break
            else:
                continue
            skipped += take
        return skipped

    def skip_rest(self) -> None:
        """Count the rest of the layer (the end-of-archive blocks) without reading files."""
        while self.segment or self.left or self._next():
            self.segment, self.left = memoryview(b""), 0

    def _file(self) -> int:
        if self.fd is None:
            self.name = self.name_of(self.line)
            self.fd = self._open(self.name)
        return self.fd

    def _open(self, name: str) -> int:
        """The file `name` in the diff directory, reached without following any symlink."""
        relative = posixpath.normpath("/" + name).lstrip("/")
        folder = posixpath.dirname(relative)
        parent = posixpath.join(self.root, folder) if folder else self.root
        if parent not in self.safe_dirs:
            # A parent that is a symlink would lead out of the layer: the storage is not what
            # the layer says, and the export is the one to ask.
            try:
                real = os.path.realpath(parent, strict=True)
            except OSError as exc:  # a loop, or a parent gone
                real = f"({exc.strerror})"
            if real != parent:
                raise StoredLayerError(f"{name!r} lies under a symlink in the layer directory")
            self.safe_dirs.add(parent)
        path = posixpath.join(self.root, relative)
        try:
            # O_NONBLOCK: a fifo put where the layer has a file must not block the open.
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            raise StoredLayerError(f"cannot open {name!r} in the layer: {exc.strerror}") from exc
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size != self.left + self.offset:
            os.close(fd)
            raise StoredLayerError(f"{name!r} on disk is not the file the layer recorded")
        return fd

    def _close_file(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def close(self) -> None:
        self._close_file()
        close = getattr(self.records, "close", None)
        if close is not None:
            close()
