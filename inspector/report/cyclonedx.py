"""One image as a CycloneDX 1.6 JSON SBOM, built with CycloneDX's own library.

The image is `metadata.component` (type container, its `pkg:oci` purl with the digest) and depends
on every component; each inventory component is a library with its purl, its evidence as
`inspector:*` properties and as an evidence occurrence (the path), and, for OS packages, the source
package it was built from as its pedigree's ancestor. When matching ran, `vulnerabilities[]` has
one entry per vulnerability and affected component, with its ratings, the fixed version as the
recommendation and, for a component the command cannot reach, a VEX analysis saying so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from cyclonedx.exception.model import InvalidUriException
from cyclonedx.model import Property, XsUri
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType, Pedigree
from cyclonedx.model.component_evidence import ComponentEvidence, Occurrence
from cyclonedx.model.dependency import Dependency
from cyclonedx.model.impact_analysis import (
    ImpactAnalysisAffectedStatus,
    ImpactAnalysisJustification,
    ImpactAnalysisState,
)
from cyclonedx.model.vulnerability import (
    BomTarget,
    BomTargetVersionRange,
    Vulnerability,
    VulnerabilityAdvisory,
    VulnerabilityAnalysis,
    VulnerabilityRating,
    VulnerabilityReference,
    VulnerabilityScoreSource,
    VulnerabilitySeverity,
    VulnerabilitySource,
)
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from inspector import __version__
from inspector.report import sbom
from inspector.report.model import ImageReport
from inspector.safetext import json_text

_OSV = "OSV"
# What an advisory link may be: http(s), none of the characters an IRI forbids unescaped.
_LINK = re.compile(r"https?://[^\s\x00-\x1f\x7f<>\"{}|\\^`]+")
_JUSTIFICATION = {
    "not-importable": ImpactAnalysisJustification.CODE_NOT_REACHABLE,
    "deleted": ImpactAnalysisJustification.CODE_NOT_PRESENT,
}


def render(reports: Sequence[ImageReport], now: datetime | None = None,
           serial: UUID | None = None) -> str:  # fmt: skip
    """The one image's CycloneDX document; `now` and `serial` default to the clock and a new
    random UUID (tests pin them)."""
    return document(sbom.one_image(reports, "cyclonedx"), now, serial)


def document(report: ImageReport, now: datetime | None = None, serial: UUID | None = None) -> str:
    parts = sbom.installed(report)
    components = {p.ref: _component(p) for p in parts}
    root = Component(
        type=ComponentType.CONTAINER,
        name=report.reference,
        version=sbom.image_version(report),
        bom_ref=sbom.image_purl(report),
        purl=_purl(sbom.image_purl(report)),
        properties=_properties(sbom.image_properties(report)),
    )
    tool = Component(type=ComponentType.APPLICATION, name="inspector", version=__version__,
                     bom_ref=f"inspector@{__version__}")  # fmt: skip
    metadata = BomMetaData(
        timestamp=(now or datetime.now(UTC)).replace(microsecond=0), component=root
    )
    metadata.tools.components.add(tool)
    # An image is what it ships: the root depends on every component it holds. (Built here:
    # Bom.register_dependency looks each target up in a list, quadratic in the components.)
    leaves = [Dependency(ref=c.bom_ref) for c in components.values()]
    dependencies = [Dependency(ref=root.bom_ref, dependencies=leaves), *leaves] if leaves else []
    bom = Bom(
        serial_number=serial,
        metadata=metadata,
        components=components.values(),
        dependencies=dependencies,
        vulnerabilities=_vulnerabilities(report, parts),
    )
    text = JsonV1Dot6(bom).output_as_string(indent=2)
    return json_text(text) + "\n"


def _purl(text: str) -> PackageURL | None:
    """The purl, or None when image data made one the purl spec cannot parse: the component is
    still listed, by name, version and evidence."""
    try:
        return PackageURL.from_string(text)
    except ValueError:
        return None


def _uri(text: str | None) -> XsUri | None:
    """An advisory's link, or None when it is not a URI CycloneDX accepts."""
    if not text or not _LINK.fullmatch(text):
        return None
    try:
        return XsUri(text)
    except InvalidUriException:
        return None


