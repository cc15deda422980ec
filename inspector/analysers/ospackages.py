"""Installed OS packages, read from the package managers' own databases (dpkg, apk).

Distroless images have no dpkg status file but one control paragraph per package under
`/var/lib/dpkg/status.d/`; those count as dpkg too.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass

from inspector.analysers.imagedata import ImageData
from inspector.layers.model import FILE, HARDLINK

DB_CAP = 16 * 1024 * 1024
STATUS_D_CAP = 256 * 1024
DPKG_STATUS = "/var/lib/dpkg/status"
DPKG_STATUS_D = "/var/lib/dpkg/status.d"
APK_INSTALLED = "/lib/apk/db/installed"
# rpm keeps its database in one of these files (BerkeleyDB before RHEL 9, SQLite since); they are
# only located, never read.
RPM_DATABASES = (
    "/var/lib/rpm/rpmdb.sqlite",
    "/var/lib/rpm/Packages",
    "/usr/lib/sysimage/rpm/rpmdb.sqlite",
    "/usr/lib/sysimage/rpm/Packages",
)
DPKG, APK = "dpkg", "apk"

_SOURCE = re.compile(r"\s*(?P<name>[^\s(]+)\s*(?:\((?P<version>[^)]*)\))?")


@dataclass(frozen=True)
class OsPackage:
    name: str
    version: str
    architecture: str | None
    # The source package (dpkg `Source:`, apk origin `o:`); the package's own name when the
    # database leaves it out, as both formats mean by omission.
    source: str
    source_version: str
    manager: str


@dataclass(frozen=True)
class DatabaseWrite:
    """One layer that wrote the package database: when its packages were last installed or
    upgraded, which is when they last got security fixes."""

    layer: int
    path: str  # the database file it wrote (the first, for distroless status.d files)
    mtime: int  # the newest modification time (Unix seconds) the layer's tar gives those files


@dataclass(frozen=True)
class OsPackages:
    manager: str | None  # "dpkg" | "apk" | None; dpkg wins if an image somehow has both
    managers: tuple[str, ...]  # every package database found
    packages: tuple[OsPackage, ...]  # sorted by name, then architecture
    databases: tuple[str, ...]  # the database files read
    # A database larger than the capture cap: its last (partial) record was dropped.
    truncated: bool
    # Every layer that wrote a package database (dpkg, apk or rpm), deleted versions included,
    # oldest first; the visible database is the last one's.
    database_writes: tuple[DatabaseWrite, ...] = ()


def wants(path: str, size: int) -> int | None:
    if path in (DPKG_STATUS, APK_INSTALLED):
        return DB_CAP
    if posixpath.dirname(path) == DPKG_STATUS_D and not path.endswith(".md5sums"):
        return STATUS_D_CAP
    return None


def analyse(data: ImageData) -> OsPackages:
    packages: list[OsPackage] = []
    managers: list[str] = []
    databases: list[str] = []
    truncated = False

    dpkg_files = [DPKG_STATUS] if data.fs.exists(DPKG_STATUS) else []
    dpkg_files += [
        child
        for child in data.fs.children(DPKG_STATUS_D)
        if wants(child, 0) is not None and data.fs.get(child) is not None
    ]
    dpkg_found = False
    for path in dpkg_files:
        text, cut = _read(data, path)
        if text is None:
            continue
        dpkg_found = True
        databases.append(path)
        truncated |= cut
        # status.d paragraphs carry no Status field: being listed there means installed.
        packages += parse_dpkg(text, truncated=cut, require_status=path == DPKG_STATUS)
    if dpkg_found:
        managers.append(DPKG)

    text, cut = _read(data, APK_INSTALLED)
    if text is not None:
        managers.append(APK)
        databases.append(APK_INSTALLED)
        truncated |= cut
        packages += parse_apk(text, truncated=cut)

    packages.sort(key=lambda p: (p.name, p.architecture or "", p.manager))
    return OsPackages(
        manager=managers[0] if managers else None,
        managers=tuple(managers),
        packages=tuple(packages),
        databases=tuple(databases),
        truncated=truncated,
        database_writes=database_writes(data),
    )


def database_writes(data: ImageData) -> tuple[DatabaseWrite, ...]:
    """The layers that wrote a package database file, from every version of those files."""
    paths = [DPKG_STATUS, APK_INSTALLED, *RPM_DATABASES]
    # status.d entries a later layer deleted are no longer listed as children; history has them.
    paths += [
        path
        for path in data.fs.history
        if posixpath.dirname(path) == DPKG_STATUS_D and not path.endswith(".md5sums")
    ]
    by_layer: dict[int, DatabaseWrite] = {}
    for path in paths:
        for version in data.fs.history.get(path, ()):
            if version.entry.kind not in (FILE, HARDLINK):
                continue
            seen = by_layer.get(version.layer)
            if seen is None or version.entry.mtime > seen.mtime:
                first = seen.path if seen else path
                by_layer[version.layer] = DatabaseWrite(version.layer, first, version.entry.mtime)
    return tuple(by_layer[layer] for layer in sorted(by_layer))


def _read(data: ImageData, path: str) -> tuple[str | None, bool]:
    version = data.fs.visible.get(path)
    if version is None:
        return None, False
    content = data.content_of(version)
    if content is None:
        return None, False
    return content.decode("utf-8", "replace"), len(content) < version.entry.size


def _paragraphs(text: str, *, truncated: bool) -> Iterator[list[str]]:
    blocks = re.split(r"\n\s*\n", text)
    if truncated and blocks:
        blocks = blocks[:-1]
    for block in blocks:
        lines = [line for line in block.splitlines() if line.strip()]
        if lines:
            yield lines


def parse_dpkg(
    text: str, *, truncated: bool = False, require_status: bool = True
) -> list[OsPackage]:
    """Packages whose dpkg state is `installed`; removed ones keeping config files are skipped."""
    out: list[OsPackage] = []
    for lines in _paragraphs(text, truncated=truncated):
        fields: dict[str, str] = {}
        for line in lines:
            if line[:1] in (" ", "\t") or ":" not in line:
                continue  # continuation lines belong to fields we do not read
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        name, version = fields.get("package"), fields.get("version")
        if not name or not version:
            continue
        status = fields.get("status", "").split()
        # `want flag state`: `hold ok installed` is installed too; only the state counts.
        if (status or require_status) and (len(status) != 3 or status[2] != "installed"):
            continue
        source, source_version = name, version
        match = _SOURCE.match(fields.get("source", ""))
        if match and fields.get("source"):
            source = match.group("name")
            source_version = match.group("version") or version
        out.append(OsPackage(name, version, fields.get("architecture"), source, source_version,
                             DPKG))  # fmt: skip
    return out


def parse_apk(text: str, *, truncated: bool = False) -> list[OsPackage]:
    """Records of the apk installed database: P (name), V (version), A (arch), o (origin)."""
    out: list[OsPackage] = []
    for lines in _paragraphs(text, truncated=truncated):
        fields: dict[str, str] = {}
        for line in lines:
            if len(line) > 1 and line[1] == ":" and line[0] not in fields:
                fields[line[0]] = line[2:].strip()
        name, version = fields.get("P"), fields.get("V")
        if not name or not version:
            continue
        out.append(OsPackage(name, version, fields.get("A"), fields.get("o") or name, version, APK))
    return out
