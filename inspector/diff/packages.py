"""Packages: OS packages and Python distributions added, removed, upgraded or downgraded in their
ecosystem's own version order, the interpreter, and known vulnerabilities introduced or fixed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from inspector.advisories.versions import compare
from inspector.diff.model import (
    ADDED,
    CHANGED,
    DOWNGRADED,
    REMOVED,
    UPGRADED,
    EnvironmentDiff,
    PackagesDiff,
    VersionChange,
    VulnerabilitiesDiff,
    VulnerabilityChange,
)

# The OSV ecosystem whose version order each package database follows.
_ORDER = {"dpkg": "Debian", "apk": "Alpine"}
_PYTHON_KINDS = ("dist-info", "egg-info")
_SEVERITY_ORDER = ("critical", "high", "medium", "low", "unknown")


def packages_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> PackagesDiff:
    return PackagesDiff(
        os=version_changes(_os_packages(old), _os_packages(new)),
        python=python_diff(old, new),
        interpreter=interpreter_change(old, new),
        vulnerabilities=vulnerabilities_diff(
            old.get("vulnerabilities"), new.get("vulnerabilities")
        ),
    )


def _os_packages(doc: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """name -> (version, ecosystem whose order applies); name:arch where a name repeats."""
    packages = (doc.get("os_packages") or {}).get("packages") or ()
    names = [p["name"] for p in packages]
    out = {}
    for p in packages:
        key = p["name"] if names.count(p["name"]) == 1 else f"{p['name']}:{p.get('architecture')}"
        out[key] = (p.get("version") or "", _ORDER.get(p.get("manager") or "", ""))
    return out


def version_changes(
    old: Mapping[str, tuple[str, str]], new: Mapping[str, tuple[str, str]]
) -> tuple[VersionChange, ...]:
    """Per name: added, removed, or moved up or down in its ecosystem's order ("changed" when
    the order is unknown or the versions do not parse)."""
    out = []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        if before is None and after is not None:
            out.append(VersionChange(name, ADDED, None, after[0]))
        elif after is None and before is not None:
            out.append(VersionChange(name, REMOVED, before[0], None))
        elif before is not None and after is not None and before[0] != after[0]:
            out.append(VersionChange(name, _direction(after[1], before[0], after[0]),
                                     before[0], after[0]))  # fmt: skip
    return tuple(out)


def _direction(ecosystem: str, before: str, after: str) -> str:
    try:
        order = compare(ecosystem, after, before)
    except ValueError:  # an ecosystem whose order we do not know
        return CHANGED
    return UPGRADED if order > 0 else DOWNGRADED if order < 0 else CHANGED


def _distributions(doc: Mapping[str, Any]) -> dict[str, dict[str, tuple[str, str]]]:
    """environment -> name -> (version, "PyPI"): the installed (not deleted) distributions."""
    out: dict[str, dict[str, tuple[str, str]]] = {}
    for c in (doc.get("inventory") or {}).get("components") or ():
        if c.get("kind") in _PYTHON_KINDS and not c.get("deleted") and c.get("environment"):
            out.setdefault(c["environment"], {})[c["name"]] = (c.get("version") or "", "PyPI")
    return out


def python_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[EnvironmentDiff, ...]:
    """Per site-packages dir, the command's own first (in its import path's order)."""
    before, after = _distributions(old), _distributions(new)
    path: Sequence[str] = _import_path(new) or _import_path(old)
    rank = {p: i for i, p in enumerate(path)}
    out = []
    for env in sorted(set(before) | set(after), key=lambda e: (rank.get(e, len(rank)), e)):
        changes = version_changes(before.get(env, {}), after.get(env, {}))
        if changes:
            out.append(EnvironmentDiff(env, env in rank, changes))
    return tuple(out)


def _import_path(doc: Mapping[str, Any]) -> list[str]:
    """The command's sys.path: the static probe's when it ran, else the layers'."""
    static = (doc.get("runtime") or {}).get("static") or {}
    if static.get("status") == "ran" and static.get("sys_path"):
        return list(static["sys_path"])
    return list((doc.get("inventory") or {}).get("import_path") or ())


def interpreter_version(doc: Mapping[str, Any]) -> str | None:
    """The version of the Python the command runs: the static probe's exact one, else what the
    layers tell of the command's interpreter, else the only interpreter's."""
    static = (doc.get("runtime") or {}).get("static") or {}
    if static.get("status") == "ran" and static.get("python_version"):
        return str(static["python_version"])
    python = doc.get("python") or {}
    command = python.get("entrypoint_interpreter") or {}
    if command.get("version"):
        return str(command["version"])
    interpreters = python.get("interpreters") or ()
    versions = {i.get("version") for i in interpreters if i.get("version")}
    return str(versions.pop()) if len(versions) == 1 else None


def interpreter_change(old: Mapping[str, Any], new: Mapping[str, Any]) -> VersionChange | None:
    before, after = interpreter_version(old), interpreter_version(new)
    if before == after:
        return None
    if before is None or after is None:
        return VersionChange("python", ADDED if before is None else REMOVED, before, after)
    return VersionChange("python", _direction("PyPI", before, after), before, after)


def _vulnerability_key(match: Mapping[str, Any]) -> tuple[str, str, str, str]:
    where = match.get("environment") or match.get("path") or ""
    return (match.get("id") or "", match.get("ecosystem") or "", match.get("package") or "", where)


def _change(match: Mapping[str, Any]) -> VulnerabilityChange:
    return VulnerabilityChange(
        match.get("id") or "", match.get("severity") or "unknown", match.get("ecosystem") or "",
        match.get("package") or "", match.get("installed") or "", match.get("fixed"),
        match.get("environment") or match.get("path"),
    )  # fmt: skip


def vulnerabilities_diff(old: Any, new: Any) -> VulnerabilitiesDiff:
    """Matches only NEW has (introduced) and only OLD has (fixed), by vulnerability, package
    and where it sits; compared only when both images were matched."""
    for name, section in (("OLD", old), ("NEW", new)):
        if not isinstance(section, Mapping) or section.get("status") != "matched":
            status = section.get("status") if isinstance(section, Mapping) else "absent"
            return VulnerabilitiesDiff(False, f"{name}'s vulnerabilities were not matched "
                                              f"({status})")  # fmt: skip
    before = {_vulnerability_key(m): m for m in old.get("matches") or ()}
    after = {_vulnerability_key(m): m for m in new.get("matches") or ()}

    def ordered(keys: set[tuple[str, str, str, str]], matches: Mapping[Any, Any]) -> tuple:
        changes = [_change(matches[k]) for k in keys]
        return tuple(sorted(changes, key=lambda c: (_severity_rank(c.severity), c.package, c.id)))

    return VulnerabilitiesDiff(True, None, ordered(set(after) - set(before), after),
                               ordered(set(before) - set(after), before))  # fmt: skip


def _severity_rank(severity: str) -> int:
    return _SEVERITY_ORDER.index(severity) if severity in _SEVERITY_ORDER else len(_SEVERITY_ORDER)
