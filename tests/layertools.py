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
) -> bytes:
    """A whole image archive: `docker save`'s legacy layout, or an OCI layout ("oci")."""
    import hashlib
    import json

    def sha(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    def unpacked(raw: bytes) -> bytes:
        return gzip.decompress(raw) if raw[:2] == GZIP_MAGIC else raw

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
