"""Installed components matched against OSV advisories: one `VulnerabilityMatch` per vulnerability.

What is looked up, and which version is compared:
- OS packages by (their ecosystem, source package): Debian and Ubuntu advisories name source
  packages (dpkg `Source:`), Alpine's name origins, so `libc6` and `libc-bin` are both judged as
  `glibc`, by the source version (`source_version`, else the binary version);
- Python distributions by ("PyPI", PEP 503 name) and their version;
- components with no ecosystem (bundled libraries we cannot name) are not matched.

A record's `affected[]` entry counts when its ecosystem serves the component's (`lookup_ecosystem`:
"Ubuntu:24.04" is served by "Ubuntu:24.04" and "Ubuntu:24.04:LTS", never by Ubuntu Pro's) and it
names the package. Whether the installed version is affected follows the OSV schema's evaluation
exactly: in the explicit `versions` list, or inside an ECOSYSTEM or SEMVER range (events sorted by
the ecosystem's order, `introduced: "0"` before every version, `last_affected` inclusive, `limit`
an upper bound, `*` infinity); GIT ranges need the repository's history and are ignored. SEMVER
bounds are compared as the ecosystem's own versions. An installed version the ecosystem cannot
parse is judged by the explicit `versions` list only. Withdrawn records never match.

Merging: the records that affect one component and share an id (their own or an alias,
transitively) are one vulnerability. A record naming several CVEs (a distribution's DSA, DLA or
USN fixing many at once; the store folds OSV's `upstream` into `aliases`) does not join them: it
is added to the match of each CVE it names, stands alone for a CVE no other affecting record names,
and is left out for a CVE whose own record (DEBIAN-CVE-...) says the installed version is not
affected. The cost: a language advisory listing two CVEs for one bug gives two matches.

The match's `id` is its CVE (the lowest by year and number if several), else its lowest record
id; `advisories` the records merged; `aliases` every other id; `severity` the best evidenced of
its records' (`severity.Severity.evidence`: a scored CVSS vector beats a rating, the highest score
wins, then the newer CVSS version; among ratings the worst); `summary` and `url` come from the
record that gave the severity (the lowest record id when none did); `fixed` is the lowest fixed
version above the installed one among the ranges that affect it, None when none is fixed: "no
fix yet". A version affected only through a `versions` list takes the lowest fix its entry's
ranges name above it.

Speed: each record's bounds are parsed once per call (ranges shared between records), each
(package, version) is judged once whatever the number of components that have it, and merging
is a union-find over ids, linear in the ids of the records that affect the version.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from packaging.utils import canonicalize_name

from inspector.advisories import severity as severities
from inspector.advisories import versions
from inspector.advisories.model import (
    VULN_SEVERITIES,
    Advisory,
    AdvisoryLookup,
    PackageKey,
    Range,
    VulnerabilityMatch,
)
from inspector.analysers.inventory import Component

_INTRODUCED, _FIXED, _LAST_AFFECTED = 0, 1, 2
_EVENT_KINDS = {"introduced": _INTRODUCED, "fixed": _FIXED, "last_affected": _LAST_AFFECTED}
# Bounds are wrapped so that "0" sorts before every version and "*" after: (0,) < (1, key) < (2,).
_BEFORE_ALL = (0,)
_AFTER_ALL = (2,)
_CVE = re.compile(r"CVE-(\d+)-(\d+)")
_SEVERITY_RANK = {name: i for i, name in enumerate(VULN_SEVERITIES)}


@lru_cache(maxsize=1024)
def lookup_ecosystem(record_ecosystem: str) -> str | None:
    """The inventory ecosystem a record's `affected[].ecosystem` serves; None: none we match.

    "Ubuntu:24.04:LTS" serves "Ubuntu:24.04" (Ubuntu marks its LTS releases so); Ubuntu Pro's
    ("Ubuntu:Pro:24.04:LTS", "Ubuntu:Pro:FIPS...") and other variants serve no image we can
    recognise as using them, so they are never matched. Every other ecosystem serves itself.
    """
    parts = record_ecosystem.split(":")
    if parts[0] != "Ubuntu":
        return record_ecosystem
    if len(parts) == 2:
        return record_ecosystem
    if len(parts) == 3 and parts[2] == "LTS" and parts[1] != "Pro":
        return f"{parts[0]}:{parts[1]}"
    return None


def component_key(component: Component) -> tuple[PackageKey, str] | None:
    """What a component is looked up by, and the version compared; None: not matched.

    Damaged facts (a name or version that is not text) are not matched rather than raised.
    """
    ecosystem = component.ecosystem
    if not isinstance(ecosystem, str) or versions.scheme(ecosystem) is None:
        return None
    if ecosystem == "PyPI":
        name, version = component.name, component.version
    else:
        name = component.source or component.name
        version = component.source_version or component.version
    if not (isinstance(name, str) and name and isinstance(version, str) and version):
        return None
    if ecosystem == "PyPI":
        name = canonicalize_name(name)
    return (ecosystem, name), version


def affected_keys(components: Iterable[Component]) -> list[PackageKey]:
    """The lookup keys of the components that can be matched, sorted, each once."""
    keys = {found[0] for c in components if (found := component_key(c)) is not None}
    return sorted(keys)


def match(
    components: Sequence[tuple[Component, str]], lookup: AdvisoryLookup
) -> tuple[VulnerabilityMatch, ...]:
    """Every vulnerability of every component (with its reachability word), sorted worst first.

    One call to `lookup.advisories` with the keys of all matchable components.
    """
    keyed: list[tuple[Component, str, PackageKey, str]] = []
    for component, reachability in components:
        found = component_key(component)
        if found is not None:
            key, installed = found
            keyed.append((component, reachability, key, installed))
    if not keyed:
        return ()
    answers = lookup.advisories(sorted({key for _, _, key, _ in keyed}))
    # Matching allocates hundreds of thousands of small tuples and makes no reference cycles;
    # the cyclic collector would walk every object the process holds (the store's answers
    # included) again and again, which costs about as much as the matching itself.
    collecting = gc.isenabled()
    gc.disable()
    try:
        matcher = _Matcher(answers)
        matches = [
            _match(vulnerability, component, reachability, key, installed)
            for component, reachability, key, installed in keyed
            for vulnerability in matcher.vulnerabilities(key, installed)
        ]
    finally:
        if collecting:
            gc.enable()
    matches.sort(key=_order)
    return tuple(matches)


@dataclass(frozen=True)
class _Vulnerability:
    """What a match says about the package and version, shared by every component that has them
    (libc6 and libc-bin of one glibc, one distribution in two environments)."""

    id: str
    advisories: tuple[str, ...]
    aliases: tuple[str, ...]
    summary: str | None
    severity: severities.Severity
    url: str | None
    fixed: str | None


def _match(
    vulnerability: _Vulnerability,
    component: Component,
    reachability: str,
    key: PackageKey,
    installed: str,
) -> VulnerabilityMatch:
    severity = vulnerability.severity
    return VulnerabilityMatch(
        id=vulnerability.id,
        advisories=vulnerability.advisories,
        aliases=vulnerability.aliases,
        summary=vulnerability.summary,
        severity=severity.severity,
        severity_source=severity.source,
        score=severity.score,
        vector=severity.vector,
        url=vulnerability.url,
        ecosystem=component.ecosystem,
        package=component.name,
        source=None if key[0] == "PyPI" else key[1],
        installed=installed,
        fixed=vulnerability.fixed,
        path=component.path,
        layer=component.layer,
        kind=component.kind,
        reachability=reachability,
        environment=component.environment,
    )


def _order(m: VulnerabilityMatch) -> tuple:
    return (
        -_SEVERITY_RANK.get(m.severity, 0),
        m.package,
        _id_order(m.id),
        m.ecosystem,
        m.path,
        m.layer,
        m.installed,
        m.reachability,
        m.kind,
        m.environment or "",
    )


def _id_order(vuln_id: str) -> tuple:
    """CVEs by year and number (CVE-2024-999 before CVE-2024-1000), before every other id."""
    m = _CVE.fullmatch(vuln_id)
    return (0, int(m.group(1)), int(m.group(2)), vuln_id) if m else (1, 0, 0, vuln_id)


class _Matcher:
    """One `match` call's state: each record, range and verdict is worked out once."""

    def __init__(self, answers: Mapping[PackageKey, tuple[Advisory, ...]]) -> None:
        self.answers = answers
        self.records: dict[PackageKey, list[_Record]] = {}
        # Per package: the CVEs that records of their own (not bundles) judge, affected or not.
        self.judged_cves: dict[PackageKey, frozenset[str]] = {}
        self.ranges: dict[tuple[str, Range], _PreparedRange] = {}
        self.verdicts: dict[tuple[PackageKey, str], tuple[_Vulnerability, ...]] = {}

    def vulnerabilities(self, key: PackageKey, installed: str) -> tuple[_Vulnerability, ...]:
        found = self.verdicts.get((key, installed))
        if found is None:
            found = self.verdicts[(key, installed)] = self._judge(key, installed)
        return found

    def _judge(self, key: PackageKey, installed: str) -> tuple[_Vulnerability, ...]:
        records = self.records.get(key)
        if records is None:
            records = self.records[key] = self._records(key)
            self.judged_cves[key] = frozenset(
                cve for r in records if not r.bundle for cve in r.ids if cve.startswith("CVE-")
            )
        ecosystem = key[0]
        version_key = (
            (1, versions.sort_key(ecosystem, installed))
            if versions.is_valid(ecosystem, installed)
            else None
        )
        judged = [
            (record, fix)
            for record in records
            if (fix := record.judge(installed, version_key)) is not _NOT_AFFECTED
        ]
        if not judged:
            return ()
        merged = _merge(judged, self.judged_cves[key])
        return tuple(_vulnerability(group, cve) for cve, group in merged)

    def _records(self, key: PackageKey) -> list[_Record]:
        records = []
        for advisory in self.answers.get(key, ()):
            if advisory.withdrawn:
                continue
            record = _Record(advisory, key, self.ranges)
            if record.entries:
                records.append(record)
        return records


