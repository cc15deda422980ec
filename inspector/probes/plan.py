"""What the probes need to know before they run, decided from the static facts alone (pure)."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from inspector.layers.overlay import FileSystem

# Interpreter options that consume the next argument (`python -W error -m app`).
_OPTIONS_WITH_VALUE = ("-W", "-X", "--check-hash-based-pycs")
_PYTHON_NAME = re.compile(r"python[0-9.]*")
# Servers that import an application object named `module:attribute` on their command line.
_APP_SERVERS = frozenset(
    {"gunicorn", "uvicorn", "hypercorn", "daphne", "granian", "waitress-serve"}
)
_APP_OBJECT = re.compile(r"([A-Za-z_][\w.]*):[A-Za-z_][\w.]*(?:\(.*\))?")
# Server options that name the directory the application module is imported from.
_APP_DIR_OPTIONS = ("--chdir", "--app-dir", "--root-path-dir")
_SITE_DIR = re.compile(r"^(.*/(?:site|dist)-packages)/([^/]+)")
_MODULE_FILE = re.compile(r"([A-Za-z_]\w*)(?:\.[\w-]+)?\.(?:py|pyc|so|pyd)$")


@dataclass(frozen=True)
class TmpDir:
    """The image's own /tmp, so the probe's tmpfs can carry the same owner and mode."""

    mode: int
    uid: int
    gid: int


@dataclass(frozen=True)
class ImportTarget:
    """What the image's command imports first, for the static probe's import smoke test.

    Steps run in order: ("script", path) compiles a file and imports its top-level imports;
    ("module", name) does the same for the file `python -m name` runs (its package imported);
    ("import", name) imports a module outright, as an app server imports the app's module.
    """

    command: str  # the command in words: "python -m svc", "gunicorn wsgi:app"
    steps: tuple[tuple[str, str], ...]
    path_entry: str | None = None  # a directory the command puts first on sys.path


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
    imports: ImportTarget | None = None
    # top-level module name -> the site-packages directories of the image that hold it
    modules: Mapping[str, tuple[str, ...]] = field(default_factory=dict, repr=False, compare=False)
    # Where the application's own sources are (python.bytecode.application.roots).
    app_roots: tuple[str, ...] = ()

    def installed_elsewhere(self, module: str | None, searched: Sequence[str]) -> tuple[str, ...]:
        """Site directories that hold `module` but are not among those the interpreter searched."""
        if not module:
            return ()
        top = module.split(".")[0]
        skip = {d.rstrip("/") for d in searched}
        return tuple(d for d in self.modules.get(top, ()) if d not in skip)


def plan(
    image_id: str,
    architecture: str | None,
    fs: FileSystem,
    python: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
    app_roots: Sequence[str] = (),
) -> ProbePlan:
    """Pick the interpreter the image's own command would run, else the likeliest one."""
    entry = python.get("entrypoint_interpreter") or {}
    interpreter = entry.get("interpreter")
    module, script = (None, None)
    args: Sequence[str] = ()
    if interpreter:
        args = entry.get("command_args") or ()
        module, script = app_target(args)
    else:
        interpreter = _fallback_interpreter(python)
        # `ENTRYPOINT ["entrypoint.sh"]` + `CMD ["python", "-m", "app"]`: the script usually ends
        # in `exec "$@"`, so the app is what follows the interpreter's name in argv.
        argv = list(entry.get("argv") or ())
        for i, arg in enumerate(argv):
            if _PYTHON_NAME.fullmatch(posixpath.basename(arg)):
                args = argv[i + 1 :]
                module, script = app_target(args)
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
        image_id,
        architecture,
        interpreter,
        reason,
        module,
        script,
        tmp,
        frozenset(fs.visible),
        import_target(args, env or {}) if interpreter else None,
        module_index(fs.visible),
        tuple(app_roots),
    )


def module_index(paths: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Top-level importable names of every site-packages directory in the image."""
    # dicts as ordered sets: thousands of site dirs holding one name stay linear.
    found: dict[str, dict[str, None]] = {}
    for path in paths:
        match = _SITE_DIR.match(path)
        if not match:
            continue
        site, entry = match.groups()
        if entry.endswith((".dist-info", ".egg-info", ".pth")) or entry == "__pycache__":
            continue
        name = entry if "." not in entry else None
        if name is None and (file := _MODULE_FILE.fullmatch(entry)):
            name = file.group(1)
        if name:
            found.setdefault(name, {})[site] = None
    return {name: tuple(sites) for name, sites in found.items()}


def import_target(args: Sequence[str], env: Mapping[str, str]) -> ImportTarget | None:
    """What the interpreter's arguments make it import first: a module, a script, an app."""
    module, script = app_target(args)
    if module:
        return ImportTarget(f"python -m {module}", (("module", module),))
    if not script:
        return None
    rest = list(args[list(args).index(script) + 1 :]) if script in args else []
    name = posixpath.basename(script)
    steps: list[tuple[str, str]] = [("script", script)]
    path_entry = _option(rest, _APP_DIR_OPTIONS)
    app = None
    if name in _APP_SERVERS:
        app = next((m.group(1) for a in rest if not a.startswith("-")
                    if (m := _APP_OBJECT.fullmatch(a))), None)  # fmt: skip
    elif name == "celery":
        app = _option(rest, ("-A", "--app"))
        app = app.split(":")[0] if app else None
    elif name == "flask":
        app = _flask_app(_option(rest, ("--app",)) or env.get("FLASK_APP") or "")
        if app and "/" in app:
            path_entry, app = posixpath.split(app)
    if app:
        steps.append(("import", app))
        return ImportTarget(f"{name} {app}", tuple(steps), path_entry)
    return ImportTarget(f"python {script}" if name.endswith(".py") else name, tuple(steps))


def _option(args: Sequence[str], names: Sequence[str]) -> str | None:
    """The value of the first of `names` in `args` (`-A x`, `--app x`, `--app=x`, `-Ax`)."""
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if name.startswith("--") and arg.startswith(name + "="):
                return arg[len(name) + 1 :]
            if not name.startswith("--") and arg.startswith(name) and len(arg) > len(name):
                return arg[len(name) :]
    return None


def _flask_app(value: str) -> str | None:
    """FLASK_APP / --app as a module: `app.py` -> app, `pkg:create_app()` -> pkg."""
    target = value.split(":")[0].strip()
    if target.endswith(".py"):
        target = target[:-3]
    return target or None


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
