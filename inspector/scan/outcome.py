"""What a scan keeps of an image: its check results as stored, its findings with fingerprints,
and what is new and fixed since the previous run that saw its repository.

Check results are stored before the policy's ignores and baseline (those are applied on every
run, so a changed ignore takes effect without re-reading anything); what can change a result
(the tool's version, the checks' and analysers' code, which checks run at which severity, the
thresholds) is the catalog key an audit is stored under.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from checks.model import (
    SEVERITIES,
    Check,
    CheckResult,
    Finding,
    Location,
    Thresholds,
    Vulnerability,
)
from inspector import __version__
from inspector.report.fingerprint import fingerprint, legacy_fingerprint

# The code whose change can change an audit's result.
_SOURCES = ("checks", "inspector/analysers", "inspector/facts", "inspector/layers")


def catalog_key(checks: Sequence[Check], thresholds: Thresholds) -> str:
    """Same key, same results for the same image: the tool's version and code, the checks run
    and their severities, the thresholds."""
    digest = hashlib.sha256(__version__.encode())
    root = Path(__file__).resolve().parents[2]
    for folder in _SOURCES:
        for path in sorted((root / folder).rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    for check in sorted(checks, key=lambda c: c.id):
        digest.update(f"{check.id}={check.severity};".encode())
    digest.update(repr(thresholds).encode())
    return f"{__version__}:{digest.hexdigest()[:20]}"


def results_doc(results: Iterable[CheckResult]) -> list[dict[str, Any]]:
    return [
        {
            "check": r.check.id,
            "status": r.status,
            "reason": r.reason,
            "findings": [_finding_doc(f) for f in r.findings],
        }
        for r in results
    ]


def _finding_doc(finding: Finding) -> dict[str, Any]:
    return {
        "check": finding.check,
        "severity": finding.severity,
        "message": finding.message,
        "location": {k: v for k, v in vars(finding.location).items() if v is not None},
        "fix": finding.fix,
        "rule": finding.rule,
        "identity": finding.identity,
        # Kept whole: the fingerprint of a vulnerability finding reads it.
        "vulnerability": dict(vars(finding.vulnerability)) if finding.vulnerability else None,
        "subject": finding.subject,
    }


def results_from(doc: Sequence[dict[str, Any]], checks: Mapping[str, Check]) -> list[CheckResult]:
    """Stored results back as CheckResults of the checks selected now (the catalog key
    guarantees they are the same checks)."""
    out = []
    for item in doc:
        check = checks.get(item["check"])
        if check is None:
            continue
        findings = tuple(
            Finding(
                f["check"],
                f["severity"],
                f["message"],
                Location(**f["location"]),
                f["fix"],
                f.get("rule"),
                f.get("identity"),
                _vulnerability(f.get("vulnerability")),
                f.get("subject"),
            )
            for f in item["findings"]
        )
        out.append(CheckResult(check, item["status"], findings, item.get("reason")))
    return out


def _vulnerability(stored: dict[str, Any] | None) -> Vulnerability | None:
    if not stored:
        return None
    return Vulnerability(**{**stored, "aliases": tuple(stored.get("aliases") or ())})


def finding_entry(reference: str, finding: Finding) -> dict[str, Any]:
    """A finding as the scan reports and stores it: with its fingerprint and where it is."""
    return {
        "fingerprint": fingerprint(reference, finding),
        "check": finding.check,
        "severity": finding.severity,
        "message": finding.message,
        "where": finding.location.describe(),
        "fix": finding.fix,
    }


def first_forms(reference: str, findings: Iterable[Finding]) -> dict[str, str]:
    """Each finding's fingerprint to its first form, for `delta`."""
    return {fingerprint(reference, f): legacy_fingerprint(reference, f) for f in findings}


def counts(findings: Iterable[dict[str, Any]]) -> dict[str, int]:
    by = Counter(f["severity"] for f in findings)
    return {s: by[s] for s in SEVERITIES}


def delta(
    findings: Sequence[dict[str, Any]],
    tags: Sequence[str],
    previous: Sequence[tuple[Sequence[str], Sequence[dict[str, Any]]]],
    first_form: Mapping[str, str] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(new, fixed) for one image, by fingerprint.

    `previous` is what the previous run that saw the repository found, per image: (its tags,
    its findings). New: not found anywhere in the repository then, so a retag or a rebuild with
    the same problems is not new. Fixed: found then on an image one of these tags pointed to,
    and not found on this image now: what moving the tag fixed.

    `first_form` maps a finding's fingerprint to its first form (`legacy_fingerprint`): a store
    written before the subject form holds those, and the first run after an upgrade matches
    them instead of calling everything new and fixed.
    """
    aliases = first_form or {}
    before = {f["fingerprint"] for _, found in previous for f in found}
    new = [f for f in findings if not {f["fingerprint"], aliases.get(f["fingerprint"])} & before]
    now = {f["fingerprint"] for f in findings} | set(aliases.values())
    fixed: dict[str, dict[str, Any]] = {}
    wanted = set(tags)
    for old_tags, found in previous:
        if wanted & set(old_tags):
            for f in found:
                if f["fingerprint"] not in now:
                    fixed.setdefault(f["fingerprint"], f)
    return new, list(fixed.values())
