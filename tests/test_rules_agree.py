"""Rules that agree with each other, and locations, fixes and units a user can act on.

Checks are pure functions of the facts, so most cases drive them with facts shaped as the
analysers and probes write them; the images that reproduce each case are the `ru-*` fixtures
(tests/golden/audit/ru-*.txt says which checks each must fail).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from checks import catalog
from checks.engine import run_check
from checks.model import CheckResult, Context, Finding, Location, shorten
from checks.operability import server_in
from inspector.probes import static
from inspector.probes.plan import ImportTarget, ProbePlan
from inspector.report import json as render_json
from inspector.report.facts_text import size as facts_size
from inspector.report.model import ImageReport

CHECKS = catalog()
NOW = Context(now=datetime(2026, 12, 7, tzinfo=UTC))
PIP_STEP = "RUN /bin/sh -c pip install -r requirements.txt # buildkit"


def findings(check_id: str, facts: dict[str, Any], context: Context = NOW) -> list[Finding]:
    result = run_check(CHECKS[check_id], facts, context)
    assert result.status in ("passed", "failed"), result.reason
    return list(result.findings)


# --- layer numbers ------------------------------------------------------------------------------


def test_a_location_numbers_layers_from_one_and_names_the_step():
    """The facts' layer index 3 reads "layer 4" (1 is the base), with the step that made it."""
    where = Location(path="/root/.cache/pip", layer=3, created_by=PIP_STEP)
    assert where.describe() == "/root/.cache/pip; layer 4: RUN pip install -r requirements.txt"
    assert Location(layer=0).describe() == "layer 1"
    step = Location(created_by="/bin/sh -c #(nop)  ENV A=b").describe()
    assert step == "history step: ENV A=b"


def test_json_report_layer_field_matches_its_where_line():
    """The JSON location's `layer` is the number `where` shows, not the 0-based index."""
    finding = Finding("SIZE002", "low", "pip's cache", Location(layer=3, created_by=PIP_STEP), "x")
    report = ImageReport("app:1", "sha256:ab", None,
                         (CheckResult(CHECKS["SIZE002"], "failed", (finding,)),))  # fmt: skip
    rendered = json.loads(render_json.render([report]))["images"][0]["results"][0]["findings"][0]
    assert rendered["location"]["layer"] == 4
    assert rendered["where"].startswith("layer 4: RUN pip install")


def test_layer_messages_number_layers_like_the_location():
    """A cache deleted by a later layer names both layers by number, as its location does."""
    facts = {
        "layers": [{"created_by": "base"}, {"created_by": "RUN apt-get update"},
                   {"created_by": "RUN rm -rf /var/lib/apt/lists"}],
        "caches": {"apt_lists": {"visible_bytes": 0, "deleted_bytes": 30 * 1024 * 1024,
                                 "paths": ["/var/lib/apt/lists"],
                                 "layers": [{"layer": 1, "bytes_added": 30 * 1024 * 1024,
                                             "files": 9, "deleted_in": 2}]}},
    }  # fmt: skip
    (found,) = findings("SIZE001", facts)
    assert "written by layer 2 and deleted in layer 3" in found.message
    assert "layer 2: RUN apt-get update" in found.location.describe()


# --- one size formatter -------------------------------------------------------------------------


def test_sizes_use_one_binary_formatter_in_checks_and_the_facts_summary():
    """PY002 says 27.6 MiB, not raw bytes; the facts summary says MiB, not MB."""
    area = {"missing": 900, "modules": 1000, "missing_bytes": 28_940_697, "roots": ["/app"],
            "examples": ["/app/a.py"], "dir_owner_uid": 0, "dir_mode": 0o755}  # fmt: skip
    facts = {"python": {"interpreters": [{"path": "/usr/bin/python3"}],
                        "bytecode": {"application": area}}}  # fmt: skip
    (found,) = findings("PY002", facts)
    assert "(27.6 MiB)" in found.message
    assert "bytes" not in found.message
    assert facts_size(28_940_697) == "27.6 MiB"


