"""Installed components matched against OSV records (inspector.advisories.match).

The records are written as the OSV schema and each database's export shape them: GHSA and PYSEC
for PyPI, DSA / DLA / DEBIAN-CVE for Debian, USN for Ubuntu, ALPINE-CVE for Alpine.
"""

from __future__ import annotations

import pytest

from inspector.advisories.match import component_key, lookup_ecosystem, match
from inspector.advisories.model import DELETED, IMPORTABLE, INSTALLED, NOT_IMPORTABLE
from inspector.analysers.inventory import Component
from tests.advisory_memory import MemoryLookup

V3_MEDIUM = "CVSS:3.1/AV:N/AC:H/PR:H/UI:N/S:U/C:H/I:H/A:N"  # 5.9
V3_HIGH = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"  # 7.5
V3_CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"  # 9.8
V3_LOCAL_HIGH = "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"  # 7.8


def python(name: str, version: str, path: str | None = None, layer: int = 3) -> Component:
    site = "/app/.venv/lib/python3.12/site-packages"
    return Component(
        ecosystem="PyPI",
        name=name,
        version=version,
        source=None,
        source_version=None,
        kind="dist-info",
        path=path or f"{site}/{name}-{version}.dist-info",
        layer=layer,
        deleted=False,
        environment=site,
        purl=f"pkg:pypi/{name}@{version}",
    )


def deb(
    name: str, version: str, source: str, source_version: str, ecosystem: str = "Debian:12"
) -> Component:
    distro = ecosystem.split(":")[0].lower()
    return Component(
        ecosystem=ecosystem,
        name=name,
        version=version,
        source=source,
        source_version=source_version,
        kind="dpkg",
        path="/var/lib/dpkg/status",
        layer=0,
        deleted=False,
        environment=None,
        purl=f"pkg:deb/{distro}/{name}@{version}",
    )


def apk(name: str, version: str, origin: str, ecosystem: str = "Alpine:v3.20") -> Component:
    return Component(
        ecosystem=ecosystem,
        name=name,
        version=version,
        source=origin,
        source_version=version,
        kind="apk",
        path="/lib/apk/db/installed",
        layer=0,
        deleted=False,
        environment=None,
        purl=f"pkg:apk/alpine/{name}@{version}",
    )


def pypi_affected(name: str, *ranges: list[dict], versions: list[str] | None = None) -> dict:
    return {
        "package": {"ecosystem": "PyPI", "name": name, "purl": f"pkg:pypi/{name}"},
        "ranges": [{"type": "ECOSYSTEM", "events": events} for events in ranges],
        "versions": versions or [],
    }


# --- one urllib3 bug as GitHub, the PyPA and the CVE list publish it -------------------------

GHSA_URLLIB3 = {
    "schema_version": "1.6.0",
    "id": "GHSA-v845-jxx5-vc9f",
    "modified": "2024-02-16T08:18:49Z",
    "published": "2023-10-02T23:22:00Z",
    "aliases": ["CVE-2023-43804"],
    "summary": "`Cookie` HTTP header isn't stripped on cross-origin redirects",
    "severity": [{"type": "CVSS_V3", "score": V3_MEDIUM}],
    "affected": [
        pypi_affected(
            "urllib3",
            [{"introduced": "0"}, {"fixed": "1.26.17"}],
            [{"introduced": "2.0.0"}, {"fixed": "2.0.6"}],
        )
    ],
    "references": [
        {"type": "WEB", "url": "https://github.example/urllib3/urllib3/commit/01220354"},
        {"type": "ADVISORY", "url": "https://github.example/advisories/GHSA-v845-jxx5-vc9f"},
    ],
    "database_specific": {"severity": "MODERATE", "github_reviewed": True},
}
PYSEC_URLLIB3 = {
    "id": "PYSEC-2023-192",
    "modified": "2023-11-08T04:13:29Z",
    "published": "2023-10-04T17:15:00Z",
    "aliases": ["CVE-2023-43804", "GHSA-v845-jxx5-vc9f"],
    "details": "urllib3 is a user-friendly HTTP client library for Python. urllib3 doesn't ...",
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "urllib3"},
            "ranges": [
                {
                    "type": "GIT",
                    "repo": "https://github.example/urllib3/urllib3",
                    "events": [{"introduced": "0"}, {"fixed": "01220354d389cd05474713f8c982d05c"}],
                },
                {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.26.17"}]},
            ],
            "versions": ["1.26.15", "1.26.16", "2.0.0", "2.0.5"],
        }
    ],
    "references": [{"type": "FIX", "url": "https://github.example/urllib3/urllib3/commit/012"}],
}


