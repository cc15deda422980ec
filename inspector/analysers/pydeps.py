"""Python facts the practice checks need beyond `python.py`'s: the requirements and lock files the
image ships (python.lock_files), the programs its HEALTHCHECK runs (python.healthcheck), and venv
console scripts whose `#!` interpreter is missing (python.venvs[].dangling_scripts).

`python.py` owns the capture (`wants`, so the layer cache's fingerprint sees it) and calls in here;
everything is read from the merged filesystem and the captured heads of files. Facts only.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass

from packaging.utils import canonicalize_name

from inspector.analysers.imagedata import ImageData
from inspector.layers.model import FILE, HARDLINK

_SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "busybox"})
_PIP_LONG_SHEBANG = re.compile(r"'''exec' \"?([^\" \n]+)\"? ")
_MAX_SCRIPTS = 50  # per venv: enough to say "every console script", bounded on a huge bin dir
_MAX_NAMES = 200  # pins/unpinned names kept per file
# Words of a shell line that are the shell's own, not programs looked up on PATH.
_SHELL_WORDS = frozenset({
    "exit", "return", "true", "false", "test", "[", "[[", "]]", "echo", "printf", "cd", "export",
    "set", "unset", ":", ".", "source", "eval", "read", "wait", "kill", "trap", "local", "shift",
    "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "for", "in", "case",
    "esac", "!", "{", "}", "(", ")", "time", "ulimit", "umask", "type", "alias", "break",
    "continue", "let", "declare", "typeset", "readonly", "getopts", "hash", "pwd", "times",
})  # fmt: skip
# What the word before the program can be without being the program itself.
_PREFIX_WORDS = frozenset({"exec", "command", "nohup", "timeout"})
_SEPARATORS = frozenset({"&&", "||", ";", "&", "|", ";;", "|&", "(", ")"})
# A note the command follower gives when Docker or the kernel could not run the command.
BROKEN_NOTE = re.compile(
    r"does not exist in the image|is not found on PATH|is a dangling symlink|"
    r"is not an executable file|has no shebang line|env is run without a command"
)
_REQUIREMENT = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?P<spec>.*)")
_TOML_KEY = re.compile(r'(name|version)\s*=\s*"([^"]*)"')


@dataclass(frozen=True)
class VenvScript:
    """A script in a venv's bin dir whose `#!` interpreter is missing from the image."""

    path: str
    interpreter: str  # what its shebang names (or pip's `exec` line, for long paths)


@dataclass(frozen=True)
class HealthcheckProgram:
    command: str  # the word Docker (or the shell) looks up
    resolved_path: str | None  # after PATH and symlinks; None when not found
    note: str | None  # why it cannot run (missing, not executable, bad shebang); None when it can


@dataclass(frozen=True)
class Healthcheck:
    """What the config's HEALTHCHECK runs, looked up in the image as Docker would."""

    kind: str | None  # "CMD" | "CMD-SHELL" | "NONE"; None when the image declares none
    shell: tuple[str, ...]  # CMD-SHELL: what Docker wraps it in (the config's Shell, else sh -c)
    shell_found: bool | None  # CMD-SHELL: that shell exists in the image; None for other kinds
    programs: tuple[HealthcheckProgram, ...]  # CMD: argv[0]; CMD-SHELL: each command it runs
    note: str | None  # why the programs could not be read (e.g. an unparsable shell line)


@dataclass(frozen=True)
class LockFile:
    """A requirements or lock file in the image, reduced to what it pins."""

    path: str
    kind: str  # "requirements" | "poetry.lock" | "uv.lock" | "Pipfile.lock" | "pdm.lock" | "pylock"
    layer: int
    requirements: int  # requirement lines (requirements files) or locked packages (lock files)
    pins: tuple[str, ...]  # "name==version", names normalised as PEP 503 does
    unpinned: tuple[str, ...]  # requirements files: names required without `==`, normalised
    hashed: int  # requirement lines with `--hash` (requirements files)
    includes: tuple[str, ...]  # requirements files: `-r FILE` / `-c FILE` lines, verbatim
    truncated: bool  # larger than the capture cap: the lists may be incomplete


# --- venv console scripts -------------------------------------------------------------------


