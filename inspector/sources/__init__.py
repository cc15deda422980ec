"""Where images come from. A reference is resolved to one immutable image, once.

- `docker-archive:PATH`: what `docker save` writes (legacy or OCI layout), no daemon needed;
- `oci-archive:PATH`: a tar of an OCI image layout; `oci:DIR`: an OCI image layout directory;
- `registry:HOST[:PORT]/REPO[:TAG|@DIGEST]`: read through the registry's API, no daemon needed;
- anything else: an image the Docker daemon has (tag, ID or digest), pulled only when asked.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from inspector.errors import InspectorError
from inspector.layers.stored import ReadStored
from inspector.sources.archive import Known, Loaded, ReadLayer, read_archive, read_oci_dir
from inspector.sources.names import FORMS, check_daemon_reference

PULL_POLICIES = ("never", "missing", "always")
ARCHIVE_KINDS = ("docker-archive", "oci-archive", "oci")
REGISTRY_KIND = "registry"


@dataclass(frozen=True)
class Reference:
    kind: str  # "daemon", "registry" or one of ARCHIVE_KINDS
    target: str  # the image reference (HOST/REPO[:TAG] for a registry), or the archive/layout path


def parse_reference(text: str) -> Reference:
    """The source and target `text` names; a reference that cannot be valid is an error here,
    before any engine, file or registry is asked."""
    for kind in (*ARCHIVE_KINDS, REGISTRY_KIND):
        if text.startswith(kind + ":"):
            target = text[len(kind) + 1 :]
            if not target.strip():
                raise InspectorError(f"nothing after {kind}:; give {FORMS}")
            return Reference(kind, target)
    check_daemon_reference(text)
    return Reference("daemon", text)


def load(
    ref: Reference,
    read_layer: ReadLayer,
    known: Known,
    *,
    pull: str = "never",
    cached_config: Callable[[str], bytes | None] = lambda image_id: None,
    platform: str | None = None,
    insecure_registries: Collection[str] = (),
    read_stored: ReadStored | None = None,
) -> Loaded:
    """Read the image `ref` names; layers `known` to the cache are not parsed again.

    `platform` (os/arch[/variant]) and `insecure_registries` (hosts spoken to in plain HTTP)
    concern `registry:` references only; `read_stored` reads a local image's layer from the
    engine's storage (daemon references only; without it the engine exports the image).
    """
    if ref.kind in ("docker-archive", "oci-archive"):
        return read_archive(Path(ref.target), read_layer, known)
    if ref.kind == "oci":
        return read_oci_dir(Path(ref.target), read_layer, known)
    if ref.kind == REGISTRY_KIND:
        from inspector.sources import registry

        return registry.load(
            ref.target, read_layer, known, platform=platform, insecure=insecure_registries
        )
    from inspector.sources import daemon

    return daemon.load(ref.target, read_layer, known, pull=pull, cached_config=cached_config,
                       read_stored=read_stored)  # fmt: skip
