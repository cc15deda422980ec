"""Unit tests of the Python, bytecode and cache analysers, on layers built in the test."""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from typing import Any

import pytest

from inspector.analysers import bytecode, caches, pydeps, python
from inspector.analysers.imagedata import ImageData
from inspector.image.config import config_from_json
from inspector.layers.overlay import merge
from inspector.layers.reader import read_layer
from inspector.probes.plan import plan
from tests.layertools import layer

EXE = {"mode": 0o755}
ELF = b"\x7fELF" + b"\0" * 60


def capture(path: str, size: int) -> int | None:
    """What the single layer pass keeps: the largest cap any of these analysers asks for."""
    caps = [c for w in (python.wants, bytecode.wants, caches.wants) if (c := w(path, size))]
    return max(caps) if caps else None


def image(*layers: tuple, config: dict[str, Any] | None = None, steps=None) -> ImageData:
    reads = [read_layer(io.BytesIO(layer(*members)), capture) for members in layers]
    cfg = config or {}
    return ImageData(
        config=config_from_json(cfg),
        raw_config={"config": cfg},
        layers=reads,
        fs=merge(reads),
        layer_steps=list(steps) if steps else [f"step {i}" for i in range(len(reads))],
    )


SYSCONFIG = b"build_time_vars = {'ABIFLAGS': '',\n 'COVERAGE_INFO': " \
    b"'/build/reproducible-path/python3.11-3.11.2/build-shared/coverage.info',\n}\n"  # fmt: skip

DEBIAN = (
    ("usr/bin/python3.11", ELF, EXE),
    ("usr/bin/python3", "->python3.11"),
    ("usr/bin/env", ELF, EXE),
    ("bin/sh", ELF, EXE),
    ("usr/lib/python3.11/os.py", b"import abc\n"),
    ("usr/lib/python3.11/__pycache__/os.cpython-311.pyc", b"p" * 40),
    ("usr/lib/python3.11/json/__init__.py", b"x" * 30),
    ("usr/lib/python3.11/EXTERNALLY-MANAGED", b"[externally-managed]\n"),
    ("usr/lib/python3.11/_sysconfigdata__x86_64-linux-gnu.py", SYSCONFIG),
    ("usr/lib/python3/dist-packages/six.py", b"s" * 20),
    ("usr/lib/python3/dist-packages/__pycache__/six.cpython-311.pyc", b"p" * 10),
    ("usr/lib/python3/dist-packages/six-1.16.0.egg-info",
     b"Metadata-Version: 1.2\nName: six\nVersion: 1.16.0\n\nLong text\n"),
    ("usr/lib/python3/dist-packages/requests-2.28.1.egg-info/PKG-INFO",
     b"Metadata-Version: 2.1\nName: requests\nVersion: 2.28.1\nSummary: HTTP\n"),
    ("usr/lib/python3/dist-packages/requests/__init__.py", b"r" * 50),
)  # fmt: skip

VENV = (
    ("opt/venv/pyvenv.cfg",
     b"home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n"),
    ("opt/venv/bin/python", "->/usr/bin/python3"),
    ("opt/venv/bin/python3", "->python"),
    ("opt/venv/bin/gunicorn", b"#!/opt/venv/bin/python\nimport gunicorn\n", EXE),
    ("opt/venv/lib/python3.11/site-packages/flask/__init__.py", b"f" * 100),
    ("opt/venv/lib/python3.11/site-packages/flask/__pycache__/__init__.cpython-311.pyc", b"p" * 8),
    ("opt/venv/lib/python3.11/site-packages/flask/app.py", b"a" * 200),
    ("opt/venv/lib/python3.11/site-packages/flask/__pycache__/app.cpython-312.pyc", b"p" * 9),
    ("opt/venv/lib/python3.11/site-packages/flask/cli.py", b"c" * 10),
    ("opt/venv/lib/python3.11/site-packages/flask/__pycache__/cli.cpython-311.opt-1.pyc", b"p"),
    ("opt/venv/lib/python3.11/site-packages/flask-3.0.0.dist-info/METADATA",
     b"Metadata-Version: 2.1\nName: Flask\nVersion: 3.0.0\n\nDescription\n"),
    ("opt/venv/lib/python3.11/site-packages/flask-3.0.0.dist-info/INSTALLER", b"pip\n"),
    ("opt/venv/lib/python3.11/site-packages/myapp-0.1.dist-info/METADATA",
     b"Metadata-Version: 2.1\nName: myapp\nVersion: 0.1\n"),
    ("opt/venv/lib/python3.11/site-packages/myapp-0.1.dist-info/INSTALLER", b"uv\n"),
    ("opt/venv/lib/python3.11/site-packages/myapp-0.1.dist-info/direct_url.json",
     json.dumps({"url": "file:///app", "dir_info": {"editable": True}}).encode()),
)  # fmt: skip

