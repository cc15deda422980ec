"""The CLI's help text as one document: the README's usage block is generated from it."""

from __future__ import annotations

from click.testing import CliRunner

from inspector.cli.commands import cli

WIDTH = 100


def _help(*args: str) -> str:
    result = CliRunner().invoke(cli, [*args, "--help"], prog_name="inspector", terminal_width=WIDTH)
    if result.exit_code != 0:
        raise RuntimeError(f"inspector {' '.join(args)} --help failed: {result.output}")
    return result.output


def usage_text() -> str:
    """`inspector --help` followed by `inspector COMMAND --help` for every command."""
    parts = [f"$ inspector --help\n{_help()}"]
    parts += [f"$ inspector {name} --help\n{_help(name)}" for name in sorted(cli.commands)]
    return "\n".join(parts)
