"""Images whose own start-up code attacks the static probe: look-alike reports, a patched
os.getuid, reports of the wrong types, and a start-up that hangs. The probe is not fooled
silently, gives up in proportion, and says which probe and why."""

from __future__ import annotations

import json

import pytest

from inspector.probes import static
from inspector.probes.report_types import typed
from tests.test_probes import plan_for, probe_containers

NONCE = "0123456789abcdef0123456789abcdef"


def test_a_report_without_the_nonce_or_printed_twice_is_tampering():
    """Look-alike lines are never read; the first line with the nonce is, and repeats are named."""
    out = "\n".join([
        static.MARKER + '{"uid": 0}',
        static.MARKER + NONCE + '{"uid": 10001, "gid": 10001}',
        static.MARKER + NONCE + '{"uid": 0, "gid": 0}',
    ])  # fmt: skip
    found = static.parse(out, "", 0, _plan(), 1.0, NONCE)
    assert found.status == "ran"
    assert found.uid == 10001
    assert found.tampering == (
        "a line imitating the probe's report, without this run's nonce",
        "the probe's report was printed more than once",
    )


def test_report_fields_of_the_wrong_type_are_dropped_and_named():
    """A uid as text, a list as an object, an oversized string: dropped or cut, never crashing."""
    report = {"uid": "0", "gid": 5, "groups": {"a": 1}, "python_version": "3" * 10**5,
              "writable": {"/srv": "yes"}, "faulthandler": 1, "unknown": object()}  # fmt: skip
    doc, wrong = typed(report)
    assert doc == {"gid": 5, "python_version": "3" * 4096}
    assert wrong == (
        "uid: a string, not a whole number (dropped)",
        "groups: an object, not a list (dropped)",
        "faulthandler: a number, not true or false (dropped)",
        "writable: a string, not true or false (dropped)",
    )


def _plan():
    from tests.test_probes_unit import PLAN

    return PLAN


@pytest.mark.docker
def test_a_forging_image_is_caught_and_its_real_user_still_seen(docker_client, capsys):
    """forges-probe patches os.getuid and prints look-alikes: the facts keep the tampering, the
    atexit look-alike never prints (the probe exits first), SEC024 names both signs, and SEC001
    still sees root from the host's /proc."""
    from inspector.cli.commands import main
    from tests.conftest import fixture_image

    code = main(["audit", fixture_image("forges-probe"), "--warmup", "1", "--grace", "2",
                 "--no-config", "--format", "json"])  # fmt: skip
    assert code == 1
    report = json.loads(capsys.readouterr().out)["images"][0]
    messages = [f["message"] for f in _findings(report) if f["check"] == "SEC024"]
    assert len(messages) == 2
    assert "without this run's nonce" in messages[0]
    assert "uid 10001" in messages[1]
    assert "uid 0" in messages[1]
    assert any(f["check"] == "SEC001" for f in _findings(report))
    assert not probe_containers(docker_client)


def _findings(report: dict) -> list[dict]:
    return [f for result in report["results"] for f in result["findings"]]


@pytest.mark.docker
def test_a_hanging_startup_times_out_in_proportion_and_says_where(docker_client, monkeypatch):
    """slow-startup sleeps in a .pth file: the static probe gives up at its start-up limit (not
    its 60 s timeout), names the start-up hooks, and leaves no container."""
    monkeypatch.setattr(static, "STARTUP_TIMEOUT", 2)
    found = static.run(docker_client, plan_for("slow-startup"))
    assert found.status == "timeout"
    assert "had not reached inspector's script after 2s" in found.reason
    assert ".pth file" in found.reason
    assert found.seconds is None
    assert not probe_containers(docker_client)
