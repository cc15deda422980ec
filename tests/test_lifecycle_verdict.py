"""How the lifecycle probe reads an exit (pure parts, on recorded exit statuses and logs): a crash
while being stopped is the app's own exit, not a stop; a setting the app was not given is
inconclusive, whoever says so (bash, os.environ, a settings library); what each process does with
the stop signal, from /proc's masks; and what COR004 and OPS002 make of those facts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from checks import catalog
from checks.engine import run_check
from checks.model import Context
from inspector.probes.exits import classify, exit_signal, stop_outcome
from inspector.probes.lifecycle import early_exit_reason
from inspector.probes.proc import processes_from_proc

TRACEBACK = "Traceback (most recent call last):"
# lc-crash-after-term's log as the probe recorded it: PID 1 blocked SIGTERM, then crashed.
CRASH_LOG = (
    "worker started",
    "processing batch 7",
    TRACEBACK,
    '  File "/srv/worker.py", line 27, in <module>',
    '    print(f"batch total: {total(RECORDS)}", flush=True)',
    '  File "/srv/worker.py", line 18, in total',
    '    return sum(float(record["price"]) for record in records)',
    '  File "/srv/worker.py", line 18, in <genexpr>',
    '    return sum(float(record["price"]) for record in records)',
    "ValueError: could not convert string to float: 'n/a'",
)
CRASH_LINE = "ValueError: could not convert string to float: 'n/a'"


# --- how a running app ended once the probe stopped it ---------------------------------------


def test_an_error_status_with_a_traceback_after_the_stop_signal_is_a_crash():
    """Status 1 is no signal's (128+N) and the log ends in a traceback: the app crashed by
    itself, and the cause quotes the exception line and where it was raised."""
    stopped_by, cause = stop_outcome(1, "SIGTERM", 1.2, 10.0, CRASH_LOG)
    assert stopped_by == "crash"
    assert cause is not None
    assert (cause.kind, cause.verdict, cause.exception) == ("python-exception", "broken",
                                                            "ValueError")  # fmt: skip
    assert cause.line == CRASH_LINE
    assert cause.raised_in == "/srv/worker.py:18"


@pytest.mark.parametrize(
    ("code", "seconds", "tail", "expected"),
    [
        (143, 0.2, ("bye",), "signal"),  # died of SIGTERM
        (0, 0.4, ("shutting down",), "signal"),  # handled it, exited cleanly
        (137, 10.1, ("worker started",), "kill"),  # SIGKILL after the grace period
        (1, 0.3, ("shutting down",), "signal"),  # a handler's own status, no crash in the log
        # A traceback logged long before (a handled error) is not how it ended.
        (1, 0.3, (TRACEBACK, "ValueError: bad row", *[f"request {i} ok" for i in range(15)]),
         "signal"),
        (1, 0.3, (TRACEBACK, "KeyboardInterrupt"), "signal"),  # how Python acts on SIGINT
    ],
)  # fmt: skip
def test_signal_deaths_kills_and_handled_stops_are_not_crashes(code, seconds, tail, expected):
    """Only an error status with a crash at the end of the log is the app's own exit."""
    assert stop_outcome(code, "SIGTERM", seconds, 10.0, tail) == (expected, None)


@pytest.mark.parametrize(
    ("code", "name"), [(143, "SIGTERM"), (137, "SIGKILL"), (130, "SIGINT"), (1, None), (0, None)]
)
def test_an_exit_status_of_128_plus_n_names_signal_n(code, name):
    """The exit status says which signal ended the process, or that none did."""
    assert exit_signal(code) == name


# --- a setting the app was not given ---------------------------------------------------------


@pytest.mark.parametrize(
    ("tail", "code", "subject"),
    [
        # bash under `set -u`, as lc-unbound-var logs it (status 1 from a script, 127 from -c)
        (["/entrypoint.sh: line 4: DATABASE_URL: unbound variable"], 1, "DATABASE_URL"),
        (["bash: db_url: unbound variable"], 127, "db_url"),
        # os.environ[...] from code whose source is not in the image (or `python -c`)
        ([TRACEBACK, '  File "/srv/settings.pyc", line 3, in <module>',
          '  File "<frozen os>", line 679, in __getitem__', "KeyError: 'DATABASE_URL'"], 1,
         "DATABASE_URL"),
        # python-decouple and environ-config, as their real releases word it
        ([TRACEBACK, '  File "/opt/venv/lib/python3.11/site-packages/decouple.py", line 92, in get',
          "decouple.UndefinedValueError: SECRET_KEY not found. Declare it as envvar or define a "
          "default value."], 1, "SECRET_KEY"),
        ([TRACEBACK, '  File "/opt/venv/lib/python3.11/site-packages/environ/_environ_config.py", '
          "line 338, in _to_config_recurse", "environ.exceptions.MissingEnvValueError: APP_DB_URL"],
         1, "APP_DB_URL"),
    ],
)  # fmt: skip
def test_a_missing_setting_is_inconclusive_and_named(tail, code, subject):
    """Each of these names a setting the probe did not give: needs-config, with its name."""
    cause = classify(tail, code, False)
    assert (cause.kind, cause.verdict) == ("needs-config", "inconclusive")
    assert cause.subject == subject