# --- SEC005: a location cut at a safe place -----------------------------------------------------

REDACTED_STEP = (
    "RUN |2 API_TOKEN=<40 chars, fingerprint f5eaf1e7> PIP_INDEX_URL=<database URL with a "
    "password: 52 chars, fingerprint 0a1b2c3d> /bin/sh -c pip install --no-cache-dir -r "
    "requirements.txt # buildkit"
)


def test_build_step_with_redacted_arguments_reads_as_its_command():
    """SEC005's location shows the RUN command, not the middle of a redaction placeholder."""
    secret = {"where": "history", "kind": "secret-variable", "name": "API_TOKEN", "step": 5,
              "hint": "40 chars, fingerprint f5eaf1e7", "layer": 3,
              "created_by": REDACTED_STEP}  # fmt: skip
    (found,) = findings("SEC005", {"history": [{"created_by": REDACTED_STEP}],
                                   "secrets": [secret]})  # fmt: skip
    where = found.location.describe()
    assert where.startswith("layer 4: RUN pip install --no-cache-dir -r requirements"), where
    assert "fingerprint f5eaf1e7>" not in where


def test_shortened_text_is_never_cut_inside_a_placeholder():
    """A cut that would fall inside `<... fingerprint ...>` drops the whole placeholder."""
    text = "ENV A=1 B=<40 chars, fingerprint f5eaf1e7> C=3"
    cut = shorten(text, 30)
    assert cut == "ENV A=1 B=…"
    assert shorten(text, 80) == text


# --- SIZE001: the fix names the cache that is there ---------------------------------------------

APT_STEP = ("RUN /bin/sh -c apt-get update && apt-get install -y libpq5 "
            "&& rm -rf /var/lib/apt/lists/* # buildkit")  # fmt: skip


def test_apt_cache_fix_says_apt_get_clean_to_a_step_that_already_removes_the_lists():
    """Bytes in /var/cache/apt from a step that removes the lists: the fix is `apt-get clean`."""
    facts = {
        "layers": [{"created_by": "base"}, {"created_by": APT_STEP}],
        "caches": {"apt_archives": {"visible_bytes": 12 * 1024 * 1024, "deleted_bytes": 0,
                                    "paths": ["/var/cache/apt"],
                                    "layers": [{"layer": 1, "bytes_added": 12 * 1024 * 1024,
                                                "files": 3}]}},
    }  # fmt: skip
    (found,) = findings("SIZE001", facts)
    assert "apt-get clean" in found.fix
    assert "layer 2's step (`RUN apt-get update && apt-get install" in found.fix
    assert "already removes /var/lib/apt/lists; these bytes are in /var/cache/apt" in found.fix
    assert "rm -rf /var/lib/apt/lists/*`" not in found.fix.split("It already")[0]


def test_apt_lists_fix_names_the_lists():
    """Bytes in /var/lib/apt/lists: the fix removes the lists in the step that wrote them."""
    facts = {
        "layers": [{"created_by": "base"}, {"created_by": "RUN /bin/sh -c apt-get update"}],
        "caches": {"apt_lists": {"visible_bytes": 20 * 1024 * 1024, "deleted_bytes": 0,
                                 "paths": ["/var/lib/apt/lists"],
                                 "layers": [{"layer": 1, "bytes_added": 20 * 1024 * 1024,
                                             "files": 9}]}},
    }  # fmt: skip
    (found,) = findings("SIZE001", facts)
    assert found.fix.startswith("End layer 2's step (`RUN apt-get update`) with `rm -rf "
                                "/var/lib/apt/lists/*`")  # fmt: skip
    assert "apt-get clean" not in found.fix


# --- SEC007: a setuid interpreter is root for anyone -------------------------------------------


