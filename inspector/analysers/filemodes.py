"""Risky file modes in the merged filesystem: setuid/setgid, world-writable, file capabilities.

Only visible paths count: a setuid binary a later layer deleted still ships its bytes, but nobody
can execute it. Everything here comes from tar headers; no content is captured.
"""

from __future__ import annotations

import stat
import struct
from dataclasses import dataclass

from inspector.analysers.imagedata import ImageData
from inspector.layers.model import BLOCK, CHAR, DIR, FILE, HARDLINK, SYMLINK
from inspector.layers.overlay import Version

# `chmod -R 777 /app` marks every file; the list keeps this many, the total counts them all.
WORLD_WRITABLE_LIMIT = 1000

# linux/capability.h, by bit number.
CAPABILITY_NAMES = (
    "cap_chown", "cap_dac_override", "cap_dac_read_search", "cap_fowner", "cap_fsetid",
    "cap_kill", "cap_setgid", "cap_setuid", "cap_setpcap", "cap_linux_immutable",
    "cap_net_bind_service", "cap_net_broadcast", "cap_net_admin", "cap_net_raw", "cap_ipc_lock",
    "cap_ipc_owner", "cap_sys_module", "cap_sys_rawio", "cap_sys_chroot", "cap_sys_ptrace",
    "cap_sys_pacct", "cap_sys_admin", "cap_sys_boot", "cap_sys_nice", "cap_sys_resource",
    "cap_sys_time", "cap_sys_tty_config", "cap_mknod", "cap_lease", "cap_audit_write",
    "cap_audit_control", "cap_setfcap", "cap_mac_override", "cap_mac_admin", "cap_syslog",
    "cap_wake_alarm", "cap_block_suspend", "cap_audit_read", "cap_perfmon", "cap_bpf",
    "cap_checkpoint_restore",
)  # fmt: skip

# struct vfs_cap_data / vfs_ns_cap_data (linux/capability.h): little-endian u32 words.
VFS_CAP_REVISION_MASK = 0xFF000000
VFS_CAP_FLAGS_EFFECTIVE = 0x000001
VFS_CAP_REVISION_1, VFS_CAP_REVISION_2, VFS_CAP_REVISION_3 = 0x01000000, 0x02000000, 0x03000000
_CAP_SIZES = {VFS_CAP_REVISION_1: 12, VFS_CAP_REVISION_2: 20, VFS_CAP_REVISION_3: 24}


@dataclass(frozen=True)
class SpecialFile:
    path: str
    kind: str  # "file" | "hardlink"
    mode: str  # permission bits in octal, e.g. "4755"
    uid: int
    gid: int
    setuid: bool
    setgid: bool
    layer: int
    created_by: str | None


@dataclass(frozen=True)
class WritablePath:
    path: str
    kind: str
    mode: str
    uid: int
    gid: int
    layer: int
    created_by: str | None
    size: int  # bytes of a regular file; 0 for anything else (a hard link's data is its target's)


@dataclass(frozen=True)
class Capabilities:
    """A decoded security.capability xattr (`decoded` False: kept only as `raw_hex`)."""

    raw_hex: str
    decoded: bool
    revision: int | None  # 1, 2 or 3 (3: namespaced, carries `rootid`)
    effective: bool
    permitted: tuple[str, ...]
    inheritable: tuple[str, ...]
    rootid: int | None
    text: str | None  # libcap's short form, e.g. "cap_net_bind_service+ep"


@dataclass(frozen=True)
class CapabilityFile:
    path: str
    layer: int
    created_by: str | None
    capabilities: Capabilities


@dataclass(frozen=True)
class FileModes:
    setuid_setgid: tuple[SpecialFile, ...]
    world_writable: tuple[WritablePath, ...]  # sorted by path, at most WORLD_WRITABLE_LIMIT
    world_writable_total: int
    capabilities: tuple[CapabilityFile, ...]


def wants(path: str, size: int) -> int | None:
    return None


def _octal(mode: int) -> str:
    return f"{stat.S_IMODE(mode):04o}"


