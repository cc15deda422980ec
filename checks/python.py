"""Python checks: how the interpreter is set up, its bytecode, its packages and its version."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from checks.access import app_process, at_layer, config, env, lifecycle, size, static_probe
from checks.model import Context, Facts, Found, Location, Skip, layer_number
from checks.registry import check


def _python(facts: Facts) -> dict[str, Any]:
    return facts.get("python") or {}


def has_python(facts: Facts) -> bool:
    """Whether the image has a Python at all (an interpreter, a venv, or the probe ran one)."""
    py = _python(facts)
    return bool(py.get("interpreters") or py.get("venvs") or static_probe(facts))


def _require_python(facts: Facts) -> None:
    if not has_python(facts):
        raise Skip("the image has no Python")


def _entrypoint(facts: Facts) -> dict[str, Any]:
    return _python(facts).get("entrypoint_interpreter") or {}


def _python_options(facts: Facts) -> list[str]:
    """The interpreter's own options in the default command (before -m, -c or the script)."""
    options: list[str] = []
    args = list(_entrypoint(facts).get("command_args") or [])
    while args:
        arg = args.pop(0)
        if not arg.startswith("-") or arg in ("-m", "-c", "-", "--"):
            break
        options.append(arg)
        if arg in ("-X", "-W") and args:
            options.append(args.pop(0))
    return options


def _flag_on(options: list[str], letter: str) -> bool:
    """Whether a short flag such as -u appears, alone or grouped (-uB)."""
    return any(
        o.startswith("-") and not o.startswith("--") and letter in o[1:] and "X" not in o
        for o in options
    )


def _env_int_flag(value: str | None) -> bool:
    """How CPython reads PYTHONUNBUFFERED-style flags: set and not an integer below 1."""
    if value is None or value == "":
        return False
    try:
        return int(value) >= 1
    except ValueError:
        return True  # "yes", "true": any non-integer text counts as 1


