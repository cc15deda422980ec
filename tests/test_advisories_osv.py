"""OSV records as GHSA, PYSEC, DSA, DEBIAN-CVE, USN and ALPINE publish them, read into what the
store keeps; hostile records skipped and counted, never raised."""

from __future__ import annotations

import json

import pytest

from inspector.advisories.osv import (
    MAX_RECORD_BYTES,
    Record,
    Skipped,
    export_of,
    match_ecosystem,
    normalise_name,
    parse,
)
from tests import osv_records as osv


def test_a_ghsa_record_gives_its_aliases_vector_rating_url_and_pep503_name():
    """GHSA: CVE alias, CVSS vector, database_specific severity as rating, the ADVISORY url,
    the package name normalised ("Django" -> "django")."""
    record = parse(osv.encode(osv.ghsa()))
    assert record is not None
    assert record.id == "GHSA-2gwj-7jmv-h26r"
    assert record.aliases == ("CVE-2024-45230",)
    assert record.severity == (("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"),)
    assert record.rating == "HIGH"
    assert record.url == "https://nvd.nist.example/vuln/detail/CVE-2024-45230"
    assert record.summary == "Django vulnerable to denial-of-service via very large inputs"
    (affected,) = record.affected
    assert (affected.ecosystem, affected.name) == ("PyPI", "django")
    assert affected.ranges[0].type == "ECOSYSTEM"
    assert affected.ranges[0].events == (("introduced", "4.2"), ("fixed", "4.2.16"))
    assert affected.rating is None


def test_a_pysec_record_takes_its_summary_from_the_first_line_of_details():
    """PYSEC has no summary: the first line of details stands in; GIT and ECOSYSTEM ranges and
    the enumerated versions are kept in order; WEB is the url when there is no ADVISORY."""
    record = parse(osv.encode(osv.pysec()))
    assert record is not None
    assert record.summary == ("An issue was discovered in Django 5.1 before 5.1.1, 5.0 before "
                              "5.0.9, and 4.2 before 4.2.16.")  # fmt: skip
    assert record.aliases == ("CVE-2024-45230", "GHSA-2gwj-7jmv-h26r")
    assert [r.type for r in record.affected[0].ranges] == ["GIT", "ECOSYSTEM"]
    assert record.affected[0].versions == ("4.2", "4.2.1", "4.2.15")
    assert record.url == "https://www.djangoproject.example/weblog/2024/sep/03/"
    assert record.rating is None


def test_a_dsa_record_takes_upstream_cves_as_aliases():
    """DSA: `upstream` CVEs are aliases; the ecosystem stays release-scoped ("Debian:12")."""
    record = parse(osv.encode(osv.dsa()))
    assert record is not None
    assert record.aliases == ("CVE-2024-2511", "CVE-2024-4603")
    assert record.affected[0].ecosystem == "Debian:12"
    assert record.summary == "openssl - security update"
    assert record.lookup_keys() == {("Debian:12", "openssl")}


def test_a_debian_cve_record_keeps_each_releases_urgency_and_its_missing_fix():
    """DEBIAN-CVE: ecosystem_specific urgency becomes each entry's rating; a release with no
    fixed event keeps only its introduced one (no fix yet)."""
    record = parse(osv.encode(osv.debian_cve()))
    assert record is not None
    ratings = {a.ecosystem: a.rating for a in record.affected}
    assert ratings == {"Debian:12": "low", "Debian:13": "not yet assigned"}
    no_fix = next(a for a in record.affected if a.ecosystem == "Debian:13")
    assert no_fix.ranges[0].events == (("introduced", "0"),)
    assert record.aliases == ("CVE-2024-0727",)


def test_a_usn_record_is_found_by_release_never_by_its_pro_stream():
    """USN: "Ubuntu:22.04:LTS" matches the key "Ubuntu:22.04"; "Ubuntu:23.10" its own; the Pro
    stream never matches the plain release; the Ubuntu severity is kept as given."""
    record = parse(osv.encode(osv.usn()))
    assert record is not None
    assert record.severity == (("Ubuntu", "medium"),)
    assert record.url == "https://ubuntu.example/security/notices/USN-6543-1"
    jammy = record.advisory(("Ubuntu:22.04", "tar"))
    assert jammy is not None
    assert [a.ecosystem for a in jammy.affected] == ["Ubuntu:22.04:LTS"]
    assert record.advisory(("Ubuntu:23.10", "tar")) is not None
    assert record.advisory(("Ubuntu:18.04", "tar")) is None  # only its Pro stream is named
    assert ("Ubuntu:Pro:18.04", "tar") in record.lookup_keys()


def test_an_alpine_record_is_scoped_to_its_branch():
    """ALPINE: "Alpine:v3.20" matches that branch only; no severity, no rating."""
    record = parse(osv.encode(osv.alpine()))
    assert record is not None
    assert record.advisory(("Alpine:v3.20", "openssl")) is not None
    assert record.advisory(("Alpine:v3.19", "openssl")) is None
    assert record.severity == ()
    assert record.rating is None
    assert record.summary is not None
    assert record.summary.startswith("Issue summary: Calling the OpenSSL API")
    assert len(record.summary) <= 200


