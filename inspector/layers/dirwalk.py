"""A stored layer with no recorded tar headers, read by walking its diff directory.

The walk yields what Docker's overlay2 driver would write when it exports the directory: each
name in byte order, depth first (Go's filepath.Walk), with its mode, owner, size, time and link
target from the inode (never following a symlink); a second name of an inode already seen as a
hard link to the first; overlayfs' whiteouts (0/0 character devices) as `.wh.NAME` files and its
opaque directories (the `trusted.overlay.opaque` or `user.overlay.opaque` xattr) as a
`.wh..wh..opq` member inside them; file capabilities (the `security.capability` xattr) as the PAX
record a tar carries. The members are written as tar headers and read by `read_members`, so the
capture, the content scan and every limit are the tar reader's own.

What the walk cannot know is what only the tar held: a whiteout's time (the engine makes the
device when it unpacks the layer) and, for a tar made elsewhere (`docker import`, a pull), its
member order, which name of a hard-linked inode came first, a root entry and its padding (so
its byte size). Docker's own commits are laid out as here, headers and size included.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator

from inspector.layers.limits import MAX_PATH, max_entries, too_many_entries
from inspector.layers.model import OPAQUE, WHITEOUT_PREFIX, Capture, LayerRead, Scanner
from inspector.layers.reader import read_members
from inspector.layers.stored import (
    FILE_RECORD,
    SEGMENT_RECORD,
    Replay,
    StoredLayer,
    StoredLayerError,
)
from inspector.layers.tail import TailPicker

OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque")
CAPABILITY_XATTR = "security.capability"
_BLOCK = 512
_REG, _LINK, _SYMLINK, _CHAR, _BLOCKDEV, _DIR, _FIFO, _PAX = b"0123456x"


def walk_layer(
    layer: StoredLayer,
    capture: Capture | None = None,
    scanner: Scanner | None = None,
    tail: TailPicker | None = None,
) -> LayerRead:
    """The `LayerRead` of the layer in `layer.diff_dir`, from its inodes."""
    root = os.fsencode(os.path.realpath(layer.diff_dir))
    replay = Replay(layer.diff_dir, _records(root), name_of=os.fsdecode)
    try:
        read = read_members(replay, capture, scanner, tail)  # type: ignore[arg-type]
        replay.skip_rest()
    finally:
        replay.close()
    return LayerRead(layer.diff_id, replay.count, *read)


def _records(root: bytes) -> Iterator[tuple[int, bytes, int]]:
    """Replay records (tar header segments, files by relative path) for the directory `root`."""
    try:
        root_dev = os.lstat(root).st_dev
    except OSError as exc:
        raise StoredLayerError(f"cannot read the layer directory: {exc.strerror}") from exc
    limit = max_entries()
    first_names: dict[tuple[int, int], bytes] = {}  # hard-linked inodes: their first name
    pad = 0  # zeros owed after the previous file's data
    # Depth first, each directory's names sorted as bytes; the stack holds names still due.
    stack: list[tuple[bytes, list[bytes]]] = [(b"", _names(root, b"", limit))]
    while stack:
        parent, names = stack[-1]
        if not names:
            stack.pop()
            continue
        rel = parent + names.pop()
        if len(rel) > MAX_PATH:
            raise StoredLayerError(f"a path in the layer is longer than {MAX_PATH} bytes")
        path = root + b"/" + rel
        try:
            info = os.lstat(path)
        except OSError as exc:
            raise StoredLayerError(f"{os.fsdecode(rel)!r} vanished ({exc.strerror})") from exc
        headers, size = _headers(path, rel, info, first_names)
        yield SEGMENT_RECORD, bytes(pad) + headers, 0
        pad = -size % _BLOCK
        if size:
            yield FILE_RECORD, rel, size
        if stat.S_ISDIR(info.st_mode):
            if info.st_dev != root_dev:
                raise StoredLayerError(f"{os.fsdecode(rel)!r} is another filesystem's mount")
            stack.append((rel + b"/", _names(root, rel + b"/", limit)))
    yield SEGMENT_RECORD, bytes(pad + 2 * _BLOCK), 0


def _names(root: bytes, rel: bytes, limit: int) -> list[bytes]:
    """A directory's names, sorted so that pop() gives them in byte order."""
    names: list[bytes] = []
    try:
        with os.scandir(root + b"/" + rel if rel else root) as entries:
            for entry in entries:
                names.append(entry.name)
                if len(names) > limit:
                    raise too_many_entries(limit)
    except OSError as exc:
        raise StoredLayerError(f"cannot list {os.fsdecode(rel) or '/'!r}: {exc.strerror}") from exc
    names.sort(reverse=True)
    return names


