"""How the probes tell an app that cannot start from one waiting for its settings (pure parts):
the exit classifier, the import target read from the command, the import smoke test itself."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import pytest

from inspector.probes import static
from inspector.probes.exits import KINDS, classify
from inspector.probes.plan import ImportTarget, ProbePlan, TmpDir, import_target, module_index

TRACEBACK = "Traceback (most recent call last):"


@pytest.mark.parametrize(
    ("tail", "code", "kind", "subject"),
    [
        ([TRACEBACK, '  File "/srv/svc.py", line 5, in <module>', "    import yaml",
          "ModuleNotFoundError: No module named 'yaml'"], 1, "missing-module", "yaml"),
        (["/usr/bin/python3: No module named svc"], 1, "missing-module", "svc"),
        ([TRACEBACK, '  File "/srv/app.py", line 3, in <module>',
          "ImportError: libpq.so.5: cannot open shared object file: No such file or directory"],
         1, "missing-library", "libpq.so.5"),
        (["python3: error while loading shared libraries: libexpat.so.1: cannot open shared "
          "object file: No such file or directory"], 127, "missing-library", "libexpat.so.1"),
        ([TRACEBACK, '  File "/srv/app.py", line 2, in <module>',
          "ImportError: cannot import name 'Foo' from 'bar' (/x/bar.py)"], 1, "import-error",
         "Foo from bar"),
        (['  File "/srv/app.py", line 4', "    match x:", "          ^",
          "SyntaxError: invalid syntax"], 1, "syntax-error", "/srv/app.py:4"),
        ([TRACEBACK, '  File "/srv/app.py", line 9, in <module>',
          "ZeroDivisionError: division by zero"], 1, "python-exception",
         "ZeroDivisionError: division by zero"),
        (["exec /usr/local/bin/svc: exec format error"], 1, "wrong-architecture",
         "/usr/local/bin/svc"),
        (["/entrypoint.sh: 3: exec: gunicorn: not found"], 127, "missing-executable", "gunicorn"),
        (["python3: can't open file '/srv/main.py': [Errno 2] No such file or directory"], 2,
         "missing-executable", "/srv/main.py"),
        (["/bin/sh: 1: /srv/run.sh: Permission denied"], 126, "permission-denied", "/srv/run.sh"),
        (["fatal: DATABASE_URL is not set; cannot connect to the database"], 3, "needs-config",
         "DATABASE_URL"),
        ([TRACEBACK, '  File "/srv/settings.py", line 2, in <module>',
          "    SECRET = os.environ['SECRET_KEY']", '  File "<frozen os>", line 679, in __getitem__',
          "KeyError: 'SECRET_KEY'"], 1, "needs-config", "SECRET_KEY"),
        ([TRACEBACK, "pydantic_core._pydantic_core.ValidationError: 1 validation error for "
          "Settings", "database_url", "  Field required [type=missing]"], 1, "needs-config",
         "database_url"),
        ([TRACEBACK, '  File "/srv/db.py", line 3, in connect',
          "psycopg2.OperationalError: connection to server at \"db\" (10.0.0.5), port 5432 failed: "
          "Connection refused"], 1, "needs-service", None),
        (["redis.exceptions.ConnectionError: Error connecting to redis:6379. Name or service not "
          "known."], 1, "needs-service", "redis:6379"),
        (["usage: svc [-h] --config CONFIG", "svc: error: the following arguments are required: "
          "--config"], 2, "needs-config", None),
        (["bye"], 2, "unexplained", None),
        (["done"], 0, "finished", None),
    ],
)  # fmt: skip
def test_exit_causes_are_read_from_the_log_and_status(tail, code, kind, subject):
    """Each way an app stops at start gets its kind, its verdict and what its log line names."""
    cause = classify(tail, code, False)
    assert (cause.kind, cause.verdict) == (kind, KINDS[kind])
    assert cause.subject == subject
    if kind not in ("finished",):
        assert cause.line
        assert cause.line in "\n".join(tail)


def test_an_oom_kill_is_memory_not_a_missing_database():
    """The kernel's OOM kill is its own inconclusive cause, whatever the log says."""
    cause = classify(["could not connect to server"], 137, True)
    assert (cause.kind, cause.verdict) == ("out-of-memory", "inconclusive")


