"""How much Python source ships with its .pyc, per area.

A source counts as compiled when `__pycache__/<stem>.<cache_tag>[.opt-N].pyc` is visible next to
it, for the cache tag of the interpreter that would import it. Missing pycs are compiled again on
every start when the runtime user cannot write `__pycache__`, so the owner and mode of the source
directories are recorded too.

When the default command's interpreter is known, the stdlib and site-packages areas hold only
what that interpreter reads: its own stdlib, its venv's site-packages (and the base's when the
venv includes system site-packages), else the site dirs of its prefix and the user site; and
PYTHONPATH's dirs. Other interpreters' trees are not imported by the service. The installers
(pip, setuptools, wheel and their vendored trees) are left out everywhere: official `python:*`
images delete their .pyc on purpose, and a service does not import them.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter
from dataclasses import dataclass

from inspector.analysers import python as python_analyser
from inspector.analysers.imagedata import ImageData
from inspector.analysers.numbers import digits_key
from inspector.layers.model import DIR, FILE

AREAS = ("stdlib", "site_packages", "application")
_EXAMPLES = 5
_PYCACHE = "/__pycache__"
_STDLIB = re.compile(r"(.*?/lib(?:64)?/python(\d+)\.(\d+))/")
_PACKAGE_DIRS = ("/site-packages/", "/dist-packages/")
# Python files there are data, tooling or caches, not code this image's service imports.
_NOT_CODE = ("/.cache/", "/node_modules/", "/.git/", "/.tox/", "/.nox/")
_NOT_APPLICATION = (
    "/usr/share/", "/usr/lib/", "/usr/lib64/", "/usr/libexec/", "/usr/include/", "/etc/", "/tmp/",
    "/var/tmp/", "/var/lib/", "/proc/", "/sys/", "/dev/", "/lib/", "/lib64/",
)  # fmt: skip
# Installer tools: a service does not import them, and official images ship them uncompiled.
_INSTALLERS = frozenset({"pip", "setuptools", "wheel", "pkg_resources", "_distutils_hack"})
_SITE_DIR = re.compile(
    r"(?P<prefix>.*)/lib(?:64)?/python(?P<version>\d+(?:\.\d+)?)/(?:site|dist)-packages"
)
# Deeper roots for trees that hold many unrelated projects.
_TWO_LEVEL_ROOTS = frozenset({"usr", "opt", "home", "var"})


@dataclass(frozen=True)
class AreaCoverage:
    modules: int  # .py sources
    compiled: int
    missing: int
    missing_bytes: int  # source bytes without a matching pyc
    examples: tuple[str, ...]  # up to 5 sources without a pyc, sorted
    pyc_files: int  # every .pyc in this area's __pycache__ dirs, whatever its tag
    pyc_bytes: int
    cache_tags: tuple[str, ...]  # the tags sources were checked against
    pyc_tags: tuple[str, ...]  # the tags the pycs found here carry
    roots: tuple[str, ...]  # stdlib dirs, site-packages dirs, or application top dirs
    # The most common (uid, gid, mode) of the directories holding the sources, where
    # __pycache__ is (or would be) created; None without sources.
    dir_owner_uid: int | None
    dir_owner_gid: int | None
    dir_mode: int | None
    pycache_owner_uid: int | None  # most common owner of the existing __pycache__ dirs


@dataclass(frozen=True)
class BytecodeFacts:
    stdlib: AreaCoverage
    site_packages: AreaCoverage
    application: AreaCoverage
    # The tag application code was checked against: the entrypoint interpreter's, else the
    # highest interpreter's; None when no interpreter is known (any cpython tag then counts).
    application_cache_tag: str | None


def wants(path: str, size: int) -> int | None:
    # Presence and sizes come from the tar headers; no content is needed.
    return None


class _Area:
    def __init__(self) -> None:
        self.modules = 0
        self.compiled = 0
        self.missing_bytes = 0
        self.missing: list[str] = []
        self.pyc_files = 0
        self.pyc_bytes = 0
        self.cache_tags: set[str] = set()
        self.pyc_tags: set[str] = set()
        self.roots: set[str] = set()
        self.dirs: set[str] = set()

    def freeze(
        self, data: ImageData, pycache_dirs: dict[str, tuple[int, int, int]]
    ) -> AreaCoverage:
        fs = data.fs
        owners: Counter[tuple[int, int, int]] = Counter()
        pycache_owners: Counter[int] = Counter()
        for directory in self.dirs:
            entry = fs.get(directory)
            if entry is not None:
                owners[(entry.uid, entry.gid, entry.mode)] += 1
            if directory in pycache_dirs:
                pycache_owners[pycache_dirs[directory][0]] += 1
        owner = owners.most_common(1)[0][0] if owners else None
        return AreaCoverage(
            modules=self.modules,
            compiled=self.compiled,
            missing=len(self.missing),
            missing_bytes=self.missing_bytes,
            examples=tuple(heapq.nsmallest(_EXAMPLES, self.missing)),
            pyc_files=self.pyc_files,
            pyc_bytes=self.pyc_bytes,
            cache_tags=tuple(sorted(self.cache_tags)),
            pyc_tags=tuple(sorted(self.pyc_tags)),
            roots=tuple(sorted(self.roots)),
            dir_owner_uid=owner[0] if owner else None,
            dir_owner_gid=owner[1] if owner else None,
            dir_mode=owner[2] if owner else None,
            pycache_owner_uid=pycache_owners.most_common(1)[0][0] if pycache_owners else None,
        )


def analyse(data: ImageData, python: python_analyser.PythonFacts | None = None) -> BytecodeFacts:
    """`python` may be passed in when the caller already has it, to skip a second scan."""
    facts = python if python is not None else python_analyser.analyse(data)
    sources: list[tuple[str, int]] = []
    # (source dir, stem, tag) for every pyc, and the same without the tag for unknown tags.
    compiled: set[tuple[str, str, str]] = set()
    compiled_any: set[tuple[str, str]] = set()
    pycs: list[tuple[str, str, int]] = []  # (source dir, tag, size)
    pycache_dirs: dict[str, tuple[int, int, int]] = {}
    conda_pkgs: list[str] = []
    for path, version in data.fs.visible.items():
        entry = version.entry
        if entry.kind == DIR:
            if path.endswith(_PYCACHE):
                pycache_dirs[path[: -len(_PYCACHE)] or "/"] = (entry.uid, entry.gid, entry.mode)
            elif path.endswith("/conda-meta"):
                # conda keeps every extracted package under <root>/pkgs: a cache, not code.
                conda_pkgs.append(path[: -len("conda-meta")] + "pkgs/")
            continue
        if entry.kind != FILE:
            continue
        if path.endswith(".py"):
            sources.append((path, entry.size))
        elif path.endswith(".pyc"):
            slash = path.rfind("/")
            parent = path[:slash]
            if not parent.endswith(_PYCACHE):
                continue
            source_dir = parent[: -len(_PYCACHE)] or "/"
            stem, tag = _split_pyc(path[slash + 1 :])
            compiled.add((source_dir, stem, tag))
            compiled_any.add((source_dir, stem))
            pycs.append((source_dir, tag, entry.size))

    tags = _Tags(data, facts)
    scope = _Scope.of(data, facts)
    excluded = tuple(conda_pkgs)
    workdir = data.config.workdir
    placed: dict[str, tuple[str, str, str | None] | None] = {}

    def place(directory: str) -> tuple[str, str, str | None] | None:
        """(area, root, cache tag) of the sources in `directory`; one decision per directory."""
        if directory not in placed:
            probe = f"{directory.rstrip('/')}/__init__.py"
            found = None if _skipped(probe, excluded) else _classify(probe, workdir)
            if found and scope is not None and not scope.reads(*found):
                found = None
            placed[directory] = (*found, tags.for_root(*found)) if found else None
        return placed[directory]

    areas = {name: _Area() for name in AREAS}
    for path, size in sources:
        slash = path.rfind("/")
        directory, stem = path[:slash] or "/", path[slash + 1 : -3]
        where = place(directory)
        if where is None:
            continue
        area_name, root, tag = where
        area = areas[area_name]
        area.modules += 1
        area.roots.add(root)
        area.dirs.add(directory)
        if tag is not None:
            area.cache_tags.add(tag)
        if ((directory, stem, tag) in compiled) if tag else ((directory, stem) in compiled_any):
            area.compiled += 1
        else:
            area.missing.append(path)
            area.missing_bytes += size
    for source_dir, pyc_tag, size in pycs:
        where = place(source_dir)
        if where is None:
            continue
        area = areas[where[0]]
        area.pyc_files += 1
        area.pyc_bytes += size
        area.pyc_tags.add(pyc_tag)
    return BytecodeFacts(
        stdlib=areas["stdlib"].freeze(data, pycache_dirs),
        site_packages=areas["site_packages"].freeze(data, pycache_dirs),
        application=areas["application"].freeze(data, pycache_dirs),
        application_cache_tag=tags.application,
    )


def _skipped(path: str, excluded: tuple[str, ...]) -> bool:
    return (bool(excluded) and path.startswith(excluded)) or any(p in path for p in _NOT_CODE)


def _split_pyc(name: str) -> tuple[str, str]:
    """`mod.cpython-311.opt-1.pyc` -> ("mod", "cpython-311")."""
    base = name[:-4]
    if base[-6:-1] == ".opt-":
        base = base[:-6]
    stem, _, tag = base.rpartition(".")
    return (stem, tag) if stem else (base, "")


def _classify(path: str, workdir: str) -> tuple[str, str] | None:
    """(area, root) of a source file, or None when it is not code the image runs."""
    for marker in _PACKAGE_DIRS:
        index = path.find(marker)
        if index >= 0:
            top, slash, _ = path[index + len(marker) :].partition("/")
            if slash and top in _INSTALLERS:
                return None
            return "site_packages", path[: index + len(marker) - 1]
    match = _STDLIB.match(path)
    if match:
        return "stdlib", match.group(1)
    if path.startswith(_NOT_APPLICATION):
        return None
    if workdir and workdir != "/" and path.startswith(workdir.rstrip("/") + "/"):
        return "application", workdir.rstrip("/")
    parts = path.split("/")[:-1]  # the directories only
    if len(parts) < 2:
        return "application", "/"
    depth = 3 if parts[1] in _TWO_LEVEL_ROOTS and len(parts) > 2 else 2
    return "application", "/".join(parts[:depth])


@dataclass(frozen=True)
class _Scope:
    """The stdlib and site dirs the default command's interpreter reads."""

    stdlib: str | None  # None: the interpreter's stdlib is unknown, any stdlib counts
    venv_site: frozenset[str]
    base: python_analyser.Interpreter | None  # whose prefix site dirs (and user site) it reads
    python_path: tuple[str, ...]  # PYTHONPATH dirs: searched whatever the interpreter
    user_base: str | None  # PYTHONUSERBASE

    @classmethod
    def of(cls, data: ImageData, facts: python_analyser.PythonFacts) -> _Scope | None:
        """None when the command's interpreter is unknown: then every dir counts."""
        env = data.config.env
        paths = tuple(p.rstrip("/") for p in env.get("PYTHONPATH", "").split(":") if p)
        user_base = env.get("PYTHONUSERBASE", "").rstrip("/") or None
        entry = facts.entrypoint_interpreter
        runs = entry.base_interpreter or entry.interpreter
        interpreter = next((i for i in facts.interpreters if i.path == runs), None)
        if entry.venv:
            venv = next((v for v in facts.venvs if v.path == entry.venv), None)
            if venv is None:
                return None
            base = interpreter if venv.include_system_site_packages else None
            stdlib = interpreter.stdlib if interpreter else None
            return cls(stdlib, frozenset(venv.site_packages), base, paths, user_base)
        if interpreter is None:
            return None
        return cls(interpreter.stdlib, frozenset(), interpreter, paths, user_base)

    def reads(self, area: str, root: str) -> bool:
        if area == "stdlib":
            return self.stdlib is None or root == self.stdlib
        if area != "site_packages":
            return True
        if root in self.venv_site or any(root == p or root.startswith(f"{p}/") for p in
                                         self.python_path):  # fmt: skip
            return True
        match = _SITE_DIR.fullmatch(root)
        if self.base is None or match is None:
            return False
        version = match.group("version")
        if version != "3" and version != ".".join(self.base.version.split(".")[:2]):
            return False
        prefix = match.group("prefix")
        # /usr/local: Debian's interpreter reads it besides its own prefix; .local and
        # PYTHONUSERBASE: the user site.
        known = (self.base.prefix.rstrip("/"), "/usr/local", self.user_base)
        return prefix in known or prefix.endswith("/.local")


