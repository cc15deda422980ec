"""The driver: collect each image's facts with the one collector, run the selected checks under
the policy, and compute the diff.

The two images are read one after the other, never at once, so every layer they share is read
once: the second takes it from the layer cache the first just filled (with --no-cache, from a
cache in memory that lives for this diff only). A `registry:` image is read second: a registry
names each layer's diff_id before it is downloaded, so a shared layer is neither fetched nor
read, where an engine's export (or a `docker save` archive) names its layers only once they are
hashed, and re-reads small ones whatever the cache holds."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING

from checks.engine import run_checks
from checks.model import Check
from inspector.diff.compute import Audited, compute
from inspector.diff.model import ImageDiff
from inspector.errors import InspectorError
from inspector.layers.model import LayerRead
from inspector.policy.gate import apply

if TYPE_CHECKING:
    from inspector.audit import AuditOptions
    from inspector.layers.store import LayerStore


class MemoryLayers:
    """A layer cache that lives as long as one diff: --no-cache still reads a shared layer once."""

    def __init__(self) -> None:
        self.layers: dict[str, LayerRead] = {}
        self.configs: dict[str, bytes] = {}

    def contains(self, diff_id: str) -> bool:
        return diff_id in self.layers

    def with_size(self, size: int) -> set[str]:
        return {d for d, layer in self.layers.items() if layer.size == size}

    def get(self, diff_id: str) -> LayerRead | None:
        return self.layers.get(diff_id)

    def put(self, layer: LayerRead) -> None:
        self.layers[layer.diff_id] = layer

    def claim(self, diff_id: str) -> AbstractContextManager[bool]:
        return nullcontext(diff_id not in self.layers)

    def get_config(self, image_id: str) -> bytes | None:
        return self.configs.get(image_id)

    def put_config(self, image_id: str, data: bytes) -> None:
        self.configs[image_id] = data

    def close(self) -> None:
        """Kept open: the second image reads what the first one put."""


def audited(
    reference: str,
    checks: Sequence[Check],
    options: AuditOptions,
    progress: Callable[[str], None],
    layer_cache: Callable[[str], LayerStore] | None,
) -> Audited:
    """One image's facts and check results, as `audit` would have them."""
    from inspector.facts.collect import collect

    wanted = options.probe if any(c.needs_probe for c in checks) else None
    try:
        facts = collect(
            reference,
            pull=options.pull,
            use_cache=True,
            platform=options.platform,
            insecure_registries=options.insecure_registries,
            probe=wanted,
            progress=lambda message: progress(f"{reference}: {message}"),
            layer_cache=layer_cache,
            advisories=options.advisories,
        )
    except InspectorError as exc:
        from inspector.analysers.secrets import redact_reference

        said = str(exc) if reference in str(exc) else f"{reference}: {exc}"
        raise InspectorError(redact_reference(said)) from exc
    doc = facts.to_json()
    results = apply(options.gate, reference, run_checks(doc, checks, options.context)).results
    broken = [r for r in results if r.status == "error"]
    if broken:
        raise InspectorError(f"{reference}: check {broken[0].check.id} failed to run: "
                             f"{broken[0].reason}")  # fmt: skip
    return Audited(reference, doc, results)


def diff(
    old: str,
    new: str,
    checks: Sequence[Check],
    options: AuditOptions,
    *,
    fail_on: str | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> ImageDiff:
    """Collect OLD, then NEW (sharing layers through the cache), and compare them."""
    memory = None if options.use_cache else MemoryLayers()
    opener = (lambda fingerprint: memory) if memory is not None else None
    if skips_by_diff_id(old) and not skips_by_diff_id(new):
        after = audited(new, checks, options, progress, opener)
        before = audited(old, checks, options, progress, opener)
    else:
        before = audited(old, checks, options, progress, opener)
        after = audited(new, checks, options, progress, opener)
    return compute(before, after, fail_on)


def skips_by_diff_id(reference: str) -> bool:
    """Whether the source learns each layer's diff_id before reading it (a registry's config
    lists them), so a layer the cache holds is never read: such an image is best read second."""
    from inspector.sources import parse_reference

    try:
        return parse_reference(reference).kind == "registry"
    except InspectorError:
        return False  # the collector says what is wrong with it, in its turn
