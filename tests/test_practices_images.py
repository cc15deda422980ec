"""Images built the way Itamar Turner-Trauring's articles recommend audit clean, `naive` still
fails first on what matters, and PY002 judges official `python:*` layouts by what the app's
interpreter reads (issue 16)."""

from __future__ import annotations

import io
from typing import Any

import pytest

from checks import catalog
from checks.engine import run_check
from checks.model import Context, severity_rank
from inspector.analysers import bytecode
from inspector.audit import AuditOptions, audit_one
from inspector.report.model import ImageReport
from tests.conftest import fixture_image, session_tag
from tests.test_analysers_python import ELF, EXE, image
from tests.test_fixtures import APP_IMPORT, wait_for_log

# --- the bytecode analyser on an official python:3.X-slim layout (pure) ----------------------

PATH = "PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"
RUNS_APP = {"Env": [PATH], "Cmd": ["python", "-m", "app"], "WorkingDir": "/srv"}
SITE = "usr/local/lib/python3.12/site-packages"

# What the official template leaves: CPython under /usr/local, no .pyc in the stdlib or pip.
OFFICIAL = (
    ("usr/local/bin/python3.12", ELF, EXE),
    ("usr/local/bin/python3", "->python3.12"),
    ("usr/local/bin/python", "->python3"),
    ("usr/local/lib/python3.12/os.py", b"o" * 100),
    ("usr/local/lib/python3.12/json/__init__.py", b"j" * 50),
    (f"{SITE}/pip/__init__.py", b"p" * 70_000),
    (f"{SITE}/pip/_vendor/rich/console.py", b"r" * 90_000),
    (f"{SITE}/setuptools/__init__.py", b"s" * 100),
    (f"{SITE}/setuptools/_vendor/packaging/version.py", b"v" * 100),
    (f"{SITE}/pkg_resources/__init__.py", b"k" * 100),
    (f"{SITE}/_distutils_hack/__init__.py", b"d" * 10),
    (f"{SITE}/wheel/__init__.py", b"w" * 10),
)
# The app's own dependency, installed (and compiled) by pip, and its compiled code.
COMPILED_APP = (
    (f"{SITE}/requests/__init__.py", b"q" * 100),
    (f"{SITE}/requests/__pycache__/__init__.cpython-312.pyc", b"c"),
    ("srv/app/__init__.py", b"a"),
    ("srv/app/__pycache__/__init__.cpython-312.pyc", b"c"),
)
# Debian's own Python beside it, uncompiled: another interpreter's trees.
DEBIAN_PYTHON = (
    ("usr/bin/python3.11", ELF, EXE),
    ("usr/lib/python3.11/os.py", b"o" * 100),
    ("usr/lib/python3/dist-packages/six.py", b"6" * 100),
)


def test_official_layout_leaves_the_installers_out_and_counts_the_stdlib():
    """pip, setuptools, wheel and their vendored trees are not counted; the stdlib still is."""
    facts = bytecode.analyse(image(OFFICIAL, COMPILED_APP, config=RUNS_APP))
    site = facts.site_packages
    assert (site.modules, site.missing, site.roots) == (1, 0, (f"/{SITE}",))
    std = facts.stdlib
    assert (std.modules, std.missing, std.roots) == (2, 2, ("/usr/local/lib/python3.12",))
    assert (facts.application.modules, facts.application.missing) == (1, 0)


def test_only_the_trees_the_commands_interpreter_reads_count():
    """Another interpreter's stdlib and dist-packages are left out once the command's is known."""
    facts = bytecode.analyse(image(OFFICIAL, COMPILED_APP, DEBIAN_PYTHON, config=RUNS_APP))
    assert facts.site_packages.roots == (f"/{SITE}",)
    assert facts.stdlib.roots == ("/usr/local/lib/python3.12",)
    unknown = bytecode.analyse(image(OFFICIAL, COMPILED_APP, DEBIAN_PYTHON, config={}))
    assert unknown.site_packages.roots == ("/usr/lib/python3/dist-packages", f"/{SITE}")
    assert unknown.stdlib.roots == ("/usr/lib/python3.11", "/usr/local/lib/python3.12")


