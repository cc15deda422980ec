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
from checks.model import (
    CheckResult,
    Finding,
    Location,
    Suppressed,
    Suppression,
    Vulnerability,
)
from inspector.report.model import AdvisoryDatabase, ImageReport

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
    requests = Vulnerability(
        "CVE-2024-35195",
        ("GHSA-9wx4-h78v-vm56",),
        "Requests `Session` object does not verify requests after making first request with "
        "verify=False",
        "https://github.com/advisories/GHSA-9wx4-h78v-vm56",
        "medium",
        5.6,
        "PyPI",
        "requests",
        "2.31.0",
        "2.32.0",
        "importable",
        "/opt/venv/lib/python3.12/site-packages",
    )
    vulnerable = replace(
        _finding(
            "SEC031",
            "requests 2.31.0 has CVE-2024-35195 (also GHSA-9wx4-h78v-vm56), medium, CVSS 5.6: "
            "Requests `Session` object does not verify requests after making first request "
            "with verify=False; fixed in 2.32.0; importable by the command (from "
            "/opt/venv/lib/python3.12/site-packages)",
            Location(
                layer=3,
                created_by=_PIP_STEP,
                path="/opt/venv/lib/python3.12/site-packages/requests-2.31.0.dist-info",
            ),
        ),
        severity="medium",
        fix="Pin `requests==2.32.0` (or later) in the requirements the image installs from "
        "(requirements.txt, the lock file), and rebuild.",
        rule="CVE-2024-35195",
        identity="requests CVE-2024-35195",
        vulnerability=requests,
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
        _failed("SEC031", vulnerable),
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
        advisories=AdvisoryDatabase(
            "matched",
            "/home/ci/.local/share/inspector/scans.sqlite",
            "2026-12-06T03:00:12Z",
            1,
            7,
            None,
            ("Debian:12", "PyPI"),
        ),
    )


def everything() -> list[ImageReport]:
    everywhere = Location(
        config="Cmd",
        layer=3,
        created_by=_PIP_STEP,
        path="/app",
        runtime="lifecycle probe: pid 1",
        expectation="ci/cst.yaml: test 'python runs'",
    )
    odd = _finding("OPS001", "Cmd is shell form", everywhere)
    accepted = Suppressed(odd, Suppression("ignore", "a reason", "pyproject.toml", None))
    extra = (
        CheckResult(catalog()["META004"], "error", reason="KeyError: 'os'"),
        CheckResult(catalog()["OPS001"], "failed", (odd,), suppressed=(accepted,)),
    )
    glibc = Vulnerability(
        "CVE-2025-4802", ("DEBIAN-CVE-2025-4802",), "static setuid binary dlopen may use "
        "LD_LIBRARY_PATH", None, "unknown", None, "Debian:12", "glibc", "2.36-9+deb12u10",
        None, "installed",
    )  # fmt: skip
    unfixed = replace(
        _finding("SEC030", "glibc 2.36-9+deb12u10 (binary packages libc-bin, libc6) has "
                 "CVE-2025-4802 (also DEBIAN-CVE-2025-4802), severity not rated (counted as "
                 "medium): static setuid binary dlopen may use LD_LIBRARY_PATH; no fix yet in "
                 "Debian:12", Location(layer=0, path="/var/lib/dpkg/status")),
        severity="medium", rule="CVE-2025-4802", identity="glibc CVE-2025-4802",
        vulnerability=glibc,
    )  # fmt: skip
    not_affected = Suppression("ignore", "not affected: no setuid binary in the image",
                               ".inspector.toml: ignores[2]", date(2027, 1, 31))  # fmt: skip
    extra += (
        CheckResult(catalog()["SEC030"], "passed", suppressed=(Suppressed(unfixed, not_affected),)),
    )
    full = example()
    return [
        replace(full, results=full.results + extra),
        ImageReport("app:missing", None, None, error="no such image: app:missing"),
    ]
