"""Python in the image: interpreters, virtualenvs, installed distributions, and which interpreter
the default command really runs.

Everything is read from the merged filesystem and the few small files `wants` captured; symlinks
are followed inside the image root only (`FileSystem.resolve`), never on the host.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass

from inspector.analysers import codepaths, pydeps, startup
from inspector.analysers.imagedata import ImageData
from inspector.analysers.numbers import digits_key
from inspector.image.config import command_form
from inspector.layers.model import DIR, FILE, HARDLINK, SYMLINK, Entry
from inspector.layers.overlay import DELETED, FileSystem

# Docker (and runc) put this PATH in place when the image's config has none.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_METADATA_CAP = 16 * 1024  # Name/Version sit in the first lines; long descriptions come later
_SMALL_CAP = 4 * 1024
_SYSCONFIG_CAP = 8 * 1024  # Debian's build path with the full version appears within ~3 KiB
# Linux reads at most 256 bytes of a shebang (BINPRM_BUF_SIZE since 5.1).
_SHEBANG_CAP = 256
_SCRIPT_MAX = 64 * 1024  # bigger files in bin dirs are native binaries, not launcher scripts
_DIST_INFO_CAPS = {"METADATA": _METADATA_CAP, "INSTALLER": 256, "direct_url.json": _SMALL_CAP}
# Where ENTRYPOINT/CMD scripts usually live besides bin dirs; only shallow files, to stay bounded.
# A user's home is a WORKDIR too (`./boot.sh` in /home/microblog, Kedro's /home/kedro_docker).
_APP_ROOTS = ("/app/", "/srv/", "/code/", "/usr/src/app/", "/opt/app/", "/home/")

_VERSIONED = re.compile(r"python(\d)\.(\d+)")
_PYTHON_NAME = re.compile(r"python(\d(\.\d+)?)?")
_PATCHLEVEL = re.compile(rb'#define\s+PY_VERSION\s+"([^"]+)"')
_UV_PREFIX = re.compile(r"cpython-(\d+\.\d+\.\d+[a-z0-9]*)-")
_CONDA_PYTHON = re.compile(r"python-(\d+\.\d+\.\d+[a-z0-9]*)-.*\.json")
_VERSION_PREFIX = re.compile(r"\d+(\.\d+){0,2}")
_META_DIR = re.compile(r"(?P<name>[^-]+)(?:-(?P<version>[^-]+))?(?:-py\d[^-]*)?\.(?:dist|egg)-info")
_EDITABLE_PTH = re.compile(r"__editable__\.(?P<name>.+?)-(?P<version>[^-]+)\.pth")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
_PIP_LONG_SHEBANG = re.compile(r"'''exec' \"?([^\" ]+)\"? ")

_SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "busybox"})
_SEPARATORS = frozenset({"&&", "||", ";", "&", "|", ";;", "|&"})
# Shell commands that prepare the environment rather than being the service itself.
_SETUP_COMMANDS = frozenset({
    "cd", "set", "umask", "ulimit", "echo", "printf", "true", ":", "test", "[", "mkdir", "trap",
    "unset", "sleep", "chmod", "chown", "rm", "cp", "ln", "touch", "export", ".", "source", "wait",
})  # fmt: skip
_WRAPPERS = frozenset({"tini", "tini-static", "dumb-init", "gosu", "su-exec"})
# Project runners: `NAME run [options] CMD` runs CMD in the project's venv; the options that
# take a value (the next word) are listed, the others are flags.
_RUNNERS = {
    "uv": frozenset({
        "--extra", "--no-extra", "--group", "--no-group", "--only-group", "--with",
        "--with-editable", "--with-requirements", "--env-file", "--package", "--python", "-p",
        "--directory", "--project", "--index", "--default-index", "--index-url", "-i",
        "--extra-index-url", "--find-links", "-f", "--index-strategy", "--keyring-provider",
        "--resolution", "--prerelease", "--fork-strategy", "--exclude-newer", "--link-mode",
        "--no-build-package", "--no-binary-package", "--config-setting", "-C",
        "--reinstall-package", "--upgrade-package", "-P", "--refresh-package", "--cache-dir",
        "--config-file", "--python-preference", "--color", "--allow-insecure-host",
        "--no-sources-package", "--exclude-newer-package",
    }),
    "poetry": frozenset({"--directory", "-C", "--project", "-P"}),
    "pipenv": frozenset(),
}  # fmt: skip
# (runner, option) -> what it sets: the cwd the command runs in, or only the project directory.
_RUNNER_DIRS = {("uv", "--directory"): "cwd", ("uv", "--project"): "project",
                ("poetry", "--directory"): "cwd", ("poetry", "-C"): "cwd",
                ("poetry", "--project"): "project", ("poetry", "-P"): "project"}  # fmt: skip
_POSITIONAL = re.compile(r"\$(?:\{([1-9])\}|([1-9]))")
_MAX_HOPS = 8

# What python.startup reads (analysers/startup.py), captured here so the cache fingerprint sees it.
_START_SCRIPT_CAP = 16 * 1024
_START_CONFIG_CAP = 64 * 1024
_START_SCRIPT = re.compile(r".*\.(?:sh|bash)|.*(?:entrypoint|start|run|boot|init|serve|launch).*",
                           re.I)  # fmt: skip
_CONFIG_EXTS = (".ini", ".conf", ".cfg", ".yaml", ".yml", ".json", ".toml")
_SERVER_CONFIG = re.compile(r"gunicorn[\w.-]*\.py|[\w.-]+\.conf\.py|[\w.-]*uwsgi[\w.-]*\.ini")
# log.yaml, logging.ini, log_config.json, uvicorn-log-config.yaml; not logrotate.conf or
# catalog.yaml: "log" starts the name or follows a separator, and a separator or the dot follows.
_LOGGING_CONFIG = re.compile(
    r"(?:.*[_.-])?log(?:ging)?(?:[_.-][\w.-]*)?\.(?:ini|conf|cfg|ya?ml|json|toml)", re.I
)
# Installed code and system data are not the app's config.
_CONFIG_SKIP = ("/site-packages/", "/dist-packages/", "/node_modules/")
_CONFIG_SKIP_ROOTS = ("/usr/share/", "/usr/lib/", "/usr/lib64/", "/proc/", "/sys/")

# Requirements and lock files (python.lock_files, read by analysers/pydeps.py). Lock files of big
# projects run to hundreds of KiB; requirements files are small.
_LOCK_CAP = 512 * 1024
_REQUIREMENTS_CAP = 64 * 1024
_LOCK_NAMES = {"poetry.lock": "poetry.lock", "uv.lock": "uv.lock", "Pipfile.lock": "Pipfile.lock",
               "pdm.lock": "pdm.lock"}  # fmt: skip
_REQUIREMENTS_NAME = re.compile(
    r"(?:[\w.-]*[_.-])?(?:requirements|constraints)(?:[_.-][\w.-]*)?\.(?:txt|in)"
)
_PYLOCK_NAME = re.compile(r"pylock(?:\.[\w-]+)?\.toml")
# Installed packages, caches and system data ship requirement files that are not the app's.
_LOCK_SKIP = ("/site-packages/", "/dist-packages/", "/node_modules/", "/.git/", "/.cache/")
_LOCK_SKIP_ROOTS = ("/usr/share/", "/usr/lib/", "/usr/lib64/", "/usr/local/lib/", "/proc/", "/sys/")


@dataclass(frozen=True)
class Interpreter:
    path: str  # the regular file; symlinked names are in `symlinks`
    version: str  # "3.11", or "3.11.2" when a file in the image tells the patch level
    version_source: (
        str  # name | stdlib | patchlevel.h | sysconfigdata | uv | conda-meta | PYTHON_VERSION
    )
    prefix: str
    stdlib: str | None  # lib/pythonX.Y holding os.py; None when Python would not find one
    cache_tag: str  # "cpython-311": the __pycache__ tag this interpreter reads
    symlinks: tuple[str, ...]  # paths in bin dirs that resolve to `path`
    externally_managed: bool  # PEP 668 marker in the stdlib dir
    externally_managed_removed: bool  # the marker was there and a later layer deleted it
    layer: int


@dataclass(frozen=True)
class Venv:
    path: str
    home: str | None
    home_exists: bool
    version: str | None  # from `version` or `version_info` ("3.11.2", virtualenv suffix dropped)
    include_system_site_packages: bool
    tool: str  # "venv" | "virtualenv" | "uv": who wrote pyvenv.cfg
    python: str | None  # the venv's bin/python (or python3) entry
    interpreter: str | None  # where `python` resolves inside the image; None when dangling
    site_packages: tuple[str, ...]
    # Console scripts whose `#!` interpreter is missing: pip wrote them for another venv path.
    dangling_scripts: tuple[pydeps.VenvScript, ...] = ()


@dataclass(frozen=True)
class Distribution:
    name: str
    version: str | None
    location: str  # the site-packages / dist-packages (or PYTHONPATH) dir it is installed into
    metadata: str  # the .dist-info / .egg-info / .egg path
    metadata_format: str  # "dist-info" | "egg-info" | "egg"
    installer: str | None  # INSTALLER content: "pip", "uv", "debian", ...
    editable: bool
    environment: str | None  # the venv path, else the owning interpreter's prefix
    environment_kind: str | None  # "venv" | "interpreter"
    layer: int


@dataclass(frozen=True)
class EntrypointInterpreter:
    argv: tuple[str, ...]  # ENTRYPOINT + CMD, as Docker runs them
    form: str | None  # "exec" | "shell"
    command: (
        str | None
    )  # the word that is looked up (first word of a shell command, wrappers skipped)
    command_args: tuple[str, ...]  # what the interpreter receives after its own path
    resolved_path: str | None  # `command` after PATH lookup and symlinks
    interpreter: str | None  # the venv's python when a venv is active, else the interpreter path
    venv: str | None
    base_interpreter: str | None  # the regular interpreter file that actually executes
    version: str | None
    cache_tag: str | None
    via: str | None  # "direct" | "shebang" | "env" | "shell": the last hop that reached Python
    chain: tuple[str, ...]  # every hop in order, e.g. ("shell", "shebang", "env")
    wrappers: tuple[str, ...]  # init/privilege wrappers and runners skipped (tini, uv run, ...)
    note: str | None  # why it could not be decided, or what is odd
    scripts: tuple[str, ...] = ()  # shell start scripts followed to the command they exec
    cwd: str | None = None  # where a script's `cd` (or `uv run --directory`) moved; None: WORKDIR


@dataclass(frozen=True)
class PythonFacts:
    interpreters: tuple[Interpreter, ...]
    venvs: tuple[Venv, ...]
    packages: tuple[Distribution, ...]
    entrypoint_interpreter: EntrypointInterpreter
    # Start scripts, server and logging configs (analysers/startup.py); None in hand-made facts.
    startup: startup.Startup | None = None
    # What the HEALTHCHECK runs, looked up in the image; None only for hand-made facts.
    healthcheck: pydeps.Healthcheck | None = None
    lock_files: tuple[pydeps.LockFile, ...] = ()  # requirements and lock files the image ships
    # Where the command's own code lives (WORKDIR, dirs it names, start scripts), with owners.
    code_locations: tuple[codepaths.CodeLocation, ...] = ()


# --- capture --------------------------------------------------------------------------------


def wants(path: str, size: int) -> int | None:
    slash = path.rfind("/")
    name = path[slash + 1 :]
    parent = path[:slash]
    if name == "pyvenv.cfg":
        return _SMALL_CAP
    lock = _lock_kind(path)
    if lock is not None:
        return _REQUIREMENTS_CAP if lock == "requirements" else _LOCK_CAP
    if parent.endswith(".dist-info"):
        return _DIST_INFO_CAPS.get(name)
    if name == "PKG-INFO" and (parent.endswith(".egg-info") or parent.endswith(".egg/EGG-INFO")):
        return _METADATA_CAP
    if name.endswith(".egg-info"):
        return _METADATA_CAP
    if name.endswith((".pth", ".egg-link")):
        return _SMALL_CAP
    if name == "patchlevel.h" and "/include/python" in parent:
        return _SMALL_CAP
    if name.startswith("_sysconfigdata") and name.endswith(".py") and "/lib/python" in parent:
        return _SYSCONFIG_CAP
    command_like = _could_be_command(path, parent)
    if command_like and size <= _SCRIPT_MAX and _START_SCRIPT.fullmatch(name):
        return _START_SCRIPT_CAP
    # Before the shebang rule: a gunicorn.conf.py in /srv is also where commands may live.
    if name.endswith(".py") and _SERVER_CONFIG.fullmatch(name) and not _not_app_config(path):
        return _START_CONFIG_CAP
    if _logging_config(path, name) or (name.endswith(".ini") and _SERVER_CONFIG.fullmatch(name)
                                       and not _not_app_config(path)):  # fmt: skip
        return _START_CONFIG_CAP
    if size <= _SCRIPT_MAX and command_like:
        return _SHEBANG_CAP
    return None


def _not_app_config(path: str) -> bool:
    return path.startswith(_CONFIG_SKIP_ROOTS) or any(s in path for s in _CONFIG_SKIP)


def _logging_config(path: str, name: str) -> bool:
    """A logging config file of the app's (python.startup.logging_configs)."""
    # Tens of thousands of paths: the cheap tests first.
    if "log" not in name.lower() or not name.endswith(_CONFIG_EXTS):
        return False
    return _LOGGING_CONFIG.fullmatch(name) is not None and not _not_app_config(path)


