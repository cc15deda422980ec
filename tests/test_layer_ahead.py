"""A compressed layer is inflated on a thread of its own, ahead of the parser: at most AHEAD
chunks ahead (memory stays bounded whatever the layer's size), its errors met by the parser
where they happened in the stream, and the thread stopped when the stream is closed."""

from __future__ import annotations

import gzip
import hashlib
import io
import threading

import pytest

from inspector.layers.model import LayerError
from inspector.layers.reader import read_layer
from inspector.layers.stream import AHEAD, Ahead, LayerStream
from tests.layertools import layer


def _ours() -> set[threading.Thread]:
    """The stream threads alive now (compared before and after: not another test's)."""
    names = ("inspector-inflate", "inspector-hash")
    return {t for t in threading.enumerate() if t.name.startswith(names)}


class Counted:
    """A decoder giving `chunks` chunks of 1 KiB, then failing or ending; counts its calls and
    says when it has been asked `signal_at` times."""

    def __init__(self, chunks: int, *, fail: bool = False, signal_at: int = 0) -> None:
        self.chunks, self.fail, self.signal_at = chunks, fail, signal_at
        self.calls = 0
        self.asked = threading.Event()

    def next(self) -> bytes | None:
        self.calls += 1
        if self.calls == self.signal_at:
            self.asked.set()
        if self.calls > self.chunks:
            if self.fail:
                raise LayerError("corrupt gzip layer: test")
            return None
        return bytes([self.calls % 256]) * 1024


def test_inflating_runs_at_most_AHEAD_chunks_ahead():
    """A parser that reads nothing holds the decoder after AHEAD queued chunks plus the one
    it is trying to queue: it is asked for no more until the parser takes one."""
    decoder = Counted(1000, signal_at=AHEAD + 1)
    ahead = Ahead(decoder)
    try:
        assert decoder.asked.wait(10)
        assert ahead.queue.full()
        assert decoder.calls == AHEAD + 1  # blocked in its put: it cannot ask again
        assert ahead.next() == bytes([1]) * 1024
    finally:
        ahead.close()
    assert not ahead.thread.is_alive()


def test_close_stops_the_thread_of_a_half_read_stream():
    """Closing a stream whose decoder is still ahead of it ends the thread (no thread left)."""
    decoder = Counted(10_000, signal_at=AHEAD + 1)
    ahead = Ahead(decoder)
    assert decoder.asked.wait(10)
    ahead.close()
    assert not ahead.thread.is_alive()
    assert ahead.next() is None


def test_a_decoder_error_is_met_where_it_happened():
    """Every chunk before the failure reaches the parser, then the decoder's own error."""
    ahead = Ahead(Counted(3, fail=True))
    try:
        got = [ahead.next() for _ in range(3)]
        assert [chunk[0] for chunk in got if chunk] == [1, 2, 3]
        with pytest.raises(LayerError, match="corrupt gzip layer: test"):
            ahead.next()
        assert ahead.next() is None  # once failed, ended
    finally:
        ahead.close()
    assert not ahead.thread.is_alive()


def test_a_gzip_layer_reads_the_same_with_and_without_the_thread():
    """A gzip'd layer gives the entries, captures and diff_id of its plain tar (read inline)."""
    tar = layer(*[(f"srv/f{i}.txt", (b"line %d\n" % i) * (i * 300)) for i in range(60)])
    plain = read_layer(io.BytesIO(tar), lambda path, size: 64)
    inflated = read_layer(io.BytesIO(gzip.compress(tar)), lambda path, size: 64)
    assert inflated == plain
    assert inflated.diff_id == "sha256:" + hashlib.sha256(tar).hexdigest()


def test_a_truncated_gzip_layer_fails_and_leaves_no_thread():
    """A gzip layer cut short fails as truncated, and its inflating thread is gone."""
    raw = gzip.compress(layer(("srv/a.bin", bytes(range(256)) * 8000)))
    before = _ours()
    with pytest.raises(LayerError, match="truncated"):
        read_layer(io.BytesIO(raw[: len(raw) // 2]))
    assert _ours() <= before


def test_a_stream_that_fails_to_open_leaves_no_thread():
    """A gzip layer corrupt in its first chunk fails while opening, its threads stopped."""
    before = _ours()
    with pytest.raises(LayerError, match="corrupt gzip"):
        LayerStream(io.BytesIO(b"\x1f\x8b" + b"\xff" * 64))
    assert _ours() <= before
