"""Unit tests of reading a layer where the engine stores it (a diff directory and its tar-split),
on layers built in the test: the same `LayerRead` as the tar, and hostile storage refused."""

from __future__ import annotations

import gzip
import io
import json
import os

import pytest

from inspector.facts.collect import SCANNER, capture_rule
from inspector.layers.limits import LimitExceeded
from inspector.layers.reader import read_layer
from inspector.layers.stored import StoredLayerError, read_stored_layer
from inspector.sources.engine_storage import NotHere, chain_ids, engine_storage
from tests.layertools import layer
from tests.storedtools import replace_with_fifo, stored_layer, tar_split_records, write_tar_split

AWS_KEY = "AKIA" + "QYLPMN5HHHFPZAM2"  # a made-up key of the real shape, split so no scanner trips

MEMBERS = (
    ("etc/", None),
    ("etc/os-release", b"ID=debian\nVERSION_ID=12\n"),
    ("etc/passwd", b"root:x:0:0:root:/root:/bin/bash\napp:x:10001:10001::/srv:/bin/sh\n"),
    ("srv/", None, {"uid": 10001, "gid": 10001, "mtime": 1_700_000_000}),
    ("srv/settings.py", f'AWS_ACCESS_KEY_ID = "{AWS_KEY}"\n'.encode()),
    ("srv/big.bin", os.urandom(300_000)),
    ("srv/link", "->settings.py"),
    ("srv/same", "=>srv/settings.py"),
    ("srv/.wh.old", b""),
    ("srv/cache/", None),
    ("srv/cache/.wh..wh..opq", b""),
    ("usr/bin/ping", b"\x7fELF...", {"mode": 0o4755,
                                     "pax": {"SCHILY.xattr.security.capability": "\x01\x00"}}),
    ("x" * 150 + "/long-name", b"a long name needs a PAX header"),
    ("entrypoint.sh", b"#!/bin/sh\nexec python3 -m app\n", {"mode": 0o755}),
)  # fmt: skip


def both(tmp_path, members=MEMBERS):
    capture, _ = capture_rule()
    raw = layer(*members)
    stored = stored_layer(tmp_path, raw)
    return read_layer(io.BytesIO(raw), capture, SCANNER), stored, capture


def test_a_stored_layer_reads_as_its_tar_field_by_field(tmp_path):
    """Entries, captured files, content hits, scanned bytes and the tar's size all equal the
    tar's, and the diff_id is the layer database's."""
    from_tar, stored, capture = both(tmp_path)
    from_storage = read_stored_layer(stored, capture, SCANNER)
    assert from_storage == from_tar
    assert from_tar.hits  # the comparison means something
    assert "/etc/passwd" in from_tar.contents


def test_file_data_is_read_only_where_analysers_ask(tmp_path):
    """A file nobody captures or scans is never opened: the big binary can be unreadable."""
    from_tar, stored, capture = both(tmp_path)
    (stored.diff_dir / "srv" / "big.bin").unlink()
    assert read_stored_layer(stored, capture, SCANNER) == from_tar


def test_a_fifo_where_a_file_was_recorded_is_refused_without_blocking(tmp_path):
    """A fifo in the diff directory in place of a scanned file fails the read (export instead),
    and the open does not wait for a writer."""
    _, stored, capture = both(tmp_path)
    replace_with_fifo(stored.diff_dir / "srv" / "settings.py")
    with pytest.raises(StoredLayerError, match="not the file the layer recorded"):
        read_stored_layer(stored, capture, SCANNER)


@pytest.mark.parametrize("target", ["etc", "/etc", "../../.."])
def test_a_symlinked_parent_is_never_followed(tmp_path, target):
    """A parent directory swapped for a symlink (a loop, out of the layer) is refused."""
    _, stored, capture = both(tmp_path)
    etc = stored.diff_dir / "etc"
    for name in os.listdir(etc):
        os.unlink(etc / name)
    etc.rmdir()
    os.symlink(target, etc)
    with pytest.raises(StoredLayerError, match="symlink"):
        read_stored_layer(stored, capture, SCANNER)


