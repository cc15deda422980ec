"""Package-manager caches left in the image, visible or deleted.

A cache removed by a later layer is gone from the container but still shipped in the layer that
wrote it, so every version in the path history is counted, not just the merged view.
"""

from __future__ import annotations

from dataclasses import dataclass

from inspector.analysers.imagedata import ImageData
from inspector.layers.model import FILE

# Tool dir under any `.cache` (root, /home/*, or HOME=/ for nobody) -> kind.
_HOME_CACHES = {
    "pip": "pip",
    "uv": "uv",
    "pypoetry": "poetry",
    "poetry": "poetry",
    "pipenv": "pipenv",
    "pdm": "pdm",
}
# Env vars that move a cache, and the kind they move.
_CACHE_ENV = {
    "PIP_CACHE_DIR": "pip",
    "UV_CACHE_DIR": "uv",
    "POETRY_CACHE_DIR": "poetry",
    "PIPENV_CACHE_DIR": "pipenv",
    "PDM_CACHE_DIR": "pdm",
}
_XDG_TOOLS = {"pip": "pip", "uv": "uv", "pypoetry": "poetry", "pipenv": "pipenv", "pdm": "pdm"}
_APT_LISTS = "/var/lib/apt/lists"
_APT_CACHE = "/var/cache/apt"
_APK_ROOTS = ("/var/cache/apk", "/etc/apk/cache")
_DNF_ROOTS = ("/var/cache/dnf", "/var/cache/yum")


@dataclass(frozen=True)
class CacheLayer:
    layer: int  # the layer that wrote these files
    created_by: str | None
    bytes_added: int
    files: int
    deleted_in: int | None  # the layer that deleted or overwrote them; None: still visible
    deleted_by: str | None


@dataclass(frozen=True)
class Cache:
    visible_bytes: int
    visible_files: int
    deleted_bytes: int  # hidden by a later layer, yet still in the image
    deleted_files: int
    layers: tuple[CacheLayer, ...]
    paths: tuple[str, ...]  # cache roots seen, e.g. "/root/.cache/pip"


@dataclass(frozen=True)
class Caches:
    pip: Cache
    uv: Cache
    poetry: Cache
    pipenv: Cache
    pdm: Cache
    apt_lists: Cache
    apt_archives: Cache
    apk: Cache
    dnf: Cache  # dnf and yum


KINDS = tuple(Caches.__dataclass_fields__)


def wants(path: str, size: int) -> int | None:
    # Sizes come from the tar headers; no content is needed.
    return None


class _Kind:
    def __init__(self) -> None:
        self.visible_bytes = self.visible_files = self.deleted_bytes = self.deleted_files = 0
        # (layer, deleted_in) -> [bytes, files]
        self.layers: dict[tuple[int, int | None], list[int]] = {}
        self.roots: set[str] = set()

    def freeze(self, data: ImageData) -> Cache:
        layers = tuple(
            CacheLayer(layer, data.step(layer), size, files, deleted_in, data.step(deleted_in))
            for (layer, deleted_in), (size, files) in sorted(
                self.layers.items(), key=lambda item: (item[0][0], _order(item[0][1]))
            )
        )
        return Cache(self.visible_bytes, self.visible_files, self.deleted_bytes,
                     self.deleted_files, layers, tuple(sorted(self.roots)))  # fmt: skip


def _order(layer: int | None) -> int:
    return -1 if layer is None else layer


def analyse(data: ImageData) -> Caches:
    moved = _moved_roots(data.config.env)
    kinds = {name: _Kind() for name in KINDS}
    for path, versions in data.fs.history.items():
        placed = _classify(path, moved)
        if placed is None:
            continue
        name, root = placed
        kind = kinds[name]
        for version in versions:
            if version.entry.kind != FILE:
                continue
            kind.roots.add(root)
            size = version.entry.size
            if version.removed_in is None:
                kind.visible_bytes += size
                kind.visible_files += 1
            else:
                kind.deleted_bytes += size
                kind.deleted_files += 1
            bucket = kind.layers.setdefault((version.layer, version.removed_in), [0, 0])
            bucket[0] += size
            bucket[1] += 1
    return Caches(**{name: kind.freeze(data) for name, kind in kinds.items()})


def _moved_roots(env: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """(root, kind) for caches the config's Env relocates; longest roots first."""
    roots: list[tuple[str, str]] = []
    for var, kind in _CACHE_ENV.items():
        value = env.get(var, "").rstrip("/")
        if value.startswith("/") and value != "":
            roots.append((value, kind))
    xdg = env.get("XDG_CACHE_HOME", "").rstrip("/")
    if xdg.startswith("/"):
        roots.extend((f"{xdg}/{tool}", kind) for tool, kind in _XDG_TOOLS.items())
    return tuple(sorted(roots, key=lambda r: len(r[0]), reverse=True))


def _classify(path: str, moved: tuple[tuple[str, str], ...]) -> tuple[str, str] | None:
    """(kind, cache root) of a path, or None when it is no cache."""
    for root, kind in moved:
        if path.startswith(root) and path[len(root) : len(root) + 1] == "/":
            return kind, root
    index = path.find("/.cache/")
    if index >= 0:
        start = index + len("/.cache/")
        end = path.find("/", start)
        if end > 0:
            kind = _HOME_CACHES.get(path[start:end])
            if kind is not None:
                return kind, path[:end]
    if path.startswith("/var/"):
        if path.startswith(_APT_LISTS + "/"):
            rest = path[len(_APT_LISTS) + 1 :]
            # `lock` and `partial/` are apt's working files, there even on a clean image.
            if rest == "lock" or rest == "partial" or rest.startswith("partial/"):
                return None
            return "apt_lists", _APT_LISTS
        if path.startswith(_APT_CACHE + "/"):
            rest = path[len(_APT_CACHE) + 1 :]
            if (rest.startswith("archives/") and rest.endswith(".deb")) or (
                "/" not in rest and rest.endswith(".bin")
            ):
                return "apt_archives", _APT_CACHE
            return None
        for root in _DNF_ROOTS:
            if path.startswith(root + "/"):
                return "dnf", root
    for root in _APK_ROOTS:
        if path.startswith(root + "/"):
            return "apk", root
    return None
