"""The probes' pure parts: planning, parsing, pip-check logic, PID 1 kinds, the in-image script."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from inspector.probes import containers, static
from inspector.probes.lifecycle import app_pid, kind, program
from inspector.probes.model import Process
from inspector.probes.plan import ProbePlan, TmpDir, app_target
from inspector.probes.proc import parse_address

PLAN = ProbePlan("sha256:" + "0" * 64, "amd64", "/usr/bin/python3", None, "app", None,
                 TmpDir(0o1777, 0, 0))  # fmt: skip


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-m", "app"], ("app", None)),
        (["-u", "-W", "error", "-m", "pkg.main"], ("pkg.main", None)),
        (["-mapp"], ("app", None)),
        (["-X", "dev", "/srv/main.py", "--port", "8000"], (None, "/srv/main.py")),
        (["-c", "print(1)"], (None, None)),
        ([], (None, None)),
    ],
)
def test_app_target_reads_module_or_script_like_python_does(args, expected):
    """`python ARGS` runs a module with -m, else the first non-option argument as a script."""
    assert app_target(args) == expected


def test_proc_net_addresses_decode_to_ip_and_port():
    """/proc/net/tcp{,6} hex addresses decode to the address and port they stand for."""
    assert parse_address("0100007F:1F40") == ("127.0.0.1", 8000)
    assert parse_address("00000000:0050") == ("0.0.0.0", 80)
    assert parse_address("00000000000000000000000000000000:1F90") == ("::", 8080)
    assert parse_address("00000000000000000000000001000000:0016") == ("::1", 22)


def dist(name: str, version: str, *requires: str) -> dict[str, object]:
    return {"name": name, "version": version, "requires": list(requires), "location": "/x"}


def test_dependency_problems_follow_pip_check_rules():
    """Missing and conflicting requirements are found; extras and false markers are ignored."""
    env = {"python_version": "3.11", "sys_platform": "linux", "platform_system": "Linux"}
    dists = [
        dist("Requests", "2.32.3", "urllib3<3,>=1.21.1", "idna<4,>=2.5",
             "PySocks!=1.5.7,>=1.5.6; extra == \"socks\"", "chardet; python_version < \"3\""),
        dist("urllib3", "3.0.1"),
        dist("My_Lib", "1.0", "Typing-Extensions>=4; sys_platform == \"linux\""),
    ]  # fmt: skip
    problems = static.dependency_problems(dists, env)
    assert [(p.distribution, p.kind, p.installed) for p in problems] == [
        ("Requests", "conflict", "3.0.1"),
        ("Requests", "missing", None),
        ("My_Lib", "missing", None),
    ]
    assert [p.message for p in problems] == [
        "requests 2.32.3 has requirement urllib3<3,>=1.21.1, but you have urllib3 3.0.1.",
        "requests 2.32.3 requires idna, which is not installed.",
        "my-lib 1.0 requires typing-extensions, which is not installed.",
    ]


def test_prereleases_satisfy_a_specifier_as_pip_check_allows():
    """An installed pre-release inside the range is not reported (pip check accepts it)."""
    dists = [dist("a", "1.0", "b>=2"), dist("b", "2.1rc1")]
    assert static.dependency_problems(dists, {}) == ()


def proc(pid: int, ppid: int, *argv: str, state: str = "S") -> Process:
    return Process(pid, ppid, 0, 0, 0, 0, state, os.path.basename(argv[0]), argv)


def test_pid1_kinds_and_the_app_process_under_shells_and_inits():
    """A shell or init as PID 1 is seen through to the first live app process below it."""
    assert kind(proc(1, 0, "/bin/sh", "-c", "python app.py")) == "shell"
    assert kind(proc(1, 0, "/usr/bin/tini", "--", "python")) == "init"
    assert kind(proc(1, 0, "/usr/bin/python3", "/usr/bin/supervisord")) == "init"
    assert program(proc(1, 0, "/bin/busybox", "sh")) == "sh"
    assert kind(proc(1, 0, "gunicorn", "app:wsgi")) == "app"
    tree = (
        proc(1, 0, "/usr/bin/tini", "--", "sh", "start.sh"),
        proc(6, 1, "sh", "start.sh"),
        proc(7, 6, "python", state="Z"),
        proc(9, 6, "python", "-m", "app"),
    )
    assert app_pid(tree) == 9
    assert app_pid((proc(1, 0, "sh", "-c", "sleep 1"),)) is None


def test_static_probe_output_without_its_json_line_is_a_failure_with_the_log():
    """A crash before the report gives status failed and the interpreter's last lines."""
    found = static.parse("", "Traceback ...\nImportError: boom\n", 1, PLAN, 0.5)
    assert found.status == "failed"
    assert "exited with 1" in found.reason
    assert found.log_tail[-1] == "ImportError: boom"


