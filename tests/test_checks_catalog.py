"""The catalog's contract: documentation, examples that must and must not trigger, docs drift."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from checks import catalog
from checks.docs import DOCKLE, DOCKLE_NOTICES, render
from checks.engine import run_check
from checks.model import DOC_SECTIONS, Context
from tests.conftest import REPO

EXAMPLES = Path(__file__).parent / "check_examples"
CHECKS = catalog()


def context(example: dict) -> Context:
    """Examples may pin the clock (`"now": "2026-11-23"`) for age- and date-based checks."""
    now = example.get("_now")
    if now:
        return Context(now=datetime.fromisoformat(now))
    return Context(now=datetime.fromisoformat("2026-11-23T00:00:00+00:00"))


def examples(check_id: str) -> dict[str, list[dict]]:
    path = EXAMPLES / f"{check_id}.json"
    assert path.is_file(), f"write {path.relative_to(REPO)} with 'bad' and 'good' facts examples"
    return json.loads(path.read_text())


@pytest.mark.parametrize("check_id", sorted(CHECKS))
def test_check_is_documented_in_every_section(check_id):
    """Each check has a title, a fix and every documentation section, with a source linked."""
    check = CHECKS[check_id]
    assert re.fullmatch(r"(SEC|PY|COR|OPS|SIZE|META)\d{3}", check.id)
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", check.name), check.name
    assert check.title
    assert check.fix
    sections = check.sections()
    missing = [s for s in DOC_SECTIONS if not sections.get(s)]
    assert not missing, f"{check_id} lacks documentation sections {missing}"
    assert "https://" in sections["Why it matters"] + sections["References"]


@pytest.mark.parametrize("check_id", sorted(CHECKS))
def test_check_triggers_on_its_bad_examples_and_not_on_its_good_ones(check_id):
    """Every 'bad' facts example fails the check, every 'good' one passes it."""
    check = CHECKS[check_id]
    found = examples(check_id)
    assert found.get("bad"), "at least one bad example"
    assert found.get("good"), "at least one good example"
    for i, example in enumerate(found["bad"]):
        result = run_check(check, example, context(example))
        assert result.status == "failed", (i, result)
        assert all(f.check == check_id and f.message and f.fix for f in result.findings)
    for i, example in enumerate(found["good"]):
        result = run_check(check, example, context(example))
        assert result.status == "passed", (i, result)


def test_every_example_file_belongs_to_a_check():
    """No examples file is left for a check that was renamed or removed."""
    stale = sorted(p.stem for p in EXAMPLES.glob("*.json") if p.stem not in CHECKS)
    assert not stale


def test_docs_checks_md_is_generated_from_the_catalog():
    """docs/checks.md equals what `make docs` writes now."""
    assert (REPO / "docs" / "checks.md").read_text() == render(), "run `make docs`"


def test_every_dockle_checkpoint_has_an_equivalent():
    """Each of dockle's image checkpoints is covered by at least one check or a notice."""
    covered = {key for check in CHECKS.values() for key in check.dockle} | set(DOCKLE_NOTICES)
    assert set(DOCKLE) <= covered, sorted(set(DOCKLE) - covered)