def analyse(data: ImageData) -> FileModes:
    special: list[SpecialFile] = []
    writable: list[WritablePath] = []
    caps: list[CapabilityFile] = []
    for path in sorted(data.fs.visible):
        version: Version = data.fs.visible[path]
        entry = version.entry
        step = data.step(version.layer)
        if entry.kind in (FILE, HARDLINK) and entry.mode & (stat.S_ISUID | stat.S_ISGID):
            special.append(SpecialFile(path, entry.kind, _octal(entry.mode), entry.uid, entry.gid,
                                       bool(entry.mode & stat.S_ISUID),
                                       bool(entry.mode & stat.S_ISGID), version.layer,
                                       step))  # fmt: skip
        # Symlink modes are meaningless (always 777); sticky dirs are /tmp's safe pattern.
        # Device nodes (/dev/null, /dev/tty: 0666 by design) grant access to a device, not to
        # content anyone could tamper with, and the runtime mounts its own /dev over them.
        sticky_dir = entry.kind == DIR and bool(entry.mode & stat.S_ISVTX)
        device = entry.kind in (CHAR, BLOCK)
        if entry.mode & stat.S_IWOTH and entry.kind != SYMLINK and not sticky_dir and not device:
            writable.append(WritablePath(path, entry.kind, _octal(entry.mode), entry.uid,
                                         entry.gid, version.layer, step,
                                         entry.size if entry.kind == FILE else 0))  # fmt: skip
        if entry.capability:
            caps.append(CapabilityFile(path, version.layer, step,
                                       decode_capability(entry.capability)))  # fmt: skip
    return FileModes(
        setuid_setgid=tuple(special),
        world_writable=tuple(writable[:WORLD_WRITABLE_LIMIT]),
        world_writable_total=len(writable),
        capabilities=tuple(caps),
    )


def _names(mask: int) -> tuple[str, ...]:
    return tuple(
        CAPABILITY_NAMES[bit] if bit < len(CAPABILITY_NAMES) else f"cap_{bit}"
        for bit in range(mask.bit_length())
        if mask >> bit & 1
    )


def decode_capability(raw_hex: str) -> Capabilities:
    """Decode a hex-encoded vfs_cap_data; anything malformed is kept undecoded."""
    undecoded = Capabilities(raw_hex, False, None, False, (), (), None, None)
    try:
        raw = bytes.fromhex(raw_hex)
    except ValueError:
        return undecoded
    if len(raw) < 4:
        return undecoded
    (magic,) = struct.unpack_from("<I", raw)
    revision = magic & VFS_CAP_REVISION_MASK
    size = _CAP_SIZES.get(revision)
    if size is None or len(raw) < size:
        return undecoded
    words = struct.unpack_from(f"<{size // 4}I", raw)
    permitted, inheritable = words[1], words[2]
    if revision != VFS_CAP_REVISION_1:
        permitted |= words[3] << 32
        inheritable |= words[4] << 32
    rootid = words[5] if revision == VFS_CAP_REVISION_3 else None
    effective = bool(magic & VFS_CAP_FLAGS_EFFECTIVE)
    perm_names, inh_names = _names(permitted), _names(inheritable)
    return Capabilities(raw_hex, True, revision >> 24, effective, perm_names, inh_names, rootid,
                        _text(perm_names, inh_names, effective))  # fmt: skip


def _text(permitted: tuple[str, ...], inheritable: tuple[str, ...], effective: bool) -> str:
    # Group capabilities sharing the same flags, as `getcap` does: "cap_a,cap_b+ep cap_c+i".
    groups: dict[str, list[str]] = {}
    for name in sorted(set(permitted) | set(inheritable), key=_cap_order):
        flags = (
            ("e" if effective and name in permitted else "")
            + ("i" if name in inheritable else "")
            + ("p" if name in permitted else "")
        )
        groups.setdefault(flags, []).append(name)
    return " ".join(f"{','.join(names)}+{flags}" for flags, names in groups.items())


def _cap_order(name: str) -> int:
    if name in CAPABILITY_NAMES:
        return CAPABILITY_NAMES.index(name)
    return int(name.removeprefix("cap_"))
