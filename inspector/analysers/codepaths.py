"""Where the image's own code lives, as its command tells, with the owner and mode of each place:
the WORKDIR when it holds Python sources, the directories the command and its start scripts name
(`--chdir`, `--app-dir`, `--pythonpath`, a script's directory, a start script's `cd`), PYTHONPATH,
and the start scripts themselves (`python.code_locations`).

Part of the Python analyser's facts: it runs after the default command was followed. Facts
only: who may write each place is judged by the checks, with the UID the app runs as.
"""

from __future__ import annotations

import posixpath
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from inspector.layers.model import DIR, FILE, Entry
from inspector.layers.overlay import FileSystem

MAX_LOCATIONS = 20
# Server options whose value is a directory the app's modules are imported from (or run in).
_DIR_OPTIONS = ("--chdir", "--app-dir", "--pythonpath", "--root-path-dir")
# Installed code has its own facts (site-packages, venvs); these are not the app's own sources.
_INSTALLED = ("/site-packages/", "/dist-packages/", "/.venv/", "/node_modules/", "/.git/")
_BIN_DIRS = ("/bin", "/sbin")


@dataclass(frozen=True)
class Owner:
    uid: int
    gid: int
    mode: int  # permission bits (mode & 0o7777)


@dataclass(frozen=True)
class CodeLocation:
    path: str
    kind: str  # "dir" | "file"
    role: str  # "workdir" | "command-dir" | "pythonpath" | "start-script"
    why: str  # how the command names it, e.g. "--chdir=/app", "WORKDIR", "exec'd by /entrypoint"
    layer: int  # the layer its visible version comes from
    owner: Owner  # of the directory (or the script file) itself
    # Most common owner and mode of the Python sources below a directory (they can be rewritten
    # in place even when the directory cannot); None for a file or a directory without sources.
    sources_owner: Owner | None
    sources: int  # Python source files below it (0 for a file)
    example: str | None  # one of those sources, for the finding to name


def locations(
    fs: FileSystem,
    workdir: str,
    cwd: str,
    command_args: Sequence[str],
    scripts: Sequence[str],
    pythonpath: str | None,
) -> tuple[CodeLocation, ...]:
    """Every place above that exists in the image; the WORKDIR and a start script's `cd` only
    when Python sources lie below them."""
    wanted: list[tuple[str, str, str, bool]] = []  # (path, role, why, needs sources)
    if workdir and workdir != "/":
        wanted.append((workdir, "workdir", "WORKDIR", True))
    if cwd and cwd not in (workdir, "/"):
        wanted.append((cwd, "command-dir", f"`cd {cwd}` in a start script", True))
    for option, value in _dir_options(command_args):
        for part in value.split(","):
            path = posixpath.normpath(posixpath.join(cwd or "/", part))
            wanted.append((path, "command-dir", f"{option}={part}", False))
    script = _script_arg(command_args)
    if script:
        folder = posixpath.dirname(posixpath.normpath(posixpath.join(cwd or "/", script)))
        if not folder.endswith(_BIN_DIRS):
            wanted.append((folder, "command-dir", f"the script {script}", False))
    for part in (pythonpath or "").split(":"):
        if part.startswith("/"):
            wanted.append((posixpath.normpath(part), "pythonpath", "PYTHONPATH", False))
    for path in scripts:
        wanted.append((path, "start-script", "a start script the command runs", False))
    out: list[CodeLocation] = []
    seen: set[str] = set()
    sources = _sources(fs, {p for p, _, _, _ in wanted})
    for path, role, why, needs_sources in wanted:
        real = fs.resolve(path)
        if real is None or real in seen or len(out) >= MAX_LOCATIONS:
            continue
        version = fs.visible.get(real)
        if version is None or version.entry.kind not in (DIR, FILE):
            continue
        found = sources.get(path, [])
        if needs_sources and not found:
            continue
        seen.add(real)
        entry = version.entry
        owners = Counter(Owner(e.uid, e.gid, e.mode & 0o7777) for _, e in found)
        out.append(CodeLocation(
            real, "dir" if entry.kind == DIR else "file", role, why, version.layer,
            Owner(entry.uid, entry.gid, entry.mode & 0o7777),
            owners.most_common(1)[0][0] if owners else None, len(found),
            min(p for p, _ in found) if found else None,
        ))  # fmt: skip
    return tuple(out)


def _sources(fs: FileSystem, roots: Iterable[str]) -> dict[str, list[tuple[str, Entry]]]:
    """Python sources below each root (installed code left out), in one pass over the paths."""
    prefixes = {r.rstrip("/") + "/": r for r in roots if r and r != "/"}
    found: dict[str, list[tuple[str, Entry]]] = {}
    if not prefixes:
        return found
    for path, version in fs.visible.items():
        if not path.endswith(".py") or version.entry.kind != FILE:
            continue
        if any(marker in path for marker in _INSTALLED):
            continue
        for prefix, root in prefixes.items():
            if path.startswith(prefix):
                found.setdefault(root, []).append((path, version.entry))
    return found


def _dir_options(args: Sequence[str]) -> list[tuple[str, str]]:
    out = []
    for i, arg in enumerate(args):
        for name in _DIR_OPTIONS:
            if arg == name and i + 1 < len(args):
                out.append((name, args[i + 1]))
            elif arg.startswith(name + "="):
                out.append((name, arg[len(name) + 1 :]))
    return out


def _script_arg(args: Sequence[str]) -> str | None:
    """The script Python runs (`python app.py`), skipping its own options; None for -m/-c."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-m", "-c", "-") or arg.startswith(("-m", "-c")):
            return None
        if arg in ("-W", "-X"):
            i += 2
            continue
        if arg.startswith("-"):
            i += 1
            continue
        return arg
    return None
