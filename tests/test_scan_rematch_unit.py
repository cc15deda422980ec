"""The scan store keeps inventories and the database state each audit was matched against, and
`Rematcher` matches a stored inventory again only when that state changed, re-running only the
checks that read `vulnerabilities` (the matcher is a stand-in here: matching itself is tested
with the real one in tests/test_scan_rematch.py)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from checks.model import Check, Context, Found, Location
from inspector.advisories.model import (
    Advisory,
    DatabaseState,
    EcosystemState,
    PackageKey,
    VulnerabilityMatch,
)
from inspector.analysers.inventory import Component
from inspector.scan import store as store_module
from inspector.scan.rematch import (
    Rematcher,
    inventory_record,
    mark_of_facts,
    run_database,
)
from inspector.scan.store import Audit, Store
from tests.postgres import postgres_server, postgres_url  # noqa: F401 - fixtures

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
DEBIAN = {"ecosystem": "Debian:12", "name": "zlib1g", "version": "1:1.2.13.dfsg-1",
          "source": "zlib", "source_version": "1:1.2.13.dfsg-1", "kind": "dpkg",
          "path": "var/lib/dpkg/status", "layer": 0, "deleted": False, "environment": None,
          "purl": "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?distro=debian-12"}  # fmt: skip
PYPI = {"ecosystem": "PyPI", "name": "requests", "version": "2.32.3", "source": None,
        "source_version": None, "kind": "dist-info",
        "path": "opt/venv/lib/python3.11/site-packages/requests-2.32.3.dist-info", "layer": 1,
        "deleted": False, "environment": "opt/venv/lib/python3.11/site-packages",
        "purl": "pkg:pypi/requests@2.32.3"}  # fmt: skip


def _advisory(id_: str, withdrawn: str | None = None) -> Advisory:
    return Advisory(id_, "2026-12-06T00:00:00Z", None, withdrawn, (), "a flaw", (), "HIGH", None,
                    ())  # fmt: skip


class Database:
    """An advisory store in memory: what `AdvisoryStore` answers, with counted calls."""

    # Matching checks the store's SQLite file exists before it opens it: any file stands in.
    url = __file__

    def __init__(self, advisories: dict[PackageKey, tuple[Advisory, ...]],
                 imported: dict[str, str]) -> None:  # fmt: skip
        self.held, self.imported = advisories, imported
        self.asked: list[list[PackageKey]] = []

    def advisories(self, keys: Iterable[PackageKey]) -> Mapping[PackageKey, tuple[Advisory, ...]]:
        keys = list(keys)
        self.asked.append(keys)
        return {k: self.held[k] for k in keys if k in self.held}

    def state(self, ecosystems: Iterable[str]) -> DatabaseState:
        needed = {e.split(":", 1)[0] for e in ecosystems}
        held = sorted(self.imported.items())
        states = tuple(EcosystemState(name, 1, when, "test", None)
                       for name, when in held if name in needed)  # fmt: skip
        updated = min((s.imported for s in states), default=None)
        return DatabaseState("memory", updated, states)

    def status(self) -> DatabaseState:
        return self.state(self.imported)


def matcher(components: Sequence[tuple[Component, str]], lookup) -> list[VulnerabilityMatch]:
    """A stand-in for matching: every advisory not withdrawn naming a component matches it."""
    found = lookup.advisories([(c.ecosystem, c.source or c.name) for c, _ in components])
    out = []
    for component, reach in components:
        for advisory in found.get((component.ecosystem, component.source or component.name), ()):
            if advisory.withdrawn is None:
                out.append(VulnerabilityMatch(
                    advisory.id, (advisory.id,), (), "a flaw", "high", "rating", None, None,
                    None, component.ecosystem, component.name, component.source,
                    component.version, None, component.path, component.layer, component.kind,
                    reach, component.environment))  # fmt: skip
    return out


def _vulnerable(facts, context):
    for match in facts["vulnerabilities"]["matches"]:
        step = facts["history"][match["layer"]]["created_by"]
        where = Location(layer=match["layer"], created_by=step, path=match["path"])
        yield Found(f"{match['package']} {match['installed']} has {match['id']}", where)


VULN = Check("VUL001", "known-vulnerability", "t", "high", "security", ("vulnerabilities",),
             "upgrade", "", _vulnerable, wants=("history",))  # fmt: skip
OTHER = Check("SEC001", "runs-as-root", "t", "high", "security", ("config",), "USER", "",
              lambda facts, context: ())  # fmt: skip


def _facts(database: DatabaseState | None, matches: Sequence[VulnerabilityMatch] = ()) -> dict:
    """Facts JSON as an audit collects them, with these matches."""
    from dataclasses import asdict

    return {
        "history": [{"created_by": "debootstrap"}, {"created_by": "RUN pip install requests"}],
        "config": {"User": "0"},
        "fs": {"huge": "not kept"},
        "inventory": {"os_ecosystem": "Debian:12", "components": [DEBIAN, PYPI],
                      "import_path": ["opt/venv/lib/python3.11/site-packages"]},
        "vulnerabilities": {
            "status": "matched", "note": None,
            "database": asdict(database) if database else None,
            "ecosystems": ["Debian:12", "PyPI"], "missing": [],
            "import_path": ["opt/venv/lib/python3.11/site-packages"],
            "import_path_source": "static",
            "matches": json.loads(json.dumps([asdict(m) for m in matches])),
        },
    }  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def store(tmp_path, request):
    """A fresh scan store: a SQLite file, then a PostgreSQL database (skipped without one)."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = str(tmp_path / "scans.sqlite")
    opened = Store(url)
    yield opened
    opened.close()


