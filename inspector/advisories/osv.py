"""One OSV record (https://ossf.github.io/osv-schema/) read into what the store keeps.

`parse(data)` turns a record's bytes into a `Record`, or into None when the bytes are not a record
we can use (bad JSON, a field of the wrong type, a field too large to be honest): such a record is
skipped and counted in the `Skipped` given, never raised, because one broken file must not stop
an export of a hundred thousand. `Record.advisory(key)` narrows a record to the package looked up.

Ecosystems are written as the records write them ("PyPI", "Debian:12", "Ubuntu:24.04:LTS",
"Ubuntu:Pro:18.04:LTS", "Alpine:v3.20"). Two derived names:
- the *export* an ecosystem belongs to, the part before the first colon ("Debian", "Ubuntu"):
  OSV publishes one `all.zip` per export;
- the *match* key a lookup is made on: the ecosystem without Ubuntu's ":LTS" suffix, so that an
  image's "Ubuntu:24.04" finds records of "Ubuntu:24.04:LTS" but never the Pro ones
  ("Ubuntu:Pro:24.04"), whose fixes an image without a subscription cannot install.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from inspector.advisories.model import Advisory, Affected, PackageKey, Range

MAX_RECORD_BYTES = 8 * 1024 * 1024  # the largest real records (kernel CVEs) are a few hundred KiB
MAX_ID = 256  # ids, aliases, dates, range types, ratings
MAX_NAME = 1024  # package names and ecosystems
MAX_VERSION = 1024  # one version or event value
MAX_SCORE = 1024  # a CVSS vector
MAX_URL = 4096
MAX_ITEMS = 100_000  # entries of any one list (versions, events, aliases, affected)
SUMMARY_CHARS = 200
# The stored form: compact, and no cycle check (a row of lists and strings has none).
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, check_circular=False)
EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")


class Skipped:
    """Records skipped while reading an export, counted by reason."""

    def __init__(self) -> None:
        self.reasons: Counter[str] = Counter()

    def add(self, reason: str) -> None:
        self.reasons[reason] += 1

    @property
    def total(self) -> int:
        return sum(self.reasons.values())

    def describe(self) -> str:
        """ "3 (2 not JSON, 1 wrong type)", or "0"."""
        if not self.reasons:
            return "0"
        parts = ", ".join(f"{n} {why}" for why, n in self.reasons.most_common())
        return f"{self.total} ({parts})"


class _Bad(Exception):
    """Why a record cannot be used (its text is the reason counted)."""


@dataclass(frozen=True)
class Record:
    """An OSV record as the store keeps it: every field matching and reports read."""

    id: str
    modified: str
    published: str | None
    withdrawn: str | None
    aliases: tuple[str, ...]
    summary: str | None
    severity: tuple[tuple[str, str], ...]
    rating: str | None
    url: str | None
    affected: tuple[Affected, ...]  # every entry naming a package, in the record's order

    def exports(self) -> set[str]:
        return {export_of(a.ecosystem) for a in self.affected}

    def lookup_keys(self) -> set[PackageKey]:
        """The (match ecosystem, name) pairs a lookup finds this record by."""
        return {(match_ecosystem(a.ecosystem), a.name) for a in self.affected}

    def only(self, export: str) -> Record:
        """This record with only the affected entries of one export (what its zip is about)."""
        kept = tuple(a for a in self.affected if export_of(a.ecosystem) == export)
        return self if len(kept) == len(self.affected) else _replace_affected(self, kept)

    def advisory(self, key: PackageKey) -> Advisory | None:
        """The advisory for one package, as matching sees it; None when it names no such one."""
        ecosystem = match_ecosystem(key[0])
        name = normalise_name(key[0], key[1])
        kept = tuple(
            a for a in self.affected if a.name == name and match_ecosystem(a.ecosystem) == ecosystem
        )
        if not kept:
            return None
        return Advisory(
            id=self.id, modified=self.modified, published=self.published,
            withdrawn=self.withdrawn, aliases=self.aliases, summary=self.summary,
            severity=self.severity, rating=self.rating, url=self.url, affected=kept,
        )  # fmt: skip

    def dumps(self) -> str:
        """The compact JSON the store keeps (`loads` reads it back)."""
        affected = [
            [a.ecosystem, a.name, [[r.type, [list(e) for e in r.events]] for r in a.ranges],
             list(a.versions), a.rating]
            for a in self.affected
        ]  # fmt: skip
        severity = [list(s) for s in self.severity]
        row = [self.id, self.modified, self.published, self.withdrawn, list(self.aliases),
               self.summary, severity, self.rating, self.url, affected]  # fmt: skip
        return _ENCODER.encode(row)

    @classmethod
    def loads(cls, text: str) -> Record:
        row = json.loads(text)
        return cls(*_head(row), tuple(_stored_affected(a) for a in row[9]))  # type: ignore[misc]


def stored_advisory(row: list[Any], key: PackageKey) -> Advisory | None:
    """`Record.loads(text).advisory(key)` from the stored row (`json.loads` of `dumps`), building
    only the affected entries of that package: what a lookup of many packages does."""
    ecosystem = match_ecosystem(key[0])
    name = normalise_name(key[0], key[1])
    kept = tuple(
        _stored_affected(a) for a in row[9] if a[1] == name and match_ecosystem(a[0]) == ecosystem
    )
    return Advisory(*_head(row), affected=kept) if kept else None


def _head(row: list[Any]) -> tuple[Any, ...]:
    """A stored row's fields before `affected`, in Record's (and Advisory's) order."""
    severity = tuple((s[0], s[1]) for s in row[6])
    return (row[0], row[1], row[2], row[3], tuple(row[4]), row[5], severity, row[7], row[8])


def _stored_affected(a: list[Any]) -> Affected:
    ranges = tuple(Range(r[0], tuple((e[0], e[1]) for e in r[1])) for r in a[2])
    return Affected(ecosystem=a[0], name=a[1], ranges=ranges, versions=tuple(a[3]), rating=a[4])


def _replace_affected(record: Record, affected: tuple[Affected, ...]) -> Record:
    return Record(record.id, record.modified, record.published, record.withdrawn, record.aliases,
                  record.summary, record.severity, record.rating, record.url, affected)  # fmt: skip


# -- ecosystems and names ------------------------------------------------------------------------


def export_of(ecosystem: str) -> str:
    """ "Debian:12" -> "Debian", "Ubuntu:Pro:18.04:LTS" -> "Ubuntu", "PyPI" -> "PyPI"."""
    return ecosystem.split(":", 1)[0]


def match_ecosystem(ecosystem: str) -> str:
    """The key a lookup is made on: Ubuntu's ":LTS" dropped ("Ubuntu:24.04:LTS" ->
    "Ubuntu:24.04"); Pro streams keep their "Pro" and so never match a plain release."""
    if ecosystem.startswith("Ubuntu:") and ecosystem.endswith(":LTS"):
        return ecosystem[: -len(":LTS")]
    return ecosystem


_PEP503 = re.compile(r"[-_.]+")


def normalise_name(ecosystem: str, name: str) -> str:
    """PyPI names as PEP 503 normalises them; every other ecosystem's names as written."""
    if export_of(ecosystem) == "PyPI":
        return _PEP503.sub("-", name).lower()
    return name


# -- parsing ---------------------------------------------------------------------------------


def parse(data: bytes, skipped: Skipped | None = None) -> Record | None:
    """One record's bytes -> a Record; None (and counted in `skipped`) when it is unusable."""
    try:
        if len(data) > MAX_RECORD_BYTES:
            raise _Bad("too large")
        try:
            doc = json.loads(data)
        except (ValueError, RecursionError):
            raise _Bad("not JSON") from None
        return _record(doc)
    except _Bad as bad:
        if skipped is not None:
            skipped.add(str(bad))
        return None


def _record(doc: Any) -> Record:
    if not isinstance(doc, dict):
        raise _Bad("not an object")
    record_id = _text(doc.get("id"), MAX_ID, "id")
    modified = _text(doc.get("modified"), MAX_ID, "modified")
    if not record_id or not modified:
        raise _Bad("no id or modified")
    aliases: list[str] = []
    for field in ("aliases", "upstream"):
        for alias in _strings(doc.get(field), MAX_ID, field):
            if alias != record_id and alias not in aliases:
                aliases.append(alias)
    return Record(
        id=record_id,
        modified=modified,
        published=_text(doc.get("published"), MAX_ID, "published"),
        withdrawn=_text(doc.get("withdrawn"), MAX_ID, "withdrawn"),
        aliases=tuple(aliases),
        summary=_summary(doc),
        severity=_severity(doc.get("severity")),
        rating=_rating((doc.get("database_specific"),), ("severity",)),
        url=_url(doc.get("references")),
        affected=_affected(doc.get("affected")),
    )


def _text(value: Any, limit: int, field: str) -> str | None:
    """An optional string field: None when absent, a skip when of another type or too long."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Bad(f"{field} is not a string")
    if len(value) > limit:
        raise _Bad(f"{field} too long")
    return value


def _list(value: Any, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Bad(f"{field} is not a list")
    if len(value) > MAX_ITEMS:
        raise _Bad(f"{field} too long")
    return value


def _strings(value: Any, limit: int, field: str) -> list[str]:
    items = _list(value, field)
    # One pass each over long lists (PyPI's enumerated versions): the import's hot path.
    if not all(type(item) is str for item in items):
        raise _Bad(f"{field} is not a string")
    if items and max(map(len, items)) > limit:
        raise _Bad(f"{field} too long")
    return items


def _object(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Bad(f"{field} is not an object")
    return value


def _summary(doc: dict[str, Any]) -> str | None:
    summary = doc.get("summary")
    details = doc.get("details")
    for value, field in ((summary, "summary"), (details, "details")):
        if value is not None and not isinstance(value, str):
            raise _Bad(f"{field} is not a string")
    text = (summary or "").strip()
    if not text and details:
        # The first line of the details: a bounded slice, so a giant details field costs nothing.
        text = next((line.strip() for line in details[:4096].splitlines() if line.strip()), "")
    if not text:
        return None
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1].rstrip() + "…"


def _severity(value: Any) -> tuple[tuple[str, str], ...]:
    found = []
    for item in _list(value, "severity"):
        entry = _object(item, "severity")
        kind = _text(entry.get("type"), MAX_ID, "severity type")
        score = _text(entry.get("score"), MAX_SCORE, "severity score")
        if kind and score:
            found.append((kind, score))
    return tuple(found)


def _rating(blocks: tuple[Any, ...], keys: tuple[str, ...]) -> str | None:
    """The first string among `keys` in the blocks given (ecosystem_specific, database_specific):
    GHSA's "HIGH", Debian's urgency "unimportant", ..."""
    for block in blocks:
        if not isinstance(block, dict):
            continue  # free-form by the schema: another shape is not an error, just no rating
        for key in keys:
            value = block.get(key)
            if isinstance(value, str) and value.strip() and len(value) <= MAX_ID:
                return value.strip()
    return None


def _url(value: Any) -> str | None:
    first: dict[str, str] = {}
    for item in _list(value, "references"):
        entry = _object(item, "references")
        kind = _text(entry.get("type"), MAX_ID, "reference type")
        url = _text(entry.get("url"), MAX_URL, "reference url")
        if kind and url and kind not in first:
            first[kind] = url
    return first.get("ADVISORY") or first.get("WEB")


def _affected(value: Any) -> tuple[Affected, ...]:
    found = []
    for item in _list(value, "affected"):
        entry = _object(item, "affected")
        package = _object(entry.get("package"), "package")
        ecosystem = _text(package.get("ecosystem"), MAX_NAME, "ecosystem")
        name = _text(package.get("name"), MAX_NAME, "package name")
        if not ecosystem or not name:
            continue  # a GIT-only entry (no package): nothing an installed package can match
        found.append(
            Affected(
                ecosystem=ecosystem,
                name=normalise_name(ecosystem, name),
                ranges=tuple(_range(r) for r in _list(entry.get("ranges"), "ranges")),
                versions=tuple(_strings(entry.get("versions"), MAX_VERSION, "versions")),
                rating=_rating(
                    (entry.get("ecosystem_specific"), entry.get("database_specific")),
                    ("severity", "urgency"),
                ),
            )
        )
    return tuple(found)


def _range(value: Any) -> Range:
    entry = _object(value, "range")
    kind = _text(entry.get("type"), MAX_ID, "range type")
    if not kind:
        raise _Bad("range without a type")
    events = []
    for event in _list(entry.get("events"), "events"):
        if type(event) is not dict:
            raise _Bad("event is not an object")
        # One kind per event, by the schema; an unknown kind (a later schema's) is left out.
        for name, version in event.items():
            if name in EVENT_KINDS:
                if type(version) is not str or len(version) > MAX_VERSION:
                    raise _Bad("event is not a version string")
                events.append((name, version))
    return Range(kind, tuple(events))
