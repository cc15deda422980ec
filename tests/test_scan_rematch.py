"""Re-matching with real parts: the `good` fixture (a real Debian base, real wheels in a venv)
pushed to a loopback Distribution registry, scanned, the advisory database updated with OSV
exports the test writes (`import_from`), and scanned again: the unchanged image gains a new
vulnerability finding, then reports it fixed once the advisory is withdrawn, and the registry's
access log shows not one blob fetched after the first scan. On SQLite and on PostgreSQL."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from inspector.cli.commands import main
from tests.conftest import fixture_image
from tests.postgres import postgres_server, postgres_url  # noqa: F401 - fixtures
from tests.registry import blob_gets, push_image, running_registry
from tests.test_scan import _needs_registry

# requests 2.32.3 is in the fixture's venv (fixtures/requirements.txt); this is the real advisory
# for it (fixed in 2.32.4), as OSV's PyPI export writes it, trimmed to what matching reads.
REQUESTS_ADVISORY = {
    "schema_version": "1.6.0",
    "id": "GHSA-9hjg-9r4m-mvj7",
    "modified": "2026-12-06T10:00:00Z",
    "published": "2025-06-09T19:06:08Z",
    "aliases": ["CVE-2024-47081"],
    "summary": "Requests vulnerable to .netrc credentials leak via malicious URLs",
    "affected": [{
        "package": {"ecosystem": "PyPI", "name": "requests", "purl": "pkg:pypi/requests"},
        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.32.4"}]}],
    }],
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:N/A:N"}],
    "references": [{"type": "ADVISORY", "url": "https://github.example/advisories/GHSA-9hjg"}],
    "database_specific": {"severity": "MODERATE"},
}  # fmt: skip
# Known from the start: rich's advisory is fixed below the installed 13.9.4, so nothing matches.
RICH_ADVISORY = {
    "schema_version": "1.6.0",
    "id": "PYSEC-2026-9001",
    "modified": "2026-11-01T00:00:00Z",
    "published": "2026-11-01T00:00:00Z",
    "aliases": [],
    "summary": "an old flaw in rich",
    "affected": [{
        "package": {"ecosystem": "PyPI", "name": "rich"},
        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "10.0.0"}]}],
    }],
}  # fmt: skip


def _export(directory: Path, records: list[dict]) -> Path:
    """An OSV export directory as OSV lays it out: PyPI/all.zip, one JSON file per record."""
    (directory / "PyPI").mkdir(parents=True)
    with zipfile.ZipFile(directory / "PyPI" / "all.zip", "w") as archive:
        for record in records:
            archive.writestr(f"{record['id']}.json", json.dumps(record))
    return directory


def _import(url: str, directory: Path) -> None:
    from inspector.advisories.fetch import import_from
    from inspector.advisories.store import AdvisoryStore

    store = AdvisoryStore(url)
    try:
        import_from(store, directory)
    finally:
        close = getattr(store, "close", None)
        if close:
            close()


@pytest.fixture(scope="module")
def good_image(docker_client) -> tuple[bytes, list[bytes]]:
    """The `good` fixture's config and layers, as `docker save` hands them out."""
    data = b"".join(docker_client.images.get(fixture_image("good")).save(named=False))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))[0]  # type: ignore[arg-type]
        config = tar.extractfile(manifest["Config"]).read()  # type: ignore[union-attr]
        layers = [tar.extractfile(name).read() for name in manifest["Layers"]]  # type: ignore[union-attr]
    return config, layers


@pytest.fixture
def registry_with_good(good_image, tmp_path, request, monkeypatch):
    """A loopback registry holding the `good` fixture as t/good:1; its own cache and store."""
    _needs_registry(request)
    monkeypatch.setenv("INSPECTOR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("INSPECTOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.delenv("INSPECTOR_DB", raising=False)
    workdir = tmp_path / "registry"
    workdir.mkdir()
    config, layers = good_image
    with running_registry(workdir) as address:
        push_image(address, "t/good", "1", layers, config)
        yield address, workdir


def _scan(address: str, url: str, capsys, *args: str) -> tuple[int, dict]:
    code = main(["scan", f"registry:{address}", "--no-config", "--db", url, "--format", "json",
                 *args])  # fmt: skip
    captured = capsys.readouterr()
    assert captured.out.startswith("{"), captured.err
    return code, json.loads(captured.out)


def _about_requests(findings: list[dict]) -> list[dict]:
    return [f for f in findings if "CVE-2024-47081" in f["message"]]


@pytest.mark.docker
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_an_unchanged_image_gains_then_loses_a_vulnerability_without_a_blob_fetched(
    registry_with_good, backend, tmp_path, capsys, request
):
    """First scan: the database knows nothing of requests, no finding. After importing its real
    advisory: the unchanged image is matched again and reports it as new; after importing it
    withdrawn: fixed. Neither later scan fetches a blob; each run records the database it used."""
    address, workdir = registry_with_good
    if backend == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = str(tmp_path / "store" / "scans.sqlite")
    _import(url, _export(tmp_path / "export1", [RICH_ADVISORY]))
    _, first = _scan(address, url, capsys)
    (image,) = first["images"]
    assert image["status"] == "audited"
    assert image["vulnerabilities"]["status"] == "matched"
    assert _about_requests(image["findings"]) == []
    assert first["database"]["status"] == "current"
    blobs = len(blob_gets(workdir, "t/good"))
    assert blobs > 0

    _import(url, _export(tmp_path / "export2", [RICH_ADVISORY, REQUESTS_ADVISORY]))
    code, second = _scan(address, url, capsys, "--fail-on", "medium")
    (image,) = second["images"]
    assert image["status"] == "unchanged"
    assert image["vulnerabilities"]["rematched"] is True
    # The venv's requests, which the command imports, at the advisory's severity. pip's
    # vendored copy in the system dist-packages belongs to Debian's python3-pip, which is
    # judged through its Debian package (Debian backports fixes), not as PyPI's requests.
    new = {f["severity"]: f for f in _about_requests(image["new"])}
    assert sorted(new) == ["medium"]
    assert (
        "/opt/venv/lib/python3.11/site-packages/requests-2.32.3.dist-info" in new["medium"]["where"]
    )
    assert "requests==2.32.4" in new["medium"]["fix"]
    assert second["summary"]["rematched"] == 1
    assert second["summary"]["layers_read"] == 0
    counts = image["vulnerabilities"]["counts"]
    assert second["summary"]["vulnerabilities"] == sum(counts.values())
    assert counts["medium"] >= 1
    assert code == 1  # a new medium finding, gated at medium
    assert len(blob_gets(workdir, "t/good")) == blobs

    withdrawn = {**REQUESTS_ADVISORY, "withdrawn": "2026-12-07T09:00:00Z",
                 "modified": "2026-12-07T09:00:00Z"}  # fmt: skip
    _import(url, _export(tmp_path / "export3", [RICH_ADVISORY, withdrawn]))
    code, third = _scan(address, url, capsys, "--fail-on", "medium")
    (image,) = third["images"]
    assert image["status"] == "unchanged"
    assert _about_requests(image["findings"]) == []
    fixed = {f["fingerprint"] for f in _about_requests(image["fixed"])}
    assert fixed == {f["fingerprint"] for f in new.values()}
    assert code == 0
    assert len(blob_gets(workdir, "t/good")) == blobs

    # Nothing changed since: a fourth run matches nothing again and reports nothing new.
    _, fourth = _scan(address, url, capsys)
    assert fourth["summary"]["rematched"] == 0
    assert fourth["images"][0]["new"] == fourth["images"][0]["fixed"] == []
