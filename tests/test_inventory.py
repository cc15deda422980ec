"""Unit tests of the inventory analyser: ecosystems, purls, the parsers, the import path and
reachability, on layers built in the test."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from typing import Any

import pytest

from inspector.advisories import model
from inspector.analysers import inventory, osinfo, ospackages, python, users
from inspector.analysers.imagedata import ImageData
from inspector.analysers.inventory import Component, reachability
from inspector.image.config import config_from_json
from inspector.layers.overlay import merge
from inspector.layers.reader import read_layer
from tests.layertools import layer

EXE = {"mode": 0o755}
ELF = b"\x7fELF" + b"\0" * 60
SITE = "usr/local/lib/python3.11/site-packages"


def capture(path: str, size: int) -> int | None:
    """The largest cap the analysers the inventory reads from ask for."""
    wants = (inventory.wants, python.wants, ospackages.wants, osinfo.wants, users.wants)
    caps = [c for w in wants if (c := w(path, size))]
    return max(caps) if caps else None


def image(*layers: tuple, config: dict[str, Any] | None = None) -> ImageData:
    reads = [read_layer(io.BytesIO(layer(*members)), capture) for members in layers]
    cfg = config or {}
    return ImageData(
        config=config_from_json(cfg),
        raw_config={"config": cfg},
        layers=reads,
        fs=merge(reads),
        layer_steps=[f"step {i}" for i in range(len(reads))],
    )


def dpkg(*packages: tuple[str, str, str | None]) -> bytes:
    paragraphs = []
    for name, version, source in packages:
        lines = [f"Package: {name}", "Status: install ok installed", "Architecture: amd64"]
        if source:
            lines.append(f"Source: {source}")
        lines.append(f"Version: {version}")
        paragraphs.append("\n".join(lines))
    return ("\n\n".join(paragraphs) + "\n").encode()


def metadata(name: str, version: str) -> bytes:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nText\n".encode()


OS_RELEASE = b'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'
DEBIAN_PYTHON = (
    ("etc/os-release", OS_RELEASE),
    ("usr/bin/python3.11", ELF, EXE),
    ("usr/bin/python3", "->python3.11"),
    ("usr/lib/python3.11/os.py", b"import abc\n"),
    ("usr/lib/python3/dist-packages/six-1.16.0.egg-info", metadata("six", "1.16.0")),
    ("usr/share/python-wheels/pip-23.0.1-py3-none-any.whl", b"PK"),
)
VENV = (
    (
        "app/.venv/pyvenv.cfg",
        b"home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n",
    ),
    ("app/.venv/bin/python", "->/usr/bin/python3"),
    ("app/.venv/lib64", "->lib"),
    (
        "app/.venv/lib/python3.11/site-packages/Jinja2-2.11.2.dist-info/METADATA",
        metadata("Jinja2", "2.11.2"),
    ),
    ("app/.venv/lib/python3.11/site-packages/pip-24.0.dist-info/METADATA", metadata("pip", "24.0")),
    (
        "app/.venv/lib/python3.11/site-packages/pip/_vendor/vendor.txt",
        b"CacheControl==0.14.0  # Make sure to update the license in pyproject.toml for this.\n"
        b"distlib==0.3.8\nrequests==2.31.0\n    # certifi is a dependency\n",
    ),
    (
        "app/.venv/lib/python3.11/site-packages/pip/_vendor/bom.cdx.json",
        json.dumps(
            {
                "bomFormat": "CycloneDX",
                "specVersion": "1.6",
                "components": [
                    {"type": "library", "name": "msgpack", "purl": "pkg:pypi/msgpack@1.0.8"}
                ],
            }
        ).encode(),
    ),
    ("app/.venv/lib/python3.11/site-packages/psycopg2_binary.libs/libssl-0331cd6b.so.3", ELF),
)
CMD = {"Cmd": ["/app/.venv/bin/python", "-m", "app"], "WorkingDir": "/app"}


def by_key(inv: inventory.Inventory) -> dict[tuple[str, str, str], Component]:
    return {(c.kind, c.name, c.version): c for c in inv.components}


# --- ecosystems and purls -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("debian", "12", "12.7", None), "Debian:12"),
        (("debian", None, "trixie/sid", None), "Debian:13"),
        (("debian", None, "13.1", None), "Debian:13"),
        (("debian", None, "zebra/sid", None), ""),
        (("ubuntu", "24.04", "trixie/sid", None), "Ubuntu:24.04"),
        (("alpine", "3.20.3", None, "3.20.3"), "Alpine:v3.20"),
        ((None, None, None, "3.19.1"), "Alpine:v3.19"),
        (("alpine", "3.21_alpha20240807", None, None), "Alpine:v3.21"),
        (("fedora", "40", None, None), ""),
        ((None, None, None, None), ""),
    ],
)
def test_os_ecosystem(args: tuple, expected: str) -> None:
    """The OSV ecosystem comes from os-release, with debian_version deciding testing and sid."""
    assert inventory.os_ecosystem(*args) == expected


def test_os_purls() -> None:
    """Deb purls carry arch, distro and the source as upstream; apk purls their own namespace."""
    libssl = ospackages.OsPackage(
        "libssl3", "3.0.11-1~deb12u2", "amd64", "openssl", "3.0.11-1~deb12u2", "dpkg"
    )
    assert inventory.os_purl("dpkg", "debian", "12", libssl) == (
        "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl"
    )
    bash = ospackages.OsPackage("bash", "5.2.15-2+b2", "amd64", "bash", "5.2.15-2", "dpkg")
    assert inventory.os_purl("dpkg", "ubuntu", "24.04", bash) == (
        "pkg:deb/ubuntu/bash@5.2.15-2%2Bb2?arch=amd64&distro=ubuntu-24.04&upstream=bash%405.2.15-2"
    )
    musl = ospackages.OsPackage("musl", "1.2.5-r0", "x86_64", "musl", "1.2.5-r0", "apk")
    assert inventory.os_purl("apk", "alpine", "3.20.3", musl) == (
        "pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64&distro=alpine-3.20.3"
    )
    assert inventory.pypi_purl("Jinja2", "2.11.2") == "pkg:pypi/jinja2@2.11.2"
    assert inventory.pypi_purl("zope.interface", "6.0") == "pkg:pypi/zope-interface@6.0"


# --- parsers --------------------------------------------------------------------------------


def test_parse_vendor_txt() -> None:
    """Only `name==version` lines count; comments, extras and blank lines are skipped."""
    text = "CacheControl==0.14.0  # keep\n\n# a comment\nrich[jupyter]==13.7.1\nsix>=1\nidna==3.7\n"
    assert inventory.parse_vendor_txt(text) == [
        ("CacheControl", "0.14.0"),
        ("rich", "13.7.1"),
        ("idna", "3.7"),
    ]


def test_parse_vendor_txt_huge_is_bounded() -> None:
    """A vendor.txt of a million lines yields at most MAX_PER_FILE packages."""
    text = "pkg==1.0\n" * 1_000_000
    assert len(inventory.parse_vendor_txt(text)) == inventory.MAX_PER_FILE


def test_parse_sbom_cyclonedx_and_spdx() -> None:
    """CycloneDX components (nested ones too) and SPDX purl external refs give their purls."""
    cdx = {
        "bomFormat": "CycloneDX",
        "components": [
            {"name": "a", "purl": "pkg:pypi/a@1", "components": [{"purl": "pkg:generic/zlib@1.3"}]},
            {"name": "no purl"},
            {"purl": "not a purl"},
            "junk",
        ],
    }
    assert inventory.parse_sbom(json.dumps(cdx).encode()) == [
        "pkg:pypi/a@1",
        "pkg:generic/zlib@1.3",
    ]
    spdx = {
        "spdxVersion": "SPDX-2.3",
        "packages": [
            {
                "externalRefs": [
                    {"referenceType": "purl", "referenceLocator": "pkg:pypi/b@2"},
                    {"referenceType": "cpe23Type", "referenceLocator": "cpe:2.3:a"},
                ]
            },
            {"name": "none"},
        ],
    }
    assert inventory.parse_sbom(json.dumps(spdx).encode()) == ["pkg:pypi/b@2"]


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"[1, 2]",
        b'{"bomFormat": "CycloneDX", "components": {"a": 1}}',
        b'{"spdxVersion": 3, "packages": []}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"bomFormat": "CycloneDX", "components": [{"purl": 7}]}',
        b"\xff\xfe\x00",
    ],
)
def test_parse_sbom_malformed(raw: bytes) -> None:
    """Whatever a malformed SBOM holds, it gives no purls and no exception."""
    assert inventory.parse_sbom(raw) == []


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("pip-24.0-py3-none-any.whl", ("pip", "24.0")),
        ("setuptools-65.5.0-py3-none-any.whl", ("setuptools", "65.5.0")),
        ("foo_bar-1.0-1build-cp311-cp311-manylinux_2_17_x86_64.whl", ("foo_bar", "1.0")),
        ("not-a-wheel.whl", None),
        ("pip-24.0.tar.gz", None),
    ],
)
def test_parse_wheel_name(filename: str, expected: tuple[str, str] | None) -> None:
    """A wheel's file name gives its name and version; anything else gives None."""
    assert inventory.parse_wheel_name(filename) == expected


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("libssl-0331cd6b.so.3", ("libssl", "3")),
        ("libgfortran-040039e1.so.5.0.0", ("libgfortran", "5.0.0")),
        ("libpq-9c51d239.so.5.16", ("libpq", "5.16")),
        ("libz.so.1.2.13", ("libz", "1.2.13")),
        ("libfoo.so", ("libfoo", "")),
        ("README.txt", None),
    ],
)
def test_parse_soname(filename: str, expected: tuple[str, str] | None) -> None:
    """auditwheel's `name-<hash>.so.N` gives the library's name and soname version."""
    assert inventory.parse_soname(filename) == expected


