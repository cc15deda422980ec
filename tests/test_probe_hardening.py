"""Probe containers are hardened against the image they run: its own HEALTHCHECK never runs in
one (the engine would run the image's code on a timer, outside any probe's watch), and each has a
CPU limit beside its memory and process limits."""

from __future__ import annotations

import pytest

from inspector.facts.collect import collect
from inspector.probes import ProbeOptions, containers
from tests.conftest import fixture_image
from tests.test_probes import probe_containers

HOSTILE = "t2-hostile-healthcheck"
MARKER = "/tmp/t2-healthcheck-ran"


@pytest.mark.docker
def test_a_probe_container_has_no_healthcheck_and_a_cpu_limit(docker_client):
    """The engine's view of a probe container: healthcheck NONE, NanoCpus set, as created."""
    image_id = docker_client.images.get(fixture_image(HOSTILE)).id
    with containers.probe_container(docker_client, image_id, "t2-hardening") as container:
        container.reload()
        assert container.attrs["Config"]["Healthcheck"]["Test"] == ["NONE"]
        assert container.attrs["HostConfig"]["NanoCpus"] == containers.CPUS * 1_000_000_000
        assert container.attrs["HostConfig"]["Memory"] > 0
    assert not [c for c in probe_containers(docker_client) if c.labels.get(containers.LABEL)
                == "t2-hardening"]  # fmt: skip


@pytest.mark.docker
def test_the_images_own_healthcheck_never_runs_in_a_probe(docker_client):
    """t2-hostile-healthcheck: its HEALTHCHECK (every second: leave a marker, delete the app) would
    make the service stop itself with status 3; with it disabled the service runs through the
    warm-up, the marker is never written, and the engine reports no health state."""
    facts = collect(fixture_image(HOSTILE), probe=ProbeOptions(warmup=4, grace=2)).to_json()
    life = facts["runtime"]["lifecycle"]
    assert life["status"] == "ran", life
    assert life["exit_code"] != 3
    assert not any("healthcheck ran" in line.lower() for line in life["log_tail"])
    assert MARKER not in {written["path"] for written in life["written"]}
    assert facts["runtime"]["static"]["status"] == "ran"