@check(
    "PY001",
    "faulthandler-disabled",
    "faulthandler is off: a crash in C code or a hang leaves no Python traceback",
    severity="low",
    category="python",
    needs=("config", "python"),
    wants=("runtime.static",),
    fix="`ENV PYTHONFAULTHANDLER=1`",
)
def faulthandler_disabled(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    Whether faulthandler is on when the interpreter starts. When the static probe ran, that is
    what the image's Python reported (`faulthandler.is_enabled()`); otherwise the config
    decides: `PYTHONFAULTHANDLER` set to any non-empty value (even `0`), or `-X faulthandler`
    among the interpreter's options in ENTRYPOINT/CMD.

    ## Why it matters
    Without it, a segfault in a C extension, an abort or a deadlock killed by a timeout ends
    with only an exit code. With it, Python prints every thread's traceback to stderr, which
    the container's logs keep. Python's docs: "enable them at startup by setting the
    PYTHONFAULTHANDLER environment variable or by using -X faulthandler"
    (https://docs.python.org/3/library/faulthandler.html); Itamar Turner-Trauring lists it in
    his production checklist (https://pythonspeed.com/articles/python-c-extension-crashes/).

    ## Example
    ```dockerfile
    CMD ["python", "-m", "app"]     # a segfault in numpy prints nothing useful
    ```

    ## Instead
    ```dockerfile
    ENV PYTHONFAULTHANDLER=1
    ```

    ## References
    - https://docs.python.org/3/library/faulthandler.html
    - https://docs.python.org/3/using/cmdline.html#envvar-PYTHONFAULTHANDLER
    - https://pythonspeed.com/articles/python-c-extension-crashes/
    - Practice: #25 `PYTHONFAULTHANDLER`, tracebacks on crashes in C code: Turner-Trauring's
      EuroPython 2020 talk "Best practices for production-ready Docker packaging",
      https://av.tib.eu/media/49984
    """
    _require_python(facts)
    options = _python_options(facts)
    x_options = [options[i + 1] for i, o in enumerate(options[:-1]) if o == "-X"]
    x_options += [o[2:] for o in options if o.startswith("-X") and len(o) > 2]
    if any(x.split("=")[0] == "faulthandler" for x in x_options):
        return  # the command turns it on; the static probe runs the interpreter without it
    probe = static_probe(facts)
    if probe is not None and probe.get("faulthandler") is not None:
        if not probe.get("faulthandler"):
            yield Found(
                f"the image's Python ({probe.get('interpreter')}) starts with faulthandler off",
                Location(config="Env.PYTHONFAULTHANDLER", runtime="static probe"),
            )
        return
    if env(facts).get("PYTHONFAULTHANDLER") or any(
        x.split("=")[0] == "faulthandler" for x in x_options
    ):
        return
    yield Found(
        "PYTHONFAULTHANDLER is not set and the command does not pass -X faulthandler",
        Location(config="Env.PYTHONFAULTHANDLER"),
    )


@check(
    "PY009",
    "stdout-buffered",
    "Python's stdout is block-buffered: logs can sit in a buffer and be lost",
    severity="low",
    category="python",
    needs=("config", "python"),
    wants=("runtime.static",),
    fix="`ENV PYTHONUNBUFFERED=1`",
)
def stdout_buffered(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    Whether the interpreter writes stdout through to the pipe. When the static probe ran, that
    is `sys.stdout.write_through` as the image's Python reported it; otherwise the config
    decides: `PYTHONUNBUFFERED` set to a value other than `0` (CPython reads `0` as off), or
    `-u` among the interpreter's options in ENTRYPOINT/CMD.

    ## Why it matters
    In a container stdout is a pipe, so Python buffers `print()` output in 8 KB blocks: logs show
    up late, out of order with stderr, and the last ones are lost when the container is killed
    or crashes. Python's docs for `-u`/`PYTHONUNBUFFERED`
    (https://docs.python.org/3/using/cmdline.html#envvar-PYTHONUNBUFFERED).

    ## Example
    ```dockerfile
    ENV PYTHONUNBUFFERED=0       # "0" keeps the buffering on
    CMD ["python", "-m", "app"]
    ```

    ## Instead
    ```dockerfile
    ENV PYTHONUNBUFFERED=1
    ```

    ## References
    - https://docs.python.org/3/using/cmdline.html#envvar-PYTHONUNBUFFERED
    - https://docs.python.org/3/library/sys.html#sys.stdout
    - Practice: #26 Unbuffered stdout (`PYTHONUNBUFFERED`) (Turner-Trauring's production checklist,
      https://pythonspeed.com/docker/)
    """
    _require_python(facts)
    if _flag_on(_python_options(facts), "u"):
        return  # the command passes -u; the static probe runs the interpreter without it
    probe = static_probe(facts)
    if probe is not None and probe.get("stdout_write_through") is not None:
        if not probe.get("stdout_write_through"):
            yield Found(
                f"the image's Python ({probe.get('interpreter')}) buffers stdout "
                "(sys.stdout.write_through is False)",
                Location(config="Env.PYTHONUNBUFFERED", runtime="static probe"),
            )
        return
    value = env(facts).get("PYTHONUNBUFFERED")
    if _env_int_flag(value) or _flag_on(_python_options(facts), "u"):
        return
    said = "is not set" if value is None else f"is {value!r}, which CPython reads as off"
    yield Found(
        f"PYTHONUNBUFFERED {said} and the command does not pass -u",
        Location(config="Env.PYTHONUNBUFFERED"),
    )


# --- bytecode -----------------------------------------------------------------------------------


def _writer(facts: Facts) -> tuple[int | None, int | None, dict[str, bool] | None]:
    """Who the app runs as, and the static probe's writable map when it ran as that user."""
    process = app_process(facts)
    probe = static_probe(facts)
    if process is not None and process.get("uid") is not None:
        same = probe is not None and probe.get("uid") == process.get("uid")
        return (
            process.get("uid"),
            process.get("gid"),
            (probe or {}).get("writable") if same else None,
        )
    if probe is not None and probe.get("uid") is not None:
        return probe.get("uid"), probe.get("gid"), probe.get("writable") or {}
    user = facts.get("user") or {}
    return user.get("resolved_uid"), user.get("resolved_gid"), None


def _area_writable(facts: Facts, area: dict[str, Any], name: str) -> bool | None:
    """Whether the runtime user can create __pycache__ in this area; None when unknown."""
    uid, gid, writable = _writer(facts)
    if uid is None:
        return None
    if uid == 0:
        return True
    if writable:
        probe = static_probe(facts) or {}
        paths = [probe.get("app_dir")] if name == "application" else probe.get("site_packages")
        known = [writable[p] for p in paths or [] if p in writable]
        if known:
            return any(known)
    mode = area.get("dir_mode")
    if not isinstance(mode, int):
        return None
    if area.get("dir_owner_uid") == uid:
        return bool(mode & 0o200)
    if area.get("dir_owner_gid") == gid:
        return bool(mode & 0o020)
    return bool(mode & 0o002)


def _dont_write_bytecode(facts: Facts) -> bool:
    probe = static_probe(facts)
    if probe is not None and probe.get("dont_write_bytecode") is not None:
        return bool(probe.get("dont_write_bytecode"))
    return _env_int_flag(env(facts).get("PYTHONDONTWRITEBYTECODE")) or _flag_on(
        _python_options(facts), "B"
    )


# Below this much uncompiled source, compiling it at start costs milliseconds: low at most.
_COSTLY_BYTES = 64 * 1024


def _main_script(facts: Facts) -> str | None:
    """The script path the command runs (`python app.py`), which is never cached."""
    entry = _entrypoint(facts)
    args = [a for a in entry.get("command_args") or [] if a]
    options = _python_options(facts)
    rest = args[len(options) :]
    if not rest or rest[0] in ("-m", "-c") or not rest[0].endswith(".py"):
        return None
    script = rest[0]
    if not script.startswith("/"):
        script = f"{(config(facts).get('workdir') or '/').rstrip('/')}/{script}"
    return script


_AREAS = (
    ("application", "application code"),
    ("site_packages", "installed packages"),
    ("stdlib", "standard library"),
)


def _on_sys_path(facts: Facts, roots: list[str]) -> bool:
    """Whether the interpreter the static probe ran searches any of these dirs (True unknown)."""
    searched = (static_probe(facts) or {}).get("sys_path")
    if not searched:
        return True
    paths = {str(p).rstrip("/") for p in searched}
    return any(r.rstrip("/") in paths for r in roots)


def _pyc_writes(life: dict[str, Any], roots: list[str]) -> int | None:
    """.pyc the lifecycle probe saw written under these dirs; None when its list was cut short
    before it could say (pyc were written but not all paths are listed)."""
    written = life.get("written") or []
    under = tuple(f"{r.rstrip('/')}/" for r in roots)
    count = sum(
        1
        for w in written
        if w.get("kind") != "deleted"
        and str(w.get("path") or "").endswith(".pyc")
        and str(w.get("path") or "").startswith(under)
    )
    cut = (life.get("written_total") or 0) > len(written)
    return None if not count and cut and life.get("pyc_written") else count


def _application_sources(
    facts: Facts, missing: int, missing_bytes: int, examples: list[str]
) -> tuple[int, int, list[str], list[str]]:
    """The application's uncompiled sources with what the static probe learnt: (count, bytes,
    examples, what was left out and why). A source this Python cannot compile is not an
    uncached one (`compileall` fails on it too); when the import test passed, the sources it
    loaded are what a start compiles, and the others are not imported then."""
    probe = static_probe(facts) or {}
    notes = []
    broken = (probe.get("app_sources") or {}).get("uncompilable") or []
    if broken:
        paths = {b.get("path") for b in broken}
        missing -= len(broken)
        missing_bytes -= sum(b.get("size") or 0 for b in broken)
        examples = [e for e in examples if e not in paths]
        first = broken[0]
        notes.append(f"{len(broken)} this Python cannot compile at all ({first.get('path')}: "
                     f"{first.get('error')}) are not counted")  # fmt: skip
    imports = probe.get("imports") or {}
    if imports.get("verdict") == "passed" and imports.get("app_sources_loaded") is not None:
        uncached = list(imports.get("app_sources_uncached") or [])
        others = missing - len(uncached)
        missing, examples = len(uncached), uncached
        missing_bytes = imports.get("app_sources_uncached_bytes") or 0
        if others > 0:
            notes.append(f"{others} the command does not import at start are not counted")
    return missing, max(0, missing_bytes), examples, notes


def _compileall_fix(facts: Facts, name: str, roots: list[str]) -> str:
    """PY002's fix for one area, naming the finding's own directories and interpreter."""
    python = _entrypoint(facts).get("interpreter") or "python"
    dirs = " ".join(roots) or "/app"
    compileall = f"{python} -m compileall -q --invalidation-mode unchecked-hash {dirs}"
    fix = f"After the last COPY: `RUN {compileall}`"
    if name == "site_packages":
        fix += " (uv: `UV_COMPILE_BYTECODE=1`; pip compiles what it installs unless told not to)"
    return fix + "."


@check(
    "PY002",
    "bytecode-not-precompiled",
    "Python sources ship without .pyc, so they are compiled again at every start",
    severity="medium",
    category="python",
    needs=("python",),
    wants=("runtime.static", "runtime.lifecycle"),
    fix="After the last COPY: `RUN python -m compileall -q --invalidation-mode unchecked-hash "
    "/app /opt/venv` (uv: `UV_COMPILE_BYTECODE=1`).",
)
def bytecode_not_precompiled(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    For the application code, the installed packages and the standard library separately:
    how many `.py` sources have no `__pycache__/<name>.<cache tag>.pyc` for the interpreter
    the command runs, and their size. Only what that interpreter reads counts: its stdlib,
    its venv's site-packages (with the base's when the venv includes system site-packages),
    else its prefix's site dirs, and when the static probe ran, only dirs on its `sys.path`.
    pip, setuptools and wheel (with their vendored trees) are left out: the service does not
    import them, and official `python:*` images delete their `.pyc` on purpose.

    The lifecycle probe decides when it ran: `.pyc` it saw written under the area at start
    are a real cost at every container start (medium from 64 KiB of source, else low);
    none written where Python could write them means the service did not import them at
    start (info). Where Python cannot write (the runtime user cannot write `__pycache__`, or
    `PYTHONDONTWRITEBYTECODE`/`-B`), every process start compiles again: medium from 64 KiB,
    else low. Without the probe: the same, and low where Python can write. The standard
    library is info, or low when the probe saw it compiled at start. The script a command
    runs directly (`python app.py`) is not counted: Python never caches it.

    ## Why it matters
    A container starts from the image's files every time, so a `.pyc` Python writes at runtime
    is lost with the container: each new replica, each restart, pays the compile again, which
    adds seconds to start-up for big dependency trees, and on a read-only root filesystem it is
    paid by every process. Itamar Turner-Trauring recommends shipping compiled bytecode
    (https://pythonspeed.com/articles/faster-python-startup-docker/ and
    https://docs.python.org/3/library/compileall.html). uv does not compile by default.
    Official `python:*` images ship their stdlib and pip without `.pyc`; a non-root service on
    them pays for the stdlib modules it imports, which only `compileall` of the stdlib avoids.

    ## Example
    ```dockerfile
    ENV PYTHONDONTWRITEBYTECODE=1
    COPY . /app
    USER 10001
    ```

    ## Instead
    ```dockerfile
    COPY . /app
    RUN python -m compileall -q --invalidation-mode unchecked-hash /app
    ```

    ## References
    - https://docs.python.org/3/library/compileall.html
    - https://peps.python.org/pep-0552/
    - https://docs.astral.sh/uv/guides/integration/docker/#compiling-bytecode
    - https://github.com/docker-library/python/blob/master/Dockerfile-linux.template
    - Practice: #34 Pre-compile `.pyc` for a faster start (and read-only roots): Turner-Trauring's
      EuroPython 2020 talk "Best practices for production-ready Docker packaging",
      https://av.tib.eu/media/49984
    """
    _require_python(facts)
    bytecode = _python(facts).get("bytecode") or {}
    dont_write = _dont_write_bytecode(facts)
    life = lifecycle(facts)
    for name, label in _AREAS:
        area = bytecode.get(name) or {}
        missing, modules = area.get("missing") or 0, area.get("modules") or 0
        missing_bytes = area.get("missing_bytes") or 0
        examples_list = list(area.get("examples") or [])
        script = _main_script(facts)
        if name == "application" and script in examples_list:
            missing -= 1  # Python never caches the script it runs as __main__
            examples_list.remove(script)
        left_out: list[str] = []
        if name == "application":
            missing, missing_bytes, examples_list, left_out = _application_sources(
                facts, missing, missing_bytes, examples_list
            )
        roots = list(area.get("roots") or [])
        if missing <= 0 or (name != "application" and not _on_sys_path(facts, roots)):
            continue
        writable = _area_writable(facts, area, name)
        blocked = dont_write or writable is False
        if dont_write:
            why = "PYTHONDONTWRITEBYTECODE (or -B) stops Python from caching them"
        elif writable is False:
            why = "the runtime user cannot write __pycache__ there"
        elif writable:
            why = "Python can cache them only inside each new container"
        else:
            why = "whether the runtime user can cache them is unknown"
        costly = missing_bytes >= _COSTLY_BYTES
        written = _pyc_writes(life, roots) if life is not None else None
        cost = f"they are compiled at every start, since {why}"
        if written:
            severity = "medium" if costly else "low"
            cost += f"; the lifecycle probe saw {written} .pyc written there at start"
        elif written == 0 and not blocked:
            severity = "info"
            cost = "the lifecycle probe saw none of them compiled at start, so the service "
            cost += "does not import them then"
        else:
            severity = "medium" if blocked and costly else "low"
        if name == "stdlib":
            severity = "low" if written else "info"
            cost += f"; `python -m compileall -q {roots[0] if roots else '<stdlib>'}` in the "
            cost += "image compiles them"
        examples = ", ".join(examples_list[:3])
        skipped = f"; {'; '.join(left_out)}" if left_out else ""
        yield Found(
            f"{missing} of {modules} {label} sources ({size(missing_bytes)}) in "
            f"{', '.join(roots) or '?'} have no .pyc: {cost} (e.g. {examples}){skipped}",
            Location(
                path=roots[0] if roots else None, runtime="lifecycle probe" if written else None
            ),
            severity=severity,
            fix=_compileall_fix(facts, name, roots),
        )


# --- packages -----------------------------------------------------------------------------------


# Where a requirement's name ends: its version specifier, marker or extras follow.
_REQUIREMENT_NAME = re.compile(r"[<>=!~;( \[]")


@check(
    "PY003",
    "dependency-conflicts",
    "Installed distributions have missing or conflicting requirements (pip check fails)",
    severity="medium",
    category="python",
    needs=("runtime.static",),
    fix="Install from a resolved lock file (pip-tools, uv, poetry) without --no-deps, and "
    "check with `pip check` in the build.",
)
def dependency_conflicts(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    What `pip check` would say for the interpreter the command runs, worked out by the static
    probe from `importlib.metadata` (so it works where pip is absent): every requirement of an
    installed distribution that is missing, or installed in a version outside its specifier.

    ## Why it matters
    A missing or conflicting dependency fails at import time, often on a code path tests did
    not exercise, in production. "pip check: Verify installed packages have compatible
    dependencies" (https://pip.pypa.io/en/stable/cli/pip_check/). `--no-deps`, partial
    uninstalls and aggressive cleanup (`find -name tests -delete`) are the usual causes.

    ## Example
    ```dockerfile
    RUN pip install --no-deps -r requirements.txt   # a transitive dependency is not listed
    ```

    ## Instead
    ```dockerfile
    RUN pip install -r requirements.lock && pip check
    ```

    ## References
    - https://pip.pypa.io/en/stable/cli/pip_check/
    - https://docs.python.org/3/library/importlib.metadata.html
    - Practice: none of Turner-Trauring's; pip's `pip check`: installed distributions must satisfy
      each other's requirements
    """
    probe = static_probe(facts) or {}
    status = probe.get("dependency_check")
    if status and status != "done":
        raise Skip(f"the probe could not list the distributions: {status}")
    for problem in probe.get("dependency_problems") or []:
        yield Found(
            problem.get("message")
            or f"{problem.get('distribution')} requires {problem.get('requirement')} "
            f"({problem.get('kind')})",
            Location(runtime=f"static probe ({probe.get('interpreter')})"),
            # Which distribution lacks what, not the versions a rebuild moves.
            subject=f"{problem.get('distribution')} {problem.get('kind')} "
            f"{_REQUIREMENT_NAME.split(str(problem.get('requirement') or ''), maxsplit=1)[0]}",
        )


@check(
    "PY004",
    "editable-install",
    "A distribution is installed in editable (development) mode",
    severity="low",
    category="python",
    needs=("python",),
    fix="Install it normally (`pip install .`, or build a wheel and install that).",
)
def editable_install(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    Installed distributions whose metadata marks an editable install (`pip install -e`:
    `direct_url.json` with `"editable": true`, `__editable__` finders, `.egg-link`).

    ## Why it matters
    An editable install points into a source tree instead of holding the code: after a
    multi-stage copy the tree is often missing and the import fails, and otherwise the whole
    tree (tests, fixtures, local files) ships and the version is whatever was on disk. PEP 660
    (https://peps.python.org/pep-0660/) and PEP 610 (https://peps.python.org/pep-0610/).

    ## Example
    ```dockerfile
    RUN pip install -e .
    ```

    ## Instead
    ```dockerfile
    RUN pip install .
    ```

    ## References
    - https://peps.python.org/pep-0660/
    - https://peps.python.org/pep-0610/
    - https://pip.pypa.io/en/stable/topics/local-project-installs/
    - Practice: none of Turner-Trauring's; PEP 660 and PEP 610: an editable install runs a source
      tree, not an installed copy
    """
    for package in _python(facts).get("packages") or []:
        if package.get("editable"):
            yield Found(
                f"{package.get('name')} {package.get('version') or ''} is an editable install "
                f"in {package.get('location')}".replace("  ", " "),
                at_layer(facts, package.get("layer"), package.get("metadata")),
            )


# Tests, linters, formatters, type checkers, debuggers, REPLs and build tools.
_DEV_TOOLS = frozenset(
    {
        "pytest",
        "pytest-cov",
        "pytest-mock",
        "pytest-xdist",
        "pytest-asyncio",
        "coverage",
        "hypothesis",
        "tox",
        "nox",
        "mypy",
        "pyright",
        "black",
        "ruff",
        "flake8",
        "pylint",
        "isort",
        "autopep8",
        "yapf",
        "bandit",
        "pre-commit",
        "ipython",
        "ipdb",
        "pdbpp",
        "debugpy",
        "pydevd",
        "jupyter",
        "jupyterlab",
        "notebook",
        "pip-tools",
        "poetry",
        "pipenv",
        "hatch",
        "twine",
        "build",
        "cython",
        "pybind11",
        "pyinstrument",
        "line-profiler",
        "memory-profiler",
        "faker",
        "factory-boy",
        "responses",
        "freezegun",
    }
)
_DEBUGGERS = frozenset({"debugpy", "pydevd"})


@check(
    "PY005",
    "dev-tools-shipped",
    "Test, lint or debug tools are installed in the production image",
    severity="low",
    category="python",
    needs=("python",),
    fix="Keep dev dependencies out of the runtime environment (`uv sync --no-dev`, "
    "`poetry install --only main`, a separate requirements-dev.txt).",
)
def dev_tools_shipped(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    Installed distributions that are development tools: test runners (pytest, tox, nox,
    coverage, hypothesis), linters and formatters (ruff, black, flake8, pylint, mypy),
    debuggers and REPLs (debugpy, ipdb, ipython, jupyter) and build tools (poetry, hatch,
    twine, Cython). Copies vendored inside another package (`_vendor` dirs) are left out.
    One finding per environment; a remote debugger (debugpy, pydevd) makes it medium.

    ## Why it matters
    They add size and attack surface and are never used by the running service: a remote
    debugger in particular can execute arbitrary code for whoever reaches its port. Docker's
    best practices: "Don't install unnecessary packages"
    (https://docs.docker.com/build/building/best-practices/); CIS Docker Benchmark 4.3.

    ## Example
    ```dockerfile
    RUN pip install -r requirements.txt -r requirements-dev.txt
    ```

    ## Instead
    ```dockerfile
    RUN pip install -r requirements.txt     # dev tools only in the test stage
    ```

    ## References
    - https://docs.docker.com/build/building/best-practices/
    - https://docs.astral.sh/uv/concepts/projects/dependencies/#development-dependencies
    - Practice: none of Turner-Trauring's; Docker's build best practices ("Don't install unnecessary
      packages"), CIS 4.3
    """
    found: dict[str, list[dict[str, Any]]] = {}
    for package in _python(facts).get("packages") or []:
        location = package.get("location") or ""
        if "/_vendor" in location or "/_vendored" in location:
            continue
        if canonicalize_name(package.get("name") or "") in _DEV_TOOLS:
            where = package.get("environment") or location
            found.setdefault(where, []).append(package)
    for where, packages in sorted(found.items()):
        names = sorted(canonicalize_name(p.get("name") or "") for p in packages)
        listed = ", ".join(f"{p.get('name')} {p.get('version') or ''}".strip() for p in packages)
        debugger = any(n in _DEBUGGERS for n in names)
        yield Found(
            f"{len(packages)} development tool{'s' if len(packages) > 1 else ''} in {where}: "
            f"{listed}",
            at_layer(facts, packages[0].get("layer"), packages[0].get("location")),
            severity="medium" if debugger else None,
        )


# --- interpreter --------------------------------------------------------------------------------

# CPython end of life per minor version, from https://devguide.python.org/versions/ (offline on
# purpose: audits run without network).
PYTHON_EOL = {
    (2, 7): "2020-01-01",
    (3, 5): "2020-09-13",
    (3, 6): "2021-12-23",
    (3, 7): "2023-06-27",
    (3, 8): "2024-10-07",
    (3, 9): "2025-10-31",
    (3, 10): "2026-10-31",
    (3, 11): "2027-10-31",
    (3, 12): "2028-10-31",
    (3, 13): "2029-10-31",
    (3, 14): "2030-10-31",
}
_SOON = timedelta(days=183)


def _minor(version: str) -> tuple[int, int] | None:
    try:
        release = Version(version).release
    except InvalidVersion:
        return None
    return (release[0], release[1]) if len(release) >= 2 else None


def _versions(facts: Facts) -> list[tuple[str, str, Location]]:
    """(version, which interpreter, where) for the Python the command runs, else every one."""
    entry = _entrypoint(facts)
    if entry.get("interpreter") and entry.get("version"):
        return [
            (
                entry["version"],
                entry["interpreter"],
                Location(config="Entrypoint/Cmd", path=entry["interpreter"]),
            )
        ]
    probe = static_probe(facts)
    if probe is not None and probe.get("python_version"):
        return [
            (
                probe["python_version"],
                probe.get("interpreter") or "?",
                Location(runtime="static probe", path=probe.get("interpreter")),
            )
        ]
    out = []
    for interp in _python(facts).get("interpreters") or []:
        if interp.get("version"):
            out.append(
                (
                    interp["version"],
                    interp.get("path") or "?",
                    at_layer(facts, interp.get("layer"), interp.get("path")),
                )
            )
    for venv in _python(facts).get("venvs") or []:
        if venv.get("version"):
            out.append((venv["version"], venv.get("path") or "?", Location(path=venv.get("path"))))
    return out


@check(
    "PY006",
    "python-end-of-life",
    "The Python version is past or near its end of life: no more security fixes",
    severity="high",
    category="python",
    needs=("python",),
    wants=("runtime.static",),
    fix="Move to a supported Python minor (e.g. python:3.13-slim) and rebuild regularly.",
)
def python_end_of_life(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    The version of the interpreter the default command runs (else of every interpreter and
    venv in the image) against CPython's end-of-life dates, kept offline from the devguide:
    3.7 2023-06-27, 3.8 2024-10-07, 3.9 2025-10-31, 3.10 2026-10-31, 3.11 2027-10-31,
    3.12 2028-10-31, 3.13 2029-10-31, 3.14 2030-10-31. Past the date is high; within six
    months of it, medium.

    ## Why it matters
    After its end of life a Python minor gets no security fixes from python.org, so every
    CVE found later stays open in the image (https://devguide.python.org/versions/). An
    up-to-date Python is one of the criteria for a base image
    (https://pythonspeed.com/articles/base-image-python-docker-images/). Distribution builds
    (Debian's python3) get backports for the distribution's own life, which this check does
    not know about.

    ## Example
    ```dockerfile
    FROM python:3.8-slim
    ```

    ## Instead
    ```dockerfile
    FROM python:3.13-slim
    ```

    ## References
    - https://devguide.python.org/versions/
    - https://pythonspeed.com/articles/base-image-python-docker-images/
    - Practice: #15 Use a supported, up-to-date Python: "The best Docker base image for your Python
      application", https://pythonspeed.com/articles/base-image-python-docker-images/
    """
    versions = _versions(facts)
    if not versions:
        raise Skip("no Python version is known")
    now = ctx.now if ctx.now.tzinfo else ctx.now.replace(tzinfo=UTC)
    for version, which, location in versions:
        minor = _minor(version)
        if minor is None:
            continue
        eol_text = PYTHON_EOL.get(minor)
        if eol_text is None:
            if minor < (3, 7):
                eol_text = "2021-12-23"  # older than every dated minor: long past
            else:
                continue  # newer than the table: supported
        eol = datetime.fromisoformat(eol_text).replace(tzinfo=UTC)
        if now >= eol:
            yield Found(
                f"Python {version} ({which}) reached its end of life on {eol_text}", location
            )
        elif now >= eol - _SOON:
            yield Found(
                f"Python {version} ({which}) reaches its end of life on {eol_text}",
                location,
                severity="medium",
            )


_DIST_PACKAGES = re.compile(r"^/usr/(?:local/)?lib/python3(?:\.\d+)?/dist-packages$")


def _distro_interpreters(facts: Facts) -> list[dict[str, Any]]:
    return [
        i
        for i in _python(facts).get("interpreters") or []
        if i.get("externally_managed")
        or i.get("externally_managed_removed")
        or i.get("prefix") == "/usr"
    ]


@check(
    "PY007",
    "pip-into-distro-python",
    "pip installed packages into the distribution's own Python instead of a venv",
    severity="medium",
    category="python",
    needs=("python", "history"),
    fix="Create a venv (`python3 -m venv /opt/venv`), install into it and put its bin first "
    "on PATH.",
)
def pip_into_distro_python(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    Whether pip (or uv) wrote into a distribution-managed interpreter: distributions whose
    INSTALLER is pip or uv in `/usr/lib/python3/dist-packages` or
    `/usr/local/lib/python3.X/dist-packages` of a distro Python, a PEP 668
    `EXTERNALLY-MANAGED` marker that a later layer deleted, or `PIP_BREAK_SYSTEM_PACKAGES` in
    ENV. `--break-system-packages` in the history is quoted as evidence. The official
    `python:*` images (a python.org build under `/usr/local`, `site-packages`) are not
    concerned. Without any OS package database (nothing apt could clash with) it is low.

    ## Why it matters
    PEP 668 marks distribution Pythons as externally managed because pip and apt then
    overwrite each other's files and break distribution tools that depend on exact versions
    (https://peps.python.org/pep-0668/). A venv keeps the app's dependencies separate and
    predictable (https://hynek.me/articles/docker-virtualenv/).

    ## Example
    ```dockerfile
    FROM debian:bookworm
    RUN apt-get install -y python3-pip && pip install --break-system-packages -r requirements.txt
    ```

    ## Instead
    ```dockerfile
    RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install -r requirements.txt
    ENV PATH=/opt/venv/bin:$PATH
    ```

    ## References
    - https://peps.python.org/pep-0668/
    - https://hynek.me/articles/docker-virtualenv/
    - https://packaging.python.org/en/latest/specifications/externally-managed-environments/
    - Practice: none of Turner-Trauring's; PEP 668: a distribution's Python is externally managed
    """
    distro = _distro_interpreters(facts)
    if not distro:
        return
    no_apt = not (facts.get("os_packages") or {}).get("manager")
    # Named by layer, as every location is; a step that made no layer cannot be named that way.
    steps = [
        h["layer"]
        for h in facts.get("history") or []
        if "--break-system-packages" in (h.get("created_by") or "") and h.get("layer") is not None
    ]
    flag = (
        (
            f"; layer{'s' if len(steps) > 1 else ''} "
            f"{', '.join(str(layer_number(n)) for n in steps)} used --break-system-packages"
        )
        if steps
        else ""
    )
    by_location: dict[str, list[dict[str, Any]]] = {}
    for package in _python(facts).get("packages") or []:
        installer = (package.get("installer") or "").strip().lower()
        location = package.get("location") or ""
        if installer in ("pip", "uv") and _DIST_PACKAGES.match(location):
            by_location.setdefault(location, []).append(package)
    for location, packages in sorted(by_location.items()):
        names = ", ".join(p.get("name") or "?" for p in packages[:6])
        more = f" and {len(packages) - 6} more" if len(packages) > 6 else ""
        yield Found(
            f"{len(packages)} distributions installed by pip into the distribution's Python at "
            f"{location}: {names}{more}{flag}",
            at_layer(facts, packages[0].get("layer"), location),
            severity="low" if no_apt else None,
        )
    for interp in distro:
        if interp.get("externally_managed_removed"):
            yield Found(
                f"the PEP 668 EXTERNALLY-MANAGED marker of {interp.get('path')} was deleted, "
                "so pip installs system-wide",
                Location(path=f"{interp.get('stdlib') or interp.get('prefix')}/EXTERNALLY-MANAGED"),
            )
    if env(facts).get("PIP_BREAK_SYSTEM_PACKAGES"):
        yield Found(
            "PIP_BREAK_SYSTEM_PACKAGES is set: pip may install into the distribution's Python",
            Location(config="Env.PIP_BREAK_SYSTEM_PACKAGES"),
        )


@check(
    "PY008",
    "musl-libc",
    "Python on a musl (Alpine) base: slower builds, bigger images, runtime differences",
    severity="medium",
    category="python",
    needs=("os", "python"),
    fix="Use a glibc base such as python:3.13-slim (Debian) or Ubuntu LTS.",
)
def musl_libc(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    Whether the image's C library is musl (Alpine and its derivatives), decided from the
    dynamic loader and libc files rather than the package manager (Wolfi uses apk with glibc),
    in an image that has Python.

    ## Why it matters
    Most binary wheels on PyPI are built for glibc (manylinux); on musl pip falls back to
    building from source, which is slow and needs compilers in the image, and musl differs at
    runtime (DNS resolution, a small default thread stack, a slower malloc). "Alpine can make
    Python Docker builds 50x slower" (https://pythonspeed.com/articles/alpine-docker-python/);
    PEP 656 musllinux wheels help only where projects publish them.

    ## Example
    ```dockerfile
    FROM python:3.12-alpine
    ```

    ## Instead
    ```dockerfile
    FROM python:3.12-slim
    ```

    ## References
    - https://pythonspeed.com/articles/alpine-docker-python/
    - https://peps.python.org/pep-0656/
    - Practice: #17 Avoid Alpine (musl): "Using Alpine can make Python Docker builds 50x slower",
      https://pythonspeed.com/articles/alpine-docker-python/
    """
    _require_python(facts)
    os_facts = facts.get("os") or {}
    if os_facts.get("libc") != "musl":
        return
    name = os_facts.get("pretty_name") or os_facts.get("id") or "the base"
    yield Found(
        f"{name} uses musl libc ({os_facts.get('libc_evidence')})",
        Location(path=os_facts.get("libc_evidence")),
    )
