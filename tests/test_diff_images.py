"""`inspector diff` on the real df-old/df-new pair: OLD read from a loopback Distribution
registry, NEW from the engine, as a release manager compares the release out there with the
build about to replace it."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import pytest

import inspector.facts.collect as collect_module
from inspector.cli.commands import main
from tests.conftest import fixture_image
from tests.registry import running_registry
from tests.test_diff_doc import problems

pytestmark = pytest.mark.docker

PLANTED = "dfPlanted7Qx2Lm9Vw4Rt8Zk3Np6Hy1Bc5"  # fixtures/df-new/Dockerfile's ENV
NEW = fixture_image("df-new")


@pytest.fixture(scope="module")
def old(docker_client, tmp_path_factory, request):
    """df-old pushed to a loopback registry, its registry tag removed from the engine: the
    reference `registry:HOST:PORT/df/api:1.0`."""
    if shutil.which("docker-registry") is None:
        message = "docker-registry is not installed (`make test` installs it as root on Debian)"
        if request.config.getoption("--require-docker"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with running_registry(tmp_path_factory.mktemp("df-registry")) as address:
        repo = f"{address}/df/api"
        image = docker_client.images.get(fixture_image("df-old"))
        image.tag(repo, "1.0")
        try:
            for line in docker_client.images.push(repo, "1.0", stream=True, decode=True):
                assert "error" not in line, line
        finally:
            docker_client.images.remove(f"{repo}:1.0")
        try:
            yield f"registry:{repo}:1.0"
        finally:
            for tag in docker_client.images.get(image.id).tags:
                if tag.startswith(address):
                    docker_client.images.remove(tag)


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    """A layer cache of the test's own, empty at the start."""
    monkeypatch.setenv("INSPECTOR_CACHE_DIR", str(tmp_path / "cache"))


def _diff(capsys, *args: str) -> tuple[int, dict, str]:
    code = main(["diff", *args, "--format", "json", "--no-vulns"])
    out, err = capsys.readouterr()
    assert PLANTED not in out + err
    return code, (json.loads(out) if out else {}), err


def test_registry_release_against_the_local_build(old, own_cache, capsys):
    """six upgraded in the command's venv, USER set, one layer more, SEC001 fixed and the
    planted key's SEC004 new: `new:high` fails the gate on exactly that, value never shown."""
    code, doc, err = _diff(capsys, old, NEW, "--fail-on", "new:high", "--warmup", "2",
                           "--grace", "3")  # fmt: skip
    assert code == 1, err
    assert problems(doc) == []
    assert doc["old"]["digest"].startswith(old.removeprefix("registry:").rsplit(":", 1)[0] + "@")
    six = [c for env in doc["packages"]["python"] for c in env["changes"] if c["name"] == "six"]
    assert six == [{"name": "six", "change": "upgraded", "old": "1.16.0", "new": "1.17.0"}]
    assert doc["packages"]["python"][0]["command"] is True
    user = [c for c in doc["config"]["changes"] if c["name"] == "USER"]
    assert user == [{"name": "USER", "change": "added", "old": None, "new": "10001:10001",
                     "hidden": False}]  # fmt: skip
    key = [c for c in doc["config"]["env"] if c["name"] == "PAYMENTS_API_KEY"]
    assert key == [{"name": "PAYMENTS_API_KEY", "change": "added", "old": None, "new": None,
                    "hidden": True}]  # fmt: skip
    added = [r for r in doc["size"]["layers"] if r["status"] == "added"]
    assert any("useradd" in (r["created_by"] or "") for r in added)
    assert doc["size"]["shared_layers"] >= 2  # the base's layers and tini's
    assert "SEC001" in {f["check"] for f in doc["findings"]["fixed"]}
    assert {f["check"] for f in doc["findings"]["new"] if f["severity"] in ("high", "critical")} \
        == {"SEC004"}  # fmt: skip
    assert doc["gate"]["verdict"].startswith("gate failed: new 1 ")
    assert doc["runtime"]["compared"] is False  # OLD was read from the registry, not pulled


def test_shared_layers_are_read_once(old, own_cache, capsys, monkeypatch):
    """From an empty cache, every layer is parsed once, counted at both of the collector's
    readers (a layer stream, the engine's stored layer): the engine's image is read first and
    the registry's second, which takes each layer they share from the cache, never fetching it."""
    seen: Counter = Counter()

    def counting(real):
        def counted(*args, **kwargs):
            layer_read = real(*args, **kwargs)
            seen[layer_read.diff_id] += 1
            return layer_read

        return counted

    for name in ("read_layer", "read_stored_layer"):
        monkeypatch.setattr(collect_module, name, counting(getattr(collect_module, name)))
    code, doc, err = _diff(capsys, old, NEW, "--no-probe")
    assert code == 0, err
    shared = {r["digest"] for r in doc["size"]["layers"] if r["status"] == "shared"}
    assert shared
    assert set(seen.values()) == {1}, seen
    assert set(seen) == {r["digest"] for r in doc["size"]["layers"]}
    assert doc["new"]["layers_read"] == doc["new"]["layers"]
    assert doc["old"]["layers_read"] == doc["old"]["layers"] - len(shared)


def test_runtime_facts_moved_when_both_are_probed(old, own_cache, capsys):
    """With --pull missing the registry image is probed too (the engine already holds that very
    image, so nothing is pulled): the app's effective UID moved from root to 10001."""
    code, doc, err = _diff(capsys, old, NEW, "--pull", "missing", "--warmup", "2", "--grace", "3")
    assert code == 0, err
    assert doc["runtime"]["compared"] is True
    moved = {c["name"]: (c["old"], c["new"]) for c in doc["runtime"]["changes"]}
    assert moved["effective_uid"] == ("0", "10001")