def test_an_inventory_is_stored_once_per_image_compressed_when_large(store):
    """A record round-trips; a large one is zlib'd (far smaller than its JSON), a small one is
    plain JSON; saving again replaces it."""
    record = inventory_record(_facts(None), [VULN, OTHER])
    assert set(record["facts"]) == {"history"}  # what the vulnerability checks read, no more
    big = {
        **record,
        "inventory": {
            **record["inventory"],
            "components": [PYPI | {"name": f"p{n}"} for n in range(300)],
        },
    }
    store.save_inventory("sha256:a", "", big, "now")
    store.save_inventory("sha256:b", "", {"version": 1}, "now")
    assert store.inventory("sha256:a", "") == big
    assert store.inventory("sha256:b", "") == {"version": 1}
    rows = dict(store.execute("SELECT digest, encoding FROM inspector_inventories"))
    assert rows == {"sha256:a": "json+zlib", "sha256:b": "json"}
    data = store.execute("SELECT data FROM inspector_inventories WHERE digest = ?",
                         ("sha256:a",))[0][0]  # fmt: skip
    size = len(bytes(data))
    assert size < len(str(big)) / 10
    store.save_inventory("sha256:b", "", {"version": 2}, "later")
    assert store.inventory("sha256:b", "") == {"version": 2}
    assert store.inventory("sha256:c", "") is None


def test_a_store_of_schema_1_is_migrated_keeping_its_audits(tmp_path):
    """A store written before inventories were kept opens, keeps its audits (matched: None, so
    never matched again) and gains the inventories table."""
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE inspector_meta (key TEXT PRIMARY KEY, value TEXT)")
        db.execute("INSERT INTO inspector_meta VALUES ('schema', '1')")
        for statement in store_module.MIGRATIONS[0]:
            db.execute(statement)
        db.execute("INSERT INTO inspector_audits VALUES ('sha256:a', '', 'k', 'then', NULL,"
                   " NULL, '[]', '[]')")  # fmt: skip
        db.execute("INSERT INTO inspector_runs VALUES ('r1', 's', 'f', 'scope', 'k', 1, "
                   "'complete')")  # fmt: skip
    store = Store(str(path))
    try:
        assert store.audit("sha256:a", "", "k") == Audit("sha256:a", "", None, None, (), [])
        assert store.run("r1").advisories is None
        assert store.inventory("sha256:a", "") is None
        assert store.execute("SELECT value FROM inspector_meta WHERE key = 'schema'") == [("2",)]
    finally:
        store.close()


def test_rematching_runs_only_the_vulnerability_checks_when_the_database_changed():
    """Same imported times: not stale. A newer PyPI export: stale; the re-match finds the new
    advisory with the history step of its layer, keeps SEC001's stored result, and records
    the new state, after which the image is not stale any more."""
    old = {"Debian": "2026-12-01T00:00:00Z", "PyPI": "2026-12-01T00:00:00Z"}
    database = Database({}, dict(old))
    facts = _facts(database.state(["Debian:12", "PyPI"]))
    stored_other = {"check": "SEC001", "status": "failed", "reason": None, "findings": ["kept"]}
    audit = Audit("sha256:a", "", None, None, (), [
        {"check": "VUL001", "status": "passed", "reason": None, "findings": []}, stored_other,
    ], mark_of_facts(facts))  # fmt: skip
    record = inventory_record(facts, [VULN, OTHER])
    rematcher = Rematcher(database, [VULN, OTHER], Context(now=NOW), matcher, lambda c, p: "x")
    assert not rematcher.stale(audit)

    database.held[("PyPI", "requests")] = (_advisory("GHSA-new"),)
    database.imported["PyPI"] = "2026-12-07T00:00:00Z"
    rematcher = Rematcher(database, [VULN, OTHER], Context(now=NOW), matcher, lambda c, p: "x")
    assert rematcher.stale(audit)
    again = rematcher.rematch(audit, record)
    vuln, other = again.results
    assert other == stored_other
    assert vuln["status"] == "failed"
    (finding,) = vuln["findings"]
    assert finding["message"] == "requests 2.32.3 has GHSA-new"
    assert finding["location"]["created_by"] == "RUN pip install requests"
    assert again.matched["imported"]["PyPI"].startswith("2026-12-07T00:00:00Z")
    assert not rematcher.stale(again)


