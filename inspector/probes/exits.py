"""Why an app stopped during the lifecycle probe's warm-up, read from its exit status and log tail.

Pure: the lifecycle probe hands over what the engine reported; checks later judge the cause. A
cause is "broken" when the log shows the image itself cannot run (a Python traceback, a module or
shared library that is missing, a binary for another CPU, a command that is not there or not
executable), "inconclusive" when it shows the app waiting for something a real deployment gives
it (configuration, arguments, a database or another service, more memory than the probe allows),
"finished" when it exited with status 0, and "unexplained" for any other non-zero exit.

`stop_outcome` reads the same evidence for an app that was still running when the probe sent its
stop signal: an exit status of 128+N is death by signal N, 0 a clean stop, and any other status
with a crash at the end of its log is the app's own exit (it crashed while the probe waited),
not a stop.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Sequence
from dataclasses import dataclass

# kind -> verdict
KINDS = {
    "missing-module": "broken",
    "import-error": "broken",
    "missing-library": "broken",
    "syntax-error": "broken",
    "python-exception": "broken",
    "wrong-architecture": "broken",
    "missing-executable": "broken",
    "permission-denied": "broken",
    "missing-attribute": "broken",
    "needs-config": "inconclusive",
    "needs-service": "inconclusive",
    "out-of-memory": "inconclusive",
    "finished": "finished",
    "unexplained": "unexplained",
}
VERDICTS = ("broken", "inconclusive", "finished", "unexplained")
# Lines longer than this are judged on their start only: a log line is untrusted input.
LINE_LIMIT = 2000


@dataclass(frozen=True)
class ExitCause:
    kind: str  # a key of KINDS
    verdict: str  # KINDS[kind]
    line: str | None  # the decisive log line, as logged (shortened)
    subject: str | None  # the module, library, path, variable or service the line names
    exception: str | None = None  # the Python exception type, when a traceback ended the app
    found_elsewhere: tuple[str, ...] = ()  # site dirs in the image that do have the module
    raised_in: str | None = None  # file:line of the traceback's innermost frame


_TRACEBACK = "Traceback (most recent call last):"
_EXCEPTION_LINE = re.compile(r"([A-Za-z_][\w.]{0,200}): ?(.*)")
_EXCEPTION_NAME = re.compile(r"[A-Za-z_][\w.]{0,200}(?:Error|Exception|Exit|Interrupt|Warning)")
_NO_MODULE = re.compile(r"No module named '?([\w.]{1,200})'?")
_CANNOT_IMPORT = re.compile(r"cannot import name '?([\w.]{1,200})'? from '?([\w.]{1,200})'?")
_SHARED_OBJECT = re.compile(r"([^\s:'\"]{1,300}\.so[\w.]{0,40}): cannot open shared object file")
_LOADING = re.compile(r"error while loading shared libraries: ([^\s:]{1,300})")
_NO_SHARED = ": cannot open shared object file"


def _shared_object(text: str) -> re.Match[str] | None:
    """_SHARED_OBJECT, tried only just before its fixed phrase: at every position of a long
    line it would scan 300 characters back and forth (0.2 s a line of 2000 characters)."""
    at = text.find(_NO_SHARED)
    if at < 0:
        return None
    return _SHARED_OBJECT.search(text, max(0, at - 350), at + len(_NO_SHARED))


# An app server that imported the module but found no app object in it: gunicorn's words, then
# uvicorn's (`Attribute "app" not found in module "main".`).
_NO_APP_OBJECT = re.compile(
    r"Failed to find attribute '([\w.]{1,200})' in '([\w.]{1,200})'|"
    r"Attribute \"([\w.]{1,200})\" not found in module \"([\w.]{1,200})\""
)
_FILE_LINE = re.compile(r'File "([^"]{1,500})", line (\d{1,9})')
_EXEC_NOT_FOUND = re.compile(r'exec: "?([^":\s]{1,300})"?: (?:executable file not found|not found)')
_NOT_FOUND = re.compile(r"(?:^|: )([^\s:]{1,300}): (?:command )?not found\s*$")
_CANT_OPEN = re.compile(r"can't open file '([^']{1,500})': \[Errno 2\]")
_NO_SUCH = re.compile(r"([/\w.-]{1,300}): no such file or directory", re.IGNORECASE)
_PERMISSION = re.compile(r"([/\w.-]{1,300}): permission denied", re.IGNORECASE)
_ENV_NAME = re.compile(r"\b([A-Z][A-Z0-9_]{2,100})\b")
_CONFIG = re.compile(
    r"\bis not set\b|\bnot set\b|\bmust be set\b|\bis required\b|\bare required\b|"
    r"\bmissing required\b|\benvironment variable\b|\bimproperlyconfigured\b|"
    r"\bvalidation errors? for \w*settings\b|\bfield required\b|\bno config(?:uration)?\b|"
    r"\bconfig(?:uration)? file\b.*\b(?:not found|missing|does not exist)\b|"
    r"^usage:|\berror: missing (?:option|argument)\b|\bthe following arguments are required\b|"
    r"\bunbound variable\b",
    re.IGNORECASE,
)
# The shells' own words for a variable `set -u` (or `${VAR:?}`) found unset: bash says "unbound
# variable", dash, ash and zsh "parameter not set" (or "parameter null or not set").
_UNSET_VARIABLE = re.compile(
    r"([A-Za-z_]\w{0,100}): (?:unbound variable|parameter (?:null or )?not set)\b"
)
# os.environ's __getitem__ as a traceback shows it when no source line is printed (`<frozen os>`
# on 3.11+, os.py before): a KeyError raised there is a missing environment variable.
_ENVIRON_FRAME = re.compile(r'File "(?:<frozen os>|[^"]*/os\.py)", line \d+, in __getitem__')
_SERVICE = re.compile(
    r"connection refused|could not connect|couldn't connect|can't connect|cannot connect|"
    r"failed to connect|unable to connect|name or service not known|"
    r"temporary failure in name resolution|nodename nor servname|getaddrinfo failed|"
    r"network is unreachable|no route to host|connection timed out|timed out connecting|"
    r"operationalerror|connectionerror|connectionrefusederror|gaierror|serverselectiontimeout",
    re.IGNORECASE,
)
# Exception types that name a missing or invalid setting: Django's (django-environ raises it too),
# pydantic's, environs', python-decouple's and environ-config's.
_CONFIG_EXCEPTIONS = (
    "ImproperlyConfigured",
    "ValidationError",
    "SettingsError",
    "ConfigError",
    "EnvError",
    "EnvNotSetError",
    "UndefinedValueError",
    "MissingEnvValueError",
)
_SERVICE_EXCEPTIONS = (
    "ConnectionRefusedError",
    "ConnectionError",
    "OperationalError",
    "gaierror",
    "TimeoutError",
    "ServerSelectionTimeoutError",
)


def classify(log_tail: Sequence[str], exit_code: int | None, oom_killed: bool | None) -> ExitCause:
    """The cause of an exit during the warm-up, from what the engine and the log say."""
    lines = [line[:LINE_LIMIT].rstrip() for line in log_tail]
    if oom_killed:
        return _cause("out-of-memory", None, "memory")
    if exit_code == 0:
        return _cause("finished", _last(lines), None)
    return _from_traceback(lines) or _from_lines(lines, exit_code) or _unexplained(lines)


def _cause(kind: str, line: str | None, subject: str | None, exception: str | None = None,
           raised_in: str | None = None) -> ExitCause:  # fmt: skip
    return ExitCause(kind, KINDS[kind], clip(line), clip(subject, 200), exception,
                     raised_in=clip(raised_in))  # fmt: skip


def tail_lines(text: str, count: int) -> tuple[str, ...]:
    """The last `count` lines of a log, each cut to LINE_LIMIT characters (a settings dump on one
    line must not make a report of megabytes)."""
    lines = text.splitlines()[-count:]
    return tuple(line if len(line) <= LINE_LIMIT else line[:LINE_LIMIT] + "…" for line in lines)


def clip(value: object, width: int = 300) -> str | None:
    """Image text as facts keep it: stripped and cut to `width` characters; None stays None."""
    if value is None:
        return None
    text = str(value).strip()
    return text if len(text) <= width else text[: width - 1] + "…"


def _last(lines: Sequence[str]) -> str | None:
    return next((line for line in reversed(lines) if line.strip()), None)


def _exception_line(lines: Sequence[str]) -> tuple[int, str, str] | None:
    """(index, type, message) of the exception that ended the last traceback in the tail."""
    start = max((i for i, line in enumerate(lines) if line.strip() == _TRACEBACK), default=None)
    if start is not None:
        for i in range(start + 1, len(lines)):
            line = lines[i]
            if line and not line[0].isspace() and (match := _EXCEPTION_LINE.match(line)):
                return i, match.group(1), match.group(2)
    # The header may have scrolled out of the tail: the last unindented `SomethingError: ...`.
    for i in range(len(lines) - 1, -1, -1):
        match = _EXCEPTION_LINE.match(lines[i])
        if match and _EXCEPTION_NAME.fullmatch(match.group(1)):
            return i, match.group(1), match.group(2)
    return None


_SUPERVISOR_HALTS = frozenset({"HaltServer"})


def _from_traceback(lines: Sequence[str]) -> ExitCause | None:
    found = _exception_line(lines)
    if found is None:
        return None
    index, qualified, message = found
    name = qualified.rsplit(".", 1)[-1]
    if name in _SUPERVISOR_HALTS:
        # The server's own halt after a worker failed (gunicorn raises it from its reaper when
        # the halt races a worker's exit): never the cause, which a worker printed before it.
        return None
    line = lines[index]
    text = "\n".join(lines[index:])
    frames = [m for ln in lines[:index] if (m := _FILE_LINE.search(ln))]
    where = f"{frames[-1].group(1)}:{frames[-1].group(2)}" if frames else None

    def cause(kind: str, subject: str | None) -> ExitCause:
        return _cause(kind, line, subject, name, where)

    if name == "ModuleNotFoundError" or (name == "ImportError" and _NO_MODULE.search(message)):
        module = _NO_MODULE.search(message)
        return cause("missing-module", module.group(1) if module else message)
    if name == "ImportError" or name == "OSError":
        library = _shared_object(message)
        if library:
            return cause("missing-library", library.group(1))
    if name == "ImportError":
        cannot = _CANNOT_IMPORT.search(message)
        subject = f"{cannot.group(1)} from {cannot.group(2)}" if cannot else message
        return cause("import-error", subject)
    if name in ("SyntaxError", "IndentationError", "TabError"):
        return cause("syntax-error", where)
    before = "\n".join(lines[:index])
    if name in _SERVICE_EXCEPTIONS:
        return cause("needs-service", _service(text))
    if name in _CONFIG_EXCEPTIONS or _CONFIG.search(text):
        return cause("needs-config", _variable(text))
    if name == "KeyError" and ("environ" in before or _ENVIRON_FRAME.search(before)):
        return cause("needs-config", message.strip("'\" ") or None)
    if _SERVICE.search(text):
        return cause("needs-service", _service(text))
    if name == "MemoryError":
        return cause("out-of-memory", "memory")
    return cause("python-exception", f"{name}: {message}".strip(": "))


def _from_lines(lines: Sequence[str], exit_code: int | None) -> ExitCause | None:
    """Messages the loader, the shell or Python print when there is no traceback."""
    for line in reversed(lines):
        if match := _LOADING.search(line) or _shared_object(line):
            return _cause("missing-library", line, match.group(1))
        if match := _NO_APP_OBJECT.search(line):
            name, module = match.group(1) or match.group(3), match.group(2) or match.group(4)
            return _cause("missing-attribute", line, f"`{name}` in `{module}`")
        if "exec format error" in line.lower():
            return _cause("wrong-architecture", line, _path(line))
        if match := _NO_MODULE.search(line):
            return _cause("missing-module", line, match.group(1))
        if match := _CANT_OPEN.search(line):
            return _cause("missing-executable", line, match.group(1))
        if match := _EXEC_NOT_FOUND.search(line):
            return _cause("missing-executable", line, match.group(1))
        if exit_code == 127 and (match := _NOT_FOUND.search(line) or _NO_SUCH.search(line)):
            return _cause("missing-executable", line, match.group(1).split(" ")[-1])
        if exit_code == 126 and (match := _PERMISSION.search(line)):
            return _cause("permission-denied", line, match.group(1))
    # A missing setting is the root cause even when the same line says it cannot connect.
    for line in reversed(lines):
        if _CONFIG.search(line):
            return _cause("needs-config", line, _variable(line))
    for line in reversed(lines):
        if _SERVICE.search(line):
            return _cause("needs-service", line, _service(line))
    return None


def _unexplained(lines: Sequence[str]) -> ExitCause:
    return _cause("unexplained", _last(lines), None)


def _variable(text: str) -> str | None:
    """The environment variable or setting a configuration complaint names, if any."""
    if unset := _UNSET_VARIABLE.search(text):
        return unset.group(1)
    names = [n for n in _ENV_NAME.findall(text) if "_" in n or len(n) > 3]
    if names:
        return names[0]
    field = re.search(r"validation errors? for \w+\s*\n\s*(\w+)", text)
    return field.group(1) if field else None


def _service(text: str) -> str | None:
    """host:port, or the kind of service, a connection complaint names."""
    hostport = re.search(r"\b([\w.-]{1,200}):(\d{2,5})\b", text)
    if hostport and not hostport.group(1).isdigit():
        return f"{hostport.group(1)}:{hostport.group(2)}"
    for kind in ("postgres", "mysql", "redis", "mongo", "rabbitmq", "amqp", "kafka", "database"):
        if kind in text.lower():
            return kind
    return None


def _path(line: str) -> str | None:
    match = re.search(r'exec:? "?([^":\s]{1,300})"?', line) or re.search(r"(/[\w./-]{1,300})", line)
    return match.group(1) if match else None


# Exit statuses of 128+N mean "killed by signal N" (the shell's and Docker's convention); real-time
# signals go up to 64.
_SIGNAL_STATUSES = range(129, 128 + 65)
# A crash ends the log: its decisive line sits among the last few lines (a pydantic error lists
# each missing field on three lines after it), not somewhere in an older logged traceback.
CRASH_TAIL = 12


def signal_number(name: str | None) -> int | None:
    """`SIGTERM`, `TERM` or `15` (how STOPSIGNAL may be written) as a number; None if unknown."""
    text = (name or "").strip().upper()
    if text.isdigit():
        return int(text)
    if not text.startswith("SIG"):
        text = f"SIG{text}"
    try:
        return int(signal.Signals[text])
    except KeyError:
        return None


def exit_signal(exit_code: int | None) -> str | None:
    """The signal an exit status of 128+N names (143: SIGTERM, 137: SIGKILL); else None."""
    if exit_code is None or exit_code not in _SIGNAL_STATUSES:
        return None
    number = exit_code - 128
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def stop_outcome(
    exit_code: int | None,
    stop_signal: str | None,
    stop_seconds: float | None,
    grace: float,
    log_tail: Sequence[str],
) -> tuple[str, ExitCause | None]:
    """How a running app ended once the probe sent its stop signal: `stopped_by` and, when it
    crashed by itself, the cause its log gives.

    "kill": SIGKILL's status (137) after about the whole grace period, the stop signal not being
    SIGKILL itself. "crash": a status that is neither 0 nor a signal's (128+N), with a crash as
    the last thing the log says: whatever the signal did, the app ended by its own error.
    "signal": everything else (it died of the signal, or handled it and exited).
    """
    killed = exit_code == 137 and signal_number(stop_signal) != signal.SIGKILL
    if killed and stop_seconds is not None and stop_seconds >= grace * 0.9:
        return "kill", None
    if not exit_code or exit_code in _SIGNAL_STATUSES:
        return "signal", None
    lines = [line[:LINE_LIMIT].rstrip() for line in log_tail]
    cause = classify(lines, exit_code, False)
    if cause.kind == "unexplained" or not _ends_log(lines, cause.line):
        return "signal", None
    if cause.exception == "KeyboardInterrupt":
        return "signal", None  # how Python acts on SIGINT (a STOPSIGNAL, or forwarded by an init)
    return "crash", cause


def _ends_log(lines: Sequence[str], decisive: str | None) -> bool:
    """The decisive line is among the log's last CRASH_TAIL non-empty lines."""
    last = [line for line in lines if line.strip()][-CRASH_TAIL:]
    return decisive is not None and any(clip(line) == decisive for line in last)
