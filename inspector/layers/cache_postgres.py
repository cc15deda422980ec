"""The layer cache in a PostgreSQL database, shared by every scanner of a fleet.

The same entries as the SQLite cache (cache.py: keys, encoding, size cap and least recently used
eviction, damaged rows dropped as misses) in tables named `inspector_*`, created when missing.
A claim is a session advisory lock on a connection of its own, keyed by the layer: a layer is
read once across the fleet however many shards need it, and a scanner that dies releases its
claims with its connection. psycopg is imported only when such a cache is opened.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
import time
import urllib.parse
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from inspector.layers.cache import (
    FORMAT,
    TOUCH_EVERY,
    CacheError,
    decode,
    encode,
    eviction_sql,
    facts_cap,
    max_size,
)
from inspector.layers.model import LayerRead

if TYPE_CHECKING:
    import psycopg

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS inspector_layers ("
    " diff_id text NOT NULL, fingerprint text NOT NULL, size bigint NOT NULL,"
    " used bigint NOT NULL DEFAULT 0, data bytea NOT NULL, PRIMARY KEY (diff_id, fingerprint))",
    "CREATE INDEX IF NOT EXISTS inspector_layers_by_size ON inspector_layers (size, fingerprint)",
    "CREATE INDEX IF NOT EXISTS inspector_layers_by_use ON inspector_layers (used)",
    "CREATE TABLE IF NOT EXISTS inspector_configs (image_id text PRIMARY KEY, data bytea NOT NULL)",
    # An image's static facts (inspector.facts.cache); a database made before it gains it here.
    "CREATE TABLE IF NOT EXISTS inspector_facts ("
    " image_id text NOT NULL, fingerprint text NOT NULL, used bigint NOT NULL DEFAULT 0,"
    " data bytea NOT NULL, PRIMARY KEY (image_id, fingerprint))",
)
# Shards starting together would race to create the tables (CREATE ... IF NOT EXISTS is not
# safe against a concurrent CREATE): the first takes this lock, the others wait and find them.
_SCHEMA_LOCK = int.from_bytes(hashlib.sha256(b"inspector layer cache schema").digest()[:8],
                              "big", signed=True)  # fmt: skip
_CONNECT_TIMEOUT = 10
# A password as `password=...` or in a URL's user info (overlapping: a password may hold ":").
_PASSWORDS = (re.compile(r"password\s*=\s*'?([^\s']+)"), re.compile(r"(?=:([^@\s]+)@)"))


def claim_key(fingerprint: str, diff_id: str) -> int:
    """The advisory lock (a signed 64-bit key) that claims one layer under one fingerprint."""
    digest = hashlib.sha256(f"inspector layer\0{fingerprint}\0{diff_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _secrets(conninfo: str) -> list[str]:
    """What may be a password in a connection string (even one libpq cannot read), longest
    first, to keep out of messages."""
    found = {secret for pattern in _PASSWORDS for secret in pattern.findall(conninfo)}
    found |= {urllib.parse.unquote(secret) for secret in found}
    return sorted((secret for secret in found if secret), key=len, reverse=True)


def _server(conninfo: str) -> str:
    """HOST:PORT the connection string names, for messages (never its user or password)."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.Error:
        return "(an unreadable URL)"
    host = str(params.get("host") or params.get("hostaddr") or "localhost")
    return f"{host}:{params.get('port') or 5432}"


