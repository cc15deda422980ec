"""The precision goldens' format and keys (tests/golden/precision): no engine needed."""

from __future__ import annotations

import pytest

from tests.conftest import FIXTURES
from tests.precision import (
    GoldenError,
    Keyed,
    golden_names,
    keyed,
    line_for,
    load,
    location_key,
    parse,
    score,
    step_key,
    summary,
)

DIGEST = "a" * 64


def test_every_realistic_fixture_has_a_precision_golden():
    """Each fixtures/real-* image has a reviewed precision golden, and each golden an image."""
    realistic = {d.name for d in FIXTURES.iterdir() if d.name.startswith("real-")
                 and (d / "Dockerfile").is_file()}  # fmt: skip
    assert realistic
    assert set(golden_names()) == realistic


@pytest.mark.parametrize("name", golden_names())
def test_goldens_parse_with_floors_and_reasons(name):
    """Every golden parses, records both floors, and its floors hold for its own labels."""
    golden = load(name)
    assert set(golden.floors) == {"precision", "recall"}
    labels = [e.label for e in golden.labels.values()]
    true, false = labels.count("true"), labels.count("false")
    assert true / (true + false) >= golden.floors["precision"]
    assert true / (true + len(golden.missed)) >= golden.floors["recall"]


def test_step_keys_drop_builder_prefixes_digests_and_ports():
    """History steps keep what the Dockerfile said and nothing a rebuild changes."""
    assert step_key(f"/bin/sh -c #(nop) COPY dir:{DIGEST} in /app/ ") == "COPY dir:* in /app/"
    run = "|1 INDEX_URL=http://127.0.0.1:38359/simple /bin/sh -c pip install -i 127.0.0.1:4242"
    assert step_key(run) == "RUN pip install -i 127.0.0.1:PORT"
    assert (
        step_key(f"COPY --chown=a:adir:{DIGEST} in /x # buildkit") == "COPY --chown=a:adir:* in /x"
    )
    assert len(step_key("RUN " + "x" * 200)) == 72


def test_location_keys_use_rule_path_step_config_and_runtime_but_no_layer():
    """A finding's key names what it is about; the layer number is left out."""
    finding = {"check": "SEC006", "rule": "stripe-key", "severity": "critical", "message": "m",
               "location": {"layer": 11, "path": "/app/s.py", "created_by": "/bin/sh -c chown x",
                            "runtime": None, "config": None}}  # fmt: skip
    assert location_key(finding) == "rule=stripe-key ; path=/app/s.py ; step=RUN chown x"
    assert location_key({"check": "SIZE003", "location": {}}) == "image"


def test_repeated_keys_get_ordinals_in_report_order():
    """Two findings of one check at one location are told apart by #2, #3..."""
    base = {"check": "SIZE022", "severity": "medium", "location": {"config": "User"}}
    items = keyed([{**base, "message": "a"}, {**base, "message": "b"}, {**base, "message": "c"}])
    assert [i.key for i in items] == ["config=User", "config=User ; #2", "config=User ; #3"]


def test_score_counts_labels_and_reports_unlabelled_lost_and_now_found():
    """Precision and recall come from the labels; gaps in the golden are reported, not hidden."""
    golden = parse(
        "floor precision 0.5\nfloor recall 0.5\n"
        "true A k1  # real\nfalse B k2  # docstring\ndebatable C k3  # trivia\n"
        "true D gone  # was found\nmissed E k5  # not reported\nmissed F k6  # reported now\n"
    )
    findings = [Keyed("A", "k1", "high", ""), Keyed("B", "k2", "critical", ""),
                Keyed("C", "k3", "info", ""), Keyed("F", "k6", "low", ""),
                Keyed("G", "new", "low", "")]  # fmt: skip
    result = score("img", findings, golden)
    assert (result.true, result.false, result.debatable, result.missed) == (1, 1, 1, 1)
    assert result.precision == 0.5
    assert result.serious_precision == 0.5
    assert result.recall == 0.5
    assert [f.key for f in result.unlabelled] == ["new"]
    assert [e.key for e in result.lost] == ["gone"]
    assert [e.key for e in result.now_found] == ["k6"]
    lines = summary([result])
    assert "precision 50 %" in lines[1]
    assert "recall 50 %" in lines[-1]


@pytest.mark.parametrize(
    "text",
    [
        "true A key",
        "maybe A key  # why",
        "true A  # why",
        "true A k  # ",
        "true A k  # a\ntrue A k  # b",
    ],
)
def test_malformed_golden_lines_are_errors_that_name_the_line(text):
    """A line without a label, a key or a reason, or labelled twice, is an error."""
    with pytest.raises(GoldenError, match=r"golden:\d"):
        parse(text)


def test_review_lines_are_golden_lines_with_a_question_mark():
    """scripts/precision_review.py's lines parse once `?` is replaced by a label."""
    line = line_for(Keyed("SEC006", "rule=jwt ; path=/x", "high", "jwt in /x\nline 2"))
    assert line.startswith("? SEC006 rule=jwt ; path=/x  # high: jwt in /x line 2")
    assert parse(line.replace("?", "false", 1)).labels