def test_the_reason_for_an_unset_variable_names_it_and_how_to_give_it():
    """The lifecycle reason quotes bash's line and says to give the variable, not 'unexplained'."""
    line = "/entrypoint.sh: line 4: DATABASE_URL: unbound variable"
    reason = early_exit_reason(classify([line], 1, False), 1, 3.0)
    assert line in reason
    assert "inconclusive" in reason
    assert "-e DATABASE_URL=" in reason
    assert "does not say why" not in reason


# --- what each process does with the stop signal, from /proc -----------------------------------

SIGTERM_BIT = f"{1 << 14:016x}"
NONE = "0" * 16


def _proc(root: Path, masks: dict[str, str], thread_blocks: tuple[str, ...] = ()) -> Path:
    """A /proc with one container PID 1 (host pid 4242) and its threads' masks."""
    pid = root / "4242"
    (pid / "task" / "4242").mkdir(parents=True)
    status = "".join(
        f"{key}:\t{value}\n"
        for key, value in {
            "Name": "python3",
            "State": "S (sleeping)",
            "PPid": "7",
            "Uid": "10001\t10001\t10001\t10001",
            "Gid": "10001\t10001\t10001\t10001",
            "NSpid": "4242\t1",
            **masks,
        }.items()
    )
    (pid / "status").write_text(status)
    (pid / "task" / "4242" / "status").write_text(status)
    (pid / "task" / "4242" / "children").write_text("")
    for i, blocked in enumerate(thread_blocks, start=1):
        (pid / "task" / f"{4242 + i}").mkdir()
        (pid / "task" / f"{4242 + i}" / "status").write_text(f"SigBlk:\t{blocked}\n")
    (pid / "cgroup").write_text("0::/system.slice/docker-abc123.scope\n")
    (pid / "cmdline").write_bytes(b"python3\0/srv/worker.py\0")
    return root


@pytest.mark.parametrize(
    ("masks", "threads", "handling"),
    [
        ({"SigBlk": NONE, "SigIgn": NONE, "SigCgt": NONE}, (), "default"),
        ({"SigBlk": NONE, "SigIgn": NONE, "SigCgt": SIGTERM_BIT}, (), "caught"),
        ({"SigBlk": NONE, "SigIgn": SIGTERM_BIT, "SigCgt": NONE}, (), "ignored"),
        ({"SigBlk": SIGTERM_BIT, "SigIgn": NONE, "SigCgt": NONE}, (SIGTERM_BIT,), "blocked"),
        # one thread leaves it unblocked: the signal goes there, and its handler runs
        ({"SigBlk": SIGTERM_BIT, "SigIgn": NONE, "SigCgt": SIGTERM_BIT}, (NONE,), "caught"),
    ],
)
def test_what_a_process_does_with_the_stop_signal_is_read_from_its_masks(
    tmp_path, masks, threads, handling
):
    """SigIgn, SigBlk (every thread) and SigCgt of /proc/PID/status, for signal 15."""
    root = _proc(tmp_path, masks, threads)
    (process,) = processes_from_proc(str(root), 4242, "abc123", 15) or []
    assert process.stop_signal_handling == handling


# --- what the checks make of those facts -------------------------------------------------------

CHECKS = catalog()
CONTEXT = Context(now=datetime(2026, 11, 23, tzinfo=UTC))


def _facts(handling: str | None, stop_seconds: float = 1.2, **cause: Any) -> dict[str, Any]:
    """Facts of an app PID 1 that crashed 1.2 s after SIGTERM (lc-crash-after-term's shape)."""
    exit_cause = {"kind": "python-exception", "verdict": "broken", "line": CRASH_LINE,
                  "subject": CRASH_LINE, "exception": "ValueError",
                  "raised_in": "/srv/worker.py:18", **cause}  # fmt: skip
    argv = ["python3", "/srv/worker.py"]
    return {
        "config": {"cmd": argv},
        "python": {
            "entrypoint_interpreter": {
                "argv": argv,
                "form": "exec",
                "command": "python3",
                "interpreter": "/usr/bin/python3",
                "chain": [],
                "note": None,
            }
        },
        "runtime": {
            "static": {"status": "ran", "imports": {"verdict": "passed"}},
            "lifecycle": {
                "status": "ran",
                "warmup_seconds": 3.0,
                "grace_seconds": 10.0,
                "pid_namespace": "container",
                "pid1_kind": "app",
                "app_pid": 1,
                "processes": [
                    {
                        "pid": 1,
                        "ppid": 0,
                        "name": "python3",
                        "cmdline": argv,
                        "stop_signal_handling": handling,
                    }
                ],
                "stop_signal": "SIGTERM",
                "stop_sent_seconds": 3.0,
                "stop_seconds": stop_seconds,
                "stopped_by": "crash",
                "exit_code": 1,
                "exit_signal": None,
                "log_tail": list(CRASH_LOG),
                "exit_cause": exit_cause,
            },
        },
    }


