"""Build layer tars in memory for tests: `layer(("etc/passwd", b"root:x:0:0"), ("usr/", None))`."""

from __future__ import annotations

import gzip
import io
import tarfile


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