def _headers(
    path: bytes, rel: bytes, info: os.stat_result, first_names: dict[tuple[int, int], bytes]
) -> tuple[bytes, int]:
    """The tar header(s) Docker writes for this inode, and the bytes of data that follow."""
    mode, kind = info.st_mode, b""
    common = (stat.S_IMODE(mode), info.st_uid, info.st_gid, int(info.st_mtime))
    if stat.S_ISCHR(mode) and info.st_rdev == 0:  # overlayfs' whiteout
        head, _, base = rel.rpartition(b"/")
        name = (head + b"/" if head else b"") + WHITEOUT_PREFIX.encode() + base
        return _header(name, _REG, 0, (0o600, *common[1:])), 0
    link, size, xattrs = b"", 0, {}
    if stat.S_ISDIR(mode):
        kind = _DIR
        if _opaque(path):
            # Docker's converter gives the marker the directory's permissions and owner, and
            # no time.
            marker = (common[0] & 0o777, common[1], common[2], 0)
            opaque = _header(rel + b"/" + OPAQUE.encode(), _REG, 0, marker)
            return _header(rel + b"/", _DIR, 0, common) + opaque, 0
        return _header(rel + b"/", _DIR, 0, common), 0
    if stat.S_ISLNK(mode):
        kind, link = _SYMLINK, os.readlink(path)
    elif stat.S_ISREG(mode):
        first = first_names.get((info.st_dev, info.st_ino)) if info.st_nlink > 1 else None
        if first is not None:
            kind, link = _LINK, first
        else:
            if info.st_nlink > 1:
                first_names[(info.st_dev, info.st_ino)] = rel
            kind, size = _REG, info.st_size
            capability = _xattr(path, CAPABILITY_XATTR)
            if capability:
                xattrs[b"SCHILY.xattr." + CAPABILITY_XATTR.encode()] = capability
    elif stat.S_ISCHR(mode):
        kind = _CHAR
    elif stat.S_ISBLK(mode):
        kind = _BLOCKDEV
    elif stat.S_ISFIFO(mode):
        kind = _FIFO
    else:  # a socket: Docker's tar skips it
        return b"", 0
    return _header(rel, kind, size, common, link, xattrs, info.st_rdev), size


def _opaque(path: bytes) -> bool:
    return any(_xattr(path, name) == b"y" for name in OPAQUE_XATTRS)


def _xattr(path: bytes, name: str) -> bytes | None:
    try:
        return os.getxattr(path, name, follow_symlinks=False)
    except OSError as exc:
        if exc.errno in (errno.ENODATA, errno.ENOTSUP, errno.EPERM, errno.EACCES):
            return None
        raise StoredLayerError(f"cannot read {name} of {os.fsdecode(path)!r}") from exc


def _header(
    name: bytes,
    kind: int,
    size: int,
    common: tuple[int, int, int, int],
    link: bytes = b"",
    xattrs: dict[bytes, bytes] | None = None,
    rdev: int = 0,
) -> bytes:
    """A ustar header, behind a PAX header when a name, link, number or xattr needs one."""
    _, uid, gid, mtime = common
    records = dict(xattrs or {})
    prefix = b""
    if not name.isascii():  # ustar fields are ASCII: Go writes such a name as a PAX record
        records[b"path"] = name
    elif len(name) > 100:
        split = _ustar_split(name)
        if split is None:
            records[b"path"] = name
        else:
            prefix, name = split
    if len(link) > 100 or not link.isascii():
        records[b"linkpath"] = link
    for key, value, width in ((b"uid", uid, 8), (b"gid", gid, 8), (b"size", size, 12)):
        if value >= 8 ** (width - 1):
            records[key] = str(value).encode()
    pax = b""
    if records:
        body = b"".join(_pax_record(key, value) for key, value in records.items())
        pax = _ustar(b"PaxHeaders/" + name[-80:], _PAX, len(body), (0o644, 0, 0, mtime))
        pax += body + bytes(-len(body) % _BLOCK)
    return pax + _ustar(name, kind, size, common, link, os.major(rdev), os.minor(rdev), prefix)


def _ustar_split(name: bytes) -> tuple[bytes, bytes] | None:
    """A long ASCII name split into ustar's prefix (155) and name (100) fields at a slash, as
    Go's tar writer does before it turns to a PAX record."""
    if not name.isascii():
        return None
    end = min(len(name), 156)
    if end == len(name) and name.endswith(b"/"):
        end -= 1
    cut = name.rfind(b"/", 0, end)
    if cut <= 0 or len(name) - cut - 1 > 100 or len(name) - cut - 1 == 0 or cut > 155:
        return None
    return name[:cut], name[cut + 1 :]


def _pax_record(key: bytes, value: bytes) -> bytes:
    text = b" " + key + b"=" + value + b"\n"
    length = len(text) + 1
    while len(str(length).encode()) + len(text) != length:
        length += 1
    return str(length).encode() + text


def _ustar(
    name: bytes,
    kind: int,
    size: int,
    common: tuple[int, int, int, int],
    link: bytes = b"",
    major: int = 0,
    minor: int = 0,
    prefix: bytes = b"",
) -> bytes:
    mode, uid, gid, mtime = common

    def octal(value: int, width: int) -> bytes:
        if value >= 8 ** (width - 1) or value < 0:
            value = 0  # carried by a PAX record
        return b"%0*o\0" % (width - 1, value)

    header = bytearray(_BLOCK)
    header[0:100] = name[:100].ljust(100, b"\0")
    header[100:108] = octal(mode, 8)
    header[108:116] = octal(uid, 8)
    header[116:124] = octal(gid, 8)
    header[124:136] = octal(size, 12)
    header[136:148] = octal(max(mtime, 0), 12)
    header[148:156] = b" " * 8
    header[156] = kind
    header[157:257] = link[:100].ljust(100, b"\0")
    header[257:265] = b"ustar\x0000"
    header[329:337] = octal(major, 8)
    header[337:345] = octal(minor, 8)
    header[345 : 345 + len(prefix)] = prefix
    header[148:156] = b"%06o\0 " % sum(header)
    return bytes(header)
