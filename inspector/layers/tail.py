"""The lines past a file's capture that an analyser still needs, picked as the rest streams by.

A capture keeps the first bytes of a file whole in memory (and in the layer cache), so it has a
cap. A few answers need the whole file all the same: whether a hostile 50 MB /etc/passwd holds a
uid 0 alias on its last line. For such a file the reader streams the rest past the cap, one block
at a time, and keeps only the lines a pattern picks (bounded in number and size) and a count of
the lines it saw. They are stored beside the capture, under the file's path plus a suffix no tar
name can hold, so the layer cache keeps them with the rest of the layer's read.
"""

from __future__ import annotations

import re
from collections.abc import Callable

TAIL_SUFFIX = "\x00tail"  # the picked lines, each ending in "\n"
LINES_SUFFIX = "\x00lines"  # how many lines the rest held, in ASCII; "+" appended when cut
# path -> the pattern (bytes, MULTILINE, anchored ^...$) of the lines to keep past the cap, or None
TailPicker = Callable[[str], "re.Pattern[bytes] | None"]

MAX_LINES = 1000
MAX_BYTES = 256 * 1024
MAX_LINE = 64 * 1024  # a longer line is no account entry: counted, never kept
BLOCK = 1024 * 1024


def pick(read: Callable[[int], bytes], left: int, start: bytes,
         pattern: re.Pattern[bytes]) -> tuple[bytes, bytes]:  # fmt: skip
    """(the lines `pattern` picks, the line count) from `start` and the `left` bytes `read`
    gives. Memory stays within a block, the longest line kept and what is picked."""
    picked: list[bytes] = []
    size = lines = 0
    cut = False
    carry = start
    overlong = False  # inside a line already longer than MAX_LINE: skip to its end
    while True:
        block = read(min(BLOCK, left)) if left else b""
        left -= len(block)
        final = not left
        data = carry + block
        end = len(data) if final else data.rfind(b"\n") + 1
        whole, carry = data[:end], data[end:]
        lines += whole.count(b"\n") + (1 if final and whole and not whole.endswith(b"\n") else 0)
        if overlong:
            newline = whole.find(b"\n")
            whole = whole[newline + 1 :] if newline >= 0 else b""
            overlong = newline < 0
        for match in pattern.finditer(whole):
            line = match.group(0)
            if len(line) > MAX_LINE:
                continue
            if len(picked) >= MAX_LINES or size + len(line) + 1 > MAX_BYTES:
                cut = True
                break
            picked.append(line + b"\n")
            size += len(line) + 1
        if len(carry) > MAX_LINE:
            carry, overlong = b"", True
        if final:
            break
    return b"".join(picked), f"{lines}{'+' if cut else ''}".encode()
