"""Every layer format real builders write, read to the right facts: kaniko's tarballs (config
`sha256:<hex>`, layers `<hex>.tar.gz`), eStargz and other multi-member gzip, zstd (one frame,
many, skippable ones), uncompressed layers, and Docker 25's OCI `docker save`. Each archive is
built here; the facts are checked against what the layers hold (users, files, diff_ids)."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
import zlib
from pathlib import Path

import pytest

from inspector.cli.commands import main
from inspector.layers import decompress
from inspector.layers.model import LayerError
from inspector.layers.stream import LayerStream
from tests.layertools import (
    diff_id,
    docker25_archive,
    estargz_layer,
    kaniko_archive,
    layer,
    oci_layout,
    tarball,
    zstd_bomb,
    zstd_layer,
)

ROOT = Path(__file__).resolve().parent.parent
PASSWD = b"root:x:0:0:root:/root:/bin/sh\napp:x:10001:10001::/home/app:/usr/sbin/nologin\n"
# Not compressible to nothing: a file spread over many gzip members and zstd blocks.
BIG = b"".join(b"%08d some python bytecode-ish text\n" % i for i in range(40_000))


def base_tar() -> bytes:
    return layer(("etc/", None), ("etc/passwd", PASSWD), ("etc/group", b"root:x:0:\n"))


def app_tar() -> bytes:
    return layer(
        ("app/", None),
        ("app/main.py", b"print('hi')\n"),
        ("app/data.bin", BIG),
        ("app/run", "->main.py"),
        ("app/empty", b""),
    )


def facts_of(ref: str, capsys: pytest.CaptureFixture[str]) -> dict:
    """The facts JSON of `ref`, which must be read with exit 0."""
    code = main(["facts", ref, "--no-probe", "--no-cache", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def refused(ref: str, capsys: pytest.CaptureFixture[str], *said: str) -> str:
    """Exit 2 with one line on stderr holding every one of `said`, never a traceback."""
    code = main(["facts", ref, "--no-probe", "--no-cache"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    for text in said:
        assert text in err, err
    return err


def assert_read(facts: dict, blobs: list[bytes], *, extra: int = 0) -> None:
    """The facts are those of base_tar() then app_tar(), whatever their compression (`extra`:
    entries each layer's format adds, as an eStargz TOC)."""
    assert [each["digest"] for each in facts["layers"]] == [diff_id(blob) for blob in blobs]
    assert [user["name"] for user in facts["user"]["users"]] == ["root", "app"]
    assert facts["user"]["name"] == "app"
    assert facts["user"]["resolved_uid"] == 10001
    # etc/, passwd, group; app/ and its four entries.
    assert [each["files"] for each in facts["layers"]] == [3 + extra, 5 + extra]
    assert facts["fs"]["visible_bytes"] >= len(BIG) + len(PASSWD)


def members_of(archive: bytes) -> list[tuple[str, bytes]]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar]  # type: ignore[union-attr]


def swapped(archive: bytes, blob: bytes, other: bytes) -> bytes:
    """`archive` with the member holding `blob` holding `other` (the config is unchanged)."""
    return tarball([(name, other if data == blob else data) for name, data in members_of(archive)])


def write(tmp_path: Path, data: bytes, prefix: str = "docker-archive") -> str:
    path = tmp_path / "image.tar"
    path.write_bytes(data)
    return f"{prefix}:{path}"


def write_dir(tmp_path: Path, files: dict[str, bytes]) -> str:
    root = tmp_path / "layout"
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return f"oci:{root}"


# --- kaniko (go-containerregistry's tarball) ---------------------------------------------------


@pytest.mark.parametrize("manifest_first", [False, True], ids=["manifest-last", "manifest-first"])
def test_a_kaniko_archive_reads(tmp_path, capsys, manifest_first):
    """Config `sha256:<hex>` without .json and gzip layers `<hex>.tar.gz` (named by the
    compressed blob's digest, not the diff_id): the users, files and diff_ids are the layers'."""
    blobs = [gzip.compress(base_tar()), gzip.compress(app_tar())]
    archive = kaniko_archive(blobs, manifest_first=manifest_first)
    names = [name for name, _ in members_of(archive)]
    assert any(name.startswith("sha256:") and not name.endswith(".json") for name in names)
    assert sum(name.endswith(".tar.gz") for name in names) == 2
    facts = facts_of(write(tmp_path, archive), capsys)
    assert_read(facts, blobs)
    assert facts["image"]["tags"] == ["registry.test/app:1"]