# --- reachability ---------------------------------------------------------------------------


def component(
    kind: str = "dist-info",
    environment: str | None = "/venv/lib/python3.11/site-packages",
    *,
    deleted: bool = False,
) -> Component:
    return Component(
        "PyPI",
        "x",
        "1",
        None,
        None,
        kind,
        f"{environment}/x-1.dist-info",
        0,
        deleted,
        environment,
        "pkg:pypi/x@1",
    )


def test_reachability_words_match_the_model() -> None:
    """The analyser spells the reachability words exactly as the advisory model does."""
    assert (
        inventory.IMPORTABLE,
        inventory.NOT_IMPORTABLE,
        inventory.DELETED,
        inventory.INSTALLED,
    ) == (model.IMPORTABLE, model.NOT_IMPORTABLE, model.DELETED, model.INSTALLED)


@pytest.mark.parametrize(
    ("made", "path", "expected"),
    [
        (component(), ["/venv/lib/python3.11/site-packages"], model.IMPORTABLE),
        (component(), ["/venv/lib/python3.11/site-packages/"], model.IMPORTABLE),
        (component(), ["/venv/lib64/python3.11/site-packages"], model.IMPORTABLE),
        (component(), ["/venv/lib/python3.11/../python3.11/site-packages"], model.IMPORTABLE),
        (component(), ["/usr/lib/python3/dist-packages"], model.NOT_IMPORTABLE),
        (component(), [], model.NOT_IMPORTABLE),
        (component(deleted=True), ["/venv/lib/python3.11/site-packages"], model.DELETED),
        (component("dpkg", None), [], model.INSTALLED),
        (component("apk", None), [], model.INSTALLED),
        (
            component("vendored", "/venv/lib/python3.11/site-packages/pip/_vendor"),
            ["/venv/lib/python3.11/site-packages"],
            model.NOT_IMPORTABLE,
        ),
        (
            component("wheel", "/usr/lib/python3.11/ensurepip/_bundled"),
            ["/usr/lib/python3.11"],
            model.NOT_IMPORTABLE,
        ),
        (component("bundled-library"), ["/venv/lib/python3.11/site-packages"], model.IMPORTABLE),
        (component("sbom", None), ["/"], model.NOT_IMPORTABLE),
    ],
)
def test_reachability(made: Component, path: list[str], expected: str) -> None:
    """Reachability is decided by deletion, the OS kinds, then the environment on the path."""
    assert reachability(made, path) == expected


