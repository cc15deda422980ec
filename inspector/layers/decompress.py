"""Decoders for the compressions layers come in (gzip, zstd, none), told apart by their first
bytes as the engine tells them, each giving out at most CHUNK bytes per call whatever one input
chunk expands to (1 MiB of gzip'd zeros is 1 GiB; of zstd'd zeros, 32 GiB).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any, Protocol

import zstandard

from inspector.layers.model import LayerError

try:  # ISA-L inflates gzip 2-3 times faster than zlib; the standard library when it is absent
    from isal import isal_zlib

    GUNZIP: Callable[..., Any] = isal_zlib.decompressobj
    GZIP_ERRORS: tuple[type[Exception], ...] = (zlib.error, isal_zlib.error)
except ImportError:  # pragma: no cover - isal has wheels wherever the project runs
    GUNZIP = zlib.decompressobj
    GZIP_ERRORS = (zlib.error,)

CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
SKIPPABLE_MASK, SKIPPABLE = 0xFFFFFFF0, 0x184D2A50  # the magic of a zstd skippable frame
# gzip only (not zlib's auto-detection): a member after the first must be gzip too, as the
# engine's (Go's) multi-member reader requires.
GZIP_WBITS = 31

ReadRaw = Callable[[int], bytes]


class Decoder(Protocol):
    def next(self) -> bytes | None:
        """The next piece of the uncompressed stream (at most CHUNK bytes, maybe empty), or
        None at its end."""


def is_gzip(head: bytes) -> bool:
    return head[:2] == GZIP_MAGIC


def is_zstd(head: bytes) -> bool:
    """A zstd frame or a skippable frame (zstd:chunked metadata may come first), as the
    engine's and containerd's detectors tell them."""
    if head[:4] == ZSTD_MAGIC:
        return True
    return len(head) >= 8 and int.from_bytes(head[:4], "little") & SKIPPABLE_MASK == SKIPPABLE


def decoder_for(head: bytes, read_raw: ReadRaw) -> Decoder:
    """The decoder for a stream whose first bytes are `head` and the rest `read_raw(n)`."""
    if is_gzip(head):
        return Gunzip(head, read_raw)
    if is_zstd(head):
        return Unzstd(head, read_raw)
    return Plain(head, read_raw)


class Plain:
    """An uncompressed stream, passed through in the chunks it is read in."""

    def __init__(self, head: bytes, read_raw: ReadRaw) -> None:
        self.pending: bytes | None = head
        self.read_raw = read_raw

    def next(self) -> bytes | None:
        if self.pending is not None:
            data, self.pending = self.pending, None
            return data
        return self.read_raw(CHUNK) or None


class Gunzip:
    """gzip, any number of members one after the other read as one stream (pigz, eStargz)."""

    def __init__(self, head: bytes, read_raw: ReadRaw) -> None:
        self.read_raw = read_raw
        self.inflate = GUNZIP(wbits=GZIP_WBITS)
        self.pending: bytes | None = head

    def _inflate(self, data: bytes) -> bytes:
        try:
            return self.inflate.decompress(data, CHUNK)
        except GZIP_ERRORS as exc:
            raise LayerError(f"corrupt gzip layer: {exc}") from exc

    def _next_member(self) -> None:
        # Bytes after a gzip member's end: another member (Go's gzip reader, so the engine,
        # reads them all as one stream), or garbage that fails as a corrupt header. Never
        # ignored: an endless tail (a blob linked to /dev/zero) must not be read forever.
        self.inflate = GUNZIP(wbits=GZIP_WBITS)

    def next(self) -> bytes | None:
        inflate = self.inflate
        if self.pending is not None:
            data, self.pending = self.pending, None
            return self._inflate(data)
        # The end of a member first: zlib then keeps what follows it in unused_data *and*
        # unconsumed_tail, and inflating that tail again would only grow unused_data, forever.
        if inflate.eof:
            rest = inflate.unused_data or self.read_raw(CHUNK)
            if not rest:
                return None
            self._next_member()
            return self._inflate(rest)
        if inflate.unconsumed_tail:
            # What the last raw chunk still holds: inflated CHUNK bytes at a time.
            return self._inflate(inflate.unconsumed_tail)
        chunk = self.read_raw(CHUNK)
        if chunk:
            return self._inflate(chunk)
        if held := self._inflate(b""):  # output held back for want of room
            return held
        raise LayerError("gzip layer ends before its end marker (truncated)")


class Unzstd:
    """zstd, any number of frames, skippable ones included (RFC 8878), read as one stream.

    libzstd's stream reader bounds each read's output; it does not say whether the input ended
    inside a frame, so the frames are followed block by block (a few headers per MiB) to tell
    a truncated layer from a whole one."""

    def __init__(self, head: bytes, read_raw: ReadRaw) -> None:
        self.pending: bytes | None = head
        self.read_raw = read_raw
        self.frames = Frames()
        self.ended = False
        self.reader = zstandard.ZstdDecompressor().stream_reader(
            self, read_size=CHUNK, read_across_frames=True, closefd=False
        )

    def read(self, n: int) -> bytes:
        """The compressed bytes, as libzstd asks for them."""
        if self.pending is not None:
            data, self.pending = self.pending, None
        else:
            data = self.read_raw(n)
        self.ended = not data
        self.frames.feed(data)
        return data

    def next(self) -> bytes | None:
        try:
            data = self.reader.read(CHUNK)
        except zstandard.ZstdError as exc:
            raise LayerError(f"corrupt zstd layer: {exc}") from exc
        if data:
            return data
        if not self.ended or self.frames.broken:
            raise LayerError("corrupt zstd layer: bytes that are not a zstd frame")
        if not self.frames.complete:
            raise LayerError("zstd layer ends inside a frame (truncated)")
        return None


ZSTD_FRAME = 0xFD2FB528
# Frame_Header_Descriptor fields (RFC 8878 3.1.1.1.1): sizes by flag value.
DICT_ID_SIZES = (0, 1, 2, 4)
CONTENT_SIZE_SIZES = (0, 2, 4, 8)  # flag 0 means 1 byte when the frame is a single segment
HEADER_BYTES = {"magic": 4, "skippable": 4, "descriptor": 1, "block": 3}


class Frames:
    """Where a zstd stream is, frame by frame and block by block: only the headers are
    looked at, the rest is counted past."""

    def __init__(self) -> None:
        self.state = "magic"
        self.part = b""
        self.skip = 0
        self.checksum = False
        self.broken = False

    @property
    def complete(self) -> bool:
        return self.state == "magic" and not self.part and not self.skip and not self.broken

    def feed(self, data: bytes) -> None:
        pos, size = 0, len(data)
        while pos < size and not self.broken:
            if self.skip:
                step = min(self.skip, size - pos)
                self.skip -= step
                pos += step
                continue
            if self.state == "block" and not self.part and pos + 3 <= size:
                pos = self._blocks(data, pos)
                continue
            want = HEADER_BYTES[self.state] - len(self.part)
            self.part += data[pos : pos + want]
            pos += want
            if len(self.part) == HEADER_BYTES[self.state]:
                header, self.part = self.part, b""
                self._header(int.from_bytes(header, "little"))

    def _blocks(self, data: bytes, pos: int) -> int:
        """Block headers wholly inside `data`, in a tight loop: a hostile stream of 4-byte
        blocks has a quarter of a million per MiB (the general path costs 4 times as much)."""
        size = len(data)
        while pos + 3 <= size:
            value = data[pos] | data[pos + 1] << 8 | data[pos + 2] << 16
            pos += 3 + (1 if (value >> 1) & 3 == 1 else value >> 3)
            if value & 1:
                pos += 4 if self.checksum else 0
                self.state = "magic"
                break
        if pos > size:
            self.skip, pos = pos - size, size
        return pos

    def _header(self, value: int) -> None:
        if self.state == "magic":
            if value == ZSTD_FRAME:
                self.state = "descriptor"
            elif value & SKIPPABLE_MASK == SKIPPABLE:
                self.state = "skippable"
            else:
                self.broken = True  # libzstd says what is wrong with it
        elif self.state == "skippable":
            self.skip, self.state = value, "magic"
        elif self.state == "descriptor":
            single = bool(value & 0x20)
            size_flag = value >> 6
            self.checksum = bool(value & 0x04)
            self.skip = (
                (0 if single else 1)  # Window_Descriptor
                + DICT_ID_SIZES[value & 0x03]
                + (1 if single and size_flag == 0 else CONTENT_SIZE_SIZES[size_flag])
            )
            self.state = "block"
        else:
            last, kind, size = value & 1, (value >> 1) & 3, value >> 3
            # Raw and compressed blocks hold `size` bytes; an RLE block, one byte repeated.
            self.skip = 1 if kind == 1 else size
            if last:
                self.skip += 4 if self.checksum else 0
                self.state = "magic"