SLIM = (
    ("usr/local/bin/python3.12", ELF, EXE),
    ("usr/local/bin/python3", "->python3.12"),
    ("usr/local/bin/python", "->python3"),
    ("usr/local/lib/python3.12/os.py", b"import abc\n"),
    ("usr/local/include/python3.12/patchlevel.h",
     b'/* Python version */\n#define PY_MINOR_VERSION 12\n#define PY_VERSION "3.12.4"\n'),
    ("usr/local/lib/python3.12/site-packages/pip-24.0.dist-info/METADATA",
     b"Metadata-Version: 2.1\nName: pip\nVersion: 24.0\n"),
    ("usr/local/lib/python3.12/site-packages/pip-24.0.dist-info/INSTALLER", b"pip\n"),
)  # fmt: skip

VENV_PATH = "/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def by_name(packages: tuple[python.Distribution, ...]) -> dict[str, python.Distribution]:
    return {p.name: p for p in packages}


# --- interpreters, venvs, packages ----------------------------------------------------------


def test_debian_interpreter_version_symlinks_and_marker():
    """Debian's /usr/bin/python3.11 gets 3.11.2 from sysconfigdata, its symlink and PEP 668 mark."""
    facts = python.analyse(image(DEBIAN))
    (interp,) = facts.interpreters
    assert interp.path == "/usr/bin/python3.11"
    assert (interp.version, interp.version_source) == ("3.11.2", "sysconfigdata")
    assert (interp.prefix, interp.stdlib) == ("/usr", "/usr/lib/python3.11")
    assert interp.cache_tag == "cpython-311"
    assert interp.symlinks == ("/usr/bin/python3",)
    assert interp.externally_managed
    assert not interp.externally_managed_removed


def test_slim_interpreter_version_from_patchlevel_or_env():
    """python:3.12-slim's /usr/local interpreter reads patchlevel.h, else PYTHON_VERSION."""
    (interp,) = python.analyse(image(SLIM)).interpreters
    assert (interp.path, interp.prefix) == ("/usr/local/bin/python3.12", "/usr/local")
    assert (interp.version, interp.version_source) == ("3.12.4", "patchlevel.h")
    assert interp.symlinks == ("/usr/local/bin/python", "/usr/local/bin/python3")
    assert not interp.externally_managed
    no_headers = tuple(m for m in SLIM if "patchlevel" not in m[0])
    env = {"Env": ["PYTHON_VERSION=3.12.5"]}
    (interp,) = python.analyse(image(no_headers, config=env)).interpreters
    assert (interp.version, interp.version_source) == ("3.12.5", "PYTHON_VERSION")
    (interp,) = python.analyse(image(no_headers)).interpreters
    assert (interp.version, interp.version_source) == ("3.12", "name")


def test_conda_and_uv_interpreters_take_the_version_from_their_layout():
    """conda-meta and uv's install dir name give the patch level; a wrapper script is no Python."""
    uv = "root/.local/share/uv/python/cpython-3.12.4-linux-x86_64-gnu"
    members = (
        ("opt/conda/bin/python3.11", ELF, EXE),
        ("opt/conda/lib/python3.11/os.py", b""),
        ("opt/conda/conda-meta/python-3.11.5-h955ad1f_0.json", b"{}"),
        ("opt/conda/pkgs/numpy/lib/python3.11/site-packages/numpy/__init__.py", b"n"),
        (f"{uv}/bin/python3", ELF, EXE),
        (f"{uv}/lib/python3.12/os.py", b""),
        ("usr/local/bin/python", b'#!/bin/sh\nexec /opt/conda/bin/python3.11 "$@"\n', EXE),
    )
    interpreters = {i.path: i for i in python.analyse(image(members)).interpreters}
    assert set(interpreters) == {"/opt/conda/bin/python3.11", f"/{uv}/bin/python3"}
    conda, managed = interpreters["/opt/conda/bin/python3.11"], interpreters[f"/{uv}/bin/python3"]
    assert (conda.version, conda.version_source) == ("3.11.5", "conda-meta")
    assert (managed.version, managed.version_source, managed.cache_tag) == (
        "3.12.4", "uv", "cpython-312")  # fmt: skip
    coverage = bytecode.analyse(image(members))
    assert coverage.site_packages.modules == 0


def test_deleted_externally_managed_marker_is_reported():
    """Removing EXTERNALLY-MANAGED in a later layer is a fact of its own."""
    facts = python.analyse(image(DEBIAN, (("usr/lib/python3.11/.wh.EXTERNALLY-MANAGED", b""),)))
    (interp,) = facts.interpreters
    assert not interp.externally_managed
    assert interp.externally_managed_removed


def test_venv_config_and_the_interpreter_it_resolves_to():
    """A venv in /opt/venv reads pyvenv.cfg and resolves bin/python to the Debian interpreter."""
    facts = python.analyse(image(DEBIAN, VENV))
    (venv,) = facts.venvs
    assert venv.path == "/opt/venv"
    assert (venv.home, venv.home_exists, venv.version) == ("/usr/bin", True, "3.11.2")
    assert venv.include_system_site_packages is False
    assert (venv.tool, venv.python, venv.interpreter) == (
        "venv", "/opt/venv/bin/python", "/usr/bin/python3.11")  # fmt: skip
    assert venv.site_packages == ("/opt/venv/lib/python3.11/site-packages",)
    (interp,) = facts.interpreters
    assert "/opt/venv/bin/python" in interp.symlinks
    assert "/opt/venv/bin/python3" in interp.symlinks