def test_advisory_narrows_to_the_package_looked_up_with_pep503_lookup_names():
    """A lookup of "PyPI"/"DJANGO_" style names finds the record and keeps only that package."""
    doc = osv.ghsa()
    other = {"ecosystem": "PyPI", "name": "other.pkg"}
    doc["affected"].append({"package": other, "ranges": [{"type": "ECOSYSTEM", "events": []}]})
    record = parse(osv.encode(doc))
    assert record is not None
    found = record.advisory(("PyPI", "Django"))
    assert found is not None
    assert [a.name for a in found.affected] == ["django"]
    assert record.advisory(("PyPI", "Other_Pkg")) is not None


def test_a_record_survives_the_stores_round_trip_unchanged():
    """dumps/loads give back the same record for every database's shape."""
    for doc in (osv.ghsa(), osv.pysec(), osv.dsa(), osv.debian_cve(), osv.usn(), osv.alpine()):
        record = parse(osv.encode(doc))
        assert record is not None
        assert Record.loads(record.dumps()) == record


def test_a_withdrawn_record_says_when_it_was_withdrawn():
    """`withdrawn` is kept (matching ignores such records; rematching calls them fixed)."""
    doc = osv.ghsa()
    doc["withdrawn"] = "2024-10-01T00:00:00Z"
    record = parse(osv.encode(doc))
    assert record is not None
    assert record.withdrawn == "2024-10-01T00:00:00Z"
    advisory = record.advisory(("PyPI", "django"))
    assert advisory is not None
    assert advisory.withdrawn == "2024-10-01T00:00:00Z"


def test_a_long_summary_is_cut_to_200_characters():
    """A summary longer than 200 characters ends in an ellipsis within 200."""
    doc = osv.ghsa()
    doc["summary"] = "word " * 200
    record = parse(osv.encode(doc))
    assert record is not None
    assert record.summary is not None
    assert len(record.summary) <= 200
    assert record.summary.endswith("…")


def test_ecosystem_names_give_their_export_and_match_key():
    """Exports are the part before the first colon; only Ubuntu's ":LTS" is dropped to match."""
    assert export_of("Ubuntu:Pro:18.04:LTS") == "Ubuntu"
    assert export_of("Debian:12") == "Debian"
    assert export_of("PyPI") == "PyPI"
    assert match_ecosystem("Ubuntu:24.04:LTS") == "Ubuntu:24.04"
    assert match_ecosystem("Ubuntu:Pro:24.04:LTS") == "Ubuntu:Pro:24.04"
    assert match_ecosystem("Alpine:v3.20") == "Alpine:v3.20"
    assert normalise_name("PyPI", "Zope.Interface__x") == "zope-interface-x"
    assert normalise_name("Debian:12", "Zope.Interface") == "Zope.Interface"


HOSTILE = {
    "not JSON": b"{not json",
    "not UTF-8": b'{"id": "\xff\xfe", "modified": "x"}',
    "a list": b"[1, 2, 3]",
    "no id": json.dumps({"modified": "2024-01-01T00:00:00Z"}).encode(),
    "id is a number": json.dumps({"id": 7, "modified": "2024"}).encode(),
    "aliases is a string": json.dumps({**osv.ghsa(), "aliases": "CVE-1"}).encode(),
    "affected is an object": json.dumps({**osv.ghsa(), "affected": {"a": 1}}).encode(),
    "a range event is a number": json.dumps(
        {
            **osv.ghsa(),
            "affected": [
                {
                    "package": {"ecosystem": "PyPI", "name": "x"},
                    "ranges": [{"type": "ECOSYSTEM", "events": [{"fixed": 1}]}],
                }
            ],
        }
    ).encode(),
    "a range with no type": json.dumps(
        {
            **osv.ghsa(),
            "affected": [
                {"package": {"ecosystem": "PyPI", "name": "x"}, "ranges": [{"events": []}]}
            ],
        }
    ).encode(),
    "a giant id": json.dumps({**osv.ghsa(), "id": "G" * 10_000}).encode(),
    "a giant version list": json.dumps(
        {
            **osv.ghsa(),
            "affected": [
                {"package": {"ecosystem": "PyPI", "name": "x"}, "versions": ["1"] * 100_001}
            ],
        }
    ).encode(),
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "over the size cap": b'{"id": "x", "details": "' + b"a" * MAX_RECORD_BYTES + b'"}',
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_record_is_skipped_and_counted_never_raised(name):
    """Each hostile shape gives None and one count in Skipped, no exception."""
    skipped = Skipped()
    assert parse(HOSTILE[name], skipped) is None
    assert skipped.total == 1


def test_free_form_blocks_of_another_shape_are_no_rating_not_an_error():
    """database_specific / ecosystem_specific are free-form: a list there gives no rating."""
    doc = osv.debian_cve()
    doc["database_specific"] = ["odd"]
    doc["affected"][0]["ecosystem_specific"] = "odd"
    record = parse(osv.encode(doc))
    assert record is not None
    assert record.rating is None
    assert record.affected[0].rating is None


def test_skipped_counts_describe_their_reasons():
    """Skipped.describe() names each reason with its count."""
    skipped = Skipped()
    parse(b"nope", skipped)
    parse(b"nope", skipped)
    parse(b"[]", skipped)
    assert skipped.describe() == "3 (2 not JSON, 1 not an object)"
