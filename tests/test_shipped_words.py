"""Words from outside the project never reach what users read: code, check documentation and
docs name sources a user can look up, never a planning document."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# What only the planning notes know: their author's nickname, issue numbers, paths to a folder a
# clone does not have (any case), and their catalog's ids (SEC-10, PY-03, catalog H1).
FOREIGN = re.compile(r"seed author|\.\./shared|\bissues? #?\d+\b", re.IGNORECASE)
PLANNING_IDS = re.compile(r"\b(?:PY|SZ|SEC|OPS|MD|CR|SC)-\d{1,2}\b|\bcatalog(?:'s)? H\d+\b")
SHIPPED = ("inspector", "checks", "docs")


def _shipped_files() -> list[Path]:
    return [path for folder in SHIPPED for path in sorted((REPO / folder).rglob("*"))
            if path.suffix in (".py", ".md", ".toml", ".txt") and path.is_file()]  # fmt: skip


def test_no_planning_words_in_shipped_text():
    """No "seed author", planning-catalog id, issue number or ../shared path in inspector/,
    checks/ or docs/ (the explain pages, SARIF help and docs/checks.md print them)."""
    found = []
    for path in _shipped_files():
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for match in (*FOREIGN.finditer(line), *PLANNING_IDS.finditer(line)):
                found.append(f"{path.relative_to(REPO)}:{number}: {match.group(0)}")
    assert not found, "\n".join(found)


def test_the_source_is_named_once_where_users_read_it():
    """docs/checks.md names Itamar Turner-Trauring and his guidance once, as a reader can look
    them up; checks cite "Turner-Trauring" after that."""
    text = (REPO / "docs" / "checks.md").read_text()
    assert "## Itamar Turner-Trauring's practices" in text
    assert "https://pythonspeed.com/docker/" in text
    assert "Production-ready Docker packaging for Python" in text
