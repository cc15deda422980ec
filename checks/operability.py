"""Operability checks: how the container starts, stops, reports health and can be reached."""

from __future__ import annotations

import ast
import ipaddress
import posixpath
import shlex
from collections.abc import Iterator

from checks.access import app_process, argv, config, env, lifecycle, unconfirmed
from checks.model import Context, Facts, Found, Location
from checks.registry import check

SHELLS = {"sh", "bash", "dash", "ash", "zsh", "ksh", "busybox"}
INITS = {"tini", "tini-static", "dumb-init", "catatonit", "s6-svscan", "supervisord", "runit",
         "docker-init"}  # fmt: skip
# Servers whose master process waits for its own workers, so no zombie piles up without an init.
# `fastapi run --workers N` is uvicorn's own supervisor under another name.
SELF_REAPING = {"gunicorn", "uwsgi", "uvicorn", "hypercorn", "celery", "supervisord", "nginx",
                "httpd", "apache2", "php-fpm", "daphne", "fastapi"}  # fmt: skip


def words(command: list[str]) -> list[str]:
    """An argument list with every `sh -c STRING` expanded into the words of STRING."""
    out: list[str] = []
    for i, arg in enumerate(command):
        out.append(arg)
        if i and command[i - 1] == "-c" and basename(command[0]) in SHELLS:
            try:
                out += shlex.split(arg)
            except ValueError:  # an unbalanced quote: words are good enough for matching
                out += arg.split()
    return out


def basename(arg: str) -> str:
    return posixpath.basename(arg)


def shown(command: list[str]) -> str:
    return " ".join(command)


def command_field(facts: Facts) -> str:
    """The config field that holds the command: Entrypoint when set, else Cmd."""
    return "Entrypoint" if config(facts).get("entrypoint") else "Cmd"


def commands(facts: Facts) -> list[tuple[list[str], Location]]:
    """The default command from the config, and each process the lifecycle probe saw."""
    found: list[tuple[list[str], Location]] = []
    if argv(facts):
        found.append((argv(facts), Location(config=command_field(facts))))
    for process in (lifecycle(facts) or {}).get("processes") or []:
        cmdline = process.get("cmdline") or []
        if cmdline:
            where = f"lifecycle probe: pid {process.get('pid')}"
            found.append((cmdline, Location(runtime=where)))
    return found


# --- a shell as PID 1 ---------------------------------------------------------------------------


def shell_form_argv(facts: Facts) -> tuple[str, list[str]] | None:
    """The field and argv when the config makes a shell run the app (no `exec` in front)."""
    cfg = config(facts)
    entrypoint, cmd = cfg.get("entrypoint") or [], cfg.get("cmd") or []
    behind_init = not entrypoint or basename(entrypoint[0]) in INITS
    if entrypoint and cfg.get("entrypoint_form") == "shell":
        field, shell = "Entrypoint", entrypoint
    elif behind_init and cfg.get("cmd_form") == "shell":
        field, shell = "Cmd", cmd  # alone, or as the child of an init that signals only it
    else:
        return None
    script = shell[-1] if shell else ""
    if script.lstrip().startswith("exec "):  # the shell replaces itself: the app gets signals
        return None
    return field, shell


