"""How the service behaves once started, against Turner-Trauring's practices: logs to files,
writes into the image, migrations at start, gunicorn sized for the host, timezone data, and
shared objects built for another CPU.

Facts these read besides the config: `python.startup` (start scripts, server and logging
configs) and the probes' `runtime.lifecycle.written`, `log_tail` and `runtime.static`.
"""

from __future__ import annotations

import ast
import posixpath
import re
import shlex
from collections.abc import Iterator
from typing import Any

from packaging.utils import canonicalize_name

from checks.access import config, env, lifecycle, size, static_probe
from checks.model import Context, Facts, Found, Location, Skip, shorten
from checks.operability import commands, gunicorn_args, option_value, shown, words
from checks.registry import check
from checks.runaway import runaway_paths

ARTICLE = "https://pythonspeed.com/articles/gunicorn-in-docker/"
DOCKER_GRACE = 10  # seconds `docker stop` waits before SIGKILL
KUBERNETES_GRACE = 30  # terminationGracePeriodSeconds' default


# --- shared readers -----------------------------------------------------------------------------


def startup(facts: Facts) -> dict[str, Any]:
    return (facts.get("python") or {}).get("startup") or {}


def script_lines(facts: Facts) -> list[tuple[str, Location]]:
    """Each command line of the start scripts, with where it is; the config's `sh -c` string when
    the facts hold no start-up section."""
    out: list[tuple[str, Location]] = []
    scripts = startup(facts).get("scripts")
    if scripts is None:
        argv = list(config(facts).get("entrypoint") or []) + list(config(facts).get("cmd") or [])
        if len(argv) > 2 and argv[1] == "-c":
            out.append((argv[2], Location(config=field(facts))))
        return out
    for script in scripts:
        where = (
            Location(path=script["path"]) if script.get("path") else Location(config=field(facts))
        )
        out += [(line, where) for line in script.get("lines") or []]
    return out


def field(facts: Facts) -> str:
    return "Entrypoint" if config(facts).get("entrypoint") else "Cmd"


def split(line: str) -> list[str]:
    try:
        return shlex.split(line, comments=True)
    except ValueError:
        return line.split()


def literal(text: str | None) -> Any:
    """The value of a setting written as a Python literal, else None (an expression)."""
    if text is None:
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def server_configs(facts: Facts, server: str) -> list[dict[str, Any]]:
    return [c for c in startup(facts).get("server_configs") or [] if c.get("server") == server]


# --- gunicorn -----------------------------------------------------------------------------------


class Gunicorn:
    """How gunicorn is started: its words (command, then GUNICORN_CMD_ARGS) and the config file
    it reads, looked up as gunicorn does."""

    def __init__(self, command: list[str], where: Location, facts: Facts) -> None:
        self.command = command
        self.where = where
        self.env_words = split(env(facts).get("GUNICORN_CMD_ARGS") or "")
        self.words = (gunicorn_args(command) or []) + self.env_words
        self.named = option_value(self.words, "-c") or option_value(self.words, "--config")
        configs = server_configs(facts, "gunicorn")
        wanted = ("argument", "environment") if self.named else ("default",)
        self.config = next((c for c in configs if c.get("source") in wanted), None)
        self.known = startup(facts).get("server_configs") is not None

    def option(self, *names: str) -> str | None:
        for name in names:
            value = option_value(self.words, name)
            if value is not None:
                return value
        return None

    def setting(self, name: str) -> tuple[str, str] | None:
        """(config path, value as written) when the config file gunicorn reads sets `name`."""
        if self.config is None:
            return None
        value = (self.config.get("settings") or {}).get(name)
        return (self.config["path"], value) if value is not None else None


def gunicorn_runs(facts: Facts) -> list[Gunicorn]:
    """Each way gunicorn is started: the config's command, a start script line, a probed process."""
    runs = [(c, w) for c, w in commands(facts) if gunicorn_args(c) is not None]
    for line, where in script_lines(facts):
        ws = split(line)
        if gunicorn_args(ws) is not None:
            runs.append((ws, where))
    return [Gunicorn(c, w, facts) for c, w in runs]


# --- OPS021 logs to files -----------------------------------------------------------------------

LOG_OPTIONS = ("--access-logfile", "--error-logfile", "--log-file")
LOG_SETTINGS = ("accesslog", "errorlog")
UWSGI_LOG_OPTIONS = ("--logto", "--logto2", "--daemonize", "--daemonize2")
_LOG_FILE = re.compile(r"(?:\.log(?:\.\d+)?|\.log\.\w+)$|^/var/log/.+")


def log_path(path: str) -> bool:
    return bool(_LOG_FILE.search(path))


def written_leaves(life: dict[str, Any]) -> list[dict[str, Any]]:
    """Paths the container added or changed that are not only the parent of another one."""
    written = [w for w in life.get("written") or [] if w.get("kind") in ("added", "changed")]
    paths = sorted(str(w.get("path") or "") for w in life.get("written") or [])
    parents = {posixpath.dirname(p) for p in paths}
    # A dir is a parent when any written path sits below it, however deep.
    ancestors: set[str] = set()
    for parent in parents:
        while parent not in ancestors and parent not in ("/", ""):
            ancestors.add(parent)
            parent = posixpath.dirname(parent)
    return [w for w in written if w.get("path") not in ancestors]


def log_writes(facts: Facts) -> list[str]:
    life = lifecycle(facts)
    if life is None:
        return []
    return [w["path"] for w in written_leaves(life) if log_path(str(w.get("path") or ""))]