# --- the analyser on layers -----------------------------------------------------------------


def layout() -> ImageData:
    """A Debian base, a venv app, a system package the venv cannot import, one deleted dist."""
    base = (
        *DEBIAN_PYTHON,
        (
            "var/lib/dpkg/status",
            dpkg(("libssl3", "3.0.9-1", "openssl"), ("bash", "5.2.15-2+b2", None)),
        ),
    )
    upgrade = (
        (
            "var/lib/dpkg/status",
            dpkg(("libssl3", "3.0.11-1~deb12u2", "openssl"), ("bash", "5.2.15-2+b2", None)),
        ),
        (f"{SITE}/urllib3-1.26.4.dist-info/METADATA", metadata("urllib3", "1.26.4")),
    )
    app = (*VENV, (f"{SITE}/.wh.urllib3-1.26.4.dist-info", b""))
    return image(base, upgrade, app, config=CMD)


def test_analyse_components() -> None:
    """Every kind is found with its layer, environment and deletion, and sorted."""
    inv = inventory.analyse(layout())
    assert inv.os_ecosystem == "Debian:12"
    found = {
        (c.kind, c.name, c.version): (c.layer, c.deleted, c.environment) for c in inv.components
    }
    venv_site = "/app/.venv/lib/python3.11/site-packages"
    assert found == {
        ("dpkg", "bash", "5.2.15-2+b2"): (0, False, None),
        ("dpkg", "libssl3", "3.0.11-1~deb12u2"): (1, False, None),
        ("egg-info", "six", "1.16.0"): (0, False, "/usr/lib/python3/dist-packages"),
        ("wheel", "pip", "23.0.1"): (0, False, "/usr/share/python-wheels"),
        ("dist-info", "urllib3", "1.26.4"): (1, True, "/" + SITE),
        ("dist-info", "jinja2", "2.11.2"): (2, False, venv_site),
        ("dist-info", "pip", "24.0"): (2, False, venv_site),
        ("vendored", "cachecontrol", "0.14.0"): (2, False, f"{venv_site}/pip/_vendor"),
        ("vendored", "distlib", "0.3.8"): (2, False, f"{venv_site}/pip/_vendor"),
        ("vendored", "requests", "2.31.0"): (2, False, f"{venv_site}/pip/_vendor"),
        ("sbom", "msgpack", "1.0.8"): (2, False, f"{venv_site}/pip/_vendor"),
        ("bundled-library", "libssl", "3"): (2, False, venv_site),
    }
    keys = [(c.ecosystem, c.name, c.version, c.path) for c in inv.components]
    assert keys == sorted(keys)
    libssl = by_key(inv)[("dpkg", "libssl3", "3.0.11-1~deb12u2")]
    assert (libssl.source, libssl.source_version, libssl.ecosystem) == (
        "openssl",
        "3.0.11-1~deb12u2",
        "Debian:12",
    )
    assert libssl.purl.startswith("pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64")