def test_aliases_merge_into_one_match() -> None:
    """GHSA and PYSEC records of one urllib3 bug become ONE match named by its CVE."""
    found = match(
        [(python("urllib3", "1.26.15"), IMPORTABLE)], MemoryLookup([GHSA_URLLIB3, PYSEC_URLLIB3])
    )
    assert len(found) == 1
    m = found[0]
    assert m.id == "CVE-2023-43804"
    assert m.advisories == ("GHSA-v845-jxx5-vc9f", "PYSEC-2023-192")
    assert m.aliases == ("GHSA-v845-jxx5-vc9f", "PYSEC-2023-192")
    assert (m.severity, m.severity_source, m.score, m.vector) == (
        "medium",
        "CVSS_V3",
        5.9,
        V3_MEDIUM,
    )
    assert m.fixed == "1.26.17"
    assert m.url == "https://github.example/advisories/GHSA-v845-jxx5-vc9f"
    assert m.summary == "`Cookie` HTTP header isn't stripped on cross-origin redirects"
    assert (m.package, m.installed, m.reachability, m.source) == (
        "urllib3",
        "1.26.15",
        IMPORTABLE,
        None,
    )
    assert m.path.endswith("urllib3-1.26.15.dist-info")
    assert m.layer == 3


def test_aliases_merge_transitively() -> None:
    """Records linked only through a third record's aliases still merge into one match."""
    pysec_only_ghsa = dict(PYSEC_URLLIB3, aliases=["GHSA-v845-jxx5-vc9f"])
    osv = dict(GHSA_URLLIB3, id="OSV-2023-1", aliases=["PYSEC-2023-192"], severity=[])
    found = match(
        [(python("urllib3", "1.26.15"), IMPORTABLE)],
        MemoryLookup([GHSA_URLLIB3, pysec_only_ghsa, osv]),
    )
    assert [m.id for m in found] == ["CVE-2023-43804"]
    assert found[0].advisories == ("GHSA-v845-jxx5-vc9f", "OSV-2023-1", "PYSEC-2023-192")


def test_fixed_is_lowest_above_installed_in_matching_range() -> None:
    """On the 2.x branch the fix named is the 2.x one, not the lower 1.26.x fix."""
    found = match([(python("urllib3", "2.0.5"), IMPORTABLE)], MemoryLookup([GHSA_URLLIB3]))
    assert [m.fixed for m in found] == ["2.0.6"]


@pytest.mark.parametrize(
    ("version", "affected"),
    [
        ("0.1", True),
        ("1.26.16", True),
        ("1.26.17", False),  # exactly at `fixed`: not affected
        ("1.26.18", False),
        ("2.0.0rc1", False),  # before the second range's introduction
        ("2.0.0", True),  # exactly at `introduced`: affected
        ("2.0.6", False),
        ("2.2.0", False),
    ],
)
def test_several_ranges(version: str, affected: bool) -> None:
    """Two ranges: affected inside either, at `introduced` included, at `fixed` excluded."""
    found = match([(python("urllib3", version), IMPORTABLE)], MemoryLookup([GHSA_URLLIB3]))
    assert bool(found) is affected


def test_one_range_with_two_intervals() -> None:
    """One range's events may open and close twice (the schema's multiple-range example)."""
    record = {
        "id": "GHSA-aaaa-bbbb-cccc",
        "affected": [
            pypi_affected(
                "demo",
                [
                    {"introduced": "1.0.0"},
                    {"fixed": "1.0.2"},
                    {"introduced": "3.0.0"},
                    {"fixed": "3.2.5"},
                ],
            )
        ],
    }
    lookup = MemoryLookup([record])
    verdicts = {
        v: [m.fixed for m in match([(python("demo", v), IMPORTABLE)], lookup)]
        for v in ("0.9", "1.0.1", "2.0", "3.1", "3.2.5")
    }
    assert verdicts == {"0.9": [], "1.0.1": ["1.0.2"], "2.0": [], "3.1": ["3.2.5"], "3.2.5": []}


def test_last_affected_is_inclusive() -> None:
    """`last_affected` includes its own version, excludes later ones, and names no fix."""
    record = {
        "id": "GHSA-llll-aaaa-ssss",
        "aliases": ["CVE-2022-45868"],
        "affected": [pypi_affected("demo", [{"introduced": "0"}, {"last_affected": "2.1.214"}])],
    }
    lookup = MemoryLookup([record])
    at = match([(python("demo", "2.1.214"), IMPORTABLE)], lookup)
    assert [(m.id, m.fixed) for m in at] == [("CVE-2022-45868", None)]
    assert match([(python("demo", "2.1.215"), IMPORTABLE)], lookup) == ()


