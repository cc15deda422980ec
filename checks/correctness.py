"""Correctness checks: whether the image can start and run what it says it runs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from checks.access import argv, config, lifecycle, probe_missing
from checks.model import Context, Facts, Found, Location, Skip
from checks.registry import check

_USER_ERRORS = (
    "unable to find user",
    "unable to find group",
    "no matching entries in passwd",
    "no matching entries in group",
)
# What the runtime says when the command itself cannot be executed.
_EXEC_ERRORS = (
    "executable file not found",
    "no such file or directory",
    "permission denied",
    "exec format error",
    "not a directory",
)
# The analyser's notes that mean Docker (or the kernel) cannot run the command.
_BROKEN_NOTES = re.compile(
    r"does not exist in the image|is not found on PATH|is a dangling symlink|"
    r"is not an executable file|has no shebang line|env is run without a command|"
    r"declares no ENTRYPOINT or CMD"
)
_PYTHON_NAME = re.compile(r"python(?:\d+(?:\.\d+)?)?")


def _started(facts: Facts) -> bool:
    """Whether the lifecycle probe started the container (so its USER resolved)."""
    probe = (facts.get("runtime") or {}).get("lifecycle") or {}
    return probe.get("status") in ("ran", "exited-early")


def _start_failure(facts: Facts) -> str | None:
    """Docker's message when the lifecycle probe could not start the container."""
    probe = (facts.get("runtime") or {}).get("lifecycle") or {}
    if probe.get("status") != "could-not-start":
        return None
    return probe.get("message") or probe.get("reason") or ""


