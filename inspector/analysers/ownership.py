"""Who put a file in the image, and what kind of file it is: the facts a secret is judged by.

A credential-shaped string in SQLAlchemy's docstrings, in redis's `*.dist-info/METADATA` or in a
package's tests is someone else's example, not the image's leak; the same string in the app's
settings is. So every file a secret is found in gets an owner:

- `python`: listed in the RECORD (or `installed-files.txt`) of an installed distribution, or
  under a top-level name one installs in its site-packages / dist-packages; `owner` names it.
  A distribution installed from a local directory (`direct_url.json` with `dir_info`: `pip
  install .` of the project itself) is the app's, not a third party's.
- `os`: what the OS's packages install: a file dpkg lists for a package (`owner` names it;
  never `/etc`, the admin's configuration), `/usr/share/`, `/usr/lib/`, `/usr/bin/` and the
  like (not `/usr/local/` nor `/usr/src/`), `/lib/`, `/bin/`, `/sbin/`, Debian's
  dist-packages, and an interpreter's own standard library wherever it lives.
- `npm`: under a `node_modules/` package.
- `app`: everything else (the app's code and config, home directories, `/etc`, and files in a
  site-packages that no installed distribution claims). Nothing is third-party without evidence.

and a kind: `docs` (package metadata, READMEs, `*.md`/`*.rst`, `docs/` trees, /usr/share/doc),
`tests` (test trees and test modules), `vendored` (`_vendor/` and `vendor/` trees, minified or
bundled JavaScript, `static/` bundles inside packages) or `code`.

The RECORD files are captured during the single pass over the layers (`wants`); a RECORD lists
every file with its hash and size, tens of KiB for most distributions and about 400 KiB for
Django's 3,600 files (the first RECORD_CAP bytes are enough: a cut RECORD still names the
distribution's top-level packages).
"""

from __future__ import annotations

import csv
import json
import posixpath
import re
from dataclasses import dataclass

from inspector.analysers.imagedata import ImageData
from inspector.layers.model import FILE

# Bytes of a RECORD kept. Most are tens of KiB; Django's is 390 KiB and is cut, which costs
# nothing that matters: its first lines already name its top-level package.
RECORD_CAP = 256 * 1024
_SMALL_CAP = 16 * 1024
_METADATA_HEAD = 4096  # Name: is in the first lines of METADATA / PKG-INFO

# dpkg's list of each installed package's files: about 400 KiB in all for a Debian base with
# Python, a few MiB for an image with a compiler toolchain.
DPKG_INFO = "/var/lib/dpkg/info"
DPKG_LIST_CAP = 1024 * 1024

APP, PYTHON, OS, NPM = "app", "python", "os", "npm"
CODE, DOCS, TESTS, VENDORED = "code", "docs", "tests", "vendored"

_SITE_DIRS = ("site-packages", "dist-packages")
# The stdlib of an interpreter: /usr/lib/python3.11/, /usr/local/lib/python3.12/,
# /opt/conda/lib/python3.11/ (site-packages below it is handled first).
_STDLIB = re.compile(r"^(?:/[^/]+)*?/lib(?:64)?/python\d+(?:\.\d+)?/")
# Where the OS's packages install. Not all of /usr: /usr/local is the admin's (and the official
# images' CPython), and /usr/src/app is a common WORKDIR for the app itself.
_OS_ROOTS = (
    "/usr/share/",
    "/usr/lib/",
    "/usr/lib32/",
    "/usr/lib64/",
    "/usr/libexec/",
    "/usr/bin/",
    "/usr/sbin/",
    "/usr/include/",
    "/lib/",
    "/lib64/",
    "/bin/",
    "/sbin/",
)
_DIST_DIR = re.compile(r"(?P<name>[^/]+?)-[^-/]+\.(?:dist-info|egg-info)$")

# --- what kind of file -----------------------------------------------------------------------

_TEST_DIRS = frozenset({"test", "tests", "testing", "testdata", "test_data", "fixtures",
                        "unittests"})  # fmt: skip
_DOC_DIRS = frozenset({"doc", "docs", "documentation", "examples", "example", "samples",
                       "man", "info"})  # fmt: skip
_VENDOR_DIRS = frozenset({"_vendor", "vendor", "vendored", "_vendored", "third_party",
                          "thirdparty", "node_modules", "bower_components"})  # fmt: skip
_DOC_NAMES = frozenset({"metadata", "pkg-info", "description.rst", "changelog", "changes",
                        "history", "news", "authors", "license", "copying", "notice"})  # fmt: skip
_DOC_EXTENSIONS = (".md", ".rst", ".txt", ".html", ".htm", ".ipynb", ".adoc", ".textile",
                   ".markdown", ".1", ".5", ".8")  # fmt: skip
_BUNDLE = re.compile(r".*(?:[.-]min|\.bundle|\.chunk|\.[0-9a-f]{8,})\.(?:js|mjs|css)(?:\.map)?$")
_STATIC_DIRS = frozenset({"static", "staticfiles", "assets", "dist", "build"})


