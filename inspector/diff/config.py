"""The config's changes: USER, ENTRYPOINT/CMD, WORKDIR, STOPSIGNAL, HEALTHCHECK, ENV, labels,
exposed ports and volumes. ENV and label values of secret-looking names are never shown."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from inspector.analysers.secrets import secret_name
from inspector.diff.model import ADDED, CHANGED, REMOVED, ConfigDiff, SetChange, ValueChange

# The facts mark a value the secrets analyser flagged this way (inspector/facts/collect.py).
_REDACTED = "<redacted:"
# The scalar fields compared, as the Dockerfile instructions name them.
_FIELDS = (
    ("USER", "user"),
    ("ENTRYPOINT", "entrypoint"),
    ("CMD", "cmd"),
    ("WORKDIR", "workdir"),
    ("STOPSIGNAL", "stop_signal"),
    ("HEALTHCHECK", "healthcheck"),
)


def shown(value: Any) -> str | None:
    """A config value as the diff shows it: text as is, lists and objects as compact JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def config_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> ConfigDiff:
    """What moved between two facts' `config` sections."""
    changes = []
    for name, key in _FIELDS:
        before, after = shown(_normal(key, old.get(key))), shown(_normal(key, new.get(key)))
        if before != after:
            changes.append(ValueChange(name, _how(before, after), before, after))
    return ConfigDiff(
        changes=tuple(changes),
        env=named_changes(old.get("env") or {}, new.get("env") or {}),
        labels=named_changes(old.get("labels") or {}, new.get("labels") or {}),
        exposed_ports=set_change(old.get("exposed_ports"), new.get("exposed_ports")),
        volumes=set_change(old.get("volumes"), new.get("volumes")),
    )


def _normal(key: str, value: Any) -> Any:
    """Unset and empty mean the same to the engine: no USER is root, no WORKDIR is `/`."""
    if key in ("user", "workdir") and not value:
        return None
    return value


def _how(before: object, after: object) -> str:
    if before is None:
        return ADDED
    return REMOVED if after is None else CHANGED


def hidden(name: str, *values: str | None) -> bool:
    """A value never shown: its name says it is a secret, or the facts already redacted it."""
    return secret_name(name) or any(v is not None and v.startswith(_REDACTED) for v in values)


def named_changes(old: Mapping[str, str], new: Mapping[str, str]) -> tuple[ValueChange, ...]:
    """ENV or labels added, removed and changed, by name; secret-looking values hidden."""
    out = []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        if hidden(name, before, after):
            out.append(ValueChange(name, _how(before, after), None, None, hidden=True))
        else:
            out.append(ValueChange(name, _how(before, after), before, after))
    return tuple(out)


def set_change(old: Any, new: Any) -> SetChange:
    before, after = set(old or ()), set(new or ())
    return SetChange(tuple(sorted(after - before)), tuple(sorted(before - after)))
