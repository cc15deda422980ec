"""Which image history step each Dockerfile instruction made.

Builders record a step's `created_by` in their own words:

- the legacy builder: metadata and copies as `/bin/sh -c #(nop) COPY file:<hash> in /app `,
  `/bin/sh -c #(nop)  ENV A=1`, `/bin/sh -c #(nop)  EXPOSE 8000`; RUN as the command it ran
  (`/bin/sh -c pip install x`), prefixed with `|N NAME=value ...` when build arguments are in
  scope;
- BuildKit: `RUN /bin/sh -c pip install x # buildkit` (the same `|N` prefix),
  `COPY requirements.txt . # buildkit`, `ENV A=1`, `EXPOSE map[8000/tcp:{}]` (newer: `[8000/tcp]`),
  and `WORKDIR /app`, which makes a layer.

Both expand variables in COPY, WORKDIR, ENV, USER, ... (so a `$VAR` in the Dockerfile matches
anything there) but not in RUN, which the shell expands; and the facts redact secrets in every
step. Steps are matched to instructions by kind and content, then aligned from the end: the base
image's history comes first.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from inspector.dockerfile.parse import Instruction

_NOP = re.compile(r"(?:/bin/sh -c|cmd /S /C) #\(nop\)\s*([A-Za-z]+)\s?(.*)", re.S)
_BUILDKIT = "# buildkit"
_VARIABLE = re.compile(r"\$(?:\{\w+(?::?[-+?][^}]*)?\}|\w+)")
_GO_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_GO_LIST = re.compile(r'\[((?:\s*"(?:[^"\\]|\\.)*")*)\s*\]')
_FLAGS = re.compile(r"(?:--[A-Za-z][A-Za-z0-9-]*(?:=\S*)?\s+)*")
# The digits start where no digit precedes them: else each position in a long run of digits is
# a new start that scans the whole run (quadratic).
_HEREDOC_SOURCE = re.compile(r"(?<!\d)\d*<<-?([\"']?)(.+)\1")
_PIPES = "/dev/pipes/"


@dataclass(frozen=True)
class Step:
    """A history step as the builder wrote it: the instruction kind and what follows it."""

    kind: str | None  # "RUN", "COPY", ...; None when the builder recorded nothing
    body: str  # whitespace collapsed, without BuildKit's "# buildkit" marker


def step(created_by: str) -> Step:
    text = created_by.strip()
    if not text:
        return Step(None, "")
    if text.endswith(_BUILDKIT):
        text = text[: -len(_BUILDKIT)].rstrip()
    nop = _NOP.fullmatch(text)
    if nop:
        return Step(nop.group(1).upper(), _collapse(nop.group(2)))
    keyword, _, rest = text.partition(" ")
    if keyword in KEYWORDS:
        return Step(keyword, _collapse(rest))
    # The legacy builder records a RUN as the command line alone.
    return Step("RUN", _collapse(text))


def steps(history: Sequence[Any]) -> list[Step]:
    return [
        step(h.get("created_by") or "") if isinstance(h, dict) else Step(None, "") for h in history
    ]


def matches(instruction: Instruction, found: Step) -> bool:
    """Whether `found` is the step `instruction` would have recorded."""
    if found.kind != instruction.keyword:
        return False
    compare = _COMPARE.get(instruction.keyword)
    return compare(instruction, found.body) if compare else True


def align(instructions: Sequence[Instruction], found: Sequence[Step]) -> list[tuple[int, int]]:
    """(instruction index, step index) pairs, in order, as many as can be matched in order.

    Aligned from the end, and among equally good alignments the one using the latest steps: the
    base image's history comes before ours and may hold look-alikes (`WORKDIR /app`)."""
    n, m = len(instructions), len(found)
    same = [[matches(instructions[n - 1 - i], found[m - 1 - j]) for j in range(m)]
            for i in range(n)]  # fmt: skip
    best = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            skip = max(best[i + 1][j], best[i][j + 1])
            best[i][j] = max(skip, best[i + 1][j + 1] + 1) if same[i][j] else skip
    pairs = []
    i = j = 0
    while i < n and j < m:
        if same[i][j] and best[i][j] == best[i + 1][j + 1] + 1:
            pairs.append((n - 1 - i, m - 1 - j))
            i, j = i + 1, j + 1
        elif best[i][j + 1] == best[i][j]:
            j += 1  # keep looking for this instruction further back
        else:
            i += 1
    return pairs[::-1]


