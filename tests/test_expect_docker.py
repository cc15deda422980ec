"""`--expect` against fixture images on the engine: the outcome of every test of each file,
the one container a file's command tests share (counted by its label in the engine's events),
its limits, and what the probes add to a finding."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from inspector.cli.commands import main
from inspector.probes import commands
from inspector.probes.containers import LABEL
from tests.conftest import fixture_image

pytestmark = pytest.mark.docker
EXPECTATIONS = Path(__file__).parent / "expectations"


def _audit(capsys, refs: list[str], *files: str, extra: tuple[str, ...] = ()) -> tuple[int, dict]:
    capsys.readouterr()
    args = ["audit", *refs, "--select", "COR030", "--no-vulns", "--format", "json", *extra]
    for name in files:
        args += ["--expect", str(EXPECTATIONS / name)]
    code = main(args)
    return code, json.loads(capsys.readouterr().out)


def _facts(capsys, ref: str, name: str) -> dict:
    """The expectations section of the facts, through the same collection the audit uses."""
    from inspector.expect.parse import load
    from inspector.facts.collect import collect
    from inspector.probes import ProbeOptions

    facts = collect(ref, probe=ProbeOptions(warmup=1.0),
                    expect=[load(EXPECTATIONS / name, name)])  # fmt: skip
    return facts.to_json()["expectations"]


def _created(docker_client, since: datetime) -> list[dict]:
    """Containers the engine created with our expectation label since `since`."""
    # The API takes whole seconds: `until` a second ahead, or an event in this second is cut.
    events = docker_client.events(
        since=since, until=datetime.now(UTC) + timedelta(seconds=1), decode=True,
        filters={"type": "container", "event": "create", "label": f"{LABEL}={commands.ROLE}"},
    )  # fmt: skip
    return list(events)


GOOD = {
    "metadataTest.envVars[PYTHONFAULTHANDLER]": "passed",
    "metadataTest.envVars[PATH]": "passed",
    "metadataTest.envVars[PORT]": "failed",
    "metadataTest.unboundEnvVars[DEBUG]": "passed",
    "metadataTest.unboundEnvVars[PORT]": "failed",
    "metadataTest.labels[org.opencontainers.image.version]": "passed",
    "metadataTest.labels[org.opencontainers.image.revision]": "passed",
    "metadataTest.entrypoint": "passed",
    "metadataTest.cmd": "passed",
    "metadataTest.exposedPorts[8000]": "passed",
    "metadataTest.unexposedPorts[22]": "passed",
    "metadataTest.volumes[/data]": "failed",
    "metadataTest.unmountedVolumes[/srv]": "passed",
    "metadataTest.workdir": "passed",
    "metadataTest.user": "passed",
    "tini is executable": "passed",
    "the venv's python is reached through a symlink": "passed",
    "the app directory, an unset variable expanding to nothing": "passed",
    "no pip cache": "passed",
    "must fail, tini owned by the app user": "failed",
    "must fail, a missing file": "failed",
    "passwd has the app user": "passed",
    "the os release, through its symlink": "passed",
    "must fail, app version pinned": "failed",
    "python runs the app's interpreter": "passed",
    "runs unprivileged": "passed",
    "setup and teardown share the container": "passed",
    "env vars expand from the image": "passed",
    "must fail, wrong exit code and output": "failed",
    "must fail, no network in the probe": "failed",
}


def test_every_test_type_against_the_good_fixture_in_one_container(capsys, image, docker_client):
    """Each test of good.yaml ends as written (those named "must fail" fail, with the metadata
    values the fixture does not have), every failure is one COR030 finding at the file and the
    test, and all six command tests ran in exactly one container, removed afterwards."""
    image("good")
    since = datetime.now(UTC)
    code, report = _audit(capsys, [fixture_image("good")], "good.yaml")
    created = _created(docker_client, since)
    assert len(created) == 1, created
    assert not docker_client.api.containers(all=True, filters={"label": f"{LABEL}=expect"})
    result = report["images"][0]["results"][0]
    failed = {f["location"]["expectation"].split(": test ", 1)[1].strip("'"): f
              for f in result["findings"]}  # fmt: skip
    assert code == 1
    assert set(failed) == {name for name, status in GOOD.items() if status == "failed"}
    assert all(f["severity"] == "high" for f in failed.values())
    assert "exited with 1, expected 0" in failed["must fail, wrong exit code and output"]["message"]
    assert "stdout matches 'Python 3'" in failed["must fail, wrong exit code and output"]["message"]
    assert failed["must fail, a missing file"]["location"]["path"] == "/srv/app/settings.toml"


def test_facts_hold_every_result_and_the_one_container(capsys, image):
    """The facts' section has a verdict for every test (passed ones too) and says the command
    tests shared one container, started once."""
    image("good")
    section = _facts(capsys, fixture_image("good"), "good.yaml")
    assert {r["name"]: r["status"] for r in section["results"]} == GOOD
    (container,) = section["command_containers"]
    assert container["status"] == "ran"
    assert container["starts"] == 1
    assert container["keepalive"].endswith("python")
    python = next(r for r in section["results"] if r["name"] == "python runs the app's interpreter")
    assert python["exit_code"] == 0
    assert python["stdout_tail"] == ["/opt/venv", "hello from 8000"]


def test_a_command_past_its_limits_is_killed_and_the_container_goes_on(capsys, image,
                                                                      monkeypatch):  # fmt: skip
    """A hanging command and a flooding one are each killed with the container, which starts
    again: the next test reads what the first test's setup wrote (the same container), in an
    image without Python (busybox's sleep keeps it open)."""
    image("no-python")
    monkeypatch.setattr(commands, "COMMAND_TIMEOUT", 3.0)
    monkeypatch.setattr(commands, "OUTPUT_LIMIT", 64 * 1024)
    section = _facts(capsys, fixture_image("no-python"), "limits.yaml")
    results = {r["name"]: r for r in section["results"]}
    assert results["must fail, hangs"]["failures"] == ["did not finish within 3s: killed"]
    assert results["must fail, floods stdout"]["failures"] == [
        "printed more than 64 KiB on stdout: killed"
    ]
    still = results["still runs after the kills"]
    assert still["status"] == "passed", json.dumps(still)
    (container,) = section["command_containers"]
    assert container["starts"] == 3
    assert container["keepalive"] == "/bin/sleep"


def test_findings_say_what_the_probes_know(capsys, image):
    """USER root with an entrypoint dropping to 10001: the USER finding quotes the app's
    effective UID; a command failing on a missing module quotes the image's own import failure."""
    image("drops-privileges")
    image("broken-missing-module")
    refs = [fixture_image("drops-privileges"), fixture_image("broken-missing-module")]
    code, report = _audit(capsys, refs, "python-aware.yaml")
    assert code == 1
    drops, broken = (
        {f["location"]["expectation"].split(": test ", 1)[1].strip("'"): f["message"]
         for f in image_report["results"][0]["findings"]}
        for image_report in report["images"]
    )  # fmt: skip
    assert "effective UID 10001 (its entrypoint drops privileges)" in drops["metadataTest.user"]
    assert "fails to import too: ModuleNotFoundError yaml" in broken["yaml imports"]


def test_no_probe_leaves_command_tests_undecided_not_passed(capsys, image):
    """Under --no-probe the command tests are medium findings saying why; static tests still
    decide."""
    image("good")
    code, report = _audit(capsys, [fixture_image("good")], "good.yaml", extra=("--no-probe",))
    findings = report["images"][0]["results"][0]["findings"]
    medium = [f for f in findings if f["severity"] == "medium"]
    assert len(medium) == 6
    assert all("--no-probe" in f["message"] for f in medium)
    assert code == 1  # the metadata and file tests that must fail still do
