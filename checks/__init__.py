"""The check catalog: pure functions of an image's facts (see docs/architecture.md).

Importing this package registers every check; `catalog()` returns them by id.
"""

from __future__ import annotations

import importlib

from checks.model import Check
from checks.registry import CATALOG

MODULES = (
    "security",
    "python",
    "correctness",
    "operability",
    "runaway",
    "integrity",
    "size",
    "metadata",
    "contents",
    "runtime_practices",
    "practices",
    "vulnerabilities",
    "expectations",
)


def catalog() -> dict[str, Check]:
    for module in MODULES:
        importlib.import_module(f"checks.{module}")
    return dict(sorted(CATALOG.items()))
