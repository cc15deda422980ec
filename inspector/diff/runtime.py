"""The runtime facts that moved, when the lifecycle probe ran on both images: the effective UID
of the app, what PID 1 is, how it stopped and in how long, what it listens on, how it started."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inspector.diff.model import ADDED, CHANGED, REMOVED, RuntimeDiff, ValueChange

# Stop times differ by a fraction of a second between two runs of one image: a move smaller
# than this is noise, not a change a release manager should read about.
STOP_NOISE_SECONDS = 1.0
_PROBED = ("ran", "exited-early", "could-not-start")


def runtime_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> RuntimeDiff:
    before = (old.get("runtime") or {}).get("lifecycle") or {}
    after = (new.get("runtime") or {}).get("lifecycle") or {}
    for name, section in (("OLD", before), ("NEW", after)):
        if section.get("status") not in _PROBED:
            why = section.get("reason") or section.get("status") or "no runtime facts"
            return RuntimeDiff(False, f"{name} was not probed: {why}")
    a, b = _facts(before), _facts(after)
    changes = []
    for name in a:
        if a[name] == b[name]:
            continue
        if name == "stop_seconds" and a[name] is not None and b[name] is not None \
                and abs(float(a[name]) - float(b[name])) < STOP_NOISE_SECONDS:  # fmt: skip
            continue
        how = ADDED if a[name] is None else REMOVED if b[name] is None else CHANGED
        changes.append(ValueChange(name, how, _text(a[name]), _text(b[name])))
    return RuntimeDiff(True, None, tuple(changes))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _facts(section: Mapping[str, Any]) -> dict[str, Any]:
    """The facts compared, by the name the diff gives them."""
    cause = section.get("exit_cause") or {}
    startup = section.get("status")
    if cause.get("kind"):
        startup = f"{startup}: {cause['kind']} ({cause.get('verdict')})"
    listening = sorted(
        f"{s.get('protocol')} {s.get('address')}:{s.get('port')}"
        for s in section.get("listening") or ()
    )
    return {
        "startup": startup,
        "effective_uid": _app_euid(section),
        "pid1": section.get("pid1_kind"),
        "pid1_cmdline": " ".join(section.get("pid1_cmdline") or ()) or None,
        "listening": ", ".join(listening) or None,
        "stopped_by": section.get("stopped_by"),
        "stop_seconds": section.get("stop_seconds"),
    }


def _app_euid(section: Mapping[str, Any]) -> int | None:
    app = section.get("app_pid")
    for process in section.get("processes") or ():
        if process.get("pid") == app:
            return process.get("euid")
    return None
