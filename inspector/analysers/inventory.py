"""Every installed component an advisory could name, with the evidence of where it sits.

OS packages (dpkg, apk) as their databases list them; Python distributions in every location
(each interpreter's and venv's site-packages, PYTHONPATH trees, and distributions a later layer
deleted whose bytes still ship); packages vendored inside pip and setuptools (`vendor.txt`,
`bom.cdx.json`); `ensurepip`'s bundled wheels; native libraries bundled inside wheels
(`*.libs/`) and PEP 770 SBOMs in `.dist-info/sboms/`.

Whether the command can import a component is decided later, once the static probe's sys.path is
known: `reachability(component, import_path)`.

What is reused rather than read again: the OS packages come from the ospackages analyser, the
visible distributions, interpreters, venvs and the command's interpreter from the python
analyser, the release from osinfo and the user's home from users. What only this module needs
(pip's `vendor.txt` and `bom.cdx.json`, PEP 770 SBOMs) is captured through `wants`, with caps.

Decisions, each a one-liner a reader may want to argue with:
- Debian testing/sid has no VERSION_ID: `debian_version` ("trixie/sid", "13.1") names the release
  it will become, so it is matched as that release ("Debian:13"); a codename we do not know is "".
- `egg` distributions (an `.egg` directory) have kind "egg-info": the same setuptools metadata.
- A bundled library's name and version come from its file name (`libssl-0331cd6b.so.3` is
  "libssl" at "3"): auditwheel sets the SONAME to the file name it writes, so reading the ELF
  would tell nothing more. That version is the soname's ABI version, not the upstream release.
- An SBOM's components keep the SBOM's own name for them; a PyPI purl's name is PEP 503 normalised.
- Versions replaced in place (the same path rewritten by a later layer) are not listed: only
  evidence whose path no longer exists in the container counts as deleted.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from packageurl import PackageURL

from inspector.analysers import osinfo as osinfo_analyser
from inspector.analysers import ospackages as ospackages_analyser
from inspector.analysers import python as python_analyser
from inspector.analysers import users as users_analyser
from inspector.analysers.imagedata import ImageData
from inspector.layers.model import DIR, FILE, HARDLINK
from inspector.layers.overlay import REPLACED, Version

# What this module captures itself (the python analyser already captures METADATA / PKG-INFO).
VENDOR_TXT_CAP = 64 * 1024  # pip's is about 1 KiB
SBOM_CAP = 512 * 1024  # pip's bom.cdx.json is about 20 KiB
# However many an image or one file holds, this many at most are listed (a hostile image cannot
# make the facts grow without bound).
MAX_PER_FILE = 1000
MAX_COMPONENTS = 20_000

# The reachability words, the same strings as `inspector.advisories.model` (which sits above the
# analysers, so they are spelt here too; a test holds both equal).
IMPORTABLE = "importable"
NOT_IMPORTABLE = "not-importable"
DELETED = "deleted"
INSTALLED = "installed"

DPKG, APK = "dpkg", "apk"
DIST_INFO, EGG_INFO = "dist-info", "egg-info"
VENDORED, SBOM, WHEEL, BUNDLED = "vendored", "sbom", "wheel", "bundled-library"
PYPI = "PyPI"
OS_KINDS = frozenset({DPKG, APK})

_SITE_DIRS = ("site-packages", "dist-packages")
# pip's `_vendor/vendor.txt`; setuptools before 70 wrote `_vendor/vendored.txt` (same format).
_VENDOR_LISTS = ("vendor.txt", "vendored.txt")
# Where Debian keeps the wheels its venv module installs pip from (python3-pip-whl).
_DEBIAN_WHEELS = "/usr/share/python-wheels"
_DEBIAN_CODENAMES = {
    "buster": "10",
    "bullseye": "11",
    "bookworm": "12",
    "trixie": "13",
    "forky": "14",
    "duke": "15",
}
_VENDOR_LINE = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*==\s*([^\s;#]+)")
_WHEEL_NAME = re.compile(r"(?P<name>[^-]+)-(?P<version>[^-]+)(?:-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl")
# auditwheel: `libssl-0331cd6b.so.3`, `libgfortran-040039e1.so.5.0.0`; plain `libfoo.so.1` too.
_SONAME = re.compile(r"(?P<name>.+?)(?:-[0-9a-f]{8})?\.so(?:\.(?P<version>[0-9][0-9A-Za-z.]*))?")
_MINOR = re.compile(r"(\d+)\.(\d+)")
_NORMALIZE = re.compile(r"[-_.]+")


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


# --- capture --------------------------------------------------------------------------------


def wants(path: str, size: int) -> int | None:
    slash = path.rfind("/")
    name = path[slash + 1 :]
    parent = path[:slash]
    if parent.endswith("/_vendor"):
        if name in _VENDOR_LISTS:
            return VENDOR_TXT_CAP
        if name == "bom.cdx.json":
            return SBOM_CAP
    elif parent.endswith("/sboms") and parent[: -len("/sboms")].endswith(".dist-info"):
        return SBOM_CAP
    return None


# --- the analysis ---------------------------------------------------------------------------


def analyse(
    data: ImageData,
    *,
    osinfo: osinfo_analyser.OsInfo | None = None,
    ospackages: ospackages_analyser.OsPackages | None = None,
    python: python_analyser.PythonFacts | None = None,
    users: users_analyser.UserFacts | None = None,
) -> Inventory:
    """The other analysers' results may be passed in when the caller has them (no second scan)."""
    osinfo = osinfo if osinfo is not None else osinfo_analyser.analyse(data)
    ospackages = ospackages if ospackages is not None else ospackages_analyser.analyse(data)
    python = python if python is not None else python_analyser.analyse(data)
    users = users if users is not None else users_analyser.analyse(data)
    ecosystem = os_ecosystem(
        osinfo.id, osinfo.version_id, osinfo.debian_version, osinfo.alpine_release
    )
    components = list(_os_components(data, osinfo, ospackages, ecosystem))
    components += _visible_distributions(data, python)
    components += _scanned(data, python)
    unique = {(c.kind, c.path, c.name, c.version): c for c in components}
    ordered = sorted(unique.values(), key=lambda c: (c.ecosystem, c.name, c.version, c.path))
    return Inventory(
        os_ecosystem=ecosystem or None,
        components=tuple(ordered[:MAX_COMPONENTS]),
        import_path=static_import_path(data, python, users),
    )


