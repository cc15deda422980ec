"""An in-memory `AdvisoryLookup` over OSV records, for pure unit tests of matching.

It answers as the store does: for each (ecosystem, package) asked, every record naming that package
in that ecosystem or a variant of it (Ubuntu's ":LTS" and Pro's ones too: telling them apart is
matching's job), each narrowed to the `affected[]` entries of that package. Records are written
as OSV JSON (dicts) and read the way the model's field comments say the store reads them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from packaging.utils import canonicalize_name

from inspector.advisories.model import Advisory, Affected, PackageKey, Range


def _release(ecosystem: str) -> str:
    """The ecosystem and release a record's ecosystem is about, variants dropped."""
    parts = ecosystem.split(":")
    if parts[0] == "Ubuntu":
        numbered = [p for p in parts[1:] if p[:1].isdigit()]
        return f"Ubuntu:{numbered[0]}" if numbered else ecosystem
    return ecosystem


def _name(ecosystem: str, name: str) -> str:
    return canonicalize_name(name) if ecosystem == "PyPI" else name


def _rating(entry: Mapping) -> str | None:
    for field in ("ecosystem_specific", "database_specific"):
        extra = entry.get(field) or {}
        for word in ("urgency", "severity", "priority"):
            if isinstance(extra.get(word), str):
                return extra[word]
    return None


def _url(record: Mapping) -> str | None:
    refs = record.get("references") or []
    for kind in ("ADVISORY", "WEB"):
        for ref in refs:
            if ref.get("type") == kind and ref.get("url"):
                return ref["url"]
    return None


def advisory(record: Mapping, entries: Iterable[Mapping] | None = None) -> Advisory:
    """An OSV record as the model holds it, keeping only `entries` of its `affected[]`."""
    chosen = list(record.get("affected") or []) if entries is None else list(entries)
    summary = record.get("summary")
    if not summary and record.get("details"):
        summary = record["details"].splitlines()[0][:200]
    severity = [(s["type"], s["score"]) for s in record.get("severity") or []]
    for entry in chosen:
        severity += [(s["type"], s["score"]) for s in entry.get("severity") or []]
    affected = tuple(
        Affected(
            ecosystem=entry["package"]["ecosystem"],
            name=_name(entry["package"]["ecosystem"], entry["package"]["name"]),
            ranges=tuple(
                Range(
                    type=r["type"],
                    events=tuple((k, v) for event in r["events"] for k, v in event.items()),
                )
                for r in entry.get("ranges") or []
            ),
            versions=tuple(entry.get("versions") or ()),
            rating=_rating(entry),
        )
        for entry in chosen
    )
    return Advisory(
        id=record["id"],
        modified=record.get("modified", "2026-01-01T00:00:00Z"),
        published=record.get("published"),
        withdrawn=record.get("withdrawn"),
        aliases=tuple(record.get("aliases") or ()) + tuple(record.get("upstream") or ()),
        summary=summary,
        severity=tuple(severity),
        rating=(record.get("database_specific") or {}).get("severity"),
        url=_url(record),
        affected=affected,
    )


class MemoryLookup:
    """`AdvisoryLookup` over a list of OSV records; `calls` holds the keys of every call."""

    def __init__(self, records: Iterable[Mapping]) -> None:
        self.calls: list[tuple[PackageKey, ...]] = []
        by_key: dict[PackageKey, dict[str, list[Mapping]]] = {}
        records_by_id: dict[str, Mapping] = {}
        for record in records:
            records_by_id[record["id"]] = record
            for entry in record.get("affected") or []:
                ecosystem = entry["package"]["ecosystem"]
                key = (_release(ecosystem), _name(ecosystem, entry["package"]["name"]))
                by_key.setdefault(key, {}).setdefault(record["id"], []).append(entry)
        self._answers: dict[PackageKey, tuple[Advisory, ...]] = {
            key: tuple(advisory(records_by_id[rid], entries) for rid, entries in found.items())
            for key, found in by_key.items()
        }

    def advisories(self, keys: Iterable[PackageKey]) -> Mapping[PackageKey, tuple[Advisory, ...]]:
        asked = tuple(keys)
        self.calls.append(asked)
        return {key: self._answers[key] for key in asked if key in self._answers}
