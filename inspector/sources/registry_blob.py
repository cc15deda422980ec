"""One registry blob as a stream: read once, hashed as it goes, resumed with `Range` when the
connection drops, and refused when it does not match its digest."""

from __future__ import annotations

import hashlib
import threading

import requests
import urllib3.exceptions

from inspector.layers.stream import CHUNK
from inspector.sources.registry_client import HOSTS, Client, RegistryError, registry_said

RESUMES = 5  # a blob download dropped more often than this is given up


class Cancelled(RegistryError):
    """The read of a blob stopped because another read of the same image failed: never shown,
    the failure that cancelled it is."""


class BlobStream:
    """One blob's body, read once and hashed as it goes; a dropped download resumes with
    `Range` where it stopped. The digest is checked at the end: `finish` reads what the reader
    left (a tar's end padding) so no blob goes unverified."""

    def __init__(
        self,
        client: Client,
        repository: str,
        digest: str,
        size: int | None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.client, self.path, self.digest, self.size = (
            client,
            f"{repository}/blobs/{digest}",
            digest,
            size,
        )
        self.cancel = cancel
        self._check_cancel()  # before asking: a read queued behind a failed one never starts
        self.hash = hashlib.new(digest.split(":", 1)[0])
        self.offset = 0
        self.resumes = 0
        self.verified = False
        self.response = self._open()

    def _open(self) -> requests.Response:
        headers = {"Range": f"bytes={self.offset}-"} if self.offset else {}
        response = self.client.request("GET", self.path, headers=headers, stream=True)
        if response.status_code == 404:
            said = registry_said(response)
            response.close()
            raise self.client.fail(f"blob {self.digest} is not in the registry ({said})")
        if self.offset and response.status_code != 206:
            response.close()
            raise self.client.fail(
                f"the download of blob {self.digest} broke off at byte {self.offset:,} and the "
                "registry cannot resume it (no Range support)"
            )
        response.raw.decode_content = False  # the digest is over the bytes as stored
        return response

    def _check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled(f"the read of blob {self.digest} was cancelled")

    def read(self, n: int = -1) -> bytes:
        self._check_cancel()
        want = CHUNK if n is None or n < 0 else n
        while True:
            try:
                data = self.response.raw.read(want)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                self._resume(exc)
                continue
            if not data and self.size is not None and self.offset < self.size:
                self._resume(None)  # a body that ended early without an error
                continue
            break
        self.offset += len(data)
        HOSTS.count(len(data))
        if self.size is not None and self.offset > self.size:
            raise self.client.fail(f"blob {self.digest} is longer than its {self.size:,} bytes")
        self.hash.update(data)
        if not data:
            self._verify()
        return data

    def _resume(self, exc: BaseException | None) -> None:
        self.response.close()
        self.resumes += 1
        if self.resumes > RESUMES:
            why = f": {exc}" if exc else ""
            raise self.client.fail(
                f"the download of blob {self.digest} broke off {RESUMES + 1} times{why}"
            ) from exc
        self.response = self._open()

    def _verify(self) -> None:
        if self.verified:
            return
        got = f"{self.hash.name}:{self.hash.hexdigest()}"
        if got != self.digest:
            raise self.client.fail(
                f"blob {self.digest} does not match its digest (the registry sent {got}): "
                "corrupt in the registry or in transit"
            )
        self.verified = True

    def finish(self) -> None:
        while self.read(CHUNK):
            pass

    def read_all(self, limit: int, what: str) -> bytes:
        parts, total = [], 0
        while data := self.read(CHUNK):
            total += len(data)
            if total > limit:
                raise self.client.fail(f"the {what} {self.digest} is larger than {limit:,} bytes")
            parts.append(data)
        return b"".join(parts)

    def close(self) -> None:
        self.response.close()
