"""Small readers of the facts JSON that many checks share (pure; missing keys read as absent)."""

from __future__ import annotations

from typing import Any

from checks.model import Facts, Location

MiB = 1024 * 1024
GiB = 1024 * MiB


def size(n: int) -> str:
    """Bytes for people, in binary units as counted: "3.0 GiB", "2.0 MiB", "512 KiB", "300 B"."""
    if n >= GiB:
        return f"{n / GiB:.1f} GiB"
    if n >= MiB:
        return f"{n / MiB:.1f} MiB"
    if n >= 1024:
        return f"{n / 1024:.0f} KiB"
    return f"{n} B"


def config(facts: Facts) -> dict[str, Any]:
    return facts.get("config") or {}


def env(facts: Facts) -> dict[str, str]:
    return config(facts).get("env") or {}


def argv(facts: Facts) -> list[str]:
    """ENTRYPOINT + CMD as Docker runs them."""
    cfg = config(facts)
    return list(cfg.get("entrypoint") or []) + list(cfg.get("cmd") or [])


def static_probe(facts: Facts) -> dict[str, Any] | None:
    """The static probe's facts when it ran, else None."""
    probe = (facts.get("runtime") or {}).get("static") or {}
    return probe if probe.get("status") == "ran" else None


def lifecycle(facts: Facts) -> dict[str, Any] | None:
    """The lifecycle probe's facts when it ran (not exited early), else None."""
    probe = (facts.get("runtime") or {}).get("lifecycle") or {}
    return probe if probe.get("status") == "ran" else None


def unconfirmed(facts: Facts) -> str:
    """Why the lifecycle probe could not confirm a finding read from the config, from what really
    happened to it, as a parenthesis to append; "" when it ran."""
    probe = (facts.get("runtime") or {}).get("lifecycle") or {}
    status = probe.get("status")
    if status == "ran":
        return ""
    if status == "exited-early":
        cause = probe.get("exit_cause") or {}
        if probe.get("oom_killed") or cause.get("kind") == "out-of-memory":
            return (" (the lifecycle probe ran it, but it was killed for memory before it could "
                    "be watched, so nothing confirmed it)")  # fmt: skip
        return " (the lifecycle probe ran it, but it exited before it could be watched)"
    if status == "could-not-start":
        return " (the lifecycle probe could not start the container to confirm it)"
    if status == "failed":
        return " (the lifecycle probe failed before it could confirm it)"
    return " (the lifecycle probe did not run to confirm it)"


def app_process(facts: Facts) -> dict[str, Any] | None:
    """The application process the lifecycle probe saw, else None."""
    life = lifecycle(facts)
    if not life:
        return None
    return next((p for p in life.get("processes") or [] if p.get("pid") == life.get("app_pid")),
                None)  # fmt: skip


def step(facts: Facts, layer: int | None) -> str | None:
    """The history step (`created_by`) that made a layer."""
    if layer is None:
        return None
    layers = facts.get("layers") or []
    return layers[layer].get("created_by") if 0 <= layer < len(layers) else None


def at_layer(facts: Facts, layer: int | None, path: str | None = None) -> Location:
    """A location in a layer, with the history step that made it."""
    return Location(layer=layer, created_by=step(facts, layer), path=path)


def probe_missing(which: str, status: str, why: str) -> str:
    """Why a check was skipped, short enough for one line: the cause of a probe that was not
    asked for is enough; one that failed also says so."""
    if status == "skipped":
        return f"needs {which}: {why}"
    return f"needs {which}, which {'is' if ' or ' not in which else 'are'} {status}: {why}"
