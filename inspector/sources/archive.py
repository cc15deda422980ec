"""Images as tar streams (`docker save` output, docker-archive, oci-archive) and OCI directories.

A tar stream is read once, front to back. `docker save` writes the manifest *after* the layers
(legacy `<id>/layer.tar` layout) so a layer's place is not known while it is read: every layer is
identified by the digest of its uncompressed bytes (its diff_id), computed during the pass, and
matched to the config's `rootfs.diff_ids` at the end. That also proves each layer is intact.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Callable, Container
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from inspector.errors import InspectorError
from inspector.image.config import validate
from inspector.layers.decompress import is_gzip, is_zstd
from inspector.layers.limits import (
    MAX_CONFIG_JSON,
    MAX_DOCUMENTS,
    MAX_MANIFEST_JSON,
    ImageBudget,
    LimitExceeded,
    human,
)
from inspector.layers.model import LayerError, LayerRead
from inspector.layers.stream import CHUNK, ReadFailed
from inspector.layers.tar import BLOCK_SIZE, members

MAX_JSON = MAX_CONFIG_JSON  # no JSON document an image needs is larger than its config
HASH_ONLY_MIN = 1 << 20
# The names docker save and OCI layouts give the JSON documents an image is assembled from.
_INDEXES = ("manifest.json", "index.json")
_LAYER_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.zst")

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


_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def _always_mine(diff_id: str) -> AbstractContextManager[bool]:
    return nullcontext(True)


class Known:
    """Layers that need not be parsed again: what the cache holds, by diff_id and tar size.

    `claim` and `keep` let concurrent readers (the threads of a scan, or the shards of a fleet
    sharing one cache) read each layer once: a source that knows a layer's diff_id before reading
    it (a registry) reads it only inside `with known.claim(diff_id) as mine:` when `mine`, and
    hands it to `keep` before the block ends; when not `mine`, another reader has put it in the
    cache meanwhile.
    """

    def __init__(
        self,
        contains: Callable[[str], bool] = lambda diff_id: False,
        with_size: Callable[[int], set[str]] = lambda size: set(),
        claim: Callable[[str], AbstractContextManager[bool]] = _always_mine,
        keep: Callable[[LayerRead], None] = lambda layer: None,
    ) -> None:
        self.contains, self.with_size = contains, with_size
        self.claim, self.keep = claim, keep

    def __contains__(self, diff_id: object) -> bool:
        # Only a digest can name a cached layer; a config's diff_ids are untrusted text (a lone
        # surrogate cannot even be encoded for the cache's query).
        return (
            isinstance(diff_id, str)
            and _DIGEST.fullmatch(diff_id) is not None
            and (self.contains(diff_id))
        )


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
    """A JSON document, not a tar whose first member's name starts with `{` or `[`: a tar
    header carries a checksum no JSON text matches by chance."""
    return head.lstrip()[:1] in (b"{", b"[") and not _tar_header(head)


def _tar_header(head: bytes) -> bool:
    if len(head) < BLOCK_SIZE:
        return False
    digits = head[148:156].split(b"\0", 1)[0].strip()
    try:
        stored = int(digits, 8)
    except ValueError:
        return False
    return stored == sum(head[:148]) + 256 + sum(head[156:BLOCK_SIZE])


def _wanted_document(name: str) -> bool:
    """Where docker save, OCI layouts and kaniko keep the JSON an image is assembled from: the
    index files, blobs and any file at the top (a legacy config is `<hex>.json`, kaniko's is
    `sha256:<hex>`); JSON deeper down (a legacy `<id>/json`) is never read."""
    return name in _INDEXES or name.startswith("blobs/") or "/" not in name


def _compressed(head: bytes) -> bool:
    return is_gzip(head) or is_zstd(head)


def _layer_member(name: str, head: bytes) -> bool:
    """Whether a member that is not JSON is a layer. The manifest (often the last member)
    names the layers, but only paths: docker save writes `<id>/layer.tar` or OCI blobs,
    go-containerregistry (kaniko, crane) `<hex>.tar.gz` or `<hex>.tar` at the top. A file at
    the top is taken for a layer when it is named like one or starts as a tar, gzip or zstd
    does; every layer read is matched to the config by its uncompressed digest, so a layer
    read that the manifest does not name is only wasted work, never a wrong fact."""
    if name.endswith("/layer.tar") or name.startswith("blobs/"):
        return True
    if "/" in name:
        return False
    return name.endswith(_LAYER_SUFFIXES) or _compressed(head) or _tar_header(head)


def _shown(text: object, most: int = 80) -> str:
    """A path or name as an error line shows it: long ones cut, with their length."""
    text = str(text)
    return text if len(text) <= most else f"{text[:60]}... ({len(text):,} characters)"


def _too_big(name: str, size: int, limit: int) -> ArchiveError:
    which = "MAX_MANIFEST_JSON" if limit == MAX_MANIFEST_JSON else "MAX_CONFIG_JSON"
    return ArchiveError(
        f"{_shown(name)} is {size:,} bytes; no image's JSON document is larger than "
        f"{human(limit)} ({which} in inspector/layers/limits.py)"
    )


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
    budget = ImageBudget()
    kept = seen = 0
    try:
        for member, handle in members(stream):
            seen += 1
            if member.kind != "file":
                continue
            name = member.name.removeprefix("./")
            if name in _INDEXES and member.size > MAX_MANIFEST_JSON:
                raise _too_big(name, member.size, MAX_MANIFEST_JSON)
            head = handle.read(BLOCK_SIZE)
            if _looks_like_json(head):
                if member.size > MAX_JSON and _wanted_document(name):
                    # Not a layer (no tar header, no compression magic), too big for a config.
                    raise _too_big(name, member.size, MAX_JSON)
                if _wanted_document(name):
                    kept += member.size - len(documents.get(name, b""))
                    if kept > MAX_DOCUMENTS:
                        raise ArchiveError(
                            f"the archive holds more than {human(MAX_DOCUMENTS)} of JSON "
                            "documents (MAX_DOCUMENTS in inspector/layers/limits.py); one "
                            "image has a few small ones"
                        )
                    documents[name] = head + handle.read()
                continue
            if not _layer_member(name, head):
                continue
            blob = name.rsplit("/", 1)[-1]
            # An uncompressed OCI blob is named by its diff_id: a cached one is skipped.
            if name.startswith("blobs/sha256/") and f"sha256:{blob}" in known:
                hits.add(f"sha256:{blob}")
                continue
            body = _Prefixed(head, handle)
            # Small layers collide on size often and parse in no time: parse them. A compressed
            # layer's size is not its tar's, so only an uncompressed one is compared.
            big = member.size >= HASH_ONLY_MIN and not _compressed(head)
            candidates = known.with_size(member.size) if trust_sizes and big else set()
            if candidates:
                digest = _hash_only(body)  # type: ignore[arg-type]
                (hits if digest in candidates else unparsed).add(digest)
                continue
            try:
                layer = read_layer(body)  # type: ignore[arg-type]
                budget.add(layer)
            except LimitExceeded as exc:
                raise LimitExceeded(f"{_shown(name)}: {exc}") from exc
            layers[layer.diff_id] = layer
    except (LimitExceeded, ReadFailed):
        raise  # their own words say what happened; "not a readable archive" would not
    except LayerError as exc:
        if not documents and not layers:
            raise ArchiveError(f"not a readable image archive: {exc}") from exc
        raise
    except (EOFError, OSError) as exc:
        raise ArchiveError(f"the image archive could not be read: {exc}") from exc
    if not seen:
        raise ArchiveError("the archive is empty (no tar members): not an image archive")
    return _assemble(documents, layers, hits, unparsed)


def _json(documents: dict[str, bytes], name: str, what: str) -> Any:
    if name not in documents:
        raise ArchiveError(f"the archive has no {what} ({name})")
    data = documents[name]
    limit = MAX_CONFIG_JSON if what == "image config" else MAX_MANIFEST_JSON
    if len(data) > limit:
        raise _too_big(name, len(data), limit)
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        # RecursionError: JSON nested deeper than the parser's stack (`[[[[...`).
        reason = str(exc) if isinstance(exc, ValueError) else "nested too deeply"
        raise ArchiveError(f"the {what} ({_shown(name)}) is not valid JSON: {reason}") from exc


def _check_size(descriptor: Any, data: bytes, what: str) -> None:
    """A descriptor's size, when given, is the blob's: anything else is a corrupt layout."""
    size = descriptor.get("size") if isinstance(descriptor, dict) else None
    if isinstance(size, int) and not isinstance(size, bool) and size != len(data):
        raise ArchiveError(
            f"the {what} is {len(data):,} bytes but its descriptor says {size:,}: corrupt layout"
        )


def _names(values: object) -> tuple[str, ...]:
    """The tags of a manifest entry: non-empty strings only (a hostile `RepoTags` of numbers or
    objects names nothing, and must not reach the report as such)."""
    if not isinstance(values, list):
        return ()
    return tuple(value for value in values if isinstance(value, str) and value)


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
            tags = [t for m in manifest for t in _names(m.get("RepoTags"))]
            raise ArchiveError(
                f"the archive holds {len(manifest)} images ({', '.join(tags)}); save one"
            )
        entry = manifest[0]
        config_name = entry.get("Config", "")
        tags = _names(entry.get("RepoTags"))
    elif "index.json" in documents:  # an OCI image layout
        index = _json(documents, "index.json", "OCI index")
        manifests = index.get("manifests") or []
        if len(manifests) != 1:
            raise ArchiveError(
                f"the OCI index lists {len(manifests)} manifests; expected one image"
            )
        digest = manifests[0]["digest"]
        manifest = _json(documents, _blob_name(digest), "image manifest")
        _check_size(manifests[0], documents[_blob_name(digest)], "image manifest")
        if "config" not in manifest:
            raise ArchiveError("the OCI index points at an index, not an image manifest")
        config_name = _blob_name(manifest["config"]["digest"])
        if config_name in documents:
            _check_size(manifest["config"], documents[config_name], "image config")
        ref_name = (manifests[0].get("annotations") or {}).get("org.opencontainers.image.ref.name")
        tags = _names([ref_name])
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


def _open(path: Path, what: str) -> BinaryIO:
    """`path` opened for reading without ever blocking on it: only a regular file is read. A
    FIFO is refused too (opened without a writer, reading it would wait forever, and whether
    a writer will come cannot be told), as are devices such as /dev/zero and directories."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError as exc:
        raise ArchiveError(f"no such {what}: {_shown(path)}") from exc
    except OSError as exc:
        raise ArchiveError(f"cannot open the {what} {_shown(path)}: {exc.strerror}") from exc
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            hint = f"; use oci:{_shown(path)} for an OCI layout" if what == "archive" else ""
            raise ArchiveError(f"{_shown(path)} is a directory{hint}")
        if not stat.S_ISREG(mode):
            kind = "a FIFO" if stat.S_ISFIFO(mode) else "a device or socket"
            raise ArchiveError(
                f"the {what} {_shown(path)} is {kind}, not a regular file (save the image to a "
                "file first)"
            )
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _read_json_file(path: Path, what: str, limit: int) -> bytes:
    """A JSON file of an OCI layout, read to at most `limit` bytes (a sparse 6 GB index.json
    is refused after reading one byte more than the limit, never loaded)."""
    with _open(path, what) as handle:
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise ArchiveError(f"the {what} {_shown(path)} could not be read: {exc}") from exc
    if len(data) > limit:
        raise _too_big(str(path), os.stat(path).st_size, limit)
    return data


