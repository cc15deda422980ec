"""JUnit XML and Markdown audit reports: every result status, an unauditable image, a real audit."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

import pytest

from checks import catalog
from checks.model import Check, CheckResult, Finding, Location, Suppressed, Suppression
from inspector.audit import AuditOptions, audit_one
from inspector.report import junit as render_junit
from inspector.report import markdown as render_markdown
from inspector.report.formats import FORMATS, render
from inspector.report.model import ImageReport
from tests.conftest import fixture_image


def _check(check_id: str, name: str, category: str = "security", severity: str = "high") -> Check:
    return Check(check_id, name, f"title of {name}", severity, category, ("config",),
                 f"fix {name}", "", run=lambda facts, ctx: iter(()))  # fmt: skip


ROOT = _check("SEC900", "runs-as-root")
CACHE = _check("SIZE900", "pip-cache-kept", category="size", severity="low")
SIGTERM = _check("OPS900", "ignores-sigterm", category="operability")
LABELS = _check("META900", "no-labels", category="metadata", severity="info")
BROKEN = _check("COR900", "crashes", category="correctness")

ROOT_FINDINGS = (
    Finding("SEC900", "high", "runs as root | uid 0", Location(config="User"), "use `USER <uid>`"),
    Finding("SEC900", "critical", "line one\nline <two>", Location(path="/etc/x"), "chown it"),
)
CACHE_FINDING = Finding(
    "SIZE900", "low", "pip cache 30 MB", Location(layer=3, created_by="RUN pip"), "no-cache-dir"
)

AUDITED = ImageReport(
    "registry.example/app:1.0",
    "sha256:0123456789abcdef0123456789abcdef",
    "sha256:feed",
    (
        CheckResult(ROOT, "failed", ROOT_FINDINGS),
        CheckResult(CACHE, "failed", (CACHE_FINDING,)),
        CheckResult(SIGTERM, "skipped", reason="the lifecycle probe did not run"),
        CheckResult(LABELS, "passed"),
        CheckResult(BROKEN, "error", reason="KeyError: 'config'"),
    ),
)
MISSING = ImageReport("nope:latest", None, None, error="no such image: nope:latest")


def _parse(reports: list[ImageReport], fail_on: str = "low") -> ET.Element:
    return ET.fromstring(render_junit.render(reports, fail_on=fail_on))


def _counts(element: ET.Element) -> dict[str, str]:
    return {k: element.get(k, "") for k in ("tests", "failures", "errors", "skipped")}


def test_formats_are_registered():
    """`--format junit` and `--format markdown` reach these renderers."""
    assert render("junit", [AUDITED], fail_on="low") == render_junit.render([AUDITED], "low")
    assert render("markdown", [AUDITED]) == render_markdown.render([AUDITED])
    assert {"junit", "markdown"} <= set(FORMATS)


def test_junit_counts_every_status_per_suite_and_in_total():
    """tests/failures/errors/skipped count the check results of each image and of the whole run."""
    root = _parse([AUDITED, MISSING])
    assert root.tag == "testsuites"
    audited, missing = root.findall("testsuite")
    assert _counts(audited) == {"tests": "5", "failures": "2", "errors": "1", "skipped": "1"}
    assert _counts(missing) == {"tests": "1", "failures": "0", "errors": "1", "skipped": "0"}
    assert _counts(root) == {"tests": "6", "failures": "2", "errors": "2", "skipped": "1"}


def test_junit_fails_only_at_or_above_the_gate_threshold():
    """With --fail-on high the low cache finding passes, its finding kept in system-out."""
    cases = {c.get("name"): c for c in _parse([AUDITED], fail_on="high").iter("testcase")}
    assert cases["SEC900 runs-as-root"].find("failure") is not None
    cache = cases["SIZE900 pip-cache-kept"]
    assert cache.find("failure") is None
    assert cache.findtext("system-out", "").startswith("below the gate (high)\n[low] pip cache")


def test_junit_suite_names_the_image_and_carries_its_id():
    """Each suite is named by the reference and has the image ID as a property."""
    suite = _parse([AUDITED]).find("testsuite")
    assert suite is not None
    assert suite.get("name") == "registry.example/app:1.0"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["image.id"] == AUDITED.image_id


def test_junit_testcases_are_named_by_category_id_and_name():
    """One testcase per check result, classname inspector.<category>, name `<ID> <name>`."""
    cases = _parse([AUDITED]).findall("testsuite/testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("inspector.security", "SEC900 runs-as-root"),
        ("inspector.size", "SIZE900 pip-cache-kept"),
        ("inspector.operability", "OPS900 ignores-sigterm"),
        ("inspector.metadata", "META900 no-labels"),
        ("inspector.correctness", "COR900 crashes"),
    ]


def test_junit_failure_holds_every_finding_with_the_worst_severity_as_type():
    """A failed check's <failure> lists each finding's message, where and fix; type is the worst."""
    cases = {c.get("name"): c for c in _parse([AUDITED]).iter("testcase")}
    failure = cases["SEC900 runs-as-root"].find("failure")
    assert failure is not None
    assert failure.get("type") == "critical"
    text = failure.text or ""
    for finding in ROOT_FINDINGS:
        assert finding.message in text
        assert f"where: {finding.location.describe()}" in text
        assert f"fix: {finding.fix}" in text
    cache = cases["SIZE900 pip-cache-kept"].find("failure")
    assert cache is not None
    assert cache.get("type") == "low"


def test_junit_skipped_error_and_passed_cases():
    """Skipped carries the reason, error the exception, passed has no child element."""
    cases = {c.get("name"): c for c in _parse([AUDITED]).iter("testcase")}
    skipped = cases["OPS900 ignores-sigterm"].find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "the lifecycle probe did not run"
    error = cases["COR900 crashes"].find("error")
    assert error is not None
    assert error.get("message") == "KeyError: 'config'"
    assert len(cases["META900 no-labels"]) == 0


def test_junit_unauditable_image_is_one_errored_testcase():
    """An image the tool could not read shows up as a suite with one error saying why."""
    suite = _parse([MISSING]).find("testsuite")
    assert suite is not None
    (case,) = suite.findall("testcase")
    error = case.find("error")
    assert error is not None
    assert error.get("message") == "no such image: nope:latest"


def test_junit_survives_control_characters():
    """A finding with characters XML 1.0 forbids still gives a parseable document."""
    bad = Finding("SEC900", "high", "file \x01\x1b[31m", Location(path="/a\x00b"), "rm it")
    report = ImageReport("x:1", "sha256:ab", None, (CheckResult(ROOT, "failed", (bad,)),))
    failure = _parse([report]).find("testsuite/testcase/failure")
    assert failure is not None
    assert "file" in (failure.text or "")


def test_markdown_heading_counts_and_table():
    """Each image gets a heading with reference and short ID, severity counts, one row a finding."""
    text = render_markdown.render([AUDITED])
    assert "### `registry.example/app:1.0` (0123456789ab)" in text
    assert "**Findings:** 1 critical, 1 high, 1 low" in text
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert [row.split(" | ")[0] for row in rows] == ["| `SEC900`", "| `SEC900`", "| `SIZE900`"]
    assert "layer 4: RUN pip" in text  # the facts' index 3, numbered from 1


def test_markdown_escapes_pipes_newlines_and_html():
    """`|`, newlines and `<` inside a finding cannot break the table row."""
    text = render_markdown.render([AUDITED])
    assert "runs as root \\| uid 0" in text
    assert "line one<br>line &lt;two&gt;" in text
    assert "use `USER <uid>`" in text  # inside a code span an entity would show literally
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    # Every row has exactly the five cells of the header: unescaped pipes would add more.
    assert all(row.replace("\\|", "").count("|") == 6 for row in rows)


def test_markdown_details_list_skipped_reasons_and_passed_count():
    """Skipped checks with reasons and the passed count sit in a collapsed <details> block."""
    text = render_markdown.render([AUDITED])
    details = text[text.index("<details>") : text.index("</details>")]
    assert "<summary>1 check passed, 1 skipped</summary>" in details
    assert "`OPS900` ignores-sigterm: the lifecycle probe did not run" in details
    assert "check `COR900` failed to run" in text


def test_markdown_unauditable_and_clean_images():
    """An image that could not be audited says why; one without findings says so, with no table."""
    clean = ImageReport("ok:1", "sha256:abcdef", None, (CheckResult(LABELS, "passed"),))
    text = render_markdown.render([MISSING, clean])
    assert "**Could not be audited:** no such image: nope:latest" in text
    assert "**No findings.**" in text
    assert "| id |" not in text


@pytest.mark.docker
def test_junit_failures_are_the_failed_checks_of_a_real_audit(docker_client):
    """On the naive fixture the JUnit failures are exactly the checks the audit failed."""
    checks = list(catalog().values())
    report = audit_one(fixture_image("naive"), checks, AuditOptions(probe=None), lambda m: None)
    assert report.error is None
    failed = {f"{r.check.id} {r.check.name}" for r in report.results if r.status == "failed"}
    assert failed
    suite = _parse([report], fail_on="info").find("testsuite")
    assert suite is not None
    junit_failed = {c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None}
    assert junit_failed == failed
    assert suite.get("tests") == str(len(report.results))
    assert "### `inspector-fixture/naive:test`" in render_markdown.render([report])


ACCEPTED = ImageReport(
    "registry.example/app:1.0",
    "sha256:0123456789abcdef0123456789abcdef",
    None,
    (
        CheckResult(
            ROOT,
            "passed",
            suppressed=(
                Suppressed(
                    ROOT_FINDINGS[0],
                    Suppression("ignore", "until Q1", "p.toml: ignores[0]", date(2027, 3, 31)),
                ),
            ),
        ),
        CheckResult(
            CACHE,
            "passed",
            suppressed=(
                Suppressed(CACHE_FINDING, Suppression("baseline", "in the baseline", "b.json")),
            ),
        ),
    ),
    notices=("the ignore in p.toml: ignores[1] expired on 2026-01-01 and no longer accepts X",),
)


def test_junit_accepted_findings_pass_with_the_record_in_system_out():
    """Suppressed findings are not failures; each case's system-out says what was accepted, why."""
    suite = _parse([ACCEPTED]).find("testsuite")
    assert suite is not None
    assert _counts(suite) == {"tests": "2", "failures": "0", "errors": "0", "skipped": "0"}
    root_out = suite.find("testcase[@name='SEC900 runs-as-root']/system-out")
    assert root_out is not None
    assert "accepted (ignore: until Q1; p.toml: ignores[0]; expires 2027-03-31)" in root_out.text
    assert "runs as root" in root_out.text
    cache_out = suite.find("testcase[@name='SIZE900 pip-cache-kept']/system-out")
    assert cache_out is not None
    assert cache_out.text.startswith("accepted (baseline: in the baseline; b.json)")
    assert "expired on 2026-01-01" in suite.findtext("system-out", "")


def test_markdown_counts_accepted_findings_and_folds_them():
    """Markdown says how many findings were accepted and by what, and lists them folded."""
    text = render_markdown.render([ACCEPTED])
    accepted = "2 findings accepted (1 by the policy's ignores, 1 in the baseline)"
    assert f"**No findings.** · {accepted}" in text
    assert "- ⚠️ the ignore in p.toml: ignores[1] expired on 2026-01-01" in text
    assert "<summary>2 accepted findings</summary>" in text
    assert (
        "| `SEC900` | high | runs as root \\| uid 0 | config User | "
        "until Q1 (p.toml: ignores[0], expires 2027-03-31) |" in text
    )