def dangling_scripts(data: ImageData, venv: str) -> tuple[VenvScript, ...]:
    """Files in `venv`/bin whose `#!` names an interpreter path that does not resolve."""
    out: list[VenvScript] = []
    for child in data.fs.children(f"{venv}/bin"):
        entry = data.fs.get(child)
        if entry is None or entry.kind not in (FILE, HARDLINK):
            continue
        head = data.content(child)
        interpreter = _script_interpreter(head) if head else None
        if interpreter is None or not interpreter.startswith("/"):
            continue
        if posixpath.basename(interpreter) == "env":
            continue  # looked up on PATH when it runs: nothing fixed to check
        if data.fs.resolve(interpreter) is None:
            out.append(VenvScript(child, interpreter))
            if len(out) >= _MAX_SCRIPTS:
                break
    return tuple(out)


def _script_interpreter(head: bytes) -> str | None:
    if not head.startswith(b"#!"):
        return None
    line = head[2:].split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    interpreter = line.replace("\t", " ").split(" ", 1)[0]
    if posixpath.basename(interpreter) in _SHELLS:
        # pip writes `#!/bin/sh` + `'''exec' /long/venv/bin/python "$0" "$@"` for long paths.
        longer = _PIP_LONG_SHEBANG.search(head.decode("utf-8", "replace"))
        return longer.group(1) if longer else None
    return interpreter or None


# --- HEALTHCHECK ----------------------------------------------------------------------------


def healthcheck(
    data: ImageData, follow: Callable[[list[str]], tuple[str | None, str | None]]
) -> Healthcheck:
    """The HEALTHCHECK's programs; `follow(words)` gives (resolved path, note) for a command."""
    test = list((data.config.healthcheck or {}).get("Test") or [])
    if not test:
        return Healthcheck(None, (), None, (), None)
    kind = test[0]
    if kind == "CMD" and len(test) > 1:
        return Healthcheck(kind, (), None, (_program(test[1], test[2:], follow),), None)
    if kind == "CMD-SHELL" and len(test) > 1:
        shell = tuple((data.raw_config.get("config") or {}).get("Shell") or ("/bin/sh", "-c"))
        found = data.fs.resolve(shell[0]) is not None if shell[0].startswith("/") else None
        if found is None:
            resolved, _ = follow([shell[0]])
            found = resolved is not None
        commands = shell_commands(test[1])
        if commands is None:
            return Healthcheck(kind, shell, found, (), "the shell command could not be parsed")
        programs = tuple(_program(words[0], words[1:], follow) for words in commands)
        return Healthcheck(kind, shell, found, programs, None)
    return Healthcheck(kind, (), None, (), None)


def _program(
    word: str, args: list[str], follow: Callable[[list[str]], tuple[str | None, str | None]]
) -> HealthcheckProgram:
    resolved, note = follow([word, *args])
    broken = note if note and BROKEN_NOTE.search(note) else None
    return HealthcheckProgram(word, resolved, broken)


def shell_segments(script: str, separators: frozenset[str] = _SEPARATORS) -> list[list[str]] | None:
    """The words of a shell line, split at `separators` (`&&`, `;`, `|`, ...); None when it does
    not parse (an unclosed quote)."""
    lexer = shlex.shlex(script, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:
        return None
    segments: list[list[str]] = [[]]
    for token in tokens:
        if token in separators:
            segments.append([])
        else:
            segments[-1].append(token)
    return segments


def shell_commands(script: str) -> list[list[str]] | None:
    """The simple commands of a shell line whose program is looked up: builtins, keywords and
    words built from variables or substitutions are left out. None when it does not parse."""
    segments = shell_segments(script)
    if segments is None:
        return None
    out: list[list[str]] = []
    for segment in segments:
        words = list(segment)
        for i, word in enumerate(words):
            if word and set(word) <= set("<>&|0123456789"):
                words = words[:i]  # a redirection: the rest are its file names
                break
        while words and (re.match(r"[A-Za-z_][A-Za-z0-9_]*=", words[0])
                         or words[0] in _PREFIX_WORDS or words[0].startswith("-")):  # fmt: skip
            words = words[1:]
        if not words or words[0] in _SHELL_WORDS:
            continue
        if any(c in words[0] for c in "$`*?(){}"):
            continue  # decided only when the shell runs
        out.append(words)
    return out


# --- start scripts ---------------------------------------------------------------------------

# `cmd <<EOF` / `<<-'END'`: the lines up to the word are the command's input, not commands.
_HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_]\w*)\1")
_SCRIPT_SEPARATORS = frozenset({"&&", "||", ";", "&", "|", ";;", "|&", "(", ")", ";&", ";;&"})
_OPENERS = frozenset({"if", "while", "until"})  # followed by a command: the condition
_LISTS = frozenset({"for", "case", "select"})  # followed by words, not a command
_CLOSERS = frozenset({"fi", "done", "esac"})
_KEYWORDS = frozenset({"then", "else", "elif", "do", "!", "{", "}", "time"})


