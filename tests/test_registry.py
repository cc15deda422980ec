"""Registry references: pulled through the daemon only when asked, refusals are exit 2."""

from __future__ import annotations

import json
import shutil

import pytest

from inspector.cli.commands import main
from tests.conftest import fixture_image
from tests.registry import running_registry

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def pushed(docker_client, tmp_path_factory, request):
    """The good fixture pushed to a loopback registry, with the local registry tag removed."""
    if shutil.which("docker-registry") is None:
        message = "docker-registry is not installed (`make test` installs it as root on Debian)"
        if request.config.getoption("--require-docker"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with running_registry(tmp_path_factory.mktemp("registry")) as address:
        repo = f"{address}/inspector/good"
        image = docker_client.images.get(fixture_image("good"))
        image.tag(repo, "1")
        for line in docker_client.images.push(repo, "1", stream=True, decode=True):
            assert "error" not in line, line
        docker_client.images.remove(f"{repo}:1")
        try:
            yield address, f"{repo}:1", image.id
        finally:
            for tag in docker_client.images.get(image.id).tags:
                if tag.startswith(address):
                    docker_client.images.remove(tag)


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("INSPECTOR_CACHE_DIR", str(tmp_path / "cache"))


def test_registry_image_is_not_pulled_unless_asked(pushed, capsys, own_cache):
    """With the default --pull never, an image only the registry has is exit 2, named."""
    _, ref, _ = pushed
    assert main(["facts", ref]) == 2
    err = capsys.readouterr().err
    assert ref in err
    assert "--pull missing" in err


def test_registry_image_is_pulled_with_pull_missing(pushed, capsys, own_cache):
    """--pull missing pulls through the daemon and reports the same image, with its digest."""
    _, ref, image_id = pushed
    assert main(["facts", ref, "--pull", "missing", "--format", "json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["image"]["id"] == image_id
    assert facts["image"]["digest"].startswith(ref.rsplit(":", 1)[0] + "@sha256:")


def test_registry_refusal_is_exit_2(pushed, capsys, own_cache):
    """A reference the registry does not know is exit 2 saying the registry refused it."""
    address, _, _ = pushed
    assert main(["facts", f"{address}/inspector/nothing:1", "--pull", "missing"]) == 2
    err = capsys.readouterr().err
    assert "registry refused" in err
    assert "Traceback" not in err


def test_audit_of_a_refused_reference_is_exit_2_even_with_exit_zero(pushed, capsys, own_cache):
    """The gate cannot pass an image the registry refuses: audit exits 2 and says why."""
    address, _, _ = pushed
    ref = f"{address}/inspector/nothing:1"
    assert main(["audit", ref, "--pull", "missing", "--exit-zero"]) == 2
    err = capsys.readouterr().err
    assert f"inspector: error: {ref}: " in err
    assert "registry refused" in err