# --- OS packages ----------------------------------------------------------------------------


def os_ecosystem(
    os_id: str | None,
    version_id: str | None,
    debian_version: str | None = None,
    alpine_release: str | None = None,
) -> str:
    """The OSV ecosystem of an OS release: "Debian:12", "Ubuntu:24.04", "Alpine:v3.20"; "" unknown.

    Debian testing and sid carry no VERSION_ID: `/etc/debian_version` says "13.1" on a point
    release and "trixie/sid" on testing, which is matched as the release it will become.
    """
    os_id = (os_id or "").strip().lower()
    version_id = (version_id or "").strip()
    if os_id == "debian":
        major = version_id.split(".")[0] if version_id else ""
        if not major.isdigit():
            major = _debian_major(debian_version or "")
        return f"Debian:{major}" if major else ""
    if os_id == "ubuntu":
        match = _MINOR.match(version_id)
        return f"Ubuntu:{match.group(1)}.{match.group(2)}" if match else ""
    if os_id == "alpine" or (not os_id and alpine_release):
        match = _MINOR.match(version_id or (alpine_release or "").strip())
        return f"Alpine:v{match.group(1)}.{match.group(2)}" if match else ""
    return ""


def _debian_major(debian_version: str) -> str:
    text = debian_version.strip().lower()
    head = text.split(".")[0]
    if head.isdigit():
        return head
    return _DEBIAN_CODENAMES.get(text.split("/")[0], "")


def os_purl(
    manager: str,
    os_id: str | None,
    version_id: str | None,
    package: Any,
    distro_release: str | None = None,
) -> str:
    """pkg:deb/debian/NAME@VERSION?arch=amd64&distro=debian-12, pkg:apk/alpine/NAME@VERSION?..."""
    kind = "deb" if manager == DPKG else "apk"
    namespace = (os_id or "").lower() or ("debian" if kind == "deb" else "alpine")
    qualifiers: dict[str, str] = {}
    if package.architecture:
        qualifiers["arch"] = package.architecture
    release = version_id or distro_release
    if release:
        qualifiers["distro"] = f"{namespace}-{release}"
    if package.source and (
        package.source != package.name or package.source_version != package.version
    ):
        upstream = package.source
        if package.source_version != package.version:
            upstream += f"@{package.source_version}"
        qualifiers["upstream"] = upstream
    return PackageURL(
        type=kind,
        namespace=namespace,
        name=package.name,
        version=package.version,
        qualifiers=qualifiers,
    ).to_string()