def test_uv_venv_with_version_info_and_a_dangling_python():
    """uv's version_info key is read, and a python link to a missing builder path gives None."""
    data = image((("app/.venv/pyvenv.cfg", b"home = /build/bin\nuv = 0.4.0\nversion_info = 3.12.1\n"
                   b"include-system-site-packages = TRUE\n"),
                  ("app/.venv/bin/python", "->/build/bin/python3")))  # fmt: skip
    (venv,) = python.analyse(data).venvs
    assert (venv.tool, venv.version, venv.include_system_site_packages) == ("uv", "3.12.1", True)
    assert (venv.python, venv.interpreter, venv.home_exists) == (
        "/app/.venv/bin/python",
        None,
        False,
    )


def test_dist_info_installer_editable_and_environment():
    """dist-info gives name, version, INSTALLER, editable from direct_url.json, and the venv."""
    packages = by_name(python.analyse(image(DEBIAN, VENV)).packages)
    flask, app = packages["Flask"], packages["myapp"]
    assert (flask.version, flask.installer, flask.editable) == ("3.0.0", "pip", False)
    assert (app.version, app.installer, app.editable) == ("0.1", "uv", True)
    assert flask.location == "/opt/venv/lib/python3.11/site-packages"
    assert (flask.environment, flask.environment_kind) == ("/opt/venv", "venv")
    assert flask.metadata_format == "dist-info"
    assert flask.layer == 1


def test_egg_info_as_file_and_directory_belongs_to_the_system_interpreter():
    """Debian egg-info files and dirs in dist-packages are packages of the /usr interpreter."""
    packages = by_name(python.analyse(image(DEBIAN)).packages)
    six, requests = packages["six"], packages["requests"]
    assert (six.version, six.metadata_format, six.installer) == ("1.16.0", "egg-info", None)
    assert six.metadata == "/usr/lib/python3/dist-packages/six-1.16.0.egg-info"
    assert requests.version == "2.28.1"
    assert requests.metadata == "/usr/lib/python3/dist-packages/requests-2.28.1.egg-info"
    assert {p.environment for p in packages.values()} == {"/usr"}
    assert {p.environment_kind for p in packages.values()} == {"interpreter"}


def test_slim_packages_and_pip_into_debian_local_dist_packages():
    """/usr/local site-packages belong to /usr/local; Debian's /usr/local dist-packages to /usr."""
    packages = by_name(python.analyse(image(SLIM)).packages)
    assert (packages["pip"].environment, packages["pip"].installer) == ("/usr/local", "pip")
    local = (("usr/local/lib/python3.11/dist-packages/rich-13.0.dist-info/METADATA",
              b"Name: rich\nVersion: 13.0\n"),)  # fmt: skip
    rich = by_name(python.analyse(image(DEBIAN, local)).packages)["rich"]
    assert (rich.location, rich.environment) == ("/usr/local/lib/python3.11/dist-packages", "/usr")


def test_editable_installs_through_egg_link_and_editable_pth():
    """An egg-link to a project dir and an __editable__ .pth both mark the distribution editable."""
    site = "usr/local/lib/python3.12/site-packages"
    members = (
        (f"{site}/mypkg.egg-link", b"/src/mypkg\n.\n"),
        ("src/mypkg/mypkg.egg-info/PKG-INFO", b"Name: mypkg\nVersion: 0.3\n"),
        ("src/other/stray.egg-info/PKG-INFO", b"Name: stray\nVersion: 1\n"),
        (f"{site}/__editable__.other_pkg-2.0.pth", b"import __editable___other_pkg_2_0_finder\n"),
        (f"{site}/other_pkg-2.0.dist-info/METADATA", b"Name: other-pkg\nVersion: 2.0\n"),
    )
    packages = by_name(python.analyse(image(SLIM, members)).packages)
    assert "stray" not in packages
    mypkg = packages["mypkg"]
    assert (mypkg.editable, mypkg.location, mypkg.metadata) == (
        True, f"/{site}", "/src/mypkg/mypkg.egg-info")  # fmt: skip
    assert packages["other-pkg"].editable


def test_metadata_name_falls_back_to_the_directory_name():
    """A dist-info without METADATA still reports name and version from its directory name."""
    members = (("usr/local/lib/python3.12/site-packages/attrs-23.1.0.dist-info/RECORD", b""),)
    packages = by_name(python.analyse(image(SLIM, members)).packages)
    assert packages["attrs"].version == "23.1.0"


# --- the interpreter ENTRYPOINT/CMD runs ----------------------------------------------------


