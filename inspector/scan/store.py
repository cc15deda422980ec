"""The history of scans: runs, the images each run saw, and the audits they reuse.

One schema, two databases: a SQLite file under the user's data directory (nothing to install),
or PostgreSQL (`--db postgresql://…`) for a store a team or a fleet of shards shares. The tool
creates and migrates the schema itself; every table is prefixed `inspector_` so a shared
database stays readable.

- `inspector_audits`: an image's check results before the policy, keyed by the manifest digest
  read, the platform asked for and the catalog key (tool version, checks and analysers, selected
  checks, thresholds). A digest audited under the same key is `unchanged`: never read again.
- `inspector_runs` / `inspector_shards`: a run and each shard's share of it.
- `inspector_images`: what a run saw of each image (tags, status, findings with fingerprints,
  new and fixed), enough to render the run's report again later.
- `inspector_inventories`: each audited image's inventory (its components and the import path
  their reachability was judged by), once per digest and platform, so that a changed advisory
  database is matched again without reading a layer; `inspector_audits.matched` records the
  database state an audit's vulnerabilities were matched against.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# default_path and shown are re-exported: callers of the scan store import them from here.
from inspector.datastore import default_path as default_path
from inspector.datastore import shown as shown
from inspector.datastore import wal
from inspector.errors import InspectorError

SCHEMA_VERSION = 2
# Each migration takes the schema from the version before it to its own; never edit one that
# shipped, append.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE inspector_runs (id TEXT PRIMARY KEY, started TEXT NOT NULL,"
        " finished TEXT, scope TEXT NOT NULL, catalog TEXT NOT NULL, shards INTEGER NOT NULL,"
        " status TEXT NOT NULL)",
        "CREATE TABLE inspector_shards (run_id TEXT NOT NULL, shard INTEGER NOT NULL,"
        " started TEXT NOT NULL, finished TEXT, status TEXT NOT NULL,"
        " discovered INTEGER NOT NULL DEFAULT 0, left_over INTEGER NOT NULL DEFAULT 0,"
        " errors TEXT NOT NULL DEFAULT '[]', PRIMARY KEY (run_id, shard))",
        "CREATE TABLE inspector_audits (digest TEXT NOT NULL, platform TEXT NOT NULL,"
        " catalog TEXT NOT NULL, audited TEXT NOT NULL, image_id TEXT, created TEXT,"
        " layers TEXT NOT NULL, results TEXT NOT NULL,"
        " PRIMARY KEY (digest, platform, catalog))",
        "CREATE TABLE inspector_images (run_id TEXT NOT NULL, repository TEXT NOT NULL,"
        " digest TEXT NOT NULL, platform TEXT NOT NULL, tags TEXT NOT NULL,"
        " status TEXT NOT NULL, error TEXT, shard INTEGER NOT NULL, seq INTEGER NOT NULL,"
        " layers_read INTEGER NOT NULL DEFAULT 0, report TEXT NOT NULL,"
        " PRIMARY KEY (run_id, repository, digest, platform))",
        "CREATE INDEX inspector_images_by_repository ON inspector_images (repository, run_id)",
    ),
    (
        # BLOB is BYTEA on PostgreSQL (`_migrate` says so): the inventory, zlib'd when large.
        "CREATE TABLE inspector_inventories (digest TEXT NOT NULL, platform TEXT NOT NULL,"
        " stored TEXT NOT NULL, encoding TEXT NOT NULL, data BLOB NOT NULL,"
        " PRIMARY KEY (digest, platform))",
        # The advisory database's state the audit's vulnerabilities were matched against (JSON).
        "ALTER TABLE inspector_audits ADD COLUMN matched TEXT",
        # And the state a run used, for its report's date and its stale-database notice.
        "ALTER TABLE inspector_runs ADD COLUMN advisories TEXT",
    ),
)
# Inventories at least this long (JSON bytes) are stored zlib-compressed; shorter ones as text.
COMPRESS_FROM = 512


class StoreError(InspectorError):
    """The scan store cannot be opened or used."""


@dataclass(frozen=True)
class Audit:
    """A stored audit: what `unchanged` images carry over."""

    digest: str
    platform: str
    image_id: str | None
    created: str | None
    layers: tuple[str, ...]  # diff_ids
    results: list[dict[str, Any]]  # check results before the policy (see scan.results)
    # The advisory database's state its vulnerabilities were matched against
    # (inspector.scan.rematch.mark); None when nothing was matched.
    matched: dict[str, Any] | None = None


@dataclass(frozen=True)
class RunRow:
    id: str
    started: str
    finished: str | None
    scope: str
    catalog: str
    shards: int
    status: str  # running | complete | partial
    shards_done: int = 0
    images: int = 0
    errors: int = 0
    # The advisory database the run matched against (inspector.scan.rematch.run_database);
    # None for runs recorded before it was kept.
    advisories: dict[str, Any] | None = None


@dataclass(frozen=True)
class ShardRow:
    shard: int
    started: str
    finished: str | None
    status: str  # running | complete | partial
    discovered: int
    left_over: int
    errors: list[dict[str, str]]  # discovery errors: {"repository", "error"}


@dataclass(frozen=True)
class ImageRow:
    repository: str  # HOST/REPO: the same name on two registries is two repositories
    digest: str
    platform: str
    tags: tuple[str, ...]
    status: str  # audited | unchanged | error
    error: str | None
    shard: int
    seq: int
    layers_read: int
    report: dict[str, Any]  # counts, findings, new, fixed, image_id, created, layers


class Store:
    """One connection, used by one thread at a time (the scan's coordinator)."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or str(default_path())
        self.postgres = self.url.startswith(("postgresql://", "postgres://"))
        self._lock = threading.RLock()
        try:
            self.db = self._connect_postgres() if self.postgres else self._connect_sqlite()
            self._migrate()
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(
                f"the scan store {shown(self.url)} cannot be used: {_first_line(exc)}"
            ) from exc

    # -- connection and schema -------------------------------------------------------------

    def _connect_sqlite(self) -> Any:
        path = Path(self.url.removeprefix("sqlite://"))
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
        wal(db)
        # WAL with NORMAL stays consistent on a crash; only the last commits may be lost, and a
        # scan redoes what it did not record. Recording an image is then no fsync.
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        return db

    def _connect_postgres(self) -> Any:
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - a dependency
            raise StoreError("a postgresql:// store needs psycopg (pip install psycopg)") from exc
        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot connect to the scan store {shown(self.url)}: {_first_line(exc)}"
            ) from exc

    def _sql(self, text: str) -> str:
        return text.replace("?", "%s") if self.postgres else text

    def execute(self, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            cursor = self.db.execute(self._sql(text), tuple(params))
            try:
                return list(cursor.fetchall()) if cursor.description else []
            finally:
                cursor.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Writes that land together or not at all (and, on PostgreSQL, serialised with every
        other scanner writing the same run)."""
        with self._lock:
            if self.postgres:
                with self.db.transaction():
                    yield
            else:
                self.db.execute("BEGIN IMMEDIATE")
                try:
                    yield
                except BaseException:
                    self.db.execute("ROLLBACK")
                    raise
                self.db.execute("COMMIT")

    def _migrate(self) -> None:
        with self.transaction():
            if self.postgres:
                # Shards start together: one of them creates the schema, the others wait.
                self.execute("SELECT pg_advisory_xact_lock(?)", (0x1D5EC7,))
            self.execute(
                "CREATE TABLE IF NOT EXISTS inspector_meta (key TEXT PRIMARY KEY, value TEXT)"
            )
            rows = self.execute("SELECT value FROM inspector_meta WHERE key = 'schema'")
            version = int(rows[0][0]) if rows else 0
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the scan store {shown(self.url)} has schema {version}, newer than this "
                    f"inspector's {SCHEMA_VERSION}: upgrade inspector"
                )
            for statements in MIGRATIONS[version:]:
                for statement in statements:
                    if self.postgres:
                        statement = statement.replace(" BLOB ", " BYTEA ")
                    self.execute(statement)
            if version < SCHEMA_VERSION:
                self.execute(
                    "INSERT INTO inspector_meta (key, value) VALUES ('schema', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(SCHEMA_VERSION),),
                )

    def fingerprint_key(self, proposed: bytes) -> bytes:
        """The key the secret fingerprints of this store's audits are made with: `proposed`
        (the first run's machine key) when the store has none yet, else the one it keeps. Every
        run and every machine of a fleet sharing the store then fingerprints alike, and a reused
        audit's hints match a fresh one's. Whoever reads the store can test a guess against its
        hints; reports taken out of it (SARIF, CI logs) without the key cannot."""
        with self.transaction():
            self.execute(
                "INSERT INTO inspector_meta (key, value) VALUES ('fingerprint-key', ?) "
                "ON CONFLICT (key) DO NOTHING",
                (proposed.hex(),),
            )
            rows = self.execute("SELECT value FROM inspector_meta WHERE key = 'fingerprint-key'")
        try:
            return bytes.fromhex(str(rows[0][0]))
        except (IndexError, ValueError) as exc:
            raise StoreError(f"the scan store {shown(self.url)} holds a damaged key") from exc

    def close(self) -> None:
        with self._lock:
            self.db.close()

    # -- runs and shards ------------------------------------------------------------------

    def begin(self, run_id: str, started: str, scope: str, catalog: str, shards: int,
              shard: int, advisories: dict[str, Any] | None = None) -> None:  # fmt: skip
        """Record the run (the first shard to arrive creates it, with the advisory database's
        state it uses) and this shard's start."""
        with self.transaction():
            self.execute(
                "INSERT INTO inspector_runs (id, started, scope, catalog, shards, status,"
                " advisories) VALUES (?, ?, ?, ?, ?, 'running', ?) ON CONFLICT (id) DO NOTHING",
                (run_id, started, scope, catalog, shards,
                 json.dumps(advisories) if advisories is not None else None),
            )  # fmt: skip
            row = self.execute(
                "SELECT scope, catalog, shards FROM inspector_runs WHERE id = ?", (run_id,)
            )[0]
            if (row[0], row[2]) != (scope, shards):
                raise StoreError(
                    f"run {run_id} is a scan of {row[0]} in {row[2]} shard(s); this one is of "
                    f"{scope} in {shards}: give each scan its own --run"
                )
            if row[1] != catalog:
                raise StoreError(
                    f"run {run_id} was started with another inspector version, check "
                    "selection or thresholds: all shards of a run must run the same"
                )
            done = self.execute(
                "SELECT status FROM inspector_shards WHERE run_id = ? AND shard = ?",
                (run_id, shard),
            )
            if done and done[0][0] != "running":
                raise StoreError(f"shard {shard} of run {run_id} has already finished")
            self.execute(
                "INSERT INTO inspector_shards (run_id, shard, started, status)"
                " VALUES (?, ?, ?, 'running') ON CONFLICT (run_id, shard) DO UPDATE"
                " SET started = excluded.started",
                (run_id, shard, started),
            )

    def finish(self, run_id: str, shard: int, finished: str, *, partial: bool, discovered: int,
               left_over: int, errors: list[dict[str, str]],
               failed: bool = False) -> None:  # fmt: skip
        with self.transaction():
            if self.postgres:
                # Shards finishing together must not each miss the others' commits: the last
                # one in marks the run finished.
                key = int.from_bytes(hashlib.sha256(run_id.encode()).digest()[:8], "big",
                                     signed=True)  # fmt: skip
                self.execute("SELECT pg_advisory_xact_lock(?)", (key,))
            self.execute(
                "UPDATE inspector_shards SET finished = ?, status = ?, discovered = ?,"
                " left_over = ?, errors = ? WHERE run_id = ? AND shard = ?",
                (finished, "failed" if failed else "partial" if partial else "complete",
                 discovered, left_over, json.dumps(errors), run_id, shard),
            )  # fmt: skip
            shards = self.shards(run_id)
            total = self.execute("SELECT shards FROM inspector_runs WHERE id = ?", (run_id,))[0][0]
            finished_all = [s for s in shards if s.status != "running"]
            if len(finished_all) == total:
                statuses = {s.status for s in shards}
                status = next(
                    (s for s in ("failed", "partial") if s in statuses), "complete"
                )  # a shard that could not discover makes the whole run failed
                last = max(s.finished or finished for s in shards)
                self.execute(
                    "UPDATE inspector_runs SET status = ?, finished = ? WHERE id = ?",
                    (status, last, run_id),
                )

    def shards(self, run_id: str) -> list[ShardRow]:
        rows = self.execute(
            "SELECT shard, started, finished, status, discovered, left_over, errors"
            " FROM inspector_shards WHERE run_id = ? ORDER BY shard",
            (run_id,),
        )
        return [ShardRow(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6])) for r in rows]

    def run(self, run_id: str) -> RunRow | None:
        found = [r for r in self.runs(None) if r.id == run_id]
        return found[0] if found else None

    def runs(self, limit: int | None = 20) -> list[RunRow]:
        """The newest runs first, with how many shards finished and what they saw."""
        rows = self.execute(
            "SELECT r.id, r.started, r.finished, r.scope, r.catalog, r.shards, r.status,"
            " (SELECT count(*) FROM inspector_shards s WHERE s.run_id = r.id"
            "   AND s.status <> 'running'),"
            " (SELECT count(*) FROM inspector_images i WHERE i.run_id = r.id),"
            " (SELECT count(*) FROM inspector_images i WHERE i.run_id = r.id"
            "   AND i.status = 'error'), r.advisories"
            " FROM inspector_runs r ORDER BY r.started DESC, r.id DESC"
            + (f" LIMIT {int(limit)}" if limit is not None else "")
        )
        return [RunRow(*row[:10], json.loads(row[10]) if row[10] else None) for row in rows]

    def prune(self, keep: int, spare: str | None = None) -> int:
        """Delete all but the `keep` newest runs (never `spare`, the run just made), and audits
        no kept run refers to."""
        with self.transaction():
            others = [r.id for r in self.runs(None) if r.id != spare]
            old = others[keep - 1 :] if spare else others[keep:]
            for run_id in old:
                tables = (("inspector_images", "run_id"), ("inspector_shards", "run_id"),
                          ("inspector_runs", "id"))  # fmt: skip
                for table, column in tables:
                    self.execute(f"DELETE FROM {table} WHERE {column} = ?", (run_id,))
            if old:
                for table in ("inspector_audits", "inspector_inventories"):
                    self.execute(
                        f"DELETE FROM {table} WHERE NOT EXISTS (SELECT 1 FROM"
                        f" inspector_images i WHERE i.digest = {table}.digest"
                        f" AND i.platform = {table}.platform)"
                    )
        return len(old)

    # -- audits -----------------------------------------------------------------------------

    def audited(
        self, keys: Sequence[tuple[str, str]], catalog: str
    ) -> dict[tuple[str, str], str | None]:
        """Which of `keys` ((digest, platform) pairs) have an audit under `catalog`, with each
        one's creation time. The results stay in the store until an image needs them, so a
        registry of any size is planned in little memory."""
        found: dict[tuple[str, str], str | None] = {}
        wanted = set(keys)
        digests = sorted({digest for digest, _ in wanted})
        for start in range(0, len(digests), 500):
            chunk = digests[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            rows = self.execute(
                "SELECT digest, platform, created FROM inspector_audits"
                f" WHERE catalog = ? AND digest IN ({marks})",
                (catalog, *chunk),
            )
            for digest, platform, created in rows:
                if (digest, platform) in wanted:
                    found[(digest, platform)] = created
        return found

    def audit(self, digest: str, platform: str, catalog: str) -> Audit | None:
        rows = self.execute(
            "SELECT image_id, created, layers, results, matched FROM inspector_audits"
            " WHERE digest = ? AND platform = ? AND catalog = ?",
            (digest, platform, catalog),
        )
        if not rows:
            return None
        image_id, created, layers, results, matched = rows[0]
        return Audit(digest, platform, image_id, created, tuple(json.loads(layers)),
                     json.loads(results), json.loads(matched) if matched else None)  # fmt: skip

    def save_audit(self, audit: Audit, catalog: str, audited: str) -> None:
        self.execute(
            "INSERT INTO inspector_audits (digest, platform, catalog, audited, image_id,"
            " created, layers, results, matched) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (digest, platform, catalog) DO UPDATE SET audited = excluded.audited,"
            " image_id = excluded.image_id, created = excluded.created,"
            " layers = excluded.layers, results = excluded.results,"
            " matched = excluded.matched",
            (audit.digest, audit.platform, catalog, audited, audit.image_id, audit.created,
             json.dumps(list(audit.layers)), json.dumps(audit.results),
             json.dumps(audit.matched) if audit.matched is not None else None),
        )  # fmt: skip

    def rematched(self, audit: Audit, catalog: str, *, results: bool = True) -> None:
        """Keep an unchanged image's results after its vulnerabilities were matched again, with
        the database state they were matched against: the next run starts from these. Without
        `results`, only that state (the matches came out the same)."""
        matched = json.dumps(audit.matched) if audit.matched is not None else None
        key = (audit.digest, audit.platform, catalog)
        if not results:
            self.execute(
                "UPDATE inspector_audits SET matched = ?"
                " WHERE digest = ? AND platform = ? AND catalog = ?",
                (matched, *key),
            )
            return
        self.execute(
            "UPDATE inspector_audits SET results = ?, matched = ?"
            " WHERE digest = ? AND platform = ? AND catalog = ?",
            (json.dumps(audit.results, separators=(",", ":")), matched, *key),
        )

    # -- inventories --------------------------------------------------------------------------

    def save_inventory(self, digest: str, platform: str, record: dict[str, Any],
                       stored: str) -> None:  # fmt: skip
        """An audited image's inventory record (inspector.scan.rematch.inventory_record), once
        per digest and platform: the newest audit's replaces an older one."""
        encoding, data = encode_inventory(record)
        self.execute(
            "INSERT INTO inspector_inventories (digest, platform, stored, encoding, data)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (digest, platform) DO UPDATE SET"
            " stored = excluded.stored, encoding = excluded.encoding, data = excluded.data",
            (digest, platform, stored, encoding, data),
        )

    def inventory(self, digest: str, platform: str) -> dict[str, Any] | None:
        rows = self.execute(
            "SELECT encoding, data FROM inspector_inventories WHERE digest = ? AND platform = ?",
            (digest, platform),
        )
        return decode_inventory(rows[0][0], bytes(rows[0][1])) if rows else None

    # -- images of runs ---------------------------------------------------------------------

    def save_image(self, run_id: str, row: ImageRow) -> None:
        self.execute(
            "INSERT INTO inspector_images (run_id, repository, digest, platform, tags, status,"
            " error, shard, seq, layers_read, report) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (run_id, repository, digest, platform) DO UPDATE SET"
            " tags = excluded.tags, status = excluded.status, error = excluded.error,"
            " shard = excluded.shard, seq = excluded.seq, layers_read = excluded.layers_read,"
            " report = excluded.report",
            (run_id, row.repository, row.digest, row.platform, json.dumps(list(row.tags)),
             row.status, row.error, row.shard, row.seq, row.layers_read,
             json.dumps(row.report)),
        )  # fmt: skip

    def images(self, run_id: str, repository: str | None = None) -> Iterator[ImageRow]:
        """The images a run recorded, by repository then digest, read a page at a time so that
        a run of any size is reported in bounded memory."""
        after: tuple[str, str, str] = ("", "", "")
        while True:
            query = (
                "SELECT repository, digest, platform, tags, status, error, shard, seq,"
                " layers_read, report FROM inspector_images WHERE run_id = ?"
                " AND (repository > ? OR (repository = ? AND (digest > ?"
                " OR (digest = ? AND platform > ?))))"
            )
            params: tuple[Any, ...] = (run_id, after[0], after[0], after[1], after[1], after[2])
            if repository is not None:
                query += " AND repository = ?"
                params += (repository,)
            rows = self.execute(
                query + f" ORDER BY repository, digest, platform LIMIT {_PAGE}", params
            )
            for r in rows:
                yield ImageRow(r[0], r[1], r[2], tuple(json.loads(r[3])), r[4], r[5], r[6],
                               r[7], r[8], json.loads(r[9]))  # fmt: skip
            if len(rows) < _PAGE:
                return
            after = (rows[-1][0], rows[-1][1], rows[-1][2])

    def recorded(self, run_id: str, shard: int) -> set[tuple[str, str, str]]:
        """(repository, digest, platform) of what `shard` already recorded in the run."""
        rows = self.execute(
            "SELECT repository, digest, platform FROM inspector_images"
            " WHERE run_id = ? AND shard = ?",
            (run_id, shard),
        )
        return {(r[0], r[1], r[2]) for r in rows}

    def previous(self, repository: str, run_id: str) -> list[ImageRow]:
        """What the latest other run that read images of `repository` saw of it."""
        return self.previous_run(repository, run_id)[1]

    def previous_run(self, repository: str, run_id: str) -> tuple[str | None, list[ImageRow]]:
        """When the latest other run that read images of `repository` started, and what it saw
        of it; (None, []) when no run did."""
        rows = self.execute(
            "SELECT i.run_id, r.started FROM inspector_images i"
            " JOIN inspector_runs r ON r.id = i.run_id"
            " WHERE i.repository = ? AND i.run_id <> ? AND i.status <> 'error'"
            " AND r.started <= (SELECT started FROM inspector_runs WHERE id = ?)"
            " ORDER BY r.started DESC, r.id DESC LIMIT 1",
            (repository, run_id, run_id),
        )
        if not rows:
            return None, []
        return rows[0][1], [r for r in self.images(rows[0][0], repository) if r.status != "error"]


_PAGE = 500  # image rows read at a time


def encode_inventory(record: dict[str, Any]) -> tuple[str, bytes]:
    """(encoding, bytes): compact JSON, zlib'd when it is long enough to gain from it."""
    text = json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode()
    if len(text) >= COMPRESS_FROM:
        return "json+zlib", zlib.compress(text, 6)
    return "json", text


def decode_inventory(encoding: str, data: bytes) -> dict[str, Any]:
    if encoding == "json+zlib":
        data = zlib.decompress(data)
    elif encoding != "json":
        raise StoreError(f"an inventory stored as {encoding!r}, which this inspector cannot read: "
                         "upgrade inspector")  # fmt: skip
    value = json.loads(data)
    if not isinstance(value, dict):
        raise StoreError("a stored inventory is damaged (not a JSON object)")
    return value


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