def test_analyse_import_path_and_reachability() -> None:
    """A venv app imports its venv only: system, vendored, wheel and deleted ones are not."""
    inv = inventory.analyse(layout())
    assert inv.import_path == (
        "/app",
        "/usr/lib/python3.11",
        "/usr/lib/python3.11/lib-dynload",
        "/app/.venv/lib/python3.11/site-packages",
    )
    reach = {(c.kind, c.name): reachability(c, inv.import_path) for c in inv.components}
    assert reach == {
        ("dpkg", "bash"): model.INSTALLED,
        ("dpkg", "libssl3"): model.INSTALLED,
        ("egg-info", "six"): model.NOT_IMPORTABLE,
        ("wheel", "pip"): model.NOT_IMPORTABLE,
        ("dist-info", "urllib3"): model.DELETED,
        ("dist-info", "jinja2"): model.IMPORTABLE,
        ("dist-info", "pip"): model.IMPORTABLE,
        ("vendored", "cachecontrol"): model.NOT_IMPORTABLE,
        ("vendored", "distlib"): model.NOT_IMPORTABLE,
        ("vendored", "requests"): model.NOT_IMPORTABLE,
        ("sbom", "msgpack"): model.NOT_IMPORTABLE,
        ("bundled-library", "libssl"): model.IMPORTABLE,
    }


