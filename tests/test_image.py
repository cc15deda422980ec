"""Unit tests of the config model: pure code, no engine."""

from __future__ import annotations

import pytest

from inspector.image.config import command_form, config_from_json, parse_env


@pytest.mark.parametrize(
    ("argv", "form"),
    [
        (["/bin/sh", "-c", "python app.py"], "shell"),
        (["sh", "-c", "exec python app.py"], "shell"),
        (["python", "-m", "app"], "exec"),
        (["/usr/bin/tini", "--"], "exec"),
        (["/bin/sh"], "exec"),
        (None, None),
        ([], None),
    ],
)
def test_command_form(argv, form):
    """Docker's shell-form wrapper is told apart from an exec-form command."""
    assert command_form(argv) == form


def test_parse_env_keeps_equals_signs_in_values():
    """Env entries split on the first '=' only, and a bare name has an empty value."""
    assert parse_env(["A=1", "URL=postgres://u:p@h/db?x=y", "EMPTY"]) == {
        "A": "1",
        "URL": "postgres://u:p@h/db?x=y",
        "EMPTY": "",
    }


def test_config_from_json_tolerates_missing_and_null_fields():
    """A config with nulls (as `docker import` writes) reads as empty values, not errors."""
    cfg = config_from_json({"User": None, "Env": None, "Labels": None, "ExposedPorts": None})
    assert (cfg.user, cfg.env, cfg.labels, cfg.exposed_ports) == ("", {}, {}, [])
    assert config_from_json(None).entrypoint is None


def test_config_from_json_reads_docker_inspect_fields():
    """The fields of `docker inspect`'s Config land in the model with their forms."""
    cfg = config_from_json(
        {
            "User": "10001:10001",
            "Entrypoint": ["/usr/bin/tini", "--"],
            "Cmd": ["/bin/sh", "-c", "python3 -m app"],
            "ExposedPorts": {"8000/tcp": {}, "443/tcp": {}},
            "StopSignal": "SIGINT",
        }
    )
    assert cfg.entrypoint_form == "exec"
    assert cfg.cmd_form == "shell"
    assert cfg.exposed_ports == ["443/tcp", "8000/tcp"]
    assert cfg.stop_signal == "SIGINT"
