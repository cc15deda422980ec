"""The advisory database on a real SQLite file and a real PostgreSQL server on loopback:
atomic imports per ecosystem, lookups by release, freshness, and sharing the scan store's
database."""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest

from inspector.advisories.osv import Record, Skipped, parse
from inspector.advisories.store import AdvisoryStore, AdvisoryStoreError
from inspector.scan.store import SCHEMA_VERSION as SCAN_SCHEMA
from inspector.scan.store import Store
from tests import osv_records as osv
from tests.postgres import postgres_server, postgres_url  # noqa: F401 - fixtures


def records(*docs) -> list[Record]:
    parsed = [parse(osv.encode(d)) for d in docs]
    assert all(parsed)
    return parsed  # type: ignore[return-value]


@pytest.fixture(params=["sqlite", "postgres"])
def url(request, tmp_path) -> str:
    """The store's URL: a SQLite file, or a database of its own on the session's PostgreSQL."""
    if request.param == "sqlite":
        return str(tmp_path / "scans.sqlite")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(url):
    opened = AdvisoryStore(url)
    yield opened
    opened.close()


def test_lookups_find_each_ecosystems_records_by_release(store):
    """Keys as the inventory names them find their records: Ubuntu:22.04 finds the LTS
    record (never the Pro one), Debian:12 and Alpine:v3.20 their release's, PyPI by PEP 503."""
    store.import_ecosystem("PyPI", records(osv.ghsa(), osv.pysec()), source="/x/PyPI/all.zip")
    store.import_ecosystem("Debian", records(osv.dsa(), osv.debian_cve()), source="d")
    store.import_ecosystem("Ubuntu", records(osv.usn()), source="u")
    store.import_ecosystem("Alpine", records(osv.alpine()), source="a")
    keys = [("PyPI", "Django"), ("Debian:12", "openssl"), ("Debian:13", "openssl"),
            ("Ubuntu:22.04", "tar"), ("Ubuntu:18.04", "tar"), ("Alpine:v3.20", "openssl"),
            ("Alpine:v3.19", "openssl"), ("PyPI", "absent")]  # fmt: skip
    found = store.advisories(keys)
    ids = {key: [a.id for a in found[key]] for key in keys}
    assert ids == {
        ("PyPI", "Django"): ["GHSA-2gwj-7jmv-h26r", "PYSEC-2024-102"],
        ("Debian:12", "openssl"): ["DEBIAN-CVE-2024-0727", "DSA-5678-1"],
        ("Debian:13", "openssl"): ["DEBIAN-CVE-2024-0727"],
        ("Ubuntu:22.04", "tar"): ["USN-6543-1"],
        ("Ubuntu:18.04", "tar"): [],
        ("Alpine:v3.20", "openssl"): ["ALPINE-CVE-2024-5535"],
        ("Alpine:v3.19", "openssl"): [],
        ("PyPI", "absent"): [],
    }
    debian13 = found[("Debian:13", "openssl")][0]
    assert [a.ecosystem for a in debian13.affected] == ["Debian:13"]
    assert debian13.affected[0].rating == "not yet assigned"
    assert found[("Ubuntu:22.04", "tar")][0].affected[0].ecosystem == "Ubuntu:22.04:LTS"


def test_a_new_import_replaces_the_ecosystems_records_and_leaves_others(store):
    """A record gone from the new export is gone; another ecosystem's records stay."""
    store.import_ecosystem("PyPI", records(*osv.pypi_export(3)), source="one")
    store.import_ecosystem("Alpine", records(osv.alpine()), source="a")
    done = store.import_ecosystem("PyPI", records(*osv.pypi_export(2)), source="two")
    assert done.advisories == 2
    found = store.advisories([("PyPI", "pkg-0"), ("PyPI", "pkg-2"), ("Alpine:v3.20", "openssl")])
    assert [len(found[k]) for k in found] == [1, 0, 1]
    assert {s.name: s.advisories for s in store.status().ecosystems} == {"PyPI": 2, "Alpine": 1}


def test_an_import_that_fails_midway_leaves_the_old_records(store):
    """An exception from the records stream rolls the whole import back."""
    store.import_ecosystem("PyPI", records(*osv.pypi_export(3)), source="one")

    def broken():
        yield from records(*osv.pypi_export(5000, first=10))
        raise ValueError("the archive is damaged")

    with pytest.raises(ValueError, match="damaged"):
        store.import_ecosystem("PyPI", broken(), source="two")
    assert store.status().ecosystems[0].advisories == 3
    assert store.status().ecosystems[0].source == "one"
    assert len(store.advisories([("PyPI", "pkg-1")])[("PyPI", "pkg-1")]) == 1
    assert store.advisories([("PyPI", "pkg-10")])[("PyPI", "pkg-10")] == ()


