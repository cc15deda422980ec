"""The release gate on images that cannot start (real fixtures, real engine): each fails with a
high COR004 finding naming its cause; an app waiting for its settings, and the good images, pass."""

from __future__ import annotations

import json
from typing import Any

import pytest

from inspector.cli.commands import main
from tests.conftest import fixture_image

pytestmark = pytest.mark.docker

PROBE = ["--warmup", "2", "--grace", "3", "--no-config"]
# fixture -> words the COR004 finding must contain: the error, what is missing, where it is.
BROKEN = {
    "broken-missing-module": ["ModuleNotFoundError: No module named 'yaml'", "/srv/svc.py:5",
                              "python -m svc", "exit with status 1"],
    "broken-venv-path": ["No module named 'rich'", "installed in the venv /opt/venv",
                         "/opt/venv/lib/python3.11/site-packages", "the command runs /usr/bin/"],
    "broken-missing-lib": ["libsqlite3.so.0: cannot open shared object file", "/srv/app.py:3",
                           "extension module `_sqlite3`"],
    "broken-missing-exec": ["status 127", "gunicorn: not found"],
    "broken-wrong-arch": ["exec format error", "/usr/local/bin/svc"],
}  # fmt: skip
FIXES = {
    "broken-missing-module": "Install the distribution that provides `yaml`",
    "broken-venv-path": "Put /opt/venv/bin first on PATH",
    "broken-missing-lib": "ships `libsqlite3.so.0`",
    "broken-missing-exec": "Install `gunicorn`",
    "broken-wrong-arch": "--platform",
}


@pytest.fixture(scope="module")
def audits(docker_client, tmp_path_factory) -> dict[str, tuple[int, dict[str, Any]]]:
    """`inspector audit` of each broken fixture and needs-config: exit code and JSON report."""
    names = [*BROKEN, "needs-config"]
    out = tmp_path_factory.mktemp("reports")

    def one(name: str) -> tuple[int, dict[str, Any]]:
        report = out / f"{name}.json"
        code = main(["audit", fixture_image(name), *PROBE, "-o", f"json={report}"])
        return code, json.loads(report.read_text())

    # One at a time: the CLI installs signal handlers, which only the main thread may do.
    return {name: one(name) for name in names}


def _cor004(report: dict[str, Any]) -> list[dict[str, Any]]:
    image = report["images"][0]
    return [f for r in image["results"] if r["check"] == "COR004" for f in r["findings"]]


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_an_image_that_cannot_start_fails_the_gate_naming_the_cause(audits, name):
    """Exit 1 with one high COR004 finding that quotes the error, says where and how to fix."""
    code, report = audits[name]
    assert code == 1
    findings = _cor004(report)
    assert len(findings) == 1, findings
    finding = findings[0]
    assert finding["severity"] == "high"
    for words in BROKEN[name]:
        assert words in finding["message"], (words, finding["message"])
    assert FIXES[name] in finding["fix"]
    assert "lifecycle probe" in finding["location"]["runtime"]


def test_an_app_waiting_for_its_settings_stays_inconclusive_and_passes(audits):
    """needs-config: exit 0, no COR004, and the report says plainly why runtime checks wait."""
    code, report = audits["needs-config"]
    assert code == 0
    assert not _cor004(report)
    reason = report["images"][0]["runtime"]["lifecycle"]["reason"]
    assert "waiting for configuration it was not given (DATABASE_URL)" in reason
    assert "inconclusive" in reason


@pytest.mark.parametrize(
    ("name", "command", "imported"),
    [("good", "python -m app", "app"), ("gunicorn-plain", "gunicorn wsgi:app", "wsgi"),
     ("needs-config", "python /srv/needs_config.py", "os")],
)  # fmt: skip
def test_the_import_smoke_test_passes_on_images_that_start(fixture_probes, name, command,
                                                           imported):  # fmt: skip
    """The static probe imports what good images import first, and says it passed."""
    imports = fixture_probes.facts(name)["runtime"]["static"]["imports"]
    assert (imports["command"], imports["status"], imports["verdict"]) == (command, "ok", "passed")
    assert imported in imports["imported"]


def test_the_import_smoke_test_sees_a_broken_image_without_the_lifecycle_probe(fixture_probes):
    """broken-venv-path: the static probe alone finds the missing module and where it lives."""
    imports = fixture_probes.facts("broken-venv-path")["runtime"]["static"]["imports"]
    assert (imports["verdict"], imports["exception"], imports["module"]) == (
        "broken", "ModuleNotFoundError", "rich")  # fmt: skip
    assert imports["found_elsewhere"] == ["/opt/venv/lib/python3.11/site-packages"]
