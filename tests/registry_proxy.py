"""A loopback HTTP proxy in front of the test registry that misbehaves on request: answers
429, cuts a blob mid-body, redirects blobs to another host, or demands a Bearer token it
issues itself. Every request it sees is recorded with its headers."""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs

from tests.loopback_http import reply, serving

# What to do with one request: None forwards it; otherwise ("status", code, headers),
# ("cut", bytes_sent) or ("redirect", url).
Fault = tuple | None
TOKEN = "tok-for-tests"
REFRESH_TOKEN = "refresh-for-tests"  # an identity token: exchanged by POST, OAuth2 style
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Proxy:
    upstream: str  # HOST:PORT of the registry
    fault: Callable[[str, str, dict[str, str]], Fault] = lambda method, path, headers: None
    bearer_user: tuple[str, str] | None = None  # demand a token, issued to this user only
    upstream_auth: tuple[str, str] | None = None  # what it sends upstream, whatever it got
    seen: list[Seen] = field(default_factory=list)
    address: str = ""

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        method, path = handler.command, handler.path
        headers = {k: v for k, v in handler.headers.items()}
        self.seen.append(Seen(method, path, headers))
        if path.startswith("/token"):
            return self._token(handler, headers)
        if self.bearer_user and headers.get("Authorization") != f"Bearer {TOKEN}":
            realm = f"http://{self.address}/token"
            challenge = f'Bearer realm="{realm}",service="tests",scope="repository:t/app:pull"'
            return reply(handler, 401, {"WWW-Authenticate": challenge}, b'{"errors":[]}')
        fault = self.fault(method, path, headers)
        if fault and fault[0] == "status":
            return reply(handler, fault[1], fault[2], b'{"errors":[{"code":"TOOMANYREQUESTS",'
                          b'"message":"slow down"}]}')  # fmt: skip
        if fault and fault[0] == "redirect":
            return reply(handler, 307, {"Location": fault[1]}, b"")
        status, out_headers, body = self._forward(method, path, headers)
        if fault and fault[0] == "cut":
            handler.send_response(status)
            for key, value in out_headers:
                handler.send_header(key, value)
            handler.send_header("Content-Length", str(len(body)))
            handler.send_header("Connection", "close")
            handler.end_headers()
            handler.wfile.write(body[: fault[1]])
            handler.wfile.flush()
            handler.close_connection = True
            return None
        keep = [(k, v) for k, v in out_headers]
        return reply(handler, status, dict(keep), body)

    def _token(self, handler: BaseHTTPRequestHandler, headers: dict[str, str]) -> None:
        if handler.command == "POST":
            length = int(headers.get("Content-Length") or 0)
            form = parse_qs(handler.rfile.read(length).decode())
            granted = form.get("grant_type") == ["refresh_token"] and form.get("refresh_token") == [
                REFRESH_TOKEN
            ]
            if not granted:
                return reply(handler, 401, {}, b'{"errors":[]}')
            return reply(handler, 200, {}, json.dumps({"access_token": TOKEN}).encode())
        expected = "Basic " + base64.b64encode(":".join(self.bearer_user or ()).encode()).decode()
        if headers.get("Authorization") != expected:
            return reply(handler, 401, {}, b'{"errors":[{"code":"UNAUTHORIZED",'
                          b'"message":"bad credentials"}]}')  # fmt: skip
        return reply(handler, 200, {}, json.dumps({"access_token": TOKEN}).encode())

    def _forward(
        self, method: str, path: str, headers: dict[str, str]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(self.upstream, timeout=30)
        try:
            sent = {k: v for k, v in headers.items() if k.lower() not in _HOP | {"host"}}
            if self.bearer_user:
                sent.pop("Authorization", None)  # the upstream registry is anonymous
            if self.upstream_auth:  # as storage checks its signed URLs: not the user's secret
                pair = ":".join(self.upstream_auth).encode()
                sent["Authorization"] = "Basic " + base64.b64encode(pair).decode()
            connection.request(method, path, headers=sent)
            response = connection.getresponse()
            body = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP]
            return response.status, kept, body
        finally:
            connection.close()


def running_proxy(proxy: Proxy) -> AbstractContextManager[Proxy]:
    """Serve `proxy` on 127.0.0.1 for the block (its `address` is set); stopped after."""
    return serving(proxy)
