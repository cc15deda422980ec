"""docs/diff.md and the README's diff sample: up to date, every path of real diffs described,
no description stale."""

from __future__ import annotations

import sys
from typing import Any

from inspector.diff.example import example
from inspector.diff.fields import FIELDS
from inspector.diff.json import document
from inspector.facts.fielddoc import kinds, type_kinds, walk
from tests.conftest import REPO

KINDS = {"string", "integer", "number", "boolean", "array", "object", "null"}


def problems(doc: dict[str, Any]) -> list[str]:
    """What in `doc` docs/diff.md does not account for: a path, a kind or a value."""
    out = []
    for path, seen in kinds(doc, FIELDS).items():
        field = FIELDS.get(path)
        if field is None:
            out.append(f"{path}: not described in inspector/diff/fields.py")
        elif not seen <= type_kinds(field.type):
            out.append(f"{path}: {sorted(seen)} is not {field.type!r}")
    for path, value in walk(doc, FIELDS):
        field = FIELDS.get(path)
        if field and field.values and value not in field.values:
            out.append(f"{path}: {value!r} is not one of {field.values}")
    return out


def test_diff_doc_matches_the_code():
    """docs/diff.md is exactly what scripts/gen_diff_doc.py renders today."""
    sys.path.insert(0, str(REPO / "scripts"))
    import gen_diff_doc

    doc = REPO / "docs" / "diff.md"
    assert doc.exists(), "docs/diff.md is missing: run `make docs`"
    assert doc.read_text() == gen_diff_doc.render(), "docs/diff.md is stale: run `make docs`"


def test_every_field_has_a_known_type_and_one_line_of_text():
    """Types use JSON kinds only, texts are single lines, enumerations name each value."""
    for path, field in FIELDS.items():
        assert type_kinds(field.type) <= KINDS, f"{path}: unknown type {field.type!r}"
        assert field.text.strip(), f"{path}: no description"
        assert "\n" not in field.text, f"{path}: the description is not one line"
        unnamed = [v for v in field.values if f'"{v}"' not in field.text]
        assert not unnamed, f"{path}: the description does not name {unnamed}"


def test_the_example_writes_exactly_the_described_paths():
    """The example diff has every described path, with allowed kinds, and nothing else."""
    doc = document(example())
    assert problems(doc) == []
    stale = sorted(set(FIELDS) - set(kinds(doc, FIELDS)))
    assert not stale, f"described in inspector/diff/fields.py but never written: {stale}"


def test_problems_are_found():
    """An undescribed path, a wrong kind and a value outside an enumeration are each reported."""
    doc = document(example())
    doc["extra"] = 1
    doc["tool"]["name"] = 5
    doc["size"]["layers"][0]["status"] = "maybe"
    assert len(problems(doc)) == 3


def test_readme_shows_the_diff_markdown():
    """The README's diff sample is the Markdown the renderer writes for the example release."""
    readme = (REPO / "README.md").read_text()
    block = readme.split("<!-- diff-sample:start -->", 1)[1].split("<!-- diff-sample:end -->")[0]
    assert "```markdown\n### `registry:registry.example/shop/api:1.4` → `shop/api:1.5`" in block
    assert "#### Packages" in block
    assert "| `requests` | upgraded | 2.31.0 | 2.32.3 |" in block
