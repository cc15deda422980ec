"""An in-memory `AdvisoryLookup` over OSV records, for pure unit tests of matching.

Records are written as OSV JSON (dicts) and read by the store's own parser (`osv.parse`). It
answers for each (ecosystem, package) asked with every record naming that package in that release,
narrowed to the `affected[]` entries of that package, and, unlike the store, also files the Ubuntu
Pro streams under the plain release: telling them apart is what matching must prove it does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from inspector.advisories.model import Advisory, PackageKey
from inspector.advisories.osv import Record, normalise_name, parse


def _release(ecosystem: str) -> str:
    """The release a record's ecosystem is about, variants dropped ("Ubuntu:Pro:24.04:LTS" ->
    "Ubuntu:24.04")."""
    parts = ecosystem.split(":")
    if parts[0] == "Ubuntu":
        numbered = [p for p in parts[1:] if p[:1].isdigit()]
        return f"Ubuntu:{numbered[0]}" if numbered else ecosystem
    return ecosystem


class MemoryLookup:
    """`AdvisoryLookup` over a list of OSV records; `calls` holds the keys of every call."""

    def __init__(self, records: Iterable[Mapping | Advisory]) -> None:
        """`records`: OSV JSON, or an `Advisory` built by hand (what the parser would refuse)."""
        self.calls: list[tuple[PackageKey, ...]] = []
        answers: dict[PackageKey, list[Advisory]] = {}
        for doc in records:
            if isinstance(doc, Advisory):
                record: Advisory | Record | None = doc
            else:
                record = parse(json.dumps({"modified": "2026-01-01T00:00:00Z", **doc}).encode())
                assert record is not None, f"the OSV parser refuses {doc.get('id')}"
            keys = {(_release(a.ecosystem), a.name) for a in record.affected}
            for key in sorted(keys):
                kept = tuple(a for a in record.affected if (_release(a.ecosystem), a.name) == key)
                answers.setdefault(key, []).append(
                    Advisory(
                        id=record.id,
                        modified=record.modified,
                        published=record.published,
                        withdrawn=record.withdrawn,
                        aliases=record.aliases,
                        summary=record.summary,
                        severity=record.severity,
                        rating=record.rating,
                        url=record.url,
                        affected=kept,
                    )
                )
        self._answers = {key: tuple(found) for key, found in answers.items()}

    def advisories(self, keys: Iterable[PackageKey]) -> Mapping[PackageKey, tuple[Advisory, ...]]:
        asked = tuple(keys)
        self.calls.append(asked)
        found = {}
        for ecosystem, name in asked:
            answer = self._answers.get((ecosystem, normalise_name(ecosystem, name)))
            if answer:
                found[(ecosystem, name)] = answer
        return found