def file_kind(path: str, third_party: bool = True) -> str:
    """docs, tests, vendored or code, from the path alone.

    `static/` and `dist/` trees only mean bundled assets inside an installed package
    (`third_party`); in the app they may hold its own files.
    """
    parts = path.split("/")
    dirs, base = parts[1:-1], parts[-1].lower()
    lower_dirs = [d.lower() for d in dirs]
    if (
        path.startswith("/usr/share/doc/")
        or base.endswith(".egg-info")
        or any(d.endswith((".dist-info", ".egg-info")) and base in _DOC_NAMES for d in dirs[-1:])
    ):
        return DOCS
    if (
        any(d in _TEST_DIRS for d in lower_dirs)
        or base in ("tests.py", "conftest.py")
        or (base.endswith(".py") and (base.startswith("test_") or base.endswith("_test.py")))
    ):
        return TESTS
    if any(d in _VENDOR_DIRS for d in lower_dirs) or _BUNDLE.fullmatch(base):
        return VENDORED
    if (
        third_party
        and base.endswith((".js", ".mjs", ".css", ".map"))
        and any(d in _STATIC_DIRS for d in lower_dirs)
    ):
        return VENDORED
    if (
        any(d in _DOC_DIRS for d in lower_dirs)
        or base.startswith("readme")
        or base.endswith(_DOC_EXTENSIONS)
        or base in _DOC_NAMES
    ):
        return DOCS
    return CODE


# --- who owns it -----------------------------------------------------------------------------


def wants(path: str, size: int) -> int | None:
    slash = path.rfind("/")
    name, parent = path[slash + 1 :], path[:slash]
    if name == "RECORD" and parent.endswith(".dist-info"):
        return RECORD_CAP
    if name == "installed-files.txt" and parent.endswith(".egg-info"):
        return RECORD_CAP
    if name in ("top_level.txt", "direct_url.json") and parent.endswith(
        (".dist-info", ".egg-info")
    ):
        return _SMALL_CAP
    if parent == DPKG_INFO and name.endswith(".list"):
        return DPKG_LIST_CAP
    return None


def site_dir(path: str) -> tuple[str, str] | None:
    """(the site-packages / dist-packages directory, the path below it), or None."""
    parts = path.split("/")
    for index in range(len(parts) - 1, 0, -1):
        if parts[index] in _SITE_DIRS:
            return "/".join(parts[: index + 1]), "/".join(parts[index + 1 :])
    return None


def _prefix(site: str) -> str:
    """The environment a site dir belongs to: /opt/venv for /opt/venv/lib/python3.11/site-packages,
    /usr for Debian's /usr/lib/python3/dist-packages."""
    return posixpath.dirname(posixpath.dirname(posixpath.dirname(site))) or "/"


def record_paths(text: str, metadata_dir: str) -> list[str]:
    """The absolute paths a RECORD (or `installed-files.txt`) lists, relative paths resolved
    against the directory the RECORD's paths are relative to."""
    base = posixpath.dirname(metadata_dir)  # RECORD: relative to site-packages
    if metadata_dir.endswith(".egg-info"):
        base = metadata_dir  # installed-files.txt: relative to the .egg-info directory
    paths = []
    for line in text.splitlines():
        # A RECORD is CSV: a path with a comma in it is quoted.
        try:
            row = next(csv.reader([line]), [])
        except csv.Error:
            continue
        field = row[0].strip() if row else ""
        if not field or "\0" in field:
            continue
        joined = field if field.startswith("/") else posixpath.join(base, field)
        paths.append(posixpath.normpath(joined))
    return paths


def dist_name(metadata_dir: str, metadata: str | None) -> str:
    """The distribution's name as its METADATA says (`Name:`), else as its directory says."""
    if metadata:
        for line in metadata[:_METADATA_HEAD].splitlines():
            if not line.strip():
                break  # the headers end at the first blank line
            if line.lower().startswith("name:"):
                name = line[5:].strip()
                if name:
                    return name
    match = _DIST_DIR.fullmatch(posixpath.basename(metadata_dir))
    return match.group("name") if match else posixpath.basename(metadata_dir)


def local_directory_install(direct_url: str | None) -> bool:
    """`direct_url.json` says the distribution was installed from a local directory: the
    project itself (`pip install .`, `uv sync` of the project, an editable install)."""
    if not direct_url:
        return False
    try:
        doc = json.loads(direct_url)
    except ValueError:
        return False
    return isinstance(doc, dict) and "dir_info" in doc


@dataclass(frozen=True)
class Owner:
    kind: str  # app | python | os | npm
    name: str | None  # the distribution or package; None when the path does not tell