def test_limit_bounds_the_range() -> None:
    """A `limit` event: versions at or above every limit are outside the range."""
    record = {
        "id": "GHSA-limi-tttt-xxxx",
        "affected": [pypi_affected("demo", [{"introduced": "1.0"}, {"limit": "2.0"}])],
    }
    lookup = MemoryLookup([record])
    assert len(match([(python("demo", "1.5"), IMPORTABLE)], lookup)) == 1
    assert match([(python("demo", "2.0"), IMPORTABLE)], lookup) == ()
    star = dict(record, affected=[pypi_affected("demo", [{"introduced": "1.0"}, {"limit": "*"}])])
    assert len(match([(python("demo", "99.0"), IMPORTABLE)], MemoryLookup([star]))) == 1


def test_introduced_zero_precedes_prereleases() -> None:
    """`introduced: "0"` sorts before every version, even 0.0.dev0 (PEP 440) and ~ (dpkg)."""
    pypi = {"id": "GHSA-zero-zero-zero", "affected": [pypi_affected("demo", [{"introduced": "0"}])]}
    assert len(match([(python("demo", "0.0.dev0"), IMPORTABLE)], MemoryLookup([pypi]))) == 1
    debian = _debian_cve("DEBIAN-CVE-2024-0001", "zlib", [{"introduced": "0"}])
    comp = deb("zlib1g", "1:1.2.13.dfsg-1", "zlib", "~0")
    assert len(match([(comp, INSTALLED)], MemoryLookup([debian]))) == 1


def test_git_ranges_are_ignored_and_versions_list_counts() -> None:
    """GIT ranges are never evaluated; the explicit `versions` list alone can match."""
    record = {
        "id": "PYSEC-2024-1",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "demo"},
                "ranges": [
                    {
                        "type": "GIT",
                        "repo": "https://git.example/demo",
                        "events": [{"introduced": "0"}],
                    }
                ],
                "versions": ["1.0", "1.1"],
            }
        ],
    }
    lookup = MemoryLookup([record])
    assert len(match([(python("demo", "1.1"), IMPORTABLE)], lookup)) == 1
    assert match([(python("demo", "1.2"), IMPORTABLE)], lookup) == ()


def test_semver_ranges_compared_as_ecosystem_versions() -> None:
    """A SEMVER range on a PyPI package is evaluated with PEP 440's order."""
    record = {
        "id": "GHSA-semv-erer-rrrr",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "demo"},
                "ranges": [
                    {"type": "SEMVER", "events": [{"introduced": "1.0.0"}, {"fixed": "1.10.0"}]}
                ],
            }
        ],
    }
    lookup = MemoryLookup([record])
    assert [m.fixed for m in match([(python("demo", "1.9.0"), IMPORTABLE)], lookup)] == ["1.10.0"]
    assert match([(python("demo", "1.10.0"), IMPORTABLE)], lookup) == ()


def test_invalid_installed_version_judged_by_list_only() -> None:
    """A version PEP 440 cannot parse is matched by the explicit versions list only, not ranges."""
    record = {
        "id": "GHSA-inva-lidv-ersn",
        "affected": [pypi_affected("demo", [{"introduced": "0"}], versions=["2.0-custom"])],
    }
    lookup = MemoryLookup([record])
    assert match([(python("demo", "1.0-custom"), IMPORTABLE)], lookup) == ()
    assert len(match([(python("demo", "2.0-custom"), IMPORTABLE)], lookup)) == 1


def test_withdrawn_never_matches() -> None:
    """A withdrawn advisory matches nothing, even when a version is inside its range."""
    withdrawn = dict(GHSA_URLLIB3, withdrawn="2024-01-01T00:00:00Z")
    assert match([(python("urllib3", "1.26.15"), IMPORTABLE)], MemoryLookup([withdrawn])) == ()


def test_withdrawn_record_leaves_its_aliases_matching() -> None:
    """Withdrawing the GHSA leaves the PYSEC record's match, without the withdrawn id in it."""
    withdrawn = dict(GHSA_URLLIB3, withdrawn="2024-01-01T00:00:00Z")
    found = match(
        [(python("urllib3", "1.26.15"), IMPORTABLE)], MemoryLookup([withdrawn, PYSEC_URLLIB3])
    )
    assert [m.advisories for m in found] == [("PYSEC-2023-192",)]


def test_pep503_names() -> None:
    """A record naming "PyYAML" matches the distribution normalised as "pyyaml"."""
    record = {
        "id": "PYSEC-2021-142",
        "aliases": ["CVE-2020-14343"],
        "affected": [pypi_affected("PyYAML", [{"introduced": "0"}, {"fixed": "5.4"}])],
    }
    found = match([(python("pyyaml", "5.3.1"), IMPORTABLE)], MemoryLookup([record]))
    assert [(m.id, m.fixed) for m in found] == [("CVE-2020-14343", "5.4")]