def _lock_kind(path: str) -> str | None:
    """What kind of requirements or lock file `path` is (python.lock_files), else None."""
    name = path[path.rfind("/") + 1 :]
    if name in _LOCK_NAMES:
        kind: str | None = _LOCK_NAMES[name]
    elif name.startswith("pylock") and _PYLOCK_NAME.fullmatch(name):
        kind = "pylock"
    elif name.endswith((".txt", ".in")) and (
        _REQUIREMENTS_NAME.fullmatch(name) or path.rsplit("/", 2)[-2] == "requirements"
    ):
        kind = "requirements"
    else:
        return None
    if path.startswith(_LOCK_SKIP_ROOTS) or any(s in path for s in _LOCK_SKIP):
        return None
    return kind


def _could_be_command(path: str, parent: str) -> bool:
    if parent.endswith(("/bin", "/sbin")) or parent == "":
        return True
    if path.startswith(("/docker-entrypoint", "/entrypoint")):
        return True
    for root in _APP_ROOTS:
        if path.startswith(root):
            return path.count("/", len(root)) <= 1
    return False


# --- the analysis ---------------------------------------------------------------------------


def analyse(data: ImageData) -> PythonFacts:
    scan = _scan(data.fs)
    venv_dirs = {posixpath.dirname(p) for p in scan.pyvenv_cfgs}
    interpreters = _interpreters(data, scan, venv_dirs)
    venvs = tuple(_venv(data, cfg) for cfg in sorted(scan.pyvenv_cfgs))
    packages = _packages(data, scan, interpreters, venvs)
    resolver = _Resolver(data, interpreters, venvs)
    entry = resolver.run()
    code = codepaths.locations(data.fs, data.config.workdir or "/", resolver.cwd,
                               entry.command_args, entry.scripts,
                               data.config.env.get("PYTHONPATH"))  # fmt: skip
    started = startup.analyse(data, _Resolver(data, interpreters, venvs)._lookup, _logging_config)
    health = pydeps.healthcheck(
        data, lambda words: _Resolver(data, interpreters, venvs).program(words)
    )
    return PythonFacts(interpreters, venvs, packages, entry, startup=started, healthcheck=health,
                       lock_files=pydeps.lock_files(data, _lock_kind),
                       code_locations=code)  # fmt: skip


