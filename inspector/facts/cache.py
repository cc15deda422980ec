"""An image's static facts, kept so that the next `facts` or `audit` of the same image loads them
instead of rebuilding them from its cached layers: no layer decoded, no overlay merge, no analyser.

What is kept: every section but `runtime` and `vulnerabilities`, and the probe plan (what the
probes need from the merged filesystem, so they still run on a warm read). The probes run again
unless `--no-probe`, and the inventory is matched again against the advisory database as it is
now: neither is a property of the image alone. The `image` section's reference, source, digest
and tags are the current read's (one image has many names).

A row is keyed by the image ID (the digest of the config, which names every layer by its
digest, so the same ID is the same content) and by a fingerprint of what makes static facts from
that content: the source of the readers, analysers, image model, sources, facts package and
probe planner, the capture rule's own fingerprint (which holds the secret fingerprint key's id)
and the facts schema. Anything else that changes the facts changes one of those; `--dockerfile`
is applied to the facts afterwards and is not part of them. Rows live in the layer cache's
database (`inspector.layers.cache` and `cache_postgres`), bounded there; `--no-cache` bypasses
both.
A row that cannot be read back, or is of another shape or another image, is dropped and the
facts are rebuilt: never an error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import types
import typing
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from inspector.facts.model import SCHEMA_VERSION, Facts
from inspector.probes.model import RuntimeFacts
from inspector.probes.plan import ProbePlan

# Bumped when the stored row's layout changes (the code fingerprint would change too; this
# says so on purpose).
FORMAT = 1
# The Facts fields a row holds, and those every read computes afresh: together, all of them
# (a test holds a new section to choosing one).
STATIC_FIELDS = ("image", "config", "history", "layers", "fs", "analysers")
# Expectations are never served warm: an audit with expectation files reads the image cold.
RECOMPUTED = ("schema_version", "runtime", "vulnerabilities", "expectations")
# Whose source decides static facts: whole packages, then single modules (under inspector/).
# The whole facts package: a section computed in a module of its own changes its facts too.
_PACKAGES = ("analysers", "layers", "image", "sources", "facts")
_MODULES = ("probes/plan.py",)


class FactsStore(Protocol):
    """What this module needs of the layer cache's database (both dialects have it)."""

    def get_facts(self, image_id: str, fingerprint: str) -> bytes | None: ...

    def put_facts(self, image_id: str, fingerprint: str, data: bytes) -> None: ...

    def drop_facts(self, image_id: str, fingerprint: str) -> None: ...

    def close(self) -> None: ...


