"""Counters around the costly steps of collecting facts, so a test proves what a warm read skips
by counting calls (never by timing): layer reads, cached layers decoded, overlay merges,
analyser runs and engine exports. Spies only: each call goes through to the real code."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest


def _counted(counts: Counter[str], name: str, real: Callable[..., Any]) -> Callable[..., Any]:
    def spy(*args: Any, **kwargs: Any) -> Any:
        counts[name] += 1
        return real(*args, **kwargs)

    return spy


def count_steps(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """A counter of "read" (layer tars parsed), "decoded" (cached layers loaded), "merge",
    "analyse" (analyser runs, all analysers), "export" (`docker save` streams opened)."""
    from inspector.analysers import analyser_modules
    from inspector.facts import collect
    from inspector.layers.cache import LayerCache
    from inspector.sources import daemon

    counts: Counter[str] = Counter()
    monkeypatch.setattr(collect, "read_layer", _counted(counts, "read", collect.read_layer))
    monkeypatch.setattr(collect, "merge", _counted(counts, "merge", collect.merge))
    monkeypatch.setattr(LayerCache, "get", _counted(counts, "decoded", LayerCache.get))
    monkeypatch.setattr(daemon, "_export", _counted(counts, "export", daemon._export))
    for module in analyser_modules():
        monkeypatch.setattr(module, "analyse", _counted(counts, "analyse", module.analyse))
    return counts
