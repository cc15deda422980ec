"""One cause, one finding on real images: each cause the fixtures reproduce, counted across every
check of a full audit (probes included), as a user reads the report."""

from __future__ import annotations

import pytest

from checks.model import Finding
from inspector.report.model import ImageReport

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def audited(fixture_probes) -> dict[str, ImageReport]:
    """dd-one-cause and runtime-habits, each audited with every check (the shared collection)."""
    out = {}
    for name in ("dd-one-cause", "runtime-habits"):
        out[name] = fixture_probes.report(name)
        assert out[name].error is None
    return out


def mentioning(report: ImageReport, text: str) -> list[Finding]:
    return [f for f in report.findings
            if text in f.message or text in (f.location.path or "")]  # fmt: skip


def test_deleted_wheels_are_reported_once(audited):
    """The wheels `pip download` wrote and a later RUN deleted: one SIZE021 finding, not a
    SIZE003 roll-up, a SIZE003 group and SIZE021 (18.6 MiB three times)."""
    report = audited["dd-one-cause"]
    [finding] = mentioning(report, "/tmp/wheels")
    assert finding.check == "SIZE021"
    assert "deleted in layer 7 (RUN python3 -m pip uninstall" in finding.message


def test_waste_nothing_else_explains_is_size003s_in_one_finding(audited):
    """The uv uninstalled after use is SIZE003's, in one finding that leaves out the wheels
    (SIZE021's), the chown copies (SIZE022's) and the 3 KiB useradd rewrote in /etc."""
    report = audited["dd-one-cause"]
    [finding] = [f for f in report.findings if f.check == "SIZE003"]
    assert "deleted in layer 7 (RUN python3 -m pip uninstall" in finding.message
    assert "e.g. /usr/local/bin/uv" in finding.message
    assert "reported on their own: 44.4 MiB by SIZE022, 18.6 MiB by SIZE021" in finding.message
    assert "/etc/passwd" not in finding.message


def test_one_chown_r_is_one_finding(audited):
    """`RUN chown -R app:app /app` re-adds the venv and two COPYs: one SIZE022 finding at that
    step, not three medium rows (two of them 314 B and 2 KiB)."""
    report = audited["dd-one-cause"]
    chown = [f for f in report.findings if "chown -R app:app /app" in (f.location.created_by or "")
             and f.check.startswith("SIZE")]  # fmt: skip
    [finding] = chown
    assert (finding.check, finding.severity) == ("SIZE022", "medium")
    assert "first written by layer 6" in finding.message


def test_build_files_are_one_finding_and_dockerignore_none(audited):
    """The checkout's Dockerfile and compose file in one info finding; .dockerignore nowhere."""
    report = audited["dd-one-cause"]
    [finding] = [f for f in report.findings if f.check == "SEC023"]
    assert finding.severity == "info"
    assert "/app/Dockerfile, /app/docker-compose.yml" in finding.message
    assert not mentioning(report, ".dockerignore")


def test_an_env_secret_is_one_finding(audited):
    """ENV SERVICE_API_TOKEN: SEC004 from the config, naming its history step; no SEC005."""
    report = audited["dd-one-cause"]
    [finding] = mentioning(report, "SERVICE_API_TOKEN")
    assert finding.check == "SEC004"
    assert "the build history shows it too (history step" in finding.message


def test_uvs_empty_lock_files_are_not_findings(audited):
    """uv's 0666 empty .venv/.lock (and its cache's) are neither writable code nor anything."""
    report = audited["dd-one-cause"]
    assert not mentioning(report, "/.lock")
    assert not [f for f in report.findings if f.check == "SEC009"]


def test_byte_level_trivia_is_no_finding(audited):
    """uv's 2 KiB cache is not a size finding."""
    report = audited["dd-one-cause"]
    assert not [f for f in report.findings if f.check in ("SIZE001", "SIZE002")]


def test_one_log_config_is_one_finding(audited):
    """gunicorn.conf.py's access and error log files, seen written by the probe: one OPS021
    finding on the config file, not one per setting plus the probe's row."""
    report = audited["runtime-habits"]
    [finding] = mentioning(report, "/srv/logs/")
    assert (finding.check, finding.location.path) == ("OPS021", "/srv/gunicorn.conf.py")
    assert "the running container wrote /srv/logs/access.log, /srv/logs/error.log" in (
        finding.message
    )
