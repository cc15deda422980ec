"""Image archives in both layouts, and hostile or broken ones, read without a daemon."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import pytest

from inspector.errors import InspectorError
from inspector.layers.reader import read_layer
from inspector.sources.archive import ArchiveError, Known, read_image_stream, read_oci_dir
from tests.layertools import image_archive, layer

BASE = layer(("etc/os-release", b"ID=debian\n"), ("usr/bin/python3.11", b"\x7fELF" * 100))
APP = layer(("app/main.py", b"print('hi')\n"), compress=True)


def load(raw: bytes, known: Known | None = None):
    return read_image_stream(io.BytesIO(raw), read_layer, known)


@pytest.mark.parametrize("layout", ["docker", "oci"])
def test_both_layouts_give_the_same_image(layout):
    """docker save's legacy layout and an OCI layout yield the same config, ID and layers."""
    loaded = load(image_archive([BASE, APP], layout))
    assert loaded.image_id == "sha256:" + hashlib.sha256(loaded.config_bytes).hexdigest()
    assert list(loaded.layers) == loaded.raw_config["rootfs"]["diff_ids"]
    assert [e.path for e in loaded.layers[list(loaded.layers)[1]].entries] == ["/app/main.py"]


def test_oci_directory_layout(tmp_path):
    """An OCI layout unpacked into a directory reads like the archive of it."""
    with tarfile.open(fileobj=io.BytesIO(image_archive([BASE, APP], "oci"))) as tar:
        tar.extractall(tmp_path, filter="data")
    from_dir = read_oci_dir(tmp_path, read_layer)
    from_tar = load(image_archive([BASE, APP], "oci"))
    assert from_dir.image_id == from_tar.image_id
    assert from_dir.digest == from_tar.digest
    assert from_dir.digest is not None


@pytest.mark.parametrize("layout", ["docker", "oci"])
def test_missing_layer_is_a_clear_error(layout):
    """A manifest naming a layer the archive lacks is an ArchiveError that says so."""
    with pytest.raises(ArchiveError, match="missing or do not match"):
        load(image_archive([BASE, APP], layout, drop_layer=0))