class PostgresLayerCache:
    def __init__(
        self, conninfo: str, fingerprint: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.fingerprint = f"{FORMAT}:{fingerprint}"
        self.max_size = max_size()
        self._conninfo, self._clock = conninfo, clock
        self._where = _server(conninfo)
        self._lock = threading.Lock()
        self._idle: list[psycopg.Connection[Any]] = []
        self._closed = False
        with self._errors():
            self.db = self._connect()
            try:
                self._create_tables()
            except BaseException:
                self.db.close()
                raise

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """psycopg's errors as one CacheError line naming the server (never the password)."""
        import psycopg

        try:
            yield
        except psycopg.Error as exc:
            reason = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
            for secret in _secrets(self._conninfo):
                reason = reason.replace(secret, "***")
            raise CacheError(
                f"the layer cache in PostgreSQL at {self._where} cannot be used: "
                f"{reason or type(exc).__name__}"
            ) from None

    def _connect(self) -> psycopg.Connection[Any]:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict

        # A server that drops packets would otherwise hang the scan on connecting.
        timeout = {} if "connect_timeout" in conninfo_to_dict(self._conninfo) else {
            "connect_timeout": _CONNECT_TIMEOUT}  # fmt: skip
        return psycopg.connect(self._conninfo, autocommit=True, **timeout)

    def _create_tables(self) -> None:
        found = self.db.execute(
            "SELECT to_regclass('inspector_layers') IS NOT NULL"
            " AND to_regclass('inspector_configs') IS NOT NULL"
            " AND to_regclass('inspector_facts') IS NOT NULL"
        ).fetchone()
        if found and found[0]:
            return
        with self.db.transaction():
            self.db.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            for statement in _SCHEMA:
                self.db.execute(statement)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in [self.db, *idle]:
            conn.close()

    def contains(self, diff_id: str) -> bool:
        with self._lock, self._errors():
            row = self.db.execute(
                "SELECT used FROM inspector_layers WHERE diff_id = %s AND fingerprint = %s",
                (diff_id, self.fingerprint),
            ).fetchone()
            if row is None:
                return False
            self._touch(diff_id, row[0])
            return True

    def _touch(self, diff_id: str, used: int) -> None:
        now = int(self._clock())
        if now - used >= TOUCH_EVERY:
            self.db.execute(
                "UPDATE inspector_layers SET used = %s WHERE diff_id = %s AND fingerprint = %s",
                (now, diff_id, self.fingerprint),
            )

    def with_size(self, size: int) -> set[str]:
        """Cached layers whose tar is exactly `size` bytes (candidates to confirm by digest)."""
        with self._lock, self._errors():
            rows = self.db.execute(
                "SELECT diff_id FROM inspector_layers WHERE size = %s AND fingerprint = %s",
                (size, self.fingerprint),
            ).fetchall()
        return {row[0] for row in rows}

    def get(self, diff_id: str) -> LayerRead | None:
        with self._lock, self._errors():
            row = self.db.execute(
                "SELECT data, used FROM inspector_layers WHERE diff_id = %s AND fingerprint = %s",
                (diff_id, self.fingerprint),
            ).fetchone()
            if row is None:
                return None
            try:
                layer = decode(diff_id, row[0])
            except (ValueError, KeyError, TypeError, zlib.error):
                self.db.execute(
                    "DELETE FROM inspector_layers WHERE diff_id = %s AND fingerprint = %s",
                    (diff_id, self.fingerprint),
                )
                return None
            self._touch(diff_id, row[1])
            return layer

    def put(self, layer: LayerRead) -> None:
        data = encode(layer)
        with self._lock, self._errors():
            self.db.execute(
                "INSERT INTO inspector_layers (diff_id, fingerprint, size, used, data)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (diff_id, fingerprint) DO UPDATE"
                " SET size = EXCLUDED.size, used = EXCLUDED.used, data = EXCLUDED.data",
                (layer.diff_id, self.fingerprint, layer.size, int(self._clock()), data),
            )
            if self.max_size is None:
                return
            row = self.db.execute(
                "SELECT coalesce(sum(length(data)), 0) FROM inspector_layers"
            ).fetchone()
            if row and row[0] > self.max_size:
                self.db.execute(
                    eviction_sql("inspector_layers", "%s"),
                    (layer.diff_id, self.fingerprint, self.max_size),
                )

    def get_config(self, image_id: str) -> bytes | None:
        with self._lock, self._errors():
            row = self.db.execute(
                "SELECT data FROM inspector_configs WHERE image_id = %s", (image_id,)
            ).fetchone()
        # The image ID is the digest of its config: a row that does not match is not trusted.
        if row and "sha256:" + hashlib.sha256(row[0]).hexdigest() == image_id:
            return bytes(row[0])
        return None

    def put_config(self, image_id: str, data: bytes) -> None:
        with self._lock, self._errors():
            self.db.execute(
                "INSERT INTO inspector_configs (image_id, data) VALUES (%s, %s)"
                " ON CONFLICT (image_id) DO UPDATE SET data = EXCLUDED.data",
                (image_id, data),
            )

    def get_facts(self, image_id: str, fingerprint: str) -> bytes | None:
        """The static facts stored for an image under a code fingerprint, as they were put."""
        with self._lock, self._errors():
            row = self.db.execute(
                "SELECT data, used FROM inspector_facts WHERE image_id = %s AND fingerprint = %s",
                (image_id, fingerprint),
            ).fetchone()
            if row is None:
                return None
            now = int(self._clock())
            if now - row[1] >= TOUCH_EVERY:
                self.db.execute(
                    "UPDATE inspector_facts SET used = %s WHERE image_id = %s AND fingerprint = %s",
                    (now, image_id, fingerprint),
                )
        return bytes(row[0])

    def put_facts(self, image_id: str, fingerprint: str, data: bytes) -> None:
        cap = facts_cap(self.max_size)
        with self._lock, self._errors():
            self.db.execute(
                "INSERT INTO inspector_facts (image_id, fingerprint, used, data)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (image_id, fingerprint) DO UPDATE"
                " SET used = EXCLUDED.used, data = EXCLUDED.data",
                (image_id, fingerprint, int(self._clock()), data),
            )
            if cap is None:
                return
            row = self.db.execute(
                "SELECT coalesce(sum(length(data)), 0) FROM inspector_facts"
            ).fetchone()
            if row and row[0] > cap:
                self.db.execute(
                    eviction_sql("inspector_facts", "%s", "image_id"),
                    (image_id, fingerprint, cap),
                )

    def drop_facts(self, image_id: str, fingerprint: str) -> None:
        """Forget a stored row that could not be used (damaged, or of another shape)."""
        with self._lock, self._errors():
            self.db.execute(
                "DELETE FROM inspector_facts WHERE image_id = %s AND fingerprint = %s",
                (image_id, fingerprint),
            )

    def claim(self, diff_id: str) -> AbstractContextManager[bool]:
        """True inside the block: read the layer and `put` it; False: another reader did."""
        return self._claim(diff_id)

    @contextmanager
    def _claim(self, diff_id: str) -> Iterator[bool]:
        if self.contains(diff_id):
            yield False
            return
        key = claim_key(self.fingerprint, diff_id)
        conn = self._claim_connection()
        try:
            with self._errors():
                # Blocks while another session, here or on another machine, holds the claim.
                conn.execute("SELECT pg_advisory_lock(%s)", (key,))
        except BaseException:
            conn.close()
            raise
        import psycopg

        healthy = False
        try:
            yield not self.contains(diff_id)
        finally:
            # A connection that cannot unlock is closed below, and the lock goes with it.
            with contextlib.suppress(psycopg.Error):
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
                healthy = True
            self._release(conn, healthy)

    def _claim_connection(self) -> psycopg.Connection[Any]:
        """A connection for one claim: each holds one lock (a session's locks are re-entrant,
        so two claims sharing one would both get it)."""
        with self._lock:
            if self._idle:
                return self._idle.pop()
        with self._errors():
            return self._connect()

    def _release(self, conn: psycopg.Connection[Any], healthy: bool) -> None:
        with self._lock:
            if healthy and not self._closed and not conn.closed:
                self._idle.append(conn)
                return
        conn.close()
