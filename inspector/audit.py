"""`inspector audit`: facts for each image, the selected checks on them, one report per image.

Images are audited concurrently (bounded): most of the time goes to waiting on the engine (the
export, the probes' warm-up and stop), not to our CPU.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from checks.engine import run_checks
from checks.metadata import reference_notice
from checks.model import Check, Context
from inspector.errors import InspectorError
from inspector.policy.gate import Gate, apply
from inspector.probes import ProbeOptions
from inspector.report.model import ImageReport

if TYPE_CHECKING:
    from inspector.dockerfile.locate import Dockerfile

WORKERS = 2


@dataclass(frozen=True)
class AuditOptions:
    pull: str = "never"
    use_cache: bool = True
    platform: str | None = None  # registry: indexes only (os/arch[/variant])
    insecure_registries: tuple[str, ...] = ()  # registry: hosts spoken to in plain HTTP
    probe: ProbeOptions | None = field(default_factory=ProbeOptions)
    context: Context = field(default_factory=Context)
    gate: Gate = field(default_factory=Gate)  # the policy's severities and ignores, the baseline
    dockerfile: Dockerfile | None = None  # --dockerfile: locate layers at their instruction


def audit_one(
    reference: str, checks: Sequence[Check], options: AuditOptions, progress: Callable[[str], None]
) -> ImageReport:
    from inspector.facts.collect import collect

    # Probes cost seconds per image: run them only when a selected check looks at them.
    wanted = options.probe if any(c.needs_probe for c in checks) else None
    try:
        facts = collect(
            reference,
            pull=options.pull,
            use_cache=options.use_cache,
            platform=options.platform,
            insecure_registries=options.insecure_registries,
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
    # How the image was named is the audit's business, not a finding about the image.
    if said := reference_notice(reference, doc["image"]["id"]):
        notices += (said,)
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
    *,
    jobs: int = WORKERS,
    finished: Callable[[ImageReport], None] = lambda report: None,
) -> list[ImageReport]:
    """One report per reference, in the order given; `jobs` images at a time (each image's
    probes keep their own limits), `finished` told of each as it ends."""

    def one(reference: str) -> ImageReport:
        report = audit_one(reference, checks, options, progress)
        finished(report)
        return report

    if len(references) == 1 or jobs <= 1:
        return [one(reference) for reference in references]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(one, references))
