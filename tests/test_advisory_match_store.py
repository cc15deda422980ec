"""Matching through the real advisory store: OSV records parsed, stored in SQLite, looked up."""

from __future__ import annotations

import pytest

from inspector.advisories import osv as osv_module
from inspector.advisories.match import lookup_ecosystem, match
from inspector.advisories.model import IMPORTABLE, INSTALLED
from inspector.advisories.osv import Record, parse
from inspector.advisories.store import AdvisoryStore
from tests import osv_records as osv
from tests.test_advisory_match import apk, deb, python


def _records(*docs: dict) -> list[Record]:
    parsed = [parse(osv.encode(d)) for d in docs]
    assert all(parsed)
    return parsed  # type: ignore[return-value]


@pytest.fixture
def store(tmp_path):
    """A SQLite advisory store holding one record set of each ecosystem."""
    opened = AdvisoryStore(str(tmp_path / "advisories.sqlite"))
    opened.import_ecosystem("PyPI", _records(osv.ghsa(), osv.pysec()), source="p")
    opened.import_ecosystem("Debian", _records(osv.dsa(), osv.debian_cve()), source="d")
    opened.import_ecosystem("Ubuntu", _records(osv.usn()), source="u")
    opened.import_ecosystem("Alpine", _records(osv.alpine()), source="a")
    yield opened
    opened.close()


def test_every_ecosystem_through_the_store(store) -> None:
    """GHSA+PYSEC merge, a DSA splits per CVE, a USN matches 24.04 LTS, Alpine by origin."""
    components = [
        (python("django", "4.2.15"), IMPORTABLE),
        (deb("libssl3", "3.0.11-1~deb12u2", "openssl", "3.0.11-1~deb12u2"), INSTALLED),
        (deb("tar", "1.35+dfsg-3", "tar", "1.35+dfsg-3", "Ubuntu:24.04"), INSTALLED),
        (apk("libcrypto3", "3.3.1-r3", "openssl"), INSTALLED),
    ]
    found = match(components, store)
    assert [(m.package, m.id, m.advisories, m.severity, m.fixed) for m in found] == [
        (
            "django",
            "CVE-2024-45230",
            ("GHSA-2gwj-7jmv-h26r", "PYSEC-2024-102"),
            "high",
            "4.2.16",
        ),
        ("tar", "CVE-2023-39804", ("USN-6543-1",), "medium", "1.35+dfsg-3ubuntu0.1"),
        ("libssl3", "CVE-2024-0727", ("DEBIAN-CVE-2024-0727",), "low", "3.0.13-1~deb12u1"),
        ("libcrypto3", "CVE-2024-5535", ("ALPINE-CVE-2024-5535",), "unknown", "3.3.2-r0"),
        ("libssl3", "CVE-2024-2511", ("DSA-5678-1",), "unknown", "3.0.14-1~deb12u1"),
        ("libssl3", "CVE-2024-4603", ("DSA-5678-1",), "unknown", "3.0.14-1~deb12u1"),
    ]


def test_ubuntu_pro_stream_never_matches_through_the_store(store) -> None:
    """An Ubuntu 18.04 image gets nothing from a notice that fixes 18.04 only in Ubuntu Pro."""
    old_tar = deb("tar", "1.29b-2ubuntu0.3", "tar", "1.29b-2ubuntu0.3", "Ubuntu:18.04")
    assert match([(old_tar, INSTALLED)], store) == ()


def test_fixed_versions_match_nothing_through_the_store(store) -> None:
    """Components at or above every fix give no match."""
    components = [
        (python("django", "4.2.16"), IMPORTABLE),
        (deb("libssl3", "3.0.14-1~deb12u1", "openssl", "3.0.14-1~deb12u1"), INSTALLED),
        (apk("libcrypto3", "3.3.2-r0", "openssl"), INSTALLED),
    ]
    assert match(components, store) == ()


@pytest.mark.parametrize(
    "ecosystem",
    [
        "PyPI",
        "Debian:12",
        "Ubuntu:24.04",
        "Ubuntu:24.04:LTS",
        "Ubuntu:23.10",
        "Ubuntu:Pro:18.04:LTS",
        "Ubuntu:Pro:FIPS:22.04:LTS",
        "Alpine:v3.20",
    ],
)
def test_store_and_matching_agree_on_ecosystems(ecosystem: str) -> None:
    """The store files a record under the key matching accepts it for, and Pro under none."""
    accepted = lookup_ecosystem(ecosystem)
    if accepted is None:
        assert ":Pro:" in osv_module.match_ecosystem(ecosystem)
    else:
        assert osv_module.match_ecosystem(ecosystem) == accepted
