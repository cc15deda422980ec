"""Each fixture image has the properties its Dockerfile comment claims, checked on the image."""

from __future__ import annotations

import io
import json
import tarfile
import time
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, fixture_image

pytestmark = pytest.mark.docker

REQUIREMENTS = [
    line.split("==")[0]
    for line in (FIXTURES / "requirements.txt").read_text().splitlines()
    if line and not line.startswith("#")
]
# Importing these as root would write .pyc next to any module that was not compiled in the image.
APP_IMPORT = "import app.server, requests, rich.console, pygments.lexers"


def test_every_fixture_dockerfile_says_what_it_is_for():
    """Each fixtures/NAME/Dockerfile starts with a one-line comment naming the fixture."""
    for dockerfile in FIXTURES.glob("*/Dockerfile"):
        first = dockerfile.read_text().splitlines()[0]
        assert first.startswith(f"# {dockerfile.parent.name}: "), dockerfile


def wait_for_log(container, text: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if text in container.logs().decode(errors="replace"):
            return
        container.reload()
        assert container.status == "running", container.logs().decode(errors="replace")
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not logged within {seconds}s")


# --- good -------------------------------------------------------------------------------------


def test_good_runs_as_numeric_non_root_user(image, run):
    """good declares a numeric non-root USER and its processes really run with that UID and GID."""
    assert image("good").attrs["Config"]["User"] == "10001:10001"
    ran = run(fixture_image("good"), ["sh", "-c", "id -u; id -g"])
    assert ran.output.split() == ["10001", "10001"]


def test_good_enables_faulthandler_and_runs_from_a_venv(image, run):
    """good sets PYTHONFAULTHANDLER=1, and the image's python has faulthandler on inside a venv."""
    env = image("good").attrs["Config"]["Env"]
    assert "PYTHONFAULTHANDLER=1" in env
    code = "import faulthandler, sys; print(faulthandler.is_enabled(), sys.prefix, sys.base_prefix)"
    ran = run(fixture_image("good"), ["python", "-c", code])
    enabled, prefix, base_prefix = ran.output.split()
    assert (enabled, prefix) == ("True", "/opt/venv")
    assert base_prefix != prefix


def test_good_ships_precompiled_bytecode(run):
    """Importing good's app and dependencies as root writes no .pyc: all of it was precompiled."""
    ran = run(fixture_image("good"), ["python", "-c", APP_IMPORT], user="0", entrypoint=[])
    assert ran.exit_code == 0, ran.output
    written = [c["Path"] for c in ran.diff if str(c["Path"]).endswith(".pyc")]
    assert written == []


def test_good_has_no_package_caches(run):
    """good contains no pip cache and no apt downloads anywhere in its filesystem."""
    find = ["find", "/", "-xdev", "(", "-path", "*/.cache/pip", "-o", "-name", "*.deb",
            "-o", "-path", "/var/lib/apt/lists/*_Packages", ")", "-print"]  # fmt: skip
    ran = run(fixture_image("good"), find, user="0")
    assert ran.exit_code == 0, ran.output
    assert ran.output.strip() == ""


def test_good_has_exec_form_entrypoint_behind_tini_healthcheck_and_oci_labels(image):
    """good's config has tini as exec-form ENTRYPOINT, an exec-form HEALTHCHECK and OCI labels."""
    config = image("good").attrs["Config"]
    assert config["Entrypoint"] == ["/usr/bin/tini", "--"]
    assert config["Cmd"] == ["python", "-m", "app"]
    assert config["Healthcheck"]["Test"][0] == "CMD"
    for key in ("source", "revision", "version"):
        assert config["Labels"][f"org.opencontainers.image.{key}"]


def test_good_runs_tini_as_pid1_passes_its_healthcheck_and_stops_cleanly(image, started):
    """Started as a user would, good has tini as PID 1, passes its healthcheck, stops on SIGTERM."""
    container = started(fixture_image("good"))
    wait_for_log(container, "listening on 8000")
    pid1 = container.exec_run(["cat", "/proc/1/cmdline"]).output.split(b"\0")
    assert pid1[0] == b"/usr/bin/tini"
    health = image("good").attrs["Config"]["Healthcheck"]["Test"][1:]
    assert container.exec_run(health).exit_code == 0
    container.stop(timeout=10)
    # Status 0 is the app's own clean exit through its SIGTERM handler (tini passes it on); a
    # signal it ignored would end, after the grace period, in SIGKILL: status 137.
    assert container.wait(timeout=15)["StatusCode"] == 0


# --- naive ------------------------------------------------------------------------------------


def test_naive_runs_as_root_with_shell_form_cmd(image, run):
    """naive sets no USER, so it runs as UID 0, and its CMD is shell form."""
    config = image("naive").attrs["Config"]
    assert config["User"] == ""
    assert config["Cmd"] == ["/bin/sh", "-c", "python3 -m app"]
    assert run(fixture_image("naive"), ["id", "-u"]).output.strip() == "0"


def test_naive_has_a_pip_cache_written_by_pip(run):
    """naive's pip cache is pip's own HTTP cache, one entry per wheel it downloaded."""
    ran = run(fixture_image("naive"), ["python3", "-m", "pip", "cache", "info"])
    assert ran.exit_code == 0, ran.output
    files = next(
        line for line in ran.output.splitlines() if line.startswith("Number of HTTP files")
    )
    assert int(files.split(":")[1]) == len(REQUIREMENTS)


def test_naive_app_code_has_no_bytecode_and_imports_write_it(run):
    """naive's app has no __pycache__, so importing it as root writes .pyc into the container."""
    listing = run(fixture_image("naive"), ["find", "/app", "-name", "*.pyc"])
    assert listing.output.strip() == ""
    ran = run(fixture_image("naive"), ["python3", "-c", "import app.server"])
    written = [c["Path"] for c in ran.diff if str(c["Path"]).endswith(".pyc")]
    assert any(p.startswith("/app/app/__pycache__/server.") for p in written)


def test_naive_has_no_faulthandler(image, run):
    """naive does not set PYTHONFAULTHANDLER and its python runs with faulthandler off."""
    assert not any(
        e.startswith("PYTHONFAULTHANDLER=") for e in image("naive").attrs["Config"]["Env"]
    )
    code = "import faulthandler; print(faulthandler.is_enabled())"
    assert run(fixture_image("naive"), ["python3", "-c", code]).output.strip() == "False"


# --- cache-deleted ----------------------------------------------------------------------------


def saved_layers(img, tmp_path: Path) -> list[list[tarfile.TarInfo]]:
    """The entries of each of the image's layers, oldest first, read from `docker save`."""
    archive = tmp_path / "image.tar"
    with open(archive, "wb") as out:
        for chunk in img.save(named=False):
            out.write(chunk)
    with tarfile.open(archive) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))
        layers = []
        for name in manifest[0]["Layers"]:
            with tarfile.open(fileobj=io.BytesIO(outer.extractfile(name).read())) as layer:
                layers.append(layer.getmembers())
    return layers


def test_cache_deleted_ships_a_pip_cache_that_a_later_layer_deletes(image, run, tmp_path):
    """cache-deleted shows no pip cache, yet a layer holds pip's files that a later one deletes."""
    assert (
        run(fixture_image("cache-deleted"), ["test", "-e", "/root/.cache/pip"], user="0").exit_code
        == 1
    )
    layers = saved_layers(image("cache-deleted"), tmp_path)
    cached = [
        (i, sum(m.size for m in layer if m.isfile() and m.name.startswith("root/.cache/pip/http")))
        for i, layer in enumerate(layers)
    ]
    with_cache = [(i, size) for i, size in cached if size]
    assert len(with_cache) == 1
    cache_layer, cache_bytes = with_cache[0]
    assert cache_bytes > 500_000  # the wheels of requests, rich and pygments
    whiteouts = [
        i for i, layer in enumerate(layers) if any(m.name == "root/.cache/.wh.pip" for m in layer)
    ]
    assert whiteouts
    assert whiteouts[0] > cache_layer
    history = [h["CreatedBy"] for h in image("cache-deleted").history()]
    assert any("rm -rf /root/.cache/pip" in step for step in history)
