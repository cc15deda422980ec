"""The policy a repository keeps: `[tool.inspector]` in pyproject.toml or `.inspector.toml`.

Found upward from the working directory (the nearest `.inspector.toml`, or the nearest
pyproject.toml that has a `[tool.inspector]` table), or given with `--config`. Every key is
validated: a typo in a gate's policy must stop the gate (exit 2 naming the file and the key), not
silently loosen it. docs/config.md documents each key.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from checks.model import SEVERITIES, Check, Thresholds
from inspector.errors import InspectorError

OWN_FILE = ".inspector.toml"
PYPROJECT = "pyproject.toml"

# What each key means: validation knows the keys from here, and docs/config.md is generated
# from it (scripts/gen_config_doc.py), so the reference cannot drift from the parser.
# key -> (type, default, description)
TOP_KEYS = {
    "select": (
        "list of check ids, names or categories",
        "every check",
        "Run only these checks. `--select` on the command line replaces it.",
    ),
    "ignore": (
        "list of check ids, names or categories",
        "none",
        "Do not run these checks. `--ignore` on the command line adds to it.",
    ),
    "fail-on": (
        "severity",
        '"high"',
        "Exit 1 when a finding that counts has this severity or above. `--fail-on` replaces it.",
    ),
    "baseline": (
        "path",
        "none",
        "A baseline file (written by `inspector baseline`), relative to this file: "
        "the findings it lists do not count. `--baseline` replaces it.",
    ),
    "severity": (
        "table: check id or name = severity",
        "none",
        "Give a check's findings another severity (the gate and every report use it).",
    ),
    "thresholds": ("table", "see below", "Limits the checks compare against."),
    "ignores": (
        "array of tables",
        "none",
        "Accepted findings, each with a reason and optionally an expiry date.",
    ),
    "expect": (
        "list of paths",
        "none",
        "Expectation files (container-structure-test YAML, schemaVersion 2.0.0; "
        "docs/expectations.md), relative to this file: `audit`, `baseline` and `scan` judge "
        "every image against them (check COR030). `--expect` adds to them.",
    ),
    "inconclusive": (
        '"pass" or "fail"',
        '"pass"',
        "What an inconclusive start means for the gate: the probes could not judge the app "
        "(it waited for configuration or a service, or was killed for the probes' memory "
        'limit). "fail" makes it fail the gate (exit 1, a failed case in JUnit), so a release is '
        "never signed off on an app nobody saw start; give the probes what the app needs with "
        "`--probe-env`, `--probe-env-file` and `--probe-memory`.",
    ),
    "max-db-age": (
        "number of days",
        "7",
        "Every report warns when the advisory database the vulnerabilities were matched "
        "against is older than this (`inspector db update` refreshes it). `--max-db-age` "
        "replaces it.",
    ),
}
DEFAULT_MAX_DB_AGE = 7
INCONCLUSIVE = ("pass", "fail")
# key -> (Thresholds field, description); defaults come from checks.model.Thresholds
THRESHOLD_KEYS = {
    "image-age-days": (
        "image_age_days",
        "Days after which an image is stale and should be rebuilt.",
    ),
    "wasted-bytes": (
        "wasted_bytes",
        "Bytes shipped but not visible (deleted or overwritten by a later layer) "
        'before SIZE reports them; a number or a size such as "50MB", "20MiB".',
    ),
    "size-floor": (
        "size_floor",
        "Bytes under which the size checks (SIZE001-SIZE003, SIZE021, SIZE022) report nothing: "
        "a cache, leftover or re-added copy smaller than this is not worth a rebuild; a number "
        'or a size such as "1MiB", "500KB".',
    ),
    "efficiency": (
        "efficiency",
        "Lowest visible / (visible + wasted) bytes, a fraction (dive's lowestEfficiency).",
    ),
    "user-wasted-percent": (
        "user_wasted_percent",
        "Highest share of wasted bytes in layers above the base, a fraction "
        "(dive's highestUserWastedPercent).",
    ),
    "stop-seconds": (
        "stop_seconds",
        "Seconds the image may take to stop after its stop signal before the "
        "slow-stop check reports it.",
    ),
    "package-lag-days": (
        "package_lag_days",
        "Days the layer that last updated the OS packages may be older than the image "
        "before SEC025 reports them not updated.",
    ),
}
# key -> (type, required, description)
IGNORE_KEYS = {
    "checks": (
        "list of check ids, names or categories",
        True,
        "What this entry accepts (optional with `vulnerabilities`: then any check's findings "
        "of those vulnerabilities).",
    ),
    "vulnerabilities": (
        "list of vulnerability ids (glob patterns)",
        False,
        'Only findings of these known vulnerabilities: "CVE-2024-6345", "GHSA-*"; any alias '
        "of a finding's vulnerability matches (its CVE, GHSA, PYSEC, DSA, ... ids). With a "
        'reason, this is a VEX-like "not affected, because ...".',
    ),
    "reason": ("string", True, "Why it is accepted: shown next to every finding it accepts."),
    "images": (
        "list of glob patterns",
        False,
        "References it applies to, matched against the reference as given (default "
        '["*"]): "registry.example/legacy/*", "app:1.*".',
    ),
    "rules": (
        "list of glob patterns",
        False,
        "Only findings of these rules of a check (the report's `rule`, e.g. a secret's kind: "
        '"jwt", "password-*"; a known vulnerability\'s id, its aliases matching too); a finding '
        "without a rule never matches.",
    ),
    "paths": (
        "list of glob patterns",
        False,
        "Only findings at these paths in the image (a finding without a path never matches).",
    ),
    "expires": (
        "date",
        False,
        "After this day (2027-03-31) the entry accepts nothing and every run says "
        "so, so that accepted risk is reviewed.",
    ),
}
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9,
          "kib": 2**10, "mib": 2**20, "gib": 2**30}  # fmt: skip
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.I)


class ConfigError(InspectorError):
    """The policy file cannot be used; the message names the file, the key and the problem."""


@dataclass(frozen=True)
class Ignore:
    """Findings of `checks` on images matching `images` (and `paths`) are accepted, for a reason."""

    checks: tuple[str, ...]  # ids, names or categories
    reason: str
    images: tuple[str, ...] = ("*",)  # glob patterns against the reference as given
    paths: tuple[str, ...] = ()  # glob patterns against the finding's path; empty: any
    rules: tuple[str, ...] = ()  # glob patterns against the finding's rule; empty: any
    expires: date | None = None
    # Glob patterns against a finding's vulnerability id and its aliases; empty: any finding.
    vulnerabilities: tuple[str, ...] = ()
    source: str = ""  # "pyproject.toml: ignores[0]", for messages

    def expired(self, today: date) -> bool:
        return self.expires is not None and today > self.expires


@dataclass(frozen=True)
class Policy:
    source: str | None = None  # the file it came from, None: defaults
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    fail_on: str | None = None
    baseline: str | None = None  # resolved against the file's directory
    severity: Mapping[str, str] = field(default_factory=dict)  # check id -> severity
    thresholds: Thresholds = field(default_factory=Thresholds)
    ignores: tuple[Ignore, ...] = ()
    max_db_age: int | None = None  # days; None: the default (DEFAULT_MAX_DB_AGE)
    # Expectation files: (the path to read, resolved against the file; the name as written).
    expect: tuple[tuple[str, str], ...] = ()
    inconclusive: str = "pass"  # "fail": an inconclusive start fails the gate

    def override(self, checks: Iterable[Check]) -> list[Check]:
        """The checks with the policy's severities as their own."""
        return [replace(c, severity=self.severity.get(c.id, c.severity)) for c in checks]


