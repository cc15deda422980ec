"""Images as tar streams (`docker save` output, docker-archive, oci-archive) and OCI directories.

A tar stream is read once, front to back. `docker save` writes the manifest *after* the layers
(legacy `<id>/layer.tar` layout) so a layer's place is not known while it is read: every layer is
identified by the digest of its uncompressed bytes (its diff_id), computed during the pass, and
matched to the config's `rootfs.diff_ids` at the end. That also proves each layer is intact.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Container
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from inspector.errors import InspectorError
from inspector.image.config import validate
from inspector.layers.model import LayerError, LayerRead
from inspector.layers.stream import CHUNK
from inspector.layers.tar import members

MAX_JSON = 16 << 20  # configs and manifests are small; anything larger is not one
HASH_ONLY_MIN = 1 << 20

ReadLayer = Callable[[BinaryIO], LayerRead]


class ArchiveError(InspectorError):
    """An archive that is not a readable image."""


@dataclass(frozen=True)
class Loaded:
    """An image read from an archive: its config, and every layer that had to be read."""

    image_id: str  # sha256 of the config JSON
    digest: str | None  # the OCI manifest digest, when the layout has one
    tags: tuple[str, ...]
    raw_config: dict[str, Any]
    config_bytes: bytes
    layers: dict[str, LayerRead]  # by diff_id; cached layers are absent


class Known:
    """Layers that need not be parsed again: what the cache holds, by diff_id and tar size."""

    def __init__(
        self,
        contains: Callable[[str], bool] = lambda diff_id: False,
        with_size: Callable[[int], set[str]] = lambda size: set(),
    ) -> None:
        self.contains, self.with_size = contains, with_size

    def __contains__(self, diff_id: object) -> bool:
        return isinstance(diff_id, str) and self.contains(diff_id)


class NeedsFullRead(ArchiveError):
    """A layer was only hashed (its size matched a cached one) but its digest did not match."""


def _hash_only(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
    return "sha256:" + digest.hexdigest()


class _Prefixed:
    """A stream with some already-read bytes put back in front of it."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self.head, self.rest = head, rest

    def read(self, n: int = -1) -> bytes:
        if self.head:
            if n < 0:
                out, self.head = self.head + self.rest.read(), b""
                return out
            out, self.head = self.head[:n], self.head[n:]
            if len(out) < n:
                out += self.rest.read(n - len(out))
            return out
        return self.rest.read(n)


def _looks_like_json(head: bytes) -> bool:
    return head.lstrip()[:1] in (b"{", b"[")


def read_image_stream(
    stream: BinaryIO, read_layer: ReadLayer, known: Known | None = None, *, trust_sizes: bool = True
) -> Loaded:
    """Read an image tar (docker save, legacy or OCI layout, or an oci-archive) in one pass.

    A layer the cache already holds is not parsed: an OCI blob is named by its digest; a legacy
    `<id>/layer.tar` is only hashed when its size matches a cached layer, and the digest decides.
    """
    known = known or Known()
    documents: dict[str, bytes] = {}
    layers: dict[str, LayerRead] = {}
    hits: set[str] = set()
    unparsed: set[str] = set()
    try:
        for member, handle in members(stream):
            if member.kind != "file":
                continue
            name = member.name.removeprefix("./")
            head = handle.read(512)
            if _looks_like_json(head) and member.size <= MAX_JSON:
                documents[name] = head + handle.read()
                continue
            if not (name.endswith("/layer.tar") or name.startswith("blobs/")):
                continue
            blob = name.rsplit("/", 1)[-1]
            # An uncompressed OCI blob is named by its diff_id: a cached one is skipped.
            if name.startswith("blobs/sha256/") and f"sha256:{blob}" in known:
                hits.add(f"sha256:{blob}")
                continue
            body = _Prefixed(head, handle)
            # Small layers collide on size often and parse in no time: parse them.
            big = member.size >= HASH_ONLY_MIN
            candidates = known.with_size(member.size) if trust_sizes and big else set()
            if candidates:
                digest = _hash_only(body)  # type: ignore[arg-type]
                (hits if digest in candidates else unparsed).add(digest)
                continue
            layer = read_layer(body)  # type: ignore[arg-type]
            layers[layer.diff_id] = layer
    except LayerError as exc:
        if not documents and not layers:
            raise ArchiveError(f"not a readable image archive: {exc}") from exc
        raise
    except (EOFError, OSError) as exc:
        raise ArchiveError(f"the image archive could not be read: {exc}") from exc
    return _assemble(documents, layers, hits, unparsed)


def _json(documents: dict[str, bytes], name: str, what: str) -> Any:
    if name not in documents:
        raise ArchiveError(f"the archive has no {what} ({name})")
    try:
        return json.loads(documents[name])
    except ValueError as exc:
        raise ArchiveError(f"the {what} ({name}) is not valid JSON: {exc}") from exc


def _blob_name(digest: str) -> str:
    algorithm, _, hexdigest = digest.partition(":")
    return f"blobs/{algorithm}/{hexdigest}"


