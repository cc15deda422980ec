"""The audit as a terminal table: per image, findings by severity, then what was not checked
and what the policy accepted.

Colour is opt-in (`render(..., colour=True)`) and touches two things only: the severity cells and
the image's title. `use_colour` is the decision for stdout; files written with `-o table=FILE`
are rendered with the default, no colour, whatever the terminal.
"""

from __future__ import annotations

import shutil
import textwrap
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import click
from tabulate import tabulate

from checks.model import SEVERITIES
from inspector.report.model import ImageReport
from inspector.safetext import visible

# Columns that wrap: what, where, fix. id and severity never wrap.
_MIN_WIDTH = 100
# A word longer than this (a 200 KB ENV value, a command) is clipped in the table: tabulate pads
# every line of a column to its longest, so one huge word times many lines was gigabytes. The
# JSON, SARIF and Markdown reports keep it whole.
_MAX_WORD = 1000

# Known vulnerabilities shown as rows: the worst few. An old base image has hundreds, and a
# table that long hides every other finding; the counts say how many more the other formats list.
VULNERABILITY_ROWS = 5

# click.style arguments per severity: red for what fails a default gate, yellow for what would
# fail a stricter one, and quiet for the rest.
SEVERITY_STYLES: Mapping[str, Mapping[str, Any]] = {
    "critical": {"fg": "red", "bold": True},
    "high": {"fg": "red"},
    "medium": {"fg": "yellow"},
    "low": {"fg": "cyan"},
    "info": {"dim": True},
}
TITLE_STYLE: Mapping[str, Any] = {"bold": True}


def use_colour(stream_isatty: bool, environ: Mapping[str, str]) -> bool:
    """Whether a stream gets colour: the decision the CLI takes for stdout.

    NO_COLOR set to anything non-empty forbids colour (https://no-color.org) and wins over
    everything; FORCE_COLOR set to anything non-empty asks for it even when the stream is not a
    terminal (https://force-color.org: CI logs render ANSI but are pipes); otherwise colour
    goes to a terminal that is not TERM=dumb. This is CPython 3.13's order for its own colour.
    """
    if environ.get("NO_COLOR"):
        return False
    if environ.get("FORCE_COLOR"):
        return True
    return stream_isatty and environ.get("TERM") != "dumb"


def render(
    reports: Sequence[ImageReport], width: int | None = None, *, colour: bool = False
) -> str:
    width = width or max(_MIN_WIDTH, shutil.get_terminal_size((140, 24)).columns)
    return "\n\n".join(_image(report, width, colour) for report in reports) + "\n"


def _clean(text: str) -> str:
    """Image data (labels, paths, history, engine messages) is shown, never obeyed.

    A control character, ESC first, could restyle or clear the reader's terminal and would
    throw the columns off: each becomes a visible `\\xNN`. Tabs become spaces for the columns.
    """
    return visible(text.replace("\t", " "))


def _style(text: str, style: Mapping[str, Any] | None, colour: bool) -> str:
    return click.style(text, **style) if colour and style else text


def _image(report: ImageReport, width: int, colour: bool) -> str:
    title = _clean(report.reference)
    if report.image_id:
        title += f"  ({_clean(report.image_id[:19])})"
    title_text = _style(title, TITLE_STYLE, colour)
    if report.error:
        return f"{title_text}\n  error: {_clean(report.error)}"
    summary = report.counts()
    lines = [f"{title_text}: {summary or 'no findings'}"]
    if report.advisories is not None and report.advisories.status in ("matched", "disabled"):
        lines.append(_clean(report.advisories.line()))
    findings, vulnerabilities = shown_findings(report)
    if findings:
        rest = width - 8 - 10 - 12  # id, severity, borders
        what, where, fix = max(30, rest * 4 // 10), max(20, rest * 3 // 10), max(20, rest * 3 // 10)
        rows = [
            (
                _clean(f.check),
                _style(_clean(f.severity), SEVERITY_STYLES.get(f.severity), colour),
                _wrap(_clean(f.message), what),
                _wrap(_clean(f.location.describe()), where),
                _wrap(_clean(f.fix), fix),
            )
            for f in findings
        ]
        # tabulate measures cells without their ANSI codes, so coloured columns stay aligned.
        lines.append(
            tabulate(
                rows,
                headers=["id", "severity", "what", "where", "fix"],
                tablefmt="simple",
            )
        )
    if vulnerabilities:
        lines.append(vulnerabilities)
    skipped = [r for r in report.results if r.status == "skipped"]
    errors = [r for r in report.results if r.status == "error"]
    passed = sum(1 for r in report.results if r.status == "passed")
    tail = f"{passed} check{'' if passed == 1 else 's'} passed"
    if skipped:
        reasons = Counter(_clean(r.reason or "") for r in skipped)
        tail += (
            f", {len(skipped)} skipped ("
            + "; ".join(f"{n}: {reason}" for reason, n in reasons.most_common(3))
            + ")"
        )
    if report.suppressed:
        tail += f"; {report.accepted()}"
    lines.append(tail)
    lines.extend(f"note: {_clean(notice)}" for notice in report.notices)
    for result in errors:
        lines.append(f"check {result.check.id} failed to run: {_clean(result.reason or '')}")
    return "\n".join(lines)


def shown_findings(report: ImageReport, rows: int = VULNERABILITY_ROWS) -> tuple[list[Any], str]:
    """The findings the table lists (every other finding, and the worst `rows` known
    vulnerabilities), and a line counting the vulnerabilities by severity ("" for none)."""
    findings = report.findings  # worst first
    vulns = [f for f in findings if f.vulnerability is not None]
    if not vulns:
        return findings, ""
    kept = {id(f) for f in vulns[:rows]}
    listed = [f for f in findings if f.vulnerability is None or id(f) in kept]
    by = Counter(f.severity for f in vulns)
    counts = ", ".join(f"{by[s]} {s}" for s in reversed(SEVERITIES) if by[s])
    packages = len({(f.check, f.vulnerability.package) for f in vulns if f.vulnerability})
    line = (f"known vulnerabilities: {len(vulns)} ({counts}) in {packages} "
            f"package{'' if packages == 1 else 's'}")  # fmt: skip
    if len(vulns) > rows:
        line += (f"; the {rows} worst are listed above, all {len(vulns)} in --format json, "
                 "sarif, markdown or junit")  # fmt: skip
    return listed, line


def _wrap(text: str, width: int) -> str:
    """Wrap at spaces only: a path, a label or a command a reader copies must stay whole, even
    when it overflows the column (tabulate's own wrapping splits words and hyphens)."""
    return "\n".join(
        textwrap.fill(_clip(line), width, break_long_words=False, break_on_hyphens=False)
        for line in text.splitlines() or [""]
    )


def _clip(line: str) -> str:
    words = line.split(" ")
    if all(len(word) <= _MAX_WORD for word in words):
        return line
    return " ".join(
        f"{word[:_MAX_WORD]}… ({len(word) - _MAX_WORD:,} more characters)"
        if len(word) > _MAX_WORD
        else word
        for word in words
    )