def test_exec_form_bare_python_resolves_through_path_into_the_venv():
    """CMD ["python", ...] with the venv first on PATH runs the venv's python on Debian's binary."""
    config = {"Env": [f"PATH={VENV_PATH}"], "Cmd": ["python", "-m", "app"]}
    entry = python.analyse(image(DEBIAN, VENV, config=config)).entrypoint_interpreter
    assert (entry.command, entry.command_args) == ("python", ("-m", "app"))
    assert entry.resolved_path == "/usr/bin/python3.11"
    assert (entry.interpreter, entry.venv) == ("/opt/venv/bin/python", "/opt/venv")
    assert (entry.base_interpreter, entry.version, entry.cache_tag) == (
        "/usr/bin/python3.11", "3.11.2", "cpython-311")  # fmt: skip
    assert (entry.via, entry.form, entry.note) == ("direct", "exec", None)


def test_without_the_venv_on_path_the_system_python_runs():
    """The default PATH finds /usr/bin/python3, not the venv: no venv in the result."""
    config = {"Cmd": ["python3", "app.py"]}
    entry = python.analyse(image(DEBIAN, VENV, config=config)).entrypoint_interpreter
    assert (entry.interpreter, entry.venv, entry.via) == ("/usr/bin/python3.11", None, "direct")


@pytest.mark.parametrize(
    ("script", "interpreter", "venv"),
    [
        ("exec python3 -m app", "/usr/bin/python3.11", None),
        ("FOO=1 python3 app.py", "/usr/bin/python3.11", None),
        ("cd /app && exec env DEBUG=0 python3 app.py", "/usr/bin/python3.11", None),
        (". /opt/venv/bin/activate && python app.py", "/opt/venv/bin/python", "/opt/venv"),
        ("export PATH=/opt/venv/bin:$PATH; python m.py && gunicorn app", "/opt/venv/bin/python",
         "/opt/venv"),
    ],
)  # fmt: skip
def test_shell_form_takes_the_service_command(script, interpreter, venv):
    """In shell form, exec/env/assignments/cd are skipped and PATH changes (activate) apply."""
    config = {"Cmd": ["/bin/sh", "-c", script]}
    entry = python.analyse(image(DEBIAN, VENV, config=config)).entrypoint_interpreter
    assert (entry.interpreter, entry.venv) == (interpreter, venv)
    assert entry.form == "shell"
    assert entry.chain[0] == "shell"


def test_shell_form_first_word_is_the_command():
    """A plain shell-form python command is reached via the shell."""
    config = {"Cmd": ["/bin/sh", "-c", "python3 -m app"]}
    entry = python.analyse(image(DEBIAN, config=config)).entrypoint_interpreter
    assert (entry.command, entry.command_args, entry.via) == ("python3", ("-m", "app"), "shell")


def test_shebang_script_on_path_runs_the_venv():
    """ENTRYPOINT ["gunicorn"] follows gunicorn's shebang into the venv, whatever PATH says."""
    config = {"Env": [f"PATH={VENV_PATH}"], "Entrypoint": ["gunicorn"], "Cmd": ["app:app"]}
    entry = python.analyse(image(DEBIAN, VENV, config=config)).entrypoint_interpreter
    assert entry.resolved_path == "/opt/venv/bin/gunicorn"
    assert (entry.interpreter, entry.venv, entry.via) == (
        "/opt/venv/bin/python", "/opt/venv", "shebang")  # fmt: skip
    assert entry.command_args == ("/opt/venv/bin/gunicorn", "app:app")


def test_env_shebang_and_env_in_exec_form():
    """`#!/usr/bin/env python3` and ["/usr/bin/env", "python3"] resolve through PATH via env."""
    app = (("app/manage.py", b"#!/usr/bin/env python3\nimport django\n", EXE),)
    config = {"Cmd": ["/app/manage.py", "runserver"], "WorkingDir": "/app"}
    entry = python.analyse(image(DEBIAN, app, config=config)).entrypoint_interpreter
    assert (entry.interpreter, entry.via, entry.chain) == (
        "/usr/bin/python3.11", "env", ("shebang", "env"))  # fmt: skip
    assert entry.resolved_path == "/app/manage.py"
    config = {"Entrypoint": ["/usr/bin/env", "-S", "python3", "-u"], "Cmd": ["x.py"]}
    entry = python.analyse(image(DEBIAN, config=config)).entrypoint_interpreter
    assert (entry.interpreter, entry.via, entry.command_args) == (
        "/usr/bin/python3.11", "env", ("-u", "x.py"))  # fmt: skip


def test_wrappers_are_skipped():
    """tini and gosu in front of the command are recorded and looked past."""
    config = {"Entrypoint": ["tini", "--", "gosu", "app", "python3"], "Cmd": ["app.py"]}
    tini = (("usr/bin/tini", ELF, EXE),)
    entry = python.analyse(image(DEBIAN, tini, config=config)).entrypoint_interpreter
    assert (entry.wrappers, entry.interpreter) == (("tini", "gosu"), "/usr/bin/python3.11")