def test_a_missing_or_shorter_file_is_refused(tmp_path):
    """A captured file gone from the diff directory, or shorter than recorded, fails the read."""
    _, stored, capture = both(tmp_path)
    (stored.diff_dir / "etc" / "passwd").write_bytes(b"root:x:0:0\n")
    with pytest.raises(StoredLayerError):
        read_stored_layer(stored, capture, SCANNER)
    (stored.diff_dir / "etc" / "passwd").unlink()
    with pytest.raises(StoredLayerError, match="cannot open"):
        read_stored_layer(stored, capture, SCANNER)


def test_a_corrupt_or_oversized_tar_split_is_refused(tmp_path):
    """Garbage, an unknown record type and a record line past 4 MiB fail the read cleanly."""
    _, stored, capture = both(tmp_path)
    assert stored.tar_split is not None
    stored.tar_split.write_bytes(b"not gzip")
    with pytest.raises(StoredLayerError):
        read_stored_layer(stored, capture, SCANNER)
    write_tar_split(stored.tar_split, [{"type": 9}])
    with pytest.raises(StoredLayerError, match="corrupt"):
        read_stored_layer(stored, capture, SCANNER)
    stored.tar_split.write_bytes(gzip.compress(b'{"type":2,"payload":"' + b"A" * (5 << 20)))
    with pytest.raises(StoredLayerError, match="4 MiB"):
        read_stored_layer(stored, capture, SCANNER)


def test_the_entry_limit_holds_for_stored_layers(tmp_path, monkeypatch):
    """A stored layer with more members than INSPECTOR_MAX_ENTRIES stops at the limit."""
    _, stored, capture = both(tmp_path)
    monkeypatch.setenv("INSPECTOR_MAX_ENTRIES", "5")
    with pytest.raises(LimitExceeded):
        read_stored_layer(stored, capture, SCANNER)


def test_tar_split_records_cover_every_byte(tmp_path):
    """The test's tar-split writer loses nothing: segments plus file sizes are the tar."""
    raw = layer(*MEMBERS)
    records = tar_split_records(raw)
    assert sum(r.get("size", 0) for r in records) + sum(
        len(__import__("base64").b64decode(r["payload"])) for r in records if r["type"] == 2
    ) == len(raw)
    assert json.dumps(records)


def test_chain_ids_follow_the_oci_spec():
    """ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256 of "ChainID(Ln-1) DiffID(Ln)"."""
    import hashlib

    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    assert chain_ids([a, b]) == [a, "sha256:" + hashlib.sha256(f"{a} {b}".encode()).hexdigest()]


@pytest.mark.parametrize(
    ("base_url", "info", "why"),
    [("tcp://10.0.0.1:2375", {"Driver": "overlay2"}, "not local"),
     ("ssh://build@host.example", {"Driver": "overlay2"}, "not local"),
     ("unix:///run/docker.sock", {"Driver": "btrfs"}, "btrfs, not overlay2"),
     ("unix:///run/docker.sock", {"Driver": "overlayfs", "DriverStatus": [
         ["driver-type", "io.containerd.snapshotter.v1"]]}, "containerd"),
     ("unix:///run/docker.sock", {"Driver": "overlay2", "SecurityOptions": ["name=rootless"]},
      "rootless")],
)  # fmt: skip
def test_engines_whose_storage_is_not_read_say_why(base_url, info, why):
    """A remote engine, another driver, containerd's store or a rootless engine: NotHere, why."""
    with pytest.raises(NotHere, match=why):
        engine_storage(base_url, info)


def test_an_unreadable_data_root_says_so(tmp_path):
    """A data-root without a readable layer database is refused, naming it."""
    info = {"Driver": "overlay2", "DockerRootDir": str(tmp_path / "nowhere")}
    with pytest.raises(NotHere, match="not readable"):
        engine_storage("unix:///run/docker.sock", info)


