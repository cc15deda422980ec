"""Turner-Trauring's practices, part A: the facts they need (package database writes, venv console
scripts, the HEALTHCHECK's programs, lock files) on built layers, and the checks on real images."""

from __future__ import annotations

import pytest

from checks import catalog
from checks.engine import run_check
from checks.model import Context
from inspector.analysers import ospackages, python
from inspector.facts.collect import collect
from tests.conftest import fixture_image
from tests.test_analysers_python import DEBIAN, ELF, EXE, VENV, image


def test_every_layer_that_wrote_the_dpkg_database_is_listed_with_its_newest_mtime():
    """The base's status and a later apt layer's are both listed, oldest first, with mtimes."""
    data = image(
        (("var/lib/dpkg/status", b"Package: a\n", {"mtime": 1000}),),
        (("app/x.py", b"x"),),
        (("var/lib/dpkg/status", b"Package: a\n", {"mtime": 3000}),
         ("var/lib/dpkg/status-old", b"old", {"mtime": 2000})),
    )  # fmt: skip
    writes = ospackages.analyse(data).database_writes
    assert [(w.layer, w.path, w.mtime) for w in writes] == [
        (0, "/var/lib/dpkg/status", 1000),
        (2, "/var/lib/dpkg/status", 3000),
    ]


def test_distroless_status_d_and_rpm_databases_count_as_package_database_writes():
    """A layer writing status.d files is one write (newest mtime); rpm's sqlite db is located."""
    data = image(
        (("var/lib/dpkg/status.d/libc6", b"Package: libc6\n", {"mtime": 50}),
         ("var/lib/dpkg/status.d/zlib", b"Package: zlib\n", {"mtime": 70}),
         ("var/lib/dpkg/status.d/zlib.md5sums", b"x", {"mtime": 99})),
        (("var/lib/rpm/rpmdb.sqlite", b"SQLite", {"mtime": 80}),),
    )  # fmt: skip
    writes = ospackages.analyse(data).database_writes
    assert [(w.layer, w.mtime) for w in writes] == [(0, 70), (1, 80)]
    assert writes[1].path == "/var/lib/rpm/rpmdb.sqlite"


def test_console_scripts_made_for_another_venv_path_are_dangling():
    """A shebang (or pip's long-path exec line) naming a missing python is listed; ok ones not."""
    scripts = (
        ("opt/venv/bin/alembic", b"#!/build/.venv/bin/python\nimport alembic\n", EXE),
        ("opt/venv/bin/long", b"#!/bin/sh\n'''exec' \"/build/a/very/long/path/bin/python\" "
         b"\"$0\" \"$@\"\n' '''\nimport x\n", EXE),
        ("opt/venv/bin/viaenv", b"#!/usr/bin/env python3\nimport x\n", EXE),
    )  # fmt: skip
    venv = python.analyse(image(DEBIAN, VENV, scripts)).venvs[0]
    assert [(s.path, s.interpreter) for s in venv.dangling_scripts] == [
        ("/opt/venv/bin/alembic", "/build/.venv/bin/python"),
        ("/opt/venv/bin/long", "/build/a/very/long/path/bin/python"),
    ]


def test_venv_whose_scripts_all_resolve_has_no_dangling_scripts():
    """gunicorn's `#!/opt/venv/bin/python` resolves through the venv's link to Debian's python."""
    assert python.analyse(image(DEBIAN, VENV)).venvs[0].dangling_scripts == ()


def test_healthcheck_cmd_with_a_program_the_image_lacks():
    """CMD ["curl", ...] on an image without curl: the program is not found on PATH."""
    config = {"Healthcheck": {"Test": ["CMD", "curl", "-f", "http://127.0.0.1:8000/"]}}
    health = python.analyse(image(DEBIAN, config=config)).healthcheck
    assert health is not None
    assert health.kind == "CMD"
    (program,) = health.programs
    assert (program.command, program.resolved_path) == ("curl", None)
    assert "not found on PATH" in (program.note or "")


def test_healthcheck_cmd_shell_reads_each_command_and_the_shell():
    """CMD-SHELL `curl ... || exit 1`: curl is looked up, `exit` is the shell's own."""
    config = {"Healthcheck": {"Test": ["CMD-SHELL", "curl -fsS http://127.0.0.1/ || exit 1"]}}
    tools = (("usr/bin/curl", ELF, EXE),)
    health = python.analyse(image(DEBIAN, tools, config=config)).healthcheck
    assert health is not None
    assert (health.kind, health.shell, health.shell_found) == ("CMD-SHELL", ("/bin/sh", "-c"), True)
    assert [(p.command, p.resolved_path, p.note) for p in health.programs] == [
        ("curl", "/usr/bin/curl", None)
    ]


