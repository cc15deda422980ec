"""One hardened container for many commands: the command tests of an expectation file.

The container is created once (network off, every capability dropped, no-new-privileges, the
probe's memory, PID and log limits), kept open by a program of the image that does nothing, and
each command runs in it with `docker exec`, as the image's USER in its WORKDIR. A command gets a
time and an output limit; one that passes either is killed with the whole container, which is
started again for the next command (the same container: its ID and files stay). It is removed
afterwards, whatever happens (`containers.probe_container`).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import requests.exceptions
from docker.utils.socket import STDERR, frames_iter

from inspector.probes import containers
from inspector.probes.limits import ProbeLimits

ROLE = "expect"  # the value of the `inspector.probe` label on this container
COMMAND_TIMEOUT = 60.0  # seconds one command may take (its setup and teardown each get as much)
OUTPUT_LIMIT = 1024 * 1024  # bytes kept of each of a command's stdout and stderr
STOP_WAIT = 10  # seconds to wait for the killed container to be down before starting it again
STOP_TRIES = 4  # kills and waits before the container counts as broken


@dataclass(frozen=True)
class Ran:
    """What one command did."""

    exit_code: int | None  # None: it did not exit by itself
    stdout: bytes
    stderr: bytes
    seconds: float
    stopped: str | None = None  # why it was killed, or why it could not run


@dataclass
class Session:
    client: Any
    container: Any
    starts: int = 1
    broken: str | None = None  # the container could not be started again: nothing more runs

    @property
    def short_id(self) -> str:
        return str(self.container.id)[:12]

    def run(self, argv: Sequence[str], env: Mapping[str, str] | None = None, user: str = "",
            timeout: float | None = None, limit: int | None = None) -> Ran:  # fmt: skip
        """Run one command; `timeout` and `limit` default to the module's limits, read now."""
        timeout = COMMAND_TIMEOUT if timeout is None else timeout
        limit = OUTPUT_LIMIT if limit is None else limit
        started = time.monotonic()
        if self.broken:
            return Ran(None, b"", b"", 0.0, self.broken)
        api = self.client.api
        try:
            exec_id = api.exec_create(
                self.container.id, list(argv), stdout=True, stderr=True,
                environment=[f"{k}={v}" for k, v in (env or {}).items()] or None,
                user=user or "",
            )["Id"]  # fmt: skip
            # The raw socket, so it is closed here, whatever happens (a stream would leave it
            # to the garbage collector).
            sock = api.exec_start(exec_id, socket=True)
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            return Ran(None, b"", b"", time.monotonic() - started,
                       f"the engine could not run it: {_explain(exc)}")  # fmt: skip
        out, err = bytearray(), bytearray()
        flooded: list[str] = []

        def pump() -> None:
            try:
                for stream_id, chunk in frames_iter(sock, tty=False):
                    name, kept = ("stderr", err) if stream_id == STDERR else ("stdout", out)
                    kept.extend(chunk[: max(0, limit - len(kept))])
                    if len(kept) >= limit:
                        flooded.append(name)
                        return
            except Exception:  # the container was killed under it; the caller says why
                return

        reader = threading.Thread(target=pump, name="expect-output", daemon=True)
        reader.start()
        reader.join(timeout)
        stopped = None
        if reader.is_alive():
            stopped = f"did not finish within {timeout:g}s: killed"
        elif flooded:
            stopped = f"printed more than {limit // 1024} KiB on {flooded[0]}: killed"
        if stopped:
            # Our end of the output stream first: a flood the engine cannot hand over must not
            # slow the kill that follows.
            _close(sock)
            self._restart()
            reader.join(STOP_WAIT)
        _close(sock)
        if stopped:
            return Ran(None, bytes(out), bytes(err), time.monotonic() - started, stopped)
        try:
            code = api.exec_inspect(exec_id).get("ExitCode")
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            return Ran(None, bytes(out), bytes(err), time.monotonic() - started,
                       f"the engine did not say how it exited: {_explain(exc)}")  # fmt: skip
        return Ran(code if isinstance(code, int) else None, bytes(out), bytes(err),
                   time.monotonic() - started)  # fmt: skip

    def _restart(self) -> None:
        """Kill the container (and with it the command) and start it again for what follows."""
        # On a loaded machine the engine may take longer than one wait to bring a killed
        # container down: kill and wait again (a kill of a container already down raises).
        for _ in range(STOP_TRIES):
            with contextlib.suppress(docker.errors.APIError, requests.exceptions.RequestException):
                self.container.kill()
            try:
                self.container.wait(timeout=STOP_WAIT)
                break
            except requests.exceptions.RequestException:
                continue
            except docker.errors.APIError:
                break
        try:
            self.container.start()
            self.starts += 1
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            self.broken = f"the probe container could not be started again: {_explain(exc)}"


def _close(sock: Any) -> None:
    # A SocketIO forgets its socket when closed, and closing it does not close the socket:
    # take the socket first, then close both.
    raw = getattr(sock, "_sock", None)
    for each in (sock, raw):
        if each is not None:
            with contextlib.suppress(OSError):
                each.close()


def _explain(exc: Exception) -> str:
    if isinstance(exc, docker.errors.APIError):
        return containers.explain(exc)
    return str(exc) or type(exc).__name__


@contextlib.contextmanager
def session(image_id: str, keepalive: Sequence[str], limits: ProbeLimits | None = None,
            client: Any = None) -> Iterator[Session]:  # fmt: skip
    """A started container of `image_id` running `keepalive`, removed on leaving."""
    from inspector.sources.daemon import connect

    own = client is None
    client = client or connect()
    try:
        with containers.probe_container(
            client,
            image_id,
            ROLE,
            entrypoint=list(keepalive),
            command=[],
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            log_config=(limits or ProbeLimits()).log_config(),
        ) as container:
            try:
                container.start()
            except docker.errors.APIError as exc:
                raise CommandsUnavailable(
                    f"the probe container could not start: {containers.explain(exc)}"
                ) from exc
            yield Session(client, container)
    finally:
        if own:
            client.close()


class CommandsUnavailable(Exception):
    """The container for the commands could not be started (its reason is the message)."""