def test_pip_long_path_shebang_trick():
    """pip's `#!/bin/sh` + `'''exec' <python>` launcher for long paths is followed to Python."""
    launcher = b"#!/bin/sh\n'''exec' \"/opt/venv/bin/python\" \"$0\" \"$@\"\n' '''\nimport x\n"
    members = (("opt/venv/bin/celery", launcher, EXE),)
    config = {"Cmd": ["/opt/venv/bin/celery", "worker"]}
    entry = python.analyse(image(DEBIAN, VENV, members, config=config)).entrypoint_interpreter
    assert (entry.interpreter, entry.via) == ("/opt/venv/bin/python", "shebang")


@pytest.mark.parametrize(
    ("config", "note"),
    [
        ({"Entrypoint": ["/docker-entrypoint.sh"], "Cmd": ["python3"]},
         "the entrypoint is a shell script"),
        ({}, "the image declares no ENTRYPOINT or CMD"),
        ({"Cmd": ["python4"]}, "`python4` is not found on PATH"),
        ({"Cmd": ["/usr/bin/env"]}, "env is run without a command"),
        ({"Cmd": ["/bin/sh"]}, "the command is a shell (sh)"),
        ({"Cmd": ["/usr/bin/tool"]}, "`/usr/bin/tool` is a native executable, not Python"),
    ],
)  # fmt: skip
def test_undecidable_commands_say_why(config, note):
    """A command the analysis cannot follow to Python gives no interpreter and a note why."""
    extra = (("docker-entrypoint.sh", b"#!/bin/sh\nset -e\necho ready\n", EXE),
             ("usr/bin/tool", ELF, EXE))  # fmt: skip
    entry = python.analyse(image(DEBIAN, extra, config=config)).entrypoint_interpreter
    assert (entry.interpreter, entry.via, entry.note) == (None, None, note)


# Shaped like cookiecutter-django's production scripts (written here, not copied): a wait for
# the database in a here-document, then `exec "$@"`; /start prepares and execs gunicorn.
ENTRY = b"""#!/bin/bash
set -o errexit
set -o nounset
python << END
import sys
exec_me = 1
sys.exit(0)
END
>&2 echo 'database is up'
exec "$@"
"""
START = b"""#!/bin/bash
set -o errexit
python /app/manage.py collectstatic --noinput
exec /opt/venv/bin/gunicorn config.wsgi --bind 0.0.0.0:5000 --chdir=/app
"""
BASH = (("bin/bash", ELF, EXE),)


def test_start_scripts_are_followed_to_the_command_they_exec():
    """/entrypoint's `exec "$@"` runs CMD's /start, whose `exec gunicorn` reaches the venv."""
    scripts = (("entrypoint", ENTRY, EXE), ("start", START, EXE))
    config = {"Entrypoint": ["/entrypoint"], "Cmd": ["/start"]}
    entry = python.analyse(image(DEBIAN, VENV, BASH, scripts, config=config)).entrypoint_interpreter
    assert (entry.interpreter, entry.venv, entry.note) == (
        "/opt/venv/bin/python",
        "/opt/venv",
        None,
    )
    assert entry.scripts == ("/entrypoint", "/start")
    assert entry.chain == ("script", "script", "shebang")
    assert entry.command_args == ("/opt/venv/bin/gunicorn", "config.wsgi", "--bind",
                                  "0.0.0.0:5000", "--chdir=/app")  # fmt: skip


@pytest.mark.parametrize(
    ("script", "args"),
    [
        # the default branch (the last exec outside if/case) is the one followed
        (b'#!/bin/sh\nif [ "$1" = worker ]; then\n  exec celery -A proj worker\nfi\n'
         b"exec gunicorn app:app\n", ("/opt/venv/bin/gunicorn", "app:app")),
        # no exec: the last command, after `cd` and the venv's activation
        (b"#!/bin/sh\ncd /srv\n. /opt/venv/bin/activate\npython -m svc --port 8000 # serve\n",
         ("-m", "svc", "--port", "8000")),
        # `exec gosu app "$@"` with the script's arguments, a line continued with a backslash
        (b'#!/bin/sh\nset -e\nexec gosu app python \\\n  -m "$@"\n', ("-m", "svc", "x")),
        # a loop that retries a migration, then $1-style arguments
        (b"#!/bin/bash\nwhile true; do\n  flask db upgrade && break\n  sleep 5\ndone\n"
         b'exec python -m "$1"\n', ("-m", "svc")),
    ],
)  # fmt: skip
def test_a_start_script_hands_over_to_its_last_top_level_exec(script, args):
    """Branches, loops, setup lines, continuations and `$@`/`$1` are read as the shell would."""
    config = {"Env": [f"PATH={VENV_PATH}"], "Entrypoint": ["/boot.sh"], "Cmd": ["svc", "x"]}
    members = (("boot.sh", script, EXE), ("usr/sbin/gosu", ELF, EXE))
    entry = python.analyse(image(DEBIAN, VENV, BASH, members, config=config)).entrypoint_interpreter
    assert entry.interpreter is not None, entry.note
    assert entry.command_args == args


