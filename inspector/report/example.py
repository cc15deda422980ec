"""A made-up audit, rendered by the real inspector/report/json.py: docs/report.md's example, and
the report in which every path docs/report.md describes must appear (so no description outlives
the field it describes).

`example()` is what a reader sees: one image with a finding that counts, one accepted by an
ignore, one accepted by the baseline (in a layer, located in the Dockerfile), a skipped check,
and an expired ignore's notice.
`everything()` adds what a reader should rarely meet (a crashed check, an image that could not be
audited, every location part at once) so that every path is present.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from checks import catalog
from checks.model import CheckResult, Finding, Location, Suppressed, Suppression
from inspector.report.model import ImageReport

_PIP_STEP = "RUN pip install -r requirements.txt"
_NO_BUILD_TIME = "the image records no believable build time (none, or a fixed epoch)"


def _finding(check_id: str, message: str, location: Location) -> Finding:
    check = catalog()[check_id]
    return Finding(check.id, check.severity, message, location, check.fix)


def _failed(check_id: str, *findings: Finding) -> CheckResult:
    return CheckResult(catalog()[check_id], "failed", findings)


def example() -> ImageReport:
    checks = catalog()
    healthcheck = _finding(
        "OPS004", "the image declares no HEALTHCHECK", Location(config="Healthcheck")
    )
    cache = _finding(
        "SIZE002",
        "pip's cache: 14.2 MiB in 212 file(s) written by layer 4",
        Location(layer=3, created_by=_PIP_STEP, path="/root/.cache/pip"),
    )
    results = (  # sorted by check id, as the engine runs them
        CheckResult(checks["META002"], "skipped", reason=_NO_BUILD_TIME),
        CheckResult(
            checks["OPS004"],
            "passed",
            suppressed=(
                Suppressed(
                    healthcheck,
                    Suppression(
                        "ignore",
                        "Kubernetes probes /healthz",
                        ".inspector.toml: ignores[0]",
                        date(2027, 3, 31),
                    ),
                ),
            ),
        ),
        _failed(
            "SEC001",
            _finding(
                "SEC001",
                "the app process (pid 1: python3 -m app) runs with UID 0",
                Location(config="User", runtime="lifecycle probe"),
            ),
        ),
        CheckResult(
            checks["SIZE002"],
            "passed",
            suppressed=(
                Suppressed(
                    cache, Suppression("baseline", "in the baseline", "inspector-baseline.json")
                ),
            ),
        ),
    )
    return ImageReport(
        "registry.example.com/app:1.4",
        "sha256:4b825dc642cb6eb9a060e54bf8d69288fbee4904e0b3e6a8a8c2a4b1f0e2d3c4",
        "registry.example.com/app@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        results,
        runtime={
            "static": {"status": "ran", "reason": None},
            "lifecycle": {"status": "ran", "reason": None},
        },
        dockerfile="Dockerfile",
        dockerfile_lines={3: 7},
        notices=(
            "the ignore in .inspector.toml: ignores[1] expired on 2026-01-31: SEC001 counts "
            "again (migrating to a numeric USER)",
        ),
    )


def everything() -> list[ImageReport]:
    everywhere = Location(
        config="Cmd", layer=3, created_by=_PIP_STEP, path="/app", runtime="lifecycle probe: pid 1"
    )
    odd = _finding("OPS001", "Cmd is shell form", everywhere)
    accepted = Suppressed(odd, Suppression("ignore", "a reason", "pyproject.toml", None))
    extra = (
        CheckResult(catalog()["META004"], "error", reason="KeyError: 'os'"),
        CheckResult(catalog()["OPS001"], "failed", (odd,), suppressed=(accepted,)),
    )
    full = example()
    return [
        replace(full, results=full.results + extra),
        ImageReport("app:missing", None, None, error="no such image: app:missing"),
    ]
