"""Stored layers for tests: a layer tar turned into what Docker's overlay2 driver keeps of it, a
diff directory of files and a tar-split record of the tar's headers (gzip JSON lines)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

from inspector.layers.stored import StoredLayer


def tar_split_records(tar: bytes) -> list[dict]:
    """The records tar-split keeps of `tar`: raw bytes between file data as segments, and one
    file entry (name, size) per member, as its asm.NewInputTarStream writes them."""
    records: list[dict] = []
    position = 0
    done = 0
    with tarfile.open(fileobj=io.BytesIO(tar), mode="r:") as archive:
        for member in archive:
            head = base64.b64encode(tar[done : member.offset_data]).decode()
            records.append({"type": 2, "payload": head, "position": position})
            size = member.size if member.isreg() else 0
            records.append({"type": 1, "name": member.name, "size": size, "position": position + 1})
            position += 2
            done = member.offset_data + size
    records.append(
        {"type": 2, "payload": base64.b64encode(tar[done:]).decode(), "position": position}
    )
    return records


def write_tar_split(path: Path, records: list[dict]) -> Path:
    path.write_bytes(gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in records)))
    return path


def stored_layer(tmp_path: Path, tar: bytes, *, with_tar_split: bool = True) -> StoredLayer:
    """The layer `tar` as overlay2 stores it: regular files' data unpacked in a diff directory
    (other members as empty files: the replay never opens them), and its tar-split."""
    diff = tmp_path / "diff"
    diff.mkdir()
    with tarfile.open(fileobj=io.BytesIO(tar), mode="r:") as archive:
        for member in archive:
            target = diff / member.name.lstrip("/")
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif member.isreg():
                target.parent.mkdir(parents=True, exist_ok=True)
                source = archive.extractfile(member)
                assert source is not None
                target.write_bytes(source.read())
    split = write_tar_split(tmp_path / "tar-split.json.gz", tar_split_records(tar)) \
        if with_tar_split else None  # fmt: skip
    return StoredLayer("sha256:" + hashlib.sha256(tar).hexdigest(), diff, split)


def replace_with_fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)
