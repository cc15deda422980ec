"""What a layer cache offers the pipeline, whichever database holds it: the user's SQLite file,
or a PostgreSQL database a fleet of scanners shares."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from inspector.layers.model import LayerRead


class LayerStore(Protocol):
    def contains(self, diff_id: str) -> bool: ...

    def with_size(self, size: int) -> set[str]: ...

    def get(self, diff_id: str) -> LayerRead | None: ...

    def put(self, layer: LayerRead) -> None: ...

    def claim(self, diff_id: str) -> AbstractContextManager[bool]:
        """Inside the block, True: read the layer and `put` it; False: another reader did."""
        ...

    def get_config(self, image_id: str) -> bytes | None: ...

    def put_config(self, image_id: str, data: bytes) -> None: ...

    def close(self) -> None: ...
