"""The inventory of the vu-layout fixture: every component where it really sits, and whether the
command can import it, judged by the static import path and by the probe's sys.path alike."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from inspector.advisories import model
from inspector.analysers.inventory import Component, reachability

pytestmark = pytest.mark.docker

SITE = "/app/.venv/lib/python3.11/site-packages"
PIP_VENDOR = f"{SITE}/pip/_vendor"
SETUPTOOLS_VENDOR = f"{SITE}/setuptools/_vendor"
# The venv's distributions and the system one, by (kind, name): version, layer, deleted, reach.
DISTRIBUTIONS = {
    ("dist-info", "certifi"): ("2020.12.5", 3, False, model.IMPORTABLE),
    ("dist-info", "chardet"): ("4.0.0", 3, False, model.IMPORTABLE),
    ("dist-info", "idna"): ("2.10", 3, False, model.IMPORTABLE),
    ("dist-info", "jinja2"): ("3.1.2", 3, False, model.IMPORTABLE),
    ("dist-info", "markupsafe"): ("2.1.3", 3, False, model.IMPORTABLE),
    ("dist-info", "pip"): ("26.3", 3, False, model.IMPORTABLE),
    ("dist-info", "psycopg2-binary"): ("2.9.6", 3, False, model.IMPORTABLE),
    ("dist-info", "requests"): ("2.25.1", 3, False, model.IMPORTABLE),
    ("dist-info", "setuptools"): ("75.8.0", 3, False, model.IMPORTABLE),
    ("dist-info", "urllib3"): ("1.26.4", 3, False, model.IMPORTABLE),
    ("dist-info", "mistune"): ("0.8.4", 4, True, model.DELETED),
    ("dist-info", "pyjwt"): ("2.3.0", 2, False, model.NOT_IMPORTABLE),
}
# pip 26.3's vendor.txt, listed again by its bom.cdx.json.
PIP_VENDORED = {
    "cachecontrol": "0.14.4", "certifi": "2026.10.23", "distlib": "0.4.4", "distro": "1.9.0",
    "idna": "3.20", "msgpack": "1.2.4", "packaging": "26.3", "platformdirs": "4.12.4",
    "pygments": "2.21.0", "pyproject-hooks": "1.3.3", "requests": "2.34.2",
    "resolvelib": "1.2.1", "rich": "15.0.0", "setuptools": "70.3.0", "tomli": "2.3.2",
    "tomli-w": "1.2.0", "truststore": "0.10.5", "urllib3": "2.8.0",
}  # fmt: skip
SETUPTOOLS_VENDORED = {
    "autocommand": "2.2.2", "backports-tarfile": "1.2.0", "importlib-metadata": "8.0.0",
    "inflect": "7.3.1", "jaraco-collections": "5.1.0", "jaraco-context": "5.3.0",
    "jaraco-functools": "4.0.1", "jaraco-text": "3.12.1", "more-itertools": "10.3.0",
    "packaging": "24.2", "platformdirs": "4.2.2", "tomli": "2.0.1", "typeguard": "4.3.0",
    "typing-extensions": "4.12.2", "wheel": "0.43.0", "zipp": "3.19.2",
}  # fmt: skip
# psycopg2-binary 2.9.6's psycopg2_binary.libs/: name and soname version.
BUNDLED = {
    "libcom_err": "2.1", "libcrypto": "1.1", "libgssapi_krb5": "2.2", "libk5crypto": "3.1",
    "libkeyutils": "1.5", "libkrb5": "3.3", "libkrb5support": "0.1", "liblber": "2.0.200",
    "libldap": "2.0.200", "libpcre": "1.2.0", "libpq": "5.15", "libsasl2": "3.0.0",
    "libselinux": "1", "libssl": "1.1",
}  # fmt: skip


@pytest.fixture(scope="module")
def facts(fixture_probes) -> dict[str, Any]:
    """The facts JSON of vu-layout, probes included, as `inspector facts --format json` prints
    (the session's shared collection)."""
    return fixture_probes.facts("vu-layout")


def components(facts: dict[str, Any]) -> list[Component]:
    return [Component(**c) for c in facts["inventory"]["components"]]


def test_app_layers_hold_exactly_the_expected_components(facts) -> None:
    """Above the base, exactly the venv's, system, deleted, vendored, SBOM and bundled ones."""
    path = tuple(facts["inventory"]["import_path"])
    assert path == ("/app", "/usr/lib/python3.11", "/usr/lib/python3.11/lib-dynload", SITE)
    found: dict[tuple[str, str, str], tuple[Any, ...]] = {}
    for c in components(facts):
        if c.layer > 0:
            key = (c.kind, c.name, c.environment or "")
            assert key not in found, key
            found[key] = (c.version, c.layer, c.deleted, reachability(c, path))
    expected: dict[tuple[str, str, str], tuple[Any, ...]] = {}
    for (kind, name), (version, layer, deleted, reach) in DISTRIBUTIONS.items():
        env = "/usr/local/lib/python3.11/dist-packages" if name == "pyjwt" else SITE
        expected[(kind, name, env)] = (version, layer, deleted, reach)
    for name, version in PIP_VENDORED.items():
        expected[("vendored", name, PIP_VENDOR)] = (version, 3, False, model.NOT_IMPORTABLE)
        expected[("sbom", name, PIP_VENDOR)] = (version, 3, False, model.NOT_IMPORTABLE)
    for name, version in SETUPTOOLS_VENDORED.items():
        expected[("vendored", name, SETUPTOOLS_VENDOR)] = (version, 3, False,
                                                           model.NOT_IMPORTABLE)  # fmt: skip
    for name, version in BUNDLED.items():
        expected[("bundled-library", name, SITE)] = (version, 3, False, model.IMPORTABLE)
    assert found == expected
    assert {c.ecosystem for c in components(facts) if c.layer > 0 and c.kind != "bundled-library"
            } == {"PyPI"}  # fmt: skip


def test_base_layer_components(facts) -> None:
    """The base's dpkg packages are installed, Debian's own pip, its vendored packages and its
    ensurepip wheels are on disk but not importable by the venv's command."""
    path = facts["inventory"]["import_path"]
    base = [c for c in components(facts) if c.layer == 0]
    reach = Counter((c.kind, reachability(c, path)) for c in base)
    assert set(reach) == {
        ("dpkg", model.INSTALLED), ("dist-info", model.NOT_IMPORTABLE),
        ("egg-info", model.NOT_IMPORTABLE), ("vendored", model.NOT_IMPORTABLE),
        ("wheel", model.NOT_IMPORTABLE),
    }  # fmt: skip
    python = {(c.kind, c.ecosystem) for c in base if c.kind != "dpkg"}
    assert {ecosystem for _, ecosystem in python} == {""}, "Debian's own: matched via dpkg"
    wheels = {(c.name, c.path) for c in base if c.kind == "wheel"}
    assert {name for name, _ in wheels} == {"pip", "setuptools"}
    assert all(p.startswith("/usr/share/python-wheels/") for _, p in wheels)
    dpkg = [c for c in base if c.kind == "dpkg"]
    assert {c.ecosystem for c in dpkg} == {"Debian:12"}
    assert facts["inventory"]["os_ecosystem"] == "Debian:12"
    libssl = next(c for c in dpkg if c.name == "libssl3")
    assert libssl.source == "openssl"
    assert libssl.purl.startswith(f"pkg:deb/debian/libssl3@{libssl.version.replace('+', '%2B')}")
    assert "distro=debian-12" in libssl.purl


def test_probe_sys_path_gives_the_same_reachability(facts) -> None:
    """The static probe's sys.path reaches exactly the components the static import path does."""
    probed = facts["runtime"]["static"]["sys_path"]
    assert probed, facts["runtime"].get("note")
    static = facts["inventory"]["import_path"]
    differ = [(c.kind, c.name, c.path) for c in components(facts)
              if reachability(c, probed) != reachability(c, static)]  # fmt: skip
    assert differ == []