def find(start: Path) -> Path | None:
    """The nearest policy file at or above `start`."""
    for directory in (start, *start.parents):
        own = directory / OWN_FILE
        if own.is_file():
            return own
        pyproject = directory / PYPROJECT
        if pyproject.is_file() and "inspector" in _read(pyproject).get("tool", {}):
            return pyproject
    return None


def load(path: Path | None, catalog: Mapping[str, Check], cwd: Path | None = None) -> Policy:
    """The policy in `path` (or found upward from `cwd`); the defaults when there is none."""
    if path is None:
        path = find((cwd or Path.cwd()).resolve())
        if path is None:
            return Policy()
    elif not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    data = _read(path)
    # pyproject.toml keeps it under [tool.inspector]; our own file at the top level.
    tool = data.get("tool")
    if isinstance(tool, dict) and "inspector" in tool:
        table, prefix = tool["inspector"], "[tool.inspector] "
    elif path.name == PYPROJECT:
        raise ConfigError(f"{path}: has no [tool.inspector] table")
    else:
        table, prefix = data, ""
    return _parse(table, _Where(str(path), prefix), path.parent, catalog)


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


@dataclass(frozen=True)
class _Where:
    file: str
    prefix: str

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.file}: {self.prefix}{key}: {problem}")


def _parse(table: Any, where: _Where, base: Path, catalog: Mapping[str, Check]) -> Policy:
    if not isinstance(table, dict):
        raise where.error("tool.inspector", "must be a table")
    known = set(TOP_KEYS)
    for key in table:
        if key not in known:
            raise where.error(key, f"unknown key (known: {', '.join(sorted(known))})")
    names = _names(catalog)
    baseline = table.get("baseline")
    if baseline is not None and (not isinstance(baseline, str) or not baseline):
        raise where.error("baseline", "must be a path (a string)")
    inconclusive = table.get("inconclusive", "pass")
    if inconclusive not in INCONCLUSIVE:
        raise where.error("inconclusive", f"{inconclusive!r} is not one of "
                          f"{', '.join(map(repr, INCONCLUSIVE))}")  # fmt: skip
    fail_on = table.get("fail-on")
    if fail_on is not None and fail_on not in SEVERITIES:
        raise where.error("fail-on", f"{fail_on!r} is not one of {', '.join(SEVERITIES)}")
    return Policy(
        source=where.file,
        select=_selection(table, "select", where, names),
        ignore=_selection(table, "ignore", where, names),
        fail_on=fail_on,
        baseline=str(base / baseline) if baseline else None,
        severity=_severities(table.get("severity", {}), where, catalog),
        thresholds=_thresholds(table.get("thresholds", {}), where),
        ignores=_ignores(table.get("ignores", []), where, names),
        max_db_age=_days(table.get("max-db-age"), "max-db-age", where),
        expect=tuple(
            (str(base / p), p) for p in _strings(table.get("expect", []), "expect", where)
        ),
        inconclusive=inconclusive,
    )


