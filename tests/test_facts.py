"""Facts of the real fixture images, checked against values computed independently."""

from __future__ import annotations

import json
import tarfile

import pytest

from inspector.facts.collect import collect
from inspector.layers.overlay import merge
from inspector.layers.reader import read_layer
from inspector.sources import load, parse_reference
from inspector.sources.archive import Known
from tests.conftest import SESSION, TEST_LABEL, fixture_image

pytestmark = pytest.mark.docker

# Docker creates or mounts these in every container; export shows Docker's, not the image's.
CONTAINER_FILES = {".dockerenv", "dev/console", "etc/hostname", "etc/hosts", "etc/resolv.conf"}


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("layer-cache")


@pytest.fixture
def cache_dir(session_cache, monkeypatch):
    """A layer cache shared by this module's tests (never the user's own)."""
    monkeypatch.setenv("INSPECTOR_CACHE_DIR", str(session_cache))
    return session_cache


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """A layer cache of this test's own, empty at the start."""
    monkeypatch.setenv("INSPECTOR_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def exported_files(docker_client, ref: str, tmp_path) -> dict[str, int]:
    """Regular files and sizes of the image's filesystem, via `docker export` of a container."""
    container = docker_client.containers.create(
        ref, network_mode="none", labels={TEST_LABEL: SESSION}
    )
    try:
        archive = tmp_path / "export.tar"
        with open(archive, "wb") as out:
            for chunk in container.export():
                out.write(chunk)
    finally:
        container.remove(force=True)
    with tarfile.open(archive) as tar:
        # Of a hard-linked pair export may store either name as the file: count both as files.
        return {m.name: m.size for m in tar if (m.isfile() or m.islnk())}


def visible_files(ref: str) -> dict[str, int]:
    """Our merged filesystem's files and hard links, with sizes (a hard link counts 0 bytes)."""
    loaded = load(parse_reference(ref), read_layer, Known())
    fs = merge([loaded.layers[d] for d in loaded.raw_config["rootfs"]["diff_ids"]])
    return {p: v.bytes for p, v in fs.visible.items() if v.entry.kind in ("file", "hardlink")}


@pytest.mark.parametrize("name", ["good", "naive", "cache-deleted"])
def test_visible_files_match_docker_export(name, docker_client, cache_dir, tmp_path):
    """The merged filesystem has exactly the regular files and bytes `docker export` shows."""
    facts = collect(fixture_image(name)).to_json()
    exported = exported_files(docker_client, fixture_image(name), tmp_path)
    mine = {p.lstrip("/"): size for p, size in visible_files(fixture_image(name)).items()}
    assert set(mine) - CONTAINER_FILES == set(exported) - CONTAINER_FILES
    assert facts["fs"]["visible_files"] == len(mine)
    ours = sum(size for path, size in mine.items() if path not in CONTAINER_FILES)
    assert ours == sum(size for path, size in exported.items() if path not in CONTAINER_FILES)


def test_daemon_and_saved_archive_give_identical_facts(image, cache_dir, tmp_path):
    """The same image read from the daemon and from its `docker save` archive has the same facts."""
    archive = tmp_path / "good.tar"
    with open(archive, "wb") as out:
        for chunk in image("good").save(named=True):
            out.write(chunk)
    from_daemon = collect(fixture_image("good"), use_cache=False).to_json()
    from_archive = collect(f"docker-archive:{archive}", use_cache=False).to_json()
    for doc in (from_daemon, from_archive):
        doc["image"].pop("reference")
        doc["image"].pop("source")
        doc["image"].pop("digest")
        doc["image"].pop("tags")
    assert from_daemon == from_archive


def test_second_look_reads_nothing_and_shared_base_is_not_read_again(empty_cache):
    """With a warm cache the same image is served without reading, a sibling reuses the base."""
    cold = collect(fixture_image("cache-deleted")).to_json()
    warm = collect(fixture_image("cache-deleted")).to_json()
    assert not any(layer["from_cache"] for layer in cold["layers"])
    assert all(layer["from_cache"] for layer in warm["layers"])
    sibling = collect(fixture_image("naive")).to_json()
    assert sibling["layers"][0]["from_cache"]  # the base layer
    assert sibling["layers"][0]["digest"] == cold["layers"][0]["digest"]
    cold.pop("layers")
    warm.pop("layers")
    assert cold == warm


def test_deleted_pip_cache_is_waste_naming_both_history_steps(cache_dir):
    """cache-deleted's pip cache is wasted bytes made by `pip install`, removed by the `rm` step."""
    facts = collect(fixture_image("cache-deleted")).to_json()
    top = facts["fs"]["waste"][0]
    assert "pip install" in top["created_by"]
    assert "rm -rf /root/.cache/pip" in top["removed_by"]
    assert top["how"] == "deleted"
    assert top["bytes"] > 500_000
    assert facts["fs"]["wasted_bytes"] >= top["bytes"]
    assert facts["layers"][top["layer"]]["wasted_bytes"] == top["bytes"]


def test_naive_facts_match_what_the_running_image_reports(run, cache_dir):
    """naive's OS, interpreter, distributions, pip cache bytes and UID match the running image."""
    facts = collect(fixture_image("naive")).to_json()
    ref = fixture_image("naive")
    os_release = dict(
        line.split("=", 1)
        for line in run(ref, ["cat", "/etc/os-release"]).output.split("\n")
        if "=" in line
    )
    assert facts["os"]["id"] == os_release["ID"]
    assert facts["os"]["version_id"] == os_release["VERSION_ID"].strip('"')
    assert facts["os"]["libc"] == "glibc"
    version = run(ref, ["python3", "-c", "import platform; print(platform.python_version())"])
    assert {"path": "/usr/bin/python3.11", "version": version.output.strip()}.items() <= {
        "path": facts["python"]["interpreters"][0]["path"],
        "version": facts["python"]["interpreters"][0]["version"],
    }.items()
    listed = json.loads(run(ref, ["python3", "-m", "pip", "list", "--format", "json"]).output)
    ours = {(p["name"].lower(), p["version"]) for p in facts["python"]["packages"]}
    assert {(p["name"].lower(), p["version"]) for p in listed} <= ours
    sizes = run(ref, ["find", "/root/.cache/pip", "-type", "f", "-printf", "%s\\n"]).output.split()
    assert facts["caches"]["pip"]["visible_bytes"] == sum(int(s) for s in sizes)
    assert facts["caches"]["pip"]["deleted_bytes"] == 0
    assert facts["user"]["resolved_uid"] == int(run(ref, ["id", "-u"]).output)


def test_good_facts_match_what_the_running_image_reports(run, cache_dir):
    """good's UID, setuid files and (absent) caches and secrets equal what the image shows."""
    facts = collect(fixture_image("good")).to_json()
    ref = fixture_image("good")
    assert facts["user"]["resolved_uid"] == int(run(ref, ["id", "-u"]).output) == 10001
    found = run(
        ref, ["find", "/", "-xdev", "-type", "f", "-perm", "-4000"], user="0"
    ).output.split()
    assert sorted(f["path"] for f in facts["setuid"]) == sorted(found)
    assert facts["caches"]["pip"]["visible_bytes"] == facts["caches"]["pip"]["deleted_bytes"] == 0
    assert facts["secrets"] == []
    entry = facts["python"]["entrypoint_interpreter"]
    assert entry["venv"] == "/opt/venv"


def test_cache_deleted_pip_cache_is_deleted_bytes_equal_to_the_layer_contents(
    image, cache_dir, tmp_path
):
    """cache-deleted's deleted pip cache bytes equal the pip files its saved layer holds."""
    from tests.test_fixtures import saved_layers

    facts = collect(fixture_image("cache-deleted")).to_json()
    in_layers = sum(
        m.size
        for layer in saved_layers(image("cache-deleted"), tmp_path)
        for m in layer
        if m.isfile() and m.name.startswith("root/.cache/pip/")
    )
    assert facts["caches"]["pip"]["visible_bytes"] == 0
    assert facts["caches"]["pip"]["deleted_bytes"] == in_layers
    (row,) = facts["caches"]["pip"]["layers"]
    assert "pip install" in row["created_by"]
    assert "rm -rf /root/.cache/pip" in row["deleted_by"]