class _Scan:
    """Everything the analysis needs from one pass over the visible paths."""

    def __init__(self) -> None:
        self.python_bins: list[tuple[str, Entry]] = []
        self.bin_links: list[str] = []
        self.pyvenv_cfgs: list[str] = []
        self.metadata: list[tuple[str, str, int]] = []  # (path, format, layer)
        self.egg_links: list[str] = []
        self.editable_pths: list[str] = []
        self.egg_info_by_parent: dict[str, list[tuple[str, int]]] = {}


def _scan(fs: FileSystem) -> _Scan:
    scan = _Scan()
    for path, version in fs.visible.items():
        entry = version.entry
        kind = entry.kind
        slash = path.rfind("/")
        name = path[slash + 1 :]
        parent = path[:slash] or "/"
        if kind == DIR:
            if name.endswith(".dist-info"):
                scan.metadata.append((path, "dist-info", version.layer))
            elif name.endswith(".egg-info"):
                scan.egg_info_by_parent.setdefault(parent, []).append((path, version.layer))
            elif name.endswith(".egg") and fs.exists(path + "/EGG-INFO/PKG-INFO"):
                scan.metadata.append((path, "egg", version.layer))
            continue
        if kind == FILE:
            if name == "pyvenv.cfg":
                scan.pyvenv_cfgs.append(path)
            elif name.endswith(".egg-info"):
                scan.egg_info_by_parent.setdefault(parent, []).append((path, version.layer))
            elif name.endswith(".egg-link"):
                scan.egg_links.append(path)
            elif name.startswith("__editable__") and name.endswith(".pth"):
                scan.editable_pths.append(path)
        if kind in (SYMLINK, HARDLINK) or name.startswith("python"):
            parent_name = parent[parent.rfind("/") + 1 :]
            if parent_name in ("bin", "sbin"):
                if kind in (SYMLINK, HARDLINK):
                    scan.bin_links.append(path)
                if kind in (FILE, HARDLINK) and _PYTHON_NAME.fullmatch(name):
                    scan.python_bins.append((path, entry))
    return scan


def _canonical(fs: FileSystem, path: str) -> str | None:
    """The regular file `path` stands for: symlinks followed, a hardlink taken to its target."""
    resolved = fs.resolve(path)
    if resolved is None:
        return None
    entry = fs.get(resolved)
    if entry is not None and entry.kind == HARDLINK and entry.link:
        return fs.resolve(entry.link) or resolved
    return resolved


def _cache_tag(version: str | None) -> str | None:
    if not version:
        return None
    parts = version.split(".")
    if len(parts) < 2 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    return f"cpython-{parts[0]}{parts[1]}"