@pytest.mark.parametrize(("include_system", "roots"), [
    ("false", ("/opt/venv/lib/python3.12/site-packages",)),
    ("true", ("/opt/venv/lib/python3.12/site-packages", f"/{SITE}")),
])  # fmt: skip
def test_a_venv_reads_the_base_site_packages_only_when_it_includes_them(include_system, roots):
    """A venv's python reads the base's site-packages only with include-system-site-packages."""
    venv = (
        ("opt/venv/pyvenv.cfg", f"home = /usr/local/bin\ninclude-system-site-packages = "
         f"{include_system}\nversion = 3.12.7\n".encode()),
        ("opt/venv/bin/python", "->/usr/local/bin/python3"),
        ("opt/venv/lib/python3.12/site-packages/flask/__init__.py", b"f" * 10),
    )  # fmt: skip
    config = {"Env": [f"PATH=/opt/venv/bin:{PATH[5:]}"], "Cmd": ["python", "-m", "app"]}
    facts = bytecode.analyse(image(OFFICIAL, COMPILED_APP, venv, config=config))
    assert facts.site_packages.roots == roots


def test_pythonpath_and_user_site_packages_count_for_the_commands_interpreter():
    """Site dirs reached through PYTHONPATH, the user site or PYTHONUSERBASE are the app's too."""
    extra = (
        ("install/lib/python3.12/site-packages/flask/__init__.py", b"f"),
        ("home/app/.local/lib/python3.12/site-packages/attrs/__init__.py", b"a"),
        ("opt/user/lib/python3.12/site-packages/click/__init__.py", b"c"),
    )
    env = [PATH, "PYTHONPATH=/install/lib/python3.12/site-packages", "PYTHONUSERBASE=/opt/user"]
    facts = bytecode.analyse(image(OFFICIAL, COMPILED_APP, extra, config={**RUNS_APP, "Env": env}))
    assert facts.site_packages.roots == (
        "/home/app/.local/lib/python3.12/site-packages",
        "/install/lib/python3.12/site-packages",
        "/opt/user/lib/python3.12/site-packages",
        f"/{SITE}",
    )
    plain = bytecode.analyse(image(OFFICIAL, COMPILED_APP, extra, config=RUNS_APP))
    assert plain.site_packages.roots == (
        "/home/app/.local/lib/python3.12/site-packages",
        f"/{SITE}",
    )


# --- PY002's severities (pure) ----------------------------------------------------------------


def area(root: str, missing_bytes: int, owner: int = 0) -> dict[str, Any]:
    return {"modules": 10, "compiled": 0, "missing": 10, "missing_bytes": missing_bytes,
            "examples": [f"{root}/m.py"], "roots": [root], "dir_owner_uid": owner,
            "dir_owner_gid": owner, "dir_mode": 0o755}  # fmt: skip


def facts_with(areas: dict[str, Any], uid: int, written: list[str] | None = None,
               sys_path: list[str] | None = None) -> dict[str, Any]:  # fmt: skip
    interpreter = {"path": "/usr/local/bin/python3.12", "version": "3.12.7",
                   "prefix": "/usr/local", "stdlib": "/usr/local/lib/python3.12"}  # fmt: skip
    facts: dict[str, Any] = {
        "config": {"user": f"{uid}:{uid}", "env": {}},
        "user": {"resolved_uid": uid, "resolved_gid": uid},
        "python": {"interpreters": [interpreter], "bytecode": areas},
        "runtime": {},
    }
    if written is not None:
        facts["runtime"]["lifecycle"] = {
            "status": "ran", "app_pid": 1, "processes": [{"pid": 1, "uid": uid, "gid": uid}],
            "written": [{"path": p, "kind": "added"} for p in written],
            "written_total": len(written), "pyc_written": len(written),
        }  # fmt: skip
    if sys_path is not None:
        facts["runtime"]["static"] = {"status": "ran", "uid": uid, "gid": uid,
                                      "sys_path": sys_path}  # fmt: skip
    return facts


def py002(facts: dict[str, Any]) -> list[str]:
    result = run_check(catalog()["PY002"], facts, Context())
    assert result.status in ("passed", "failed"), result.reason
    return [f.severity for f in result.findings]


VENV_SITE = "/opt/venv/lib/python3.12/site-packages"
STDLIB = "/usr/local/lib/python3.12"


