"""The secrets-leaked fixture leaks what its Dockerfile says, and the secret checks report it.

The image itself is the evidence (history, layer tars); the facts and the checks must find every
leak, say where it is, and never repeat a value.
"""

from __future__ import annotations

import io
import json
import tarfile
from datetime import UTC, datetime

import pytest

from checks import catalog
from checks.engine import run_check
from checks.model import Context
from inspector.facts.collect import collect
from tests.conftest import FIXTURES, fixture_image

pytestmark = pytest.mark.docker

NAME = "secrets-leaked"
NETRC_PASSWORD = "fake-netrc-password-3c9d1e7a5b"
KEY_HEADER = "-----BEGIN OPENSSH PRIVATE KEY-----"


def api_token() -> str:
    """The ARG default the Dockerfile declares (the value the history records)."""
    for line in (FIXTURES / NAME / "Dockerfile").read_text().splitlines():
        if line.startswith("ARG API_TOKEN="):
            return line.split("=", 1)[1]
    raise AssertionError("the Dockerfile declares no API_TOKEN default")


@pytest.fixture(scope="module")
def facts(tmp_path_factory) -> dict:
    """The image's static facts, with a layer cache of this module's own."""
    mp = pytest.MonkeyPatch()
    mp.setenv("INSPECTOR_CACHE_DIR", str(tmp_path_factory.mktemp("layer-cache")))
    try:
        return collect(fixture_image(NAME)).to_json()
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def layer_files(docker_client) -> list[dict[str, bytes]]:
    """Every layer of the image as `docker save` hands it out: path -> content, per layer."""
    image = docker_client.images.get(fixture_image(NAME))
    layers = []
    with tarfile.open(fileobj=io.BytesIO(b"".join(image.save()))) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))
        for member in manifest[0]["Layers"]:
            with tarfile.open(fileobj=outer.extractfile(member)) as inner:
                layers.append({m.name: inner.extractfile(m).read() for m in inner if m.isfile()})
    return layers


def test_the_deleted_credentials_still_ship_in_a_layer(layer_files):
    """The .netrc and the key are deleted by whiteouts, yet an earlier layer holds both."""
    netrc = [files["root/.netrc"] for files in layer_files if "root/.netrc" in files]
    key = [files[p] for files in layer_files for p in files if p == "root/.ssh/id_ed25519"]
    assert netrc
    assert NETRC_PASSWORD.encode() in netrc[0]
    assert key
    assert key[0].startswith(KEY_HEADER.encode())
    assert len(key[0]) > 300
    whiteouts = {p for files in layer_files for p in files if "/.wh." in f"/{p}"}
    assert {"root/.wh..netrc", "root/.wh..ssh"} <= whiteouts


def test_the_history_records_the_build_argument(image):
    """`docker history` shows the API_TOKEN default on the RUN steps after the ARG."""
    steps = [h["CreatedBy"] for h in image(NAME).history()]
    assert sum(f"API_TOKEN={api_token()}" in s for s in steps) >= 2


def test_facts_find_both_files_and_the_build_argument_without_their_values(facts):
    """secrets[] has the deleted .netrc and key (with their remover) and API_TOKEN, no values."""
    files = {s["path"]: s for s in facts["secrets"] if s["where"] == "file"}
    assert files["/root/.netrc"]["kind"] == "netrc"
    assert files["/root/.ssh/id_ed25519"]["kind"] == "private-key"
    for secret in files.values():
        assert secret["deleted"]
        assert secret["removed_in"] > secret["layer"]
        assert "rm -rf /root/.netrc" in facts["layers"][secret["removed_in"]]["created_by"]
    history = [s for s in facts["secrets"] if s["where"] == "history"]
    assert {s["name"] for s in history} == {"API_TOKEN"}
    assert all(s["kind"] == "secret-variable" for s in history)
    text = json.dumps(facts)
    for value in (api_token(), NETRC_PASSWORD):
        assert value not in text


def test_secret_checks_report_each_leak_with_where_and_no_value(facts):
    """SEC005 and SEC006 fire with layer, step and deletion; SEC004 stays quiet; no value leaks."""
    checks = catalog()
    context = Context(now=datetime(2026, 11, 23, tzinfo=UTC))
    results = {
        cid: run_check(checks[cid], facts, context) for cid in ("SEC004", "SEC005", "SEC006")
    }
    assert results["SEC004"].status == "passed"
    history = results["SEC005"].findings
    assert len(history) == 1
    assert "API_TOKEN" in history[0].message
    files = {f.location.path: f for f in results["SEC006"].findings}
    assert set(files) == {"/root/.netrc", "/root/.ssh/id_ed25519"}
    for finding in files.values():
        assert finding.severity == "critical"
        assert "deleted in layer" in finding.message
        assert "RUN rm -rf" in finding.message
        assert finding.location.layer is not None
        assert finding.location.created_by
    shown = json.dumps([(f.message, f.location.describe()) for r in results.values()
                        for f in r.findings])  # fmt: skip
    for value in (api_token(), NETRC_PASSWORD):
        assert value not in shown
