"""Regenerate fixtures/README.md's table of fixture images from each Dockerfile's opening comment
(`make docs`); a test fails when it is stale."""

from __future__ import annotations

import re
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
README = FIXTURES / "README.md"
BLOCK = re.compile(r"(<!-- fixtures:start -->\n).*?(<!-- fixtures:end -->)", re.S)
SENTENCE_END = re.compile(r"(?<=[.;])\s")
LONGEST = 220  # characters of a summary; the Dockerfile has the rest


def summary(dockerfile: Path) -> str:
    """The opening comment's first sentence, without the `# NAME:` it starts with."""
    lines = []
    for line in dockerfile.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    text = " ".join(lines).strip()
    text = re.sub(rf"^{re.escape(dockerfile.parent.name)}:\s*", "", text)
    first = SENTENCE_END.split(text, maxsplit=1)[0].rstrip(".;")
    if len(first) > LONGEST:
        first = first[:LONGEST].rsplit(" ", 1)[0].rstrip(",;:") + " …"
    return first.replace("|", "\\|")


def table() -> str:
    rows = ["| fixture | what it is |", "| --- | --- |"]
    for dockerfile in sorted(FIXTURES.glob("*/Dockerfile")):
        rows.append(f"| `{dockerfile.parent.name}` | {summary(dockerfile)} |")
    return "\n".join(rows) + "\n"


def render(readme: str) -> str:
    if not BLOCK.search(readme):
        raise SystemExit("fixtures/README.md has no <!-- fixtures:start --> ... :end --> block")
    return BLOCK.sub(lambda m: m.group(1) + table() + m.group(2), readme)


if __name__ == "__main__":
    README.write_text(render(README.read_text()))
    sys.exit(0)