@check(
    "COR001",
    "user-does-not-exist",
    "USER names a user or group the image does not have: the container cannot start",
    severity="high",
    category="correctness",
    needs=("config", "user"),
    wants=("runtime.lifecycle",),
    fix="Create the user in the image (`useradd --uid 10001 app`) or use a numeric "
    "`USER 10001:10001`.",
)
def user_does_not_exist(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    Whether Docker can resolve the config `User` against the image's own `/etc/passwd` and
    `/etc/group`: a name (user or group) that is not there makes every `docker run` fail
    before the command starts. The lifecycle probe's start error confirms it when it ran. A
    lookup that cannot be answered (a name past the part of an over-large `/etc/passwd` or
    `/etc/group` that was read) is a finding that says so, unless the probe started the
    container.

    ## Why it matters
    The image cannot run at all: `docker run` fails with "unable to find user NAME: no matching
    entries in passwd file", usually because the user was created in a build stage that is not
    the final one, or the name was mistyped (https://docs.docker.com/reference/dockerfile/#user).

    ## Example
    ```dockerfile
    FROM python:3.12-slim AS build
    RUN useradd app
    FROM python:3.12-slim
    USER app                 # created in the other stage only
    ```

    ## Instead
    ```dockerfile
    FROM python:3.12-slim
    RUN useradd --uid 10001 app
    USER 10001:10001
    ```

    ## References
    - https://docs.docker.com/reference/dockerfile/#user
    - https://github.com/opencontainers/runc/blob/main/libcontainer/user/user.go
    - Practice: #20 The image must actually work: smoke-test it before pushing: "Broken by default:
      why you should avoid most Dockerfile examples",
      https://pythonspeed.com/articles/dockerizing-python-is-hard/
    """
    user = facts.get("user") or {}
    error = user.get("error")
    started = _start_failure(facts)
    confirmed = started if started and any(e in started for e in _USER_ERRORS) else None
    undetermined = user.get("undetermined")
    if undetermined and not error and not confirmed and not _started(facts):
        raw = config(facts).get("user") or user.get("config_user") or ""
        yield Found(
            f"USER {raw!r} cannot be looked up, so whether the container starts is "
            f"undetermined: {undetermined}",
            Location(config="User", path="/etc/passwd"),
        )
        return
    if not error and not confirmed:
        return
    raw = config(facts).get("user") or user.get("config_user") or ""
    said = confirmed or error
    evidence = " (the lifecycle probe could not start it either)" if confirmed and error else ""
    yield Found(
        f"USER {raw!r} cannot be resolved: {said}{evidence}",
        Location(
            config="User", path="/etc/passwd", runtime="lifecycle probe" if confirmed else None
        ),
    )


def _entrypoint(facts: Facts) -> dict[str, Any]:
    return (facts.get("python") or {}).get("entrypoint_interpreter") or {}


def _python_named(command: str | None) -> bool:
    return bool(command) and bool(_PYTHON_NAME.fullmatch((command or "").rsplit("/", 1)[-1]))


def _python_missing(entry: dict[str, Any]) -> bool:
    """The command is a python that cannot be found or run."""
    note = entry.get("note") or ""
    return _python_named(entry.get("command")) and bool(_BROKEN_NOTES.search(note))


def _inside_script(entry: dict[str, Any]) -> bool:
    """Whether the command was read inside a start script the image's command runs."""
    return "script" in (entry.get("chain") or [])


def _exited_early(facts: Facts) -> bool:
    probe = (facts.get("runtime") or {}).get("lifecycle") or {}
    return probe.get("status") == "exited-early"


def _command_started(facts: Facts) -> bool:
    """The lifecycle probe saw the command run (exit 126/127 is the shell failing to run it,
    unless the log shows it ran far enough to ask for a setting or a service: bash exits 127 on
    a variable unset under `set -u`)."""
    probe = (facts.get("runtime") or {}).get("lifecycle") or {}
    if lifecycle(facts):
        return True
    if probe.get("status") != "exited-early":
        return False
    asked = (probe.get("exit_cause") or {}).get("kind") in ("needs-config", "needs-service")
    return asked or probe.get("exit_code") not in (126, 127)


@check(
    "COR002",
    "entrypoint-not-runnable",
    "ENTRYPOINT/CMD names a command the image cannot run",
    severity="high",
    category="correctness",
    needs=("config", "python"),
    wants=("runtime.lifecycle",),
    fix="Point ENTRYPOINT/CMD at a file that exists in the final image, is executable "
    "(`chmod +x`) and starts with a `#!` line whose interpreter exists.",
)
def entrypoint_not_runnable(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    The default command (ENTRYPOINT then CMD) followed as Docker, the shell and the kernel
    would: the command is missing from the image or from the config's PATH, a dangling
    symlink, not executable, a script without a `#!` line, or a shebang whose interpreter is
    missing; or the image declares no command at all. When the lifecycle probe could not start
    the container for one of these reasons, Docker's message is the evidence; when the probe
    saw it run, no finding is made. A missing `python` is left to COR003.

    ## Why it matters
    The image does not start: `docker run` fails with `exec: "app": executable file not found
    in $PATH`, `no such file or directory` or `exec format error`. It usually comes from a
    multi-stage build that did not copy a file, a script without `chmod +x`, or a script with
    Windows line endings (https://docs.docker.com/reference/dockerfile/#entrypoint).

    ## Example
    ```dockerfile
    COPY entrypoint.sh /entrypoint.sh        # not executable, or written with CRLF
    ENTRYPOINT ["/entrypoint.sh"]
    ```

    ## Instead
    ```dockerfile
    COPY --chmod=0755 entrypoint.sh /entrypoint.sh
    ENTRYPOINT ["/entrypoint.sh"]
    ```

    ## References
    - https://docs.docker.com/reference/dockerfile/#entrypoint
    - https://docs.docker.com/reference/dockerfile/#copy---chown---chmod
    - Practice: #20 The image must actually work: smoke-test it before pushing: "Broken by default:
      why you should avoid most Dockerfile examples",
      https://pythonspeed.com/articles/dockerizing-python-is-hard/
    - Practice: #19 Multi-stage: copy the venv at the same path onto the same base interpreter:
      "Multi-stage builds #2: Python specifics",
      https://pythonspeed.com/articles/multi-stage-docker-python/
    """
    started = _start_failure(facts)
    if started and any(e in started for e in _USER_ERRORS):
        return  # it failed on USER before reaching the command: COR001
    if started and any(e in started.lower() for e in _EXEC_ERRORS):
        arch = (facts.get("image") or {}).get("architecture") or "the image's platform"
        wrong = (
            f" (the file is not a program this {arch} image's CPU can run: a binary built for "
            "another architecture)"
            if "exec format error" in started.lower()
            else ""
        )
        yield Found(
            f"Docker cannot start the command: {started}{wrong}",
            Location(config="Entrypoint/Cmd", runtime="lifecycle probe"),
            fix=(
                f"Build or download the binary for {arch} (`docker buildx build --platform "
                f"linux/{arch}`), or fix the script's line endings and `#!` line."
                if wrong
                else None
            ),
        )
        return
    if _command_started(facts):
        return  # whatever the static view says, the command started
    entry = _entrypoint(facts)
    if _inside_script(entry) and _exited_early(facts):
        return  # a start script's command failed as it ran: COR004 quotes the shell's words
    note = entry.get("note") or ""
    if not _BROKEN_NOTES.search(note) or _python_missing(entry):
        return  # not broken, or a missing Python, which COR003 explains better
    command = " ".join(entry.get("argv") or argv(facts)) or "(none)"
    # A shell line or a start script is read, not run: what it reaches is our best reading.
    via_shell = bool({"shell", "script"} & set(entry.get("chain") or []))
    yield Found(
        f"the default command `{command}` cannot run: {note}"
        + (" (read through a shell command line, so this is a best guess)" if via_shell else ""),
        Location(config="Entrypoint/Cmd", path=entry.get("resolved_path")),
        severity="medium" if via_shell else None,
    )


def _python_app_evidence(facts: Facts) -> str | None:
    """Why the image is clearly a Python application, or None."""
    py = facts.get("python") or {}
    entry = _entrypoint(facts)
    if _python_named(entry.get("command")):
        return f"its command runs `{entry.get('command')}`"
    app = ((py.get("bytecode") or {}).get("application") or {}).get("modules") or 0
    if app:
        return f"it ships {app} Python source files of application code"
    installed = [
        p
        for p in py.get("packages") or []
        if (p.get("installer") or "").lower() in ("pip", "uv", "poetry")
    ]
    if installed:
        return f"pip installed {len(installed)} distributions into it"
    if py.get("venvs"):
        return f"it has a virtualenv at {py['venvs'][0].get('path')}"
    return None


def _runnable_pythons(facts: Facts) -> list[str]:
    py = facts.get("python") or {}
    found = [i.get("path") for i in py.get("interpreters") or [] if i.get("stdlib")]
    found += [v.get("python") for v in py.get("venvs") or [] if v.get("interpreter")]
    return [p for p in found if p]


@check(
    "COR003",
    "python-not-found",
    "The image is a Python application but its command cannot find a Python to run it",
    severity="high",
    category="correctness",
    needs=("config", "python"),
    wants=("runtime.lifecycle",),
    fix="Run the interpreter the image has by its path (e.g. `/opt/venv/bin/python` or "
    "`python3`), or copy the interpreter (and its venv home) into the final stage.",
)
def python_not_found(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    In an image that clearly is a Python application (its command names python, it ships
    application sources, pip-installed distributions or a venv): whether the command's
    `python` exists on the config's PATH and runs, and whether the image has any usable
    interpreter at all (a CPython with its standard library, or a venv whose `bin/python`
    resolves). `CMD ["python", ...]` on a Debian base that only has `python3`, and a venv copied
    from a build stage whose base interpreter lived elsewhere, are the usual cases.

    ## Why it matters
    The container fails at once (`exec: "python": executable file not found in $PATH`), or a
    venv's dangling `bin/python` makes every console script fail. venvs are not relocatable:
    `pyvenv.cfg` and the `bin/python` link point at the interpreter they were made from
    (https://docs.python.org/3/library/venv.html;
    https://pythonspeed.com/articles/multi-stage-docker-python/).

    ## Example
    ```dockerfile
    FROM debian:bookworm-slim
    RUN apt-get install -y python3
    CMD ["python", "-m", "app"]      # Debian has python3, not python
    ```

    ## Instead
    ```dockerfile
    CMD ["python3", "-m", "app"]
    ```

    ## References
    - https://docs.python.org/3/library/venv.html
    - https://pythonspeed.com/articles/multi-stage-docker-python/
    - https://peps.python.org/pep-0394/
    - Practice: #19 Multi-stage: copy the venv at the same path onto the same base interpreter:
      "Multi-stage builds #2: Python specifics",
      https://pythonspeed.com/articles/multi-stage-docker-python/
    - Practice: #20 The image must actually work: smoke-test it before pushing: "Broken by default:
      why you should avoid most Dockerfile examples",
      https://pythonspeed.com/articles/dockerizing-python-is-hard/
    """
    why = _python_app_evidence(facts)
    if why is None or _command_started(facts):
        return
    entry = _entrypoint(facts)
    pythons = _runnable_pythons(facts)
    have = f"; the image has {', '.join(pythons[:3])}" if pythons else ""
    if _python_missing(entry):
        yield Found(
            f"the command's `{entry.get('command')}` cannot run: {entry.get('note')}{have}",
            Location(config="Entrypoint/Cmd", path=entry.get("resolved_path")),
        )
    elif not pythons:
        yield Found(
            f"the image has no usable Python interpreter, yet {why}",
            Location(config="Entrypoint/Cmd"),
        )


# What to do about each way an app fails at start (the lifecycle probe's `exit_cause.kind`, or
# the import test's failure). `{s}` is the subject the log named.
_START_FIXES = {
    "missing-module": "Install the distribution that provides `{s}` in the final image (add it "
    "to the requirements and rebuild; in a multi-stage build, copy the venv that has it).",
    "import-error": "The installed versions do not provide what the code imports ({s}): pin "
    "versions that work together and rebuild (`pip check` in the build catches conflicts).",
    "missing-library": "Install the OS package that ships `{s}` in the final stage (or copy the "
    "library from the build stage); `ldd` on the extension lists what it needs.",
    "syntax-error": "Fix the code at {s}, or run it on the Python version it was written for; "
    "`python -m compileall` in the build catches this before the image ships.",
    "python-exception": "Run the image with `docker run` and fix the exception it raises at start "
    "({s}); the facts' `runtime.lifecycle.log_tail` has the traceback.",
    "wrong-architecture": "Build the image for the platform it runs on (`docker buildx build "
    "--platform linux/amd64`), or install the binary built for that CPU.",
    "missing-executable": "Install `{s}` in the final image, or fix the command or script that "
    "names it (check PATH and the stage it was installed in).",
    "permission-denied": "Make `{s}` executable in the image (`COPY --chmod=0755`, `chmod +x`) and "
    "readable by the USER.",
    "missing-attribute": "Point the command at the object that exists (`MODULE:NAME`, e.g. "
    "`wsgi:app`), or define it in the module ({s}); gunicorn takes a bare module to mean "
    "`MODULE:application`.",
}
_IMPORT_KINDS = {
    "ModuleNotFoundError": "missing-module",
    "ImportError": "import-error",
    "SyntaxError": "syntax-error",
    "IndentationError": "syntax-error",
    "TabError": "syntax-error",
}
# Kinds COR002 and COR003 already report from the image's own files.
_COMMAND_KINDS = frozenset({"missing-executable", "permission-denied", "wrong-architecture"})


def _venv_root(site_dir: str) -> str:
    """/opt/venv/lib/python3.11/site-packages -> /opt/venv."""
    return site_dir.split("/lib/python", 1)[0] or site_dir


def _elsewhere(facts: Facts, module: str, found: list[str]) -> tuple[str, str | None]:
    """Where the missing module does live, and the fix that points the command at it."""
    entry = _entrypoint(facts)
    runs = entry.get("interpreter") or entry.get("command") or "its interpreter"
    venvs = {v.get("path") for v in (facts.get("python") or {}).get("venvs") or []}
    root = _venv_root(found[0])
    if root in venvs:
        where = f"the venv {root}"
        fix = (
            f"Put {root}/bin first on PATH (`ENV PATH={root}/bin:$PATH`) or run "
            f"{root}/bin/python, so the command uses the venv that has `{module}`."
        )
    elif "/.local/lib/" in found[0]:
        where = f"a `pip install --user` tree ({root})"
        fix = (
            "Install the dependencies into a venv (or the interpreter's own site-packages) "
            "instead of with --user: a user site is only searched for that user's HOME."
        )
    else:
        where = found[0]
        fix = (
            f"Install `{module}` where {runs} looks (its site-packages), or add "
            f"{found[0]} to PYTHONPATH."
        )
    return (
        f"; `{module}` is installed in {where} ({found[0]}), but the command runs {runs}, "
        "which does not search it"
    ), fix


@check(
    "COR004",
    "app-fails-at-start",
    "The application fails as it starts: a missing module or library, broken code, a crash",
    severity="high",
    category="correctness",
    needs=("config", "python"),
    wants=("runtime.static", "runtime.lifecycle"),
    fix="Make the image start as built: install what it imports, in the environment its "
    "command runs; the finding says what is missing and where.",
)
def app_fails_at_start(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    Two runtime observations of the image's own command. The static probe's import smoke test
    imports what the command imports first (`python -m pkg`, a script's top-level imports,
    `gunicorn mod:app` and the `app` object it loads, `uvicorn`, `fastapi run PATH`,
    `celery -A`, `flask` with FLASK_APP, a console script), followed through start scripts'
    `exec` lines and `uv run`/`poetry run`/`pipenv run`, as the image's USER with the network
    off; the lifecycle probe starts the image as a user would and
    reads why it exited if it stopped during the warm-up. A Python traceback (a missing module,
    an ImportError, a SyntaxError, any uncaught exception), a shared library the loader cannot
    find, a binary for another CPU, or a command the shell cannot find is a high finding that
    quotes the decisive line and says where it comes from. When the missing module is installed
    elsewhere in the image (another venv, a `--user` or `--prefix` tree), the finding says so.
    The same holds for an app that was still running when the probe sent its stop signal and
    then ended by its own error before the grace period was over (`stopped_by` "crash": a status
    that is neither 0 nor 128+signal, with a crash at the end of its log): the crash is reported
    with its exception line and where it was raised, and OPS002 still judges the stop.
    An exit whose log shows the app waiting for configuration or a service (a variable unset
    under `set -u`, `KeyError` from `os.environ`, Django's `ImproperlyConfigured`, a settings
    library's error, a refused connection: the probe has no network) is inconclusive and no
    finding; any other exit during the warm-up with a non-zero status is medium.

    ## Why it matters
    An image that cannot start passes every static check and fails in production at the first
    deploy: `ModuleNotFoundError: No module named 'yaml'` because the dependency went into a venv
    the command does not use, a C extension whose library stayed in the build stage, code for a
    newer Python than the image has. A release gate must never sign such an image off
    (https://pythonspeed.com/articles/multi-stage-docker-python/).

    ## Example
    ```dockerfile
    RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install -r requirements.txt
    CMD ["python3", "-m", "svc"]     # /usr/bin/python3: the venv's packages are not on its path
    ```

    ## Instead
    ```dockerfile
    RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install -r requirements.txt
    ENV PATH=/opt/venv/bin:$PATH
    CMD ["python", "-m", "svc"]
    ```

    ## References
    - https://pythonspeed.com/articles/multi-stage-docker-python/
    - https://pythonspeed.com/articles/activate-virtualenv-dockerfile/
    - https://docs.python.org/3/library/sys_path_init.html
    - Practice: #20 The image must actually work: smoke-test it before pushing: "Broken by default:
      why you should avoid most Dockerfile examples",
      https://pythonspeed.com/articles/dockerizing-python-is-hard/
    """
    runtime = facts.get("runtime") or {}
    static = runtime.get("static") or {}
    life = runtime.get("lifecycle") or {}
    if static.get("status") != "ran" and life.get("status") not in ("ran", "exited-early"):
        why = life.get("reason") or static.get("reason") or "they did not run"
        status = life.get("status") or static.get("status") or "missing"
        raise Skip(probe_missing("the static or lifecycle probe", status, why))
    imports = static.get("imports") or {}
    cause = _exit_cause(life)
    entry = _entrypoint(facts)
    command = " ".join(entry.get("argv") or argv(facts)) or "(none)"
    if imports.get("verdict") == "broken":
        yield _import_finding(facts, imports, cause, command)
        if (
            cause.get("kind")
            in (
                "missing-module",
                "import-error",
                "missing-library",
                "syntax-error",
                "missing-attribute",
            )
            or cause.get("verdict") == "unexplained"
        ):
            return  # the same failure, seen twice; or an exit the import test explains
    if not cause:
        return
    if cause.get("verdict") == "broken":
        kind = cause.get("kind") or "python-exception"
        # A start script's broken line is only read; the shell's own words are the evidence.
        static_says_broken = _BROKEN_NOTES.search(entry.get("note") or "") and not (
            _inside_script(entry))  # fmt: skip
        if kind in _COMMAND_KINDS and (static_says_broken or _python_missing(entry)):
            return  # COR002/COR003 explain it from the image's files
        subject = cause.get("subject") or "it"
        raised = cause.get("raised_in")
        message = (
            f"`{command}` exits at start with status {life.get('exit_code')}: {cause.get('line')}"
        )
        fix = _START_FIXES.get(kind, "").format(s=subject) or None
        if life.get("stopped_by") == "crash":
            message, fix = _crash_message(life, command, fix)
        if raised:
            message += f" (raised in {raised})"
        found = list(cause.get("found_elsewhere") or [])
        if kind == "missing-module" and found:
            said, fix = _elsewhere(facts, subject.split(".")[0], found)
            message += said
        path = raised.rsplit(":", 1)[0] if raised and raised.startswith("/") else None
        yield Found(
            message,
            Location(config="Entrypoint/Cmd", path=path, runtime="lifecycle probe"),
            fix=fix,
        )
    elif cause.get("verdict") == "unexplained":
        last = f"; its last log line: {cause.get('line')}" if cause.get("line") else ""
        yield Found(
            f"`{command}` exited with status {life.get('exit_code')} during the "
            f"{life.get('warmup_seconds')}s warm-up, and its log does not say why{last}",
            Location(config="Entrypoint/Cmd", runtime="lifecycle probe"),
            severity="medium",
            fix="Run it with `docker run` to see why it stops; an app that needs settings should "
            "say which in its log, so that an audit can tell it apart from a broken image.",
        )


def _exit_cause(life: dict[str, Any]) -> dict[str, Any]:
    """Why the app exited by itself: during the warm-up, or crashing while it was being stopped."""
    if life.get("status") == "exited-early" or (
        life.get("status") == "ran" and life.get("stopped_by") == "crash"
    ):
        return life.get("exit_cause") or {}
    return {}


def _crash_message(life: dict[str, Any], command: str, fix: str | None) -> tuple[str, str | None]:
    """An app that was running when the probe stopped it, and ended by its own error instead."""
    cause = life.get("exit_cause") or {}
    sent, waited = life.get("stop_sent_seconds"), life.get("stop_seconds")
    when = ""
    if sent is not None and waited is not None:
        when = (
            f" {sent + waited:.1f} s after it started, {waited:g} s after the probe's "
            f"{life.get('stop_signal') or 'SIGTERM'}"
        )
    message = (
        f"`{command}` crashed by itself with status {life.get('exit_code')} (not a signal's "
        f"128+N){when}: {cause.get('line')}"
    )
    if cause.get("kind") == "python-exception":
        fix = (
            f"Fix the exception the app raises while it runs ({cause.get('subject')}); the "
            "facts' `runtime.lifecycle.log_tail` has the traceback, and `docker run` shows it "
            "when the app has run as long."
        )
    return message, fix


def _import_finding(
    facts: Facts, imports: dict[str, Any], cause: dict[str, Any], command: str
) -> Found:
    exception = imports.get("exception") or "ImportError"
    if imports.get("attribute"):
        return _attribute_finding(facts, imports, cause, command)
    kind = (
        "missing-library"
        if imports.get("library")
        else _IMPORT_KINDS.get(exception, "import-error")
    )
    module = imports.get("module") or ""
    location = imports.get("location") or ""
    subject = (
        {
            "missing-library": imports.get("library"),
            "missing-module": module,
            "syntax-error": location,
        }.get(kind)
        or imports.get("message")
        or module
    )
    where = f" (at {location})" if location and kind != "syntax-error" else ""
    if imports.get("raised_in") and where:
        where = f" (at {location}, raised in {imports['raised_in']})"
    if kind == "missing-library" and module:
        where += f"; the library is needed by the extension module `{module}`"
    message = (
        f"`{imports.get('command') or command}` cannot import its code: {exception}: "
        f"{imports.get('message')}{where}"
    )
    if cause.get("verdict") == "broken":
        message += f"; the lifecycle probe saw it exit with status {_status(facts)}"
    fix = _START_FIXES[kind].format(s=subject)
    found = list(imports.get("found_elsewhere") or [])
    if kind == "missing-module" and found:
        said, fix = _elsewhere(facts, module.split(".")[0], found)
        message += said
    path = location.rsplit(":", 1)[0] if location else None
    runtime = "static probe: import test"
    if cause.get("verdict") == "broken":
        runtime += "; lifecycle probe"
    return Found(message, Location(config="Entrypoint/Cmd", path=path, runtime=runtime), fix=fix)


def _attribute_finding(
    facts: Facts, imports: dict[str, Any], cause: dict[str, Any], command: str
) -> Found:
    """The app server's module imports, but the object it loads from it is not there."""
    module, name = imports.get("module") or "?", imports.get("attribute")
    path = imports.get("location") or None
    where = f" ({path})" if path else ""
    message = (
        f"`{imports.get('command') or command}` cannot load its application: the module "
        f"`{module}`{where} imports, but defines no `{name}`"
    )
    if cause.get("verdict") == "broken":
        message += f"; the lifecycle probe saw it exit with status {_status(facts)}"
        if cause.get("line"):
            message += f" ({cause['line']})"
    runtime = "static probe: import test" + ("; lifecycle probe" if cause else "")
    fix = _START_FIXES["missing-attribute"].format(s=f"`{name}` in `{module}`")
    return Found(message, Location(config="Entrypoint/Cmd", path=path, runtime=runtime), fix=fix)


def _status(facts: Facts) -> Any:
    return ((facts.get("runtime") or {}).get("lifecycle") or {}).get("exit_code")
