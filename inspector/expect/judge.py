"""Decide an expectation file's metadata and file tests from what the layers hold (no container),
and judge each command test from what its command did.

Semantics follow CST's own (pkg/types/v2 in its repository): metadata compares the config's
text exactly, ports by number; a file test's path gets `$VAR` from the image's environment; a
mode is compared as Go's `FileMode.String()` writes it; the regular expressions match anywhere.
"""

from __future__ import annotations

import posixpath
import re
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from inspector.expect.model import (
    CommandTest,
    EnvVar,
    ExpectationFile,
    ExpectationResult,
    FileContentTest,
    FileExistenceTest,
)
from inspector.expect.regex import compiled, search
from inspector.image.config import ImageConfig
from inspector.layers.model import BLOCK, CHAR, DIR, FIFO, HARDLINK, SYMLINK, Entry
from inspector.layers.overlay import FileSystem

CONTENT_CAP = 1024 * 1024  # bytes of a file a content test reads (captured in the layer pass)
SHOWN = 80  # characters of a value or a matched text quoted in a failure


def clip(text: str, width: int = SHOWN) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= width else text[: width - 1] + "…"


# --- $VAR, as Go's os.Expand reads it ----------------------------------------------------------

_SPECIAL = "*#$@!?-0123456789"


def _shell_name(text: str) -> tuple[str, int]:
    """The name after a `$` and the characters it takes (Go's getShellName)."""
    if text[0] == "{":
        if len(text) > 2 and text[1] in _SPECIAL and text[2] == "}":
            return text[1], 3
        close = text.find("}", 1)
        if close == 1:
            return "", 2  # `${}`: eaten
        return (text[1:close], close + 1) if close > 0 else ("", 1)
    if text[0] in _SPECIAL:
        return text[0], 1
    width = 0
    while width < len(text) and (text[width].isascii() and (text[width].isalnum()
                                                            or text[width] == "_")):  # fmt: skip
        width += 1
    return text[:width], width