def test_a_kaniko_archive_of_uncompressed_layers_reads(tmp_path, capsys):
    """go-containerregistry's uncompressed variant: layers `<hex>.tar` at the top."""
    blobs = [base_tar(), app_tar()]
    assert_read(facts_of(write(tmp_path, kaniko_archive(blobs)), capsys), blobs)


def test_a_kaniko_archive_with_a_wrong_layer_names_it(tmp_path, capsys):
    """A kaniko archive whose second layer is not the one the config names: exit 2, one line
    naming the missing diff_id."""
    blobs = [gzip.compress(base_tar()), gzip.compress(app_tar())]
    archive = swapped(kaniko_archive(blobs), blobs[1], gzip.compress(layer(("other", b"x"))))
    refused(write(tmp_path, archive), capsys, "1 layer(s)", diff_id(blobs[1]))


def test_tags_that_are_not_strings_name_nothing(tmp_path, capsys):
    """A manifest.json whose RepoTags hold numbers and objects among strings (found by the
    hostile-input suite: the text report crashed on them): only the strings are tags."""
    blob = gzip.compress(base_tar())
    members = members_of(kaniko_archive([blob]))
    manifest = json.loads(dict(members)["manifest.json"])
    manifest[0]["RepoTags"] = ["a/b:1", 7, {"x": 1}, None, "", "c/d:2"]
    archive = tarball([(n, json.dumps(manifest).encode() if n == "manifest.json" else d)
                       for n, d in members])  # fmt: skip
    ref = write(tmp_path, archive)
    assert facts_of(ref, capsys)["image"]["tags"] == ["a/b:1", "c/d:2"]
    assert main(["facts", ref, "--no-probe", "--no-cache"]) == 0
    assert "a/b:1, c/d:2" in capsys.readouterr().out


# --- eStargz and multi-member gzip -------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["docker-archive", "oci-archive"])
def test_an_estargz_layer_reads_as_its_tar(tmp_path, capsys, prefix):
    """An eStargz layer (a gzip member per entry and per 64 KiB chunk of a file, the TOC member,
    the 51-byte footer with its extra field) is the tar it holds, TOC entry included, as an
    extension-agnostic engine reads it."""
    blobs = [estargz_layer(base_tar(), chunk=64 << 10), estargz_layer(app_tar(), chunk=64 << 10)]
    assert blobs[1].count(b"\x1f\x8b\x08") >= len(BIG) // (64 << 10) + 3
    assert blobs[1][-51:].startswith(b"\x1f\x8b\x08\x04")  # the footer
    if prefix == "docker-archive":
        archive = kaniko_archive(blobs)
    else:
        archive = tarball(list(oci_layout(blobs).items()))
    facts = facts_of(write(tmp_path, archive, prefix), capsys)
    assert_read(facts, blobs, extra=1)  # the TOC is a file of the layer, as engines unpack it


def test_a_pigz_like_stream_of_many_members_reads(tmp_path, capsys):
    """A layer cut into 1,000-byte gzip members (cuts inside tar headers and data): one tar."""
    raw = app_tar()
    split = b"".join(gzip.compress(raw[i : i + 1000]) for i in range(0, len(raw), 1000))
    blobs = [gzip.compress(base_tar()), split]
    assert_read(facts_of(write(tmp_path, kaniko_archive(blobs)), capsys), blobs)


# --- zstd --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frames", "skippable"), [(1, False), (7, False), (3, True)],
    ids=["one-frame", "seven-frames", "skippable-frames"],
)  # fmt: skip
@pytest.mark.parametrize("prefix", ["docker-archive", "oci-archive", "oci"])
def test_a_zstd_layer_reads(tmp_path, capsys, frames, skippable, prefix):
    """zstd layers (media type tar+zstd in OCI layouts, told by their magic bytes wherever
    they are): one frame, several, and skippable frames before, between and after them."""
    blobs = [zstd_layer(base_tar()), zstd_layer(app_tar(), frames=frames, skippable=skippable)]
    if skippable:
        assert blobs[1][:4] == b"\x50\x2a\x4d\x18"  # a skippable frame first
    if prefix == "docker-archive":
        ref = write(tmp_path, kaniko_archive(blobs))
    elif prefix == "oci-archive":
        ref = write(tmp_path, tarball(list(oci_layout(blobs).items())), prefix)
    else:
        layout = oci_layout(blobs)
        assert b"tar+zstd" in b"".join(layout.values())
        ref = write_dir(tmp_path, layout)
    assert_read(facts_of(ref, capsys), blobs)


