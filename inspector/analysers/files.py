"""Notable files: privilege tools and sudoers rules, SSH, build toolchain, leftover artifacts,
build-context leaks, and trees a later layer re-adds only to change owner or mode.

Facts, not judgements: each file with its path, size and the layer (and history step) that wrote
it, and, where a later deletion does not make the bytes go away (host keys, leftovers), the layer
that deleted it. One pass over the path history; only sudoers, `.git/config` and `pyvenv.cfg`
are captured, each capped small.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import posixpath
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass

from inspector.analysers.imagedata import ImageData
from inspector.layers.model import DIR, FILE, HARDLINK, SYMLINK
from inspector.layers.overlay import REPLACED, FileSystem, Version

SUDOERS, SUDOERS_D = "/etc/sudoers", "/etc/sudoers.d/"
SUDOERS_CAP = 64 * 1024
ELF_HEADER = 64  # e_ident and e_machine sit in the first 20 bytes of every ELF file
GIT_CONFIG_CAP = 64 * 1024
PYVENV_CAP = 4 * 1024
# Lists that could grow with the image are cut; their totals still count everything.
LIST_LIMIT = 200
EXAMPLES = 5

BIN_DIRS = frozenset(
    ("/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin")
)
PRIVILEGE_TOOLS = frozenset(("sudo", "doas", "su"))
SSH_SERVERS = frozenset(("sshd", "dropbear"))
MAKE_TOOLS = frozenset(("make", "gmake"))
# gcc, cc, g++, c++, clang, tcc, gfortran, optionally versioned (gcc-12) and triplet-prefixed
# (x86_64-linux-gnu-gcc-12), which is where Debian's gcc package puts the real binary.
_COMPILER = re.compile(
    r"(?:[a-z0-9_]+(?:-[a-z0-9_]+)*-)?(?:gcc|cc|g\+\+|c\+\+|clang|clang\+\+|tcc|gfortran)"
    r"(?:-\d+(?:\.\d+)*)?"
)
HEADER_ROOTS = ("/usr/include", "/usr/local/include")
_HOST_KEY = re.compile(r"/etc/ssh/ssh_host_[a-z0-9]+_key")
AUTHORIZED_KEYS = frozenset(("authorized_keys", "authorized_keys2"))

# name-version.ext, the shape of a source distribution (requests-2.31.0.tar.gz).
_SDIST = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9._+-]*-v?\d[A-Za-z0-9._+!-]*\.(?:tar\.gz|tar\.bz2|tar\.xz|tgz|zip)"
)
_INSTALLER = re.compile(r"(?:Miniconda|Anaconda|Miniforge|Mambaforge)[^/]*\.sh")
# Where such files are expected, or already counted elsewhere (caches analyser).
_LEFTOVER_SKIP = ("/site-packages/", "/dist-packages/", "/ensurepip/_bundled/", "/.cache/")
_LEFTOVER_SKIP_ROOTS = ("/usr/share/", "/var/cache/apt/", "/var/cache/apk/", "/etc/apk/cache/",
                       "/var/cache/dnf/", "/var/cache/yum/")  # fmt: skip

_LEFTOVER_EXTS = frozenset(
    ("whl", "py", "deb", "rpm", "apk", "sh", "gz", "bz2", "xz", "tgz", "zip")
)
_LEAK_EXTS = frozenset(("tfstate", "backup", "yml", "yaml", "Dockerfile"))
# Build-context leaks: dirs counted as a whole, files one by one.
LEAK_DIRS = {".git": "git", ".hg": "hg", ".svn": "svn", ".idea": "idea", ".vscode": "vscode",
             "node_modules": "node_modules"}  # fmt: skip
_LEAK_SKIP = ("/site-packages/", "/dist-packages/")
_LEAK_SKIP_ROOTS = ("/usr/share/", "/usr/lib/node_modules/", "/usr/local/lib/node_modules/",
                    "/proc/", "/sys/")  # fmt: skip
_COMPOSE = re.compile(r"(?:docker-)?compose[^/]*\.ya?ml")
# userinfo with a password (user:pass@) or a long bare token (ghp_...@) in a remote URL; an
# `extraheader` with Authorization is what CI checkouts persist.
_URL_CREDENTIAL = re.compile(
    r"[a-z][a-z0-9+.-]*://(?:[^/@\s:]*:[^/@\s]+|[A-Za-z0-9_-]{20,})@", re.I
)
_HEADER_CREDENTIAL = re.compile(r"extraheader\s*=.*authorization", re.I)


# --- the model --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notable:
    """One version of one file worth knowing about."""

    name: str  # what it is: "sudo", "gcc", "host_key", "wheel", ...
    path: str
    kind: str  # "file" | "hardlink" | "symlink" | "dir"
    size: int
    mode: str  # permission bits in octal, special bits included
    uid: int
    gid: int
    layer: int
    created_by: str | None
    deleted_in: int | None  # the layer that deleted or replaced it; None: still visible
    deleted_by: str | None


@dataclass(frozen=True)
class SudoRule:
    who: str  # as written: "app", "%sudo", "#10001", "%#10001", "ALL", or an expanded alias
    group: bool  # True for %group / %#gid
    runas: str | None  # the text in parentheses, e.g. "ALL:ALL"; None when absent
    commands: tuple[str, ...]  # tags and run-as removed, e.g. ("ALL",) or ("/usr/bin/apt",)
    nopasswd: bool
    all_commands: bool  # one of the commands is ALL


@dataclass(frozen=True)
class SudoersFile:
    path: str
    size: int
    layer: int
    created_by: str | None
    read_by_sudo: bool  # sudo skips sudoers.d files with a "." in the name or ending in "~"
    captured: bool  # False: the content was not captured, so `rules` is empty
    truncated: bool  # larger than the capture cap: rules past it are missing
    rules: tuple[SudoRule, ...]


@dataclass(frozen=True)
class Privilege:
    tools: tuple[Notable, ...]  # visible sudo, doas, su in the bin dirs
    sudoers: tuple[SudoersFile, ...]  # visible /etc/sudoers and /etc/sudoers.d/*


@dataclass(frozen=True)
class Ssh:
    servers: tuple[Notable, ...]  # visible sshd/dropbear in the bin dirs
    host_keys: tuple[Notable, ...]  # every version, deleted ones included (their bytes ship)
    authorized_keys: tuple[Notable, ...]  # visible, anywhere


@dataclass(frozen=True)
class HeaderDir:
    path: str
    files: int
    bytes: int


@dataclass(frozen=True)
class StaticLibs:
    files: int
    bytes: int
    examples: tuple[str, ...]  # the largest


@dataclass(frozen=True)
class Toolchain:
    compilers: tuple[Notable, ...]  # visible, in the bin dirs (symlinks included)
    make: tuple[Notable, ...]
    header_dirs: tuple[HeaderDir, ...]  # only those holding files
    python_headers: tuple[Notable, ...]  # visible Python.h
    static_libs: StaticLibs  # visible *.a


@dataclass(frozen=True)
class Leftovers:
    items: tuple[Notable, ...]  # largest first, at most LIST_LIMIT
    visible_files: int
    visible_bytes: int
    deleted_files: int
    deleted_bytes: int


@dataclass(frozen=True)
class Leak:
    name: str  # "git", "hg", "svn", "idea", "vscode", "node_modules", "host_venv", "env_file", ...
    path: str
    dir: str  # the dir it sits in (the app dir, usually)
    kind: str  # "dir" | "file" | ...
    files: int  # regular files under it (1 for a file)
    bytes: int
    layer: int  # the layer that wrote the entry at `path`
    created_by: str | None
    credential: str | None  # git only: "url" or "header" when .git/config carries one (never shown)
    venv_home: str | None  # host_venv only: the `home` its pyvenv.cfg names


@dataclass(frozen=True)
class Duplication:
    layer: int  # the layer that first wrote the files
    created_by: str | None
    readded_in: int  # the later layer that wrote them again
    readded_by: str | None
    files: int
    bytes: int
    owner_changed: int  # files whose uid/gid differ
    mode_changed: int  # files whose mode differs
    examples: tuple[str, ...]  # the largest


@dataclass(frozen=True)
class ElfMachine:
    machine: str  # the CPU as Docker names it ("amd64", "arm64", "386", ...), else "e_machine N"
    files: int
    dirs: tuple[str, ...]  # the dirs holding them, sorted, at most LIST_LIMIT
    examples: tuple[str, ...]  # the first paths, sorted


@dataclass(frozen=True)
class SharedObjects:
    """The CPU each visible shared object (`*.so`, `*.so.N`) is built for, from its ELF header."""

    files: int  # visible shared objects with an ELF header
    machines: tuple[ElfMachine, ...]  # most files first


@dataclass(frozen=True)
class CondaRoot:
    """A conda installation or environment (a dir holding `conda-meta/`) and its package cache."""

    path: str
    layer: int  # the layer that wrote its conda-meta dir
    pkgs_dir: str  # <path>/pkgs, or CONDA_PKGS_DIRS' first dir when set
    pkgs_files: int  # files visible in the package cache
    pkgs_bytes: int
    deleted_files: int  # cache files a later layer deleted: still shipped in the layer
    deleted_bytes: int


@dataclass(frozen=True)
class TimeZones:
    """Zone data Python and the C library can find, and whether the zone ENV TZ names is in it."""

    zoneinfo_dirs: tuple[str, ...]  # zone dirs holding UTC: TZPATH's, tzdata packages'
    tz: str | None  # ENV TZ as set; None when unset
    tz_files: tuple[str, ...]  # the files TZ names in those dirs; empty when no dir has it


@dataclass(frozen=True)
class Files:
    privilege: Privilege
    ssh: Ssh
    toolchain: Toolchain
    leftovers: Leftovers
    context_leaks: tuple[Leak, ...]
    chown_duplicates: tuple[Duplication, ...]  # largest first
    shared_objects: SharedObjects | None = None  # None only in hand-made facts
    conda: tuple[CondaRoot, ...] = ()
    time_zones: TimeZones | None = None  # None only in hand-made facts


# --- capture ---------------------------------------------------------------------------------


def wants(path: str, size: int) -> int | None:
    if path == SUDOERS or path.startswith(SUDOERS_D):
        return SUDOERS_CAP
    if path.endswith("/.git/config"):
        return GIT_CONFIG_CAP
    if path.endswith("/pyvenv.cfg"):
        return PYVENV_CAP
    if _shared_object(path[path.rfind("/") + 1 :]):
        return ELF_HEADER
    return None


def _shared_object(base: str) -> bool:
    return base.endswith(".so") or ".so." in base


# --- analysis --------------------------------------------------------------------------------


def _notable(data: ImageData, name: str, version: Version) -> Notable:
    entry = version.entry
    return Notable(name, entry.path, entry.kind, version.bytes, f"{stat.S_IMODE(entry.mode):04o}",
                   entry.uid, entry.gid, version.layer, data.step(version.layer),
                   version.removed_in, data.step(version.removed_in))  # fmt: skip


class _Scan:
    """Accumulators for the single pass over the path history."""

    def __init__(self) -> None:
        self.tools: list[Version] = []
        self.servers: list[Version] = []
        self.host_keys: list[Version] = []
        self.authorized: list[Version] = []
        self.compilers: list[Version] = []
        self.make: list[Version] = []
        self.headers = {root: [0, 0] for root in HEADER_ROOTS}
        self.python_h: list[Version] = []
        self.static_files = self.static_bytes = 0
        self.static_top: list[tuple[int, str]] = []
        self.leftovers: list[tuple[str, Version]] = []
        self.leak_dirs: list[tuple[str, Version]] = []
        self.leak_files: list[tuple[str, Version]] = []
        self.venv_cfgs: list[Version] = []
        self.shared_objects: list[Version] = []
        self.conda_meta: list[Version] = []
        self.zoneinfo: list[str] = []
        # (layer, readded_in) -> [files, bytes, owner_changed, mode_changed, top examples]
        self.dups: dict[tuple[int, int], list] = {}  # type: ignore[type-arg]


def analyse(data: ImageData) -> Files:
    scan = _Scan()
    # Tens of thousands of paths: the extension decides cheaply which rules can apply at all.
    for path, versions in data.fs.history.items():
        slash = path.rfind("/")
        base = path[slash + 1 :]
        dot = base.rfind(".")
        ext = base[dot + 1 :] if dot >= 0 else ""
        if ext in _LEFTOVER_EXTS:
            for version in versions:
                _leftover(scan, path, base, version)
        if len(versions) > 1:
            _duplicates(scan, versions)
        if base == "conda-meta" and versions[-1].removed_in is None:
            scan.conda_meta.append(versions[-1])
        if base.startswith("ssh_host_") and _HOST_KEY.fullmatch(path):
            scan.host_keys.extend(v for v in versions if v.entry.kind in (FILE, HARDLINK))
        last = versions[-1]
        if last.removed_in is None:
            _visible(scan, path, path[:slash] or "/", base, ext, last)
    return Files(
        privilege=Privilege(_notables(data, scan.tools), _sudoers(data)),
        ssh=Ssh(
            _notables(data, scan.servers),
            _notables(data, scan.host_keys),
            _notables(data, scan.authorized),
        ),
        toolchain=Toolchain(
            compilers=_notables(data, scan.compilers)[:LIST_LIMIT],
            make=_notables(data, scan.make),
            header_dirs=tuple(HeaderDir(r, n, b) for r, (n, b) in scan.headers.items() if n),
            python_headers=_notables(data, scan.python_h),
            static_libs=StaticLibs(
                scan.static_files,
                scan.static_bytes,
                tuple(p for _, p in sorted(scan.static_top, reverse=True)),
            ),
        ),
        leftovers=_leftovers(data, scan),
        context_leaks=_leaks(data, scan),
        chown_duplicates=_duplications(data, scan),
        shared_objects=_shared_objects(data, scan),
        conda=_conda(data, scan),
        time_zones=_time_zones(data, scan),
    )


def _notables(
    data: ImageData, versions: list[Version], name: str | None = None
) -> tuple[Notable, ...]:
    ordered = sorted(versions, key=lambda v: (v.entry.path, v.layer))
    return tuple(_notable(data, name or posixpath.basename(v.entry.path), v) for v in ordered)


def _keep_top(top: list[tuple[int, str]], size: int, path: str) -> None:
    if len(top) < EXAMPLES:
        heapq.heappush(top, (size, path))
    elif size > top[0][0]:
        heapq.heapreplace(top, (size, path))


def _visible(scan: _Scan, path: str, parent: str, base: str, ext: str, version: Version) -> None:
    kind = version.entry.kind
    if parent in BIN_DIRS and kind in (FILE, HARDLINK, SYMLINK):
        if base in PRIVILEGE_TOOLS:
            scan.tools.append(version)
        elif base in SSH_SERVERS:
            scan.servers.append(version)
        elif base in MAKE_TOOLS:
            scan.make.append(version)
        elif _COMPILER.fullmatch(base):
            scan.compilers.append(version)
    if kind == DIR:
        leak = LEAK_DIRS.get(base)
        if leak is not None:
            scan.leak_dirs.append((leak, version))
        elif base == "zoneinfo" and (path in ZONEINFO_PATH or parent.endswith("-packages/tzdata")):
            scan.zoneinfo.append(path)
        return
    if kind != FILE:
        return
    size = version.entry.size
    if path.startswith("/usr/") and "/include/" in path:
        for root in HEADER_ROOTS:
            if path.startswith(root + "/"):
                scan.headers[root][0] += 1
                scan.headers[root][1] += size
    if ext == "a":
        scan.static_files += 1
        scan.static_bytes += size
        _keep_top(scan.static_top, size, path)
    elif base == "Python.h":
        scan.python_h.append(version)
    elif base == "pyvenv.cfg":
        scan.venv_cfgs.append(version)
    elif _shared_object(base):
        scan.shared_objects.append(version)
    elif base in AUTHORIZED_KEYS:
        scan.authorized.append(version)
    if base[:1] == "." or ext in _LEAK_EXTS or base.startswith(("Dockerfile", "Containerfile")):
        leak = _leak_file(base)
        if leak is not None:
            scan.leak_files.append((leak, version))


def _leak_file(base: str) -> str | None:
    if base == ".envrc":
        return "envrc"
    if base.startswith(".env"):
        return "env_file"
    if base.startswith("Dockerfile") or base.endswith(".Dockerfile") or base == "Containerfile":
        return "dockerfile"
    if _COMPOSE.fullmatch(base):
        return "compose"
    if base.endswith((".tfstate", ".tfstate.backup")):
        return "tfstate"
    return None


def _leftover_kind(base: str) -> str | None:
    if base.endswith(".whl"):
        return "wheel"
    if base == "get-pip.py":
        return "get-pip"
    if base.endswith(".deb"):
        return "deb"
    if base.endswith(".rpm"):
        return "rpm"
    if base.endswith(".apk"):
        return "apk"
    if base.endswith(".sh") and _INSTALLER.fullmatch(base):
        return "installer"
    if base.endswith((".gz", ".bz2", ".xz", ".tgz", ".zip")) and _SDIST.fullmatch(base):
        return "sdist"
    return None


def _leftover(scan: _Scan, path: str, base: str, version: Version) -> None:
    if version.entry.kind != FILE:
        return
    kind = _leftover_kind(base)
    if kind is None:
        return
    if any(s in path for s in _LEFTOVER_SKIP) or path.startswith(_LEFTOVER_SKIP_ROOTS):
        return
    scan.leftovers.append((kind, version))


def _leftovers(data: ImageData, scan: _Scan) -> Leftovers:
    visible = [v for _, v in scan.leftovers if v.removed_in is None]
    deleted = [v for _, v in scan.leftovers if v.removed_in is not None]
    ordered = sorted(scan.leftovers, key=lambda item: (-item[1].bytes, item[1].entry.path))
    return Leftovers(
        items=tuple(_notable(data, kind, v) for kind, v in ordered[:LIST_LIMIT]),
        visible_files=len(visible),
        visible_bytes=sum(v.bytes for v in visible),
        deleted_files=len(deleted),
        deleted_bytes=sum(v.bytes for v in deleted),
    )


# --- chown/chmod duplication -------------------------------------------------------------------


def _duplicates(scan: _Scan, versions: list[Version]) -> None:
    for old, new in itertools.pairwise(versions):
        a, b = old.entry, new.entry
        if a.kind != FILE or b.kind != FILE or old.removal != REPLACED:
            continue
        if old.removed_in != new.layer or a.size != b.size or a.mtime != b.mtime:
            continue
        owner = (a.uid, a.gid) != (b.uid, b.gid)
        mode = a.mode != b.mode
        if not owner and not mode:
            continue
        group = scan.dups.setdefault((old.layer, new.layer), [0, 0, 0, 0, []])
        group[0] += 1
        group[1] += a.size
        group[2] += owner
        group[3] += mode
        _keep_top(group[4], a.size, a.path)


def _duplications(data: ImageData, scan: _Scan) -> tuple[Duplication, ...]:
    out = [
        Duplication(
            layer,
            data.step(layer),
            readded,
            data.step(readded),
            files,
            size,
            owner,
            mode,
            tuple(p for _, p in sorted(top, reverse=True)),
        )
        for (layer, readded), (files, size, owner, mode, top) in scan.dups.items()
    ]
    return tuple(sorted(out, key=lambda d: (-d.bytes, d.layer, d.readded_in)))


# --- shared objects' architecture -------------------------------------------------------------

# e_machine -> Docker's architecture name; ppc64 is big-endian, ppc64le the same number in LE.
_MACHINES = {3: "386", 8: "mips", 20: "ppc", 21: "ppc64", 22: "s390x", 40: "arm", 62: "amd64",
             183: "arm64", 243: "riscv64", 258: "loong64"}  # fmt: skip


def elf_machine(head: bytes | None) -> str | None:
    """The CPU an ELF file is for, from its header; None when it is not ELF."""
    if not head or len(head) < 20 or not head.startswith(b"\x7fELF"):
        return None
    order = "little" if head[5] == 1 else "big"
    number = int.from_bytes(head[18:20], order)
    name = _MACHINES.get(number, f"e_machine {number}")
    if name == "ppc64" and order == "little":
        return "ppc64le"
    if name == "mips" and head[4] == 2:
        return "mips64le" if order == "little" else "mips64"
    if name == "mips" and order == "little":
        return "mipsle"
    return name


def _shared_objects(data: ImageData, scan: _Scan) -> SharedObjects:
    by_machine: dict[str, list[str]] = {}
    for version in scan.shared_objects:
        machine = elf_machine(data.content_of(version))
        if machine is not None:
            by_machine.setdefault(machine, []).append(version.entry.path)
    machines = [
        ElfMachine(machine, len(paths), tuple(sorted({posixpath.dirname(p) for p in paths}))[
            :LIST_LIMIT], tuple(sorted(paths)[:EXAMPLES]))
        for machine, paths in by_machine.items()
    ]  # fmt: skip
    machines.sort(key=lambda m: (-m.files, m.machine))
    return SharedObjects(sum(m.files for m in machines), tuple(machines))


# --- time zones ----------------------------------------------------------------------------------

# Python's zoneinfo.TZPATH default; glibc reads /usr/share/zoneinfo. The tzdata package is the
# fallback zoneinfo uses.
ZONEINFO_PATH = frozenset(("/usr/share/zoneinfo", "/usr/lib/zoneinfo", "/usr/share/lib/zoneinfo",
                           "/etc/zoneinfo"))  # fmt: skip


def _time_zones(data: ImageData, scan: _Scan) -> TimeZones:
    fs = data.fs
    dirs = tuple(sorted(d for d in scan.zoneinfo if fs.resolve(d + "/UTC") is not None))
    tz = data.config.env.get("TZ")
    found: tuple[str, ...] = ()
    name = (tz or "").lstrip(":")
    # A zone name, not a POSIX rule such as "CET-1CEST,M3.5.0,M10.5.0/3" or a path.
    if name and not name.startswith("/") and ".." not in name and "," not in name:
        found = tuple(f"{d}/{name}" for d in dirs if _zone_file(fs, f"{d}/{name}"))
    return TimeZones(dirs, tz, found)


def _zone_file(fs: FileSystem, path: str) -> bool:
    real = fs.resolve(path)
    entry = fs.get(real) if real else None
    return entry is not None and entry.kind in (FILE, HARDLINK)


# --- conda ---------------------------------------------------------------------------------------


def _conda(data: ImageData, scan: _Scan) -> tuple[CondaRoot, ...]:
    moved = (data.config.env.get("CONDA_PKGS_DIRS") or "").split(",")[0].strip().rstrip("/")
    out = []
    caches: dict[str, tuple[int, int, int, int]] = {}
    for meta in sorted(scan.conda_meta, key=lambda v: v.entry.path)[:LIST_LIMIT]:
        root = posixpath.dirname(meta.entry.path)
        # An env under <base>/envs shares the base's cache; only installations have their own.
        if posixpath.basename(posixpath.dirname(root)) == "envs":
            pkgs = posixpath.join(posixpath.dirname(posixpath.dirname(root)), "pkgs")
        else:
            pkgs = moved if moved.startswith("/") else posixpath.join(root, "pkgs")
        if pkgs not in caches:
            caches[pkgs] = _cache_totals(data, pkgs)
        out.append(CondaRoot(root, meta.layer, pkgs, *caches[pkgs]))
    return tuple(out)


def _cache_totals(data: ImageData, top: str) -> tuple[int, int, int, int]:
    """Visible files and bytes under `top`, and those a later layer deleted; only conda images pay
    for this pass over the path history."""
    totals = [0, 0, 0, 0]
    prefix = top + "/"
    for path, versions in data.fs.history.items():
        if not path.startswith(prefix):
            continue
        for version in versions:
            if version.entry.kind == FILE:
                index = 0 if version.removed_in is None else 2
                totals[index] += 1
                totals[index + 1] += version.bytes
    return totals[0], totals[1], totals[2], totals[3]


# --- build-context leaks -----------------------------------------------------------------------


def _skipped_leak(path: str) -> bool:
    return (path + "/").startswith(_LEAK_SKIP_ROOTS) or any(s in path for s in _LEAK_SKIP)


def _parts(path: str) -> tuple[str, ...]:
    # Sorted by components, a directory's whole subtree follows it directly ("/a/b-x" sorts
    # between "/a/b" and "/a/b/c" as strings, after them as components).
    return tuple(path.split("/"))


def _inside(path: str, roots: list[tuple[str, ...]]) -> bool:
    """Whether `path` is under one of `roots` (sorted by components, none inside another): only
    the last root not after it can hold it, found by bisection (20,000 `.git` dirs each
    compared with every root took minutes)."""
    parts = _parts(path)
    index = bisect.bisect_right(roots, parts) - 1
    return (
        index >= 0 and len(roots[index]) < len(parts) and parts[: len(roots[index])] == roots[index]
    )


def _leaks(data: ImageData, scan: _Scan) -> tuple[Leak, ...]:
    fs = data.fs
    dirs: list[tuple[str, Version]] = [
        (name, v) for name, v in scan.leak_dirs if not _skipped_leak(v.entry.path)
    ]
    for cfg in scan.venv_cfgs:
        home = _venv_home(data.content_of(cfg))
        if home and fs.resolve(home) is None and not _skipped_leak(cfg.entry.path):
            venv = fs.visible.get(posixpath.dirname(cfg.entry.path))
            if venv is not None:
                dirs.append(("host_venv", venv))
    # Only the outermost: node_modules/x/.git and .git/.../Dockerfile are part of their root.
    # Sorted by components, a root comes before its subtree and roots stay sorted as appended.
    dirs.sort(key=lambda item: _parts(item[1].entry.path))
    roots: list[tuple[str, ...]] = []
    leaks: list[Leak] = []
    for name, version in dirs:
        path = version.entry.path
        if _inside(path, roots):
            continue
        roots.append(_parts(path))
        files, size = _subtree(data, path)
        credential = _git_credential(data.text(f"{path}/config")) if name == "git" else None
        home = _venv_home(data.content(f"{path}/pyvenv.cfg")) if name == "host_venv" else None
        leaks.append(_leak(data, name, version, files, size, credential, home))
    for name, version in scan.leak_files:
        path = version.entry.path
        if _skipped_leak(path) or _inside(path, roots):
            continue
        leaks.append(_leak(data, name, version, 1, version.entry.size, None, None))
    leaks.sort(key=lambda leak: leak.path)
    return tuple(leaks[:LIST_LIMIT])


def _leak(data: ImageData, name: str, version: Version, files: int, size: int,
          credential: str | None, home: str | None) -> Leak:  # fmt: skip
    path = version.entry.path
    return Leak(name, path, posixpath.dirname(path), version.entry.kind, files, size,
                version.layer, data.step(version.layer), credential, home)  # fmt: skip


def _subtree(data: ImageData, top: str) -> tuple[int, int]:
    files = size = 0
    for version in data.fs.walk(top):
        if version.entry.kind == FILE:
            files += 1
            size += version.entry.size
    return files, size


def _venv_home(raw: bytes | None) -> str | None:
    if not raw:
        return None
    for line in raw.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip().lower() == "home":
            return value.strip() or None
    return None


def _git_credential(text: str | None) -> str | None:
    """ "url" or "header" when .git/config carries a credential; the value is never kept."""
    if not text:
        return None
    if _HEADER_CREDENTIAL.search(text):
        return "header"
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip().lower() in ("url", "pushurl") and _URL_CREDENTIAL.search(value):
            return "url"
    return None


# --- sudoers -----------------------------------------------------------------------------------


def _sudoers(data: ImageData) -> tuple[SudoersFile, ...]:
    paths = [SUDOERS] if data.fs.exists(SUDOERS) else []
    paths += data.fs.children(SUDOERS_D.rstrip("/"))
    out = []
    for path in paths:
        version = data.fs.visible[path]
        if version.entry.kind != FILE:
            continue
        raw = data.content_of(version)
        name = posixpath.basename(path)
        read = path == SUDOERS or ("." not in name and not name.endswith("~"))
        size = version.entry.size
        rules = parse_sudoers(raw.decode("utf-8", "replace")) if raw is not None else ()
        out.append(SudoersFile(path, size, version.layer, data.step(version.layer), read,
                               raw is not None, raw is not None and len(raw) < size,
                               rules))  # fmt: skip
    return tuple(out)


_TAG = re.compile(r"\b(NO)?(PASSWD|EXEC|SETENV|LOG_INPUT|LOG_OUTPUT|MAIL|FOLLOW|INTERCEPT)\s*:")
_ALIAS = re.compile(r"(User|Runas|Host|Cmnd|Cmd)_Alias\s+(.*)")


def _logical_lines(text: str) -> Iterator[str]:
    """Lines with comments removed and backslash continuations joined."""
    pending = ""
    for raw in text.splitlines():
        line = raw
        # "#include", "#includedir" and "#<uid>" are not comments.
        hash_at = line.find("#")
        while hash_at >= 0:
            rest = line[hash_at + 1 :]
            if rest.startswith(("include", "includedir")) or rest[:1].isdigit():
                hash_at = line.find("#", hash_at + 1)
                continue
            line = line[:hash_at]
            break
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            yield line
    if pending.strip():
        yield pending.strip()


def parse_sudoers(text: str) -> tuple[SudoRule, ...]:
    """User specifications: who may run what, with NOPASSWD; aliases of users are expanded."""
    aliases: dict[str, list[str]] = {}
    rules: list[SudoRule] = []
    for line in _logical_lines(text):
        if line.startswith(("Defaults", "@include", "#include")):
            continue
        alias = _ALIAS.match(line)
        if alias:
            if alias.group(1) == "User":
                for part in alias.group(2).split(":"):
                    name, sep, members = part.partition("=")
                    if sep:
                        aliases[name.strip()] = [m.strip() for m in members.split(",") if m.strip()]
            continue
        rules.extend(_user_spec(line, aliases))
    return tuple(rules)


_USERS = re.compile(r"((?:[^\s,]+\s*,\s*)*[^\s,]+)\s+(.*)")


def _user_spec(line: str, aliases: dict[str, list[str]]) -> list[SudoRule]:
    match = _USERS.fullmatch(line)
    if match is None or "=" not in match.group(2):
        return []
    users: list[str] = []
    for user in match.group(1).split(","):
        user = user.strip()
        # "!bob" excludes a user from the list; it grants nothing.
        if user and not user.startswith("!"):
            users += aliases.get(user, [user])
    out = []
    # Several "Host = commands" specs may follow, separated by ":" outside tags and run-as.
    for spec in _host_specs(match.group(2)):
        _, _, commands_text = spec.partition("=")
        runas, commands, nopasswd = _commands(commands_text)
        out += [SudoRule(user, user.startswith("%"), runas, commands, nopasswd, "ALL" in commands)
                for user in users]  # fmt: skip
    return out


def _host_specs(rest: str) -> list[str]:
    # A ":" that ends a tag ("NOPASSWD:") or sits in a run-as "(a:b)" does not separate specs.
    specs, current, depth = [], [], 0
    i = 0
    while i < len(rest):
        char = rest[i]
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif char == ":" and depth == 0:
            word = re.search(r"([A-Z_]+)\s*$", "".join(current))
            if not (word and _TAG.fullmatch(word.group(1) + ":")):
                specs.append("".join(current))
                current = []
                i += 1
                continue
        current.append(char)
        i += 1
    specs.append("".join(current))
    return [s for s in specs if "=" in s]


def _commands(text: str) -> tuple[str | None, tuple[str, ...], bool]:
    text = text.strip()
    runas = None
    if text.startswith("("):
        end = text.find(")")
        if end > 0:
            runas, text = text[1:end].strip(), text[end + 1 :]
    # True when some command of the rule runs without a password.
    nopasswd = any(m.group(0).startswith("NOPASSWD") for m in _TAG.finditer(text))
    commands = tuple(c.strip() for c in _TAG.sub("", text).split(",") if c.strip())
    return runas, commands, nopasswd