def _days(value: Any, key: str, where: _Where) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise where.error(key, f"{value!r} must be a whole number of days, 0 or more")
    return value


def _names(catalog: Mapping[str, Check]) -> set[str]:
    checks = catalog.values()
    return {c.id.lower() for c in checks} | {c.name for c in checks} | {c.category for c in checks}


def _strings(value: Any, key: str, where: _Where) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise where.error(key, "must be a list of strings")
    return tuple(value)


def _selection(table: dict[str, Any], key: str, where: _Where, names: set[str]) -> tuple[str, ...]:
    chosen = _strings(table.get(key, []), key, where)
    unknown = [name for name in chosen if name.lower() not in names]
    if unknown:
        raise where.error(key, f"no check or category called {', '.join(map(repr, unknown))} "
                          "(`inspector checks` lists them)")  # fmt: skip
    return chosen


def _severities(value: Any, where: _Where, catalog: Mapping[str, Check]) -> dict[str, str]:
    if not isinstance(value, dict):
        raise where.error("severity", "must be a table of check id = severity")
    by_name = {c.id.lower(): c.id for c in catalog.values()}
    by_name.update({c.name: c.id for c in catalog.values()})
    out = {}
    for key, severity in value.items():
        check_id = by_name.get(key.lower())
        if check_id is None:
            raise where.error(f"severity.{key}", "no such check (`inspector checks` lists them)")
        if severity not in SEVERITIES:
            raise where.error(f"severity.{key}",
                              f"{severity!r} is not one of {', '.join(SEVERITIES)}")  # fmt: skip
        out[check_id] = severity
    return out


