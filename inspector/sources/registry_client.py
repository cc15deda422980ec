"""A polite HTTP client for one registry host (the OCI Distribution API).

A few pooled connections, a timeout on every request, bounded retries with backoff on 429, 5xx
and dropped connections (Retry-After honoured), the Bearer and Basic challenges answered with
the user's credentials, and redirects (blobs often live in object storage) followed without
ever sending those credentials to another host.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Collection
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import requests.adapters
import requests.exceptions

from inspector.errors import InspectorError
from inspector.sources.registry_auth import Credentials, find_credentials

TIMEOUT = (10.0, 60.0)  # connect, and each read: a stalled registry ends the run
RETRIES = 5
BACKOFF = 0.5  # seconds, doubled per attempt
MAX_WAIT = 60.0  # the longest Retry-After honoured
MAX_REDIRECTS = 5
# Requests in flight to one host from the whole process (INSPECTOR_REGISTRY_REQUESTS): a polite
# client of a registry that everyone else pulls from too.
REQUESTS_PER_HOST = 8
_pause = time.sleep  # replaced in tests, which count the waits instead of waiting
_RETRIED = frozenset({429, 500, 502, 503, 504})
_CHALLENGE_PARAM = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^,\s]*))')


class RegistryError(InspectorError):
    """The registry refused, failed or sent something that is not the image it names."""


class Denied(RegistryError):
    """The registry (or its token server) refused these credentials, or having none."""


def slots_per_host() -> int:
    raw = os.environ.get("INSPECTOR_REGISTRY_REQUESTS", "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else REQUESTS_PER_HOST


class _Hosts:
    """Requests in flight per registry host, shared by every client of the process: a scan's
    jobs each have their own client, and the registry must not see their sum. A streamed
    response holds its slot until it is closed; bytes received are counted for progress."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self.received = 0

    def slot(self, host: str) -> threading.BoundedSemaphore:
        with self._lock:
            if host not in self._slots:
                self._slots[host] = threading.BoundedSemaphore(slots_per_host())
            return self._slots[host]

    def count(self, size: int) -> None:
        with self._lock:
            self.received += size


HOSTS = _Hosts()