def data_root(tmp_path, layers: list[bytes]):  # type: ignore[no-untyped-def]
    """A Docker data-root laid out as overlay2 keeps it: an image config under its ID, a layer
    database entry per chain ID (diff, cache-id, tar-split) and each layer's diff directory."""
    import hashlib

    root = tmp_path / "docker"
    diff_ids = ["sha256:" + hashlib.sha256(raw).hexdigest() for raw in layers]
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()  # fmt: skip
    image_id = "sha256:" + hashlib.sha256(config).hexdigest()
    content = root / "image" / "overlay2" / "imagedb" / "content" / "sha256"
    content.mkdir(parents=True)
    (content / image_id[7:]).write_bytes(config)
    for position, (raw, chain_id) in enumerate(zip(layers, chain_ids(diff_ids), strict=True)):
        entry = root / "image" / "overlay2" / "layerdb" / "sha256" / chain_id[7:]
        entry.mkdir(parents=True)
        cache_id = f"cache{position}"
        (tmp_path / cache_id).mkdir()
        stored = stored_layer(tmp_path / cache_id, raw)
        (root / "overlay2" / cache_id).mkdir(parents=True)
        stored.diff_dir.rename(root / "overlay2" / cache_id / "diff")
        assert stored.tar_split is not None
        stored.tar_split.rename(entry / "tar-split.json.gz")
        (entry / "diff").write_text(diff_ids[position])
        (entry / "cache-id").write_text(cache_id)
    return root, image_id, diff_ids, config


INFO_OVERLAY2 = {"Driver": "overlay2"}


def read_root(root, image_id, diff_ids, known=None):  # type: ignore[no-untyped-def]
    from inspector.sources.archive import Known
    from inspector.sources.engine_storage import read_from_storage

    capture, _ = capture_rule()
    info = {**INFO_OVERLAY2, "DockerRootDir": str(root)}
    return read_from_storage("unix:///run/docker.sock", lambda: info, image_id, diff_ids,
                             lambda layer: read_stored_layer(layer, capture, SCANNER),
                             known or Known())  # fmt: skip


def test_a_data_root_is_found_by_content_address_and_read(tmp_path):
    """The config under the image ID and each layer under its chain ID are read, each layer's
    LayerRead equal to its tar's; a layer the cache knows is not read."""
    from inspector.sources.archive import Known

    first, second = layer(*MEMBERS[:4]), layer(*MEMBERS[4:])
    root, image_id, diff_ids, config = data_root(tmp_path, [first, second])
    got_config, layers = read_root(root, image_id, diff_ids)
    capture, _ = capture_rule()
    assert got_config == config
    assert layers[diff_ids[1]] == read_layer(io.BytesIO(second), capture, SCANNER)
    _, fewer = read_root(root, image_id, diff_ids, Known(contains=lambda d: d == diff_ids[0]))
    assert list(fewer) == [diff_ids[1]]


def test_a_data_root_that_does_not_match_the_image_says_why(tmp_path):
    """A config that is not the image's, a layer entry naming another diff_id, a missing layer
    directory and an unreadable file each give NotHere with the reason (the export is used)."""
    import shutil

    root, image_id, diff_ids, config = data_root(
        tmp_path, [layer(*MEMBERS[:4]), layer(*MEMBERS[4:])]
    )
    content = root / "image" / "overlay2" / "imagedb" / "content" / "sha256" / image_id[7:]
    content.write_bytes(config + b" ")
    with pytest.raises(NotHere, match="not this image's"):
        read_root(root, image_id, diff_ids)
    content.write_bytes(config)
    chain = chain_ids(diff_ids)[1][7:]
    entry = root / "image" / "overlay2" / "layerdb" / "sha256" / chain
    (entry / "diff").write_text(diff_ids[0])
    with pytest.raises(NotHere, match="layer 2's database entry"):
        read_root(root, image_id, diff_ids)
    (entry / "diff").write_text(diff_ids[1])
    passwd = root / "overlay2" / "cache0" / "diff" / "etc" / "passwd"
    passwd.unlink()
    with pytest.raises(NotHere, match="layer 1 could not be read"):
        read_root(root, image_id, diff_ids)
    shutil.rmtree(root / "overlay2" / "cache1")
    with pytest.raises(NotHere, match="layer 2's directory"):
        read_root(root, image_id, diff_ids)


def test_a_data_root_reached_through_a_symlink_reads_as_usual(tmp_path):
    """A diff directory whose path runs through a symlink (a data-root moved to another disk)
    is read, not refused: only symlinks inside the layer are refused."""
    import dataclasses

    from_tar, stored, capture = both(tmp_path)
    os.symlink(tmp_path, tmp_path.parent / (tmp_path.name + "-link"))
    linked = tmp_path.parent / (tmp_path.name + "-link") / "diff"
    assert (
        read_stored_layer(dataclasses.replace(stored, diff_dir=linked), capture, SCANNER)
        == from_tar
    )
