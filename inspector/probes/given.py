"""What the user gives the probes that a deployment gives the app: settings and memory.

An app that waits for its configuration (DATABASE_URL, an API key) or needs more memory than the
probes' default limit is inconclusive when probed bare. `--probe-env`, `--probe-env-file` and
`--probe-memory` hand both probe containers what `docker run -e`/`--env-file`/`-m` would.

The values are treated as secrets: never in a repr, and every value of four characters or more
is masked wherever the probes' results could carry it (the app's log, a process's command line,
an exit message) before those results become facts, so no report, facts file or scan store holds
it. Shorter values (`1`, `dev`) are left alone: masking them would garble every number.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from inspector.errors import InspectorError
from inspector.layers.limits import parse_size

MiB = 1024 * 1024
MEMORY = 512 * MiB  # the default limit: enough for a Python web app to start
# Docker refuses a memory limit under 6 MiB; a probe needs far more to start Python at all.
MIN_MEMORY = 32 * MiB
MASKED_FROM = 4  # characters: shorter values are not masked (see the module's docstring)
_NAME = re.compile(r"[^\s=]+")

T = TypeVar("T")


class GivenError(InspectorError):
    """A --probe-env, --probe-env-file or --probe-memory value that cannot be used."""


@dataclass(frozen=True)
class Given:
    # (name, value) in the order given, a later name replacing an earlier one as docker does.
    env: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    memory: int = MEMORY  # bytes, for both probe containers (swap included: no swap)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.env)

    def container_options(self) -> dict[str, Any]:
        """What `containers.create` passes to the engine for these settings."""
        return {
            "mem_limit": self.memory,
            "memswap_limit": self.memory,
            # None: the image's own env only; nothing of ours leaks in unless given.
            "environment": dict(self.env) or None,
        }

    def mask(self, value: T) -> T:
        """`value` (probe results: dataclasses, tuples, dicts, strings) with every given value
        replaced by `<probe-env NAME>`."""
        secrets = sorted(((v, n) for n, v in self.env if len(v) >= MASKED_FROM),
                         key=lambda pair: -len(pair[0]))  # fmt: skip
        if not secrets:
            return value
        return _mask(value, secrets)  # type: ignore[no-any-return]


def _mask(value: Any, secrets: list[tuple[str, str]]) -> Any:
    if isinstance(value, str):
        for secret, name in secrets:
            if secret in value:
                value = value.replace(secret, f"<probe-env {name}>")
        return value
    if isinstance(value, tuple):
        return tuple(_mask(item, secrets) for item in value)
    if isinstance(value, list):
        return [_mask(item, secrets) for item in value]
    if isinstance(value, dict):
        return {key: _mask(item, secrets) for key, item in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changed = {f.name: _mask(getattr(value, f.name), secrets)
                   for f in dataclasses.fields(value) if f.init}  # fmt: skip
        return dataclasses.replace(value, **changed)
    return value


def parse(pairs: Iterable[str] = (), files: Iterable[str] = (), memory: str | None = None,
          environ: Mapping[str, str] | None = None) -> Given:  # fmt: skip
    """The settings from `--probe-env KEY=VAL` (repeatable), `--probe-env-file FILE`
    (docker's env-file format) and `--probe-memory SIZE`. Errors name the option and the item,
    never a value."""
    host = os.environ if environ is None else environ
    env: dict[str, str] = {}
    for path in files:
        for number, line in enumerate(_lines(path), 1):
            _add(env, line, host, f"--probe-env-file {path}, line {number}")
    for index, item in enumerate(pairs, 1):
        _add(env, item, host, f"--probe-env #{index}")
    return Given(tuple(env.items()), _memory(memory))


def _lines(path: str) -> list[str]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise GivenError(f"--probe-env-file {path}: cannot read it: {reason}") from exc
    # As `docker run --env-file`: blank lines and lines starting with # are skipped.
    return [
        line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]


def _add(env: dict[str, str], item: str, host: Mapping[str, str], where: str) -> None:
    name, equals, value = item.partition("=")
    name = name.strip() if not equals else name.lstrip()
    if not _NAME.fullmatch(name):
        # The item may be a value typed without its name: never echo it.
        raise GivenError(f"{where}: expected KEY=VALUE (or KEY, taken from this environment) "
                         "with a KEY of no spaces")  # fmt: skip
    if equals:
        env.pop(name, None)  # a later setting moves to the end, as it is the one that counts
        env[name] = value
    elif name in host:
        # As docker does: a bare KEY passes this environment's value; an unset one, nothing.
        env.pop(name, None)
        env[name] = host[name]


def _memory(text: str | None) -> int:
    if text is None:
        return MEMORY
    size = parse_size(text)
    if size is None:
        raise GivenError(f"--probe-memory {text!r}: not a size (512MiB, 2g, 1073741824)")
    if size < MIN_MEMORY:
        raise GivenError(f"--probe-memory {text!r}: at least {MIN_MEMORY // MiB} MiB is needed "
                         "to start Python")  # fmt: skip
    return size


def shown_memory(size: int) -> str:
    """512 MiB, 2 GiB: the limit as the probes' messages say it."""
    if size % (1024 * MiB) == 0:
        return f"{size // (1024 * MiB)} GiB"
    if size % MiB == 0:
        return f"{size // MiB} MiB"
    return f"{size} bytes"
