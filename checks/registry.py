"""The catalog: every check, registered by the `@check` decorator when its module is imported."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable

from checks.model import CATEGORIES, SECTIONS, SEVERITIES, Check, Context, Facts, Found

CATALOG: dict[str, Check] = {}


def check(
    id: str,
    name: str,
    title: str,
    *,
    severity: str,
    category: str,
    needs: tuple[str, ...],
    fix: str,
    wants: tuple[str, ...] = (),
    dockle: tuple[str, ...] = (),
) -> Callable[[Callable[[Facts, Context], Iterable[Found]]], Check]:
    """Register a check function; its docstring is the check's documentation (Markdown)."""

    def register(function: Callable[[Facts, Context], Iterable[Found]]) -> Check:
        if id in CATALOG:
            raise ValueError(f"check id {id} is registered twice")
        if severity not in SEVERITIES or category not in CATEGORIES:
            raise ValueError(f"{id}: unknown severity {severity!r} or category {category!r}")
        unknown = [s for s in needs + wants if s not in SECTIONS]
        if unknown:
            raise ValueError(f"{id}: unknown fact sections {unknown}")
        doc = inspect.cleandoc(function.__doc__ or "")
        made = Check(id, name, title, severity, category, needs, fix, doc, function, wants, dockle)
        CATALOG[id] = made
        return made

    return register
