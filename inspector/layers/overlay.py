"""The layers applied in order: the merged filesystem a container sees, and every path's history.

Overlay semantics, as the OCI image spec defines them for layer changesets:
- `.wh.NAME` deletes NAME (and, for a directory, everything under it) from the layers below;
- `.wh..wh..opq` in a directory hides everything the layers below put in it;
- a new entry replaces an existing one at the same path; a directory over a directory merges,
  anything else over a directory replaces the whole subtree.
A whiteout only applies to lower layers, never to entries of its own layer.

Every version a later layer hides still ships in the image: its bytes are *wasted*.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from inspector.layers.limits import (
    MAX_PATH_BYTES,
    max_entries,
    too_many_entries,
    too_many_path_bytes,
)
from inspector.layers.model import DIR, FILE, OPAQUE_DIR, WHITEOUT, Entry, LayerRead

DELETED, REPLACED = "deleted", "replaced"


@dataclass(slots=True)
class Version:
    """One version of a path: the layer that added it, and the layer that hid it (if any)."""

    entry: Entry
    layer: int
    removed_in: int | None = None
    removal: str | None = None  # DELETED by a whiteout/opaque dir, or REPLACED by a new entry

    @property
    def bytes(self) -> int:
        return self.entry.size if self.entry.kind == FILE else 0


@dataclass
class FileSystem:
    """Built by `merge`; read by the analysers. Paths are absolute and normalised."""

    layer_count: int
    visible: dict[str, Version] = field(default_factory=dict)
    history: dict[str, list[Version]] = field(default_factory=dict)
    _children: dict[str, set[str]] = field(default_factory=dict, repr=False)
    # What the merge has recorded so far, against the image-wide limits (limits.py).
    _entries: int = field(default=0, repr=False)
    _path_bytes: int = field(default=0, repr=False)
    _entry_limit: int = field(default_factory=max_entries, repr=False)

    # --- queries ----------------------------------------------------------------------------

    def get(self, path: str) -> Entry | None:
        version = self.visible.get(path)
        return version.entry if version else None

    def exists(self, path: str) -> bool:
        return path in self.visible

    def children(self, path: str) -> list[str]:
        return sorted(self._children.get(path, ()))

    def walk(self, top: str = "/") -> Iterator[Version]:
        """Visible versions under `top` (inclusive), depth first; no recursion, any depth."""
        stack = [top]
        while stack:
            path = stack.pop()
            version = self.visible.get(path)
            if version is not None:
                yield version
            stack.extend(self._children.get(path, ()))

    def removed(self) -> Iterator[Version]:
        """Every version some later layer deleted or replaced (still shipped, not visible)."""
        for versions in self.history.values():
            for version in versions:
                if version.removed_in is not None:
                    yield version

    def resolve(self, path: str, max_links: int = 40) -> str | None:
        """Follow symlinks (inside the image's root) to the final path, or None if it fails.

        A loop, a dangling link or more than `max_links` hops gives None, never an endless walk.
        """
        # Reversed, so the next part is popped from the end: a link target prepends its parts,
        # and popping from the front would cost the whole list once per part.
        parts = [p for p in reversed(path.split("/")) if p]
        resolved = "/"
        hops = 0
        while parts:
            part = parts.pop()
            if part == "..":
                resolved = posixpath.dirname(resolved)
                continue
            if part == ".":
                continue
            candidate = posixpath.join(resolved, part)
            entry = self.get(candidate)
            if entry is None:
                return None
            if entry.kind == "symlink" and entry.link is not None:
                hops += 1
                if hops > max_links:
                    return None
                target = entry.link
                parts.extend(p for p in reversed(target.split("/")) if p)
                resolved = "/" if target.startswith("/") else resolved
                continue
            resolved = candidate
        return resolved

    # --- sizes ------------------------------------------------------------------------------

    @property
    def visible_bytes(self) -> int:
        return sum(v.bytes for v in self.visible.values())

    @property
    def wasted_bytes(self) -> int:
        return sum(v.bytes for v in self.removed())

    def wasted_by_layer(self) -> list[int]:
        """Bytes each layer added that a later layer hid."""
        waste = [0] * self.layer_count
        for version in self.removed():
            waste[version.layer] += version.bytes
        return waste

    # --- building ---------------------------------------------------------------------------

    def _record(self, entry: Entry, layer: int) -> None:
        # Tar streams need not list parent directories; a container still sees them.
        missing = []
        parent = _parent(entry.path)
        while parent != "/" and parent not in self.visible:
            missing.append(parent)
            parent = _parent(parent)
        for directory in reversed(missing):
            self._add(Entry(directory, DIR, 0, 0o755, 0, 0, 0), layer)
        self._add(entry, layer)

    def _add(self, entry: Entry, layer: int) -> None:
        # Counted here because a member's missing parents are added too: one deep path can
        # stand for a couple of thousand directories.
        self._entries += 1
        self._path_bytes += len(entry.path) + len(entry.link or "")
        if self._entries > self._entry_limit:
            raise too_many_entries(self._entry_limit)
        if self._path_bytes > MAX_PATH_BYTES:
            raise too_many_path_bytes()
        version = Version(entry, layer)
        self.history.setdefault(entry.path, []).append(version)
        self.visible[entry.path] = version
        self._children.setdefault(_parent(entry.path), set()).add(entry.path)

    def _hide(self, path: str, layer: int, removal: str, *, keep_top: bool = False) -> None:
        """Hide `path` and everything below it, as seen from the layers below `layer`."""
        stack = [path]
        while stack:
            current = stack.pop()
            stack.extend(self._children.pop(current, ()))
            if current == path and keep_top:
                continue
            version = self.visible.pop(current, None)
            if version is not None and version.removed_in is None:
                version.removed_in = layer
                version.removal = removal
        if keep_top:
            return
        parent = posixpath.dirname(path)
        if parent in self._children:
            self._children[parent].discard(path)


def _parent(path: str) -> str:
    # posixpath.dirname for a normalised absolute path, without the copies dirname makes to
    # strip trailing slashes (a 4 KiB path has ~2000 parents to walk).
    cut = path.rfind("/")
    return path[:cut] if cut > 0 else "/"


def merge(layers: Sequence[LayerRead]) -> FileSystem:
    fs = FileSystem(layer_count=len(layers))
    for index, layer in enumerate(layers):
        # Whiteouts first: they apply to the layers below, not to this layer's own entries.
        for entry in layer.entries:
            if entry.kind == WHITEOUT:
                fs._hide(entry.path, index, DELETED)
            elif entry.kind == OPAQUE_DIR:
                fs._hide(entry.path, index, DELETED, keep_top=True)
        for entry in layer.entries:
            if entry.kind in (WHITEOUT, OPAQUE_DIR) or entry.path == "/":
                continue
            current = fs.visible.get(entry.path)
            if current is not None:
                if current.entry.kind == DIR and entry.kind == DIR:
                    # Same directory, new metadata: children stay.
                    current.removed_in, current.removal = index, REPLACED
                    fs._add(entry, index)
                    continue
                fs._hide(entry.path, index, REPLACED)
            fs._record(entry, index)
    return fs