def is_loopback(host: str) -> bool:
    """Whether HOST[:PORT] is this machine: the only hosts spoken to in plain HTTP by default."""
    name = hostname(host)
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def hostname(host: str) -> str:
    """HOST of HOST[:PORT], brackets of an IPv6 literal removed."""
    if host.startswith("["):
        return host[1 : host.find("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def scheme_for(host: str, insecure: Collection[str] = ()) -> str:
    """`https` first for every host, as Docker does; `http` for a loopback host or one the user
    named (`--insecure-registry HOST`, with or without its port) that this process already
    found speaking plain HTTP."""
    if may_speak_plain(host, insecure) and host in _PLAIN_HOSTS:
        return "http"
    return "https"


def may_speak_plain(host: str, insecure: Collection[str] = ()) -> bool:
    """Whether HOST[:PORT] may be spoken to in plain HTTP when it does not speak TLS: loopback
    hosts and those the user named. Every other host is HTTPS with verification, always."""
    return is_loopback(host) or host in insecure or hostname(host) in insecure


# Hosts found to answer a TLS handshake with plain HTTP, asked once per process.
_PLAIN_HOSTS: set[str] = set()


def _speaks_plain_http(exc: requests.exceptions.SSLError) -> bool:
    """A handshake answered with something that is not TLS (an HTTP server's 400), as opposed
    to a TLS server whose certificate is not trusted: that one stays a failure."""
    cause = _root_cause(exc)
    if isinstance(cause, ssl.SSLCertVerificationError):
        return False
    text = str(cause).lower()
    return any(
        sign in text
        for sign in ("wrong version number", "record layer failure", "unexpected eof", "packet")
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _root_cause(exc: BaseException) -> BaseException:
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return exc


def unreachable_for_good(cause: BaseException) -> bool:
    """A failure no retry can mend: the connection was refused, or the host name does not
    resolve (EAI_NONAME, EAI_NODATA); a resolver that cannot answer now (EAI_AGAIN) may later."""
    if isinstance(cause, ConnectionRefusedError):
        return True
    if isinstance(cause, socket.gaierror):
        permanent = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}
        return cause.errno in permanent
    return False


def registry_said(response: requests.Response) -> str:
    """What the registry's error body says (`CODE: message`), or the HTTP status."""
    try:
        errors = response.json().get("errors") or []
        said = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors[:3])
    except (ValueError, AttributeError, TypeError):
        said = ""
    return said or f"HTTP {response.status_code} {response.reason or ''}".strip()


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.strip().partition(" ")
    params = {m[1].lower(): m[2] if m[2] is not None and m[3] == "" else m[3] or m[2]
              for m in _CHALLENGE_PARAM.finditer(rest)}  # fmt: skip
    return scheme.lower(), params


class Client:
    """Requests to one registry host on behalf of one image (`what` names it in errors)."""

    def __init__(
        self,
        host: str,
        repository: str,
        what: str,
        *,
        insecure: Collection[str] = (),
        credentials: Callable[[str], Credentials | None] = find_credentials,
    ) -> None:
        self.host, self.repository, self.what = host, repository, what
        self._plain_allowed = may_speak_plain(host, insecure)
        self.base = f"{scheme_for(host, insecure)}://{host}"
        self.session = requests.Session()
        # A few connections per host: the registry is shared with everyone else's pulls.
        adapter = requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=4, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = "inspector (python-image-inspector)"
        self._credentials = credentials
        self._authorization: str | None = None

    def close(self) -> None:
        self.session.close()

    def fail(self, message: str) -> RegistryError:
        return RegistryError(f"{self.what}: {message}")

    def denied(self, message: str) -> Denied:
        return Denied(f"{self.what}: {message}")

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        stream: bool = False,
        tolerated: Collection[int] = (404, 416),
    ) -> requests.Response:
        """The response to `method` on `path` (under /v2/), authenticated, redirects followed.

        Only 2xx and `tolerated` statuses come back; anything else is a RegistryError saying
        what was said.
        """
        url = f"{self.base}/v2/{path}"
        response = self._follow(method, url, headers or {}, stream)
        if response.status_code == 401:
            # Answered once per request: a token that expired during a long read is renewed,
            # and a 401 right after an answer means the credentials are refused.
            self._answer(response)
            response.close()
            response = self._follow(method, url, headers or {}, stream)
        if response.status_code in (401, 403):
            said = registry_said(response)
            response.close()
            raise self.denied(f"denied by the registry ({said}); check `docker login {self.host}`")
        if response.status_code >= 400 and response.status_code not in tolerated:
            said = registry_said(response)
            response.close()
            raise self.fail(f"the registry answered {said}")
        return response

    def _follow(
        self, method: str, url: str, headers: dict[str, str], stream: bool
    ) -> requests.Response:
        own = urlsplit(url).netloc
        for _ in range(MAX_REDIRECTS + 1):
            sent = dict(headers)
            # Credentials go to the registry host only, never to the storage a blob redirects to.
            if self._authorization and urlsplit(url).netloc == own:
                sent["Authorization"] = self._authorization
            response = self._send(method, url, sent, stream)
            if response.status_code not in (301, 302, 303, 307, 308):
                return response
            location = response.headers.get("Location")
            response.close()
            if not location:
                raise self.fail(f"the registry redirected {method} {url} nowhere")
            url = urljoin(url, location)
            target = urlsplit(url)
            if target.scheme != "https" and target.netloc != own and not is_loopback(target.netloc):
                raise self.fail(f"the registry redirected to plain HTTP at {url}")
        raise self.fail(f"more than {MAX_REDIRECTS} redirects for {method} {url}")

    def _send(
        self, method: str, url: str, headers: dict[str, str], stream: bool
    ) -> requests.Response:
        attempt = -1
        while attempt < RETRIES:
            attempt += 1
            last = attempt == RETRIES
            try:
                response = self._in_slot(method, url, headers, stream)
            except requests.exceptions.SSLError as exc:
                if self._plain_allowed and url.startswith("https://") and _speaks_plain_http(exc):
                    # Docker's order: HTTPS first, plain HTTP only for loopback and the hosts
                    # the user named insecure, once the host shows it speaks no TLS.
                    _PLAIN_HOSTS.add(self.host)
                    self.base = f"http://{self.host}"
                    url = "http://" + url[len("https://") :]
                    attempt -= 1  # the same request again, in the scheme the host speaks
                    continue
                raise self.fail(
                    f"TLS failure talking to {self.host}: {_first_line(_root_cause(exc))}"
                ) from exc
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                cause = _root_cause(exc)
                final = unreachable_for_good(cause)
                if final or last:
                    why = (
                        "connection refused"
                        if isinstance(cause, ConnectionRefusedError)
                        else _first_line(cause)
                    )
                    tries = "" if final else f" after {RETRIES} retries"
                    raise self.fail(
                        f"cannot reach the registry at {self.base} ({why}){tries}"
                    ) from exc
                self.sleep(attempt, None)
                continue
            if response.status_code not in _RETRIED:
                return response
            wait = response.headers.get("Retry-After")
            if last:
                said = registry_said(response)
                response.close()
                what = "rate limited" if response.status_code == 429 else "the registry failed"
                raise self.fail(f"{what} ({said}) after {RETRIES} retries")
            response.close()
            self.sleep(attempt, wait)
        raise AssertionError("unreachable")

    def _in_slot(
        self, method: str, url: str, headers: dict[str, str], stream: bool
    ) -> requests.Response:
        slot = HOSTS.slot(urlsplit(url).netloc)
        slot.acquire()
        try:
            response = self.session.request(
                method, url, headers=headers, stream=stream, timeout=TIMEOUT,
                allow_redirects=False,
            )  # fmt: skip
        except BaseException:
            slot.release()
            raise
        if not stream:
            slot.release()  # the body is read already
            return response
        close = response.close
        released = threading.Event()

        def close_and_release() -> None:
            try:
                close()
            finally:
                if not released.is_set():
                    released.set()
                    slot.release()

        response.close = close_and_release  # type: ignore[method-assign]
        return response

    @staticmethod
    def sleep(attempt: int, retry_after: str | None) -> None:
        delay = BACKOFF * (2**attempt)
        if retry_after:
            # An HTTP date instead of seconds: the backoff is as good a guess.
            with contextlib.suppress(ValueError):
                delay = float(retry_after)
        _pause(max(0.0, min(delay, MAX_WAIT)))

    def _answer(self, response: requests.Response) -> None:
        """Credentials for the challenge of a 401: Basic, or a Bearer token from its realm."""
        scheme, params = _challenge(response.headers.get("WWW-Authenticate", ""))
        creds = self._credentials(self.host)
        if scheme == "basic":
            if creds is None or creds.password is None:
                raise self.denied(
                    f"denied: the registry wants a user name and password and none are "
                    f"configured for {self.host} (`docker login {self.host}`)"
                )
            pair = f"{creds.username or ''}:{creds.password}".encode()
            self._authorization = "Basic " + base64.b64encode(pair).decode()
        elif scheme == "bearer" and params.get("realm"):
            self._authorization = "Bearer " + self._token(params, creds)
        else:
            raise self.fail(f"denied: the registry's challenge is not understood ({scheme!r})")

    def _token(self, params: dict[str, str], creds: Credentials | None) -> str:
        realm = params["realm"]
        query = {"service": params.get("service", self.host)}
        query["scope"] = params.get("scope") or f"repository:{self.repository}:pull"
        try:
            if creds is not None and creds.identity_token:
                form = {**query, "grant_type": "refresh_token", "client_id": "inspector",
                        "refresh_token": creds.identity_token}  # fmt: skip
                reply = self.session.post(realm, data=form, timeout=TIMEOUT)
            else:
                auth = (creds.username or "", creds.password or "") if creds else None
                reply = self.session.get(realm, params=query, auth=auth, timeout=TIMEOUT)
        except requests.exceptions.RequestException as exc:
            raise self.fail(
                f"the token server {realm} failed: {_first_line(_root_cause(exc))}"
            ) from exc
        with reply:
            if reply.status_code in (401, 403):
                raise self.denied(f"denied by the token server ({registry_said(reply)})")
            if reply.status_code >= 400:
                raise self.fail(f"the token server answered {registry_said(reply)}")
            try:
                body: Any = reply.json()
                token = body.get("token") or body.get("access_token")
            except (ValueError, AttributeError) as exc:
                raise self.fail("the token server's answer is not JSON") from exc
        if not isinstance(token, str) or not token:
            raise self.fail("the token server's answer holds no token")
        return token
