"""How the service starts, as far as files in the image tell: the shell scripts the default command
runs, the server config files it loads (gunicorn's `gunicorn.conf.py`, uWSGI's ini), and logging
config files that name handlers writing to files.

Part of the Python analyser's facts (`python.startup`). `python.wants` decides which files are
captured (the layer cache's fingerprint covers the analysers' own modules, not this one). Facts
only: the lines and settings as written (secrets replaced by their hint), no judgement.
"""

from __future__ import annotations

import ast
import posixpath
import re
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from inspector.analysers.imagedata import ImageData
from inspector.analysers.secrets import redact_text
from inspector.layers.model import FILE

SCRIPT_LINES = 200  # per script; a start script is tens of lines
MAX_SCRIPTS = 8  # scripts calling scripts, followed at most this far
MAX_SETTINGS = 100
SETTING_TEXT = 200  # characters of one setting's expression
MAX_LOGGING_CONFIGS = 50

SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "busybox"})
_FILE_HANDLER = re.compile(r"\b(?:[\w]+\.)*(?:Timed)?(?:Rotating|Watched)?FileHandler\b")
_FILENAME = re.compile(r"""["']?filename["']?\s*[:=]\s*["']?([^"',\s}\)]+)""")
_INI_ARGS = re.compile(r"""^\s*args\s*=\s*\(\s*["']([^"']+)["']""", re.M)
_TOP_ASSIGNMENT = re.compile(r"^([A-Za-z_]\w*)\s*=\s*(.+)$", re.M)


@dataclass(frozen=True)
class StartScript:
    path: str | None  # the script file; None for the `sh -c` string of ENTRYPOINT/CMD itself
    layer: int | None  # the layer the file comes from; None for the `sh -c` string
    lines: tuple[str, ...]  # commands as written: comments and blank lines dropped, secrets hidden
    truncated: bool  # longer than what was read: commands past it are missing


@dataclass(frozen=True)
class ServerConfig:
    server: str  # "gunicorn" | "uwsgi"
    path: str
    layer: int
    source: str  # "default" (./gunicorn.conf.py in WORKDIR) | "argument" | "environment"
    settings: dict[str, str]  # setting -> its value as written (a Python expression, or ini text)
    parsed: bool  # False: not valid Python (cut short, or broken); settings come from a line scan


@dataclass(frozen=True)
class LoggingConfig:
    path: str
    layer: int
    file_handlers: tuple[str, ...]  # handler classes that write to files, as named
    filenames: tuple[str, ...]  # the files they write, as written


@dataclass(frozen=True)
class Startup:
    scripts: tuple[StartScript, ...]
    server_configs: tuple[ServerConfig, ...]
    logging_configs: tuple[LoggingConfig, ...]


# --- analysis -------------------------------------------------------------------------------


def analyse(data: ImageData, lookup: Callable[[str], str | None],
            logging_config: Callable[[str, str], bool]) -> Startup:  # fmt: skip
    """`lookup(word)`: where exec finds a command word (PATH and WORKDIR), else None;
    `logging_config(path, name)`: whether a file is one whose handlers are read (and captured)."""
    scripts = _scripts(data, lookup)
    words = _command_words(data, scripts)
    return Startup(scripts, _server_configs(data, words), _logging_configs(data, logging_config))


def _argv(data: ImageData) -> list[str]:
    config = data.config
    return [*(config.entrypoint or []), *(config.cmd or [])]


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text, comments=True)
    except ValueError:  # an unbalanced quote: plain words are good enough to find commands
        return text.split()


def _is_shell_c(argv: list[str]) -> bool:
    return (len(argv) > 2 and posixpath.basename(argv[0]) in SHELLS
            and re.fullmatch(r"-[a-z]*c[a-z]*", argv[1]) is not None)  # fmt: skip


def _scripts(data: ImageData, lookup: Callable[[str], str | None]) -> tuple[StartScript, ...]:
    argv = _argv(data)
    out: list[StartScript] = []
    pending: list[list[str]] = [argv]
    if _is_shell_c(argv):
        out.append(StartScript(None, None, _lines(argv[2]), False))
        pending = [_split(line) for line in out[0].lines]
    seen: set[str] = set()
    while pending and len(out) < MAX_SCRIPTS:
        words = pending.pop(0)
        for i, word in enumerate(words):
            if not word or word.startswith("-") or "=" in word:
                continue
            if "/" not in word and not (i == 0 or posixpath.basename(words[i - 1]) in SHELLS):
                continue  # a bare word runs only as a command, or as a shell's script argument
            found = lookup(word)
            real = data.fs.resolve(found) if found else None
            if real is None or real in seen:
                continue
            script = _script(data, real, after_shell=i > 0 and posixpath.basename(words[i - 1])
                             in SHELLS)  # fmt: skip
            if script is None:
                continue
            seen.add(real)
            out.append(script)
            pending += [_split(line) for line in script.lines]
            if len(out) >= MAX_SCRIPTS:
                break
    return tuple(out)


def _script(data: ImageData, path: str, after_shell: bool) -> StartScript | None:
    version = data.fs.visible.get(path)
    raw = data.content(path)
    if version is None or version.entry.kind != FILE or raw is None:
        return None
    if raw.startswith(b"#!"):
        interpreter = raw[2:].split(b"\n", 1)[0].decode("utf-8", "replace").split()
        names = [posixpath.basename(w) for w in interpreter[:2]]
        if not (names and (names[0] in SHELLS or (names[0] == "env" and names[1:2]
                                                   and names[1] in SHELLS))):  # fmt: skip
            return None
    elif not after_shell or b"\0" in raw[:512]:
        return None
    text = raw.decode("utf-8", "replace")
    return StartScript(path, version.layer, _lines(text), len(raw) < version.entry.size)