@check(
    "OPS001",
    "shell-as-pid1",
    "A shell runs the app and does not pass on the stop signal",
    severity="high",
    category="operability",
    needs=("config",),
    wants=("runtime.lifecycle",),
    fix='Use exec form, e.g. `CMD ["python", "-m", "app"]`, or `exec` the app from the script.',
)
def shell_as_pid1(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    Whether a shell stands between Docker and the application. When the lifecycle probe ran, it
    is what really runs: a shell as PID 1 (`pid1_kind` "shell", e.g. `CMD python app.py` or an
    entrypoint script that starts the app without `exec`), or a shell between an init such as
    tini and the app. Without the probe, the config: a shell-form ENTRYPOINT, or a shell-form CMD
    that runs alone or behind an init, unless the string starts with `exec`. The probe decides
    when it ran, because some shells exec a single command themselves (bash does, Debian's dash
    does not).

    ## Why it matters
    `docker stop` and Kubernetes send SIGTERM to PID 1. A shell does not forward it to its child,
    so the app never hears it, cannot drain requests or close connections, and is SIGKILLed
    after the grace period: "the executable runs as a child process to a shell, which doesn't
    pass signals" (https://docs.docker.com/reference/build-checks/json-args-recommended/;
    hadolint DL3025). The same holds for a start script that ends without `exec`.

    ## Example
    ```dockerfile
    CMD python -m app            # stored as ["/bin/sh", "-c", "python -m app"]
    ```

    ## Instead
    ```dockerfile
    CMD ["python", "-m", "app"]
    # or, in an entrypoint script:  exec "$@"
    ```

    ## References
    - https://docs.docker.com/reference/build-checks/json-args-recommended/
    - https://docs.docker.com/reference/dockerfile/#entrypoint
    - https://github.com/hadolint/hadolint/wiki/DL3025
    - https://hynek.me/articles/docker-signals/
    - Practice: #27 Signals must reach the app (exec form, `exec` in scripts) (Turner-Trauring's
      production checklist, https://pythonspeed.com/docker/)
    """
    life = lifecycle(facts)
    if life is not None:
        yield from shell_seen(facts, life)
        return
    form = shell_form_argv(facts)
    if form is not None:
        field, shell = form
        yield Found(
            f"{field} is shell form ({shown(shell)}): a shell runs the app and does not forward "
            f"SIGTERM to it{unconfirmed(facts)}",
            Location(config=field),
        )


def shell_seen(facts: Facts, life: dict) -> Iterator[Found]:
    processes = {p.get("pid"): p for p in life.get("processes") or []}
    pid1 = shown(life.get("pid1_cmdline") or []) or "?"
    if life.get("pid1_kind") == "shell":
        app = processes.get(life.get("app_pid")) or {}
        child = f", with the app ({shown(app.get('cmdline') or [])}) as its child" if app else ""
        yield Found(
            f"PID 1 is a shell ({pid1}){child}: it does not forward SIGTERM to the app",
            Location(config=command_field(facts), runtime="lifecycle probe: pid 1"),
        )
        return
    app = app_process(facts)
    parent = processes.get(app.get("ppid")) if app else None
    if not parent or life.get("pid1_kind") != "init" or parent.get("pid") == 1:
        return
    if basename((parent.get("cmdline") or [parent.get("name") or ""])[0]) in SHELLS:
        yield Found(
            f"the init ({pid1}) forwards SIGTERM to a shell ({shown(parent['cmdline'])}), "
            "which does not pass it on to the app",
            Location(config="Cmd", runtime=f"lifecycle probe: pid {parent.get('pid')}"),
        )


# --- stopping -----------------------------------------------------------------------------------


@check(
    "OPS002",
    "ignores-stop-signal",
    "The container does not stop on its stop signal and is killed",
    severity="high",
    category="operability",
    needs=("runtime.lifecycle",),
    fix="Handle SIGTERM (a real server does), or run behind `tini`, or set `STOPSIGNAL SIGINT`.",
)
def ignores_stop_signal(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    How the lifecycle probe's `docker stop` went: `stopped_by` "kill" means the container
    ignored its stop signal (SIGTERM, or STOPSIGNAL) for the whole grace period and was
    SIGKILLed (exit code 137); a stop that worked but took longer than the `stop_seconds`
    threshold (5 s) is a slow stop, reported as medium. The signal masks the probe read before
    the stop say why a signal did nothing (PID 1 with no handler, which the kernel never
    delivers it to, or a process that ignores or blocks it), and the finding says so. When the
    app outlived the signal and then crashed by itself (`stopped_by` "crash"; COR004 reports the
    crash), the crash says nothing about the signal: those masks do, high; without them, a crash
    more than the threshold after the signal is medium.

    ## Why it matters
    Docker, Kubernetes and ECS stop a container by sending SIGTERM and waiting 10 s (30 s on
    Kubernetes) before SIGKILL. A process that ignores it delays every deploy and scale-down by
    the full grace period, then dies mid-request with no cleanup. Python as PID 1 installs no
    SIGTERM handler and the kernel gives PID 1 no default action, so a plain script ignores it;
    tini "ensures that the default signal handlers work"
    (https://github.com/krallin/tini; https://docs.docker.com/reference/cli/docker/container/stop/).

    ## Example
    ```dockerfile
    CMD ["python", "worker.py"]   # PID 1, no signal handler: docker stop waits 10 s, then kills
    ```

    ## Instead
    ```dockerfile
    ENTRYPOINT ["tini", "--"]      # apt-get install tini; or handle SIGTERM in the app
    CMD ["python", "worker.py"]
    ```

    ## References
    - https://github.com/krallin/tini
    - https://docs.docker.com/reference/cli/docker/container/stop/
    - https://docs.docker.com/reference/dockerfile/#stopsignal
    - https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination
    - Practice: #27 Signals must reach the app (exec form, `exec` in scripts) (Turner-Trauring's
      production checklist, https://pythonspeed.com/docker/)
    """
    life = lifecycle(facts) or {}
    signal = life.get("stop_signal") or "SIGTERM"
    seconds = life.get("stop_seconds")
    where = Location(config="StopSignal", runtime="lifecycle probe: docker stop")
    if life.get("stopped_by") == "kill":
        lost = _signal_lost(life, signal)
        yield Found(
            f"the container ignored {signal}{': ' + lost[0] + ';' if lost else ''} and was "
            f"killed after the {life.get('grace_seconds')} s grace period "
            f"(stop took {seconds} s, exit code {life.get('exit_code')})",
            where,
            fix=lost[1] if lost else None,
        )
    elif life.get("stopped_by") == "crash":
        yield from _ignored_then_crashed(life, signal, ctx, where)
    elif seconds is not None and seconds > ctx.thresholds.stop_seconds:
        yield Found(
            f"the container took {seconds} s to stop on {signal} "
            f"(over {ctx.thresholds.stop_seconds} s)",
            where,
            severity="medium",
        )


