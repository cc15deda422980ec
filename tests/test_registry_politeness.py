"""Requests in flight to one registry host are bounded across every client of the process (a
scan's jobs each have their own), on a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from inspector.sources.registry_client import HOSTS, Client
from tests.loopback_http import reply, serving


@dataclass
class Gate:
    """Holds every request until opened, counting how many are inside at once."""

    address: str = ""
    opened: threading.Event = field(default_factory=threading.Event)
    inside: int = 0
    most: int = 0
    seen: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        with self.lock:
            self.inside += 1
            self.seen += 1
            self.most = max(self.most, self.inside)
        self.opened.wait(20)
        with self.lock:
            self.inside -= 1
        reply(handler, 200, {"Content-Type": "application/json"}, b"{}")


def _wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


class CountedSlot:
    """The host's real slot, counting the clients blocked waiting for it: the event that says
    every client beyond the limit is held by it, not still on its way to the server."""

    def __init__(self, slot: threading.BoundedSemaphore) -> None:
        self._slot = slot
        self._lock = threading.Lock()
        self.waiting = 0

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        if self._slot.acquire(blocking=False):
            return True
        if not blocking:
            return False
        with self._lock:
            self.waiting += 1
        try:
            return self._slot.acquire(timeout=timeout)
        finally:
            with self._lock:
                self.waiting -= 1

    def release(self) -> None:
        self._slot.release()


def test_clients_share_the_per_host_limit(monkeypatch):
    """Six clients asking at once never have more than INSPECTOR_REGISTRY_REQUESTS (2) requests
    inside the server; the others wait their turn and all succeed."""
    monkeypatch.setenv("INSPECTOR_REGISTRY_REQUESTS", "2")
    with serving(Gate()) as gate:
        slot = CountedSlot(HOSTS.slot(gate.address))
        monkeypatch.setitem(HOSTS._slots, gate.address, slot)
        asked = threading.Semaphore(0)
        statuses: list[int] = []

        def one() -> None:
            client = Client(gate.address, "t/app", "test")
            try:
                asked.release()
                with client.request("GET", "t/app/tags/list") as response:
                    statuses.append(response.status_code)
            finally:
                client.close()

        threads = [threading.Thread(target=one) for _ in range(6)]
        for thread in threads:
            thread.start()
        for _ in threads:
            asked.acquire()
        # Two inside the server and the four others blocked on the host's slot: none of them
        # can still be on its way in, so the count below is final, not a guess after a sleep.
        _wait_for(lambda: gate.inside == 2 and slot.waiting == 4)
        assert gate.seen == 2
        gate.opened.set()
        for thread in threads:
            thread.join(30)
        assert statuses == [200] * 6
        assert gate.most == 2


def test_a_streamed_response_holds_its_slot_until_closed(monkeypatch):
    """A blob being streamed counts against the host's limit until it is closed, once."""
    monkeypatch.setenv("INSPECTOR_REGISTRY_REQUESTS", "1")
    with serving(Gate()) as gate:
        gate.opened.set()
        client = Client(gate.address, "t/app", "test")
        try:
            slot = HOSTS.slot(gate.address)
            response = client.request("GET", "t/app/blobs/sha256:00", stream=True)
            assert not slot.acquire(blocking=False)  # held by the open stream
            response.close()
            response.close()  # closing twice releases once (a BoundedSemaphore would raise)
            assert slot.acquire(blocking=False)
            slot.release()
        finally:
            client.close()