def test_script_commands_skip_here_documents_and_mark_branches():
    """Here-document bodies are no commands; case arms and if bodies are nested, exec marked."""
    text = (
        "#!/bin/sh\ncat <<-'EOF'\n  exec not-a-command\nEOF\n"
        'case "$1" in\n  web) exec gunicorn a:b ;;\n  *) exec "$@" ;;\nesac\n'
        "echo done >&2\n"
    )
    commands = pydeps.script_commands(text)
    assert [(c.words, c.exec, c.nested) for c in commands] == [
        (("cat",), False, False),
        (("web",), False, True),
        (("gunicorn", "a:b"), True, True),
        (("*",), False, True),
        (("$@",), True, True),
        (("echo", "done"), False, False),
    ]
    assert pydeps.handover(commands) == 4  # no exec at the top: the last exec anywhere


def test_a_start_scripts_cd_moves_the_command_and_the_import_test_with_it():
    """`cd /srv/site && exec gunicorn wsgi:app`: the command runs in /srv/site, and the import
    smoke test is planned to import wsgi from there."""
    boot = (("srv/boot.sh", b"#!/bin/sh\ncd /srv/site && exec gunicorn wsgi:app\n", EXE),)
    config = {"Env": [f"PATH={VENV_PATH}"], "Cmd": ["./boot.sh"], "WorkingDir": "/srv"}
    data = image(DEBIAN, VENV, boot, config=config)
    facts = python.analyse(data)
    assert (facts.entrypoint_interpreter.cwd, facts.entrypoint_interpreter.scripts) == (
        "/srv/site", ("/srv/boot.sh",))  # fmt: skip
    target = plan("sha256:x", "amd64", data.fs, asdict(facts)).imports
    assert target is not None
    assert (target.command, target.cwd) == ("gunicorn wsgi:app", "/srv/site")


def test_a_shell_form_cmd_behind_an_entrypoint_script_is_read_as_its_shell_line():
    """ENTRYPOINT ["/entrypoint"] + CMD in shell form: `exec "$@"` runs `sh -c LINE`."""
    config = {"Env": [f"PATH={VENV_PATH}"], "Entrypoint": ["/entrypoint"],
              "Cmd": ["/bin/sh", "-c", "gunicorn --bind :8000 wsgi:app"]}  # fmt: skip
    members = (("entrypoint", ENTRY, EXE),)
    entry = python.analyse(image(DEBIAN, VENV, BASH, members, config=config)).entrypoint_interpreter
    assert entry.command_args == ("/opt/venv/bin/gunicorn", "--bind", ":8000", "wsgi:app")


def test_a_boot_script_in_the_users_home_is_read_and_followed():
    """ENTRYPOINT ["./boot.sh"] in WORKDIR /home/microblog: the script is captured, its venv
    activation applies and its `exec gunicorn` is the command."""
    venv = (("home/microblog/venv/pyvenv.cfg", b"home = /usr/bin\nversion = 3.11.2\n"),
            ("home/microblog/venv/bin/python", "->/usr/bin/python3.11"),
            ("home/microblog/venv/bin/gunicorn", b"#!/home/microblog/venv/bin/python\n", EXE),
            ("home/microblog/boot.sh", b"#!/bin/sh\n. venv/bin/activate\nflask db upgrade\n"
             b"exec gunicorn -b :5000 microblog:app\n", EXE))  # fmt: skip
    config = {"Entrypoint": ["./boot.sh"], "WorkingDir": "/home/microblog"}
    entry = python.analyse(image(DEBIAN, venv, config=config)).entrypoint_interpreter
    assert (entry.venv, entry.scripts) == ("/home/microblog/venv", ("/home/microblog/boot.sh",))
    assert entry.command_args[1:] == ("-b", ":5000", "microblog:app")


def test_a_script_that_runs_itself_is_followed_once():
    """A script that execs itself stops after one visit instead of looping."""
    loop = b'#!/bin/sh\nexec /loop.sh "$@"\n'
    config = {"Entrypoint": ["/loop.sh"]}
    entry = python.analyse(image(DEBIAN, (("loop.sh", loop, EXE),), config=config)
                           ).entrypoint_interpreter  # fmt: skip
    assert (entry.interpreter, entry.scripts) == (None, ("/loop.sh",))
    assert entry.note == "the entrypoint is a shell script"


UV_VENV = (
    ("app/.venv/pyvenv.cfg", b"home = /usr/bin\nimplementation = CPython\nuv = 0.5.0\n"
     b"version_info = 3.11.2\ninclude-system-site-packages = false\n"),
    ("app/.venv/bin/python", "->/usr/bin/python3.11"),
    ("app/.venv/bin/gunicorn", b"#!/app/.venv/bin/python\nimport gunicorn\n", EXE),
    ("usr/local/bin/uv", ELF, EXE),
)  # fmt: skip


