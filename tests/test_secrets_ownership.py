"""Secrets in third-party files (pure): which files an installed package owns, what kind of file
each is, which values are template slots or documentation pairs, which verify as live formats,
and the severity the secret checks give each combination."""

from __future__ import annotations

import base64
import binascii
import io
import random
import string
from typing import Any

import pytest

from checks import catalog
from checks.engine import run_check
from checks.model import Context
from inspector.analysers import ownership, python, secret_rules, secrets
from inspector.analysers.imagedata import ImageData
from inspector.facts.collect import SCANNER
from inspector.image.config import config_from_json
from inspector.layers.overlay import merge
from inspector.layers.reader import read_layer
from tests.layertools import layer

SITE = "/opt/venv/lib/python3.11/site-packages"
_RNG = random.Random(20261207)
_ALNUM = string.ascii_letters + string.digits
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


# --- values made here, never written in the repository ----------------------------------------


def _pick(alphabet: str, n: int) -> str:
    return "".join(_RNG.choice(alphabet) for _ in range(n))


def _github_token(valid: bool = True) -> str:
    body = _pick(_ALNUM, 30)
    number, check = binascii.crc32(body.encode()) + (0 if valid else 1), ""
    while number:
        number, digit = divmod(number, 62)
        check = _BASE62[digit] + check
    return "ghp_" + body + check.rjust(6, "0")


def _pem(body: bytes, label: str = "RSA PRIVATE KEY") -> str:
    text = base64.b64encode(body).decode()
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def _der_key() -> bytes:
    """A DER SEQUENCE of 1,190 bytes, as an RSA key's outer structure is."""
    payload = bytes(_RNG.randrange(256) for _ in range(1190))
    return b"\x30\x82" + len(payload).to_bytes(2, "big") + payload


def _noise_key() -> bytes:
    """Base64 that decodes, to bytes that are no key structure."""
    return b"\x41" + bytes(_RNG.randrange(256) for _ in range(900))


def _password() -> str:
    return _pick(_ALNUM, 18)


# --- what kind of file --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        (f"{SITE}/PyJWT-2.10.1.dist-info/METADATA", "docs"),
        (f"{SITE}/foo-1.0.egg-info/PKG-INFO", "docs"),
        ("/usr/lib/python3/dist-packages/foo-1.0.egg-info", "docs"),
        (f"{SITE}/redis/README.md", "docs"),
        (f"{SITE}/django/contrib/admin/docs/index.rst", "docs"),
        ("/usr/share/doc/libpq5/examples/conn.txt", "docs"),
        (f"{SITE}/allauth/socialaccount/providers/apple/tests.py", "tests"),
        (f"{SITE}/tornado/test/test.key", "tests"),
        (f"{SITE}/pkg/test_client.py", "tests"),
        (f"{SITE}/pkg/client_test.py", "tests"),
        (f"{SITE}/pip/_vendor/requests/auth.py", "vendored"),
        (f"{SITE}/debugpy/_vendored/pydevd/pydevd.py", "vendored"),
        (f"{SITE}/jupyterlab/static/vendors-node_modules.3a1f2b4c.js", "vendored"),
        ("/opt/venv/share/jupyter/lab/static/main.js", "vendored"),
        ("/srv/app/static/app.min.js", "vendored"),
        (f"{SITE}/sqlalchemy/engine/create.py", "code"),
        ("/app/settings.py", "code"),
    ],
)
def test_file_kind_tells_docs_tests_vendored_and_code(path, kind):
    """Package metadata, READMEs, test trees and modules, vendored trees, bundles: told apart."""
    assert ownership.file_kind(path) == kind


def test_static_files_are_only_vendored_bundles_inside_packages():
    """An app's own `static/app.js` is its code; the same name inside a package is a bundle."""
    assert ownership.file_kind("/app/static/app.js", third_party=False) == "code"
    assert ownership.file_kind(f"{SITE}/pkg/static/app.js", third_party=True) == "vendored"


# --- who owns it --------------------------------------------------------------------------------


def test_record_paths_resolve_against_site_packages_and_the_egg_info_dir():
    """RECORD lines are relative to site-packages, installed-files.txt lines to the .egg-info."""
    record = 'redis/client.py,sha256=x,10\n"odd, name.py",,\n../../../bin/redis-cli,,\n'
    assert ownership.record_paths(record, f"{SITE}/redis-5.2.1.dist-info") == [
        f"{SITE}/redis/client.py",
        f"{SITE}/odd, name.py",
        "/opt/venv/bin/redis-cli",
    ]
    files = "../foo/__init__.py\nPKG-INFO\n"
    assert ownership.record_paths(files, f"{SITE}/foo-1.0.egg-info") == [
        f"{SITE}/foo/__init__.py",
        f"{SITE}/foo-1.0.egg-info/PKG-INFO",
    ]


