"""The policy on check results (severities, ignores, expiry) and baselines, on synthetic results."""

from __future__ import annotations

import json
from datetime import date

import pytest

from checks import catalog
from checks.model import CheckResult, Finding, Location
from inspector.policy.baseline import BaselineError, read, write
from inspector.policy.config import Ignore, Policy
from inspector.policy.gate import Gate, apply
from inspector.report.fingerprint import fingerprint
from inspector.report.model import ImageReport

REF = "registry.example/team/app:1.4"
ROOT = catalog()["SEC001"]
CACHE = catalog()["SIZE002"]


def _finding(check_id: str, message: str, **where: object) -> Finding:
    check = catalog()[check_id]
    return Finding(check_id, check.severity, message, Location(**where), check.fix)  # type: ignore[arg-type]


def _results() -> list[CheckResult]:
    root = _finding("SEC001", "the app runs as uid 0", config="User")
    cache = _finding("SIZE002", "pip cache of 41 MB", path="/root/.cache/pip", layer=3)
    return [
        CheckResult(ROOT, "failed", (root,)),
        CheckResult(CACHE, "failed", (cache,)),
        CheckResult(catalog()["PY001"], "passed"),
        CheckResult(catalog()["OPS002"], "skipped", reason="needs the lifecycle probe"),
    ]


def _ignore(*checks: str, **kwargs: object) -> Ignore:
    return Ignore(checks=checks, reason="accepted for now", source="p.toml: ignores[0]", **kwargs)  # type: ignore[arg-type]


def _gate(*ignores: Ignore, today: date = date(2026, 11, 23), **policy: object) -> Gate:
    return Gate(Policy(ignores=ignores, **policy), today=today)  # type: ignore[arg-type]


def _by_id(results: tuple[CheckResult, ...]) -> dict[str, CheckResult]:
    return {r.check.id: r for r in results}


def test_without_policy_nothing_changes():
    """The default gate keeps every finding, status and severity as the checks gave them."""
    applied = apply(Gate(), REF, _results())
    assert list(applied.results) == _results()
    assert applied.notices == ()


def test_severity_override_applies_to_findings():
    """[severity] gives the check's findings the configured severity."""
    applied = apply(_gate(severity={"SEC001": "low"}), REF, _results())
    assert _by_id(applied.results)["SEC001"].findings[0].severity == "low"
    assert _by_id(applied.results)["SIZE002"].findings[0].severity == CACHE.severity


@pytest.mark.parametrize("name", ["SEC001", "sec001", "runs-as-root", "security"])
def test_ignore_matches_by_id_name_or_category(name):
    """An ignore naming the check by id (any case), name or category suppresses its finding."""
    results = _by_id(apply(_gate(_ignore(name)), REF, _results()).results)
    root = results["SEC001"]
    assert root.status == "passed"
    assert root.findings == ()
    (item,) = root.suppressed
    assert item.finding.check == "SEC001"
    assert (item.suppression.by, item.suppression.reason) == ("ignore", "accepted for now")
    assert results["SIZE002"].status == "failed"


def test_ignore_is_limited_to_matching_images_and_paths():
    """images globs the reference; paths globs the finding's path (path-less findings miss)."""
    elsewhere = _ignore("SEC001", "SIZE002", images=("registry.example/other/*",))
    assert apply(_gate(elsewhere), REF, _results()).results == tuple(_results())
    here = _ignore("SEC001", "SIZE002", images=("registry.example/team/*",), paths=("/root/*",))
    results = _by_id(apply(_gate(here), REF, _results()).results)
    assert results["SIZE002"].status == "passed"
    assert results["SEC001"].status == "failed"  # no path: a paths-limited ignore cannot match


def test_expired_ignore_stops_applying_and_says_so():
    """Past its expiry date an ignore suppresses nothing and says so; on the day it holds."""
    ignore = _ignore("SEC001", expires=date(2026, 11, 22))
    applied = apply(_gate(ignore), REF, _results())
    assert _by_id(applied.results)["SEC001"].status == "failed"
    (notice,) = applied.notices
    assert "p.toml: ignores[0] expired on 2026-11-22" in notice
    assert "no longer accepts SEC001" in notice
    on_the_day = apply(_gate(ignore, today=date(2026, 11, 22)), REF, _results())
    assert _by_id(on_the_day.results)["SEC001"].status == "passed"
    assert on_the_day.notices == ()