def _privileged(path: str, mode: str = "4755", gid_bit: bool = False) -> dict[str, Any]:
    return {"path": path, "kind": "file", "mode": mode, "uid": 0, "gid": 0,
            "setuid": not gid_bit, "setgid": gid_bit, "layer": 2, "created_by": None}  # fmt: skip


def test_setuid_copy_of_python_is_critical_and_says_why():
    """A setuid-root copy of python (any name the analyser knows as an interpreter) is critical."""
    copy = _privileged("/usr/local/bin/rootpy")
    facts = {
        "setuid": [copy, _privileged("/usr/local/bin/helper")],
        "setgid": [],
        "python": {"interpreters": [{"path": "/usr/local/bin/rootpy"}]},
        "layers": [{}, {}, {"created_by": "RUN /bin/sh -c chmod u+s /usr/local/bin/rootpy"}],
    }
    by_path = {f.location.path: f for f in findings("SEC007", facts)}
    found = by_path["/usr/local/bin/rootpy"]
    assert found.severity == "critical"
    assert found.rule == "setuid-interpreter"
    assert "a Python interpreter" in found.message
    assert "anyone who can run it is root" in found.message
    assert "chmod a-s /usr/local/bin/rootpy" in found.fix
    assert by_path["/usr/local/bin/helper"].severity == "medium"


def test_setgid_root_shell_is_high():
    """A setgid-root shell gives group root to anyone: high, not medium."""
    facts = {"setuid": [], "setgid": [_privileged("/opt/bin/bash", "2755", gid_bit=True)]}
    (found,) = findings("SEC007", facts)
    assert (found.severity, found.rule) == ("high", "setuid-interpreter")


# --- OPS004: keyed on what the command runs, not on EXPOSE ---------------------------------------


def test_healthcheck_missing_follows_the_server_command_not_expose():
    """`fastapi run --workers 4` with no EXPOSE is reported; a batch job with EXPOSE is not."""
    fastapi = {"config": {"healthcheck": None, "exposed_ports": None,
                          "cmd": ["fastapi", "run", "--workers", "4", "app/main.py"]}}  # fmt: skip
    (found,) = findings("OPS004", fastapi)
    assert found.message == "the image declares no HEALTHCHECK, yet it serves with `fastapi run`"
    batch = {"config": {"healthcheck": None, "exposed_ports": ["8888/tcp"],
                        "cmd": ["kedro", "run"]}}  # fmt: skip
    assert findings("OPS004", batch) == []


def test_known_servers_are_recognised_in_every_form():
    """Server programs, `python -m`, subcommands with options between, and `manage.py runserver`."""
    assert server_in(["/opt/venv/bin/gunicorn", "app:app"]) == "gunicorn"
    assert server_in(["python", "-m", "uvicorn", "app:app"]) == "python -m uvicorn"
    assert server_in(["flask", "--app", "hello", "run", "--host", "0.0.0.0"]) == "flask run"
    assert server_in(["python", "manage.py", "runserver", "0.0.0.0:8000"]) == "manage.py runserver"
    assert server_in(["waitress-serve", "--port=8080", "app:app"]) == "waitress-serve"
    assert server_in(["python", "-m", "app.nightly"]) is None
    assert server_in(["celery", "-A", "proj", "worker"]) is None


# --- OPS013: a health check that never contacts the app ----------------------------------------


def test_import_only_healthcheck_checks_nothing():
    """`python -c "import app"` and `sys.exit(0)` are reported; an HTTP probe is not."""
    imports = {"config": {"healthcheck": {"Test": ["CMD", "python", "-c", "import app"]}}}
    (found,) = findings("OPS013", imports)
    assert found.message.startswith("HEALTHCHECK `python -c import app` succeeds without")
    assert found.location.describe() == "config Healthcheck"
    exits = {"config": {"healthcheck": {"Test": ["CMD-SHELL", "python -c 'import sys; "
                                                 "sys.exit(0)'"]}}}  # fmt: skip
    assert len(findings("OPS013", exits)) == 1
    http = {
        "config": {
            "healthcheck": {
                "Test": [
                    "CMD",
                    "python",
                    "-c",
                    "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/')",
                ]
            }
        }
    }
    assert findings("OPS013", http) == []


