"""The diff of two images: frozen dataclasses whose `asdict` is the JSON document's body."""

from __future__ import annotations

from dataclasses import dataclass, field

# The ways a named value moves between OLD and NEW.
ADDED, REMOVED, CHANGED = "added", "removed", "changed"
UPGRADED, DOWNGRADED = "upgraded", "downgraded"


@dataclass(frozen=True)
class ValueChange:
    """A named value that differs: a config field, an ENV variable, a label."""

    name: str
    change: str  # "added" | "removed" | "changed"
    old: str | None  # None when added, and when `hidden`
    new: str | None  # None when removed, and when `hidden`
    hidden: bool = False  # a secret-looking value: never shown, only that it moved


@dataclass(frozen=True)
class SetChange:
    """Members of an unordered set (exposed ports, volumes) only one image has."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


@dataclass(frozen=True)
class Base:
    """What an image says it was built on (OCI base.name / base.digest labels)."""

    name: str | None = None
    digest: str | None = None


@dataclass(frozen=True)
class Side:
    """One image of the pair, as read."""

    reference: str
    id: str | None
    digest: str | None  # the repository (manifest) digest when the source knows one
    created: str | None
    platform: str | None
    base: Base
    layers: int
    layers_read: int  # layers read from the image itself; the others came from the cache
    bytes: int  # uncompressed bytes of every layer
    visible_bytes: int  # bytes of the files a container sees
    wasted_bytes: int  # bytes shipped but deleted or replaced by a later layer
    python: str | None  # the interpreter version the command runs, as known
    user: str  # USER, "" when unset (root)


@dataclass(frozen=True)
class ConfigDiff:
    changes: tuple[ValueChange, ...] = ()  # user, entrypoint, cmd, workdir, stop_signal, ...
    env: tuple[ValueChange, ...] = ()
    labels: tuple[ValueChange, ...] = ()
    exposed_ports: SetChange = field(default_factory=SetChange)
    volumes: SetChange = field(default_factory=SetChange)


@dataclass(frozen=True)
class LayerChange:
    digest: str  # the diff_id
    status: str  # "shared" | "added" | "removed"
    size: int
    old_index: int | None
    new_index: int | None
    created_by: str | None


@dataclass(frozen=True)
class PathGrowth:
    path: str
    old_bytes: int | None  # None: below the facts' threshold in OLD (or absent)
    new_bytes: int


@dataclass(frozen=True)
class SizeDiff:
    delta_bytes: int  # NEW's layer bytes minus OLD's
    shared_layers: int
    shared_bytes: int
    added_bytes: int  # bytes of NEW's layers OLD does not have: what a host holding OLD fetches
    removed_bytes: int
    base_layers: int  # the leading layers both images have in the same order: their common base
    layers: tuple[LayerChange, ...] = ()
    biggest_added: tuple[PathGrowth, ...] = ()
    biggest_known: bool = False  # the facts held per-path sizes for both images


@dataclass(frozen=True)
class VersionChange:
    name: str
    change: str  # "added" | "removed" | "upgraded" | "downgraded" | "changed"
    old: str | None
    new: str | None


@dataclass(frozen=True)
class EnvironmentDiff:
    environment: str  # the site-packages dir
    command: bool  # on the command's import path
    changes: tuple[VersionChange, ...]


@dataclass(frozen=True)
class VulnerabilityChange:
    id: str
    severity: str
    ecosystem: str
    package: str
    installed: str
    fixed: str | None  # the first version with the fix, when the advisory names one
    where: str | None  # the environment or the package database


@dataclass(frozen=True)
class VulnerabilitiesDiff:
    compared: bool
    note: str | None = None  # why not compared
    introduced: tuple[VulnerabilityChange, ...] = ()
    fixed: tuple[VulnerabilityChange, ...] = ()


@dataclass(frozen=True)
class PackagesDiff:
    os: tuple[VersionChange, ...] = ()
    python: tuple[EnvironmentDiff, ...] = ()
    interpreter: VersionChange | None = None
    vulnerabilities: VulnerabilitiesDiff = field(default_factory=lambda: VulnerabilitiesDiff(False))


@dataclass(frozen=True)
class FindingEntry:
    fingerprint: str
    check: str
    severity: str
    message: str
    where: str
    fix: str
    compared: bool = True  # False: the check did not run on the other image


@dataclass(frozen=True)
class FindingsDiff:
    new: tuple[FindingEntry, ...] = ()
    fixed: tuple[FindingEntry, ...] = ()
    still: tuple[FindingEntry, ...] = ()
    not_rechecked: tuple[FindingEntry, ...] = ()  # OLD's, whose check did not run on NEW


@dataclass(frozen=True)
class RuntimeDiff:
    compared: bool
    note: str | None = None
    changes: tuple[ValueChange, ...] = ()


@dataclass(frozen=True)
class Gate:
    fail_on: str | None  # the SEVERITY of --fail-on new:SEVERITY; None: no gate asked
    failed: bool
    counted: tuple[str, ...]  # the fingerprints of the new findings at or above it
    verdict: str


@dataclass(frozen=True)
class ImageDiff:
    old: Side
    new: Side
    config: ConfigDiff
    size: SizeDiff
    packages: PackagesDiff
    findings: FindingsDiff
    runtime: RuntimeDiff
    gate: Gate
