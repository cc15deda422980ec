"""A release sign-off on real images and a real engine: a baseline survives the probe mode, an
inconclusive start is a decision the policy makes, the probes get what the app needs without
any output printing it, and every format names the digest to deploy."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from inspector.cli.commands import main
from inspector.report.formats import FORMATS
from tests.conftest import fixture_image
from tests.test_probes import probe_containers

WAITS = fixture_image("so-waits-config")
BIG = fixture_image("so-big-start")
PROBE = ["--warmup", "2", "--grace", "2"]
# A value only this test gives the probes; the fixture logs it once it starts.
API_KEY = "correct-horse-battery-staple-4417"
SETTINGS = ["--probe-env", "DATABASE_URL=postgresql://app@db.example/app",
            "--probe-env", f"API_KEY={API_KEY}"]  # fmt: skip


def _audit(capsys, tmp_path: Path, *args: str) -> tuple[int, dict[str, str]]:
    """`audit` with every format written to a file; (exit code, {format or stream: text})."""
    files = {fmt: tmp_path / f"report.{fmt}" for fmt in FORMATS if fmt != "table"}
    extra = [arg for fmt, path in files.items() for arg in ("-o", f"{fmt}={path}")]
    code = main(["audit", *args, *extra])
    out, err = capsys.readouterr()
    return code, {"table": out, "stderr": err, **{f: p.read_text() for f, p in files.items()}}


def _image(outputs: dict[str, str]) -> dict:
    return json.loads(outputs["json"])["images"][0]


@pytest.mark.docker
def test_a_baseline_written_with_probes_passes_audit_no_probe(capsys, tmp_path, docker_client):
    """`inspector baseline` of naive with the probes, then `audit --no-probe --baseline` of the
    same image: exit 0, every finding accepted, no entry reported fixed."""
    image = fixture_image("naive")
    path = tmp_path / "baseline.json"
    assert main(["baseline", image, "--no-config", "--no-vulns", *PROBE, "-o", str(path)]) == 0
    capsys.readouterr()
    assert json.loads(path.read_text())["findings"]
    code, outputs = _audit(capsys, tmp_path, image, "--no-config", "--no-vulns", "--no-probe",
                           "--baseline", str(path))  # fmt: skip
    assert code == 0, outputs["table"]
    doc = _image(outputs)
    assert doc["verdict"] == "gate passed"
    assert not any(f for r in doc["results"] for f in r["findings"])
    assert not [n for n in doc["notices"] if "no longer found" in n]
    assert not probe_containers(docker_client)


@pytest.mark.docker
def test_an_app_waiting_for_its_settings_is_inconclusive_and_the_policy_decides(
    capsys, tmp_path, docker_client
):
    """so-waits-config probed bare: inconclusive; it passes by default and fails the gate
    (exit 1, a failed JUnit case, the verdict in every format) under `inconclusive = "fail"`."""
    code, outputs = _audit(capsys, tmp_path, WAITS, "--no-config", "--no-vulns", *PROBE)
    assert code == 0, outputs["table"]
    doc = _image(outputs)
    assert "waiting for configuration" in doc["inconclusive"]
    assert "--probe-env" in doc["inconclusive"]
    assert doc["verdict"].startswith("gate passed (the start was inconclusive")
    policy = tmp_path / ".inspector.toml"
    policy.write_text('inconclusive = "fail"\n')
    code, outputs = _audit(capsys, tmp_path, WAITS, "--config", str(policy), "--no-vulns", *PROBE)
    assert code == 1
    verdict = 'gate failed: inconclusive start (the policy\'s inconclusive = "fail")'
    for fmt in FORMATS:
        assert verdict in outputs[fmt], fmt
    junit = ET.fromstring(outputs["junit"])
    assert [c.get("name") for c in junit.iter("testcase") if c.find("failure") is not None] == [
        "inconclusive start"
    ]
    assert not probe_containers(docker_client)


@pytest.mark.docker
def test_given_its_settings_the_app_starts_and_no_output_prints_them(
    capsys, tmp_path, docker_client
):
    """--probe-env (and the same from --probe-env-file): the lifecycle probe watches the app run
    and stop, the strict policy passes, and the key the app logged is in no output: facts JSON,
    every report format, stderr."""
    policy = tmp_path / ".inspector.toml"
    policy.write_text('inconclusive = "fail"\n')
    code, outputs = _audit(capsys, tmp_path, WAITS, "--config", str(policy), "--no-vulns",
                           *PROBE, *SETTINGS)  # fmt: skip
    assert code == 0, outputs["table"]
    doc = _image(outputs)
    assert doc["runtime"]["lifecycle"]["status"] == "ran"
    assert doc["inconclusive"] is None
    assert doc["verdict"] == "gate passed"
    env_file = tmp_path / "app.env"
    env_file.write_text(f"# as the deployment has them\nDATABASE_URL=postgresql://db.example/app\n"
                        f"API_KEY={API_KEY}\n")  # fmt: skip
    assert main(["facts", WAITS, "--format", "json", *PROBE,
                 "--probe-env-file", str(env_file)]) == 0  # fmt: skip
    printed, err = capsys.readouterr()
    facts = json.loads(printed)
    assert facts["runtime"]["lifecycle"]["status"] == "ran"
    assert "<probe-env API_KEY>" in json.dumps(facts["runtime"]), "the app logged its key"
    outputs.update({"facts json": printed, "facts stderr": err})
    leaked = [name for name, text in outputs.items() if API_KEY in text]
    assert leaked == []
    assert not probe_containers(docker_client)


@pytest.mark.docker
def test_an_app_that_needs_more_memory_starts_with_probe_memory(capsys, tmp_path, docker_client):
    """so-big-start is killed under the default 512 MiB (inconclusive, the reason names the
    limit and --probe-memory); with --probe-memory 1GiB the lifecycle probe watches it run."""
    code, outputs = _audit(capsys, tmp_path, BIG, "--no-config", "--no-vulns", *PROBE)
    doc = _image(outputs)
    assert code == 0, outputs["table"]
    assert "512 MiB memory limit" in doc["inconclusive"]
    assert "--probe-memory" in doc["inconclusive"]
    code, outputs = _audit(capsys, tmp_path, BIG, "--no-config", "--no-vulns", *PROBE,
                           "--probe-memory", "1GiB")  # fmt: skip
    doc = _image(outputs)
    assert doc["runtime"]["lifecycle"]["status"] == "ran", doc["runtime"]
    assert doc["inconclusive"] is None
    assert not probe_containers(docker_client)
