"""`inspector diff --format json`: the diff as one versioned JSON object (docs/diff.md)."""

from __future__ import annotations

import json as _json
from dataclasses import asdict
from typing import Any

from inspector import __version__
from inspector.diff.model import ImageDiff
from inspector.safetext import json_text

# Bumped when a field is removed or renamed or changes type or meaning.
SCHEMA_VERSION = 1


def document(diff: ImageDiff) -> dict[str, Any]:
    """The diff as `--format json` prints it: lists, not tuples (one JSON round trip)."""
    doc = {"schema_version": SCHEMA_VERSION, "tool": {"name": "inspector", "version": __version__},
           **asdict(diff)}  # fmt: skip
    return _json.loads(_json.dumps(doc, ensure_ascii=False))


def render(diff: ImageDiff) -> str:
    text = _json.dumps(document(diff), indent=2, ensure_ascii=False)
    return json_text(text) + "\n"