@pytest.mark.parametrize(("areas", "uid", "written", "expected"), [
    # Root can cache them, and the probe saw it compile 200 KiB of packages at start: real cost.
    ({"site_packages": area(VENV_SITE, 200_000)}, 0, [f"{VENV_SITE}/x/__pycache__/a.pyc"],
     ["medium"]),
    # The same, small: low.
    ({"site_packages": area(VENV_SITE, 2_000)}, 0, [f"{VENV_SITE}/x/__pycache__/a.pyc"], ["low"]),
    # It could have cached them and wrote none: the service does not import them at start.
    ({"site_packages": area(VENV_SITE, 200_000)}, 0, [], ["info"]),
    # Without the probe, where root can cache them: low.
    ({"site_packages": area(VENV_SITE, 200_000)}, 0, None, ["low"]),
    # A non-root user cannot cache them: every process compiles them again.
    ({"application": area("/srv", 200_000)}, 10001, [], ["medium"]),
    # An official image's stdlib, non-root: info; low once the probe saw it compiled at start.
    ({"stdlib": area(STDLIB, 9_000_000)}, 10001, [], ["info"]),
    ({"stdlib": area(STDLIB, 9_000_000)}, 0, [f"{STDLIB}/__pycache__/json.cpython-312.pyc"],
     ["low"]),
])  # fmt: skip
def test_py002_severity_follows_what_the_lifecycle_probe_saw_compiled(areas, uid, written,
                                                                      expected):  # fmt: skip
    """Observed .pyc writes make the cost real; none where Python could write them is info."""
    assert py002(facts_with(areas, uid, written)) == expected


def test_py002_skips_dirs_off_the_interpreters_sys_path():
    """Site dirs the probed interpreter does not search are not the app's: no finding."""
    areas = {"site_packages": area("/usr/lib/python3/dist-packages", 200_000)}
    sys_path = [f"{STDLIB}", f"{STDLIB}/lib-dynload", f"/{SITE}"]
    assert py002(facts_with(areas, 10001, sys_path=sys_path)) == []
    assert py002(facts_with(areas, 10001, sys_path=[*sys_path, "/usr/lib/python3/dist-packages"]))


# --- the fixture images (docker) --------------------------------------------------------------

CLEAN = ("good", "his-way")
AUDITED = (*CLEAN, "naive", "official-layout")
UNCOMPILED = session_tag("official-layout-uncompiled")
# The official layout with its app's .pyc removed, as an image that skipped compileall.
UNCOMPILED_DOCKERFILE = f"""FROM {fixture_image("official-layout")}
USER 0
RUN find /srv/app -name __pycache__ -prune -exec rm -rf {{}} +
USER 10001:10001
"""


@pytest.fixture(scope="module")
def uncompiled(docker_client):
    """The official layout whose app ships without .pyc, built from the fixture image offline."""
    dockerfile = io.BytesIO(UNCOMPILED_DOCKERFILE.encode())
    docker_client.images.build(fileobj=dockerfile, tag=UNCOMPILED, network_mode="none", rm=True,
                               forcerm=True, pull=False)  # fmt: skip
    yield UNCOMPILED
    docker_client.images.remove(UNCOMPILED, force=True)


@pytest.fixture(scope="module")
def reports(fixture_probes, uncompiled) -> dict[str, ImageReport]:
    """The fixtures audited with every check, probes included (the session's shared collections),
    and the uncompiled layout built here audited the same way, at the suite's clock."""
    from tests.probed import suite_context, suite_probe

    fixture_probes.start(AUDITED)
    options = AuditOptions(probe=suite_probe(uncompiled), context=suite_context())
    mine = audit_one(uncompiled, list(catalog().values()), options, lambda message: None)
    return {**{name: fixture_probes.report(name) for name in AUDITED}, "uncompiled": mine}


def above_info(report: ImageReport) -> list[str]:
    return [f"{f.check} {f.severity}: {f.message}" for f in report.findings
            if severity_rank(f.severity) > 0]  # fmt: skip


@pytest.mark.docker
@pytest.mark.parametrize("name", CLEAN)
def test_images_built_his_way_have_no_finding_above_info(reports, name):
    """good and his-way, built as his articles recommend, audit with info findings at most."""
    report = reports[name]
    assert report.error is None
    assert not [r.check.id for r in report.results if r.status == "error"]
    assert above_info(report) == []


