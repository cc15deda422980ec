"""What every static analyser receives: the image's config, its layers and the merged filesystem.

Analysers live in `inspector/analysers/NAME.py`. Each one exports:
- `wants(path: str, size: int) -> int | None`: how many bytes of a file it needs captured during the
  single pass over the layers (None: not this file). Keep caps small; never capture large files.
- `analyse(data: ImageData) -> <frozen dataclass>`: facts only, no judgements, no I/O, no docker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from inspector.image.config import ImageConfig
from inspector.layers.model import LayerRead
from inspector.layers.overlay import FileSystem, Version


@dataclass(frozen=True)
class ImageData:
    config: ImageConfig
    # The raw image config JSON (Docker or OCI): "config", "history", "rootfs", "created", ...
    raw_config: dict[str, Any]
    layers: Sequence[LayerRead]
    fs: FileSystem
    # created_by of the history step that made each layer (None when history does not say).
    layer_steps: Sequence[str | None]

    def content(self, path: str) -> bytes | None:
        """The captured content of the visible file at `path` (None: absent or not captured)."""
        version = self.fs.visible.get(path)
        return self.content_of(version) if version else None

    def content_of(self, version: Version) -> bytes | None:
        """The captured content of one version of a file, visible or not."""
        return self.layers[version.layer].contents.get(version.entry.path)

    def text(self, path: str) -> str | None:
        data = self.content(path)
        return data.decode("utf-8", "replace") if data is not None else None

    def step(self, layer: int | None) -> str | None:
        if layer is None or layer >= len(self.layer_steps):
            return None
        return self.layer_steps[layer]