_NOT_AFFECTED = object()


class _Record:
    """One record's `affected[]` entries for one package, every bound parsed once."""

    __slots__ = ("_severity", "advisory", "cves", "entries", "ids")

    def __init__(
        self,
        advisory: Advisory,
        key: PackageKey,
        shared: dict[tuple[str, Range], _PreparedRange],
    ) -> None:
        ecosystem, name = key
        self.advisory = advisory
        self.ids = frozenset((advisory.id, *advisory.aliases))
        self.cves = sorted(
            (i for i in self.ids if i.startswith("CVE-") and i != advisory.id), key=_id_order
        )
        self._severity: severities.Severity | None = None
        self.entries: list[tuple[frozenset[str], list[_PreparedRange]]] = []
        for affected in advisory.affected:
            if lookup_ecosystem(affected.ecosystem) != ecosystem:
                continue
            if affected.name != name and not (
                ecosystem == "PyPI" and canonicalize_name(affected.name) == name
            ):
                continue
            ranges = []
            for source in affected.ranges:
                if source.type == "GIT":
                    continue
                prepared = shared.get((ecosystem, source))
                if prepared is None:
                    prepared = shared[(ecosystem, source)] = _PreparedRange(source, ecosystem)
                ranges.append(prepared)
            self.entries.append((frozenset(affected.versions), ranges))

    @property
    def bundle(self) -> bool:
        """A record naming several CVEs (a DSA, DLA or USN fixing many): it joins none of them."""
        return len(self.cves) > 1

    @property
    def severity(self) -> severities.Severity:
        if self._severity is None:
            self._severity = severities.severity(self.advisory)
        return self._severity

    def judge(self, installed: str, version: tuple | None) -> object:
        """`_NOT_AFFECTED`, else the lowest fix above `installed` ((bound, as written) or None).

        `version` is the installed version's wrapped sort key, None when it cannot be parsed.
        """
        hit = False
        fix = None
        for listed, ranges in self.entries:
            listed_hit = installed in listed  # the schema's `v == version`: as written
            range_hit = False
            if version is not None:
                for prepared in ranges:
                    if prepared.affects(version):
                        range_hit = True
                        fix = _lower(fix, prepared.lowest_fix_above(version))
                if listed_hit and not range_hit:
                    # Listed but in no range: the fixes its ranges name above it still say where
                    # to go.
                    for prepared in ranges:
                        fix = _lower(fix, prepared.lowest_fix_above(version))
            hit = hit or listed_hit or range_hit
        return fix if hit else _NOT_AFFECTED


