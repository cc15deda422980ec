"""Hypothesis strategies for hostile image inputs: layer tars with mutated headers, names, types,
links, PAX records and nesting; layer compression gone wrong; image configs of the wrong shape
and encoding; manifests, OCI indexes and outer archives that lie. Each strategy draws a `Case`:
the files of one `docker-archive:`, `oci-archive:` or `oci:` input, each under 1 MB (the one
exception is a gzip bomb, small on disk and over a GiB once inflated).

Well-formed parts come from tests/layertools.py (`layer`, `image_archive`); what `tarfile` refuses
to write (lying sizes, bad checksums, NULs and non-UTF-8 in names, GNU base-256 numbers, bare
extended headers) is written here, one 512-byte header at a time.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
import tarfile
import zlib
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from tests.layertools import image_archive, layer

BLOCK = 512
ESCAPES = ("\x1b[2J", "\x1b]0;owned\x07", "\x1b]52;c;ZXZpbA==\x07", "\x9b31m", "\u202e", "\x00")
# A gzip bomb: this many zero bytes of one file's data, about a MiB once compressed.
BOMB_BYTES = 1_280 << 20


def one_in(draw: st.DrawFn, n: int) -> bool:
    """True about once in `n` draws. Hypothesis favours the ends of a range, so `== 0` would
    fire far more often; the middle value does not, and shrinking still turns it off."""
    return draw(st.integers(0, n - 1)) == n // 2


# --- one tar header at a time -------------------------------------------------------------------


def octal(value: int, width: int) -> bytes:
    """A tar number field: octal when it fits, else GNU base-256 (which also holds negatives)."""
    text = f"{value:0{width - 1}o}".encode() if value >= 0 else b""
    if value >= 0 and len(text) < width:
        return text + b"\0"
    return bytes([0xFF if value < 0 else 0x80]) + (value % (1 << (8 * width - 8))).to_bytes(
        width - 1, "big"
    )


def header(
    name: bytes,
    *,
    kind: bytes = b"0",
    size: int = 0,
    mode: int = 0o644,
    uid: int = 0,
    gid: int = 0,
    mtime: int = 0,
    link: bytes = b"",
    prefix: bytes = b"",
    realsize: int | None = None,
    raw_fields: dict[int, bytes] | None = None,
    checksum: bool = True,
) -> bytes:
    """One ustar header; `raw_fields` overwrite bytes at an offset (a number field's garbage)."""
    block = bytearray(BLOCK)
    block[0:100] = name[:100].ljust(100, b"\0")
    block[100:108] = octal(mode, 8)
    block[108:116] = octal(uid, 8)
    block[116:124] = octal(gid, 8)
    block[124:136] = octal(size, 12)
    block[136:148] = octal(mtime, 12)
    block[156:157] = kind[:1] or b"\0"
    block[157:257] = link[:100].ljust(100, b"\0")
    block[257:265] = b"ustar\x0000"
    block[265:269] = b"root"
    block[297:301] = b"root"
    if realsize is not None:  # an old GNU sparse header keeps the real size here
        block[483:495] = octal(realsize, 12)
    else:
        block[345:500] = prefix[:155].ljust(155, b"\0")
    for offset, data in (raw_fields or {}).items():
        block[offset : offset + len(data)] = data[: BLOCK - offset]
    block[148:156] = b" " * 8
    if checksum:
        block[148:156] = f"{sum(block):06o}\0 ".encode()
    return bytes(block)


def padded(data: bytes) -> bytes:
    return data + bytes(-len(data) % BLOCK)


def pax_record(key: bytes, value: bytes) -> bytes:
    """One `LEN key=value\\n` record, LEN counting itself."""
    body = b" " + key + b"=" + value + b"\n"
    length = len(body) + 1
    while len(str(length).encode()) + len(body) != length:
        length += 1
    return str(length).encode() + body


@dataclass(frozen=True)
class Member:
    """One hostile layer member, written as raw tar blocks by `to_tar`."""

    name: bytes
    kind: bytes = b"0"
    data: bytes = b""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    mtime: int = 0
    link: bytes = b""
    size: int | None = None  # what the header claims, when it lies about the data
    pax: bytes | None = None  # raw PAX records, in an `x` header before this member
    gnu_long: bool = False  # a long name as a GNU `L` header, not in the name field
    sparse: bool = False  # an old GNU sparse member (`S`) whose real size is `size`
    raw_fields: dict[int, bytes] = field(default_factory=dict)
    checksum: bool = True


def to_tar(members: list[Member], ending: bytes = bytes(2 * BLOCK)) -> bytes:
    out = bytearray()
    for m in members:
        if m.pax is not None:
            out += header(b"PaxHeader", kind=b"x", size=len(m.pax)) + padded(m.pax)
        name, prefix = m.name, b""
        if m.gnu_long and len(name) > 99:
            long = name + b"\0"
            out += header(b"././@LongLink", kind=b"L", size=len(long)) + padded(long)
        elif len(name) > 100 and b"/" in name[-101:]:
            cut = name.rindex(b"/", 0, len(name) - 1) if len(name) > 100 else 0
            prefix, name = name[:cut], name[cut + 1 :]
        claimed = len(m.data) if m.size is None else m.size
        out += header(
            name,
            kind=b"S" if m.sparse else m.kind,
            size=len(m.data) if m.sparse else claimed,
            mode=m.mode,
            uid=m.uid,
            gid=m.gid,
            mtime=m.mtime,
            link=m.link,
            prefix=prefix,
            realsize=claimed if m.sparse else None,
            raw_fields=m.raw_fields,
            checksum=m.checksum,
        )
        out += padded(m.data)
    return bytes(out) + ending


# --- names, contents, numbers -------------------------------------------------------------------

# Paths the analysers capture or look for, so hostile data reaches them and not only the reader.
PATHS = (
    "etc/passwd", "etc/group", "etc/os-release", "usr/lib/os-release", "etc/alpine-release",
    "etc/debian_version", "etc/redhat-release", "var/lib/dpkg/status", "lib/apk/db/installed",
    "usr/lib/python3.11/site-packages/pkg-1.0.dist-info/METADATA",
    "usr/lib/python3.11/site-packages/pkg-1.0.dist-info/INSTALLER",
    "usr/lib/python3.11/site-packages/x.py", "usr/lib/python3.11/os.py",
    "usr/lib/python3.11/__pycache__/os.cpython-311.pyc", "usr/lib/python3.11/EXTERNALLY-MANAGED",
    "usr/local/bin/python3", "usr/bin/python3.11", "usr/bin/python3", "opt/venv/pyvenv.cfg",
    "opt/venv/bin/python", "app/main.py", "app/.env", "app/.git/config", "app/.git/HEAD",
    "root/.cache/pip/http/x", "root/.cache/uv/x", "var/lib/apt/lists/x", "var/cache/apk/x",
    "etc/sudoers", "etc/sudoers.d/app", "root/.ssh/id_rsa", "root/.ssh/authorized_keys",
    "etc/ssh/ssh_host_rsa_key", "usr/sbin/sshd", "usr/bin/gcc", "usr/bin/make", "usr/bin/sudo",
    "usr/include/python3.11/Python.h", "usr/lib/libx.a", "etc/shadow", "home/app/.npmrc",
    "etc/.wh..wh..opq", "app/.wh.main.py", "usr/.wh.lib", ".wh..wh..opq", "tmp/x",
)  # fmt: skip

CONTENTS = (
    b"root:x:0:0:root:/root:/bin/sh\napp:x:10001:10001::/home/app:/bin/sh\n",
    b"root:x:0:\napp:x:10001:root,app\n",
    b'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian\x1b[2J\x1b]52;c;eA==\x07"\n',
    b"Package: libc6\nStatus: install ok installed\nVersion: 2.36\nArchitecture: amd64\n\n",
    b"P:musl\nV:1.2\nA:x86_64\n\n",
    b"Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n",
    b"home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.4\n",
    b"app ALL=(ALL) NOPASSWD: ALL\n%wheel ALL=(ALL) ALL\n",
    b"-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n",
    b"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
    b"url = https://user:hunter2@example.invalid/repo.git\n",
    b"\x7fELF\x02\x01\x01" + bytes(64),
    b"\xa7\r\r\n" + bytes(12) + b"\xe3",
    b"import os\nprint('hi')\n",
    b"\xff\xfe\xfd not utf-8 \x80\x81",
    b"",
)  # fmt: skip

# Bytes that make a name hostile: escapes, NUL, bytes that are not UTF-8, traversal.
NAME_NOISE = (
    b"\x1b]52;c;ZXZpbA==\x07", b"\x1b[2J", b"\xe2\x80\xae", b"\xff\xfe", b"\x80", b"\x00",
    b"\n", b"\\", b" ", b"*", b"%s", b"\xc0\xaf", b"\xed\xa0\x80",
)  # fmt: skip
PREFIXES = (b"", b"./", b"/", b"../", b"../../", b"a/../../", b"//", b"./././", b"/../")


@st.composite
def names(draw: st.DrawFn) -> bytes:
    """A member name: a path analysers care about, made hostile in one or more ways."""
    how = draw(st.sampled_from(("plain", "plain", "noisy", "long", "deep", "digits", "odd")))
    base = draw(st.sampled_from(PATHS)).encode()
    if how == "noisy":
        noise = draw(st.lists(st.sampled_from(NAME_NOISE), min_size=1, max_size=3))
        cut = draw(st.integers(0, len(base)))
        base = base[:cut] + b"".join(noise) + base[cut:]
    elif how == "long":  # past PATH_MAX now and then; mostly long but readable
        base = b"x" * draw(st.integers(90, 6000 if one_in(draw, 4) else 3000)) + b"/" + base
    elif how == "deep":
        base = b"d/" * draw(st.integers(50, 20000 if one_in(draw, 4) else 1500)) + base
    elif how == "digits":  # numbers past Python's 4300-digit int limit, where a number is parsed
        digits = b"9" * draw(st.sampled_from((4301, 4000, 20)))
        base = draw(st.sampled_from((b"usr/bin/python3.", b"usr/lib/python3.", b"etc/x"))) + digits
    elif how == "odd":
        base = draw(st.sampled_from((b"", b".", b"..", b"/", b"//", b"./", b"../..", b"a//b")))
    return draw(st.sampled_from(PREFIXES)) + base + draw(st.sampled_from((b"", b"/", b"/.")))


@st.composite
def contents(draw: st.DrawFn) -> bytes:
    how = draw(st.sampled_from(("known", "known", "random", "repeat", "bigline")))
    if how == "known":
        return draw(st.sampled_from(CONTENTS))
    if how == "random":
        return draw(st.binary(max_size=600))
    if how == "repeat":  # many matches of a secret-ish or passwd-ish pattern
        unit = draw(st.sampled_from((
            b"app:x:10001:10001::/h:/bin/sh\n", b"https://u:p@h/", b"a.", b"KEY=", b"\x1b[2J",
            b"-----BEGIN PRIVATE KEY-----\n", b"Name: x\n", b"9" * 50 + b":x:" + b"9" * 50 + b"\n",
        )))  # fmt: skip
        return unit * draw(st.integers(1, 200_000 // len(unit)))
    return b"x=" + b"y" * draw(st.integers(1000, 300_000))  # one long line


NUMBERS = st.one_of(
    st.integers(0, 0o7777777),
    st.sampled_from((0, 1, 10001, 0o4755, 0o6777, 0o1777, -1, -(1 << 60), 1 << 60, 1 << 95)),
)
KINDS = st.sampled_from(
    (b"0", b"0", b"0", b"\0", b"5", b"2", b"1", b"3", b"4", b"6", b"7", b"V", b"M", b"Z",
     b"g", b"x", b"L", b"K", b"\xff")
)  # fmt: skip
# Garbage where a header number goes: offsets of mode, uid, gid, size, mtime, devmajor.
NUMBER_FIELDS = (100, 108, 116, 124, 136, 329)
NUMBER_GARBAGE = (
    b"abc", b"\xff" * 12, b"\x80" + b"\xff" * 11, b"8" * 11, b"-1", b" " * 12, b"\x00" * 12,
    b"0x10", b"\xc0\x00\x00",
)  # fmt: skip

PAX_KEYS = (
    b"path", b"linkpath", b"size", b"uid", b"gid", b"mtime", b"atime", b"uname", b"gname",
    b"GNU.sparse.realsize", b"GNU.sparse.size", b"GNU.sparse.name", b"GNU.sparse.major",
    b"SCHILY.xattr.security.capability", b"SCHILY.xattr.user.x", b"LIBARCHIVE.xattr.x",
    b"", b"=", b"k\x00ey", b"\xff\xfe", b"comment",
)  # fmt: skip
PAX_VALUES = (
    b"0", b"1", b"10", b"-1", b"abc", b"nan", b"inf", b"-inf", b"1e400", b"0x10", b"", b" ",
    b"1.5", b"-1.5", b"9" * 25, b"9" * 5000, b"etc/passwd", b"../../../etc/shadow", b"/abs",
    b"\x1b]52;c;ZXZpbA==\x07", b"\xff\xfe", b"a\x00b",
    b"\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
    b"\x01\x00\x00\x03" + bytes(16) + b"\xe8\x03\x00\x00", b"\x01\x00",
)  # fmt: skip


PAX_NUMBERS = (b"size", b"uid", b"gid", b"mtime", b"atime", b"GNU.sparse.realsize",
               b"GNU.sparse.size", b"GNU.sparse.major")  # fmt: skip


@st.composite
def pax_blocks(draw: st.DrawFn) -> bytes:
    """PAX records: odd keys and values, some well-formed, some with lying lengths."""
    records = []
    for _ in range(draw(st.integers(1, 4))):
        key, value = draw(st.sampled_from(PAX_KEYS)), draw(st.sampled_from(PAX_VALUES))
        if key in PAX_NUMBERS and not one_in(draw, 4):  # mostly well-formed, so reading goes on
            value = draw(st.sampled_from((b"0", b"1", b"10001", b"1700000000.5", b"99999999999")))
        if key == b"path" and draw(st.booleans()):
            value = b"a/" * draw(st.integers(1000, 250_000))  # a 500k-component path
        records.append(pax_record(key, value))
    if one_in(draw, 6):  # a record whose length lies or is no number
        records.append(draw(st.sampled_from((
            b"99999 path=x\n", b"abc path=x\n", b"0 x\n", b"-5 x=y\n", b"3 x\n", b"5 ", b"12",
        ))))  # fmt: skip
    return b"".join(records)


@st.composite
def members(draw: st.DrawFn) -> Member:
    name = draw(names())
    kind = draw(KINDS)
    data = draw(contents()) if kind in (b"0", b"\0", b"7") else b""
    link = b""
    if kind in (b"1", b"2"):
        link = draw(st.one_of(names(), st.just(name), st.sampled_from((b".", b"..", b"/"))))
    size = None
    if one_in(draw, 31):  # a header that lies about the data that follows
        size = draw(st.sampled_from((0, 1, 511, 513, 1 << 33, (1 << 40) + 1, -1, -(1 << 80))))
    raw_fields = {}
    if one_in(draw, 31):
        raw_fields[draw(st.sampled_from(NUMBER_FIELDS))] = draw(st.sampled_from(NUMBER_GARBAGE))
    return Member(
        name=name,
        kind=kind,
        data=data,
        mode=draw(NUMBERS),
        uid=draw(NUMBERS),
        gid=draw(NUMBERS),
        mtime=draw(st.one_of(st.just(0), NUMBERS)),
        link=link,
        size=size,
        pax=draw(pax_blocks()) if one_in(draw, 5) else None,
        gnu_long=draw(st.booleans()),
        sparse=kind == b"0" and one_in(draw, 13),
        raw_fields=raw_fields,
        checksum=not one_in(draw, 80),
    )


def link_loops() -> list[Member]:
    """Symlinks in a loop, out of the tree, to a dir; hard links to a link and out of the tree."""
    return [
        Member(b"loop/a", b"2", link=b"b"),
        Member(b"loop/b", b"2", link=b"a"),
        Member(b"loop/self", b"2", link=b"self"),
        Member(b"etc/passwd", b"2", link=b"../../../../etc/passwd"),
        Member(b"usr/bin/python3", b"2", link=b"/usr/bin/python3"),
        Member(b"etc/group", b"1", link=b"etc/passwd"),
        Member(b"app", b"2", link=b"/"),
        Member(b"app/x", b"0", data=b"under a symlinked dir\n"),
        Member(b"out", b"1", link=b"../../../../../etc/hostname"),
    ]


def nested_dirs(depth: int) -> list[Member]:
    """A chain of `depth` directories, each its own member, with a file at the bottom."""
    path = b""
    out = []
    for _ in range(depth):
        path += b"n/"
        out.append(Member(path, b"5", mode=0o755))
    out.append(Member(path + b"etc/passwd", data=CONTENTS[0]))
    return out


@st.composite
def layer_tars(draw: st.DrawFn) -> bytes:
    """One uncompressed layer: hostile members between well-formed ones, a hostile ending."""
    body = draw(st.lists(members(), min_size=1, max_size=6))
    extra = draw(st.sampled_from(("none", "none", "links", "nested")))
    if extra == "links":
        body += link_loops()
    elif extra == "nested":
        body += nested_dirs(draw(st.integers(100, 1500)))
    good = [Member(p.encode(), data=c) for p, c in (("etc/passwd", CONTENTS[0]),
                                                    ("etc/os-release", CONTENTS[2]))]  # fmt: skip
    position = draw(st.integers(0, len(body)))
    body[position:position] = good
    ending = bytes(2 * BLOCK)
    if one_in(draw, 5):
        ending = draw(st.sampled_from((
            b"", bytes(BLOCK), bytes(BLOCK) + b"garbage", b"\xff" * BLOCK,
            bytes(2 * BLOCK) + b"trailing data after the end",
        )))  # fmt: skip
    raw = to_tar(body, ending)
    if one_in(draw, 11):  # cut anywhere, mid-header or mid-data
        raw = raw[: draw(st.integers(0, len(raw)))]
    return raw


# --- compression --------------------------------------------------------------------------------


@functools.cache
def gzip_bomb() -> bytes:
    """A layer whose one file holds BOMB_BYTES of zeros: about a MiB of gzip."""
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)
    head = header(b"etc/passwd", size=BOMB_BYTES)
    parts = [squeeze.compress(head)]
    zeros = bytes(16 << 20)
    for _ in range(BOMB_BYTES // len(zeros)):
        parts.append(squeeze.compress(zeros))
    parts.append(squeeze.compress(bytes(2 * BLOCK)))
    parts.append(squeeze.flush())
    return b"".join(parts)


COMPRESSIONS = (
    "none", "none", "gzip", "gzip", "multi-member", "truncated", "trailing-garbage",
    "gzip-of-garbage", "garbage", "zstd-magic", "bzip2-magic", "empty", "json-first", "bomb",
)  # fmt: skip


@st.composite
def compressed(draw: st.DrawFn, raw: bytes) -> tuple[bytes, bytes]:
    """(the layer blob as stored, the uncompressed bytes its diff_id is computed from)."""
    how = draw(st.sampled_from(COMPRESSIONS))
    if how == "gzip":
        return gzip.compress(raw, mtime=0), raw
    if how == "multi-member":
        cut = draw(st.integers(0, len(raw)))
        return gzip.compress(raw[:cut], mtime=0) + gzip.compress(raw[cut:], mtime=0), raw
    if how == "truncated":
        packed = gzip.compress(raw, mtime=0)
        return packed[: draw(st.integers(2, max(2, len(packed) - 1)))], raw
    if how == "trailing-garbage":
        return gzip.compress(raw, mtime=0) + draw(st.binary(min_size=1, max_size=64)), raw
    if how == "gzip-of-garbage":
        junk = draw(st.binary(min_size=1, max_size=2000))
        return gzip.compress(junk, mtime=0), junk
    if how == "garbage":
        junk = draw(st.binary(max_size=2000))
        return junk, junk
    if how == "zstd-magic":
        return b"\x28\xb5\x2f\xfd" + raw, raw
    if how == "bzip2-magic":
        return b"BZh9" + raw, raw
    if how == "empty":
        return b"", b""
    if how == "json-first":  # a tar whose first byte is `{` is still a tar
        first = header(b'{"a": 1}', size=0)
        return first + raw, first + raw
    if how == "bomb" and one_in(draw, 4):
        bomb = gzip_bomb()
        return bomb, b"unknown"  # the diff_id cannot be computed cheaply: it will not match
    return raw, raw


# --- the image config ---------------------------------------------------------------------------

# Where a hostile value goes in the config (a path of keys and indexes).
CONFIG_TARGETS = (
    (), ("config",), ("config", "User"), ("config", "Env"), ("config", "Env", 0), ("config", "Cmd"),
    ("config", "Cmd", 0), ("config", "Entrypoint"), ("config", "WorkingDir"),
    ("config", "Labels"), ("config", "Labels", "k"), ("config", "ExposedPorts"),
    ("config", "ExposedPorts", "8000/tcp"), ("config", "Volumes"), ("config", "Healthcheck"),
    ("config", "Healthcheck", "Test"), ("config", "StopSignal"), ("config", "Shell"),
    ("config", "OnBuild"), ("history",), ("history", 0), ("history", 0, "created_by"),
    ("history", 0, "created"), ("history", 0, "empty_layer"), ("rootfs",),
    ("rootfs", "diff_ids"), ("rootfs", "diff_ids", 0), ("architecture",), ("os",), ("created",),
    ("variant",), ("container_config",),
)  # fmt: skip

# JSON text that json.dumps would not write: kept raw and spliced into the document.
RAW_VALUES = (
    b"9" * 5000, b"-" + b"9" * 4400, b"1e999", b"NaN", b"Infinity", b"-0", b"1.5",
    b'"\\ud800"', b'"\\udcff\\ud83d"', b'"a\xff\xfeb"', b'"\xed\xa0\x80"', b'"\\u0000"',
    b"[" * 50_000 + b"]" * 50_000, b'{"a":' * 20_000 + b"1" + b"}" * 20_000,
    b'"' + b"A" * 300_000 + b'"', b'"' + b"a." * 131_072 + b'"', b'"' + b"b-" * 65_536 + b'"',
    b'"' + b"https://u:p@" * 20_000 + b'"', b'["' + b'", "'.join([b"X=1"] * 20_000) + b'"]',
    b'"' + b"\\u001b]52;c;ZXZpbA==\\u0007" * 3 + b'"', b'"\xe2\x80\xae\xc2\x9b2J"', b"{}", b"[]",
    b'{"Test": ["CMD", "x"], "Interval": -1}', b'{"8000/tcp": {}, "99999999/xyz": 5}',
    b'"' + b"9" * 5000 + b'"', b'"0:' + b"9" * 5000 + b'"', b'"root:root"', b'"\\u001b[2J"',
)  # fmt: skip

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(1 << 70), 1 << 70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(ESCAPES),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _put(doc: Any, path: tuple, value: Any) -> Any:
    """`doc` with the value at `path` replaced (parents made as needed); the root when path=()."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(head, int):
        items = list(doc) if isinstance(doc, list) else []
        items += [None] * (head + 1 - len(items))
        items[head] = _put(items[head], rest, value)
        return items
    obj = dict(doc) if isinstance(doc, dict) else {}
    obj[head] = _put(obj.get(head), rest, value)
    return obj


# Strings of the right type, hostile in content: what gets past type checks to the analysers.
_HOSTILE_STRINGS = (
    "9" * 4400, "0:" + "9" * 4400, "root", "0", "0:0", "app:app", "-1", "65536", "nobody:",
    "/bin/sh -c " + "x" * 200_000, "a." * 131_072, "https://u:p@h/" * 10_000,
    "PYTHONDONTWRITEBYTECODE=1", "=x", "X=\x1b]52;c;eA==\x07", "SIGKILL", "SIGFOO", "99",
)  # fmt: skip
HOSTILE_TEXT = st.one_of(
    st.text(max_size=40), st.sampled_from(ESCAPES), st.sampled_from(_HOSTILE_STRINGS)
)
TYPED = {
    "User": HOSTILE_TEXT, "WorkingDir": HOSTILE_TEXT, "StopSignal": HOSTILE_TEXT,
    "Cmd": st.lists(HOSTILE_TEXT, max_size=5), "Entrypoint": st.lists(HOSTILE_TEXT, max_size=5),
    "Env": st.lists(HOSTILE_TEXT, max_size=5), "Shell": st.lists(HOSTILE_TEXT, max_size=3),
    "Labels": st.dictionaries(HOSTILE_TEXT, HOSTILE_TEXT, max_size=4),
    "ExposedPorts": st.dictionaries(HOSTILE_TEXT, st.just({}), max_size=4),
    "Volumes": st.dictionaries(HOSTILE_TEXT, st.just({}), max_size=4),
    "Healthcheck": st.fixed_dictionaries({"Test": st.lists(HOSTILE_TEXT, max_size=4)}),
    "created_by": HOSTILE_TEXT, "created": HOSTILE_TEXT,
}  # fmt: skip


@st.composite
def config_edits(draw: st.DrawFn) -> list[tuple[tuple, Any]]:
    """Hostile values at config paths: mostly of the right type (hostile content), else of any
    type or raw JSON text (`bytes`, spliced in as is)."""
    edits = []
    for _ in range(draw(st.integers(1, 3))):
        target = draw(st.sampled_from(CONFIG_TARGETS))
        typed = TYPED.get(target[-1]) if target and isinstance(target[-1], str) else None
        if typed is not None and not one_in(draw, 3):
            value = draw(typed)
        else:
            value = draw(st.one_of(json_values, st.sampled_from(RAW_VALUES)))
        edits.append((target, value))
    return edits


def config_bytes(doc: dict, edits: list[tuple[tuple, Any]], *, duplicate: bytes | None) -> bytes:
    """The config document with `edits` applied, raw values spliced in, maybe a duplicate key."""
    raws: dict[str, bytes] = {}
    for target, value in edits:
        if isinstance(value, bytes):
            mark = f"@@raw{len(raws)}@@"
            raws[mark] = value
            value = mark
        doc = _put(doc, target, value)
    text = json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")
    for mark, value in raws.items():
        text = text.replace(f'"{mark}"'.encode(), value)
    if duplicate is not None and text.startswith(b"{"):
        text = b"{" + duplicate + b", " + text[1:] if len(text) > 2 else text
    return text


DUPLICATES = (
    None, None, None, b'"config": "x"', b'"rootfs": {"diff_ids": []}', b'"history": 5',
    b'"config": {"User": "0"}', b'"os": "linux", "os": 5',
)  # fmt: skip
ENCODINGS = ("utf-8", "utf-8", "utf-8", "bom", "utf-16", "latin-1-noise", "nul")


def encoded(text: bytes, how: str) -> bytes:
    if how == "bom":
        return b"\xef\xbb\xbf" + text
    if how == "utf-16":
        return text.decode("utf-8", "replace").encode("utf-16")
    if how == "latin-1-noise":
        return text.replace(b'"User"', b'"Us\xe9r"', 1)
    if how == "nul":
        return text + b"\x00"
    return text


# --- the whole input ----------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Case:
    """One input: `files` laid out under the sandbox; `ref` names it relative to the sandbox."""

    kind: str  # docker-archive, oci-archive or oci
    files: dict[str, bytes]  # path -> content; for archives the one file "image.tar"
    links: dict[str, str] = field(default_factory=dict)  # path -> symlink target (oci: only)
    sparse: dict[str, int] = field(default_factory=dict)  # path -> size of a sparse file
    fifos: tuple[str, ...] = ()
    note: str = ""  # what was done, shown when an example fails

    def __repr__(self) -> str:
        # What a failure report shows: short (the bytes are replayed by @reproduce_failure).
        sizes = {name: len(data) for name, data in list(self.files.items())[:8]}
        return (f"Case({self.kind}, {self.note[:400]!r}, files={sizes}, links={self.links}, "
                f"sparse={self.sparse}, fifos={self.fifos})")  # fmt: skip

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))  # hypothesis's printer would list every field, bytes and all

    @property
    def target(self) -> str:
        return "image.tar" if self.kind != "oci" else "layout"


def unpack(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {
            m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def repack(files: dict[str, bytes], extra: list[Member] = ()) -> bytes:  # type: ignore[assignment]
    """Files (names as given, traversal included) as an outer tar, with hostile members after."""
    members = [Member(name.encode("utf-8", "surrogateescape"), data=data, gnu_long=True)
               for name, data in files.items()]  # fmt: skip
    return to_tar([*members, *extra])


@st.composite
def images(draw: st.DrawFn, layers: st.SearchStrategy[bytes] | None = None) -> tuple:
    """A well-formed image of 1-3 layers (maybe hostile inside), as (layout, files, config doc,
    names of its config, manifest and layer blobs)."""
    layout = draw(st.sampled_from(("docker", "oci")))
    count = draw(st.integers(1, 3))
    blobs: list[tuple[bytes, bytes]] = []
    for i in range(count):
        if layers is None or (i > 0 and draw(st.booleans())):
            plain = layer(("etc/passwd", CONTENTS[0]), ("usr/", None),
                          (f"app/f{i}.py", b"print(1)\n"))  # fmt: skip
            blobs.append((plain, plain))
        else:
            blobs.append(draw(compressed(draw(layers))))
    stand_ins = [layer((f"stand-in-{i}", b"")) for i in range(count)]
    files = unpack(image_archive(stand_ins, layout))
    # The stand-ins give the layout; the real blobs replace them (their names need not match).
    diff_ids = [f"sha256:{sha(uncompressed)}" for _, uncompressed in blobs]
    for i, stand_in in enumerate(stand_ins):
        name = next(n for n, d in files.items() if d == stand_in)
        files[name] = blobs[i][0]
    name = config_name(files, layout)
    doc = json.loads(files[name])
    doc["rootfs"]["diff_ids"] = diff_ids
    files[name] = json.dumps(doc).encode()
    seal(files, layout)
    return layout, files, doc, config_name(files, layout)


def seal(files: dict[str, bytes], layout: str) -> None:
    """After blobs were replaced: rename each OCI blob by its digest and give every descriptor
    its blob's digest and size, as a real layout has (a docker layout names files by path)."""
    if layout != "oci":
        return

    def renamed(descriptor: dict[str, Any]) -> dict[str, Any]:
        data = files.pop("blobs/sha256/" + descriptor["digest"][7:])
        files[f"blobs/sha256/{sha(data)}"] = data
        return {**descriptor, "digest": f"sha256:{sha(data)}", "size": len(data)}

    index = json.loads(files["index.json"])
    entry = index["manifests"][0]
    manifest = json.loads(files.pop("blobs/sha256/" + entry["digest"][7:]))
    manifest["config"] = renamed(manifest["config"])
    manifest["layers"] = [renamed(d) for d in manifest["layers"]]
    files["blobs/sha256/" + entry["digest"][7:]] = json.dumps(manifest).encode()
    index["manifests"] = [renamed(entry)]
    files["index.json"] = json.dumps(index).encode()


def config_name(files: dict[str, bytes], layout: str) -> str:
    if layout == "docker":
        return json.loads(files["manifest.json"])[0]["Config"]
    index = json.loads(files["index.json"])
    manifest = json.loads(files["blobs/sha256/" + index["manifests"][0]["digest"][7:]])
    return "blobs/sha256/" + manifest["config"]["digest"][7:]


def as_case(draw: st.DrawFn, layout: str, files: dict[str, bytes], note: str) -> Case:
    """The files as a docker-archive, an oci-archive (OCI layout only) or an oci: directory."""
    if layout == "oci" and draw(st.booleans()):
        return Case("oci", files, note=note)
    kind = "docker-archive" if layout == "docker" else draw(
        st.sampled_from(("docker-archive", "oci-archive")))  # fmt: skip
    return Case(kind, {"image.tar": repack(files)}, note=note)


@st.composite
def layer_cases(draw: st.DrawFn) -> Case:
    """A valid image whose first layer is a hostile tar, stored with hostile compression."""
    layout, files, _, _ = draw(images(layer_tars()))
    return as_case(draw, layout, files, "hostile layer")


@st.composite
def config_cases(draw: st.DrawFn) -> Case:
    """A valid image whose config has hostile values, duplicate keys or a hostile encoding."""
    layout, files, doc, config_name = draw(images())
    edits = draw(config_edits())
    duplicate = draw(st.sampled_from(DUPLICATES)) if one_in(draw, 4) else None
    how = draw(st.sampled_from(ENCODINGS)) if one_in(draw, 4) else "utf-8"
    files[config_name] = encoded(config_bytes(doc, edits, duplicate=duplicate), how)
    seal(files, layout)
    note = f"config edits {[(t, v if not isinstance(v, bytes) else v[:60]) for t, v in edits]}"
    return as_case(draw, layout, files, f"{note}, duplicate {duplicate!r}, encoding {how}")


DOCKER_MANIFEST_EDITS = (
    "drop-layer", "drop-config", "no-manifest", "two-images", "manifest-not-list", "empty-list",
    "layers-not-list", "layer-missing", "config-traversal", "config-number", "tags-hostile",
    "concatenated-docs", "many-docs", "manifest-non-utf8", "duplicate-manifest", "huge-manifest",
)  # fmt: skip
OCI_EDITS = (
    "drop-layer", "drop-config", "no-index", "zero-manifests", "two-manifests",
    "digest-traversal", "digest-number", "digest-missing", "digest-other-algorithm",
    "index-points-at-index", "manifest-no-config", "config-digest-traversal",
    "layer-digest-traversal", "ref-name-hostile", "layers-not-list", "index-not-object",
)  # fmt: skip
OUTER_EDITS = (
    "none", "none", "traversal-member", "absolute-member", "symlink-member", "hardlink-member",
    "truncated", "gzip-outer", "garbage-appended", "garbage", "device-member", "dir-member",
)  # fmt: skip
OCI_DIR_EDITS = (
    "none", "blob-symlink-out", "blob-symlink-dev-zero", "blob-symlink-loop", "blob-is-dir",
    "index-is-dir", "sparse-index", "sparse-config", "blob-fifo", "index-symlink-out",
)  # fmt: skip


def _json_edit(files: dict[str, bytes], name: str, change: Any) -> None:
    files[name] = json.dumps(change(json.loads(files[name]))).encode()


def _docker_edit(files: dict[str, bytes], how: str) -> None:
    manifest = json.loads(files["manifest.json"])
    entry = manifest[0]
    if how == "drop-layer":
        files.pop(entry["Layers"][0])
    elif how == "drop-config":
        files.pop(entry["Config"])
    elif how == "no-manifest":
        files.pop("manifest.json")
    elif how == "two-images":
        files["manifest.json"] = json.dumps([entry, {**entry, "RepoTags": ["b:\x1b[2J"]}]).encode()
    elif how == "manifest-not-list":
        files["manifest.json"] = json.dumps(entry).encode()
    elif how == "empty-list":
        files["manifest.json"] = b"[]"
    elif how == "layers-not-list":
        files["manifest.json"] = json.dumps([{**entry, "Layers": "x"}]).encode()
    elif how == "layer-missing":
        files["manifest.json"] = json.dumps([{**entry, "Layers": ["nope/layer.tar"]}]).encode()
    elif how == "config-traversal":
        files["manifest.json"] = json.dumps([{**entry, "Config": "../../etc/passwd"}]).encode()
    elif how == "config-number":
        files["manifest.json"] = json.dumps([{**entry, "Config": 5, "RepoTags": 7}]).encode()
    elif how == "tags-hostile":
        tags = ["t:\x1b]52;c;ZXZpbA==\x07", "\u202eevil", 5, None, "\udcff"]
        files["manifest.json"] = json.dumps([{**entry, "RepoTags": tags}]).encode()
    elif how == "concatenated-docs":
        files["manifest.json"] = files["manifest.json"] * 2
    elif how == "many-docs":
        files["manifest.json"] = b"{}" * 200_000
    elif how == "manifest-non-utf8":
        files["manifest.json"] = files["manifest.json"].replace(b"t/app", b"t/\xff\xfe")
    elif how == "duplicate-manifest":
        files["./manifest.json"] = b'[{"Config": "x.json", "Layers": []}]'
    elif how == "huge-manifest":
        files["manifest.json"] = files["manifest.json"][:-1] + b" " * 900_000 + b"]"


def _oci_edit(files: dict[str, bytes], how: str) -> None:
    index = json.loads(files["index.json"])
    entry = index["manifests"][0]
    manifest_name = "blobs/sha256/" + entry["digest"][7:]
    manifest = json.loads(files[manifest_name])

    def set_index(value: Any) -> None:
        files["index.json"] = json.dumps(value).encode()

    def set_manifest(value: Any) -> None:
        files[manifest_name] = json.dumps(value).encode()

    if how == "drop-layer":
        files.pop("blobs/sha256/" + manifest["layers"][0]["digest"][7:], None)
    elif how == "drop-config":
        files.pop("blobs/sha256/" + manifest["config"]["digest"][7:], None)
    elif how == "no-index":
        files.pop("index.json")
    elif how == "zero-manifests":
        set_index({**index, "manifests": []})
    elif how == "two-manifests":
        set_index({**index, "manifests": [entry, entry]})
    elif how == "digest-traversal":
        set_index({**index, "manifests": [{**entry, "digest": "sha256:../../../../etc/passwd"}]})
    elif how == "digest-number":
        set_index({**index, "manifests": [{**entry, "digest": 5}]})
    elif how == "digest-missing":
        set_index({**index, "manifests": [{"mediaType": entry["mediaType"]}]})
    elif how == "digest-other-algorithm":
        set_index({**index, "manifests": [{**entry, "digest": "md5:../x"}]})
    elif how == "index-points-at-index":  # the manifest blob is the index itself: a loop
        files[manifest_name] = files["index.json"]
    elif how == "manifest-no-config":
        set_manifest({k: v for k, v in manifest.items() if k != "config"} | {"config": "x"})
    elif how == "config-digest-traversal":
        set_manifest({**manifest, "config": {"digest": "sha256:../../../../../etc/passwd"}})
    elif how == "layer-digest-traversal":
        set_manifest({**manifest, "layers": [{"digest": "sha256:../../index.json"}]})
    elif how == "ref-name-hostile":
        ref = {"org.opencontainers.image.ref.name": "x\x1b]0;owned\x07\u202e"}
        set_index({**index, "manifests": [{**entry, "annotations": ref}]})
    elif how == "layers-not-list":
        set_manifest({**manifest, "layers": "x"})
    elif how == "index-not-object":
        set_index([entry])
    _resize(files)


def _resize(files: dict[str, bytes]) -> None:
    """Give the index's descriptors their blob's size again, so an edit meets the reader's check
    that it is after, not the size check in front of it."""
    try:
        index = json.loads(files["index.json"])
        for entry in index["manifests"]:
            entry["size"] = len(files["blobs/sha256/" + entry["digest"][7:]])
    except (KeyError, TypeError, AttributeError, IndexError, ValueError):
        return  # an index the edit broke on purpose
    files["index.json"] = json.dumps(index).encode()


def _outer(draw: st.DrawFn, files: dict[str, bytes], how: str) -> bytes:
    extra: list[Member] = []
    if how == "traversal-member":
        extra = [Member(b"../../escaped", data=b"x"), Member(b"a/../../../escaped2", data=b"x")]
    elif how == "absolute-member":
        extra = [Member(b"/tmp/escaped-absolute", data=b"x")]
    elif how == "symlink-member":
        extra = [Member(b"manifest.json", b"2", link=b"/etc/passwd"),
                 Member(b"evil", b"2", link=b"../../../")]  # fmt: skip
    elif how == "hardlink-member":
        extra = [Member(b"index.json", b"1", link=b"/etc/passwd")]
    elif how == "device-member":
        extra = [
            Member(b"blobs/sha256/zero", b"3", raw_fields={329: octal(1, 8), 337: octal(5, 8)})
        ]
    elif how == "dir-member":
        extra = [Member(b"blobs/sha256/", b"5"), Member(b"manifest.json/", b"5")]
    raw = repack(files, extra)
    if how == "truncated":
        return raw[: draw(st.integers(0, len(raw) - 1))]
    if how == "gzip-outer":
        return gzip.compress(raw, mtime=0)
    if how == "garbage-appended":
        return raw + draw(st.binary(min_size=1, max_size=3000))
    if how == "garbage":
        return draw(st.binary(max_size=3000))
    return raw


@st.composite
def layout_cases(draw: st.DrawFn) -> Case:
    """A valid image whose manifest, index, outer archive or layout directory is hostile."""
    layout, files, _, _ = draw(images())
    edit = draw(st.sampled_from(DOCKER_MANIFEST_EDITS if layout == "docker" else OCI_EDITS))
    (_docker_edit if layout == "docker" else _oci_edit)(files, edit)
    if layout == "oci" and draw(st.booleans()):
        dir_edit = draw(st.sampled_from(OCI_DIR_EDITS))
        return _oci_dir(files, dir_edit, note=f"oci dir: {edit}, {dir_edit}")
    how = draw(st.sampled_from(OUTER_EDITS))
    kind = "docker-archive" if layout == "docker" else draw(
        st.sampled_from(("docker-archive", "oci-archive")))  # fmt: skip
    return Case(kind, {"image.tar": _outer(draw, files, how)}, note=f"{layout}: {edit}, {how}")


def _oci_dir(files: dict[str, bytes], how: str, note: str) -> Case:
    links: dict[str, str] = {}
    sparse: dict[str, int] = {}
    fifos: tuple[str, ...] = ()
    blobs = sorted(n for n in files if n.startswith("blobs/"))
    if not blobs:
        return Case("oci", files, note=note)
    # The biggest blob is a layer (or the config): the one worth redirecting.
    victim = max(blobs, key=lambda n: len(files[n]))
    config = max((n for n in blobs if files[n].startswith(b'{"architecture"')), default=victim)
    if how == "blob-symlink-out":
        files.pop(victim)
        links[victim] = "../../../outside/victim"
    elif how == "blob-symlink-dev-zero":
        files.pop(victim)
        links[victim] = "/dev/zero"
    elif how == "blob-symlink-loop":
        files.pop(victim)
        links[victim] = victim.rsplit("/", 1)[-1]
    elif how == "blob-is-dir":
        files.pop(victim)
        files[victim + "/x"] = b"x"
    elif how == "index-is-dir":
        files.pop("index.json", None)
        files["index.json/x"] = b"x"
    elif how == "sparse-index":
        files.pop("index.json", None)
        sparse["index.json"] = 3 << 30
    elif how == "sparse-config":
        files.pop(config)
        sparse[config] = 3 << 30
    elif how == "blob-fifo":
        files.pop(victim)
        fifos = (victim,)
    elif how == "index-symlink-out":
        files.pop("index.json", None)
        links["index.json"] = "../outside/victim"
    return Case("oci", files, links=links, sparse=sparse, fifos=fifos, note=note)