def expand(text: str, env: Mapping[str, str]) -> str:
    """`$NAME` and `${NAME}` replaced by their values (empty when unset), as CST does."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] != "$" or i + 1 >= len(text):
            out.append(text[i])
            i += 1
            continue
        name, width = _shell_name(text[i + 1 :])
        if name:
            out.append(env.get(name, ""))
        elif not width:
            out.append("$")  # `$` not followed by a name stays as it is
        i += 1 + width
    return "".join(out)


# --- metadata ----------------------------------------------------------------------------------


def metadata(file: ExpectationFile, real: ImageConfig, shown: ImageConfig
             ) -> Iterator[ExpectationResult]:  # fmt: skip
    """One result per key and item: `metadataTest.user`, `metadataTest.envVars[PORT]`."""
    test = file.metadata
    if test is None:
        return

    def result(name: str, failures: list[str]) -> ExpectationResult:
        return ExpectationResult(file.name, "metadata", f"metadataTest.{name}",
                                 "failed" if failures else "passed", tuple(failures))  # fmt: skip

    yield from _pairs(test.env_vars, real.env, shown.env, "envVars", "variable", result)
    for var in test.unbound_env_vars:
        bound = var.key in real.env
        yield result(
            f"unboundEnvVars[{var.key}]",
            [f"variable {var.key} is set in the image config"] if bound else [],
        )
    yield from _pairs(test.labels, real.labels, shown.labels, "labels", "label", result)
    for key, expected, actual in (("entrypoint", test.entrypoint, shown.entrypoint),
                                  ("cmd", test.cmd, shown.cmd)):  # fmt: skip
        if expected is None:
            continue
        real_value = real.entrypoint if key == "entrypoint" else real.cmd
        same = list(expected) == list(real_value or [])
        yield result(
            key,
            []
            if same
            else [
                f"the image's {key.upper() if key == 'cmd' else 'ENTRYPOINT'} is "
                f"{_argv(actual)}, expected {_argv(list(expected))}"
            ],
        )
    ports = {port.split("/", 1)[0] for port in real.exposed_ports}
    for port in test.exposed_ports:
        yield result(
            f"exposedPorts[{port}]",
            []
            if port in ports
            else [
                f"port {port} is not exposed (EXPOSE: {', '.join(real.exposed_ports) or 'none'})"
            ],
        )
    for port in test.unexposed_ports:
        yield result(
            f"unexposedPorts[{port}]",
            [f"port {port} is exposed, and must not be"] if port in ports else [],
        )
    for volume in test.volumes:
        yield result(
            f"volumes[{volume}]",
            []
            if volume in real.volumes
            else [f"{volume} is not a VOLUME (VOLUME: {', '.join(real.volumes) or 'none'})"],
        )
    for volume in test.unmounted_volumes:
        yield result(
            f"unmountedVolumes[{volume}]",
            [f"{volume} is a VOLUME, and must not be"] if volume in real.volumes else [],
        )
    if test.workdir:
        yield result(
            "workdir",
            []
            if test.workdir == real.workdir
            else [f"WORKDIR is {real.workdir or '(none)'!r}, expected {test.workdir!r}"],
        )
    if test.user:
        yield result(
            "user",
            []
            if test.user == real.user
            else [f"USER is {real.user or '(none: root)'!r}, expected {test.user!r}"],
        )


def _pairs(expected: tuple[EnvVar, ...], real: Mapping[str, str], shown: Mapping[str, str],
           section: str, what: str, result: Callable[[str, list[str]], ExpectationResult]
           ) -> Iterator[ExpectationResult]:  # fmt: skip
    for pair in expected:
        name = f"{section}[{pair.key}]"
        if pair.key not in real:
            yield result(name, [f"{what} {pair.key} is not set in the image config"])
            continue
        value = real[pair.key]
        matches = search(pair.value, value) if pair.is_regex else value == pair.value
        said = "does not match" if pair.is_regex else "is not"
        yield result(
            name,
            []
            if matches
            else [
                f"{what} {pair.key} is {clip(shown.get(pair.key, ''))!r}, which {said} "
                f"{clip(pair.value)!r}"
            ],
        )


def _argv(values: list[str] | None) -> str:
    return "none" if not values else clip(str(list(values)), 160)


# --- files -------------------------------------------------------------------------------------

# Go's os.FileMode.String(): one letter per type or special bit set, in this order, then rwx.
_GO_LETTERS = "dalTLDpSugct?"


def go_mode(entry: Entry) -> str:
    """The mode as CST prints and compares it: `-rwxr-xr-x`, `Lrwxrwxrwx`, `dtrwxrwxrwx`."""
    bits = {
        "d": entry.kind == DIR,
        "L": entry.kind == SYMLINK,
        "D": entry.kind in (CHAR, BLOCK),
        "p": entry.kind == FIFO,
        "u": bool(entry.mode & stat.S_ISUID),
        "g": bool(entry.mode & stat.S_ISGID),
        "c": entry.kind == CHAR,
        "t": bool(entry.mode & stat.S_ISVTX),
    }
    letters = "".join(letter for letter in _GO_LETTERS if bits.get(letter)) or "-"
    rwx = "".join(c if entry.mode & (1 << (8 - i)) else "-" for i, c in enumerate("rwxrwxrwx"))
    return letters + rwx


_ROOT = Entry("/", DIR, 0, 0o755, 0, 0, 0)


def lookup(fs: FileSystem, path: str) -> tuple[str, Entry | None]:
    """The path with symlinks in its directories followed (the last part is not, as `docker
    cp` reads it), and its entry."""
    path = posixpath.normpath("/" + path.lstrip("/"))
    if path == "/":
        return path, fs.get("/") or _ROOT
    parent = fs.resolve(posixpath.dirname(path))
    if parent is None:
        return path, None
    where = posixpath.join(parent, posixpath.basename(path))
    return where, fs.get(where)


def file_existence(file: ExpectationFile, test: FileExistenceTest, fs: FileSystem,
                   env: Mapping[str, str]) -> ExpectationResult:  # fmt: skip
    path = expand(test.path, env)
    where, entry = lookup(fs, path)
    failures: list[str] = []
    if entry is None and test.should_exist:
        failures.append(f"{path} does not exist in the image")
    elif entry is not None and not test.should_exist:
        failures.append(f"{path} exists in the image, and must not")
    if entry is not None and test.should_exist:
        mode = go_mode(entry)
        if test.permissions and mode != test.permissions:
            failures.append(f"{path} has mode {mode}, expected {test.permissions}")
        masks = {"owner": 0o100, "group": 0o010, "other": 0o001, "any": 0o111}
        if test.is_executable_by and not entry.mode & masks[test.is_executable_by]:
            failures.append(f"{path} is not executable by {test.is_executable_by} ({mode})")
        if test.uid is not None and entry.uid != test.uid:
            failures.append(f"{path} is owned by UID {entry.uid}, expected {test.uid}")
        if test.gid is not None and entry.gid != test.gid:
            failures.append(f"{path} has GID {entry.gid}, expected {test.gid}")
    return ExpectationResult(file.name, "file-existence", test.name,
                             "failed" if failures else "passed", tuple(failures),
                             path=where)  # fmt: skip


@dataclass(frozen=True)
class FileBytes:
    """What the layer pass captured of one file: its first bytes, and its size."""

    data: bytes
    size: int


def file_content(file: ExpectationFile, test: FileContentTest, fs: FileSystem,
                 read: Callable[[str], FileBytes | None]) -> ExpectationResult:  # fmt: skip
    def done(failures: list[str], path: str | None = None, reason: str | None = None
             ) -> ExpectationResult:  # fmt: skip
        status = "not-run" if reason else ("failed" if failures else "passed")
        return ExpectationResult(file.name, "file-content", test.name, status, tuple(failures),
                                 reason, path or test.path)  # fmt: skip

    resolved = fs.resolve(test.path)
    entry = fs.get(resolved) if resolved else None
    if entry is None:
        return done([f"{test.path} does not exist in the image"])
    if entry.kind == DIR:
        return done([f"{test.path} is a directory, not a file"], resolved)
    found = read(resolved) if resolved else None
    if found is None:
        via = f" (a symlink to {resolved})" if resolved != test.path else ""
        return done([], resolved, f"the bytes of {test.path}{via} were not captured when the "
                    "layers were read: name the file's real path in the test")  # fmt: skip
    text = found.data.decode("utf-8", "replace")
    cut = (f" (judged on its first {len(found.data)} of {found.size} bytes)"
           if found.size > len(found.data) else "")  # fmt: skip
    failures = [f"{test.path} does not match {clip(p)!r}{cut}"
                for p in test.expected_contents if not search(p, text)]  # fmt: skip
    for pattern in test.excluded_contents:
        if hit := compiled(pattern).search(text):
            failures.append(f"{test.path} matches {clip(pattern)!r}, which is excluded: "
                            f"{clip(_line_of(text, hit))!r}{cut}")  # fmt: skip
    return done(failures, resolved)


def _line_of(text: str, hit: re.Match[str]) -> str:
    start = text.rfind("\n", 0, hit.start()) + 1
    end = text.find("\n", hit.end())
    return text[start : end if end >= 0 else len(text)]


def content_of(fs: FileSystem, contents: Callable[[int, str], bytes | None]
               ) -> Callable[[str], FileBytes | None]:  # fmt: skip
    """How file_content reads a visible file: the bytes its layer's pass captured."""

    def read(path: str) -> FileBytes | None:
        version = fs.visible.get(path)
        if version is None:
            return None
        entry = version.entry
        key = entry.link if entry.kind == HARDLINK and entry.link else entry.path
        data = contents(version.layer, key)
        return None if data is None else FileBytes(data, max(entry.size, len(data)))

    return read