def _os_components(
    data: ImageData,
    osinfo: osinfo_analyser.OsInfo,
    ospackages: ospackages_analyser.OsPackages,
    ecosystem: str,
) -> Iterator[Component]:
    release = ecosystem.partition(":")[2].removeprefix("v") or None
    installed_in = _install_layers(data)
    status_d = _status_d_files(data)
    for package in ospackages.packages:
        if package.manager == DPKG and (package.name, package.architecture) in status_d:
            path, layer = status_d[(package.name, package.architecture)]
        else:
            path = (
                ospackages_analyser.DPKG_STATUS
                if package.manager == DPKG
                else ospackages_analyser.APK_INSTALLED
            )
            version = data.fs.visible.get(path)
            layer = installed_in.get(
                (package.manager, package.name, package.architecture, package.version),
                version.layer if version else 0,
            )
        yield Component(
            ecosystem=ecosystem,
            name=package.name,
            version=package.version,
            source=package.source,
            source_version=package.source_version,
            kind=package.manager,
            path=path,
            layer=layer,
            deleted=False,
            environment=None,
            purl=os_purl(package.manager, osinfo.id, osinfo.version_id, package, release),
        )


def _install_layers(data: ImageData) -> dict[tuple[str, str, str | None, str], int]:
    """(manager, name, arch, version) -> the first layer of the unbroken run of database
    versions that list the package at that version: the layer that installed or upgraded it."""
    found: dict[tuple[str, str, str | None, str], int] = {}
    for path, manager, parse in (
        (ospackages_analyser.DPKG_STATUS, DPKG, ospackages_analyser.parse_dpkg),
        (ospackages_analyser.APK_INSTALLED, APK, ospackages_analyser.parse_apk),
    ):
        previous: set[tuple[str, str, str | None, str]] = set()
        for version in data.fs.history.get(path, ()):
            if version.entry.kind not in (FILE, HARDLINK):
                continue
            content = data.content_of(version)
            if content is None:
                continue
            text = content.decode("utf-8", "replace")
            listed = {
                (manager, p.name, p.architecture, p.version)
                for p in parse(text, truncated=len(content) < version.entry.size)
            }
            for key in listed - previous:
                found[key] = version.layer
            previous = listed
    return found


def _status_d_files(data: ImageData) -> dict[tuple[str, str | None], tuple[str, int]]:
    """Distroless: (name, arch) -> (the status.d file listing it, the layer that wrote it)."""
    out: dict[tuple[str, str | None], tuple[str, int]] = {}
    for child in data.fs.children(ospackages_analyser.DPKG_STATUS_D):
        version = data.fs.visible.get(child)
        if version is None or ospackages_analyser.wants(child, 0) is None:
            continue
        content = data.content_of(version)
        if content is None:
            continue
        text = content.decode("utf-8", "replace")
        for package in ospackages_analyser.parse_dpkg(text, require_status=False):
            out[(package.name, package.architecture)] = (child, version.layer)
    return out


# --- Python distributions -------------------------------------------------------------------


def normalize(name: str) -> str:
    """A Python project name as PEP 503 compares it."""
    return _NORMALIZE.sub("-", name).lower()


def pypi_purl(name: str, version: str) -> str:
    return PackageURL(type="pypi", name=normalize(name), version=version or None).to_string()


def _python_component(
    name: str,
    version: str | None,
    kind: str,
    path: str,
    layer: int,
    environment: str | None,
    *,
    deleted: bool = False,
) -> Component:
    return Component(
        PYPI,
        normalize(name),
        version or "",
        None,
        None,
        kind,
        path,
        layer,
        deleted,
        environment,
        pypi_purl(name, version or ""),
    )


def _visible_distributions(
    data: ImageData, python: python_analyser.PythonFacts
) -> Iterator[Component]:
    for dist in python.packages:
        kind = DIST_INFO if dist.metadata_format == DIST_INFO else EGG_INFO
        layer = _metadata_layer(data, dist.metadata, dist.layer)
        yield _python_component(dist.name, dist.version, kind, dist.metadata, layer, dist.location)


