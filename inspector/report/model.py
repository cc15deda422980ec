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
    notices: tuple[str, ...] = ()  # what the policy wants the reader to know (expired ignores)
    # The advisory database the vulnerabilities were matched against; None: not reported (an
    # image that could not be audited, or a report made before matching existed).
    advisories: AdvisoryDatabase | None = None

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
    """2 when an image (or a check) could not be audited, 1 when a finding reaches `fail_on`."""
    # A check that crashed left the image half-audited: the tool did not do its job.
    if any(r.error or any(x.status == "error" for x in r.results) for r in reports):
        return 2
    threshold = severity_rank(fail_on)
    hit = any(severity_rank(f.severity) >= threshold for r in reports for f in r.findings)
    return 1 if hit else 0