def read_archive(path: Path, read_layer: ReadLayer, known: Known | None = None) -> Loaded:
    try:
        with _open(path, "archive") as stream:
            return read_image_stream(stream, read_layer, known)
    except NeedsFullRead:
        with _open(path, "archive") as stream:
            return read_image_stream(stream, read_layer, known, trust_sizes=False)


def read_oci_dir(root: Path, read_layer: ReadLayer, known: Known | None = None) -> Loaded:
    """An OCI image layout directory: blobs are files, so each is opened only if needed."""
    known = known or Known()
    try:
        if not root.is_dir():
            what = "no such directory" if not root.exists() else "not a directory"
            raise ArchiveError(f"{_shown(root)} is not an OCI image layout ({what})")
        if not (root / "index.json").exists():
            raise ArchiveError(f"{_shown(root)} is not an OCI image layout (no index.json)")
        inside = root.resolve()
    except OSError as exc:  # ENAMETOOLONG, EACCES, a loop: is_dir() only hides some
        raise ArchiveError(f"cannot open the OCI layout {_shown(root)}: {exc.strerror}") from exc

    def blob(digest: str) -> Path:
        try:
            path = (root / _blob_name(digest)).resolve()
        except (OSError, ValueError, RuntimeError) as exc:  # RuntimeError: a symlink loop (3.11)
            raise ArchiveError(f"blob {_shown(digest)} is not a usable file: {exc}") from exc
        if inside not in path.parents:
            raise ArchiveError(f"blob digest {_shown(digest)} points outside the layout")
        return path

    def present(path: Path) -> bool:
        try:
            return path.is_file()
        except OSError:
            return False

    documents = {"index.json": _read_json_file(root / "index.json", "OCI index", MAX_MANIFEST_JSON)}
    layers: dict[str, LayerRead] = {}
    budget = ImageBudget()
    try:
        manifests = _json(documents, "index.json", "OCI index").get("manifests") or []
        if len(manifests) == 1:  # anything else is refused, with the reason, by _assemble
            digest = manifests[0]["digest"]
            if present(blob(digest)):
                documents[_blob_name(digest)] = _read_json_file(
                    blob(digest), "image manifest", MAX_MANIFEST_JSON
                )
            manifest = _json(documents, _blob_name(digest), "image manifest")
            config_digest = manifest["config"]["digest"]
            if present(blob(config_digest)):
                documents[_blob_name(config_digest)] = _read_json_file(
                    blob(config_digest), "image config", MAX_CONFIG_JSON
                )
            config = _json(documents, _blob_name(config_digest), "image config")
            diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
            for position, descriptor in enumerate(manifest.get("layers") or []):
                # Manifest layers and config diff_ids are in the same order.
                if position < len(diff_ids) and diff_ids[position] in known:
                    continue
                path = blob(descriptor["digest"])
                if present(path):  # a missing one is reported by _assemble
                    try:
                        with _open(path, "layer blob") as stream:
                            layer = read_layer(stream)
                        budget.add(layer)
                    except LimitExceeded as exc:
                        raise LimitExceeded(f"layer {position + 1}: {exc}") from exc
                    layers[layer.diff_id] = layer
    except (KeyError, TypeError, AttributeError) as exc:
        raise ArchiveError(f"the OCI layout's index or manifest is malformed ({exc!r})") from exc
    return _assemble(documents, layers, known)