def _scanned(data: ImageData, python: python_analyser.PythonFacts) -> list[Component]:
    """One pass over every path the image ever held: deleted distributions, vendored packages,
    SBOMs, wheels and bundled libraries, visible or deleted."""
    roots = _pythonpath_roots(data)
    out: list[Component] = []
    for path, versions in data.fs.history.items():
        if len(out) >= MAX_COMPONENTS:
            break
        slash = path.rfind("/")
        name, parent = path[slash + 1 :], path[:slash] or "/"
        found = _evidence(name, parent, roots)
        if found is None:
            continue
        visible = data.fs.visible.get(path)
        if found == DIST_INFO and visible is not None:
            continue  # the python analyser lists it (python.packages)
        version = visible if visible is not None else _last_deleted(versions)
        if version is None:
            continue
        layer = written_in(versions, version)
        out += _components_of(data, path, found, version, layer, deleted=visible is None)
    return out


def _evidence(name: str, parent: str, roots: frozenset[str]) -> str | None:
    """What kind of evidence a path is by its name alone (cheap: called for every path)."""
    parent_name = parent[parent.rfind("/") + 1 :]
    if name.endswith((".dist-info", ".egg-info")):
        if parent_name == "_vendor":
            return VENDORED
        if parent_name in _SITE_DIRS or parent in roots or "/__pypackages__/" in parent:
            return DIST_INFO
        return None
    if parent_name == "_vendor":
        return VENDORED if name in _VENDOR_LISTS else SBOM if name == "bom.cdx.json" else None
    if parent_name == "sboms" and parent.endswith(".dist-info/sboms"):
        return SBOM
    if name.endswith(".whl") and (
        parent.endswith("/ensurepip/_bundled") or parent == _DEBIAN_WHEELS
    ):
        return WHEEL
    if parent_name.endswith(".libs") and ".so" in name:
        # auditwheel's `<dist>.libs/` beside the packages (older ones: `<package>/.libs/`);
        # libtool's `.libs/` in a build tree is no wheel's.
        site = _site_of_libs(parent)
        site_name = site[site.rfind("/") + 1 :]
        return BUNDLED if site_name in _SITE_DIRS or site in roots else None
    return None


def _site_of_libs(libs_dir: str) -> str:
    """The directory a wheel's libraries dir was installed into."""
    site = posixpath.dirname(libs_dir)
    return posixpath.dirname(site) if posixpath.basename(libs_dir) == ".libs" else site


def _last_deleted(versions: Sequence[Version]) -> Version | None:
    removed = [v for v in versions if v.removed_in is not None]
    return removed[-1] if removed else None


def _components_of(
    data: ImageData, path: str, kind: str, version: Version, layer: int, *, deleted: bool
) -> list[Component]:
    parent = posixpath.dirname(path)
    name = posixpath.basename(path)
    if kind in (DIST_INFO, VENDORED) and name.endswith((".dist-info", ".egg-info")):
        raw = _metadata_head(data, path, version)
        dist_name, dist_version = python_analyser.metadata_name(raw, path)
        fmt = DIST_INFO if name.endswith(".dist-info") else EGG_INFO
        layer = _metadata_layer(data, path, version.layer)
        return [
            _python_component(
                dist_name,
                dist_version,
                fmt if kind == DIST_INFO else VENDORED,
                path,
                layer,
                parent,
                deleted=deleted,
            )
        ]
    if version.entry.kind not in (FILE, HARDLINK):
        return []
    if kind == VENDORED:
        text = (data.content_of(version) or b"").decode("utf-8", "replace")
        return [
            _python_component(n, v, VENDORED, path, layer, parent, deleted=deleted)
            for n, v in parse_vendor_txt(text)
        ]
    if kind == SBOM:
        # pip's bom.cdx.json describes pip/_vendor; a PEP 770 SBOM what its distribution bundles,
        # which sits in the distribution's own site-packages.
        environment = (
            parent if name == "bom.cdx.json" else posixpath.dirname(posixpath.dirname(parent))
        )
        # A PEP 770 SBOM lists its own distribution too: that one is the dist-info's component.
        itself = (
            ""
            if name == "bom.cdx.json"
            else normalize(python_analyser.metadata_name(None, posixpath.dirname(parent))[0])
        )
        components = [
            _sbom_component(purl, path, layer, environment, deleted=deleted)
            for purl in parse_sbom(data.content_of(version) or b"")
        ]
        return [c for c in components if not (c.ecosystem == PYPI and c.name == itself)]
    if kind == WHEEL:
        parsed = parse_wheel_name(name)
        return (
            [_python_component(parsed[0], parsed[1], WHEEL, path, layer, parent, deleted=deleted)]
            if parsed
            else []
        )
    parsed = parse_soname(name)
    if parsed is None:
        return []
    lib_name, lib_version = parsed
    purl = PackageURL(type="generic", name=lib_name, version=lib_version or None).to_string()
    return [
        Component(
            "",
            lib_name,
            lib_version,
            None,
            None,
            BUNDLED,
            path,
            layer,
            deleted,
            _site_of_libs(parent),
            purl,
        )
    ]


