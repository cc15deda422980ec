"""Which of the discovered repositories, tags and images a scan audits: pure functions of
what discovery found and what the user asked (`--repo`, `--tags`, `--newest`, `--since`)."""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from inspector.errors import InspectorError

T = TypeVar("T")
MAX_TAG = 128  # characters of a tag, as the OCI distribution spec bounds them
REGEX_PREFIX = "re:"
# No container image was built before Docker existed: an earlier `created` is a reproducible
# build's constant (1970-01-01 for ko, Bazel, Nix and Jib; 1980-01-01 for buildpacks; year 1
# for Go's zero time), not a date.
EARLIEST_REAL = dt.datetime(2013, 1, 1, tzinfo=dt.UTC)
_RELATIVE = re.compile(r"([0-9]{1,6})([hdw])")
_UNITS = {"h": dt.timedelta(hours=1), "d": dt.timedelta(days=1), "w": dt.timedelta(weeks=1)}
_SINCE_USAGE = "write a date (2026-11-01), a UTC time (2026-11-01T12:00:00Z) or an age (7d, 12h)"
_FRACTION = re.compile(r"(\.[0-9]{6})[0-9]+")


class SelectionError(InspectorError):
    """A selection option (`--tags`, `--newest`, `--since`) that cannot be understood."""


def match_repositories(names: Iterable[str], globs: Sequence[str]) -> list[str]:
    """The names matching any of `globs` (fnmatch, case-sensitive, on the full name; `*` also
    crosses `/`, so `team/*` covers `team/a/b`), in the order given; all of them without globs."""
    if not globs:
        return list(names)
    return [name for name in names if any(fnmatch.fnmatchcase(name, g) for g in globs)]


def tag_matcher(patterns: Sequence[str]) -> Callable[[str], bool]:
    """A test of one tag against `patterns`: each a glob, or `re:REGEX` matched against the
    whole tag. Bad regexes are refused here, once, before any tag is read.

    Tags longer than 128 characters, which no registry accepts, never match: that bounds the
    work of each match. It does not make a pathological regex such as `(a+)+$` safe, as no
    input bound can; the pattern is the user's own, and Python's atomic groups and possessive
    quantifiers (`(?>a+)`, `a++`) write it safely."""
    globs: list[str] = []
    regexes: list[re.Pattern[str]] = []
    for pattern in patterns:
        if pattern.startswith(REGEX_PREFIX):
            source = pattern[len(REGEX_PREFIX) :]
            try:
                regexes.append(re.compile(source))
            except (re.error, RecursionError, OverflowError) as exc:
                raise SelectionError(
                    f"--tags {pattern[:120]!r}: not a regular expression ({exc})"
                ) from exc
        else:
            globs.append(pattern)

    def matches(tag: str) -> bool:
        if len(tag) > MAX_TAG:
            return False
        return any(fnmatch.fnmatchcase(tag, g) for g in globs) or any(
            r.fullmatch(tag) for r in regexes
        )

    return matches


def match_tags(tags: Iterable[str], patterns: Sequence[str]) -> list[str]:
    """The tags matching any of `patterns` (see tag_matcher), in the order given; all of them
    (up to 128 characters) without patterns."""
    if not patterns:
        return [tag for tag in tags if len(tag) <= MAX_TAG]
    matches = tag_matcher(patterns)
    return [tag for tag in tags if matches(tag)]


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


def newest(items: Sequence[T], n: int, created: Callable[[T], dt.datetime | None]) -> list[T]:
    """The `n` most recently created of `items`, plus every item whose creation time is
    unknown (None), in the order given; ties at the boundary are broken by that order.

    Unknown items are kept, not dropped: an image without a real `created` (reproducible
    builds set a constant, see parse_created) may well be the newest, and a scan that silently
    skips it would pass an image it never looked at."""
    if n < 1:
        raise SelectionError(f"--newest {n}: write a number of images, 1 or more")
    when = [created(item) for item in items]
    known = sorted(
        (index for index, moment in enumerate(when) if moment is not None),
        key=lambda index: _utc(when[index]),  # type: ignore[arg-type]
        reverse=True,
    )
    # sorted() stays stable with reverse=True: tied items keep their given order.
    kept = set(known[:n]) | {index for index, moment in enumerate(when) if moment is None}
    return [item for index, item in enumerate(items) if index in kept]


def since(
    items: Iterable[T], date: dt.datetime, created: Callable[[T], dt.datetime | None]
) -> list[T]:
    """The items created at or after `date` (naive times are UTC), plus those whose creation
    time is unknown (None), in the order given; unknown ones are kept for the reason
    `newest` gives."""
    floor = _utc(date)
    kept = []
    for item in items:
        moment = created(item)
        if moment is None or _utc(moment) >= floor:
            kept.append(item)
    return kept


def parse_since(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """`--since`: a date (`2026-11-01`, midnight UTC), a time (`2026-11-01T12:00:00Z`, or with
    an offset; without one, UTC), or an age before `now` (`12h`, `7d`, `2w`)."""
    value = text.strip()
    relative = _RELATIVE.fullmatch(value)
    if relative:
        moment = now or dt.datetime.now(dt.UTC)
        return _utc(moment) - int(relative.group(1)) * _UNITS[relative.group(2)]
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.]+(Z|[+-][0-9:]+)?)?", value):
        raise SelectionError(f"--since {text[:40]!r}: {_SINCE_USAGE}")
    try:
        return _utc(dt.datetime.fromisoformat(value))
    except ValueError as exc:
        raise SelectionError(f"--since {text[:40]!r}: {exc}; {_SINCE_USAGE}") from exc


def parse_created(value: object) -> dt.datetime | None:
    """An image config's `created` (RFC 3339, often with nanoseconds) as a UTC datetime, or
    None when it is missing, not a time, or a reproducible build's constant (EARLIEST_REAL)."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    # fromisoformat takes at most microseconds on some Python versions: the rest is noise.
    text = _FRACTION.sub(r"\1", value.strip())
    try:
        moment = _utc(dt.datetime.fromisoformat(text))
    except ValueError:
        return None
    return None if moment < EARLIEST_REAL else moment