@check(
    "OPS021",
    "logs-to-files",
    "The app writes its logs to files in the container instead of stdout/stderr",
    severity="medium",
    category="operability",
    needs=("config",),
    wants=("python", "runtime.lifecycle"),
    fix="Log to stdout/stderr: `--access-logfile - --error-logfile -`; `StreamHandler(sys.stdout)`",
)
def logs_to_files(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    Where the server and the app send their logs:
    - gunicorn's `--access-logfile`, `--error-logfile` and `--log-file` with a path rather than
      `-` (in the command, a start script or `GUNICORN_CMD_ARGS`), and `accesslog`/`errorlog`
      set to a path, or a `logconfig_dict` with a file handler, in the config file it reads
      (`-c`, or `./gunicorn.conf.py` in WORKDIR);
    - uWSGI's `--logto`, `--logto2`, `--daemonize` and a `file:` logger, in its command or ini;
    - logging config files of the app (`logging.ini`, `log.yaml`, ...) naming a `FileHandler`,
      `RotatingFileHandler` or similar (`python.startup.logging_configs`);
    - when the lifecycle probe ran: files it saw the container write that end in `.log` or sit
      under `/var/log`.
    What the probe saw is medium; configuration alone is low, since a path such as
    `/dev/stdout` or a mounted volume may be intended. One finding per place that sends logs to
    files (a command, a config file), naming the files the probe saw written that it names; the
    probe's written files get a finding of their own only when no setting names them.

    ## Why it matters
    Docker, Kubernetes and every log shipper collect a container's stdout and stderr. Logs
    written to a file inside the container are invisible to `docker logs` and to the platform,
    vanish with the container, grow the writable layer until the disk fills, and stop the image
    from running on a read-only root filesystem. Itamar Turner-Trauring's gunicorn settings for
    Docker log to stdout (`--log-file=-`; https://pythonspeed.com/articles/gunicorn-in-docker/),
    and the twelve-factor app treats logs as an event stream written to stdout
    (https://12factor.net/logs).

    ## Example
    ```dockerfile
    CMD ["gunicorn", "--access-logfile", "/var/log/app/access.log", "app:app"]
    ```

    ## Instead
    ```dockerfile
    CMD ["gunicorn", "--access-logfile", "-", "--error-logfile", "-", "app:app"]
    ```
    and in Python, `logging.basicConfig(stream=sys.stdout)` rather than a `FileHandler`.

    ## References
    - https://pythonspeed.com/articles/gunicorn-in-docker/
    - https://docs.gunicorn.org/en/stable/settings.html#logging
    - https://uwsgi-docs.readthedocs.io/en/latest/Logging.html
    - https://12factor.net/logs
    - https://docs.docker.com/engine/logging/
    - Practice: #32 Log to stdout (`--access-logfile -`), not to files: "Configuring Gunicorn for
      Docker", https://pythonspeed.com/articles/gunicorn-in-docker/
    """
    seen_writes = log_writes(facts)
    static = "medium" if seen_writes else "low"
    # (message, where, the log files it names): each setting that sends logs to a file.
    said: list[tuple[str, Location, tuple[str, ...]]] = []
    options: set[tuple[str, str]] = set()  # the master and each worker repeat the same command
    for run in gunicorn_runs(facts):
        for name in LOG_OPTIONS:
            value = option_value(run.words, name)
            if value is None or value == "-" or value.startswith("/dev/std"):
                continue
            if (name, value) in options:
                continue
            options.add((name, value))
            if option_value(run.env_words, name) == value:
                source, where = "GUNICORN_CMD_ARGS", Location(config="Env.GUNICORN_CMD_ARGS")
            else:
                source, where = shown(run.command), run.where
            said.append((f"gunicorn writes logs to a file: {name} {value} (in {source})", where,
                         (value,)))  # fmt: skip
        for name in LOG_SETTINGS:
            setting = run.setting(name)
            value = literal(setting[1]) if setting else None
            if (
                setting
                and isinstance(value, str)
                and value != "-"
                and not value.startswith("/dev/std")
            ):
                said.append((f"{setting[0]} sets {name} = {setting[1]}: gunicorn writes logs to "
                             "a file", Location(path=setting[0]), (value,)))  # fmt: skip
        setting = run.setting("logconfig_dict")
        if setting and "FileHandler" in setting[1]:
            said.append((f"{setting[0]} sets a logconfig_dict with a file handler",
                         Location(path=setting[0]), ()))  # fmt: skip
    said += uwsgi_logs(facts)
    for cfg in startup(facts).get("logging_configs") or []:
        handlers = cfg.get("file_handlers") or []
        if handlers:
            names = tuple(cfg.get("filenames") or [])
            said.append((f"{cfg['path']} configures {', '.join(handlers)} writing to "
                         f"{', '.join(names) or 'a file'}", Location(path=cfg["path"]),
                         names))  # fmt: skip
    yield from _log_findings(said, seen_writes, static)


def _log_findings(said: list[tuple[str, Location, tuple[str, ...]]], seen_writes: list[str],
                  severity: str) -> Iterator[Found]:  # fmt: skip
    """One finding per place that sends logs to files (a command, a config file), with the files
    the probe saw written that it names; the probe's own row only for files nothing names."""
    places: dict[Location, tuple[list[str], list[str]]] = {}
    for message, where, names in said:
        messages, seen = places.setdefault(where, ([], []))
        if message not in messages:
            messages.append(message)
        seen += [w for w in seen_writes if w not in seen and any(_names(n, w) for n in names)]
    claimed = {w for _, seen in places.values() for w in seen}
    for where, (messages, seen) in places.items():
        confirmed = f"; the running container wrote {', '.join(seen[:5])}" if seen else ""
        yield Found("; ".join(messages) + confirmed, where, severity=severity)
    alone = [w for w in seen_writes if w not in claimed]
    if alone:
        more = f" and {len(alone) - 5} more" if len(alone) > 5 else ""
        yield Found(f"the running container wrote log files: {', '.join(alone[:5])}{more}",
                    Location(runtime="lifecycle probe: written files"))  # fmt: skip


def _names(setting: str, written: str) -> bool:
    """Whether a log file a setting names (absolute, or relative to the WORKDIR) is `written`,
    or one of its rotations (`app.log.1`)."""
    value = setting.strip().strip("'\"").removeprefix("file:")
    if not value:
        return False
    written = re.sub(r"\.\d+$", "", written)
    if value.startswith("/"):
        return written == posixpath.normpath(value)
    return written.endswith("/" + posixpath.normpath(value))


def uwsgi_logs(facts: Facts) -> Iterator[tuple[str, Location, tuple[str, ...]]]:
    for command, where in commands(facts):
        ws = words(command)
        if not any(posixpath.basename(w) == "uwsgi" for w in ws):
            continue
        for name in UWSGI_LOG_OPTIONS:
            value = option_value(ws, name)
            if value is not None:
                yield f"uWSGI {name} {value} writes logs to a file", where, (value,)
        logger = option_value(ws, "--logger")
        if logger and logger.startswith("file:"):
            yield f"uWSGI --logger {logger} writes logs to a file", where, (logger,)
    for cfg in server_configs(facts, "uwsgi"):
        settings = cfg.get("settings") or {}
        where = Location(path=cfg["path"])
        for name in ("logto", "logto2", "daemonize", "daemonize2"):
            if settings.get(name):
                yield (f"{cfg['path']} sets {name} = {settings[name]}: uWSGI writes logs to a file",
                       where, (str(settings[name]),))  # fmt: skip
        if str(settings.get("logger") or "").startswith("file:"):
            yield (f"{cfg['path']} sets logger = {settings['logger']}", where,
                   (str(settings["logger"]),))  # fmt: skip


# --- OPS022 writes into the image ---------------------------------------------------------------

SCRATCH = ("/tmp", "/dev/shm", "/dev", "/proc", "/sys")
HINTS = (
    ("/.cache/", "a cache under the home dir (set XDG_CACHE_HOME, or the tool's own variable, "
     "to /tmp)"),
    ("/.config/matplotlib", "matplotlib's config cache (set MPLCONFIGDIR=/tmp/matplotlib)"),
    ("/.local/", "files under ~/.local"),
)  # fmt: skip


def under(path: str, roots: list[str] | tuple[str, ...]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


@check(
    "OPS022",
    "writes-into-image",
    "The running app writes into the image's filesystem: it cannot run on a read-only root",
    severity="medium",
    category="operability",
    needs=("config", "runtime.lifecycle"),
    fix="Write to /tmp (a tmpfs), a VOLUME or stdout, then run with a read-only root filesystem.",
)
def writes_into_image(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    The paths the lifecycle probe saw the running container add or change in its writable layer
    (`runtime.lifecycle.written`, what `docker diff` lists), leaving out what is meant to be
    written or reported elsewhere: `/tmp` and `/dev/shm`, declared VOLUMEs, `.pyc` files and
    `__pycache__` dirs (PY002 judges bytecode), log files (OPS021), the files of a write that
    passed the probe's write limit (OPS010 names them), and directories that only hold other
    written paths. A directory listed alone means a file was created and removed in it.

    ## Why it matters
    Running with a read-only root filesystem (`docker run --read-only`, Kubernetes
    `readOnlyRootFilesystem: true`) is a standard hardening step: an attacker who gets code
    execution cannot replace the app's code or drop tools. An app that writes next to its code,
    into its home dir or under `/var` fails to start there, and everywhere else its writes land
    on the overlay filesystem: slower than a tmpfs, lost when the container is replaced, and
    invisible to backups. Turner-Trauring lists "no runtime writes into the image" among his
    production practices (credited in https://kence.org/2021/05/09/pythonspeed-docker-best-practices/;
    https://pythonspeed.com/docker/).

    ## Example
    ```dockerfile
    WORKDIR /app
    CMD ["python", "-m", "app"]   # writes /app/state.db and ~/.cache/... at start
    ```

    ## Instead
    ```dockerfile
    ENV XDG_CACHE_HOME=/tmp/cache MPLCONFIGDIR=/tmp/matplotlib
    VOLUME ["/data"]               # state the app must keep; everything else in /tmp
    # docker run --read-only --tmpfs /tmp ...
    ```

    ## References
    - https://kence.org/2021/05/09/pythonspeed-docker-best-practices/
    - https://pythonspeed.com/docker/
    - https://docs.docker.com/reference/cli/docker/container/run/#read-only
    - https://kubernetes.io/docs/tasks/configure-pod-container/security-context/
    - Practice: #36 No runtime writes into the image; works on a read-only root (Turner-Trauring's
      production checklist, as summarised in
      https://kence.org/2021/05/09/pythonspeed-docker-best-practices/)
    """
    life = lifecycle(facts) or {}
    volumes = [
        posixpath.normpath("/" + str(v).strip().lstrip("/"))
        for v in config(facts).get("volumes") or []
    ]
    runaway = runaway_paths(life)  # OPS010's: the app passed the write limit with them
    kept: list[str] = []
    for item in written_leaves(life):
        path = str(item.get("path") or "")
        if not path or under(path, SCRATCH) or under(path, volumes) or under(path, runaway):
            continue
        if path.endswith(".pyc") or "/__pycache__" in path + "/" or log_path(path):
            continue
        kept.append(path)
    if not kept:
        return
    total = life.get("written_total") or 0
    cut = (
        f" (the probe listed {len(life.get('written') or [])} of {total})"
        if total > len(life.get("written") or [])
        else ""
    )
    more = f" and {len(kept) - 8} more" if len(kept) > 8 else ""
    hints = sorted({hint for path in kept for key, hint in HINTS if key in path})
    why = f"; among them {'; '.join(hints)}" if hints else ""
    what = f"{len(kept)} paths" if len(kept) > 1 else "a path"
    yield Found(
        f"the running container wrote {what} into the image's filesystem outside /tmp and its "
        f"volumes: {', '.join(kept[:8])}{more}{cut}{why}; on a read-only root filesystem these "
        "writes fail",
        Location(runtime="lifecycle probe: written files"),
    )


# --- OPS023 migrations at start -----------------------------------------------------------------

MIGRATION = re.compile(
    r"\b(?:manage\.py|django-admin(?:\.py)?)\s+(?:\S+\s+)*?migrate\b"
    r"|\balembic\b(?:\s+\S+)*?\s+upgrade\b"
    r"|\bflask\s+(?:\S+\s+)*?db\s+upgrade\b"
    r"|\byoyo(?:-migrate)?\s+apply\b"
    r"|\baerich\s+upgrade\b"
    r"|\bpiccolo\s+migrations\s+forwards\b"
)
SERVERS = frozenset({"gunicorn", "uvicorn", "daphne", "hypercorn", "uwsgi", "waitress-serve",
                     "granian", "celery", "runserver", "supervisord"})  # fmt: skip
# What a migration prints: Django's "Applying app.0001_initial... OK", alembic's "Running upgrade".
MIGRATION_LOG = re.compile(
    r"Applying \w+\.\d{4}_\w+|Running upgrade \S* ?-> \S+|Operations to perform"
)


def serves(facts: Facts) -> str | None:
    """The server the start-up runs, by name, else None."""
    lines = [split(line) for line, _ in script_lines(facts)]
    for ws in [words(c) for c, _ in commands(facts)] + lines:
        for w in ws:
            if posixpath.basename(w) in SERVERS or w in SERVERS:
                return posixpath.basename(w)
        modules = {ws[i + 1] for i in range(len(ws) - 1) if ws[i] == "-m"}
        if modules & SERVERS:
            return sorted(modules & SERVERS)[0]
    return None


@check(
    "OPS023",
    "migrations-at-start",
    "The container runs database migrations at start, before the server",
    severity="medium",
    category="operability",
    needs=("config",),
    wants=("python", "runtime.lifecycle"),
    fix="Run migrations once per deploy (a one-off job, init container or release step); "
    "the entrypoint only execs the server.",
)
def migrations_at_start(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    The commands the container runs at start, in a shell-form ENTRYPOINT/CMD and in the start
    scripts it calls (`python.startup.scripts`), for a schema migration: `manage.py migrate`,
    `django-admin migrate`, `alembic ... upgrade`, `flask db upgrade`, `yoyo apply`,
    `aerich upgrade`, `piccolo migrations forwards`, when the same start-up then runs a server
    (gunicorn, uvicorn, daphne, hypercorn, uWSGI, waitress, granian, celery, runserver). An
    image that only migrates (a migration job) passes. When the lifecycle probe ran, its log
    tail showing a migration (Django's "Applying ...", alembic's "Running upgrade") is quoted.

    ## Why it matters
    Every container that starts runs the migration: several replicas starting together race on
    the schema, a rolling deploy runs old code against a new schema, a slow migration blocks the
    server until the orchestrator's start-up deadline kills it and restarts it mid-migration, and
    a failed migration turns into a crash loop. Itamar Turner-Trauring: "Don't run migrations as
    part of server startup"; run them as a separate, explicit step of the deploy
    (https://pythonspeed.com/articles/schema-migrations-server-startup/).

    ## Example
    ```sh
    #!/bin/sh
    # docker-entrypoint.sh
    python manage.py migrate --noinput
    exec gunicorn app.wsgi
    ```

    ## Instead
    ```sh
    #!/bin/sh
    exec gunicorn app.wsgi
    ```
    and run `docker run IMAGE python manage.py migrate` (or a Kubernetes Job, a Helm
    pre-upgrade hook) once per deploy, before the new version rolls out.

    ## References
    - https://pythonspeed.com/articles/schema-migrations-server-startup/
    - https://docs.djangoproject.com/en/stable/ref/django-admin/#migrate
    - https://alembic.sqlalchemy.org/en/latest/tutorial.html#running-our-first-migration
    - Practice: #22 Don't run DB migrations as part of server startup: "Decoupling database
      migrations from server startup", https://pythonspeed.com/articles/schema-migrations-server-startup/
    """
    server = serves(facts)
    if server is None:
        return
    tail = (lifecycle(facts) or {}).get("log_tail") or []
    logged = next((line for line in tail if MIGRATION_LOG.search(str(line))
                   and "Operations to perform" not in str(line)), None) or next(
        (line for line in tail if MIGRATION_LOG.search(str(line))), None)  # fmt: skip
    seen = f"; the probe's log shows it ran: {logged.strip()[:120]}" if logged else ""
    done: set[str] = set()
    for line, where in script_lines(facts):
        match = MIGRATION.search(line)
        # `migrate --check` / `--plan` only report; they change nothing.
        if match is None or line in done or re.search(r"\s--(?:check|plan)\b", line):
            continue
        done.add(line)
        yield Found(f"`{shortened(line)}` migrates the database at every start, before {server} "
                    f"serves{seen}", where, subject=line)  # fmt: skip


def shortened(text: str, width: int = 100) -> str:
    return shorten(text, width)


# --- OPS024 gunicorn workers --------------------------------------------------------------------

HOST_CPUS = re.compile(r"cpu_count|sched_getaffinity|\bnproc\b")


@check(
    "OPS024",
    "gunicorn-workers-from-host",
    "gunicorn's worker count is unset or computed from the host's CPUs",
    severity="medium",
    category="operability",
    needs=("config",),
    wants=("python", "runtime.lifecycle"),
    fix="Set the worker count explicitly (`--workers 2 --threads 4`, or WEB_CONCURRENCY per "
    "deployment).",
)
def gunicorn_workers_from_host(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    How gunicorn gets its number of workers, as gunicorn looks it up: `-w`/`--workers` in its
    command or `GUNICORN_CMD_ARGS`, `workers` in the config file it reads (`-c`, or
    `./gunicorn.conf.py` in WORKDIR, `python.startup.server_configs`), else the
    `WEB_CONCURRENCY` variable. Medium when the value is computed from the CPU count
    (`multiprocessing.cpu_count()`, `os.cpu_count()`, `os.sched_getaffinity`, `$(nproc)`); low
    when nothing sets it, which leaves gunicorn's default of one sync worker. When the command
    names a config file the facts do not hold, nothing is reported.

    ## Why it matters
    Inside a container, `cpu_count()` and `nproc` report the host's CPUs, not the CPU limit the
    container gets: on a 64-core node the common `2 * cpu_count() + 1` starts 129 workers in a
    container limited to one CPU and a few hundred MiB, which then thrash or are OOM-killed.
    Left unset, gunicorn runs a single sync worker: one slow request blocks every other. Itamar
    Turner-Trauring: containers see the host's CPUs, so set the number of workers explicitly,
    e.g. `--workers=2 --threads=4 --worker-class=gthread`
    (https://pythonspeed.com/articles/gunicorn-in-docker/).

    ## Example
    ```python
    # gunicorn.conf.py
    import multiprocessing

    workers = multiprocessing.cpu_count() * 2 + 1
    ```

    ## Instead
    ```dockerfile
    ENV WEB_CONCURRENCY=2
    CMD ["gunicorn", "--threads", "4", "--worker-class", "gthread", "app:app"]
    ```

    ## References
    - https://pythonspeed.com/articles/gunicorn-in-docker/
    - https://docs.gunicorn.org/en/stable/settings.html#workers
    - https://docs.gunicorn.org/en/stable/design.html#how-many-workers
    - Practice: #30 gunicorn: set the number of workers explicitly, containers see the host's
      CPUs: "Configuring Gunicorn for Docker", https://pythonspeed.com/articles/gunicorn-in-docker/
    """
    runs = gunicorn_runs(facts)
    if not runs:
        return
    run = runs[0]
    value = run.option("-w", "--workers")
    if value is not None:
        if HOST_CPUS.search(value):
            yield Found(f"gunicorn --workers {value} counts the host's CPUs, not the container's",
                        run.where)  # fmt: skip
        return
    for line, where in script_lines(facts):
        if gunicorn_args(split(line)) is not None and HOST_CPUS.search(line):
            yield Found(f"`{shortened(line)}` sizes gunicorn from the host's CPUs", where)
            return
    setting = run.setting("workers")
    if setting is not None:
        if HOST_CPUS.search(setting[1]):
            yield Found(f"{setting[0]} sets workers = {setting[1]}: that counts the host's "
                        "CPUs, not the container's limit", Location(path=setting[0]))  # fmt: skip
        return
    if env(facts).get("WEB_CONCURRENCY"):
        return
    if run.named and run.config is None:
        return  # the config gunicorn reads is not in the facts: it may set workers
    yield Found(
        f"nothing sets gunicorn's worker count ({shown(run.command)}), so it runs one sync "
        "worker: a single slow request blocks all others",
        run.where,
        severity="low",
    )


# --- OPS025 gunicorn graceful timeout -----------------------------------------------------------


def seconds(text: str | None) -> float | None:
    value = literal(text) if text is not None else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        value = value.strip()
    try:
        return float(value) if isinstance(value, str) and value else None
    except ValueError:
        return None


@check(
    "OPS025",
    "gunicorn-graceful-timeout-over-grace",
    "gunicorn's graceful timeout is longer than the orchestrator waits before killing it",
    severity="medium",
    category="operability",
    needs=("config",),
    wants=("python",),
    fix="Keep `--graceful-timeout` below the stop grace (Docker 10 s, Kubernetes 30 s), or raise "
    "the grace (`docker stop -t`, terminationGracePeriodSeconds).",
)
def gunicorn_graceful_timeout(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    gunicorn's `--graceful-timeout` (its command, `GUNICORN_CMD_ARGS`, or `graceful_timeout` in
    the config file it reads) set to more than the time orchestrators wait by default between
    the stop signal and SIGKILL: Kubernetes' 30 s, and `docker stop`'s 10 s. Values up to 30 s,
    gunicorn's own default among them, are not reported: they fit Kubernetes, and under plain
    Docker only requests running longer than 10 s are cut.

    ## Why it matters
    On SIGTERM gunicorn stops accepting connections and gives its workers `graceful_timeout`
    seconds to finish their requests. If the orchestrator's grace is shorter, SIGKILL arrives
    first: requests in flight are cut off and nothing is cleaned up, which is exactly what the
    graceful timeout was set to avoid. Docker waits 10 s by default
    (https://docs.docker.com/reference/cli/docker/container/stop/), Kubernetes 30 s
    (https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination).
    Turner-Trauring's production checklist includes gunicorn timeouts that fit the stop grace
    (https://pythonspeed.com/articles/gunicorn-in-docker/).

    ## Example
    ```dockerfile
    CMD ["gunicorn", "--graceful-timeout", "120", "app:app"]
    ```

    ## Instead
    ```dockerfile
    CMD ["gunicorn", "--graceful-timeout", "25", "app:app"]
    # or keep 120 s and set terminationGracePeriodSeconds: 130 in the pod spec
    ```

    ## References
    - https://docs.gunicorn.org/en/stable/settings.html#graceful-timeout
    - https://docs.docker.com/reference/cli/docker/container/stop/
    - https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination
    - https://pythonspeed.com/articles/gunicorn-in-docker/
    - Practice: #31 gunicorn timeouts and graceful timeout that fit the orchestrator's stop grace
      (Turner-Trauring's gunicorn configuration for Docker,
      https://pythonspeed.com/articles/gunicorn-in-docker/)
    """
    for run in gunicorn_runs(facts)[:1]:
        text = run.option("--graceful-timeout")
        where = run.where
        said = f"--graceful-timeout {text}"
        if text is None:
            setting = run.setting("graceful_timeout")
            if setting is None:
                return
            text, where, said = (
                setting[1],
                Location(path=setting[0]),
                (f"{setting[0]} sets graceful_timeout = {setting[1]}"),
            )
        value = seconds(text)
        if value is None:
            return
        if value > KUBERNETES_GRACE:
            yield Found(f"{said}: longer than Kubernetes' {KUBERNETES_GRACE} s and Docker's "
                        f"{DOCKER_GRACE} s stop grace, so workers are killed mid-request",
                        where)  # fmt: skip


# --- PY019 timezone data ------------------------------------------------------------------------

# Distributions that look zones up in the system's (or the tzdata package's) zone data.
ZONE_USERS = frozenset({"django", "pandas", "pendulum", "arrow", "apscheduler", "celery",
                        "zoneinfo", "backports-zoneinfo", "tzlocal", "croniter"})  # fmt: skip
NO_ZONE = frozenset({"", "UTC", "UTC0", "Etc/UTC", "GMT", "Etc/GMT", ":UTC", "Z"})


@check(
    "PY019",
    "timezone-data-missing",
    "The image has no timezone data, or not the zone TZ names, while TZ or the app needs it",
    severity="medium",
    category="python",
    needs=("config",),
    wants=("files", "python", "runtime.static"),
    fix="Install zone data: `apt-get install -y --no-install-recommends tzdata`, or add the "
    "`tzdata` package to the requirements; set TZ to a zone name that exists (`Europe/Paris`).",
)
def timezone_data_missing(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    Whether the image has zone data: the static probe's answer when it ran
    (`runtime.static.timezone_data`: a zoneinfo dir with UTC, or the `tzdata` Python package),
    else the zone dirs found in the image (`files.time_zones`: Python's default TZPATH and the
    `tzdata` package). Without zone data: `TZ` set to a zone other than UTC is medium, and a
    library installed that looks zones up (Django, pandas, pendulum, arrow, APScheduler,
    Celery, tzlocal, croniter, backports.zoneinfo) is low. With zone data, `TZ` naming a zone
    that none of the zone dirs holds (a typo, or a trimmed zone set) is medium.

    ## Why it matters
    Slim and distroless images often ship without `/usr/share/zoneinfo` (Debian trixie no
    longer installs tzdata by default). Then `zoneinfo.ZoneInfo("Europe/Paris")` raises
    `ZoneInfoNotFoundError`, and worse, the C library silently treats an unknown `TZ` as UTC,
    so timestamps are off by hours with no error. Turner-Trauring lists timezone data among the
    things a production image must not forget (https://pythonspeed.com/docker/); Python's docs
    point to the `tzdata` package for systems without zone data
    (https://docs.python.org/3/library/zoneinfo.html#data-sources).

    ## Example
    ```dockerfile
    FROM python:3.13-slim-trixie
    ENV TZ=Europe/Paris           # no tzdata in the image: the app runs in UTC
    ```

    ## Instead
    ```dockerfile
    RUN apt-get update && apt-get install -y --no-install-recommends tzdata \\
        && rm -rf /var/lib/apt/lists/*
    ```
    or `tzdata` in requirements.txt, which `zoneinfo` uses when the system has none.

    ## References
    - https://docs.python.org/3/library/zoneinfo.html#data-sources
    - https://tzdata.readthedocs.io/
    - https://pythonspeed.com/docker/
    - Practice: #35 Timezone data available / `TZ` valid (Turner-Trauring's production checklist,
      https://pythonspeed.com/docker/)
    """
    probe = static_probe(facts) or {}
    zones = (facts.get("files") or {}).get("time_zones")
    if probe.get("timezone_data") is not None:
        # The same place as without the probe: a baseline written either way matches.
        where = Location(path="/usr/share/zoneinfo", runtime="static probe")
        has_data = bool(probe["timezone_data"])
    elif zones is not None:
        has_data, where = bool(zones.get("zoneinfo_dirs")), Location(path="/usr/share/zoneinfo")
    else:
        raise Skip("neither the static probe nor the image's files tell whether it has zone data")
    tz = str(env(facts).get("TZ") or "").strip()
    zone = tz.lstrip(":")
    if has_data:
        if zones is None or zone in NO_ZONE or "," in zone or zone.startswith("/"):
            return
        if zones.get("tz") == tz and not zones.get("tz_files"):
            dirs = ", ".join(zones.get("zoneinfo_dirs") or [])
            yield Found(f"ENV TZ={tz} names a zone that is not in the image's zone data ({dirs}): "
                        "the C library falls back to UTC and zoneinfo raises",
                        Location(config="Env.TZ"))  # fmt: skip
        return
    if zone not in NO_ZONE:
        yield Found(f"ENV TZ={tz} but the image has no timezone data: the C library falls back "
                    "to UTC and zoneinfo raises", Location(config="Env.TZ"))  # fmt: skip
        return
    packages = (facts.get("python") or {}).get("packages") or []
    installed = {canonicalize_name(str(p.get("name") or "")) for p in packages}
    users = sorted(installed & ZONE_USERS)
    if users:
        verb = "looks" if len(users) == 1 else "look"
        yield Found(f"{', '.join(users)} {verb} up time zones, and the image has no timezone data "
                    "(no zoneinfo dir, no tzdata package)", where, severity="low")  # fmt: skip


# --- COR014 foreign-architecture shared objects -------------------------------------------------

ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm",
                "armel": "arm", "i386": "386", "i686": "386"}  # fmt: skip
# 32-bit objects a 64-bit system runs through its multiarch dirs (dpkg --add-architecture).
COMPAT = {"amd64": ("386", ("/usr/lib/i386-linux-gnu", "/lib/i386-linux-gnu", "/usr/lib32",
                            "/lib32")),
          "arm64": ("arm", ("/usr/lib/arm-linux-gnueabihf", "/lib/arm-linux-gnueabihf",
                            "/usr/lib32", "/lib32"))}  # fmt: skip


@check(
    "COR014",
    "foreign-architecture-objects",
    "Shared objects built for another CPU than the image's: they fail to load",
    severity="high",
    category="correctness",
    needs=("image", "files"),
    fix="Build for the target platform (`docker buildx build --platform linux/amd64`) and "
    "install wheels inside that build; never copy a venv or .so built on another CPU.",
)
def foreign_architecture_objects(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    The CPU each shared object in the image (`*.so`, `*.so.N`) is built for, read from its ELF
    header (`files.shared_objects`), against the architecture the image declares
    (`image.architecture`). Objects for another CPU are reported, except where such bundles are
    expected: a directory that also holds objects for the image's own CPU (tools such as
    debuggers ship one library per platform side by side), and 32-bit x86/ARM libraries in the
    multiarch directories of a 64-bit system (`/usr/lib/i386-linux-gnu`, `/usr/lib32`, ...).

    ## Why it matters
    The dynamic loader refuses an object built for another CPU, so the extension module or
    library fails to import, often only when the code path that needs it first runs in
    production. It happens when a virtualenv, a wheel cache or a compiled library built on an
    ARM laptop (Apple silicon) is copied into an x86-64 image, or the other way round. Itamar
    Turner-Trauring: build images for the CPU architecture you deploy on, not the one on your
    desk (https://pythonspeed.com/articles/docker-build-problems-mac/).

    ## Example
    ```dockerfile
    FROM python:3.12-slim
    COPY .venv/ /opt/venv/        # built on an arm64 Mac/VM, image is linux/amd64
    ```

    ## Instead
    ```dockerfile
    FROM --platform=linux/amd64 python:3.12-slim AS build
    RUN python -m venv /opt/venv && /opt/venv/bin/pip install -r requirements.txt
    # docker buildx build --platform linux/amd64 .
    ```

    ## References
    - https://pythonspeed.com/articles/docker-build-problems-mac/
    - https://docs.docker.com/build/building/multi-platform/
    - https://refspecs.linuxfoundation.org/elf/gabi4+/ch4.eheader.html
    - Practice: #21 Build for the production CPU architecture: "Docker build problems on
      Mac", https://pythonspeed.com/articles/docker-build-problems-mac/
    """
    raw = str((facts.get("image") or {}).get("architecture") or "")
    arch = ARCH_ALIASES.get(raw, raw)
    objects = (facts.get("files") or {}).get("shared_objects")
    if not arch or objects is None:
        raise Skip("the facts do not say the image's architecture or its shared objects")
    machines = objects.get("machines") or []
    native = {d for m in machines if m.get("machine") == arch for d in m.get("dirs") or []}
    compat, compat_dirs = COMPAT.get(arch, ("", ()))
    for entry in machines:
        machine = entry.get("machine")
        if machine == arch:
            continue
        dirs = [d for d in entry.get("dirs") or [] if d not in native]
        if machine == compat:
            dirs = [d for d in dirs if not under(d, compat_dirs)]
        if not dirs:
            continue
        examples = [p for p in entry.get("examples") or [] if posixpath.dirname(p) in dirs]
        shown_paths = ", ".join(examples[:3] or dirs[:3])
        yield Found(
            f"shared objects built for {machine} in an {arch} image, in {', '.join(dirs[:3])}"
            f"{' and more' if len(dirs) > 3 else ''} (e.g. {shown_paths}): the loader refuses "
            "them, so importing them fails",
            Location(path=(examples or dirs)[0]),
        )


# --- conda --------------------------------------------------------------------------------------

CONDA_CACHE_LIMIT = 10 * 1024 * 1024  # what `conda clean -afy` leaves is a few KiB of metadata


@check(
    "SIZE032",
    "conda-package-cache",
    "A conda installation ships its package cache (pkgs/): the packages twice",
    severity="medium",
    category="size",
    needs=("files",),
    fix="Run `conda clean -afy` in the same RUN as `conda install`/`conda env create`, or copy "
    "only the environment (conda-pack) into a slim runtime stage.",
)
def conda_package_cache(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    Each conda installation in the image (a dir with `conda-meta/`, `files.conda`) and its
    package cache, `<root>/pkgs` or `CONDA_PKGS_DIRS`: more than 10 MiB of it, visible or
    deleted by a later layer (`conda clean` in a separate RUN frees nothing, the layer that
    wrote the cache still ships it).

    ## Why it matters
    conda downloads each package as an archive and extracts it into `pkgs/` before linking it
    into the environment, so without cleaning every package sits in the image two or three
    times: often hundreds of MiB to GiBs, pulled on every deploy and scanned on every audit.
    Itamar Turner-Trauring shows `conda clean -afy` in the same RUN, and conda-pack into a
    smaller runtime stage, taking a conda image from 1.7 GB to a fraction of it
    (https://pythonspeed.com/articles/conda-docker-image-size/).

    ## Example
    ```dockerfile
    RUN conda env create -f environment.yml
    RUN conda clean -afy          # a new layer: the cache is still in the previous one
    ```

    ## Instead
    ```dockerfile
    RUN conda env create -f environment.yml && conda clean -afy
    ```

    ## References
    - https://pythonspeed.com/articles/conda-docker-image-size/
    - https://docs.conda.io/projects/conda/en/stable/commands/clean.html
    - https://conda.github.io/conda-pack/
    - Practice: #44 Conda images: `conda clean`, conda-pack or multi-stage, activate properly:
      "Shrink your Conda Docker images with conda-pack",
      https://pythonspeed.com/articles/conda-docker-image-size/
    """
    seen: set[str] = set()
    for root in (facts.get("files") or {}).get("conda") or []:
        pkgs = str(root.get("pkgs_dir") or "")
        if pkgs in seen:
            continue
        seen.add(pkgs)
        visible, deleted = root.get("pkgs_bytes") or 0, root.get("deleted_bytes") or 0
        if visible + deleted <= CONDA_CACHE_LIMIT:
            continue
        parts = []
        if visible:
            parts.append(f"{size(visible)} in {root.get('pkgs_files')} files")
        if deleted:
            parts.append(f"{size(deleted)} deleted by a later layer but still shipped")
        yield Found(f"conda's package cache {pkgs} holds {' and '.join(parts)}",
                    Location(path=pkgs))  # fmt: skip


# micromamba run streams the child's output; conda run (and mamba run, which calls it) captures it.
CONDA_TOOLS = frozenset({"conda", "mamba"})
LIVE_OUTPUT = ("--no-capture-output", "--live-stream")


@check(
    "OPS026",
    "conda-run-captures-output",
    "`conda run` starts the app and holds back its output until it exits",
    severity="medium",
    category="operability",
    needs=("config",),
    wants=("python",),
    fix="Add `--no-capture-output` (`conda run --no-capture-output -n ENV ...`), or put the "
    "environment's bin dir first on PATH and run the app directly.",
)
def conda_run_captures_output(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    ENTRYPOINT/CMD (shell strings included) and the start scripts they run
    (`python.startup.scripts`) for `conda run` or `mamba run` without `--no-capture-output`
    (or `--live-stream`). `micromamba run` streams output and passes.

    ## Why it matters
    By default `conda run` captures the child's stdout and stderr and prints them only when it
    exits: a server started that way shows no logs at all in `docker logs` while it runs, and
    a crash loses them. Itamar Turner-Trauring's way to run a conda environment in a container
    is `ENTRYPOINT ["conda", "run", "--no-capture-output", "-n", "myenv", "python", "run.py"]`,
    or activating it through PATH (https://pythonspeed.com/articles/activate-conda-dockerfile/).

    ## Example
    ```dockerfile
    ENTRYPOINT ["conda", "run", "-n", "app", "python", "-m", "app"]
    ```

    ## Instead
    ```dockerfile
    ENTRYPOINT ["conda", "run", "--no-capture-output", "-n", "app", "python", "-m", "app"]
    # or: ENV PATH=/opt/conda/envs/app/bin:$PATH  and  CMD ["python", "-m", "app"]
    ```

    ## References
    - https://pythonspeed.com/articles/activate-conda-dockerfile/
    - https://docs.conda.io/projects/conda/en/stable/commands/run.html
    - Practice: #44 Conda images: activate properly: "Activating a Conda environment in your
      Dockerfile", https://pythonspeed.com/articles/activate-conda-dockerfile/
    """
    runs = [(words(c), where) for c, where in commands(facts)]
    runs += [(split(line), where) for line, where in script_lines(facts)]
    for ws, where in runs:
        for i, w in enumerate(ws[:-1]):
            if posixpath.basename(w) in CONDA_TOOLS and ws[i + 1] == "run":
                rest = ws[i + 2 :]
                if not any(o in rest for o in LIVE_OUTPUT):
                    yield Found(f"`{shortened(' '.join(ws))}` runs the app through "
                                f"`{posixpath.basename(w)} run`, which holds back its output "
                                "until it exits", where)  # fmt: skip
                    return
