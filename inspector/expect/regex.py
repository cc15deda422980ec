"""CST's regular expressions (Go's RE2 syntax, matched anywhere, as `MatchString` does) read by
Python's `re`.

The two agree on what CST files use; where Go's syntax differs, the pattern is rewritten before
it is compiled: POSIX classes inside brackets (`[[:digit:]]`), `\\z` (end of text), and `$`,
which in Go ends the text only (Python's also matches before a final newline) unless `(?m)` is
set. A pattern Python cannot compile is an error in the file (exit 2), not a failed test.
"""

from __future__ import annotations

import re
from functools import lru_cache

_POSIX = {
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7F", "blank": "\\t ",
    "cntrl": "\\x00-\\x1F\\x7F", "digit": "0-9", "graph": "!-~", "lower": "a-z",
    "print": " -~", "punct": "!-/:-@\\[-`{-~", "space": "\\t\\n\\v\\f\\r ", "upper": "A-Z",
    "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f",
}  # fmt: skip
_MULTILINE = re.compile(r"\(\?[a-zA-Z]*m[a-zA-Z]*[):]")


def translate(pattern: str) -> str:
    """The Python pattern that matches what Go's would."""
    out: list[str] = []
    multiline = bool(_MULTILINE.search(pattern))
    i, in_class = 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            pair = pattern[i : i + 2]
            out.append("\\Z" if pair == "\\z" and not in_class else pair)
            i += 2
            continue
        if in_class:
            match = re.match(r"\[:(\^?)([a-z]+):\]", pattern[i:])
            if match and match.group(2) in _POSIX and not match.group(1):
                out.append(_POSIX[match.group(2)])
                i += match.end()
                continue
            if char == "]":
                in_class = False
        elif char == "[":
            in_class = True
            out.append(char)
            i += 1
            # A `]` right after `[` or `[^` is a literal in both syntaxes.
            for literal in ("^", "]"):
                if i < len(pattern) and pattern[i] == literal:
                    out.append(literal)
                    i += 1
            continue
        elif char == "$" and not multiline:
            out.append("\\Z")
            i += 1
            continue
        out.append(char)
        i += 1
    return "".join(out)


@lru_cache(maxsize=512)
def compiled(pattern: str) -> re.Pattern[str]:
    """The compiled pattern; re.error when it is not valid."""
    return re.compile(translate(pattern))


def problem(pattern: str) -> str | None:
    """Why `pattern` cannot be used, or None."""
    try:
        compiled(pattern)
    except re.error as exc:
        return f"{pattern!r} is not a valid regular expression ({exc})"
    return None


def search(pattern: str, text: str) -> bool:
    return compiled(pattern).search(text) is not None
