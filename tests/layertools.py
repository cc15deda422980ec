"""Build layer tars in memory for tests: `layer(("etc/passwd", b"root:x:0:0"), ("usr/", None))`."""

from __future__ import annotations

import gzip
import io
import tarfile

GZIP_MAGIC = b"\x1f\x8b"


def layer(*members: tuple, compress: bool = False) -> bytes:
    """Each member is (name, data) for a file, (name, None) for a dir ending in '/',
    (name, "->target") for a symlink, or (name, data, {"uid": 0, "mode": 0o4755, ...})."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            name, data, *rest = member
            attrs = rest[0] if rest else {}
            info = tarfile.TarInfo(name.rstrip("/") if name != "/" else ".")
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
            elif isinstance(data, str) and data.startswith("->"):
                info.type = tarfile.SYMTYPE
                info.linkname = data[2:]
            elif isinstance(data, str) and data.startswith("=>"):
                info.type = tarfile.LNKTYPE
                info.linkname = data[2:]
            else:
                info.size = len(data)
                info.mode = 0o644
            pax = attrs.pop("pax", None)
            for key, value in attrs.items():
                setattr(info, key, value)
            if pax:
                info.pax_headers = pax
            payload = io.BytesIO(data) if isinstance(data, bytes) else None
            tar.addfile(info, payload)
    raw = out.getvalue()
    return gzip.compress(raw) if compress else raw


def image_archive(
    layers: list[bytes],
    layout: str = "docker",
    *,
    history: list[dict] | None = None,
    config: dict | None = None,
    drop_layer: int | None = None,
    raw: dict | None = None,
    diff_ids: list[str] | None = None,
) -> bytes:
    """A whole image archive: `docker save`'s legacy layout, or an OCI layout ("oci").

    `diff_ids`, when given, are written as they are instead of hashing each layer (a gzip bomb
    is not decompressed to build its archive)."""
    import hashlib
    import json

    def sha(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    def unpacked(raw: bytes) -> bytes:
        return gzip.decompress(raw) if raw[:2] == GZIP_MAGIC else raw

    if diff_ids is None:
        diff_ids = [f"sha256:{sha(unpacked(raw))}" for raw in layers]
    cfg = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2026-01-01T00:00:00Z",
        "config": {"User": "10001", "Cmd": ["python3"], **(config or {})},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history or [{"created_by": f"step {i}"} for i in range(len(layers))],
        **(raw or {}),  # top-level keys as given, well-formed or not
    }
    cfg_bytes = json.dumps(cfg).encode()
    files: dict[str, bytes] = {}
    if layout == "docker":
        names = []
        for i, raw in enumerate(layers):
            name = f"{sha(raw + bytes([i]))}/layer.tar"
            names.append(name)
            if i != drop_layer:
                files[name] = raw
        files[f"{sha(cfg_bytes)}.json"] = cfg_bytes
        files["manifest.json"] = json.dumps(
            [{"Config": f"{sha(cfg_bytes)}.json", "RepoTags": ["t/app:1"], "Layers": names}]
        ).encode()
    else:
        descriptors = []
        for i, raw in enumerate(layers):
            media = "application/vnd.oci.image.layer.v1.tar"
            media += "+gzip" if raw[:2] == GZIP_MAGIC else ""
            descriptors.append(
                {"mediaType": media, "digest": f"sha256:{sha(raw)}", "size": len(raw)}
            )
            if i != drop_layer:
                files[f"blobs/sha256/{sha(raw)}"] = raw
        files[f"blobs/sha256/{sha(cfg_bytes)}"] = cfg_bytes
        manifest = json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": f"sha256:{sha(cfg_bytes)}", "size": len(cfg_bytes)},
            "layers": descriptors,
        }).encode()  # fmt: skip
        files[f"blobs/sha256/{sha(manifest)}"] = manifest
        files["index.json"] = json.dumps({"schemaVersion": 2, "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json",
             "digest": f"sha256:{sha(manifest)}", "size": len(manifest)}]}).encode()  # fmt: skip
        files["oci-layout"] = b'{"imageLayoutVersion": "1.0.0"}'
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def gzip_bomb(name: str, size: int, *, block: int = 1 << 20) -> bytes:
    """A gzip'd layer holding one file `name` of `size` zero bytes (a multiple of `block`),
    built without compressing `size` bytes: after a full flush the deflate output for each
    block of zeros is the same, so it is computed once and repeated. The gzip trailer is left
    out (a reader bounded by a limit never gets there; an unbounded one fails late)."""
    import zlib

    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    header = info.tobuf(format=tarfile.GNU_FORMAT)
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(block)
    head = squeeze.compress(header) + squeeze.flush(zlib.Z_FULL_FLUSH)
    first = squeeze.compress(zeros) + squeeze.flush(zlib.Z_FULL_FLUSH)
    repeated = squeeze.compress(zeros) + squeeze.flush(zlib.Z_FULL_FLUSH)
    return head + first + repeated * (size // block - 1)


def zero_files_layer(
    files: list[tuple[str, int]], *, block: int = 1 << 16, trailer: bool = True
) -> bytes:
    """A gzip'd layer of files of zero bytes, `(name, size)` each with `size` a multiple of
    `block`: each header is deflated on its own and each block of zeros is the one deflated
    block repeated (a full flush makes every segment independent), so a layer of gigabytes is
    built in a fraction of a second. With `trailer`, the end is valid (computing its CRC reads
    every byte once); without, the stream stops short, as a bomb no reader should finish."""
    import struct
    import zlib

    squeeze = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = squeeze.compress(bytes(block)) + squeeze.flush(zlib.Z_FULL_FLUSH)
    out = [b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"]
    crc = total = 0
    for name, size in files:
        info = tarfile.TarInfo(name)
        info.size, info.mode = size, 0o644
        header = info.tobuf(format=tarfile.PAX_FORMAT)
        out.append(squeeze.compress(header) + squeeze.flush(zlib.Z_FULL_FLUSH))
        out.append(zeros * (size // block))
        total += len(header) + size
        if trailer:
            crc = zlib.crc32(header, crc)
            for _ in range(size // block):
                crc = zlib.crc32(bytes(block), crc)
    if not trailer:
        return b"".join(out)
    end = bytes(1024)
    out.append(squeeze.compress(end) + squeeze.flush())
    crc, total = zlib.crc32(end, crc), total + len(end)
    out.append(struct.pack("<II", crc & 0xFFFFFFFF, total & 0xFFFFFFFF))
    return b"".join(out)
