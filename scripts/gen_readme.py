"""Regenerate the README's usage block from the CLI (`make docs`); tests fail when it is stale."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from inspector.cli.usage import usage_text

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"(<!-- usage:start -->\n```text\n).*?(```\n<!-- usage:end -->)", re.S)


def render(readme: str) -> str:
    if not BLOCK.search(readme):
        raise SystemExit("README.md has no <!-- usage:start --> ... <!-- usage:end --> block")
    return BLOCK.sub(lambda m: m.group(1) + usage_text() + m.group(2), readme)


if __name__ == "__main__":
    text = README.read_text()
    README.write_text(render(text))
    sys.exit(0)
