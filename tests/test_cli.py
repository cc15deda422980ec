"""The command line's contract: help, version, and exit code 2 with a clear message on bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from inspector import __version__
from inspector.cli.commands import cli, main
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


def test_every_option_has_help_text():
    """Each option of each command says what it does (the README's usage block shows it)."""
    import click

    for name, command in cli.commands.items():
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{name} {param.opts}"
                assert len(param.help) > 10, f"{name} {param.opts}"


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


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    """Keep the user's layer cache out of CLI tests."""
    monkeypatch.setenv("INSPECTOR_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.docker
def test_facts_json_has_the_documented_paths(capsys, image, own_cache):
    """facts --format json is versioned and has every path docs/facts.md promises."""
    assert main(["facts", fixture_image("good"), "--format", "json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["schema_version"] == 2
    assert facts["image"]["id"] == image("good").id
    assert facts["config"]["user"] == "10001:10001"
    assert facts["config"]["env"]["PYTHONFAULTHANDLER"] == "1"
    for path in REQUIRED_PATHS:
        value = facts
        for key in path.split("."):
            # A list stands for its items: check the first one.
            value = value[key] if isinstance(value, dict) else value[0][key]
        assert value is not None or path in NULLABLE, path


REQUIRED_PATHS = [
    "image.id", "image.created", "image.architecture", "config.user", "config.env",
    "config.entrypoint", "config.cmd", "config.healthcheck", "config.labels", "layers.digest",
    "layers.size", "layers.created_by", "fs.visible_bytes", "fs.wasted_bytes", "os.id",
    "os.version_id", "os.libc", "python.interpreters.path", "python.interpreters.version",
    "python.packages.name", "python.packages.version", "caches.pip.visible_bytes",
    "caches.pip.deleted_bytes", "user.resolved_uid", "setuid", "secrets",
]  # fmt: skip
NULLABLE = {"layers.created_by"}


@pytest.mark.docker
def test_facts_text_shows_root_shell_form_and_the_pip_cache(capsys, own_cache):
    """The readable summary of naive says root, shell-form CMD, and shows its pip cache."""
    assert main(["facts", fixture_image("naive")]) == 0
    out = capsys.readouterr().out
    assert "(unset) → uid 0, gid 0" in out
    assert '["/bin/sh", "-c", "python3 -m app"]  [shell form]' in out
    assert "pip install" in out
    assert "Debian GNU/Linux 12" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such archive"), (b"not a tar" * 100, "not a readable image archive")],
)
def test_bad_archives_are_exit_2(tmp_path, capsys, own_cache, content, message):
    """A missing or garbage docker-archive exits 2 with the reason, no daemon needed."""
    path = tmp_path / "image.tar"
    if content is not None:
        path.write_bytes(content)
    assert main(["facts", f"docker-archive:{path}"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_truncated_archive_is_exit_2(tmp_path, capsys, own_cache):
    """An archive cut short exits 2 with a one-line reason."""
    from tests.layertools import image_archive, layer

    raw = image_archive([layer(("big", bytes(300_000)))])
    path = tmp_path / "cut.tar"
    path.write_bytes(raw[: len(raw) // 2])
    assert main(["facts", f"docker-archive:{path}"]) == 2
    assert "truncated" in capsys.readouterr().err


def test_cli_doc_usage_block_matches_the_cli():
    """docs/cli.md's usage block is exactly what --help prints today (`make docs` refreshes it)."""
    sys.path.insert(0, str(REPO / "scripts"))
    import gen_readme

    doc = (REPO / "docs" / "cli.md").read_text()
    assert gen_readme.render(doc) == doc, "docs/cli.md's usage block is stale: run `make docs`"


def test_readme_sample_is_the_reviewed_golden():
    """The README's sample output is the naive fixture's reviewed 80-column golden."""
    sys.path.insert(0, str(REPO / "scripts"))
    import gen_readme

    readme = (REPO / "README.md").read_text()
    assert gen_readme.render_readme(readme) == readme, "README's sample is stale: run `make docs`"
    assert "no USER is set" in readme


def test_fixture_table_matches_the_dockerfiles():
    """fixtures/README.md lists every fixture with its Dockerfile's opening comment."""
    sys.path.insert(0, str(REPO / "scripts"))
    import gen_fixtures_doc

    doc = (REPO / "fixtures" / "README.md").read_text()
    assert gen_fixtures_doc.render(doc) == doc, "fixtures/README.md is stale: run `make docs`"
    names = {p.parent.name for p in (REPO / "fixtures").glob("*/Dockerfile")}
    assert all(f"| `{name}` |" in doc for name in names)
