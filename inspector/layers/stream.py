"""A layer's bytes as one uncompressed stream: decompressed on the fly, counted and hashed on the
way (the digest is the layer's diff_id), with reads that never copy more than they must.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import zlib
from typing import BinaryIO

from inspector.layers.limits import Limit
from inspector.layers.model import LayerError

CHUNK = 1 << 20


class ReadFailed(LayerError):
    """The bytes under a stream could not be read (an I/O error, a connection lost)."""


class Slice:
    """The next `size` bytes of a stream, as a stream of their own (one tar member's data)."""

    def __init__(self, source: LayerStream, size: int) -> None:
        self.source, self.left = source, size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        data = self.source.read(n)
        self.left -= len(data)
        return data


class Hasher:
    """sha256 on a worker thread: hashlib releases the GIL on large buffers, so the digest of a
    layer costs the parser (nearly) nothing on a machine with a second core."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.queue: queue.Queue[bytes | None] = queue.Queue(maxsize=32)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (data := self.queue.get()) is not None:
            self.digest.update(data)

    def update(self, data: bytes) -> None:
        self.queue.put(data)

    def hexdigest(self) -> str:
        self.close()
        return self.digest.hexdigest()

    def close(self) -> None:
        if self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()


class LayerStream:
    """A read-only stream that hashes and counts the uncompressed bytes passing through it.

    At most CHUNK bytes are inflated at a time, whatever the compressed chunk holds (1 MiB of
    gzip'd zeros is 1 GiB), and once `limit` bytes have passed, reading stops with its error.
    """

    def __init__(
        self,
        raw: BinaryIO,
        *,
        hashed: bool = True,
        limit: Limit | None = None,
        subject: str = "a layer",
    ) -> None:
        self.raw = raw
        self.limit, self.subject = limit, subject
        self.hash = Hasher() if hashed else None
        self.count = 0
        head = self._read_raw(CHUNK)
        if head[:2] == b"\x1f\x8b":
            self._inflate: zlib._Decompress | None = zlib.decompressobj(wbits=47)
        elif head[:4] == b"\x28\xb5\x2f\xfd":
            raise LayerError("zstd-compressed layers are not supported yet")
        else:
            self._inflate = None
        self._buf = b""
        self._pos = 0
        self._feed(head)

    def _read_raw(self, n: int) -> bytes:
        try:
            return self.raw.read(n)
        except (OSError, EOFError) as exc:
            if self.subject == "a layer":
                raise ReadFailed(f"layer stream broke off: {exc}") from exc
            raise ReadFailed(f"{self.subject} could not be read: {exc}") from exc

    def _feed(self, data: bytes) -> int:
        if self._inflate is not None:
            try:
                data = self._inflate.decompress(data, CHUNK)
            except zlib.error as exc:
                raise LayerError(f"corrupt gzip layer: {exc}") from exc
        if self.hash is not None:
            self.hash.update(data)
        self.count += len(data)
        if self.limit is not None and self.count > self.limit.value:
            raise self.limit.exceeded(self.subject)
        # Copy only the unread tail, once per chunk, never the whole buffer per read.
        self._buf = self._buf[self._pos :] + data
        self._pos = 0
        return len(data)

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            while self._fill():
                pass
            n = len(self._buf) - self._pos
        while len(self._buf) - self._pos < n and self._fill():
            pass
        out = self._buf[self._pos : self._pos + n]
        self._pos += len(out)
        return out

    def _fill(self) -> bool:
        inflate = self._inflate
        if inflate is not None and inflate.unconsumed_tail:
            # What the last raw chunk still holds: inflated CHUNK bytes at a time.
            self._feed(inflate.unconsumed_tail)
            return True
        if inflate is not None and inflate.eof and inflate.unused_data:
            self._next_member()
            self._feed(inflate.unused_data)
            return True
        chunk = self._read_raw(CHUNK)
        if not chunk:
            if inflate is not None and not inflate.eof:
                if self._feed(b""):  # output zlib held back for want of room
                    return True
                raise LayerError("gzip layer ends before its end marker (truncated)")
            return False
        if inflate is not None and inflate.eof:
            self._next_member()
        self._feed(chunk)
        return True

    def _next_member(self) -> None:
        # Bytes after a gzip member's end: another member (Go's gzip reader, so the engine,
        # reads them all as one stream), or garbage that fails as a corrupt header. Never
        # ignored: an endless tail (a blob linked to /dev/zero) must not be read forever.
        self._inflate = zlib.decompressobj(wbits=47)

    def skip(self, n: int) -> int:
        """Consume `n` bytes without copying them; returns how many there were."""
        done = 0
        while done < n:
            available = len(self._buf) - self._pos
            if not available:
                if not self._fill():
                    break
                continue
            step = min(available, n - done)
            self._pos += step
            done += step
        return done

    def close(self) -> None:
        if self.hash is not None:
            self.hash.close()

    def drain(self) -> None:
        self._pos = len(self._buf)
        while self._fill():
            self._pos = len(self._buf)
