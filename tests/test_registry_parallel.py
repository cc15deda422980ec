"""A `registry:` image's layers read side by side: the same facts as one after the other, several
blobs in flight at once within the per-host bound, and a failing layer reported as one line
with no thread left running. Against a real Distribution registry on 127.0.0.1, no engine."""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import threading
from dataclasses import dataclass, field

import pytest

from inspector.cli.commands import main
from inspector.sources.registry_layers import MAX_WORKERS, workers_for
from tests.layertools import image_archive, layer
from tests.registry import push_image, running_registry
from tests.registry_proxy import Proxy, running_proxy

# Layers whose order matters: a file replaced, a whiteout, an opaque dir, links, a setuid
# binary and a secret deleted later; the same empty layer twice (one diff_id, two places).
LAYERS = [
    layer(
        ("etc/", None),
        ("etc/os-release", b'ID=debian\nVERSION_ID="12"\n'),
        ("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\napp:x:10001:10001::/app:/bin/sh\n"),
        ("usr/local/bin/python3.11", b"\x7fELF" * 300, {"mode": 0o755}),
        ("srv/", None),
        ("srv/old/", None),
        ("srv/old/a.txt", b"first\n"),
        compress=True,
    ),
    layer(("tmp/", None), compress=True),  # an empty-ish layer, repeated below
    layer(
        ("app/", None),
        ("app/main.py", b"import os\nprint(os.environ.get('HOME'))\n"),
        ("app/.env", b"PASSWORD=hunter2\n"),
        ("usr/local/bin/tool", b"#!/bin/sh\n", {"mode": 0o4755}),
        compress=True,
    ),
    layer(
        ("app/.wh..env", b""),
        ("srv/old/.wh..wh..opq", b""),
        ("srv/old/b.txt", b"second\n"),
        ("app/main.py", b"print('replaced')\n"),
        compress=True,
    ),
    layer(("tmp/", None), compress=True),
    layer(
        ("app/link", "->main.py"),
        ("app/hard", "=>app/main.py"),
        ("opt/data.bin", bytes(range(256)) * 4000),
        compress=True,
    ),
]
# 64 KiB that gzip cannot shrink: a blob cut every 100 bytes cannot be resumed to its end.
NOISE = b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(2048))
BAD = layer(("srv/broken.bin", NOISE), compress=True)
OUR_THREADS = ("inspector-layer", "inspector-inflate", "inspector-hash")


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def registry(tmp_path_factory, request):
    """A loopback registry holding t/layers:1 (LAYERS, also saved as a docker-archive) and
    t/bad:1 (LAYERS with BAD second, for the failures)."""
    if shutil.which("docker-registry") is None:
        message = "docker-registry is not installed (`make test` installs it as root on Debian)"
        if request.config.getoption("--require-docker"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    workdir = tmp_path_factory.mktemp("registry-parallel")
    (workdir / "layers.tar").write_bytes(image_archive(LAYERS))
    with running_registry(workdir) as address:
        push_image(address, "t/layers", "1", LAYERS, _config(LAYERS))
        bad = [LAYERS[0], BAD, *LAYERS[2:]]
        push_image(address, "t/bad", "1", bad, _config(bad))
        yield address, workdir


def _config(layers: list[bytes]) -> dict:
    import gzip

    return {
        "architecture": "amd64",
        "os": "linux",
        "created": "2026-01-01T00:00:00Z",
        "config": {"User": "10001", "Cmd": ["python3"]},
        "rootfs": {"type": "layers",
                   "diff_ids": [_sha(gzip.decompress(raw)) for raw in layers]},
        "history": [{"created_by": f"step {i}"} for i in range(len(layers))],
    }  # fmt: skip


@pytest.fixture
def no_daemon(tmp_path, monkeypatch):
    """No Docker engine reachable, and a cache of the test's own."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such-docker.sock")
    monkeypatch.setenv("INSPECTOR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))


def _facts(capsys, ref: str, *extra: str) -> dict:
    assert main(["facts", ref, "--format", "json", *extra]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def _comparable(facts: dict) -> dict:
    """Facts without what legitimately differs between sources (how the image was named and
    found, what the cache held, the runtime section)."""
    kept = copy.deepcopy(facts)
    for key in ("reference", "source", "digest", "tags"):
        kept["image"].pop(key)
    for entry in kept["layers"]:
        entry.pop("from_cache")
    kept.pop("runtime")
    return kept


def _our_threads() -> set[threading.Thread]:
    """Threads of ours alive now (a test compares them before and after: a stream another
    test left unclosed is not this test's)."""
    return {t for t in threading.enumerate() if t.name.startswith(OUR_THREADS)}


def test_layers_read_side_by_side_give_the_sequential_facts(registry, no_daemon, capsys,
                                                            monkeypatch):  # fmt: skip
    """Six layers read in parallel give field for field the facts of the same image read one
    layer after the other: from its docker-archive, and from the registry with one request
    at a time (so one worker)."""
    address, workdir = registry
    before = _our_threads()
    parallel = _facts(capsys, f"registry:{address}/t/layers:1", "--no-cache")
    archive = _facts(capsys, f"docker-archive:{workdir / 'layers.tar'}", "--no-cache")
    monkeypatch.setenv("INSPECTOR_REGISTRY_REQUESTS", "1")
    assert workers_for(len(LAYERS)) == 1
    sequential = _facts(capsys, f"registry:{address}/t/layers:1", "--no-cache")
    assert _comparable(parallel) == _comparable(archive)
    assert _comparable(parallel) == _comparable(sequential)
    assert [entry["digest"] for entry in parallel["layers"]] == _config(LAYERS)["rootfs"][
        "diff_ids"
    ]
    assert _our_threads() <= before


@dataclass
class InFlight:
    """Counts layer blob GETs inside the proxy at once; each waits (bounded) until `wanted`
    are inside together, so a client that asks one at a time never gets there."""

    layers: set[str]
    wanted: int
    inside: int = 0
    most: int = 0
    met: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fault(self, method: str, path: str, headers: dict[str, str]):
        if method != "GET" or path.rsplit("/", 1)[-1] not in self.layers:
            return None
        with self.lock:
            self.inside += 1
            self.most = max(self.most, self.inside)
            if self.inside >= self.wanted:
                self.met.set()
        self.met.wait(5)  # a safety bound for a sequential client, not a measurement
        with self.lock:
            self.inside -= 1
        return None


def test_layer_blobs_are_downloaded_side_by_side(registry, no_daemon, capsys):
    """Several layer blobs are in flight at the registry at once (counted there, not timed)."""
    address, _ = registry
    counter = InFlight({_sha(raw) for raw in LAYERS}, wanted=2)
    with running_proxy(Proxy(address, counter.fault)) as proxy:
        _facts(capsys, f"registry:{proxy.address}/t/layers:1", "--no-cache")
    assert counter.met.is_set()
    assert 2 <= counter.most <= MAX_WORKERS


def test_layer_reads_stay_within_the_per_host_bound(registry, no_daemon, capsys, monkeypatch):
    """With INSPECTOR_REGISTRY_REQUESTS=2, layers are read two at a time, never more."""
    address, _ = registry
    monkeypatch.setenv("INSPECTOR_REGISTRY_REQUESTS", "2")
    assert workers_for(len(LAYERS)) == 2
    counter = InFlight({_sha(raw) for raw in LAYERS}, wanted=2)
    with running_proxy(Proxy(address, counter.fault)) as proxy:
        _facts(capsys, f"registry:{proxy.address}/t/layers:1", "--no-cache")
    assert counter.most == 2


def _one_line_error(capsys, ref: str) -> str:
    before = _our_threads()
    assert main(["facts", ref, "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert "cancelled" not in err  # the failure itself, never a read it stopped
    assert _our_threads() <= before
    return err


def test_a_refused_layer_is_one_line_and_stops_the_others(registry, no_daemon, capsys):
    """A registry refusing one layer blob (403) is exit 2 saying so, no worker left running."""
    address, _ = registry
    refused = _sha(BAD)

    def fault(method, path, headers):
        if path.endswith(refused):
            return ("status", 403, {})
        return None

    with running_proxy(Proxy(address, fault)) as proxy:
        err = _one_line_error(capsys, f"registry:{proxy.address}/t/bad:1")
    assert "denied by the registry" in err


def test_a_layer_with_a_wrong_digest_is_one_line_naming_it(registry, no_daemon, capsys):
    """A layer blob whose bytes are not its digest is exit 2 naming that digest, while the
    other layers were being read beside it; no worker left running."""
    address, workdir = registry
    digest = _sha(BAD)
    hexdigest = digest.split(":")[1]
    blobs = workdir / "storage/docker/registry/v2/blobs/sha256"
    stored = blobs / hexdigest[:2] / hexdigest / "data"
    intact = stored.read_bytes()
    damaged = bytearray(intact)
    damaged[len(damaged) // 2] ^= 0xFF
    stored.write_bytes(bytes(damaged))
    try:
        err = _one_line_error(capsys, f"registry:{address}/t/bad:1")
    finally:
        stored.write_bytes(intact)
    assert digest in err
    assert "does not match its digest" in err


def test_a_truncated_layer_is_one_line(registry, no_daemon, capsys):
    """A layer blob that always breaks off mid-body is exit 2 after its resumes, naming it,
    while the other layers were being read beside it; no worker left running."""
    address, _ = registry
    digest = _sha(BAD)

    def fault(method, path, headers):
        if method == "GET" and path.endswith(digest):
            return ("cut", 100)
        return None

    with running_proxy(Proxy(address, fault)) as proxy:
        err = _one_line_error(capsys, f"registry:{proxy.address}/t/bad:1")
    assert f"the download of blob {digest} broke off" in err