def _image(*layers: tuple[tuple[Any, ...], ...]) -> ImageData:
    """Layers read as the single pass reads them: the captures both analysers ask for, and the
    content scan."""

    def capture(path: str, size: int) -> int | None:
        caps = [cap for m in (secrets, python) if (cap := m.wants(path, size)) is not None]
        return max(caps) if caps else None

    reads = [read_layer(io.BytesIO(layer(*members)), capture, SCANNER) for members in layers]
    steps = [f"RUN step {i}" for i in range(len(reads))]
    return ImageData(config=config_from_json({}), raw_config={"config": {}},
                     layers=reads, fs=merge(reads), layer_steps=steps)  # fmt: skip


def _dist(name: str, version: str, files: list[str], **extra: bytes) -> list[tuple[str, bytes]]:
    meta = f"{SITE.lstrip('/')}/{name.replace('-', '_')}-{version}.dist-info"
    record = "".join(f"{f},sha256=x,1\n" for f in files)
    members = [
        (f"{meta}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()),
        (f"{meta}/RECORD", record.encode()),
    ]
    return members + [(f"{meta}/{file}", data) for file, data in extra.items()]


def test_owners_come_from_records_top_level_names_and_local_installs():
    """A RECORD claims its files and its top-level dirs; a `pip install .` is the app's; a file
    no distribution claims, and everything outside packages, is the app's."""
    data = _image(
        (
            *_dist("redis", "5.2.1", ["redis/__init__.py", "../../../bin/redis-cli"]),
            (f"{SITE.lstrip('/')}/redis/client.py", b"# not in the RECORD, under its dir\n"),
            *_dist("myproject", "0.1", ["myproject/__init__.py"],
                   **{"direct_url.json": b'{"url": "file:///src", "dir_info": {}}'}),
            (f"{SITE.lstrip('/')}/stray/module.py", b"x = 1\n"),
            ("usr/lib/python3/dist-packages/apt/auth.py", b"x = 1\n"),
            ("usr/lib/python3.11/smtplib.py", b"x = 1\n"),
            ("srv/node_modules/@scope/pkg/index.js", b"x\n"),
            ("app/settings.py", b"x = 1\n"),
        ),
    )  # fmt: skip
    owners = ownership.owners(data)
    assert owners.of(f"{SITE}/redis/client.py") == ownership.Owner("python", "redis")
    assert owners.of(f"{SITE}/redis-5.2.1.dist-info/METADATA") == ownership.Owner("python", "redis")
    assert owners.of("/opt/venv/bin/redis-cli") == ownership.Owner("python", "redis")
    assert owners.of(f"{SITE}/myproject/__init__.py") == ownership.Owner("app", "myproject")
    assert owners.of(f"{SITE}/stray/module.py") == ownership.Owner("app", None)
    assert owners.of("/usr/lib/python3/dist-packages/apt/auth.py").kind == "os"
    assert owners.of("/usr/lib/python3.11/smtplib.py") == ownership.Owner("os", "python3.11")
    assert owners.of("/srv/node_modules/@scope/pkg/index.js") == ownership.Owner(
        "npm", "@scope/pkg"
    )
    assert owners.of("/app/settings.py") == ownership.Owner("app", None)
    assert owners.of("/usr/src/app/settings.py") == ownership.Owner("app", None)
    assert owners.of("/usr/local/etc/app.conf") == ownership.Owner("app", None)
    assert owners.of("/root/.netrc") == ownership.Owner("app", None)


def test_dpkg_file_lists_name_the_os_package_but_never_claim_etc():
    """A file dpkg lists is its package's; /etc stays the image's own configuration."""
    listing = b"/.\n/usr\n/usr/share/libpq5/pg_service.conf.sample\n/etc/postgresql-common/x.conf\n"
    owners = ownership.owners(_image((("var/lib/dpkg/info/libpq5:amd64.list", listing),)))
    assert owners.of("/usr/share/libpq5/pg_service.conf.sample") == ownership.Owner("os", "libpq5")
    assert owners.of("/etc/postgresql-common/x.conf") == ownership.Owner("app", None)


def test_a_record_cannot_claim_files_outside_its_environment():
    """`../` out of the venv in a RECORD does not make the app's own settings third-party."""
    files = ["sneaky/__init__.py", "../../../../../app/settings.py", "../../../share/sneaky/x.js"]
    owners = ownership.owners(_image(tuple(_dist("sneaky", "1.0", files))))
    assert owners.of("/app/settings.py") == ownership.Owner("app", None)
    assert owners.of("/opt/venv/share/sneaky/x.js") == ownership.Owner("python", "sneaky")


def test_a_record_longer_than_the_capture_still_claims_its_package():
    """Only a RECORD's first bytes are captured; they name its top-level package all the same."""
    files = [f"bigpkg/module_{i:05d}.py" for i in range(9000)]
    assert len("".join(f"{f},sha256=x,1\n" for f in files)) > ownership.RECORD_CAP
    owners = ownership.owners(_image(tuple(_dist("bigpkg", "1.0", files))))
    assert owners.of(f"{SITE}/bigpkg/module_08999.py") == ownership.Owner("python", "bigpkg")


# --- placeholders and documentation pairs -------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "redis://[[username]:[password]]@localhost:6379/0",
        "postgresql://user:<password>@db.example/app",
        "mysql://app:{password}@db.example/app",
        "postgresql://app:${PASSWORD}@db.example/app",
        "postgresql://app:%(password)s@db.example/app",
        "amqp://guest:[secret]@mq.example//",
    ],
)
def test_template_slots_in_brackets_are_not_values(url):
    """A URL whose password is a bracketed, braced or `%()s` slot is no finding at all."""
    assert not secret_rules.scan("/app/settings.py", f'URL = "{url}"\n'.encode())
    assert not secrets.scan_value(url)  # an ENV value, a build step, a pip.conf line
    assert secret_rules.bracketed("[password]]")
    assert not secret_rules.bracketed(_password())
    assert not secret_rules.bracketed(_password() + ")")


