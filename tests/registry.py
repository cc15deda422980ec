"""A real Distribution registry (Debian's docker-registry) on 127.0.0.1, started by the tests,
and pushing images to it with the registry API (no engine): `push_image`, `push_index`."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import requests.auth

    # What the push helpers send as `requests` auth: a (user, password) pair for Basic, or
    # an auth object such as tests/token_server.py's BearerAuth.
    Auth = tuple[str, str] | requests.auth.AuthBase

CONFIG = """version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: {host}:{port}
"""
TLS = """  tls:
    certificate: {certificate}
    key: {key}
"""
TOKEN = """auth:
  token:
    realm: {realm}
    service: {service}
    issuer: {issuer}
    rootcertbundle: {rootcertbundle}
"""
HTPASSWD = """auth:
  htpasswd:
    realm: inspector-tests
    path: {path}
"""
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_registry(
    workdir: Path, *, user: tuple[str, str] | None = None, host: str = "127.0.0.1",
    tls: bool = False, token: Mapping[str, str] | None = None,
) -> Iterator[str]:  # fmt: skip
    """Yield "HOST:PORT" of a registry that lives as long as the block; ended by its PID.

    With `user` (name, password), the registry wants that user by Basic auth (htpasswd, bcrypt
    as Distribution requires). With `tls`, it serves HTTPS with a self-signed certificate for
    `host`, written to `workdir/cert.pem`. With `token` (realm, service, issuer, rootcertbundle:
    tests/token_server.py's `registry_auth`), it wants a Bearer token from that realm and
    verifies each token's signature, issuer, audience, lifetime and access claims itself.
    Its access log is `workdir/registry.log`."""
    exe = shutil.which("docker-registry")
    if exe is None:
        raise RuntimeError("docker-registry is not installed (make test installs it)")
    port = free_port()
    config = workdir / "registry.yml"
    text = CONFIG.format(root=workdir / "storage", host=host, port=port)
    if tls:
        certificate, key = workdir / "cert.pem", workdir / "key.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-keyout", str(key), "-out", str(certificate), "-subj", f"/CN={host}",
             "-addext", f"subjectAltName=IP:{host}"],
            check=True, capture_output=True,
        )  # fmt: skip
        text += TLS.format(certificate=certificate, key=key)
    if user is not None:
        import bcrypt

        hashed = bcrypt.hashpw(user[1].encode(), bcrypt.gensalt(rounds=4)).decode()
        (workdir / "htpasswd").write_text(f"{user[0]}:{hashed}\n")
        text += HTPASSWD.format(path=workdir / "htpasswd")
    if token is not None:
        # JSON strings are YAML strings: a path or URL is quoted whatever it holds.
        text += TOKEN.format(**{key: json.dumps(token[key]) for key in
                                ("realm", "service", "issuer", "rootcertbundle")})  # fmt: skip
    config.write_text(text)
    log = open(workdir / "registry.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen([exe, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                scheme = "https" if tls else "http"
                with urllib.request.urlopen(
                    f"{scheme}://{host}:{port}/v2/", timeout=1, context=_unverified()
                ):
                    break
            except urllib.error.HTTPError as exc:  # 401: up, and wanting credentials
                if exc.code == 401:
                    break
                raise
            except (urllib.error.URLError, ConnectionError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"registry did not start: {(workdir / 'registry.log').read_text()[-500:]}"
                    ) from None
                time.sleep(0.1)
        yield f"{host}:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _unverified() -> ssl.SSLContext:
    """For the start-up poll only: the certificate is the test's own."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def blob_gets(workdir: Path, repository: str) -> list[str]:
    """The digests of every blob GET the registry's access log holds for `repository`."""
    marker = f'"GET /v2/{repository}/blobs/'
    lines = (workdir / "registry.log").read_text(errors="replace").splitlines()
    return [line.split(marker, 1)[1].split(" ", 1)[0] for line in lines if marker in line]


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push_blob(address: str, repository: str, data: bytes, auth: Auth | None = None) -> str:
    """Upload one blob (monolithic: POST then PUT with its digest); its digest."""
    import requests

    digest = _sha(data)
    base = f"http://{address}"
    start = requests.post(f"{base}/v2/{repository}/blobs/uploads/", auth=auth, timeout=30)
    start.raise_for_status()
    location = start.headers["Location"]
    location = location if location.startswith("http") else base + location
    done = requests.put(
        location, params={"digest": digest}, data=data, auth=auth, timeout=30,
        headers={"Content-Type": "application/octet-stream"},
    )  # fmt: skip
    done.raise_for_status()
    return digest


def push_manifest(
    address: str, repository: str, reference: str, body: bytes, media_type: str,
    auth: Auth | None = None,
) -> str:  # fmt: skip
    import requests

    put = requests.put(
        f"http://{address}/v2/{repository}/manifests/{reference}", data=body, auth=auth,
        headers={"Content-Type": media_type}, timeout=30,
    )  # fmt: skip
    put.raise_for_status()
    return _sha(body)


def push_image(
    address: str, repository: str, tag: str, layers: list[bytes], config: dict | bytes,
    auth: Auth | None = None,
) -> tuple[str, int]:  # fmt: skip
    """Push gzip'd `layers` and `config` (diff_ids are the caller's; bytes are pushed as they
    are) as a Docker v2 schema 2 manifest tagged `tag`; the manifest's digest and size."""
    config_bytes = config if isinstance(config, bytes) else json.dumps(config).encode()
    descriptors = [
        {"mediaType": DOCKER_LAYER, "size": len(raw),
         "digest": push_blob(address, repository, raw, auth)}
        for raw in layers
    ]  # fmt: skip
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": DOCKER_CONFIG, "size": len(config_bytes),
                   "digest": push_blob(address, repository, config_bytes, auth)},
        "layers": descriptors,
    }).encode()  # fmt: skip
    return push_manifest(address, repository, tag, manifest, DOCKER_MANIFEST, auth), len(manifest)


def push_index(address: str, repository: str, tag: str, images: dict[str, tuple[str, int]]) -> str:
    """Tag an OCI index of images already pushed, {"os/arch[/variant]": (digest, size)}."""
    manifests = []
    for platform, (digest, size) in images.items():
        os_name, arch, *variant = platform.split("/")
        entry = {
            "os": os_name,
            "architecture": arch,
            **({"variant": variant[0]} if variant else {}),
        }
        manifests.append({"mediaType": DOCKER_MANIFEST, "digest": digest, "size": size,
                          "platform": entry})  # fmt: skip
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests})
    return push_manifest(address, repository, tag, body.encode(), OCI_INDEX)


def basic_auth_config(directory: Path, address: str, user: str, password: str) -> Path:
    """A Docker config.json in `directory` holding `user`'s Basic credentials for `address`."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps({"auths": {address: {"auth": token}}}))
    return directory