# --- Debian: source packages, DSA / DLA / DEBIAN-CVE ------------------------------------------


def _debian_affected(
    source: str, events: list[dict], release: str = "Debian:12", urgency: str | None = None
) -> dict:
    entry: dict = {
        "package": {
            "ecosystem": release,
            "name": source,
            "purl": f"pkg:deb/debian/{source}?arch=source",
        },
        "ranges": [{"type": "ECOSYSTEM", "events": events}],
    }
    if urgency:
        entry["ecosystem_specific"] = {"urgency": urgency}
    return entry


def _debian_cve(
    rid: str,
    source: str,
    events: list[dict],
    release: str = "Debian:12",
    urgency: str | None = None,
) -> dict:
    cve = rid.removeprefix("DEBIAN-")
    return {
        "id": rid,
        "modified": "2026-11-30T10:00:00Z",
        "upstream": [cve],
        "details": f"{cve} in {source}",
        "affected": [_debian_affected(source, events, release, urgency)],
        "references": [
            {"type": "ADVISORY", "url": f"https://security-tracker.debian.example/tracker/{cve}"}
        ],
    }


DSA_GLIBC = {
    "id": "DSA-5514-1",
    "modified": "2023-10-03T17:00:00Z",
    "published": "2023-10-03T00:00:00Z",
    "upstream": ["CVE-2023-4806", "CVE-2023-4911"],
    "summary": "glibc - security update",
    "affected": [_debian_affected("glibc", [{"introduced": "0"}, {"fixed": "2.36-9+deb12u3"}])],
    "references": [
        {"type": "ADVISORY", "url": "https://www.debian.example/security/2023/dsa-5514"}
    ],
}
DEBIAN_CVE_4911 = dict(
    _debian_cve(
        "DEBIAN-CVE-2023-4911",
        "glibc",
        [{"introduced": "0"}, {"fixed": "2.36-9+deb12u3"}],
        urgency="high",
    ),
    severity=[{"type": "CVSS_V3", "score": V3_LOCAL_HIGH}],
)


def test_debian_matched_by_source_package_and_version() -> None:
    """libc6 and libc-bin are judged as source glibc at its source version, each its own match."""
    comps = [
        (deb("libc6", "2.36-9+deb12u1", "glibc", "2.36-9+deb12u1"), INSTALLED),
        (deb("libc-bin", "2.36-9+deb12u1", "glibc", "2.36-9+deb12u1"), INSTALLED),
    ]
    lookup = MemoryLookup([DEBIAN_CVE_4911])
    found = match(comps, lookup)
    assert [(m.package, m.source, m.id, m.fixed) for m in found] == [
        ("libc-bin", "glibc", "CVE-2023-4911", "2.36-9+deb12u3"),
        ("libc6", "glibc", "CVE-2023-4911", "2.36-9+deb12u3"),
    ]
    assert lookup.calls == [(("Debian:12", "glibc"),)]


def test_debian_fixed_by_revision_number_not_text() -> None:
    """deb12u4 is older than deb12u10: an image at deb12u4 is affected, one at deb12u10 is not."""
    record = _debian_cve(
        "DEBIAN-CVE-2025-4802", "glibc", [{"introduced": "0"}, {"fixed": "2.36-9+deb12u10"}]
    )
    lookup = MemoryLookup([record])
    assert (
        len(match([(deb("libc6", "2.36-9+deb12u4", "glibc", "2.36-9+deb12u4"), INSTALLED)], lookup))
        == 1
    )
    assert (
        match([(deb("libc6", "2.36-9+deb12u10", "glibc", "2.36-9+deb12u10"), INSTALLED)], lookup)
        == ()
    )


def test_dsa_bundle_splits_per_cve() -> None:
    """A DSA fixing two CVEs joins each CVE's own record and does not merge the two CVEs."""
    comp = deb("libc6", "2.36-9+deb12u1", "glibc", "2.36-9+deb12u1")
    found = match([(comp, INSTALLED)], MemoryLookup([DSA_GLIBC, DEBIAN_CVE_4911]))
    by_id = {m.id: m for m in found}
    assert sorted(by_id) == ["CVE-2023-4806", "CVE-2023-4911"]
    assert by_id["CVE-2023-4911"].advisories == ("DEBIAN-CVE-2023-4911", "DSA-5514-1")
    assert by_id["CVE-2023-4911"].aliases == ("DEBIAN-CVE-2023-4911", "DSA-5514-1")
    assert by_id["CVE-2023-4911"].severity == "high"
    assert by_id["CVE-2023-4806"].advisories == ("DSA-5514-1",)
    assert by_id["CVE-2023-4806"].aliases == ("DSA-5514-1",)
    assert by_id["CVE-2023-4806"].severity == "unknown"