def test_probe_owner_label_is_alive_only_for_this_very_process():
    """The owner label names this process; another PID or start time is a finished run."""
    mine = containers.owner()
    assert containers.owner_alive(mine)
    host, pid, started = mine.split(":")
    assert not containers.owner_alive(f"{host}:{pid}:{int(started) + 1}")
    assert not containers.owner_alive(f"other-host:{pid}:{started}")


def test_probes_refuse_to_create_containers_by_tag():
    """Creating a probe from a tag (which the SDK would pull) is refused before any API call."""
    with pytest.raises(ValueError, match="by ID"):
        containers.create(None, "python:3.12", "static")  # type: ignore[arg-type]


def test_in_image_script_runs_on_a_real_interpreter_and_reports_json(tmp_path):
    """The script itself, run by this Python from an app dir, reports without importing the app."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "__init__.py").write_text("raise SystemExit('the app must not be imported')\n")
    (tmp_path / "json.py").write_text("raise SystemExit('a shadowing json module ran')\n")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PYTHONFAULTHANDLER": "1"}
    out = subprocess.run(
        [sys.executable, "-c", static.script(PLAN)],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    line = next(x for x in out.stdout.splitlines() if x.startswith(static.MARKER))
    doc = json.loads(line[len(static.MARKER) :])
    assert doc["errors"] == []
    assert doc["uid"] == os.getuid()
    assert doc["faulthandler"] is True
    assert doc["app_dir"] == str(app)
    assert doc["writable"][str(app)] is True
    assert doc["home"] == str(tmp_path)
    assert doc["marker_environment"]["python_version"] == "{}.{}".format(*sys.version_info)
    assert any(d["name"].lower() == "packaging" for d in doc["distributions"])


def test_an_exit_is_unexplained_only_once_the_log_has_caught_up(monkeypatch):
    """The engine may copy an exited app's last lines to its log a moment after the exit is
    seen: the tail is read again, briefly, before the exit is called unexplained."""
    from inspector.probes import lifecycle

    monkeypatch.setattr(lifecycle.time, "sleep", lambda seconds: None)
    late = b"[ERROR] Worker failed\nFailed to find attribute 'app' in 'app'.\n"
    logs = iter([b"[INFO] Booting worker\n", late, late])

    class Exited:
        def logs(self, tail: int) -> bytes:
            return next(logs)

    tail, cause = lifecycle._exit_told(Exited(), {"ExitCode": 4, "OOMKilled": False})
    assert cause.kind == "missing-attribute"
    assert tail[-1] == "Failed to find attribute 'app' in 'app'."


def test_gunicorns_own_halt_is_not_the_cause_of_its_exit():
    """When gunicorn's halt races a worker's exit it ends on a HaltServer traceback: the cause is
    the worker's line before it (a missing app object), not "a Python exception"."""
    from inspector.probes.exits import classify

    tail = [
        "[2026-12-08 01:04:54 +0000] [7] [ERROR] Failed to find attribute 'app' in 'app'.",
        "[2026-12-08 01:04:54 +0000] [7] [INFO] Worker exiting (pid: 7)",
        "Traceback (most recent call last):",
        '  File "/opt/venv/lib/python3.11/site-packages/gunicorn/arbiter.py", line 532, in '
        "reap_workers",
        "    raise HaltServer(reason, self.APP_LOAD_ERROR)",
        "gunicorn.errors.HaltServer: <HaltServer 'App failed to load.' 4>",
    ]
    cause = classify(tail, 1, False)
    assert (cause.kind, cause.verdict) == ("missing-attribute", "broken")
    assert cause.subject == "`app` in `app`"
