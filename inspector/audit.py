"""`inspector audit`: facts for each image, the selected checks on them, one report per image.

Images are audited concurrently (bounded): most of the time goes to waiting on the engine (the
export, the probes' warm-up and stop), not to our CPU.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from checks.engine import run_checks
from checks.metadata import reference_notice
from checks.model import Check, Context
from inspector.analysers.inventory import Component, reachability
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
        # The reference and the error are what the user typed, or the engine said back: a
        # `https://user:password@...` typed by mistake is masked in every report format.
        from inspector.analysers.secrets import redact_reference, redact_text

        shown = redact_reference(reference)
        return ImageReport(shown, None, None, error=redact_text(str(exc)) or str(exc))
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
        image=doc["image"],
        inventory=judged_inventory(doc),
        vulnerabilities=doc.get("vulnerabilities"),
    )


def judged_inventory(doc: Mapping[str, Any]) -> dict[str, Any] | None:
    """The facts' inventory with each component's reachability, judged by the sys.path matching
    uses (the static probe's when it ran, else the one the layers tell), so SBOMs say what the
    findings say, also when matching did not run."""
    inventory = doc.get("inventory")
    if inventory is None:
        return None
    path, source = _import_path(doc)
    fields = {f.name for f in dataclasses.fields(Component)}
    components = [
        {**c, "reachability": reachability(Component(**{k: c[k] for k in fields}), path)}
        for c in inventory.get("components") or ()
    ]
    return {**inventory, "components": components, "import_path": list(path),
            "import_path_source": source}  # fmt: skip


def _import_path(doc: Mapping[str, Any]) -> tuple[tuple[str, ...], str | None]:
    """The sys.path reachability is judged by, and where it came from: matching's own when it
    ran; else the static probe's; else the layers'."""
    vulns = doc.get("vulnerabilities") or {}
    if vulns.get("import_path"):
        return tuple(vulns["import_path"]), vulns.get("import_path_source")
    static = (doc.get("runtime") or {}).get("static") or {}
    if static.get("status") == "ran" and static.get("sys_path"):
        return tuple(static["sys_path"]), "probe"
    if layers := (doc.get("inventory") or {}).get("import_path"):
        return tuple(layers), "static"
    return (), None


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