# --- per instruction ------------------------------------------------------------------------


def _run(instruction: Instruction, body: str) -> bool:
    if instruction.heredocs:
        documents = [_collapse(doc) for doc in instruction.heredocs]
        # A heredoc starting with a shebang runs as a file BuildKit mounts under /dev/pipes/.
        if instruction.heredocs[0].startswith("#!") and _ends_in_pipe(body):
            return True
        return any(doc and doc in body for doc in documents)
    argv = _exec_form(instruction.rest)
    command = " ".join(argv) if argv is not None else instruction.rest
    if _ends_with(body, _collapse(command)):
        return True
    from inspector.analysers.secrets import redact_text

    # The facts redact secrets in history: a token in the command reads as its hint there.
    return _ends_with(body, _collapse(redact_text(command) or ""))


def _copy(instruction: Instruction, body: str) -> bool:
    words = _exec_form(instruction.rest) or instruction.rest.split()
    if len(words) < 2:
        return False
    *sources, dest = words
    legacy = re.fullmatch(r"(?:--\S+ )*(\S+) in (.*)", body)
    if legacy:
        return _same(dest, legacy.group(2))
    recorded = _FLAGS.sub("", body, count=1).split()
    if not recorded or not _same(dest, recorded[-1]):
        return False
    wanted = [_HEREDOC_SOURCE.sub(r"<<\2", s) for s in sources]
    return _same(" ".join(wanted), " ".join(recorded[:-1]))


def _env(instruction: Instruction, body: str) -> bool:
    words = _split(instruction.rest)
    if not words:
        return False
    # `ENV NAME value` (the legacy form) sets one variable; both builders record NAME=value.
    keys = [words[0]] if "=" not in words[0] else [w.split("=", 1)[0] for w in words if "=" in w]
    if not body.startswith(keys[0] + "="):
        return False
    return _in_order(body, [rf"(?:^|\s){re.escape(key)}=" for key in keys])


def _arg(instruction: Instruction, body: str) -> bool:
    names = [w.split("=", 1)[0] for w in _split(instruction.rest)]
    if not names or not re.match(rf"{re.escape(names[0])}(?:=|\s|$)", body):
        return False
    # Values may be redacted to hints with spaces: look for each name, not for NAME=value words.
    return _in_order(body, [rf"(?:^|\s){re.escape(name)}(?:=|\s|$)" for name in names])


def _workdir(instruction: Instruction, body: str) -> bool:
    path = _unquote(_collapse(instruction.rest))
    if not _VARIABLE.search(path):
        path = posixpath.normpath(path)
    recorded = body.rstrip("/") or "/"
    if path.startswith("/"):
        return _fits(_literals(path.rstrip("/") or "/"), recorded)
    # Relative to the previous WORKDIR: the builders record the absolute result, so anything
    # then "/" comes first.
    first, *rest = _literals(path.rstrip("/"))
    return _fits(["", "/" + first, *rest], recorded)


def _user(instruction: Instruction, body: str) -> bool:
    return _same(_unquote(instruction.rest), body)


def _expose(instruction: Instruction, body: str) -> bool:
    wanted = set()
    for word in instruction.rest.split():
        number = re.match(r"\d+", word.rsplit(":", 1)[-1])
        if number:
            wanted.add(number.group(0))
    return wanted <= set(re.findall(r"\d+", body))


def _command(instruction: Instruction, body: str) -> bool:
    recorded = _go_list(body)
    if recorded is None:
        return False
    argv = _exec_form(instruction.rest)
    if argv is not None:
        return [_collapse(a) for a in argv] == [_collapse(r) for r in recorded]
    return bool(recorded) and _collapse(recorded[-1]) == _collapse(instruction.rest)


