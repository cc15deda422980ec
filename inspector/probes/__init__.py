"""Runtime probes: run the image, in hardened containers, to learn what it really does.

Two containers per image, no more: the static probe (the image's Python reports on itself) and
the lifecycle probe (the image started as a user would, watched, then stopped).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from inspector.probes.given import Given
from inspector.probes.limits import ProbeLimits, from_environment
from inspector.probes.model import RuntimeFacts, not_applicable
from inspector.probes.plan import ProbePlan

# Docker's architecture names for what the engine's `Arch` (Go's GOARCH) reports.
_SAME_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}


@dataclass(frozen=True)
class ProbeOptions:
    warmup: float = 3.0
    grace: float = 10.0
    timeout: float | None = None  # wall clock for the static probe; None: static.TIMEOUT
    limits: ProbeLimits = field(default_factory=from_environment)
    # What a deployment gives the app (--probe-env, --probe-env-file, --probe-memory).
    given: Given = field(default_factory=Given)


def probe(
    plan: ProbePlan, options: ProbeOptions, progress: Callable[[str], None] = lambda message: None
) -> RuntimeFacts:
    from inspector.probes import lifecycle, static
    from inspector.sources.daemon import connect

    client = connect()
    try:
        engine_arch = str(client.version().get("Arch") or "")
        engine_arch = _SAME_ARCH.get(engine_arch, engine_arch)
        if plan.architecture and engine_arch and plan.architecture != engine_arch:
            return not_applicable(
                f"the image is built for {plan.architecture} and the engine runs {engine_arch}"
            )
        progress("static probe")
        found = static.run(client, plan, options.timeout or static.TIMEOUT, options.limits,
                           given=options.given)  # fmt: skip
        progress(f"lifecycle probe ({options.warmup:g}s warm-up)")
        watched = lifecycle.run(client, plan, options.warmup, options.grace, limits=options.limits,
                                given=options.given)  # fmt: skip
        cause = watched.exit_cause
        if cause is not None and cause.kind == "missing-module":
            # Where the missing module does live: another venv, a --user or --prefix tree.
            elsewhere = plan.installed_elsewhere(cause.subject, found.sys_path)
            watched = replace(watched, exit_cause=replace(cause, found_elsewhere=elsewhere))
        # The values given to the probes never reach the facts, whatever the app printed.
        return options.given.mask(RuntimeFacts(found, watched))
    finally:
        client.close()