# --- commands ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommandOutcome:
    """What one command test's command did in the probe container."""

    exit_code: int | None  # None: it did not exit (killed on a limit, or could not start)
    stdout: str
    stderr: str
    seconds: float
    stopped: str | None = None  # why it was killed: "timeout" | "output" | an engine error
    setup_failed: tuple[str, ...] = ()  # setup commands that exited non-zero, as "cmd: N"


def command(file: ExpectationFile, test: CommandTest, outcome: CommandOutcome,
            tail: Callable[[str], tuple[str, ...]]) -> ExpectationResult:  # fmt: skip
    failures: list[str] = []
    if outcome.stopped:
        failures.append(outcome.stopped)
    else:
        for stream, text, expected, excluded in (
            ("stdout", outcome.stdout, test.expected_output, test.excluded_output),
            ("stderr", outcome.stderr, test.expected_error, test.excluded_error),
        ):
            failures += [f"{stream} does not match {clip(p)!r}"
                         for p in expected if not search(p, text)]  # fmt: skip
            for pattern in excluded:
                if hit := compiled(pattern).search(text):
                    failures.append(f"{stream} matches {clip(pattern)!r}, which is excluded: "
                                    f"{clip(_line_of(text, hit))!r}")  # fmt: skip
        if outcome.exit_code != test.exit_code:
            failures.append(f"exited with {outcome.exit_code}, expected {test.exit_code}")
    if failures and outcome.setup_failed:
        failures.append("its setup failed first: " + "; ".join(outcome.setup_failed))
    return ExpectationResult(
        file.name, "command", test.name, "failed" if failures else "passed", tuple(failures),
        exit_code=outcome.exit_code, stdout_tail=tail(outcome.stdout),
        stderr_tail=tail(outcome.stderr), seconds=round(outcome.seconds, 3),
    )  # fmt: skip


def not_run(file: ExpectationFile, test: CommandTest, reason: str) -> ExpectationResult:
    return ExpectationResult(file.name, "command", test.name, "not-run", reason=reason)


def static(file: ExpectationFile, real: ImageConfig, shown: ImageConfig, fs: FileSystem,
           read: Callable[[str], FileBytes | None]) -> list[ExpectationResult]:  # fmt: skip
    """Every test of the file that needs no container, in the file's order of sections."""
    out = list(metadata(file, real, shown))
    out += [file_existence(file, t, fs, real.env) for t in file.file_existence]
    out += [file_content(file, t, fs, read) for t in file.file_content]
    return out
