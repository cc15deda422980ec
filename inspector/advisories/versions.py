"""Versions compared by each ecosystem's own rules: PEP 440, dpkg and apk.

`sort_key(ecosystem, version)` turns a version into a plain, hashable tuple whose ordering is the
ecosystem's; `compare` is its three-way form. Keys are tuples (never objects with a Python
`__lt__`) so that matching, which parses every bound once per record, compares them at C speed.

- **PyPI**: PEP 440 through `packaging` (epochs, pre/post/dev releases, local versions,
  `1.0 == 1.0.0`). A version PEP 440 rejects ("2.0-SNAPSHOT", "") does not raise: it sorts before
  every valid version, as `packaging`'s old LegacyVersion did, and among such versions by their
  digit runs (numerically) and text runs (case-folded). `is_valid` tells; matching judges an
  invalid installed version only by a record's explicit `versions` list, never by its ranges.
- **Debian, Ubuntu** (dpkg): Debian policy 5.6.12, as dpkg's `verrevcmp` applies it: the epoch
  numerically, then the upstream version, then the revision; each is compared as alternating
  non-digit runs (character by character: `~` before the end of the run, the end before
  letters, letters before every other character) and digit runs (numerically). python-debian
  implements the same rules, but re-parses both strings with regular expressions on every
  comparison (about 30 us, too slow for 50,000 advisories); the tests check these keys against
  it on thousands of generated pairs.
- **Alpine** (apk): apk-tools' `version.c`: `digit{.digit}...{letter}{_suffix{number}}...
  {~hash}{-rN}`; `_alpha _beta _pre _rc` sort before the release, `_cvs _svn _git _hg _p`
  after; a number with a leading zero after a dot is compared as text (`1.02 < 1.1`); where one
  version goes on and the other ends, a pre-release suffix is older, and otherwise the component
  that comes later in the grammar is older (`1.2 < 1.2.0 < 1.2a`, `1.2 < 1.2-r0`). apk compares
  invalid versions too (up to the first token it cannot read), and so do these keys.
"""

from __future__ import annotations

import re
from functools import lru_cache

from packaging.version import InvalidVersion, Version

PEP440 = "pep440"
DPKG = "dpkg"
APK = "apk"

# The part of an OSV ecosystem before the first ":" names its versioning scheme.
_SCHEMES = {"PyPI": PEP440, "Debian": DPKG, "Ubuntu": DPKG, "Alpine": APK}


def scheme(ecosystem: str) -> str | None:
    """The versioning scheme of an OSV ecosystem ("Debian:12" -> "dpkg"); None when unknown."""
    return _SCHEMES.get(ecosystem.split(":", 1)[0])


def compare(ecosystem: str, a: str, b: str) -> int:
    """-1, 0 or 1 as `a` sorts before, with or after `b` in `ecosystem`'s own order.

    Raises ValueError for an ecosystem whose versions we cannot order (see `scheme`).
    """
    ka = sort_key(ecosystem, a)
    kb = sort_key(ecosystem, b)
    return (ka > kb) - (ka < kb)


def sort_key(ecosystem: str, version: str) -> tuple:
    """A tuple ordering versions as `ecosystem` does; equal keys are equal versions."""
    kind = scheme(ecosystem)
    if kind is None:
        raise ValueError(f"no version order is known for ecosystem {ecosystem!r}")
    return _KEYS[kind](version)


def is_valid(ecosystem: str, version: str) -> bool:
    """Whether `version` is well formed in `ecosystem` (False for an unknown ecosystem)."""
    kind = scheme(ecosystem)
    if kind is None:
        return False
    return _VALID[kind](version)


_MAX_DIGITS = 4000  # below Python's limit on int() of a string (4300 digits)


def _number(digits: str) -> int:
    """A run of ASCII digits as a number; a run too long for int() (only a hostile version has
    one) is cut to its last digits, so it still orders somewhere and never raises."""
    if len(digits) > _MAX_DIGITS:
        digits = digits[-_MAX_DIGITS:]
    return int(digits)


