"""docs/report.md: up to date, every path of real JSON reports described, no description stale."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from inspector.facts.fielddoc import json_kind, kinds, type_kinds, walk
from inspector.report.example import everything
from inspector.report.fields import FIELDS
from inspector.report.json import document
from tests.conftest import REPO
from tests.reportcases import GOOD, NAIVE, policy_files

KINDS = {"string", "integer", "number", "boolean", "array", "object", "null"}


def _problems(doc: dict[str, Any]) -> list[str]:
    """What in `doc` docs/report.md does not account for: a path, a kind or a value."""
    problems = []
    for path, seen in kinds(doc, FIELDS).items():
        field = FIELDS.get(path)
        if field is None:
            problems.append(f"{path}: not described in inspector/report/fields.py")
        elif not seen <= type_kinds(field.type):
            problems.append(f"{path}: {sorted(seen)} is not {field.type!r}")
    for path, value in walk(doc, FIELDS):
        field = FIELDS.get(path)
        if field and field.values and value not in field.values:
            problems.append(f"{path}: {value!r} is not one of {field.values}")
    return problems


def test_report_doc_matches_the_code():
    """docs/report.md is exactly what scripts/gen_report_doc.py renders today."""
    sys.path.insert(0, str(REPO / "scripts"))
    import gen_report_doc

    doc = REPO / "docs" / "report.md"
    assert doc.exists(), "docs/report.md is missing: run `make docs`"
    assert doc.read_text() == gen_report_doc.render(), "docs/report.md is stale: run `make docs`"


def test_every_field_has_a_known_type_and_one_line_of_text():
    """Types use JSON kinds only, texts are single non-empty lines, enumerations name each value."""
    for path, field in FIELDS.items():
        assert type_kinds(field.type) <= KINDS, f"{path}: unknown type {field.type!r}"
        assert field.text.strip(), f"{path}: no description"
        assert "\n" not in field.text, f"{path}: the description is not one line"
        unnamed = [v for v in field.values if f'"{v}"' not in field.text]
        assert not unnamed, f"{path}: the description does not name {unnamed}"


def test_every_described_path_is_one_the_renderer_writes():
    """A report with every feature has exactly the described paths, kinds and values."""
    doc = document(everything())
    assert _problems(doc) == []
    stale = sorted(set(FIELDS) - set(kinds(doc, FIELDS)))
    assert not stale, f"described in inspector/report/fields.py but never written: {stale}"


def test_problems_are_found():
    """An undescribed path, a wrong kind and a value outside an enumeration are each reported."""
    doc = document(everything())
    doc["extra"] = 1
    doc["tool"]["name"] = 5
    doc["images"][0]["results"][0]["status"] = "maybe"
    assert len(_problems(doc)) == 3


# --- real reports -------------------------------------------------------------------------------


def _audit(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    from inspector.cli.commands import main

    capsys.readouterr()
    code = main(["audit", *args, "--no-probe", "--format", "json"])
    out = capsys.readouterr().out
    assert code in (0, 1, 2), out
    return json.loads(out)  # type: ignore[no-any-return]


@pytest.mark.docker
def test_real_reports_are_fully_described(capsys, tmp_path):
    """naive, good, naive under a policy, a baseline and its Dockerfile, and a missing image: every
    path, kind and value in them is described."""
    config, baseline = policy_files(tmp_path)
    reports = {
        "naive": _audit(capsys, NAIVE),
        "good": _audit(capsys, GOOD),
        "policy": _audit(
            capsys,
            NAIVE,
            *("--config", str(config), "--baseline", str(baseline)),
            *("--dockerfile", str(REPO / "fixtures" / "naive" / "Dockerfile")),
        ),
        "missing": _audit(capsys, "inspector-fixture/does-not-exist:test"),
    }
    problems = {name: _problems(doc) for name, doc in reports.items()}
    assert problems == {name: [] for name in reports}
    # The policy run must really show what it is here to cover.
    policy = reports["policy"]["images"][0]
    by = {s["suppression"]["by"] for r in policy["results"] for s in r["suppressed"]}
    assert by == {"ignore", "baseline"}
    assert policy["suppressed"] == 3
    assert any("expired" in notice for notice in policy["notices"])
    located = [f for r in policy["results"] for f in r["findings"] + r["suppressed"]
               if "dockerfile" in f["location"]]  # fmt: skip
    assert located, "no finding was located in the Dockerfile"
    assert reports["missing"]["images"][0]["error"]


def test_json_kind_names_every_json_value():
    """json_kind tells booleans from integers and None from objects."""
    values = [None, True, 1, 0.5, "x", [], {}]
    assert [json_kind(v) for v in values] == [
        "null", "boolean", "integer", "number", "string", "array", "object"
    ]  # fmt: skip
