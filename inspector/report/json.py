"""The audit as versioned JSON: per image its ID, every check's result and every finding.

docs/report.md documents each field (generated from inspector/report/fields.py); a test fails
when this output and that description drift apart. Field names are stable within a
schema_version: a change that removes or renames a field bumps it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from checks.model import SEVERITIES, Finding, Suppressed, layer_number
from inspector import __version__
from inspector.dockerfile.config_lines import line_of
from inspector.report.model import ImageReport, audited, gate_fails, verdict
from inspector.safetext import json_text

# Fields added within a version (`advisories`, `vulnerability`) do not bump it.
SCHEMA_VERSION = 1


def document(reports: Sequence[ImageReport], fail_on: str = "high") -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "inspector", "version": __version__},
        "fail_on": fail_on,
        "images": [_image(r, fail_on) for r in reports],
    }


def _image(report: ImageReport, fail_on: str = "high") -> dict[str, Any]:
    counts = {s: 0 for s in SEVERITIES}
    for finding in report.findings:
        counts[finding.severity] += 1
    return {
        "reference": report.reference,
        "id": report.image_id,
        "digest": report.digest,
        "error": report.error,
        # The gate's decision in one line, and as a value for tools (null: no verdict, exit 2).
        "verdict": verdict(report, fail_on),
        "passed": not gate_fails(report, fail_on) if audited(report) else None,
        "inconclusive": report.inconclusive,
        "runtime": report.runtime,
        "counts": counts,
        "suppressed": len(report.suppressed),
        "notices": list(report.notices),
        "advisories": _plain(report.advisories) if report.advisories else None,
        "results": [
            {
                "check": r.check.id,
                "name": r.check.name,
                "category": r.check.category,
                "severity": r.check.severity,
                "status": r.status,
                "reason": r.reason,
                "findings": [_finding(report, f) for f in r.findings],
                "suppressed": [_suppressed(report, s) for s in r.suppressed],
            }
            for r in report.results
        ],
    }


def _finding(report: ImageReport, finding: Finding) -> dict[str, Any]:
    location = {k: v for k, v in asdict(finding.location).items() if v is not None}
    if finding.location.layer is not None:  # numbered as `where` says it, 1 for the base layer
        location["layer"] = layer_number(finding.location.layer)
    line = report.dockerfile_lines.get(finding.location.layer)  # type: ignore[arg-type]
    if line is None and finding.location.config:
        line = (line_of(report.dockerfile_config, finding.location.config) or (None, ""))[0]
    if report.dockerfile and line is not None:
        location["dockerfile"] = {"path": report.dockerfile, "line": line}
    return {
        "check": finding.check,
        "severity": finding.severity,
        "message": finding.message,
        "location": location,
        "where": finding.location.describe(),
        "fix": finding.fix,
        "rule": finding.rule,
        "vulnerability": _plain(finding.vulnerability) if finding.vulnerability else None,
    }


def _plain(value: Any) -> Any:
    """A dataclass as the JSON it becomes: tuples as lists, as a reader of the file sees them."""
    return json.loads(json.dumps(asdict(value)))


def _suppressed(report: ImageReport, item: Suppressed) -> dict[str, Any]:
    why = item.suppression
    return {
        **_finding(report, item.finding),
        "suppression": {
            "by": why.by,
            "reason": why.reason,
            "source": why.source,
            "expires": why.expires.isoformat() if why.expires else None,
        },
    }


def render(reports: Sequence[ImageReport], fail_on: str = "high") -> str:
    return json_text(json.dumps(document(reports, fail_on), indent=2, ensure_ascii=False)) + "\n"