def _metadata_head(data: ImageData, path: str, version: Version) -> bytes | None:
    """METADATA / PKG-INFO of a metadata dir (or an egg-info file), visible or deleted."""
    if version.entry.kind in (FILE, HARDLINK):
        return data.content_of(version)
    for inner in ("METADATA", "PKG-INFO"):
        versions = data.fs.history.get(f"{path}/{inner}")
        if versions:
            return data.content_of(versions[-1])
    return None


def _metadata_layer(data: ImageData, path: str, default: int) -> int:
    """The layer that installed the metadata's last version (its dir entry, and the files
    themselves after a `chown -R`, are re-added by later layers)."""
    for inner in ("METADATA", "PKG-INFO"):
        versions = data.fs.history.get(f"{path}/{inner}")
        if versions:
            return written_in(versions, versions[-1])
    return default


def written_in(versions: Sequence[Version], version: Version) -> int:
    """The layer that first wrote this content: a later layer that only re-adds the same file
    (same size and mtime: what `chown -R` and `chmod -R` do) did not install it."""
    index = next((i for i, v in enumerate(versions) if v is version), None)
    if index is None:
        return version.layer
    layer = version.layer
    while index > 0:
        before = versions[index - 1]
        if before.removal != REPLACED or (before.entry.size, before.entry.mtime) != (
            versions[index].entry.size,
            versions[index].entry.mtime,
        ):
            break
        index -= 1
        layer = before.layer
    return layer


def _sbom_component(
    purl: str, path: str, layer: int, environment: str, *, deleted: bool
) -> Component:
    parsed = PackageURL.from_string(purl)
    if parsed.type == "pypi":
        name = normalize(parsed.name)
        return Component(
            PYPI,
            name,
            parsed.version or "",
            None,
            None,
            SBOM,
            path,
            layer,
            deleted,
            environment,
            pypi_purl(name, parsed.version or ""),
        )
    return Component(
        "",
        parsed.name,
        parsed.version or "",
        None,
        None,
        SBOM,
        path,
        layer,
        deleted,
        environment,
        parsed.to_string(),
    )


def _pythonpath_roots(data: ImageData) -> frozenset[str]:
    return frozenset(
        posixpath.normpath(p)
        for p in data.config.env.get("PYTHONPATH", "").split(":")
        if p.startswith("/")
    )


# --- parsers (pure) -------------------------------------------------------------------------


def parse_vendor_txt(text: str) -> list[tuple[str, str]]:
    """`name==version` lines of pip's `_vendor/vendor.txt` or setuptools' `vendored.txt`
    (comments and other lines skipped)."""
    out: list[tuple[str, str]] = []
    for line in text.splitlines():
        match = _VENDOR_LINE.match(line)
        if match:
            out.append((match.group(1), match.group(2)))
            if len(out) >= MAX_PER_FILE:
                break
    return out


