"""The gate's verdict is one line, the same in every report format, and matches the exit code."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest

from checks import catalog
from checks.model import CheckResult, Finding, Location
from inspector.report.formats import FORMATS, render
from inspector.report.model import ImageReport, exit_code, verdict

CHECKS = catalog()
REF = "registry.example/team/app:1.5"
FAILED = "gate failed: 2 high (COR004, SEC001)"


def _finding(check_id: str, severity: str, **where: str) -> Finding:
    return Finding(check_id, severity, f"{check_id} found", Location(**where), "fix it")


def _report(*findings: Finding, **kwargs: object) -> ImageReport:
    results = [CheckResult(CHECKS[f.check], "failed", (f,)) for f in findings]
    results.append(CheckResult(CHECKS["PY009"], "passed"))
    return ImageReport(REF, "sha256:" + "1" * 64, None, tuple(results), **kwargs)  # type: ignore[arg-type]


FINDINGS = (
    _finding("SEC001", "high", config="User"),
    _finding("COR004", "high", config="Entrypoint/Cmd"),
    _finding("PY001", "low", config="Env.PYTHONFAULTHANDLER"),
)


def test_the_verdict_names_the_severities_and_checks_that_fail_the_gate():
    """Findings at the threshold or above, counted by severity with their checks; those below
    it are not named."""
    assert verdict(_report(*FINDINGS)) == FAILED
    assert verdict(_report(*FINDINGS), fail_on="low") == (
        "gate failed: 2 high (COR004, SEC001), 1 low (PY001)"
    )
    assert verdict(_report(FINDINGS[2])) == "gate passed"
    assert verdict(_report()) == "gate passed"


def test_an_image_without_a_verdict_says_so():
    """An image that could not be audited, or a check that crashed, has no verdict (exit 2)."""
    assert verdict(ImageReport(REF, None, None, error="no such image")).startswith("no verdict")
    crashed = _report(FINDINGS[0])
    crashed = replace(crashed, results=(CheckResult(CHECKS["OPS001"], "error", reason="boom"),))
    assert verdict(crashed) == "no verdict: OPS001 could not run"
    assert exit_code([crashed]) == 2


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_states_the_verdict(name):
    """Table, JSON, SARIF, JUnit and Markdown each carry the verdict line, failed or passed."""
    assert FAILED in render(name, [_report(*FINDINGS)])
    assert "gate passed" in render(name, [_report(FINDINGS[2])])


def test_json_and_sarif_carry_the_verdict_as_fields():
    """Tools read `verdict` and `passed` per image, and the threshold they were decided at."""
    doc = json.loads(render("json", [_report(*FINDINGS)]))
    assert doc["fail_on"] == "high"
    assert (doc["images"][0]["verdict"], doc["images"][0]["passed"]) == (FAILED, False)
    sarif = json.loads(render("sarif", [_report(FINDINGS[2])]))
    image = sarif["runs"][0]["properties"]["images"][0]
    assert (image["verdict"], image["passed"]) == ("gate passed", True)
    junit = ET.fromstring(render("junit", [_report(*FINDINGS)]))
    props = {p.get("name"): p.get("value") for p in junit.iter("property")}
    assert props["gate.verdict"] == FAILED


def test_an_inconclusive_start_fails_the_gate_only_when_the_policy_says_so():
    """`inconclusive = "fail"`: the verdict, JUnit and the exit code fail; by default the start
    passes and the verdict says it was inconclusive."""
    why = "the app exited during the 3s warm-up, waiting for configuration it was not given"
    lenient = _report(FINDINGS[2], inconclusive=why)
    strict = _report(FINDINGS[2], inconclusive=why, inconclusive_fails=True)
    assert exit_code([lenient]) == 0
    assert verdict(lenient).startswith("gate passed (the start was inconclusive")
    assert exit_code([strict]) == 1
    assert (
        verdict(strict) == 'gate failed: inconclusive start (the policy\'s inconclusive = "fail")'
    )
    junit = ET.fromstring(render("junit", [strict]))
    failed = [c for c in junit.iter("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["inconclusive start"]
    assert json.loads(render("json", [strict]))["images"][0]["inconclusive"] == why
