"""docs/ci.md cannot drift from the CLI: every `inspector` command in its jobs parses, the files
the jobs write are the ones they publish, and its policy example loads."""

from __future__ import annotations

import re
import shlex
from datetime import date
from pathlib import Path

import click
import pytest

from inspector.cli.commands import cli
from inspector.report.formats import FORMATS, SBOM_FORMATS
from tests.conftest import REPO

DOC = REPO / "docs" / "ci.md"
README = REPO / "README.md"
SHELL_OPERATORS = {"||", "&&", ";", "|", "&"}
# github/codeql-action/upload-sarif's inputs (upload-sarif/action.yml).
UPLOAD_SARIF_INPUTS = {"sarif_file", "checkout_path", "ref", "sha", "token", "matrix", "category",
                       "wait-for-processing"}  # fmt: skip


def _blocks(path: Path, *languages: str) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return [body for lang, body in re.findall(r"^```(\w*)\n(.*?)^```", text, re.S | re.M)
            if lang in languages]  # fmt: skip


def _commands(path: Path) -> list[list[str]]:
    """The argument lists after `inspector` in the YAML jobs' scripts and the shell examples."""
    found = []
    for block in _blocks(path, "yaml", "yml", "sh", "shell", "console"):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            line = re.sub(r"^(- |run: |\$ )+", "", line)
            if not line.startswith("inspector "):
                continue
            words = shlex.split(line, comments=True)
            for i, word in enumerate(words):
                if word in SHELL_OPERATORS:
                    words = words[:i]
                    break
            found.append(words[1:])
    return found


def _parse(args: list[str]) -> tuple[str, dict[str, object]]:
    """Parse like `inspector ARGS` would, without running: the command's name and its params."""
    try:
        group = cli.make_context("inspector", list(args), resilient_parsing=False)
    except click.exceptions.Exit as done:
        if done.exit_code == 0:
            return "inspector", {}  # an eager option of the group itself: --version, --help
        raise
    name = args[len(args) - len(group.args) - 1]
    command = cli.get_command(group, name)
    if command is None:
        raise click.UsageError(f"no command {name!r}")
    ctx = command.make_context(name, list(group.args), parent=group, resilient_parsing=False)
    return name, ctx.params


DOC_COMMANDS = _commands(DOC)
README_COMMANDS = _commands(README)


def test_the_doc_shows_every_step_the_text_describes():
    """The jobs audit with SARIF, JUnit and the Dockerfile; a baseline is written and used."""
    lines = [" ".join(args) for args in DOC_COMMANDS]
    assert any("-o sarif=" in line and "--dockerfile" in line for line in lines)
    assert any("-o junit=" in line for line in lines)
    assert any(line.startswith("baseline ") for line in lines)
    assert any("--baseline" in line for line in lines)
    assert any(args for args in README_COMMANDS), "the README's CI example is gone"


@pytest.mark.parametrize(
    "args",
    [*DOC_COMMANDS, *README_COMMANDS],
    ids=[" ".join(a) for a in [*DOC_COMMANDS, *README_COMMANDS]],
)
def test_every_documented_command_parses(args, tmp_path, monkeypatch):
    """Each command and option exists and takes the values given; -o names real formats."""
    # Files the commands name exist here, in case an option ever insists they do.
    monkeypatch.chdir(tmp_path)
    for word in args:
        if re.fullmatch(r"[\w.-]+\.(json|toml)|Dockerfile", word):
            (tmp_path / word).write_text("")
    try:
        name, params = _parse(args)
    except click.ClickException as exc:
        pytest.fail(f"`inspector {' '.join(args)}`: {exc.format_message()}")
    if name == "audit":
        for output in params["outputs"]:  # type: ignore[union-attr]
            fmt, _, target = str(output).partition("=")
            assert fmt in {*FORMATS, *SBOM_FORMATS}, output
            assert target, output


def test_the_parser_check_rejects_what_the_cli_does_not_have():
    """The check above fails on an unknown option or command, so it can catch drift."""
    with pytest.raises(click.NoSuchOption):
        _parse(["audit", "app:1", "--upload-sarif"])
    with pytest.raises(click.UsageError):
        _parse(["sign-off", "app:1"])


def test_jobs_publish_the_files_inspector_writes():
    """The SARIF uploaded and the JUnit report published are the files the audit writes."""
    text = DOC.read_text(encoding="utf-8")
    written = {}
    for args in DOC_COMMANDS:
        for i, word in enumerate(args):
            if word in ("-o", "--output") and "=" in args[i + 1]:
                fmt, _, target = args[i + 1].partition("=")
                written[fmt] = target
    assert re.search(r"^\s*sarif_file: (\S+)$", text, re.M)[1] == written["sarif"]  # type: ignore[index]
    assert re.search(r"^\s*junit: (\S+)$", text, re.M)[1] == written["junit"]  # type: ignore[index]


def test_upload_sarif_step_runs_always_with_real_inputs():
    """The upload step runs after a failed gate and passes only inputs upload-sarif has."""
    lines = _blocks(DOC, "yaml")[0].splitlines()
    start = next(i for i, line in enumerate(lines) if "codeql-action/upload-sarif@v3" in line)
    step_start = max(i for i in range(start + 1) if lines[i].lstrip().startswith("- "))
    indent = len(lines[step_start]) - len(lines[step_start].lstrip())
    step = [lines[step_start]]
    for line in lines[step_start + 1 :]:
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        step.append(line)
    assert any(re.match(r"\s*if: always\(\)", line) for line in step)
    with_at = next(i for i, line in enumerate(step) if line.strip() == "with:")
    inputs = {line.split(":", 1)[0].strip() for line in step[with_at + 1 :] if line.strip()}
    assert inputs <= UPLOAD_SARIF_INPUTS
    assert {"sarif_file", "category"} <= inputs
    assert any(line.strip().startswith("security-events: write") for line in lines)


def test_the_policy_example_loads(tmp_path):
    """The TOML example is a policy the real loader accepts, with the values the text shows."""
    from checks import catalog
    from inspector.policy.config import load

    (example,) = _blocks(DOC, "toml")
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(example, encoding="utf-8")
    policy = load(pyproject, catalog())
    assert policy.fail_on == "medium"
    assert policy.ignore == ("image-stale",)
    assert policy.baseline == str(tmp_path / "inspector-baseline.json")
    assert policy.severity == {"PY001": "medium"}
    assert policy.thresholds.wasted_bytes == 50_000_000
    (ignore,) = policy.ignores
    assert (ignore.checks, ignore.images, ignore.expires) == (
        ("SEC001",), ("registry.example.com/legacy/*",), date(2027, 3, 31))  # fmt: skip
    assert ignore.reason