def test_an_export_with_nothing_for_its_ecosystem_is_refused_and_changes_nothing(store):
    """Importing Debian records as PyPI stores nothing, says why, and keeps PyPI's records."""
    store.import_ecosystem("PyPI", records(osv.ghsa()), source="one")
    skipped = Skipped()
    with pytest.raises(AdvisoryStoreError, match="holds no PyPI advisories"):
        store.import_ecosystem("PyPI", records(osv.dsa()), source="wrong.zip", skipped=skipped)
    assert skipped.reasons == {"no PyPI package": 1}
    assert store.status().ecosystems[0].advisories == 1


def test_duplicate_ids_in_one_export_are_stored_once_and_counted(store):
    """The same id twice in an export: the first is kept, the second counted as skipped."""
    done = store.import_ecosystem("PyPI", records(osv.ghsa(), osv.ghsa()), source="s")
    assert done.advisories == 1
    assert done.skipped.reasons == {"duplicate id": 1}


def test_state_is_the_oldest_import_among_the_exports_an_image_needs(store):
    """Debian:12 + PyPI need the Debian and PyPI exports: `updated` is the older import;
    Alpine is not reported; an empty store says nothing."""
    assert store.state(["Debian:12", "PyPI"]).ecosystems == ()
    assert store.state(["Debian:12", "PyPI"]).updated is None
    store.import_ecosystem("PyPI", records(osv.ghsa()), source="https://u:pw@h.example/PyPI/all.zip",
                           imported="2026-12-01T00:00:00Z")  # fmt: skip
    store.import_ecosystem(
        "Debian", records(osv.dsa()), source="d", imported="2026-12-03T00:00:00Z"
    )
    store.import_ecosystem(
        "Alpine", records(osv.alpine()), source="a", imported="2026-11-01T00:00:00Z"
    )
    state = store.state(["Debian:12", "PyPI"])
    assert state.updated == "2026-12-01T00:00:00Z"
    assert [(s.name, s.advisories) for s in state.ecosystems] == [("Debian", 1), ("PyPI", 1)]
    pypi = state.ecosystems[1]
    assert pypi.newest == "2024-09-05T14:31:42Z"
    assert "pw" not in pypi.source
    assert "pw" not in state.location
    assert store.missing(["Debian:12", "Debian:11", "PyPI", "Ubuntu:24.04"]) == (
        "Debian:11", "Ubuntu:24.04")  # fmt: skip


def test_confirm_keeps_the_records_and_moves_the_import_time(store):
    """A 304's confirmation: same records, `imported` now."""
    store.import_ecosystem("PyPI", records(osv.ghsa()), source="s", etag='"v1"',
                           imported="2026-12-01T00:00:00Z")  # fmt: skip
    assert store.confirm("PyPI", "2026-12-07T00:00:00Z") == 1
    assert store.status().updated == "2026-12-07T00:00:00Z"
    assert store.validators("PyPI").etag == '"v1"'


def test_the_scan_store_and_the_advisory_store_share_one_database_in_either_order(url):
    """Opened in either order on one database, each keeps its own schema key and tables."""
    first = AdvisoryStore(url)
    first.import_ecosystem("PyPI", records(osv.ghsa()), source="s")
    scans = Store(url)
    scans.begin("r1", "2026-12-07T00:00:00+00:00", "registry:h", "k", 1, 0)
    again = AdvisoryStore(url)
    keys = dict(scans.execute("SELECT key, value FROM inspector_meta"))
    assert keys == {"schema": str(SCAN_SCHEMA), "advisories_schema": "1"}
    assert len(again.advisories([("PyPI", "django")])[("PyPI", "django")]) == 1
    assert scans.run("r1") is not None
    for opened in (first, scans, again):
        opened.close()


def test_the_scan_store_opened_first_then_the_advisory_store(url):
    """A scan store made first gets the advisory tables added beside its own."""
    Store(url).close()
    store = AdvisoryStore(url)
    store.import_ecosystem("PyPI", records(osv.ghsa()), source="s")
    tables = {r[0] for r in store.execute(
        "SELECT table_name FROM information_schema.tables" if store.postgres
        else "SELECT name FROM sqlite_master WHERE type = 'table'")}  # fmt: skip
    assert {"inspector_runs", "inspector_adv_records", "inspector_meta"} <= tables
    keys = dict(store.execute("SELECT key, value FROM inspector_meta"))
    assert keys == {"schema": str(SCAN_SCHEMA), "advisories_schema": "1"}
    store.close()


