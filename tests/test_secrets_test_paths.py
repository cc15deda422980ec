"""A `test`, `tests` or `fixtures` directory in a path is not proof of test material: a user
named test keeps real keys in /home/test, and an app keeps its production dotenv in fixtures/.
Only an installed package's files and the image's own test suite, where the command does not
run, are test material; a credential file by name never is (pure)."""

from __future__ import annotations

import dataclasses
import io
import random
import string
from typing import Any

import pytest

from checks import catalog
from checks.engine import run_check
from checks.model import Context
from inspector.analysers import python, secrets
from inspector.analysers.imagedata import ImageData
from inspector.facts.collect import SCANNER
from inspector.image.config import config_from_json
from inspector.layers.overlay import merge
from inspector.layers.reader import read_layer
from tests.layertools import layer
from tests.test_secrets_ownership import SITE, _dist

_RNG = random.Random(20261208)


def _word(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(_RNG.choice(alphabet) for _ in range(n))


def _image(members: list[tuple[str, bytes]], config: dict[str, Any] | None = None) -> ImageData:
    def capture(path: str, size: int) -> int | None:
        caps = [cap for m in (secrets, python) if (cap := m.wants(path, size)) is not None]
        return max(caps) if caps else None

    reads = [read_layer(io.BytesIO(layer(*members)), capture, SCANNER)]
    cfg = config or {}
    return ImageData(config=config_from_json(cfg), raw_config={"config": cfg}, layers=reads,
                     fs=merge(reads), layer_steps=["COPY . /"])  # fmt: skip


def _found(members: list[tuple[str, bytes]], **config: Any) -> dict[str, Any]:
    return {s.path: s for s in secrets.analyse(_image(members, config)).secrets}


def _severity(secret: Any) -> str:
    facts = {"layers": [{"index": 0}], "secrets": [dataclasses.asdict(secret)]}
    (finding,) = run_check(catalog()["SEC006"], facts, Context()).findings
    return finding.severity


def _aws() -> bytes:
    key_id = "AKIA" + _word(16, string.ascii_uppercase + "234567")
    return (f"[default]\naws_access_key_id = {key_id}\n"
            f"aws_secret_access_key = {_word(40)}\n").encode()  # fmt: skip


def _db_url() -> bytes:
    return f'DATABASE = "postgresql://app:{_word(20)}@db.example:5432/app"\n'.encode()


SUITE = [("srv/app/tests/conftest.py", b"import pytest\n"),
         ("srv/app/tests/test_orders.py", b"def test_it():\n    pass\n")]  # fmt: skip
COMMAND = {"WorkingDir": "/srv/app", "Cmd": ["python3", "/srv/app/main.py"]}


@pytest.mark.parametrize(
    ("path", "content"),
    [("home/test/.aws/credentials", _aws()),
     ("home/test/.ssh/id_rsa", b"-----BEGIN RSA PRIVATE KEY-----\nMIIEow==\n"
                               b"-----END RSA PRIVATE KEY-----\n"),
     ("srv/app/fixtures/prod.env", b"DB_PASSWORD=" + _word(24).encode() + b"\n"),
     ("srv/app/tests/.env", b"SECRET_KEY=" + _word(40).encode() + b"\n")],
)  # fmt: skip
def test_a_credential_file_by_name_is_never_test_material(path, content):
    """Keys, .aws/credentials and dotenv files under test/fixtures dirs gate at full severity,
    even beside a test suite."""
    found = _found([(path, content), *SUITE], **COMMAND)["/" + path]
    assert found.likely_test_fixture is False
    assert _severity(found) != "info"


def test_the_images_own_test_suite_is_test_material_where_the_command_does_not_run():
    """A database URL in the app's tests/ (a suite: conftest.py, test_*.py) is info; the same
    file when the command runs from inside that tree, or in a fixtures/ dir with no tests, is
    the image's own setting and gates."""
    settings = ("srv/app/tests/settings.py", _db_url())
    found = _found([settings, *SUITE], **COMMAND)["/srv/app/tests/settings.py"]
    assert found.likely_test_fixture is True
    assert _severity(found) == "info"
    run_inside = {"WorkingDir": "/srv/app/tests", "Cmd": ["python3", "main.py"]}
    found = _found([settings, *SUITE], **run_inside)["/srv/app/tests/settings.py"]
    assert found.likely_test_fixture is False
    assert _severity(found) == "critical"
    lone = ("srv/app/fixtures/settings.py", _db_url())
    found = _found([lone], **COMMAND)["/srv/app/fixtures/settings.py"]
    assert found.likely_test_fixture is False
    assert _severity(found) == "critical"


def test_a_packages_own_tests_are_test_material_by_its_record():
    """A database URL in an installed distribution's tests (claimed by its RECORD) is info."""
    path = f"{SITE.lstrip('/')}/redis/tests/test_conn.py"
    members = [*_dist("redis", "5.2.1", ["redis/tests/test_conn.py"]), (path, _db_url())]
    found = _found(members)["/" + path]
    assert (found.likely_test_fixture, found.owner_kind) == (True, "python")
    assert _severity(found) == "info"