def test_dsa_bundle_defers_to_each_cves_own_record() -> None:
    """A CVE whose own record says this version is fixed is not reported through its DSA."""
    early = _debian_cve(
        "DEBIAN-CVE-2023-4806", "glibc", [{"introduced": "0"}, {"fixed": "2.36-9+deb12u2"}]
    )
    comp = deb("libc6", "2.36-9+deb12u2", "glibc", "2.36-9+deb12u2")
    found = match([(comp, INSTALLED)], MemoryLookup([DSA_GLIBC, DEBIAN_CVE_4911, early]))
    assert [(m.id, m.advisories) for m in found] == [
        ("CVE-2023-4911", ("DEBIAN-CVE-2023-4911", "DSA-5514-1"))
    ]


def test_no_fix_yet() -> None:
    """A DEBIAN-CVE with no fixed event matches with fixed None, its urgency as severity."""
    record = _debian_cve(
        "DEBIAN-CVE-2024-26462", "krb5", [{"introduced": "0"}], urgency="unimportant"
    )
    found = match(
        [(deb("libkrb5-3", "1.20.1-2+deb12u2", "krb5", "1.20.1-2+deb12u2"), INSTALLED)],
        MemoryLookup([record]),
    )
    assert [(m.id, m.fixed, m.severity, m.severity_source) for m in found] == [
        ("CVE-2024-26462", None, "low", "rating: unimportant")
    ]


def test_dla_other_release_not_matched() -> None:
    """A DLA for Debian 11 does not match a Debian 12 image, only a Debian 11 one."""
    dla = {
        "id": "DLA-3727-1",
        "upstream": ["CVE-2023-45853"],
        "affected": [
            _debian_affected(
                "zlib",
                [{"introduced": "0"}, {"fixed": "1:1.2.11.dfsg-2+deb11u3"}],
                release="Debian:11",
            )
        ],
    }
    lookup = MemoryLookup([dla])
    bookworm = deb("zlib1g", "1:1.2.13.dfsg-1", "zlib", "1:1.2.13.dfsg-1")
    bullseye = deb(
        "zlib1g", "1:1.2.11.dfsg-2+deb11u2", "zlib", "1:1.2.11.dfsg-2+deb11u2", "Debian:11"
    )
    found = match([(bookworm, INSTALLED), (bullseye, INSTALLED)], lookup)
    assert [(m.ecosystem, m.id, m.fixed) for m in found] == [
        ("Debian:11", "CVE-2023-45853", "1:1.2.11.dfsg-2+deb11u3")
    ]


def test_epoch_outranks_upstream() -> None:
    """An installed 1:1.2.13 is above a fix at 1.3 without an epoch."""
    record = _debian_cve("DEBIAN-CVE-2022-37434", "zlib", [{"introduced": "0"}, {"fixed": "1.3"}])
    assert (
        match(
            [(deb("zlib1g", "1:1.2.13.dfsg-1", "zlib", "1:1.2.13.dfsg-1"), INSTALLED)],
            MemoryLookup([record]),
        )
        == ()
    )


# --- Ubuntu: LTS, not Pro -----------------------------------------------------------------


def _usn(rid: str, ecosystem: str, fixed: str) -> dict:
    return {
        "id": rid,
        "upstream": ["CVE-2024-6119"],
        "summary": "openssl vulnerability",
        "severity": [{"type": "Ubuntu", "score": "medium"}],
        "affected": [
            {
                "package": {"ecosystem": ecosystem, "name": "openssl"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                ],
            }
        ],
    }


def test_ubuntu_lts_records_match_pro_ones_do_not() -> None:
    """Ubuntu:24.04 is matched by Ubuntu:24.04:LTS records, never by Ubuntu Pro's."""
    lts = _usn("USN-7018-1", "Ubuntu:24.04:LTS", "3.0.13-0ubuntu3.4")
    pro = _usn("USN-7018-2", "Ubuntu:Pro:24.04:LTS", "3.0.13-0ubuntu3.9")
    comp = deb("libssl3t64", "3.0.13-0ubuntu3.1", "openssl", "3.0.13-0ubuntu3.1", "Ubuntu:24.04")
    found = match([(comp, INSTALLED)], MemoryLookup([lts, pro]))
    assert [(m.id, m.advisories, m.fixed, m.severity, m.severity_source) for m in found] == [
        ("CVE-2024-6119", ("USN-7018-1",), "3.0.13-0ubuntu3.4", "medium", "rating: medium")
    ]