def test_a_huge_log_line_is_judged_on_its_start_only():
    """A 200,000-character log line is cut before any pattern sees it."""
    cause = classify(["x" * 200_000 + " No module named yaml"], 1, False)
    assert cause.kind == "unexplained"
    assert len(cause.line or "") <= 300


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["-m", "svc"], {}, ImportTarget("python -m svc", (("module", "svc"),))),
        (["/srv/app.py"], {}, ImportTarget("python /srv/app.py", (("script", "/srv/app.py"),))),
        (["/opt/venv/bin/gunicorn", "--bind", "0.0.0.0:8000", "-w", "2", "wsgi:app"], {},
         ImportTarget("gunicorn wsgi:app", (("script", "/opt/venv/bin/gunicorn"),
                                            ("import", "wsgi"), ("attribute", "wsgi:app")))),
        (["/opt/venv/bin/uvicorn", "main:app", "--app-dir", "src", "--host", "0.0.0.0"], {},
         ImportTarget("uvicorn main:app", (("script", "/opt/venv/bin/uvicorn"), ("import", "main"),
                                           ("attribute", "main:app")), "src")),
        (["/usr/local/bin/celery", "-A", "proj", "worker"], {},
         ImportTarget("celery proj", (("script", "/usr/local/bin/celery"), ("import", "proj")))),
        (["/usr/local/bin/flask", "run"], {"FLASK_APP": "src/app.py"},
         ImportTarget("flask app", (("script", "/usr/local/bin/flask"), ("import", "app")),
                      "src")),
        (["/usr/local/bin/flask", "--app", "pkg:create_app()", "run"], {},
         ImportTarget("flask pkg", (("script", "/usr/local/bin/flask"), ("import", "pkg")))),
        (["/opt/venv/bin/mytool", "serve"], {},
         ImportTarget("mytool", (("script", "/opt/venv/bin/mytool"),))),
        (["-c", "print(1)"], {}, None),
    ],
)  # fmt: skip
def test_the_import_target_follows_the_command(args, env, expected):
    """python -m, scripts, app servers, celery, flask and console scripts name what to import."""
    assert import_target(args, env) == expected


@pytest.mark.parametrize(
    ("args", "steps"),
    [
        # gunicorn's bare module means MODULE:application; option values are not the module.
        (["/v/bin/gunicorn", "config.wsgi", "--bind", "0.0.0.0:5000", "--chdir=/app"],
         ("config.wsgi", "config.wsgi:application")),
        (["/v/bin/gunicorn", "-k", "uvicorn.workers.UvicornWorker", "-w", "2", "proj.asgi"],
         ("proj.asgi", "proj.asgi:application")),
        (["/v/bin/gunicorn", "--preload", "wsgi"], ("wsgi", "wsgi:application")),
        # a factory call names the function; uvicorn --factory names it without the call.
        (["/v/bin/gunicorn", "app:create_app()"], ("app", "app:create_app")),
        (["/v/bin/uvicorn", "--factory", "svc.main:build", "--port", "8000"],
         ("svc.main", "svc.main:build")),
        (["-m", "gunicorn", "-b", ":8000", "wsgi:app"], ("wsgi", "wsgi:app")),
    ],
)  # fmt: skip
def test_app_servers_name_the_module_and_the_object_they_load(args, steps):
    """gunicorn/uvicorn targets give the module to import and the attribute it must define."""
    target = import_target(args, {})
    assert target is not None
    assert target.steps[-2:] == (("import", steps[0]), ("attribute", steps[1]))
    assert target.command.endswith(steps[1])


def test_module_index_lists_top_level_names_per_site_dir():
    """Packages, modules and extensions count; metadata, caches and .pth files do not."""
    site = "/opt/venv/lib/python3.11/site-packages"
    paths = [f"{site}/rich/__init__.py", f"{site}/rich-13.9.4.dist-info/METADATA",
             f"{site}/six.py", f"{site}/_yaml.cpython-311-x86_64-linux-gnu.so",
             f"{site}/distutils-precedence.pth", f"{site}/__pycache__/six.cpython-311.pyc",
             "/usr/lib/python3/dist-packages/rich/__init__.py",
             "/srv/rich/__init__.py"]  # fmt: skip
    index = module_index(paths)
    assert index == {"rich": (site, "/usr/lib/python3/dist-packages"), "six": (site,),
                     "_yaml": (site,)}  # fmt: skip
    plan = dataclasses.replace(PLAN, modules=index)
    assert plan.installed_elsewhere("rich.console", ["/usr/lib/python3/dist-packages"]) == (site,)