def test_import_path_with_system_site_packages_and_pythonpath() -> None:
    """include-system-site-packages adds the user site and Debian's dist-packages; PYTHONPATH
    comes first, relative entries taken from the working directory."""
    cfg = VENV[0][1].replace(b"= false", b"= true")
    venv = (("app/.venv/pyvenv.cfg", cfg), *VENV[1:])
    home = (
        ("root/.local/lib/python3.11/site-packages/x.py", b""),
        ("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"),
    )
    config = {
        "Cmd": ["/app/.venv/bin/python", "serve.py"],
        "WorkingDir": "/app",
        "Env": ["PYTHONPATH=/extra:lib"],
    }
    inv = inventory.analyse(image(DEBIAN_PYTHON, venv, home, config=config))
    assert inv.import_path == (
        "/app",
        "/extra",
        "/app/lib",
        "/usr/lib/python3.11",
        "/usr/lib/python3.11/lib-dynload",
        "/root/.local/lib/python3.11/site-packages",
        "/app/.venv/lib/python3.11/site-packages",
        "/usr/lib/python3/dist-packages",
    )
    six = by_key(inv)[("egg-info", "six", "1.16.0")]
    assert reachability(six, inv.import_path) == model.IMPORTABLE


def test_import_path_isolated_and_no_venv() -> None:
    """`-I` drops PYTHONPATH, the script dir and the user site; no venv: the system dirs."""
    config = {
        "Cmd": ["/usr/bin/python3", "-I", "-m", "app"],
        "WorkingDir": "/srv",
        "Env": ["PYTHONPATH=/extra"],
    }
    home = (
        ("root/.local/lib/python3.11/site-packages/x.py", b""),
        ("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"),
    )
    inv = inventory.analyse(image(DEBIAN_PYTHON, home, config=config))
    assert inv.import_path == (
        "/srv",
        "/usr/lib/python3.11",
        "/usr/lib/python3.11/lib-dynload",
        "/usr/lib/python3/dist-packages",
    )


def test_import_path_unknown_command_lists_every_site_dir() -> None:
    """When the command's interpreter is unknown, every interpreter's and venv's site dirs
    count, so nothing is called unreachable on a guess."""
    inv = inventory.analyse(image(DEBIAN_PYTHON, VENV, config={"Cmd": ["/opt/mystery"]}))
    assert inv.import_path == (
        "/usr/lib/python3/dist-packages",
        "/app/.venv/lib/python3.11/site-packages",
    )


def test_flags_parse() -> None:
    """Interpreter flags are read up to the script or `-m`, values of -X/-W skipped."""
    assert inventory._flags(["-X", "dev", "-sB", "-m", "app"]) == ({"s", "B"}, ["-m", "app"])
    assert inventory._flags(["-Im", "app", "x"]) == ({"I"}, ["-m", "app", "x"])
    assert inventory._flags(["-Wignore", "main.py"]) == (set(), ["main.py"])


def test_pep770_sbom_lists_bundled_not_itself() -> None:
    """A PEP 770 SBOM's components sit in its distribution's site-packages, itself left out."""
    sbom = {
        "bomFormat": "CycloneDX",
        "components": [
            {"purl": "pkg:pypi/psycopg-binary@3.2.1"},
            {"purl": "pkg:rpm/centos/openssl-libs@1.1"},
        ],
    }
    dist = f"{SITE}/psycopg_binary-3.2.1.dist-info"
    inv = inventory.analyse(
        image(
            DEBIAN_PYTHON,
            (
                (f"{dist}/METADATA", metadata("psycopg-binary", "3.2.1")),
                (f"{dist}/sboms/auditwheel.cdx.json", json.dumps(sbom).encode()),
            ),
        )
    )
    sboms = [c for c in inv.components if c.kind == "sbom"]
    assert [(c.ecosystem, c.name, c.version, c.environment, c.purl) for c in sboms] == [
        ("", "openssl-libs", "1.1", "/" + SITE, "pkg:rpm/centos/openssl-libs@1.1")
    ]