class Owners:
    """Which installed distribution, OS package or npm package each path belongs to."""

    def __init__(self) -> None:
        self.exact: dict[str, Owner] = {}
        self.os_files: dict[str, str] = {}  # path -> the OS package whose file list has it
        # (site dir, first name below it) -> owner: a package dir, a module, a .dist-info dir
        self.tops: dict[tuple[str, str], Owner] = {}

    def add(self, metadata_dir: str, owner: Owner, listed: list[str], tops: list[str]) -> None:
        site = site_dir(metadata_dir)
        self.exact.setdefault(metadata_dir, owner)
        # A RECORD may list files outside site-packages (console scripts, `share/` data), but
        # only inside its environment's prefix: `../../../../app/settings.py` in a RECORD must
        # not make the app's own settings third-party.
        prefix = _prefix(site[0]) if site is not None else posixpath.dirname(metadata_dir)
        for path in listed:
            if not (path + "/").startswith(prefix.rstrip("/") + "/"):
                continue
            self.exact.setdefault(path, owner)
            below = site_dir(path)
            if site is not None and below is not None and below[0] == site[0] and below[1]:
                self.tops.setdefault((site[0], below[1].split("/", 1)[0]), owner)
        if site is not None:
            self.tops.setdefault((site[0], posixpath.basename(metadata_dir)), owner)
            for top in tops:
                self.tops.setdefault((site[0], top), owner)

    def of(self, path: str) -> Owner:
        exact = self.exact.get(path)
        if exact is not None:
            return exact
        site = site_dir(path)
        if site is not None:
            top = site[1].split("/", 1)[0]
            # `foo.py` is the module `foo`; a distribution's RECORD also lists it exactly.
            found = self.tops.get((site[0], top)) or self.tops.get(
                (site[0], top[:-3] if top.endswith(".py") else top)
            )
            if found is not None:
                return found
        package = self.os_files.get(path)
        if package is not None:
            return Owner(OS, package)
        if site is not None:
            if site[0].startswith("/usr/lib/python3/") and "/local/" not in site[0]:
                return Owner(OS, None)  # Debian's dist-packages: installed by apt
            return Owner(APP, None)  # claimed by no installed distribution
        parts = path.split("/")
        if "node_modules" in parts:
            index = len(parts) - 1 - parts[::-1].index("node_modules")
            name = parts[index + 1] if index + 1 < len(parts) - 1 else None
            if name and name.startswith("@") and index + 2 < len(parts) - 1:
                name = f"{name}/{parts[index + 2]}"
            return Owner(NPM, name)
        if path.startswith("/usr/share/doc/"):
            return Owner(OS, parts[4] if len(parts) > 5 else None)
        stdlib = _STDLIB.match(path)
        if stdlib is not None:
            return Owner(OS, posixpath.basename(stdlib.group(0).rstrip("/")))
        if path.startswith(_OS_ROOTS):
            return Owner(OS, None)
        return Owner(APP, None)


def _text(data: ImageData, path: str) -> str | None:
    """The latest captured version of a metadata file, deleted or not."""
    for version in reversed(data.fs.history.get(path, ())):
        if version.entry.kind != FILE:
            continue
        content = data.content_of(version)
        if content is not None:
            return content.decode("utf-8", "replace")
    return None


def owners(data: ImageData) -> Owners:
    """Every installed distribution's files, from every metadata directory the layers held."""
    found = Owners()
    metadata_dirs = sorted({
        posixpath.dirname(path) for path in data.fs.history
        if path.endswith((".dist-info/RECORD", ".dist-info/METADATA", ".egg-info/PKG-INFO",
                          ".egg-info/installed-files.txt", ".egg-info/top_level.txt"))
    })  # fmt: skip
    for metadata_dir in metadata_dirs:
        egg = metadata_dir.endswith(".egg-info")
        metadata = _text(data, metadata_dir + ("/PKG-INFO" if egg else "/METADATA"))
        name = dist_name(metadata_dir, metadata)
        local = local_directory_install(_text(data, metadata_dir + "/direct_url.json"))
        site = site_dir(metadata_dir)
        debian = site is not None and site[0].startswith("/usr/lib/python3/")
        kind = APP if local else OS if debian else PYTHON
        owner = Owner(kind, name)
        record = _text(data, metadata_dir + ("/installed-files.txt" if egg else "/RECORD"))
        listed = record_paths(record, metadata_dir) if record else []
        top_level = _text(data, metadata_dir + "/top_level.txt") or ""
        tops = [line.strip() for line in top_level.splitlines() if line.strip()]
        if not listed and not tops:
            # No file list: the package is importable under its normalised name.
            tops = [re.sub(r"[-.]+", "_", name).lower()]
        found.add(metadata_dir, owner, listed, tops)
    for path in data.fs.history:
        if posixpath.dirname(path) == DPKG_INFO and path.endswith(".list"):
            package = posixpath.basename(path)[: -len(".list")].split(":", 1)[0]
            for line in (_text(data, path) or "").splitlines():
                # /etc holds the admin's configuration (conffiles are meant to be edited): a
                # credential there is the image's own, whichever package first shipped the file.
                if line.startswith("/") and not line.startswith("/etc/"):
                    found.os_files.setdefault(line, package)
    return found