PLAN = ProbePlan("sha256:" + "0" * 64, "amd64", sys.executable, None, None, None,
                 TmpDir(0o1777, 0, 0))  # fmt: skip


def _smoke(tmp_path, target: ImportTarget, timeout: float = 60) -> dict:
    plan = dataclasses.replace(PLAN, imports=target)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", static.script(plan, timeout)],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    line = next(x for x in out.stdout.splitlines() if x.startswith(static.MARKER))
    return json.loads(line[len(static.MARKER) :])["imports"]


def test_smoke_test_finds_a_missing_module_where_the_module_imports_it(tmp_path):
    """`python -m svc` whose svc.py imports a missing module: ModuleNotFoundError at svc.py:3."""
    (tmp_path / "svc.py").write_text("import os\n\nimport no_such_module_here\nmain()\n")
    found = _smoke(tmp_path, ImportTarget("python -m svc", (("module", "svc"),)))
    assert (found["status"], found["exception"], found["module"]) == (
        "failed",
        "ModuleNotFoundError",
        "no_such_module_here",
    )
    assert found["location"] == f"{tmp_path}/svc.py:3"
    assert found["imported"] == ["os"]


def test_smoke_test_never_runs_the_app_and_skips_optional_imports(tmp_path):
    """A package's __main__ is compiled, not run; imports guarded by `except ImportError` are
    optional; relative imports resolve against the package."""
    pkg = tmp_path / "app"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "server.py").write_text("def main():\n    raise SystemExit('ran')\n")
    (pkg / "__main__.py").write_text(
        "try:\n    import ujson\nexcept ImportError:\n    ujson = None\n"
        "from .server import main\nfrom json import dumps\nmain()\n"
    )
    found = _smoke(tmp_path, ImportTarget("python -m app", (("module", "app"),)))
    assert found["status"] == "ok", found
    assert found["imported"] == ["app", "app.server", "json"]


def test_smoke_test_reports_syntax_errors_and_missing_names(tmp_path):
    """A script that does not compile is a SyntaxError at its line; `from x import missing` an
    ImportError naming the module."""
    (tmp_path / "bad.py").write_text("import os\ndef f(:\n    pass\n")
    found = _smoke(tmp_path, ImportTarget("python bad.py", (("script", "bad.py"),)))
    assert (found["exception"], found["location"]) == ("SyntaxError", f"{tmp_path}/bad.py:2")
    (tmp_path / "names.py").write_text("from json import no_such_name\n")
    found = _smoke(tmp_path, ImportTarget("python names.py", (("script", "names.py"),)))
    assert (found["exception"], found["module"]) == ("ImportError", "json")


def test_smoke_test_imports_an_app_servers_module_from_the_working_directory(tmp_path):
    """`gunicorn wsgi:app`: the module is imported from the working directory, as gunicorn does."""
    (tmp_path / "wsgi.py").write_text("import json\napp = object()\n")
    found = _smoke(tmp_path, ImportTarget("gunicorn wsgi", (("import", "wsgi"),)))
    assert found["status"] == "ok"
    assert found["imported"] == ["wsgi"]


def test_smoke_test_names_the_app_object_the_module_lacks(tmp_path):
    """`gunicorn app:app` whose app.py defines no `app`: failed with the attribute, the module
    and its file, and the probe's verdict is broken; an object that exists passes."""
    (tmp_path / "app.py").write_text("import json\napplication = object()\n")
    target = ImportTarget("gunicorn app:app", (("import", "app"), ("attribute", "app:app")))
    found = _smoke(tmp_path, target)
    assert (found["status"], found["exception"], found["attribute"], found["module"]) == (
        "failed", "AttributeError", "app", "app")  # fmt: skip
    assert found["location"] == f"{tmp_path}/app.py"
    plan = dataclasses.replace(PLAN, imports=target)
    check = static.import_check(found, plan, [])
    assert (check.verdict, check.attribute) == ("broken", "app")
    target = ImportTarget("gunicorn app", (("import", "app"), ("attribute", "app:application")))
    assert _smoke(tmp_path, target)["status"] == "ok"