@functools.cache
def code_digest() -> str | None:
    """A digest of the source that turns layers into static facts; None when the source cannot
    be read (then nothing is cached: a stale row must never be served)."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    try:
        paths = [p for package in _PACKAGES for p in sorted((root / package).glob("*.py"))]
        for path in [*paths, *(root / m for m in _MODULES)]:
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    except OSError:
        return None
    return digest.hexdigest()


def fingerprint(capture_fingerprint: str) -> str | None:
    """The key a row is stored under besides the image ID, or None: do not cache."""
    code = code_digest()
    if code is None:
        return None
    text = f"{FORMAT}\0{SCHEMA_VERSION}\0{capture_fingerprint}\0{code}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Stored:
    """Static facts as a previous read of the image left them, and the plan its probes follow."""

    facts: dict[str, Any]  # STATIC_FIELDS, revived to their model types
    plan: ProbePlan

    def complete(
        self,
        reference: str,
        kind: str,
        loaded: Any,
        runtime: Callable[[ProbePlan], RuntimeFacts],
        advisories: Any,
    ) -> Facts:
        """The facts of this read: the stored ones under this read's name, probed and matched
        now."""
        from inspector.analysers.inventory import inventory_from_json
        from inspector.facts.vulns import vulnerability_facts

        found = runtime(self.plan)
        inventory = inventory_from_json(self.facts["analysers"].get("inventory"))
        image = dataclasses.replace(
            self.facts["image"], reference=reference, source=kind, digest=loaded.digest,
            tags=tuple(loaded.tags),
        )  # fmt: skip
        return Facts(
            schema_version=SCHEMA_VERSION,
            **{**self.facts, "image": image},
            runtime=found,
            vulnerabilities=vulnerability_facts(inventory, found, advisories),
            expectations=None,
        )


class PlanSeen:
    """The runtime step of a cold read, noting the plan it was given (a row needs it)."""

    def __init__(self, runtime: Callable[[ProbePlan], RuntimeFacts]) -> None:
        self.runtime = runtime
        self.plan: ProbePlan | None = None

    def __call__(self, plan: ProbePlan) -> RuntimeFacts:
        self.plan = plan
        return self.runtime(plan)


def lookup(store: Any, image_id: str, key: str | None) -> Stored | None:
    """The stored static facts of `image_id`, or None (nothing stored, or a row not to trust,
    which is dropped so the rebuilt facts replace it)."""
    get = getattr(store, "get_facts", None)
    if key is None or get is None:
        return None
    blob = get(image_id, key)
    if blob is None:
        return None
    try:
        return decode(blob, image_id, key)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError, zlib.error):
        store.drop_facts(image_id, key)
        return None


def remember(
    store: Any, image_id: str, key: str | None, facts: Facts, plan: ProbePlan | None
) -> None:
    """Store the static facts of a cold read. Failing to store costs the next read its speed,
    not this one its result, so a store that refuses is left alone."""
    put = getattr(store, "put_facts", None)
    if key is None or plan is None or put is None:
        return
    with contextlib.suppress(Exception):  # a full disk, a lost server: these facts are right
        put(image_id, key, encode(facts, plan, image_id, key))


def encode(facts: Facts, plan: ProbePlan, image_id: str, key: str) -> bytes:
    static = {name: _plain(getattr(facts, name)) for name in STATIC_FIELDS}
    plan_doc = dataclasses.asdict(plan)
    plan_doc["image_paths"] = sorted(plan.image_paths)
    doc = {"image_id": image_id, "fingerprint": key, "facts": static, "plan": plan_doc}
    # default=str: what Facts.to_json does with a value JSON has no form for, so the JSON of
    # warm facts is the JSON of cold ones.
    return zlib.compress(json.dumps(doc, separators=(",", ":"), default=str).encode())


def decode(blob: bytes, image_id: str, key: str) -> Stored:
    doc = json.loads(zlib.decompress(blob))
    if not isinstance(doc, dict) or doc.get("image_id") != image_id:
        raise ValueError("a row of another image")
    if doc.get("fingerprint") != key:
        raise ValueError("a row of another fingerprint")
    hints = _hints(Facts)
    static = doc["facts"]
    facts = {name: revive(hints[name], static[name]) for name in STATIC_FIELDS}
    # Every layer of a warm read comes from the cache.
    facts["layers"] = tuple(dataclasses.replace(f, from_cache=True) for f in facts["layers"])
    return Stored(facts, revive(ProbePlan, doc["plan"]))


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def revive(kind: Any, value: Any) -> Any:
    """`value`, read from JSON, as the type `kind` annotates: dataclasses, tuples, frozensets,
    optionals, mappings. A value of another shape raises (TypeError, ValueError, KeyError)."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is Any:
        return value
    if dataclasses.is_dataclass(kind):
        if not isinstance(value, dict):
            raise TypeError(f"{kind.__name__}: not an object")
        hints = _hints(kind)
        return kind(**{f.name: revive(hints[f.name], value[f.name])
                       for f in dataclasses.fields(kind) if f.init})  # fmt: skip
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return revive(arg, value)
            except (TypeError, ValueError, KeyError):
                continue
        raise TypeError(f"{value!r:.40} is none of {kind}")
    if origin is tuple:
        _sequence(value)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_items(args[0], value))
        if len(args) != len(value):
            raise ValueError(f"{kind}: {len(value)} items")
        return tuple(revive(a, v) for a, v in zip(args, value, strict=True))
    if origin in (frozenset, set):
        return frozenset(_items(args[0], _sequence(value)))
    if origin in (list, Sequence):
        return list(_items(args[0], _sequence(value)))
    if origin in (dict, Mapping):
        if not isinstance(value, dict):
            raise TypeError(f"{kind}: not an object")
        return {k: revive(args[1], v) for k, v in value.items()}
    if kind in (str, int, bool) and not isinstance(value, kind):
        raise TypeError(f"{value!r:.40} is not {kind.__name__}")
    if kind is float and not isinstance(value, (int, float)):
        raise TypeError(f"{value!r:.40} is not a number")
    return value


def _items(kind: Any, values: list[Any]) -> Iterable[Any]:
    # A plan lists every path of the image: strings are checked, not revived one by one.
    if kind is str:
        if not set(map(type, values)) <= {str}:
            raise TypeError("not a list of strings")
        return values
    return (revive(kind, v) for v in values)


def _sequence(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError("not a list")
    return value
