"""The audit as SARIF 2.1.0, for GitHub code scanning and other SARIF viewers.

One run for the whole audit. The rules are the checks that ran; each finding is a result located
at the image: an image is not a file in the repository, so the artifact URI is the image
reference (plus the finding's path inside it) as a relative URI, with logical locations naming
the layer, its history step, the config field or the runtime probe. With `--dockerfile`, a
finding in a layer is located at the instruction that made that layer (a file the repository
has, so code scanning shows it in place) and the image location becomes a related location.
Images that could not be audited, and checks that crashed, are tool execution notifications: the
invocation then did not succeed.

A known vulnerability (SEC030, SEC031) is a rule of its own, id the vulnerability's (CVE-...),
after the checks' rules: code scanning lists, groups and dismisses alerts by rule, shows a
rule's `helpUri` (the advisory) and `help` on the alert page, and ranks a security alert by its
rule's `security-severity` (the CVSS score), so one rule for all of them would rank every
vulnerability alike and link none. Each such rule names its check through a `subset`
relationship (SARIF 2.1.0, 3.53), and each result carries the check's id in its properties.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from checks.docs import explain
from checks.model import Check, Finding, Suppressed, layer_name, layer_number, severity_rank
from inspector import __version__
from inspector.dockerfile.config_lines import FROM_BASE, line_of
from inspector.report.fingerprint import fingerprint
from inspector.report.model import ImageReport, audited, gate_fails, verdict
from inspector.safetext import json_text

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/inspector/inspector"
DOCS_URI = "https://github.com/inspector/inspector/blob/main/docs/checks.md#"
FINGERPRINT = "inspectorFinding/v1"

LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub ranks security alerts by this 0-10 score (>= 9 critical, >= 7 high, >= 4 medium).
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "1.0"}
# RFC 3986 pchar plus "/": everything else in a reference or a path is percent-encoded.
_URI_SAFE = "/:@!$&'()*+,;=-._~"
# Surrogates surrogateescape did not make (it makes U+DC80-U+DCFF, one per byte not UTF-8).
_LONE_SURROGATE = re.compile("[\ud800-\udc7f\udd00-\udfff]")


def render(reports: Sequence[ImageReport], fail_on: str = "high") -> str:
    return json_text(json.dumps(document(reports, fail_on), indent=2, ensure_ascii=False)) + "\n"


def document(reports: Sequence[ImageReport], fail_on: str = "high") -> dict[str, Any]:
    rules = _ran(reports)
    index = {check.id: i for i, check in enumerate(rules)}
    notifications = [n for r in reports for n in _notifications(r, index)]
    # Each known vulnerability is a rule of its own after the checks' (its link as helpUri, its
    # CVSS score as GitHub's security-severity), so code scanning lists and dismisses it by id.
    vulnerabilities = _vulnerabilities(reports, index)
    for offset, vuln_id in enumerate(vulnerabilities):
        index[vuln_id] = len(rules) + offset
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "inspector",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFORMATION_URI,
                "rules": [_rule(check) for check in rules]
                + [_vulnerability_rule(findings, index) for findings in vulnerabilities.values()],
            }
        },
        "invocations": [
            {
                "executionSuccessful": not any(n["level"] == "error" for n in notifications),
                "toolExecutionNotifications": notifications,
            }
        ],
        "results": [
            *(
                _result(report, finding, index)
                for report in reports
                for finding in report.findings
                if finding.check in index
            ),
            # Accepted findings stay in the log, marked as SARIF suppressions with the reason.
            *(
                _suppressed(report, item, index)
                for report in reports
                for item in report.suppressed
                if item.finding.check in index
            ),
        ],
        "properties": {"failOn": fail_on, "images": [_image(r, fail_on) for r in reports]},
    }
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


def _vulnerabilities(
    reports: Sequence[ImageReport], checks: dict[str, int]
) -> dict[str, list[Finding]]:
    """Every finding of each known vulnerability (counted or accepted), by id, in id order."""
    found: dict[str, list[Finding]] = {}
    for report in reports:
        every = [*report.findings, *(item.finding for item in report.suppressed)]
        for finding in every:
            if finding.vulnerability is not None and finding.check in checks:
                found.setdefault(finding.vulnerability.id, []).append(finding)
    return dict(sorted(found.items()))


# Reachabilities at which a vulnerability counts at the advisory's severity.
_LIVE = ("importable", "installed")


def _vulnerability_rule(findings: list[Finding], index: dict[str, int]) -> dict[str, Any]:
    vuln = findings[0].vulnerability
    assert vuln is not None
    live = [f for f in findings if f.vulnerability and f.vulnerability.reachability in _LIVE]
    worst = max((f.severity for f in findings), key=severity_rank)
    # GitHub ranks an alert by its rule's score: the CVSS score where the vulnerability is
    # reachable; one found only out of the command's reach ranks as what it is there, info.
    score = (f"{vuln.score:.1f}" if vuln.score is not None
             else SECURITY_SEVERITY[worst]) if live else SECURITY_SEVERITY["info"]  # fmt: skip
    checks = sorted({f.check for f in findings})
    packages = sorted({f.vulnerability.package for f in findings if f.vulnerability})
    title = (vuln.summary or f"a known vulnerability of {', '.join(packages)}").rstrip(".")
    aliases = f" Also known as {', '.join(vuln.aliases)}." if vuln.aliases else ""
    text = f"{vuln.id}: {title}.{aliases} Affects {', '.join(packages)}."
    link = f" [{vuln.url}]({vuln.url})" if vuln.url else ""
    found_by = ", ".join(f"{c} ({DOCS_URI}{c.lower()})" for c in checks)
    markdown = (f"**{vuln.id}**: {title}{link}\n\n{aliases.strip()}\n\nFound by {found_by}: "
                "each result says the installed and the fixed version, where the package sits "
                "and whether the image's command can reach it.")  # fmt: skip
    return {
        "id": vuln.id,
        "name": "KnownVulnerability",
        "shortDescription": {"text": f"{vuln.id}: {title}"[:1000]},
        "fullDescription": {"text": text},
        "help": {"text": text + f" Found by {found_by}.", "markdown": markdown},
        "helpUri": vuln.url or DOCS_URI + checks[0].lower(),
        "defaultConfiguration": {"level": LEVELS[worst]},
        # The vulnerability's results are a subset of its check's.
        "relationships": [
            {"target": {"id": c, "index": index[c]}, "kinds": ["subset"]} for c in checks
        ],
        "properties": {
            "tags": ["container-image", "security", "vulnerability"],
            "security-severity": score,
            "severity": vuln.severity,
            "aliases": list(vuln.aliases),
            "packages": packages,
        },
    }


def _ran(reports: Sequence[ImageReport]) -> list[Check]:
    """Each check that ran on any image, once, in id order (so ruleIndex is stable)."""
    checks = {result.check.id: result.check for r in reports for result in r.results}
    return [checks[key] for key in sorted(checks)]


def _rule(check: Check) -> dict[str, Any]:
    page = explain(check)
    properties: dict[str, Any] = {
        "category": check.category,
        "severity": check.severity,
        "tags": sorted({check.category, "container-image"}),
    }
    if check.category == "security":
        properties["security-severity"] = SECURITY_SEVERITY[check.severity]
    return {
        "id": check.id,
        "name": check.name,
        "shortDescription": {"text": check.title},
        "fullDescription": {"text": check.sections().get("What it checks") or check.title},
        # explain() opens with the title, severity and the one-line fix, then the page.
        "help": {"text": page, "markdown": page},
        "helpUri": DOCS_URI + check.id.lower(),
        "defaultConfiguration": {"level": LEVELS[check.severity]},
        "properties": properties,
    }


def _result(report: ImageReport, finding: Finding, index: dict[str, int]) -> dict[str, Any]:
    where = finding.location.describe()
    rule = finding.vulnerability.id if finding.vulnerability else finding.check
    result: dict[str, Any] = {
        "ruleId": rule,
        "ruleIndex": index[rule],
        "level": LEVELS[finding.severity],
        "message": {"text": f"{finding.message} ({report.reference}: {where}). Fix: {finding.fix}"},
        "locations": [_location(report, finding)],
        # The fingerprint never looks at the Dockerfile: alerts survive adding --dockerfile.
        "partialFingerprints": {FINGERPRINT: fingerprint(report.reference, finding)},
        "properties": {
            "severity": finding.severity,
            "image": report.reference,
            **({"rule": finding.rule} if finding.rule else {}),
            **_vulnerability(finding),
        },
    }
    layer = finding.location.layer
    line = report.dockerfile_lines.get(layer) if layer is not None else None
    field = finding.location.config
    setting = line_of(report.dockerfile_config, field) if field and line is None else None
    if report.dockerfile and line is not None:
        image = {"id": 1, **result["locations"][0]}
        result["locations"] = [_instruction(report.dockerfile, line, layer, image)]
        result["relatedLocations"] = [image]
    elif report.dockerfile and field and setting is not None:
        # A config finding (USER, CMD, ENV...) is placed where the Dockerfile sets the field,
        # or at the final FROM when the base image set it, so code scanning shows it in place.
        image = {"id": 1, **result["locations"][0]}
        result["locations"] = [_setting(report.dockerfile, field, *setting, image)]
        result["relatedLocations"] = [image]
    return result


def _setting(dockerfile: str, field: str, line: int, keyword: str,
             image: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """The Dockerfile line that set the finding's config field, named like the image location."""
    said = f"this {keyword} sets {field}"
    if keyword == FROM_BASE:
        said = f"no instruction of this stage sets {field}: it comes from the base image"
    location: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": {"uri": dockerfile_uri(dockerfile)},
            "region": {"startLine": line},
        },
        "message": {"text": f"{said} ({image['message']['text']})"},
    }
    if "logicalLocations" in image:
        location["logicalLocations"] = image["logicalLocations"]
    return location