@pytest.mark.parametrize(
    ("record", "inventory"),
    [
        ("Ubuntu:24.04", "Ubuntu:24.04"),
        ("Ubuntu:24.04:LTS", "Ubuntu:24.04"),
        ("Ubuntu:24.10", "Ubuntu:24.10"),
        ("Ubuntu:Pro:24.04:LTS", None),
        ("Ubuntu:Pro:FIPS:22.04:LTS", None),
        ("Debian:12", "Debian:12"),
        ("Alpine:v3.20", "Alpine:v3.20"),
        ("PyPI", "PyPI"),
    ],
)
def test_lookup_ecosystem(record: str, inventory: str | None) -> None:
    """Each record ecosystem serves the inventory ecosystem the store must file it under."""
    assert lookup_ecosystem(record) == inventory


# --- Alpine: origins, apk versions ---------------------------------------------------------


def test_alpine_matched_by_origin_with_apk_order() -> None:
    """libcrypto3 is judged as origin openssl; 3.3.1-r3 < 3.3.2-r0 by apk's rules, -r10 > -r9."""
    record = {
        "id": "ALPINE-CVE-2024-6119",
        "upstream": ["CVE-2024-6119"],
        "affected": [
            {
                "package": {"ecosystem": "Alpine:v3.20", "name": "openssl"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.3.2-r0"}]}
                ],
            }
        ],
    }
    lookup = MemoryLookup([record])
    found = match([(apk("libcrypto3", "3.3.1-r3", "openssl"), INSTALLED)], lookup)
    assert [(m.package, m.source, m.id, m.fixed) for m in found] == [
        ("libcrypto3", "openssl", "CVE-2024-6119", "3.3.2-r0")
    ]
    assert match([(apk("libcrypto3", "3.3.2-r10", "openssl"), INSTALLED)], lookup) == ()
    assert len(match([(apk("libcrypto3", "3.3.2_rc1-r0", "openssl"), INSTALLED)], lookup)) == 1


# --- what is looked up, and the output's order ----------------------------------------------


def test_unmatchable_components_are_not_looked_up() -> None:
    """Components with no ecosystem (bundled libraries) are skipped; one lookup holds the rest."""
    bundled = Component(
        "",
        "libssl",
        "1.0.2k",
        None,
        None,
        "bundled-library",
        "/x.libs/libssl.so",
        2,
        False,
        None,
        "",
    )
    lookup = MemoryLookup([GHSA_URLLIB3])
    match(
        [
            (bundled, NOT_IMPORTABLE),
            (python("urllib3", "2.2.2"), IMPORTABLE),
            (python("urllib3", "1.0"), DELETED),
        ],
        lookup,
    )
    assert lookup.calls == [(("PyPI", "urllib3"),)]
    assert component_key(bundled) is None
    empty = MemoryLookup([])
    assert match([(bundled, NOT_IMPORTABLE)], empty) == ()
    assert empty.calls == []


def test_output_sorted_worst_first_then_package_then_id() -> None:
    """Matches come worst severity first, then by package, then by id; the order is stable."""
    records = [
        {
            "id": "GHSA-aaaa-aaaa-aaaa",
            "aliases": ["CVE-2024-2"],
            "severity": [{"type": "CVSS_V3", "score": V3_MEDIUM}],
            "affected": [pypi_affected("zeta", [{"introduced": "0"}])],
        },
        {
            "id": "GHSA-bbbb-bbbb-bbbb",
            "aliases": ["CVE-2024-10"],
            "severity": [{"type": "CVSS_V3", "score": V3_CRITICAL}],
            "affected": [pypi_affected("zeta", [{"introduced": "0"}])],
        },
        {
            "id": "GHSA-cccc-cccc-cccc",
            "aliases": ["CVE-2024-9"],
            "severity": [{"type": "CVSS_V3", "score": V3_CRITICAL}],
            "affected": [pypi_affected("alpha", [{"introduced": "0"}])],
        },
        {
            "id": "GHSA-dddd-dddd-dddd",
            "aliases": ["CVE-2024-100"],
            "affected": [pypi_affected("alpha", [{"introduced": "0"}])],
        },
        {
            "id": "GHSA-eeee-eeee-eeee",
            "aliases": ["CVE-2024-11"],
            "severity": [{"type": "CVSS_V3", "score": V3_MEDIUM}],
            "affected": [pypi_affected("alpha", [{"introduced": "0"}])],
        },
        {
            "id": "GHSA-ffff-ffff-ffff",
            "aliases": ["CVE-2024-3"],
            "severity": [{"type": "CVSS_V3", "score": V3_MEDIUM}],
            "affected": [pypi_affected("alpha", [{"introduced": "0"}])],
        },
    ]
    comps = [(python("zeta", "1.0"), IMPORTABLE), (python("alpha", "1.0"), IMPORTABLE)]
    found = match(comps, MemoryLookup(records))
    assert [(m.severity, m.package, m.id) for m in found] == [
        ("critical", "alpha", "CVE-2024-9"),
        ("critical", "zeta", "CVE-2024-10"),
        ("medium", "alpha", "CVE-2024-3"),
        ("medium", "alpha", "CVE-2024-11"),
        ("medium", "zeta", "CVE-2024-2"),
        ("unknown", "alpha", "CVE-2024-100"),
    ]
    assert match(list(reversed(comps)), MemoryLookup(list(reversed(records)))) == found


