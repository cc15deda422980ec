"""`inspector audit` on the real fixture images: exactly the expected findings, and exit codes."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from checks import catalog
from checks.model import severity_rank
from inspector.cli.commands import main
from inspector.report.model import ImageReport
from tests.conftest import FIXTURES, fixture_image
from tests.test_clock import DATE_DEPENDENT

pytestmark = pytest.mark.docker

GOLDEN = Path(__file__).parent / "golden" / "audit"
AUDITED = sorted(p.stem for p in GOLDEN.glob("*.txt"))


def golden(name: str) -> dict[str, str]:
    """`ID  reason` per line; the reason says why the fixture must trigger that check."""
    out = {}
    for line in (GOLDEN / f"{name}.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            check_id, _, reason = line.partition(" ")
            assert reason.strip(), f"{name}: {check_id} needs a one-line reason"
            out[check_id] = reason.strip()
    return out


@pytest.fixture(scope="module")
def reports(fixture_probes) -> dict[str, ImageReport]:
    """Every fixture audited with every check, probes included, from the session's shared
    collections (tests/probed.py: probed once, concurrently, judged at the suite's clock)."""
    fixture_probes.start(AUDITED)
    return {name: fixture_probes.report(name) for name in AUDITED}


def test_every_fixture_has_a_golden_list():
    """Each fixture image (bench ones aside) has a reviewed list of the checks it must trigger."""
    fixtures = {d.name for d in FIXTURES.iterdir() if (d / "Dockerfile").is_file()}
    assert fixtures == set(AUDITED)


@pytest.mark.parametrize("name", AUDITED)
def test_audit_finds_exactly_the_golden_checks(reports, name):
    """The set of failed checks on each fixture is exactly its hand-reviewed golden list."""
    report = reports[name]
    assert report.error is None
    errors = [(r.check.id, r.reason) for r in report.results if r.status == "error"]
    assert not errors
    failed = {r.check.id for r in report.results if r.status == "failed"}
    assert failed == set(golden(name)), f"unexpected {failed - set(golden(name))}, " \
        f"missing {set(golden(name)) - failed}"  # fmt: skip


@pytest.mark.parametrize("name", AUDITED)
def test_no_golden_depends_on_todays_date(fixture_probes, name):
    """The same facts judged at the suite's clock and four years before and after: every check
    that does not read the clock gives the same verdict, so the goldens hold on any date; the
    ones that do (DATE_DEPENDENT: ages, ends of life) judge at the suite's pinned clock."""
    from datetime import timedelta

    from tests.probed import CLOCK, suite_context

    verdicts = []
    for moment in (CLOCK - timedelta(days=4 * 365), CLOCK, CLOCK + timedelta(days=4 * 365)):
        context = replace(suite_context(), now=moment)
        report = fixture_probes.report(name, context=context)
        verdicts.append({r.check.id: r.status for r in report.results
                         if r.check.id not in DATE_DEPENDENT})  # fmt: skip
    assert verdicts[0] == verdicts[1] == verdicts[2]
    failed = {check_id for check_id, status in verdicts[1].items() if status == "failed"}
    assert failed == set(golden(name)) - DATE_DEPENDENT


def test_good_fixture_has_no_finding_of_medium_or_above(reports):
    """The production-shaped image passes every check that matters."""
    serious = [f for f in reports["good"].findings if severity_rank(f.severity) >= 2]
    assert not serious


def test_every_check_is_reached_by_a_fixture_or_says_why_not():
    """A check no fixture triggers is listed in tests/golden/unreached.txt with the reason."""
    reached = {check_id for name in AUDITED for check_id in golden(name)}
    lines = (GOLDEN.parent / "unreached.txt").read_text().splitlines()
    unreached = {}
    for line in lines:
        if line.strip() and not line.startswith("#"):
            check_id, _, reason = line.partition(" ")
            unreached[check_id] = reason.strip()
    assert all(unreached.values())
    assert set(catalog()) == reached | set(unreached)
    assert not reached & set(unreached), "a reached check is still listed as unreached"


# Checks whose finding is about the image as a whole, with no narrower place: its age (META002)
# and the wasted bytes of all its layers together (SIZE003's roll-up; its groups name layers).
WHOLE_IMAGE = frozenset({"META002", "SIZE003"})


def test_findings_say_where_and_how_to_fix(reports):
    """Every finding on every fixture has a message, a fix, and a location other than the bare
    image (a config field, a layer or history step, a path, or the probe that saw it), except
    the checks about the image as a whole."""
    bare = set()
    for name, report in reports.items():
        for finding in report.findings:
            assert finding.fix.strip(), (name, finding)
            assert finding.message.strip(), (name, finding)
            if finding.location.describe() == "image":
                bare.add(finding.check)
    assert bare <= WHOLE_IMAGE, sorted(bare - WHOLE_IMAGE)


# --- the command -------------------------------------------------------------------------------


def test_audit_exit_codes_follow_the_worst_finding(capsys):
    """naive (a high finding) exits 1; good (nothing above info) exits 0; the table names both."""
    assert main(["audit", fixture_image("naive"), "--warmup", "1", "--grace", "2"]) == 1
    out = capsys.readouterr().out
    # A pipe gets the stacked layout (severity, id, then what, where and fix).
    assert re.search(r"high\s+SEC001\s+the app process", out)
    assert re.search(r"^\s+fix\s+", out, re.M)
    assert main(["audit", fixture_image("good"), "--no-probe"]) == 0


def test_audit_of_a_missing_image_is_exit_2_and_other_images_still_reported(capsys):
    """A bad reference among good ones: exit 2, its error on stderr, the others audited."""
    code = main(["audit", "inspector-fixture/does-not-exist:test", fixture_image("good"),
                 "--no-probe"])  # fmt: skip
    assert code == 2
    captured = capsys.readouterr()
    assert "does-not-exist" in captured.err
    assert fixture_image("good") in captured.out


def test_no_probe_skips_runtime_checks_with_the_reason(capsys):
    """--no-probe: checks that need a probe are skipped, and the table says why."""
    assert main(["audit", fixture_image("good"), "--no-probe", "--select", "OPS002,SEC001"]) == 0
    out = capsys.readouterr().out
    assert "1 check passed, 1 skipped" in out
    assert "--no-probe" in out


def test_select_and_ignore_by_id_name_and_category(capsys):
    """--select a category and --ignore one of its checks by name leaves exactly the others."""
    code = main(["audit", fixture_image("naive"), "--no-probe", "--select", "size",
                 "--ignore", "python-package-cache"])  # fmt: skip
    out = capsys.readouterr().out
    assert "SIZE002" not in out
    assert code == 0
    assert main(["audit", fixture_image("naive"), "--select", "nonsense"]) == 2
    assert "nonsense" in capsys.readouterr().err


def test_checks_lists_the_catalog_and_explain_prints_a_page(capsys):
    """`inspector checks` lists every id; `explain` prints the sections; unknown ids exit 2."""
    assert main(["checks"]) == 0
    listed = capsys.readouterr().out
    assert all(check_id in listed for check_id in catalog())
    assert main(["explain", "runs-as-root"]) == 0
    page = capsys.readouterr().out
    for section in ("What it checks", "Why it matters", "Example", "Instead", "References"):
        assert f"### {section}" in page
    assert main(["explain", "NOPE999"]) == 2


def test_fail_on_and_exit_zero_set_the_gate(capsys):
    """--fail-on critical passes naive (no critical finding); --exit-zero passes, errors stay 2."""
    assert main(["audit", fixture_image("naive"), "--no-probe", "--fail-on", "critical"]) == 0
    assert main(["audit", fixture_image("naive"), "--no-probe", "--fail-on", "low"]) == 1
    assert main(["audit", fixture_image("naive"), "--no-probe", "--exit-zero"]) == 0
    assert main(["audit", "inspector-fixture/does-not-exist:test", "--exit-zero"]) == 2
    capsys.readouterr()


def test_json_report_on_stdout_and_in_a_file_agree(capsys, tmp_path):
    """--format json prints the versioned report; -o json=FILE writes the same document."""
    path = tmp_path / "report.json"
    code = main(["audit", fixture_image("naive"), "--no-probe", "--format", "json",
                 "-o", f"json={path}"])  # fmt: skip
    assert code == 1
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(path.read_text())
    image = printed["images"][0]
    # Fields were added (advisories, vulnerability), none removed or renamed: still schema 1.
    assert printed["schema_version"] == 1
    assert image["id"].startswith("sha256:")
    statuses = {r["check"]: r["status"] for r in image["results"]}
    assert statuses["SIZE002"] == "failed"
    assert statuses["OPS002"] == "skipped"
    assert image["counts"]["high"] >= 1
    finding = next(r for r in image["results"] if r["check"] == "SIZE002")["findings"][0]
    assert finding["location"]["layer"] == 4  # numbered from 1, as its `where` says
    assert finding["fix"]


def test_bad_output_option_is_a_usage_error(capsys):
    """-o without FORMAT=FILE, or with an unknown format, exits 2 and says what it expects."""
    assert main(["audit", fixture_image("good"), "-o", "nonsense"]) == 2
    assert "FORMAT=FILE" in capsys.readouterr().err