@dataclass(frozen=True)
class ScriptCommand:
    """One simple command of a shell script, words as written (variables not expanded)."""

    words: tuple[str, ...]
    exec: bool  # `exec CMD`: the shell replaces itself with it
    nested: bool  # inside if/case/a loop: whether it runs depends on the script's input


def script_lines(text: str) -> list[str]:
    """Logical lines of a shell script: continuations joined; comments, blank lines and
    here-document bodies dropped."""
    out: list[str] = []
    pending = ""
    until: str | None = None
    for raw in text.splitlines():
        if until is not None:
            if raw.strip() == until:
                until = None
            continue
        line = raw.strip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = (pending + line).strip(), ""
        if not line or line.startswith("#"):
            continue
        heredoc = _HEREDOC.search(line)
        if heredoc:
            until = heredoc.group(2)
        out.append(line)
    return out


def script_commands(text: str) -> list[ScriptCommand]:
    """The simple commands of a shell script in order, each marked `exec` and `nested`; lines
    that do not parse are left out."""
    out: list[ScriptCommand] = []
    depth = 0
    for line in script_lines(text):
        segments = shell_segments(line, _SCRIPT_SEPARATORS)
        for segment in segments or ():
            words = list(segment)
            for i, word in enumerate(words):
                if "<" in word or ">" in word:
                    words = words[:i]  # a redirection: the rest are its file names
                    break
            while words and (words[0] in _KEYWORDS or words[0] in _OPENERS
                             or words[0] in _CLOSERS or words[0] in _LISTS):  # fmt: skip
                word = words.pop(0)
                if word in _OPENERS:
                    depth += 1
                elif word in _CLOSERS:
                    depth = max(0, depth - 1)
                elif word in _LISTS:
                    depth += 1
                    words = []
            executes = bool(words) and words[0] == "exec"
            if executes:
                words = words[1:]
                while words and words[0].startswith("-"):
                    words = words[1:]  # exec's own options (-a NAME aside, rare)
            if words:
                out.append(ScriptCommand(tuple(words), executes, depth > 0))
    return out


def handover(commands: list[ScriptCommand]) -> int | None:
    """Which command a start script hands the container to: the last `exec` outside any
    if/case/loop, else the last `exec` anywhere, else the last command outside them whose
    program is not a shell builtin or a set-up step; None when there is none."""
    top = [i for i, c in enumerate(commands) if c.exec and not c.nested]
    anywhere = [i for i, c in enumerate(commands) if c.exec]
    last = [i for i, c in enumerate(commands) if not c.nested and _serves(c.words[0])]
    for found in (top, anywhere, last):
        if found:
            return found[-1]
    return None


_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
# Programs a start script runs to prepare, not to serve.
_SETUP_PROGRAMS = frozenset({"mkdir", "chmod", "chown", "rm", "cp", "ln", "touch", "sleep"})


def _serves(program: str) -> bool:
    """Whether a script's command word can be the service (not a builtin, set-up or assignment)."""
    return not (program in _SHELL_WORDS or program in _SETUP_PROGRAMS
                or _ASSIGNMENT.match(program))  # fmt: skip


# --- requirements and lock files ------------------------------------------------------------