def _assemble(
    documents: dict[str, bytes],
    layers: dict[str, LayerRead],
    cached: Container[str],
    unparsed: Container[str] = frozenset(),
) -> Loaded:
    try:
        return _assemble_documents(documents, layers, cached, unparsed)
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        # A manifest, index or config of the wrong shape: hostile or broken, never a traceback.
        raise ArchiveError(f"the archive's manifest or config is malformed ({exc!r})") from exc


def _assemble_documents(
    documents: dict[str, bytes],
    layers: dict[str, LayerRead],
    cached: Container[str],
    unparsed: Container[str],
) -> Loaded:
    digest = None
    if "manifest.json" in documents:  # docker save, both layouts
        manifest = _json(documents, "manifest.json", "manifest")
        if not isinstance(manifest, list) or not manifest:
            raise ArchiveError("manifest.json lists no image")
        if len(manifest) > 1:
            tags = [t for m in manifest for t in m.get("RepoTags") or []]
            raise ArchiveError(
                f"the archive holds {len(manifest)} images ({', '.join(tags)}); save one"
            )
        entry = manifest[0]
        config_name = entry.get("Config", "")
        tags = tuple(entry.get("RepoTags") or ())
    elif "index.json" in documents:  # an OCI image layout
        index = _json(documents, "index.json", "OCI index")
        manifests = index.get("manifests") or []
        if len(manifests) != 1:
            raise ArchiveError(
                f"the OCI index lists {len(manifests)} manifests; expected one image"
            )
        digest = manifests[0]["digest"]
        manifest = _json(documents, _blob_name(digest), "image manifest")
        if "config" not in manifest:
            raise ArchiveError("the OCI index points at an index, not an image manifest")
        config_name = _blob_name(manifest["config"]["digest"])
        ref_name = (manifests[0].get("annotations") or {}).get("org.opencontainers.image.ref.name")
        tags = (ref_name,) if ref_name else ()
    else:
        raise ArchiveError(
            "neither manifest.json nor index.json: not a docker or OCI image archive"
        )
    config_bytes = documents.get(config_name)
    if config_bytes is None:
        raise ArchiveError(f"the manifest names a config ({config_name}) the archive does not hold")
    config = validate(_json(documents, config_name, "image config"))
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    missing = [d for d in diff_ids if d not in layers and d not in cached]
    if any(d in unparsed for d in missing):
        raise NeedsFullRead("a layer matched a cached size but not its digest")
    if missing:
        raise ArchiveError(
            f"{len(missing)} layer(s) named by the image config are missing or do not match their "
            f"digest (first: {missing[0]}); the archive is incomplete or corrupt"
        )
    return Loaded(
        image_id="sha256:" + hashlib.sha256(config_bytes).hexdigest(),
        digest=digest,
        tags=tags,
        raw_config=config,
        config_bytes=config_bytes,
        layers={d: layers[d] for d in diff_ids if d in layers},
    )


def read_archive(path: Path, read_layer: ReadLayer, known: Known | None = None) -> Loaded:
    try:
        try:
            with open(path, "rb") as stream:
                return read_image_stream(stream, read_layer, known)
        except NeedsFullRead:
            with open(path, "rb") as stream:
                return read_image_stream(stream, read_layer, known, trust_sizes=False)
    except FileNotFoundError as exc:
        raise ArchiveError(f"no such archive: {path}") from exc
    except IsADirectoryError as exc:
        raise ArchiveError(f"{path} is a directory; use oci:{path} for an OCI layout") from exc


def read_oci_dir(root: Path, read_layer: ReadLayer, known: Known | None = None) -> Loaded:
    """An OCI image layout directory: blobs are files, so each is opened only if needed."""
    known = known or Known()
    if not (root / "index.json").is_file():
        raise ArchiveError(f"{root} is not an OCI image layout (no index.json)")

    def blob(digest: str) -> Path:
        path = (root / _blob_name(digest)).resolve()
        if root.resolve() not in path.parents:
            raise ArchiveError(f"blob digest {digest!r} points outside the layout")
        return path

    documents = {"index.json": (root / "index.json").read_bytes()}
    layers: dict[str, LayerRead] = {}
    try:
        manifests = _json(documents, "index.json", "OCI index").get("manifests") or []
        if len(manifests) == 1:  # anything else is refused, with the reason, by _assemble
            digest = manifests[0]["digest"]
            if blob(digest).is_file():
                documents[_blob_name(digest)] = blob(digest).read_bytes()
            manifest = _json(documents, _blob_name(digest), "image manifest")
            config_digest = manifest["config"]["digest"]
            if blob(config_digest).is_file():
                documents[_blob_name(config_digest)] = blob(config_digest).read_bytes()
            config = _json(documents, _blob_name(config_digest), "image config")
            diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
            for position, descriptor in enumerate(manifest.get("layers") or []):
                # Manifest layers and config diff_ids are in the same order.
                if position < len(diff_ids) and diff_ids[position] in known:
                    continue
                path = blob(descriptor["digest"])
                if path.is_file():  # a missing one is reported by _assemble
                    with open(path, "rb") as stream:
                        layer = read_layer(stream)
                    layers[layer.diff_id] = layer
    except (KeyError, TypeError, AttributeError) as exc:
        raise ArchiveError(f"the OCI layout's index or manifest is malformed ({exc!r})") from exc
    return _assemble(documents, layers, known)