def test_cor004_reports_a_crash_while_stopping_with_the_exception_and_where():
    """The crash is a high COR004 finding quoting the exception line, its file and a fix."""
    result = run_check(CHECKS["COR004"], _facts("blocked"), CONTEXT)
    (finding,) = result.findings
    assert finding.severity == "high"
    assert "crashed by itself with status 1" in finding.message
    assert CRASH_LINE in finding.message
    assert "/srv/worker.py:18" in finding.message
    assert finding.location.path == "/srv/worker.py"
    assert "ValueError" in (finding.fix or "")


def test_cor004_stays_silent_when_the_crash_is_a_missing_setting():
    """A crash that says a setting is missing is inconclusive: no COR004 finding."""
    facts = _facts("default", kind="needs-config", verdict="inconclusive", subject="DATABASE_URL")
    assert run_check(CHECKS["COR004"], facts, CONTEXT).status == "passed"


@pytest.mark.parametrize(
    ("handling", "said"),
    [
        ("blocked", "PID 1 (`python3 /srv/worker.py`) blocks it"),
        ("ignored", "PID 1 (`python3 /srv/worker.py`) ignores it"),
        ("default", "has no handler for it, and the kernel never delivers"),
    ],
)
def test_ops002_still_reports_the_ignored_sigterm_of_an_app_that_crashed(handling, said):
    """However soon it crashed, the masks show SIGTERM could not stop it: a high OPS002."""
    (finding,) = run_check(CHECKS["OPS002"], _facts(handling), CONTEXT).findings
    assert finding.severity == "high"
    assert "ignored SIGTERM" in finding.message
    assert said in finding.message
    assert "COR004" in finding.message


def test_ops002_judges_a_crash_without_masks_by_how_long_it_ran_on():
    """Masks unknown (a remote engine): a crash 7 s after SIGTERM is a medium non-stop; one after
    1.2 s says nothing about the signal."""
    (finding,) = run_check(CHECKS["OPS002"], _facts(None, stop_seconds=7.0), CONTEXT).findings
    assert finding.severity == "medium"
    assert "crashed by itself" in finding.message
    assert run_check(CHECKS["OPS002"], _facts(None), CONTEXT).status == "passed"


def test_ops002_does_not_call_a_crash_a_slow_stop_when_the_app_handled_the_signal():
    """A handler caught SIGTERM and the app crashed 1.2 s later while shutting down: no OPS002."""
    assert run_check(CHECKS["OPS002"], _facts("caught"), CONTEXT).status == "passed"


def test_ops002_says_why_a_killed_app_ignored_the_signal_and_how_to_fix_that():
    """sigterm-ignorer's facts: PID 1 has no handler, which the finding says, with the fix."""
    facts = _facts("default", stop_seconds=10.2)
    facts["runtime"]["lifecycle"].update(stopped_by="kill", exit_code=137, exit_cause=None)
    (finding,) = run_check(CHECKS["OPS002"], facts, CONTEXT).findings
    assert finding.severity == "high"
    assert "PID 1 (`python3 /srv/worker.py`) has no handler for it" in finding.message
    assert "was killed after the 10.0 s grace period" in finding.message
    assert "tini" in (finding.fix or "")


def test_cor002_believes_a_log_asking_for_a_setting_over_a_guess_at_a_shell_line():
    """`bash -c` exits 127 on a variable unset under `set -u`: the command ran, so COR002's
    guess that `$APP_BIN` cannot be found is not reported; the missing setting is the cause."""
    argv = ["bash", "-c", 'set -u; exec "$APP_BIN"']
    line = "bash: line 1: APP_BIN: unbound variable"
    facts = {
        "config": {"cmd": argv},
        "python": {"entrypoint_interpreter": {"argv": argv, "form": "exec", "command": "$APP_BIN",
                                              "chain": ["shell"],
                                              "note": "`$APP_BIN` is not found on PATH"}},
        "runtime": {"lifecycle": {"status": "exited-early", "exit_code": 127, "log_tail": [line],
                                  "exit_cause": classify([line], 127, False).__dict__}},
    }  # fmt: skip
    assert facts["runtime"]["lifecycle"]["exit_cause"]["kind"] == "needs-config"
    assert run_check(CHECKS["COR002"], facts, CONTEXT).status == "passed"