def test_scott_tiger_is_documentation_and_a_real_password_is_not():
    """SQLAlchemy's `scott:tiger` is a documentation example (info); a random password is not."""
    (doc,) = secret_rules.scan("/app/db.py", b'URL = "oracle://scott:tiger@hostname/dbname"\n')
    assert doc.rule == "database-url"
    assert doc.example
    real = f'URL = "oracle://scott:{_password()}@db.example/app"\n'
    (hit,) = secret_rules.scan("/app/db.py", real.encode())
    assert hit.rule == "database-url"
    assert not hit.example


# --- live formats -------------------------------------------------------------------------------


def test_a_token_whose_checksum_passes_is_live():
    """GitHub's CRC32 passes: live; a token that fails it is not even a finding."""
    (hit,) = secret_rules.scan("/app/a.py", f'T = "{_github_token()}"\n'.encode())
    assert hit.rule == "github-token"
    assert hit.live
    assert not secret_rules.scan("/app/a.py", f'T = "{_github_token(valid=False)}"\n'.encode())


def test_a_private_key_is_live_only_when_its_body_decodes_to_a_key():
    """A DER body (or OpenSSH's magic) makes a key live; base64 noise of the same shape does not."""
    (der,) = secret_rules.scan("/app/k.txt", _pem(_der_key()).encode())
    (noise,) = secret_rules.scan("/app/k.txt", _pem(_noise_key()).encode())
    openssh = b"openssh-key-v1\0" + bytes(_RNG.randrange(256) for _ in range(300))
    (ssh,) = secret_rules.scan("/app/k.txt", _pem(openssh, "OPENSSH PRIVATE KEY").encode())
    assert (der.rule, der.live) == ("private-key", True)
    assert (noise.rule, noise.live) == ("private-key", False)
    assert ssh.live
    cert_then_noise = _pem(_der_key(), "CERTIFICATE") + _pem(_noise_key())
    assert not secret_rules.key_body_live(cert_then_noise)
    assert secret_rules.key_body_live(_pem(_noise_key(), "CERTIFICATE") + _pem(_der_key()))


# --- the analyser's facts -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "credential"),
    [
        ("/root/.ssh/id_rsa", True),
        (f"{SITE}/pkg/keys/server.pem", True),
        ("/app/credentials.json", True),
        ("/root/.netrc", True),
        ("/root/.docker/config.json", True),
        (f"{SITE}/pkg/.env", False),
        ("/app/main.tfstate", False),
        ("/app/settings.py", False),
    ],
)
def test_credential_files_by_name(path, credential):
    """Keys, `.netrc`, registry and cloud credential files are credential files; dotenv is not."""
    assert secrets.credential_file(path) is credential


