"""The facts about one image: a frozen, versioned, JSON-serialisable model, collected once
(`inspector.facts.collect`). Checks later read only its JSON form.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from inspector.advisories.model import VulnerabilityFacts, VulnerabilityMatch
from inspector.expect.model import ExpectationFacts
from inspector.facts.sizes import PathSizes
from inspector.image.config import ImageConfig
from inspector.probes.model import RuntimeFacts

# 2: the `vulnerabilities` section (known vulnerabilities of the inventory's components).
SCHEMA_VERSION = 2
# What facts collected without matching say (a caller that asked for no vulnerabilities).
NOT_MATCHED = VulnerabilityFacts(
    "disabled", "vulnerabilities were not matched: matching is off (--no-vulns)",
    None, (), (), (), None, (),
)  # fmt: skip


@dataclass(frozen=True)
class ImageFacts:
    reference: str
    source: str
    id: str
    digest: str | None
    tags: tuple[str, ...]
    created: str | None
    architecture: str | None
    os: str | None
    variant: str | None = None
    platform: str | None = None  # os/architecture[/variant]: what a registry index was asked for


@dataclass(frozen=True)
class HistoryFacts:
    created: str | None
    created_by: str
    empty_layer: bool
    layer: int | None  # index into layers[], None for steps that made no layer


@dataclass(frozen=True)
class LayerFacts:
    index: int
    digest: str  # the diff_id: sha256 of the uncompressed layer tar
    size: int  # uncompressed bytes of the tar
    files: int
    added_bytes: int  # bytes of regular files it adds
    wasted_bytes: int  # of those, bytes a later layer deletes or replaces
    created_by: str | None
    from_cache: bool
    scanned_bytes: int  # file bytes the content scan for credentials read in this layer


@dataclass(frozen=True)
class WasteFacts:
    layer: int
    created_by: str | None
    removed_in: int
    removed_by: str | None
    how: str  # "deleted" | "replaced"
    bytes: int
    files: int
    examples: tuple[str, ...]


@dataclass(frozen=True)
class FsFacts:
    visible_bytes: int
    visible_files: int  # regular files and hard links: names a container can open
    wasted_bytes: int
    efficiency: float  # visible / (visible + wasted): 1.0 means no byte is shipped in vain
    waste: tuple[WasteFacts, ...]  # largest groups first
    unsafe_names: tuple[str, ...]
    # The paths holding the most visible bytes (inspector/facts/sizes.py): what `diff` compares.
    sizes: PathSizes | None = None


@dataclass(frozen=True)
class Facts:
    schema_version: int
    image: ImageFacts
    config: ImageConfig
    history: tuple[HistoryFacts, ...]
    layers: tuple[LayerFacts, ...]
    fs: FsFacts
    analysers: dict[str, Any]
    runtime: RuntimeFacts
    vulnerabilities: VulnerabilityFacts = NOT_MATCHED
    # The team's own expectations (--expect, the policy's `expect`); None: no file was given.
    expectations: ExpectationFacts | None = None

    def to_json(self) -> dict[str, Any]:
        # An old base has thousands of matches: asdict's deep copy of each costs more than the
        # matching did, and they are flat, so they are laid out directly.
        doc = asdict(replace(self, vulnerabilities=NOT_MATCHED))
        doc["config"]["entrypoint_form"] = self.config.entrypoint_form
        doc["config"]["cmd_form"] = self.config.cmd_form
        analysers = doc.pop("analysers")
        runtime = doc.pop("runtime")
        doc.update(flatten_analysers(analysers))
        doc["runtime"] = runtime
        doc.pop("vulnerabilities")
        doc["vulnerabilities"] = vulnerabilities_json(self.vulnerabilities)  # last: it reads all
        doc["expectations"] = doc.pop("expectations")  # after it: judged last of all
        # Exactly what `--format json` prints: lists, not tuples; no surprises for consumers.
        return json.loads(json.dumps(doc, ensure_ascii=False, default=str))


def vulnerabilities_json(section: VulnerabilityFacts) -> dict[str, Any]:
    """The section as asdict lays it out (tuples stay tuples until the JSON round trip)."""
    out = {f.name: getattr(section, f.name) for f in fields(section)}
    out["database"] = asdict(section.database) if section.database else None
    out["matches"] = [{f.name: getattr(m, f.name) for f in _MATCH_FIELDS} for m in section.matches]
    return out


_MATCH_FIELDS = fields(VulnerabilityMatch)


def flatten_analysers(results: dict[str, Any]) -> dict[str, Any]:
    """Place each analyser's result where the documented JSON paths expect it."""
    out: dict[str, Any] = {}
    out["os"] = results.get("osinfo")
    out["os_packages"] = results.get("ospackages")
    out["user"] = results.get("users")
    modes = results.get("filemodes") or {}
    special = modes.get("setuid_setgid") or ()
    out["setuid"] = [f for f in special if f["setuid"]]
    out["setgid"] = [f for f in special if f["setgid"]]
    out["world_writable"] = modes.get("world_writable") or ()
    out["world_writable_total"] = modes.get("world_writable_total", 0)
    out["capabilities"] = modes.get("capabilities") or ()
    out["secrets"] = results["secrets"]["secrets"]
    python = dict(results.get("python") or {})
    python["bytecode"] = results.get("bytecode")
    out["python"] = python
    out["caches"] = results.get("caches")
    out["files"] = results.get("files")
    out["inventory"] = results.get("inventory")
    return out