def _vulnerability(finding: Finding) -> dict[str, Any]:
    """A known vulnerability's result properties: its check, and what it is in fields."""
    vuln = finding.vulnerability
    if vuln is None:
        return {}
    return {
        "check": finding.check,
        "vulnerability": {
            "package": vuln.package,
            "ecosystem": vuln.ecosystem,
            "installed": vuln.installed,
            "fixed": vuln.fixed,
            "reachability": vuln.reachability,
            "severity": vuln.severity,
            "score": vuln.score,
            "aliases": list(vuln.aliases),
            "environment": vuln.environment,
        },
    }


def _instruction(dockerfile: str, line: int, layer: int, image: dict[str, Any]) -> dict[str, Any]:
    """The Dockerfile line that made the finding's layer, named like the image location."""
    location: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": {"uri": dockerfile_uri(dockerfile)},
            "region": {"startLine": line},
        },
        "message": {
            "text": f"this instruction made {layer_name(layer)} ({image['message']['text']})"
        },
    }
    if "logicalLocations" in image:
        location["logicalLocations"] = image["logicalLocations"]
    return location


def _location(report: ImageReport, finding: Finding) -> dict[str, Any]:
    loc = finding.location
    ref = report.reference
    logical: list[dict[str, Any]] = []
    if loc.layer is not None:
        number = layer_number(loc.layer)
        logical.append(_logical(layer_name(loc.layer), "layer", f"{ref}#layer/{number}"))
        if loc.created_by:
            step = " ".join(loc.created_by.split())
            logical.append(_logical(step, "historyStep", f"{ref}#layer/{number}/history"))
    if loc.config:
        logical.append(_logical(loc.config, "configField", f"{ref}#config/{loc.config}"))
    if loc.runtime:
        logical.append(_logical(loc.runtime, "runtimeProbe", f"{ref}#runtime"))
    location: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": {"uri": artifact_uri(report.reference, loc.path)},
            "region": {"startLine": 1},
        },
        "message": {"text": loc.describe()},
    }
    if logical:
        location["logicalLocations"] = logical
    return location


