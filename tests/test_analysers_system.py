"""Unit tests of the system analysers (OS, packages, users, file modes, secrets) on built layers."""

from __future__ import annotations

import binascii
import dataclasses
import io
import json
import re
import string
import struct
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from inspector.analysers import filemodes, osinfo, ospackages, secrets, users
from inspector.analysers.imagedata import ImageData
from inspector.image.config import config_from_json
from inspector.layers.overlay import merge
from inspector.layers.reader import read_layer
from tests.layertools import layer

ALL = (osinfo, ospackages, users, filemodes, secrets)
SECRET_VAR = "secret-variable"


def capture_of(*modules: ModuleType) -> Callable[[str, int], int | None]:
    """The capture a single layer pass uses: the largest cap any of `modules` asks for."""

    def capture(path: str, size: int) -> int | None:
        caps = [cap for m in modules if (cap := m.wants(path, size)) is not None]
        return max(caps) if caps else None

    return capture


def build(
    module: ModuleType | tuple[ModuleType, ...],
    *layers: tuple[tuple[Any, ...], ...],
    config: dict[str, Any] | None = None,
    history: list[dict[str, Any]] | None = None,
    steps: list[str | None] | None = None,
) -> ImageData:
    modules = module if isinstance(module, tuple) else (module,)
    reads = [read_layer(io.BytesIO(layer(*members)), capture_of(*modules)) for members in layers]
    cfg = config or {}
    steps = steps if steps is not None else [f"RUN step {i}" for i in range(len(reads))]
    hist = history if history is not None else [{"created_by": s} for s in steps]
    return ImageData(config=config_from_json(cfg), raw_config={"config": cfg, "history": hist},
                     layers=reads, fs=merge(reads), layer_steps=steps)  # fmt: skip


def as_json(facts: Any) -> str:
    return json.dumps(dataclasses.asdict(facts))


# --- OS -------------------------------------------------------------------------------------

DEBIAN_RELEASE = b"""PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
"""


