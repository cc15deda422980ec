"""Small audited images for the SBOM tests, and the validators both formats are checked with.

The CycloneDX documents are validated against the official CycloneDX 1.6 JSON schema that
cyclonedx-python-lib ships (its strict validator); the SPDX documents are read back with
spdx-tools' JSON parser and checked with its validator of the SPDX 2.3 rules.
"""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from inspector.report.model import ImageReport

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
SERIAL = UUID(int=7)
SITE = "/usr/lib/python3/dist-packages"
VENV = "/app/.venv/lib/python3.11/site-packages"


def component(name: str, version: str, **fields: Any) -> dict[str, Any]:
    """A facts inventory component (a Python distribution unless told), with its reachability."""
    base = {
        "ecosystem": "PyPI",
        "name": name,
        "version": version,
        "source": None,
        "source_version": None,
        "kind": "dist-info",
        "path": f"{VENV}/{name}-{version}.dist-info",
        "layer": 3,
        "deleted": False,
        "environment": VENV,
        "purl": f"pkg:pypi/{name}@{version}",
        "reachability": "importable",
    }
    return {**base, **fields}


def deb(name: str, version: str, source: str, source_version: str | None = None) -> dict[str, Any]:
    return component(
        name,
        version,
        ecosystem="Debian:12",
        source=source,
        source_version=source_version or version,
        kind="dpkg",
        path="/var/lib/dpkg/status",
        layer=0,
        environment=None,
        purl=f"pkg:deb/debian/{name}@{version}?arch=amd64&distro=debian-12",
        reachability="installed",
    )


LIBSSL = deb("libssl3", "3.0.15-1~deb12u1", "openssl")
OPENSSL = deb("openssl", "3.0.15-1~deb12u1", "openssl")
REQUESTS = component("requests", "2.31.0")
# pip's vendored copy: on disk, out of the venv's reach.
VENDORED = component(
    "requests",
    "2.31.0",
    kind="vendored",
    path="/usr/lib/python3/dist-packages/pip/_vendor/vendor.txt",
    layer=1,
    environment="/usr/lib/python3/dist-packages/pip/_vendor",
    reachability="not-importable",
)
# Installed by one layer, deleted by a later one.
OLD_URLLIB3 = component(
    "urllib3",
    "1.26.0",
    path=f"{SITE}/urllib3-1.26.0.dist-info",
    layer=1,
    deleted=True,
    environment=SITE,
    reachability="deleted",
)
COMPONENTS = [LIBSSL, OPENSSL, REQUESTS, OLD_URLLIB3, VENDORED]


def match(part: dict[str, Any], vuln_id: str, **fields: Any) -> dict[str, Any]:
    """A vulnerability match of `part`, as the facts' `vulnerabilities.matches[]` hold it."""
    base = {
        "id": vuln_id,
        "advisories": ("GHSA-9wx4-h78v-vm56",),
        "aliases": ("PYSEC-2024-1",),
        "summary": "Session verify=False persists",
        "severity": "medium",
        "severity_source": "CVSS_V3",
        "score": 5.6,
        "vector": "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:H/I:H/A:N",
        "url": "https://advisories.example/GHSA-9wx4-h78v-vm56",
        "ecosystem": part["ecosystem"],
        "package": part["name"],
        "source": part["source"],
        "installed": part["source_version"] or part["version"],
        "fixed": "2.32.0",
        "path": part["path"],
        "layer": part["layer"],
        "kind": part["kind"],
        "reachability": part["reachability"],
        "environment": part["environment"],
    }
    return {**base, **fields}


MATCHES = [
    match(REQUESTS, "CVE-2024-35195"),
    match(VENDORED, "CVE-2024-35195"),
    match(
        OLD_URLLIB3,
        "CVE-2023-43804",
        fixed=None,
        vector=None,
        score=None,
        severity="high",
        severity_source="rating",
        url=None,
    ),
    match(
        LIBSSL,
        "CVE-2024-5535",
        fixed="3.0.16-1~deb12u1",
        severity="critical",
        score=9.1,
        vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:H",
    ),
]


def report(
    components: list[dict[str, Any]] | None = None,
    matches: list[dict[str, Any]] | None = None,
    reference: str = "registry.example:5000/team/app:1.4",
    digest: str | None = "registry.example:5000/team/app@sha256:" + "b" * 64,
) -> ImageReport:
    """An audited image with this inventory (COMPONENTS by default) and these matches."""
    return ImageReport(
        reference,
        "sha256:" + "a" * 64,
        digest,
        image={"architecture": "amd64", "tags": [reference]},
        inventory={
            "os_ecosystem": "Debian:12",
            "components": COMPONENTS if components is None else components,
            "import_path": ["/app", VENV],
            "import_path_source": "probe",
        },
        vulnerabilities=None
        if matches is None
        else {
            "status": "matched",
            "database": {"updated": "2026-12-06T03:00:00Z"},
            "matches": matches,
        },
    )


def cyclonedx_errors(text: str) -> str | None:
    """What the official CycloneDX 1.6 JSON schema finds wrong with `text`; None when valid."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    return None if error is None else str(error)


def spdx_errors(text: str) -> list[str]:
    """What spdx-tools' parser and SPDX 2.3 validator find wrong with `text`."""
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    with tempfile.TemporaryDirectory(prefix="inspector-spdx-") as workdir:
        path = Path(workdir) / "doc.spdx.json"
        path.write_text(text, encoding="utf-8")
        document = parse_file(str(path))
    return [m.validation_message for m in validate_full_spdx_document(document, "SPDX-2.3")]


def properties(item: dict[str, Any]) -> dict[str, str]:
    """A CycloneDX component's properties by name."""
    return {p["name"]: p["value"] for p in item.get("properties", ())}


def annotations(doc: dict[str, Any], spdx_id: str) -> dict[str, str]:
    """An SPDX package's `NAME=VALUE` annotations by name."""
    package = next(p for p in doc["packages"] if p["SPDXID"] == spdx_id)
    pairs = (a["comment"].partition("=") for a in package.get("annotations", ()))
    return {name: value for name, _, value in pairs}


def loads(text: str) -> dict[str, Any]:
    return json.loads(text)  # type: ignore[no-any-return]
