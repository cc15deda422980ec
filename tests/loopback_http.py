"""Small HTTP servers the registry tests run on 127.0.0.1: a misbehaving proxy, a token server."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol, TypeVar


class Served(Protocol):
    address: str

    def handle(self, handler: BaseHTTPRequestHandler) -> None: ...


S = TypeVar("S", bound=Served)


def reply(handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str],
          body: bytes) -> None:  # fmt: skip
    handler.send_response(status)
    for key, value in headers.items():
        handler.send_header(key, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":  # a HEAD answer has no body, or the connection is garbled
        handler.wfile.write(body)


@contextmanager
def serving(target: S) -> Iterator[S]:
    """Serve `target` on 127.0.0.1 for the block (its `address` is set); stopped after."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def _any(self) -> None:
            target.handle(self)

        do_GET = do_HEAD = do_POST = do_PUT = _any

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            # A client that hangs up mid-body (a read it cancelled) is not the server's error.
            if not isinstance(sys.exc_info()[1], ConnectionError):
                super().handle_error(request, client_address)

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    target.address = f"127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield target
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
