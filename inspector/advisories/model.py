"""The advisory vocabulary every module of `inspector.advisories` shares.

An `Advisory` is one OSV record as far as matching needs it, narrowed to the package it was looked
up for; a `VulnerabilityMatch` is one vulnerability of one installed component (advisories that
alias each other merged); `VulnerabilityFacts` is the `vulnerabilities` section of the facts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

# The severities a match can carry; "unknown" when neither a CVSS vector nor a rating says.
VULN_SEVERITIES = ("unknown", "low", "medium", "high", "critical")

# How far the command can reach a component (see `inspector.analysers.inventory.reachability`).
IMPORTABLE = "importable"  # on the command's interpreter's sys.path
NOT_IMPORTABLE = "not-importable"  # on disk, but no sys.path of the command reaches it
DELETED = "deleted"  # a later layer deleted it; its bytes still ship in a lower layer
INSTALLED = "installed"  # an OS package the package manager lists as installed


@dataclass(frozen=True)
class Range:
    """One OSV `affected[].ranges[]` entry: events in the record's order."""

    type: str  # "ECOSYSTEM" | "SEMVER" | "GIT"
    # ("introduced", "0"), ("fixed", "1.2"), ("last_affected", ...), ("limit", ...)
    events: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Affected:
    """One OSV `affected[]` entry for the package looked up."""

    # as the record writes it: "PyPI", "Debian:12", "Ubuntu:24.04:LTS", "Alpine:v3.20"
    ecosystem: str
    name: str  # PyPI names normalised as PEP 503 does; OS names are source packages / origins
    ranges: tuple[Range, ...]
    versions: tuple[str, ...]  # versions the record lists as affected, verbatim
    # affected[].ecosystem_specific / database_specific severity or urgency, when given
    # ("HIGH", "unimportant", ...); the record-level rating lives on `Advisory.rating`.
    rating: str | None = None


@dataclass(frozen=True)
class Advisory:
    # the OSV id: GHSA-..., PYSEC-..., DSA-..., DLA-..., DEBIAN-CVE-..., USN-..., ALPINE-CVE-...
    id: str
    modified: str  # RFC 3339, as the record says
    published: str | None
    withdrawn: str | None  # RFC 3339; a withdrawn advisory never matches
    aliases: tuple[str, ...]  # `aliases` (and `upstream`): CVE-..., GHSA-..., PYSEC-...
    summary: str | None  # `summary`, else the first line of `details`, cut to 200 characters
    severity: tuple[tuple[str, str], ...]  # OSV `severity[]`: ("CVSS_V3", "CVSS:3.1/AV:N/..."), ...
    rating: str | None  # `database_specific.severity` ("HIGH", "MODERATE", ...), when given
    url: str | None  # the first ADVISORY reference, else the first WEB one, else None
    affected: tuple[Affected, ...]  # only the entries for the package looked up


# (ecosystem as the inventory names it, package name): what a lookup is keyed on.
PackageKey = tuple[str, str]


class AdvisoryLookup(Protocol):
    """What matching needs from the database: every advisory naming any of these packages.

    Ecosystems are asked for as the inventory names them ("Debian:12", "Ubuntu:24.04", "PyPI");
    the store answers with records whose ecosystem is that or a variant of it ("Ubuntu:24.04:LTS",
    "Ubuntu:Pro:24.04:LTS"). One call per audit, so a store can answer with one query.
    """

    def advisories(
        self, keys: Iterable[PackageKey]
    ) -> Mapping[PackageKey, tuple[Advisory, ...]]: ...


@dataclass(frozen=True)
class EcosystemState:
    name: str  # the export's ecosystem: "PyPI", "Debian", "Ubuntu", "Alpine"
    advisories: int  # records stored
    imported: str  # RFC 3339 UTC: when this ecosystem was last imported
    source: str  # where it came from: the URL (credentials never shown) or the file imported
    newest: str | None  # the newest `modified` among its records


@dataclass(frozen=True)
class DatabaseState:
    location: str  # the store's path or URL, as messages show it (never a password)
    updated: str | None  # RFC 3339 UTC: the oldest `imported` of the ecosystems the image needs
    ecosystems: tuple[EcosystemState, ...]


@dataclass(frozen=True)
class VulnerabilityMatch:
    id: str  # what the finding is called: the CVE alias when there is one, else the first OSV id
    advisories: tuple[str, ...]  # every OSV record merged into this match, sorted
    aliases: tuple[str, ...]  # every other id those records give (CVE, GHSA, PYSEC, ...), sorted
    summary: str | None
    severity: str  # one of VULN_SEVERITIES
    severity_source: str | None  # what decided it: "CVSS_V3", "CVSS_V4", "rating", ...
    score: float | None  # the CVSS base score, when a vector decided
    vector: str | None
    url: str | None
    ecosystem: str  # the component's ecosystem ("Debian:12", "PyPI", ...)
    package: str  # the component's name (the binary package for OS components)
    source: str | None  # the source package / origin the advisory names (OS components)
    installed: str  # the version compared (the source version for OS components)
    fixed: str | None  # the lowest fixed version above `installed`; None: no fix yet
    path: str  # the component's evidence path (its .dist-info, the package database, ...)
    layer: int  # the layer that wrote `path` (0-based, as every facts layer index)
    kind: str  # the component's kind (see `inspector.analysers.inventory.Component.kind`)
    reachability: str  # IMPORTABLE | NOT_IMPORTABLE | DELETED | INSTALLED
    environment: str | None  # the site-packages dir (Python), None for OS packages


@dataclass(frozen=True)
class VulnerabilityFacts:
    # "matched": the database answered; "no-database": none was found or it holds nothing the
    # image needs; "disabled": the user asked for none (--no-vulns); "error": the store failed.
    status: str
    note: str | None  # one line for the reader when status is not "matched"
    database: DatabaseState | None
    ecosystems: tuple[str, ...]  # the ecosystems the inventory needs ("Debian:12", "PyPI")
    missing: tuple[str, ...]  # of those, the ones the database holds no advisories for
    import_path: tuple[str, ...]  # the sys.path reachability was judged by
    import_path_source: str | None  # "probe" (the static probe's sys.path) | "static" | None
    matches: tuple[VulnerabilityMatch, ...]  # sorted: worst severity first, then package, id