def _thresholds(value: Any, where: _Where) -> Thresholds:
    if not isinstance(value, dict):
        raise where.error("thresholds", "must be a table")
    types = {f.name: f.type for f in fields(Thresholds)}
    changes: dict[str, Any] = {}
    for key, raw in value.items():
        if key not in THRESHOLD_KEYS:
            known = ", ".join(THRESHOLD_KEYS)
            raise where.error(f"thresholds.{key}", f"unknown threshold (known: {known})")
        name = THRESHOLD_KEYS[key][0]
        changes[name] = _threshold(raw, key, types[name], where)
    return replace(Thresholds(), **changes)


def _threshold(raw: Any, key: str, kind: Any, where: _Where) -> int | float:
    full = f"thresholds.{key}"
    if key in ("wasted-bytes", "size-floor") and isinstance(raw, str):
        match = _SIZE.match(raw)
        if not match or match.group(2).lower() not in _UNITS:
            raise where.error(full, f'{raw!r} is not a size (e.g. 20000000, "20MB", "50MiB")')
        return int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw < 0:
        raise where.error(full, f"{raw!r} must be a number, 0 or more")
    if key in ("efficiency", "user-wasted-percent") and raw > 1:
        raise where.error(full, f"{raw!r} is a fraction: between 0 and 1 (0.9 is 90%)")
    if kind in ("int", int):
        if raw != int(raw):
            raise where.error(full, f"{raw!r} must be a whole number")
        return int(raw)
    return float(raw)


def _ignores(value: Any, where: _Where, names: set[str]) -> tuple[Ignore, ...]:
    if not isinstance(value, list):
        raise where.error("ignores", "must be an array of tables ([[tool.inspector.ignores]])")
    return tuple(_ignore(entry, f"ignores[{i}]", where, names) for i, entry in enumerate(value))


def _ignore(entry: Any, key: str, where: _Where, names: set[str]) -> Ignore:
    if not isinstance(entry, dict):
        raise where.error(key, "must be a table with checks, reason and optionally images, "
                          "rules, paths, expires")  # fmt: skip
    known = set(IGNORE_KEYS)
    for name in entry:
        if name not in known:
            raise where.error(f"{key}.{name}",
                              f"unknown key (known: {', '.join(sorted(known))})")  # fmt: skip
    vulnerabilities = _strings(entry.get("vulnerabilities", []), f"{key}.vulnerabilities", where)
    if "checks" not in entry and not vulnerabilities:
        raise where.error(f"{key}.checks", "required: the check ids this ignore accepts "
                          "(or `vulnerabilities`: the vulnerability ids)")  # fmt: skip
    checks = _strings(entry.get("checks", []), f"{key}.checks", where)
    unknown = [name for name in checks if name.lower() not in names]
    if unknown:
        names_text = ", ".join(map(repr, unknown))
        raise where.error(f"{key}.checks", f"no check or category called {names_text}")
    reason = entry.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise where.error(f"{key}.reason", "required: say why these findings are accepted")
    return Ignore(
        checks=checks,
        reason=reason.strip(),
        images=_strings(entry.get("images", ["*"]), f"{key}.images", where),
        paths=_strings(entry.get("paths", []), f"{key}.paths", where),
        rules=_strings(entry.get("rules", []), f"{key}.rules", where),
        expires=_date(entry.get("expires"), f"{key}.expires", where),
        source=f"{where.file}: {where.prefix}{key}",
        vulnerabilities=vulnerabilities,
    )


def _date(value: Any, key: str, where: _Where) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise where.error(key, f"{value!r} is not a date (write it as 2027-03-31)")
