"""The release gate on real images: exit codes for every case, the policy file and baselines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inspector.cli.commands import main
from tests.conftest import fixture_image

NAIVE = fixture_image("naive")
GOOD = fixture_image("good")
# With --no-probe, naive's findings of severity high or above (the config USER is root, the CMD
# is shell form); ignoring both brings it under the default threshold.
NAIVE_HIGH = ("SEC001", "OPS001")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Run from an empty directory (no policy file found upward) with our own layer cache."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INSPECTOR_CACHE_DIR", str(tmp_path / "cache"))


def _policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".inspector.toml"
    path.write_text(text)
    return path


def _ignore_high(expires: str) -> str:
    checks = ", ".join(f'"{c}"' for c in NAIVE_HIGH)
    return f"""
[[ignores]]
checks = [{checks}]
images = ["inspector-fixture/naive:*"]
reason = "root and shell form until the entrypoint rewrite"
expires = {expires}
"""


@pytest.mark.docker
@pytest.mark.parametrize(
    ("args", "code"),
    [
        ([GOOD], 0),
        ([NAIVE], 1),
        ([NAIVE, "--fail-on", "critical"], 0),
        ([NAIVE, "--fail-on", "low"], 1),
        ([GOOD, "--fail-on", "info"], 1),
        ([NAIVE, "--exit-zero"], 0),
        ([NAIVE, "inspector-fixture/does-not-exist:x", "--exit-zero"], 2),
    ],
)
def test_exit_code_follows_findings_and_threshold(capsys, args, code):
    """0 under the threshold, 1 at or over it, --exit-zero only hides 1, never an error's 2."""
    assert main(["audit", "--no-probe", *args]) == code


@pytest.mark.docker
def test_missing_image_is_exit_2():
    """An image the engine does not have cannot be audited: exit 2."""
    assert main(["audit", "inspector-fixture/does-not-exist:x", "--no-probe"]) == 2


def test_corrupt_archive_is_exit_2(tmp_path, capsys):
    """A docker-archive that is not one is exit 2 with the reason, even with --exit-zero."""
    path = tmp_path / "image.tar"
    path.write_bytes(b"not a tar" * 100)
    assert main(["audit", f"docker-archive:{path}", "--exit-zero"]) == 2
    captured = capsys.readouterr()
    assert "not a readable image archive" in captured.err
    assert "Traceback" not in captured.err


def test_unreachable_daemon_is_exit_2(tmp_path, monkeypatch, capsys):
    """With no engine answering, audit is exit 2 saying so, not a verdict."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    assert main(["audit", "app:1.4"]) == 2
    assert "no Docker engine answers" in capsys.readouterr().err


def test_bad_config_is_exit_2_naming_file_and_key(tmp_path, capsys):
    """A policy file with a wrong value stops the gate: exit 2, the file and key, no report."""
    path = _policy(tmp_path, '[severity]\nSEC001 = "urgent"\n')
    assert main(["audit", "app:1.4"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{path}: severity.SEC001: 'urgent' is not one of" in captured.err


def test_internal_error_is_exit_2_with_the_trace(monkeypatch, capsys):
    """A bug (an unexpected exception) is exit 2 with a trace, never read as a verdict."""
    import inspector.cli.commands

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(inspector.cli.commands, "_run", broken)
    assert main(["audit", "app:1.4"]) == 2
    err = capsys.readouterr().err
    assert "internal error" in err
    assert "RuntimeError: a bug" in err


@pytest.mark.docker
def test_policy_found_upward_applies_ignores_and_severities(tmp_path, capsys, monkeypatch):
    """A .inspector.toml above the working directory suppresses and re-rates naive's findings."""
    _policy(tmp_path, _ignore_high("2099-01-01") + '\n[severity]\nSIZE002 = "critical"\n')
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    assert main(["audit", NAIVE, "--no-probe", "--format", "json"]) == 1  # SIZE002 critical
    image = json.loads(capsys.readouterr().out)["images"][0]
    failed = {r["check"]: r for r in image["results"] if r["status"] == "failed"}
    assert not set(NAIVE_HIGH) & set(failed)
    assert failed["SIZE002"]["findings"][0]["severity"] == "critical"
    suppressed = [s for r in image["results"] for s in r["suppressed"]]
    assert {s["check"] for s in suppressed} == set(NAIVE_HIGH)
    assert image["suppressed"] == len(suppressed)
    assert suppressed[0]["suppression"]["expires"] == "2099-01-01"
    assert main(["audit", NAIVE, "--no-probe", "--ignore", "SIZE002"]) == 0


