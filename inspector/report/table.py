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

from checks.model import SEVERITIES, Finding
from inspector.report.model import ImageReport, gate_fails, verdict
from inspector.safetext import visible

# Columns that wrap: what, where, fix. id and severity never wrap. At 120 columns and more,
# one row per finding; below, each finding stacks its what, where and fix (readable at 80).
_COLUMNS_FROM = 120
_MIN_WIDTH = 60
_MAX_WIDTH = 240
_PIPE_WIDTH = 100
_GAP = 2  # tabulate's "simple" format puts two spaces between columns
_NARROWEST = 12  # no column is cut narrower than this, whatever the terminal
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
    reports: Sequence[ImageReport],
    width: int | None = None,
    *,
    colour: bool = False,
    fail_on: str = "high",
) -> str:
    width = width or terminal_width()
    parts = [_image(report, width, colour, fail_on) for report in reports]
    if len(reports) > 1:
        parts.append(_summary(reports, fail_on, width))
    return "\n\n".join(parts) + "\n"


def _summary(reports: Sequence[ImageReport], fail_on: str, width: int) -> str:
    """Several images end with one summary: how many, their findings by severity, and which
    failed the gate or could not be audited."""
    broken = [r for r in reports if r.error]
    audited = len(reports) - len(broken)
    lines = [f"{len(reports)} images: {audited} audited"
             + (f", {len(broken)} not audited (errors on stderr)" if broken else "")]  # fmt: skip
    by = Counter(f.severity for r in reports for f in r.findings)
    counts = ", ".join(f"{by[s]} {s}" for s in reversed(SEVERITIES) if by[s])
    lines.append(f"findings: {counts or 'none'}")
    failed = [r for r in reports if gate_fails(r, fail_on)]
    names = ", ".join(_clean(r.reference) for r in failed) or "none"
    lines.append(_fit(f"failed the gate ({fail_on} or above): {names}", width))
    if broken:
        lines.append(_fit(f"not audited: {', '.join(_clean(r.reference) for r in broken)}", width))
    return "\n".join(lines)


def terminal_width() -> int:
    """The reader's width: COLUMNS, else the terminal's; a pipe or a CI log gets 100."""
    columns = shutil.get_terminal_size((_PIPE_WIDTH, 24)).columns
    return max(_MIN_WIDTH, min(columns, _MAX_WIDTH))


def _clean(text: str) -> str:
    """Image data (labels, paths, history, engine messages) is shown, never obeyed.

    A control character, ESC first, could restyle or clear the reader's terminal and would
    throw the columns off: each becomes a visible `\\xNN`. Tabs become spaces for the columns.
    """
    return visible(text.replace("\t", " "))


def _style(text: str, style: Mapping[str, Any] | None, colour: bool) -> str:
    return click.style(text, **style) if colour and style else text


def _image(report: ImageReport, width: int, colour: bool, fail_on: str = "high") -> str:
    title = _clean(report.reference)
    if report.image_id:
        title += f"  ({_clean(report.image_id[:19])})"
    title_text = _style(title, TITLE_STYLE, colour)
    if report.error:
        # The error itself is printed once, on stderr, where a terminal and a CI log both show
        # it; the table only keeps the image's place.
        return f"{title_text}: not audited (the error is on stderr)"
    summary = report.counts()
    summary = summary or "no findings"
    fits = len(title) + 2 + len(summary) <= width
    lines = [f"{title_text}: {summary}" if fits else f"{title_text}:\n  {summary}"]
    if report.advisories is not None and report.advisories.status in ("matched", "disabled"):
        lines.append(textwrap.fill(_clean(report.advisories.line()), width, subsequent_indent="  ",
                                   break_long_words=False, break_on_hyphens=False))  # fmt: skip
    findings, vulnerabilities = shown_findings(report)
    if findings and width >= _COLUMNS_FROM:
        lines.append(_columns(findings, width, colour))
    elif findings:
        lines.append(_stacked(findings, width, colour))
    if vulnerabilities:
        lines.append(textwrap.fill(vulnerabilities, width, subsequent_indent="  ",
                                   break_long_words=False, break_on_hyphens=False))  # fmt: skip
    lines.extend(_tail(report, width))
    lines.append(_fit(_clean(verdict(report, fail_on)), width))
    return "\n".join(lines)


