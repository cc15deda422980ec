"""Probe containers: created by image ID with the network off and limits on, labelled, removed.

Every probe container carries the label `inspector.probe` and an owner label naming this host,
process and its start time, so `inspector cleanup` can tell the leftovers of a killed run from the
containers of a run still in progress.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import requests.exceptions

from inspector.errors import InspectorError

LABEL = "inspector.probe"
OWNER_LABEL = "inspector.probe.owner"
IMAGE_LABEL = "inspector.probe.image"
# Limits for images we do not trust: enough for a Python web app to start, not to hurt the host.
MEMORY = "512m"
PIDS = 256
REMOVE_ATTEMPTS = 3


def owner() -> str:
    """host:pid:start-time of this process (the start time tells a reused PID apart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_start_time(os.getpid())}"


def _start_time(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # Field 22, counted after the command name, which may itself contain spaces.
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"


def owner_alive(value: str) -> bool:
    """Whether the process that labelled a container is still running on this host."""
    host, _, rest = value.partition(":")
    pid, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    return _start_time(int(pid)) == started != "?"


def create(client: docker.DockerClient, image_id: str, role: str, **options: Any) -> Any:
    """A stopped container of `image_id`; `probe_container` removes it, whatever happens."""
    if not image_id.startswith("sha256:"):
        raise ValueError("probes run images by ID, never by tag (the SDK pulls missing tags)")
    labels = {LABEL: role, OWNER_LABEL: owner(), IMAGE_LABEL: image_id}
    # The image's own env only, nothing of ours, unless the user gives the probes settings
    # (--probe-env, --probe-memory: `Given.container_options`).
    options = {"mem_limit": MEMORY, "memswap_limit": MEMORY, "environment": None, **options}
    try:
        return client.containers.create(
            image_id,
            network_mode="none",
            pids_limit=PIDS,
            labels=labels,
            **options,
        )
    except docker.errors.APIError as exc:
        raise InspectorError(
            f"the engine refused to create a {role} probe container: {explain(exc)}"
        ) from exc


@contextlib.contextmanager
def probe_container(client: docker.DockerClient, image_id: str, role: str,
                    **options: Any) -> Iterator[Any]:  # fmt: skip
    """A new probe container, removed afterwards: on success, error, timeout or Ctrl-C.

    A signal that lands while the engine creates it, or just after, would leave a container
    nobody removes; SIGINT and SIGTERM are held until the removal is guaranteed, then raised.
    """
    held = _hold_signals()
    try:
        container = create(client, image_id, role, **options)
    except BaseException:
        _release_signals(held)
        raise
    try:
        _release_signals(held)
        yield container
    finally:
        remove(container)


def _hold_signals() -> set[signal.Signals] | None:
    if threading.current_thread() is not threading.main_thread():
        return None  # signals are only ever handled on the main thread
    return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def _release_signals(previous: set[signal.Signals] | None) -> None:
    if previous is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def remove(container: Any) -> None:
    _remove(lambda: container.remove(force=True, v=True))


def _remove(action: Callable[[], Any]) -> None:
    for _ in range(REMOVE_ATTEMPTS):
        try:
            action()
            return
        except docker.errors.NotFound:
            return
        except (docker.errors.APIError, requests.exceptions.RequestException):
            continue  # "removal already in progress" and the like: try again


@dataclass(frozen=True)
class Listed:
    """A container as the engine's list shows it: no inspect, so no race with its removal."""

    id: str
    name: str
    labels: dict[str, str]

    @property
    def short_id(self) -> str:
        return self.id[:12]


def listed(client: docker.DockerClient, label: str = LABEL) -> list[Listed]:
    """Containers carrying `label` (a key, or key=value), running or not.

    `containers.list()` inspects each container it lists, and raises NotFound for one removed in
    between; a probe container is removed at any moment, so only the list endpoint is asked.
    """
    rows = client.api.containers(all=True, filters={"label": label})
    return [
        Listed(row["Id"], (row.get("Names") or ["?"])[0].lstrip("/"), row.get("Labels") or {})
        for row in rows
    ]


def remove_listed(client: docker.DockerClient, item: Listed) -> None:
    _remove(lambda: client.api.remove_container(item.id, force=True, v=True))


def explain(exc: docker.errors.APIError) -> str:
    """Docker's own words for a refusal, without the HTTP status line docker-py puts first."""
    text = exc.explanation if isinstance(exc.explanation, str) else str(exc)
    return text.strip() or str(exc)


@dataclass(frozen=True)
class Leftover:
    id: str
    name: str
    role: str
    image: str
    owner: str
    removed: bool
    why: str


def cleanup(client: docker.DockerClient, everything: bool = False) -> list[Leftover]:
    """Remove probe containers whose run is over (all of them with `everything`)."""
    out = []
    for container in listed(client):
        labels = container.labels
        who = labels.get(OWNER_LABEL, "")
        alive = owner_alive(who)
        if alive and not everything:
            why = "its run is still in progress"
        else:
            remove_listed(client, container)
            why = "left by a run that is over" if not alive else "removed on request (--all)"
        out.append(
            Leftover(
                container.short_id,
                container.name,
                labels.get(LABEL, ""),
                labels.get(IMAGE_LABEL, ""),
                who,
                not alive or everything,
                why,
            )
        )
    return out
