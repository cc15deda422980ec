"""The audit as Markdown for a pull-request comment or release notes.

Per image: a heading, the counts by severity, a findings table, and what was not checked folded
into a <details> block so the comment stays short.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from inspector.report.model import ImageReport, verdict
from inspector.report.table import shown_findings
from inspector.safetext import visible

_CODE_SPAN = re.compile(r"(`+[^`]*?`+)")
_HEADERS = ("id", "severity", "what", "where", "fix")


def render(reports: Sequence[ImageReport], fail_on: str = "high") -> str:
    # A PR comment is read in a browser, but also in a terminal (`gh pr view`, CI logs).
    return visible("\n\n".join(_image(report, fail_on) for report in reports)) + "\n"


def _image(report: ImageReport, fail_on: str = "high") -> str:
    lines = [f"### {_heading(report)}", "", f"**Verdict:** {_cell(verdict(report, fail_on))}", ""]
    if report.error:
        lines.append(f"**Could not be audited:** {_cell(report.error)}")
        return "\n".join(lines)
    summary = report.counts()
    head = f"**Findings:** {summary}" if summary else "**No findings.**"
    if report.suppressed:
        head += f" · {report.accepted()}"
    lines.append(head)
    if report.advisories is not None and report.advisories.status in ("matched", "disabled"):
        lines += ["", _cell(report.advisories.line())]
    # The worst known vulnerabilities join the table; every one of them is in the fold below.
    findings, vulnerabilities = shown_findings(report)
    if vulnerabilities:
        lines += ["", _cell(vulnerabilities)]
    if findings:
        lines += ["", _row(_HEADERS), _row(["---"] * len(_HEADERS))]
        lines += [
            _row([f"`{f.check}`", f.severity, f.message, f.location.describe(), f.fix])
            for f in findings
        ]
    if report.notices:
        lines.append("")
        lines += [f"- ⚠️ {_cell(notice)}" for notice in report.notices]
    errors = [r for r in report.results if r.status == "error"]
    if errors:
        # A crashed check means the verdict is incomplete: say so outside the fold.
        lines.append("")
        lines += [
            f"- ⚠️ check `{r.check.id}` failed to run: {_cell(r.reason or '')}" for r in errors
        ]
    lines += ["", *_details(report)]
    if vulnerabilities:
        lines += ["", *_vulnerabilities(report)]
    if report.suppressed:
        lines += ["", *_suppressed(report)]
    return "\n".join(lines)


def _vulnerabilities(report: ImageReport) -> list[str]:
    """Every known vulnerability that counts, folded: the table above shows only the worst."""
    found = [f for f in report.findings if f.vulnerability is not None]
    headers = ("id", "severity", "vulnerability", "package", "installed", "fixed", "reach", "where")
    lines = [
        "<details>",
        f"<summary>{len(found)} known vulnerabilit{'y' if len(found) == 1 else 'ies'}</summary>",
        "",
        _row(headers),
        _row(["---"] * len(headers)),
    ]
    for f in found:
        vuln = f.vulnerability
        assert vuln is not None
        name = f"[{vuln.id}]({vuln.url})" if vuln.url else vuln.id
        lines.append(_row([f"`{f.check}`", f.severity, name, vuln.package, vuln.installed,
                           vuln.fixed or "no fix yet", vuln.reachability,
                           f.location.describe()]))  # fmt: skip
    return [*lines, "", "</details>"]


def _suppressed(report: ImageReport) -> list[str]:
    """Accepted findings, folded: they do not count, but a reviewer can still see them."""
    count = len(report.suppressed)
    headers = ("id", "severity", "what", "where", "accepted because")
    lines = [
        "<details>",
        f"<summary>{count} accepted finding{'' if count == 1 else 's'}</summary>",
        "",
        _row(headers),
        _row(["---"] * len(headers)),
    ]
    for item in report.suppressed:
        why = item.suppression
        because = f"{why.reason} ({why.source}"
        because += f", expires {why.expires})" if why.expires else ")"
        finding = item.finding
        lines.append(_row([f"`{finding.check}`", finding.severity, finding.message,
                           finding.location.describe(), because]))  # fmt: skip
    return [*lines, "", "</details>"]


def _heading(report: ImageReport) -> str:
    reference = report.reference.replace("`", "'")  # a backtick would end the code span
    title = f"`{reference}`"
    if report.image_id:
        title += f" ({report.image_id.removeprefix('sha256:')[:12]})"
    return title


def _details(report: ImageReport) -> list[str]:
    skipped = [r for r in report.results if r.status == "skipped"]
    passed = sum(1 for r in report.results if r.status == "passed")
    plural = "" if passed == 1 else "s"
    lines = [
        "<details>",
        f"<summary>{passed} check{plural} passed, {len(skipped)} skipped</summary>",
        "",  # GitHub renders Markdown inside <details> only after a blank line
    ]
    if skipped:
        lines += [
            f"- `{r.check.id}` {r.check.name}: {_cell(r.reason or 'no reason given')}"
            for r in skipped
        ]
    else:
        lines.append("No check was skipped.")
    lines += ["", "</details>"]
    return lines


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _cell(text: str) -> str:
    # Pipes end a table cell even inside a code span (GFM); HTML is escaped only outside code
    # spans, where an entity would show literally; newlines become <br> so the row stays one line.
    parts = _CODE_SPAN.split(text.strip())
    out = "".join(part if i % 2 else _html(part) for i, part in enumerate(parts))
    return "<br>".join(line.strip() for line in out.replace("|", "\\|").splitlines())


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