def test_healthcheck_cmd_shell_without_a_shell():
    """An image with no /bin/sh cannot run a CMD-SHELL health check at all."""
    config = {"Healthcheck": {"Test": ["CMD-SHELL", "python3 -c 'print(1)'"]}}
    no_shell = tuple(m for m in DEBIAN if m[0] != "bin/sh")
    health = python.analyse(image(no_shell, config=config)).healthcheck
    assert health is not None
    assert health.shell_found is False
    assert [(p.command, p.note) for p in health.programs] == [("python3", None)]


def test_requirements_and_lock_files_are_read_and_installed_packages_ignored():
    """Pins, unpinned names, hashes and -r lines; poetry.lock packages; site-packages skipped."""
    requirements = (
        b"# app deps\nflask==3.0.0 \\\n    --hash=sha256:abc\nrequests>=2\nGunicorn\n"
        b"-r base.txt\n-e .\nuvicorn[standard]==0.30.1 ; python_version >= '3.8'\n"
        b"pkg @ https://example.invalid/pkg.whl\n"
    )
    poetry = (
        b'[[package]]\nname = "Flask"\nversion = "3.0.0"\n\n[package.dependencies]\n'
        b'click = ">=8"\n\n[[package]]\nname = "click"\nversion = "8.1.7"\n\n[metadata]\n'
        b'lock-version = "2.0"\n'
    )
    files = (
        ("app/requirements.txt", requirements),
        ("app/poetry.lock", poetry),
        ("opt/venv/lib/python3.11/site-packages/x/requirements.txt", b"y\n"),
        ("app/requirements/prod.in", b"flask\n"),
    )
    locks = {f.path: f for f in python.analyse(image(DEBIAN, files)).lock_files}
    assert sorted(locks) == [
        "/app/poetry.lock", "/app/requirements.txt", "/app/requirements/prod.in"
    ]  # fmt: skip
    req = locks["/app/requirements.txt"]
    assert req.kind == "requirements"
    assert req.pins == ("flask==3.0.0", "uvicorn==0.30.1", "pkg@")
    assert req.unpinned == ("requests", "gunicorn")
    assert (req.requirements, req.hashed, req.includes) == (5, 1, ("-r base.txt",))
    lock = locks["/app/poetry.lock"]
    assert (lock.kind, lock.requirements) == ("poetry.lock", 2)
    assert lock.pins == ("flask==3.0.0", "click==8.1.7")
    assert locks["/app/requirements/prod.in"].unpinned == ("flask",)


# --- the checks on real images ------------------------------------------------------------------

CHECK_IDS = ("SEC025", "COR005", "PY010", "OPS012", "META005")


@pytest.fixture(scope="module")
def layer_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("layer-cache")


@pytest.fixture
def facts_of(layer_cache, monkeypatch):
    """Facts of a fixture image without probes, read through a cache of this module's own."""
    monkeypatch.setenv("INSPECTOR_CACHE_DIR", str(layer_cache))
    return lambda name: collect(fixture_image(name)).to_json()


def findings(check_id: str, facts: dict) -> list[tuple[str | None, str, str]]:
    """(rule, severity, message) of each finding; the check must have decided."""
    result = run_check(catalog()[check_id], facts, Context())
    assert result.status in ("passed", "failed"), result.reason
    return [(f.rule, f.severity, f.message) for f in result.findings]


@pytest.mark.docker
def test_venv_copied_from_another_path_is_reported_and_its_scripts_really_fail(facts_of, run):
    """venv-elsewhere: the system python runs, console scripts name /build/.venv, and they fail."""
    facts = facts_of("venv-elsewhere")
    (venv,) = facts["python"]["venvs"]
    scripts = {s["path"]: s["interpreter"] for s in venv["dangling_scripts"]}
    assert scripts["/opt/venv/bin/markdown-it"].startswith("/build/.venv/bin/python")
    ran = run(fixture_image("venv-elsewhere"),
              ["/bin/sh", "-c", "/opt/venv/bin/markdown-it --help; echo status=$?"])  # fmt: skip
    assert "status=127" in ran.output  # the kernel cannot find the interpreter it names
    got = {rule: (severity, message) for rule, severity, message in findings("COR005", facts)}
    assert set(got) == {"system-python", "relocated-venv"}
    assert got["system-python"][0] == "high"
    assert "outside the venv /opt/venv" in got["system-python"][1]
    assert "VIRTUAL_ENV=/opt/venv" in got["system-python"][1]
    assert "/build/.venv/bin/python" in got["relocated-venv"][1]


