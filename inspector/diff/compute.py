"""The diff as a pure function of two facts documents and their check results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from checks.model import CheckResult
from inspector.diff.config import config_diff
from inspector.diff.findings import findings_diff, gate
from inspector.diff.model import Base, ImageDiff, Side
from inspector.diff.packages import interpreter_version, packages_diff
from inspector.diff.runtime import runtime_diff
from inspector.diff.size import size_diff

# OCI's annotation keys for the base image, which builders also write as labels.
BASE_NAME = "org.opencontainers.image.base.name"
BASE_DIGEST = "org.opencontainers.image.base.digest"


@dataclass(frozen=True)
class Audited:
    """One image of the pair: how it was named, its facts' JSON and its check results."""

    reference: str
    facts: Mapping[str, Any]
    results: Sequence[CheckResult] = ()


def side(image: Audited) -> Side:
    doc = image.facts
    about = doc.get("image") or {}
    config = doc.get("config") or {}
    labels = config.get("labels") or {}
    layers = doc.get("layers") or ()
    fs = doc.get("fs") or {}
    return Side(
        reference=image.reference,
        id=about.get("id"),
        digest=about.get("digest"),
        created=about.get("created"),
        platform=about.get("platform"),
        base=Base(labels.get(BASE_NAME), labels.get(BASE_DIGEST)),
        layers=len(layers),
        layers_read=sum(1 for layer in layers if not layer.get("from_cache")),
        bytes=sum(layer.get("size", 0) for layer in layers),
        visible_bytes=fs.get("visible_bytes", 0),
        wasted_bytes=fs.get("wasted_bytes", 0),
        python=interpreter_version(doc),
        user=config.get("user") or "",
    )


def compute(old: Audited, new: Audited, fail_on: str | None = None) -> ImageDiff:
    """What changed from `old` to `new`; `fail_on` is the SEVERITY of `--fail-on new:SEVERITY`."""
    findings = findings_diff(new.reference, old.results, new.results)
    return ImageDiff(
        old=side(old),
        new=side(new),
        config=config_diff(old.facts.get("config") or {}, new.facts.get("config") or {}),
        size=size_diff(old.facts, new.facts),
        packages=packages_diff(old.facts, new.facts),
        findings=findings,
        runtime=runtime_diff(old.facts, new.facts),
        gate=gate(findings, fail_on),
    )
