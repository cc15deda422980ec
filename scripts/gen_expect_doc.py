"""Regenerate docs/expectations.md from the expectation parser's key tables (`make docs`).

A test fails when the page is stale (tests/test_expect.py).
"""

from __future__ import annotations

from pathlib import Path

from inspector.expect.docs import render

DOC = Path(__file__).resolve().parent.parent / "docs" / "expectations.md"


def main() -> None:
    DOC.write_text(render())


if __name__ == "__main__":
    main()
