"""One image as an SPDX 2.3 JSON document, built with SPDX's own library (spdx-tools).

The document DESCRIBES the image (a CONTAINER package named by its reference, its version the
digest, its `pkg:oci` purl); the image CONTAINS one LIBRARY package per inventory component, with
its purl as a PACKAGE-MANAGER external reference. An OS package is GENERATED_FROM its source
package (a SOURCE package of its own, listed once however many binaries it built): that is what
the relationship means in SPDX, and the source package is what advisories name. SPDX 2.3 has no
properties, so our evidence is one annotation per `inspector:*` property, `NAME=VALUE`, as
other scanners write theirs. Licences are not read from the image: NOASSERTION, as the spec asks.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from packageurl import PackageURL
from spdx_tools.spdx.jsonschema.document_converter import DocumentConverter
from spdx_tools.spdx.model import (
    Actor,
    ActorType,
    Annotation,
    AnnotationType,
    CreationInfo,
    Document,
    ExternalPackageRef,
    ExternalPackageRefCategory,
    Package,
    PackagePurpose,
    Relationship,
    RelationshipType,
    SpdxNoAssertion,
)

from inspector import __version__
from inspector.report import sbom
from inspector.report.model import ImageReport
from inspector.safetext import json_text

# Where SPDX's own examples and most generators put document namespaces: a URI that is never
# fetched, unique by the UUID it ends with.
NAMESPACE = "https://spdx.org/spdxdocs/inspector"
IMAGE_ID = "SPDXRef-Image"
_UNSAFE_ID = re.compile(r"[^0-9A-Za-z.-]+")


def render(reports: Sequence[ImageReport], now: datetime | None = None,
           serial: UUID | None = None) -> str:  # fmt: skip
    """The one image's SPDX document; `now` and `serial` (the namespace's UUID) default to the
    clock and a new random UUID (tests pin them)."""
    return document(sbom.one_image(reports, "spdx"), now, serial)


def document(report: ImageReport, now: datetime | None = None, serial: UUID | None = None) -> str:
    text = json.dumps(convert(model(report, now, serial)), indent=2, ensure_ascii=False)
    return json_text(text) + "\n"


def model(report: ImageReport, now: datetime | None = None, serial: UUID | None = None) -> Document:
    """The image's SPDX document as spdx-tools' model."""
    created = (now or datetime.now(UTC)).replace(microsecond=0)
    tool = Actor(ActorType.TOOL, f"inspector-{__version__}")
    image = Package(
        spdx_id=IMAGE_ID,
        name=report.reference,
        download_location=SpdxNoAssertion(),
        version=sbom.image_version(report),
        files_analyzed=False,
        external_references=_purl(sbom.image_purl(report)),
        primary_package_purpose=PackagePurpose.CONTAINER,
    )
    packages, annotations = [image], _annotations(IMAGE_ID, sbom.image_properties(report), tool,
                                                  created)  # fmt: skip
    relationships = [Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, IMAGE_ID)]
    sources: dict[str, str] = {}  # source purl -> its SPDX id
    for part in sbom.installed(report):
        spdx_id = _id("Package", part.fields["name"], part.ref)
        packages.append(_package(spdx_id, part.fields["name"], part.fields["version"], part.purl,
                                 PackagePurpose.LIBRARY))  # fmt: skip
        relationships.append(Relationship(IMAGE_ID, RelationshipType.CONTAINS, spdx_id))
        annotations += _annotations(spdx_id, part.properties, tool, created)
        if (source := part.source) and (purl := part.source_purl):
            if purl not in sources:
                sources[purl] = _id("Source", source[0], purl)
                packages.append(_package(sources[purl], source[0], source[1], purl,
                                         PackagePurpose.SOURCE))  # fmt: skip
            relationships.append(
                Relationship(spdx_id, RelationshipType.GENERATED_FROM, sources[purl])
            )
    info = CreationInfo(
        spdx_version="SPDX-2.3",
        spdx_id="SPDXRef-DOCUMENT",
        name=report.reference,
        document_namespace=f"{NAMESPACE}/{_safe(report.reference)}-{serial or uuid4()}",
        creators=[tool],
        created=created,
    )
    return Document(info, packages=packages, relationships=relationships, annotations=annotations)


def convert(doc: Document) -> dict[str, Any]:
    """The document as spdx-tools' JSON converter writes it, one package at a time: converting
    the whole document looks each package's annotations up among all of them (minutes for a
    few thousand packages), so each package is converted with only its own."""
    info = doc.creation_info
    converter = DocumentConverter()
    by_package: dict[str, list[Annotation]] = {}
    for annotation in doc.annotations:
        by_package.setdefault(annotation.spdx_id, []).append(annotation)
    out = converter.convert(Document(info, relationships=doc.relationships))
    described = out.pop("relationships", None)  # after the packages, where the library puts it
    out["packages"] = [
        converter.package_converter.convert(
            package, Document(info, annotations=by_package.get(package.spdx_id, []))
        )
        for package in doc.packages
    ]
    if described is not None:
        out["relationships"] = described
    return out  # type: ignore[no-any-return]


def _package(spdx_id: str, name: str, version: str, purl: str,
             purpose: PackagePurpose) -> Package:  # fmt: skip
    return Package(
        spdx_id=spdx_id,
        name=name,
        download_location=SpdxNoAssertion(),
        version=version,
        files_analyzed=False,
        license_concluded=SpdxNoAssertion(),
        license_declared=SpdxNoAssertion(),
        copyright_text=SpdxNoAssertion(),
        external_references=_purl(purl),
        primary_package_purpose=purpose,
    )


def _purl(purl: str) -> list[ExternalPackageRef]:
    """The purl as a PACKAGE-MANAGER reference; none when image data made one the purl spec
    cannot parse (the package is still listed, by name and version)."""
    try:
        PackageURL.from_string(purl)
    except ValueError:
        return []
    return [ExternalPackageRef(ExternalPackageRefCategory.PACKAGE_MANAGER, "purl", purl)]


def _annotations(spdx_id: str, properties: Sequence[tuple[str, str]], tool: Actor,
                 created: datetime) -> list[Annotation]:  # fmt: skip
    return [
        Annotation(spdx_id, AnnotationType.OTHER, tool, created, f"{name}={value}")
        for name, value in properties
    ]


def _id(kind: str, name: str, unique: str) -> str:
    """`SPDXRef-KIND-NAME-HASH`: readable, and the same for the same component in every run."""
    digest = hashlib.sha256(unique.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return f"SPDXRef-{kind}-{_safe(name)}-{digest}"


def _safe(text: str) -> str:
    return _UNSAFE_ID.sub("-", text).strip("-") or "x"
