"""docs/facts.md: every JSON path documented, nothing stale, the schema true to Facts.to_json()."""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from dataclasses import asdict
from typing import Any

from inspector.analysers import ANALYSERS
from inspector.facts.fielddoc import kinds, type_kinds
from inspector.facts.fields import FIELDS
from inspector.facts.model import SCHEMA_VERSION, Facts
from inspector.facts.schema import analyser_result_type, schema
from tests.conftest import REPO

REQUIRED = (
    "image.id",
    "image.created",
    "image.architecture",
    "config.user",
    "config.env",
    "config.entrypoint",
    "config.cmd",
    "config.healthcheck",
    "config.labels",
    "layers[].digest",
    "layers[].size",
    "layers[].created_by",
    "fs.visible_bytes",
    "fs.wasted_bytes",
    "os.id",
    "os.version_id",
    "os.libc",
    "python.interpreters[].path",
    "python.interpreters[].version",
    "python.packages[].name",
    "python.packages[].version",
    "caches.pip.visible_bytes",
    "caches.pip.deleted_bytes",
    "user.resolved_uid",
    "setuid[]",
    "secrets[]",
    "secrets[].kind",
    "secrets[].where",
    "secrets[].layer",
    "secrets[].deleted",
    "secrets[].hint",
)


def test_every_schema_path_has_a_description_and_no_description_is_stale():
    """Each path the schema yields has a description, and each description names a real path."""
    paths = [path for path, _ in schema()]
    assert len(paths) == len(set(paths)), "the schema yields a path twice"
    missing = [path for path in paths if not FIELDS.get(path, "").strip()]
    stale = sorted(set(FIELDS) - set(paths))
    assert not missing, f"describe these paths in inspector/facts/fields.py: {missing}"
    assert not stale, f"inspector/facts/fields.py describes paths that no longer exist: {stale}"


def test_facts_doc_matches_the_code():
    """docs/facts.md is exactly what scripts/gen_facts_doc.py renders today."""
    sys.path.insert(0, str(REPO / "scripts"))
    import gen_facts_doc

    doc = REPO / "docs" / "facts.md"
    assert doc.exists(), "docs/facts.md is missing: run `make docs`"
    assert doc.read_text() == gen_facts_doc.render(), "docs/facts.md is stale: run `make docs`"


def test_schema_has_every_required_path():
    """The paths consumers rely on are all in the schema."""
    paths = {path for path, _ in schema()}
    assert [path for path in REQUIRED if path not in paths] == []


def test_schema_matches_what_to_json_produces():
    """Paths and JSON kinds of a fully populated Facts.to_json() are exactly the schema's."""
    results = {name: asdict(_sample(analyser_result_type(name))) for name in ANALYSERS}
    values = {f.name: _sample(t) for f, t in _typed_fields(Facts) if f.name != "analysers"}
    facts = Facts(**{**values, "schema_version": SCHEMA_VERSION, "analysers": results})
    found = kinds(facts.to_json())
    expected = dict(schema())
    assert sorted(found) == sorted(expected), "facts/schema.py disagrees with Facts.to_json()"
    wrong = {p: (k, expected[p]) for p, k in found.items() if not k <= type_kinds(expected[p])}
    assert not wrong, f"JSON kind not in the schema's type: {wrong}"


# --- a Facts with every value present, lists of one item, to see every path -------------------


def _typed_fields(cls: Any) -> list[tuple[dataclasses.Field[Any], Any]]:
    hints = typing.get_type_hints(cls)
    return [(field, hints[field.name]) for field in dataclasses.fields(cls)]


def _sample(tp: Any) -> Any:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return tp(**{field.name: _sample(t) for field, t in _typed_fields(tp)})
    if origin in (typing.Union, types.UnionType):
        return _sample(args[0])  # never None: nested paths must show
    if origin in (tuple, list):
        return origin([_sample(args[0])])
    if origin is dict:
        return {}  # a map's keys are data, not paths
    if tp is bool:
        return True  # SpecialFile: in both setuid[] and setgid[]
    return {str: "x", int: 1, float: 0.5}.get(tp, "x")