def test_hostile_inputs_stay_bounded() -> None:
    """A symlink loop in site-packages, a malformed SBOM and a huge vendor.txt give no error."""
    vendor = b"pkg==1.0\n" * 200_000  # captured only up to its cap
    inv = inventory.analyse(
        image(
            DEBIAN_PYTHON,
            (
                (f"{SITE}/loop", "->loop"),
                (f"{SITE}/a", "->b"),
                (f"{SITE}/b", "->a"),
                (
                    f"{SITE}/pip/_vendor/bom.cdx.json",
                    b'{"bomFormat": "CycloneDX", "components": [{',
                ),
                (f"{SITE}/pip/_vendor/vendor.txt", vendor),
                (f"{SITE}/x-1.dist-info/sboms/s.json", b"\x00" * 10),
            ),
            config={"Cmd": ["/usr/bin/python3", "-m", "app"]},
        )
    )
    vendored = [c for c in inv.components if c.kind == "vendored"]
    assert 0 < len(vendored) <= inventory.MAX_PER_FILE
    assert not [c for c in inv.components if c.kind == "sbom"]


def test_analyse_reuses_given_results() -> None:
    """Results the caller passes in are used as they are (no second scan of the layers)."""
    data = layout()
    facts = python.analyse(data)
    venvless = replace(facts, venvs=(), packages=())
    inv = inventory.analyse(data, python=venvless)
    assert not [c for c in inv.components if c.kind == "dist-info" and not c.deleted]


def test_parse_sbom_nesting_is_bounded() -> None:
    """CycloneDX components nested wide and deep list at most MAX_PER_FILE purls, quickly."""
    leaf = [{"purl": f"pkg:pypi/p{i}@1"} for i in range(300)]
    doc = {"bomFormat": "CycloneDX", "components": [{"components": leaf} for _ in range(300)]}
    found = inventory.parse_sbom(json.dumps(doc).encode())
    assert len(found) <= inventory.MAX_PER_FILE


def test_layer_is_the_one_that_installed_not_a_chown_copy() -> None:
    """A later `chown -R` re-adds the same files: the installing layer is still reported."""
    dist = f"{SITE}/urllib3-1.26.4.dist-info/METADATA"
    vendor = f"{SITE}/pip/_vendor/vendor.txt"
    installed = ((dist, metadata("urllib3", "1.26.4"), {"mtime": 1000}),
                 (vendor, b"idna==3.7\n", {"mtime": 1000}))  # fmt: skip
    chowned = ((dist, metadata("urllib3", "1.26.4"), {"mtime": 1000, "uid": 10001}),
               (vendor, b"idna==3.7\n", {"mtime": 1000, "uid": 10001}))  # fmt: skip
    inv = inventory.analyse(image(DEBIAN_PYTHON, installed, chowned))
    found = by_key(inv)
    assert found[("dist-info", "urllib3", "1.26.4")].layer == 1
    assert found[("vendored", "idna", "3.7")].layer == 1
    rewritten = ((dist, metadata("urllib3", "1.26.5"), {"mtime": 2000}),)
    inv = inventory.analyse(image(DEBIAN_PYTHON, installed, rewritten))
    assert by_key(inv)[("dist-info", "urllib3", "1.26.5")].layer == 2


def test_setuptools_vendored_txt_and_ensurepip_bundled_wheels() -> None:
    """setuptools' older `_vendor/vendored.txt` and ensurepip's `_bundled` wheels are listed,
    neither importable by the interpreter that owns them."""
    stdlib = "usr/local/lib/python3.12"
    layers = (
        ("usr/local/bin/python3.12", ELF, EXE),
        (f"{stdlib}/os.py", b""),
        (f"{stdlib}/ensurepip/_bundled/pip-24.0-py3-none-any.whl", b"PK"),
        (f"{stdlib}/site-packages/setuptools/_vendor/vendored.txt", b"packaging==23.1\n"),
    )
    inv = inventory.analyse(image(layers, config={"Cmd": ["/usr/local/bin/python3.12"]}))
    found = by_key(inv)
    wheel = found[("wheel", "pip", "24.0")]
    vendored = found[("vendored", "packaging", "23.1")]
    assert wheel.environment == f"/{stdlib}/ensurepip/_bundled"
    assert vendored.environment == f"/{stdlib}/site-packages/setuptools/_vendor"
    assert f"/{stdlib}/site-packages" in inv.import_path
    assert reachability(wheel, inv.import_path) == model.NOT_IMPORTABLE
    assert reachability(vendored, inv.import_path) == model.NOT_IMPORTABLE