def _properties(pairs: Sequence[tuple[str, str]]) -> list[Property]:
    return [Property(name=name, value=value) for name, value in pairs]


def _component(part: sbom.Installed) -> Component:
    c = part.fields
    pedigree = None
    if (source := part.source) and (purl := part.source_purl):
        # A Debian or Alpine binary package is derived from its source package, which is what
        # advisories name: the source is its ancestor.
        ancestor = Component(
            type=ComponentType.LIBRARY,
            name=source[0],
            version=source[1],
            bom_ref=f"{part.ref}|source",
            purl=_purl(purl),
        )
        pedigree = Pedigree(ancestors=[ancestor])
    return Component(
        type=ComponentType.LIBRARY,
        name=c["name"],
        version=c["version"],
        bom_ref=part.ref,
        purl=_purl(part.purl),
        properties=_properties(part.properties),
        evidence=ComponentEvidence(occurrences=[Occurrence(location=c["path"])]),
        pedigree=pedigree,
    )


def _vulnerabilities(report: ImageReport, parts: Sequence[sbom.Installed]) -> list[Vulnerability]:
    by_key = sbom.affected(report, parts)
    out = []
    for match in sbom.matches(report):
        part = by_key.get(sbom.match_key(match))
        ref = part.ref if part else f"{match['package']}|{match['path']}"
        affects = []
        if part:
            status = ImpactAnalysisAffectedStatus.AFFECTED
            version = BomTargetVersionRange(version=part.fields["version"], status=status)
            affects = [BomTarget(ref=part.ref, versions=[version])]
        others = sorted({*match.get("advisories", ()), *match.get("aliases", ())} - {match["id"]})
        url = _uri(match.get("url"))
        out.append(
            Vulnerability(
                bom_ref=f"{match['id']}|{ref}",
                id=match["id"],
                source=VulnerabilitySource(name=_OSV, url=url),
                references=[
                    VulnerabilityReference(id=other, source=VulnerabilitySource(name=_OSV))
                    for other in others
                ],
                ratings=[_rating(match)],
                description=match.get("summary"),
                recommendation=sbom.recommendation(match),
                advisories=[VulnerabilityAdvisory(url=url)] if url else None,
                analysis=_analysis(match),
                affects=affects,
            )
        )
    return out


def _rating(match: Mapping[str, Any]) -> VulnerabilityRating:
    vector = match.get("vector")
    score = match.get("score")
    return VulnerabilityRating(
        source=VulnerabilitySource(name=_OSV),  # the advisory's vector or rating, as OSV holds it
        score=Decimal(str(score)) if score is not None else None,
        severity=VulnerabilitySeverity(match["severity"]),
        method=_method(vector),
        vector=vector,
    )


def _method(vector: str | None) -> VulnerabilityScoreSource:
    if not vector:
        return VulnerabilityScoreSource.OTHER
    if vector.startswith("CVSS:4"):
        return VulnerabilityScoreSource.CVSS_V4
    if vector.startswith("CVSS:3.1"):
        return VulnerabilityScoreSource.CVSS_V3_1
    if vector.startswith("CVSS:3"):
        return VulnerabilityScoreSource.CVSS_V3
    if vector.startswith("AV:"):
        return VulnerabilityScoreSource.CVSS_V2
    return VulnerabilityScoreSource.OTHER


def _analysis(match: Mapping[str, Any]) -> VulnerabilityAnalysis | None:
    """Not affected, and why, for a component the command cannot reach; no claim otherwise."""
    detail = sbom.why_unreachable(match)
    if detail is None:
        return None
    return VulnerabilityAnalysis(
        state=ImpactAnalysisState.NOT_AFFECTED,
        justification=_JUSTIFICATION[match["reachability"]],
        detail=detail,
    )
