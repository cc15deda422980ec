"""One sentence per `runtime.*` path of the facts JSON; merged into facts/fields.py FIELDS."""

from __future__ import annotations

_STATUS_STATIC = (
    '"ran" (the fields below are measured), "not-applicable" (no Python in the image, an archive, '
    'another CPU architecture: see `reason`), "skipped" (--no-probe), "could-not-start" (Docker '
    'refused to start it: see `reason`), "failed" (the interpreter exited before reporting: see '
    '`log_tail`) or "timeout".'
)

RUNTIME_FIELDS: dict[str, str] = {
    "runtime": (
        "What the image does when it runs, from two short hardened containers (network off, "
        "memory and PID limits, removed afterwards)."
    ),
    # --- the static probe ----------------------------------------------------------------
    "runtime.static": (
        "The static probe: the image's own interpreter, run directly (never through a shell) as "
        "the image's USER with its env and WORKDIR, all capabilities dropped, no-new-privileges, "
        "a read-only root and a tmpfs /tmp, reports on itself."
    ),
    "runtime.static.status": _STATUS_STATIC,
    "runtime.static.reason": "Why the probe did not run or did not report; null when it ran.",
    "runtime.static.interpreter": (
        "The interpreter path the probe ran: the one ENTRYPOINT/CMD runs (a venv's python when "
        "one is active), else the image's first venv or interpreter."
    ),
    "runtime.static.seconds": "Wall seconds from creating the probe container to its output.",
    "runtime.static.uid": "The real UID the process runs with (0 is root).",
    "runtime.static.gid": (
        "The real GID; a numeric USER without a passwd entry runs with GID 0 (root's group)."
    ),
    "runtime.static.groups": "Supplementary group IDs of the process.",
    "runtime.static.user_name": "The passwd name of the UID; null when it has no passwd entry.",
    "runtime.static.passwd_entry": (
        "False when the UID has no passwd entry: tools that look the user up (getpass, ssh, some "
        "database clients) fail."
    ),
    "runtime.static.home": (
        "HOME as the process sees it: Docker sets it from the passwd entry, or `/` when there is "
        "none."
    ),
    "runtime.static.cwd": "The working directory the process starts in (WORKDIR, or `/`).",
    "runtime.static.python_version": 'The interpreter\'s full version, e.g. "3.11.2".',
    "runtime.static.sys_version": "`sys.version` verbatim (build date and compiler).",
    "runtime.static.executable": "`sys.executable`.",
    "runtime.static.prefix": "`sys.prefix`: the venv when one is active.",
    "runtime.static.base_prefix": "`sys.base_prefix`: the installation the venv was made from.",
    "runtime.static.dont_write_bytecode": (
        "True when Python will not write .pyc (PYTHONDONTWRITEBYTECODE or -B): modules not "
        "precompiled in the image are compiled again on every start."
    ),
    "runtime.static.optimize": "`sys.flags.optimize` (PYTHONOPTIMIZE or -O/-OO): 0, 1 or 2.",
    "runtime.static.utf8_mode": "`sys.flags.utf8_mode` (PYTHONUTF8 or -X utf8).",
    "runtime.static.faulthandler": (
        "Whether faulthandler is on at startup (PYTHONFAULTHANDLER or -X faulthandler), so a "
        "crash in C code or a hang dumps every thread's traceback."
    ),
    "runtime.static.stdout_write_through": (
        "Whether stdout writes through to the pipe (PYTHONUNBUFFERED or -u); false means logs can "
        "sit in a buffer and be lost when the container is killed."
    ),
    "runtime.static.filesystem_encoding": "`sys.getfilesystemencoding()`.",
    "runtime.static.preferred_encoding": (
        "`locale.getpreferredencoding(False)`: what open() uses without an encoding; not UTF-8 "
        "usually means no locale is set (LANG/LC_ALL)."
    ),
    "runtime.static.site_packages": "The site-packages dirs on the interpreter's sys.path.",
    "runtime.static.app_dir": (
        "The directory of the code ENTRYPOINT/CMD runs (the `-m` package or the script), found "
        "without importing it; null when the command names none."
    ),
    "runtime.static.writable": (
        "Path to whether the runtime user can create files there (site-packages dirs, `app_dir`, "
        "HOME, /tmp), judged from owner, group and mode as the kernel would on a writable root "
        "(root always can); code the app user can write can be changed by an attacker in it."
    ),
    "runtime.static.distributions": (
        "Number of distinct installed distributions the interpreter sees (importlib.metadata); "
        "null when it cannot tell (Python older than 3.8)."
    ),
    "runtime.static.dependency_problems[]": (
        "Requirements of installed distributions that are not met, as `pip check` reports them, "
        "worked out from importlib.metadata so it works where pip is absent."
    ),
    "runtime.static.dependency_problems[].distribution": "The distribution that requires.",
    "runtime.static.dependency_problems[].version": "Its installed version.",
    "runtime.static.dependency_problems[].requirement": "The Requires-Dist entry, verbatim.",
    "runtime.static.dependency_problems[].kind": (
        '"missing" (nothing of that name is installed) or "conflict" (the installed version is '
        "outside the specifier)."
    ),
    "runtime.static.dependency_problems[].installed": (
        "The version installed, for a conflict; null when missing."
    ),
    "runtime.static.dependency_problems[].message": "The problem worded as `pip check` words it.",
    "runtime.static.dependency_check": (
        '"done", or "unavailable: <why>" when the installed distributions cannot be listed; null '
        "when the probe did not run."
    ),
    "runtime.static.ca_bundle": (
        "The CA certificate file or dir TLS verification would use; null when there is none "
        "(HTTPS calls will fail) or the ssl module is missing."
    ),
    "runtime.static.timezone_data": (
        "Whether zone data is present (a zoneinfo dir with UTC, or the `tzdata` package); false "
        "means zoneinfo.ZoneInfo('Europe/Paris') fails."
    ),
    "runtime.static.sys_path": (
        "The interpreter's module search path (sys.path) as the probe saw it, without the "
        "working directory."
    ),
    "runtime.static.imports": (
        "The import smoke test: what the image's command imports first (`python -m pkg`, a "
        "script's top-level imports, `gunicorn mod:app` and the `app` it loads, `uvicorn`, "
        "`fastapi run|dev PATH`, `celery -A`, `flask` with FLASK_APP, a console script's "
        "imports; followed through start scripts and `uv run`-style runners), imported for "
        "real in a child of the probe's interpreter, as the image's USER, network off, within "
        "a time limit. Null when the command runs no Python."
    ),
    "runtime.static.imports.command": (
        'What it stands for, e.g. "python -m svc", "gunicorn wsgi:app".'
    ),
    "runtime.static.imports.status": (
        '"ok", "failed" (see `exception`), "timeout" (the imports did not finish in time, e.g. '
        'the module starts the app as it loads) or "not-run" (the child could not start).'
    ),
    "runtime.static.imports.verdict": (
        '"passed"; "broken" (a module, shared library or name could not be imported, or the code '
        'does not compile: the app cannot start); "inconclusive" (it failed in a way a real '
        "deployment may not: a missing setting, no network, the probe's read-only root, a time "
        "out)."
    ),
    "runtime.static.imports.imported": "Modules imported before any failure, in order.",
    "runtime.static.imports.exception": "The exception type that ended the test; null on success.",
    "runtime.static.imports.message": "Its message, shortened.",
    "runtime.static.imports.module": "The module that could not be imported (ImportError.name).",
    "runtime.static.imports.library": (
        'The shared library that could not be loaded, e.g. "libpq.so.5"; null otherwise.'
    ),
    "runtime.static.imports.location": "file:line of the failing import statement or error.",
    "runtime.static.imports.raised_in": (
        "file:line deeper down (in a library) where it was raised; null when that is `location`."
    ),
    "runtime.static.imports.found_elsewhere": (
        "Site-packages dirs of the image that hold the missing module but are not on the "
        "interpreter's sys.path (another venv, a --user or --prefix tree)."
    ),
    "runtime.static.imports.seconds": "Wall seconds the imports took.",
    "runtime.static.imports.app_sources_loaded": (
        "How many of the application's own source files (under "
        "`python.bytecode.application.roots`) the imports loaded; null when not recorded."
    ),
    "runtime.static.imports.app_sources_uncached": (
        "Those of them that had no .pyc for this interpreter: what every start of the command "
        "compiles (at most 200 listed)."
    ),
    "runtime.static.imports.app_sources_uncached_bytes": (
        "Bytes of source of those uncached files; null when not recorded."
    ),
    "runtime.static.app_sources": (
        "The application's sources without a .pyc (under `python.bytecode.application.roots`), "
        "compiled, never run, by the image's Python to find the ones it cannot compile at all; "
        "null when there are no roots or the probe did not run."
    ),
    "runtime.static.app_sources.checked": "How many sources were compiled.",
    "runtime.static.app_sources.complete": (
        "False when the 10 s or 32 MiB budget stopped the test before every source was compiled."
    ),
    "runtime.static.app_sources.uncompilable[]": (
        "Sources this Python cannot compile (newer syntax, a broken file): `compileall` fails on "
        "them and importing them raises SyntaxError (at most 200)."
    ),
    "runtime.static.app_sources.uncompilable[].path": "The source file.",
    "runtime.static.app_sources.uncompilable[].size": "Its size in bytes.",
    "runtime.static.app_sources.uncompilable[].error": (
        'The compile error, e.g. "SyntaxError at line 3: invalid syntax".'
    ),
    "runtime.static.imports.attribute": (
        "The application object an app server loads (`app` of `gunicorn wsgi:app`, `create_app` "
        "of `mod:create_app()`, gunicorn's default `application`) when `module` imported but "
        "does not define it; null otherwise."
    ),
    "runtime.static.errors": "Parts the probe could not measure, with the exception it got.",
    "runtime.static.log_tail": (
        "The last lines the interpreter printed when it failed or exited non-zero (secrets "
        "redacted); empty otherwise."
    ),
    "runtime.static.tampering": (
        "Signs that code in the image (sitecustomize, a .pth file) imitated the probe's report: "
        "a report line without this run's nonce, or the report printed twice. COR005 reports "
        "them with any contradiction between the report and the image's USER."
    ),
    # --- the lifecycle probe -------------------------------------------------------------
    "runtime.lifecycle": (
        "The lifecycle probe: the image started exactly as a user would (its ENTRYPOINT, CMD, "
        "USER, env; network off, memory and PID limits), looked at after a warm-up, then stopped "
        "as Docker and Kubernetes do."
    ),
    "runtime.lifecycle.status": (
        '"ran"; "exited-early" (it stopped during the warm-up: `exit_cause` says why, from its '
        'exit status and log); "could-not-start" (Docker refused, e.g. USER does not exist: see '
        '`message`); "not-applicable" or "skipped" (see `reason`).'
    ),
    "runtime.lifecycle.reason": "Why the probe did not run or what its status means; else null.",
    "runtime.lifecycle.message": "Docker's own error when the container could not start.",
    "runtime.lifecycle.warmup_seconds": (
        "The warm-up's bound: seconds the probe waits at most for the app's start-up to settle "
        "before it looks at it."
    ),
    "runtime.lifecycle.settled_seconds": (
        "Seconds after the start when the app's start-up settled (for half a second its "
        "processes used no CPU and all slept, none runnable, in disk wait or the `sleep` "
        "program), so the probe looked then; null when it did not settle within the warm-up "
        "(or the engine's processes are not on this machine), so the probe looked when the "
        "warm-up ran out."
    ),
    "runtime.lifecycle.grace_seconds": (
        "Seconds between the stop signal and SIGKILL (`docker stop -t`, Kubernetes' "
        "terminationGracePeriodSeconds)."
    ),
    "runtime.lifecycle.processes[]": "Every process in the container after the warm-up, by pid.",
    "runtime.lifecycle.processes[].pid": "The process ID (see `pid_namespace`); 1 is PID 1.",
    "runtime.lifecycle.processes[].ppid": "The parent's process ID; 0 for PID 1.",
    "runtime.lifecycle.processes[].uid": (
        "The real UID it runs with: the truth about root, whatever USER says (an entrypoint may "
        "drop privileges with gosu or setpriv)."
    ),
    "runtime.lifecycle.processes[].gid": "The real GID.",
    "runtime.lifecycle.processes[].euid": "The effective UID; null when unknown.",
    "runtime.lifecycle.processes[].egid": "The effective GID; null when unknown.",
    "runtime.lifecycle.processes[].state": 'The kernel state letter: "R", "S", "Z" (zombie), ...',
    "runtime.lifecycle.processes[].name": "The kernel's name for the process (comm).",
    "runtime.lifecycle.processes[].cmdline": "Its argument list, secrets redacted.",
    "runtime.lifecycle.processes[].stop_signal_handling": (
        "What it did with the stop signal before the probe sent it, from the signal masks in "
        '/proc: "caught" (a handler runs), "ignored" (SIG_IGN), "blocked" (masked in every '
        'thread: it stays pending), "default" (a container\'s PID 1 never receives a signal it '
        "has no handler for; another process dies of it); null when unknown (a remote engine)."
    ),
    "runtime.lifecycle.pid_namespace": (
        '"container": pids count inside the container (read from /proc of the engine\'s host); '
        '"host": pids are the host\'s except PID 1 (read with `docker top`, for a remote engine).'
    ),
    "runtime.lifecycle.pid1_kind": (
        '"shell" (a shell is PID 1: it does not forward SIGTERM to your app), "init" (tini, '
        'dumb-init, ...: forwards signals and reaps zombies) or "app" (your program is PID 1: it '
        "must handle SIGTERM itself and reap children)."
    ),
    "runtime.lifecycle.pid1_cmdline": "PID 1's argument list.",
    "runtime.lifecycle.app_pid": (
        "The application process: PID 1, or the first live process below PID 1's shells and "
        "inits; null when there is none."
    ),
    "runtime.lifecycle.zombies": "Processes in state Z: exited children nobody reaped.",
    "runtime.lifecycle.listening[]": (
        "Listening TCP and bound UDP sockets in the container's network namespace."
    ),
    "runtime.lifecycle.listening[].protocol": '"tcp", "tcp6", "udp" or "udp6".',
    "runtime.lifecycle.listening[].address": 'The local address, e.g. "0.0.0.0" or "::".',
    "runtime.lifecycle.listening[].port": "The local port.",
    "runtime.lifecycle.sockets_known": (
        "False when sockets could not be read (remote engine); `listening` is then empty."
    ),
    "runtime.lifecycle.written[]": (
        "Paths the running container added, changed or deleted (`docker diff`), at most 500."
    ),
    "runtime.lifecycle.written[].path": "The path.",
    "runtime.lifecycle.written[].kind": '"added", "changed" or "deleted".',
    "runtime.lifecycle.written_total": "Number of paths `docker diff` reported in all.",
    "runtime.lifecycle.pyc_written": (
        ".pyc files written at runtime: modules the image did not ship compiled."
    ),
    "runtime.lifecycle.stop_signal": "The signal `docker stop` sent first (STOPSIGNAL).",
    "runtime.lifecycle.stop_sent_seconds": (
        "Seconds after the container started that the probe sent the stop signal: the warm-up "
        "and the time it took to look at the processes."
    ),
    "runtime.lifecycle.stop_seconds": (
        "Seconds `docker stop` took: about `grace_seconds` means the signal was ignored and the "
        "process was killed."
    ),
    "runtime.lifecycle.stopped_by": (
        '"signal" (it exited on the stop signal: died of it, or handled it and exited), "kill" '
        '(it ignored it and was killed after the grace period), "crash" (before the grace '
        "period ended it exited by itself: a status that is neither 0 nor 128+signal, and a "
        'crash at the end of its log, in `exit_cause`) or "limit" (killed by the probe when it '
        "passed the write limit)."
    ),
    "runtime.lifecycle.exit_code": (
        "The container's exit code: 143 is death by SIGTERM, 137 by SIGKILL, 0 a clean shutdown."
    ),
    "runtime.lifecycle.exit_signal": (
        'The signal an exit status of 128+N names ("SIGTERM" for 143, "SIGKILL" for 137); null '
        "for 0 and for a status the app chose itself, such as 1."
    ),
    "runtime.lifecycle.oom_killed": "True when the kernel killed it for passing the memory limit.",
    "runtime.lifecycle.log_tail": "The last 20 lines it logged, secrets redacted.",
    "runtime.lifecycle.exit_cause": (
        "Why it exited by itself, read from its exit status and log: during the warm-up (status "
        'exited-early), or while the probe waited for it to stop (`stopped_by` "crash"); else '
        "null."
    ),
    "runtime.lifecycle.exit_cause.kind": (
        '"missing-module", "import-error", "missing-library", "syntax-error", "python-exception" '
        '(an uncaught exception), "wrong-architecture", "missing-executable", '
        '"permission-denied", "missing-attribute" (an app server found no app object in its '
        'module), "needs-config" (a setting or argument it was not given: a '
        "variable unset under `set -u`, a KeyError from os.environ, Django's "
        "ImproperlyConfigured, a settings library's error), "
        '"needs-service" (a database or other service it cannot reach), "out-of-memory", '
        '"finished" (status 0) or "unexplained".'
    ),
    "runtime.lifecycle.exit_cause.verdict": (
        '"broken" (the image cannot start as built), "inconclusive" (it waits for what a real '
        'deployment gives it), "finished" or "unexplained".'
    ),
    "runtime.lifecycle.exit_cause.line": "The decisive log line, as logged (shortened).",
    "runtime.lifecycle.exit_cause.subject": (
        "What that line names: the module, library, path, setting or service."
    ),
    "runtime.lifecycle.exit_cause.exception": (
        "The Python exception type, when a traceback ended the app; else null."
    ),
    "runtime.lifecycle.exit_cause.raised_in": (
        "file:line of the traceback's innermost frame, where the exception was raised; else null."
    ),
    "runtime.lifecycle.exit_cause.found_elsewhere": (
        "For a missing module: site-packages dirs of the image that hold it but are not on the "
        "interpreter's sys.path."
    ),
    "runtime.lifecycle.written_bytes": (
        "Bytes it had written into its writable layer and volumes when last measured during the "
        "warm-up (allocated blocks; null when neither the host nor the engine could tell)."
    ),
    "runtime.lifecycle.write_limit_bytes": (
        "The write limit: past it the container is frozen, looked at and killed "
        "(INSPECTOR_PROBE_WRITE_LIMIT, docs/limits.md)."
    ),
    "runtime.lifecycle.log_limit_bytes": (
        "The log limit: the engine keeps only the newest this many bytes of its output "
        "(INSPECTOR_PROBE_LOG_LIMIT, docs/limits.md)."
    ),
    "runtime.lifecycle.log_known": (
        "Whether the engine's log file was on this machine, so passing the log limit could be seen."
    ),
    "runtime.lifecycle.limits_hit": (
        '"write" (it wrote past the write limit, or made over 200,000 files, and was killed: '
        '`stopped_by` is "limit") and "log" (its output passed the log limit; older lines '
        "were dropped)."
    ),
}
