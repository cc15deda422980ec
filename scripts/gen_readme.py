"""Regenerate docs/cli.md's usage block from the CLI, and the README's sample output from the
reviewed golden of the `naive` fixture at 80 columns (`make docs`); tests fail when either is
stale."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from inspector.cli.usage import usage_text

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
CLI_DOC = REPO / "docs" / "cli.md"
SAMPLE = REPO / "tests" / "golden" / "report" / "naive-80.txt"
BLOCK = re.compile(r"(<!-- usage:start -->\n```text\n).*?(```\n<!-- usage:end -->)", re.S)
SAMPLE_BLOCK = re.compile(r"(<!-- sample:start -->\n).*?(<!-- sample:end -->)", re.S)
DIFF_BLOCK = re.compile(r"(<!-- diff-sample:start -->\n).*?(<!-- diff-sample:end -->)", re.S)
# The diff's sections the README shows; docs/diff.md shows the whole of it.
DIFF_SECTIONS = ("#### Findings", "#### Config", "#### Packages")


def render(doc: str) -> str:
    """docs/cli.md with the usage block as --help prints it today."""
    if not BLOCK.search(doc):
        raise SystemExit("docs/cli.md has no <!-- usage:start --> ... <!-- usage:end --> block")
    return BLOCK.sub(lambda m: m.group(1) + usage_text() + m.group(2), doc)


def render_readme(readme: str) -> str:
    """The README with the sample output the golden holds."""
    if not SAMPLE_BLOCK.search(readme):
        raise SystemExit("README.md has no <!-- sample:start --> ... <!-- sample:end --> block")
    command = "$ inspector audit --no-probe inspector-fixture/naive:test\n"
    sample = "```text\n" + command + SAMPLE.read_text() + "```\n"
    readme = SAMPLE_BLOCK.sub(lambda m: m.group(1) + sample + m.group(2), readme)
    return render_diff_sample(readme)


def render_diff_sample(readme: str) -> str:
    """The README with the Markdown `inspector diff` writes for the example release (its
    title, findings, config and packages; docs/diff.md has the rest)."""
    from inspector.diff import markdown
    from inspector.diff.example import example

    if not DIFF_BLOCK.search(readme):
        raise SystemExit("README.md has no <!-- diff-sample:start --> ... <!-- diff-sample:end -->")
    parts = markdown.render(example()).strip().split("\n\n#### ")
    kept = [parts[0]] + [f"#### {p}" for p in parts[1:] if f"#### {p}".startswith(DIFF_SECTIONS)]
    sample = "```markdown\n" + "\n\n".join(kept) + "\n```\n"
    return DIFF_BLOCK.sub(lambda m: m.group(1) + sample + m.group(2), readme)


if __name__ == "__main__":
    CLI_DOC.write_text(render(CLI_DOC.read_text()))
    README.write_text(render_readme(README.read_text()))
    sys.exit(0)