def test_file_secrets_record_owner_kind_credential_file_and_live_format():
    """Each file secret says who installed the file, what kind it is, and whether it verifies."""
    token, password = _github_token(), _password()
    data = _image(
        (
            *_dist("redis", "5.2.1", ["redis/connection.py", "redis/tests/test_auth.py",
                                      "redis/certs/server.pem"]),
            (f"{SITE.lstrip('/')}/redis/connection.py",
             f'URL = "redis://default:{password}@cache.example:6379"\nT = "{token}"\n'.encode()),
            (f"{SITE.lstrip('/')}/redis/tests/test_auth.py", f'T = "{token}"\n'.encode()),
            (f"{SITE.lstrip('/')}/redis/certs/server.pem", _pem(_der_key()).encode()),
            ("app/settings.py", f'URL = "redis://default:{password}@cache.example:6379"\n'.encode()),
        ),
    )  # fmt: skip
    found = {(s.path, s.kind): s for s in secrets.analyse(data).secrets}
    url = found[(f"{SITE}/redis/connection.py", "database-url")]
    assert (url.owner_kind, url.owner, url.file_kind, url.live_format) == (
        "python", "redis", "code", False)  # fmt: skip
    live = found[(f"{SITE}/redis/connection.py", "github-token")]
    assert live.live_format
    assert live.file_kind == "code"
    test = found[(f"{SITE}/redis/tests/test_auth.py", "github-token")]
    assert test.live_format
    assert test.file_kind == "tests"
    key = found[(f"{SITE}/redis/certs/server.pem", "private-key")]
    assert key.credential_file
    assert key.live_format
    app = found[("/app/settings.py", "database-url")]
    assert (app.owner_kind, app.owner, app.file_kind) == ("app", None, "code")


# --- the severity the checks give -------------------------------------------------------------


def _severity(**secret: Any) -> str:
    facts = {"layers": [{"index": 0}], "secrets": [{
        "where": "file", "path": "/x", "hint": "h", "layer": 0, "deleted": False,
        "likely_test_fixture": False, **secret}]}  # fmt: skip
    result = run_check(catalog()["SEC006"], facts, Context())
    (finding,) = result.findings
    return finding.severity


@pytest.mark.parametrize(
    ("secret", "severity"),
    [
        # the app's own files, and facts that predate owners: full severity
        ({"kind": "database-url", "owner_kind": "app", "file_kind": "code"}, "critical"),
        ({"kind": "password-assignment", "owner_kind": "app", "file_kind": "code"}, "high"),
        ({"kind": "database-url"}, "critical"),
        # third-party: info, whatever the rule, in code, docs, tests and vendored bundles ...
        ({"kind": "database-url", "owner_kind": "python", "owner": "SQLAlchemy",
          "file_kind": "code"}, "info"),
        ({"kind": "jwt", "owner_kind": "python", "owner": "PyJWT", "file_kind": "docs"}, "info"),
        ({"kind": "private-key", "owner_kind": "python", "file_kind": "tests",
          "credential_file": True, "live_format": True}, "info"),
        ({"kind": "github-token", "owner_kind": "npm", "file_kind": "vendored",
          "live_format": True}, "info"),
        ({"kind": "database-url", "owner_kind": "os", "file_kind": "docs"}, "info"),
        # ... unless a live format or a credential file sits in the package's code
        ({"kind": "github-token", "owner_kind": "python", "file_kind": "code",
          "live_format": True}, "critical"),
        ({"kind": "private-key", "owner_kind": "python", "file_kind": "code",
          "credential_file": True}, "critical"),
    ],
)  # fmt: skip
def test_third_party_matches_are_info_unless_live_or_a_credential_file_in_code(secret, severity):
    """Owner and kind decide: third-party docs, tests, vendored code, unverified shapes are info."""
    assert _severity(**secret) == severity


def test_a_third_party_finding_names_its_package_and_kind():
    """The message says whose file it is and what kind, so a reader sees why it is info."""
    facts = {"layers": [{"index": 0}], "secrets": [{
        "kind": "jwt", "where": "file", "path": f"{SITE}/PyJWT-2.10.1.dist-info/METADATA",
        "hint": "h", "layer": 0, "deleted": False, "likely_test_fixture": False,
        "owner_kind": "python", "owner": "PyJWT", "file_kind": "docs"}]}  # fmt: skip
    (finding,) = run_check(catalog()["SEC006"], facts, Context()).findings
    assert "of PyJWT (a Python distribution: its docs)" in finding.message