def test_a_mixed_image_of_gzip_zstd_and_plain_layers_reads(tmp_path, capsys):
    """One image whose layers are compressed differently (a zstd layer on a gzip base)."""
    blobs = [gzip.compress(base_tar()), zstd_layer(app_tar()), layer(("srv/x", b"y"))]
    facts = facts_of(write(tmp_path, tarball(list(oci_layout(blobs).items())), "oci-archive"),
                     capsys)  # fmt: skip
    assert [each["digest"] for each in facts["layers"]] == [diff_id(blob) for blob in blobs]


@pytest.mark.parametrize(
    ("damage", "said"),
    [(lambda blob: blob[:-9], "truncated"), (lambda blob: blob + bytes(64), "corrupt zstd"),
     (lambda blob: blob[:200] + bytes(64) + blob[264:], "corrupt zstd"),
     (lambda blob: blob + b"\x28\xb5\x2f\xfd\x00", "truncated")],
    ids=["cut-short", "trailing-zeros", "overwritten", "a-frame-header-only"],
)  # fmt: skip
def test_a_damaged_zstd_layer_is_one_line(tmp_path, capsys, damage, said):
    """A zstd layer cut short, run on, or overwritten: exit 2, one line, never a traceback."""
    blob = zstd_layer(app_tar(), frames=3)
    archive = swapped(kaniko_archive([blob]), blob, damage(blob))
    refused(write(tmp_path, archive), capsys, said)


