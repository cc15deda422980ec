"""The paths and JSON types of `inspector facts REF --format json`, derived from the model's types.

`schema()` walks the dataclasses from `Facts` down, but lays the analysers' results out the way
`Facts.to_json()` and `flatten_analysers()` do, so every path is one a consumer can read:

- `a.b` is key `b` of object `a`;
- `a[]` is an array of objects, and `a[].b` is key `b` of each of its items;
- an array of strings or numbers, and a map (`object of strings`), is one path, without `[]`.

Pure: it imports the analysers to read their annotations, and never touches an image or docker.
"""

from __future__ import annotations

import dataclasses
import importlib
import types
import typing
from typing import Any

from inspector.analysers import ANALYSERS
from inspector.facts.model import Facts
from inspector.image.config import ImageConfig

# What `flatten_analysers` puts where, in its order: (JSON key, analyser, field of its result).
# None takes the whole result. `python` is special: the python result with `bytecode` added.
PLACEMENT: tuple[tuple[str, str, str | None], ...] = (
    ("os", "osinfo", None),
    ("os_packages", "ospackages", None),
    ("user", "users", None),
    ("setuid", "filemodes", "setuid_setgid"),
    ("setgid", "filemodes", "setuid_setgid"),
    ("world_writable", "filemodes", "world_writable"),
    ("world_writable_total", "filemodes", "world_writable_total"),
    ("capabilities", "filemodes", "capabilities"),
    ("secrets", "secrets", "secrets"),
    ("python", "python", None),
    ("python.bytecode", "bytecode", None),
    ("caches", "caches", None),
    ("files", "files", None),
    ("inventory", "inventory", None),
)
# Keys `to_json` adds to `config`: the ImageConfig properties of the same name.
CONFIG_PROPERTIES = ("entrypoint_form", "cmd_form")

_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean"}


def schema() -> list[tuple[str, str]]:
    """(path, JSON type) for every value `Facts.to_json()` produces, in document order."""
    placed = {analyser for _, analyser, _ in PLACEMENT}
    if placed != set(ANALYSERS):
        raise RuntimeError(
            f"schema.PLACEMENT covers {sorted(placed)}, analysers.ANALYSERS is "
            f"{sorted(ANALYSERS)}: place every analyser where flatten_analysers puts it"
        )
    rows: list[tuple[str, str]] = []
    hints = typing.get_type_hints(Facts)
    for field in dataclasses.fields(Facts):
        if field.name == "analysers":
            continue  # not a JSON key: flattened below
        _walk(field.name, hints[field.name], rows)
        if field.name == "config":
            for name in CONFIG_PROPERTIES:
                prop = getattr(ImageConfig, name)
                _walk(f"config.{name}", typing.get_type_hints(prop.fget)["return"], rows)
    for key, analyser, attribute in PLACEMENT:
        result = analyser_result_type(analyser)
        tp = result if attribute is None else typing.get_type_hints(result)[attribute]
        _walk(key, tp, rows)
    return rows


def analyser_result_type(name: str) -> Any:
    """The dataclass `inspector.analysers.NAME.analyse` is annotated to return."""
    module = importlib.import_module(f"inspector.analysers.{name}")
    return typing.get_type_hints(module.analyse)["return"]


def json_type(tp: Any) -> str:
    """How a Python annotation reads as JSON: "string", "integer or null", "array of objects"."""
    inner, nullable = _without_none(tp)
    text = _one(inner[0]) if len(inner) == 1 else " or ".join(json_type(t) for t in inner)
    return f"{text} or null" if nullable else text


def _one(tp: Any) -> str:
    if tp is Any:
        return "any"
    if tp in _SCALARS:
        return _SCALARS[tp]
    if dataclasses.is_dataclass(tp):
        return "object"
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        return " | ".join(f'"{a}"' if isinstance(a, str) else str(a) for a in args)
    item = _item(tp)
    if item is not None:
        return f"array of {_plural(item)}"
    if origin is dict:
        value = args[1] if len(args) == 2 else Any
        return "object" if value is Any else f"object of {_plural(value)}"
    raise TypeError(f"no JSON type for the annotation {tp!r}")


def _plural(tp: Any) -> str:
    inner, nullable = _without_none(tp)
    text = json_type(tp)
    if len(inner) == 1 and not nullable and typing.get_origin(inner[0]) is not typing.Literal:
        word, _, rest = text.partition(" ")
        return f"{word}s {rest}".rstrip()
    return f"({text})"


def _without_none(tp: Any) -> tuple[tuple[Any, ...], bool]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        return tuple(a for a in args if a is not type(None)), type(None) in args
    return (tp,), False


def _item(tp: Any) -> Any:
    """The item type of a tuple[X, ...] or list[X] annotation, else None."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is list and len(args) == 1:
        return args[0]
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return args[0]
    return None


def _walk(path: str, tp: Any, rows: list[tuple[str, str]]) -> None:
    inner, _ = _without_none(tp)
    target = inner[0] if len(inner) == 1 else None
    item = _item(target) if target is not None else None
    if target is not None and dataclasses.is_dataclass(target):
        rows.append((path, json_type(tp)))
        _fields(path, target, rows)
    elif item is not None and dataclasses.is_dataclass(item):
        rows.append((f"{path}[]", json_type(tp)))
        _fields(f"{path}[]", item, rows)
    else:
        rows.append((path, json_type(tp)))


def _fields(path: str, cls: Any, rows: list[tuple[str, str]]) -> None:
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        _walk(f"{path}.{field.name}", hints[field.name], rows)
