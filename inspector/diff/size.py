"""Sizes: each layer shared or new by its diff_id, the totals, and where NEW grew."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from inspector.diff.model import LayerChange, PathGrowth, SizeDiff

BIGGEST = 10  # the paths that grew most, listed


def size_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> SizeDiff:
    """Layers by diff_id (a layer is shared when both images hold the same bytes), totals in
    uncompressed layer bytes, and the paths that grew most when both facts list path sizes."""
    old_layers: Sequence[Mapping[str, Any]] = old.get("layers") or ()
    new_layers: Sequence[Mapping[str, Any]] = new.get("layers") or ()
    old_at = {layer["digest"]: layer for layer in old_layers}
    new_digests = {layer["digest"] for layer in new_layers}
    rows = []
    for layer in new_layers:
        before = old_at.get(layer["digest"])
        rows.append(LayerChange(
            layer["digest"], "shared" if before else "added", layer["size"],
            before["index"] if before else None, layer["index"], layer.get("created_by"),
        ))  # fmt: skip
    for layer in old_layers:
        if layer["digest"] not in new_digests:
            rows.append(LayerChange(layer["digest"], "removed", layer["size"], layer["index"],
                                    None, layer.get("created_by")))  # fmt: skip
    base = 0
    for a, b in zip(old_layers, new_layers, strict=False):
        if a["digest"] != b["digest"]:
            break
        base += 1
    growth, known = biggest_added(old.get("fs") or {}, new.get("fs") or {})
    return SizeDiff(
        delta_bytes=_total(new_layers) - _total(old_layers),
        shared_layers=sum(1 for r in rows if r.status == "shared"),
        shared_bytes=sum(r.size for r in rows if r.status == "shared"),
        added_bytes=sum(r.size for r in rows if r.status == "added"),
        removed_bytes=sum(r.size for r in rows if r.status == "removed"),
        base_layers=base,
        layers=tuple(rows),
        biggest_added=growth,
        biggest_known=known,
    )


def _total(layers: Sequence[Mapping[str, Any]]) -> int:
    return sum(layer["size"] for layer in layers)


def biggest_added(
    old: Mapping[str, Any], new: Mapping[str, Any]
) -> tuple[tuple[PathGrowth, ...], bool]:
    """The paths NEW added or grew most, deepest first among equals, from the facts' `fs.sizes`
    (every path holding at least its threshold of visible bytes); (), False without them."""
    before, after = old.get("sizes"), new.get("sizes")
    if not isinstance(before, Mapping) or not isinstance(after, Mapping):
        return (), False
    old_paths = {p["path"]: p["bytes"] for p in before.get("paths") or ()}
    threshold = before.get("threshold") or 0
    grown = []
    for entry in after.get("paths") or ():
        path, size = entry["path"], entry["bytes"]
        was = old_paths.get(path)
        # Absent from OLD's list means OLD held less than its threshold there.
        growth = size - (was if was is not None else threshold)
        if growth > 0:
            grown.append((growth, path, was, size))
    # A directory whose growth one listed child explains says nothing more: keep the child.
    growth_of = {path: growth for growth, path, _, _ in grown}
    explained = set()
    for growth, path, _, _ in grown:
        parent = path.rsplit("/", 1)[0] or "/"
        while parent and parent != path:
            if parent in growth_of and growth >= 0.9 * growth_of[parent]:
                explained.add(parent)
            if parent == "/":
                break
            path, parent = parent, parent.rsplit("/", 1)[0] or "/"
    kept = sorted((g for g in grown if g[1] not in explained), key=lambda g: (-g[0], g[1]))
    return tuple(PathGrowth(path, was, size) for _, path, was, size in kept[:BIGGEST]), True
