"""The command line: parse, call, render, exit. Exit 2 whenever the tool could not do its job."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

import click
from tabulate import tabulate

from inspector import __version__
from inspector.errors import InspectorError
from inspector.image import ImageSummary

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
    help="A readable summary, or JSON for other tools.",
)
def facts(ref: str, fmt: str) -> None:
    """Print what an image declares: identity, config, and the history step of each layer.

    REF is a local image tag, ID or digest; nothing is pulled.
    """
    from inspector import daemon

    client = daemon.connect()
    try:
        summary = daemon.summarize(client, ref)
    finally:
        client.close()
    if fmt == "json":
        click.echo(json.dumps(asdict(summary), indent=2, sort_keys=True))
    else:
        click.echo(render_summary(summary))


def render_summary(s: ImageSummary) -> str:
    c = s.config
    rows = [
        ("image", s.id),
        ("tags", ", ".join(s.tags) or "(none)"),
        ("created", s.created),
        ("platform", f"{s.os}/{s.architecture}"),
        ("size", _mb(s.size)),
        ("user", c.user or "(unset: root)"),
        ("entrypoint", _argv(c.entrypoint, c.entrypoint_form)),
        ("cmd", _argv(c.cmd, c.cmd_form)),
        ("workdir", c.workdir or "(unset: /)"),
        ("healthcheck", " ".join(c.healthcheck.get("Test", [])) if c.healthcheck else "(none)"),
        ("stop signal", c.stop_signal or "(default: SIGTERM)"),
        ("exposed ports", ", ".join(c.exposed_ports) or "(none)"),
    ]
    parts = [tabulate(rows, tablefmt="plain")]
    if c.env:
        parts.append("env:\n" + tabulate(sorted(c.env.items()), tablefmt="plain"))
    if c.labels:
        parts.append("labels:\n" + tabulate(sorted(c.labels.items()), tablefmt="plain"))
    steps = [
        (i, _mb(h.size), _short(h.created_by) or "(not recorded)") for i, h in enumerate(s.history)
    ]
    parts.append(
        f"history ({len(s.layer_digests)} layers):\n"
        + tabulate(steps, headers=["step", "size", "created by"], tablefmt="simple")
    )
    return "\n\n".join(parts)


def _argv(argv: list[str] | None, form: str | None) -> str:
    if not argv:
        return "(none)"
    return f"{json.dumps(argv)}  [{form} form]"


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def _short(text: str, width: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


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
