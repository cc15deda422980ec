"""The command line's contract: help, version, and exit code 2 with a clear message on bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from inspector import __version__
from inspector.cli import cli, main
from tests.conftest import REPO, fixture_image


def test_version(capsys):
    """--version prints the package version and exits 0."""
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


def test_every_command_has_help(capsys):
    """The group and every command answer --help with a description, exit 0."""
    assert main(["--help"]) == 0
    assert "Audit built Python container images" in capsys.readouterr().out
    for name, command in cli.commands.items():
        assert command.help, name
        assert main([name, "--help"]) == 0
        assert "Usage: inspector " + name in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(capsys):
    """An unknown command exits 2 with click's usage message, not a traceback."""
    assert main(["frobnicate"]) == 2
    assert "No such command" in capsys.readouterr().err


def test_console_script_runs():
    """`python -m inspector --version` works as an installed program would."""
    done = subprocess.run(
        [sys.executable, "-m", "inspector", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"inspector, version {__version__}"


def test_unreachable_daemon_is_exit_2_with_a_hint(monkeypatch, capsys, tmp_path):
    """With DOCKER_HOST pointing at a socket nobody serves, facts exits 2 and says what to do."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    assert main(["facts", "app:1.4"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("inspector: error: no Docker engine answers")
    assert "make engine" in err
    assert "Traceback" not in err


@pytest.mark.docker
def test_missing_image_is_exit_2_naming_the_image(capsys):
    """A reference to an image the engine does not have exits 2 and names it; nothing is pulled."""
    assert main(["facts", "inspector-fixture/does-not-exist:never"]) == 2
    err = capsys.readouterr().err
    assert "inspector-fixture/does-not-exist:never" in err
    assert "Traceback" not in err


@pytest.mark.docker
def test_facts_json_reads_the_real_config(capsys, image):
    """facts --format json reports the good fixture's ID, numeric user and exec-form commands."""
    assert main(["facts", fixture_image("good"), "--format", "json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["id"] == image("good").id
    assert facts["config"]["user"] == "10001:10001"
    assert facts["config"]["entrypoint"] == ["/usr/bin/tini", "--"]
    assert facts["config"]["env"]["PYTHONFAULTHANDLER"] == "1"
    assert len(facts["layer_digests"]) == len(image("good").attrs["RootFS"]["Layers"])
    assert any("pip install" in step["created_by"] for step in facts["history"]) is False


@pytest.mark.docker
def test_facts_text_shows_root_and_shell_form_for_naive(capsys):
    """The readable summary of naive says the user is unset (root) and the CMD is shell form."""
    assert main(["facts", fixture_image("naive")]) == 0
    out = capsys.readouterr().out
    assert "(unset: root)" in out
    assert '["/bin/sh", "-c", "python3 -m app"]  [shell form]' in out
    assert "pip install" in out


def test_readme_usage_block_matches_the_cli():
    """The README's usage block is exactly what --help prints today (run `make docs` to refresh)."""
    sys.path.insert(0, str(REPO / "scripts"))
    import gen_readme

    readme = (REPO / "README.md").read_text()
    assert gen_readme.render(readme) == readme, "README usage block is stale: run `make docs`"