@pytest.mark.docker
def test_naive_fails_first_on_root_and_signals(reports):
    """naive's worst findings come first and are high: root, and SIGTERM lost behind a shell."""
    findings = reports["naive"].findings
    serious = {f.check for f in findings if severity_rank(f.severity) >= severity_rank("high")}
    assert severity_rank(findings[0].severity) >= severity_rank("high")
    assert {"SEC001", "OPS001", "OPS002"} <= serious
    # Then what costs size and correctness: the pip cache, packages in Debian's own Python.
    medium = {f.check for f in findings if severity_rank(f.severity) >= severity_rank("medium")}
    assert {"SIZE002", "PY007"} <= medium


@pytest.mark.docker
def test_official_layout_with_compiled_app_gets_py002_info_at_most(reports):
    """Official layout, app compiled, non-root: only the uncompiled stdlib is left, as info."""
    found = [f for f in reports["official-layout"].findings if f.check == "PY002"]
    assert [(f.severity, f.location.path) for f in found] == [("info", "/usr/local/lib/python3.11")]


@pytest.mark.docker
def test_official_layout_with_an_uncompiled_app_is_still_reported(reports):
    """The same image without the app's .pyc gets a PY002 finding for the app code above info."""
    found = [f for f in reports["uncompiled"].findings if f.check == "PY002"]
    app = [f for f in found if f.location.path == "/srv"]
    assert len(app) == 1, found
    assert severity_rank(app[0].severity) >= 1, found


@pytest.mark.docker
def test_official_layout_is_laid_out_as_python_slim(run):
    """CPython under /usr/local, no .pyc in its stdlib or pip, app and dependencies compiled."""
    code = ("import sys, sysconfig; print(sys.executable, sys.prefix, "
            "sysconfig.get_paths()['purelib'] in sys.path)")  # fmt: skip
    ran = run(fixture_image("official-layout"), ["python", "-c", code])
    assert ran.output.split() == ["/usr/local/bin/python", "/usr/local", "True"], ran.output
    # Every .pyc in the stdlib dirs or in pip: there must be none.
    find = ["find", "/usr/local/lib", "/usr/lib", "-name", "*.pyc", "(", "-path",
            "*/site-packages/pip/*", "-o", "-not", "-path", "*/site-packages/*", ")"]  # fmt: skip
    ran = run(fixture_image("official-layout"), find, user="0")
    assert (ran.exit_code, ran.output) == (0, "")
    # As root, importing the app writes .pyc for the stdlib modules it uses, and for nothing else.
    ran = run(fixture_image("official-layout"), ["python", "-c", APP_IMPORT], user="0")
    assert ran.exit_code == 0, ran.output
    written = [str(c["Path"]) for c in ran.diff if str(c["Path"]).endswith(".pyc")]
    assert written
    assert [p for p in written if "/site-packages/" in p or p.startswith("/srv/")] == []


@pytest.mark.docker
def test_his_way_is_built_as_the_dockerfile_says(image, run):
    """his-way upgrades OS packages in its runtime stage, copies a compiled venv, runs non-root."""
    img = image("his-way")
    steps = [h.get("CreatedBy") or "" for h in img.history()]
    assert any("apt-get" in s and " upgrade" in s for s in steps)
    config = img.attrs["Config"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["/usr/bin/tini", "--"]
    assert {"PYTHONFAULTHANDLER=1", "PYTHONUNBUFFERED=1"} <= set(config["Env"])
    code = "import sys; print(sys.prefix)"
    assert run(fixture_image("his-way"), ["python", "-c", code]).output.split() == ["/opt/venv"]
    ran = run(fixture_image("his-way"), ["python", "-c", APP_IMPORT], user="0", entrypoint=[])
    assert ran.exit_code == 0, ran.output
    assert not [c["Path"] for c in ran.diff if str(c["Path"]).endswith(".pyc")]


@pytest.mark.docker
def test_his_way_runs_tini_as_pid1_and_passes_its_healthcheck(image, started):
    """Started as a user would, his-way has tini as PID 1, a passing healthcheck, a clean stop."""
    container = started(fixture_image("his-way"))
    wait_for_log(container, "listening on 8000")
    assert container.exec_run(["cat", "/proc/1/cmdline"]).output.split(b"\0")[0] == b"/usr/bin/tini"
    health = image("his-way").attrs["Config"]["Healthcheck"]["Test"][1:]
    assert container.exec_run(health).exit_code == 0
    container.stop(timeout=10)
    # Status 0 is the app's own clean exit through its SIGTERM handler (tini passes it on); a
    # signal it ignored would end, after the grace period, in SIGKILL: status 137.
    assert container.wait(timeout=15)["StatusCode"] == 0
