"""Read one layer tar as a stream, once: every entry, plus the small files analysers need.

Nothing is extracted to the host. Compression is detected from the first bytes; the digest of the
uncompressed stream is computed on the way, so it can be checked against the config's diff_id.
"""

from __future__ import annotations

import functools
import posixpath
from typing import BinaryIO

from inspector.layers.limits import (
    MAX_CAPTURE_FILE,
    MAX_CAPTURE_LAYER,
    MAX_PATH_BYTES,
    capture_exceeded,
    layer_size,
    max_entries,
    too_many_entries,
    too_many_path_bytes,
)
from inspector.layers.model import (
    FILE,
    HARDLINK,
    OPAQUE,
    OPAQUE_DIR,
    SYMLINK,
    WHITEOUT,
    WHITEOUT_PREFIX,
    Capture,
    ContentHit,
    Entry,
    LayerError,
    LayerRead,
    Scanner,
)
from inspector.layers.stream import LayerStream
from inspector.layers.tail import LINES_SUFFIX, TAIL_SUFFIX, TailPicker, pick
from inspector.layers.tar import BLOCK_SIZE, Member, headers


def normalize(name: str) -> tuple[str, bool]:
    """The absolute path a tar member name stands for, and whether the name tried to escape."""
    unsafe = name.startswith("/") or ".." in name.split("/")
    # normpath keeps a leading "//"; stripping first makes the root single and `..` stop at it.
    return posixpath.normpath("/" + name.lstrip("/")), unsafe


def read_layer(
    raw: BinaryIO,
    capture: Capture | None = None,
    scanner: Scanner | None = None,
    tail: TailPicker | None = None,
) -> LayerRead:
    """Read a layer tar (plain or gzip) from `raw` in one pass.

    `capture` keeps the first bytes of the files analysers ask for; `scanner` looks at the first
    bytes of every file it wants as they stream by. A file both want is read once. `tail` picks,
    for a captured file longer than its capture, the lines to keep from the rest (layers/tail.py).
    """
    reader = LayerStream(raw, limit=layer_size(), subject="a layer")
    try:
        read = read_members(reader, capture, scanner, tail)
        reader.drain()
        assert reader.hash is not None
    finally:
        reader.close()  # no hashing thread outlives a failed read
    return LayerRead(f"sha256:{reader.hash.hexdigest()}", reader.count, *read)


Members = tuple[tuple[Entry, ...], dict[str, bytes], tuple[str, ...], tuple[ContentHit, ...], int]


def read_members(
    reader: LayerStream,
    capture: Capture | None,
    scanner: Scanner | None,
    tail: TailPicker | None = None,
) -> Members:
    """Every member of the tar `reader` holds, and what `capture` and `scanner` want of their
    data: the single pass behind `read_layer`, shared with the engine-storage fast path (whose
    `reader` replays a stored layer, reading file data from disk only where asked)."""
    entry_limit = max_entries()
    entries: list[Entry] = []
    contents: dict[str, bytes] = {}
    unsafe: list[str] = []
    hits: list[ContentHit] = []
    scanned = captured = path_bytes = 0
    for member in headers(reader):
        path, escaped = normalize(member.name)
        if escaped:
            unsafe.append(member.name)
        entry = _entry(member, path)
        entries.append(entry)
        path_bytes += len(entry.path) + len(entry.link or "")
        if len(entries) > entry_limit:
            raise too_many_entries(entry_limit)
        if path_bytes > MAX_PATH_BYTES:
            raise too_many_path_bytes()
        data_left = member.stored
        if entry.kind == FILE and data_left:
            keep = capture(path, member.size) if capture is not None else None
            if keep is not None:
                keep = min(keep, MAX_CAPTURE_FILE)
                # A path seen again replaces its earlier capture, which no longer counts.
                captured += min(keep, member.stored) - len(contents.get(path, b""))
                if captured > MAX_CAPTURE_LAYER:
                    raise capture_exceeded("one layer", MAX_CAPTURE_LAYER)
            scan = scanner if scanner is not None and scanner.wants(path, member.size) else None
            # What analysers capture, plus the head that tells a scanner text from binary;
            # the rest of a text file up to the scanner's cap only once it is known as text.
            first = max(keep or 0, scan.probe if scan else 0)
            if first:
                data = _read(reader, min(first, data_left), member.name)
                data_left -= len(data)
                text = scan is not None and scan.text(data)
                if scan is not None and text and data_left and len(data) < scan.cap:
                    more = _read(reader, min(scan.cap - len(data), data_left), member.name)
                    data_left -= len(more)
                    data += more
                if keep is not None:
                    contents[path] = data[:keep]
                    contents.pop(path + TAIL_SUFFIX, None)
                    contents.pop(path + LINES_SUFFIX, None)
                if scan is not None and text:
                    sample = data[: scan.cap]
                    scanned += len(sample)
                    hits.extend(scan.scan(path, sample))
            pattern = tail(path) if tail is not None and keep and member.size > keep else None
            if pattern is not None:
                # The rest starts with the end of the line the capture cut.
                head = data[:keep]
                start = data[head.rfind(b"\n") + 1 :]
                picked, lines = pick(functools.partial(_read, reader, name=member.name),
                                     data_left, start, pattern)  # fmt: skip
                data_left = 0
                contents[path + TAIL_SUFFIX], contents[path + LINES_SUFFIX] = picked, lines
                captured += len(picked)
        padded = data_left + (-member.stored % BLOCK_SIZE)
        if reader.skip(padded) < padded:
            raise LayerError(f"layer tar is truncated inside {member.name!r}")
    return tuple(entries), contents, tuple(unsafe), tuple(hits), scanned


def _read(reader: LayerStream, n: int, name: str) -> bytes:
    data = reader.read(n)
    if len(data) < n:
        raise LayerError(f"layer tar is truncated inside {name!r}")
    return data


def _entry(member: Member, path: str) -> Entry:
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