def _healthcheck(instruction: Instruction, body: str) -> bool:
    recorded = _go_list(body)
    if recorded is None:
        return False
    rest = instruction.rest.strip()
    if rest.upper() == "NONE":
        return recorded[:1] == ["NONE"]
    command = re.sub(r"(?i)^CMD\s+", "", rest)
    argv = _exec_form(command)
    if argv is not None:
        return [_collapse(a) for a in recorded] == ["CMD", *(_collapse(a) for a in argv)]
    return recorded[:1] == ["CMD-SHELL"] and _collapse(recorded[-1]) == _collapse(command)


def _list(instruction: Instruction, body: str) -> bool:
    """VOLUME and SHELL: both builders print the list Go's way, `[/data /logs]`."""
    words = _exec_form(instruction.rest) or instruction.rest.split()
    return _same(" ".join(words), body.removeprefix("[").removesuffix("]"))


def _verbatim(instruction: Instruction, body: str) -> bool:
    return _same(instruction.rest, body)


_COMPARE: dict[str, Callable[[Instruction, str], bool]] = {
    "RUN": _run,
    "COPY": _copy,
    "ADD": _copy,
    "ENV": _env,
    "LABEL": _env,
    "ARG": _arg,
    "WORKDIR": _workdir,
    "USER": _user,
    "EXPOSE": _expose,
    "CMD": _command,
    "ENTRYPOINT": _command,
    "HEALTHCHECK": _healthcheck,
    "VOLUME": _list,
    "SHELL": _list,
    "STOPSIGNAL": _verbatim,
    "MAINTAINER": _verbatim,
    "ONBUILD": _verbatim,
}
# Every instruction but FROM records a step under its own name (BuildKit's ONBUILD none).
KEYWORDS = frozenset(_COMPARE)


# --- helpers --------------------------------------------------------------------------------


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _ends_with(body: str, suffix: str) -> bool:
    return bool(suffix) and (body == suffix or body.endswith(" " + suffix))


def _literals(expected: str) -> list[str]:
    """The literal parts of `expected` around its `$VAR`s, each of which stands for whatever the
    builder put there."""
    parts, last = [], 0
    for match in _VARIABLE.finditer(expected):
        parts.append(expected[last : match.start()])
        last = match.end()
    parts.append(expected[last:])
    return parts


def _fits(parts: list[str], text: str) -> bool:
    """Whether `text` is `parts` joined by any text at all. Not a regex of `.*?`s: two of them
    over a 128 KiB history step backtrack for minutes. The first part must start the text, the
    last end it, and each one between is taken where it first occurs (with wildcards alone,
    the leftmost place never loses)."""
    if len(parts) == 1:
        return text == parts[0]
    first, *middle, last = parts
    position, end = len(first), len(text) - len(last)
    if end < position or not text.startswith(first) or not text.endswith(last):
        return False
    for part in middle:
        found = text.find(part, position, end)
        if found < 0:
            return False
        position = found + len(part)
    return True


def _same(expected: str, recorded: str) -> bool:
    return _fits(_literals(_collapse(expected)), _collapse(recorded))


def _ends_in_pipe(body: str) -> bool:
    """The command's last word is a file under /dev/pipes/ (where BuildKit mounts a heredoc),
    found without a `/dev/pipes/\\S+$` search, which rescans to the end from each occurrence."""
    words = body.rsplit(None, 1)
    at = words[-1].find(_PIPES) if words else -1
    return at >= 0 and at + len(_PIPES) < len(words[-1])


def _in_order(body: str, patterns: list[str]) -> bool:
    position = 0
    for pattern in patterns:
        found = re.compile(pattern).search(body, position)
        if not found:
            return False
        position = found.end()
    return True


def _exec_form(arguments: str) -> list[str] | None:
    """The JSON array of an exec-form instruction, or None for the shell form."""
    text = arguments.strip()
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _go_list(body: str) -> list[str] | None:
    """The strings of the first Go-formatted string list, `["a" "b"]`, in `body`."""
    found = _GO_LIST.search(body)
    if found is None:
        return None
    out = []
    for raw in _GO_STRING.findall(found.group(1)):
        try:
            out.append(json.loads(f'"{raw}"'))
        except ValueError:
            out.append(raw)  # a Go-only escape (`\x03`): compare it as written
    return out


def _split(arguments: str) -> list[str]:
    try:
        return shlex.split(arguments)
    except ValueError:
        return arguments.split()


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text
