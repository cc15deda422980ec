"""`registry:HOST[:PORT]/REPO[:TAG|@DIGEST]`: an image read through the OCI Distribution API,
with no daemon.

The tag is resolved to a digest once (a HEAD, which registries do not count against pull
limits); everything after is fetched by digest and verified against it: the manifest, the
config and each layer blob. Layers stream straight into the single-pass reader, and a layer the
cache knows by its diff_id is never downloaded, so a second look costs a manifest and a config.
"""

from __future__ import annotations

import hashlib
import json
import platform as host
import re
import threading
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from inspector.errors import ImageNotFound
from inspector.image.config import validate
from inspector.layers.limits import MAX_CONFIG_JSON, MAX_MANIFEST_JSON, ImageBudget, LimitExceeded
from inspector.layers.model import LayerRead
from inspector.sources.archive import Known, Loaded, ReadLayer
from inspector.sources.registry_blob import BlobStream
from inspector.sources.registry_client import Client, RegistryError, registry_said
from inspector.sources.registry_layers import Wanted, read_layers, wanted_layers

PREFIX = "registry:"
DEFAULT_PLATFORM = "linux/amd64"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))

_HOST = re.compile(
    r"^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::\d{1,5})?$"
)
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^\w[\w.-]{0,127}$")
_DIGEST = re.compile(r"^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$")
_PLATFORM = re.compile(r"^[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?$")
_USAGE = "write registry:HOST[:PORT]/REPO[:TAG|@DIGEST], e.g. registry:registry.example.com/app:1"
# platform.machine() names and the GOARCH[/variant] names image platforms use.
_ARCHES = {
    "x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
    "armv7l": "arm/v7", "armv6l": "arm/v6", "i386": "386", "i686": "386",
    "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64",
}  # fmt: skip


@dataclass(frozen=True)
class RegistryLoaded(Loaded):
    """What `load` read, and how an engine pulls exactly that image to probe it."""

    pull_ref: str | None = None  # HOST/REPO@<digest of the image manifest read>


@dataclass(frozen=True)
class RegistryRef:
    host: str  # HOST[:PORT]
    repository: str
    tag: str | None  # None when a digest is given
    digest: str | None

    @property
    def name(self) -> str:
        return f"{self.host}/{self.repository}"

    def __str__(self) -> str:
        return PREFIX + self.name + (f"@{self.digest}" if self.digest else f":{self.tag}")


def parse(text: str) -> RegistryRef:
    """`HOST[:PORT]/REPO[:TAG|@DIGEST]` (the part after `registry:`); the tag defaults to
    `latest`. There is no default host: a registry is always named."""
    shown = PREFIX + text
    head, slash, rest = text.partition("/")
    if "@" in head:
        # `registry:user:password@host/...`: said back in an error line, the password would
        # be in every CI log; the reference is shown without it.
        raise ImageNotFound(
            f"{PREFIX}{head.rsplit('@', 1)[1]}/{rest}: a reference holds no credentials (log in "
            f"with `docker login` instead): {_USAGE}"
        )
    # As Docker reads names: the first component is a host if it has a dot or a port.
    if not slash or not rest or not ("." in head or ":" in head or head == "localhost"):
        raise ImageNotFound(f"{shown} names no registry host: {_USAGE}")
    if not _HOST.match(head):
        raise ImageNotFound(f"{shown}: {head!r} is not a registry host: {_USAGE}")
    digest = tag = None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not _DIGEST.match(digest):
            raise ImageNotFound(f"{shown}: {digest!r} is not a sha256 or sha512 digest")
    last = rest.rsplit("/", 1)[-1]
    if ":" in last:
        rest, tag = rest.rsplit(":", 1)
        if not _TAG.match(tag):
            raise ImageNotFound(f"{shown}: {tag!r} is not a valid tag")
    if not _REPOSITORY.match(rest):
        raise ImageNotFound(f"{shown}: {rest!r} is not a valid repository name (lower case)")
    return RegistryRef(head, rest, None if digest else tag or "latest", digest)


def host_platform() -> str:
    """This machine's platform as image indexes name it (`linux/amd64`, `linux/arm/v7`)."""
    arch = _ARCHES.get(host.machine().lower())
    return f"linux/{arch}" if arch else DEFAULT_PLATFORM


def _platform_of(descriptor: dict[str, Any]) -> str:
    found = descriptor.get("platform") or {}
    name = f"{found.get('os')}/{found.get('architecture')}"
    return name + (f"/{found['variant']}" if found.get("variant") else "")


def _matches(available: str, wanted: str) -> bool:
    # "linux/arm64" matches "linux/arm64/v8": a variant is compared only when asked for.
    return available == wanted or available.startswith(wanted + "/")


def _json(client: Client, body: bytes, what: str) -> Any:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise client.fail(f"the {what} is not valid JSON") from exc
    if not isinstance(document, dict):
        raise client.fail(f"the {what} is not a JSON object")
    return document


