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


# --- the layer formats real builders write (tests/test_layer_formats.py) ----------------------

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
MEDIA_TYPES = {
    "tar": "application/vnd.oci.image.layer.v1.tar",
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}


def sha256_hex(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def compression_of(blob: bytes) -> str:
    if blob[:2] == GZIP_MAGIC:
        return "gzip"
    skippable = int.from_bytes(blob[:4], "little") & 0xFFFFFFF0 == 0x184D2A50
    return "zstd" if blob[:4] == ZSTD_MAGIC or skippable else "tar"


def uncompressed(blob: bytes) -> bytes:
    """A layer blob's tar, by an implementation other than the one under test (gzip module,
    zstandard's one-shot decoder, which reads frame after frame and skips skippable ones)."""
    if compression_of(blob) == "gzip":
        return gzip.decompress(blob)
    if compression_of(blob) == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj(read_across_frames=True).decompress(blob)
    return blob


def diff_id(blob: bytes) -> str:
    """The digest of a layer blob's uncompressed tar: what the image config lists."""
    return "sha256:" + sha256_hex(uncompressed(blob))


def image_config(blobs: list[bytes], **config: object) -> bytes:
    """An image config for these layer blobs, as a builder writes it (compact JSON)."""
    import json

    return json.dumps({
        "architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
        "config": {"User": "10001", "Cmd": ["python3"], **config},
        "rootfs": {"type": "layers", "diff_ids": [diff_id(blob) for blob in blobs]},
        "history": [{"created_by": f"step {i}"} for i in range(len(blobs))],
    }, separators=(",", ":")).encode()  # fmt: skip


def tarball(files: list[tuple[str, bytes]]) -> bytes:
    """A tar of these files, in this order (the order a writer streams them in matters)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def kaniko_archive(blobs: list[bytes], *, manifest_first: bool = False) -> bytes:
    """A tarball as go-containerregistry's tarball.Write (kaniko, crane) writes it: the config
    named `sha256:<hex>` (no .json), each layer `<hex of the blob>.tar.gz` (`.tar` when
    uncompressed, `.tar.zst` for zstd), manifest.json last, its Config and Layers entries
    being those paths."""
    import json

    cfg = image_config(blobs)
    config_name = f"sha256:{sha256_hex(cfg)}"
    names = [
        sha256_hex(blob)
        + {"gzip": ".tar.gz", "zstd": ".tar.zst", "tar": ".tar"}[compression_of(blob)]
        for blob in blobs
    ]
    manifest = json.dumps(
        [{"Config": config_name, "RepoTags": ["registry.test/app:1"], "Layers": names}]
    ).encode()
    files = [(config_name, cfg), *zip(names, blobs, strict=True)]
    if manifest_first:
        return tarball([("manifest.json", manifest), *files])
    return tarball([*files, ("manifest.json", manifest)])


def oci_layout(blobs: list[bytes], *, tag: str = "1") -> dict[str, bytes]:
    """The files of an OCI image layout holding one image of these layer blobs, each blob's
    media type told from its first bytes (tar, tar+gzip, tar+zstd)."""
    import json

    cfg = image_config(blobs)
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": f"sha256:{sha256_hex(cfg)}", "size": len(cfg)},
        "layers": [{"mediaType": MEDIA_TYPES[compression_of(blob)],
                    "digest": f"sha256:{sha256_hex(blob)}", "size": len(blob)} for blob in blobs],
    }).encode()  # fmt: skip
    index = json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": f"sha256:{sha256_hex(manifest)}", "size": len(manifest),
        "annotations": {"io.containerd.image.name": f"registry.test/app:{tag}",
                        "org.opencontainers.image.ref.name": tag}}]}).encode()  # fmt: skip
    files = {f"blobs/sha256/{sha256_hex(blob)}": blob for blob in blobs}
    files[f"blobs/sha256/{sha256_hex(cfg)}"] = cfg
    files[f"blobs/sha256/{sha256_hex(manifest)}"] = manifest
    files["index.json"] = index
    files["oci-layout"] = b'{"imageLayoutVersion":"1.0.0"}'
    return files


def docker25_archive(blobs: list[bytes]) -> bytes:
    """`docker save` of Docker 25 and later: an OCI image layout (blobs first, as Docker writes
    them), plus the legacy manifest.json, whose Config and Layers point at blobs, and
    `repositories`."""
    import json

    files = oci_layout(blobs)
    pointer = json.loads(files["index.json"])["manifests"][0]["digest"]
    manifest = json.loads(files["blobs/sha256/" + pointer.split(":")[1]])
    legacy = json.dumps([{
        "Config": "blobs/sha256/" + manifest["config"]["digest"].split(":")[1],
        "RepoTags": ["registry.test/app:1"],
        "Layers": ["blobs/sha256/" + each["digest"].split(":")[1] for each in manifest["layers"]],
    }]).encode()  # fmt: skip
    repositories = json.dumps({"registry.test/app": {"1": manifest["config"]["digest"]}}).encode()
    blobs_first = sorted(files.items(), key=lambda item: not item[0].startswith("blobs/"))
    return tarball([*blobs_first, ("manifest.json", legacy), ("repositories", repositories)])


def estargz_layer(raw_tar: bytes, *, chunk: int = 4 << 20) -> bytes:
    """An eStargz blob of the entries of `raw_tar` (github.com/containerd/stargz-snapshotter,
    docs/estargz.md): each entry's header and data in a gzip member of its own, a regular
    file's data cut into `chunk`-byte chunks each in its own member, the table of contents as
    a tar entry `stargz.index.json` in the last member but one (with the tar's end blocks), and
    the 51-byte footer member whose gzip extra field ("SG") gives the TOC's offset."""
    import json
    import struct

    members: list[bytes] = []
    toc: list[dict] = []
    offset = 0

    def add(data: bytes) -> int:
        nonlocal offset
        start = offset
        member = gzip.compress(data, mtime=0)
        members.append(member)
        offset += len(member)
        return start

    with tarfile.open(fileobj=io.BytesIO(raw_tar), mode="r:") as tar:
        for info in tar:
            header = info.tobuf(format=tarfile.PAX_FORMAT)
            data = b""
            if info.isreg():
                data = tar.extractfile(info).read()  # type: ignore[union-attr]
            kind = {tarfile.DIRTYPE: "dir", tarfile.SYMTYPE: "symlink"}.get(info.type, "reg")
            entry = {"name": info.name, "type": kind, "mode": info.mode, "uid": info.uid,
                     "gid": info.gid}  # fmt: skip
            if not info.isreg() or not data:
                entry["offset"] = add(header)
                toc.append(entry)
                continue
            padded = data + bytes(-len(data) % tarfile.BLOCKSIZE)
            entry.update(size=len(data), digest="sha256:" + sha256_hex(data))
            for start in range(0, len(data), chunk):
                piece = padded[start : start + chunk]
                if start + chunk >= len(data):
                    piece = padded[start:]  # the last chunk carries the tar padding
                at = add((header if start == 0 else b"") + piece)
                part = dict(entry) if start == 0 else {"name": info.name, "type": "chunk"}
                part.update(
                    offset=at,
                    chunkOffset=start,
                    chunkSize=min(chunk, len(data) - start),
                    chunkDigest="sha256:" + sha256_hex(data[start : start + chunk]),
                )
                toc.append(part)
    toc_json = json.dumps({"version": 1, "entries": toc}).encode()
    toc_info = tarfile.TarInfo("stargz.index.json")
    toc_info.size = len(toc_json)
    toc_tar = toc_info.tobuf(format=tarfile.PAX_FORMAT) + toc_json
    toc_tar += bytes(-len(toc_json) % tarfile.BLOCKSIZE) + bytes(2 * tarfile.BLOCKSIZE)
    toc_offset = add(toc_tar)
    payload = b"%016xSTARGZ" % toc_offset
    extra = b"SG" + struct.pack("<H", len(payload)) + payload
    footer = (
        b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff"  # gzip header, FEXTRA set
        + struct.pack("<H", len(extra)) + extra
        + b"\x01\x00\x00\xff\xff"  # one empty stored block, final
        + bytes(8)  # CRC32 and size of nothing
    )  # fmt: skip
    assert len(footer) == 51
    return b"".join(members) + footer


def zstd_layer(raw_tar: bytes, *, frames: int = 1, skippable: bool = False) -> bytes:
    """`raw_tar` zstd-compressed in `frames` frames (as a parallel or streaming writer cuts
    them), with skippable frames before, between and after them when `skippable`."""
    import struct

    import zstandard

    squeeze = zstandard.ZstdCompressor(level=3, write_checksum=True)
    step = -(-len(raw_tar) // frames)
    pieces = [raw_tar[i : i + step] for i in range(0, len(raw_tar), step)]

    def skip(n: int) -> bytes:
        magic = 0x184D2A50 + n % 16
        return struct.pack("<II", magic, 8 + n) + b"metadata" + bytes(n)

    out = [skip(0)] if skippable else []
    for i, piece in enumerate(pieces):
        out.append(squeeze.compress(piece))
        if skippable:
            out.append(skip(i + 1))
    return b"".join(out)


def zstd_bomb(name: str, size: int) -> bytes:
    """A zstd layer of one file `name` of `size` zero bytes (a multiple of 128 KiB), written
    block by block without compressing anything: the tar header in a raw block, then one RLE
    block (4 bytes: 128 KiB of one byte) per 128 KiB. No end: a bounded reader never gets there."""
    import struct

    info = tarfile.TarInfo(name)
    info.size, info.mode = size, 0o644
    header = info.tobuf(format=tarfile.GNU_FORMAT)
    block = 128 << 10

    def block_header(last: int, kind: int, size: int) -> bytes:
        return struct.pack("<I", last | kind << 1 | size << 3)[:3]

    # Frame header: no checksum, no content size, a 128 KiB window (exponent 17 - 10 = 7).
    frame = ZSTD_MAGIC + b"\x00" + bytes([7 << 3])
    raw = block_header(0, 0, len(header)) + header
    rle = block_header(0, 1, block) + b"\x00"
    return frame + raw + rle * (size // block)
