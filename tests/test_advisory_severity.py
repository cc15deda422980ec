"""Our severity of an advisory, from its CVSS vector or rating (inspector.advisories.severity)."""

from __future__ import annotations

import pytest

from inspector.advisories.model import Advisory, Affected
from inspector.advisories.severity import (
    UNKNOWN,
    Severity,
    cvss_score,
    qualitative,
    rating_severity,
    severity,
)

V3_HIGH = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"  # 7.5
V3_MEDIUM = "CVSS:3.1/AV:N/AC:H/PR:H/UI:N/S:U/C:H/I:H/A:N"  # 5.9
V3_CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"  # 9.8
V4_HIGH = "CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:L/VA:N/SC:N/SI:N/SA:N"  # 8.3
V2_CRITICAL = "AV:N/AC:L/Au:N/C:C/I:C/A:C"  # 10.0
V3_NONE = "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N"  # 0.0


def _advisory(
    severity: tuple[tuple[str, str], ...] = (),
    rating: str | None = None,
    package_rating: str | None = None,
) -> Advisory:
    return Advisory(
        id="GHSA-xxxx-yyyy-zzzz",
        modified="2026-01-01T00:00:00Z",
        published=None,
        withdrawn=None,
        aliases=(),
        summary=None,
        severity=severity,
        rating=rating,
        url=None,
        affected=(Affected("PyPI", "demo", (), (), package_rating),),
    )


@pytest.mark.parametrize(
    ("score", "word"),
    [
        *[(0.0, "low"), (0.1, "low"), (3.9, "low"), (4.0, "medium"), (6.9, "medium")],
        *[(7.0, "high"), (8.9, "high"), (9.0, "critical"), (10.0, "critical")],
    ],
)
def test_qualitative_scale(score: float, word: str) -> None:
    """CVSS's qualitative scale maps each boundary score to its word (0.0 reported as low)."""
    assert qualitative(score) == word


@pytest.mark.parametrize(
    ("kind", "vector", "score"),
    [
        ("CVSS_V2", V2_CRITICAL, 10.0),
        ("CVSS_V3", V3_HIGH, 7.5),
        ("CVSS_V3", V3_MEDIUM, 5.9),
        ("CVSS_V4", V4_HIGH, 8.3),
        ("CVSS_V3", V3_NONE, 0.0),
    ],
)
def test_cvss_versions_scored(kind: str, vector: str, score: float) -> None:
    """The cvss library scores v2, v3.x and v4 vectors as FIRST's calculators do."""
    assert cvss_score(kind, vector) == score


@pytest.mark.parametrize(
    ("kind", "vector"),
    [
        ("CVSS_V3", "CVSS:3.1/AV:N"),
        ("CVSS_V3", "garbage"),
        ("CVSS_V4", V3_HIGH),
        ("CVSS_V2", "(AV:N/AC:L/Au:N/C:C/I:C/A:C)"),
        ("CVSS_V3", ""),
        ("Ubuntu", "high"),
    ],
)
def test_malformed_vectors_are_not_scored(kind: str, vector: str) -> None:
    """A malformed or mislabelled vector gives no score and raises nothing."""
    assert cvss_score(kind, vector) is None


def test_vector_decides() -> None:
    """A CVSS vector decides the severity and is reported with its score and type."""
    found = severity(_advisory((("CVSS_V3", V3_HIGH),), rating="LOW"))
    assert found == Severity("high", "CVSS_V3", 7.5, V3_HIGH)


def test_highest_scored_vector_wins() -> None:
    """Among a record's vectors the highest score decides, whatever their CVSS version."""
    found = severity(_advisory((("CVSS_V4", V4_HIGH), ("CVSS_V3", V3_CRITICAL))))
    assert (found.severity, found.source, found.score) == ("critical", "CVSS_V3", 9.8)


def test_malformed_vector_falls_through_to_rating() -> None:
    """A malformed vector never raises: the record's rating decides instead."""
    found = severity(_advisory((("CVSS_V3", "CVSS:3.1/AV:X"),), rating="MODERATE"))
    assert found == Severity("medium", "rating: MODERATE", None, None)


@pytest.mark.parametrize(
    ("rating", "word"),
    [
        ("LOW", "low"),
        ("MODERATE", "medium"),
        ("HIGH", "high"),
        ("CRITICAL", "critical"),
        ("unimportant", "low"),
        ("low", "low"),
        ("medium", "medium"),
        ("high", "high"),
        ("not yet assigned", "unknown"),
        ("negligible", "low"),
        ("critical", "critical"),
        ("low*", "low"),
        ("bogus", None),
        (None, None),
    ],
)
def test_ratings(rating: str | None, word: str | None) -> None:
    """GHSA's, Debian's urgency and Ubuntu's priority words map to our severities."""
    assert rating_severity(rating) == word


def test_package_rating_before_record_rating() -> None:
    """A package-level rating (Debian's urgency) is preferred to the record-level one."""
    found = severity(_advisory(rating="HIGH", package_rating="unimportant"))
    assert found == Severity("low", "rating: unimportant", None, None)


def test_not_yet_assigned_lets_another_rating_decide() -> None:
    """Debian's "not yet assigned" says nothing, so the record's own rating decides."""
    found = severity(_advisory(rating="HIGH", package_rating="not yet assigned"))
    assert found.severity == "high"


def test_ubuntu_priority_from_severity_list() -> None:
    """Ubuntu's priority, given as OSV severity type "Ubuntu", is a rating."""
    found = severity(_advisory((("Ubuntu", "medium"),)))
    assert found == Severity("medium", "rating: medium", None, None)


def test_nothing_known_is_unknown() -> None:
    """With no vector and no rating the severity is unknown, with no source."""
    assert severity(_advisory()) == UNKNOWN
    assert severity(_advisory(rating="whatever")) == UNKNOWN


def test_evidence_order() -> None:
    """A vector beats a rating, a higher score a lower one, a rating nothing."""
    low_vector = Severity("low", "CVSS_V3", 3.1, "v")
    critical_rating = Severity("critical", "rating: CRITICAL", None, None)
    assert low_vector.evidence() > critical_rating.evidence() > UNKNOWN.evidence()
    assert Severity("high", "CVSS_V3", 7.5, "v").evidence() > low_vector.evidence()
    assert (
        Severity("high", "CVSS_V4", 7.5, "v").evidence()
        > Severity("high", "CVSS_V3", 7.5, "v").evidence()
    )
