"""`inspector audit`: facts for each image, the selected checks on them, one report per image.

Images are audited concurrently (bounded): most of the time goes to waiting on the engine (the
export, the probes' warm-up and stop), not to our CPU.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from checks.engine import run_checks
from checks.metadata import reference_notice
from checks.model import Check, Context
from inspector.analysers.inventory import Component, reachability
from inspector.errors import InspectorError
from inspector.policy.gate import Gate, apply
from inspector.probes import ProbeOptions
from inspector.report.model import AdvisoryDatabase, ImageReport

if TYPE_CHECKING:
    from inspector.dockerfile.locate import Dockerfile
    from inspector.expect.model import ExpectationFile
    from inspector.facts.vulns import AdvisoryOptions

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
    # The advisory database (--db); None: vulnerabilities are not matched (--no-vulns).
    advisories: AdvisoryOptions | None = None
    max_db_age: int = 7  # days (--max-db-age): an older database is a notice in every report
    # The team's own expectations (--expect, the policy's `expect`), judged into the facts.
    expect: tuple[ExpectationFile, ...] = ()


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
            advisories=options.advisories,
            expect=options.expect,
        )
    except InspectorError as exc:
        # The reference and the error are what the user typed, or the engine said back: a
        # `https://user:password@...` typed by mistake is masked in every report format.
        from inspector.analysers.secrets import redact_reference, redact_text

        shown = redact_reference(reference)
        return ImageReport(shown, None, None, error=redact_text(str(exc)) or str(exc))
    return report_of(reference, facts.to_json(), checks, options)


def report_of(
    reference: str, doc: Mapping[str, Any], checks: Sequence[Check], options: AuditOptions
) -> ImageReport:
    """One image's report from its facts JSON: the checks, the policy, the notices (the part of
    an audit after collection, so facts collected once can be judged under other options)."""
    applied = apply(options.gate, reference, run_checks(doc, checks, options.context))
    runtime = {
        name: {"status": section.get("status"), "reason": section.get("reason")}
        for name, section in (doc.get("runtime") or {}).items()
    }
    dockerfile = options.dockerfile
    notices = applied.notices
    # How the image was named is the audit's business, not a finding about the image.
    if said := reference_notice(reference, doc["image"]["id"], doc["image"].get("digest")):
        notices += (said,)
    if dockerfile and (warning := dockerfile.mismatch(doc)):
        notices += (warning,)
    database = advisory_database(doc.get("vulnerabilities"), options.context.now,
                                 options.max_db_age)  # fmt: skip
    notices += database_notices(database)
    undecided = inconclusive_start(doc)
    return ImageReport(
        reference,
        doc["image"]["id"],
        doc["image"].get("digest"),
        applied.results,
        runtime=runtime,
        notices=notices,
        dockerfile=dockerfile.path if dockerfile else None,
        dockerfile_lines=dockerfile.locate(doc) if dockerfile else {},
        dockerfile_config=dockerfile.config_lines(doc) if dockerfile else {},
        image=doc["image"],
        inventory=judged_inventory(doc),
        vulnerabilities=doc.get("vulnerabilities"),
        advisories=database,
        inconclusive=undecided,
        inconclusive_fails=options.gate.policy.inconclusive == "fail",
    )


def inconclusive_start(doc: Mapping[str, Any]) -> str | None:
    """Why the probes could not judge the app's start, when they could not: the lifecycle
    probe saw it exit waiting for configuration, a service or memory, or the static probe's
    import test failed the same way. None when they could, or did not run."""
    runtime = doc.get("runtime") or {}
    life = runtime.get("lifecycle") or {}
    if (life.get("exit_cause") or {}).get("verdict") == "inconclusive":
        return str(life.get("reason") or "the app's start was inconclusive")
    imports = (runtime.get("static") or {}).get("imports") or {}
    if imports.get("verdict") == "inconclusive":
        said = f": {imports['message']}" if imports.get("message") else ""
        return f"the static probe could not import `{imports.get('command')}`{said}"
    return None


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


def advisory_database(section: Any, now: datetime, max_age: int) -> AdvisoryDatabase:
    """The facts' `vulnerabilities` section as reports state it, dated at the audit's clock."""
    if not isinstance(section, dict):
        return AdvisoryDatabase("disabled", note="these facts hold no vulnerabilities section")
    database = section.get("database") or {}
    updated = database.get("updated")
    age = None
    if updated:
        try:
            when = datetime.fromisoformat(updated.replace("Z", "+00:00"))
        except ValueError:
            when = None
        if when is not None:
            when = when if when.tzinfo else when.replace(tzinfo=UTC)
            now = now if now.tzinfo else now.replace(tzinfo=UTC)
            age = max(0, (now - when).days)
    return AdvisoryDatabase(
        status=section.get("status") or "disabled",
        location=database.get("location"),
        updated=updated,
        age_days=age,
        max_age_days=max_age,
        note=section.get("note"),
        ecosystems=tuple(section.get("ecosystems") or ()),
        missing=tuple(section.get("missing") or ()),
    )


def database_notices(database: AdvisoryDatabase) -> tuple[str, ...]:
    """What every report must say about the database: none (one line), an error, its age past
    --max-db-age, the ecosystems it holds nothing for. Matching turned off says nothing here:
    the reader asked for it, and the report's database line states it."""
    if database.status in ("no-database", "error"):
        return (database.note or f"vulnerabilities were not matched ({database.status})",)
    if database.status != "matched":
        return ()
    out = []
    if database.stale:
        out.append(
            f"the advisory database is {database.age_days} days old (updated "
            f"{(database.updated or '')[:10]}; --max-db-age is {database.max_age_days}): "
            "vulnerabilities published since are not reported; `inspector db update` "
            "refreshes it"
        )
    if database.missing:
        out.append(
            f"the advisory database holds no advisories for {', '.join(database.missing)}: "
            "those components were not matched; `inspector db update` fetches them"
        )
    return tuple(out)


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