def test_a_zstd_bomb_stops_at_the_layer_limit_in_bounded_memory(tmp_path):
    """256 GiB of zeros in 8 MiB of RLE blocks: exit 2 at a 64 MiB layer limit, naming it, in a
    child under a 1 GiB address space (an unbounded reader would hash 256 GiB: many minutes)."""
    bomb = zstd_bomb("etc/passwd", 256 << 30)
    archive = tarball([("layer.tar.zst", bomb)])
    manifest = [{"Config": "c.json", "Layers": ["layer.tar.zst"]}]
    config = {"rootfs": {"type": "layers", "diff_ids": ["sha256:" + "0" * 64]}}
    archive = tarball([
        ("layer.tar.zst", bomb), ("c.json", json.dumps(config).encode()),
        ("manifest.json", json.dumps(manifest).encode()),
    ])  # fmt: skip
    path = tmp_path / "bomb.tar"
    path.write_bytes(archive)

    def limit() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    result = subprocess.run(
        [sys.executable, "-m", "inspector", "facts", f"docker-archive:{path}", "--no-probe",
         "--no-cache"],
        capture_output=True, text=True, preexec_fn=limit, timeout=300, cwd=ROOT,
        env={**os.environ, "INSPECTOR_MAX_LAYER_SIZE": "64MiB",
             "INSPECTOR_CACHE_DIR": str(tmp_path / "cache")},
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr[-2000:]
    assert "MAX_LAYER_SIZE" in result.stderr


# --- uncompressed layers and Docker 25's docker save -------------------------------------------


@pytest.mark.parametrize("prefix", ["docker-archive", "oci-archive"])
def test_docker_25_oci_docker_save_reads(tmp_path, capsys, prefix):
    """Docker 25+'s `docker save`: an OCI layout (uncompressed layer blobs named by their
    diff_id) plus manifest.json and repositories; read as either kind of archive."""
    blobs = [base_tar(), app_tar()]
    archive = docker25_archive(blobs)
    names = [name for name, _ in members_of(archive)]
    assert {"index.json", "oci-layout", "manifest.json", "repositories"} <= set(names)
    facts = facts_of(write(tmp_path, archive, prefix), capsys)
    assert_read(facts, blobs)
    assert facts["image"]["tags"] == ["registry.test/app:1"]


@pytest.mark.parametrize("prefix", ["oci-archive", "oci"])
def test_uncompressed_layers_in_an_oci_layout_read(tmp_path, capsys, prefix):
    """Plain tar layers (media type ...layer.v1.tar) in an OCI layout, archived or a folder."""
    blobs = [base_tar(), app_tar()]
    layout = oci_layout(blobs)
    if prefix == "oci":
        ref = write_dir(tmp_path, layout)
    else:
        ref = write(tmp_path, tarball(list(layout.items())), prefix)
    assert_read(facts_of(ref, capsys), blobs)


# --- the fast gzip and its fallback ------------------------------------------------------------


def read_all(blob: bytes) -> tuple[bytes, str]:
    stream = LayerStream(io.BytesIO(blob))
    data = stream.read()
    return data, stream.hash.hexdigest()  # type: ignore[union-attr]


def test_the_fast_gzip_and_the_standard_library_give_identical_bytes(monkeypatch):
    """The bytes and digest of eStargz, multi-member and plain gzip layers are the same through
    ISA-L and through zlib (the fallback, forced), and equal gzip.decompress's."""
    assert decompress.GUNZIP is not zlib.decompressobj, "isal is a dependency: it must load"
    noise = os.urandom(3 << 20)  # incompressible: stored blocks, many raw chunks
    blobs = [
        estargz_layer(app_tar(), chunk=64 << 10),
        gzip.compress(layer(("noise", noise), ("big", BIG * 20)), compresslevel=6),
        b"".join(gzip.compress(BIG[i : i + 4096]) for i in range(0, len(BIG), 4096)),
        # Members of more than CHUNK each: one ends inside an output-limited inflate call.
        b"".join(gzip.compress(data, 1) for data in (BIG * 2, noise, BIG * 3)),
    ]
    fast = [read_all(blob) for blob in blobs]
    monkeypatch.setattr(decompress, "GUNZIP", zlib.decompressobj)
    monkeypatch.setattr(decompress, "GZIP_ERRORS", (zlib.error,))
    slow = [read_all(blob) for blob in blobs]
    assert fast == slow
    assert [data for data, _ in fast] == [gzip.decompress(blob) for blob in blobs]


@pytest.mark.parametrize("fallback", [False, True], ids=["isal", "zlib"])
@pytest.mark.parametrize(
    ("damage", "said"),
    [(lambda blob: blob[:-100], "truncated"),
     (lambda blob: blob + b"\x1f\x8b\x09" + bytes(20), "corrupt"),  # method 9: no such
     (lambda blob: blob[:5000] + bytes(100) + blob[5100:], "corrupt")],
    ids=["cut-short", "junk-member", "overwritten"],
)  # fmt: skip
def test_both_gzip_paths_refuse_damage_alike(monkeypatch, fallback, damage, said):
    """A damaged gzip layer fails the same way through ISA-L and zlib (a LayerError), junk
    after a member that ends inside an output-limited inflate call included (zlib then holds
    the junk twice; re-inflating it looped forever)."""

    if fallback:
        monkeypatch.setattr(decompress, "GUNZIP", zlib.decompressobj)
        monkeypatch.setattr(decompress, "GZIP_ERRORS", (zlib.error,))
    blob = damage(gzip.compress(layer(("noise", os.urandom(20_000)), ("big", BIG))))
    with pytest.raises(LayerError, match=said):
        read_all(blob)


def test_the_zstd_frame_walker_tells_whole_streams_from_cut_ones():
    """Fed in pieces of any size (1 byte to 1 MiB), a stream of checksummed frames and a
    skippable frame is complete; cut anywhere but at a frame's start, it is not."""
    import struct

    import zstandard

    squeeze = zstandard.ZstdCompressor(level=3, write_checksum=True)
    frames = [squeeze.compress(os.urandom(3000) + bytes(300_000)) for _ in range(3)]
    frames.append(struct.pack("<II", 0x184D2A5A, 10) + bytes(10))
    data = b"".join(frames)
    starts = {sum(len(f) for f in frames[:i]) for i in range(len(frames) + 1)}
    for piece in (1, 2, 3, 5, 7, 100, 4096, 1 << 20):
        walker = decompress.Frames()
        for at in range(0, len(data), piece):
            walker.feed(data[at : at + piece])
        assert walker.complete, piece
    for cut in range(1, len(data), 997):
        walker = decompress.Frames()
        walker.feed(data[:cut])
        assert walker.complete == (cut in starts), cut


def test_a_zstd_stream_of_tiny_blocks_reads():
    """A frame of 100,000 one-byte raw blocks (legal, if odd) is its 100,000 bytes."""
    import struct

    def block(last: int, size: int) -> bytes:
        return struct.pack("<I", last | size << 3)[:3]

    payload = bytes(range(256)) * 400
    blob = b"\x28\xb5\x2f\xfd\x00" + bytes([7 << 3])
    blob += b"".join(block(0, 1) + payload[i : i + 1] for i in range(len(payload) - 1))
    blob += block(1, 1) + payload[-1:]
    assert read_all(blob)[0] == payload
    with pytest.raises(LayerError, match="truncated"):
        read_all(blob[:-2])
