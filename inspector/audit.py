"""`inspector audit`: facts for each image, the selected checks on them, one report per image.

Images are audited concurrently (bounded): most of the time goes to waiting on the engine (the
export, the probes' warm-up and stop), not to our CPU.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from checks.engine import run_checks
from checks.model import (
    SEVERITIES,
    Check,
    CheckResult,
    Context,
    Finding,
    Suppressed,
    severity_rank,
)
from inspector.errors import InspectorError
from inspector.policy import Gate, apply
from inspector.probes import ProbeOptions

if TYPE_CHECKING:
    from inspector.dockerfile import Dockerfile

WORKERS = 2


@dataclass(frozen=True)
class AuditOptions:
    pull: str = "never"
    use_cache: bool = True
    probe: ProbeOptions | None = field(default_factory=ProbeOptions)
    context: Context = field(default_factory=Context)
    gate: Gate = field(default_factory=Gate)  # the policy's severities and ignores, the baseline
    dockerfile: Dockerfile | None = None  # --dockerfile: locate layers at their instruction


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


def audit_one(
    reference: str, checks: Sequence[Check], options: AuditOptions, progress: Callable[[str], None]
) -> ImageReport:
    from inspector.facts import collect

    # Probes cost seconds per image: run them only when a selected check looks at them.
    wanted = options.probe if any(c.needs_probe for c in checks) else None
    try:
        facts = collect(
            reference,
            pull=options.pull,
            use_cache=options.use_cache,
            probe=wanted,
            progress=lambda message: progress(f"{reference}: {message}"),
        )
    except InspectorError as exc:
        return ImageReport(reference, None, None, error=str(exc))
    doc = facts.to_json()
    applied = apply(options.gate, reference, run_checks(doc, checks, options.context))
    runtime = {
        name: {"status": section.get("status"), "reason": section.get("reason")}
        for name, section in (doc.get("runtime") or {}).items()
    }
    dockerfile = options.dockerfile
    notices = applied.notices
    if dockerfile and (warning := dockerfile.mismatch(doc)):
        notices += (warning,)
    return ImageReport(
        reference,
        doc["image"]["id"],
        doc["image"].get("digest"),
        applied.results,
        runtime=runtime,
        notices=notices,
        dockerfile=dockerfile.path if dockerfile else None,
        dockerfile_lines=dockerfile.locate(doc) if dockerfile else {},
    )


def audit(
    references: Sequence[str],
    checks: Sequence[Check],
    options: AuditOptions,
    progress: Callable[[str], None] = lambda message: None,
) -> list[ImageReport]:
    """One report per reference, in the order given."""
    if len(references) == 1:
        return [audit_one(references[0], checks, options, progress)]
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(lambda ref: audit_one(ref, checks, options, progress), references))


def exit_code(reports: Sequence[ImageReport], fail_on: str = "high") -> int:
    """2 when an image (or a check) could not be audited, 1 when a finding reaches `fail_on`."""
    # A check that crashed left the image half-audited: the tool did not do its job.
    if any(r.error or any(x.status == "error" for x in r.results) for r in reports):
        return 2
    threshold = severity_rank(fail_on)
    hit = any(severity_rank(f.severity) >= threshold for r in reports for f in r.findings)
    return 1 if hit else 0