def _minor(version: str | None) -> str | None:
    match = _VERSION_PREFIX.match(version or "")
    if not match:
        return None
    parts = match.group(0).split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 else None


def _version_key(version: str) -> tuple[tuple[int, str], ...]:
    # Ordered without int(): a version part can be thousands of digits in a hostile file name.
    match = _VERSION_PREFIX.match(version)
    return tuple(digits_key(p) for p in match.group(0).split(".")) if match else ()


# --- interpreters ---------------------------------------------------------------------------


def _interpreters(data: ImageData, scan: _Scan, venv_dirs: set[str]) -> tuple[Interpreter, ...]:
    fs = data.fs
    # canonical file -> (layer, version hint from a pythonX.Y name)
    found: dict[str, tuple[int, str | None]] = {}
    aliases: dict[str, set[str]] = {}
    versioned_dirs: set[str] = set()
    unversioned: list[tuple[str, str]] = []
    for path, entry in scan.python_bins:
        bin_dir = posixpath.dirname(path)
        # A venv's own python (a --copies venv) is the venv, reported under `venvs`.
        if posixpath.dirname(bin_dir) in venv_dirs or bin_dir in venv_dirs:
            continue
        target = _canonical(fs, path) if entry.kind == HARDLINK else path
        target_entry = fs.get(target) if target else None
        if target is None or target_entry is None or target_entry.kind != FILE:
            continue
        match = _VERSIONED.fullmatch(posixpath.basename(path))
        if match is None:
            unversioned.append((path, target))
            continue
        versioned_dirs.add(bin_dir)
        hint = f"{match.group(1)}.{match.group(2)}"
        found[target] = (_layer(fs, target), hint)
        if target != path:
            aliases.setdefault(target, set()).add(path)
    for path, target in unversioned:
        if target in found:
            continue
        # A plain `python3` file next to `python3.11` is a copy of it, not another interpreter.
        twin = next((t for t in found if posixpath.dirname(t) == posixpath.dirname(path)), None)
        if posixpath.dirname(path) in versioned_dirs and twin is not None:
            aliases.setdefault(twin, set()).add(path)
        else:
            found[target] = (_layer(fs, target), None)

    by_canonical = {fs.resolve(p) or p: p for p in found}
    for link in scan.bin_links:
        target = _canonical(fs, link)
        if target is not None and target in by_canonical and link != by_canonical[target]:
            aliases.setdefault(by_canonical[target], set()).add(link)

    result = []
    for path, (layer, hint) in sorted(found.items()):
        interp = _interpreter(data, path, layer, hint, tuple(sorted(aliases.get(path, ()))))
        if interp is not None:
            result.append(interp)
    return tuple(result)


def _layer(fs: FileSystem, path: str) -> int:
    version = fs.visible.get(path)
    return version.layer if version else 0


def _interpreter(
    data: ImageData, path: str, layer: int, hint: str | None, symlinks: tuple[str, ...]
) -> Interpreter | None:
    fs = data.fs
    bin_dir = posixpath.dirname(path)
    located = _find_stdlib(fs, bin_dir, hint)
    if located is None:
        if hint is None:
            # A plain `python` file with no stdlib above it is a wrapper script or a stray copy:
            # nothing tells which Python it would be.
            return None
        prefix, stdlib, minor, source = posixpath.dirname(bin_dir), None, hint, "name"
    else:
        prefix, stdlib, minor = located
        source = "name" if hint else "stdlib"
    full = _full_version(data, prefix, stdlib, minor)
    version = minor
    if full is not None:
        version, source = full
    present = removed = False
    if stdlib is not None:
        marker = f"{stdlib}/EXTERNALLY-MANAGED"
        present = fs.exists(marker)
        removed = not present and any(v.removal == DELETED for v in fs.history.get(marker, ()))
    return Interpreter(
        path=path,
        version=version,
        version_source=source,
        prefix=prefix,
        stdlib=stdlib,
        cache_tag=_cache_tag(minor) or f"cpython-{minor.replace('.', '')}",
        symlinks=symlinks,
        externally_managed=present,
        externally_managed_removed=removed,
        layer=layer,
    )


def _find_stdlib(fs: FileSystem, bin_dir: str, minor: str | None) -> tuple[str, str, str] | None:
    """(prefix, stdlib dir, X.Y) as CPython's getpath finds them: search up for the landmark."""
    current = bin_dir
    while True:
        for lib in ("lib", "lib64"):
            lib_dir = posixpath.join(current, lib)
            minors = [minor] if minor else _stdlib_minors(fs, lib_dir)
            for candidate in minors:
                stdlib = f"{lib_dir}/python{candidate}"
                landmarks = (f"{stdlib}/os.py", f"{stdlib}/os.pyc",
                             f"{lib_dir}/python{candidate.replace('.', '')}.zip")  # fmt: skip
                if any(fs.resolve(mark) is not None for mark in landmarks):
                    return current, stdlib, candidate
        if current == "/":
            return None
        current = posixpath.dirname(current)


def _stdlib_minors(fs: FileSystem, lib_dir: str) -> list[str]:
    real = fs.resolve(lib_dir)
    if real is None:
        return []
    minors = []
    for child in fs.children(real):
        match = _VERSIONED.fullmatch(posixpath.basename(child))
        if match:
            minors.append(f"{match.group(1)}.{match.group(2)}")
    return sorted(minors, key=_version_key, reverse=True)