def test_an_attribute_error_raised_while_importing_is_not_a_missing_app_object():
    """An AttributeError the module's own code raises as it imports is no missing app object."""
    plan = dataclasses.replace(PLAN, imports=ImportTarget("gunicorn a:app", (("import", "a"),)))
    raised = {"status": "failed", "exception": "AttributeError", "message": "'NoneType' ..."}
    assert static.import_check(raised, plan, []).verdict == "inconclusive"


@pytest.mark.parametrize(
    ("args", "command", "steps"),
    [
        (["/v/bin/fastapi", "dev", "--host", "0.0.0.0", "src/svc"], "fastapi src/svc",
         (("path", "src/svc"),)),
        (["/v/bin/fastapi", "run", "--workers", "4", "--app", "api", "main.py"],
         "fastapi main.py", (("path", "main.py"), ("attribute", ":api"))),
        (["/v/bin/fastapi", "run", "--entrypoint", "svc.main:app"], "fastapi svc.main:app",
         (("import", "svc.main"), ("attribute", "svc.main:app"))),
    ],
)  # fmt: skip
def test_fastapis_cli_names_the_path_or_entrypoint_it_imports(args, command, steps):
    """`fastapi run|dev PATH`, `--app` and `--entrypoint` give what FastAPI's CLI imports."""
    target = import_target(args, {})
    assert target is not None
    assert (target.command, target.steps[1:]) == (command, steps)


def test_smoke_test_imports_a_path_as_its_package_module(tmp_path):
    """`fastapi dev src/svc`: svc is imported with src on sys.path (no __init__.py in src), and
    `--app` names the object it must define."""
    pkg = tmp_path / "src" / "svc"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("import json\napp = object()\n")
    found = _smoke(tmp_path, ImportTarget("fastapi src/svc", (("path", "src/svc"),)))
    assert (found["status"], found["imported"]) == ("ok", ["svc"])
    target = ImportTarget("fastapi src/svc", (("path", "src/svc"), ("attribute", ":api")))
    found = _smoke(tmp_path, target)
    assert (found["attribute"], found["module"]) == ("api", "svc")


def test_smoke_test_runs_where_the_start_script_moved(tmp_path):
    """An import target with a cwd imports the app server's module from that directory."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "wsgi.py").write_text("app = object()\n")
    target = ImportTarget("gunicorn wsgi:app", (("import", "wsgi"), ("attribute", "wsgi:app")),
                          cwd=str(site))  # fmt: skip
    assert _smoke(tmp_path, target)["status"] == "ok"


def test_smoke_test_of_a_module_that_never_returns_times_out(tmp_path):
    """A module that serves forever as it is imported is a timeout, and the probe still reports."""
    (tmp_path / "serve.py").write_text("import time\nwhile True:\n    time.sleep(1)\n")
    found = _smoke(tmp_path, ImportTarget("gunicorn serve", (("import", "serve"),)), timeout=3)
    assert found["status"] == "timeout"


def test_import_check_verdicts_and_where_a_missing_module_lives():
    """A missing module is broken, with the site dirs off sys.path that have it; a KeyError at
    import (a setting) is inconclusive; success passes."""
    site = "/opt/venv/lib/python3.11/site-packages"
    plan = dataclasses.replace(PLAN, imports=ImportTarget("python -m svc", (("module", "svc"),)),
                               modules={"rich": (site,)})  # fmt: skip
    missing = {"status": "failed", "exception": "ModuleNotFoundError", "module": "rich.console",
               "message": "No module named 'rich'", "imported": ["time"]}  # fmt: skip
    check = static.import_check(missing, plan, ["/usr/lib/python3.11"])
    assert (check.verdict, check.found_elsewhere, check.imported) == ("broken", (site,), ("time",))
    assert static.import_check(missing, plan, [site]).found_elsewhere == ()
    setting = {"status": "failed", "exception": "KeyError", "message": "'SECRET_KEY'"}
    assert static.import_check(setting, plan, []).verdict == "inconclusive"
    assert static.import_check({"status": "ok"}, plan, []).verdict == "passed"
    assert static.import_check(None, plan, []).status == "not-run"