def test_skipped_and_errored_results_keep_their_status():
    """The policy never turns a skipped or errored check into passed."""
    results = _by_id(apply(_gate(_ignore("operability")), REF, _results()).results)
    assert results["OPS002"].status == "skipped"


def _report(results: list[CheckResult], reference: str = REF) -> ImageReport:
    return ImageReport(reference, "sha256:01", None, tuple(results))


def test_baseline_suppresses_known_findings_across_tags_and_sizes(tmp_path):
    """A finding in the baseline is suppressed on another tag even when its numbers changed."""
    path = tmp_path / "baseline.json"
    assert write([_report(_results())], path) == 2
    grown = [
        CheckResult(ROOT, "failed", (_finding("SEC001", "the app runs as uid 0", config="User"),)),
        CheckResult(
            CACHE,
            "failed",
            (_finding("SIZE002", "pip cache of 97 MB", path="/root/.cache/pip", layer=4),),
        ),
    ]
    applied = apply(Gate(baseline=read(path)), "registry.example/team/app:1.5", grown)
    assert all(r.status == "passed" for r in applied.results)
    assert {s.suppression.by for r in applied.results for s in r.suppressed} == {"baseline"}


def test_a_new_finding_is_not_in_the_baseline(tmp_path):
    """Only findings the baseline lists are suppressed: a new path or another repository counts."""
    path = tmp_path / "baseline.json"
    write([_report(_results())], path)
    moved = [
        CheckResult(
            CACHE,
            "failed",
            (_finding("SIZE002", "pip cache of 41 MB", path="/home/app/.cache/pip", layer=3),),
        )
    ]
    assert apply(Gate(baseline=read(path)), REF, moved).results[0].status == "failed"
    other = apply(Gate(baseline=read(path)), "registry.example/team/worker:1.4", _results())
    assert _by_id(other.results)["SEC001"].status == "failed"


def test_fixed_baseline_entries_are_reported_as_stale(tmp_path):
    """Entries of checks that ran and found nothing any more give a notice to rewrite the file."""
    path = tmp_path / "baseline.json"
    write([_report(_results())], path)
    fixed = [CheckResult(ROOT, "passed"), *_results()[1:]]
    (notice,) = apply(Gate(baseline=read(path)), REF, fixed).notices
    assert notice.startswith("1 baseline entry for registry.example/team/app no longer found")
    assert "(SEC001)" in notice
    # A check that did not run (deselected, probe skipped) leaves its entries alone.
    assert apply(Gate(baseline=read(path)), REF, _results()[1:]).notices == ()
    # Nor does a finding that an ignore accepts before the baseline sees it: it is still there.
    both = Gate(Policy(ignores=(_ignore("SEC001"),)), read(path), date(2026, 11, 23))
    assert apply(both, REF, _results()).notices == ()


def test_ignored_findings_are_not_written_to_the_baseline(tmp_path):
    """The baseline records what counts: findings the policy already accepts stay out of it."""
    path = tmp_path / "baseline.json"
    applied = apply(_gate(_ignore("SEC001")), REF, _results())
    write([_report(list(applied.results))], path)
    doc = json.loads(path.read_text())
    assert [entry["check"] for entry in doc["findings"]] == ["SIZE002"]
    assert doc["findings"][0]["fingerprint"] == fingerprint(REF, _results()[1].findings[0])


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no such baseline"),
        ("{", "invalid JSON"),
        ('{"findings": []}', "not an inspector baseline"),
        ('{"kind": "inspector-baseline", "schema_version": 9}', "schema_version 9"),
        (
            '{"kind": "inspector-baseline", "schema_version": 1, "findings": [{"check": "X"}]}',
            "findings[0] is incomplete",
        ),
    ],
)
def test_bad_baseline_files_are_clear_errors(tmp_path, content, expected):
    """A missing, malformed, foreign or incomplete baseline raises an error naming the file."""
    path = tmp_path / "baseline.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(BaselineError) as caught:
        read(path)
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)
