"""The result of auditing one image: what every report format renders and the gate decides on."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from checks.model import SEVERITIES, CheckResult, Finding, Suppressed, severity_rank


@dataclass(frozen=True)
class AdvisoryDatabase:
    """The advisory database an image's vulnerabilities were matched against, as every report
    states it (the facts' `vulnerabilities` section, dated at the audit's clock)."""

    status: str  # "matched" | "no-database" | "disabled" | "error"
    location: str | None = None
    updated: str | None = None  # RFC 3339 UTC: the oldest import of the ecosystems needed
    age_days: int | None = None  # how old `updated` was when the audit ran
    max_age_days: int | None = None  # --max-db-age: older is a notice
    note: str | None = None  # why it was not matched
    ecosystems: tuple[str, ...] = ()  # what the image needed matched
    missing: tuple[str, ...] = ()  # of those, what the database holds nothing for

    @property
    def stale(self) -> bool:
        return (self.age_days is not None and self.max_age_days is not None
                and self.age_days > self.max_age_days)  # fmt: skip

    def line(self) -> str:
        """One line for the reader: the database's date and age, or why there was none."""
        if self.status == "matched":
            day = (self.updated or "")[:10] or "an unknown date"
            age = "" if self.age_days is None else f", {_days(self.age_days)}"
            held = f"; matched {', '.join(self.ecosystems)}" if self.ecosystems else ""
            return f"advisory database: updated {day}{age} ({self.location}){held}"
        if self.status == "disabled":
            return "vulnerabilities: not matched (--no-vulns)"
        return f"advisory database: {self.note or self.status}"


def _days(days: int) -> str:
    if days == 0:
        return "today"
    return "1 day old" if days == 1 else f"{days} days old"


@dataclass(frozen=True)
class ImageReport:
    reference: str
    image_id: str | None
    digest: str | None
    results: tuple[CheckResult, ...] = ()
    error: str | None = None  # the tool could not audit this image
    runtime: dict[str, Any] | None = None  # the probes' statuses, for the reader
    dockerfile: str | None = None  # the Dockerfile's path as given with --dockerfile
    dockerfile_lines: Mapping[int, int] = field(default_factory=dict)  # layer -> line
    # config field ("User", "Env.PATH", "FROM" for the final stage) -> (line, its keyword)
    dockerfile_config: Mapping[str, tuple[int, str]] = field(default_factory=dict)
    notices: tuple[str, ...] = ()  # what the policy wants the reader to know (expired ignores)
    # What the SBOM formats describe, as the facts' JSON (None when not collected): the `image`
    # section; the `inventory` with each component's `reachability` and the `import_path` (and
    # `import_path_source`) it was judged by; the `vulnerabilities` section when matching ran.
    image: Mapping[str, Any] | None = None
    inventory: Mapping[str, Any] | None = None
    vulnerabilities: Mapping[str, Any] | None = None
    # The advisory database the vulnerabilities were matched against; None: not reported (an
    # image that could not be audited, or a report made before matching existed).
    advisories: AdvisoryDatabase | None = None
    # Why the probes could not judge the app's start (it waits for configuration, or was killed
    # for memory); None: they could, or did not run. `inconclusive_fails`: the policy's
    # `inconclusive = "fail"` makes that fail the gate.
    inconclusive: str | None = None
    inconclusive_fails: bool = False

    @property
    def findings(self) -> list[Finding]:
        found = [f for r in self.results for f in r.findings]
        return sorted(found, key=lambda f: (-severity_rank(f.severity), f.check))

    @property
    def suppressed(self) -> list[Suppressed]:
        return [s for r in self.results for s in r.suppressed]

    def counts(self) -> str:
        """The findings that count, by severity, worst first: "2 high, 1 low"; "" for none."""
        by = Counter(f.severity for f in self.findings)
        return ", ".join(f"{by[s]} {s}" for s in reversed(SEVERITIES) if by[s])

    def accepted(self) -> str:
        """What the policy accepted: "3 findings accepted (1 by the policy's ignores, 2 in the
        baseline)"; "" for none."""
        by = Counter(item.suppression.by for item in self.suppressed)
        if not by:
            return ""
        how = [f"{by['ignore']} by the policy's ignores"] if by["ignore"] else []
        how += [f"{by['baseline']} in the baseline"] if by["baseline"] else []
        total = by.total()
        return f"{total} finding{'' if total == 1 else 's'} accepted ({', '.join(how)})"


def exit_code(reports: Sequence[ImageReport], fail_on: str = "high") -> int:
    """2 when an image (or a check) could not be audited, 1 when a finding reaches `fail_on`
    or the policy fails an inconclusive start."""
    if any(not audited(r) for r in reports):
        return 2
    return 1 if any(gate_fails(r, fail_on) for r in reports) else 0


def audited(report: ImageReport) -> bool:
    # A check that crashed left the image half-audited: the tool did not do its job.
    return not (report.error or any(x.status == "error" for x in report.results))


def gating(report: ImageReport, fail_on: str = "high") -> list[Finding]:
    """The findings that fail the gate: counted, at `fail_on` or above, worst first."""
    threshold = severity_rank(fail_on)
    return [f for f in report.findings if severity_rank(f.severity) >= threshold]


def gate_fails(report: ImageReport, fail_on: str = "high") -> bool:
    return bool(gating(report, fail_on)) or (report.inconclusive is not None
                                             and report.inconclusive_fails)  # fmt: skip


def verdict(report: ImageReport, fail_on: str = "high") -> str:
    """The gate's decision on one image in one line, the same in every format: "gate passed",
    "gate failed: 2 high (COR004, SEC001)", "gate failed: inconclusive start", or why there is
    none (exit 2)."""
    if report.error:
        return "no verdict: the image could not be audited"
    crashed = [r.check.id for r in report.results if r.status == "error"]
    if crashed:
        return f"no verdict: {', '.join(crashed)} could not run"
    by: dict[str, list[str]] = {}
    for finding in gating(report, fail_on):
        ids = by.setdefault(finding.severity, [])
        if finding.check not in ids:
            ids.append(finding.check)
    counts = Counter(f.severity for f in gating(report, fail_on))
    parts = [f"{counts[s]} {s} ({', '.join(by[s])})" for s in reversed(SEVERITIES) if counts[s]]
    if report.inconclusive is not None and report.inconclusive_fails:
        parts.append('inconclusive start (the policy\'s inconclusive = "fail")')
    if parts:
        return "gate failed: " + ", ".join(parts)
    if report.inconclusive is not None:
        return "gate passed (the start was inconclusive; the policy lets that pass)"
    return "gate passed"
