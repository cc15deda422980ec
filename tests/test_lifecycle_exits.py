"""The lifecycle probe's exit verdict on real fixture images (the session's shared collections,
probed once the app's start-up settled): a crash after the stop signal is reported as a crash
and the ignored SIGTERM still is; an entrypoint's unset variable is a missing setting, not a
broken image."""

from __future__ import annotations

from typing import Any

import pytest

from checks import catalog
from checks.engine import run_check
from checks.model import Context
from inspector.probes import containers
from tests.conftest import FIXTURES

pytestmark = pytest.mark.docker

CHECKS = catalog()
CRASH_LINE = "ValueError: could not convert string to float: 'n/a'"
WORKER = (FIXTURES / "lc-crash-after-term" / "worker.py").read_text().splitlines()
# Where the fixture's bad record raises: the line that converts each price.
_PRICE_LINE = next(number for number, line in enumerate(WORKER, 1) if "float(record" in line)
RAISED_IN = f"/srv/worker.py:{_PRICE_LINE}"


@pytest.fixture(scope="module")
def probed(fixture_probes) -> dict[str, dict[str, Any]]:
    """The facts of both fixtures (the session's shared collections)."""
    names = ("lc-crash-after-term", "lc-unbound-var")
    fixture_probes.start(names)
    return {name: fixture_probes.facts(name) for name in names}


def test_a_crash_after_the_stop_signal_is_recorded_as_the_apps_own_exit(probed, docker_client):
    """lc-crash-after-term: status 1 (no signal's), the traceback's exception as the cause, and
    PID 1's blocked SIGTERM, all recorded as facts; no probe container is left."""
    life = probed["lc-crash-after-term"]["runtime"]["lifecycle"]
    assert life["status"] == "ran"
    assert (life["stopped_by"], life["exit_code"], life["exit_signal"]) == ("crash", 1, None)
    assert life["exit_cause"]["line"] == CRASH_LINE
    assert life["exit_cause"]["raised_in"] == RAISED_IN
    # The stop came once its start-up had settled (it blocks SIGTERM first thing), not earlier.
    assert life["settled_seconds"] is not None
    assert life["stop_sent_seconds"] >= life["settled_seconds"]
    (pid1,) = [p for p in life["processes"] if p["pid"] == 1]
    assert pid1["stop_signal_handling"] == "blocked"
    mine = f"{containers.OWNER_LABEL}={containers.owner()}"
    assert not containers.listed(docker_client, mine)


def test_the_crash_is_cor004_and_the_ignored_sigterm_is_still_ops002(probed):
    """COR004 quotes the exception line; OPS002 says SIGTERM was ignored, not a slow stop."""
    facts = probed["lc-crash-after-term"]
    (crash,) = run_check(CHECKS["COR004"], facts, Context()).findings
    assert crash.severity == "high"
    assert CRASH_LINE in crash.message
    assert RAISED_IN in crash.message
    assert "crashed by itself with status 1" in crash.message
    (stop,) = run_check(CHECKS["OPS002"], facts, Context()).findings
    assert stop.severity == "high"
    assert "ignored SIGTERM" in stop.message
    assert "blocks it" in stop.message


def test_an_unbound_variable_in_the_entrypoint_is_a_missing_setting(probed):
    """lc-unbound-var: bash's `DATABASE_URL: unbound variable` is needs-config (inconclusive,
    naming the variable), so COR004 reports nothing and the reason says how to give it."""
    facts = probed["lc-unbound-var"]
    life = facts["runtime"]["lifecycle"]
    assert life["status"] == "exited-early"
    cause = life["exit_cause"]
    assert (cause["kind"], cause["verdict"], cause["subject"]) == (
        "needs-config", "inconclusive", "DATABASE_URL")  # fmt: skip
    assert "DATABASE_URL: unbound variable" in life["reason"]
    assert "-e DATABASE_URL=" in life["reason"]
    assert run_check(CHECKS["COR004"], facts, Context()).status == "passed"


def test_a_python_pid1_without_a_handler_is_read_as_default_and_ops002_says_so(fixture_probes):
    """sigterm-ignorer: /proc shows PID 1 with no SIGTERM handler ("default"), and OPS002's kill
    finding says that is why the signal did nothing, with the fix for it."""
    facts = fixture_probes.facts("sigterm-ignorer")
    life = facts["runtime"]["lifecycle"]
    (pid1,) = [p for p in life["processes"] if p["pid"] == 1]
    assert pid1["stop_signal_handling"] == "default"
    assert (life["stopped_by"], life["exit_signal"]) == ("kill", "SIGKILL")
    (stop,) = run_check(CHECKS["OPS002"], facts, Context()).findings
    assert "has no handler for it" in stop.message
    assert "tini" in (stop.fix or "")
