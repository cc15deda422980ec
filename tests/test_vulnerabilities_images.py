"""Known vulnerabilities end to end: the vu-layout fixture (real known-vulnerable wheels, Debian's
real packages) audited against a real advisory store filled by `import_from` from OSV exports
written for those packages' real versions; the same audit with no store, and with an old one."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from checks import catalog
from checks.model import Context
from inspector.advisories.fetch import import_from
from inspector.advisories.store import AdvisoryStore
from inspector.audit import AuditOptions, audit_one
from inspector.cli.commands import main
from inspector.facts.collect import collect
from inspector.facts.vulns import AdvisoryOptions
from inspector.report.model import ImageReport
from tests.conftest import fixture_image
from tests.osv_export import debian, pypi, write_export

pytestmark = pytest.mark.docker

VU = fixture_image("vu-layout")
VENV = "/app/.venv/lib/python3.11/site-packages"
CHECKS = [c for c in catalog().values() if c.id in ("SEC030", "SEC031")]

# Real advisories of the wheels vu-layout pins, with their real ids, aliases and CVSS vectors.
PYPI = [
    # requests: published twice (GHSA and PYSEC) under one CVE: one finding per place.
    pypi("GHSA-j8r2-6x86-q33q", "requests", "2.31.0",
         aliases=["CVE-2023-32681", "PYSEC-2023-74"],
         vector="CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N",
         summary="Unintended leak of Proxy-Authorization header in requests"),
    pypi("PYSEC-2023-74", "requests", "2.31.0", aliases=["CVE-2023-32681", "GHSA-j8r2-6x86-q33q"],
         vector=None, summary="Unintended leak of Proxy-Authorization header in requests"),
    pypi("GHSA-q2q7-5pp4-w6pg", "urllib3", "1.26.5", aliases=["CVE-2021-33503"],
         vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
         summary="Catastrophic backtracking in URL authority parser"),
    pypi("GHSA-h5c8-rqwp-cp95", "jinja2", "3.1.3", aliases=["CVE-2024-22195"],
         vector="CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:C/C:L/I:L/A:N",
         summary="Jinja vulnerable to HTML attribute injection when passing user input as keys"),
    pypi("GHSA-ffqj-6fqr-9h24", "pyjwt", "2.4.0", aliases=["CVE-2022-29217"],
         vector="CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:N",
         summary="Key confusion through non-blocklisted public key formats"),
    pypi("GHSA-cx63-2mw6-8hw5", "setuptools", "70.0.0", aliases=["CVE-2024-6345"],
         vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H",
         summary="setuptools vulnerable to Command Injection via package URL"),
    pypi("GHSA-fw3v-x4f2-v673", "mistune", "2.0.3", aliases=["CVE-2022-34749"],
         vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
         summary="Regular expression denial of service in mistune"),
    # Not affecting vu-layout's versions: fixed long before them, or another package.
    pypi("GHSA-x84v-xcm2-53pg", "requests", "2.20.0", aliases=["CVE-2018-18074"]),
    pypi("GHSA-9999-test-none", "flask", "2.2.5", aliases=["CVE-2023-30861"]),
]  # fmt: skip


@pytest.fixture(scope="module")
def inventory(docker_client) -> dict[str, Any]:
    """vu-layout's inventory, read from its layers (the versions the Debian records name)."""
    return collect(VU, probe=None).to_json()["inventory"]


def source_version(inventory: dict[str, Any], source: str) -> str:
    versions = {c["source_version"] for c in inventory["components"] if c["source"] == source}
    assert len(versions) == 1, (source, versions)
    return versions.pop()


@pytest.fixture(scope="module")
def store(inventory, tmp_path_factory) -> str:
    """A SQLite advisory store imported with `import_from` from the exports written here:
    Debian records for the base's real openssl (fixed in a later revision) and zlib (no fix
    yet: Debian leaves CVE-2023-45853 unfixed in bookworm), and the PyPI records above."""
    root = tmp_path_factory.mktemp("osv")
    openssl = source_version(inventory, "openssl")
    write_export(root, "PyPI", PYPI)
    write_export(root, "Debian", [
        debian("DEBIAN-CVE-2025-9230", "12", "openssl", f"{openssl}+1",
               upstream=["CVE-2025-9230"], urgency="high",
               summary="Out-of-bounds read & write in RFC 3211 KEK Unwrap"),
        debian("DSA-9999-1", "12", "openssl", f"{openssl}+1", upstream=["CVE-2025-9230"],
               urgency="high", summary="openssl security update"),
        debian("DEBIAN-CVE-2023-45853", "12", "zlib", None, upstream=["CVE-2023-45853"],
               urgency="unimportant", summary="MiniZip integer overflow in zipOpenNewFile"),
        debian("DEBIAN-CVE-2019-1543", "12", "openssl", "0.9.8-1", upstream=["CVE-2019-1543"]),
    ])  # fmt: skip
    path = root / "advisories.sqlite"
    with AdvisoryStore(str(path)) as opened:
        import_from(opened, root)
    return str(path)


def audited(url: str | None, now: datetime | None = None, max_age: int = 7) -> ImageReport:
    options = AuditOptions(
        probe=None,
        advisories=AdvisoryOptions(url) if url else None,
        max_db_age=max_age,
        context=Context(now=now) if now else Context(),
    )
    return audit_one(VU, CHECKS, options, lambda message: None)


def seen(report: ImageReport) -> set[tuple[str, str, str, str, str, str]]:
    out = set()
    for f in report.findings:
        v = f.vulnerability
        assert v is not None
        out.add((f.check, v.id, v.package, v.installed, f.severity, v.reachability))
    return out