def shown_findings(
    report: ImageReport, rows: int = VULNERABILITY_ROWS
) -> tuple[list[Finding], str]:
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


def _columns(findings: Sequence[Finding], width: int, colour: bool) -> str:
    """One row per finding, every column wrapped inside its share of the width."""
    # tabulate pads each header by two (its MIN_PADDING): the narrow columns are at least that.
    id_width = max(len("id") + 2, *(len(_clean(f.check)) for f in findings))
    severity_width = max(len("severity") + 2, *(len(f.severity) for f in findings))
    rest = width - id_width - severity_width - 4 * _GAP
    what = rest * 4 // 10
    where = rest * 3 // 10
    fix = rest - what - where
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
    return tabulate(rows, headers=["id", "severity", "what", "where", "fix"], tablefmt="simple")


def _stacked(findings: Sequence[Finding], width: int, colour: bool) -> str:
    """A narrow terminal: severity and id, then what, where and fix as indented lines."""
    severity_width = max(len(f.severity) for f in findings)
    id_width = max(len(_clean(f.check)) for f in findings)
    indent = " " * (severity_width + id_width + 2 * _GAP)
    text_width = width - len(indent)
    label = " " * _GAP
    blocks = []
    for f in findings:
        severity = _style(f.severity.ljust(severity_width), SEVERITY_STYLES.get(f.severity), colour)
        head = f"{severity}{' ' * _GAP}{_clean(f.check).ljust(id_width)}{' ' * _GAP}"
        what = _wrap(_clean(f.message), text_width).splitlines()
        block = [head + what[0], *(indent + line for line in what[1:])]
        for name, text in (("where", f.location.describe()), ("fix", f.fix)):
            wrapped = _wrap(_clean(text), text_width - len("where") - _GAP).splitlines()
            block.append(f"{indent}{name.ljust(5)}{label}{wrapped[0]}")
            block.extend(f"{indent}{' ' * 5}{label}{line}" for line in wrapped[1:])
        blocks.append("\n".join(block))
    return "\n".join(blocks)


def _tail(report: ImageReport, width: int) -> list[str]:
    """How many checks passed, then one short line per reason checks were skipped, what the
    policy accepted, its notices and checks that failed to run."""
    skipped = [r for r in report.results if r.status == "skipped"]
    errors = [r for r in report.results if r.status == "error"]
    passed = sum(1 for r in report.results if r.status == "passed")
    tail = f"{passed} check{'' if passed == 1 else 's'} passed"
    if skipped:
        tail += f", {len(skipped)} skipped"
    lines = [tail]
    if report.suppressed:
        lines.append(report.accepted())
    reasons = Counter(_clean(r.reason or "no reason given") for r in skipped)
    for reason, count in reasons.most_common():
        lines.append(_fit(f"  skipped {count}: {reason}", width))
    lines.extend(
        textwrap.fill(_cut_words(f"note: {_clean(notice)}", width - 6), width,
                      subsequent_indent=" " * 6, break_long_words=False, break_on_hyphens=False)
        for notice in report.notices
    )  # fmt: skip
    for result in errors:
        lines.append(f"check {result.check.id} failed to run: {_clean(result.reason or '')}")
    return lines


def _wrap(text: str, width: int) -> str:
    """Wrap at spaces only, and cut a word longer than the column in its middle with an
    ellipsis, so a column never grows past its width (tabulate's own wrapping splits words and
    hyphens); the JSON, SARIF and Markdown reports keep every word whole."""
    width = max(width, _NARROWEST)
    return "\n".join(
        textwrap.fill(_cut_words(_clip(line), width), width, break_long_words=False,
                      break_on_hyphens=False)
        for line in text.splitlines() or [""]
    )  # fmt: skip


def _cut_words(line: str, width: int) -> str:
    return " ".join(_middle(word, width) for word in line.split(" "))


def _middle(word: str, width: int) -> str:
    """`word` in at most `width` characters: its start and end kept, the middle an ellipsis,
    since both ends of a path or a command are what a reader recognises."""
    if len(word) <= width:
        return word
    head = (width - 1) // 2
    return f"{word[:head]}…{word[len(word) - (width - 1 - head) :]}"


def _fit(line: str, width: int) -> str:
    return line if len(line) <= width else line[: width - 1] + "…"


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