def test_a_withdrawn_advisory_passes_again_and_lookups_are_shared_across_images():
    """An advisory withdrawn in a new import leaves the check passing; two images holding the
    same packages ask the store about each package, and match each component, once per run."""
    database = Database(
        {("PyPI", "requests"): (_advisory("GHSA-old"),)},
        {"Debian": "2026-12-01T00:00:00Z", "PyPI": "2026-12-01T00:00:00Z"},
    )
    found = matcher([(Component(**PYPI), "x")], database)
    facts = _facts(database.state(["Debian:12", "PyPI"]), found)
    record = inventory_record(facts, [VULN])
    failed = {"check": "VUL001", "status": "failed", "reason": None, "findings": [{}]}
    audits = [Audit(f"sha256:{n}", "", None, None, (), [failed], mark_of_facts(facts))
              for n in range(2)]  # fmt: skip
    database.held[("PyPI", "requests")] = (_advisory("GHSA-old", "2026-12-06T00:00:00Z"),)
    database.imported["PyPI"] = "2026-12-07T00:00:00Z"
    database.asked.clear()
    calls = []

    def counted(components, lookup):
        calls.append(len(components))
        return matcher(components, lookup)

    rematcher = Rematcher(database, [VULN], Context(now=NOW), counted, lambda c, p: "x")
    for audit in audits:
        assert rematcher.stale(audit)
        assert rematcher.rematch(audit, record).results[0]["status"] == "passed"
    assert calls == [2]  # the second image's components were matched with the first's
    assert len(database.asked) == 1
    assert sorted(database.asked[0]) == [("Debian:12", "zlib"), ("PyPI", "requests")]


def test_an_audit_matched_against_no_database_is_matched_once_one_is_imported():
    """`no-database` then, advisories now: stale; no database now either: not stale."""
    empty = Database({}, {})
    facts = _facts(empty.state(["Debian:12", "PyPI"]))
    facts["vulnerabilities"]["status"] = "no-database"
    audit = Audit("sha256:a", "", None, None, (), [], mark_of_facts(facts))
    assert not Rematcher(empty, [VULN], Context(now=NOW), matcher).stale(audit)
    filled = Database({}, {"PyPI": "2026-12-07T00:00:00Z"})
    assert Rematcher(filled, [VULN], Context(now=NOW), matcher).stale(audit)
    assert not Rematcher(filled, [VULN], Context(now=NOW), matcher).stale(
        replace(audit, matched=None)
    )


def test_the_run_records_the_database_and_says_once_when_it_is_stale_or_missing():
    """Current within --max-db-age; 10 days old with 7: stale, with a notice naming the fix; an
    empty database: missing; none at all: disabled."""
    fresh = run_database(Database({}, {"PyPI": "2026-12-06T00:00:00Z"}), NOW, 7)
    assert fresh["status"] == "current"
    assert fresh["notice"] is None
    assert fresh["updated"] == "2026-12-06T00:00:00Z"
    old = run_database(Database({}, {"PyPI": "2026-11-27T00:00:00Z",
                                     "Debian": "2026-12-06T00:00:00Z"}), NOW, 7)  # fmt: skip
    assert old["status"] == "stale"
    assert "10 days old" in old["notice"]
    assert "inspector db update" in old["notice"]
    missing = run_database(Database({}, {}), NOW, 7)
    assert missing["status"] == "missing"
    assert "inspector db update" in missing["notice"]
    assert run_database(None, NOW, 7)["status"] == "disabled"


