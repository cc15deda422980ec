"""A finding's identity is its check, its subject and the image's repository, never its prose:
over the whole catalog, across probe modes, in baselines old and new, and in scan deltas."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from typing import Any

import pytest

from checks.engine import run_check
from checks.model import CheckResult, Finding, Location
from inspector.policy.baseline import read, write
from inspector.policy.gate import Gate, apply
from inspector.report.fingerprint import fingerprint, legacy_fingerprint
from inspector.report.model import ImageReport
from inspector.scan.outcome import Seen, delta, finding_entry, first_forms, open_since
from tests.test_checks_catalog import CHECKS, context, examples

REF = "registry.example/team/app:1.5"
SKIPPED = {"status": "skipped", "reason": "probes were not requested (--no-probe)"}


def _bad_runs(check_id: str) -> list[tuple[dict[str, Any], tuple[Finding, ...]]]:
    out = []
    for example in examples(check_id)["bad"]:
        out.append((example, run_check(CHECKS[check_id], example, context(example)).findings))
    return out


def _reworded(finding: Finding) -> Finding:
    """The same finding as another probe mode or a later release words and places it."""
    where = replace(finding.location, runtime="another probe", layer=None)
    return replace(finding, message="reworded", fix="another fix", severity="info",
                   location=where)  # fmt: skip


@pytest.mark.parametrize("check_id", sorted(CHECKS))
def test_no_fingerprint_reads_the_message_or_the_runtime_place(check_id):
    """Every finding of every check's bad examples keeps its fingerprint when its message, fix,
    severity, runtime place and layer change: they are prose, or move with the probe mode."""
    for _, findings in _bad_runs(check_id):
        for finding in findings:
            assert fingerprint(REF, _reworded(finding)) == fingerprint(REF, finding), finding


@pytest.mark.parametrize("check_id", sorted(CHECKS))
def test_findings_of_one_image_never_share_a_fingerprint(check_id):
    """Two findings one check makes on one image are two subjects: a baseline accepting one
    must not accept the other."""
    for _, findings in _bad_runs(check_id):
        prints = [fingerprint(REF, f) for f in findings]
        assert len(set(prints)) == len(prints), [f.message for f in findings]


@pytest.mark.parametrize(
    "check_id", sorted(c.id for c in CHECKS.values() if c.needs_probe)
)  # fmt: skip
def test_a_finding_without_probes_has_the_fingerprint_it_had_with_them(check_id):
    """What a check still finds with the probes skipped (`--no-probe`) is, fingerprint for
    fingerprint, among what it found with them: a baseline written with probes holds."""
    for example, findings in _bad_runs(check_id):
        if not example.get("runtime"):
            continue
        bare = copy.deepcopy(example)
        bare["runtime"] = {"static": dict(SKIPPED), "lifecycle": dict(SKIPPED)}
        result = run_check(CHECKS[check_id], bare, context(bare))
        with_probes = {fingerprint(REF, f) for f in findings}
        for finding in result.findings:
            assert fingerprint(REF, finding) in with_probes, finding.message


def test_the_subject_tells_accounts_ports_and_variables_apart():
    """Findings in one place (/etc/shadow, ExposedPorts, a build step) differ by subject."""
    shadow = Finding("SEC011", "high", "x", Location(path="/etc/shadow"), "f", subject="account a")
    assert fingerprint(REF, shadow) != fingerprint(REF, replace(shadow, subject="account b"))
    ports = Finding("OPS007", "low", "x", Location(config="ExposedPorts"), "f", subject="port 80")
    assert fingerprint(REF, ports) != fingerprint(REF, replace(ports, subject="port 443"))
    step = Finding("SIZE004", "low", "x", Location(created_by="/bin/sh -c apt-get dist-upgrade"),
                   "f")  # fmt: skip
    assert fingerprint(REF, step) == fingerprint(
        REF, replace(step, location=Location(created_by="RUN apt-get dist-upgrade # buildkit"))
    )
    assert fingerprint(REF, step) != fingerprint(
        REF, replace(step, location=Location(created_by="RUN apt-get full-upgrade"))
    )


def _report(findings: tuple[Finding, ...], reference: str = REF) -> ImageReport:
    results = tuple(CheckResult(CHECKS[f.check], "failed", (f,)) for f in findings)
    return ImageReport(reference, "sha256:01", None, results)


def _probed() -> tuple[Finding, ...]:
    """SEC001 and PY001 as the probes word them."""
    root = Finding("SEC001", "high", "the app process (pid 1: python app.py) runs with UID 0",
                   Location(config="User", runtime="lifecycle probe"), "fix")  # fmt: skip
    faults = Finding("PY001", "low", "the image's Python (/usr/bin/python3) starts with "
                     "faulthandler off", Location(config="Env.PYTHONFAULTHANDLER",
                     runtime="static probe"), "fix")  # fmt: skip
    return root, faults


def _unprobed() -> tuple[Finding, ...]:
    """The same two as the config alone words them (`--no-probe`)."""
    root, faults = _probed()
    said_root = "no USER is set: the image runs as UID 0 (the lifecycle probe did not run)"
    said_faults = "PYTHONFAULTHANDLER is not set and the command does not pass -X faulthandler"
    return (
        replace(root, message=said_root, location=Location(config="User")),
        replace(faults, message=said_faults, location=Location(config="Env.PYTHONFAULTHANDLER")),
    )


def test_a_baseline_written_with_probes_passes_the_gate_without_them(tmp_path):
    """`inspector baseline` with probes, then `audit --no-probe --baseline` of the same image:
    every finding is accepted, and no entry reads as fixed."""
    path = tmp_path / "baseline.json"
    write([_report(_probed())], path)
    assert json.loads(path.read_text())["schema_version"] == 2
    results = _report(_unprobed()).results
    applied = apply(Gate(baseline=read(path)), REF, results)
    assert [r.status for r in applied.results] == ["passed", "passed"]
    assert applied.notices == ()


def test_a_baseline_of_the_first_form_still_accepts_its_findings(tmp_path):
    """A schema 1 baseline (fingerprints of the message's words) is read and matched: old
    baselines keep working for a release."""
    path = tmp_path / "old.json"
    write([_report(_unprobed())], path)
    doc = json.loads(path.read_text())
    doc["schema_version"] = 1
    for entry, finding in zip(doc["findings"], sorted(_unprobed(), key=lambda f: f.check),
                              strict=True):  # fmt: skip
        assert entry["check"] == finding.check
        entry["fingerprint"] = legacy_fingerprint(REF, finding)
    path.write_text(json.dumps(doc))
    applied = apply(Gate(baseline=read(path)), REF, _report(_unprobed()).results)
    assert [r.status for r in applied.results] == ["passed", "passed"]
    assert applied.notices == ()
    # The first form read the message: a reworded finding was new to it, as it was then.
    reworded = _report(tuple(replace(f, message="reworded") for f in _unprobed())).results
    assert [r.status for r in apply(Gate(baseline=read(path)), REF, reworded).results] == [
        "failed",
        "failed",
    ]


def test_a_scan_after_the_upgrade_finds_nothing_new_or_fixed():
    """A store written with first-form fingerprints: the next run's deltas match them, so
    upgrading inspector does not report every finding as new and fixed once."""
    found = _unprobed()
    old = [{**finding_entry(REF, f), "fingerprint": legacy_fingerprint(REF, f)} for f in found]
    now = [finding_entry(REF, f) for f in found]
    seen = [Seen("sha256:" + "a" * 64, "linux/amd64", ("1.5",), old)]
    moved = delta(now, seen[0].digest, "linux/amd64", ["1.5"], seen, first_forms(REF, found))
    assert (moved.new, moved.fixed) == ([], [])
    # Without the first forms, the upgrade would read as everything new and fixed.
    blind = delta(now, seen[0].digest, "linux/amd64", ["1.5"], seen)
    assert len(blind.new) == len(blind.fixed) == 2
    # How long a finding has been open carries over too.
    before = {f["fingerprint"]: "2026-11-01T00:00:00Z" for f in old}
    since = open_since(now, before, "2026-12-07T00:00:00Z", first_forms(REF, found))
    assert set(since.values()) == {"2026-11-01T00:00:00Z"}
