"""The command line: parse, call, render, exit. Exit 2 whenever the tool could not do its job."""

from __future__ import annotations

import json
import sys

import click

from inspector import __version__
from inspector.errors import InspectorError
from inspector.sources import PULL_POLICIES

EXIT_ERROR = 2


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="inspector")
def cli() -> None:
    """Audit built Python container images for production readiness."""


@cli.command()
@click.argument("ref")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="A readable summary, or versioned JSON (documented in docs/facts.md).",
)
@click.option(
    "--pull",
    type=click.Choice(PULL_POLICIES),
    default="never",
    show_default=True,
    help="When to pull REF through the daemon (with your Docker credentials).",
)
@click.option("--no-cache", is_flag=True, help="Read every layer, ignoring the layer cache.")
def facts(ref: str, fmt: str, pull: str, no_cache: bool) -> None:
    """Print what is known about an image: config, layers, files, OS, Python, caches, secrets.

    REF is a local image (tag, ID or digest), docker-archive:PATH (docker save output),
    oci-archive:PATH, or oci:DIR. Each layer is read once; results are cached per layer.
    """
    from inspector.facts import collect

    try:
        doc = collect(ref, pull=pull, use_cache=not no_cache, progress=progress_printer()).to_json()
    finally:
        if sys.stderr.isatty():
            click.echo("\r\033[K", err=True, nl=False)  # leave no progress line behind
    if fmt == "json":
        click.echo(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False, default=str))
    else:
        from inspector.facts_text import render

        click.echo(render(doc))


def progress_printer():  # type: ignore[no-untyped-def]
    """Progress on stderr only when a person watches it."""
    if not sys.stderr.isatty():
        return lambda message: None
    return lambda message: click.echo(f"\r\033[K{message}", err=True, nl=False)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code instead of exiting (tests call this)."""
    try:
        result = cli.main(args=argv, prog_name="inspector", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return EXIT_ERROR
    except click.Abort:
        click.echo("inspector: aborted", err=True)
        return 130
    except InspectorError as exc:
        click.echo(f"inspector: error: {exc}", err=True)
        return EXIT_ERROR
    return result if isinstance(result, int) else 0


def run() -> None:
    sys.exit(main())
