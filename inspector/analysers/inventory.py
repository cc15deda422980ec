"""Every installed component an advisory could name, with the evidence of where it sits.

OS packages (dpkg, apk) as their databases list them; Python distributions in every location
(each interpreter's and venv's site-packages, PYTHONPATH trees, and distributions a later layer
deleted whose bytes still ship); packages vendored inside pip and setuptools (`vendor.txt`,
`bom.cdx.json`); `ensurepip`'s bundled wheels; native libraries bundled inside wheels
(`*.libs/`) and PEP 770 SBOMs in `.dist-info/sboms/`.

Whether the command can import a component is decided later, once the static probe's sys.path is
known: `reachability(component, import_path)`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Component:
    # The OSV ecosystem the component is matched in: "PyPI", "Debian:12", "Ubuntu:24.04",
    # "Alpine:v3.20"; "" when it cannot be matched (an unknown OS release, a bundled library).
    ecosystem: str
    name: str  # PyPI: normalised as PEP 503 does; OS: the binary package's name
    version: str
    source: str | None  # OS: the source package (dpkg `Source:`, apk origin); None otherwise
    source_version: str | None  # OS: the source package's version
    # "dpkg" | "apk" | "dist-info" | "egg-info" | "vendored" (vendor.txt) | "sbom" (an SBOM
    # shipped in the image) | "wheel" (a .whl file) | "bundled-library" (a .so inside a wheel)
    kind: str
    path: str  # the evidence: the metadata dir, vendor.txt, the SBOM, the wheel, the .so
    layer: int  # the layer that wrote `path` (0-based)
    deleted: bool  # a later layer deleted `path`: not in the container, but its bytes ship
    environment: str | None  # Python: the site-packages (or vendoring package) dir it sits in
    purl: str  # the package URL: pkg:pypi/..., pkg:deb/debian/...?distro=..., pkg:apk/alpine/...


@dataclass(frozen=True)
class Inventory:
    os_ecosystem: str | None  # "Debian:12", "Ubuntu:24.04", "Alpine:v3.20"; None when unknown
    components: tuple[Component, ...]  # sorted by ecosystem, name, version, path
    # The command's sys.path as the layers alone tell it (its interpreter's or venv's
    # site-packages, PYTHONPATH, the working directory for `python -m`); the probe's sys.path,
    # when it ran, replaces this at matching time.
    import_path: tuple[str, ...]
