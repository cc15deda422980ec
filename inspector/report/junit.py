"""The audit as JUnit XML, so CI servers (GitLab, Jenkins) show each check as a test case.

One <testsuite> per image, one <testcase> per check result. Only the attributes every consumer
knows are used (name, tests, failures, errors, skipped, classname, message, type): GitLab and
Jenkins reject or silently drop anything fancier.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from checks.model import SEVERITIES, CheckResult, Finding, severity_rank
from inspector.report.model import ImageReport, verdict
from inspector.safetext import visible

# XML 1.0 cannot carry these even escaped; a file name in an image can contain them.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_COUNTED = ("failures", "errors", "skipped")


def render(reports: Sequence[ImageReport], fail_on: str = "high") -> str:
    """Checks with a finding at or above `fail_on` fail; below it they pass with the findings in
    system-out, so a CI server shows red exactly when the gate does."""
    root = ET.Element("testsuites", name="inspector audit")
    for report in reports:
        root.append(_suite(report, fail_on))
    totals = {key: sum(int(s.get(key, "0")) for s in root) for key in ("tests", *_COUNTED)}
    root.attrib.update({key: str(value) for key, value in totals.items()})
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def _suite(report: ImageReport, fail_on: str) -> ET.Element:
    threshold = severity_rank(fail_on)
    suite = ET.Element("testsuite", name=_clean(report.reference))
    properties = ET.SubElement(suite, "properties")
    database = report.advisories
    for name, value in (
        ("gate.verdict", verdict(report, fail_on)),
        ("image.id", report.image_id),
        ("image.digest", report.digest),
        ("advisories.status", database.status if database else None),
        ("advisories.updated", database.updated if database else None),
    ):
        if value:
            ET.SubElement(properties, "property", name=name, value=_clean(value))
    if report.error:
        # Not auditable (missing image, engine error): one errored case, so CI shows it red.
        case = ET.SubElement(suite, "testcase", classname="inspector.audit", name="audit")
        _text(
            ET.SubElement(case, "error", message=_clean(report.error), type="error"), report.error
        )
        cases = [case]
    else:
        cases = [_case(result, threshold) for result in report.results]
        if report.inconclusive is not None and report.inconclusive_fails:
            # The policy fails an inconclusive start: CI shows it red like a failed check.
            cases.append(_inconclusive(report.inconclusive))
        suite.extend(cases)
        # The verdict, the database's date, expired ignores, stale baseline entries: the
        # reader should know.
        said = [verdict(report, fail_on)]
        said += [database.line()] if database and database.status in ("matched", "disabled") else []
        said += list(report.notices)
        _text(ET.SubElement(suite, "system-out"), "\n".join(said))
    suite.attrib.update(
        tests=str(len(cases)),
        failures=str(sum(1 for c in cases if c.find("failure") is not None)),
        errors=str(sum(1 for c in cases if c.find("error") is not None)),
        skipped=str(sum(1 for c in cases if c.find("skipped") is not None)),
    )
    return suite


def _inconclusive(reason: str) -> ET.Element:
    case = ET.Element("testcase", classname="inspector.policy", name="inconclusive start")
    failure = ET.SubElement(case, "failure", message='the policy\'s inconclusive = "fail"',
                            type="inconclusive")  # fmt: skip
    _text(failure, reason)
    return case


def _case(result: CheckResult, threshold: int) -> ET.Element:
    check = result.check
    case = ET.Element(
        "testcase", classname=f"inspector.{check.category}", name=f"{check.id} {check.name}"
    )
    reason = _clean(result.reason or "")
    gating = any(severity_rank(f.severity) >= threshold for f in result.findings)
    out: list[str] = []
    if result.status == "failed" and not gating:
        out += [
            f"below the gate ({SEVERITIES[threshold]})\n" + _finding(f) for f in result.findings
        ]
    elif result.status == "failed":
        worst = max(result.findings, key=lambda f: severity_rank(f.severity), default=None)
        severity = worst.severity if worst else check.severity
        count = len(result.findings)
        message = f"{check.title} ({count} finding{'s' if count != 1 else ''})"
        failure = ET.SubElement(case, "failure", message=_clean(message), type=severity)
        _text(failure, "\n\n".join(_finding(f) for f in result.findings))
    elif result.status == "skipped":
        ET.SubElement(case, "skipped", message=reason)
    elif result.status == "error":
        _text(ET.SubElement(case, "error", message=reason, type="error"), result.reason or "")
    if result.suppressed:
        # Accepted findings do not fail the case, but the record of what was accepted stays.
        out += [
            f"accepted ({item.suppression.by}: {item.suppression.reason}; "
            f"{item.suppression.source}"
            + (f"; expires {item.suppression.expires}" if item.suppression.expires else "")
            + ")\n"
            + _finding(item.finding)
            for item in result.suppressed
        ]
    if out:
        _text(ET.SubElement(case, "system-out"), "\n\n".join(out))
    return case


def _finding(finding: Finding) -> str:
    return (
        f"[{finding.severity}] {finding.message}\n"
        f"where: {finding.location.describe()}\n"
        f"fix: {finding.fix}"
    )


def _text(element: ET.Element, text: str) -> None:
    element.text = _clean(text)


def _clean(text: str) -> str:
    # CI servers show these strings to people: escapes, C1 controls, bidi overrides and
    # surrogateescaped bytes are made visible as in every other format (a surrogate would also
    # make the UTF-8 file unwritable); what XML still cannot carry becomes U+FFFD.
    return _INVALID_XML.sub("\ufffd", visible(text))