@pytest.mark.parametrize(
    ("cmd", "args"),
    [
        (["uv", "run", "gunicorn", "wsgi:app"], ("/app/.venv/bin/gunicorn", "wsgi:app")),
        (["uv", "run", "--no-sync", "--frozen", "--with", "rich", "gunicorn", "wsgi:app"],
         ("/app/.venv/bin/gunicorn", "wsgi:app")),
        (["uv", "run", "--directory", "/app", "main.py"], ("main.py",)),
        (["uv", "run", "-m", "svc"], ("-m", "svc")),
        (["/bin/sh", "-c", "exec uv run --no-sync python -m svc"], ("-m", "svc")),
    ],
)  # fmt: skip
def test_uv_run_runs_the_command_in_the_projects_venv(cmd, args):
    """`uv run [options] CMD` is followed to CMD with the project's .venv first on PATH."""
    config = {"Cmd": cmd, "WorkingDir": "/app"}
    entry = python.analyse(image(DEBIAN, UV_VENV, config=config)).entrypoint_interpreter
    assert (entry.interpreter, entry.venv) == ("/app/.venv/bin/python", "/app/.venv"), entry.note
    assert entry.command_args == args
    assert "uv run" in entry.wrappers


def test_poetry_run_uses_the_venv_in_poetrys_cache():
    """`poetry run gunicorn` runs in the venv poetry made under its cache dir, not poetry's own."""
    poetry = (
        ("opt/poetry/pyvenv.cfg", b"home = /usr/bin\nversion = 3.11.2\n"),
        ("opt/poetry/bin/python", "->/usr/bin/python3.11"),
        ("opt/poetry/bin/poetry", b"#!/opt/poetry/bin/python\nimport poetry\n", EXE),
        ("root/.cache/pypoetry/virtualenvs/svc-AbC-py3.11/pyvenv.cfg",
         b"home = /usr/bin\nversion = 3.11.2\n"),
        ("root/.cache/pypoetry/virtualenvs/svc-AbC-py3.11/bin/python", "->/usr/bin/python3.11"),
        ("root/.cache/pypoetry/virtualenvs/svc-AbC-py3.11/bin/gunicorn",
         b"#!/root/.cache/pypoetry/virtualenvs/svc-AbC-py3.11/bin/python\n", EXE),
    )  # fmt: skip
    config = {"Cmd": ["/opt/poetry/bin/poetry", "run", "gunicorn", "svc:app"]}
    entry = python.analyse(image(DEBIAN, poetry, config=config)).entrypoint_interpreter
    assert entry.venv == "/root/.cache/pypoetry/virtualenvs/svc-AbC-py3.11"
    assert entry.command_args[1:] == ("svc:app",)


# --- bytecode -------------------------------------------------------------------------------


def test_bytecode_coverage_per_area():
    """stdlib, site-packages and app code each count compiled and missing sources for their tag."""
    app = (
        ("app/", None, {"uid": 10001}),
        ("app/main.py", b"m" * 70),
        ("app/__pycache__/main.cpython-311.pyc", b"p" * 30),
        ("app/util.py", b"u" * 40),
        ("app/pkg/mod.py", b"o" * 5),
        ("app/pkg/__pycache__/mod.cpython-310.pyc", b"p" * 3),
        ("usr/share/doc/example.py", b"ignored"),
        ("root/.cache/uv/archive-v0/x/y.py", b"ignored"),
    )
    config = {"Env": [f"PATH={VENV_PATH}"], "Cmd": ["python", "/app/main.py"],
              "WorkingDir": "/app"}  # fmt: skip
    facts = bytecode.analyse(image(DEBIAN, VENV, app, config=config))
    std = facts.stdlib
    assert (std.modules, std.compiled, std.missing) == (3, 1, 2)
    assert std.examples == ("/usr/lib/python3.11/_sysconfigdata__x86_64-linux-gnu.py",
                            "/usr/lib/python3.11/json/__init__.py")  # fmt: skip
    assert std.cache_tags == ("cpython-311",)
    site = facts.site_packages
    # Only the venv's site-packages count: it does not include the system's (Debian's
    # dist-packages, holding six and requests, is not on its path). flask/app (only a 3.12
    # pyc) missing; flask/__init__ and cli compiled.
    assert (site.modules, site.compiled, site.missing, site.missing_bytes) == (3, 2, 1, 200)
    assert site.pyc_tags == ("cpython-311", "cpython-312")
    assert (site.pyc_files, site.pyc_bytes) == (3, 8 + 9 + 1)
    app_area = facts.application
    assert facts.application_cache_tag == "cpython-311"
    assert (app_area.modules, app_area.compiled, app_area.missing) == (3, 1, 2)
    assert app_area.examples == ("/app/pkg/mod.py", "/app/util.py")
    assert app_area.roots == ("/app",)
    assert app_area.pyc_tags == ("cpython-310", "cpython-311")
    assert app_area.dir_owner_uid in (0, 10001)
    assert app_area.pycache_owner_uid == 0


