"""What a probe container may take from the host beyond time and memory: its log and its disk.

An image we do not trust can print 400 MB/s or write 1.7 GB/s into its container filesystem;
the engine bounds neither by default. The log is bounded by the engine itself (json-file with
rotation, so only the newest part is kept); writes are measured while the app warms up and the
container is stopped as soon as they pass the limit. Both limits can be changed through the
environment (docs/limits.md), for apps that legitimately write more at start.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from docker.types import LogConfig

from inspector.errors import InspectorError
from inspector.layers.limits import parse_size

MiB = 1024 * 1024
# 16 MiB of log is about 100,000 lines: far more than any start-up needs, far less than a flood.
LOG_LIMIT = 16 * MiB
# 1 GiB covers an app that unpacks a model or builds a cache at start; a disk filler passes it
# in under a second, and the check is made several times a second.
WRITE_LIMIT = 1024 * MiB
LOG_ENV = "INSPECTOR_PROBE_LOG_LIMIT"
WRITE_ENV = "INSPECTOR_PROBE_WRITE_LIMIT"
# Rotation keeps two files of half the limit each: the engine never holds more than the limit,
# and a second file is the sign that the first one overflowed.
LOG_FILES = 2


@dataclass(frozen=True)
class ProbeLimits:
    log_bytes: int = LOG_LIMIT
    write_bytes: int = WRITE_LIMIT

    def log_config(self) -> LogConfig:
        per_file = max(1, self.log_bytes // LOG_FILES)
        return LogConfig(
            type=LogConfig.types.JSON,
            config={"max-size": str(per_file), "max-file": str(LOG_FILES)},
        )


def from_environment(environ: dict[str, str] | None = None) -> ProbeLimits:
    """The limits, with INSPECTOR_PROBE_LOG_LIMIT / _WRITE_LIMIT applied ("64MiB", "2G", 1000:
    sizes as every INSPECTOR_* limit takes them)."""
    env = os.environ if environ is None else environ
    return ProbeLimits(
        log_bytes=_size(env, LOG_ENV, LOG_LIMIT, minimum=2 * 1024),
        write_bytes=_size(env, WRITE_ENV, WRITE_LIMIT, minimum=1),
    )


def _size(env: os._Environ[str] | dict[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    value = parse_size(raw)
    if value is None or value < minimum:
        raise InspectorError(
            f"{name}={raw!r} is not a size of at least {minimum} bytes (e.g. 64MiB, 2GiB, 1000000)"
        )
    return value
