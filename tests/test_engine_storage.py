"""Reading local images from the engine's overlay2 storage gives the facts the export gives, for
every fixture image, and falls back to the export (saying why) when it cannot be used.

Reads are shared: every distinct layer of all fixtures is read once from storage and once from a
single `docker save` of all of them, then each fixture's no-probe facts are built from each set
and compared field by field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import docker.utils
import pytest
from docker.constants import DEFAULT_UNIX_SOCKET

from inspector.facts.collect import SCANNER, build_facts, capture_rule, collect
from inspector.image.config import validate
from inspector.layers.model import LayerRead
from inspector.layers.reader import read_layer
from inspector.layers.stored import read_stored_layer
from inspector.probes.model import skipped
from inspector.sources.archive import ArchiveError, Known, Loaded, read_image_stream
from inspector.sources.engine_storage import read_from_storage
from tests.conftest import FIXTURES, fixture_image

pytestmark = pytest.mark.docker

NAMES = sorted(d.name for d in FIXTURES.iterdir() if (d / "Dockerfile").is_file())
# Facts fields allowed to differ between the two paths: none. The storage path replays each
# layer's recorded tar headers (tar-split), so even the tar-only metadata (mtimes, the hard
# link form, the tar's byte size) is the export's.
MAY_DIFFER: frozenset[str] = frozenset()


def _base_url() -> str:
    return docker.utils.kwargs_from_env().get("base_url") or DEFAULT_UNIX_SOCKET


@pytest.fixture(scope="module")
def both_ways(docker_client) -> dict[str, Any]:
    """Every fixture's config and distinct layers, read from storage and from one export."""
    capture, _ = capture_rule()
    images = {name: docker_client.images.get(fixture_image(name)) for name in NAMES}
    stored: dict[str, LayerRead] = {}
    configs: dict[str, bytes] = {}
    for name, image in images.items():
        config, layers = read_from_storage(
            _base_url(), docker_client.info, image.id, image.attrs["RootFS"]["Layers"],
            lambda layer: read_stored_layer(layer, capture, SCANNER),
            Known(contains=stored.__contains__),
        )  # fmt: skip
        stored.update(layers)
        configs[name] = config
    exported: dict[str, LayerRead] = {}

    def record(stream: Any) -> LayerRead:
        read = read_layer(stream, capture, SCANNER)
        exported[read.diff_id] = read
        return read

    # One `docker save` of every fixture writes each distinct layer once.
    api = docker_client.api
    ids = sorted({image.id for image in images.values()})
    response = api._get(api._url("/images/get"), params={"names": ids}, stream=True)
    api._raise_for_status(response)
    response.raw.decode_content = False
    with pytest.raises(ArchiveError, match="images"):  # it holds them all: expected
        read_image_stream(response.raw, record, Known(), trust_sizes=False)
    response.close()
    return {"images": images, "configs": configs, "stored": stored, "exported": exported}


def _facts(name: str, image: Any, config: bytes, layers: dict[str, LayerRead]) -> dict:
    raw = validate(json.loads(config))
    diff_ids = raw["rootfs"]["diff_ids"]
    loaded = Loaded(image.id, None, tuple(image.tags), raw, config, {})
    reads = [layers[d] for d in diff_ids]
    no_probe = lambda plan: skipped("no probes in this test")  # noqa: E731
    facts = build_facts(fixture_image(name), "daemon", loaded, reads, [False] * len(reads),
                        no_probe)  # fmt: skip
    return facts.to_json()


