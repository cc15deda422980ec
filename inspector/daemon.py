"""The Docker daemon as a source of images. One of the few modules allowed to import docker."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import docker
import docker.errors

from inspector.errors import EngineUnavailable, ImageNotFound, InspectorError
from inspector.image import HistoryStep, ImageSummary, config_from_json

_ENGINE_HINT = (
    "start Docker (or run `make engine` as root on Debian/Ubuntu), "
    "or point DOCKER_HOST at a running engine"
)


def connect(timeout: int = 60) -> docker.DockerClient:
    """A client for the engine named by the environment, with a clear error when none answers."""
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except docker.errors.DockerException as exc:
        raise EngineUnavailable(f"no Docker engine answers ({_first_line(exc)}); {_ENGINE_HINT}") from exc
    return client


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def summarize(client: docker.DockerClient, ref: str) -> ImageSummary:
    """Resolve `ref` to one immutable image, locally only (never a pull), and read its config."""
    try:
        image = client.images.get(ref)
        history = image.history()
    except docker.errors.ImageNotFound as exc:
        raise ImageNotFound(
            f"no local image {ref!r}; pull it first (`docker pull {ref}`) or check the name"
        ) from exc
    except docker.errors.APIError as exc:
        raise InspectorError(f"the engine refused to describe {ref!r}: {_first_line(exc)}") from exc
    attrs: dict[str, Any] = image.attrs
    return ImageSummary(
        id=image.id,
        tags=tuple(image.tags),
        created=attrs.get("Created", ""),
        architecture=attrs.get("Architecture", ""),
        os=attrs.get("Os", ""),
        size=int(attrs.get("Size") or 0),
        layer_digests=tuple((attrs.get("RootFS") or {}).get("Layers") or ()),
        config=config_from_json(attrs.get("Config")),
        # The API lists history newest first; layers are read oldest first.
        history=tuple(
            HistoryStep(
                created=_iso(step.get("Created")),
                created_by=step.get("CreatedBy") or "",
                size=int(step.get("Size") or 0),
            )
            for step in reversed(history)
        ),
    )


def _iso(epoch: Any) -> str:
    if not isinstance(epoch, (int, float)):
        return ""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat().replace("+00:00", "Z")
