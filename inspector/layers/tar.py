"""Tar headers read from a stream (ustar, GNU long names and sparse files, PAX), data left
unread: the one tar parser, for layers and for the archives that hold them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from inspector.layers.limits import MAX_PATH, image_size
from inspector.layers.model import BLOCK, CHAR, DIR, FIFO, FILE, HARDLINK, SYMLINK, LayerError
from inspector.layers.stream import LayerStream, Slice

_KINDS = {
    b"0": FILE, b"\0": FILE, b"7": FILE, b"S": FILE, b"5": DIR, b"2": SYMLINK, b"1": HARDLINK,
    b"3": CHAR, b"4": BLOCK, b"6": FIFO,
}  # fmt: skip
BLOCK_SIZE = 512
# Long names and PAX records of real layers are a few KiB; reading more would let a small
# hostile tar claim any amount of memory.
MAX_EXTENDED_HEADER = 1 << 20
ZERO_BLOCK = bytes(BLOCK_SIZE)


@dataclass(frozen=True, slots=True)
class Member:
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


# A PAX number is decimal digits; 20 of them hold any size or id a real tar has, and keep int()
# far from Python's 4300-digit limit.
_PAX_NUMBER = re.compile(r"[0-9]{1,20}")
_PAX_TIME = re.compile(r"-?[0-9]{1,20}(?:\.[0-9]{0,20})?")


def _pax_number(value: str, key: str) -> int:
    """A PAX size, uid or gid: a non-negative decimal integer, else the tar is corrupt."""
    if not _PAX_NUMBER.fullmatch(value.strip()):
        raise LayerError(f"corrupt PAX header: {key}={value[:40]!r} is not a non-negative integer")
    return int(value)


def _pax_time(value: str) -> int:
    """A PAX mtime: decimal seconds, maybe negative or fractional (never nan or inf)."""
    if not _PAX_TIME.fullmatch(value.strip()):
        raise LayerError(f"corrupt PAX header: mtime={value[:40]!r} is not a time")
    return int(float(value))


def _pax_records(data: bytes) -> dict[str, str]:
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            break
        # "LEN KEY=VALUE\n": LEN counts itself, so a record is longer than its digits; a
        # shorter one would re-scan the same digits once per byte (quadratic in the header).
        digits = data[pos:space]
        if not 0 < len(digits) <= 20 or not digits.isdigit():
            raise LayerError("corrupt PAX header: a record length is not a number")
        length = int(digits)
        if length <= len(digits) + 1:
            raise LayerError("corrupt PAX header: a record is shorter than its length field")
        record = data[space + 1 : pos + length - 1]
        key, _, value = record.partition(b"=")
        records[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return records


def _check_path(path: str, what: str) -> None:
    # Linux refuses longer paths (ENAMETOOLONG), so no engine could unpack such a member: the
    # tar is corrupt. Checked here, before normalising or merging can spend anything per byte.
    if len(path) <= MAX_PATH // 4:
        return
    size = len(path.encode("utf-8", "surrogateescape"))
    if size > MAX_PATH:
        raise LayerError(
            f"corrupt tar: a member's {what} is {size:,} bytes ({path[:40]!r}...), longer than "
            f"Linux's PATH_MAX of {MAX_PATH}, so no engine could unpack it"
        )


def members(raw: BinaryIO) -> Iterator[tuple[Member, Slice]]:
    """An outer archive's members with a stream of each one's data (unread data is skipped)."""
    reader = LayerStream(raw, hashed=False, limit=image_size(), subject="the image archive")
    for member in headers(reader):
        body = Slice(reader, member.stored)
        yield member, body
        if reader.skip(body.left) < body.left:
            raise LayerError(f"archive is truncated inside {member.name!r}")
        reader.skip(-member.stored % BLOCK_SIZE)


def headers(reader: LayerStream) -> Iterator[Member]:
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
        if size < 0:
            raise LayerError(f"corrupt tar header: negative size {size}")
        if kind_flag in (b"L", b"K", b"x", b"g"):
            if size > MAX_EXTENDED_HEADER:
                raise LayerError(f"tar extended header of {size} bytes (at most "
                                 f"{MAX_EXTENDED_HEADER} are read): not a real layer")  # fmt: skip
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
            real = meta.get("GNU.sparse.realsize") or meta.get("GNU.sparse.size")
            apparent = _pax_number(real, "GNU.sparse.realsize") if real else size
            name = meta.get("GNU.sparse.name", name)
        if "size" in meta:
            size = apparent = _pax_number(meta["size"], "size")
        _check_path(name, "path")
        _check_path(link, "link target")
        yield Member(
            name=name,
            kind=_KINDS.get(kind_flag, FILE),
            size=apparent,
            stored=size if kind_flag not in (b"1", b"2", b"3", b"4", b"5", b"6") else 0,
            mode=_number(header[100:108]) & 0o7777,
            uid=_pax_number(meta["uid"], "uid") if "uid" in meta else _number(header[108:116]),
            gid=_pax_number(meta["gid"], "gid") if "gid" in meta else _number(header[116:124]),
            mtime=_pax_time(meta["mtime"]) if "mtime" in meta else _number(header[136:148]),
            link=link,
            pax=meta,
        )
        long_name = long_link = None
        pax = {}