def _ignored_then_crashed(
    life: dict, signal: str, ctx: Context, where: Location
) -> Iterator[Found]:
    """The app outlived the stop signal and then crashed by itself (COR004 reports the crash):
    whether it ignored the signal is read from what its processes did with it, else from how
    long it ran on after it."""
    seconds = life.get("stop_seconds")
    crashed = (
        f"it ran on {seconds} s after the signal until it crashed by itself with status "
        f"{life.get('exit_code')} (COR004 reports the crash)"
    )
    lost = _signal_lost(life, signal)
    if lost:
        why, fix = lost
        yield Found(
            f"the container ignored {signal}: {why}; {crashed}. Had it not crashed, docker stop "
            f"would have killed it after the {life.get('grace_seconds')} s grace period",
            where,
            fix=fix,
        )
    elif seconds is not None and seconds > ctx.thresholds.stop_seconds:
        yield Found(
            f"the container did not stop within {ctx.thresholds.stop_seconds} s of {signal}: "
            f"{crashed}",
            where,
            severity="medium",
        )


def _signal_lost(life: dict, signal: str) -> tuple[str, str] | None:
    """Why the stop signal could not end the app, from each process's signal masks, with the
    fix; None when the masks are unknown or show it would have acted on it."""
    if life.get("pid_namespace") != "container":
        return None
    procs = {p.get("pid"): p for p in life.get("processes") or []}
    pid1 = procs.get(1) or {}
    handling = pid1.get("stop_signal_handling")
    command = shown(pid1.get("cmdline") or [pid1.get("name") or "?"])
    if handling == "default":
        return (
            f"PID 1 (`{command}`) has no handler for it, and the kernel never delivers such a "
            "signal to a container's PID 1",
            f"Handle {signal} in the app (shut down cleanly), or run it behind an init: "
            '`ENTRYPOINT ["tini", "--"]` (`docker run --init`).',
        )
    app = procs.get(life.get("app_pid")) or {}
    if handling == "caught" and life.get("pid1_kind") == "init" and app.get("pid") != 1:
        handling = app.get("stop_signal_handling")
        command = shown(app.get("cmdline") or [app.get("name") or "?"])
        who = f"the init forwards it, but the app (`{command}`)"
    else:
        who = f"PID 1 (`{command}`)"
    if handling == "ignored":
        return (
            f"{who} ignores it (SIG_IGN)",
            f"Stop ignoring {signal} in the app (`signal.signal(..., signal.SIG_IGN)`): handle "
            "it and shut down cleanly.",
        )
    if handling == "blocked":
        return (
            f"{who} blocks it, so it stays pending and never acts",
            f"Stop blocking {signal} in the app (`signal.pthread_sigmask`): handle it and shut "
            "down cleanly.",
        )
    return None


