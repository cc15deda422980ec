"""Our severity of an advisory: its CVSS score on CVSS's qualitative scale, else its rating.

A vector (OSV `severity[]` of type CVSS_V4, CVSS_V3 or CVSS_V2) is scored with the `cvss` library
and mapped as the CVSS specifications' qualitative scale does: 0.1-3.9 low, 4.0-6.9 medium,
7.0-8.9 high, 9.0-10.0 critical; 0.0 ("none") is reported as low, since a record that names a
vulnerability says something is wrong. When a record has several vectors, the highest score
decides (on a tie the newer CVSS version). A malformed vector never raises: it is skipped.

Without a usable vector the record's own rating decides: GitHub's LOW / MODERATE / HIGH /
CRITICAL, Debian's urgency (unimportant, low, medium, high; "not yet assigned" is unknown) and
Ubuntu's priority (negligible, low, medium, high, critical; OSV's `severity[]` type "Ubuntu").
A package-level rating (`affected[]`) is preferred to the record's. Otherwise "unknown".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from cvss import CVSS2, CVSS3, CVSS4, CVSSError

from inspector.advisories.model import VULN_SEVERITIES, Advisory

_CALCULATORS = {"CVSS_V2": CVSS2, "CVSS_V3": CVSS3, "CVSS_V4": CVSS4}
# On equal scores the newer CVSS version's vector is shown.
_VERSION_RANK = {"CVSS_V2": 0, "CVSS_V3": 1, "CVSS_V4": 2}

# Ratings as databases write them, lowercased, trailing "*" and blanks dropped.
_RATINGS = {
    # GitHub (GHSA) and most databases' words
    "low": "low",
    "moderate": "medium",
    "medium": "medium",
    "high": "high",
    "critical": "critical",
    "important": "high",
    # Debian's urgency: "unimportant" is a real issue that Debian will not fix in stable
    "unimportant": "low",
    "not yet assigned": "unknown",
    "end-of-life": "unknown",
    # Ubuntu's priority
    "negligible": "low",
    "untriaged": "unknown",
}

_RANK = {name: i for i, name in enumerate(VULN_SEVERITIES)}


@dataclass(frozen=True)
class Severity:
    severity: str  # one of VULN_SEVERITIES
    source: str | None  # "CVSS_V3", "CVSS_V4", "CVSS_V2", "rating: MODERATE", or None (unknown)
    score: float | None  # the CVSS base score, when a vector decided
    vector: str | None

    def evidence(self) -> tuple:
        """Orders severities by how well they are evidenced, then by how bad they are.

        A scored vector beats a rating, a rating beats nothing; among vectors the higher score,
        then the newer CVSS version; among ratings the worse one. Used to choose between the
        severities of advisories merged into one match.
        """
        if self.score is not None:
            return (2, self.score, _VERSION_RANK.get(self.source or "", -1), self.vector or "")
        if self.source is not None:
            return (1, _RANK[self.severity], 0, self.source)
        return (0, 0, 0, "")


UNKNOWN = Severity("unknown", None, None, None)


def qualitative(score: float) -> str:
    """CVSS's qualitative rating of a base score (0.0 reported as low)."""
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    return "low"


@lru_cache(maxsize=16384)
def cvss_score(kind: str, vector: str) -> float | None:
    """The base score of a CVSS vector of OSV type `kind`; None when it cannot be scored."""
    calculator = _CALCULATORS.get(kind)
    if calculator is None or not isinstance(vector, str):
        return None
    try:
        score = float(calculator(vector.strip()).base_score)
    except (CVSSError, ValueError, TypeError, KeyError, IndexError, ArithmeticError):
        return None
    if not 0.0 <= score <= 10.0:
        return None
    return score


def rating_severity(rating: str | None) -> str | None:
    """Our severity for a database's rating word; None when the word is not one we know."""
    if not isinstance(rating, str):
        return None
    return _RATINGS.get(rating.strip().rstrip("*").strip().lower())


def from_vectors(vectors: Iterable[tuple[str, str]]) -> Severity | None:
    """The best-scored of OSV `severity[]` entries, or None when no vector can be scored."""
    best: Severity | None = None
    for kind, vector in vectors:
        score = cvss_score(kind, vector)
        if score is None:
            continue
        candidate = Severity(qualitative(score), kind, score, vector)
        if best is None or candidate.evidence() > best.evidence():
            best = candidate
    return best


def from_ratings(ratings: Iterable[str | None]) -> Severity | None:
    """The first rating that says a severity (package-level ones come first), or None.

    Words that say nothing yet ("not yet assigned", "untriaged") let a later rating decide.
    """
    for rating in ratings:
        mapped = rating_severity(rating)
        if mapped is not None and mapped != "unknown":
            return Severity(mapped, f"rating: {rating.strip()}", None, None)  # type: ignore[union-attr]
    return None


def severity(advisory: Advisory) -> Severity:
    """The severity of one advisory: its best CVSS vector, else its rating, else unknown."""
    vectors = [(kind, score) for kind, score in advisory.severity if kind in _CALCULATORS]
    found = from_vectors(vectors)
    if found is not None:
        return found
    ratings: list[str | None] = [affected.rating for affected in advisory.affected]
    # Ubuntu writes its priority into severity[] with the type "Ubuntu".
    ratings += [score for kind, score in advisory.severity if kind not in _CALCULATORS]
    ratings.append(advisory.rating)
    return from_ratings(ratings) or UNKNOWN
