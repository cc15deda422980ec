"""Runtime facts: what the image did when it ran. Frozen, JSON-ready; see docs/facts.md."""

from __future__ import annotations

from dataclasses import dataclass, field

from inspector.probes.exits import ExitCause

# Every status a probe section can have. "ran" is the only one with measurements.
STATIC_STATUSES = ("ran", "not-applicable", "skipped", "could-not-start", "failed", "timeout")
LIFECYCLE_STATUSES = (
    "ran",
    "exited-early",
    "could-not-start",
    "not-applicable",
    "skipped",
    "failed",
)


@dataclass(frozen=True)
class DependencyProblem:
    distribution: str
    version: str | None
    requirement: str  # the Requires-Dist entry that is not met, verbatim
    kind: str  # "missing" | "conflict"
    installed: str | None  # the version installed, for a conflict
    message: str  # worded as `pip check` words it


@dataclass(frozen=True)
class ImportCheck:
    """The static probe's import smoke test: what the command imports first, imported for real."""

    command: str  # the command it stands for: "python -m svc", "gunicorn wsgi:app"
    status: str  # "ok" | "failed" | "timeout" | "not-run"
    verdict: str  # "passed" | "broken" | "inconclusive"
    imported: tuple[str, ...] = ()  # modules that imported before any failure
    exception: str | None = None  # the exception type that ended it
    message: str | None = None  # its message (shortened)
    module: str | None = None  # the module that could not be imported
    library: str | None = None  # the shared library that could not be loaded
    location: str | None = None  # file:line of the failing import or error
    raised_in: str | None = None  # file:line deeper down where it was raised, when elsewhere
    found_elsewhere: tuple[str, ...] = ()  # site dirs of the image that have `module` off sys.path
    seconds: float | None = None
    # Application sources (under the bytecode analyser's roots) the imports loaded; None unknown.
    app_sources_loaded: int | None = None
    app_sources_uncached: tuple[str, ...] = ()  # those without a .pyc for this interpreter
    app_sources_uncached_bytes: int | None = None
    attribute: str | None = None  # the app object the server loads, missing from `module`


@dataclass(frozen=True)
class Uncompilable:
    path: str
    size: int
    error: str  # "SyntaxError at line 3: invalid syntax"


@dataclass(frozen=True)
class AppSources:
    """The application's sources without a .pyc, compiled (never run) by the image's Python."""

    checked: int  # sources compiled
    complete: bool  # False when the time or size budget stopped it early
    uncompilable: tuple[Uncompilable, ...] = ()


@dataclass(frozen=True)
class StaticProbe:
    status: str
    reason: str | None = None
    interpreter: str | None = None
    seconds: float | None = None
    uid: int | None = None
    gid: int | None = None
    groups: tuple[int, ...] = ()
    user_name: str | None = None
    passwd_entry: bool | None = None
    home: str | None = None
    cwd: str | None = None
    python_version: str | None = None
    sys_version: str | None = None
    executable: str | None = None
    prefix: str | None = None
    base_prefix: str | None = None
    dont_write_bytecode: bool | None = None
    optimize: int | None = None
    utf8_mode: bool | None = None
    faulthandler: bool | None = None
    stdout_write_through: bool | None = None
    filesystem_encoding: str | None = None
    preferred_encoding: str | None = None
    site_packages: tuple[str, ...] = ()
    sys_path: tuple[str, ...] = ()  # the interpreter's module search path (without the cwd)
    app_dir: str | None = None
    writable: dict[str, bool] = field(default_factory=dict)
    distributions: int | None = None
    dependency_problems: tuple[DependencyProblem, ...] = ()
    dependency_check: str | None = None
    ca_bundle: str | None = None
    timezone_data: bool | None = None
    imports: ImportCheck | None = None
    app_sources: AppSources | None = None
    errors: tuple[str, ...] = ()
    log_tail: tuple[str, ...] = ()
    tampering: tuple[str, ...] = ()  # signs that code in the image imitated or altered the report


@dataclass(frozen=True)
class Process:
    pid: int  # in the container's PID namespace (1 is PID 1) unless `pid_namespace` is "host"
    ppid: int | None
    uid: int  # real UID
    gid: int  # real GID
    euid: int | None
    egid: int | None
    state: str | None  # "R", "S", "Z" (zombie), ...
    name: str
    cmdline: tuple[str, ...]
    # What it does with the stop signal: "caught" | "ignored" | "blocked" | "default"; None: unknown
    stop_signal_handling: str | None = None


@dataclass(frozen=True)
class Socket:
    protocol: str  # "tcp" | "tcp6" | "udp" | "udp6"
    address: str
    port: int


@dataclass(frozen=True)
class Written:
    path: str
    kind: str  # "added" | "changed" | "deleted"


@dataclass(frozen=True)
class LifecycleProbe:
    status: str
    reason: str | None = None
    message: str | None = None  # Docker's error when the container could not start
    warmup_seconds: float | None = None
    settled_seconds: float | None = None  # when its start-up settled; None: the warm-up ran out
    grace_seconds: float | None = None
    processes: tuple[Process, ...] = ()
    pid_namespace: str | None = None  # "container" | "host": how `processes[].pid` counts
    pid1_kind: str | None = None  # "shell" | "init" | "app"
    pid1_cmdline: tuple[str, ...] = ()
    app_pid: int | None = None
    zombies: int = 0
    listening: tuple[Socket, ...] = ()
    sockets_known: bool = False
    written: tuple[Written, ...] = ()
    written_total: int = 0
    pyc_written: int = 0
    stop_signal: str | None = None
    stop_seconds: float | None = None
    stop_sent_seconds: float | None = None  # after the start: the warm-up and the look at it
    stopped_by: str | None = None  # "signal" | "kill" | "crash" | "limit"
    exit_code: int | None = None
    exit_signal: str | None = None  # the signal an exit status of 128+N names
    oom_killed: bool | None = None
    log_tail: tuple[str, ...] = ()
    exit_cause: ExitCause | None = None  # why it exited early, or crashed while being stopped
    written_bytes: int | None = None  # into its writable layer and volumes, last measured
    write_limit_bytes: int | None = None
    log_limit_bytes: int | None = None
    log_known: bool = False  # whether the engine's log file could be looked at (local engine)
    limits_hit: tuple[str, ...] = ()  # "write", "log"


@dataclass(frozen=True)
class RuntimeFacts:
    static: StaticProbe
    lifecycle: LifecycleProbe


def skipped(reason: str) -> RuntimeFacts:
    return RuntimeFacts(StaticProbe("skipped", reason), LifecycleProbe("skipped", reason))


def not_applicable(reason: str) -> RuntimeFacts:
    return RuntimeFacts(
        StaticProbe("not-applicable", reason), LifecycleProbe("not-applicable", reason)
    )
