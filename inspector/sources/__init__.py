"""Where images come from. A reference is resolved to one immutable image, once.

- `docker-archive:PATH`: what `docker save` writes (legacy or OCI layout), no daemon needed;
- `oci-archive:PATH`: a tar of an OCI image layout; `oci:DIR`: an OCI image layout directory;
- anything else: an image the Docker daemon has (tag, ID or digest), pulled only when asked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from inspector.sources.archive import Known, Loaded, ReadLayer, read_archive, read_oci_dir

PULL_POLICIES = ("never", "missing", "always")
ARCHIVE_KINDS = ("docker-archive", "oci-archive", "oci")


@dataclass(frozen=True)
class Reference:
    kind: str  # "daemon" or one of ARCHIVE_KINDS
    target: str  # the image reference, or the archive/layout path


def parse_reference(text: str) -> Reference:
    for kind in ARCHIVE_KINDS:
        if text.startswith(kind + ":"):
            return Reference(kind, text[len(kind) + 1 :])
    return Reference("daemon", text)


def load(
    ref: Reference,
    read_layer: ReadLayer,
    known: Known,
    *,
    pull: str = "never",
    cached_config: Callable[[str], bytes | None] = lambda image_id: None,
) -> Loaded:
    """Read the image `ref` names; layers `known` to the cache are not parsed again."""
    if ref.kind in ("docker-archive", "oci-archive"):
        return read_archive(Path(ref.target), read_layer, known)
    if ref.kind == "oci":
        return read_oci_dir(Path(ref.target), read_layer, known)
    from inspector.sources import daemon

    return daemon.load(ref.target, read_layer, known, pull=pull, cached_config=cached_config)