def _lines(text: str) -> tuple[str, ...]:
    out: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line and not line.startswith("#"):
            out.append(redact_text(line) or "")
        if len(out) >= SCRIPT_LINES:
            break
    return tuple(out)


def _command_words(data: ImageData, scripts: tuple[StartScript, ...]) -> list[list[str]]:
    """The argv, and each line of the start scripts, as words."""
    argv = _argv(data)
    words = [argv]
    for script in scripts:
        words += [_split(line) for line in script.lines]
    return words


# --- server configs -------------------------------------------------------------------------


def _option(words: list[str], *names: str) -> Iterator[str]:
    for i, word in enumerate(words):
        for name in names:
            if word == name and i + 1 < len(words):
                yield words[i + 1]
            elif name.startswith("--") and word.startswith(name + "="):
                yield word.split("=", 1)[1]


def _after(words: list[str], program: str) -> list[str] | None:
    for i, word in enumerate(words):
        if posixpath.basename(word) == program and (i == 0 or words[i - 1] != "-c"):
            return words[i + 1 :]
    return None


def _server_configs(data: ImageData, commands: list[list[str]]) -> tuple[ServerConfig, ...]:
    workdir = data.config.workdir or "/"
    wanted: list[tuple[str, str, str]] = []  # (server, path, source)
    gunicorn_runs = False
    for words in commands:
        args = _after(words, "gunicorn")
        if args is not None:
            gunicorn_runs = True
            wanted += [("gunicorn", p, "argument") for p in _option(args, "-c", "--config")]
        args = _after(words, "uwsgi")
        if args is not None:
            wanted += [("uwsgi", p, "argument") for p in _option(args, "--ini")]
            wanted += [("uwsgi", a, "argument") for a in args if a.endswith(".ini")]
    env_args = _split(data.config.env.get("GUNICORN_CMD_ARGS") or "")
    wanted += [("gunicorn", p, "environment") for p in _option(env_args, "-c", "--config")]
    if gunicorn_runs or env_args:
        # gunicorn 20+ reads ./gunicorn.conf.py when no config is named.
        wanted.append(("gunicorn", "gunicorn.conf.py", "default"))
    out: list[ServerConfig] = []
    seen: set[str] = set()
    for server, given, source in wanted:
        if given.startswith("python:"):
            given = given[len("python:") :].replace(".", "/") + ".py"
        path = posixpath.normpath(posixpath.join(workdir, given))
        real = data.fs.resolve(path)
        version = data.fs.visible.get(real) if real else None
        raw = data.content(real) if real else None
        if version is None or raw is None or real in seen:
            continue
        seen.add(real)  # type: ignore[arg-type]
        text = raw.decode("utf-8", "replace")
        if server == "gunicorn":
            settings, parsed = _python_settings(text)
        else:
            settings, parsed = _ini_settings(text), True
        out.append(ServerConfig(server, path, version.layer, source, settings, parsed))
    return tuple(out)


def _python_settings(text: str) -> tuple[dict[str, str], bool]:
    """Top-level assignments: name -> the expression's source text."""
    settings: dict[str, str] = {}
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        for match in _TOP_ASSIGNMENT.finditer(text):
            _keep(settings, match.group(1), match.group(2))
        return settings, False
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Name):
                source = ast.get_source_segment(text, node.value) if node.value else None
                _keep(settings, target.id, source or "")
    return settings, True


def _ini_settings(text: str) -> dict[str, str]:
    settings: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        key = key.strip()
        if sep and key and not key.startswith((";", "#", "[")):
            _keep(settings, key, value.strip())
    return settings


def _keep(settings: dict[str, str], name: str, value: str) -> None:
    if len(settings) < MAX_SETTINGS and not name.startswith("_"):
        value = " ".join(value.split())
        # Masked as `name=value`, so that a secret's name marks its value (`password = "..."`),
        # and before it is cut: a credential cut in two is no longer recognisable.
        masked = redact_text(f"{name}={value}") or ""
        if masked.startswith(f"{name}="):
            masked = masked[len(name) + 1 :]
        else:  # a name no assignment has (`bind address`): the value alone
            masked = redact_text(value) or ""
        settings[name] = masked[:SETTING_TEXT]


# --- logging configs ------------------------------------------------------------------------


def _logging_configs(
    data: ImageData, logging_config: Callable[[str, str], bool]
) -> tuple[LoggingConfig, ...]:
    out: list[LoggingConfig] = []
    for path, version in sorted(data.fs.visible.items()):
        name = path[path.rfind("/") + 1 :]
        if version.entry.kind != FILE or not logging_config(path, name):
            continue
        raw = data.content_of(version)
        if raw is None:
            continue
        text = raw.decode("utf-8", "replace")
        handlers = tuple(sorted(set(_FILE_HANDLER.findall(text))))
        names = [m.group(1) for m in _FILENAME.finditer(text)]
        names += [m.group(1) for m in _INI_ARGS.finditer(text)] if handlers else []
        filenames = tuple(dict.fromkeys(redact_text(n) or "" for n in names))
        out.append(LoggingConfig(path, version.layer, handlers, filenames[:20]))
        if len(out) >= MAX_LOGGING_CONFIGS:
            break
    return tuple(out)
