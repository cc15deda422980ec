"""The static probe's report, held to the types our script writes before anything reads it.

The report is printed by the image's own interpreter, after code of the image's (sitecustomize,
.pth files) has run: it is untrusted JSON like any image data. A field of the wrong type is
dropped and named in `errors`; strings and lists are cut to sizes no honest report reaches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

TEXT_LIMIT = 4096
LIST_LIMIT = 10_000
DISTRIBUTIONS_LIMIT = 20_000

Checker = Callable[[Any], Any]


class WrongType(ValueError):
    pass


def _name(value: Any) -> str:
    kinds = {bool: "a boolean", int: "a number", float: "a number", str: "a string",
             list: "a list", dict: "an object", type(None): "null"}  # fmt: skip
    return kinds.get(type(value), type(value).__name__)


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise WrongType(f"{_name(value)}, not a whole number")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise WrongType(f"{_name(value)}, not true or false")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise WrongType(f"{_name(value)}, not a string")
    return value[:TEXT_LIMIT]


def _list_of(item: Checker, limit: int = LIST_LIMIT) -> Checker:
    def check(value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise WrongType(f"{_name(value)}, not a list")
        return [item(v) for v in value[:limit]]

    return check


def _map_of(item: Checker) -> Checker:
    def check(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise WrongType(f"{_name(value)}, not an object")
        return {_text(k): item(v) for k, v in list(value.items())[:LIST_LIMIT]}

    return check


def _distribution(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WrongType(f"a distribution is {_name(value)}, not an object")
    return {
        "name": _text(value.get("name")),
        "version": _optional(_text)(value.get("version")),
        "requires": _list_of(_text)(value.get("requires") or []),
        "location": _text(value.get("location") or ""),
    }


def _imports(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WrongType(f"{_name(value)}, not an object")
    return value  # static.import_check reads each of its fields defensively


def _optional(check: Checker) -> Checker:
    return lambda value: None if value is None else check(value)


FIELDS: dict[str, Checker] = {
    "probe_version": _int,
    "uid": _int,
    "gid": _int,
    "euid": _int,
    "egid": _int,
    "groups": _list_of(_int),
    "user_name": _optional(_text),
    "passwd_entry": _bool,
    "passwd_home": _optional(_text),
    "home": _optional(_text),
    "cwd": _optional(_text),
    "python_version": _text,
    "sys_version": _text,
    "implementation": _text,
    "executable": _optional(_text),
    "prefix": _text,
    "base_prefix": _text,
    "dont_write_bytecode": _bool,
    "optimize": _int,
    "utf8_mode": _bool,
    "faulthandler": _bool,
    "stdout_write_through": _optional(_bool),
    "stdout_line_buffering": _optional(_bool),
    "filesystem_encoding": _optional(_text),
    "stdout_encoding": _optional(_text),
    "preferred_encoding": _optional(_text),
    "marker_environment": _optional(_map_of(_text)),
    "site_packages": _list_of(_text),
    "app_dir": _optional(_text),
    "writable": _map_of(_bool),
    "distributions": _optional(_list_of(_distribution, DISTRIBUTIONS_LIMIT)),
    "ca_bundle": _optional(_text),
    "timezone_data": _optional(_bool),
    "sys_path": _list_of(_text),
    "imports": _optional(_imports),
    "app_sources": _optional(_imports),  # static.app_sources reads its fields defensively
    "errors": _list_of(_text, 100),
}


def typed(doc: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The report with every known field of the right type (others dropped), and what was
    wrong, as "uid: a string, not a whole number"."""
    out: dict[str, Any] = {}
    wrong: list[str] = []
    for key, check in FIELDS.items():
        if key not in doc:
            continue
        try:
            out[key] = check(doc[key])
        except WrongType as exc:
            wrong.append(f"{key}: {exc} (dropped)")
    return out, tuple(wrong)
