"""The `registry:` source against a real Distribution registry on 127.0.0.1, with no daemon:
images are pushed with the registry API, so no Docker engine is needed."""

from __future__ import annotations

import contextlib
import copy
import gzip
import hashlib
import io
import json
import shutil
import tarfile

import pytest

from inspector.cli.commands import main
from inspector.layers.reader import read_layer
from inspector.sources import Reference, load
from inspector.sources.archive import Known
from inspector.sources.registry import host_platform, parse
from inspector.sources.registry_client import RegistryError, may_speak_plain, scheme_for
from tests.layertools import image_archive, layer
from tests.registry import (
    basic_auth_config,
    blob_gets,
    free_port,
    push_image,
    push_index,
    running_registry,
)
from tests.registry_proxy import REFRESH_TOKEN, Proxy, running_proxy

BASE = layer(
    ("etc/", None),
    ("etc/os-release", b'ID=debian\nVERSION_ID="12"\n'),
    ("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\napp:x:10001:10001::/app:/bin/sh\n"),
    ("usr/local/bin/python3.11", b"\x7fELF" * 200, {"mode": 0o755}),
    compress=True,
)
APP = layer(
    ("app/", None),
    ("app/main.py", b"import os\nprint(os.environ.get('HOME'))\n"),
    ("app/.env", b"PASSWORD=hunter2\n"),
    compress=True,
)
USER = ("inspector", "correct horse")
BROKEN = layer(("srv/data.txt", b"intact\n" * 500), compress=True)


def _needs_registry(request: pytest.FixtureRequest) -> None:
    if shutil.which("docker-registry") is None:
        message = "docker-registry is not installed (`make test` installs it as root on Debian)"
        if request.config.getoption("--require-docker"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def _archive_parts(archive: bytes) -> tuple[bytes, list[bytes]]:
    """The config bytes and layer blobs of a `docker save` archive, as written."""
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))[0]  # type: ignore[arg-type]
        config = tar.extractfile(manifest["Config"]).read()  # type: ignore[union-attr]
        layers = [tar.extractfile(name).read() for name in manifest["Layers"]]  # type: ignore[union-attr]
    return config, layers


