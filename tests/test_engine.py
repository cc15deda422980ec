"""The engine the suite relies on, and `make engine`'s promise to leave a running one alone."""

from __future__ import annotations

import os
import subprocess

import pytest
from packaging.version import Version

from tests.conftest import REPO, fixture_image

ENGINE_SCRIPT = REPO / "scripts" / "engine.sh"


def dockerd_pids() -> set[str]:
    done = subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, text=True, check=False)
    return set(done.stdout.split())


@pytest.mark.docker
def test_engine_answers_through_the_sdk(docker_client):
    """The SDK reaches the engine and it speaks API 1.41 or newer."""
    assert docker_client.ping()
    assert Version(docker_client.version()["ApiVersion"]) >= Version("1.41")


@pytest.mark.docker
def test_containers_run_with_no_network_but_loopback(run):
    """A container with network_mode="none" has only the loopback interface."""
    ran = run(fixture_image("naive"), ["cat", "/proc/net/dev"])
    interfaces = {line.split(":")[0].strip() for line in ran.output.splitlines()[2:]}
    assert interfaces == {"lo"}


@pytest.mark.docker
def test_engine_script_leaves_a_running_engine_alone():
    """`make engine` with an engine that answers exits 0, says so, and starts no other dockerd."""
    before = dockerd_pids()
    done = subprocess.run(["bash", str(ENGINE_SCRIPT)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "already answers" in done.stderr
    assert dockerd_pids() == before


def test_engine_script_explains_a_dead_docker_host(tmp_path):
    """With DOCKER_HOST naming an engine that is down, `make engine` exits 1 and says what to do."""
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/nobody.sock"}
    done = subprocess.run(
        ["bash", str(ENGINE_SCRIPT)], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 1
    assert "does not answer" in done.stderr
    assert "unset DOCKER_HOST" in done.stderr
