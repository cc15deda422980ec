"""Secrets on a real image with real third-party packages (ts-thirdparty): SQLAlchemy, redis,
django-redis, Django, PyJWT, django-allauth, debugpy and tornado installed from their wheels,
whose own docstrings, METADATA, tests and vendored code hold example credentials (tornado's a
real private key), beside an app with planted
real-format credentials. No secret finding above info comes from the packages' files, every
planted credential is high or critical, and no planted value is ever printed."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from contextlib import redirect_stdout

import pytest

from inspector.cli.commands import main
from tests.conftest import FIXTURES, fixture_image

pytestmark = pytest.mark.docker

IMAGE = fixture_image("ts-thirdparty")
SECRET_CHECKS = ("SEC004", "SEC005", "SEC006")
# Every file the fixture's packages installed; the planted files are in /app and /root only.
THIRD_PARTY = ("/opt/venv/", "/usr/")

_SPEC = importlib.util.spec_from_file_location(
    "ts_thirdparty_generate", FIXTURES / "ts-thirdparty" / "generate.py")  # fmt: skip
assert _SPEC is not None
assert _SPEC.loader is not None
generate = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(generate)


@pytest.fixture(scope="module")
def report(docker_client, tmp_path_factory) -> dict:
    """The JSON report of `inspector audit` (no probes: the secrets are static facts)."""
    path = tmp_path_factory.mktemp("ts-thirdparty") / "report.json"
    assert main(["audit", IMAGE, "--no-probe", "--no-config", "-o", f"json={path}"]) == 1
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def facts(docker_client, tmp_path_factory) -> dict:
    """`inspector facts` as JSON."""
    path = tmp_path_factory.mktemp("ts-thirdparty-facts") / "facts.json"
    with path.open("w") as out, redirect_stdout(out):
        assert main(["facts", IMAGE, "--no-probe", "--format", "json"]) == 0
    return json.loads(path.read_text())


def _secret_findings(report: dict) -> list[dict]:
    (image,) = report["images"]
    return [f for r in image["results"] if r["check"] in SECRET_CHECKS for f in r["findings"]]


def _path(finding: dict) -> str:
    return (finding.get("location") or {}).get("path") or ""


def test_no_secret_finding_above_info_comes_from_third_party_files(report):
    """Docstrings, METADATA, tests and vendored code of real packages are info at most."""
    third_party = [f for f in _secret_findings(report) if _path(f).startswith(THIRD_PARTY)]
    assert third_party, "the packages' example credentials were not seen at all"
    loud = Counter((f["severity"], _path(f)) for f in third_party if f["severity"] != "info")
    assert not loud, f"third-party files reported above info: {sorted(loud.items())}"


def test_every_planted_app_credential_is_high_or_critical(report, facts):
    """The app's settings, .env, config and root's .netrc keep their full severity."""
    found: dict[tuple[str, str], set[str]] = {}
    for finding in _secret_findings(report):
        found.setdefault((_path(finding), finding.get("rule") or ""), set()).add(
            finding["severity"]
        )
    missing = []
    for path, (_text, kinds) in generate.FILES.items():
        for kind in kinds:
            severities = found.get((path, kind), set())
            if not severities & {"high", "critical"}:
                missing.append(f"{kind} in {path}: {sorted(severities) or 'not found'}")
    assert not missing, "planted credentials not found at high or critical: " + "; ".join(missing)
    owners = {(s["path"], s.get("owner_kind")) for s in facts["secrets"]
              if s["path"] in generate.FILES}  # fmt: skip
    assert owners == {(path, "app") for path in generate.FILES}


def test_facts_name_the_package_and_kind_of_each_third_party_hit(facts):
    """The facts say whose file each hit is in (SQLAlchemy's code, PyJWT's METADATA as docs)."""
    hits = {(s.get("owner_kind"), s.get("owner"), s.get("file_kind"))
            for s in facts["secrets"] if (s["path"] or "").startswith(THIRD_PARTY)}  # fmt: skip
    assert ("python", "SQLAlchemy", "code") in hits
    assert ("python", "PyJWT", "docs") in hits
    assert ("python", "django-redis", "docs") in hits
    assert ("python", "debugpy", "vendored") in hits
    assert all(kind in ("python", "os") for kind, _owner, _file_kind in hits)


def test_a_real_test_key_is_live_yet_info_in_a_package_test_tree(facts, report):
    """tornado's test key decodes to a real key and is a key file by name, but it is test data."""
    path = "/opt/venv/lib/python3.11/site-packages/tornado/test/test.key"
    (key,) = [s for s in facts["secrets"] if s["path"] == path]
    assert (key["owner"], key["file_kind"], key["live_format"], key["credential_file"]) == (
        "tornado", "tests", True, True)  # fmt: skip
    assert {f["severity"] for f in _secret_findings(report) if _path(f) == path} == {"info"}


def test_no_output_holds_a_planted_value(report, facts):
    """Neither the report nor the facts hold any planted value."""
    text = json.dumps(report) + json.dumps(facts)
    leaked = [len(value) for value in generate.planted_values() if value in text]
    assert not leaked, f"{len(leaked)} planted values appear in the outputs (lengths {leaked})"
