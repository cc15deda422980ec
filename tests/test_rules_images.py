"""Rules that agree, and locations and fixes a user can act on, on the real `ru-*` images.

Each fixture reproduces one case of the unit tests in tests/test_rules_agree.py with a real
build (real wheels, a real apt install, a real compile error): the audit must judge it so.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from checks import catalog
from checks.model import Finding, layer_number
from inspector.audit import AuditOptions, audit_one
from inspector.probes import ProbeOptions
from inspector.report.model import ImageReport
from tests.conftest import fixture_image

pytestmark = pytest.mark.docker

CHECKS = catalog()
NO_PROBE = AuditOptions(probe=None)
PROBED = AuditOptions(probe=ProbeOptions())  # stands for the shared probed collection


@pytest.fixture(scope="module")
def audit(docker_client, image, fixture_probes) -> Callable[..., ImageReport]:
    """Audit a fixture with only the named checks (without probes unless asked: then from the
    session's shared probed collection)."""

    def run(name: str, *ids: str, options: AuditOptions = NO_PROBE) -> ImageReport:
        image(name)  # a missing fixture fails with how to build it
        chosen = [CHECKS[i] for i in ids]
        if options is PROBED:
            report = fixture_probes.report(name, chosen)
        else:
            report = audit_one(fixture_image(name), chosen, options, lambda m: None)
        assert report.error is None
        return report

    return run


def found(report: ImageReport, check_id: str) -> list[Finding]:
    return [f for r in report.results if r.check.id == check_id for f in r.findings]


def test_wheels_built_from_loose_requirements_are_judged_like_pip_install_r(audit):
    """`pip install /wheels/*` of wheels from `requests>=2.0, rich` is PY010 medium, as loose-deps'
    `pip install -r` of the same file is."""
    (wheels,) = found(audit("ru-wheels-install", "PY010"), "PY010")
    (direct,) = found(audit("loose-deps", "PY010"), "PY010")
    assert (wheels.rule, wheels.severity) == (direct.rule, direct.severity)
    assert wheels.rule == "unpinned-requirements"
    assert wheels.location.path == "/app/requirements-loose.txt"
    assert "installs wheels built from it" in wheels.message


def test_fastapi_run_without_expose_is_a_server(audit):
    """`fastapi run --workers 2` with no EXPOSE needs a HEALTHCHECK, known from its command."""
    (finding,) = found(audit("ru-fastapi-workers", "OPS004"), "OPS004")
    assert finding.message == "the image declares no HEALTHCHECK, yet it serves with `fastapi run`"


def test_fastapi_workers_are_reaped_by_their_supervisor(audit):
    """uvicorn's supervisor behind `fastapi run --workers 2` reaps its workers: no OPS003."""
    report = audit("ru-fastapi-workers", "OPS003", options=PROBED)
    (result,) = report.results
    assert result.status == "passed", result.findings


def test_setuid_python_copy_is_critical_at_a_layer_numbered_from_one(audit, docker_client):
    """The setuid copy of python is critical; its location numbers the layer from 1 (the
    image's RootFS order) and names the instruction that made it."""
    report = audit("ru-setuid-python", "SEC007")
    (copy,) = [f for f in found(report, "SEC007") if f.location.path == "/opt/tools/python3"]
    assert (copy.severity, copy.rule) == ("critical", "setuid-interpreter")
    assert "anyone who can run it is root" in copy.message
    rootfs = docker_client.images.get(fixture_image("ru-setuid-python")).attrs["RootFS"]["Layers"]
    assert copy.location.layer is not None
    number = layer_number(copy.location.layer)
    assert 2 <= number <= len(rootfs)  # above the base's layer, within the image
    assert copy.location.describe().startswith(f"/opt/tools/python3; layer {number}: RUN mkdir")
    assert "chmod 4755 /opt/tools/python3" in (copy.location.created_by or "")


def test_healthcheck_that_imports_the_app_checks_nothing(audit):
    """HEALTHCHECK `python3 -c "import svc"` is OPS013; the fixture's server itself is fine."""
    (finding,) = found(audit("ru-noop-healthcheck", "OPS013", "OPS012"), "OPS013")
    assert finding.severity == "low"
    assert "python3 -c import svc" in finding.message


def test_uncompilable_and_unimported_sources_are_not_uncompiled(audit, fixture_probes):
    """The 3.12-syntax file (on the base's 3.11) and a script the service never imports do not
    make PY002 fail; the probe says which file cannot compile and what the start loads."""
    report = audit("ru-py312-syntax", "PY002", options=PROBED)
    (result,) = report.results
    assert result.status == "passed", result.findings
    facts = fixture_probes.facts("ru-py312-syntax")
    static = facts["runtime"]["static"]
    assert [u["path"] for u in static["app_sources"]["uncompilable"]] == [
        "/srv/svc/py312_intrinsics.py"
    ]
    assert static["app_sources"]["uncompilable"][0]["error"].startswith("SyntaxError at line 5")
    assert static["imports"]["app_sources_loaded"] == 2
    assert static["imports"]["app_sources_uncached"] == []
    assert facts["python"]["bytecode"]["application"]["missing"] == 2


def test_apt_cache_fix_names_apt_get_clean(audit):
    """The step already removes the lists; the fix names `apt-get clean` for /var/cache/apt."""
    (finding,) = found(audit("ru-apt-lists-only", "SIZE001"), "SIZE001")
    assert finding.location.path == "/var/cache/apt"
    assert "`apt-get clean`" in finding.fix
    assert "It already removes /var/lib/apt/lists; these bytes are in /var/cache/apt" in (
        finding.fix
    )