class _Tags:
    """The cache tag each area's sources are checked against."""

    def __init__(self, data: ImageData, facts: python_analyser.PythonFacts) -> None:
        self.facts = facts
        self.venvs = sorted(facts.venvs, key=lambda v: len(v.path), reverse=True)
        ranked = sorted(facts.interpreters, key=lambda i: _version_key(i.version), reverse=True)
        self.highest = ranked[0].cache_tag if ranked else None
        entry_tag = facts.entrypoint_interpreter.cache_tag
        self.application = entry_tag or self.highest or self._venv_tag()
        self.cache: dict[tuple[str, str], str | None] = {}

    def _venv_tag(self) -> str | None:
        tags = [_tag(v.version) for v in self.venvs]
        known = [t for t in tags if t]
        return max(known, key=lambda t: digits_key(t.split("-")[1])) if known else None

    def for_root(self, area: str, root: str) -> str | None:
        key = (area, root)
        if key not in self.cache:
            self.cache[key] = self._compute(area, root)
        return self.cache[key]

    def _compute(self, area: str, root: str) -> str | None:
        if area == "application":
            return self.application
        match = re.search(r"/python(\d+)\.(\d+)(/|$)", root)
        if match:
            return f"cpython-{match.group(1)}{match.group(2)}"
        for venv in self.venvs:
            if root.startswith(venv.path.rstrip("/") + "/") and _tag(venv.version):
                return _tag(venv.version)
        # A version-less dir such as Debian's /usr/lib/python3/dist-packages: the interpreters
        # under the same prefix read it; prefer the one the service runs.
        owners = [i for i in self.facts.interpreters if root.startswith(i.prefix.rstrip("/") + "/")]
        owner_tags = {i.cache_tag for i in owners}
        if self.application in owner_tags:
            return self.application
        if owners:
            return max(owners, key=lambda i: _version_key(i.version)).cache_tag
        return self.application


def _tag(version: str | None) -> str | None:
    parts = (version or "").split(".")
    if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
        return f"cpython-{parts[0]}{parts[1]}"
    return None


def _version_key(version: str) -> tuple[tuple[int, str], ...]:
    # Ordered without int(): a version part can be thousands of digits in a hostile file name.
    return tuple(digits_key(p) for p in re.findall(r"\d+", version)[:3])