def _manifest(client: Client, ref: RegistryRef, which: str) -> tuple[str | None, bytes]:
    """The manifest `which` (a tag or digest) names, as the registry sends it, and its digest
    header when there is one."""
    response = client.request(
        "GET", f"{ref.repository}/manifests/{which}", headers={"Accept": ACCEPT}, stream=True
    )
    with response:
        if response.status_code == 404:
            said = registry_said(response)
            if "NAME_UNKNOWN" in said:
                raise client.fail(f"unknown repository {ref.name} ({said})")
            if not _repository_exists(client, ref):
                raise client.fail(f"unknown repository {ref.name} ({said})")
            kind = "manifest" if which.startswith(("sha256:", "sha512:")) else "tag"
            raise client.fail(f"unknown {kind} {which} in {ref.name} ({said})")
        parts, total = [], 0
        for chunk in response.iter_content(1 << 16):
            total += len(chunk)
            if total > MAX_MANIFEST_JSON:
                raise client.fail(f"the manifest is larger than {MAX_MANIFEST_JSON:,} bytes")
            parts.append(chunk)
        return response.headers.get("Docker-Content-Digest"), b"".join(parts)


def _repository_exists(client: Client, ref: RegistryRef) -> bool:
    """Whether the repository exists: some registries answer MANIFEST_UNKNOWN for both."""
    with client.request("GET", f"{ref.repository}/tags/list?n=1") as response:
        return response.status_code != 404


def _by_digest(client: Client, ref: RegistryRef, digest: str) -> bytes:
    _, body = _manifest(client, ref, digest)
    got = f"{digest.split(':')[0]}:{hashlib.new(digest.split(':')[0], body).hexdigest()}"
    if got != digest:
        raise client.fail(f"manifest {digest} does not match its digest (the registry sent {got})")
    return body


def resolve(client: Client, ref: RegistryRef) -> str:
    """The digest the reference names: HEAD by tag first (free against pull limits)."""
    if ref.digest:
        return ref.digest
    # Some proxies refuse HEAD (405) or garble it: the GET below then says what is what.
    head = client.request(
        "HEAD", f"{ref.repository}/manifests/{ref.tag}", headers={"Accept": ACCEPT},
        tolerated=range(400, 500),
    )  # fmt: skip
    head.close()
    digest = head.headers.get("Docker-Content-Digest") if head.status_code == 200 else None
    if digest and _DIGEST.match(digest):
        return digest
    # No digest header, or a 404 whose body (HEAD has none) says what is unknown.
    _, body = _manifest(client, ref, ref.tag or "latest")
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _choose(client: Client, index: dict[str, Any], wanted: str | None) -> str:
    manifests = [m for m in index.get("manifests") or [] if isinstance(m, dict)]
    # Attestations and signatures sit in indexes as "unknown/unknown": not images to read.
    images = [m for m in manifests if _platform_of(m) != "unknown/unknown"]
    available = [_platform_of(m) for m in images]
    asked = [wanted] if wanted else list(dict.fromkeys([host_platform(), DEFAULT_PLATFORM]))
    for platform in asked:
        for descriptor, name in zip(images, available, strict=True):
            if _matches(name, platform) and isinstance(descriptor.get("digest"), str):
                return descriptor["digest"]
    listed = ", ".join(sorted(set(available))) or "none"
    raise client.fail(
        f"the image has no {' or '.join(asked)} variant; its platforms: {listed} "
        "(choose one with --platform)"
    )


def _image_manifest(
    client: Client, ref: RegistryRef, digest: str, platform: str | None
) -> tuple[str, dict[str, Any]]:
    """The image manifest `digest` names, or the one for `platform` in the index it names;
    with the image manifest's own digest."""
    document = _json(client, _by_digest(client, ref, digest), "manifest")
    if "manifests" in document:  # a manifest list or OCI index
        chosen = _choose(client, document, platform)
        if not _DIGEST.match(chosen):
            raise client.fail(f"the index names an invalid digest {chosen[:80]!r}")
        document = _json(client, _by_digest(client, ref, chosen), "manifest")
        digest = chosen
        if "manifests" in document:
            raise client.fail(f"the index entry {chosen} is itself an index, not an image")
    if document.get("schemaVersion") == 1:
        raise client.fail("a schema 1 manifest (deprecated since 2017): push the image again")
    if not isinstance(document.get("config"), dict) or not isinstance(document.get("layers"), list):
        raise client.fail("the manifest has no config or layers: not an image manifest")
    return digest, document


def index_platforms(client: Client, ref: RegistryRef, digest: str) -> list[tuple[str, str]]:
    """The (platform, image manifest digest) pairs of the index `digest` names, attestations
    left out; [] when it names an image manifest, not an index."""
    document = _json(client, _by_digest(client, ref, digest), "manifest")
    if "manifests" not in document:
        return []
    pairs = []
    for entry in document.get("manifests") or []:
        if not isinstance(entry, dict) or _platform_of(entry) == "unknown/unknown":
            continue
        chosen = entry.get("digest")
        if isinstance(chosen, str) and _DIGEST.match(chosen):
            pairs.append((_platform_of(entry), chosen))
    return pairs


