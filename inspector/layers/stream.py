"""A layer's bytes as one uncompressed stream: decompressed on the fly, counted and hashed on the
way (the digest is the layer's diff_id), with reads that never copy more than they must.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from typing import BinaryIO

from inspector.layers.decompress import CHUNK, Decoder, Plain, decoder_for
from inspector.layers.limits import Limit
from inspector.layers.model import LayerError

__all__ = ["CHUNK", "LayerStream", "ReadFailed", "Slice"]

# Decoded chunks (at most CHUNK bytes each) a decoding thread may hold ahead of the parser.
AHEAD = 4


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
        self.thread = threading.Thread(target=self._run, name="inspector-hash", daemon=True)
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


class Digest:
    """sha256 updated by the thread that inflates (hashlib releases the GIL too): no thread and
    no queue of its own."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()

    def update(self, data: bytes) -> None:
        self.digest.update(data)

    def hexdigest(self) -> str:
        return self.digest.hexdigest()

    def close(self) -> None:
        pass


class Ahead:
    """A decoder run on its own thread, up to AHEAD chunks ahead of the parser.

    Inflating releases the GIL (zlib, ISA-L and zstd all do), and so does reading the socket
    under it: on a second core a compressed layer is downloaded and inflated while the parser
    works on what came before. An error the decoder raises reaches the parser at the point of
    the stream where it happened, as if it had decoded there itself.
    """

    def __init__(self, decoder: Decoder, digest: Digest | None = None) -> None:
        self.decoder, self.digest = decoder, digest
        self.queue: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=AHEAD)
        self.stop = threading.Event()
        self.ended = False
        self.thread = threading.Thread(target=self._run, name="inspector-inflate", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while not self.stop.is_set():
                data = self.decoder.next()
                if data and self.digest is not None:
                    self.digest.update(data)
                self.queue.put(data)
                if data is None:
                    return
        except BaseException as exc:  # the parser raises it where it would have met it
            self.queue.put(exc)

    def next(self) -> bytes | None:
        if self.ended:
            return None
        item = self.queue.get()
        if isinstance(item, BaseException):
            self.ended = True
            raise item
        self.ended = item is None
        return item

    def close(self) -> None:
        """Stop the thread and wait for it: it ends after the read it may be in (a socket read
        is bounded by the registry client's timeout)."""
        self.stop.set()
        # Room for the put it may be blocked in; after that it puts at most once more, into a
        # queue with room, then sees `stop`.
        while True:
            try:
                self.queue.get_nowait()
            except queue.Empty:
                break
        self.thread.join()
        self.ended = True


class LayerStream:
    """A read-only stream that hashes and counts the uncompressed bytes passing through it.

    Compression is told by the first bytes (gzip, zstd or none) and at most CHUNK bytes are
    inflated at a time, whatever the compressed chunk holds; once `limit` bytes have passed,
    reading stops with its error. A compressed layer (`hashed`: one `read_layer` reads and
    closes) is inflated and hashed on a thread of its own, ahead of the reader (`Ahead`).
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
        self.count = 0
        self._buf = b""
        self._pos = 0
        self._ahead: Ahead | None = None
        self.hash: Hasher | Digest | None = None
        try:
            decoder = decoder_for(self._read_raw(CHUNK), self._read_raw)
            # An archive's outer stream is never closed by its reader: it decodes inline.
            if hashed and not isinstance(decoder, Plain):
                self.hash = Digest()
                self._ahead = Ahead(decoder, self.hash)
            elif hashed:
                self.hash = Hasher()
            self._decoder: Decoder = self._ahead or decoder
            self._fill()  # a corrupt first chunk fails here, before any member is asked for
        except BaseException:
            self.close()  # no thread outlives a stream that failed to open
            raise

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
        if self.hash is not None and self._ahead is None:  # else hashed as it was inflated
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
        if self._ahead is not None:
            self._ahead.close()
        if self.hash is not None:
            self.hash.close()

    def drain(self) -> None:
        self._pos = len(self._buf)
        while self._fill():
            self._pos = len(self._buf)