# --- PY010: wheels built from requirements are judged like `pip install -r` --------------------

WHEEL_STEP = "RUN /bin/sh -c pip install --no-cache-dir /wheels/* && rm -rf /wheels # buildkit"
REQ_STEP = "RUN /bin/sh -c pip install --no-cache-dir -r requirements.txt # buildkit"


def _pip_facts(step: str, lock: dict[str, Any]) -> dict[str, Any]:
    """An app at /app with requirements.txt, one install step in layer 3 and what it installed."""
    installed = ["flask", "werkzeug", "jinja2", "markupsafe", "itsdangerous", "click", "blinker"]
    return {
        "history": [{"created_by": "WORKDIR /app", "layer": None},
                    {"created_by": step, "layer": 3}],
        "layers": [{}, {}, {}, {"created_by": step}],
        "config": {"env": {}},
        "python": {
            "lock_files": [{"path": "/app/requirements.txt", "kind": "requirements", "layer": 2,
                            "includes": [], **lock}],
            "packages": [{"name": n, "version": "3.0.0", "layer": 3, "installer": "pip",
                          "environment": "/usr/local"} for n in installed],
            "entrypoint_interpreter": {"base_interpreter": "/usr/local/bin/python3.11"},
            "interpreters": [{"path": "/usr/local/bin/python3.11", "prefix": "/usr/local"}],
        },
    }  # fmt: skip


def test_wheel_install_from_unpinned_requirements_is_judged_like_pip_install_r():
    """`pip install /wheels/*` of wheels built from `flask>=2` gets the same finding as `-r`."""
    loose = {"pins": [], "unpinned": ["flask"], "requirements": ["flask>=2"]}
    (by_r,) = findings("PY010", _pip_facts(REQ_STEP, loose))
    (by_wheels,) = findings("PY010", _pip_facts(WHEEL_STEP, loose))
    assert (by_wheels.rule, by_wheels.severity) == (by_r.rule, by_r.severity)
    assert by_wheels.rule == "unpinned-requirements"
    assert "the step installs wheels built from it" in by_wheels.message
    assert by_wheels.location.path == "/app/requirements.txt"


def test_wheel_install_of_direct_pins_reports_unlocked_transitive_dependencies():
    """Wheels built from `flask==3.0.0` alone: the six transitive dependencies are not locked."""
    direct = {"pins": ["flask==3.0.0"], "unpinned": [], "requirements": ["flask==3.0.0"]}
    by_r = findings("PY010", _pip_facts(REQ_STEP, direct))
    by_wheels = findings("PY010", _pip_facts(WHEEL_STEP, direct))
    assert [(f.rule, f.severity) for f in by_wheels] == [(f.rule, f.severity) for f in by_r]
    assert [f.rule for f in by_wheels] == ["not-in-lock"]
    assert "6 installed distribution(s) are not pinned by /app/requirements.txt" in (
        by_wheels[0].message
    )


def test_no_index_does_not_count_as_locked():
    """`pip install --no-index --find-links /wheels -r requirements.txt` of `flask>=2` is judged."""
    loose = {"pins": [], "unpinned": ["flask"], "requirements": ["flask>=2"]}
    step = "RUN /bin/sh -c pip install --no-index --find-links /wheels -r requirements.txt"
    assert [f.rule for f in findings("PY010", _pip_facts(step, loose))] == ["unpinned-requirements"]


# --- PY002: what a start really compiles, and a fix naming the finding's directories -----------