def image_config(
    client: Client, ref: RegistryRef, digest: str, platform: str | None
) -> dict[str, Any]:
    """The config of the image `digest` names (for `platform` when it names an index): what a
    scan reads to select images by creation time without reading any layer."""
    _, manifest = _image_manifest(client, ref, digest, platform)
    return validate(_json(client, _config_bytes(client, ref, manifest), "image config"))


def _config_bytes(client: Client, ref: RegistryRef, manifest: dict[str, Any]) -> bytes:
    config_digest, config_size = _descriptor(client, manifest["config"], "config")
    blob = BlobStream(client, ref.repository, config_digest, config_size)
    try:
        return blob.read_all(MAX_CONFIG_JSON, "image config")
    finally:
        blob.close()


def _descriptor(client: Client, descriptor: Any, what: str) -> tuple[str, int | None]:
    digest = descriptor.get("digest") if isinstance(descriptor, dict) else None
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise client.fail(f"the manifest's {what} has no valid digest")
    size = descriptor.get("size")
    return digest, size if isinstance(size, int) and not isinstance(
        size, bool
    ) and size >= 0 else None


def load(
    text: str,
    read_layer: ReadLayer,
    known: Known,
    *,
    platform: str | None = None,
    insecure: Collection[str] = (),
) -> Loaded:
    """Read `registry:`'s `text` (HOST[:PORT]/REPO[:TAG|@DIGEST]) without a daemon.

    `platform` (`os/arch[/variant]`) picks from a multi-platform index (default: this host's,
    else linux/amd64); `insecure` names hosts spoken to in plain HTTP besides loopback ones.
    """
    ref = parse(text)
    if platform is not None and not _PLATFORM.match(platform):
        raise ImageNotFound(f"--platform {platform!r}: write OS/ARCH[/VARIANT], e.g. linux/arm64")
    client = Client(ref.host, ref.repository, str(ref), insecure=insecure)
    try:
        top = resolve(client, ref)
        image_digest, manifest = _image_manifest(client, ref, top, platform)
        config_bytes = _config_bytes(client, ref, manifest)
        config = validate(_json(client, config_bytes, "image config"))
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
        if len(diff_ids) != len(manifest["layers"]):
            raise client.fail(
                f"the manifest lists {len(manifest['layers'])} layers but the config "
                f"{len(diff_ids)} diff_ids: not one image"
            )
        layers = _read_layers(client, ref, manifest["layers"], diff_ids, read_layer, known)
    finally:
        client.close()
    return RegistryLoaded(
        image_id="sha256:" + hashlib.sha256(config_bytes).hexdigest(),
        digest=f"{ref.name}@{top}",
        tags=(f"{ref.name}:{ref.tag}",) if ref.tag else (),
        raw_config=config,
        config_bytes=config_bytes,
        layers=layers,
        pull_ref=f"{ref.name}@{image_digest}",
    )


def _read_layers(
    client: Client,
    ref: RegistryRef,
    descriptors: list[Any],
    diff_ids: list[Any],
    read_layer: ReadLayer,
    known: Known,
) -> dict[str, LayerRead]:
    """The layers the cache lacks, read side by side (registry_layers.py)."""
    budget = ImageBudget()

    def read_one(wanted: Wanted, cancel: threading.Event) -> LayerRead:
        return _read_blob(client, ref, wanted, read_layer, cancel)

    def tally(wanted: Wanted, layer: LayerRead) -> None:
        try:
            budget.add(layer)
        except LimitExceeded as exc:
            raise LimitExceeded(f"{ref} layer {wanted.position + 1}: {exc}") from exc

    return read_layers(wanted_layers(descriptors, diff_ids, known), known, read_one, tally)


def _read_blob(
    client: Client,
    ref: RegistryRef,
    wanted: Wanted,
    read_layer: ReadLayer,
    cancel: threading.Event,
) -> LayerRead:
    """One layer blob, streamed into the reader and verified against its diff_id."""
    position, diff_id = wanted.position, wanted.diff_id
    digest, size = _descriptor(client, wanted.descriptor, f"layer {position + 1}")
    blob = BlobStream(client, ref.repository, digest, size, cancel)
    try:
        try:
            layer = read_layer(blob)  # type: ignore[arg-type]
        except (RegistryError, LimitExceeded):
            raise
        except Exception:
            # A corrupt blob fails the reader first: the digest names the culprit better.
            blob.finish()
            raise
        blob.finish()
    except LimitExceeded as exc:
        raise LimitExceeded(f"{ref} layer {position + 1}: {exc}") from exc
    finally:
        blob.close()
    if layer.diff_id != diff_id:
        raise client.fail(
            f"layer {position + 1} ({digest}) unpacks to {layer.diff_id}, not the config's "
            f"diff_id {diff_id}"
        )
    return layer
