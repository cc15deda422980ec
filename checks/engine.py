"""Choose checks and run them on facts: every check ends passed, failed, skipped or error."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from checks.access import probe_missing
from checks.model import Check, CheckResult, Context, Facts, Skip


class SelectionError(ValueError):
    """--select/--ignore named something that is neither a check id, a name nor a category."""


def select(catalog: Iterable[Check], chosen: Sequence[str] = (),
           ignored: Sequence[str] = ()) -> list[Check]:  # fmt: skip
    """Checks matching `chosen` (all when empty) minus `ignored`; by id, name or category."""
    checks = sorted(catalog, key=lambda c: c.id)
    known = {c.id.lower() for c in checks} | {c.name for c in checks} | {c.category for c in checks}
    unknown = [x for x in (*chosen, *ignored) if x.lower() not in known]
    if unknown:
        raise SelectionError(f"no check or category called {', '.join(map(repr, unknown))}; "
                             "`inspector checks` lists them")  # fmt: skip

    def matches(c: Check, names: Sequence[str]) -> bool:
        return any(n.lower() in (c.id.lower(), c.name, c.category) for n in names)

    return [c for c in checks if (not chosen or matches(c, chosen)) and not matches(c, ignored)]


def unavailable(check: Check, facts: Facts) -> str | None:
    """Why a check cannot run on these facts (a needed probe did not run), else None."""
    runtime = facts.get("runtime") or {}
    for section in check.needs:
        if not section.startswith("runtime."):
            continue
        name = section.split(".", 1)[1]
        probe = runtime.get(name) or {}
        if probe.get("status") != "ran":
            status = probe.get("status") or "missing"
            why = probe.get("reason") or probe.get("message") or "it did not run"
            return probe_missing(f"the {name} probe", status, why)
    return None


def run_check(check: Check, facts: Facts, context: Context) -> CheckResult:
    missing = unavailable(check, facts)
    if missing:
        return CheckResult(check, "skipped", reason=missing)
    try:
        findings = tuple(check.finding(found) for found in check.run(facts, context))
    except Skip as skip:
        return CheckResult(check, "skipped", reason=str(skip))
    except Exception as exc:  # a bug in one check must not hide the others' results
        return CheckResult(check, "error", reason=f"{type(exc).__name__}: {exc}")
    return CheckResult(check, "failed" if findings else "passed", findings)


def run_checks(facts: Facts, checks: Iterable[Check], context: Context) -> list[CheckResult]:
    return [run_check(check, facts, context) for check in checks]