@pytest.mark.docker
def test_healthcheck_with_curl_on_an_image_without_curl(facts_of, run):
    """venv-elsewhere's `curl ... || exit 1` health check: curl is really absent; OPS012 fires."""
    ran = run(fixture_image("venv-elsewhere"), ["/bin/sh", "-c", "command -v curl; echo status=$?"])
    assert "status=1" in ran.output
    (found,) = findings("OPS012", facts_of("venv-elsewhere"))
    assert found[:2] == ("missing-program", "high")
    assert "`curl` is not found on PATH" in found[2]


@pytest.mark.docker
def test_requirements_without_versions_are_reported(facts_of, run):
    """loose-deps installs `requests>=2.0` and `rich` from a file it ships: PY010 names them."""
    facts = facts_of("loose-deps")
    (lock,) = facts["python"]["lock_files"]
    assert (lock["path"], lock["unpinned"]) == ("/app/requirements-loose.txt", ["requests", "rich"])
    (found,) = findings("PY010", facts)
    assert found[:2] == ("unpinned-requirements", "medium")
    assert "requests, rich" in found[2]


@pytest.mark.docker
def test_venv_on_path_without_probes_is_the_missing_module_cor004_explains(facts_of):
    """broken-venv-path runs python3 beside a venv: without probes COR005 says so statically."""
    ((rule, severity, message),) = findings("COR005", facts_of("broken-venv-path"))
    assert (rule, severity) == ("system-python", "high")
    assert "/opt/venv" in message


@pytest.mark.docker
@pytest.mark.parametrize("name", ["good", "his-way", "naive"])
def test_images_built_his_way_pass_the_practice_checks(facts_of, name):
    """good and his-way (upgrade in the build, venv at the same path, pinned requirements, a
    Python health check), and naive's fully pinned requirements, get none of these findings."""
    facts = facts_of(name)
    for check_id in CHECK_IDS:
        assert findings(check_id, facts) == [], check_id


# --- the checks' own rules, on hand-made facts ---------------------------------------------------


def test_upgrade_step_stamped_with_source_date_epoch_is_not_judged():
    """An upgrade layer whose time every new step shares (SOURCE_DATE_EPOCH) is skipped."""
    stamp = "2026-01-01T00:00:00Z"
    upgrade = "RUN /bin/sh -c apt-get update && apt-get -y upgrade # buildkit"
    facts = {
        "image": {"created": stamp},
        "history": [
            {"created": "2025-12-01T00:00:00Z", "created_by": "", "layer": 0},
            {"created": stamp, "created_by": upgrade, "layer": 1},
            {"created": stamp, "created_by": "COPY . /app # buildkit", "layer": 2},
        ],
        "layers": [{"created_by": ""}, {"created_by": upgrade}, {"created_by": "COPY . /app"}],
        "os_packages": {"database_writes": [{"layer": 0, "path": "/var/lib/dpkg/status",
                                             "mtime": 0}, {"layer": 1, "path":
                                             "/var/lib/dpkg/status", "mtime": 0}]},
    }  # fmt: skip
    result = run_check(catalog()["SEC025"], facts, Context())
    assert result.status == "skipped"
    assert "SOURCE_DATE_EPOCH" in (result.reason or "")


@pytest.mark.parametrize(
    ("run_line", "rule"),
    [
        ("python3 -m pip install --no-cache-dir fastapi", "unpinned-install"),
        ("uv pip install --system 'uvicorn[standard]>=0.30'", "unpinned-install"),
        ("/opt/venv/bin/pip --disable-pip-version-check install -rrequirements.txt",
         "unpinned-requirements"),
        ("pip install -r requirements.txt --require-hashes", None),
        ("pip install -U pip setuptools wheel && pip install ./dist/app-1.0-py3-none-any.whl",
         None),
        ("pip install app @ https://example.invalid/app.whl", None),
        ("pip install $EXTRA_PACKAGES", None),
    ],
)  # fmt: skip
def test_pip_install_forms_in_the_history(run_line, rule):
    """pip, `python -m pip` and `uv pip` installs are read; hashes, tools, paths and URLs are not
    unpinned."""
    created_by = f"RUN /bin/sh -c {run_line} # buildkit"
    facts = {
        "history": [{"created_by": "WORKDIR /app", "layer": None},
                    {"created_by": created_by, "layer": 1}],
        "layers": [{"created_by": ""}, {"created_by": created_by}],
        "python": {"lock_files": [{"path": "/app/requirements.txt", "kind": "requirements",
                                   "unpinned": ["flask"], "pins": [], "includes": []}],
                   "packages": [], "entrypoint_interpreter": {}},
    }  # fmt: skip
    result = run_check(catalog()["PY010"], facts, Context())
    assert [f.rule for f in result.findings] == ([rule] if rule else [])
