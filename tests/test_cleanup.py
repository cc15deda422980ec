"""`inspector cleanup` and probe removal tell the truth on an engine other runs share."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from pathlib import Path

import docker.errors
import pytest
import requests.exceptions

from inspector.cli.commands import main
from inspector.probes import containers
from tests.conftest import fixture_image

# --- pure code -------------------------------------------------------------------------------


def _refusal(text: str) -> docker.errors.APIError:
    return docker.errors.APIError(text, explanation=text)


def test_removal_retries_with_growing_waits_then_reports_the_engines_last_word():
    """A removal the engine keeps refusing is retried after each wait, then reported, not
    silently dropped; a removal that succeeds on a later try reports nothing."""
    slept: list[float] = []
    calls = iter([_refusal("removal already in progress")] * 2 + [None])

    def flaky() -> None:
        outcome = next(calls)
        if outcome is not None:
            raise outcome

    assert containers._remove(flaky, waits=(0.1, 0.2, 0.4), sleep=slept.append) is None
    assert slept == [0.1, 0.2]

    slept.clear()

    def refuses() -> None:
        raise _refusal("unlinkat /x: operation not permitted")

    problem = containers._remove(refuses, waits=(0.1, 0.2), sleep=slept.append)
    assert problem == "unlinkat /x: operation not permitted"
    assert slept == [0.1, 0.2]  # three attempts, two waits between them


def test_removal_of_a_container_already_gone_or_behind_a_dropped_connection():
    """NotFound means removed already (no retry); a dropped connection is retried and named."""

    def gone() -> None:
        raise docker.errors.NotFound("no such container")

    assert containers._remove(gone, waits=(1.0,), sleep=pytest.fail) is None

    def dropped() -> None:
        raise requests.exceptions.ConnectionError("connection reset")

    assert containers._remove(dropped, waits=(0.0,), sleep=lambda s: None) == "connection reset"


def test_owner_gone_only_when_provably_over():
    """This host: alive process kept, dead one gone; another host: kept until its time bound
    (the expiry label, or a lifetime after creation for unlabelled containers) has passed."""
    here = socket.gethostname()
    now = 1_000_000.0
    alive = {containers.OWNER_LABEL: containers.owner()}
    dead = {containers.OWNER_LABEL: f"{here}:999999999:1"}
    assert containers.owner_gone(alive, now, now) is None
    assert containers.owner_gone(dead, now, now) == "left by a run that is over"

    other = {containers.OWNER_LABEL: "ci-runner-7.example:42:1234"}
    assert containers.owner_gone(other, now - 60, now) is None  # just created elsewhere
    assert containers.owner_gone(other, now - containers.LIFETIME - 1, now) is not None
    labelled = {**other, containers.EXPIRES_LABEL: str(int(now + 7200))}
    assert containers.owner_gone(labelled, now - containers.LIFETIME - 1, now) is None
    expired = {**other, containers.EXPIRES_LABEL: str(int(now - 1))}
    assert containers.owner_gone(expired, now - 5, now) is not None


# --- a real engine ---------------------------------------------------------------------------


def _probe_like(docker_client, labels: dict[str, str]):  # type: ignore[no-untyped-def]
    """A stopped container carrying the probe labels `labels` adds to."""
    image_id = docker_client.images.get(fixture_image("good")).id
    return docker_client.containers.create(
        image_id,
        network_mode="none",
        labels={containers.LABEL: "static", containers.IMAGE_LABEL: image_id, **labels},
    )


@pytest.mark.docker
def test_a_probe_of_a_run_on_another_host_is_kept_until_its_bound_passes(docker_client, capsys):
    """A probe labelled by another host's run (a CI job sharing the engine) is kept while its
    run may be in progress, and removed once its expiry has passed."""
    owner = {containers.OWNER_LABEL: "ci-runner-7.example:42:1234"}
    running = _probe_like(
        docker_client, {**owner, containers.EXPIRES_LABEL: str(int(time.time() + 3600))}
    )
    over = _probe_like(
        docker_client, {**owner, containers.EXPIRES_LABEL: str(int(time.time() - 1))}
    )
    try:
        assert main(["cleanup"]) == 0
        out = capsys.readouterr().out
        kept = [line for line in out.splitlines() if running.name in line]
        removed = [line for line in out.splitlines() if over.name in line]
        assert kept
        assert kept[0].startswith("kept ")
        assert "ci-runner-7.example" in kept[0]
        assert "may still be in progress" in kept[0]
        assert removed
        assert removed[0].startswith("removed ")
        with pytest.raises(docker.errors.NotFound):
            docker_client.containers.get(over.id)
        assert docker_client.containers.get(running.id).id == running.id
    finally:
        for container in (running, over):
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)


@pytest.mark.docker
def test_a_container_the_engine_will_not_remove_is_reported_and_exits_2(
    docker_client, capsys, monkeypatch
):
    """When the engine refuses a removal (a file in the container's directory made immutable),
    `cleanup` retries, names the container and the engine's reason on stderr, and exits 2; once
    the cause is gone, `cleanup` removes it and exits 0."""
    monkeypatch.setattr(containers, "REMOVE_WAITS", (0.1, 0.2))
    # Owned by a process of this host that does not exist: due for removal without --all, which
    # would also take the probes of runs sharing this engine.
    dead = f"{socket.gethostname()}:999999999:1"
    stuck = _probe_like(docker_client, {containers.OWNER_LABEL: dead})
    root = Path(docker_client.info()["DockerRootDir"])
    pinned = root / "containers" / stuck.id / "hostconfig.json"
    subprocess.run(["chattr", "+i", str(pinned)], check=True)
    try:
        assert main(["cleanup"]) == 2
        captured = capsys.readouterr()
        line = next(row for row in captured.err.splitlines() if stuck.name in row)
        assert line.startswith("not removed ")
        assert "operation not permitted" in line
        assert "could not be removed" in captured.err
        assert stuck.name not in captured.out  # never claimed removed
    finally:
        subprocess.run(["chattr", "-i", str(pinned)], check=True)
    assert main(["cleanup"]) == 0
    assert f"removed {stuck.name}" in capsys.readouterr().out
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(stuck.id)
