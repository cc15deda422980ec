"""JSON documents described path by path: what docs/facts.md and docs/report.md are made of.

A path names where a value sits: `a.b` is key `b` of object `a`, `a[]` an array of objects and
`a[].b` key `b` of each item. Arrays of scalars and empty containers are one path each. The
generators render a table of paths with their type and meaning; the tests walk real documents
with `walk` to prove each path they hold is described, with a JSON kind its type allows.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator
from typing import Any


def walk(
    doc: dict[str, Any], arrays: Container[str] = (), prefix: str = ""
) -> Iterator[tuple[str, Any]]:
    """Every (path, value) in `doc`, containers included, and every item of every array.

    An empty array shows nothing of its items: it is named `a[]` when `arrays` has that path (an
    array of objects that happens to be empty), else `a`.
    """
    for key, value in doc.items():
        path = f"{prefix}.{key}" if prefix else key
        listed = isinstance(value, list) and all(isinstance(v, dict) for v in value)
        if listed and (value or f"{path}[]" in arrays):
            yield f"{path}[]", value
            for item in value:
                yield from walk(item, arrays, f"{path}[]")
            continue
        yield path, value
        if isinstance(value, dict):
            yield from walk(value, arrays, path)


def kinds(doc: dict[str, Any], arrays: Container[str] = ()) -> dict[str, set[str]]:
    """Each path in `doc` with the JSON kinds of the values seen there (see `walk`)."""
    found: dict[str, set[str]] = {}
    for path, value in walk(doc, arrays):
        found.setdefault(path, set()).add(json_kind(value))
    return found


def json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):  # before int: bool is an int in Python
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def type_kinds(json_type: str) -> set[str]:
    """The kinds a documented type allows: "array of strings or null" -> {"array", "null"}."""
    return {alternative.split()[0] for alternative in json_type.split(" or ")}


def cell(text: str) -> str:
    """Text safe in a Markdown table cell: one line, no column break."""
    return text.replace("|", "\\|").replace("\n", " ")


def table(rows: Iterable[tuple[str, str, str]]) -> str:
    """A Markdown table of (path, type, meaning) rows."""
    out = ["| path | type | meaning |\n| --- | --- | --- |\n"]
    out.extend(f"| `{cell(path)}` | {cell(kind)} | {cell(text)} |\n" for path, kind, text in rows)
    return "".join(out)
