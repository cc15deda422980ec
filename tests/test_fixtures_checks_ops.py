"""The gunicorn-plain and apt-leftovers fixtures are what their Dockerfiles claim, on the image,
and the operability and size checks written for them fire on their real facts."""

from __future__ import annotations

import json

import pytest

from checks import catalog
from checks.engine import run_check
from checks.model import Context
from inspector.facts.collect import collect
from tests.conftest import fixture_image
from tests.test_fixtures import wait_for_log

pytestmark = pytest.mark.docker

# Run with the image's python: every other process, and where its open files point.
OPEN_FILES = r"""
import json, os
out = {}
for pid in (p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()):
    try:
        with open(f"/proc/{pid}/stat") as f:
            ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        fds = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        continue
    out[pid] = {"ppid": ppid, "fds": fds}
print(json.dumps(out))
"""
HTTP_GET = (
    "import urllib.request; "
    "print(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=5).read().decode())"
)


@pytest.fixture(scope="module")
def layer_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("layer-cache")


@pytest.fixture
def facts_of(layer_cache, monkeypatch):
    """Facts of a fixture image without probes, read through a cache of this module's own."""
    monkeypatch.setenv("INSPECTOR_CACHE_DIR", str(layer_cache))
    return lambda name: collect(fixture_image(name)).to_json()


def fired(check_id: str, facts: dict) -> list[str]:
    result = run_check(catalog()[check_id], facts, Context())
    assert result.status in ("passed", "failed"), result.reason
    return [f.message for f in result.findings]


# --- gunicorn-plain -----------------------------------------------------------------------------


def test_gunicorn_plain_runs_gunicorn_without_worker_tmp_dir(image):
    """gunicorn-plain's CMD runs gunicorn with no --worker-tmp-dir, and no GUNICORN_CMD_ARGS."""
    config = image("gunicorn-plain").attrs["Config"]
    assert config["Cmd"][0] == "gunicorn"
    assert not any("worker-tmp-dir" in arg for arg in config["Cmd"])
    assert not any(e.startswith("GUNICORN_CMD_ARGS=") for e in config["Env"] or [])
    assert config["User"] == "10001:10001"


def test_gunicorn_plain_workers_keep_heartbeat_files_in_tmp(started):
    """gunicorn-plain serves HTTP, and each worker holds an unlinked heartbeat file in /tmp."""
    container = started(fixture_image("gunicorn-plain"))
    wait_for_log(container, "Booting worker")
    for _ in range(50):  # the second worker may boot a moment after the first says so
        served = container.exec_run(["python", "-c", HTTP_GET])
        procs = json.loads(container.exec_run(["python", "-c", OPEN_FILES]).output)
        workers = {pid: p for pid, p in procs.items() if p["ppid"] == 1}
        if served.exit_code == 0 and len(workers) == 2:
            break
        container.reload()
        assert container.status == "running", container.logs().decode(errors="replace")
    assert served.output.decode().strip() == "ok"
    assert len(workers) == 2, procs
    for worker in workers.values():
        heartbeats = [fd for fd in worker["fds"] if fd.startswith("/tmp/wgunicorn-")]
        assert heartbeats, worker["fds"]
        assert all(fd.endswith("(deleted)") for fd in heartbeats)


def test_gunicorn_plain_fires_the_heartbeat_check(facts_of):
    """OPS005 reports gunicorn-plain's command; the same check passes the good fixture."""
    messages = fired("OPS005", facts_of("gunicorn-plain"))
    assert len(messages) == 1
    assert "without --worker-tmp-dir" in messages[0]
    assert fired("OPS005", facts_of("good")) == []


# --- apt-leftovers ------------------------------------------------------------------------------


def test_apt_leftovers_keeps_apt_lists_debs_and_a_working_compiler(run):
    """apt-leftovers still has apt's lists and the downloaded .debs, and tcc compiles a program."""
    script = (
        "ls /var/lib/apt/lists; echo --; ls /var/cache/apt/archives; echo --; "
        "dpkg-query -W -f '${Package} ${Status}\\n' tcc libc6-dev; echo --; "
        "printf '#include <stdio.h>\\nint main(void){puts(\"compiled\");return 42;}\\n' "
        '> /tmp/hello.c && tcc -run /tmp/hello.c; echo "exit $?"'
    )
    ran = run(fixture_image("apt-leftovers"), ["sh", "-c", script])
    lists, archives, packages, compiled = (part.splitlines() for part in ran.output.split("--\n"))
    assert "_tmp_repo_._Packages" in lists
    debs = [name for name in archives if name.endswith(".deb")]
    assert len(debs) == 8
    assert any(name.startswith("tcc_") for name in debs)
    assert any(name.startswith("libc6-dev_") for name in debs)
    assert sorted(packages) == ["libc6-dev install ok installed", "tcc install ok installed"]

    assert compiled == ["compiled", "exit 42"]


def test_apt_leftovers_history_upgrades_and_installs_without_cleanup(image):
    """apt-leftovers' history runs apt-get upgrade and install, and nothing removes apt's files."""
    steps = [h["CreatedBy"] for h in image("apt-leftovers").history()]
    installs = [s for s in steps if "apt-get install" in s]
    assert len(installs) == 1
    assert "apt-get upgrade" in installs[0]
    assert not any("/var/lib/apt/lists" in s or "apt-get clean" in s for s in steps)


def test_apt_leftovers_fires_the_os_cache_and_upgrade_checks(facts_of):
    """SIZE001 reports apt's archives from the install step (its lists, 10 KiB of a local flat
    repository, are under the size floor); SIZE004 leaves its plain `apt-get upgrade` alone
    (security updates are the recommended practice)."""
    facts = facts_of("apt-leftovers")
    caches = facts["caches"]
    assert caches["apt_lists"]["visible_bytes"] > 0
    assert caches["apt_archives"]["visible_bytes"] > 5_000_000  # eight .debs, 5.1 MB
    messages = fired("SIZE001", facts)
    assert caches["apt_lists"]["visible_bytes"] < 1024 * 1024
    assert not any(m.startswith("apt package lists") for m in messages)
    assert any(m.startswith("apt's downloaded .debs") for m in messages)
    assert any("apt-get upgrade" in h["created_by"] for h in facts["history"])
    assert fired("SIZE004", facts) == []
    good = facts_of("good")
    assert fired("SIZE001", good) == []
    assert fired("SIZE004", good) == []
