"""The audit as versioned JSON: per image its ID, every check's result and every finding."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from checks.model import SEVERITIES
from inspector import __version__
from inspector.audit import ImageReport

SCHEMA_VERSION = 1


def document(reports: Sequence[ImageReport]) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "inspector", "version": __version__},
        "images": [_image(r) for r in reports],
    }


def _image(report: ImageReport) -> dict[str, Any]:
    counts = {s: 0 for s in SEVERITIES}
    for finding in report.findings:
        counts[finding.severity] += 1
    return {
        "reference": report.reference,
        "id": report.image_id,
        "digest": report.digest,
        "error": report.error,
        "runtime": report.runtime,
        "counts": counts,
        "results": [
            {
                "check": r.check.id,
                "name": r.check.name,
                "category": r.check.category,
                "status": r.status,
                "reason": r.reason,
                "findings": [
                    {
                        "check": f.check,
                        "severity": f.severity,
                        "message": f.message,
                        "location": {k: v for k, v in asdict(f.location).items() if v is not None},
                        "where": f.location.describe(),
                        "fix": f.fix,
                    }
                    for f in r.findings
                ],
            }
            for r in report.results
        ],
    }


def render(reports: Sequence[ImageReport]) -> str:
    return json.dumps(document(reports), indent=2, ensure_ascii=False) + "\n"
