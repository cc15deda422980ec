"""The Docker daemon as a source of images. One of the few modules allowed to import docker.

The reference is resolved to the image ID once; everything after uses the ID (docker-py pulls a
missing *tag* by itself in some calls). Layers come from `docker save` of that ID, streamed.
"""

from __future__ import annotations

import json
import os
import queue
import socket
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
from inspector.sources.archive import (
    ArchiveError,
    Known,
    Loaded,
    NeedsFullRead,
    ReadLayer,
    read_image_stream,
)

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
    if pull == "always":
        _pull(client, ref)
    try:
        return client.images.get(ref)
    except docker.errors.ImageNotFound as exc:
        if pull != "missing":
            raise ImageNotFound(
                f"no local image {ref!r}; pull it (`--pull missing`, or `docker pull {ref}`) "
                "or check the name"
            ) from exc
    except docker.errors.APIError as exc:
        raise InspectorError(f"the engine refused to describe {ref!r}: {_first_line(exc)}") from exc
    _pull(client, ref)
    try:
        return client.images.get(ref)
    except docker.errors.ImageNotFound as exc:
        raise ImageNotFound(f"{ref!r} was pulled but the engine does not list it") from exc


def _pull(client: docker.DockerClient, ref: str) -> None:
    repository, tag = docker.utils.parse_repository_tag(ref)
    try:
        # Credentials come from the user's Docker config, as for `docker pull`.
        client.images.pull(repository, tag=tag or "latest")
    except docker.errors.APIError as exc:
        raise InspectorError(f"the registry refused {ref!r}: {_first_line(exc)}") from exc


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
    response = client.api._get(client.api._url("/images/{0}/get", image_id), stream=True)
    client.api._raise_for_status(response)
    response.raw.decode_content = False
    return _ReadAhead(response.raw)


class _ReadAhead:
    """Reads the export on a thread into a bounded queue, so the daemon streams while we parse.

    Without it the daemon waits whenever the parser is busy, and the two costs add up.
    """

    def __init__(self, raw: Any, chunk: int = 1 << 20, depth: int = 64) -> None:
        self.raw = raw
        self.queue: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=depth)
        self.done = False
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._pump, args=(chunk,), daemon=True)
        self.thread.start()

    def _pump(self, chunk: int) -> None:
        try:
            while not self.stop.is_set():
                data = self.raw.read(chunk)
                self._put(data)
                if not data:
                    return
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
        """The next chunk (its size is the pump's, not `n`); b"" at the end of the export.

        Only `layers._Reader` reads this, and it buffers by itself.
        """
        if self.done:
            return b""
        item = self.queue.get()
        if isinstance(item, BaseException):
            raise OSError(f"the export stream broke off: {item}") from item
        self.done = not item
        return item

    def close(self) -> None:
        self.stop.set()
        self.raw.close()


def load(
    ref: str,
    read_layer: ReadLayer,
    known: Known,
    *,
    pull: str = "never",
    cached_config: Callable[[str], bytes | None] = lambda image_id: None,
) -> Loaded:
    client = connect()
    try:
        image = get_image(client, ref, pull)
        attrs: dict[str, Any] = image.attrs
        image_id: str = image.id
        diff_ids = list((attrs.get("RootFS") or {}).get("Layers") or [])
        digest = next(iter(attrs.get("RepoDigests") or []), None)
        config_bytes = cached_config(image_id)
        if config_bytes is not None and all(d in known for d in diff_ids):
            # Everything is known already: no `docker save` at all.
            return Loaded(
                image_id, digest, tuple(image.tags), json.loads(config_bytes), config_bytes, {}
            )
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
