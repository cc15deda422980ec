"""A Dockerfile's text as instructions, each with its line, and its stages.

The parser follows the builder's own rules closely enough to number lines right: parser
directives (`# escape=`), comments, line continuations (joined as the builder joins them, so a
RUN reads as the history records it), heredocs (`<<EOF` bodies are not instructions) and
multi-stage builds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DIRECTIVE = re.compile(r"#\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(.*?)\s*$")
_COMMENT = re.compile(r"\s*#")
# `<<EOF`, `<<-EOF`, `<<"EOF"`, `2<<EOF`; not the here-string `<<<` nor `a<<b` inside a word.
_HEREDOC = re.compile(r"(?<![<\w])\d*<<(-?)([\"']?)([^\s\"'<>|;&()]+)\2")
# The instructions that make layers, and the only ones that take heredocs.
LAYER_KEYWORDS = frozenset({"RUN", "COPY", "ADD"})
_FLAG = re.compile(r"--[A-Za-z][A-Za-z0-9-]*(?:=\S*)?\s*")
_WORDS = re.compile(r"(\S+)(\s*)(.*)", re.S)
_VARIABLE = re.compile(r"\$(?:\{(\w+)(?:(:?[-+])([^}]*))?\}|(\w+))")


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: "RUN", "COPY", ...
    arguments: str  # the text after the keyword, continuation lines joined as the builder does
    line: int  # 1-based line the instruction starts on
    heredocs: tuple[str, ...] = ()  # the bodies of its `<<NAME` documents, in order

    @property
    def flags(self) -> tuple[str, ...]:
        """Leading `--name=value` options (`--from=build`, `--mount=...`)."""
        return tuple(f.strip() for f in _leading_flags(self.arguments)[0])

    @property
    def rest(self) -> str:
        """The arguments after the leading flags."""
        return _leading_flags(self.arguments)[1]


@dataclass(frozen=True)
class Stage:
    """One FROM and the instructions up to the next FROM."""

    base: str  # the image or the earlier stage it starts from, global ARG defaults substituted
    name: str | None  # `AS name`, lower case (stage names are case-insensitive)
    line: int
    instructions: tuple[Instruction, ...]


def parse(text: str) -> tuple[Instruction, ...]:
    """The instructions of a Dockerfile's text, each with the line it starts on."""
    lines = text.split("\n")
    escape = "\\"
    index = 0
    # Parser directives only count at the very top, before any other line.
    while index < len(lines):
        match = _DIRECTIVE.match(lines[index].rstrip("\r"))
        if not match:
            break
        if match.group(1).lower() == "escape" and match.group(2) in ("\\", "`"):
            escape = match.group(2)
        index += 1
    continuation = re.compile(re.escape(escape) + r"[ \t]*$")
    out: list[Instruction] = []
    while index < len(lines):
        raw = lines[index].rstrip("\r")
        index += 1
        if not raw.strip() or _COMMENT.match(raw):
            continue
        start = index  # 1-based number of the line just read
        joined, more = _trim(raw.lstrip(), continuation)
        while more and index < len(lines):
            raw = lines[index].rstrip("\r")
            index += 1
            # The builder drops comment and blank lines inside a continued instruction.
            if _COMMENT.match(raw) or not raw.strip():
                continue
            piece, more = _trim(raw, continuation)
            joined += piece
        words = _WORDS.match(joined.strip())
        if words is None:  # nothing but continuation characters
            continue
        keyword, arguments = words.group(1).upper(), words.group(3)
        heredocs: list[str] = []
        if keyword in LAYER_KEYWORDS:
            for match in _HEREDOC.finditer(arguments):
                body, index = _heredoc(lines, index, match.group(3), bool(match.group(1)))
                heredocs.append(body)
        out.append(Instruction(keyword, arguments, start, tuple(heredocs)))
    return tuple(out)


def _trim(line: str, continuation: re.Pattern[str]) -> tuple[str, bool]:
    trimmed = continuation.sub("", line)
    return trimmed, trimmed != line


def _heredoc(lines: list[str], index: int, name: str, strip_tabs: bool) -> tuple[str, int]:
    """The document's body and the index of the line after its terminator (EOF if none)."""
    body: list[str] = []
    while index < len(lines):
        line = lines[index].rstrip("\r")
        index += 1
        if (line.lstrip("\t") if strip_tabs else line) == name:
            break
        body.append(line.lstrip("\t") if strip_tabs else line)
    return "".join(f"{line}\n" for line in body), index


def _leading_flags(arguments: str) -> tuple[list[str], str]:
    flags, rest = [], arguments
    while match := _FLAG.match(rest):
        flags.append(match.group(0))
        rest = rest[match.end() :]
    return flags, rest


def stages(instructions: tuple[Instruction, ...]) -> tuple[Stage, ...]:
    """The build stages in order; global ARG defaults are substituted in each FROM."""
    defaults: dict[str, str] = {}
    found: list[Stage] = []
    current: tuple[str, str | None, int] | None = None
    body: list[Instruction] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            if current is not None:
                found.append(Stage(*current, tuple(body)))
            words = instruction.rest.split()
            base = _substitute(words[0], defaults) if words else ""
            name = words[2].lower() if len(words) >= 3 and words[1].lower() == "as" else None
            current, body = (base, name, instruction.line), []
        elif current is None:
            if instruction.keyword == "ARG":
                defaults.update(_arg_defaults(instruction.arguments))
        else:
            body.append(instruction)
    if current is not None:
        found.append(Stage(*current, tuple(body)))
    return tuple(found)


def _arg_defaults(arguments: str) -> dict[str, str]:
    out = {}
    for word in arguments.split():
        name, sep, value = word.partition("=")
        if sep:
            out[name] = value.strip("\"'")
    return out


def _substitute(word: str, values: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name, operator, word = match.group(1) or match.group(4), match.group(2), match.group(3)
        value = values.get(name)
        if operator in ("-", ":-"):
            return value if value or (value is not None and operator == "-") else word
        if operator in ("+", ":+"):
            return word if value or (value is not None and operator == "+") else ""
        return value or ""

    return _VARIABLE.sub(one, word)