def test_debian_os_release_through_a_symlink_and_glibc_through_merged_usr():
    """/etc/os-release -> ../usr/lib/os-release is followed; the loader resolves via /lib64."""
    data = build(osinfo, (
        ("usr/lib/os-release", DEBIAN_RELEASE), ("etc/os-release", "->../usr/lib/os-release"),
        ("etc/debian_version", b"12.5\n"), ("lib", "->usr/lib"), ("lib64", "->usr/lib64"),
        ("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", b"\x7fELF"),
        ("usr/lib64/ld-linux-x86-64.so.2", "->../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
    ))  # fmt: skip
    info = osinfo.analyse(data)
    assert (info.id, info.version_id, info.version_codename) == ("debian", "12", "bookworm")
    assert info.pretty_name == "Debian GNU/Linux 12 (bookworm)"
    assert info.os_release_path == "/usr/lib/os-release"
    assert info.debian_version == "12.5"
    assert (info.libc, info.libc_evidence) == ("glibc", "/lib64/ld-linux-x86-64.so.2")


def test_alpine_is_musl_even_with_glibc_compat_loader_names():
    """Alpine's musl loader decides, though libc6-compat adds an ld-linux name linking to it."""
    data = build(osinfo, (
        ("etc/os-release", b"ID=alpine\nVERSION_ID=3.20.0\nPRETTY_NAME='Alpine Linux v3.20'\n"),
        ("etc/alpine-release", b"3.20.0\n"), ("lib/ld-musl-x86_64.so.1", b"\x7fELF"),
        ("lib/libc.musl-x86_64.so.1", "->ld-musl-x86_64.so.1"),
        ("lib64/ld-linux-x86-64.so.2", "->/lib/libc.musl-x86_64.so.1"),
    ))  # fmt: skip
    info = osinfo.analyse(data)
    assert (info.id, info.version_id, info.alpine_release) == ("alpine", "3.20.0", "3.20.0")
    assert info.pretty_name == "Alpine Linux v3.20"
    assert (info.libc, info.libc_evidence) == ("musl", "/lib/ld-musl-x86_64.so.1")


def test_glibc_from_multiarch_libc_and_old_codename_from_version():
    """An arm64 image with only libc.so.6 is glibc; Debian 8's codename comes from VERSION."""
    data = build(osinfo, (
        ("usr/lib/os-release", b'ID=debian\nVERSION_ID="8"\nVERSION="8 (jessie)"\n'),
        ("lib/aarch64-linux-gnu/libc.so.6", b"\x7fELF"),
    ))  # fmt: skip
    info = osinfo.analyse(data)
    assert info.os_release_path == "/usr/lib/os-release"
    assert info.version_codename == "jessie"
    assert (info.libc, info.libc_evidence) == ("glibc", "/lib/aarch64-linux-gnu/libc.so.6")


def test_scratch_image_has_no_os_facts():
    """A static binary alone gives no release, no libc, and no error."""
    info = osinfo.analyse(build(osinfo, (("app", b"\x7fELF"),)))
    assert (info.id, info.libc, info.libc_evidence, info.os_release_path) == (None,) * 4


# --- OS packages ----------------------------------------------------------------------------

DPKG_STATUS = b"""Package: libc6
Status: install ok installed
Priority: optional
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u4
Description: GNU C Library: Shared libraries
 Contains the standard libraries.

Package: oldpkg
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0-1

Package: zlib1g
Status: hold ok installed
Architecture: amd64
Source: zlib (1:1.2.13.dfsg-1)
Version: 1:1.2.13.dfsg-1+b1

Package: base-files
Status: install ok installed
Architecture: amd64
Version: 12.4+deb12u5
"""


def test_dpkg_status_keeps_installed_packages_and_skips_deinstalled_ones():
    """Only packages in state `installed` count; Source (with its version) defaults to itself."""
    data = build(ospackages, (("var/lib/dpkg/status", DPKG_STATUS),))
    facts = ospackages.analyse(data)
    assert (facts.manager, facts.managers, facts.truncated) == ("dpkg", ("dpkg",), False)
    got = {p.name: (p.version, p.architecture, p.source, p.source_version) for p in facts.packages}
    assert got == {
        "base-files": ("12.4+deb12u5", "amd64", "base-files", "12.4+deb12u5"),
        "libc6": ("2.36-9+deb12u4", "amd64", "glibc", "2.36-9+deb12u4"),
        "zlib1g": ("1:1.2.13.dfsg-1+b1", "amd64", "zlib", "1:1.2.13.dfsg-1"),
    }


def test_apk_installed_database():
    """apk's P/V/A/o records become packages with the origin as source."""
    db = b"C:Q1abc=\nP:musl\nV:1.2.5-r0\nA:x86_64\nS:400000\no:musl\nF:lib\nR:ld-musl.so.1\n\n"
    db += b"C:Q1def=\nP:libcrypto3\nV:3.3.1-r0\nA:x86_64\no:openssl\n\n"
    facts = ospackages.analyse(build(ospackages, (("lib/apk/db/installed", db),)))
    assert facts.manager == "apk"
    assert [(p.name, p.version, p.architecture, p.source) for p in facts.packages] == [
        ("libcrypto3", "3.3.1-r0", "x86_64", "openssl"),
        ("musl", "1.2.5-r0", "x86_64", "musl"),
    ]


def test_distroless_status_d_counts_as_dpkg_and_no_database_means_no_manager():
    """status.d paragraphs (no Status field) are installed packages; .md5sums are ignored."""
    data = build(ospackages, (
        ("var/lib/dpkg/status.d/libc6", b"Package: libc6\nVersion: 2.36-9\nArchitecture: arm64\n"),
        ("var/lib/dpkg/status.d/libc6.md5sums", b"abc  lib/libc.so.6\n"),
    ))  # fmt: skip
    facts = ospackages.analyse(data)
    assert facts.manager == "dpkg"
    assert [(p.name, p.architecture) for p in facts.packages] == [("libc6", "arm64")]
    assert ospackages.analyse(build(ospackages, (("app", b"x"),))).manager is None


def test_truncated_database_drops_its_partial_last_record():
    """When the capture cap cut the file, the half-read last paragraph is not reported."""
    text = "Package: a\nStatus: install ok installed\nVersion: 1\n\nPackage: b\nStatus: install ok"
    assert [p.name for p in ospackages.parse_dpkg(text, truncated=True)] == ["a"]


def test_wants_gives_package_databases_a_large_cap_and_everything_else_a_small_one():
    """The two package databases get 16 MiB; release and account files far less; others none."""
    assert ospackages.wants("/var/lib/dpkg/status", 40 << 20) == 16 << 20
    assert ospackages.wants("/lib/apk/db/installed", 1) == 16 << 20
    assert osinfo.wants("/etc/os-release", 100) <= 64 << 10
    assert users.wants("/etc/passwd", 100) <= 8 << 20
    assert secrets.wants("/root/.netrc", 100) <= 64 << 10
    for module in ALL:
        assert module.wants("/usr/lib/libbig.so", 50 << 20) is None


# --- users ----------------------------------------------------------------------------------

PASSWD = b"""# accounts
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
app:x:10001:10001:App:/home/app:/bin/sh
toor:x:0:0::/root:/bin/sh
+::::::
"""
GROUP = b"root:x:0:\napp:x:10001:\nstaff:x:50:app,daemon\ndocker:x:999:app\n"
UNKNOWN_USER = "unable to find user nosuchuser: no matching entries in passwd file"
UNKNOWN_GROUP = "unable to find group nogroup: no matching entries in group file"


@pytest.mark.parametrize(
    ("spec", "uid", "gid", "name", "home", "in_passwd", "numeric", "sgids", "error"),
    [
        ("", 0, 0, "root", "/root", True, False, (), None),
        ("root:root", 0, 0, "root", "/root", True, False, (), None),
        ("0:0", 0, 0, "root", "/root", True, True, (), None),
        ("toor", 0, 0, "toor", "/root", True, False, (), None),
        ("app", 10001, 10001, "app", "/home/app", True, False, (50, 999), None),
        ("10001", 10001, 10001, "app", "/home/app", True, True, (50, 999), None),
        ("app:staff", 10001, 50, "app", "/home/app", True, False, (), None),
        ("10001:999", 10001, 999, "app", "/home/app", True, True, (), None),
        ("app:999", 10001, 999, "app", "/home/app", True, False, (), None),
        ("10001:staff", 10001, 50, "app", "/home/app", True, False, (), None),
        ("12345", 12345, 0, None, "/", False, True, (), None),
        ("12345:12345", 12345, 12345, None, "/", False, True, (), None),
        ("nosuchuser", None, None, None, None, False, False, (), UNKNOWN_USER),
        ("app:nogroup", None, None, None, None, True, False, (), UNKNOWN_GROUP),
    ],
)  # fmt: skip
def test_config_user_resolves_as_docker_does(spec, uid, gid, name, home, in_passwd, numeric,
                                             sgids, error):  # fmt: skip
    """Every USER form resolves to the uid/gid/home Docker would run with, or Docker's error."""
    data = build(users, (("etc/passwd", PASSWD), ("etc/group", GROUP)), config={"User": spec})
    facts = users.analyse(data)
    assert facts.config_user == spec
    assert (facts.resolved_uid, facts.resolved_gid) == (uid, gid)
    assert (facts.name, facts.home, facts.in_passwd, facts.numeric) == (
        name, home, in_passwd, numeric)  # fmt: skip
    assert facts.supplementary_gids == sgids
    assert facts.error == error


def test_accounts_are_listed_and_a_missing_passwd_file_is_handled():
    """passwd/group entries are parsed (comments and NIS lines skipped) and counted; the ones
    checks judge are kept (uid 0 aliases, USER's entry and groups); no passwd still works."""
    files = (("etc/passwd", PASSWD), ("etc/group", GROUP))
    facts = users.analyse(build(users, files))
    assert [u.name for u in facts.users] == ["root", "toor"]
    assert (facts.users_count, facts.groups_count, facts.uid0_complete) == (4, 4, True)
    assert facts.group_name == "root"
    app = users.analyse(build(users, files, config={"User": "app"}))
    assert [u.name for u in app.users] == ["root", "app", "toor"]
    assert app.users[1] == users.PasswdEntry("app", 10001, 10001, "App", "/home/app", "/bin/sh")
    assert next(g for g in app.groups if g.name == "staff").members == ("app", "daemon")
    assert [g.name for g in app.groups] == ["root", "app", "staff", "docker"]

    bare = build(users, (("app", b"x"),), config={"User": ""})
    root = users.analyse(bare)
    assert (root.resolved_uid, root.resolved_gid, root.home, root.in_passwd) == (0, 0, "/", False)
    assert (root.passwd_present, root.users) == (False, ())
    named = build(users, (("app", b"x"),), config={"User": "nosuchuser"})
    assert users.analyse(named).error == UNKNOWN_USER


def test_out_of_range_uid_is_refused():
    """A uid beyond 2^31-1 (or negative) is an error, as runc refuses it."""
    facts = users.resolve("4294967296", (), ())
    assert facts.resolved_uid is None
    assert facts.error == "uids and gids must be in range 0-2147483647"


# --- file modes -----------------------------------------------------------------------------


def cap_xattr(revision: int, permitted: int, inheritable: int = 0, effective: bool = True,
              rootid: int | None = None) -> str:  # fmt: skip
    """A security.capability value as tarfile writes it into a PAX header (surrogateescape)."""
    magic = revision << 24 | (1 if effective else 0)
    words = [magic, permitted & 0xFFFFFFFF, inheritable & 0xFFFFFFFF]
    if revision > 1:
        words += [permitted >> 32, inheritable >> 32]
    if revision == 3:
        words.append(rootid or 0)
    raw = struct.pack(f"<{len(words)}I", *words)
    return raw.decode("utf-8", "surrogateescape")


def test_setuid_and_setgid_files_are_reported_only_when_visible():
    """Visible setuid/setgid files carry mode, owner, layer and step; a deleted one is absent."""
    data = build(
        filemodes,
        (("usr/bin/su", b"ELF", {"mode": 0o4755}), ("usr/bin/gone", b"ELF", {"mode": 0o4755}),
         ("usr/bin/plain", b"ELF", {"mode": 0o755})),
        (("usr/bin/.wh.gone", b""), ("usr/bin/wall", b"ELF", {"mode": 0o2755, "gid": 5})),
        steps=["FROM debian", "RUN apt-get install bsdutils"],
    )  # fmt: skip
    facts = filemodes.analyse(data)
    got = {f.path: (f.mode, f.setuid, f.setgid, f.gid, f.layer, f.created_by)
           for f in facts.setuid_setgid}  # fmt: skip
    assert got == {
        "/usr/bin/su": ("4755", True, False, 0, 0, "FROM debian"),
        "/usr/bin/wall": ("2755", False, True, 5, 1, "RUN apt-get install bsdutils"),
    }


def test_world_writable_skips_sticky_dirs_and_symlinks():
    """A sticky /tmp and symlinks are fine; a 0777 dir and a 0666 file are reported."""
    data = build(filemodes, (
        ("tmp/", None, {"mode": 0o1777}), ("app/", None, {"mode": 0o777}),
        ("app/settings.py", b"x", {"mode": 0o666}), ("app/link", "->settings.py"),
        ("app/main.py", b"x", {"mode": 0o644}),
    ))  # fmt: skip
    facts = filemodes.analyse(data)
    assert [(w.path, w.kind, w.mode) for w in facts.world_writable] == [
        ("/app", "dir", "0777"),
        ("/app/settings.py", "file", "0666"),
    ]
    assert facts.world_writable_total == 2


def test_file_capabilities_are_decoded_into_names():
    """Revision 2 and 3 xattrs decode to names and getcap text; garbage keeps only its hex."""
    bind = cap_xattr(2, 1 << 10)
    several = cap_xattr(2, 1 << 7 | 1 << 13 | 1 << 40, inheritable=1 << 13)
    namespaced = cap_xattr(3, 1 << 13, rootid=100000)
    data = build(filemodes, (
        ("usr/bin/python3.12", b"ELF", {"pax": {"SCHILY.xattr.security.capability": bind}}),
        ("usr/bin/tool", b"ELF", {"pax": {"SCHILY.xattr.security.capability": several}}),
        ("usr/bin/ping", b"ELF", {"pax": {"SCHILY.xattr.security.capability": namespaced}}),
        ("usr/bin/odd", b"ELF", {"pax": {"SCHILY.xattr.security.capability": "\x09"}}),
    ))  # fmt: skip
    caps = {c.path: c.capabilities for c in filemodes.analyse(data).capabilities}
    py = caps["/usr/bin/python3.12"]
    assert (py.decoded, py.revision, py.effective) == (True, 2, True)
    assert py.permitted == ("cap_net_bind_service",)
    assert py.text == "cap_net_bind_service+ep"
    assert py.raw_hex == "0100000200040000000000000000000000000000"
    tool = caps["/usr/bin/tool"]
    assert tool.permitted == ("cap_setuid", "cap_net_raw", "cap_checkpoint_restore")
    assert tool.inheritable == ("cap_net_raw",)
    assert tool.text == "cap_setuid,cap_checkpoint_restore+ep cap_net_raw+eip"
    ping = caps["/usr/bin/ping"]
    assert (ping.revision, ping.rootid, ping.permitted) == (3, 100000, ("cap_net_raw",))
    odd = caps["/usr/bin/odd"]
    assert (odd.decoded, odd.raw_hex, odd.permitted) == (False, "09", ())


# --- secrets --------------------------------------------------------------------------------


def only(found: tuple[secrets.Secret, ...], **match: Any) -> secrets.Secret:
    hits = [s for s in found if all(getattr(s, k) == v for k, v in match.items())]
    assert len(hits) == 1, (match, found)
    return hits[0]


def test_env_secrets_by_name_and_by_value_pattern_never_store_the_value():
    """Secret-named env and token-shaped values are found; placeholders and allowlists are not."""
    env = [
        "DB_PASSWORD=hunter2hunter2", "PGPASSWORD=pgpass-123456", "SOME_ID=AKIAZ7Q2RNDX4EXAMPLQ",
        "DATABASE_URL=postgres://app:s3cretpass@db:5432/app", "API_TOKEN=", "SECRET_KEY=${KEY}",
        "GPG_KEY=7169605F62C751356D054A26A821E680E5FA6305", "PYTHON_GET_PIP_SHA256=abc123def456",
        "TOKENIZERS_PARALLELISM=false", "GOOGLE_APPLICATION_CREDENTIALS=/run/secrets/gcp.json",
        "AUTH_ENABLED=true", "DOCS_KEY=AKIAIOSFODNN7EXAMPLE", "PATH=/usr/local/bin:/usr/bin",
    ]  # fmt: skip
    found = secrets.analyse(build(secrets, (("app", b"x"),), config={"Env": env})).secrets
    assert {(s.kind, s.name) for s in found} == {
        ("secret-variable", "DB_PASSWORD"),
        ("secret-variable", "PGPASSWORD"),
        ("aws-access-key-id", "SOME_ID"),
        ("url-credentials", "DATABASE_URL"),
        ("aws-access-key-id", "DOCS_KEY"),
    }
    password = only(found, name="DB_PASSWORD")
    assert (password.where, password.layer, password.hint) == (
        "env", None, secrets.redact("hunter2hunter2"))  # fmt: skip
    url = f"postgres://<user: 3 chars>:<password: {secrets.redact('s3cretpass')}>@db"
    assert only(found, name="DATABASE_URL").hint == url
    assert only(found, name="DOCS_KEY").likely_test_fixture
    text = as_json(secrets.Secrets(found))
    for value in ("hunter2hunter2", "pgpass-123456", "AKIAZ7Q2RNDX4EXAMPLQ", "s3cretpass"):
        assert value not in text


def _github_token() -> str:
    """A classic GitHub token of the real shape: 30 characters, then their base62 CRC32."""
    body = "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5"
    number, check = binascii.crc32(body.encode()), ""
    alphabet = string.digits + string.ascii_uppercase + string.ascii_lowercase
    while number:
        number, digit = divmod(number, 62)
        check = alphabet[digit] + check
    return "ghp_" + body + check.rjust(6, "0")


def test_labels_and_commands_with_credentials():
    """A token in a label and a credentialed URL or --password= in Cmd are found."""
    config = {
        "Labels": {"ci.token": _github_token(), "org.opencontainers.image.title": "app"},
        "Cmd": ["app", "--password=correct-horse", "--index", "https://u:pw-9f8e7d@idx/simple"],
    }
    found = secrets.analyse(build(secrets, (("app", b"x"),), config=config)).secrets
    assert {(s.kind, s.where, s.name) for s in found} == {
        ("github-token", "label", "ci.token"),
        ("secret-variable", "command", "password"),
        ("url-credentials", "command", "Cmd"),
    }


def test_build_arg_secrets_in_history_are_found_and_redacted():
    """Legacy `|N NAME=value` and BuildKit `RUN |N` build args leak; created_by is redacted."""
    legacy = "|1 API_TOKEN=s3cr3t-token /bin/sh -c rm /root/.netrc"
    buildkit = ("RUN |2 PIP_INDEX_URL=https://ci:tok3n-abcdef@pypi.example.com/simple HOME=/root "
                "/bin/sh -c pip install -r requirements.txt # buildkit")  # fmt: skip
    history = [
        {"created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
        {"created_by": "ARG API_TOKEN", "empty_layer": True},
        {"created_by": legacy},
        {"created_by": buildkit},
        {"created_by": "ENV PYTHON_VERSION=3.12.4", "empty_layer": True},
    ]
    data = build(secrets, (("a", b"1"),), (("b", b"2"),), (("c", b"3"),), history=history,
                 steps=["ADD", legacy, buildkit])  # fmt: skip
    found = secrets.analyse(data).secrets
    token = only(found, name="API_TOKEN")
    assert (token.kind, token.where, token.layer, token.step) == (SECRET_VAR, "history", 1, 2)
    assert (
        token.created_by
        == f"|1 API_TOKEN=<{secrets.redact('s3cr3t-token')}> /bin/sh -c rm /root/.netrc"
    )
    index = only(found, name="PIP_INDEX_URL")
    assert (index.kind, index.layer, index.step) == ("url-credentials", 2, 3)
    assert index.hint == (f"https://<user: 2 chars>:<password: {secrets.redact('tok3n-abcdef')}>"
                          "@pypi.example.com")  # fmt: skip
    assert len(found) == 2
    assert "s3cr3t-token" not in as_json(secrets.Secrets(found))
    assert "tok3n-abcdef" not in as_json(secrets.Secrets(found))


OPENSSH_KEY = b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl==\n-----END OPENSSH PRIVATE KEY-----\n"
RSA_KEY = b"-----BEGIN RSA PRIVATE KEY-----\nMIIEow==\n-----END RSA PRIVATE KEY-----\n"
CERT = b"-----BEGIN CERTIFICATE-----\nMIIDdz==\n-----END CERTIFICATE-----\n"


@pytest.mark.parametrize(
    ("path", "content", "kind", "hint"),
    [
        ("root/.ssh/id_ed25519", OPENSSH_KEY, "private-key", "-----BEGIN OPENSSH PRIVATE KEY-----"),
        ("etc/ssl/private/server.key", RSA_KEY, "private-key", "-----BEGIN RSA PRIVATE KEY-----"),
        ("app/bundle.pem", CERT + RSA_KEY, "private-key", "-----BEGIN RSA PRIVATE KEY-----"),
        ("root/.pypirc", b"[pypi]\nusername = __token__\npassword = pypi-AgEIcHlwaS5vcmcabc\n",
         "pypirc", "password " + secrets.redact("pypi-AgEIcHlwaS5vcmcabc")),
        ("root/.netrc", b"machine pypi.example.com login ci password n3tr(-pass\n", "netrc",
         "machine pypi.example.com: password " + secrets.redact("n3tr(-pass")),
        ("etc/pip.conf", b"[global]\nindex-url = https://ci:idx-secret-1@index.example/simple\n",
         "pip-conf",
         f"https://<user: 2 chars>:<password: {secrets.redact('idx-secret-1')}>@index.example"),
        ("root/.aws/credentials",
         b"[default]\naws_access_key_id = AKIAZ7Q2RNDX4EXAMPLQ\n"
         b"aws_secret_access_key = wJalrXUtnFEMIbPxRfiCYzEXAMPLEKEY\n",
         "aws-credentials",
         "aws_secret_access_key " + secrets.redact("wJalrXUtnFEMIbPxRfiCYzEXAMPLEKEY")),
        ("root/.docker/config.json", b'{"auths": {"registry.example": {"auth": "dXNlcjpwYXNz"}}}',
         "docker-config", "credentials for 1 registry: registry.example"),
        ("root/.git-credentials", b"https://ci:ghs_tokentokentoken@github.com\n",
         "git-credentials",
         f"https://<user: 2 chars>:<password: {secrets.redact('ghs_tokentokentoken')}>@github.com"),
        ("app/.npmrc", b"//npm.example/:_authToken=npm_abcdefghijklmnop\n", "npmrc",
         "_authToken " + secrets.redact("npm_abcdefghijklmnop")),
        ("app/.env", b"DEBUG=1\nDB_PASSWORD=p4ss-w0rd-xyz\n", "dotenv",
         "2 variables; secret-looking: DB_PASSWORD"),
        ("root/.kube/config", b"users:\n- name: ci\n  user:\n    token: eyJhbGciOi\n",
         "kubeconfig", "kubeconfig with token"),
        ("app/certs/client.p12", b"\x30\x82\x01", "pkcs12", "PKCS#12 bundle (3 bytes)"),
        ("app/.git/config", b'[remote "origin"]\n\turl = https://x-access-token:ghs_abcdefgh@github.com/o/r\n',
         "url-credentials",
         f"https://<user: 14 chars>:<password: {secrets.redact('ghs_abcdefgh')}>@github.com"),
    ],
    # The hints hold fingerprints keyed per process: ids without them, so every pytest-xdist
    # worker collects the same test names.
    ids=lambda v: "fingerprinted" if isinstance(v, str) and "fingerprint" in v else None,
)  # fmt: skip
def test_secret_files_by_kind(path, content, kind, hint):
    """Each secret-bearing file kind is found with a redacted hint, its layer and step."""
    data = build(secrets, (("app/main.py", b"x"),), ((path, content),),
                 steps=["FROM python", "COPY . ."])  # fmt: skip
    found = only(secrets.analyse(data).secrets, path="/" + path)
    assert (found.kind, found.where, found.layer, found.created_by) == (kind, "file", 1, "COPY . .")
    # The digits of a fingerprint depend on the process's key, which a session fixture (the
    # machine key of a CLI run) may set after these parameters were made: compared masked.
    assert _keyless(found.hint).startswith(_keyless(hint))
    assert (found.deleted, found.removed_in, found.likely_test_fixture) == (False, None, False)


def _keyless(text: str) -> str:
    return re.sub(r"fingerprint [0-9a-f]{8}", "fingerprint #", text)


@pytest.mark.parametrize(
    ("path", "content"),
    [
        ("etc/ssl/certs/public.pem", CERT),
        ("usr/local/lib/python3.12/site-packages/certifi/cacert.pem", CERT * 3),
        ("root/.pypirc", b"[pypi]\nusername = __token__\n"),
        ("app/.npmrc", b"//npm.example/:_authToken=${NPM_TOKEN}\n"),
        ("root/.docker/config.json", b'{"credsStore": "desktop", "auths": {"reg.example": {}}}'),
        ("etc/pip.conf", b"[global]\nindex-url = https://index.example/simple\n"),
        ("app/.env", b""),
        ("root/.ssh/id_ed25519.pub", b"ssh-ed25519 AAAAC3Nza ci@host\n"),
    ],
)  # fmt: skip
def test_files_without_secrets_are_not_reported(path, content):
    """Public certificates, public keys and config files without credentials are not secrets."""
    assert secrets.analyse(build(secrets, ((path, content),))).secrets == ()


def test_a_deleted_secret_file_is_reported_with_the_layer_that_shipped_it():
    """A .netrc removed by a later layer still ships: deleted=True, with its own layer and step."""
    netrc = b"machine index.example login ci password ghp_" + b"Z" * 36 + b"\n"
    data = build(
        secrets,
        (("app/main.py", b"x"),),
        (("root/.netrc", netrc),),
        (("root/.wh..netrc", b""),),
        steps=["FROM python", "COPY .netrc /root/", "|1 API_TOKEN=abcdefgh123 /bin/sh -c rm x"],
        history=[{"created_by": "FROM python"}, {"created_by": "COPY .netrc /root/"},
                 {"created_by": "/bin/sh -c rm /root/.netrc"}],
    )  # fmt: skip
    found = only(secrets.analyse(data).secrets, path="/root/.netrc")
    assert (found.kind, found.layer, found.deleted, found.removed_in) == ("netrc", 1, True, 2)
    assert found.created_by == "COPY .netrc /root/"
    assert "ZZZZZZZZ" not in as_json(found)


def test_git_directory_is_reported_once_even_when_deleted():
    """A copied .git is one finding at the repo dir, deleted when a later layer removed it."""
    data = build(
        secrets,
        (("app/.git/HEAD", b"ref: refs/heads/main\n"), ("app/.git/objects/ab/cdef", b"x"),
         ("app/.git/refs/heads/main", b"abc\n"), ("srv/repo/.git", b"gitdir: ../.git/modules/r\n")),
        (("app/.wh..git", b""),),
    )  # fmt: skip
    found = [s for s in secrets.analyse(data).secrets if s.kind == "git-directory"]
    assert [(s.path, s.layer, s.deleted, s.removed_in) for s in found] == [
        ("/app/.git", 0, True, 1)
    ]
    assert found[0].hint.startswith("git metadata")


def test_test_fixture_keys_are_reported_and_never_test_material_by_path():
    """A key is a credential file by name: under a tests dir or /usr/share/doc it is still
    reported, never marked test material for its path (the doc's owner, the OS, is what makes
    that one third-party material; a key no installed package claims is the image's own)."""
    test_key = "usr/local/lib/python3.12/site-packages/tornado/test/test.key"
    doc_key = "usr/share/doc/openssl/demo.pem"
    found = secrets.analyse(build(secrets, ((test_key, RSA_KEY), (doc_key, RSA_KEY)))).secrets
    assert {(s.path, s.likely_test_fixture, s.owner_kind) for s in found} == {
        ("/" + test_key, False, "app"),
        ("/" + doc_key, False, "os"),
    }


def test_secret_name_rules():
    """Name rules: words and KEY compounds count; ids, paths and checksums about secrets do not."""
    for name in ("DB_PASSWORD", "AWS_SECRET_ACCESS_KEY", "POETRY_PYPI_TOKEN_PYPI", "STRIPE_API_KEY",
                 "MYSQL_PWD", "UV_INDEX_CORP_PASSWORD", "client-secret"):  # fmt: skip
        assert secrets.secret_name(name), name
    for name in ("PWD", "GPG_KEY", "AWS_ACCESS_KEY_ID", "SECRET_KEY_FILE", "TOKENIZERS_PARALLELISM",
                 "PYTHON_GET_PIP_SHA256", "PASSWORD_MIN_LENGTH", "CACHE_KEY"):  # fmt: skip
        assert not secrets.secret_name(name), name


# --- all analysers --------------------------------------------------------------------------


def test_every_analyser_returns_frozen_json_serialisable_facts():
    """Facts from one combined pass are frozen dataclasses that json.dumps(asdict(...)) accepts."""
    ping_cap = cap_xattr(2, 1 << 13)
    data = build(
        ALL,
        (("etc/os-release", DEBIAN_RELEASE), ("etc/passwd", PASSWD), ("etc/group", GROUP),
         ("var/lib/dpkg/status", DPKG_STATUS), ("lib64/ld-linux-x86-64.so.2", b"ELF"),
         ("usr/bin/su", b"ELF", {"mode": 0o4755}), ("root/.netrc", b"machine h password pw1234"),
         ("usr/bin/ping", b"ELF", {"pax": {"SCHILY.xattr.security.capability": ping_cap}})),
        config={"User": "app", "Env": ["API_KEY=abcdefghijkl"]},
    )  # fmt: skip
    for module in ALL:
        facts = module.analyse(data)
        assert dataclasses.is_dataclass(facts)
        json.loads(as_json(facts))
        field = dataclasses.fields(facts)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(facts, field, None)
    assert ospackages.analyse(data).manager == "dpkg"
    assert users.analyse(data).resolved_uid == 10001
