"""The members of an OSV export's `all.zip`, read front to back as a stream.

Python's `zipfile` first loads the whole central directory: one object per member, about 600
bytes each, so memory would grow with the export (63 MB for 100,000 records). This reader walks
the local headers instead, one member at a time, inflating each into at most `cap` bytes and
checking its CRC: memory is one member, whatever the export's size, and nothing is extracted to
disk. A member over `cap` is skipped and counted; a damaged or truncated archive is an
`ExportError` (raised before the caller commits anything).

Supported: stored and deflated members, data descriptors after deflated ones, ZIP64 sizes.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from inspector.errors import InspectorError

LOCAL = b"PK\x03\x04"
CENTRAL = b"PK\x01\x02"  # the central directory: every member has been read
END = b"PK\x05\x06"  # an archive with no members starts with its end record
END64 = b"PK\x06\x06"
DESCRIPTOR = b"PK\x07\x08"
_LOCAL_HEADER = struct.Struct("<HHHHHIIIHH")
_CHUNK = 1 << 20
_ZIP64_EXTRA = 0x0001


class ExportError(InspectorError):
    """The export is not a zip archive, or a damaged or truncated one."""


class _Stream:
    """A binary file read forward, with bytes pushed back (what an inflater read too far)."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.pending = b""
        self.offset = 0  # bytes consumed, for messages

    def read(self, size: int) -> bytes:
        if self.pending:
            data, self.pending = self.pending[:size], self.pending[size:]
        else:
            data = self.raw.read(size)
        self.offset += len(data)
        return data

    def exact(self, size: int, what: str) -> bytes:
        parts, left = [], size
        while left:
            data = self.read(min(left, _CHUNK))
            if not data:
                raise ExportError(f"the archive is truncated ({what} at byte {self.offset})")
            parts.append(data)
            left -= len(data)
        return b"".join(parts)

    def unread(self, data: bytes) -> None:
        self.pending = data + self.pending
        self.offset -= len(data)


def members(raw: BinaryIO, cap: int) -> Iterator[tuple[str, bytes | None]]:
    """(name, content) of each member in archive order; content None when over `cap` bytes.

    Directories are left out. Raises ExportError on anything that is not a whole zip archive.
    """
    stream = _Stream(raw)
    first = True
    while True:
        signature = stream.read(4)
        if signature in (CENTRAL, END, END64):
            return
        if signature != LOCAL:
            if first:
                raise ExportError("not a zip archive")
            if len(signature) < 4:
                raise ExportError(f"the archive is truncated (at byte {stream.offset})")
            raise ExportError(f"the archive is damaged (no member header at byte {stream.offset})")
        first = False
        name, content = _member(stream, cap)
        if not name.endswith("/"):
            yield name, content


def _member(stream: _Stream, cap: int) -> tuple[str, bytes | None]:
    header = stream.exact(_LOCAL_HEADER.size, "a member header")
    (_version, flags, method, _time, _date, crc, compressed, size, name_len,
     extra_len) = _LOCAL_HEADER.unpack(header)  # fmt: skip
    name = stream.exact(name_len, "a member name").decode("utf-8", "replace")
    extra = stream.exact(extra_len, "a member header")
    zip64 = compressed == 0xFFFFFFFF or size == 0xFFFFFFFF
    if zip64:
        size, compressed = _zip64_sizes(extra, size, compressed)
    if flags & 0x1:
        raise ExportError(f"member {name!r} is encrypted")
    described = bool(flags & 0x8)  # sizes and CRC follow the data, in a descriptor
    if method == 0:
        if described and compressed == 0:
            raise ExportError(f"member {name!r} is stored with no size: the archive cannot be read")
        content, actual_crc = _stored(stream, compressed, cap, name)
    elif method == 8:
        content, actual_crc = _deflated(stream, None if described else compressed, cap, name)
    else:
        raise ExportError(f"member {name!r} uses compression method {method}, not deflate")
    if described:
        crc = _descriptor(stream, zip64, name)
    if actual_crc is not None and actual_crc != crc:
        raise ExportError(f"member {name!r} is damaged (its CRC does not match)")
    return name, content


def _zip64_sizes(extra: bytes, size: int, compressed: int) -> tuple[int, int]:
    at = 0
    while at + 4 <= len(extra):
        kind, length = struct.unpack_from("<HH", extra, at)
        body = extra[at + 4 : at + 4 + length]
        if kind == _ZIP64_EXTRA:
            values = [struct.unpack_from("<Q", body, i)[0] for i in range(0, len(body) - 7, 8)]
            if size == 0xFFFFFFFF and values:
                size = values.pop(0)
            if compressed == 0xFFFFFFFF and values:
                compressed = values.pop(0)
            break
        at += 4 + length
    return size, compressed


def _stored(stream: _Stream, length: int, cap: int, name: str) -> tuple[bytes | None, int | None]:
    if length > cap:
        left = length
        while left:  # skipped unread: its CRC cannot be checked, and its content is not used
            data = stream.read(min(left, _CHUNK))
            if not data:
                raise ExportError(f"the archive is truncated (in member {name!r})")
            left -= len(data)
        return None, None
    content = stream.exact(length, f"member {name!r}")
    return content, zlib.crc32(content)


def _deflated(stream: _Stream, length: int | None, cap: int,
              name: str) -> tuple[bytes | None, int | None]:  # fmt: skip
    """Inflate one member: `length` compressed bytes, or (with a data descriptor) until the
    deflate stream ends. Output past `cap` is inflated and dropped, so a huge member costs
    time but never memory."""
    inflater = zlib.decompressobj(-15)
    parts: list[bytes] = []
    kept = 0
    crc = 0
    over = False
    left = length
    while not inflater.eof:
        want = _CHUNK if left is None else min(_CHUNK, left)
        data = stream.read(want) if want else b""
        if not data:
            raise ExportError(f"the archive is truncated (in member {name!r})")
        if left is not None:
            left -= len(data)
        try:
            while data:
                out = inflater.decompress(data, _CHUNK)
                crc = zlib.crc32(out, crc)
                if not over:
                    kept += len(out)
                    if kept > cap:
                        over, parts = True, []
                    else:
                        parts.append(out)
                data = inflater.unconsumed_tail
        except zlib.error as exc:
            raise ExportError(f"member {name!r} is damaged ({exc})") from None
        if left == 0 and not inflater.eof:
            raise ExportError(f"member {name!r} is damaged (its deflate stream is cut short)")
    if left is None:
        stream.unread(inflater.unused_data)  # read past the stream: the descriptor's bytes
    elif left:  # the header's size is past the stream's end: the next member starts there
        stream.exact(left, f"member {name!r}")
    return (None if over else b"".join(parts)), crc


def _descriptor(stream: _Stream, zip64: bool, name: str) -> int:
    head = stream.exact(4, f"the descriptor of {name!r}")
    if head == DESCRIPTOR:
        head = stream.exact(4, f"the descriptor of {name!r}")
    stream.exact(16 if zip64 else 8, f"the descriptor of {name!r}")
    return int.from_bytes(head, "little")