def _logical(name: str, kind: str, qualified: str) -> dict[str, str]:
    return {"name": name, "kind": kind, "fullyQualifiedName": qualified}


def artifact_uri(reference: str, path: str | None = None) -> str:
    """The image reference (and a path in it) as a relative URI: no scheme, odd bytes encoded."""
    uri = quote(_raw(reference.strip("/")), safe=_URI_SAFE)
    if path:
        uri += "/" + quote(_raw(path.lstrip("/")), safe=_URI_SAFE)
    return _no_scheme(uri)


def _raw(text: str) -> bytes:
    """The bytes a name stands for: a file name that is not UTF-8 arrives surrogateescaped and
    is percent-encoded as its own bytes (quote's strict UTF-8 would crash on it); any other
    lone surrogate stands for no byte and becomes U+FFFD."""
    return _LONE_SURROGATE.sub("\ufffd", text).encode("utf-8", "surrogateescape")


def _no_scheme(uri: str) -> str:
    # A colon in the first segment would read as a scheme ("python:3.11", "host:5000/app").
    first, slash, rest = uri.partition("/")
    return first.replace(":", "%3A") + slash + rest


def dockerfile_uri(path: str) -> str:
    """The Dockerfile as code scanning wants it: relative to the checkout, or a file: URI."""
    if PurePosixPath(path).is_absolute():
        return "file://" + quote(path, safe=_URI_SAFE)
    return _no_scheme(quote(path, safe=_URI_SAFE))


