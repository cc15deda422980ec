"""OS facts: the distribution's release files, and which C library the image's loader belongs to.

The libc is decided from the dynamic loader in the merged filesystem, not from the distribution
name: Wolfi uses apk but glibc, and Alpine's compatibility packages add glibc-named loaders that
point at musl.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass

from inspector.analysers.imagedata import ImageData

RELEASE_CAP = 16 * 1024
OS_RELEASE_PATHS = ("/etc/os-release", "/usr/lib/os-release")
ALPINE_RELEASE = "/etc/alpine-release"
DEBIAN_VERSION = "/etc/debian_version"
REDHAT_RELEASE = "/etc/redhat-release"
_WANTED = frozenset((*OS_RELEASE_PATHS, ALPINE_RELEASE, DEBIAN_VERSION, REDHAT_RELEASE))

# The ELF interpreters glibc installs, by architecture (x86-64, arm64, armhf, armel, i386,
# ppc64le, s390x, riscv64), in the order they are tried.
GLIBC_LOADERS = (
    "/lib64/ld-linux-x86-64.so.2",
    "/lib/ld-linux-aarch64.so.1",
    "/lib/ld-linux-armhf.so.3",
    "/lib/ld-linux.so.3",
    "/lib/ld-linux.so.2",
    "/lib64/ld64.so.2",
    "/lib/ld64.so.1",
    "/lib/ld-linux-riscv64-lp64d.so.1",
)
# Directories that hold libc.so.6 directly (RPM distributions, Wolfi) or a multiarch
# `<triplet>-linux-gnu*` directory that does (Debian, Ubuntu).
_LIBC_DIRS = ("/lib", "/lib64", "/usr/lib", "/usr/lib64")
_MUSL_LOADER = re.compile(r"ld-musl-[A-Za-z0-9_]+\.so\.1")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PAREN_WORD = re.compile(r"\(([a-z]+)\)")


@dataclass(frozen=True)
class OsInfo:
    id: str | None
    id_like: tuple[str, ...]
    name: str | None
    version_id: str | None
    version_codename: str | None
    pretty_name: str | None
    os_release_path: str | None  # the file that answered, after following symlinks
    alpine_release: str | None
    debian_version: str | None
    redhat_release: str | None
    libc: str | None  # "glibc" | "musl" | None
    libc_evidence: str | None  # the path that decided `libc`, as an image path (may be a link)


def wants(path: str, size: int) -> int | None:
    return RELEASE_CAP if path in _WANTED else None


def analyse(data: ImageData) -> OsInfo:
    release: dict[str, str] = {}
    release_path = None
    for candidate in OS_RELEASE_PATHS:
        resolved = data.fs.resolve(candidate)
        text = data.text(resolved) if resolved else None
        if text is not None:
            release, release_path = parse_os_release(text), resolved
            break
    alpine = _first_line(data, ALPINE_RELEASE)
    libc, evidence = _libc(data, is_alpine=release.get("ID") == "alpine" or alpine is not None)
    return OsInfo(
        id=release.get("ID"),
        id_like=tuple(release.get("ID_LIKE", "").split()),
        name=release.get("NAME"),
        version_id=release.get("VERSION_ID"),
        version_codename=_codename(release),
        pretty_name=release.get("PRETTY_NAME"),
        os_release_path=release_path,
        alpine_release=alpine,
        debian_version=_first_line(data, DEBIAN_VERSION),
        redhat_release=_first_line(data, REDHAT_RELEASE),
        libc=libc,
        libc_evidence=evidence,
    )


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=value lines, values unquoted the way a POSIX shell would (os-release(5))."""
    fields: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip()
        if not _KEY.fullmatch(key):
            continue
        try:
            fields[key] = " ".join(shlex.split(value))
        except ValueError:
            # An unbalanced quote: keep what is there rather than lose the field.
            fields[key] = value.strip().strip("\"'")
    return fields


def _codename(release: dict[str, str]) -> str | None:
    codename = release.get("VERSION_CODENAME") or release.get("UBUNTU_CODENAME")
    if codename:
        return codename
    # Older releases (Debian 8) only say it inside VERSION: `8 (jessie)`.
    match = _PAREN_WORD.search(release.get("VERSION", ""))
    return match.group(1) if match else None


def _first_line(data: ImageData, path: str) -> str | None:
    resolved = data.fs.resolve(path)
    text = data.text(resolved) if resolved else None
    if text is None:
        return None
    lines = text.strip().splitlines()
    return lines[0].strip() if lines else None


def _libc(data: ImageData, *, is_alpine: bool) -> tuple[str | None, str | None]:
    musl = _musl_loader(data)
    glibc = _glibc_evidence(data)
    if musl and glibc:
        # Both exist on Alpine with gcompat, and on Debian with the `musl` package installed:
        # the distribution says which one the system itself runs on.
        return ("musl", musl) if is_alpine else ("glibc", glibc)
    if musl:
        return "musl", musl
    if glibc:
        return "glibc", glibc
    return None, None


def _musl_loader(data: ImageData) -> str | None:
    for directory in ("/lib", "/usr/lib"):
        resolved = data.fs.resolve(directory)
        if resolved is None:
            continue
        for child in data.fs.children(resolved):
            base = posixpath.basename(child)
            if _MUSL_LOADER.fullmatch(base) and data.fs.resolve(child) is not None:
                return posixpath.join(directory, base)
    return None


def _glibc_evidence(data: ImageData) -> str | None:
    for loader in GLIBC_LOADERS:
        if _is_glibc_file(data, loader):
            return loader
    for directory in _LIBC_DIRS:
        resolved = data.fs.resolve(directory)
        if resolved is None:
            continue
        direct = posixpath.join(directory, "libc.so.6")
        if _is_glibc_file(data, direct):
            return direct
        for child in data.fs.children(resolved):
            base = posixpath.basename(child)
            if "-linux-gnu" in base:
                candidate = posixpath.join(directory, base, "libc.so.6")
                if _is_glibc_file(data, candidate):
                    return candidate
    return None


def _is_glibc_file(data: ImageData, path: str) -> bool:
    resolved = data.fs.resolve(path)
    # Alpine's libc6-compat links glibc loader names to musl's loader.
    return resolved is not None and "musl" not in posixpath.basename(resolved)