# --- PEP 440 ---------------------------------------------------------------------------------

_RUNS = re.compile(r"[0-9]+|[^0-9]+")


@lru_cache(maxsize=65536)
def pep440_key(version: str) -> tuple:
    try:
        return (1, Version(version))
    except (InvalidVersion, ValueError):  # ValueError: a release number too long for int()
        runs = _RUNS.findall(version.strip().lower())
        return (0, tuple((0, _number(r)) if "0" <= r[0] <= "9" else (1, r) for r in runs))


def _pep440_valid(version: str) -> bool:
    return pep440_key(version)[0] == 1


# --- dpkg ------------------------------------------------------------------------------------

_DPKG_UPSTREAM = re.compile(r"[0-9A-Za-z.+~:-]+")
_DPKG_REVISION = re.compile(r"[0-9A-Za-z.+~]+")


def _dpkg_order(char: str) -> int:
    """A character's weight in a non-digit run: `~` < end of run (0) < letters < the rest."""
    if char == "~":
        return -1
    if char.isascii() and char.isalpha():
        return ord(char)
    return ord(char) + 256


_DPKG_WEIGHTS = {chr(c): _dpkg_order(chr(c)) for c in range(128)}


def _dpkg_part(text: str) -> tuple:
    """The key of an upstream version or a revision.

    dpkg compares a part as a stream of weights: a non-digit run (each character's weight, then
    0 for its end), a digit run (its number), and so on, the first non-digit run maybe empty and
    a missing run counting as "" or 0; two parts compare as their streams padded with zeros.
    Tuples do not compare as padded streams, so the stream, its trailing zeros dropped, is
    written as one element per non-zero weight with the count of zeros before it: positive
    weights as (1, -zeros, w), negative ones (only `~`) as (-1, zeros, w), and (0,) for the end,
    which orders every case as padding would.
    """
    key: list[tuple] = []
    zeros = 0
    expect_text = True
    weights = _DPKG_WEIGHTS
    for run in _RUNS.findall(text):
        if "0" <= run[0] <= "9":
            if expect_text:
                zeros += 1  # the empty non-digit run before this digit run
            number = _number(run)
            if number:
                key.append((1, -zeros, number))
                zeros = 0
            else:
                zeros += 1
            expect_text = True
        else:
            for char in run:
                weight = weights.get(char) or _dpkg_order(char)
                key.append((1, -zeros, weight) if weight > 0 else (-1, zeros, weight))
                zeros = 0
            zeros += 1  # the end of this run
            expect_text = False
    key.append((0,))
    return tuple(key)


def _dpkg_split(version: str) -> tuple[int | None, str, str | None]:
    """(epoch, upstream, revision) as dpkg splits them: the epoch before the first colon, the
    revision after the last hyphen; None for a missing epoch or revision, or an epoch that is
    not a number (an invalid version, compared as if it had none)."""
    epoch: int | None = None
    rest = version
    head, colon, tail = version.partition(":")
    if colon and head.isascii() and head.isdigit():
        epoch = _number(head)
        rest = tail
    upstream, dash, revision = rest.rpartition("-")
    if not dash:
        return epoch, rest, None
    return epoch, upstream, revision


@lru_cache(maxsize=65536)
def dpkg_key(version: str) -> tuple:
    epoch, upstream, revision = _dpkg_split(version)
    return (epoch or 0, _dpkg_part(upstream), _dpkg_part(revision or ""))


def _dpkg_valid(version: str) -> bool:
    epoch, upstream, revision = _dpkg_split(version)
    if not _DPKG_UPSTREAM.fullmatch(upstream):
        return False
    if revision is not None and not _DPKG_REVISION.fullmatch(revision):
        return False
    # Without an epoch the upstream version may hold no colon (policy 5.6.12).
    return epoch is not None or ":" not in upstream


# --- apk -------------------------------------------------------------------------------------

