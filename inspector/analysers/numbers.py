"""Numbers read from image text (USER, passwd ids, version parts in file names) without `int()`
on unbounded input: Python refuses to convert more than 4300 digits (a ValueError deep inside an
analyser), and a number that long is never a real id or version anyway.
"""

from __future__ import annotations

# Go's int on the platforms images run on: what runc's strconv.Atoi accepts.
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
# Digits worth converting: any valid id or version part is far shorter.
MAX_DIGITS = 19
_DIGITS = frozenset("0123456789")


def _is_ascii_digits(text: str) -> bool:
    # str.isdigit() also accepts "²" and other Unicode digits, which int() then refuses.
    return bool(text) and _DIGITS.issuperset(text)


def decimal(text: str, max_digits: int = MAX_DIGITS) -> int | None:
    """`text` as a non-negative number when it is only ASCII digits, at most `max_digits` of them
    once leading zeros are dropped; else None (not a number, or too long to be a real one)."""
    if not _is_ascii_digits(text):
        return None
    significant = text.lstrip("0")
    if len(significant) > max_digits:
        return None
    return int(significant or "0")


def go_atoi(text: str) -> tuple[int | None, bool]:
    """Go's `strconv.Atoi` on `text`, as runc's account code calls it: (value, in_range).

    Syntax errors give (None, False). A well-formed number beyond int64 gives the value Go clamps
    it to and False (Atoi's range error), without ever converting thousands of digits.
    """
    sign, digits = (text[0], text[1:]) if text[:1] in ("+", "-") else ("", text)
    if not _is_ascii_digits(digits):
        return None, False
    significant = digits.lstrip("0")
    negative = sign == "-"
    if len(significant) > MAX_DIGITS:
        return (INT64_MIN if negative else INT64_MAX), False
    value = -int(significant or "0") if negative else int(significant or "0")
    if value > INT64_MAX:
        return INT64_MAX, False
    if value < INT64_MIN:
        return INT64_MIN, False
    return value, True


def digits_key(digits: str) -> tuple[int, str]:
    """A digit string's numeric order, exact at any length and never converted: more
    significant digits is larger, equal lengths compare as text (`python3.<5000 digits>`)."""
    significant = digits.lstrip("0")
    return len(significant), significant