def test_vu_layout_gives_exactly_the_expected_findings(store, inventory):
    """Each vulnerable package once per place, at the severity its reachability deserves: the
    venv's requests, urllib3 and jinja2 (importable) at the advisory's, everything the command
    cannot import (the system PyJWT and setuptools, Debian's setuptools wheel, the system pip's
    vendored requests and setuptools) and the deleted mistune as info; openssl's two binary
    packages one finding, zlib's unfixed CVE said as such."""
    openssl = source_version(inventory, "openssl")
    zlib = source_version(inventory, "zlib")
    report = audited(store)
    assert seen(report) == {
        ("SEC031", "CVE-2023-32681", "requests", "2.25.1", "medium", "importable"),
        ("SEC031", "CVE-2021-33503", "urllib3", "1.26.4", "high", "importable"),
        ("SEC031", "CVE-2024-22195", "jinja2", "3.1.2", "medium", "importable"),
        ("SEC031", "CVE-2023-32681", "requests", "2.28.2", "info", "not-importable"),
        ("SEC031", "CVE-2022-29217", "pyjwt", "2.3.0", "info", "not-importable"),
        ("SEC031", "CVE-2024-6345", "setuptools", "66.1.1", "info", "not-importable"),
        ("SEC031", "CVE-2024-6345", "setuptools", "44.0.0", "info", "not-importable"),
        ("SEC031", "CVE-2022-34749", "mistune", "0.8.4", "info", "deleted"),
        ("SEC030", "CVE-2025-9230", "openssl", openssl, "high", "installed"),
        ("SEC030", "CVE-2023-45853", "zlib", zlib, "low", "installed"),
    }
    by = {(f.vulnerability.id, f.location.path): f for f in report.findings}  # type: ignore[union-attr]
    # Debian's own setuptools sits twice out of reach: its egg-info and ensurepip's wheel.
    setuptools = [f for f in report.findings if f.vulnerability.package == "setuptools"]  # type: ignore[union-attr]
    assert len(setuptools) == 3
    requests = by[("CVE-2023-32681", f"{VENV}/requests-2.25.1.dist-info")]
    assert "GHSA-j8r2-6x86-q33q" in requests.message
    assert "PYSEC-2023-74" in requests.message
    assert "Pin `requests==2.31.0`" in requests.fix
    assert "pip install" in (requests.location.created_by or "")
    (ssl,) = [f for f in report.findings if f.check == "SEC030" and "openssl" in f.message]
    assert "binary packages libssl3, openssl" in ssl.message
    assert f"fixed in {openssl}+1" in ssl.message
    assert "DSA-9999-1" in ssl.message
    (unfixed,) = [f for f in report.findings if f.vulnerability.id == "CVE-2023-45853"]  # type: ignore[union-attr]
    assert "no fix yet in Debian:12" in unfixed.message
    assert report.advisories is not None
    assert report.advisories.status == "matched"
    assert report.notices == ()


def test_without_a_store_the_report_says_so_in_one_line_and_creates_none(tmp_path, capsys):
    """`audit --db MISSING`: both checks skipped with the reason, one notice line in the table,
    and no file appears where the store was looked for."""
    missing = tmp_path / "nowhere" / "scans.sqlite"
    code = main(["audit", VU, "--no-probe", "--select", "SEC030,SEC031", "--db", str(missing)])
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("no advisory database") == 1
    assert "note: no advisory database at" in out
    assert "2 checks passed" not in out
    assert not missing.exists()
    assert not missing.parent.exists()


def test_an_old_store_is_a_notice_in_every_format(store, tmp_path):
    """Ten days after its import (the clock pinned there), past --max-db-age 7: a notice in the
    table, JSON, SARIF, Markdown and JUnit."""
    from inspector.report.formats import FORMATS, render

    with AdvisoryStore(store) as opened:
        imported = opened.state(["PyPI", "Debian:12"]).updated
    assert imported is not None
    now = datetime.fromisoformat(imported.replace("Z", "+00:00")) + timedelta(days=10, hours=1)
    report = audited(store, now=now, max_age=7)
    (notice,) = report.notices
    assert "the advisory database is 10 days old" in notice
    for fmt in FORMATS:
        text = render(fmt, [report])
        assert "10 days old" in text, fmt
    doc = json.loads(render("json", [report]))
    assert doc["images"][0]["advisories"]["age_days"] == 10


def test_the_static_probe_judges_reachability_when_it_ran(store, docker_client):
    """With the static probe, its sys.path decides, and the verdicts are the same."""
    from inspector.probes import ProbeOptions

    options = AuditOptions(probe=ProbeOptions(warmup=1, grace=2),
                           advisories=AdvisoryOptions(store))  # fmt: skip
    probed = audit_one(VU, CHECKS, options, lambda message: None)
    assert probed.runtime is not None
    assert probed.runtime["static"]["status"] == "ran"
    assert seen(probed) == seen(audited(store))
    facts = collect(VU, probe=ProbeOptions(warmup=1, grace=2),
                    advisories=AdvisoryOptions(store)).to_json()  # fmt: skip
    assert facts["vulnerabilities"]["import_path_source"] == "probe"
    assert f"{VENV}" in facts["vulnerabilities"]["import_path"]


def test_facts_json_carries_the_matches(store, capsys):
    """`inspector facts --db` prints the vulnerabilities section with every match."""
    code = main(["facts", VU, "--no-probe", "--format", "json", "--db", store])
    assert code in (0, None)
    doc = json.loads(capsys.readouterr().out)
    section = doc["vulnerabilities"]
    assert section["status"] == "matched"
    assert {m["id"] for m in section["matches"]} >= {"CVE-2023-32681", "CVE-2025-9230"}
    assert Path(store).is_file()
