"""Commands behind wrappers, on real images (real Django, gunicorn, uv and FastAPI wheels): the
command is followed through start scripts and `uv run`, the import smoke test runs behind them
and finds the app object an app server loads, `fastapi dev` is a development server, and the
code the runtime user can rewrite is found where the command says it lives."""

from __future__ import annotations

from typing import Any

import pytest

from checks import catalog
from checks.engine import run_checks
from checks.model import Finding
from tests.probed import suite_context
from tests.test_audit import golden

pytestmark = pytest.mark.docker

FIXTURES = ("wr-django-scripts", "wr-home-chown", "wr-uv-run", "wr-fastapi-dev",
            "wr-gunicorn-noattr")  # fmt: skip


@pytest.fixture(scope="module")
def audited(fixture_probes) -> dict[str, tuple[dict[str, Any], dict[str, list[Finding]]]]:
    """Each fixture's facts (probes included, the session's shared collection) and the findings
    of every check, by check id."""
    fixture_probes.start(FIXTURES)
    out = {}
    for name in FIXTURES:
        facts = fixture_probes.facts(name)
        results = run_checks(facts, list(catalog().values()), suite_context())
        out[name] = facts, {r.check.id: list(r.findings) for r in results if r.status == "failed"}
    return out


@pytest.mark.parametrize("name", FIXTURES)
def test_each_fixture_fails_exactly_its_golden_checks(audited, name):
    """The failed checks are exactly the reviewed golden list of the fixture."""
    _, found = audited[name]
    assert set(found) == set(golden(name))


def test_start_scripts_are_followed_to_gunicorn_and_its_app_imports(audited):
    """/entrypoint's `exec "$@"` and /start's `exec gunicorn config.wsgi --chdir=/app` are
    followed; the import test loads config.wsgi and its default `application`, and passes."""
    facts, _ = audited["wr-django-scripts"]
    entry = facts["python"]["entrypoint_interpreter"]
    assert entry["scripts"] == ["/entrypoint", "/start"]
    assert (entry["interpreter"], entry["venv"]) == ("/opt/venv/bin/python3", "/opt/venv")
    imports = facts["runtime"]["static"]["imports"]
    assert imports["command"] == "gunicorn config.wsgi:application"
    assert (imports["status"], imports["verdict"]) == ("ok", "passed"), imports
    assert "config.wsgi" in imports["imported"]


def test_the_chowned_app_dir_and_the_start_scripts_are_writable_code(audited):
    """SEC010: /app (WORKDIR, chowned to django) and the start scripts, two findings with the
    layer that made each."""
    _, found = audited["wr-django-scripts"]
    messages = [f.message for f in found["SEC010"]]
    assert len(messages) == 2, messages
    assert "can write /app (WORKDIR, 5 Python sources)" in messages[0]
    assert "rewrite the start scripts /entrypoint, /start the command runs" in messages[1]
    assert all(f.location.layer is not None for f in found["SEC010"])


def test_a_home_workdir_copied_with_chown_is_writable_code(audited):
    """SEC010: the probe measured the home writable; it is the WORKDIR holding the code that
    gunicorn (a console script in the root-owned venv) loads."""
    facts, found = audited["wr-home-chown"]
    static = facts["runtime"]["static"]
    assert static["writable"]["/home/svc_docker"] is True
    assert static["app_dir"] != "/home/svc_docker"
    (finding,) = found["SEC010"]
    assert "UID 999" in finding.message
    assert "/home/svc_docker (WORKDIR, 2 Python sources)" in finding.message


def test_the_import_test_runs_behind_uv_run_and_finds_the_missing_module(audited):
    """`uv run --no-sync gunicorn svc.wsgi:app`: the project's .venv runs gunicorn; the static
    probe alone sees `yaml` missing at svc/wsgi.py:3."""
    facts, found = audited["wr-uv-run"]
    entry = facts["python"]["entrypoint_interpreter"]
    assert (entry["venv"], entry["wrappers"]) == ("/app/.venv", ["uv run"])
    imports = facts["runtime"]["static"]["imports"]
    assert (imports["command"], imports["verdict"], imports["module"]) == (
        "gunicorn svc.wsgi:app", "broken", "yaml")  # fmt: skip
    assert imports["location"] == "/app/svc/wsgi.py:3"
    (finding,) = found["COR004"]
    assert "static probe: import test" in (finding.location.runtime or "")


def test_fastapi_dev_is_flagged_as_a_development_server(audited):
    """OPS006 names `fastapi dev` in the command; the import test imports the package it serves."""
    facts, found = audited["wr-fastapi-dev"]
    (finding,) = found["OPS006"]
    assert "`fastapi dev`" in finding.message
    imports = facts["runtime"]["static"]["imports"]
    assert (imports["command"], imports["verdict"]) == ("fastapi src/svc", "passed")
    assert "svc" in imports["imported"]


def test_a_gunicorn_app_that_lacks_its_object_is_one_high_finding_naming_it(audited):
    """COR004: high, the missing `app` in app.py from the import test, and gunicorn's own line
    read by the lifecycle probe as the same cause (not "the log does not say why")."""
    facts, found = audited["wr-gunicorn-noattr"]
    cause = facts["runtime"]["lifecycle"]["exit_cause"]
    assert (cause["kind"], cause["verdict"]) == ("missing-attribute", "broken")
    (finding,) = found["COR004"]
    assert finding.severity == "high"
    assert "the module `app` (/srv/app.py) imports, but defines no `app`" in finding.message
    assert "Failed to find attribute 'app' in 'app'" in finding.message
