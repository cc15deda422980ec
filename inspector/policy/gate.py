"""The policy applied to one image's check results: severities, accepted findings, the baseline.

Checks stay pure and unaware of policy: they report everything they find. Here each finding
gets the policy's severity for its check, then is suppressed by the first ignore that matches it
(unless that ignore has expired: it then counts again, and a notice says so), else by the
baseline. Suppressed findings stay in every report, marked with why; only the gate stops seeing
them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from fnmatch import fnmatchcase

from checks.model import Check, CheckResult, Finding, Suppressed, Suppression, utc_now
from inspector.policy.baseline import Baseline
from inspector.policy.config import Ignore, Policy
from inspector.report.fingerprint import fingerprints, repository


@dataclass(frozen=True)
class Gate:
    """What the audit applies after the checks ran; `today` decides which ignores expired."""

    policy: Policy = field(default_factory=Policy)
    baseline: Baseline | None = None
    # The local date, read through the catalog's one clock (a test suite pins it there).
    today: date = field(default_factory=lambda: utc_now().astimezone().date())

    def expired(self) -> list[Ignore]:
        return [i for i in self.policy.ignores if i.expired(self.today)]


@dataclass(frozen=True)
class Applied:
    results: tuple[CheckResult, ...]
    notices: tuple[str, ...]


def apply(gate: Gate, reference: str, results: Sequence[CheckResult]) -> Applied:
    notices: list[str] = []
    matched: set[str] = set()
    out = []
    for result in results:
        active: list[Finding] = []
        suppressed: list[Suppressed] = []
        for finding in result.findings:
            finding = _severity(gate.policy, finding)
            why = _suppression(gate, reference, result.check, finding, notices, matched)
            if why is None:
                active.append(finding)
            else:
                suppressed.append(Suppressed(finding, why))
        status = result.status
        if status in ("passed", "failed"):
            status = "failed" if active else "passed"
        out.append(replace(result, status=status, findings=tuple(active),
                           suppressed=tuple(suppressed)))  # fmt: skip
    if gate.baseline is not None:
        ran = {r.check.id for r in results if r.status in ("passed", "failed")}
        notices.extend(_stale(gate.baseline, reference, matched, ran))
    return Applied(tuple(out), tuple(dict.fromkeys(notices)))


def _severity(policy: Policy, finding: Finding) -> Finding:
    severity = policy.severity.get(finding.check)
    return replace(finding, severity=severity) if severity else finding


def _suppression(gate: Gate, reference: str, check: Check, finding: Finding,
                 notices: list[str], matched: set[str]) -> Suppression | None:  # fmt: skip
    in_baseline = False
    if gate.baseline is not None:
        # A baseline written before the subject form lists the first form: either matches.
        keys = [k for k in fingerprints(reference, finding) if k in gate.baseline.entries]
        in_baseline = bool(keys)
        matched.update(keys)  # still present, whatever suppresses it: not a stale entry
    for ignore in gate.policy.ignores:
        if not _matches(ignore, reference, check, finding):
            continue
        if ignore.expired(gate.today):
            notices.append(f"the ignore in {ignore.source} expired on {ignore.expires} and no "
                           f"longer accepts {finding.check} ({ignore.reason})")  # fmt: skip
            continue
        return Suppression("ignore", ignore.reason, ignore.source, ignore.expires)
    if in_baseline and gate.baseline is not None:
        return Suppression("baseline", "in the baseline", gate.baseline.source)
    return None


def _matches(ignore: Ignore, reference: str, check: Check, finding: Finding) -> bool:
    names = {n.lower() for n in ignore.checks}
    if names and not names & {check.id.lower(), check.name, check.category}:
        return False
    if not any(fnmatchcase(reference, pattern) for pattern in ignore.images):
        return False
    if ignore.rules and not any(fnmatchcase(name, r) for name in _rules(finding)
                                for r in ignore.rules):  # fmt: skip
        return False
    if ignore.vulnerabilities and not _vulnerability(ignore.vulnerabilities, finding):
        return False
    if ignore.paths:
        path = finding.location.path
        return path is not None and any(fnmatchcase(path, p) for p in ignore.paths)
    return True


def _rules(finding: Finding) -> list[str]:
    """The finding's rule, and the aliases of a vulnerability's id (its rule)."""
    names = [finding.rule] if finding.rule is not None else []
    if finding.vulnerability is not None:
        names += finding.vulnerability.aliases
    return names


def _vulnerability(patterns: Sequence[str], finding: Finding) -> bool:
    """Whether a pattern names the finding's vulnerability by its id or any alias (ids are
    upper case by convention, but a policy written `cve-2024-6345` means the same)."""
    vuln = finding.vulnerability
    if vuln is None:
        return False
    names = [vuln.id.upper(), *(a.upper() for a in vuln.aliases)]
    return any(fnmatchcase(name, p.upper()) for name in names for p in patterns)


def _stale(baseline: Baseline, reference: str, matched: set[str], ran: set[str]) -> list[str]:
    """Entries of checks that ran on this image's repository and matched nothing: fixed."""
    repo = repository(reference)
    stale = [e for key, e in baseline.entries.items()
             if e.repository == repo and e.check in ran and key not in matched]  # fmt: skip
    if not stale:
        return []
    checks = ", ".join(sorted({e.check for e in stale}))
    entries = "entry" if len(stale) == 1 else "entries"
    return [f"{len(stale)} baseline {entries} for {repo} no longer found ({checks}): "
            f"fixed? `inspector baseline` rewrites {baseline.source}"]  # fmt: skip
