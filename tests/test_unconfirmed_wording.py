"""A finding read from the config says what really happened to the lifecycle probe that could not
confirm it (killed for memory, exited early, could not start), not that it "did not run"."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from checks import catalog
from checks.engine import run_check
from checks.model import Context

CHECKS = catalog()
NOW = Context(now=datetime(2026, 11, 23, tzinfo=UTC))
ROOT = {"config": {"user": ""}, "user": {"resolved_uid": 0}}
SHELL_FORM = {
    "config": {"cmd": ["/bin/sh", "-c", "python3 -m app"], "cmd_form": "shell", "entrypoint": None}
}


def _message(check_id: str, facts: dict) -> str:
    result = run_check(CHECKS[check_id], facts, NOW)
    assert result.status == "failed", result
    return result.findings[0].message


@pytest.mark.parametrize("check_id", ["SEC001", "OPS001"])
def test_an_out_of_memory_kill_is_named_not_called_did_not_run(check_id):
    """Killed for memory at start: the message says so, never "did not run"."""
    base = ROOT if check_id == "SEC001" else SHELL_FORM
    oom = {"status": "exited-early", "oom_killed": True,
           "exit_cause": {"kind": "out-of-memory", "verdict": "inconclusive"}}  # fmt: skip
    message = _message(check_id, {**base, "runtime": {"lifecycle": oom}})
    assert "did not run" not in message
    assert "killed for memory" in message


@pytest.mark.parametrize(
    ("lifecycle", "words"),
    [({"status": "exited-early", "exit_cause": {"kind": "python-exception"}}, "exited before"),
     ({"status": "could-not-start"}, "could not start"),
     ({"status": "failed"}, "failed"),
     ({"status": "skipped", "reason": "--no-probes"}, "did not run")],
)  # fmt: skip
def test_sec001_words_each_probe_outcome_as_it_was(lifecycle, words):
    """Each lifecycle outcome gets its own words in SEC001's message."""
    assert words in _message("SEC001", {**ROOT, "runtime": {"lifecycle": lifecycle}})
