"""What the probes need to know before they run, decided from the static facts alone (pure)."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from inspector.layers.overlay import FileSystem

# Interpreter options that consume the next argument (`python -W error -m app`).
_OPTIONS_WITH_VALUE = ("-W", "-X", "--check-hash-based-pycs")
_PYTHON_NAME = re.compile(r"python[0-9.]*")


@dataclass(frozen=True)
class TmpDir:
    """The image's own /tmp, so the probe's tmpfs can carry the same owner and mode."""

    mode: int
    uid: int
    gid: int


@dataclass(frozen=True)
class ProbePlan:
    image_id: str
    architecture: str | None
    interpreter: str | None  # the path the static probe runs; None: no Python to run
    no_interpreter_reason: str | None
    app_module: str | None  # `python -m NAME`
    app_script: str | None  # `python path/to/script.py`
    tmp: TmpDir | None  # None: the image has no /tmp directory
    # Every path the image shows, to tell what a container changed from what it added.
    image_paths: frozenset[str] = field(default=frozenset(), repr=False, compare=False)


def plan(
    image_id: str, architecture: str | None, fs: FileSystem, python: Mapping[str, Any]
) -> ProbePlan:
    """Pick the interpreter the image's own command would run, else the likeliest one."""
    entry = python.get("entrypoint_interpreter") or {}
    interpreter = entry.get("interpreter")
    module, script = (None, None)
    if interpreter:
        module, script = app_target(entry.get("command_args") or ())
    else:
        interpreter = _fallback_interpreter(python)
        # `ENTRYPOINT ["entrypoint.sh"]` + `CMD ["python", "-m", "app"]`: the script usually ends
        # in `exec "$@"`, so the app is what follows the interpreter's name in argv.
        argv = list(entry.get("argv") or ())
        for i, arg in enumerate(argv):
            if _PYTHON_NAME.fullmatch(posixpath.basename(arg)):
                module, script = app_target(argv[i + 1 :])
                break
    reason = None
    if interpreter is None:
        reason = "the image has no Python interpreter"
    tmp = None
    version = fs.visible.get("/tmp")
    resolved = fs.resolve("/tmp")
    if resolved and resolved != "/tmp":
        version = fs.visible.get(resolved)
    if version is not None and version.entry.kind == "dir":
        tmp = TmpDir(version.entry.mode & 0o7777, version.entry.uid, version.entry.gid)
    return ProbePlan(
        image_id, architecture, interpreter, reason, module, script, tmp, frozenset(fs.visible)
    )


def _fallback_interpreter(python: Mapping[str, Any]) -> str | None:
    for venv in python.get("venvs") or ():
        if venv.get("python") and venv.get("interpreter"):
            return str(venv["python"])
    for found in python.get("interpreters") or ():
        return str(found["path"])
    return None


def app_target(args: Sequence[str]) -> tuple[str | None, str | None]:
    """(module, script) from what the interpreter receives after its own path."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "-m":
            return (args[i + 1], None) if i + 1 < len(args) else (None, None)
        if arg.startswith("-m") and len(arg) > 2:
            return arg[2:], None
        if arg == "-c" or (arg.startswith("-c") and len(arg) > 2) or arg == "-":
            return None, None  # code on the command line or stdin: no application file
        if arg in _OPTIONS_WITH_VALUE:
            i += 2
            continue
        if arg.startswith("-"):
            i += 1
            continue
        return None, arg
    return None, None