def test_severity_merge_prefers_vector_then_highest_score() -> None:
    """Merged records: a vector beats a rating, the highest score wins, its record gives the url."""
    rated = {
        "id": "PYSEC-2024-9",
        "aliases": ["CVE-2024-1"],
        "database_specific": {"severity": "CRITICAL"},
        "affected": [pypi_affected("demo", [{"introduced": "0"}])],
        "references": [{"type": "ADVISORY", "url": "https://pysec.example/9"}],
    }
    medium = {
        "id": "GHSA-mmmm-mmmm-mmmm",
        "aliases": ["CVE-2024-1"],
        "severity": [{"type": "CVSS_V3", "score": V3_MEDIUM}],
        "affected": [pypi_affected("demo", [{"introduced": "0"}])],
        "references": [{"type": "ADVISORY", "url": "https://ghsa.example/m"}],
    }
    high = {
        "id": "OSV-2024-1",
        "aliases": ["CVE-2024-1"],
        "severity": [{"type": "CVSS_V3", "score": V3_HIGH}],
        "affected": [pypi_affected("demo", [{"introduced": "0"}])],
        "references": [{"type": "WEB", "url": "https://osv.example/1"}],
    }
    comp = (python("demo", "1.0"), IMPORTABLE)
    (only_rating,) = match([comp], MemoryLookup([rated]))
    assert (only_rating.severity, only_rating.severity_source) == ("critical", "rating: CRITICAL")
    (merged,) = match([comp], MemoryLookup([rated, medium, high]))
    assert (merged.severity, merged.severity_source, merged.score) == ("high", "CVSS_V3", 7.5)
    assert merged.url == "https://osv.example/1"
    assert merged.advisories == ("GHSA-mmmm-mmmm-mmmm", "OSV-2024-1", "PYSEC-2024-9")


def test_id_without_cve_is_lowest_record_id() -> None:
    """With no CVE among its ids a match is named by its lowest record id."""
    a = {
        "id": "PYSEC-2024-7",
        "aliases": ["GHSA-zzzz-zzzz-zzzz"],
        "affected": [pypi_affected("demo", [{"introduced": "0"}])],
    }
    b = {"id": "GHSA-zzzz-zzzz-zzzz", "affected": [pypi_affected("demo", [{"introduced": "0"}])]}
    (m,) = match([(python("demo", "1.0"), IMPORTABLE)], MemoryLookup([a, b]))
    assert (m.id, m.aliases) == ("GHSA-zzzz-zzzz-zzzz", ("PYSEC-2024-7",))


def test_lowest_cve_numerically() -> None:
    """A vulnerability with two CVEs (a duplicate assignment) is named by the numerically lower."""
    record = {
        "id": "GHSA-dupl-icat-eeee",
        "aliases": ["CVE-2024-10000"],
        "affected": [pypi_affected("demo", [{"introduced": "0"}])],
    }
    other = {
        "id": "PYSEC-2024-3",
        "aliases": ["CVE-2024-9999", "GHSA-dupl-icat-eeee"],
        "affected": [pypi_affected("demo", [{"introduced": "0"}])],
    }
    (m,) = match([(python("demo", "1.0"), IMPORTABLE)], MemoryLookup([record, other]))
    assert m.id == "CVE-2024-9999"
    assert "CVE-2024-10000" in m.aliases


# --- hardening -----------------------------------------------------------------------------


def test_damaged_component_is_not_matched() -> None:
    """A component whose version or name is not text is skipped, never raised on."""
    broken = python("urllib3", "1.26.15")
    no_version = Component(**{**broken.__dict__, "version": None})  # type: ignore[arg-type]
    no_name = Component(**{**broken.__dict__, "name": None})  # type: ignore[arg-type]
    lookup = MemoryLookup([GHSA_URLLIB3])
    assert match([(no_version, IMPORTABLE), (no_name, IMPORTABLE)], lookup) == ()
    assert lookup.calls == []