def parse_sbom(raw: bytes) -> list[str]:
    """The package URLs an SBOM lists (CycloneDX JSON `components[]`, nested ones included, or
    SPDX JSON `packages[].externalRefs[]` of type purl); [] for anything that is not one."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return []
    if not isinstance(doc, dict):
        return []
    found: list[str] = []
    if doc.get("bomFormat") == "CycloneDX":
        # Breadth first, and never more queued than can be listed: nesting cannot blow it up.
        queue = deque(_list(doc.get("components"))[:MAX_PER_FILE])
        while queue and len(found) < MAX_PER_FILE:
            component = queue.popleft()
            if not isinstance(component, dict):
                continue
            found.append(component.get("purl"))  # type: ignore[arg-type]
            room = MAX_PER_FILE - len(queue)
            queue.extend(_list(component.get("components"))[: max(room, 0)])
    elif isinstance(doc.get("spdxVersion"), str):
        for package in _list(doc.get("packages"))[:MAX_PER_FILE]:
            refs = _list(package.get("externalRefs")) if isinstance(package, dict) else []
            found += [
                r.get("referenceLocator")
                for r in refs
                if isinstance(r, dict) and r.get("referenceType") == "purl"
            ]
    return [p for p in found[:MAX_PER_FILE] if isinstance(p, str) and _valid_purl(p)]


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _valid_purl(purl: str) -> bool:
    try:
        parsed = PackageURL.from_string(purl)
    except ValueError:
        return False
    return bool(parsed.name)


def parse_wheel_name(filename: str) -> tuple[str, str] | None:
    """(name, version) from a wheel's file name (`pip-24.0-py3-none-any.whl`), else None."""
    match = _WHEEL_NAME.fullmatch(filename)
    return (match.group("name"), match.group("version")) if match else None


def parse_soname(filename: str) -> tuple[str, str] | None:
    """(name, version) of a shared library file name as auditwheel writes it:
    `libssl-0331cd6b.so.3` -> ("libssl", "3"); None when it is no shared library."""
    match = _SONAME.fullmatch(filename)
    if match is None:
        return None
    return match.group("name"), match.group("version") or ""


# --- the command's import path --------------------------------------------------------------


def static_import_path(
    data: ImageData, python: python_analyser.PythonFacts, users: users_analyser.UserFacts
) -> tuple[str, ...]:
    """The sys.path the command's interpreter would build, from the layers alone.

    In order: the script's directory or the working directory (`-m`), PYTHONPATH, the standard
    library, the user site when it exists and is enabled, the venv's site-packages (and the base
    interpreter's when include-system-site-packages), else the interpreter's own site dirs.
    Each site dir is followed by the directories its `.pth` files name, as site.py adds them.
    Left out: what `.pth` import lines, `sitecustomize` or the code itself append (setuptools
    appends its `_vendor`), and zip files. When the command's interpreter is unknown,
    every interpreter's and venv's site dirs are listed, so nothing is called unreachable on a
    guess.
    """
    fs = data.fs
    env = data.config.env
    entry = python.entrypoint_interpreter
    interpreters = {i.path: i for i in python.interpreters}
    for interp in python.interpreters:
        interpreters.update(dict.fromkeys(interp.symlinks, interp))
    venvs = {v.path: v for v in python.venvs}
    if entry.interpreter is None:
        paths = [_abs(p, "/") for p in env.get("PYTHONPATH", "").split(":") if p]
        sites = []
        for interp in python.interpreters:
            sites += _site_dirs(fs, interp)
        for venv in python.venvs:
            sites += venv.site_packages
        return _unique(paths + _with_pth(data, sites))

    flags, rest = _flags(entry.command_args)
    isolated = "I" in flags
    cwd = entry.cwd or data.config.workdir or "/"
    paths = []
    if rest[:1] == ["-m"]:
        paths.append(cwd)
    elif rest and not rest[0].startswith("-") and not isolated:
        paths.append(posixpath.dirname(_abs(rest[0], cwd)))
    if not (isolated or "E" in flags):
        paths += [_abs(p, cwd) for p in env.get("PYTHONPATH", "").split(":") if p]
    base = interpreters.get(entry.base_interpreter or "") or interpreters.get(entry.interpreter)
    if base is not None and base.stdlib:
        paths += [base.stdlib, f"{base.stdlib}/lib-dynload"]
    venv = venvs.get(entry.venv or "")
    system = venv is None or venv.include_system_site_packages
    no_user = isolated or "s" in flags or (bool(env.get("PYTHONNOUSERSITE")) and "E" not in flags)
    sites = []
    if system and not no_user and base is not None:
        sites += _user_site(fs, env, users, base)
    if venv is not None:
        sites += venv.site_packages
    if system and base is not None:
        sites += _site_dirs(fs, base)
    return _unique(paths + _with_pth(data, sites))