def test_truncated_archive_is_a_clear_error():
    """An archive cut in half is an InspectorError (exit 2), not a traceback."""
    raw = image_archive([BASE, APP])
    with pytest.raises(InspectorError):
        load(raw[: len(raw) // 2])


def test_not_an_archive_and_multi_image_archives_are_refused():
    """Random bytes and an archive holding two images are refused with a reason."""
    with pytest.raises(ArchiveError):
        load(b"\x00garbage" * 1000)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        data = json.dumps([{"Config": "a.json", "RepoTags": ["a:1"]},
                           {"Config": "b.json", "RepoTags": ["b:1"]}]).encode()  # fmt: skip
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(ArchiveError, match="holds 2 images"):
        load(out.getvalue())


def test_known_layers_are_not_parsed_again():
    """Layers the cache knows (by OCI blob name, or by size and digest) are skipped, not parsed."""
    first = load(image_archive([BASE, APP], "oci"))
    base_id = next(iter(first.layers))
    known = Known(contains=lambda d: d == base_id, with_size=lambda size: set())
    again = load(image_archive([BASE, APP], "oci"), known)
    assert base_id not in again.layers
    big = layer(("blob.bin", bytes(2 << 20)))
    legacy = load(image_archive([big, APP]))
    big_id = next(iter(legacy.layers))
    sizes = {len(big): {big_id}}
    hashed = load(image_archive([big, APP]), Known(lambda d: False, lambda s: sizes.get(s, set())))
    assert big_id not in hashed.layers
    assert len(hashed.layers) == 1


def test_hostile_layer_names_stay_inside_and_are_reported():
    """Traversal and absolute names map inside the root and are listed; nothing is written."""
    evil = layer(("../../etc/passwd", b"root::0:0"), ("/abs/x", b"1"), ("ok", b"2"))
    loaded = load(image_archive([evil]))
    read = next(iter(loaded.layers.values()))
    assert {e.path for e in read.entries} == {"/etc/passwd", "/abs/x", "/ok"}
    assert set(read.unsafe_names) == {"../../etc/passwd", "/abs/x"}


def test_odd_but_valid_members_are_indexed():
    """Non-UTF-8 names, hard links to missing targets, symlink loops and sparse files are read."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT,
                      encoding="utf-8", errors="surrogateescape") as tar:  # fmt: skip
        odd = [("caf\udce9", tarfile.REGTYPE, ""), ("hl", tarfile.LNKTYPE, "nope"),
               ("a", tarfile.SYMTYPE, "b"), ("b", tarfile.SYMTYPE, "a")]  # fmt: skip
        for name, kind, link in odd:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, link
            tar.addfile(info, io.BytesIO(b"") if kind == tarfile.REGTYPE else None)
    read = read_layer(io.BytesIO(raw.getvalue()))
    kinds = {e.path: e.kind for e in read.entries}
    assert kinds == {"/caf\udce9": "file", "/hl": "hardlink", "/a": "symlink", "/b": "symlink"}


def test_a_layer_of_200k_files_is_indexed():
    """A layer with 200,000 entries is read completely."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for i in range(200_000):
            tar.addfile(tarfile.TarInfo(f"d{i % 100}/f{i}"), io.BytesIO(b""))
    assert len(read_layer(io.BytesIO(raw.getvalue())).entries) == 200_000


def gnu_sparse_header(name: str, real_size: int) -> bytes:
    """A GNU 'S' (old sparse) header with no stored data and a base-256 real size."""
    header = bytearray(512)
    header[0 : len(name)] = name.encode()
    header[100:108] = b"0000644\0"
    header[108:116] = header[116:124] = b"0000000\0"
    header[124:136] = b"00000000000\0"  # nothing stored: the whole file is a hole
    header[136:148] = b"00000000000\0"
    header[156:157] = b"S"
    header[257:265] = b"ustar  \0"
    header[483:495] = b"\x80" + real_size.to_bytes(11, "big")
    header[148:156] = b" " * 8
    header[148:156] = f"{sum(header):06o}\0 ".encode()
    return bytes(header)


def test_a_sparse_100_gb_file_is_indexed_with_its_real_size():
    """A sparse file of 100 GB apparent size is indexed from its header, without reading 100 GB."""
    raw = gnu_sparse_header("var/log/lastlog", 100 << 30) + bytes(1024)
    (entry,) = read_layer(io.BytesIO(raw)).entries
    assert (entry.path, entry.kind, entry.size) == ("/var/log/lastlog", "file", 100 << 30)


def test_a_corrupt_header_checksum_is_a_clear_error():
    """A header whose checksum does not match is reported as corrupt, not misread."""
    raw = bytearray(gnu_sparse_header("x", 10) + bytes(1024))
    raw[0] = ord("y")
    with pytest.raises(InspectorError, match="checksum"):
        read_layer(io.BytesIO(bytes(raw)))


def test_facts_writes_only_its_cache_even_for_a_hostile_archive(tmp_path):
    """Reading an archive with escaping names writes nothing but the layer cache (no extraction)."""
    import os
    import subprocess
    import sys

    marker = f"inspector-escape-{os.getpid()}"
    evil = layer((f"../../../../tmp/{marker}", b"x"), (f"/tmp/{marker}-abs", b"y"), ("ok", b"z"))
    home, tmp, work = tmp_path / "home", tmp_path / "tmp", tmp_path / "work"
    for directory in (home, tmp, work):
        directory.mkdir()
    archive = tmp_path / "evil.tar"
    archive.write_bytes(image_archive([evil]))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INSPECTOR_", "XDG_"))}
    env.update(HOME=str(home), TMPDIR=str(tmp))
    done = subprocess.run(
        [sys.executable, "-m", "inspector", "facts", f"docker-archive:{archive}"],
        cwd=work, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert all(p.startswith("home/.cache/inspector/") for p in written if p != "evil.tar"), written
    assert not os.path.exists(f"/tmp/{marker}")
    assert not os.path.exists(f"/tmp/{marker}-abs")


def test_malformed_manifests_are_archive_errors():
    """A manifest or index of the wrong shape is an ArchiveError, not a KeyError traceback."""
    for name, data in [("manifest.json", b'[{"Layers": []}]'), ("manifest.json", b'["x"]'),
                       ("index.json", b'{"manifests": [{"mediaType": "x"}]}'),
                       ("index.json", b"[1, 2]")]:  # fmt: skip
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w") as tar:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        with pytest.raises(ArchiveError):
            load(out.getvalue())


def test_malformed_oci_directory_is_an_archive_error(tmp_path):
    """An OCI directory whose index lacks digests is an ArchiveError."""
    (tmp_path / "index.json").write_text('{"manifests": [{"size": 1}]}')
    with pytest.raises(ArchiveError):
        read_oci_dir(tmp_path, read_layer)


def _chunked(body: bytes, sizes: list[int]) -> bytes:
    """`body` in HTTP/1.1 chunked coding, chunk sizes cycling through `sizes`."""
    out, pos, turn = bytearray(), 0, 0
    while pos < len(body):
        size = sizes[turn % len(sizes)]
        out += b"%x;ext=1\r\n" % size if turn % 3 == 2 else b"%x\r\n" % size
        out += body[pos : pos + size] + b"\r\n"
        pos, turn = pos + size, turn + 1
    return bytes(out + b"0\r\nX-Trailer: 1\r\n\r\n")


def _export_of(wire: bytes, block: int):
    """A daemon export body (as the engine sends it) read through a local socket pair."""
    import socket
    import threading

    from inspector.sources.daemon import _SocketBody

    ours, theirs = socket.socketpair()
    theirs_wire = wire[5:]  # the first bytes come as http.client's buffer hands them over

    def engine() -> None:
        with theirs:
            theirs.sendall(theirs_wire)

    threading.Thread(target=engine, daemon=True).start()
    response = type("Response", (), {"close": lambda self: ours.close()})()
    return _SocketBody(response, ours, wire[:5], chunked=True, block=block)


@pytest.mark.parametrize(
    ("sizes", "block"), [([32768], 1 << 16), ([1, 7, 4093], 4096), ([5000], 512)]
)
def test_a_chunked_export_reads_like_the_archive(sizes, block):
    """The engine's chunked export, however chunks and blocks fall, gives the archive's image."""
    raw = image_archive([BASE, APP])
    body = _export_of(_chunked(raw, sizes), block)
    try:
        loaded = read_image_stream(body, read_layer)
    finally:
        body.close()
    expected = load(raw)
    assert loaded.image_id == expected.image_id
    assert loaded.layers == expected.layers


@pytest.mark.parametrize(
    "damage",
    [
        lambda wire: wire[: len(wire) // 2],  # the engine went away mid-export
        lambda wire: wire.replace(b"\r\n", b"\r\r", 3),  # a payload not ended by CRLF
        lambda wire: b"zz\r\n" + wire,  # a size that is not hexadecimal
        lambda wire: b"1" * 5000 + wire,  # a size line that never ends
    ],
)
def test_a_broken_chunked_export_is_a_clear_error(damage):
    """Truncated or corrupt chunk framing is an InspectorError with a reason, not a traceback."""
    wire = damage(_chunked(image_archive([BASE, APP]), [32768]))
    body = _export_of(wire, 4096)
    try:
        with pytest.raises(InspectorError, match="export stream"):
            read_image_stream(body, read_layer)
    finally:
        body.close()
