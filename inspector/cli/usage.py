"""The CLI's help text as one document: the README's usage block is generated from it."""

from __future__ import annotations

import click
from click.testing import CliRunner

from inspector.cli.commands import cli

WIDTH = 100


def _help(*args: str) -> str:
    result = CliRunner().invoke(cli, [*args, "--help"], prog_name="inspector", terminal_width=WIDTH)
    if result.exit_code != 0:
        raise RuntimeError(f"inspector {' '.join(args)} --help failed: {result.output}")
    return result.output


def usage_text() -> str:
    """`inspector --help` followed by `inspector COMMAND --help` for every command, and
    `inspector GROUP SUBCOMMAND --help` for the subcommands of a group (`db update`)."""
    parts = [f"$ inspector --help\n{_help()}"]
    for name in sorted(cli.commands):
        parts.append(f"$ inspector {name} --help\n{_help(name)}")
        command = cli.commands[name]
        if isinstance(command, click.Group):
            for sub in sorted(command.commands):
                parts.append(f"$ inspector {name} {sub} --help\n{_help(name, sub)}")
    return "\n".join(parts)
