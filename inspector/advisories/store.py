"""The advisory database: OSV records kept in the same SQLite or PostgreSQL store as scans.

Its own tables, prefixed `inspector_adv_`, and its own schema version (key `advisories_schema` in
the `inspector_meta` table the scan store shares), so either store can open the file first:
- `inspector_adv_exports`: one row per OSV export imported ("PyPI", "Debian", ...): when, from
  where, its HTTP validators (ETag, Last-Modified) for the next conditional download, how many
  records it gave and the newest `modified` among them;
- `inspector_adv_records`: each record, narrowed to its export's packages, as compact JSON;
- `inspector_adv_packages`: the lookup index, one row per (match ecosystem, package, record);
- `inspector_adv_keys`: how many records each match ecosystem ("Debian:12", "Ubuntu:24.04") has,
  so a report can say which of an image's ecosystems the database knows nothing about.

An import replaces one export's records in a single transaction: a reader sees the old set or
the new one, never half of either, and a failed import leaves the old one as it was.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from inspector.advisories.model import Advisory, DatabaseState, EcosystemState, PackageKey
from inspector.advisories.osv import (
    Record,
    Skipped,
    export_of,
    match_ecosystem,
    normalise_name,
    stored_advisory,
)
from inspector.datastore import default_path, first_line, is_postgres, shown, wal
from inspector.errors import InspectorError

SCHEMA_KEY = "advisories_schema"  # the scan store's own key is "schema": never touched here
SCHEMA_VERSION = 1
# Each migration takes the schema from the version before it to its own; never edit one that
# shipped, append.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE inspector_adv_exports (export TEXT PRIMARY KEY, imported TEXT NOT NULL,"
        " source TEXT NOT NULL, etag TEXT, last_modified TEXT, advisories INTEGER NOT NULL,"
        " newest TEXT, skipped INTEGER NOT NULL DEFAULT 0)",
        "CREATE TABLE inspector_adv_records (export TEXT NOT NULL, id TEXT NOT NULL,"
        " modified TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (export, id))",
        # Small rows looked up by their whole key: on SQLite the key is the table (no rowid
        # b-tree beside it). Deleting an export's rows scans it, once per import.
        "CREATE TABLE inspector_adv_packages (ecosystem TEXT NOT NULL, name TEXT NOT NULL,"
        " export TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (ecosystem, name, export, id))"
        "{without_rowid}",
        "CREATE TABLE inspector_adv_keys (export TEXT NOT NULL, ecosystem TEXT NOT NULL,"
        " advisories INTEGER NOT NULL, PRIMARY KEY (export, ecosystem))",
    ),
)
# The same lock the scan store takes while creating its schema: two stores opening one fresh
# PostgreSQL database together must not both create `inspector_meta`.
_SCHEMA_LOCK = 0x1D5EC7
BATCH = 2000  # rows written per statement batch
_LOOKUP_CHUNK = 500  # package names per lookup query


class AdvisoryStoreError(InspectorError):
    """The advisory database cannot be opened, read or written."""


@dataclass(frozen=True)
class Validators:
    """What the last download of an export answered, for a conditional request next time."""

    source: str
    etag: str | None
    last_modified: str | None


@dataclass(frozen=True)
class Imported:
    """What one import did."""

    export: str
    advisories: int  # records stored
    skipped: Skipped  # records left out, by reason
    source: str


def now_utc() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class AdvisoryStore:
    """The advisory tables of the user's store (SQLite by default, or a PostgreSQL URL).

    One connection, used by one thread at a time. `advisories(keys)` is the lookup matching
    makes (`model.AdvisoryLookup`); `state(...)` says how fresh the database is.
    """

    def __init__(self, url: str | None = None) -> None:
        self.url = url or str(default_path())
        self.postgres = is_postgres(self.url)
        self._lock = threading.RLock()
        try:
            self.db = self._connect_postgres() if self.postgres else self._connect_sqlite()
            self._migrate()
        except AdvisoryStoreError:
            raise
        except Exception as exc:
            raise AdvisoryStoreError(
                f"the advisory database {shown(self.url)} cannot be used: {first_line(exc)}"
            ) from exc

    @classmethod
    def open_if_present(cls, url: str | None = None) -> AdvisoryStore | None:
        """The store, or None when it is a SQLite file that does not exist yet: an audit reading
        advisories must not create the user's database as a side effect (it then says that
        there is no database, and how to make one)."""
        target = url or str(default_path())
        if not is_postgres(target) and not Path(target.removeprefix("sqlite://")).exists():
            return None
        return cls(target)

    @property
    def location(self) -> str:
        return shown(self.url)

    # -- connection and schema -------------------------------------------------------------

    def _connect_sqlite(self) -> Any:
        path = Path(self.url.removeprefix("sqlite://"))
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
        # WAL: a reader (an audit matching) keeps reading the old records while an import
        # writes the new ones, and sees them all at once when it commits.
        wal(db)
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    def _connect_postgres(self) -> Any:
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - a dependency
            raise AdvisoryStoreError(
                "a postgresql:// database needs psycopg (pip install psycopg)"
            ) from exc
        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise AdvisoryStoreError(
                f"cannot connect to the advisory database {shown(self.url)}: {first_line(exc)}"
            ) from exc

    def _sql(self, text: str) -> str:
        return text.replace("?", "%s") if self.postgres else text

    def execute(self, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """One statement; a database failure is an AdvisoryStoreError (one line, exit 2)."""
        with self._lock, self._failures():
            cursor = self.db.execute(self._sql(text), tuple(params))
            try:
                return list(cursor.fetchall()) if cursor.description else []
            finally:
                cursor.close()

    def _executemany(self, text: str, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        with self._failures():
            if self.postgres:
                with self.db.cursor() as cursor:
                    cursor.executemany(self._sql(text), rows)
            else:
                self.db.executemany(text, rows)

    @contextmanager
    def _failures(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise AdvisoryStoreError(
                f"the advisory database {self.location} failed: {first_line(exc)}"
            ) from exc
        except Exception as exc:
            if self.postgres and _is_psycopg_error(exc):
                raise AdvisoryStoreError(
                    f"the advisory database {self.location} failed: {first_line(exc)}"
                ) from exc
            raise

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Writes that land together or not at all."""
        with self._lock, self._failures():
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
                self.execute("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK,))
            self.execute(
                "CREATE TABLE IF NOT EXISTS inspector_meta (key TEXT PRIMARY KEY, value TEXT)"
            )
            rows = self.execute("SELECT value FROM inspector_meta WHERE key = ?", (SCHEMA_KEY,))
            version = int(rows[0][0]) if rows else 0
            if version > SCHEMA_VERSION:
                raise AdvisoryStoreError(
                    f"the advisory database {shown(self.url)} has schema {version}, newer than "
                    f"this inspector's {SCHEMA_VERSION}: upgrade inspector"
                )
            without_rowid = "" if self.postgres else " WITHOUT ROWID"
            for statements in MIGRATIONS[version:]:
                for statement in statements:
                    self.execute(statement.replace("{without_rowid}", without_rowid))
            if version < SCHEMA_VERSION:
                self.execute(
                    "INSERT INTO inspector_meta (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (SCHEMA_KEY, str(SCHEMA_VERSION)),
                )

    def close(self) -> None:
        with self._lock:
            self.db.close()

    def __enter__(self) -> AdvisoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- import ------------------------------------------------------------------------------

    def import_ecosystem(
        self,
        export: str,
        records: Iterable[Record],
        *,
        source: str,
        etag: str | None = None,
        last_modified: str | None = None,
        skipped: Skipped | None = None,
        imported: str | None = None,
    ) -> Imported:
        """Replace every record of `export` ("PyPI", "Debian", ...) with `records`, atomically.

        Records are written in batches as they come (an export of any size costs the memory of
        one batch: nothing is kept per record); a record naming no package of `export` is
        skipped and counted, as is a second record with an id already stored (the database's
        key finds those, and the first one stays). An import that stores nothing is refused and
        the old records stay: an empty or foreign export must not wipe a working database.
        Whatever `records` raises rolls the whole import back and is raised again.
        """
        skipped = skipped if skipped is not None else Skipped()
        offered = 0  # records given to the database; those it already had are duplicates
        newest: str | None = None
        records_sql = self._sql(
            "INSERT INTO inspector_adv_records (export, id, modified, data) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (export, id) DO NOTHING"
        )
        packages_sql = self._sql(
            "INSERT INTO inspector_adv_packages (ecosystem, name, export, id) VALUES (?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING"
        )
        with self.transaction():
            if self.postgres:
                # Two imports of one export (two machines updating) run one after the other.
                self.execute("SELECT pg_advisory_xact_lock(?)", (_lock_key(export),))
            for table in ("inspector_adv_records", "inspector_adv_packages",
                          "inspector_adv_keys"):  # fmt: skip
                self.execute(f"DELETE FROM {table} WHERE export = ?", (export,))
            record_rows: list[tuple[Any, ...]] = []
            package_rows: list[tuple[Any, ...]] = []
            for record in records:
                narrowed = record.only(export)
                if not narrowed.affected:
                    skipped.add(f"no {export} package")
                    continue
                offered += 1
                newest = max(newest or narrowed.modified, narrowed.modified)
                record_rows.append((export, narrowed.id, narrowed.modified, narrowed.dumps()))
                for ecosystem, name in sorted(narrowed.lookup_keys()):
                    package_rows.append((ecosystem, name, export, narrowed.id))
                if len(record_rows) >= BATCH:
                    self._executemany(records_sql, record_rows)
                    self._executemany(packages_sql, package_rows)
                    record_rows, package_rows = [], []
            self._executemany(records_sql, record_rows)
            self._executemany(packages_sql, package_rows)
            stored = self.execute(
                "SELECT count(*) FROM inspector_adv_records WHERE export = ?", (export,)
            )[0][0]
            if offered > stored:
                skipped.add("duplicate id", offered - stored)
            if not stored:
                why = f" ({skipped.describe()} skipped)" if skipped.total else ""
                raise AdvisoryStoreError(
                    f"{shown(source)} holds no {export} advisories{why}; the database was "
                    "left as it was"
                )
            self.execute(
                "INSERT INTO inspector_adv_keys (export, ecosystem, advisories)"
                " SELECT export, ecosystem, count(DISTINCT id) FROM inspector_adv_packages"
                " WHERE export = ? GROUP BY export, ecosystem",
                (export,),
            )
            self.execute(
                "INSERT INTO inspector_adv_exports (export, imported, source, etag,"
                " last_modified, advisories, newest, skipped) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (export) DO UPDATE SET imported = excluded.imported,"
                " source = excluded.source, etag = excluded.etag,"
                " last_modified = excluded.last_modified, advisories = excluded.advisories,"
                " newest = excluded.newest, skipped = excluded.skipped",
                (export, imported or now_utc(), shown(source), etag, last_modified, stored,
                 newest, skipped.total),
            )  # fmt: skip
        return Imported(export, stored, skipped, shown(source))

    def confirm(self, export: str, when: str) -> int:
        """The server says `export` has not changed since its import: the records stay and are
        as new as the export, so `imported` moves to `when`. Returns how many records it has."""
        with self.transaction():
            self.execute(
                "UPDATE inspector_adv_exports SET imported = ? WHERE export = ?", (when, export)
            )
            rows = self.execute(
                "SELECT advisories FROM inspector_adv_exports WHERE export = ?", (export,)
            )
        return int(rows[0][0]) if rows else 0

    def validators(self, export: str) -> Validators | None:
        """The last import's source and HTTP validators, for a conditional download."""
        rows = self.execute(
            "SELECT source, etag, last_modified FROM inspector_adv_exports WHERE export = ?",
            (export,),
        )
        return Validators(*rows[0]) if rows else None

    # -- reading ---------------------------------------------------------------------------

    def advisories(self, keys: Iterable[PackageKey]) -> Mapping[PackageKey, tuple[Advisory, ...]]:
        """Every advisory naming each of `keys` ((ecosystem as the inventory names it, package
        name)), withdrawn ones included (matching decides what they mean), sorted by id.

        Every key asked is in the answer, with () when no advisory names it. One query per
        ecosystem asked and per 500 names, on the index of (ecosystem, name).
        """
        wanted: dict[tuple[str, str], list[PackageKey]] = {}
        for key in keys:
            lookup = (match_ecosystem(key[0]), normalise_name(key[0], key[1]))
            wanted.setdefault(lookup, []).append(key)
        found: dict[PackageKey, list[Advisory]] = {k: [] for ks in wanted.values() for k in ks}
        by_ecosystem: dict[str, list[str]] = {}
        for ecosystem, name in wanted:
            by_ecosystem.setdefault(ecosystem, []).append(name)
        parsed: dict[tuple[str, str], list[Any]] = {}
        for ecosystem, names in sorted(by_ecosystem.items()):
            names.sort()
            for start in range(0, len(names), _LOOKUP_CHUNK):
                chunk = names[start : start + _LOOKUP_CHUNK]
                marks = ", ".join("?" for _ in chunk)
                rows = self.execute(
                    "SELECT p.name, p.export, p.id, r.data FROM inspector_adv_packages p"
                    " JOIN inspector_adv_records r ON r.export = p.export AND r.id = p.id"
                    f" WHERE p.ecosystem = ? AND p.name IN ({marks})",
                    (ecosystem, *chunk),
                )
                for name, export, record_id, data in rows:
                    row = parsed.get((export, record_id))
                    if row is None:
                        row = parsed[(export, record_id)] = json.loads(data)
                    for key in wanted[(ecosystem, name)]:
                        advisory = stored_advisory(row, key)
                        if advisory is not None:
                            found[key].append(advisory)
        return {key: tuple(sorted(found[key], key=lambda a: a.id)) for key in found}

    def exports(self) -> tuple[EcosystemState, ...]:
        """Every export imported, by name."""
        rows = self.execute(
            "SELECT export, advisories, imported, source, newest FROM inspector_adv_exports"
            " ORDER BY export"
        )
        return tuple(EcosystemState(*row) for row in rows)

    def state(self, ecosystems: Iterable[str]) -> DatabaseState:
        """How fresh the database is for an image needing `ecosystems` ("Debian:12", "PyPI"):
        the exports those need that were imported, and the oldest of their imports."""
        needed = {export_of(e) for e in ecosystems if e}
        kept = tuple(s for s in self.exports() if s.name in needed)
        updated = min((s.imported for s in kept), default=None)
        return DatabaseState(location=self.location, updated=updated, ecosystems=kept)

    def status(self) -> DatabaseState:
        """The state of every export imported (`inspector db status`)."""
        every = self.exports()
        updated = min((s.imported for s in every), default=None)
        return DatabaseState(location=self.location, updated=updated, ecosystems=every)

    def missing(self, ecosystems: Iterable[str]) -> tuple[str, ...]:
        """Those of `ecosystems` (as the inventory names them) no stored record names: an
        export never imported, or a release it has nothing for."""
        asked = sorted({e for e in ecosystems if e})
        if not asked:
            return ()
        keys = {match_ecosystem(e) for e in asked}
        marks = ", ".join("?" for _ in keys)
        rows = self.execute(
            f"SELECT DISTINCT ecosystem FROM inspector_adv_keys WHERE ecosystem IN ({marks})",
            tuple(sorted(keys)),
        )
        known = {row[0] for row in rows}
        return tuple(e for e in asked if match_ecosystem(e) not in known)


def _lock_key(export: str) -> int:
    return int.from_bytes(hashlib.sha256(b"advisories:" + export.encode()).digest()[:8], "big",
                          signed=True)  # fmt: skip


def _is_psycopg_error(exc: BaseException) -> bool:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - a dependency
        return False
    return isinstance(exc, psycopg.Error)