@pytest.mark.docker
def test_expired_ignore_fails_the_gate_again_and_says_so(tmp_path, capsys):
    """The same ignore past its date: naive's high findings count again (exit 1), with notices."""
    _policy(tmp_path, _ignore_high("2026-01-31"))
    assert main(["audit", NAIVE, "--no-probe", "--format", "json"]) == 1
    captured = capsys.readouterr()
    assert "ignores[0] expired on 2026-01-31" in captured.err
    image = json.loads(captured.out)["images"][0]
    assert image["suppressed"] == 0
    assert any("expired on 2026-01-31" in notice for notice in image["notices"])
    assert main(["audit", NAIVE, "--no-probe", "--no-config"]) == 1


@pytest.mark.docker
def test_baseline_lets_only_new_findings_fail(tmp_path, capsys, docker_client):
    """A baseline written without OPS001 suppresses the rest, on another tag too; OPS001 fails."""
    baseline = tmp_path / "baseline.json"
    assert main(["baseline", NAIVE, "--no-probe", "--ignore", "OPS001", "-o", str(baseline)]) == 0
    assert "findings of 1 image" in capsys.readouterr().out
    recorded = {e["check"] for e in json.loads(baseline.read_text())["findings"]}
    assert "SEC001" in recorded
    assert "OPS001" not in recorded

    assert (
        main(["audit", NAIVE, "--no-probe", "--baseline", str(baseline), "--format", "json"]) == 1
    )
    image = json.loads(capsys.readouterr().out)["images"][0]
    assert [r["check"] for r in image["results"] if r["status"] == "failed"] == ["OPS001"]
    assert {s["suppression"]["by"] for r in image["results"] for s in r["suppressed"]} == {
        "baseline"
    }

    retag = "inspector-fixture/naive:baseline-retag"
    docker_client.images.get(NAIVE).tag(retag)
    try:
        args = ["audit", retag, "--no-probe", "--baseline", str(baseline), "--ignore", "OPS001"]
        assert main(args) == 0
    finally:
        docker_client.images.remove(retag)


@pytest.mark.docker
def test_baseline_from_the_policy_file_is_relative_to_it(tmp_path, capsys, monkeypatch):
    """`baseline = "ci/b.json"` in the policy is read next to the policy file, from any cwd."""
    (tmp_path / "ci").mkdir()
    assert main(["baseline", NAIVE, "--no-probe", "-o", str(tmp_path / "ci" / "b.json")]) == 0
    _policy(tmp_path, 'baseline = "ci/b.json"\n')
    (tmp_path / "deep" / "er").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "deep" / "er")
    capsys.readouterr()
    assert main(["audit", NAIVE, "--no-probe"]) == 0
    assert "in the baseline" in capsys.readouterr().out


@pytest.mark.docker
def test_baseline_of_an_image_that_cannot_be_audited_writes_nothing(tmp_path, capsys):
    """`inspector baseline` with a bad reference is exit 2 and leaves no partial baseline."""
    out = tmp_path / "b.json"
    assert main(["baseline", GOOD, "inspector-fixture/does-not-exist:x", "-o", str(out)]) == 2
    assert not out.exists()
    assert "no baseline written" in capsys.readouterr().err


def test_missing_baseline_file_is_exit_2(tmp_path, capsys):
    """--baseline naming no file is exit 2 telling how to write one, before any image is read."""
    assert main(["audit", "app:1.4", "--baseline", str(tmp_path / "nope.json")]) == 2
    assert "inspector baseline" in capsys.readouterr().err