def _config(arch: str, variant: str | None = None) -> dict:
    diff_ids = json.loads(_archive_parts(image_archive([BASE, APP]))[0])["rootfs"]["diff_ids"]
    return {
        "architecture": arch,
        **({"variant": variant} if variant else {}),
        "os": "linux",
        "config": {"User": "10001", "Cmd": ["python3"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": "base"}, {"created_by": "app"}],
    }


@pytest.fixture(scope="module")
def registry(tmp_path_factory, request):
    """A loopback registry holding t/app:1 (also saved as a docker-archive), t/multi:1 (an
    index of linux/amd64 and linux/arm64/v8) and t/corrupt:1 (a layer blob altered on disk)."""
    _needs_registry(request)
    workdir = tmp_path_factory.mktemp("registry")
    archive = image_archive([BASE, APP])
    (workdir / "app.tar").write_bytes(archive)
    config, layers = _archive_parts(archive)
    with running_registry(workdir) as address:
        push_image(address, "t/app", "1", layers, config)
        amd64 = push_image(address, "t/multi", "amd64", [BASE, APP], _config("amd64"))
        arm64 = push_image(address, "t/multi", "arm64", [BASE, APP], _config("arm64", "v8"))
        push_index(address, "t/multi", "1", {"linux/amd64": amd64, "linux/arm64/v8": arm64})
        push_image(address, "t/corrupt", "1", [BROKEN], {**_config("amd64"), "rootfs": {
            "type": "layers", "diff_ids": [_diff_id(BROKEN)]}, "history": [{}]})  # fmt: skip
        yield address, workdir


def _diff_id(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(gzip.decompress(raw)).hexdigest()


@pytest.fixture
def no_daemon(tmp_path, monkeypatch):
    """No Docker engine reachable, and a cache of the test's own."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such-docker.sock")
    monkeypatch.setenv("INSPECTOR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))


def _facts(capsys, ref: str) -> dict:
    assert main(["facts", ref, "--format", "json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def _comparable(facts: dict) -> dict:
    """Facts without the fields where the source legitimately differs: how the image was
    named and found (reference, source, digest, tags), what the cache held, and the runtime
    section (an archive cannot be probed; a registry image can be, once pulled)."""
    kept = copy.deepcopy(facts)
    for key in ("reference", "source", "digest", "tags"):
        kept["image"].pop(key)
    for entry in kept["layers"]:
        entry.pop("from_cache")
    kept.pop("runtime")
    return kept


def test_registry_facts_equal_archive_facts_without_a_daemon(registry, no_daemon, capsys):
    """An image read through `registry:` has the facts of its docker-archive, with no engine."""
    address, workdir = registry
    ref = f"registry:{address}/t/app:1"
    through_registry = _facts(capsys, ref)
    from_archive = _facts(capsys, f"docker-archive:{workdir / 'app.tar'}")
    assert _comparable(through_registry) == _comparable(from_archive)
    image = through_registry["image"]
    assert image["source"] == "registry"
    assert image["tags"] == [f"{address}/t/app:1"]
    assert image["digest"].startswith(f"{address}/t/app@sha256:")
    runtime = json.dumps(through_registry["runtime"])
    assert "the image was read from a registry" in runtime
    assert "--pull missing" in runtime


def test_second_read_fetches_only_manifest_and_config(registry, no_daemon, capsys):
    """With every layer in the cache, a second read downloads the config blob and no layer."""
    address, workdir = registry
    ref = f"registry:{address}/t/app:1"
    before = len(blob_gets(workdir, "t/app"))
    first = _facts(capsys, ref)
    cold = blob_gets(workdir, "t/app")[before:]
    again = _facts(capsys, ref)
    warm = blob_gets(workdir, "t/app")[before + len(cold) :]
    config_digest = first["image"]["id"]
    assert len(cold) == 3  # the config and both layers
    assert warm == [config_digest]
    assert all(entry["from_cache"] for entry in again["layers"])


def _load(ref: str, **options):
    return load(Reference("registry", ref), read_layer, Known(), **options)


def test_index_platform_is_chosen(registry, no_daemon):
    """A multi-platform index yields the platform asked for, and the host's by default."""
    address, _ = registry
    arm = _load(f"{address}/t/multi:1", platform="linux/arm64")
    assert (arm.raw_config["architecture"], arm.raw_config["variant"]) == ("arm64", "v8")
    assert _load(f"{address}/t/multi:1", platform="linux/arm64/v8").image_id == arm.image_id
    default = _load(f"{address}/t/multi:1")
    expected = host_platform().split("/")[1]
    if expected not in ("amd64", "arm64"):
        expected = "amd64"  # the fallback when the host's platform is absent
    assert default.raw_config["architecture"] == expected
    assert default.digest == arm.digest  # the digest names the index, as RepoDigests do


def test_absent_platform_lists_the_available_ones(registry, no_daemon):
    """Asking an index for a platform it lacks is an error listing the platforms it has."""
    address, _ = registry
    with pytest.raises(RegistryError) as raised:
        _load(f"{address}/t/multi:1", platform="linux/s390x")
    message = str(raised.value)
    assert "linux/s390x" in message
    assert "linux/amd64, linux/arm64/v8" in message


def _one_line_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    return err


def test_corrupt_blob_is_exit_2_naming_its_digest(registry, no_daemon, capsys):
    """A layer blob whose bytes do not match its digest is exit 2 naming that digest."""
    address, workdir = registry
    ref = f"registry:{address}/t/corrupt:1"
    assert _load(f"{address}/t/corrupt:1").layers  # intact first: the damage is what fails
    digest = "sha256:" + hashlib.sha256(BROKEN).hexdigest()
    hexdigest = digest.split(":")[1]
    target = (
        workdir / "storage/docker/registry/v2/blobs/sha256" / hexdigest[:2] / hexdigest / "data"
    )
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    err = _one_line_error(capsys, ["facts", ref])
    assert digest in err
    assert "does not match its digest" in err


def test_unknown_repository_and_tag_are_exit_2(registry, no_daemon, capsys):
    """An unknown repository and an unknown tag are each exit 2 with one line saying which."""
    address, _ = registry
    err = _one_line_error(capsys, ["facts", f"registry:{address}/t/nothing:1"])
    assert "unknown repository" in err
    assert f"{address}/t/nothing" in err
    err = _one_line_error(capsys, ["facts", f"registry:{address}/t/app:2"])
    assert "unknown tag 2" in err


def test_connection_refused_is_exit_2(no_daemon, capsys):
    """A registry address where nothing listens is exit 2 saying the connection was refused."""
    err = _one_line_error(capsys, ["facts", f"registry:127.0.0.1:{free_port()}/t/app:1"])
    assert "connection refused" in err


@pytest.fixture(scope="module")
def private(tmp_path_factory, request):
    """A loopback registry wanting a user name and password (htpasswd), holding t/app:1."""
    _needs_registry(request)
    workdir = tmp_path_factory.mktemp("private")
    config, layers = _archive_parts(image_archive([BASE, APP]))
    with running_registry(workdir, user=USER) as address:
        push_image(address, "t/app", "1", layers, config, auth=USER)
        yield address


def test_basic_auth_credentials_come_from_docker_config(private, no_daemon, tmp_path, capsys):
    """The credentials in $DOCKER_CONFIG's `auths` open a Basic-auth registry."""
    basic_auth_config(tmp_path / "docker-config", private, *USER)
    facts = _facts(capsys, f"registry:{private}/t/app:1")
    assert facts["image"]["source"] == "registry"


def test_wrong_or_missing_credentials_are_denied(private, no_daemon, tmp_path, capsys):
    """Wrong credentials, or none, are exit 2 with one line saying the registry denied it."""
    ref = f"registry:{private}/t/app:1"
    assert "denied" in _one_line_error(capsys, ["facts", ref])
    basic_auth_config(tmp_path / "docker-config", private, USER[0], "wrong")
    assert "denied" in _one_line_error(capsys, ["facts", ref])


def test_references_parse_with_a_required_host_and_default_tag():
    """HOST[:PORT]/REPO[:TAG|@DIGEST]: the tag defaults to latest; a missing host is refused."""
    ref = parse("127.0.0.1:5000/team/app")
    assert (ref.host, ref.repository, ref.tag, ref.digest) == (
        "127.0.0.1:5000",
        "team/app",
        "latest",
        None,
    )
    digest = "sha256:" + "a" * 64
    assert parse(f"registry.example.com/app:1@{digest}").digest == digest
    assert parse("[::1]:5000/app:v2").tag == "v2"
    for bad in ("app:1", "team/app:1", "registry.example.com/", "registry.example.com/App"):
        with pytest.raises(Exception, match="registry"):
            parse(bad)


def test_plain_http_allowed_only_for_loopback_or_named_hosts():
    """HTTPS comes first for every host; plain HTTP is allowed for loopback hosts and those
    named insecure, and used once such a host was found speaking no TLS."""
    from inspector.sources import registry_client

    assert scheme_for("127.0.0.1:5000") == "https"
    for host in ("127.0.0.1:5000", "localhost", "[::1]:5000"):
        assert may_speak_plain(host)
    assert not may_speak_plain("registry.example.com")
    assert may_speak_plain("registry.example.com:5000", ["registry.example.com"])
    assert may_speak_plain("10.0.0.5:5000", ["10.0.0.5:5000"])
    registry_client._PLAIN_HOSTS.add("127.0.0.1:5999")
    registry_client._PLAIN_HOSTS.add("registry.example.com")
    try:
        assert scheme_for("127.0.0.1:5999") == "http"
        assert scheme_for("registry.example.com") == "https"  # never plain unless allowed
    finally:
        registry_client._PLAIN_HOSTS.discard("127.0.0.1:5999")
        registry_client._PLAIN_HOSTS.discard("registry.example.com")


class _NoImages:
    """An engine client that has no image at all (no engine needed)."""

    class images:  # the SDK's attribute name
        @staticmethod
        def get(ref: str):
            import docker.errors

            raise docker.errors.ImageNotFound(ref)


@pytest.mark.parametrize(
    ("ref", "suggested"),
    [
        ("registry.example.com:5000/team/app:1", "registry:registry.example.com:5000/team/app:1"),
        ("app:1", "registry:HOST[:PORT]/REPO[:TAG]"),
    ],
)
def test_not_found_locally_suggests_the_registry_form(ref, suggested):
    """The daemon's "no local image" error suggests reading the image with `registry:`."""
    from inspector.errors import ImageNotFound
    from inspector.sources.daemon import get_image

    with pytest.raises(ImageNotFound) as raised:
        get_image(_NoImages(), ref)  # type: ignore[arg-type]
    assert f"`{suggested}`" in str(raised.value)
    assert "--pull missing" in str(raised.value)


@pytest.fixture
def pauses(monkeypatch):
    """The client's waits between retries, recorded instead of slept."""
    waited: list[float] = []
    monkeypatch.setattr("inspector.sources.registry_client._pause", waited.append)
    return waited


def _layer_blob(path: str) -> bool:
    return "/blobs/" in path and any(hashlib.sha256(raw).hexdigest() in path for raw in (BASE, APP))


def test_429_is_retried_after_the_time_retry_after_says(registry, no_daemon, pauses):
    """Two 429s with Retry-After: 7 are waited out (7 s each, as said) and the read succeeds."""
    address, _ = registry
    refusals = []

    def fault(method, path, headers):
        if "/manifests/" in path and len(refusals) < 2:
            refusals.append(path)
            return ("status", 429, {"Retry-After": "7"})
        return None

    with running_proxy(Proxy(address, fault)) as proxy:
        loaded = _load(f"{proxy.address}/t/app:1")
    assert len(loaded.layers) == 2
    assert pauses == [7.0, 7.0]


def test_rate_limited_for_good_is_exit_2_after_bounded_retries(registry, no_daemon, pauses, capsys):
    """A registry that always answers 429 is exit 2 "rate limited" after a bounded retry count."""
    address, _ = registry
    always = lambda method, path, headers: ("status", 429, {})  # noqa: E731
    with running_proxy(Proxy(address, always)) as proxy:
        err = _one_line_error(capsys, ["facts", f"registry:{proxy.address}/t/app:1"])
    assert "rate limited" in err
    assert "after 5 retries" in err
    assert pauses == [0.5, 1.0, 2.0, 4.0, 8.0]  # backoff doubling, no Retry-After


def test_a_blob_cut_mid_body_is_resumed_with_range(registry, no_daemon):
    """A layer download that breaks off is resumed from where it stopped, and verified."""
    address, _ = registry
    cut = []

    def fault(method, path, headers):
        if method == "GET" and _layer_blob(path) and path not in cut:
            cut.append(path)
            return ("cut", 64)
        return None

    with running_proxy(Proxy(address, fault)) as proxy:
        loaded = _load(f"{proxy.address}/t/app:1")
    assert len(loaded.layers) == 2
    resumed = [s for s in proxy.seen if s.headers.get("Range") == "bytes=64-"]
    assert sorted(s.path for s in resumed) == sorted(cut)
    assert len(cut) == 2


def test_credentials_are_not_forwarded_on_a_blob_redirect(private, no_daemon, tmp_path):
    """Blobs redirected to another host are fetched from it without the registry credentials."""
    basic_auth_config(tmp_path / "docker-config", private, *USER)
    with running_proxy(Proxy(private, upstream_auth=USER)) as storage:

        def fault(method, path, headers):
            if method == "GET" and "/blobs/" in path:
                return ("redirect", f"http://{storage.address}{path}")
            return None

        with running_proxy(Proxy(private, fault)) as front:
            basic_auth_config(tmp_path / "docker-config", front.address, *USER)
            loaded = _load(f"{front.address}/t/app:1")
    assert len(loaded.layers) == 2
    assert len(storage.seen) == 3  # the config and both layers
    assert not any("Authorization" in s.headers for s in storage.seen)
    assert any("Authorization" in s.headers for s in front.seen if "/blobs/" in s.path)


@pytest.fixture
def token_registry(registry):
    """The anonymous registry behind a proxy that wants a Bearer token its /token issues."""
    address, _ = registry
    with running_proxy(Proxy(address, bearer_user=USER)) as proxy:
        yield proxy


def test_bearer_token_with_credentials_from_docker_config(token_registry, no_daemon, tmp_path):
    """The Bearer challenge is answered with a token got with the user's config credentials."""
    basic_auth_config(tmp_path / "docker-config", token_registry.address, *USER)
    loaded = _load(f"{token_registry.address}/t/app:1")
    assert len(loaded.layers) == 2
    token_requests = [s for s in token_registry.seen if s.path.startswith("/token")]
    assert len(token_requests) == 1  # one token for the whole read
    assert "scope=repository%3At%2Fapp%3Apull" in token_requests[0].path


def test_bearer_token_with_a_credential_helper(token_registry, no_daemon, tmp_path, monkeypatch):
    """A `credHelpers` program on PATH supplies the credentials, as for `docker pull`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-fake"
    answer = json.dumps({"Username": USER[0], "Secret": USER[1]})
    helper.write_text(f"#!/bin/sh\nread server\necho '{answer}'\n")
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{__import__('os').environ['PATH']}")
    config = tmp_path / "docker-config"
    config.mkdir()
    helpers = {"credHelpers": {token_registry.address: "fake"}}
    (config / "config.json").write_text(json.dumps(helpers))
    assert len(_load(f"{token_registry.address}/t/app:1").layers) == 2


def test_bearer_token_refused_for_wrong_credentials(token_registry, no_daemon, tmp_path, capsys):
    """The token server refusing the credentials is exit 2 "denied"."""
    basic_auth_config(tmp_path / "docker-config", token_registry.address, USER[0], "wrong")
    err = _one_line_error(capsys, ["facts", f"registry:{token_registry.address}/t/app:1"])
    assert "denied" in err


def test_platform_option_on_the_command_line(registry, no_daemon, capsys):
    """`--platform` picks an index's image from the CLI and the facts say which was read; an
    absent one is exit 2 listing them."""
    address, _ = registry
    ref = f"registry:{address}/t/multi:1"
    assert main(["facts", ref, "--platform", "linux/arm64", "--format", "json", "--no-probe"]) == 0
    image = json.loads(capsys.readouterr().out)["image"]
    assert (image["architecture"], image["variant"]) == ("arm64", "v8")
    assert (image["source"], image["platform"]) == ("registry", "linux/arm64/v8")
    err = _one_line_error(capsys, ["facts", ref, "--platform", "windows/amd64"])
    assert "its platforms: linux/amd64, linux/arm64/v8" in err
    err = _one_line_error(capsys, ["audit", ref, "--platform", "linux", "--no-probe"])
    assert "write OS/ARCH[/VARIANT]" in err


@pytest.mark.docker
def test_pull_missing_puts_the_read_image_on_the_engine_and_probes_it(
    registry, docker_client, tmp_path, monkeypatch, capsys
):
    """With --pull missing, the engine pulls the manifest read (by digest) and probes run on it."""
    import uuid

    address, workdir = registry
    monkeypatch.setenv("INSPECTOR_CACHE_DIR", str(tmp_path / "cache"))
    config = _config("amd64")
    config["config"]["Labels"] = {"test.run": uuid.uuid4().hex}  # an image no engine holds
    digest, _ = push_image(address, "t/probed", "1", [BASE, APP], config)
    ref = f"registry:{address}/t/probed:1"
    image_id = "sha256:" + hashlib.sha256(json.dumps(config).encode()).hexdigest()
    try:
        assert main(["facts", ref, "--pull", "missing", "--format", "json"]) == 0
        facts = json.loads(capsys.readouterr().out)
        assert facts["image"]["id"] == image_id
        assert docker_client.images.get(image_id).id == image_id
        static = facts["runtime"]["static"]
        assert static["status"] not in ("skipped", "not-applicable"), static
        log = (workdir / "registry.log").read_text()
        assert f"/v2/t/probed/manifests/{digest}" in log  # the engine asked by the digest
    finally:
        import docker.errors

        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(image_id, force=True)


def test_bearer_token_from_an_identity_token(token_registry, no_daemon, tmp_path):
    """An `identitytoken` in the Docker config is exchanged for a token (OAuth2 refresh)."""
    config = tmp_path / "docker-config"
    config.mkdir()
    auths = {"auths": {token_registry.address: {"identitytoken": REFRESH_TOKEN}}}
    (config / "config.json").write_text(json.dumps(auths))
    assert len(_load(f"{token_registry.address}/t/app:1").layers) == 2
    assert any(s.method == "POST" and s.path.startswith("/token") for s in token_registry.seen)


def test_podman_auth_file_is_used(private, no_daemon, tmp_path, monkeypatch):
    """Podman's $REGISTRY_AUTH_FILE (auth.json) supplies credentials when Docker's has none."""
    basic_auth_config(tmp_path / "podman", private, *USER)
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(tmp_path / "podman" / "config.json"))
    assert len(_load(f"{private}/t/app:1").layers) == 2


@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory, request):
    """A loopback registry serving HTTPS with a self-signed certificate for 127.0.0.1, holding
    t/app:1."""
    _needs_registry(request)
    if shutil.which("openssl") is None:
        pytest.fail("openssl is missing: `make test` installs it with the registry")
    workdir = tmp_path_factory.mktemp("tls")
    with running_registry(workdir, tls=True) as address:
        import requests

        config, layers = _archive_parts(image_archive([BASE, APP]))
        with requests.Session() as session:
            session.trust_env = False  # or REQUESTS_CA_BUNDLE, when set, overrides `verify`
            session.verify = str(workdir / "cert.pem")
            push_tls(session, address, config, layers)
        yield address, workdir / "cert.pem"


def push_tls(session, address: str, config: bytes, layers: list[bytes]) -> None:
    """t/app:1 pushed over HTTPS (the helpers in tests/registry.py speak plain HTTP)."""
    from tests.registry import DOCKER_CONFIG, DOCKER_LAYER, DOCKER_MANIFEST

    def blob(data: bytes) -> dict:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        start = session.post(f"https://{address}/v2/t/app/blobs/uploads/", timeout=30)
        location = start.headers["Location"]
        url = location if location.startswith("http") else f"https://{address}{location}"
        session.put(url, params={"digest": digest}, data=data, timeout=30).raise_for_status()
        return {"digest": digest, "size": len(data)}

    manifest = {"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
                "config": {"mediaType": DOCKER_CONFIG, **blob(config)},
                "layers": [{"mediaType": DOCKER_LAYER, **blob(raw)} for raw in layers]}  # fmt: skip
    session.put(
        f"https://{address}/v2/t/app/manifests/1", data=json.dumps(manifest),
        headers={"Content-Type": DOCKER_MANIFEST}, timeout=30,
    ).raise_for_status()  # fmt: skip


def test_tls_is_verified_and_requests_ca_bundle_honoured(
    tls_registry, no_daemon, monkeypatch, capsys
):
    """On 127.0.0.1, HTTPS is tried first as Docker does: a certificate no CA vouches for is
    exit 2 "TLS failure" (never a silent fall back to plain HTTP); with REQUESTS_CA_BUNDLE naming
    it, the same registry is read over TLS."""
    address, certificate = tls_registry
    ref = f"registry:{address}/t/app:1"
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    assert "TLS failure" in _one_line_error(capsys, ["facts", ref])
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate))
    assert _facts(capsys, ref)["image"]["source"] == "registry"


def test_a_refused_head_falls_back_to_get(registry, no_daemon):
    """A proxy that answers HEAD with 405 does not stop the read: the tag is resolved by GET."""
    address, _ = registry
    no_head = lambda method, path, headers: ("status", 405, {}) if method == "HEAD" else None  # noqa: E731
    with running_proxy(Proxy(address, no_head)) as proxy:
        loaded = _load(f"{proxy.address}/t/app:1")
    assert len(loaded.layers) == 2
    assert any(s.method == "GET" and s.path.endswith("/manifests/1") for s in proxy.seen)


# The registry's own token auth: Distribution verifies every token issued by the test's token
# server (tests/token_server.py), so a Bearer read here is checked by the real registry.
ADMIN = ("pusher", "admin secret")


@pytest.fixture(scope="module")
def token_auth(tmp_path_factory, request):
    """A loopback registry with token auth, and its token server: the admin may push anywhere,
    USER may pull t/app, and anyone may pull t/public; both repositories hold the app image."""
    _needs_registry(request)
    from tests.token_server import BearerAuth, TokenServer, running_token_server

    workdir = tmp_path_factory.mktemp("token")
    config, layers = _archive_parts(image_archive([BASE, APP]))
    grants = {ADMIN[0]: {"*": {"pull", "push"}}, USER[0]: {"t/app": {"pull"}},
              None: {"t/public": {"pull"}}}  # fmt: skip
    server = TokenServer(users=dict([ADMIN, USER]), grants=grants)
    with (
        running_token_server(server),
        running_registry(workdir, token=server.registry_auth(workdir)) as address,
    ):
        pusher = BearerAuth(*ADMIN)
        for repository in ("t/app", "t/public"):
            push_image(address, repository, "1", layers, config, auth=pusher)
        yield address, server


def _read_once(capsys, address: str, repository: str = "t/app") -> dict:
    facts = _facts(capsys, f"registry:{address}/{repository}:1")
    assert facts["image"]["source"] == "registry"
    assert len(facts["layers"]) == 2
    return facts


def _credential_helper(tmp_path, monkeypatch, address: str) -> tuple[str, object]:
    """A `docker-credential-testhelper` on PATH answering USER for `address` only; its name
    and the file where it records each call."""
    import os

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "helper-calls"
    answer = json.dumps({"ServerURL": address, "Username": USER[0], "Secret": USER[1]})
    helper = bin_dir / "docker-credential-testhelper"
    helper.write_text(
        "#!/bin/sh\nread server\n"
        f'echo "$1 $server" >> "{calls}"\n'
        f'if [ "$1" = get ] && [ "$server" = "{address}" ]; then echo \'{answer}\'; exit 0; fi\n'
        "echo 'credentials not found in native keychain'; exit 1\n"
    )
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return "testhelper", calls


def _issued_to(server, user: str | None, since: int) -> list[list[dict]]:
    return [access for who, access in server.issued[since:] if who == user]


def test_registry_token_auth_with_docker_config_auths(token_auth, no_daemon, tmp_path, capsys):
    """Plain `auths` credentials get a token the registry itself verifies, granting pull."""
    address, server = token_auth
    since = len(server.issued)
    basic_auth_config(tmp_path / "docker-config", address, *USER)
    _read_once(capsys, address)
    pull = [{"type": "repository", "name": "t/app", "actions": ["pull"]}]
    assert _issued_to(server, USER[0], since) == [pull]  # one token for the whole read


def test_registry_token_auth_with_cred_helpers(
    token_auth, no_daemon, tmp_path, monkeypatch, capsys
):
    """A `docker-credential-*` program on PATH named in `credHelpers` supplies the credentials."""
    address, server = token_auth
    name, calls = _credential_helper(tmp_path, monkeypatch, address)
    config = tmp_path / "docker-config"
    config.mkdir()
    (config / "config.json").write_text(json.dumps({"credHelpers": {address: name}}))
    since = len(server.issued)
    _read_once(capsys, address)
    assert f"get {address}" in calls.read_text()  # type: ignore[attr-defined]
    assert _issued_to(server, USER[0], since)


def test_registry_token_auth_with_creds_store(token_auth, no_daemon, tmp_path, monkeypatch, capsys):
    """The same helper named as the `credsStore` for every registry supplies the credentials."""
    address, server = token_auth
    name, calls = _credential_helper(tmp_path, monkeypatch, address)
    config = tmp_path / "docker-config"
    config.mkdir()
    (config / "config.json").write_text(json.dumps({"credsStore": name, "auths": {address: {}}}))
    since = len(server.issued)
    _read_once(capsys, address)
    assert f"get {address}" in calls.read_text()  # type: ignore[attr-defined]
    assert _issued_to(server, USER[0], since)


def test_registry_token_auth_wrong_credentials_are_denied(token_auth, no_daemon, tmp_path, capsys):
    """Credentials the token server refuses are exit 2, one line, "denied", and no token."""
    address, server = token_auth
    since = len(server.issued)
    basic_auth_config(tmp_path / "docker-config", address, USER[0], "wrong")
    err = _one_line_error(capsys, ["facts", f"registry:{address}/t/app:1"])
    assert "denied" in err
    assert f"{address}/t/app" in err
    assert server.issued[since:] == []
    assert server.refused[-1] == USER[0]


def test_registry_token_auth_anonymous_pull_only_where_granted(token_auth, no_daemon, capsys):
    """Anonymous tokens read t/public; for t/app the token holds no pull and the registry
    itself refuses it: exit 2, one line, "denied"."""
    address, server = token_auth
    since = len(server.issued)
    _read_once(capsys, address, "t/public")
    err = _one_line_error(capsys, ["facts", f"registry:{address}/t/app:1"])
    assert "denied by the registry" in err
    assert _issued_to(server, None, since)[-1] == [
        {"type": "repository", "name": "t/app", "actions": []}
    ]


def test_registry_refuses_a_token_signed_with_another_key(
    token_auth, no_daemon, tmp_path, monkeypatch, capsys
):
    """The registry checks each token's signature against its root bundle: a token signed with
    another key (its own certificate, or claiming the trusted one) is refused by the registry."""
    import requests

    from tests.token_server import Signer

    address, server = token_auth
    url = f"http://{address}/v2/t/app/manifests/1"
    accept = {"Accept": "application/vnd.docker.distribution.manifest.v2+json"}
    pull = [{"type": "repository", "name": "t/app", "actions": ["pull"]}]
    intruder = Signer.generate("intruder")

    def status(token: str) -> int:
        headers = {**accept, "Authorization": f"Bearer {token}"}
        return requests.get(url, headers=headers, timeout=30).status_code

    assert status(server.mint(USER[0], pull)) == 200
    assert status(server.mint(USER[0], pull, signer=intruder)) == 401
    assert status(server.mint(USER[0], pull, signer=intruder, x5c=server.signer.x5c())) == 401
    # Through the CLI: the token server signs with the intruder's key, the registry refuses.
    basic_auth_config(tmp_path / "docker-config", address, *USER)
    monkeypatch.setattr(server, "signer", intruder)
    since = len(server.issued)
    err = _one_line_error(capsys, ["facts", f"registry:{address}/t/app:1"])
    assert "denied by the registry" in err
    assert _issued_to(server, USER[0], since) == [pull]  # the token server did grant it