def _full_version(
    data: ImageData, prefix: str, stdlib: str | None, minor: str
) -> tuple[str, str] | None:
    fs = data.fs
    same_minor = minor + "."
    header = data.content(posixpath.join(prefix, "include", f"python{minor}", "patchlevel.h"))
    if header:
        match = _PATCHLEVEL.search(header)
        if match:
            return match.group(1).decode("ascii", "replace"), "patchlevel.h"
    if stdlib:
        # Debian builds in /build/.../pythonX.Y-X.Y.Z/, and that path is recorded in sysconfigdata.
        pattern = re.compile(
            rf"python{re.escape(minor)}-({re.escape(minor)}\.\d+[a-z0-9]*)".encode()
        )
        for child in fs.children(stdlib):
            name = posixpath.basename(child)
            if name.startswith("_sysconfigdata") and name.endswith(".py"):
                match = pattern.search(data.content(child) or b"")
                if match:
                    return match.group(1).decode("ascii"), "sysconfigdata"
    match = _UV_PREFIX.match(posixpath.basename(prefix))
    if match and match.group(1).startswith(same_minor):
        return match.group(1), "uv"
    for child in fs.children(posixpath.join(prefix, "conda-meta")):
        match = _CONDA_PYTHON.fullmatch(posixpath.basename(child))
        if match and match.group(1).startswith(same_minor):
            return match.group(1), "conda-meta"
    # The official python:* images build into /usr/local and announce the version in Env.
    declared = data.config.env.get("PYTHON_VERSION", "")
    if prefix == "/usr/local" and declared.startswith(same_minor):
        return declared, "PYTHON_VERSION"
    return None


# --- venvs ----------------------------------------------------------------------------------


def _parse_cfg(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip().lower().replace("_", "-")] = value.strip()
    return values


def _venv(data: ImageData, cfg_path: str) -> Venv:
    fs = data.fs
    path = posixpath.dirname(cfg_path)
    cfg = _parse_cfg(data.text(cfg_path) or "")
    raw_version = cfg.get("version") or cfg.get("version-info")
    match = _VERSION_PREFIX.match(raw_version or "")
    version = match.group(0) if match else raw_version
    tool = "uv" if "uv" in cfg else "virtualenv" if "virtualenv" in cfg else "venv"
    home = cfg.get("home")
    python = next(
        (p for name in _venv_python_names(version) if fs.get(p := f"{path}/bin/{name}")), None
    )
    site_packages = []
    for lib in ("lib", "lib64"):
        for child in fs.children(f"{path}/{lib}"):
            if _VERSIONED.fullmatch(posixpath.basename(child)):
                candidate = f"{child}/site-packages"
                if fs.exists(candidate) and fs.get(candidate).kind == DIR:  # type: ignore[union-attr]
                    site_packages.append(candidate)
    return Venv(
        path=path,
        home=home,
        home_exists=bool(home) and fs.resolve(home or "") is not None,
        version=version,
        include_system_site_packages=cfg.get("include-system-site-packages", "").lower() == "true",
        tool=tool,
        python=python,
        interpreter=_canonical(fs, python) if python else None,
        site_packages=tuple(site_packages),
        dangling_scripts=pydeps.dangling_scripts(data, path),
    )


def _venv_python_names(version: str | None) -> tuple[str, ...]:
    minor = _minor(version)
    return ("python", "python3") + ((f"python{minor}",) if minor else ())


# --- distributions --------------------------------------------------------------------------


def _packages(
    data: ImageData, scan: _Scan, interpreters: tuple[Interpreter, ...], venvs: tuple[Venv, ...]
) -> tuple[Distribution, ...]:
    extra_roots = {
        posixpath.normpath(p)
        for p in data.config.env.get("PYTHONPATH", "").split(":")
        if p.startswith("/")
    }

    def installable(location: str) -> bool:
        base = posixpath.basename(location)
        return (
            base in ("site-packages", "dist-packages")
            or location in extra_roots
            or "/__pypackages__/" in location
        )

    found: list[tuple[str, str, str, int, bool]] = []  # (metadata, format, location, layer, edit)
    for path, fmt, layer in scan.metadata:
        location = posixpath.dirname(path)
        if installable(location):
            found.append((path, fmt, location, layer, False))
    for parent, infos in scan.egg_info_by_parent.items():
        if installable(parent):
            found.extend((path, "egg-info", parent, layer, False) for path, layer in infos)
    # Legacy `setup.py develop`: the egg-link in site-packages names the project dir.
    for link in scan.egg_links:
        text = data.text(link) or ""
        target = posixpath.normpath(text.splitlines()[0].strip()) if text.strip() else ""
        for path, layer in scan.egg_info_by_parent.get(target, ()):
            found.append((path, "egg-info", posixpath.dirname(link), layer, True))

    editable_names: set[tuple[str, str]] = set()
    for pth in scan.editable_pths:
        match = _EDITABLE_PTH.fullmatch(posixpath.basename(pth))
        if match:
            editable_names.add((posixpath.dirname(pth), _normalize(match.group("name"))))

    environments = _Environments(interpreters, venvs)
    result = []
    for path, fmt, location, layer, linked in found:
        name, version = _distribution_name(data, path, fmt)
        installer = None
        editable = linked or (location, _normalize(name)) in editable_names
        if fmt == "dist-info":
            installer = (data.text(f"{path}/INSTALLER") or "").strip() or None
            editable = editable or _editable_direct_url(data.text(f"{path}/direct_url.json"))
        environment, kind = environments.owner(location)
        result.append(Distribution(name, version, location, path, fmt, installer, editable,
                                   environment, kind, layer))  # fmt: skip
    return tuple(sorted(result, key=lambda d: (d.location, _normalize(d.name), d.metadata)))


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _distribution_name(data: ImageData, path: str, fmt: str) -> tuple[str, str | None]:
    if fmt == "dist-info":
        raw = data.content(f"{path}/METADATA")
    elif fmt == "egg":
        raw = data.content(f"{path}/EGG-INFO/PKG-INFO")
    else:
        entry = data.fs.get(path)
        raw = data.content(path if entry and entry.kind == FILE else f"{path}/PKG-INFO")
    return metadata_name(raw, path)


def metadata_name(raw: bytes | None, path: str) -> tuple[str, str | None]:
    """Name and version from a METADATA / PKG-INFO head, else from the metadata dir's name."""
    headers = _headers(raw.decode("utf-8", "replace")) if raw else {}
    name, version = headers.get("name"), headers.get("version")
    if not name:
        # Missing or uncaptured metadata: the directory name still carries name and version.
        base = posixpath.basename(path)
        match = _META_DIR.fullmatch(base)
        if match:
            name, version = match.group("name"), version or match.group("version")
        else:
            name = base.split("-")[0].removesuffix(".egg")
    return name, version


