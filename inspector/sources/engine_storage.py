"""Where a local image's layers sit in the Docker engine's own storage, when we may read them.

Asking the engine to export an image makes it build a tar of every layer that we then hash and
parse: most of a cold local read is that wait. The layers are already on this machine, unpacked
(overlay2's diff directories) with their tar headers recorded (the layer database's tar-split),
so when the engine is local, uses overlay2 and its data-root is readable, each layer is read
there instead (`layers/stored.py`). Every "no" comes with the reason, which `--verbose` prints
before the export is used instead.

Everything is found from content addresses: the config file is the one whose sha256 is the image
ID, each layer's directory is named by the chain ID of the config's diff_ids (the OCI image
spec's ChainID), and the layer database's `diff` must name the diff_id expected. A data-root
that belongs to another engine (a socket forwarded from a VM) cannot pass for this one.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspector.layers.limits import ImageBudget, LimitExceeded
from inspector.layers.model import LayerError, LayerRead
from inspector.layers.stored import (
    STORAGE_VAR,
    ReadStored,
    StoredLayer,
    local_storage_allowed,
)
from inspector.sources.archive import Known

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_CACHE_ID = re.compile(r"[0-9a-zA-Z_.-]{1,128}")
MAX_CONFIG = 8 << 20


@dataclass(frozen=True)
class StoredImage:
    """A local image whose config and layers can be read from the engine's storage."""

    config_bytes: bytes
    layers: tuple[StoredLayer, ...]  # in the config's diff_ids order


class NotHere(Exception):
    """Why the engine's storage is not read for this image (the export is used instead)."""


def chain_ids(diff_ids: list[str]) -> list[str]:
    """The OCI ChainID of each layer: the first diff_id, then sha256 of "PARENT DIFF_ID"."""
    chain: list[str] = []
    for diff_id in diff_ids:
        if chain:
            text = f"{chain[-1]} {diff_id}".encode()
            diff_id = "sha256:" + hashlib.sha256(text).hexdigest()
        chain.append(diff_id)
    return chain


def engine_storage(base_url: str, info: dict[str, Any]) -> Path:
    """The overlay2 data-root of the engine `info` describes, or NotHere saying why not."""
    if not base_url.startswith(("http+unix://", "unix://")):
        raise NotHere(f"the engine is not local ({base_url.split('://', 1)[0]} connection)")
    driver = info.get("Driver") or "unknown"
    status = dict(
        item for item in info.get("DriverStatus") or () if isinstance(item, list) and len(item) == 2
    )
    if "io.containerd.snapshotter" in str(status.get("driver-type", "")):
        raise NotHere("the engine keeps images in containerd's image store, not read here yet")
    if driver != "overlay2":
        raise NotHere(f"the engine's storage driver is {driver}, not overlay2")
    if any("rootless" in str(option) for option in info.get("SecurityOptions") or ()):
        raise NotHere("the engine runs rootless; its storage is in its own user namespace")
    root = Path(str(info.get("DockerRootDir") or "/var/lib/docker"))
    layerdb = root / "image" / "overlay2" / "layerdb" / "sha256"
    if not os.access(layerdb, os.R_OK | os.X_OK):
        raise NotHere(f"the engine's data-root {root} is not readable by this user")
    return root


def stored_image(root: Path, image_id: str, diff_ids: list[str]) -> StoredImage:
    """The config and layer directories of `image_id`, each checked, or NotHere saying why."""
    if not _DIGEST.fullmatch(image_id):
        raise NotHere(f"the image ID {image_id[:80]!r} is not a sha256 digest")
    config_path = root / "image" / "overlay2" / "imagedb" / "content" / "sha256" / image_id[7:]
    try:
        with open(config_path, "rb") as file:
            config_bytes = file.read(MAX_CONFIG + 1)
    except OSError as exc:
        raise NotHere(f"the image's config is not in the data-root ({exc.strerror})") from exc
    if "sha256:" + hashlib.sha256(config_bytes).hexdigest() != image_id:
        raise NotHere("the config in the data-root is not this image's (another engine's?)")
    if not all(isinstance(d, str) and _DIGEST.fullmatch(d) for d in diff_ids):
        raise NotHere("the config's diff_ids are not all sha256 digests")
    layerdb = root / "image" / "overlay2" / "layerdb" / "sha256"
    layers = []
    pairs = zip(diff_ids, chain_ids(diff_ids), strict=True)
    for position, (diff_id, chain_id) in enumerate(pairs, 1):
        entry = layerdb / chain_id[7:]
        try:
            recorded = (entry / "diff").read_text().strip()
            cache_id = (entry / "cache-id").read_text().strip()
        except OSError as exc:
            why = f"layer {position} is not in the layer database ({exc.strerror})"
            raise NotHere(why) from exc
        if recorded != diff_id:
            raise NotHere(f"layer {position}'s database entry names {recorded[:80]!r}")
        if not _CACHE_ID.fullmatch(cache_id):
            raise NotHere(f"layer {position}'s cache-id is not a directory name")
        diff_dir = root / "overlay2" / cache_id / "diff"
        if not diff_dir.is_dir() or diff_dir.is_symlink():
            raise NotHere(f"layer {position}'s directory {diff_dir} is missing")
        tar_split = entry / "tar-split.json.gz"
        layers.append(StoredLayer(diff_id, diff_dir, tar_split if tar_split.is_file() else None))
    return StoredImage(config_bytes, tuple(layers))


def read_from_storage(
    base_url: str,
    info: Callable[[], dict[str, Any]],
    image_id: str,
    diff_ids: list[str],
    read_stored: ReadStored,
    known: Known,
) -> tuple[bytes, dict[str, LayerRead]]:
    """The config bytes and every layer `known` does not hold, read from the engine's storage;
    NotHere (with the reason) when it cannot be, so the caller exports the image instead.

    A layer is read inside `known.claim`, as the registry source does, so concurrent readers
    sharing a cache read it once."""
    if not local_storage_allowed():
        raise NotHere(f"{STORAGE_VAR} asks for the export")
    root = engine_storage(base_url, info())
    image = stored_image(root, image_id, diff_ids)
    layers: dict[str, LayerRead] = {}
    budget = ImageBudget()
    for position, layer in enumerate(image.layers, 1):
        if layer.diff_id in known:
            continue  # the cache has it: not read again
        with known.claim(layer.diff_id) as mine:
            if not mine:
                continue
            try:
                read = read_stored(layer)
            except LimitExceeded:
                raise  # the export would hit the same limit
            except (LayerError, OSError) as exc:
                raise NotHere(f"layer {position} could not be read from {layer.diff_dir}: "
                              f"{exc}") from exc  # fmt: skip
            budget.add(read)
            layers[layer.diff_id] = read
            known.keep(read)
    return image.config_bytes, layers
