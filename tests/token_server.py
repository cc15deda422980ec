"""A Distribution token server on 127.0.0.1 for the tests: it checks Basic credentials and
issues ES256 JWTs, with the signing certificate in the `x5c` header, that the real registry
(`running_registry(token=...)`) verifies against that certificate as its root bundle.

Grants are per user (None is anonymous) and per repository pattern (fnmatch): a token holds
the requested actions that are granted, and none of the others, as Docker's token servers do
(the registry, not the token server, then refuses what the token lacks)."""

from __future__ import annotations

import base64
import datetime
import fnmatch
import json
import time
import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import requests
import requests.auth
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.loopback_http import reply, serving

SERVICE = "inspector-tests"
ISSUER = "inspector-test-token-server"
LIFETIME = 300  # seconds: a test run never outlives a token


@dataclass(frozen=True)
class Signer:
    """A P-256 key and the self-signed certificate that vouches for it."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @classmethod
    def generate(cls, name: str) -> Signer:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        return cls(key, certificate)

    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def x5c(self) -> list[str]:
        return [
            base64.b64encode(self.certificate.public_bytes(serialization.Encoding.DER)).decode()
        ]


@dataclass
class TokenServer:
    users: dict[str, str]  # name -> password
    grants: dict[str | None, dict[str, set[str]]]  # user (None: anonymous) -> pattern -> actions
    signer: Signer = field(default_factory=lambda: Signer.generate("inspector test tokens"))
    issued: list[tuple[str | None, list[dict]]] = field(default_factory=list)  # (user, access)
    refused: list[str] = field(default_factory=list)  # user names whose credentials were wrong
    address: str = ""

    @property
    def realm(self) -> str:
        return f"http://{self.address}/token"

    def registry_auth(self, directory: Path) -> dict[str, str]:
        """The registry's `auth: token:` settings; the root bundle is written to `directory`."""
        bundle = directory / "token-root.pem"
        bundle.write_bytes(self.signer.pem())
        return {"realm": self.realm, "service": SERVICE, "issuer": ISSUER,
                "rootcertbundle": str(bundle)}  # fmt: skip

    def mint(
        self, user: str | None, access: list[dict], *, signer: Signer | None = None,
        x5c: list[str] | None = None,
    ) -> str:  # fmt: skip
        """A token for `user` holding `access`, signed by `signer` (the server's own by default)
        with `x5c` as its certificate chain (the signer's by default)."""
        signer = signer or self.signer
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": user or "", "aud": SERVICE, "iat": now,
                  "nbf": now - 5, "exp": now + LIFETIME, "jti": uuid.uuid4().hex,
                  "access": access}  # fmt: skip
        headers = {"x5c": x5c if x5c is not None else signer.x5c()}
        return jwt.encode(claims, signer.key, algorithm="ES256", headers=headers)

    def access_for(self, user: str | None, scopes: list[str]) -> list[dict]:
        """The granted part of each `repository:NAME:ACTIONS` scope asked for."""
        granted = self.grants.get(user, {})
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind != "repository" or not name:
                continue
            allowed = set().union(*(a for p, a in granted.items() if fnmatch.fnmatchcase(name, p)))
            wanted = [a for a in actions.split(",") if a in allowed]
            access.append({"type": kind, "name": name, "actions": wanted})
        return access

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        if url.path != "/token":
            return _reply(handler, 404, {"errors": [{"code": "NOT_FOUND", "message": url.path}]})
        query = parse_qs(url.query)
        user: str | None = None
        header = handler.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                user, password = "", ""
            if self.users.get(user) != password or not user:
                self.refused.append(user)
                return _reply(handler, 401, {"errors": [{"code": "UNAUTHORIZED",
                              "message": "incorrect user name or password"}]})  # fmt: skip
        if query.get("service") != [SERVICE]:
            return _reply(handler, 400, {"errors": [{"code": "UNSUPPORTED",
                          "message": f"unknown service {query.get('service')}"}]})  # fmt: skip
        access = self.access_for(user, query.get("scope", []))
        self.issued.append((user, access))
        token = self.mint(user, access)
        return _reply(handler, 200, {"token": token, "access_token": token,
                                     "expires_in": LIFETIME})  # fmt: skip


def _reply(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
    reply(handler, status, {"Content-Type": "application/json"}, json.dumps(body).encode())


def running_token_server(server: TokenServer) -> AbstractContextManager[TokenServer]:
    """Serve `server` on 127.0.0.1 for the block (its `address` is set); stopped after."""
    return serving(server)


class BearerAuth(requests.auth.AuthBase):
    """`requests` auth that answers a registry's Bearer challenge with a token got with
    Basic credentials, for the push helpers in tests/registry.py."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password
        self.token: str | None = None

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self.token:
            request.headers["Authorization"] = f"Bearer {self.token}"
        request.register_hook("response", self._on_401)
        return request

    def _on_401(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        challenge = response.headers.get("WWW-Authenticate", "")
        if response.status_code != 401 or not challenge.lower().startswith("bearer "):
            return response
        params = dict(part.split("=", 1) for part in _split_params(challenge[len("bearer ") :]))
        params = {k.strip(): v.strip().strip('"') for k, v in params.items()}
        if response.request.headers.get("Authorization") == f"Bearer {self.token}" and (
            "insufficient_scope" not in params.get("error", "")
        ):
            return response  # this token was refused outright: a second one would be too
        reply = requests.get(
            params["realm"], auth=(self.user, self.password), timeout=30,
            params={"service": params.get("service", ""), "scope": params.get("scope", "")},
        )  # fmt: skip
        reply.raise_for_status()
        self.token = reply.json()["token"]
        response.content  # noqa: B018 - read, so the connection can be reused
        response.close()
        retry = response.request.copy()
        retry.headers["Authorization"] = f"Bearer {self.token}"
        again = response.connection.send(retry, **kwargs)
        again.history.append(response)
        again.request = retry
        return again


def _split_params(text: str) -> list[str]:
    """`a="x,y",b=z` split at the commas outside quotes (scopes hold commas)."""
    parts, current, quoted = [], "", False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    return [p for p in [*parts, current] if "=" in p]