def test_a_newer_advisory_schema_is_refused_with_an_upgrade_hint(tmp_path):
    """A database written by a newer inspector says so instead of misreading it."""
    path = str(tmp_path / "scans.sqlite")
    AdvisoryStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE inspector_meta SET value = '99' WHERE key = 'advisories_schema'")
    with pytest.raises(AdvisoryStoreError, match="upgrade inspector"):
        AdvisoryStore(path)


def test_a_reader_during_an_import_sees_the_old_set_until_it_commits(url):
    """While an import of 3 records replaces 2, a second connection still reads the 2; once
    committed it reads the 3 (WAL on SQLite, MVCC on PostgreSQL)."""
    writer = AdvisoryStore(url)
    reader = AdvisoryStore(url)
    writer.import_ecosystem("PyPI", records(*osv.pypi_export(2)), source="one")
    keys = [("PyPI", f"pkg-{n}") for n in range(3)]
    inside, go_on = threading.Event(), threading.Event()
    seen: list[int] = []

    def slow():
        yield from records(*osv.pypi_export(3))
        inside.set()
        go_on.wait(30)

    thread = threading.Thread(
        target=lambda: writer.import_ecosystem("PyPI", slow(), source="two"), daemon=True
    )
    thread.start()
    assert inside.wait(30)
    seen.append(sum(len(v) for v in reader.advisories(keys).values()))
    go_on.set()
    thread.join(30)
    seen.append(sum(len(v) for v in reader.advisories(keys).values()))
    assert seen == [2, 3]
    writer.close()
    reader.close()


def test_an_unusable_store_is_one_clear_error(tmp_path):
    """A path that cannot hold a database is an AdvisoryStoreError naming it."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(AdvisoryStoreError, match="cannot be used"):
        AdvisoryStore(str(blocker / "scans.sqlite"))


def test_open_if_present_never_creates_a_database(tmp_path, monkeypatch):
    """No file: None and nothing created; once `db update` made it, the store opens."""
    monkeypatch.setenv("INSPECTOR_DATA_DIR", str(tmp_path / "data"))
    assert AdvisoryStore.open_if_present() is None
    assert not (tmp_path / "data").exists()
    AdvisoryStore().close()
    opened = AdvisoryStore.open_if_present()
    assert opened is not None
    assert opened.state(["PyPI"]).ecosystems == ()
    opened.close()


def test_status_shows_each_ecosystems_age_against_a_pinned_clock(tmp_path):
    """Imported 2 days and 3 hours before the pinned now: "2 days" in the table, the seconds
    in the JSON; an unreadable time is "?"."""
    from datetime import UTC, datetime

    from inspector.advisories import status

    store = AdvisoryStore(str(tmp_path / "scans.sqlite"))
    store.import_ecosystem("PyPI", records(osv.ghsa()), source="s", imported="2026-12-05T06:00:00Z")
    now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    table = status.table(store.status(), now)
    assert table.splitlines()[-1].split()[:4] == ["PyPI", "1", "2026-12-05T06:00:00Z", "2"]
    assert " 2 days " in table
    doc = json.loads(status.as_json(store.status(), now))
    assert doc["ecosystems"][0]["age_seconds"] == 2 * 86400 + 3 * 3600
    assert doc["updated"] == "2026-12-05T06:00:00Z"
    assert status.age_text(status.age_seconds("yesterday", now)) == "?"
    assert status.age_text(59) == "just now"
    assert status.age_text(3600) == "1 hour"
    store.close()


def test_a_database_failure_while_reading_is_an_advisory_store_error(tmp_path):
    """A table gone under an open store: lookups raise AdvisoryStoreError (one line for the
    CLI, a status for the facts), not sqlite3's own error."""
    path = str(tmp_path / "scans.sqlite")
    store = AdvisoryStore(path)
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE inspector_adv_records")
    with pytest.raises(AdvisoryStoreError, match="no such table"):
        store.advisories([("PyPI", "django")])
    with pytest.raises(AdvisoryStoreError, match="no such table"):
        store.import_ecosystem("PyPI", records(osv.ghsa()), source="s")
    store.close()