def test_bytecode_owner_is_the_most_common_source_dir_owner():
    """The app area's directory owner is the uid most of its source dirs carry."""
    app = tuple((f"srv/p{i}/", None, {"uid": 1000, "mode": 0o775}) for i in range(3)) + tuple(
        (f"srv/p{i}/m.py", b"x") for i in range(3)
    )
    facts = bytecode.analyse(image(SLIM, app))
    assert (facts.application.dir_owner_uid, facts.application.dir_mode) == (1000, 0o775)
    assert facts.application.roots == ("/srv",)
    assert facts.application_cache_tag == "cpython-312"


def test_bytecode_without_any_interpreter_accepts_any_tag():
    """With no interpreter known, a pyc of any tag counts as compiled."""
    facts = bytecode.analyse(image((("app/a.py", b"a"), ("app/__pycache__/a.cpython-39.pyc", b"p"),
                                    ("app/b.py", b"b"))))  # fmt: skip
    assert facts.application_cache_tag is None
    assert (facts.application.compiled, facts.application.missing) == (1, 1)


# --- caches ---------------------------------------------------------------------------------

PIP_CACHE = (("root/.cache/pip/http-v2/a/b", b"a" * 100),
             ("root/.cache/pip/wheels/c.whl", b"w" * 50),
             ("home/app/.cache/pip/http/x", b"x" * 7))  # fmt: skip


def test_pip_cache_visible():
    """A pip cache left in place counts as visible bytes in the layer that wrote it."""
    result = caches.analyse(image(PIP_CACHE, steps=["RUN pip install flask"]))
    pip = result.pip
    assert (pip.visible_bytes, pip.visible_files, pip.deleted_bytes) == (157, 3, 0)
    assert pip.paths == ("/home/app/.cache/pip", "/root/.cache/pip")
    assert pip.layers == (caches.CacheLayer(0, "RUN pip install flask", 157, 3, None, None),)
    assert result.uv.visible_bytes == result.apt_lists.visible_bytes == 0


def test_pip_cache_deleted_by_a_later_layer_still_ships():
    """A directory whiteout in a later RUN hides the cache but its bytes stay in the image."""
    steps = ["RUN pip install flask", "RUN rm -rf /root/.cache/pip"]
    data = image(PIP_CACHE[:2], (("root/.cache/.wh.pip", b""),), steps=steps)
    pip = caches.analyse(data).pip
    assert (pip.visible_bytes, pip.visible_files) == (0, 0)
    assert (pip.deleted_bytes, pip.deleted_files) == (150, 2)
    (entry,) = pip.layers
    assert (entry.layer, entry.created_by, entry.bytes_added) == (0, steps[0], 150)
    assert (entry.deleted_in, entry.deleted_by) == (1, steps[1])
    assert pip.paths == ("/root/.cache/pip",)


def test_cache_dirs_from_env_and_other_tools():
    """PIP_CACHE_DIR, uv and poetry caches are found where they are."""
    members = (("tmp/pipc/http/a", b"a" * 3), ("root/.cache/uv/archive-v0/x", b"u" * 4),
               ("root/.cache/pypoetry/cache/y", b"p" * 5),
               ("root/.cache/other/z", b"o"))  # fmt: skip
    result = caches.analyse(image(members, config={"Env": ["PIP_CACHE_DIR=/tmp/pipc/"]}))
    assert (result.pip.visible_bytes, result.pip.paths) == (3, ("/tmp/pipc",))
    assert (result.uv.visible_bytes, result.poetry.visible_bytes) == (4, 5)


def test_apt_lists_archives_and_apk():
    """apt lists (not lock or partial/), .deb archives, pkgcache.bin and apk caches are counted."""
    members = (
        ("var/lib/apt/lists/mirror.example_debian_dists_bookworm_main_binary-amd64_Packages.lz4",
         b"l" * 1000),
        ("var/lib/apt/lists/lock", b""),
        ("var/lib/apt/lists/partial/half", b"h" * 9),
        ("var/cache/apt/archives/python3_3.11.2-1_amd64.deb", b"d" * 300),
        ("var/cache/apt/archives/lock", b""),
        ("var/cache/apt/pkgcache.bin", b"b" * 20),
        ("var/cache/apk/APKINDEX.abc.tar.gz", b"k" * 11),
    )  # fmt: skip
    steps = ["RUN apt-get update && apt-get install -y python3"]
    result = caches.analyse(image(members, steps=steps))
    assert (result.apt_lists.visible_bytes, result.apt_lists.visible_files) == (1000, 1)
    assert result.apt_lists.paths == ("/var/lib/apt/lists",)
    assert (result.apt_archives.visible_bytes, result.apt_archives.visible_files) == (320, 2)
    assert result.apk.visible_bytes == 11
    assert result.apt_lists.layers[0].created_by == steps[0]


def test_facts_are_json_serialisable():
    """asdict of every analyser's facts dumps to JSON with no custom encoder."""
    config = {"Env": [f"PATH={VENV_PATH}"], "Cmd": ["python", "-m", "app"]}
    data = image(DEBIAN, VENV, PIP_CACHE, config=config)
    for facts in (python.analyse(data), bytecode.analyse(data), caches.analyse(data)):
        assert json.loads(json.dumps(asdict(facts)))
