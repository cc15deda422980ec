"""What a scan keeps of an image: its check results as stored, its findings with fingerprints,
and what is new and fixed, per tag, since the previous run that saw its repository.

Check results are stored before the policy's ignores and baseline (those are applied on every
run, so a changed ignore takes effect without re-reading anything); what can change a result
(the tool's version, the checks' and analysers' code, which checks run at which severity, the
thresholds) is the catalog key an audit is stored under.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Seen:
    """An image as the previous run that saw its repository recorded it."""

    digest: str
    platform: str
    tags: tuple[str, ...]
    findings: Sequence[dict[str, Any]]
    seen_at: str | None = None  # when that run started


def first_seen(previous: Sequence[Seen]) -> dict[str, str]:
    """When each finding of the previous run was first seen open in the repository, by
    fingerprint (that run's start for runs recorded before this was kept): computed once per
    repository, not per image."""
    before: dict[str, str] = {}
    for seen in previous:
        for f in seen.findings:
            since = f.get("first_seen") or seen.seen_at
            if since and (f["fingerprint"] not in before or since < before[f["fingerprint"]]):
                before[f["fingerprint"]] = since
    return before


def open_since(
    findings: Sequence[dict[str, Any]],
    before: Mapping[str, str],
    now: str,
    first_form: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Carried over from the previous run while any image of the repository still has the
    finding (`before`, from `first_seen`; under its first form for a store written before the
    subject form), else `now`: a finding that went away and came back starts again."""
    aliases = first_form or {}
    return {
        f["fingerprint"]: before.get(f["fingerprint"])
        or before.get(aliases.get(f["fingerprint"], ""), now)
        for f in findings
    }


@dataclass(frozen=True)
class Delta:
    new: list[dict[str, Any]]
    fixed: list[dict[str, Any]]
    # Per tag of the image now: {"tag", "change": added | moved | same, "from": digest | None}.
    tags: list[dict[str, Any]]


def delta(
    findings: Sequence[dict[str, Any]],
    digest: str,
    platform: str,
    tags: Sequence[str],
    previous: Sequence[Seen],
    first_form: Mapping[str, str] | None = None,
) -> Delta:
    """New and fixed for one image, judged per tag, by fingerprint.

    A tag the previous run saw is compared with the digest it named then: the findings that
    appeared between the two digests are new, those that disappeared are fixed, so a tag moved
    from a good image to a bad one reads as the regression it is, whatever other tags of the
    repository already had. Only a tag seen for the first time has no digest to compare with:
    its image is compared with the same digest if the repository had it under another tag,
    else with the whole repository (a new release tag with the known problems is not new);
    nothing is fixed by a tag that did not exist.

    `first_form` maps a finding's fingerprint to its first form (`legacy_fingerprint`): a store
    written before the subject form holds those, and the first run after an upgrade matches
    them instead of calling everything new and fixed.
    """
    aliases = first_form or {}
    same_platform = [seen for seen in previous if seen.platform == platform]
    named: dict[str, Seen] = {}
    for seen in same_platform:
        for tag in seen.tags:
            named.setdefault(tag, seen)
    changes = []
    compared: dict[str, Seen] = {}
    for tag in sorted(tags):
        before = named.get(tag)
        if before is None:
            changes.append({"tag": tag, "change": "added", "from": None})
            continue
        compared[before.digest] = before
        change = "same" if before.digest == digest else "moved"
        changes.append({"tag": tag, "change": change, "from": before.digest})
    if compared:
        against = list(compared.values())
    else:
        against = [seen for seen in same_platform if seen.digest == digest] or same_platform
    before_prints = {f["fingerprint"] for seen in against for f in seen.findings}
    new = [f for f in findings
           if not {f["fingerprint"], aliases.get(f["fingerprint"])} & before_prints]  # fmt: skip
    now = {f["fingerprint"] for f in findings} | set(aliases.values())
    fixed: dict[str, dict[str, Any]] = {}
    for seen in compared.values():
        for f in seen.findings:
            if f["fingerprint"] not in now:
                fixed.setdefault(f["fingerprint"], f)
    return Delta(new, list(fixed.values()), changes)
