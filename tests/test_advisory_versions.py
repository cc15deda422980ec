"""Versions compared by each ecosystem's own rules (inspector.advisories.versions)."""

from __future__ import annotations

import random

import pytest
from debian.debian_support import NativeVersion

from inspector.advisories.versions import compare, is_valid, scheme, sort_key

# Debian policy 5.6.12 and dpkg's own test suite: (lower, higher) or equal pairs.
DEBIAN_LESS = [
    # policy: "~~" < "~~a" < "~" < "" < "a", each appended to one version
    ("1.0~~", "1.0~~a"),
    ("1.0~~a", "1.0~"),
    ("1.0~", "1.0"),
    ("1.0", "1.0a"),
    ("1.0~rc1", "1.0"),
    ("2.0", "1:0.9"),  # the epoch decides first
    ("1.0-1", "1.0-1+deb12u1"),
    ("2.36-9+deb12u4", "2.36-9+deb12u10"),  # digit runs compare as numbers
    ("1.0", "1.0.0"),  # "" < "." at the end of one version
    ("1.0a", "1.0+"),  # letters before every other character
    ("1.0-1", "1.0-1.1"),
    ("1.0-9", "1.0-10"),
    ("0.9-1", "1.0~rc1-1"),
    ("3.0.11-1~deb12u2", "3.0.11-1"),  # a backport's ~ sorts before the release it follows
    ("7.88.1-10+deb12u5", "7.88.1-10+deb12u12"),
    ("1.2.3-1ubuntu0.1", "1.2.3-1ubuntu0.22.04.1"),
]
DEBIAN_EQUAL = [
    ("1.0", "0:1.0"),  # a missing epoch is 0
    ("1.0-0", "1.0"),  # a missing revision compares as "0"
    ("1.01", "1.1"),  # leading zeros of a digit run do not count
    ("1~0", "1~"),  # a missing digit run counts as 0
]

# PEP 440's ordering examples.
PYPI_LESS = [
    ("1.0.dev0", "1.0a1"),
    ("1.0a1", "1.0b2.post3"),
    ("1.0b2.post3", "1.0rc1"),
    ("1.0rc1", "1.0"),
    ("1.0", "1.0.post1"),
    ("2.0", "1!0.5"),  # the epoch decides first
    ("1.0", "1.0+local.1"),  # a local version sorts after its public one
    ("1.0+abc.5", "1.0+abc.7"),
    ("1.0+abc.7", "1.0+5"),  # numeric local segments after alphanumeric ones
    ("1.26.17", "2.0.0"),
    ("2.0.0", "2.0.6"),
]
PYPI_EQUAL = [
    ("1.0", "1.0.0"),
    ("1.0", "1.0.0.0"),
    ("1.0RC1", "1.0rc1"),  # normalised as PEP 440 says
    ("1.0-post1", "1.0.post1"),
    ("v1.0", "1.0"),
]

# apk-tools' rules (its doc and test/unit/version.data).
ALPINE_LESS = [
    ("1.2.3_rc1", "1.2.3"),
    ("1.2.3", "1.2.3_p1"),
    ("1.2.3-r9", "1.2.3-r10"),
    ("1.2.3", "1.2.3a"),
    ("1.2", "1.2.0"),  # apk: the version that goes on with a number is newer
    ("1.2", "1.2-r0"),
    ("1.2_alpha", "1.2_beta"),
    ("1.2_beta", "1.2_pre"),
    ("1.2_pre", "1.2_rc"),
    ("1.2_rc", "1.2"),
    ("1.2", "1.2_cvs"),
    ("1.2_cvs", "1.2_svn"),
    ("1.2_svn", "1.2_git"),
    ("1.2_git", "1.2_hg"),
    ("1.2_hg", "1.2_p"),
    ("0.1.0_alpha", "0.1.0_alpha2"),
    ("3.1_p16", "3.1_p17"),
    ("4.2.52_p2-r1", "4.2.52_p4-r2"),
    ("1.3.5-r8", "1.3.5-r10"),
    ("2.0.0_rc3-r1", "20040401"),
    ("0.10.1_rc1", "0.10.1"),
    ("1.02", "1.1"),  # a leading zero after a dot compares as text
    ("1.2.12.04", "1.2.12.05"),
    ("0.15.1b", "0.15.1b-r2"),
    ("1.0~1234", "1.0~2345"),  # commit hashes compare as text
    ("3.3.1-r0", "3.3.2-r0"),
]
ALPINE_EQUAL = [("1.2.3-r0", "1.2.3-r0"), ("1.0.0", "1.0.0")]


def _both_ways(eco: str, low: str, high: str) -> None:
    assert compare(eco, low, high) == -1
    assert compare(eco, high, low) == 1
    assert sort_key(eco, low) < sort_key(eco, high)


@pytest.mark.parametrize(("low", "high"), DEBIAN_LESS)
def test_debian_order(low: str, high: str) -> None:
    """dpkg's order holds for Debian policy's and dpkg's tricky pairs (epochs, ~, revisions)."""
    _both_ways("Debian:12", low, high)
    _both_ways("Ubuntu:24.04", low, high)


@pytest.mark.parametrize(("a", "b"), DEBIAN_EQUAL)
def test_debian_equal(a: str, b: str) -> None:
    """Versions dpkg considers equal compare equal and share one key."""
    assert compare("Debian:12", a, b) == 0
    assert sort_key("Debian:12", a) == sort_key("Debian:12", b)