def _headers(text: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break
        if line[0] in " \t":
            continue
        key, sep, value = line.partition(":")
        if sep:
            headers.setdefault(key.strip().lower(), value.strip())
    return headers


def _editable_direct_url(text: str | None) -> bool:
    if not text:
        return False
    try:
        info = json.loads(text)
    except ValueError:
        return False
    dir_info = info.get("dir_info") if isinstance(info, dict) else None
    return isinstance(dir_info, dict) and dir_info.get("editable") is True


class _Environments:
    """Which venv or interpreter a directory belongs to."""

    def __init__(self, interpreters: tuple[Interpreter, ...], venvs: tuple[Venv, ...]) -> None:
        self.venvs = sorted((v.path for v in venvs), key=len, reverse=True)
        self.interpreters = interpreters

    def owner(self, location: str) -> tuple[str | None, str | None]:
        for venv in self.venvs:
            if location.startswith(venv.rstrip("/") + "/"):
                return venv, "venv"
        match = re.search(r"/python(\d\.\d+)(/|$)", location)
        wanted = match.group(1) if match else None
        best: tuple[bool, int, tuple[int, ...]] | None = None
        owner = None
        for interp in self.interpreters:
            prefix = interp.prefix.rstrip("/") + "/"
            if not location.startswith(prefix):
                continue
            key = (_minor(interp.version) == wanted, len(prefix), _version_key(interp.version))
            if best is None or key > best:
                best, owner = key, interp.prefix
        return (owner, "interpreter") if owner else (None, None)


# --- what ENTRYPOINT/CMD runs ---------------------------------------------------------------


class _Resolver:
    """Follows the default command the way Docker, sh, the kernel and env would."""

    def __init__(
        self, data: ImageData, interpreters: tuple[Interpreter, ...], venvs: tuple[Venv, ...]
    ) -> None:
        self.data = data
        self.fs = data.fs
        self.env = dict(data.config.env)
        self.path_dirs = (self.env.get("PATH") or DEFAULT_PATH).split(":")
        self.cwd = data.config.workdir or "/"
        self.interpreters = {self.fs.resolve(i.path) or i.path: i for i in interpreters}
        self.venvs = {v.path: v for v in venvs}
        self.chain: list[str] = []
        self.wrappers: list[str] = []
        self.scripts: list[str] = []

    def run(self) -> EntrypointInterpreter:
        config = self.data.config
        argv = [*config.entrypoint, *(config.cmd or [])] if config.entrypoint else config.cmd or []
        self.argv = tuple(argv)
        self.form = command_form(argv)
        if not argv:
            return self._result(note="the image declares no ENTRYPOINT or CMD")
        words = list(argv)
        if self.form == "shell" or _is_shell_c(words):
            self.chain.append("shell")
            picked = self._shell(words[2] if len(words) > 2 else "")
            if picked is None:
                return self._result(note="the shell command could not be parsed")
            words = picked
        words = self._skip_wrappers(words)
        if not words:
            return self._result(note="the command is empty after its wrappers")
        self.command = words[0]
        return self._follow(words)

    def program(self, words: list[str]) -> tuple[str | None, str | None]:
        """Another command (a HEALTHCHECK's) followed the same way: (resolved path, note)."""
        self.argv, self.form, self.command = tuple(words), "exec", words[0]
        result = self._follow(words)
        return result.resolved_path, result.note

    # The state the result is built from, filled in as the command is followed.
    command: str | None = None
    resolved: str | None = None

    def _follow(self, words: list[str]) -> EntrypointInterpreter:
        for _ in range(_MAX_HOPS):
            word = words[0]
            if self.resolved is None:
                first = self._lookup(word)
                self.resolved = _canonical(self.fs, first) if first else None
            if posixpath.basename(word) == "env" and self._is_env(word):
                self.chain.append("env")
                words = self._after_env(words[1:])
                if not words:
                    return self._result(note="env is run without a command")
                continue
            found = self._lookup(word)
            if found is None:
                where = "does not exist in the image" if "/" in word else "is not found on PATH"
                return self._result(note=f"`{word}` {where}")
            canonical = _canonical(self.fs, found)
            entry = self.fs.get(canonical) if canonical else None
            if canonical is None or entry is None:
                return self._result(note=f"`{found}` is a dangling symlink")
            if entry.kind != FILE or not entry.mode & 0o111:
                return self._result(note=f"`{found}` is not an executable file")
            behind = self._through_runner(words)
            if behind is not None:
                if not behind:
                    return self._result(note=f"`{' '.join(words[:2])}` is given no command")
                words = behind
                continue
            python = self._python(found, canonical, words[1:])
            if python is not None:
                return python
            base = posixpath.basename(canonical)
            if base in _SHELLS:
                return self._result(note=f"the command is a shell ({base})")
            head = self.data.content(canonical)
            if head is None:
                return self._result(note=f"`{canonical}` is not Python, nor a script we read")
            if head.startswith(b"\x7fELF"):
                return self._result(note=f"`{canonical}` is a native executable, not Python")
            shebang = _shebang(head)
            if shebang is None:
                return self._result(note=f"`{canonical}` has no shebang line")
            interp, arg = shebang
            if posixpath.basename(interp) in _SHELLS:
                # pip writes `#!/bin/sh` + `'''exec' /long/venv/bin/python` when the path is long.
                longer = _PIP_LONG_SHEBANG.search(head.decode("utf-8", "replace"))
                if longer is None:
                    handed = self._through_script(canonical, head, words[1:])
                    if handed is None:
                        return self._result(note="the entrypoint is a shell script")
                    words = handed
                    continue
                interp, arg = longer.group(1), None
            self.chain.append("shebang")
            words = [interp, *([arg] if arg else []), found, *words[1:]]
        return self._result(note="too many hops (scripts calling scripts)")

    def _python(self, found: str, canonical: str, args: list[str]) -> EntrypointInterpreter | None:
        interp = self.interpreters.get(canonical)
        named = _PYTHON_NAME.fullmatch(posixpath.basename(canonical)) or _PYTHON_NAME.fullmatch(
            posixpath.basename(found)
        )
        if interp is None and not named:
            return None
        venv = self._venv_of(found)
        if venv is not None:
            base = interp or self._venv_base(venv)
            version = venv.version or (base.version if base else None)
            return self._result(
                interpreter=found,
                venv=venv.path,
                base=base.path if base else canonical,
                version=version,
                cache_tag=_cache_tag(_minor(version)) or (base.cache_tag if base else None),
                args=args,
            )
        if interp is not None:
            return self._result(interpreter=interp.path, base=interp.path, version=interp.version,
                                cache_tag=interp.cache_tag, args=args)  # fmt: skip
        return self._result(interpreter=canonical, base=canonical, args=args,
                            note=f"`{canonical}` is not a recognised CPython install")  # fmt: skip

    def _through_script(self, path: str, text: bytes, args: list[str]) -> list[str] | None:
        """The command a shell start script in the image hands over to (`exec gunicorn ...`,
        `exec "$@"` with the script's arguments), its `cd`, exports and venv activation applied;
        None when the script is not wholly captured, was followed already, or hands over to
        nothing we can read."""
        entry = self.fs.get(path)
        if entry is None or len(text) < entry.size or path in self.scripts:
            return None
        self.scripts.append(path)
        commands = pydeps.script_commands(text.decode("utf-8", "replace"))
        picked = pydeps.handover(commands)
        if picked is None:
            return None
        for command in commands[:picked]:
            self._setup([self._expand(w) for w in command.words])
        words = self._positional(list(commands[picked].words), args)
        while words and _ASSIGNMENT.match(words[0]):
            self._assign(words.pop(0))
        words = self._skip_wrappers(words)
        if _is_shell_c(words):  # `exec "$@"` of a shell-form CMD: `/bin/sh -c "gunicorn ..."`
            words = self._shell(words[2]) or []
        if not words:
            return None
        self.chain.append("script")
        return words

    def _positional(self, words: list[str], args: list[str]) -> list[str]:
        """Words with `$@`/`$*` replaced by the script's arguments, `$1`..`$9` by one each, and
        other variables by the environment's values."""
        out: list[str] = []
        for word in words:
            if word in ("$@", "${@}", "$*", "${*}"):
                out += args
                continue
            word = _POSITIONAL.sub(
                lambda m: args[int(m.group(1) or m.group(2)) - 1]
                if int(m.group(1) or m.group(2)) <= len(args) else "", word)  # fmt: skip
            out.append(self._expand(word))
        return [w for w in out if w]

    def _setup(self, words: list[str]) -> None:
        """What a shell command before the service changes: variables, the cwd, PATH."""
        while words and _ASSIGNMENT.match(words[0]):
            self._assign(words.pop(0))
        if not words:
            return
        head = words[0]
        if head == "cd" and len(words) > 1:
            self.cwd = posixpath.normpath(posixpath.join(self.cwd, words[1]))
        elif head == "export":
            for word in words[1:]:
                if _ASSIGNMENT.match(word):
                    self._assign(word)
        elif head in (".", "source") and len(words) > 1 and words[1].endswith("/activate"):
            # Activating a venv puts its bin dir first on PATH for the rest of the script.
            venv_bin = posixpath.dirname(posixpath.join(self.cwd, words[1]))
            self._assign(f"PATH={venv_bin}:{':'.join(self.path_dirs)}")

    def _through_runner(self, words: list[str]) -> list[str] | None:
        """`uv run CMD`, `poetry run CMD`, `pipenv run CMD`: CMD, with the project's venv put
        first on PATH as the runner does; None when `words` is no such runner."""
        name = posixpath.basename(words[0])
        if name not in _RUNNERS or len(words) < 2 or words[1] != "run":
            return None
        rest = words[2:]
        project = self.cwd
        module = False
        valued = _RUNNERS[name]
        while rest and rest[0].startswith("-"):
            option = rest.pop(0)
            if option == "--":
                break
            key, has_value, value = option.partition("=")
            if key in ("-m", "--module") and name == "uv":
                module = True
                break
            if key in valued and not has_value and rest:
                value = rest.pop(0)
            where = _RUNNER_DIRS.get((name, key))
            if where and value:
                project = posixpath.normpath(posixpath.join(self.cwd, value))
                if where == "cwd":
                    self.cwd = project
        self.wrappers.append(f"{name} run")
        self.chain.append("runner")
        venv = self._runner_venv(name, project)
        if venv is not None:
            self._assign(f"PATH={venv}/bin:{':'.join(self.path_dirs)}")
        if module:
            return ["python", "-m", *rest] if rest else []
        if name == "uv" and rest and rest[0].endswith(".py"):
            return ["python", *rest]  # uv runs a script file with the project's Python
        return rest

    def _runner_venv(self, name: str, project: str) -> str | None:
        """The venv `uv run` / `poetry run` / `pipenv run` uses, when the image has it."""
        wanted: list[str] = []
        setting = {"uv": "UV_PROJECT_ENVIRONMENT", "pipenv": "PIPENV_CUSTOM_VENV_NAME"}.get(name)
        if setting and self.env.get(setting):
            wanted.append(posixpath.join(project, self.env[setting]))
        directory = project
        while True:  # the project is the nearest directory up with its files; its .venv beside
            wanted.append(posixpath.join(directory, ".venv"))
            if directory == "/":
                break
            directory = posixpath.dirname(directory)
        for candidate in wanted:
            real = self.fs.resolve(candidate) or candidate
            if real in self.venvs:
                return real
        # poetry and pipenv keep their venvs in a cache dir named after the project otherwise.
        marker = {"poetry": "/pypoetry/virtualenvs/", "pipenv": "/virtualenvs/"}.get(name)
        home = self.env.get("POETRY_VIRTUALENVS_PATH" if name == "poetry" else "WORKON_HOME")
        for path in sorted(self.venvs):
            if (marker and marker in path) or (home and path.startswith(home.rstrip("/") + "/")):
                return path
        return None

    def _venv_of(self, executable: str) -> Venv | None:
        # CPython looks for pyvenv.cfg next to the executable as invoked, or one level up.
        bin_dir = posixpath.dirname(executable)
        for candidate in (bin_dir, posixpath.dirname(bin_dir)):
            real = self.fs.resolve(candidate) or candidate
            if real in self.venvs:
                return self.venvs[real]
        return None

    def _venv_base(self, venv: Venv) -> Interpreter | None:
        if venv.interpreter in self.interpreters:
            return self.interpreters[venv.interpreter]
        if venv.home:
            for name in reversed(_venv_python_names(venv.version)):
                target = _canonical(self.fs, posixpath.join(venv.home, name))
                if target in self.interpreters:
                    return self.interpreters[target]
        return None

    def _lookup(self, word: str) -> str | None:
        """Where exec would find `word`: a path as given, else the first executable on PATH."""
        if "/" in word:
            path = posixpath.normpath(posixpath.join(self.cwd, word))
            # A dangling link is still "found": exec fails on it, which is worth saying.
            exists = self.fs.resolve(path) is not None or self.fs.get(path) is not None
            return path if exists else None
        for directory in self.path_dirs:
            if not directory.startswith("/"):
                continue
            candidate = posixpath.join(directory, word)
            target = _canonical(self.fs, candidate)
            entry = self.fs.get(target) if target else None
            if entry is not None and entry.kind == FILE and entry.mode & 0o111:
                return candidate
        return None

    def _is_env(self, word: str) -> bool:
        found = self._lookup(word)
        return found is None or posixpath.basename(_canonical(self.fs, found) or "") == "env"

    def _after_env(self, words: list[str]) -> list[str]:
        i = 0
        while i < len(words):
            word = words[i]
            if word == "--":
                return words[i + 1 :]
            if word.startswith("-S") or word.startswith("--split-string"):
                # The kernel hands `-S python3 -u` to env as one argument.
                rest = word[2:].strip() if word.startswith("-S") else word.partition("=")[2]
                if not rest and i + 1 < len(words):
                    rest, i = words[i + 1], i + 1
                return [*rest.split(), *words[i + 1 :]]
            if word in ("-u", "--unset", "-C", "--chdir"):
                i += 2
                continue
            if word.startswith("-"):
                i += 1
                continue
            if _ASSIGNMENT.match(word):
                self._assign(word)
                i += 1
                continue
            return words[i:]
        return []

    def _skip_wrappers(self, words: list[str]) -> list[str]:
        while words and posixpath.basename(words[0]) in _WRAPPERS:
            name = posixpath.basename(words[0])
            self.wrappers.append(name)
            rest = words[1:]
            if name in ("gosu", "su-exec"):
                rest = rest[1:]  # the user to switch to
            elif "--" in rest:
                rest = rest[rest.index("--") + 1 :]
            else:
                while rest and rest[0].startswith("-"):
                    rest = rest[1:]
            words = rest
        return words

    def _assign(self, word: str) -> None:
        name, _, value = word.partition("=")
        self.env[name] = value
        if name == "PATH":
            self.path_dirs = value.split(":")

    def _expand(self, word: str) -> str:
        return _VARIABLE.sub(lambda m: self.env.get(m.group(1) or m.group(2), ""), word)

    def _shell(self, script: str) -> list[str] | None:
        """The command a `sh -c` string runs as its service: the exec'd one, else the last."""
        segments = pydeps.shell_segments(script, _SEPARATORS)
        if segments is None:
            return None
        picked: tuple[list[str], list[str], dict[str, str], str] | None = None
        for segment in segments:
            words = [self._expand(w) for w in _until_redirect(segment)]
            while words and _ASSIGNMENT.match(words[0]):
                self._assign(words.pop(0))
            exec_form = bool(words) and words[0] == "exec"
            if exec_form:
                words = words[1:]
                while words and _ASSIGNMENT.match(words[0]):
                    self._assign(words.pop(0))
            if not words:
                continue
            head = words[0]
            if head == "cd" and len(words) > 1:
                self.cwd = posixpath.normpath(posixpath.join(self.cwd, words[1]))
            elif head == "export":
                for word in words[1:]:
                    if _ASSIGNMENT.match(word):
                        self._assign(word)
            elif head in (".", "source") and len(words) > 1 and words[1].endswith("/activate"):
                # Activating a venv puts its bin dir first on PATH for the rest of the script.
                venv_bin = posixpath.dirname(posixpath.join(self.cwd, words[1]))
                self._assign(f"PATH={venv_bin}:{':'.join(self.path_dirs)}")
            if head in _SETUP_COMMANDS:
                continue
            picked = (words, list(self.path_dirs), dict(self.env), self.cwd)
            if exec_form:
                break
        if picked is None:
            return None
        words, self.path_dirs, self.env, self.cwd = picked
        return words

    def _result(
        self,
        *,
        interpreter: str | None = None,
        venv: str | None = None,
        base: str | None = None,
        version: str | None = None,
        cache_tag: str | None = None,
        args: list[str] | None = None,
        note: str | None = None,
    ) -> EntrypointInterpreter:
        via = None
        if interpreter is not None:
            via = self.chain[-1] if self.chain else "direct"
        return EntrypointInterpreter(
            argv=self.argv,
            form=self.form,
            command=self.command,
            command_args=tuple(args or ()),
            resolved_path=self.resolved,
            interpreter=interpreter,
            venv=venv,
            base_interpreter=base,
            version=version,
            cache_tag=cache_tag,
            via=via,
            chain=tuple(self.chain),
            wrappers=tuple(self.wrappers),
            note=note,
            scripts=tuple(self.scripts),
            cwd=self.cwd if self.cwd != (self.data.config.workdir or "/") else None,
        )


def _is_shell_c(words: list[str]) -> bool:
    """`bash -ec "..."` and friends: a shell given a command string, written in exec form."""
    return (
        len(words) > 2
        and posixpath.basename(words[0]) in _SHELLS
        and re.fullmatch(r"-[a-z]*c[a-z]*", words[1]) is not None
    )


def _until_redirect(words: list[str]) -> list[str]:
    for i, word in enumerate(words):
        if word and set(word) <= set("<>&|()"):
            return words[:i]
    return words


def _shebang(head: bytes) -> tuple[str, str | None] | None:
    if not head.startswith(b"#!"):
        return None
    line = head[2:].split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    if not line:
        return None
    # Linux splits the line once: the interpreter, then everything else as a single argument.
    parts = line.replace("\t", " ").split(" ", 1)
    arg = parts[1].strip() if len(parts) > 1 else ""
    return parts[0], arg or None