def _image_row(n: int, vulns: int, rematched: bool):
    from inspector.scan.store import ImageRow

    findings = [{"fingerprint": f"fp{n}-{i}", "check": "VUL001", "severity": "high",
                 "message": f"requests has CVE-2026-{i}", "where": "layer 3", "fix": "upgrade"}
                for i in range(vulns)]  # fmt: skip
    report = {"layers": [], "findings": findings, "new": [f["fingerprint"] for f in findings],
              "fixed": [], "counts": {"high": vulns},
              "vulnerabilities": {"status": "matched", "database": "2026-11-27T00:00:00Z",
                                  "rematched": rematched,
                                  "counts": {"info": 0, "low": 0, "medium": 0, "high": vulns,
                                             "critical": 0}}}  # fmt: skip
    status = "unchanged" if rematched else "audited"
    return ImageRow(f"h/t/app{n}", f"sha256:{n:064x}", "", ("1",), status, None, 0, n, 0, report)


@pytest.mark.parametrize("fmt", ["table", "markdown", "json"])
def test_a_stale_database_is_said_once_and_counts_are_per_image(tmp_path, fmt):
    """A run against a 10-day-old database: the notice appears once whatever the number of
    images; vulnerability counts per repository (table, Markdown) and per image (JSON), the
    database's date in the headline, and how many images were matched again."""
    from inspector.scan.render import load, render

    store = Store(str(tmp_path / "scans.sqlite"))
    database = run_database(Database({}, {"PyPI": "2026-11-27T00:00:00Z"}), NOW, 7)
    store.begin("r1", NOW.isoformat(), "registry:h", "k", 1, 0, database)
    for n in range(3):
        store.save_image("r1", _image_row(n, vulns=n, rematched=n == 2))
    store.finish("r1", 0, NOW.isoformat(), partial=False, discovered=3, left_over=0, errors=[])
    text = render(fmt, load(store, "r1"))
    store.close()
    assert text.count("10 days old") == 1
    if fmt == "json":
        doc = json.loads(text)
        assert doc["database"]["status"] == "stale"
        assert doc["database"]["updated"] == "2026-11-27T00:00:00Z"
        assert [i["vulnerabilities"]["counts"]["high"] for i in doc["images"]] == [0, 1, 2]
        assert doc["summary"]["vulnerabilities"] == 3
        assert doc["summary"]["rematched"] == 1
    else:
        assert "3 vulnerabilities, advisories of 2026-11-27" in text
        assert "(1 matched again)" in text
        assert "vulns" in text


def test_a_run_without_a_database_says_so_once(tmp_path):
    """No advisory imported: one notice naming `inspector db update`, never a silent 0."""
    from inspector.scan.render import load, render

    store = Store(str(tmp_path / "scans.sqlite"))
    store.begin("r1", NOW.isoformat(), "registry:h", "k", 1, 0,
                run_database(Database({}, {}), NOW, 7))  # fmt: skip
    for n in range(3):
        store.save_image("r1", _image_row(n, vulns=0, rematched=False))
    store.finish("r1", 0, NOW.isoformat(), partial=False, discovered=3, left_over=0, errors=[])
    table = render("table", load(store, "r1"))
    store.close()
    assert table.count("notice: no advisory database") == 1
    assert "inspector db update" in table


def test_an_update_that_changes_none_of_an_image_s_matches_runs_no_check_again():
    """A new export whose changes concern other packages: the image is matched again, finds
    exactly what its audit found (the digests of the facts' JSON and of the re-match agree),
    so its stored results stand untouched and only the database mark moves on."""
    database = Database(
        {("PyPI", "requests"): (_advisory("GHSA-old"),)},
        {"Debian": "2026-12-01T00:00:00Z", "PyPI": "2026-12-01T00:00:00Z"},
    )
    found = matcher([(Component(**PYPI), "x")], database)
    facts = _facts(database.state(["Debian:12", "PyPI"]), found)
    stored = [{"check": "VUL001", "status": "failed", "reason": None, "findings": ["as stored"]}]
    audit = Audit("sha256:a", "", None, None, (), stored, mark_of_facts(facts))
    database.held[("PyPI", "flask")] = (_advisory("GHSA-other"),)
    database.imported["PyPI"] = "2026-12-07T00:00:00Z"

    def never(facts, context):
        raise AssertionError("the check ran again")

    quiet = replace(VULN, run=never)
    rematcher = Rematcher(database, [quiet], Context(now=NOW), matcher, lambda c, p: "x")
    assert rematcher.stale(audit)
    again = rematcher.rematch(audit, inventory_record(facts, [quiet]))
    assert again.results is audit.results
    assert again.matched["matches"] == audit.matched["matches"]
    assert not rematcher.stale(again)