def test_debian_agrees_with_python_debian() -> None:
    """Our dpkg keys order thousands of generated valid versions exactly as python-debian does."""
    rng = random.Random(20261207)
    alphabet = "0123456789~.+-:abAZ"
    checked = 0
    for _ in range(6000):
        a, b = (_dpkg_like(rng, alphabet) for _ in range(2))
        if not (is_valid("Debian:12", a) and is_valid("Debian:12", b)):
            continue
        va, vb = NativeVersion(a), NativeVersion(b)
        assert compare("Debian:12", a, b) == (va > vb) - (va < vb), (a, b)
        checked += 1
    assert checked > 4000


def _dpkg_like(rng: random.Random, alphabet: str) -> str:
    text = str(rng.randint(0, 3)) + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 7)))
    return f"{rng.randint(0, 2)}:{text}" if rng.random() < 0.3 else text


@pytest.mark.parametrize(
    ("version", "valid"),
    [
        ("2.36-9+deb12u4", True),
        ("1:2.3", True),
        ("1.0~rc1", True),
        ("a:1.0", False),  # an epoch is a number
        ("1.0-", False),  # an empty revision
        ("1.0 beta", False),
        ("", False),
        ("1:2.0:3-1", True),  # with an epoch the upstream version may hold colons
        ("2.0:3-1", False),  # without one it may not
    ],
)
def test_debian_validity(version: str, valid: bool) -> None:
    """Versions Debian policy rejects are told apart, and comparing them still never raises."""
    assert is_valid("Debian:12", version) is valid
    assert compare("Debian:12", version, "1.0") in (-1, 0, 1)


@pytest.mark.parametrize(("low", "high"), PYPI_LESS)
def test_pypi_order(low: str, high: str) -> None:
    """PEP 440's order holds: dev < pre < release < post, epochs, local versions."""
    _both_ways("PyPI", low, high)


@pytest.mark.parametrize(("a", "b"), PYPI_EQUAL)
def test_pypi_equal(a: str, b: str) -> None:
    """Versions PEP 440 normalises to one compare equal (1.0 == 1.0.0)."""
    assert compare("PyPI", a, b) == 0


def test_pypi_invalid_sorts_first_and_never_raises() -> None:
    """A version PEP 440 rejects sorts before every valid one, by its runs, and does not raise."""
    assert not is_valid("PyPI", "2.0-SNAPSHOT")
    assert compare("PyPI", "2.0-SNAPSHOT", "0.0.1") == -1
    assert compare("PyPI", "2.0-SNAPSHOT", "10.0-SNAPSHOT") == -1
    assert compare("PyPI", "", "0") == -1
    assert compare("PyPI", "weird build", "weird build") == 0


@pytest.mark.parametrize(("low", "high"), ALPINE_LESS)
def test_alpine_order(low: str, high: str) -> None:
    """apk's order holds: _alpha.._rc before the release, _cvs.._p after, -rN, 1.2 < 1.2.0."""
    _both_ways("Alpine:v3.20", low, high)


@pytest.mark.parametrize(("a", "b"), ALPINE_EQUAL)
def test_alpine_equal(a: str, b: str) -> None:
    """Identical apk versions compare equal."""
    assert compare("Alpine:v3.20", a, b) == 0


@pytest.mark.parametrize(
    ("version", "valid"),
    [
        ("1.2.3-r0", True),
        ("0.1_pre2~1234abcd", True),
        ("0.1_git20240101_pre1", True),
        ("0.1bc", False),
        ("0.1_foobar", False),
        ("0.1-r", False),
        ("0.1-r2_pre1", False),
        ("", False),
        ("a", False),
    ],
)
def test_alpine_validity(version: str, valid: bool) -> None:
    """apk-tools' valid and invalid examples are told apart; invalid ones still compare."""
    assert is_valid("Alpine:v3.20", version) is valid
    assert compare("Alpine:v3.20", version, "1.0") in (-1, 0, 1)


def test_schemes() -> None:
    """Each OSV ecosystem maps to its versioning scheme; an unknown one has none and raises."""
    assert scheme("PyPI") == "pep440"
    assert scheme("Debian:12") == scheme("Ubuntu:24.04:LTS") == "dpkg"
    assert scheme("Alpine:v3.20") == "apk"
    assert scheme("npm") is None
    assert not is_valid("npm", "1.0.0")
    with pytest.raises(ValueError, match="npm"):
        compare("npm", "1.0.0", "2.0.0")


def test_sorted_by_key() -> None:
    """sort_key sorts a list of versions in the ecosystem's order."""
    shuffled = ["1.0", "1.0~rc1", "1:0.1", "1.0-1+deb12u1", "1.0-1", "0.9"]
    ordered = sorted(shuffled, key=lambda v: sort_key("Debian:12", v))
    assert ordered == ["0.9", "1.0~rc1", "1.0", "1.0-1", "1.0-1+deb12u1", "1:0.1"]


@pytest.mark.parametrize("ecosystem", ["PyPI", "Debian:12", "Alpine:v3.20"])
def test_huge_numbers_never_raise(ecosystem: str) -> None:
    """A hostile version with a 5,000-digit number compares (Python's int() would refuse it)."""
    for hostile in ("1" * 5000, "1." + "9" * 5000, "1.0-r" + "9" * 5000, "9" * 5000 + ":1"):
        assert compare(ecosystem, hostile, "1.0") in (-1, 0, 1)
