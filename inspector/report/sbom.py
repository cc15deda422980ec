"""What the two SBOM formats (CycloneDX, SPDX) say alike about one audited image.

An SBOM describes one image: the image is the root, every component of the inventory is one
package in it with its package URL, and our evidence (where it sits, which layer wrote it, whether
the command can import it) goes along as `inspector:*` properties. Both documents are built from
the report alone (`ImageReport.image`, `.inventory`, `.vulnerabilities`: plain facts JSON), so
they are the same for the same image but for their timestamp and serial number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from checks.model import layer_name, layer_number
from inspector.errors import InspectorError
from inspector.report.model import ImageReport

# What each property says, as docs/sbom.md lists them (a test keeps the two equal).
COMPONENT_PROPERTIES = {
    "inspector:kind": (
        'Where the component was found: "dpkg" or "apk" (the package database), "dist-info" or '
        '"egg-info" (installed Python metadata), "vendored" (a vendor.txt), "sbom" (an SBOM the '
        'image ships), "wheel" (a .whl file), "bundled-library" (a .so inside a wheel).'
    ),
    "inspector:path": "The evidence's path in the image: the metadata directory, the file, the "
    "package database.",
    "inspector:layer": "The layer that wrote that path, numbered from 1 for the base layer as "
    "`inspector` reports number layers everywhere.",
    "inspector:deleted": '"true" when a later layer deleted the path: a container does not see '
    "it, but its bytes still ship in the image.",
    "inspector:environment": "Python: the site-packages directory (or the vendoring package) it "
    "sits in, which tells the interpreter or venv; absent for OS packages.",
    "inspector:reachability": '"importable" (on the sys.path of the interpreter the command '
    'runs), "not-importable" (on disk, out of its reach), "deleted", or "installed" (an OS '
    "package).",
    "inspector:ecosystem": 'The OSV ecosystem it is matched in ("Debian:12", "PyPI", ...); '
    "absent when it is not matched on its own (a bundled library that cannot be named, Python "
    "code a Debian package installed, which is matched as that package).",
}
IMAGE_PROPERTIES = {
    "inspector:image-id": "The image ID (the digest of its config).",
    "inspector:os-ecosystem": 'The OS release the packages belong to ("Debian:12"), when known.',
    "inspector:import-path": "The command's sys.path reachability was judged by, joined with "
    '":" as PYTHONPATH is.',
    "inspector:import-path-source": '"probe" (the running interpreter said it) or "static" (from '
    "the layers alone).",
    "inspector:vulnerabilities": 'Whether vulnerabilities were matched: "matched", '
    '"no-database", "disabled" or "error"; absent when matching did not run. Only "matched" '
    "makes an empty vulnerability list mean none is known.",
    "inspector:vulnerability-database": "When the advisory database was last updated (RFC 3339).",
}

_HOST = re.compile(r"^(?:localhost|[^/]*[.:][^/]*)(?:/|$)")  # a registry host: has "." or ":"
_SOURCES = ("registry:", "docker-archive:", "oci-archive:", "oci:", "docker:")


@dataclass(frozen=True)
class Installed:
    """One inventory component, as both formats state it."""

    ref: str  # unique in the document: the CycloneDX bom-ref, the base of the SPDX id
    fields: Mapping[str, Any]  # the facts' component, with the audit's `reachability`

    @property
    def purl(self) -> str:
        return str(self.fields["purl"])

    @property
    def properties(self) -> list[tuple[str, str]]:
        """(name, value) of every `inspector:*` property that has a value, in the docs' order."""
        c = self.fields
        values = {
            "inspector:kind": c["kind"],
            "inspector:path": c["path"],
            "inspector:layer": str(layer_number(c["layer"])),
            "inspector:deleted": "true" if c["deleted"] else "false",
            "inspector:environment": c.get("environment"),
            "inspector:reachability": c.get("reachability"),
            "inspector:ecosystem": c.get("ecosystem") or None,
        }
        return [(name, value) for name, value in values.items() if value]

    @property
    def source(self) -> tuple[str, str] | None:
        """The OS source package (name, version) it was built from; None for Python."""
        c = self.fields
        if c.get("source") and c.get("source_version"):
            return c["source"], c["source_version"]
        return None

    @property
    def source_purl(self) -> str | None:
        """The source package's purl: the binary's with the source's name and version, and
        `arch=source` as the deb type writes source packages (apk has no such qualifier)."""
        source = self.source
        if source is None:
            return None
        base, _, qualifiers = self.purl.partition("?")
        head = base.rsplit("/", 1)[0]
        kept = [q for q in qualifiers.split("&") if q and not q.startswith("arch=")]
        if head.startswith("pkg:deb/"):
            kept = ["arch=source", *kept]
        name, version = quote(source[0], safe=""), quote(source[1], safe="+~:")
        return f"{head}/{name}@{version}" + (f"?{'&'.join(sorted(kept))}" if kept else "")


def one_image(reports: Sequence[ImageReport], fmt: str) -> ImageReport:
    """The single image an SBOM document describes; several is the caller's mistake."""
    if len(reports) != 1:
        raise InspectorError(
            f"a {fmt} document describes one image, not {len(reports)}: write one per image "
            f"with -o {fmt}=DIR/"
        )
    report = reports[0]
    if report.error:
        raise InspectorError(f"no {fmt} SBOM for {report.reference}: {report.error}")
    return report


