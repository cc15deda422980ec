"""Commands behind wrappers and the code they run, without an engine: where the code lives
(python.code_locations), who may rewrite it (SEC010), the app object an app server loads
(COR004) and gunicorn's words for it in a log (the lifecycle's exit cause)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from checks import catalog
from checks.engine import run_check
from checks.model import Context, Finding
from inspector.analysers import python
from inspector.probes.exits import classify
from tests.test_analysers_python import BASH, DEBIAN, ENTRY, START, VENV, image

CHECKS = catalog()
EXAMPLES = Path(__file__).parent / "check_examples"
NOW = Context(now=datetime(2026, 12, 7, tzinfo=UTC))


def findings(check_id: str, facts: dict[str, Any]) -> list[Finding]:
    result = run_check(CHECKS[check_id], facts, NOW)
    assert result.status in ("passed", "failed"), result.reason
    return list(result.findings)


def example(check_id: str, kind: str, comment: str) -> dict[str, Any]:
    found = json.loads((EXAMPLES / f"{check_id}.json").read_text())[kind]
    return copy.deepcopy(next(e for e in found if (e.get("_comment") or "").startswith(comment)))


# --- python.code_locations -----------------------------------------------------------------


def test_code_locations_of_a_chowned_app_with_start_scripts():
    """WORKDIR /app with sources, gunicorn's --chdir=/app (the same place, once) and the two
    start scripts, each with the owner and mode its layer gives it."""
    app = (("app/", None, {"uid": 101, "gid": 101, "mode": 0o755}),
           ("app/config/", None, {"uid": 101, "gid": 101}),
           ("app/config/wsgi.py", b"application = None\n", {"uid": 101, "gid": 101}),
           ("app/manage.py", b"import os\n", {"uid": 101, "gid": 101}),
           ("entrypoint", ENTRY, {"mode": 0o755, "uid": 101, "gid": 101}),
           ("start", START, {"mode": 0o755, "uid": 101, "gid": 101}))  # fmt: skip
    config = {"Entrypoint": ["/entrypoint"], "Cmd": ["/start"], "WorkingDir": "/app"}
    facts = python.analyse(image(DEBIAN, VENV, BASH, app, config=config))
    places = {p.path: p for p in facts.code_locations}
    assert list(places) == ["/app", "/entrypoint", "/start"]
    workdir = places["/app"]
    assert (workdir.role, workdir.why, workdir.sources, workdir.example) == (
        "workdir", "WORKDIR", 2, "/app/config/wsgi.py")  # fmt: skip
    assert (workdir.owner.uid, workdir.owner.mode, workdir.sources_owner.uid) == (101, 0o755, 101)
    assert places["/start"].role == "start-script"
    assert (places["/start"].kind, places["/start"].owner.uid) == ("file", 101)


def test_a_workdir_without_python_sources_is_not_code():
    """A data WORKDIR (no .py below it, only a venv's site-packages) is no code location."""
    data = (("data/", None, {"uid": 10001, "gid": 10001}),
            ("data/.venv/lib/python3.11/site-packages/x.py", b"x\n"),
            ("data/report.csv", b"a,b\n"))  # fmt: skip
    config = {"Cmd": ["python3", "-m", "svc"], "WorkingDir": "/data"}
    assert python.analyse(image(DEBIAN, data, config=config)).code_locations == ()


# --- SEC010 --------------------------------------------------------------------------------


def test_a_home_workdir_the_user_owns_is_writable_code_though_the_probe_knew_no_app_dir():
    """Kedro-like: the probe measured the home writable but its app_dir was the console
    script's bin dir; the WORKDIR with sources, owned by UID 999, is one finding with its layer."""
    facts = example("SEC010", "bad", "COPY --chown into the user's home")
    (found,) = findings("SEC010", facts)
    assert "UID 999" in found.message
    assert "/home/kedro_docker (WORKDIR, 7 Python sources)" in (found.message)
    assert (found.location.path, found.location.layer) == ("/home/kedro_docker", 5)
    assert "/home/kedro_docker" in (found.fix or "")


def test_sources_owned_by_the_user_in_a_root_owned_dir_and_start_scripts_are_found():
    """`chown -R django /app` leaves the WORKDIR itself root's: the sources are still the app's
    to rewrite; the start scripts it runs are one more finding."""
    facts = example("SEC010", "bad", "chown -R of the app dir")
    messages = [f.message for f in findings("SEC010", facts)]
    assert len(messages) == 2, messages
    assert "can rewrite the code in /app (WORKDIR, 30 Python sources)" in messages[0]
    assert "owned by 101:101 with mode 644" in messages[0]
    assert "can rewrite the start script /start the command runs" in messages[1]


def test_a_path_the_probe_measured_is_not_reported_again_from_the_layers():
    """The probe's app_dir /app, writable, and the WORKDIR /app: one cause, one finding."""
    facts = example("SEC010", "bad", "chown -R of the app dir")
    facts["runtime"]["static"].update(app_dir="/app", writable={"/app": True})
    facts["python"]["code_locations"] = facts["python"]["code_locations"][:1]
    (found,) = findings("SEC010", facts)
    assert found.location.runtime == "static probe"


def test_code_locations_are_judged_without_the_probe_too():
    """--no-probe: the config's user against the layers' owners gives the same finding."""
    facts = example("SEC010", "bad", "COPY --chown into the user's home")
    del facts["runtime"]
    (found,) = findings("SEC010", facts)
    assert "from the config User" in found.message


# --- COR004 and the lifecycle's log --------------------------------------------------------

GUNICORN_LOG = [
    "[2026-12-07 16:00:00 +0000] [1] [INFO] Starting gunicorn 23.0.0",
    "[2026-12-07 16:00:00 +0000] [7] [INFO] Booting worker with pid: 7",
    "[2026-12-07 16:00:00 +0000] [7] [ERROR] Failed to find attribute 'app' in 'app'.",
    "[2026-12-07 16:00:00 +0000] [7] [INFO] Worker exiting (pid: 7)",
    "[2026-12-07 16:00:01 +0000] [1] [ERROR] Worker (pid:7) exited with code 4",
    "[2026-12-07 16:00:01 +0000] [1] [ERROR] Shutting down: Master",
    "[2026-12-07 16:00:01 +0000] [1] [ERROR] Reason: App failed to load.",
]


def test_gunicorns_missing_attribute_line_is_a_broken_exit_that_names_it():
    """gunicorn's `Failed to find attribute` is read as the cause, not an unexplained exit."""
    cause = classify(GUNICORN_LOG, 4, False)
    assert (cause.kind, cause.verdict, cause.subject) == ("missing-attribute", "broken",
                                                          "`app` in `app`")  # fmt: skip
    assert "Failed to find attribute 'app' in 'app'" in (cause.line or "")
    uvicorn = ['ERROR:    Error loading ASGI app. Attribute "app" not found in module "main".']
    assert classify(uvicorn, 1, False).subject == "`app` in `main`"


def test_a_missing_app_object_is_one_high_finding_that_names_it():
    """The import test's missing attribute and the lifecycle's exit are one COR004 finding."""
    facts = example("COR004", "bad", "gunicorn app:app whose module defines no app")
    (found,) = findings("COR004", facts)
    assert found.severity == "high"
    assert "`gunicorn app:app` cannot load its application: the module `app` (/srv/app.py)" in (
        found.message)  # fmt: skip
    assert "defines no `app`" in found.message
    assert "exit with status 4" in found.message
    assert "`MODULE:NAME`" in (found.fix or "")


def test_an_exit_the_import_test_explains_is_not_also_unexplained():
    """A lifecycle exit read as unexplained adds no medium finding beside the import test's."""
    facts = example("COR004", "bad", "gunicorn app:app whose module defines no app")
    facts["runtime"]["lifecycle"]["exit_cause"] = {
        "kind": "unexplained",
        "verdict": "unexplained",
        "line": "x",
    }
    assert len(findings("COR004", facts)) == 1


def test_a_missing_program_inside_a_start_script_is_cor004s_with_the_shells_words():
    """`exec gunicorn` in /entrypoint.sh with no gunicorn: the static reading is a best guess,
    the shell's exit 127 is the evidence: one COR004 finding, no COR002 beside it."""
    entry = {"argv": ["/entrypoint.sh"], "form": "exec", "command": "/entrypoint.sh",
             "chain": ["script"], "scripts": ["/entrypoint.sh"], "interpreter": None,
             "note": "`gunicorn` is not found on PATH"}  # fmt: skip
    line = "/entrypoint.sh: 3: exec: gunicorn: not found"
    facts = {
        "config": {"entrypoint": ["/entrypoint.sh"]},
        "python": {"entrypoint_interpreter": entry, "interpreters": [{"path": "/usr/bin/python3"}]},
        "runtime": {"static": {"status": "ran"}, "lifecycle": {
            "status": "exited-early", "exit_code": 127, "log_tail": [line],
            "exit_cause": {"kind": "missing-executable", "verdict": "broken", "line": line,
                           "subject": "gunicorn"}}},
    }  # fmt: skip
    assert not findings("COR002", facts)
    (found,) = findings("COR004", facts)
    assert "gunicorn: not found" in found.message
    del facts["runtime"]
    (guess,) = findings("COR002", facts)
    assert guess.severity == "medium"


def test_a_writable_home_that_holds_the_venv_is_one_finding():
    """Microblog-like: the probe measured the venv's bin and site-packages writable, and the
    WORKDIR home above them is the user's: one finding for the home, naming what lies below."""
    facts = example("SEC010", "bad", "COPY --chown into the user's home")
    site = "/home/kedro_docker/venv/lib/python3.12/site-packages"
    facts["runtime"]["static"].update(
        app_dir="/home/kedro_docker/venv/bin", site_packages=[site],
        writable={"/home/kedro_docker/venv/bin": True, site: True, "/home/kedro_docker": True},
    )  # fmt: skip
    (found,) = findings("SEC010", facts)
    assert found.location.path == "/home/kedro_docker"
    assert f"below it, also writable: /home/kedro_docker/venv/bin, {site}" in found.message
