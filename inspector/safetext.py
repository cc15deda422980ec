"""Image data shown to people is shown, never obeyed: one place that makes a string safe to print
on a terminal, and JSON text safe to print anywhere.

Every image is untrusted input. A label, a log line, a file name, an os-release field or a tag
may carry ESC sequences that clear the screen, retitle the window or write the clipboard (OSC
52), C1 controls (0x9b is a one-byte CSI), bidirectional overrides that reorder what a reviewer
reads, and, from file names that are not UTF-8, lone surrogates that no terminal encoding can
print. Each becomes a visible escape (`\\x1b`, `\\u202e`); newlines and tabs stay.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# In JSON text, C0 controls are already escaped by json.dumps; these are what it leaves raw.
_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _shown(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"  # a byte that was not UTF-8 (surrogateescape)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible(text: str) -> str:
    """`text` with every character a terminal would obey (or cannot encode) made visible."""
    return _UNSAFE.sub(_shown, text)


def json_text(text: str) -> str:
    """JSON text (from json.dumps) with the characters it leaves raw written as \\u escapes:
    still the same JSON document, now printable and valid UTF-8."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