def test_one_package_in_two_places() -> None:
    """One distribution in a venv and in the system site-packages gives one match for each."""
    venv = python("urllib3", "1.26.15")
    system = python("urllib3", "1.26.15", path="/usr/lib/python3/dist-packages/urllib3.dist-info")
    found = match([(venv, IMPORTABLE), (system, NOT_IMPORTABLE)], MemoryLookup([GHSA_URLLIB3]))
    assert [(m.path, m.reachability) for m in found] == [
        ("/app/.venv/lib/python3.12/site-packages/urllib3-1.26.15.dist-info", IMPORTABLE),
        ("/usr/lib/python3/dist-packages/urllib3.dist-info", NOT_IMPORTABLE),
    ]


def test_other_packages_entries_are_ignored() -> None:
    """An answer's entries for another package or release never make the component affected."""
    record = {
        "id": "DEBIAN-CVE-2024-9999",
        "upstream": ["CVE-2024-9999"],
        "affected": [
            _debian_affected("openssl", [{"introduced": "0"}]),
            _debian_affected("glibc", [{"introduced": "0"}], release="Debian:11"),
        ],
    }
    lookup = MemoryLookup([record])
    answers = lookup.advisories([("Debian:12", "openssl")])

    class Loose:
        """A store answering glibc's key with a record narrowed to other entries."""

        def advisories(self, keys):  # type: ignore[no-untyped-def]
            return {key: answers[("Debian:12", "openssl")] for key in keys}

    comp = deb("libc6", "2.36-9+deb12u4", "glibc", "2.36-9+deb12u4")
    assert match([(comp, INSTALLED)], Loose()) == ()


def test_empty_range_introduced_equals_fixed() -> None:
    """A range introduced and fixed at one version affects nothing, not even that version."""
    record = {
        "id": "GHSA-empt-yyyy-rrrr",
        "affected": [pypi_affected("demo", [{"introduced": "1.0"}, {"fixed": "1.0"}])],
    }
    assert match([(python("demo", "1.0"), IMPORTABLE)], MemoryLookup([record])) == ()


def test_listed_version_outside_ranges_names_fix_above() -> None:
    """A version in the explicit list but in no range still gets the lowest fix above it."""
    record = {
        "id": "PYSEC-2024-50",
        "affected": [
            pypi_affected("demo", [{"introduced": "0"}, {"fixed": "1.0"}], versions=["1.5"]),
            pypi_affected("demo", [{"introduced": "1.6"}, {"fixed": "2.0"}]),
        ],
    }
    found = match([(python("demo", "1.5"), IMPORTABLE)], MemoryLookup([record]))
    assert [m.fixed for m in found] == [None]
    record["affected"][0]["ranges"][0]["events"].append({"introduced": "3.0"})
    record["affected"][0]["ranges"][0]["events"].append({"fixed": "3.1"})
    found = match([(python("demo", "1.5"), IMPORTABLE)], MemoryLookup([record]))
    assert [m.fixed for m in found] == ["3.1"]


def test_bundle_whose_cves_are_one_vulnerability() -> None:
    """A bundle naming two CVEs that other records already tie together joins that match once."""
    ghsa = {
        "id": "GHSA-twoc-veso-neee",
        "aliases": ["CVE-2024-1"],
        "affected": [pypi_affected("demo", [{"introduced": "0"}])],
    }
    pysec = {
        "id": "PYSEC-2024-2",
        "aliases": ["CVE-2024-2", "GHSA-twoc-veso-neee"],
        "affected": [pypi_affected("demo", [{"introduced": "0"}])],
    }
    bundle = {
        "id": "OSV-2024-3",
        "aliases": ["CVE-2024-1", "CVE-2024-2"],
        "affected": [pypi_affected("demo", [{"introduced": "0"}])],
    }
    (m,) = match([(python("demo", "1.0"), IMPORTABLE)], MemoryLookup([ghsa, pysec, bundle]))
    assert m.id == "CVE-2024-1"
    assert m.advisories == ("GHSA-twoc-veso-neee", "OSV-2024-3", "PYSEC-2024-2")


def test_ties_ordered_by_reachability() -> None:
    """Matches equal in severity, package, id, path and layer still come in one fixed order."""
    comp = python("urllib3", "1.26.15")
    lookup = MemoryLookup([GHSA_URLLIB3])
    one = match([(comp, NOT_IMPORTABLE), (comp, IMPORTABLE)], lookup)
    other = match([(comp, IMPORTABLE), (comp, NOT_IMPORTABLE)], lookup)
    assert one == other
    assert [m.reachability for m in one] == [IMPORTABLE, NOT_IMPORTABLE]