def installed(report: ImageReport) -> list[Installed]:
    """The inventory's components in its order, each with a reference unique in the document."""
    components = list((report.inventory or {}).get("components") or ())
    seen: dict[str, int] = {}
    out = []
    for c in components:
        # One purl can sit in several places (a venv and the system site-packages): the path
        # and the layer tell them apart.
        ref = f"{c['purl']}|{layer_number(c['layer'])}|{c['path']}"
        seen[ref] = seen.get(ref, 0) + 1
        out.append(Installed(ref if seen[ref] == 1 else f"{ref}|{seen[ref]}", c))
    return out


def image_version(report: ImageReport) -> str:
    """The digest that names the image: the manifest's when it has one, else its ID."""
    if report.digest:
        return report.digest.rpartition("@")[2]
    return report.image_id or "unknown"


def image_repository(report: ImageReport) -> str | None:
    """The repository the image comes from (`HOST/REPO` or `REPO`), from its digest, else from
    the reference; None for an archive or a bare ID."""
    if report.digest and "@" in report.digest:
        return report.digest.rpartition("@")[0]
    ref = report.reference
    if ref.startswith(("docker-archive:", "oci-archive:", "oci:")):
        tags = (report.image or {}).get("tags") or ()
        return _strip_tag(tags[0]) if tags else None
    ref = ref.removeprefix("registry:").removeprefix("docker:")
    if ref.startswith("sha256:") or re.fullmatch(r"[0-9a-f]{12,64}", ref):
        return None
    return _strip_tag(ref)


def _strip_tag(ref: str) -> str:
    ref = ref.partition("@")[0]
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    return ref[:colon] if colon > slash else ref


def image_tag(report: ImageReport) -> str | None:
    ref = report.reference
    if ref.startswith(("docker-archive:", "oci-archive:", "oci:")):
        return None
    ref = ref.removeprefix("registry:").removeprefix("docker:").partition("@")[0]
    slash, colon = ref.rfind("/"), ref.rfind(":")
    return ref[colon + 1 :] if colon > slash else None


def image_purl(report: ImageReport) -> str:
    """`pkg:oci/NAME@DIGEST?arch=...&repository_url=...&tag=...` as the purl spec's oci type
    writes an image: NAME the repository's last segment, lowercased; repository_url only when the
    repository names its registry."""
    repository = image_repository(report)
    name = (repository or "image").rsplit("/", 1)[-1].lower()
    qualifiers = {}
    if arch := (report.image or {}).get("architecture"):
        qualifiers["arch"] = arch
    if repository and _HOST.match(repository):
        qualifiers["repository_url"] = repository.lower()
    if tag := image_tag(report):
        qualifiers["tag"] = tag
    query = "&".join(f"{k}={quote(v, safe='/:')}" for k, v in sorted(qualifiers.items()))
    version = quote(image_version(report), safe=":")
    return f"pkg:oci/{quote(name, safe='')}@{version}" + (f"?{query}" if query else "")


def image_properties(report: ImageReport) -> list[tuple[str, str]]:
    inventory = report.inventory or {}
    vulns = report.vulnerabilities or {}
    database = vulns.get("database") or {}
    values = {
        "inspector:image-id": report.image_id,
        "inspector:os-ecosystem": inventory.get("os_ecosystem"),
        "inspector:import-path": ":".join(inventory.get("import_path") or ()) or None,
        "inspector:import-path-source": inventory.get("import_path_source"),
        "inspector:vulnerabilities": vulns.get("status"),
        "inspector:vulnerability-database": database.get("updated"),
    }
    return [(name, value) for name, value in values.items() if value]


def matches(report: ImageReport) -> list[Mapping[str, Any]]:
    """The vulnerability matches, when matching ran."""
    return list((report.vulnerabilities or {}).get("matches") or ())


def affected(report: ImageReport, parts: Sequence[Installed]) -> dict[tuple, Installed]:
    """Each component by what a match names it with: ecosystem, package, path and layer."""
    return {
        (p.fields["ecosystem"], p.fields["name"], p.fields["path"], p.fields["layer"]): p
        for p in parts
    }


def match_key(match: Mapping[str, Any]) -> tuple:
    return (match["ecosystem"], match["package"], match["path"], match["layer"])


def why_unreachable(match: Mapping[str, Any]) -> str | None:
    """Why the command cannot be affected, for a match it cannot reach; None when it can."""
    where, layer = match["path"], layer_name(match["layer"])
    if match["reachability"] == "not-importable":
        return (
            f"{where} ({layer}) is on disk, but no entry of the sys.path of the interpreter the "
            "image's command runs reaches it; another interpreter in the image could import it."
        )
    if match["reachability"] == "deleted":
        return (
            f"{where} was written by {layer} and deleted by a later one: a container does not "
            f"see it, but its bytes still ship in {layer}."
        )
    return None


def recommendation(match: Mapping[str, Any]) -> str:
    package = match["package"]
    if match.get("source") and match["source"] != package:
        package = f"{package} (source package {match['source']})"
    if match.get("fixed"):
        return f"Upgrade {package} to {match['fixed']} or later."
    return f"No fixed version of {package} is known yet."