def _with_pth(data: ImageData, sites: Sequence[str]) -> list[str]:
    """Each site dir, then the existing directories its `.pth` files name (in file name order;
    `import` lines run code, which is not followed)."""
    out: list[str] = []
    for site in dict.fromkeys(sites):
        out.append(site)
        real = data.fs.resolve(site)
        if real is None:
            continue
        for child in data.fs.children(real):
            if not child.endswith(".pth"):
                continue
            for line in (data.text(child) or "").splitlines()[:MAX_PER_FILE]:
                line = line.rstrip()
                if not line or line.startswith(("#", "import ", "import\t")):
                    continue
                added = _abs(line, site)
                if _is_dir(data.fs, added):
                    out.append(added)
    return out


def _flags(args: Sequence[str]) -> tuple[set[str], list[str]]:
    """The interpreter's single-letter flags before the script, `-m` or `-c`, and what follows."""
    flags: set[str] = set()
    index = 0
    while index < len(args):
        arg = args[index]
        if arg in ("-m", "-c") or not arg.startswith("-") or arg.startswith("--") or arg == "-":
            return flags, list(args[index:])
        index += 1
        letters = arg[1:]
        for cut, letter in enumerate(letters):
            if letter in "mc":  # `-Im module`
                value = letters[cut + 1 :]
                return flags, ["-" + letter, *([value] if value else []), *args[index:]]
            if letter in "WX":  # an option with a value: the rest of the word, or the next word
                index += 0 if letters[cut + 1 :] else 1
                break
            flags.add(letter)
    return flags, []


def _abs(path: str, cwd: str) -> str:
    return posixpath.normpath(posixpath.join(cwd, path))


def _minor(version: str) -> str | None:
    match = _MINOR.match(version)
    return f"{match.group(1)}.{match.group(2)}" if match else None


def _site_dirs(fs: Any, interp: python_analyser.Interpreter) -> list[str]:
    """The site dirs site.py adds for a base interpreter, those that exist in the image: its
    prefix's lib/pythonX.Y/site-packages, and for a /usr interpreter Debian's dist-packages."""
    minor = _minor(interp.version)
    if minor is None:
        return []
    prefix = interp.prefix.rstrip("/") or ""
    candidates = [f"{prefix}/{lib}/python{minor}/site-packages" for lib in ("lib", "lib64")]
    if prefix == "/usr":
        candidates = [
            f"/usr/local/lib/python{minor}/dist-packages",
            "/usr/lib/python3/dist-packages",
            f"/usr/lib/python{minor}/dist-packages",
            *candidates,
        ]
    return [c for c in candidates if _is_dir(fs, c)]


def _user_site(
    fs: Any,
    env: Mapping[str, str],
    users: users_analyser.UserFacts,
    interp: python_analyser.Interpreter,
) -> list[str]:
    minor = _minor(interp.version)
    home = env.get("HOME") or users.home
    base = env.get("PYTHONUSERBASE") or (f"{home.rstrip('/')}/.local" if home else None)
    if minor is None or not base:
        return []
    site = posixpath.normpath(f"{base}/lib/python{minor}/site-packages")
    return [site] if _is_dir(fs, site) else []


def _is_dir(fs: Any, path: str) -> bool:
    resolved = fs.resolve(path)
    entry = fs.get(resolved) if resolved else None
    return entry is not None and entry.kind == DIR


def _unique(paths: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(posixpath.normpath(p) for p in paths if p))


# --- reachability ---------------------------------------------------------------------------


def reachability(component: Component, import_path: Sequence[str]) -> str:
    """How far the command reaches a component: INSTALLED (an OS package), DELETED (its bytes
    ship in a lower layer only), IMPORTABLE (its environment dir is on `import_path`), else
    NOT_IMPORTABLE.

    Paths are compared normalised, with `lib64` and `lib` taken as the same directory (the
    symlink every venv and many distributions have). The environment decides, whatever the kind:
    a vendored package's is its vendoring dir (`pip/_vendor`), an ensurepip wheel's the
    `_bundled` dir, which no sys.path lists; a bundled library's and a PEP 770 SBOM's is the
    site-packages of the wheel that ships it, which loads it when its package is imported.
    """
    if component.deleted:
        return DELETED
    if component.kind in OS_KINDS:
        return INSTALLED
    if not component.environment:
        return NOT_IMPORTABLE
    wanted = _comparable(component.environment)
    return IMPORTABLE if any(_comparable(p) == wanted for p in import_path) else NOT_IMPORTABLE


def _comparable(path: str) -> str:
    normal = posixpath.normpath("/" + path.strip()) if path.strip() else ""
    return "/".join("lib" if part == "lib64" else part for part in normal.split("/"))
