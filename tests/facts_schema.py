"""Whether a facts document (whole, or the sections a check example gives) is one the collector
can produce: every key is a path of `inspector.facts.schema.schema()`, every value of its type.

A check proven on facts the collector cannot produce (a boolean where the model has a string, a
key no analyser writes) proves nothing: tests/test_checks_catalog.py runs this on every example.
"""

from __future__ import annotations

import functools
from typing import Any

from inspector.facts.schema import schema

_SCALARS = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "any": lambda v: True,
}


@functools.cache
def _types() -> dict[str, str]:
    return dict(schema())


def _fits(value: Any, text: str) -> bool:
    """Whether VALUE is of the JSON type TEXT (as schema.json_type words it)."""
    alternatives = [t.strip() for t in text.split(" or ")]
    if value is None:
        return "null" in alternatives
    for alternative in alternatives:
        if alternative.startswith("array of "):
            item = alternative.removeprefix("array of ").removesuffix("s")
            if isinstance(value, list) and all(_fits(v, item) for v in value):
                return True
        elif alternative.startswith("object of "):
            item = alternative.removeprefix("object of ").removesuffix("s")
            if isinstance(value, dict) and all(_fits(v, item) for v in value.values()):
                return True
        elif alternative in _SCALARS and _SCALARS[alternative](value):
            return True
    return False


def problems(doc: dict[str, Any]) -> list[str]:
    """What in DOC the facts schema does not allow, one line each (empty: it fits). Top-level
    keys starting with `_` are the example's own notes (`_now`, `_comment`) and are skipped."""
    found: list[str] = []
    for key, value in doc.items():
        if not key.startswith("_"):
            _check(key, value, found)
    return found


def _check(path: str, value: Any, found: list[str]) -> None:
    types = _types()
    if f"{path}[]" in types:  # an array of objects, each with its own keys
        if value is None and "null" in types[f"{path}[]"]:
            return
        if not isinstance(value, list):
            found.append(f"{path}: {_shown(value)} is not {types[f'{path}[]']}")
            return
        for item in value:
            if not isinstance(item, dict):
                found.append(f"{path}[]: {_shown(item)} is not an object")
                continue
            for key, inner in item.items():
                _check(f"{path}[].{key}", inner, found)
        return
    if path not in types:
        found.append(f"{path}: no such field in the facts")
        return
    if not _fits(value, types[path]):
        found.append(f"{path}: {_shown(value)} is not {types[path]}")
        return
    if isinstance(value, dict) and any(p.startswith(f"{path}.") for p in types):
        for key, inner in value.items():
            _check(f"{path}.{key}", inner, found)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
