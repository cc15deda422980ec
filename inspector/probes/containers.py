"""Probe containers: created by image ID with the network off and limits on, labelled, removed.

Every probe container carries the label `inspector.probe`, an owner label naming this host,
process and its start time, and the time after which no run can still be using it, so `inspector
cleanup` can tell the leftovers of a killed run from the containers of a run still in progress,
including runs of another machine or CI job sharing the engine.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
import time
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
EXPIRES_LABEL = "inspector.probe.expires"
# INSPECTOR_RUN_ID, when set, labels every probe container of this process and its children with
# it: a CI job or a test session on a shared engine counts and waits for its own probes only.
RUN_LABEL = "inspector.probe.run"
RUN_ENV = "INSPECTOR_RUN_ID"
# Limits for images we do not trust: enough for a Python web app to start, not to hurt the host.
MEMORY = "512m"
PIDS = 256
# The engine refuses a removal while another is in progress or a file is busy; these usually
# clear within seconds, so the waits grow: about 15 s in all before a removal is reported failed.
REMOVE_WAITS = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0)
# A probe run's own bound is its timeouts (the static probe's wall clock, the lifecycle's warm-up
# and stop grace); a container older than this cannot belong to a run still in progress, on
# whichever machine that run is. Callers with longer bounds (a long --warmup) pass their own.
LIFETIME = 3600.0
CPUS = 1  # of the host's cores: a busy loop in the image slows, never starves, the machine
# The image's own HEALTHCHECK is the image's code run by the engine on a timer, outside any probe's
# watch (a hostile one can delete files or kill the app mid-probe): never in a probe container.
NO_HEALTHCHECK = {"Test": ["NONE"]}


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


def owner_gone(labels: dict[str, str], created: float, now: float) -> str | None:
    """Why the run that made a probe container is provably over, or None while it may not be.

    On this host the process table says so. A container of another host (another CI job or
    machine on a shared engine) is over only once its run's bound has passed: the expiry it was
    labelled with, or for containers made before that label existed, LIFETIME after creation.
    """
    who = labels.get(OWNER_LABEL, "")
    host, _, rest = who.partition(":")
    pid, _, _ = rest.partition(":")
    if host == socket.gethostname() and pid.isdigit():
        return None if owner_alive(who) else "left by a run that is over"
    try:
        expires = float(labels[EXPIRES_LABEL])
    except (KeyError, ValueError):
        expires = created + LIFETIME
    if now > expires:
        return "left by a run that is over (its time bound has passed)"
    return None


def create(
    client: docker.DockerClient,
    image_id: str,
    role: str,
    lifetime: float = LIFETIME,
    **options: Any,
) -> Any:
    """A stopped container of `image_id`; `probe_container` removes it, whatever happens."""
    if not image_id.startswith("sha256:"):
        raise ValueError("probes run images by ID, never by tag (the SDK pulls missing tags)")
    labels = {
        LABEL: role,
        OWNER_LABEL: owner(),
        IMAGE_LABEL: image_id,
        EXPIRES_LABEL: str(int(time.time() + max(lifetime, LIFETIME))),
    }
    if run_id := os.environ.get(RUN_ENV):
        labels[RUN_LABEL] = run_id
    # The image's own env only, nothing of ours, unless the user gives the probes settings
    # (--probe-env, --probe-memory: `Given.container_options`).
    options = {"mem_limit": MEMORY, "memswap_limit": MEMORY, "environment": None, **options}
    try:
        return client.containers.create(
            image_id,
            network_mode="none",
            pids_limit=PIDS,
            nano_cpus=CPUS * 1_000_000_000,
            healthcheck=NO_HEALTHCHECK,
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
    They are held during the removal too, for the same reason.
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
        # A first Ctrl-C landing inside the removal's engine call would abandon the container.
        held = _hold_signals()
        try:
            remove(container)
        finally:
            _release_signals(held)


def _hold_signals() -> set[signal.Signals] | None:
    if threading.current_thread() is not threading.main_thread():
        return None  # signals are only ever handled on the main thread
    return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def _release_signals(previous: set[signal.Signals] | None) -> None:
    if previous is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def remove(container: Any) -> None:
    """Remove a probe container of this run; one that the engine refuses is named on stderr
    with the way out, since the run's own result still stands."""
    problem = _remove(lambda: container.remove(force=True, v=True))
    if problem is not None:
        name = getattr(container, "short_id", "?")
        print(
            f"inspector: probe container {name} could not be removed ({problem}); "
            "`inspector cleanup` removes it once the engine allows",
            file=sys.stderr,
        )


def _remove(
    action: Callable[[], Any],
    waits: tuple[float, ...] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> str | None:
    """None once the container is gone (removed now or before); else the engine's last word."""
    problem = "no attempt made"
    for wait in (*(REMOVE_WAITS if waits is None else waits), None):
        try:
            action()
            return None
        except docker.errors.NotFound:
            return None
        except docker.errors.APIError as exc:
            problem = explain(exc)  # "removal already in progress", a busy file: wait, retry
        except requests.exceptions.RequestException as exc:
            problem = str(exc) or type(exc).__name__
        if wait is not None:
            sleep(wait)
    return " ".join(problem.split())


@dataclass(frozen=True)
class Listed:
    """A container as the engine's list shows it: no inspect, so no race with its removal."""

    id: str
    name: str
    labels: dict[str, str]
    created: float = 0.0  # seconds since the epoch, as the engine lists it

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
        Listed(
            row["Id"],
            (row.get("Names") or ["?"])[0].lstrip("/"),
            row.get("Labels") or {},
            float(row.get("Created") or 0),
        )
        for row in rows
    ]


def remove_listed(client: docker.DockerClient, item: Listed) -> str | None:
    """None once `item` is gone, else why the engine would not remove it."""
    return _remove(lambda: client.api.remove_container(item.id, force=True, v=True))


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
    error: str | None = None  # the engine's refusal when a removal was due and failed


def cleanup(client: docker.DockerClient, everything: bool = False) -> list[Leftover]:
    """Remove probe containers whose run is provably over (all of them with `everything`)."""
    out = []
    now = time.time()
    for container in listed(client):
        labels = container.labels
        gone = owner_gone(labels, container.created, now)
        error = None
        if gone is None and not everything:
            why = _kept_because(labels)
        else:
            why = gone or "removed on request (--all)"
            error = remove_listed(client, container)
        out.append(
            Leftover(
                container.short_id,
                container.name,
                labels.get(LABEL, ""),
                labels.get(IMAGE_LABEL, ""),
                labels.get(OWNER_LABEL, ""),
                removed=(gone is not None or everything) and error is None,
                why=why,
                error=error,
            )
        )
    return out


def _kept_because(labels: dict[str, str]) -> str:
    host = labels.get(OWNER_LABEL, "").partition(":")[0]
    if host == socket.gethostname():
        return "its run is still in progress"
    return f"its run on {host or 'another host'} may still be in progress (--all removes it)"
