"""Report formats by name: each is a pure function of the audit reports to text."""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from inspector.report.model import ImageReport

# format name -> module with `render(reports) -> str`
FORMATS = {
    "table": "inspector.report.table",
    "json": "inspector.report.json",
    "sarif": "inspector.report.sarif",
    "junit": "inspector.report.junit",
    "markdown": "inspector.report.markdown",
}


def render(name: str, reports: Sequence[ImageReport], fail_on: str = "high",
           colour: bool = False) -> str:  # fmt: skip
    """The report in format `name`; JUnit fails only the checks the gate fails on, and only the
    table on a terminal is coloured."""
    module = importlib.import_module(FORMATS[name])
    if name == "junit":
        return module.render(reports, fail_on=fail_on)  # type: ignore[no-any-return]
    if name == "table":
        return module.render(reports, colour=colour, fail_on=fail_on)  # type: ignore[no-any-return]
    return module.render(reports)  # type: ignore[no-any-return]