def _suppressed(report: ImageReport, item: Suppressed, index: dict[str, int]) -> dict[str, Any]:
    why = item.suppression
    justification = f"{why.reason} ({why.source}"
    justification += f", expires {why.expires})" if why.expires else ")"
    suppression: dict[str, Any] = {
        "kind": "external",
        "status": "accepted",
        "justification": justification,
        "properties": {"by": why.by},
    }
    if why.expires:
        suppression["properties"]["expires"] = why.expires.isoformat()
    return {**_result(report, item.finding, index), "suppressions": [suppression]}


def _notifications(report: ImageReport, index: dict[str, int]) -> list[dict[str, Any]]:
    where = [{"physicalLocation": {"artifactLocation": {"uri": artifact_uri(report.reference)}}}]
    if report.error:
        text = f"{report.reference} could not be audited: {report.error}"
        return [{"level": "error", "message": {"text": text}, "locations": where}]
    # Policy notices (an expired ignore, stale baseline entries, a Dockerfile that does not
    # match) are warnings: the audit itself succeeded.
    notices = [
        {
            "level": "warning",
            "message": {"text": f"{report.reference}: {notice}"},
            "locations": where,
        }
        for notice in report.notices
    ]
    return notices + [
        {
            "level": "error",
            "message": {"text": f"{result.check.id} failed on {report.reference}: {result.reason}"},
            "locations": where,
            "associatedRule": {"id": result.check.id, "index": index[result.check.id]},
        }
        for result in report.results
        if result.status == "error"
    ]


def _image(report: ImageReport, fail_on: str) -> dict[str, Any]:
    return {
        "reference": report.reference,
        "id": report.image_id,
        "digest": report.digest,
        "error": report.error,
        "verdict": verdict(report, fail_on),
        "passed": not gate_fails(report, fail_on) if audited(report) else None,
        # Every report states the advisory database's date (`advisories.updated`).
        "advisories": asdict(report.advisories) if report.advisories else None,
    }
