"""`--probe-env`, `--probe-env-file` and `--probe-memory`: what a deployment gives the app,
given to the probes (inspector/probes/given.py).

The three options are one decorator kept apart from commands.py: their values travel in the
click context, so every command that probes gets them without another parameter, and
`probe_options` builds the `ProbeOptions` they end up in.
"""

from __future__ import annotations

from typing import Any

import click

from inspector.probes import ProbeOptions
from inspector.probes.given import Given, parse

_KEY = "inspector.probe_settings"


def _keep(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    ctx.meta.setdefault(_KEY, {})[param.name] = value


def probe_setting_options(command):  # type: ignore[no-untyped-def]
    """The three options, in help order."""
    options = (
        click.option("--probe-env", multiple=True, metavar="KEY=VAL", expose_value=False,
                     callback=_keep, help="Give the probes this setting, as `docker run -e` "
                     "does (repeatable; a bare KEY passes this environment's value). For an app "
                     "that waits for its configuration. Values are never printed: a value of "
                     "four characters or more is masked in every output."),
        click.option("--probe-env-file", multiple=True, metavar="FILE", expose_value=False,
                     type=click.Path(dir_okay=False), callback=_keep,
                     help="Settings for the probes from FILE, in `docker run --env-file`'s "
                     "format (KEY=VAL lines, # comments); repeatable, --probe-env wins."),
        click.option("--probe-memory", metavar="SIZE", expose_value=False, callback=_keep,
                     help="The probes' memory limit (512MiB, 2GiB)  [default: 512MiB]; for an "
                     "app that needs more to start than the default."),
    )  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


def given() -> Given:
    """What this invocation gives the probes (the defaults outside a command)."""
    ctx = click.get_current_context(silent=True)
    kept = ctx.meta.get(_KEY, {}) if ctx is not None else {}
    return parse(kept.get("probe_env") or (), kept.get("probe_env_file") or (),
                 kept.get("probe_memory"))  # fmt: skip


def probe_options(warmup: float, grace: float) -> ProbeOptions:
    return ProbeOptions(warmup=warmup, grace=grace, given=given())
