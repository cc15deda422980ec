"""Per-layer results cached by the layer's content digest, in one SQLite file.

A layer shared by a hundred images is read once per machine. Entries are keyed by diff_id and by
a fingerprint of what the reader captures, so changing the analysers never serves stale contents.
A file that is not a usable cache is discarded and rebuilt, never trusted and never fatal; so is
a file of an older format (FORMAT, kept in SQLite's user_version).

Size cap: scans grow the cache, so it holds at most INSPECTOR_CACHE_MAX_SIZE bytes of stored
(compressed) layer rows, 10 GiB by default ("0" or "none": no cap). After each `put` that takes
it over, the least recently used rows go first, never the row just put; a row's last use is
noted by `get` and `contains` at most once a minute (a write per lookup would cost more than the
lookup). Cached image configs (a few KiB each) are not counted. An image's static facts
(`inspector.facts.cache`, a row per image ID and code fingerprint) are held apart to a tenth of
the cap, least recently used first too.

Claims: `with cache.claim(diff_id) as mine:` lets concurrent readers of one layer read it once.
`mine` True: this caller reads the layer and `put`s it before the block ends; False: another
reader did meanwhile, and `get` returns it. Here the claim is a lock of this process (threads
share a cache file; other processes need not wait for each other); the PostgreSQL cache
(cache_postgres.py), shared by a fleet, claims with an advisory lock of the server.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from inspector.errors import InspectorError
from inspector.layers.limits import GiB, parse_size
from inspector.layers.model import ContentHit, Entry, LayerRead

FORMAT = 4
MAX_SIZE_VAR = "INSPECTOR_CACHE_MAX_SIZE"
DEFAULT_MAX_SIZE = 10 * GiB
# Seconds a row's last use may lag behind: the LRU order only needs to be coarse.
TOUCH_EVERY = 60
_OPENING = threading.Lock()
_OPEN_ATTEMPTS = 5


def default_dir() -> Path:
    if os.environ.get("INSPECTOR_CACHE_DIR"):
        return Path(os.environ["INSPECTOR_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "inspector"


def encode(layer: LayerRead) -> bytes:
    doc = {
        "size": layer.size,
        "entries": [e.to_row() for e in layer.entries],
        "contents": {p: base64.b64encode(c).decode() for p, c in layer.contents.items()},
        "unsafe": list(layer.unsafe_names),
        "hits": [hit.to_row() for hit in layer.hits],
        "scanned": layer.scanned_bytes,
    }
    # surrogateescape'd names (not UTF-8 in the tar) survive as JSON \\udcXX escapes.
    return zlib.compress(json.dumps(doc, separators=(",", ":")).encode(), 1)


def decode(diff_id: str, blob: bytes) -> LayerRead:
    doc = json.loads(zlib.decompress(blob))
    return LayerRead(
        diff_id=diff_id,
        size=doc["size"],
        entries=tuple(Entry.from_row(row) for row in doc["entries"]),
        contents={p: base64.b64decode(c) for p, c in doc["contents"].items()},
        unsafe_names=tuple(doc["unsafe"]),
        hits=tuple(ContentHit(*row) for row in doc["hits"]),
        scanned_bytes=doc["scanned"],
    )


class CacheError(InspectorError):
    """The layer cache cannot be used at all (an unwritable directory, an unreachable server)."""


def max_size() -> int | None:
    """The cap on stored layer rows in bytes (INSPECTOR_CACHE_MAX_SIZE), or None for no cap."""
    text = os.environ.get(MAX_SIZE_VAR, "").strip()
    if not text:
        return DEFAULT_MAX_SIZE
    if text.lower() == "none":
        return None
    size = parse_size(text)
    if size is None:
        raise CacheError(
            f"{MAX_SIZE_VAR}={text[:40]!r} is not a size (such as 10GiB or 500MiB), 0 or none"
        )
    return size or None


def eviction_sql(table: str, mark: str, key: str = "diff_id") -> str:
    """One statement deleting the least recently used rows of `table` until its rows fit a cap,
    sparing one row: parameters (`key`, fingerprint) of the row spared, then the cap. `mark`
    is the driver's placeholder. The rows to delete and the total are computed together, so
    two writers evicting at once delete the same rows, not twice as many."""
    return (
        f"DELETE FROM {table} WHERE ({key}, fingerprint) IN ("
        f" SELECT {key}, fingerprint FROM ("
        f"  SELECT {key}, fingerprint, length(data) AS stored,"
        f"   sum(length(data)) OVER (ORDER BY used, {key}, fingerprint) AS running"
        f"  FROM {table} WHERE NOT ({key} = {mark} AND fingerprint = {mark})"
        " ) AS oldest"
        f" WHERE running - stored < (SELECT sum(length(data)) FROM {table}) - {mark})"
    )


def facts_cap(layer_cap: int | None) -> int | None:
    """The cap on stored static-facts rows: a tenth of the layer rows' cap (None: no cap)."""
    return None if layer_cap is None else max(layer_cap // 10, 1)


_CLAIMS_LOCK = threading.Lock()
# (cache file, fingerprint, diff_id) -> [its lock, how many threads hold or await it]
_CLAIMS: dict[tuple[str, str, str], list] = {}


@contextmanager
def _claimed(key: tuple[str, str, str]) -> Iterator[None]:
    with _CLAIMS_LOCK:
        entry = _CLAIMS.setdefault(key, [threading.Lock(), 0])
        entry[1] += 1
    try:
        with entry[0]:
            yield
    finally:
        with _CLAIMS_LOCK:
            entry[1] -= 1
            if entry[1] == 0:
                del _CLAIMS[key]


class LayerCache:
    def __init__(
        self, path: Path, fingerprint: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = path
        self.fingerprint = f"{FORMAT}:{fingerprint}"
        self.max_size = max_size()
        self._clock = clock
        try:
            self.db = self._open()
        except (OSError, sqlite3.Error) as exc:
            raise CacheError(
                f"the layer cache {path} cannot be used ({exc}); set INSPECTOR_CACHE_DIR to a "
                "writable directory, or pass --no-cache"
            ) from exc

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Audits open the cache from several threads at once: setting WAL mode and creating the
        # tables race, and a "locked" or "busy" answer is contention, never damage. Deleting
        # the files then would pull them from under a connection that has them mapped (SIGBUS).
        # The lock file also keeps other processes from opening it while a damaged file is
        # being replaced.
        with _OPENING, open(f"{self.path}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            for attempt in range(_OPEN_ATTEMPTS):
                try:
                    return self._connect()
                except sqlite3.OperationalError:
                    if attempt + 1 == _OPEN_ATTEMPTS:
                        raise
                    time.sleep(0.2 * (attempt + 1))
                except sqlite3.DatabaseError:
                    # Not a database, or a damaged one: start over rather than fail or trust it.
                    for suffix in ("", "-wal", "-shm"):
                        Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            return self._connect()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            existing = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'layers'").fetchone()
            if existing and db.execute("PRAGMA user_version").fetchone()[0] != FORMAT:
                raise sqlite3.DatabaseError("a cache of another format")
            # `used` has a default so that an older inspector sharing the file can still write.
            db.execute(
                "CREATE TABLE IF NOT EXISTS layers ("
                " diff_id TEXT NOT NULL, fingerprint TEXT NOT NULL, size INTEGER NOT NULL,"
                " used INTEGER NOT NULL DEFAULT 0, data BLOB NOT NULL,"
                " PRIMARY KEY (diff_id, fingerprint))"
            )
            db.execute("CREATE INDEX IF NOT EXISTS layers_by_size ON layers (size, fingerprint)")
            db.execute("CREATE INDEX IF NOT EXISTS layers_by_use ON layers (used)")
            db.execute(f"PRAGMA user_version = {FORMAT}")
            db.execute(
                "CREATE TABLE IF NOT EXISTS configs (image_id TEXT PRIMARY KEY, data BLOB NOT NULL)"
            )
            # Added after FORMAT 4 without changing it: an older inspector ignores the table.
            db.execute(
                "CREATE TABLE IF NOT EXISTS facts ("
                " image_id TEXT NOT NULL, fingerprint TEXT NOT NULL,"
                " used INTEGER NOT NULL DEFAULT 0, data BLOB NOT NULL,"
                " PRIMARY KEY (image_id, fingerprint))"
            )
            db.execute("SELECT count(*) FROM layers").fetchone()
            if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("quick_check failed")
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def close(self) -> None:
        self.db.close()

    def contains(self, diff_id: str) -> bool:
        row = self.db.execute(
            "SELECT used FROM layers WHERE diff_id = ? AND fingerprint = ?",
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
                "UPDATE layers SET used = ? WHERE diff_id = ? AND fingerprint = ?",
                (now, diff_id, self.fingerprint),
            )
            self.db.commit()

    def with_size(self, size: int) -> set[str]:
        """Cached layers whose tar is exactly `size` bytes (candidates to confirm by digest)."""
        rows = self.db.execute(
            "SELECT diff_id FROM layers WHERE size = ? AND fingerprint = ?",
            (size, self.fingerprint),
        )
        return {row[0] for row in rows}

    def get(self, diff_id: str) -> LayerRead | None:
        row = self.db.execute(
            "SELECT data, used FROM layers WHERE diff_id = ? AND fingerprint = ?",
            (diff_id, self.fingerprint),
        ).fetchone()
        if row is None:
            return None
        try:
            layer = decode(diff_id, row[0])
        except (ValueError, KeyError, TypeError, zlib.error):
            self.db.execute(
                "DELETE FROM layers WHERE diff_id = ? AND fingerprint = ?",
                (diff_id, self.fingerprint),
            )
            self.db.commit()
            return None
        self._touch(diff_id, row[1])
        return layer

    def put(self, layer: LayerRead) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO layers (diff_id, fingerprint, size, used, data)"
            " VALUES (?, ?, ?, ?, ?)",
            (layer.diff_id, self.fingerprint, layer.size, int(self._clock()), encode(layer)),
        )
        self.db.commit()
        self._evict(layer.diff_id)

    def _evict(self, spared: str) -> None:
        if self.max_size is None:
            return
        (total,) = self.db.execute("SELECT coalesce(sum(length(data)), 0) FROM layers").fetchone()
        if total > self.max_size:
            self.db.execute(eviction_sql("layers", "?"), (spared, self.fingerprint, self.max_size))
            self.db.commit()

    def claim(self, diff_id: str) -> AbstractContextManager[bool]:
        """True inside the block: read the layer and `put` it; False: another thread did."""
        return self._claim(diff_id)

    @contextmanager
    def _claim(self, diff_id: str) -> Iterator[bool]:
        with _claimed((os.path.realpath(self.path), self.fingerprint, diff_id)):
            yield not self.contains(diff_id)

    def get_config(self, image_id: str) -> bytes | None:
        row = self.db.execute("SELECT data FROM configs WHERE image_id = ?", (image_id,)).fetchone()
        # The image ID is the digest of its config: a row that does not match is not trusted.
        if row and "sha256:" + hashlib.sha256(row[0]).hexdigest() == image_id:
            return bytes(row[0])
        return None

    def put_config(self, image_id: str, data: bytes) -> None:
        self.db.execute("INSERT OR REPLACE INTO configs VALUES (?, ?)", (image_id, data))
        self.db.commit()

    def get_facts(self, image_id: str, fingerprint: str) -> bytes | None:
        """The static facts stored for an image under a code fingerprint, as they were put."""
        row = self.db.execute(
            "SELECT data, used FROM facts WHERE image_id = ? AND fingerprint = ?",
            (image_id, fingerprint),
        ).fetchone()
        if row is None:
            return None
        now = int(self._clock())
        if now - row[1] >= TOUCH_EVERY:
            self.db.execute(
                "UPDATE facts SET used = ? WHERE image_id = ? AND fingerprint = ?",
                (now, image_id, fingerprint),
            )
            self.db.commit()
        return bytes(row[0])

    def put_facts(self, image_id: str, fingerprint: str, data: bytes) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO facts (image_id, fingerprint, used, data) VALUES (?, ?, ?, ?)",
            (image_id, fingerprint, int(self._clock()), data),
        )
        self.db.commit()
        cap = facts_cap(self.max_size)
        if cap is None:
            return
        (total,) = self.db.execute("SELECT coalesce(sum(length(data)), 0) FROM facts").fetchone()
        if total > cap:
            self.db.execute(eviction_sql("facts", "?", "image_id"), (image_id, fingerprint, cap))
            self.db.commit()

    def drop_facts(self, image_id: str, fingerprint: str) -> None:
        """Forget a stored row that could not be used (damaged, or of another shape)."""
        self.db.execute(
            "DELETE FROM facts WHERE image_id = ? AND fingerprint = ?", (image_id, fingerprint)
        )
        self.db.commit()