def _differences(a: Any, b: Any, path: str = "") -> Iterator[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            where = f"{path}.{key}" if path else key
            if where not in MAY_DIFFER:
                yield from _differences(a.get(key), b.get(key), where)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _differences(x, y, f"{path}[{index}]")
    elif a != b:
        yield f"{path}: storage {str(a)[:120]!r} != export {str(b)[:120]!r}"


@pytest.mark.parametrize("name", NAMES)
def test_every_layer_of_every_fixture_reads_the_same_both_ways(both_ways, name):
    """Each layer's LayerRead (entries, captures, hits, size, diff_id) and the config bytes are
    the export's (its config is the one the image ID hashes): everything facts are built from."""
    image = both_ways["images"][name]
    assert "sha256:" + hashlib.sha256(both_ways["configs"][name]).hexdigest() == image.id
    for diff_id in image.attrs["RootFS"]["Layers"]:
        stored, exported = both_ways["stored"][diff_id], both_ways["exported"][diff_id]
        for field in LayerRead.__dataclass_fields__:
            assert getattr(stored, field) == getattr(exported, field), (diff_id, field)


@pytest.mark.parametrize("name", NAMES)
def test_facts_from_storage_equal_facts_from_the_export(both_ways, name):
    """The no-probe facts of each fixture are the same field by field whichever way it is read."""
    image, config = both_ways["images"][name], both_ways["configs"][name]
    from_storage = _facts(name, image, config, both_ways["stored"])
    from_export = _facts(name, image, config, both_ways["exported"])
    assert list(_differences(from_storage, from_export)) == []


# Base images that reached the engine as tars made elsewhere (`docker import`, a pull): their
# members' order and which name of a hard-linked inode comes first are the tar's, which a walk
# of the directory cannot know; the tar's own root entry and padding are not on disk either.
BASES = ("inspector-fixture/base:bookworm", "python:3.12-slim")


def _base_layers(docker_client) -> set[str]:
    import docker.errors

    layers: set[str] = set()
    for name in BASES:
        try:
            layers.update(docker_client.images.get(name).attrs["RootFS"]["Layers"])
        except docker.errors.ImageNotFound:
            continue
    return layers


def _as_set(read: LayerRead) -> set[tuple]:
    """A layer's members with order, the root entry and hard-link roles left out."""
    targets = {e.link: e.path for e in read.entries if e.kind == "hardlink"}
    out = set()
    for e in read.entries:
        if e.path == "/":
            continue
        kind, size, link = e.kind, e.size, e.link
        if kind == "hardlink" or e.path in targets:
            kind, size, link = "linked", 0, None  # one of several names of one inode
        out.add((e.path, kind, size, e.mode, e.uid, e.gid, e.mtime, link, e.capability))
    return out


def _whiteout_times_aside(read: LayerRead) -> LayerRead:
    """The read with whiteouts' times zeroed: the engine makes each whiteout device when it
    unpacks the layer and keeps the tar's time nowhere else."""
    import dataclasses

    entries = tuple(dataclasses.replace(e, mtime=0) if e.kind == "whiteout" else e
                    for e in read.entries)  # fmt: skip
    return dataclasses.replace(read, entries=entries)


def test_walking_each_layer_directory_reads_as_the_recorded_tar(both_ways, docker_client):
    """With no tar-split, the directory walk gives each Docker-built layer's LayerRead as the
    tar has it but for whiteouts' times; on an imported base layer only member order, hard-link
    roles, the root entry and the tar's size (and so which name of a hard-linked file is
    captured) may differ too."""
    from inspector.layers.dirwalk import walk_layer
    from inspector.sources.engine_storage import engine_storage, stored_image

    capture, _ = capture_rule()
    root = engine_storage(_base_url(), docker_client.info())
    bases = _base_layers(docker_client)
    seen: set[str] = set()
    for image in both_ways["images"].values():
        stored = stored_image(root, image.id, image.attrs["RootFS"]["Layers"])
        for layer in stored.layers:
            if layer.diff_id in seen:
                continue
            seen.add(layer.diff_id)
            walked = walk_layer(layer, capture, SCANNER)
            recorded = both_ways["stored"][layer.diff_id]
            if layer.diff_id not in bases:
                assert _whiteout_times_aside(walked) == _whiteout_times_aside(recorded)
            else:
                assert _as_set(walked) == _as_set(recorded)
                assert set(walked.hits) == set(recorded.hits)


def test_collect_reads_storage_and_says_so(caplog):
    """`facts` of a local image reads its layers from storage (logged for --verbose)."""
    caplog.set_level("INFO", logger="inspector")
    collect(fixture_image("fp-storage-oddities"), use_cache=False)
    assert "read from the engine's overlay2 storage" in caplog.text


def test_the_export_is_used_when_asked_and_says_why(caplog, monkeypatch):
    """INSPECTOR_ENGINE_STORAGE=export exports the image, and --verbose's log says why."""
    caplog.set_level("INFO", logger="inspector")
    monkeypatch.setenv("INSPECTOR_ENGINE_STORAGE", "export")
    collect(fixture_image("fp-storage-oddities"), use_cache=False)
    assert "exported by the engine" in caplog.text
    assert "INSPECTOR_ENGINE_STORAGE" in caplog.text


def test_verbose_says_where_the_layers_came_from(capsys, monkeypatch):
    """`facts --verbose` says on stderr that the layers were read from storage, or why they were
    exported; without --verbose it says nothing of it."""
    from inspector.cli.commands import main

    ref = fixture_image("fp-storage-oddities")
    args = ["facts", "--no-probe", "--no-cache", "--no-vulns", "--format", "json", ref]
    assert main([*args, "--verbose"]) == 0
    assert (
        "inspector: layers: 4 of 4 read from the engine's overlay2 storage"
        in capsys.readouterr().err
    )
    monkeypatch.setenv("INSPECTOR_ENGINE_STORAGE", "export")
    assert main(["facts", "-v", *args[1:]]) == 0
    assert "exported by the engine (docker save)" in capsys.readouterr().err
    assert main(args) == 0
    assert "layers:" not in capsys.readouterr().err
