"""Where the user's store lives, and how a database URL is shown.

The scan store (`inspector.scan.store`) and the advisory database (`inspector.advisories.store`)
share one database: a SQLite file under the user's data directory unless `--db` names another
file or a PostgreSQL URL. Both stages use this module, so it sits outside the pipeline's order,
as `errors.py` does.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from urllib.parse import urlsplit


def default_path() -> Path:
    """The SQLite store: $INSPECTOR_DATA_DIR, else $XDG_DATA_HOME/inspector, else
    ~/.local/share/inspector."""
    if os.environ.get("INSPECTOR_DATA_DIR"):
        return Path(os.environ["INSPECTOR_DATA_DIR"]) / "scans.sqlite"
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "inspector" / "scans.sqlite"


def shown(url: str) -> str:
    """A database URL as messages show it: never with its password."""
    if "://" not in url:
        return url
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        user = f"{parts.username}@" if parts.username else ""
    except ValueError:  # an unreadable URL (a bad port, an unclosed bracket) shows nothing of it
        return "(an unreadable URL)"
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def first_line(exc: BaseException) -> str:
    """An exception as one line of a message."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def wal(db: sqlite3.Connection, patience: float = 60.0) -> None:
    """Put a SQLite database in WAL mode. Switching the journal mode takes the database for
    itself and SQLite does not wait for a lock there (its busy timeout does not apply): two
    processes opening a new database at once would see "database is locked". Retried briefly,
    as the busy timeout would have."""
    deadline = time.monotonic() + patience
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)