def test_bundled_libraries_only_in_installed_wheels() -> None:
    """`<dist>.libs/` and `<package>/.libs/` in a site dir are bundled libraries; libtool's
    `.libs/` in a build tree is not."""
    inv = inventory.analyse(image(DEBIAN_PYTHON, (
        (f"{SITE}/numpy.libs/libgfortran-040039e1.so.5.0.0", ELF),
        (f"{SITE}/lxml/.libs/libxml2-1a2b3c4d.so.2.9.14", ELF),
        ("usr/src/python/.libs/libpython3.11.so.1.0", ELF),
    )))  # fmt: skip
    bundled = {(c.name, c.version, c.environment) for c in inv.components
               if c.kind == "bundled-library"}  # fmt: skip
    assert bundled == {("libgfortran", "5.0.0", "/" + SITE), ("libxml2", "2.9.14", "/" + SITE)}


def test_alpine_packages_by_origin_with_their_installing_layer() -> None:
    """apk records give Alpine:vX.Y components with the origin as source, each in the layer
    whose database first listed it at its version."""
    release = ("etc/os-release", b"ID=alpine\nVERSION_ID=3.20.3\n")
    musl = "P:musl\nV:1.2.5-r0\nA:x86_64\no:musl\n"
    ssl = "P:libssl3\nV:3.3.2-r0\nA:x86_64\no:openssl\n"
    base = (release, ("lib/apk/db/installed", musl.encode() + b"\n"))
    added = (("lib/apk/db/installed", (musl + "\n" + ssl + "\n").encode()),)
    inv = inventory.analyse(image(base, added))
    assert inv.os_ecosystem == "Alpine:v3.20"
    found = {c.name: (c.source, c.source_version, c.layer, c.kind, c.purl) for c in inv.components}
    assert found == {
        "musl": ("musl", "1.2.5-r0", 0, "apk",
                 "pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64&distro=alpine-3.20.3"),
        "libssl3": ("openssl", "3.3.2-r0", 1, "apk",
                    "pkg:apk/alpine/libssl3@3.3.2-r0?arch=x86_64&distro=alpine-3.20.3"
                    "&upstream=openssl"),
    }  # fmt: skip


def test_distroless_status_d_packages_name_their_own_file() -> None:
    """Distroless dpkg paragraphs in status.d: each package's path is its own file and layer."""
    release = ("etc/os-release", b'ID=debian\nVERSION_ID="12"\n')
    first = (release, ("var/lib/dpkg/status.d/base", dpkg(("base-files", "12.4", None))))
    second = (("var/lib/dpkg/status.d/libssl3", dpkg(("libssl3", "3.0.11-1", "openssl"))),)
    inv = inventory.analyse(image(first, second))
    found = {c.name: (c.path, c.layer, c.ecosystem) for c in inv.components}
    assert found == {
        "base-files": ("/var/lib/dpkg/status.d/base", 0, "Debian:12"),
        "libssl3": ("/var/lib/dpkg/status.d/libssl3", 1, "Debian:12"),
    }


def test_import_path_follows_pth_directories() -> None:
    """A site dir's `.pth` path lines add existing dirs after it; import lines and missing dirs
    add nothing."""
    venv_site = "app/.venv/lib/python3.11/site-packages"
    pth = (
        (f"{venv_site}/__editable__.myapp-0.1.pth", b"/app/src\n"),
        (f"{venv_site}/distutils-precedence.pth", b"import os; os.environ\n"),
        (f"{venv_site}/extra.pth", b"# comment\nvendored\n/nowhere\n"),
        (f"{venv_site}/vendored/x.py", b""),
        ("app/src/myapp/__init__.py", b""),
    )
    inv = inventory.analyse(image(DEBIAN_PYTHON, VENV, pth, config=CMD))
    assert inv.import_path[-3:] == ("/" + venv_site, "/app/src", f"/{venv_site}/vendored")
