"""The catalog's contract: documentation, examples that must and must not trigger, docs drift."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from checks import catalog
from checks.docs import DOCKLE, DOCKLE_NOTICES, PRACTICES, practice_lines, render
from checks.engine import run_check
from checks.model import DOC_SECTIONS, Context
from tests.conftest import REPO
from tests.facts_schema import problems

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


@pytest.mark.parametrize("check_id", sorted(CHECKS))
def test_every_example_is_facts_the_collector_can_produce(check_id):
    """Each 'bad' and 'good' example fits the facts schema (inspector/facts/schema.py): every key
    is a facts path, every value of its type, so no check is proven on impossible facts."""
    found = examples(check_id)
    wrong = [
        f"{kind}[{i}] {problem}"
        for kind in ("bad", "good")
        for i, example in enumerate(found.get(kind) or ())
        for problem in problems(example)
    ]
    assert not wrong, wrong


def test_the_schema_check_refuses_a_wrong_type_and_an_unknown_key():
    """The validator the examples pass is not vacuous: a boolean stdlib, a null list, a key no
    analyser writes and an object where the model has a list are each refused by name."""
    example = {
        "python": {"interpreters": [{"path": "/usr/bin/python3", "stdlib": True}]},
        "config": {"exposed_ports": None, "no_such_key": 1},
        "history": {"created_by": "RUN x"},
        "_now": "2026-11-23",
    }
    assert sorted(problems(example)) == [
        "config.exposed_ports: None is not array of strings",
        "config.no_such_key: no such field in the facts",
        "history: {'created_by': 'RUN x'} is not array of objects",
        "python.interpreters[].stdlib: True is not string or null",
    ]


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


# The two forms of a check's Practice bullet: his practice by number with its source (a quoted
# article title or a link), or none of his, with what backs the check instead.
PRACTICE = re.compile(r"Practice: #(?P<number>\d+) (?P<text>\S.*)")
NO_PRACTICE = re.compile(r"Practice: none of Turner-Trauring's; \S.*")


def named_practices(check_id: str) -> set[int]:
    references = CHECKS[check_id].sections()["References"]
    return {int(n) for n in re.findall(r"^- Practice: #(\d+) ", references, re.M)}


@pytest.mark.parametrize("check_id", sorted(CHECKS))
def test_check_names_the_seed_authors_practices_it_carries(check_id):
    """References name the practices (#1-#44, with his source) a check carries, or what backs it."""
    lines = practice_lines(CHECKS[check_id])
    assert lines, f"{check_id}: add a '- Practice: ...' bullet to its References"
    if any(NO_PRACTICE.fullmatch(line) for line in lines):
        assert len(lines) == 1, f"{check_id}: 'none of Turner-Trauring's' and practices both"
        return
    numbers = []
    for line in lines:
        match = PRACTICE.fullmatch(line)
        assert match, f"{check_id}: not a Practice line: {line}"
        number, text = int(match.group("number")), match.group("text")
        assert 1 <= number <= 44, line
        assert number in PRACTICES, line
        assert '"' in text or "https://" in text, f"{check_id}: #{number} names no source"
        numbers.append(number)
    assert len(numbers) == len(set(numbers)), f"{check_id} names a practice twice"


def test_docs_list_each_check_under_the_practices_it_names():
    """docs/checks.md lists each check under exactly its practices, in its row and per practice."""
    text = render()
    section = text.split("\n## Itamar Turner-Trauring's practices\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for match in re.finditer(r'^\| <a id="practice-(\d+)"></a>#\d+ \|(.*)\|$', section, re.M):
        last_cell = match.group(2).rsplit("|", 1)[-1]
        rows[int(match.group(1))] = set(re.findall(r"\[([A-Z]+\d{3})\]\(#", last_cell))
        assert rows[int(match.group(1))] or last_cell.strip() == "not covered"
    assert sorted(rows) == list(range(1, 45))
    expected: dict[int, set[str]] = {n: set() for n in rows}
    for check_id in CHECKS:
        for number in named_practices(check_id):
            expected[number].add(check_id)
        row = re.search(rf"^\| \[{check_id}\]\(#{check_id.lower()}\) \|.*$", text, re.M)
        assert row, check_id
        shown = {int(n) for n in re.findall(r"\[#(\d+)\]\(#practice-\d+\)", row.group(0))}
        assert shown == named_practices(check_id), check_id
    assert rows == expected
    others = section.split("Checks that carry none of these practices", 1)[1]
    listed = set(re.findall(r"\[([A-Z]+\d{3})\]\(#", others))
    assert listed == {c for c in CHECKS if not named_practices(c)}


def test_an_id_prefix_names_its_category():
    """A check's id prefix says its category (SEC security, PY python, COR correctness, OPS
    operability, SIZE size, META metadata), so an id tells a reader where to look."""
    prefixes = {"SEC": "security", "PY": "python", "COR": "correctness", "OPS": "operability",
                "SIZE": "size", "META": "metadata"}  # fmt: skip
    wrong = [
        f"{c.id} is {c.category}"
        for c in catalog().values()
        if prefixes[re.match(r"[A-Z]+", c.id).group(0)] != c.category  # type: ignore[union-attr]
    ]
    assert not wrong, wrong