def lock_files(data: ImageData, kind_of: Callable[[str], str | None]) -> tuple[LockFile, ...]:
    """Every visible requirements or lock file `kind_of(path)` names, with what it pins."""
    out = []
    for path, version in data.fs.visible.items():
        if version.entry.kind != FILE:
            continue
        kind = kind_of(path)
        if kind is None:
            continue
        raw = data.content_of(version)
        if raw is None:
            continue
        truncated = len(raw) < version.entry.size
        text = raw.decode("utf-8", "replace")
        if kind == "requirements":
            out.append(_requirements(path, version.layer, text, truncated))
        elif kind == "Pipfile.lock":
            out.append(_pipfile_lock(path, version.layer, text, truncated))
        else:
            out.append(_toml_lock(path, kind, version.layer, text, truncated))
    return tuple(sorted(out, key=lambda f: f.path))


def _requirements(path: str, layer: int, text: str, truncated: bool) -> LockFile:
    lines = _logical_lines(text, truncated)
    pins: list[str] = []
    unpinned: list[str] = []
    includes: list[str] = []
    hashed = count = 0
    for line in lines:
        if line.startswith("-"):
            option = line.split(None, 1)[0].split("=", 1)[0]
            if option in ("-r", "--requirement", "-c", "--constraint") or line[:2] in ("-r", "-c"):
                includes.append(line)
            continue  # -e, index options and the like: not a pinned requirement either way
        requirement = line.partition(" --")[0].partition(";")[0].strip()
        match = _REQUIREMENT.fullmatch(requirement)
        direct = match is not None and match.group("spec").startswith("@")
        if match is None or (not direct and ("://" in line or line.endswith((".whl", ".zip")))):
            continue  # a URL, path or archive: decided by what it points at
        count += 1
        hashed += "--hash" in line
        name, spec = canonicalize_name(match.group("name")), match.group("spec").strip()
        pinned = re.fullmatch(r"===?\s*([^\s,*]+)", spec)
        if pinned:
            pins.append(f"{name}=={pinned.group(1)}")
        elif direct:
            pins.append(f"{name}@")  # a direct reference: fixed by its URL, no version here
        else:
            unpinned.append(name)
    return LockFile(path, "requirements", layer, count, tuple(pins[:_MAX_NAMES]),
                    tuple(unpinned[:_MAX_NAMES]), hashed, tuple(includes[:20]),
                    truncated)  # fmt: skip


def _logical_lines(text: str, truncated: bool) -> list[str]:
    raw = text.splitlines()
    if truncated and raw:
        raw = raw[:-1]  # cut in the middle
    out: list[str] = []
    pending = ""
    for line in raw:
        line = re.sub(r"(^|\s)#.*", "", line).strip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = (pending + line).strip(), ""
        if line:
            out.append(line)
    if pending.strip():
        out.append(pending.strip())
    return out


def _toml_lock(path: str, kind: str, layer: int, text: str, truncated: bool) -> LockFile:
    """[[package]] (poetry, uv, pdm) or [[packages]] (pylock) tables: their name and version."""
    pins: list[str] = []
    current: dict[str, str] | None = None

    def close() -> None:
        if current and current.get("name") and current.get("version"):
            pins.append(f"{canonicalize_name(current['name'])}=={current['version']}")

    count = 0
    for raw in text.splitlines():
        line = raw.strip()
        if line in ("[[package]]", "[[packages]]"):
            close()
            current, count = {}, count + 1
            continue
        if line.startswith("["):
            close()
            current = None
            continue
        match = _TOML_KEY.match(line)
        if current is not None and match and match.group(1) not in current:
            current[match.group(1)] = match.group(2)
    if not truncated:
        close()
    return LockFile(path, kind, layer, count, tuple(pins), (), 0, (), truncated)


def _pipfile_lock(path: str, layer: int, text: str, truncated: bool) -> LockFile:
    pins: list[str] = []
    try:
        document = json.loads(text)
    except ValueError:
        document = {}
    for section in ("default", "develop"):
        packages = document.get(section) if isinstance(document, dict) else None
        for name, info in (packages or {}).items() if isinstance(packages, dict) else ():
            version = info.get("version") if isinstance(info, dict) else None
            if isinstance(version, str) and version.startswith("=="):
                pins.append(f"{canonicalize_name(name)}=={version[2:]}")
    return LockFile(path, "Pipfile.lock", layer, len(pins), tuple(pins), (), 0, (), truncated)
