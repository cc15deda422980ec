"""A layer's bytes as one uncompressed stream: decompressed on the fly, counted and hashed on the
way (the digest is the layer's diff_id), with reads that never copy more than they must.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from typing import BinaryIO

from inspector.layers.decompress import CHUNK, decoder_for
from inspector.layers.limits import Limit
from inspector.layers.model import LayerError

__all__ = ["CHUNK", "LayerStream", "ReadFailed", "Slice"]


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

    Compression is told by the first bytes (gzip, zstd or none) and at most CHUNK bytes are
    inflated at a time, whatever the compressed chunk holds; once `limit` bytes have passed,
    reading stops with its error.
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
        self._buf = b""
        self._pos = 0
        self._decoder = decoder_for(self._read_raw(CHUNK), self._read_raw)
        self._fill()  # a corrupt first chunk fails here, before any member is asked for

    def _read_raw(self, n: int) -> bytes:
        try:
            return self.raw.read(n)
        except (OSError, EOFError) as exc:
            if self.subject == "a layer":
                raise ReadFailed(f"layer stream broke off: {exc}") from exc
            raise ReadFailed(f"{self.subject} could not be read: {exc}") from exc

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
        data = self._decoder.next()
        if data is None:
            return False
        if self.hash is not None:
            self.hash.update(data)
        self.count += len(data)
        if self.limit is not None and self.count > self.limit.value:
            raise self.limit.exceeded(self.subject)
        # Copy only the unread tail, once per chunk, never the whole buffer per read.
        self._buf = self._buf[self._pos :] + data
        self._pos = 0
        return True

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