# apk-tools' token kinds, in the order its grammar allows them.
_INITIAL, _DIGIT, _LETTER, _SUFFIX, _SUFFIX_NO, _HASH, _REVISION, _END, _INVALID = range(9)
_PRE_SUFFIXES = ("alpha", "beta", "pre", "rc")
_POST_SUFFIXES = ("cvs", "svn", "git", "hg", "p")
# A suffix's rank: pre-release ones below 0 (the release itself), post-release ones above.
_SUFFIX_RANK = {s: i - len(_PRE_SUFFIXES) for i, s in enumerate(_PRE_SUFFIXES)} | {
    s: i + 1 for i, s in enumerate(_POST_SUFFIXES)
}
_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")
_HEX = frozenset("0123456789abcdef")
_DIGITS = frozenset("0123456789")


def _apk_tokens(version: str) -> tuple[list[tuple[int, object]], bool]:
    """(kind, value) tokens up to the end or the first invalid one, and whether it ended well."""
    tokens: list[tuple[int, object]] = []
    text = version
    n = len(text)
    i = 0

    def digits(start: int) -> int:
        end = start
        while end < n and text[end] in _DIGITS:
            end += 1
        return end

    end = digits(0)
    if end == 0:
        return [(_INVALID, 0)], False
    tokens.append((_INITIAL, _number(text[:end])))
    kind = _INITIAL
    i = end
    while i < n:
        c = text[i]
        if c in _LOWER:
            if kind > _DIGIT:
                break
            kind = _LETTER
            tokens.append((kind, c))
            i += 1
        elif c == "." or c in _DIGITS:
            if c == ".":
                if kind > _DIGIT:
                    break
                i += 1
            if kind in (_INITIAL, _DIGIT):
                kind = _DIGIT
            elif kind == _SUFFIX:
                kind = _SUFFIX_NO
            else:
                break
            end = digits(i)
            if end == i:
                break
            run = text[i:end]
            if kind == _DIGIT:
                # A leading zero makes apk compare the run as text (as Gentoo does); any other
                # run sorts after every text one and numerically among its kind.
                tokens.append((kind, (0, run) if run[0] == "0" else (1, _number(run))))
            else:
                tokens.append((kind, _number(run)))
            i = end
        elif c == "_":
            if kind > _SUFFIX_NO:
                break
            end = i + 1
            while end < n and text[end] in _LOWER:
                end += 1
            rank = _SUFFIX_RANK.get(text[i + 1 : end])
            if rank is None:
                break
            kind = _SUFFIX
            tokens.append((kind, rank))
            i = end
        elif c == "~":
            if kind >= _HASH:
                break
            end = i + 1
            while end < n and text[end] in _HEX:
                end += 1
            if end == i + 1:
                break
            kind = _HASH
            tokens.append((kind, text[i + 1 : end]))
            i = end
        elif c == "-":
            if kind >= _REVISION or not text.startswith("-r", i):
                break
            end = digits(i + 2)
            if end == i + 2:
                break
            kind = _REVISION
            tokens.append((kind, _number(text[i + 2 : end])))
            i = end
        else:
            break
    else:
        tokens.append((_END, 0))
        return tokens, True
    tokens.append((_INVALID, 0))
    return tokens, False


@lru_cache(maxsize=65536)
def apk_key(version: str) -> tuple:
    """apk's order as a tuple: one (class, value) per token, the class settling unlike kinds.

    Where two versions have tokens of different kinds at the same place, apk says the one whose
    token is a pre-release suffix is older, else the one whose token comes later in the grammar
    (the end and an invalid token count as the last two kinds). The class encodes that: -100
    for a pre-release suffix, minus the kind otherwise; tokens of one kind compare by value.
    """
    tokens, _ = _apk_tokens(version)
    key = []
    for kind, value in tokens:
        if kind == _SUFFIX and value < 0:  # type: ignore[operator]
            key.append((-100, value))
        else:
            key.append((-kind, value))
    return tuple(key)


def _apk_valid(version: str) -> bool:
    return _apk_tokens(version)[1]


_KEYS = {PEP440: pep440_key, DPKG: dpkg_key, APK: apk_key}
_VALID = {PEP440: _pep440_valid, DPKG: _dpkg_valid, APK: _apk_valid}
