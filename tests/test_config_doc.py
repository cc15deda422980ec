"""docs/config.md: generated from inspector/policy/config.py; its example policy really loads."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from checks import catalog
from inspector.policy.config import IGNORE_KEYS, THRESHOLD_KEYS, TOP_KEYS, load

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import gen_config_doc  # noqa: E402


def test_config_doc_matches_the_code():
    """docs/config.md is exactly what scripts/gen_config_doc.py renders today."""
    doc = ROOT / "docs" / "config.md"
    assert doc.read_text() == gen_config_doc.render(), "docs/config.md is stale: run `make docs`"


def test_example_policy_loads_and_uses_every_section(tmp_path):
    """The page's example is a valid pyproject.toml policy with severities, thresholds, ignores."""
    path = tmp_path / "pyproject.toml"
    path.write_text(gen_config_doc.EXAMPLE)
    policy = load(path, catalog())
    assert policy.fail_on == "high"
    assert policy.severity == {"OPS004": "medium", "SIZE004": "info"}
    assert policy.thresholds.image_age_days == 30
    assert [i.checks for i in policy.ignores] == [("runs-as-root",), ("SEC007",)]


def test_every_key_the_parser_knows_is_documented():
    """Each key of each table appears on the page as a row."""
    doc = gen_config_doc.render()
    for key in (*TOP_KEYS, *THRESHOLD_KEYS, *IGNORE_KEYS):
        assert re.search(rf"^\| `{re.escape(key)}` \|", doc, re.M), key
