"""Static analysers: each turns the layers and the merged filesystem into one section of facts.

Every analyser is a module here exporting `wants(path, size)` (which files it needs captured during
the single pass) and `analyse(data)` (facts only: no judgements, no I/O, no docker); what they
receive is `inspector.analysers.imagedata.ImageData`.
"""

from __future__ import annotations

import importlib
from typing import Any

ANALYSERS = (
    "osinfo",
    "ospackages",
    "users",
    "filemodes",
    "secrets",
    "python",
    "bytecode",
    "caches",
    "files",
    "inventory",
)


def analyser_modules() -> list[Any]:
    return [importlib.import_module(f"inspector.analysers.{name}") for name in ANALYSERS]