@check(
    "OPS003",
    "no-init-for-children",
    "The app is PID 1 and starts child processes that no init reaps",
    severity="low",
    category="operability",
    needs=("runtime.lifecycle",),
    fix='Run behind an init: `ENTRYPOINT ["tini", "--"]` (or `docker run --init`).',
)
def no_init_for_children(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    Whether the lifecycle probe found the app itself as PID 1 (`pid1_kind` "app") with child
    processes, or with zombies (processes in state Z that nobody reaped). Zombies seen make it
    medium. Servers whose master waits for its own workers (gunicorn, uWSGI, uvicorn,
    celery, ...) are not reported for having children, only for zombies.

    ## Why it matters
    PID 1 inherits every orphaned process in the container and must reap it; an app that was
    never written to do so leaves zombies, which hold PIDs until the PID limit is hit and
    `fork` fails. An init "reaps zombies and performs signal forwarding"
    (https://github.com/krallin/tini); Docker ships one as `docker run --init`.

    ## Example
    ```dockerfile
    CMD ["python", "app.py"]   # app.py runs subprocess.Popen(...) and never waits
    ```

    ## Instead
    ```dockerfile
    ENTRYPOINT ["tini", "--"]
    CMD ["python", "app.py"]
    ```

    ## References
    - https://github.com/krallin/tini
    - https://docs.docker.com/reference/cli/docker/container/run/#init
    - https://blog.phusion.nl/2015/01/20/docker-and-the-pid-1-zombie-reaping-problem/
    - Practice: #28 An init (tini or `--init`) reaps zombies and forwards signals (Turner-Trauring's
      production checklist, https://pythonspeed.com/docker/)
    """
    life = lifecycle(facts) or {}
    if life.get("pid1_kind") != "app":
        return
    pid1 = life.get("pid1_cmdline") or []
    where = Location(config=command_field(facts), runtime="lifecycle probe: pid 1")
    zombies = life.get("zombies") or 0
    if zombies:
        yield Found(f"PID 1 ({shown(pid1)}) is the app with no init, and {zombies} zombie "
                    "process(es) were left unreaped", where, severity="medium")  # fmt: skip
        return
    children = [p for p in life.get("processes") or [] if p.get("ppid") == 1]
    if children and not set(map(basename, pid1[:3])) & SELF_REAPING:
        names = ", ".join(sorted({str(p.get("name")) for p in children}))
        yield Found(f"PID 1 ({shown(pid1)}) is the app with no init and starts "
                    f"{len(children)} child process(es) ({names})", where)  # fmt: skip


# --- health -------------------------------------------------------------------------------------

# Commands that serve requests: a server named by its program or `python -m NAME`.
SERVER_PROGRAMS = frozenset({"gunicorn", "uvicorn", "hypercorn", "daphne", "waitress-serve",
                             "uwsgi", "granian", "bjoern", "twistd"})  # fmt: skip
SERVER_MODULES = SERVER_PROGRAMS | {"waitress", "http.server", "aiohttp.web"}
# Programs that serve with a subcommand: `fastapi run`, `flask run`, `manage.py runserver`.
SERVING_SUBCOMMANDS = {"fastapi": {"run", "dev"}, "flask": {"run"}, "streamlit": {"run"},
                       "manage.py": {"runserver", "runserver_plus"},
                       "django-admin": {"runserver"}, "panel": {"serve"}}  # fmt: skip


def server_in(ws: list[str]) -> str | None:
    """The server a command's words start, as the user would name it, else None."""
    for i, w in enumerate(ws):
        name = basename(w)
        nxt = ws[i + 1 :]
        if name in SERVER_PROGRAMS:
            return name
        if w == "-m" and nxt and nxt[0] in SERVER_MODULES:
            return f"python -m {nxt[0]}"
        module = nxt[0] if w == "-m" and nxt else name
        subcommands = SERVING_SUBCOMMANDS.get(module)
        rest = nxt[1:] if w == "-m" else nxt
        # `flask --app hello run`: the subcommand among the first few words, options between.
        served = next((x for x in rest[:4] if subcommands and x in subcommands), None)
        if served:
            return f"{module} {served}"
    return None


def serving_command(facts: Facts) -> str | None:
    """What serves requests in this image: the server its command or start scripts run, else
    None (a batch job, a worker, a CLI)."""
    lines: list[list[str]] = [words(c) for c, _ in commands(facts)]
    startup = ((facts.get("python") or {}).get("startup") or {}).get("scripts") or []
    for script in startup:
        for line in script.get("lines") or []:
            try:
                lines.append(shlex.split(line, comments=True))
            except ValueError:
                lines.append(line.split())
    return next((found for ws in lines if (found := server_in(ws))), None)


@check(
    "OPS004",
    "healthcheck-missing",
    "A server image declares no HEALTHCHECK",
    severity="info",
    category="operability",
    needs=("config",),
    wants=("runtime.lifecycle",),
    fix='Add `HEALTHCHECK CMD ["python", "-m", "app.healthcheck"]` (a check in the app\'s Python).',
    dockle=("CIS-DI-0006",),
)
def healthcheck_missing(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    The config's Healthcheck: none at all, or `Test: ["NONE"]` (which disables one inherited
    from the base image), on images that serve: the command or its start scripts run a known
    server (gunicorn, uvicorn, hypercorn, daphne, waitress-serve, uWSGI, granian, `fastapi run`,
    `flask run`, `manage.py runserver`, `python -m http.server`, ...), or the lifecycle probe saw
    a listening socket. EXPOSE alone is not evidence: templates and base images expose ports
    for commands that never serve, and a server needs no EXPOSE to listen. A batch job, a
    worker or a CLI has nothing to answer a health check and is not reported. It is a note
    (info), never a gate failure.

    ## Why it matters
    Without a health check, Docker and Compose only know whether the process exists, not
    whether it answers: a deadlocked server stays "running" forever and is never restarted or
    taken out of rotation, and Compose's `service_healthy` dependants cannot wait for it. CIS
    Docker Benchmark 4.6 asks for one (https://www.cisecurity.org/benchmark/docker); hadolint
    DL3057; dockle rates it INFO. Kubernetes ignores HEALTHCHECK and uses its own probes, so
    images run only on Kubernetes can accept this: that is why it is info. A health check that
    cannot work (its program missing from the image) is worse than none, and is judged
    separately.

    ## Example
    ```dockerfile
    FROM python:3.12-slim
    CMD ["gunicorn", "app:app"]   # no HEALTHCHECK
    ```

    ## Instead
    ```dockerfile
    HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \\
      CMD ["python", "-m", "app.healthcheck"]
    ```
    where `app/healthcheck.py` opens `http://127.0.0.1:8000/healthz` with `urllib.request` and
    exits 1 on an error. Use the image's own Python: slim and distroless images have no curl.

    ## References
    - https://docs.docker.com/reference/dockerfile/#healthcheck
    - https://github.com/goodwithtech/dockle/blob/master/CHECKPOINT.md#cis-di-0006
    - https://github.com/hadolint/hadolint/wiki/DL3057
    - Practice: #33 Health check present, and one that works (Turner-Trauring's production
      checklist, https://pythonspeed.com/docker/)
    """
    cfg = config(facts)
    listening = (lifecycle(facts) or {}).get("listening") or []
    server = serving_command(facts)
    if server is None and not listening:
        return  # nothing serves: no one to answer a health check
    if server:
        what = f"it serves with `{server}`"
    else:
        port = listening[0]
        what = f"the lifecycle probe saw it listen on {port.get('address')}:{port.get('port')}"
    health = cfg.get("healthcheck")
    where = Location(config="Healthcheck")
    if not health:
        yield Found(f"the image declares no HEALTHCHECK, yet {what}", where)
    elif (health.get("Test") or [])[:1] == ["NONE"]:
        yield Found(f"HEALTHCHECK NONE disables the health check, yet {what}", where)


# --- servers ------------------------------------------------------------------------------------


def gunicorn_args(command: list[str]) -> list[str] | None:
    """The words after `gunicorn` (a console script or `-m gunicorn`); None when it does not run."""
    ws = words(command)
    for i, w in enumerate(ws):
        if basename(w) == "gunicorn" and (i == 0 or ws[i - 1] != "-c"):
            return ws[i + 1 :]
    return None


def option_value(ws: list[str], name: str) -> str | None:
    """The value of `--name VALUE` or `--name=VALUE` in words, else None."""
    for i, w in enumerate(ws):
        if w == name and i + 1 < len(ws):
            return ws[i + 1]
        if w.startswith(name + "="):
            return w.split("=", 1)[1]
    return None


@check(
    "OPS005",
    "gunicorn-heartbeat-on-disk",
    "gunicorn keeps its worker heartbeat files on the overlay filesystem",
    severity="medium",
    category="operability",
    needs=("config",),
    wants=("python", "runtime.lifecycle"),
    fix="Add `--worker-tmp-dir /dev/shm` to the gunicorn command (or set `worker_tmp_dir`).",
)
def gunicorn_heartbeat_on_disk(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    Whether gunicorn runs (in ENTRYPOINT/CMD, a shell string in them, or the command lines of
    the processes the lifecycle probe saw) without a worker tmp dir, looked up as gunicorn does:
    `--worker-tmp-dir` in its arguments, else in `GUNICORN_CMD_ARGS`, else `worker_tmp_dir` in
    its config file: the one `-c`/`--config` names, or without one `./gunicorn.conf.py` in the
    image's WORKDIR, which gunicorn (20 and later) reads by default
    (`python.startup.server_configs`). A directory other than /dev/shm is low (fine only when
    you mount a tmpfs there), and so is a value computed by an expression. When the command
    names a config file the facts do not hold, the finding is low and says so.

    ## Why it matters
    Each gunicorn worker updates a heartbeat file in `/tmp` on every request loop; in a container
    `/tmp` is on the overlay filesystem, not in memory, and the `fchmod` call "may completely
    block" when the disk is slow, so the arbiter kills healthy workers on timeout
    (https://docs.gunicorn.org/en/stable/faq.html#blocking-os-fchmod;
    https://pythonspeed.com/articles/gunicorn-in-docker/).

    ## Example
    ```dockerfile
    CMD ["gunicorn", "--bind", "0.0.0.0:8000", "app:app"]
    ```

    ## Instead
    ```dockerfile
    CMD ["gunicorn", "--worker-tmp-dir", "/dev/shm", "--bind", "0.0.0.0:8000", "app:app"]
    ```

    ## References
    - https://docs.gunicorn.org/en/stable/faq.html#blocking-os-fchmod
    - https://docs.gunicorn.org/en/stable/settings.html#worker-tmp-dir
    - https://pythonspeed.com/articles/gunicorn-in-docker/
    - https://docs.gunicorn.org/en/stable/settings.html#config-file
    - Practice: #29 gunicorn `--worker-tmp-dir /dev/shm`: "Configuring Gunicorn for Docker",
      https://pythonspeed.com/articles/gunicorn-in-docker/
    """
    runs = [(c, where) for c, where in commands(facts) if gunicorn_args(c) is not None]
    if not runs:
        return
    command, where = runs[0]
    env_args = env(facts).get("GUNICORN_CMD_ARGS") or ""
    ws = (gunicorn_args(command) or []) + env_args.split()
    tmp_dir = option_value(ws, "--worker-tmp-dir")
    conf = option_value(ws, "-c") or option_value(ws, "--config")
    read = ""  # the config file gunicorn reads, when the facts hold it
    if tmp_dir is None:
        setting = _config_setting(facts, "worker_tmp_dir", named=conf is not None)
        if setting is not None:
            read, value = setting
            conf = None  # read: nothing is left unknown
            if value is not None:
                where = Location(path=read)
                tmp_dir = _literal_text(value)
                if tmp_dir is None:
                    yield Found(f"{read} sets worker_tmp_dir = {value}, computed at start: make "
                                "sure it is /dev/shm", where, severity="low")  # fmt: skip
                    return
    if tmp_dir is None:
        unless = f"; unless {conf} sets worker_tmp_dir" if conf else ""
        unless += f"; {read} does not set worker_tmp_dir" if read else ""
        yield Found(
            f"gunicorn runs without --worker-tmp-dir ({shown(command)}), so worker heartbeats go "
            f"to /tmp on the overlay filesystem{unless}",
            where,
            severity="low" if conf else None,
        )
    elif not (tmp_dir == "/dev/shm" or tmp_dir.startswith("/dev/shm/")):
        yield Found(f"gunicorn's --worker-tmp-dir is {tmp_dir}, not /dev/shm: fine only when a "
                    "tmpfs is mounted there", where, severity="low")  # fmt: skip


def _config_setting(facts: Facts, name: str, *, named: bool) -> tuple[str, str | None] | None:
    """(config path, the setting's text or None) from the gunicorn config file gunicorn reads.

    A config named by `-c` (or GUNICORN_CMD_ARGS) replaces the default `./gunicorn.conf.py`;
    None when the facts hold no such file.
    """
    startup = (facts.get("python") or {}).get("startup") or {}
    configs = [c for c in startup.get("server_configs") or [] if c.get("server") == "gunicorn"]
    if named:
        configs = [c for c in configs if c.get("source") in ("argument", "environment")]
    else:
        configs = [c for c in configs if c.get("source") == "default"]
    if not configs:
        return None
    config_file = configs[0]
    value = (config_file.get("settings") or {}).get(name)
    return config_file.get("path") or "gunicorn config", value


def _literal_text(expression: str) -> str | None:
    """The string a config assigns (`"/dev/shm"`, `'/dev/shm'`); None for anything computed."""
    try:
        value = ast.literal_eval(expression)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, str) else None


DEV_ENV = {"FLASK_DEBUG": {"1", "true", "yes", "on"}, "FLASK_ENV": {"development"},
           "DJANGO_DEBUG": {"1", "true", "yes", "on"}}  # fmt: skip


def dev_server(command: list[str]) -> str | None:
    """What in a command is a development server or debugger, else None."""
    ws = words(command)
    names = [basename(w) for w in ws]
    modules = {ws[i + 1] for i in range(len(ws) - 1) if ws[i] == "-m"}
    if ("flask" in names or "flask" in modules) and "run" in ws:
        return "`flask run` (Werkzeug's development server)"
    if ("fastapi" in names or "fastapi" in modules) and "dev" in ws:
        return "`fastapi dev` (FastAPI's auto-reloading development server)"
    if "runserver" in ws:
        return "Django's `runserver` (a development server)"
    if "http.server" in modules:
        return "`python -m http.server` (not meant for production)"
    if ("debugpy" in names or "debugpy" in modules) and any(w.startswith("--listen") for w in ws):
        return "`debugpy --listen` (a remote debugger that runs any code sent to it)"
    if "--reload" in ws:
        return "`--reload` (auto-reload, a development mode)"
    return None


def _behind_scripts(facts: Facts) -> list[tuple[list[str], Location]]:
    """The Python command the start scripts or a runner (`uv run`) hand over to, when the
    analysis followed them: a start script's `exec flask run` is the command that serves."""
    entry = (facts.get("python") or {}).get("entrypoint_interpreter") or {}
    scripts = entry.get("scripts") or []
    if not (scripts or entry.get("wrappers")) or not entry.get("command_args"):
        return []
    where = Location(config=command_field(facts), path=scripts[-1] if scripts else None)
    return [([entry.get("interpreter") or "python", *entry["command_args"]], where)]


@check(
    "OPS006",
    "development-server",
    "The default command runs a development server or a debugger",
    severity="high",
    category="operability",
    needs=("config",),
    wants=("runtime.lifecycle",),
    fix="Serve with a production server (gunicorn, uvicorn without --reload, `fastapi run`); "
    "turn debug off.",
)
def development_server(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    ENTRYPOINT/CMD (shell strings included), the command its start scripts or `uv run` hand
    over to, and, when the lifecycle probe ran, the command line of every process it saw, for
    `flask run`, `fastapi dev`, `manage.py runserver`, `--reload`,
    `python -m http.server` and `debugpy --listen`; and ENV for `FLASK_DEBUG=1`,
    `FLASK_ENV=development` and `DJANGO_DEBUG=1`.

    ## Why it matters
    Development servers are single-process, unhardened and slow; Flask: "Do not run the
    development server, or enable the built-in debugger, in a production environment. The
    debugger allows executing arbitrary Python code from the browser"
    (https://flask.palletsprojects.com/en/stable/debugging/). Django's runserver "has not gone
    through security audits or performance tests"
    (https://docs.djangoproject.com/en/stable/ref/django-admin/#runserver). `--reload` watches
    files and restarts, and debugpy listening on a port hands a shell to whoever reaches it.
    `fastapi dev` is that auto-reload mode under another name: FastAPI's CLI documents it for
    development and `fastapi run` for production (https://fastapi.tiangolo.com/fastapi-cli/).

    ## Example
    ```dockerfile
    ENV FLASK_DEBUG=1
    CMD ["flask", "run", "--host", "0.0.0.0"]
    ```

    ## Instead
    ```dockerfile
    CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--worker-tmp-dir", "/dev/shm", "app:app"]
    ```

    ## References
    - https://flask.palletsprojects.com/en/stable/deploying/
    - https://flask.palletsprojects.com/en/stable/debugging/
    - https://docs.djangoproject.com/en/stable/ref/django-admin/#runserver
    - https://fastapi.tiangolo.com/fastapi-cli/
    - https://snyk.io/blog/best-practices-containerizing-python-docker/
    - Practice: #24 A production WSGI/ASGI server, not a development server: "Configuring Gunicorn
      for Docker", https://pythonspeed.com/articles/gunicorn-in-docker/
    """
    seen: set[str] = set()
    for command, where in [*commands(facts), *_behind_scripts(facts)]:
        what = dev_server(command)
        if what and what not in seen:
            seen.add(what)
            yield Found(f"{what} in {shown(command)}", where, subject=what)
    for name, bad in DEV_ENV.items():
        value = env(facts).get(name)
        if value is not None and value.strip().lower() in bad:
            yield Found(
                f"ENV {name}={value} turns on development mode", Location(config=f"Env.{name}")
            )


# --- ports --------------------------------------------------------------------------------------


def exposed_tcp_ports(facts: Facts) -> list[int]:
    ports = []
    for spec in config(facts).get("exposed_ports") or []:
        number, _, proto = str(spec).partition("/")
        # ASCII digits and at most five of them: isdigit() alone passes "²" and 5000-digit
        # text, which int() refuses; no TCP port has more.
        if number.isascii() and number.isdigit() and len(number) <= 5 and proto in ("", "tcp"):
            ports.append(int(number))
    return ports


def runtime_uid(facts: Facts) -> int | None:
    process = app_process(facts)
    if process is not None and process.get("uid") is not None:
        return process.get("uid")
    return (facts.get("user") or {}).get("resolved_uid")


@check(
    "OPS007",
    "privileged-port-as-non-root",
    "A non-root app exposes or listens on a port below 1024",
    severity="low",
    category="operability",
    needs=("config", "user"),
    wants=("runtime.lifecycle",),
    fix="Listen on a port of 1024 or above (8000, 8080) and map it to 80/443 at deploy time.",
)
def privileged_port_as_non_root(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    EXPOSEd TCP ports below 1024, and (when the lifecycle probe ran) sockets listening below
    1024, when the app runs as a non-root user (the app process the probe saw, else USER
    resolved through the image's /etc/passwd).

    ## Why it matters
    Binding a port below 1024 needs root or `CAP_NET_BIND_SERVICE`. Docker 20.10+ sets
    `net.ipv4.ip_unprivileged_port_start=0` in each container, so it works under `docker run`,
    but other runtimes and Kubernetes setups do not, and the app then fails with "permission
    denied" in production only (https://github.com/moby/moby/pull/41030; background in
    https://github.com/docker/for-linux/issues/1297). Giving the capability back, or running as
    root, to keep port 80 trades security for nothing: the port is mapped at deploy time anyway.

    ## Example
    ```dockerfile
    USER 10001
    EXPOSE 80
    CMD ["gunicorn", "--bind", "0.0.0.0:80", "app:app"]
    ```

    ## Instead
    ```dockerfile
    USER 10001
    EXPOSE 8000
    CMD ["gunicorn", "--bind", "0.0.0.0:8000", "app:app"]   # docker run -p 80:8000
    ```

    ## References
    - https://github.com/moby/moby/pull/41030
    - https://docs.docker.com/reference/dockerfile/#expose
    - https://kubernetes.io/docs/tasks/administer-cluster/sysctl-cluster/
    - Practice: #2 Least privilege: the app needs no capabilities, no setuid, no sudo: "Less
      capabilities, more security: preventing Docker escalation attacks",
      https://pythonspeed.com/articles/root-capabilities-docker-security/
    """
    uid = runtime_uid(facts)
    if uid is None or uid == 0:
        return
    for port in sorted(p for p in exposed_tcp_ports(facts) if p < 1024):
        yield Found(f"EXPOSE {port} with a non-root user (UID {uid})",
                    Location(config="ExposedPorts"), subject=f"port {port}")  # fmt: skip
    listening = (lifecycle(facts) or {}).get("listening") or []
    for port in sorted({s.get("port") for s in listening if (s.get("port") or 1024) < 1024}):
        yield Found(f"listening on port {port} as UID {uid}: it only works where unprivileged "
                    "ports start at 0", Location(runtime="lifecycle probe: sockets"),
                    subject=f"port {port}")  # fmt: skip


def loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return bool((mapped or ip).is_loopback)


@check(
    "OPS008",
    "listens-on-loopback-only",
    "The server listens only on 127.0.0.1 or ::1: unreachable from outside the container",
    severity="high",
    category="operability",
    needs=("config", "runtime.lifecycle"),
    fix="Bind to all interfaces: `--host 0.0.0.0` / `--bind 0.0.0.0:8000`.",
)
def listens_on_loopback_only(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    The TCP sockets the lifecycle probe saw listening, when the image EXPOSEs ports: an exposed
    port that is listened on only on a loopback address, or, when no exposed port is listened on
    at all, every TCP listener being on loopback. It needs the probe to have read the sockets
    (`sockets_known`).

    ## Why it matters
    Inside a container, 127.0.0.1 is the container's own loopback: a server bound there refuses
    every connection from outside it, published port or not, and the result looks like a
    network problem ("connection refused" or reset). `flask run`, `app.run()`, `uvicorn` and
    `manage.py runserver` all bind to loopback by default
    (https://pythonspeed.com/articles/docker-connection-refused/).

    ## Example
    ```dockerfile
    EXPOSE 8000
    CMD ["uvicorn", "app:app", "--port", "8000"]   # uvicorn's default host is 127.0.0.1
    ```

    ## Instead
    ```dockerfile
    CMD ["uvicorn", "app:app", "--host", "0.0.0.0", "--port", "8000"]
    ```

    ## References
    - https://pythonspeed.com/articles/docker-connection-refused/
    - https://www.uvicorn.org/settings/#socket-binding
    - https://docs.gunicorn.org/en/stable/settings.html#bind
    - Practice: #23 Listen on 0.0.0.0, not 127.0.0.1: "Connection refused? Docker networking and how
      it impacts your image", https://pythonspeed.com/articles/docker-connection-refused/
    """
    life = lifecycle(facts) or {}
    exposed = exposed_tcp_ports(facts)
    if not exposed or not life.get("sockets_known", True):
        return
    tcp = [s for s in life.get("listening") or [] if str(s.get("protocol", "")).startswith("tcp")]
    where = Location(config="ExposedPorts", runtime="lifecycle probe: sockets")
    served = False
    for port in exposed:
        on_port = [s for s in tcp if s.get("port") == port]
        served = served or bool(on_port)
        if on_port and all(loopback(str(s.get("address"))) for s in on_port):
            addresses = ", ".join(sorted({str(s.get("address")) for s in on_port}))
            yield Found(f"exposed port {port} is listened on only on {addresses}", where,
                        subject=f"port {port}")  # fmt: skip
    if not served and tcp and all(loopback(str(s.get("address"))) for s in tcp):
        listed = ", ".join(f"{s.get('address')}:{s.get('port')}" for s in tcp)
        yield Found(f"every listener is on loopback ({listed}), none on the exposed port(s) "
                    f"{', '.join(map(str, exposed))}", where, subject="every port")  # fmt: skip


# --- volumes ------------------------------------------------------------------------------------

SENSITIVE_EXACT = {"/", "/etc", "/root", "/lib", "/lib64", "/usr", "/bin", "/sbin", "/var/run",
                   "/run", "/var/lib/docker", "/home", "/var/log"}  # fmt: skip
SENSITIVE_TREES = ("/proc", "/sys", "/dev", "/boot", "/usr", "/lib", "/etc")


@check(
    "OPS009",
    "sensitive-volume",
    "A VOLUME is declared on a system directory or the Docker socket",
    severity="medium",
    category="operability",
    needs=("config",),
    fix="Declare VOLUMEs only for the app's data dirs (e.g. /data); drop system paths.",
    dockle=("DKL-DI-0002",),
)
def sensitive_volume(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    The config's VOLUMEs for `/`, system directories (`/etc`, `/usr`, `/lib`, `/bin`, `/sbin`,
    `/root`, `/home`, `/run`, `/var/run`, `/var/log`, `/var/lib/docker`), anything under `/proc`,
    `/sys`, `/dev`, `/boot`, `/etc`, `/usr` or `/lib`, and any path naming `docker.sock`.

    ## Why it matters
    Docker mounts a volume on every VOLUME path at every start, copying the image's files into
    it the first time. On a system directory that freezes it: an image update no longer changes
    `/etc` or `/usr/lib` in a container that reuses the volume, and the files become writable
    state outside the image. A VOLUME for the Docker socket invites mounting the host's socket,
    which is root on the host. dockle reports VOLUMEs on /sys, /dev and /proc as FATAL
    (https://github.com/goodwithtech/dockle/blob/master/CHECKPOINT.md#dkl-di-0002); OWASP rule 1
    is not to expose the Docker socket
    (https://cheatsheetseries.owasp.org/cheatsheets/Docker_Security_Cheat_Sheet.html).

    ## Example
    ```dockerfile
    VOLUME ["/etc", "/var/run/docker.sock"]
    ```

    ## Instead
    ```dockerfile
    VOLUME ["/data"]
    ```

    ## References
    - https://docs.docker.com/reference/dockerfile/#volume
    - https://github.com/goodwithtech/dockle/blob/master/CHECKPOINT.md#dkl-di-0002
    - https://cheatsheetseries.owasp.org/cheatsheets/Docker_Security_Cheat_Sheet.html
    - Practice: none of Turner-Trauring's; dockle's DKL-DI-0002 and OWASP's Docker security cheat
      sheet
    """
    for volume in config(facts).get("volumes") or []:
        path = posixpath.normpath("/" + str(volume).strip()).replace("//", "/")
        under = [t for t in SENSITIVE_TREES if path.startswith(t + "/")]
        if "docker.sock" in path:
            why = "the Docker socket (root on the host once mounted)"
        elif path in SENSITIVE_EXACT or under:
            why = "a system directory"
        else:
            continue
        yield Found(f"VOLUME {volume} is {why}", Location(config="Volumes", path=path))