def _lower(a: tuple | None, b: tuple | None) -> tuple | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


class _PreparedRange:
    """An ECOSYSTEM or SEMVER range with its events sorted by the ecosystem's order."""

    __slots__ = ("events", "fixes", "limits")

    def __init__(self, source: Range, ecosystem: str) -> None:
        events: list[tuple[tuple, int, str]] = []
        limits: list[tuple] = []
        for kind, version in source.events:
            if not isinstance(version, str):
                continue
            if kind == "limit":
                limits.append(_AFTER_ALL if "*" in version else _bound(ecosystem, version))
            elif kind in _EVENT_KINDS:
                if kind == "introduced" and version == "0":
                    bound = _BEFORE_ALL
                else:
                    bound = _bound(ecosystem, version)
                events.append((bound, _EVENT_KINDS[kind], version))
        # At one version an introduction comes before a fix, so [X, X) is empty.
        events.sort(key=lambda e: (e[0], e[1]))
        self.events = events
        self.limits = limits
        self.fixes = [(bound, version) for bound, kind, version in events if kind == _FIXED]

    def affects(self, v: tuple) -> bool:
        """The OSV schema's IncludedInRanges for one range (`v` a wrapped sort key)."""
        if self.limits and not any(v < limit for limit in self.limits):
            return False
        vulnerable = False
        for bound, kind, _ in self.events:
            if kind == _INTRODUCED:
                if v >= bound:
                    vulnerable = True
            elif kind == _FIXED:
                if v >= bound:
                    vulnerable = False
            elif v > bound:  # last_affected
                vulnerable = False
        return vulnerable

    def lowest_fix_above(self, v: tuple) -> tuple | None:
        for bound, version in self.fixes:  # sorted
            if bound > v:
                return (bound, version)
        return None


