"""The seed author's practices, part A: the facts they need (package database writes, venv console
scripts, the HEALTHCHECK's programs, lock files) on built layers, and the checks on real images."""

from __future__ import annotations

from inspector.analysers import ospackages, python
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
