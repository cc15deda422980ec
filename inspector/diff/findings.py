"""Findings new, fixed and still present, matched by the fingerprints `scan` and baselines use,
and the gate `--fail-on new:SEVERITY` decides on."""

from __future__ import annotations

from collections.abc import Sequence

from checks.model import CheckResult, Finding, severity_rank
from inspector.diff.model import FindingEntry, FindingsDiff, Gate
from inspector.report.fingerprint import fingerprint

_RAN = ("passed", "failed")


def _entries(reference: str, results: Sequence[CheckResult]) -> dict[str, tuple[Finding, str]]:
    """fingerprint -> (finding, check id), for the findings that count."""
    return {
        fingerprint(reference, f): (f, result.check.id)
        for result in results
        for f in result.findings
    }


def _entry(key: str, finding: Finding, compared: bool = True) -> FindingEntry:
    return FindingEntry(key, finding.check, finding.severity, finding.message,
                        finding.location.describe(), finding.fix, compared)  # fmt: skip


def _order(entries: list[FindingEntry]) -> tuple[FindingEntry, ...]:
    return tuple(sorted(entries, key=lambda e: (-severity_rank(e.severity), e.check, e.message)))


def findings_diff(
    reference: str, old: Sequence[CheckResult], new: Sequence[CheckResult]
) -> FindingsDiff:
    """Both images' findings fingerprinted under one `reference` (NEW's): OLD and NEW are the
    same application under two names, and a fingerprint holds the repository's name.

    A finding of a check that did not run on the other image is not judged there: a new one is
    still new (`compared` false: OLD may have had it), an old one is not called fixed."""
    before, after = _entries(reference, old), _entries(reference, new)
    ran_old = {r.check.id for r in old if r.status in _RAN}
    ran_new = {r.check.id for r in new if r.status in _RAN}
    new_entries, still, fixed, unchecked = [], [], [], []
    for key, (finding, check) in after.items():
        if key in before:
            still.append(_entry(key, finding))
        else:
            new_entries.append(_entry(key, finding, check in ran_old))
    for key, (finding, check) in before.items():
        if key in after:
            continue
        if check in ran_new:
            fixed.append(_entry(key, finding))
        else:
            unchecked.append(_entry(key, finding, False))
    return FindingsDiff(_order(new_entries), _order(fixed), _order(still), _order(unchecked))


def gate(findings: FindingsDiff, fail_on: str | None) -> Gate:
    """Failed when NEW brings a finding at or above `fail_on` that OLD did not have."""
    if fail_on is None:
        return Gate(None, False, (), "no gate (--fail-on new:SEVERITY was not given)")
    threshold = severity_rank(fail_on)
    hit = [e for e in findings.new if severity_rank(e.severity) >= threshold]
    if not hit:
        return Gate(fail_on, False, (), f"gate passed: no new finding at {fail_on} or above")
    by: dict[str, list[str]] = {}
    for e in hit:
        by.setdefault(e.severity, [])
        if e.check not in by[e.severity]:
            by[e.severity].append(e.check)
    counts = ", ".join(
        f"{sum(1 for e in hit if e.severity == s)} {s} ({', '.join(by[s])})"
        for s in sorted(by, key=lambda s: -severity_rank(s))
    )
    return Gate(fail_on, True, tuple(e.fingerprint for e in hit), f"gate failed: new {counts}")
