"""Per-layer results cached by the layer's content digest, in one SQLite file.

A layer shared by a hundred images is read once per machine. Entries are keyed by diff_id and by
a fingerprint of what the reader captures, so changing the analysers never serves stale contents.
A file that is not a usable cache is discarded and rebuilt, never trusted and never fatal.
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
from pathlib import Path

from inspector.errors import InspectorError
from inspector.layers.model import ContentHit, Entry, LayerRead

FORMAT = 3
_OPENING = threading.Lock()
_OPEN_ATTEMPTS = 5


def default_dir() -> Path:
    if os.environ.get("INSPECTOR_CACHE_DIR"):
        return Path(os.environ["INSPECTOR_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "inspector"


def _encode(layer: LayerRead) -> bytes:
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


def _decode(diff_id: str, blob: bytes) -> LayerRead:
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
    """The layer cache cannot be opened at all (an unwritable or impossible directory)."""


class LayerCache:
    def __init__(self, path: Path, fingerprint: str) -> None:
        self.path = path
        self.fingerprint = f"{FORMAT}:{fingerprint}"
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
            db.execute(
                "CREATE TABLE IF NOT EXISTS layers ("
                " diff_id TEXT NOT NULL, fingerprint TEXT NOT NULL, size INTEGER NOT NULL,"
                " data BLOB NOT NULL, PRIMARY KEY (diff_id, fingerprint))"
            )
            db.execute("CREATE INDEX IF NOT EXISTS layers_by_size ON layers (size, fingerprint)")
            db.execute(
                "CREATE TABLE IF NOT EXISTS configs (image_id TEXT PRIMARY KEY, data BLOB NOT NULL)"
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
            "SELECT 1 FROM layers WHERE diff_id = ? AND fingerprint = ?",
            (diff_id, self.fingerprint),
        ).fetchone()
        return row is not None

    def with_size(self, size: int) -> set[str]:
        """Cached layers whose tar is exactly `size` bytes (candidates to confirm by digest)."""
        rows = self.db.execute(
            "SELECT diff_id FROM layers WHERE size = ? AND fingerprint = ?",
            (size, self.fingerprint),
        )
        return {row[0] for row in rows}

    def get(self, diff_id: str) -> LayerRead | None:
        row = self.db.execute(
            "SELECT data FROM layers WHERE diff_id = ? AND fingerprint = ?",
            (diff_id, self.fingerprint),
        ).fetchone()
        if row is None:
            return None
        try:
            return _decode(diff_id, row[0])
        except (ValueError, KeyError, TypeError, zlib.error):
            self.db.execute(
                "DELETE FROM layers WHERE diff_id = ? AND fingerprint = ?",
                (diff_id, self.fingerprint),
            )
            self.db.commit()
            return None

    def put(self, layer: LayerRead) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO layers (diff_id, fingerprint, size, data) VALUES (?, ?, ?, ?)",
            (layer.diff_id, self.fingerprint, layer.size, _encode(layer)),
        )
        self.db.commit()

    def get_config(self, image_id: str) -> bytes | None:
        row = self.db.execute("SELECT data FROM configs WHERE image_id = ?", (image_id,)).fetchone()
        # The image ID is the digest of its config: a row that does not match is not trusted.
        if row and "sha256:" + hashlib.sha256(row[0]).hexdigest() == image_id:
            return bytes(row[0])
        return None

    def put_config(self, image_id: str, data: bytes) -> None:
        self.db.execute("INSERT OR REPLACE INTO configs VALUES (?, ?)", (image_id, data))
        self.db.commit()
