"""Every limit on reading image data, in one place (docs/limits.md, "Reading images").

An image is untrusted input: a few MiB of gzip can expand to terabytes, a tar header can name a
path of a million components, a manifest can be a sparse file of gigabytes. Each limit below is
far above what a real image needs and low enough that one hostile image costs bounded time and
memory. The sizes a real image may legitimately exceed can be raised with an environment
variable; the others are facts of the formats (or of Linux) and are constants.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from inspector.layers.model import LayerError, LayerRead

KiB, MiB, GiB, TiB = 1 << 10, 1 << 20, 1 << 30, 1 << 40

# Expanded (uncompressed) bytes of one layer. The biggest layers of real Python images (CUDA,
# PyTorch, model weights baked in) are a few GiB; 16 GiB leaves room for them, and reading that
# many bytes takes well under a minute, so a gzip bomb (1000:1 for zeros) costs that at most.
# No compression-ratio guard: real layers hold long runs of zeros (a `useradd` with a high UID
# leaves a sparse /var/log/lastlog that a layer stores in full), so the ratio proves nothing.
MAX_LAYER_SIZE = 16 * GiB
LAYER_SIZE_VAR = "INSPECTOR_MAX_LAYER_SIZE"
# Expanded bytes of all the layers of one image (and of an archive's own tar stream), so a
# hundred layers just under the layer limit cannot take an hour.
MAX_IMAGE_SIZE = 64 * GiB
IMAGE_SIZE_VAR = "INSPECTOR_MAX_IMAGE_SIZE"
# Tar members (files, directories, links, whiteouts) of one image, counting the directories
# the merge adds for members whose parents the tar does not list. Real images have up to a few
# hundred thousand; each costs a few hundred bytes of memory once merged.
MAX_ENTRIES = 2_000_000
ENTRIES_VAR = "INSPECTOR_MAX_ENTRIES"

# A member path or link target longer than Linux's PATH_MAX cannot be unpacked by any engine:
# such a layer is corrupt, and the limit also bounds the directories one deep path implies.
MAX_PATH = 4096
# Bytes of all the paths and link targets of one image (counted as they are read and as the
# merge adds parent directories): 2,000,000 paths of 128 bytes on average. Without it, members
# of 4 KiB paths in distinct deep trees would each add ~2000 parents of ~2 KiB.
MAX_PATH_BYTES = 256 * MiB

# What the reader keeps of small files for the analysers: no file more than this (the largest
# any analyser asks for is a package database of 16 MiB)...
MAX_CAPTURE_FILE = 16 * MiB
# ...and no more than this per layer and per image. A real image captures a few MiB (the dpkg
# database, package metadata, account files, script heads); a layer of thousands of files at
# captured paths would otherwise hold them all in memory.
MAX_CAPTURE_LAYER = 64 * MiB
MAX_CAPTURE_IMAGE = 256 * MiB

# JSON documents of an image: an OCI index, oci-layout, an image manifest or docker's
# manifest.json list a handful of descriptors (a few KiB; an index of every platform is tens of
# KiB); a config holds the history and environment (a few KiB, rarely a few hundred). Parsed,
# JSON can take ~30 times its size ([{},{},...]), so these also bound the parser's memory.
MAX_MANIFEST_JSON = 4 * MiB
MAX_CONFIG_JSON = 8 * MiB
# All the JSON-looking members an image archive holds, kept until the manifest says which are
# needed: a docker save of one image has a config and a few manifests.
MAX_DOCUMENTS = 64 * MiB


class LimitExceeded(LayerError):
    """Image data beyond one of the limits above (the message names it and how to change it)."""


@dataclass(frozen=True)
class Limit:
    """A size limit as in force now: its value and the environment variable that changes it."""

    value: int
    variable: str
    what: str  # "one layer", "one image", ...

    def exceeded(self, subject: str) -> LimitExceeded:
        return LimitExceeded(
            f"{subject} expands beyond {human(self.value)}, the limit on {self.what} "
            f"({self.variable}); set {self.variable} to raise it"
        )


_SIZE = re.compile(r"([0-9]{1,20})\s*([KMGT]?)(?:i?B)?", re.IGNORECASE)
_UNITS = {"": 1, "K": KiB, "M": MiB, "G": GiB, "T": TiB}


def parse_size(text: str) -> int | None:
    """Bytes in "1000", "64MiB", "16G", "512kb" (K, M, G and T are binary, with or without i)."""
    match = _SIZE.fullmatch(text.strip())
    return None if match is None else int(match.group(1)) * _UNITS[match.group(2).upper()]


def _from_env(variable: str, default: int, *, count: bool = False) -> int:
    text = os.environ.get(variable, "").strip()
    if not text:
        return default
    match = _SIZE.fullmatch(text) if not count else re.fullmatch(r"[0-9]{1,20}", text)
    if match is None or int(match.group(1) if not count else text) <= 0:
        shape = "a positive number" if count else "a size in bytes, or with KiB, MiB, GiB or TiB"
        raise LayerError(f"{variable}={text[:40]!r} is not {shape}")
    if count:
        return int(text)
    return parse_size(text) or default


def layer_size() -> Limit:
    return Limit(_from_env(LAYER_SIZE_VAR, MAX_LAYER_SIZE), LAYER_SIZE_VAR, "one layer")


def image_size() -> Limit:
    return Limit(_from_env(IMAGE_SIZE_VAR, MAX_IMAGE_SIZE), IMAGE_SIZE_VAR, "one image")


def max_entries() -> int:
    return _from_env(ENTRIES_VAR, MAX_ENTRIES, count=True)


def too_many_entries(limit: int) -> LimitExceeded:
    return LimitExceeded(
        f"the image has more than {limit:,} files, directories and links ({ENTRIES_VAR}); "
        f"set {ENTRIES_VAR} to raise it"
    )


def too_many_path_bytes() -> LimitExceeded:
    return LimitExceeded(
        f"the image's paths and link targets add up to more than {human(MAX_PATH_BYTES)} "
        "(MAX_PATH_BYTES in inspector/layers/limits.py): not a real image"
    )


def capture_exceeded(what: str, limit: int) -> LimitExceeded:
    return LimitExceeded(
        f"the files the analysers read (package databases, account files, metadata) add up to "
        f"more than {human(limit)} in {what} (MAX_CAPTURE_{what.split()[-1].upper()} in "
        "inspector/layers/limits.py): not a real image"
    )


def human(size: int) -> str:
    for unit, name in ((TiB, "TiB"), (GiB, "GiB"), (MiB, "MiB"), (KiB, "KiB")):
        if size >= unit and size % unit == 0:
            return f"{size // unit} {name}"
    return f"{size:,} bytes"


class ImageBudget:
    """The layers read for one image, tallied against the image-wide limits as each is read
    (a layer's own limits bound how far one layer can overshoot them)."""

    def __init__(self) -> None:
        self.size_limit = image_size()
        self.entry_limit = max_entries()
        self.size = self.entries = self.path_bytes = self.captured = 0

    def add(self, layer: LayerRead) -> None:
        self.size += layer.size
        if self.size > self.size_limit.value:
            raise self.size_limit.exceeded("the image's layers together")
        self.entries += len(layer.entries)
        if self.entries > self.entry_limit:
            raise too_many_entries(self.entry_limit)
        self.path_bytes += sum(len(e.path) + len(e.link or "") for e in layer.entries)
        if self.path_bytes > MAX_PATH_BYTES:
            raise too_many_path_bytes()
        self.captured += sum(len(data) for data in layer.contents.values())
        if self.captured > MAX_CAPTURE_IMAGE:
            raise capture_exceeded("one image", MAX_CAPTURE_IMAGE)
