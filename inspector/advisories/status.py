"""`inspector db status`: what the advisory database holds, per ecosystem, as a table or JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tabulate import tabulate

from inspector.advisories.model import DatabaseState
from inspector.safetext import visible

EMPTY = (
    "no advisories yet: run `inspector db update` (or `inspector db update --from DIR` where "
    "there is no network)"
)


def age_seconds(imported: str, now: datetime) -> int | None:
    """Seconds since an RFC 3339 time; None when it cannot be read."""
    try:
        then = datetime.fromisoformat(imported.replace("Z", "+00:00"))
    except ValueError:
        return None
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    return max(0, int((now - then).total_seconds()))


def age_text(seconds: int | None) -> str:
    """ "3 days", "5 hours", "12 minutes", "just now"; "?" when unknown."""
    if seconds is None:
        return "?"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return "just now"


def table(state: DatabaseState, now: datetime) -> str:
    if not state.ecosystems:
        return f"{state.location}: {EMPTY}\n"
    rows = [
        (e.name, e.advisories, e.imported, age_text(age_seconds(e.imported, now)),
         e.newest or "-", visible(e.source))
        for e in state.ecosystems
    ]  # fmt: skip
    headers = ["ecosystem", "advisories", "imported", "age", "newest advisory", "source"]
    return f"{visible(state.location)}\n{tabulate(rows, headers=headers)}\n"


def as_json(state: DatabaseState, now: datetime) -> str:
    doc = {
        "location": state.location,
        "updated": state.updated,
        "ecosystems": [
            {
                "name": e.name,
                "advisories": e.advisories,
                "imported": e.imported,
                "age_seconds": age_seconds(e.imported, now),
                "newest": e.newest,
                "source": e.source,
            }
            for e in state.ecosystems
        ],
    }
    return json.dumps(doc, indent=2) + "\n"
