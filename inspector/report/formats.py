"""Report formats by name: each is a pure function of the audit reports to text.

`FORMATS` report any number of images in one text; `SBOM_FORMATS` describe one image per
document (docs/sbom.md), so the CLI writes one document per image.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from datetime import datetime

from inspector.report.model import ImageReport

# format name -> module with `render(reports, fail_on=...) -> str`
FORMATS = {
    "table": "inspector.report.table",
    "json": "inspector.report.json",
    "sarif": "inspector.report.sarif",
    "junit": "inspector.report.junit",
    "markdown": "inspector.report.markdown",
}
# format name -> module with `render(reports, now=None, serial=None) -> str` of exactly one image
SBOM_FORMATS = {
    "cyclonedx": "inspector.report.cyclonedx",
    "spdx": "inspector.report.spdx",
}
# What a file of each SBOM format is called, as both ecosystems recommend.
SBOM_EXTENSIONS = {"cyclonedx": ".cdx.json", "spdx": ".spdx.json"}


def render(name: str, reports: Sequence[ImageReport], fail_on: str = "high",
           colour: bool = False) -> str:  # fmt: skip
    """The report in format `name`; every format states the gate's verdict at `fail_on`, JUnit
    fails only the checks the gate fails on, and only the table on a terminal is coloured."""
    if name in SBOM_FORMATS:
        return sbom(name, reports)
    module = importlib.import_module(FORMATS[name])
    if name == "table":
        return module.render(reports, colour=colour, fail_on=fail_on)  # type: ignore[no-any-return]
    return module.render(reports, fail_on=fail_on)  # type: ignore[no-any-return]


def sbom(name: str, reports: Sequence[ImageReport], now: datetime | None = None) -> str:
    """The SBOM document in format `name` of the one image in `reports` (InspectorError when
    there are several, or the image could not be audited)."""
    module = importlib.import_module(SBOM_FORMATS[name])
    return module.render(reports, now=now)  # type: ignore[no-any-return]
