"""Report formats by name: each is a pure function of the audit reports to text."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence

from inspector.audit import ImageReport

# format name -> module with `render(reports) -> str`
FORMATS = {
    "table": "inspector.render_table",
    "json": "inspector.render_json",
    "sarif": "inspector.render_sarif",
    "junit": "inspector.render_junit",
    "markdown": "inspector.render_markdown",
}


def renderer(name: str) -> Callable[[Sequence[ImageReport]], str]:
    return importlib.import_module(FORMATS[name]).render  # type: ignore[no-any-return]
