"""The Docker daemon as a source of images. One of the few modules allowed to import docker.

The reference is resolved to the image ID once; everything after uses the ID (docker-py pulls a
missing *tag* by itself in some calls). Layers come from `docker save` of that ID, streamed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any

import docker
import docker.errors
import docker.utils
import requests.exceptions
from docker.constants import DEFAULT_DOCKER_API_VERSION, DEFAULT_UNIX_SOCKET
from packaging.version import Version

from inspector.errors import EngineUnavailable, ImageNotFound, InspectorError
from inspector.image.config import validate
from inspector.sources.archive import (
    ArchiveError,
    Known,
    Loaded,
    NeedsFullRead,
    ReadLayer,
    read_image_stream,
)
from inspector.sources.engine_storage import NotHere, ReadStored, read_from_storage

log = logging.getLogger(__name__)

_ENGINE_HINT = (
    "start Docker (or run `make engine` as root on Debian/Ubuntu), "
    "or point DOCKER_HOST at a running engine"
)


def connect(timeout: int = 60) -> docker.DockerClient:
    """A client for the engine named by the environment, with a clear error when none answers."""
    base_url = docker.utils.kwargs_from_env().get("base_url") or DEFAULT_UNIX_SOCKET
    problem = _unix_socket_problem(base_url)
    if problem:
        raise EngineUnavailable(f"no Docker engine answers ({problem}); {_ENGINE_HINT}")
    # docker.from_env(version="auto") asks the engine during construction and leaks that socket
    # when the engine is down, so negotiate with a client we can close ourselves.
    probe = docker.from_env(version=DEFAULT_DOCKER_API_VERSION, timeout=timeout)
    try:
        server = probe.api.version(api_version=False)["ApiVersion"]
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise EngineUnavailable(
            f"no Docker engine answers ({_first_line(exc)}); {_ENGINE_HINT}"
        ) from exc
    finally:
        probe.close()
    version = min(Version(server), Version(DEFAULT_DOCKER_API_VERSION))
    return docker.from_env(version=str(version), timeout=timeout)


def _unix_socket_problem(base_url: str) -> str | None:
    """Why a unix socket URL cannot be reached, or None (also None for other transports).

    docker-py leaks its socket when a unix connect fails, so a dead socket is detected here.
    """
    for prefix in ("http+unix://", "unix://"):
        if base_url.startswith(prefix):
            path = base_url[len(prefix) :]
            break
    else:
        return None
    if not os.path.exists(path):
        return f"no socket at {path}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        try:
            sock.connect(path)
        except OSError as exc:
            return f"cannot connect to {path}: {exc.strerror or exc}"
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def get_image(client: docker.DockerClient, ref: str, pull: str = "never") -> Any:
    """The image `ref` names, pulling it only as the policy allows."""
    if "://" in ref:
        # No image reference has a scheme; the engine's own error would say it back with its
        # `//` folded, where no redaction recognises `user:password@` any more.
        raise ImageNotFound(
            f"{ref!r} is a URL, not an image reference: write registry:HOST/REPO[:TAG] for an "
            "image in a registry, or the engine's name of a local image"
        )
    if pull == "always":
        _pull(client, ref)
    try:
        return client.images.get(ref)
    except docker.errors.ImageNotFound as exc:
        if pull != "missing":
            raise ImageNotFound(
                f"no local image {ref!r}; pull it (`--pull missing`, or `docker pull {ref}`), "
                f"read it from its registry with no daemon ({_registry_form(ref)}) "
                "or check the name"
            ) from exc
    except docker.errors.APIError as exc:
        raise InspectorError(f"the engine refused to describe {ref!r}: {_first_line(exc)}") from exc
    _pull(client, ref)
    try:
        return client.images.get(ref)
    except docker.errors.ImageNotFound as exc:
        raise ImageNotFound(f"{ref!r} was pulled but the engine does not list it") from exc


def _registry_form(ref: str) -> str:
    """How `ref` is written for the `registry:` source, which always names its host."""
    head = ref.split("/", 1)[0]
    if "/" in ref and ("." in head or ":" in head or head == "localhost"):
        return f"`registry:{ref}`"
    return "`registry:HOST[:PORT]/REPO[:TAG]`"


def _pull(client: docker.DockerClient, ref: str) -> None:
    repository, tag = docker.utils.parse_repository_tag(ref)
    try:
        # Credentials come from the user's Docker config, as for `docker pull`.
        client.images.pull(repository, tag=tag or "latest")
    except docker.errors.APIError as exc:
        raise InspectorError(f"the registry refused {ref!r}: {_first_line(exc)}") from exc


def _from_storage(
    client: docker.DockerClient,
    image_id: str,
    diff_ids: list[str],
    read_stored: ReadStored,
    known: Known,
) -> tuple[bytes, dict[str, Any]] | None:
    """The config and unknown layers read from the engine's storage, or None (and the reason,
    for --verbose) when the export must be used."""
    base_url = docker.utils.kwargs_from_env().get("base_url") or DEFAULT_UNIX_SOCKET
    try:
        stored = read_from_storage(base_url, client.info, image_id, diff_ids, read_stored, known)
    except NotHere as why:
        log.info("layers: exported by the engine (docker save), not read from its storage: %s",
                 why)  # fmt: skip
        return None
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        log.info("layers: exported by the engine: `docker info` failed (%s)", _first_line(exc))
        return None
    log.info("layers: %d of %d read from the engine's overlay2 storage (%d cached)",
             len(stored[1]), len(diff_ids), len(diff_ids) - len(stored[1]))  # fmt: skip
    return stored


def _read_export(
    client: docker.DockerClient,
    image_id: str,
    read_layer: ReadLayer,
    known: Known,
    *,
    trust_sizes: bool,
) -> Loaded:
    stream = _export(client, image_id)
    try:
        return read_image_stream(stream, read_layer, known, trust_sizes=trust_sizes)
    finally:
        stream.close()  # also when parsing failed: the reader thread must not outlive us


def _export(client: docker.DockerClient, image_id: str) -> Any:
    """`docker save IMAGE_ID` as a file-like stream.

    The SDK's `get_image` yields chunks through a generator; the raw response reads faster and
    lets the tar parser pull exactly what it needs.
    """
    # Closed after the body, so a socket read that waits for a full block ends at the end.
    url = client.api._url("/images/{0}/get", image_id)
    response = client.api._get(url, stream=True, headers={"Connection": "close"})
    client.api._raise_for_status(response)
    response.raw.decode_content = False
    return _SocketBody.of(response) or _ReadAhead(response.raw)


class _Pumped:
    """A stream read on a thread into a bounded queue, so the daemon streams while we parse.

    Without it the daemon waits whenever the parser is busy, and the two costs add up.
    Subclasses produce the blocks in `_produce`; an exception there reaches the reader.
    """

    def __init__(self, depth: int) -> None:
        self.queue: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=depth)
        self.done = False
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _produce(self) -> None:
        raise NotImplementedError

    def _pump(self) -> None:
        try:
            self._produce()
        except BaseException as exc:  # handed to the reader, which raises it
            self._put(exc)

    def _put(self, item: bytes | BaseException) -> None:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def read(self, n: int = -1) -> bytes:
        """The next block (its size is the pump's, not `n`); b"" at the end of the export.

        Only `layers._Reader` reads this, and it buffers by itself.
        """
        if self.done:
            return b""
        item = self.queue.get()
        if isinstance(item, BaseException):
            raise OSError(f"the export stream broke off: {item}") from item
        self.done = not item
        return item


class _ReadAhead(_Pumped):
    """The export through urllib3 (TLS, ssh, named pipes), read ahead on a thread."""

    def __init__(self, raw: Any, chunk: int = 1 << 20, depth: int = 64) -> None:
        self.raw, self.chunk = raw, chunk
        super().__init__(depth)

    def _produce(self) -> None:
        while not self.stop.is_set():
            data = self.raw.read(self.chunk)
            self._put(data)
            if not data:
                return

    def close(self) -> None:
        self.stop.set()
        self.raw.close()


class _SocketBody(_Pumped):
    """The export's HTTP body, read on a thread straight from the engine's socket.

    The engine sends 32 KiB HTTP chunks. Decoded one by one through urllib3, each costs a
    syscall and a GIL hand-off with the busy parser thread, and the reader falls behind the
    engine. Here one `recv(MSG_WAITALL)` fills a whole block without the GIL, the chunk framing
    is stripped in that block, and the engine streams ahead into a queue while we parse.
    """

    def __init__(
        self, response: Any, sock: socket.socket, head: bytes, *, chunked: bool,
        block: int = 4 << 20, depth: int = 12,
    ) -> None:  # fmt: skip
        self.response, self.sock, self.chunked = response, sock, chunked
        self.head, self.block = head, block
        super().__init__(depth)

    @classmethod
    def of(cls, response: Any, timeout: float = 60) -> _SocketBody | None:
        """A socket reader for `response`, or None on transports other than a plain socket."""
        inner = getattr(response.raw, "_fp", None)
        fp = getattr(inner, "fp", None)
        sock = getattr(getattr(fp, "raw", None), "_sock", None)
        if type(sock) is not socket.socket or getattr(inner, "chunk_left", 0) is not None:
            return None  # TLS, ssh, named pipes: urllib3 reads those
        if getattr(inner, "length", None) is not None:
            return None  # a Content-Length body is not what the engine sends; keep it simple
        # Bytes http.client buffered past the headers come first; the socket has the rest.
        head = fp.peek(1 << 16)
        head = fp.read(len(head)) if head else b""
        # MSG_WAITALL needs a blocking socket; the kernel still gives up after `timeout`.
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", int(timeout), 0))
        return cls(response, sock, head, chunked=bool(getattr(inner, "chunked", False)))

    def _produce(self) -> None:
        head, block = self.head, self.block
        raw = bytearray(block)
        view = memoryview(raw)
        view[: len(head)] = head
        decoder = _Dechunker() if self.chunked else None
        kept, ended = len(head), False
        while not self.stop.is_set() and not ended:
            got = self.sock.recv_into(view[kept:], block - kept, socket.MSG_WAITALL)
            end = kept + got
            if decoder is None:
                ended = not got
                self._put(bytes(view[:end]))
                kept = 0
                continue
            pieces, used = decoder.feed(raw, view, end)
            ended = decoder.done
            if not got and not ended:
                raise OSError("the export stream ended inside an HTTP chunk")
            if pieces:
                self._put(b"".join(pieces))
            kept = end - used
            view[:kept] = view[used:end]  # an unfinished size line, moved to the front
        self._put(b"")

    def close(self) -> None:
        self.stop.set()
        with contextlib.suppress(OSError):  # already shut: nothing to wake
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the pump if it waits in recv
        self.response.close()


class _Dechunker:
    """HTTP/1.1 chunked transfer coding, stripped one buffer at a time."""

    def __init__(self) -> None:
        self.left = 0  # payload bytes still due in the current chunk
        self.after_payload = False  # a CRLF ends every payload
        self.trailers = False  # after the last chunk: header lines until an empty one
        self.done = False

    def feed(self, raw: bytearray, view: memoryview, end: int) -> tuple[list[memoryview], int]:
        """The payload slices in raw[:end], and how many bytes were used (the rest is an
        unfinished line, to be fed again with more bytes behind it)."""
        pieces: list[memoryview] = []
        pos = 0
        while pos < end and not self.done:
            if self.left:
                take = min(self.left, end - pos)
                pieces.append(view[pos : pos + take])
                pos += take
                self.left -= take
                self.after_payload = not self.left
                continue
            newline = raw.find(b"\n", pos, end)
            if newline < 0:
                if end - pos > 4096:
                    raise OSError("the export stream's HTTP chunk framing is corrupt")
                break
            self._line(bytes(raw[pos : newline + 1]))
            pos = newline + 1
        return pieces, pos

    def _line(self, line: bytes) -> None:
        if self.after_payload:
            if line != b"\r\n":
                raise OSError("the export stream's HTTP chunk framing is corrupt")
            self.after_payload = False
        elif self.trailers:
            self.done = not line.strip()
        else:
            try:
                self.left = int(line.split(b";", 1)[0], 16)
            except ValueError as exc:
                raise OSError("the export stream's HTTP chunk framing is corrupt") from exc
            self.trailers = not self.left


def repo_digest(digests: list[str], ref: str) -> str | None:
    """The repository digest to deploy `ref` by: the one of its own repository when the engine
    knows several (an image pushed to two registries), else the first; None when it knows none
    (never pushed or pulled)."""
    name = ref.split("@", 1)[0]
    head, slash, last = name.rpartition("/")
    repository = head + slash + last.split(":", 1)[0]
    own = [d for d in digests if d.split("@", 1)[0] in (repository, f"docker.io/{repository}")]
    return next(iter(own or digests), None)


def load(
    ref: str,
    read_layer: ReadLayer,
    known: Known,
    *,
    pull: str = "never",
    cached_config: Callable[[str], bytes | None] = lambda image_id: None,
    read_stored: ReadStored | None = None,
) -> Loaded:
    """The image `ref` names, its layers read from the engine's storage with `read_stored`
    when given and possible (engine_storage.py), else from its export; cached layers are not
    read again."""
    client = connect()
    try:
        image = get_image(client, ref, pull)
        attrs: dict[str, Any] = image.attrs
        image_id: str = image.id
        diff_ids = list((attrs.get("RootFS") or {}).get("Layers") or [])
        digest = repo_digest(attrs.get("RepoDigests") or [], ref)
        config_bytes = cached_config(image_id)
        if config_bytes is not None and all(d in known for d in diff_ids):
            # Everything is known already: no `docker save` at all.
            return Loaded(
                image_id,
                digest,
                tuple(image.tags),
                validate(json.loads(config_bytes)),
                config_bytes,
                {},
            )
        if read_stored is not None:
            stored = _from_storage(client, image_id, diff_ids, read_stored, known)
            if stored is not None:
                config_bytes, layers = stored
                return Loaded(image_id, digest, tuple(image.tags),
                              validate(json.loads(config_bytes)), config_bytes, layers)  # fmt: skip
        try:
            try:
                loaded = _read_export(client, image_id, read_layer, known, trust_sizes=True)
            except NeedsFullRead:
                loaded = _read_export(client, image_id, read_layer, known, trust_sizes=False)
        except docker.errors.APIError as exc:
            raise InspectorError(
                f"the engine could not export {ref!r}: {_first_line(exc)}"
            ) from exc
        if loaded.image_id != image_id:
            raise ArchiveError(f"the engine exported {loaded.image_id}, not {image_id}")
        return Loaded(
            image_id,
            digest,
            tuple(image.tags),
            loaded.raw_config,
            loaded.config_bytes,
            loaded.layers,
        )
    finally:
        client.close()