def _bytecode_facts(**probe: Any) -> dict[str, Any]:
    """A /srv app of 3 uncached sources under a venv Python, with static probe facts."""
    area = {"missing": 3, "modules": 3, "missing_bytes": 854 + 2000 + 70_000, "roots": ["/srv"],
            "examples": ["/srv/app.py", "/srv/jobs/nightly.py", "/srv/py312_intrinsics.py"],
            "dir_owner_uid": 0, "dir_mode": 0o755}  # fmt: skip
    return {
        "config": {"user": "10001"},
        "python": {"interpreters": [{"path": "/usr/bin/python3.11"}],
                   "entrypoint_interpreter": {"interpreter": "/opt/venv/bin/python",
                                              "command_args": ["-m", "app"]},
                   "bytecode": {"application": area}},
        "runtime": {"static": {"status": "ran", "uid": 10001, **probe}},
    }  # fmt: skip


UNCOMPILABLE = {"checked": 3, "complete": True, "uncompilable": [
    {"path": "/srv/py312_intrinsics.py", "size": 854,
     "error": "SyntaxError at line 3: invalid syntax"}]}  # fmt: skip


def test_a_source_this_python_cannot_compile_is_not_uncompiled():
    """The lone 854-byte 3.12-syntax file on a 3.11 Python is not reported as missing a .pyc."""
    facts = _bytecode_facts(app_sources={**UNCOMPILABLE, "checked": 1})
    area = facts["python"]["bytecode"]["application"]
    area.update(missing=1, modules=1, missing_bytes=854, examples=["/srv/py312_intrinsics.py"])
    assert findings("PY002", facts) == []


def test_only_sources_the_command_imports_are_counted():
    """With the import test passed, the uncached sources it loaded are counted, the rest named."""
    imports = {
        "verdict": "passed",
        "status": "ok",
        "app_sources_loaded": 2,
        "app_sources_uncached": ["/srv/app.py"],
        "app_sources_uncached_bytes": 70_000,
    }
    (found,) = findings("PY002", _bytecode_facts(app_sources=UNCOMPILABLE, imports=imports))
    assert found.message.startswith("1 of 3 application code sources (68 KiB) in /srv have no")
    assert "(e.g. /srv/app.py)" in found.message
    assert "1 this Python cannot compile at all (/srv/py312_intrinsics.py: SyntaxError" in (
        found.message
    )
    assert "1 the command does not import at start are not counted" in found.message


def test_compileall_fix_names_the_findings_own_directory_and_python():
    """The fix compiles /srv with the venv's Python, not a generic /app /opt/venv."""
    (found,) = findings("PY002", _bytecode_facts())
    assert found.location.path == "/srv"
    assert (
        "`RUN /opt/venv/bin/python -m compileall -q --invalidation-mode unchecked-hash /srv`"
        in (found.fix)
    )
    assert "/app" not in found.fix


def test_static_probe_report_of_sources_becomes_typed_facts():
    """The probe's compile test and loaded-sources list are read defensively into facts."""
    sources = static.app_sources({"checked": 4, "complete": True, "uncompilable": [
        {"path": "/srv/new.py", "size": 854, "error": "SyntaxError at line 3: invalid syntax"},
        "junk"]})  # fmt: skip
    assert sources is not None
    assert (sources.checked, [u.path for u in sources.uncompilable]) == (4, ["/srv/new.py"])
    assert static.app_sources({"checked": "4"}) is None
    plan = ProbePlan("sha256:ab", None, "/usr/bin/python3", None, "app", None, None,
                     imports=ImportTarget("python -m app", (("module", "app"),)))  # fmt: skip
    report = {"status": "ok", "imported": ["app"], "sources": [
        {"path": "/srv/app/__init__.py", "size": 10, "cached": False},
        {"path": "/srv/app/db.py", "size": 90, "cached": True}]}  # fmt: skip
    check = static.import_check(report, plan, [])
    assert check is not None
    assert check.app_sources_loaded == 2
    assert check.app_sources_uncached == ("/srv/app/__init__.py",)
    assert check.app_sources_uncached_bytes == 10
