"""What `inspector scan` and `inspector runs` do once their options are parsed: open the store
and the layer cache, scan (this shard's share), and render a run from the store."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from inspector.errors import InspectorError
from inspector.layers.store import LayerStore
from inspector.scan.render import RunReport, load
from inspector.scan.store import Store

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?$")


class UsageError(InspectorError):
    """An option value the scan cannot use."""


def parse_duration(text: str) -> float:
    """`90`, `90s`, `45m`, `2h`, `1h30m` -> seconds."""
    match = _DURATION.match(text.strip().lower())
    if not text.strip() or match is None or not any(match.groups()):
        raise UsageError(f"--max-time {text!r}: write a duration such as 90s, 45m, 2h or 1h30m")
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise UsageError(f"--max-time {text!r}: a duration must be longer than zero")
    return float(total)


@dataclass(frozen=True)
class Share:
    shard: int
    shards: int


def parse_share(shard: str | None, shards: int | None) -> Share:
    """`--shard I/N` (I from 0), or `--shards N` with Kubernetes' JOB_COMPLETION_INDEX as I."""
    if shard is not None:
        found = re.fullmatch(r"(\d+)/(\d+)", shard.strip())
        if not found:
            raise UsageError(f"--shard {shard!r}: write INDEX/COUNT, e.g. 0/3 (from 0)")
        index, count = int(found[1]), int(found[2])
        if shards is not None and shards != count:
            raise UsageError(f"--shard {shard} and --shards {shards} disagree")
    elif shards is not None:
        count = shards
        raw = os.environ.get("JOB_COMPLETION_INDEX")
        if raw is None:
            raise UsageError(
                "--shards N needs JOB_COMPLETION_INDEX (set by a Kubernetes Indexed Job), "
                "or give --shard INDEX/COUNT"
            )
        if not raw.isdigit():
            raise UsageError(f"JOB_COMPLETION_INDEX={raw!r} is not a shard index")
        index = int(raw)
    else:
        return Share(0, 1)
    if not 1 <= count <= 10_000 or not 0 <= index < count:
        raise UsageError(f"shard {index} of {count}: the index must be 0 to {count - 1}")
    return Share(index, count)


def store_url(db: str | None) -> str | None:
    return db or os.environ.get("INSPECTOR_DB") or None


def layer_cache_for(url: str | None) -> Callable[[str], LayerStore] | None:
    """With a PostgreSQL store, the layer cache lives there too: each unique layer is read once
    across every shard of the fleet. Otherwise, the user's own SQLite layer cache."""
    if not url or not url.startswith(("postgresql://", "postgres://")):
        return None
    from inspector.layers.cache_postgres import PostgresLayerCache

    return lambda fingerprint: PostgresLayerCache(url, fingerprint)


def resolve_run(store: Store, given: str) -> str:
    """A run's ID from what `runs show` was given: the ID itself, `latest`, or its position in
    `inspector runs` (1 is the newest). An ID that exists always wins over a position."""
    text = given.strip()
    if store.run(text) is not None:
        return text
    position = 1 if text.lower() == "latest" else int(text) if text.isdigit() else None
    if position is not None and 1 <= position <= 100_000:
        newest = store.runs(position)
        if len(newest) >= position:
            return newest[position - 1].id
        raise InspectorError(
            f"there are {len(newest)} recorded runs, no run at position {position}; "
            "`inspector runs` lists them"
        )
    raise InspectorError(f"no run {given!r} in the store; `inspector runs` lists them")


def finished_report(store: Store, run_id: str) -> RunReport:
    report = load(store, resolve_run(store, run_id))
    if report is None:
        raise InspectorError(f"no run {run_id!r} in the store; `inspector runs` lists them")
    return report