def _bound(ecosystem: str, version: str) -> tuple:
    return (1, versions.sort_key(ecosystem, version))


class _Groups:
    """Union-find over ids: records sharing an id, transitively, end in one group."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        parent = self.parent
        root = parent.setdefault(x, x)
        while root != parent[root]:
            root = parent[root]
        while x != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


_Judged = tuple  # (record, fix)


def _merge(
    judged: list[_Judged], judged_cves: frozenset[str]
) -> list[tuple[str | None, list[_Judged]]]:
    """Records grouped into vulnerabilities: (the CVE a bundle record was split on, records).

    A bundle joins the vulnerability of each CVE it names; where no affecting record names that
    CVE, it stands for the CVE alone, unless a record of the CVE's own says this version is not
    affected (a DEBIAN-CVE record is more precise than the DSA that fixed it with others).
    """
    if len(judged) == 1 and not judged[0][0].bundle:
        return [(None, judged)]
    groups = _Groups()
    singles = []
    bundles = []
    for j in judged:
        record = j[0]
        if record.bundle:
            bundles.append(j)
            continue
        singles.append(j)
        own = record.advisory.id
        groups.find(own)
        for alias in record.advisory.aliases:
            groups.union(own, alias)
    members: dict[str, list[_Judged]] = {}
    for j in singles:
        members.setdefault(groups.find(j[0].advisory.id), []).append(j)
    split_on: dict[str, str] = {}
    for j in bundles:
        for cve in j[0].cves:
            if cve not in groups.parent and cve in judged_cves:
                continue  # its own record judged this version and found it not affected
            root = groups.find(cve)
            group = members.setdefault(root, [])
            if all(g is not j for g in group):  # two of its CVEs may be one vulnerability already
                group.append(j)
            split_on.setdefault(root, cve)
    return [(split_on.get(root), group) for root, group in members.items()]


def _vulnerability(judged: list[_Judged], split_cve: str | None) -> _Vulnerability:
    if len(judged) == 1 and not judged[0][0].bundle:
        # The common case: one record, its own id and aliases.
        record, fix = judged[0]
        own = record.advisory.id
        vuln_id = record.cves[0] if record.cves else own
        if own.startswith("CVE-") and _id_order(own) < _id_order(vuln_id):
            vuln_id = own
        return _Vulnerability(
            id=vuln_id,
            advisories=(own,),
            aliases=tuple(sorted(record.ids - {vuln_id})),
            summary=record.advisory.summary,
            severity=record.severity,
            url=record.advisory.url,
            fixed=fix[1] if fix is not None else None,
        )
    records = sorted((record for record, _ in judged), key=lambda r: r.advisory.id)
    record_ids = {r.advisory.id for r in records}
    ids = set(record_ids)
    for record in records:
        if record.bundle:
            # A bundle lends this vulnerability only the CVE it was split on, not its others.
            if split_cve is not None:
                ids.add(split_cve)
        else:
            ids |= record.ids
    cves = [i for i in ids if i.startswith("CVE-")]
    vuln_id = min(cves, key=_id_order) if cves else min(record_ids)
    chosen = max(records, key=lambda r: r.severity.evidence())  # the first of equals
    if chosen.severity.source is None:
        chosen = records[0]
    summary = chosen.advisory.summary or next(
        (r.advisory.summary for r in records if r.advisory.summary), None
    )
    url = chosen.advisory.url or next((r.advisory.url for r in records if r.advisory.url), None)
    fixes = [fix for _, fix in judged if fix is not None]
    return _Vulnerability(
        id=vuln_id,
        advisories=tuple(sorted(record_ids)),
        aliases=tuple(sorted(ids - {vuln_id})),
        summary=summary,
        severity=chosen.severity,
        url=url,
        fixed=min(fixes)[1] if fixes else None,
    )
