"""The digest to deploy: a registry image named by `latest` is recorded by its manifest digest
in the notice, JSON, SARIF and JUnit, never by its config ID (a loopback registry, no engine)."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET

import pytest

from inspector.cli.commands import main
from tests.layertools import image_archive
from tests.registry import push_image, running_registry
from tests.test_registry_source import APP, BASE, _archive_parts, _needs_registry


@pytest.fixture(scope="module")
def latest(tmp_path_factory, request):
    """t/app:latest on a loopback registry: (reference, HOST/REPO@manifest digest, config ID)."""
    _needs_registry(request)
    workdir = tmp_path_factory.mktemp("registry")
    config, layers = _archive_parts(image_archive([BASE, APP]))
    with running_registry(workdir) as address:
        digest, _ = push_image(address, "t/app", "latest", layers, config)
        yield (f"registry:{address}/t/app:latest", f"{address}/t/app@{digest}",
               "sha256:" + hashlib.sha256(config).hexdigest())  # fmt: skip


def test_every_record_names_the_manifest_digest_not_the_config_id(latest, tmp_path, capsys):
    """`audit registry:HOST/t/app:latest`: the notice says to deploy HOST/t/app@sha256:<manifest>
    and JSON, SARIF and JUnit carry that digest."""
    reference, pinned, config_id = latest
    paths = {fmt: tmp_path / f"r.{fmt}" for fmt in ("json", "sarif", "junit")}
    args = [arg for fmt, path in paths.items() for arg in ("-o", f"{fmt}={path}")]
    assert main(["audit", reference, "--no-config", "--no-probe", "--no-vulns", *args]) in (0, 1)
    capsys.readouterr()
    image = json.loads(paths["json"].read_text())["images"][0]
    assert image["digest"] == pinned
    [notice] = [n for n in image["notices"] if "moves with every push" in n]
    assert f"what was audited is {pinned}; deploy that digest" in notice
    assert config_id not in notice
    sarif = json.loads(paths["sarif"].read_text())
    assert sarif["runs"][0]["properties"]["images"][0]["digest"] == pinned
    notes = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert any(pinned in n["message"]["text"] for n in notes)
    junit = ET.fromstring(paths["junit"].read_text())
    props = {p.get("name"): p.get("value") for p in junit.iter("property")}
    assert props["image.digest"] == pinned
    assert pinned in "".join(junit.itertext())
