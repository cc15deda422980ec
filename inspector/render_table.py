"""The audit as a terminal table: per image, findings by severity, then what was not checked."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Sequence

from tabulate import tabulate

from checks.model import SEVERITIES
from inspector.audit import ImageReport

# Columns that wrap: what, where, fix. id and severity never wrap.
_MIN_WIDTH = 100


def render(reports: Sequence[ImageReport], width: int | None = None) -> str:
    width = width or max(_MIN_WIDTH, shutil.get_terminal_size((140, 24)).columns)
    return "\n\n".join(_image(report, width) for report in reports) + "\n"


def _image(report: ImageReport, width: int) -> str:
    title = report.reference
    if report.image_id:
        title += f"  ({report.image_id[:19]})"
    if report.error:
        return f"{title}\n  error: {report.error}"
    findings = report.findings
    counts = Counter(f.severity for f in findings)
    summary = ", ".join(f"{counts[s]} {s}" for s in reversed(SEVERITIES) if counts[s])
    lines = [f"{title}: {summary or 'no findings'}"]
    if findings:
        rest = width - 8 - 10 - 12  # id, severity, borders
        what, where, fix = max(30, rest * 4 // 10), max(20, rest * 3 // 10), max(20, rest * 3 // 10)
        rows = [(f.check, f.severity, f.message, f.location.describe(), f.fix) for f in findings]
        lines.append(
            tabulate(
                rows,
                headers=["id", "severity", "what", "where", "fix"],
                tablefmt="simple",
                maxcolwidths=[None, None, what, where, fix],
            )
        )
    skipped = [r for r in report.results if r.status == "skipped"]
    errors = [r for r in report.results if r.status == "error"]
    passed = sum(1 for r in report.results if r.status == "passed")
    tail = f"{passed} check{'' if passed == 1 else 's'} passed"
    if skipped:
        reasons = Counter(r.reason or "" for r in skipped)
        tail += (
            f", {len(skipped)} skipped ("
            + "; ".join(f"{n}: {reason}" for reason, n in reasons.most_common(3))
            + ")"
        )
    lines.append(tail)
    for result in errors:
        lines.append(f"check {result.check.id} failed to run: {result.reason}")
    return "\n".join(lines)
