"""One cause, one finding: facts shaped as real images showed them, each cause counted across every
check that could report it (checks are pure functions of facts, so no engine is needed)."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from checks import catalog
from checks.engine import run_check
from checks.model import Context, Finding, Thresholds
from inspector.report.fingerprint import fingerprint, legacy_fingerprint

CHECKS = catalog()
EXAMPLES = Path(__file__).parent / "check_examples"
NOW = Context(now=datetime(2026, 12, 7, tzinfo=UTC))
SIZE_CHECKS = ("SIZE001", "SIZE002", "SIZE003", "SIZE021", "SIZE022", "SIZE032")


def findings(facts: dict[str, Any], *check_ids: str, context: Context = NOW) -> list[Finding]:
    out: list[Finding] = []
    for check_id in check_ids:
        result = run_check(CHECKS[check_id], facts, context)
        assert result.status in ("passed", "failed"), result.reason
        out += result.findings
    return out


def example(check_id: str, kind: str, comment: str) -> dict[str, Any]:
    """The facts example of tests/check_examples/ID.json whose `_comment` starts so."""
    found = json.loads((EXAMPLES / f"{check_id}.json").read_text())[kind]
    return copy.deepcopy(next(e for e in found if (e.get("_comment") or "").startswith(comment)))


# --- deleted-but-shipped bytes ------------------------------------------------------------------


def test_deleted_wheels_are_one_finding_of_size021_not_three():
    """27.6 MiB of wheels written in one layer and deleted in a later one: SIZE021 reports them
    once, with the deleting step; SIZE003 neither rolls them up nor lists their layer."""
    facts = example("SIZE003", "good", "27.6 MiB of wheels")
    [finding] = findings(facts, *SIZE_CHECKS)
    assert finding.check == "SIZE021"
    assert finding.message.startswith("3 wheels (27.6 MiB) deleted in layer 5 (RUN rm -rf")
    assert finding.location.layer == 2
    assert finding.location.path == "/tmp/wheels"


def test_waste_no_specific_check_explains_is_still_size003s_in_one_finding():
    """A compiler purged in a later step is nobody else's: SIZE003 reports it in one finding
    that names the group, and says how much the other checks report on their own."""
    facts = example("SIZE003", "good", "27.6 MiB of wheels")
    facts["layers"][1]["wasted_bytes"] = 60_000_000
    facts["fs"]["wasted_bytes"] += 60_000_000
    facts["fs"]["waste"].insert(
        0,
        {
            "layer": 1,
            "created_by": "/bin/sh -c apt-get install -y build-essential",
            "removed_in": 3,
            "removed_by": "/bin/sh -c apt-get purge -y build-essential",
            "how": "deleted",
            "bytes": 60_000_000,
            "files": 1200,
            "examples": ["/usr/lib/gcc/x86_64-linux-gnu/12/cc1"],
        },
    )
    found = findings(facts, *SIZE_CHECKS)
    assert sorted(f.check for f in found) == ["SIZE003", "SIZE021"]
    [waste] = [f for f in found if f.check == "SIZE003"]
    assert waste.message.startswith("57.2 MiB shipped but invisible")
    assert (
        "in layer 2 (RUN apt-get install -y build-essential), deleted in layer 4" in waste.message
    )
    assert "not counted here, reported on their own: 27.6 MiB by SIZE021" in waste.message
    assert "/tmp/wheels" not in waste.message


def test_a_deleted_pip_cache_is_size002s_alone():
    """pip's cache deleted by a later RUN: SIZE002 reports it; SIZE003 does not count it again."""
    facts = example("SIZE003", "bad", "the same base, and a user step")
    facts["caches"] = {
        "pip": {
            "visible_bytes": 0,
            "deleted_bytes": 40_000_000,
            "paths": ["/root/.cache/pip"],
            "layers": [
                {
                    "layer": 3,
                    "bytes_added": 40_000_000,
                    "files": 800,
                    "deleted_in": 4,
                    "deleted_by": "RUN /bin/sh -c rm -rf /root/.cache/pip # buildkit",
                }
            ],
        }
    }
    [finding] = findings(facts, *SIZE_CHECKS)
    assert finding.check == "SIZE002"
    assert "deleted in layer 5 (RUN /bin/sh -c rm -rf /root/.cache/pip" in finding.message


# --- one chown -R -------------------------------------------------------------------------------


def test_one_chown_over_three_layers_is_one_finding_with_its_layers():
    """`chown -R django /app` re-adding what three layers wrote: one medium finding at the chown
    step, listing the layers; the 3 KiB and 288 B groups are not findings of their own."""
    facts = example("SIZE022", "bad", "one chown -R of the app dir")
    [finding] = findings(facts, "SIZE022")
    assert finding.severity == "medium"
    assert finding.location.layer == 9
    assert finding.message.startswith(
        "4113 files (58.2 MiB) are written again by layer 10 "
        "(RUN chown -R django:django /app) only to change their owner"
    )
    assert "first written by layer 6 (RUN pip install" in finding.message
    assert "layer 8 (COPY . /app), layer 9 (COPY start /start)" in finding.message


def test_a_merged_finding_keeps_its_fingerprint_when_its_list_changes():
    """A rebuild that adds a layer under the chown (or grows a file) is the same finding."""
    facts = example("SIZE022", "bad", "one chown -R of the app dir")
    [before] = findings(facts, "SIZE022")
    facts["files"]["chown_duplicates"].append(
        {
            "layer": 6,
            "created_by": "COPY locale/ /app/locale/",
            "readded_in": 9,
            "readded_by": "RUN chown -R django:django /app",
            "files": 40,
            "bytes": 900_000,
            "owner_changed": 40,
            "mode_changed": 0,
            "examples": ["/app/locale/fr/django.mo"],
        }
    )
    facts["files"]["chown_duplicates"][0]["examples"] = ["/app/.venv/bin/uv"]
    [after] = findings(facts, "SIZE022")
    assert after.message != before.message
    assert fingerprint("app:2", after) == fingerprint("app:1", before)


# --- build files copied with the app ------------------------------------------------------------


def test_build_files_are_one_info_finding_and_dockerignore_is_none():
    """A checkout copied whole: its Dockerfile and compose file in one info finding; the
    .dockerignore, which is the fix, is not reported (facts written before it was dropped)."""
    leaks = [
        {
            "name": name,
            "path": f"/app/{base}",
            "dir": "/app",
            "kind": "file",
            "files": 1,
            "bytes": 120,
            "layer": 6,
            "credential": None,
            "venv_home": None,
        }
        for name, base in (
            ("dockerfile", "Dockerfile"),
            ("compose", "docker-compose.yml"),
            ("dockerignore", ".dockerignore"),
            ("dockerfile", "Dockerfile.dev"),
        )
    ]
    facts = {
        "files": {"context_leaks": leaks},
        "layers": [{"index": i} for i in range(6)] + [{"index": 6, "created_by": "COPY . /app"}],
    }
    [finding] = findings(facts, "SEC023")
    assert finding.severity == "info"
    assert finding.message.startswith(
        "3 build file(s) copied with the app: /app/Dockerfile, "
        "/app/Dockerfile.dev, /app/docker-compose.yml"
    )
    assert ".dockerignore" not in finding.message
    assert (finding.location.path, finding.location.layer) == ("/app", 6)


# --- one log file -------------------------------------------------------------------------------


def test_a_log_file_set_in_a_config_and_seen_written_is_one_finding():
    """gunicorn.conf.py sends access and error logs to files and the probe sees both written:
    one finding on the config file, naming what the container wrote."""
    facts = {
        "config": {"cmd": ["gunicorn", "app:app"], "env": {}, "workdir": "/srv"},
        "python": {
            "startup": {
                "scripts": [],
                "logging_configs": [],
                "server_configs": [
                    {
                        "server": "gunicorn",
                        "path": "/srv/gunicorn.conf.py",
                        "layer": 3,
                        "source": "default",
                        "parsed": True,
                        "settings": {
                            "accesslog": '"/srv/logs/access.log"',
                            "errorlog": '"logs/error.log"',
                        },
                    }
                ],
            }
        },
        "runtime": {
            "lifecycle": {
                "status": "ran",
                "written_total": 4,
                "written": [
                    {"path": "/srv/logs", "kind": "added"},
                    {"path": "/srv/logs/access.log", "kind": "added"},
                    {"path": "/srv/logs/error.log", "kind": "added"},
                    {"path": "/srv/logs/error.log.1", "kind": "added"},
                ],
            }
        },
    }
    [finding] = findings(facts, "OPS021", "OPS022")
    assert (finding.check, finding.severity) == ("OPS021", "medium")
    assert finding.location.path == "/srv/gunicorn.conf.py"
    assert "accesslog" in finding.message
    assert "errorlog" in finding.message
    assert finding.message.endswith(
        "; the running container wrote /srv/logs/access.log, "
        "/srv/logs/error.log, /srv/logs/error.log.1"
    )


def test_a_log_file_no_setting_names_keeps_the_probes_row():
    """A file handler the facts cannot see (set in code) still shows as what the probe saw."""
    facts = {
        "config": {"cmd": ["python", "-m", "app"], "env": {}},
        "runtime": {
            "lifecycle": {
                "status": "ran",
                "written_total": 1,
                "written": [{"path": "/app/logs/app.log", "kind": "added"}],
            }
        },
    }
    [finding] = findings(facts, "OPS021")
    assert finding.message == "the running container wrote log files: /app/logs/app.log"


# --- an ENV secret ------------------------------------------------------------------------------


def test_an_env_secret_is_one_finding_that_names_its_history_step():
    """ENV SERVICE_API_TOKEN=...: SEC004 from the config, naming the ENV step; SEC005 is quiet.
    A build argument only the history keeps is still SEC005's."""
    facts = example("SEC005", "good", "ENV API_TOKEN=")
    [finding] = findings(facts, "SEC004", "SEC005")
    assert (finding.check, finding.location.config) == ("SEC004", "Env.API_TOKEN")
    assert finding.message.endswith("; the build history shows it too (history step 7)")
    facts = example("SEC005", "bad", "ARG DEPLOY_TOKEN=")
    assert sorted(f.check for f in findings(facts, "SEC004", "SEC005")) == ["SEC004", "SEC005"]


# --- uv's lock file and chmod -R ----------------------------------------------------------------


def test_uvs_empty_lock_file_is_not_writable_code():
    """uv's 0666 .venv/.lock of 0 bytes holds nothing; the same name with content, or an empty
    module anyone can fill, still is reported among the code."""
    facts = example("SEC009", "good", "uv's empty .venv/.lock")
    assert findings(facts, "SEC009") == []
    facts["world_writable"][0]["size"] = 12
    assert [f.severity for f in findings(facts, "SEC009")] == ["medium"]
    facts["world_writable"][0].update(
        path="/app/.venv/lib/python3.12/site-packages/x/__init__.py", size=0
    )
    assert [f.severity for f in findings(facts, "SEC009")] == ["medium"]


def test_one_chmod_r_is_one_world_writable_finding():
    """`chmod -R 777 /app` makes /app and every file in it world-writable: one finding for the
    step, listing the paths, medium because they are the app's code."""
    facts = example("SEC009", "bad", "")
    [finding] = findings(facts, "SEC009")
    assert finding.severity == "medium"
    assert finding.message.startswith("2 world-writable paths: /app (0777), /app/main.py (0666)")
    assert finding.location.path == "/app"


# --- the size floor -----------------------------------------------------------------------------


def test_byte_level_trivia_is_not_a_finding_and_the_floor_is_a_threshold():
    """288 B of uv's cache beside 5 MiB of pip's in another layer: one medium finding for pip's;
    with the size floor lowered to 0 the 288 B are reported, at low."""
    facts = {
        "caches": {
            "uv": {
                "visible_bytes": 288,
                "deleted_bytes": 0,
                "paths": ["/root/.cache/uv"],
                "layers": [{"layer": 3, "bytes_added": 288, "files": 3, "deleted_in": None}],
            },
            "pip": {
                "visible_bytes": 5_000_000,
                "deleted_bytes": 0,
                "paths": ["/root/.cache/pip"],
                "layers": [{"layer": 2, "bytes_added": 5_000_000, "files": 90, "deleted_in": None}],
            },
        }
    }
    [pip] = findings(facts, "SIZE002")
    assert (pip.severity, pip.location.layer) == ("medium", 2)
    no_floor = replace(NOW, thresholds=Thresholds(size_floor=0))
    assert sorted(f.severity for f in findings(facts, "SIZE002", context=no_floor)) == [
        "low",
        "medium",
    ]


def test_one_layer_writing_a_cache_partly_deleted_later_is_one_finding():
    """A layer whose pip cache a later step deleted only in part: one finding for the step that
    wrote it, saying how much was deleted where."""
    facts = {
        "caches": {
            "pip": {
                "visible_bytes": 2_000_000,
                "deleted_bytes": 30_000_000,
                "paths": ["/root/.cache/pip"],
                "layers": [
                    {"layer": 3, "bytes_added": 2_000_000, "files": 9, "deleted_in": None},
                    {
                        "layer": 3,
                        "bytes_added": 30_000_000,
                        "files": 300,
                        "deleted_in": 5,
                        "deleted_by": "RUN rm -rf /root/.cache/pip/http-v2",
                    },
                ],
            }
        }
    }
    [finding] = findings(facts, "SIZE002")
    assert finding.message == (
        "pip's cache: 30.5 MiB in 309 file(s) written by layer 4; 28.6 MiB of it deleted in "
        "layer 6 (RUN rm -rf /root/.cache/pip/http-v2): invisible, yet still shipped in layer 4"
    )


def test_a_stored_scan_result_keeps_a_merged_findings_identity():
    """A scan stores results and reads them back for unchanged digests: the identity survives,
    so the fingerprint of the carried-over finding is the one first recorded."""
    from inspector.scan.outcome import results_doc, results_from

    facts = example("SIZE022", "bad", "one chown -R of the app dir")
    result = run_check(CHECKS["SIZE022"], facts, NOW)
    stored = json.loads(json.dumps(results_doc([result])))
    [back] = results_from(stored, CHECKS)
    assert back.findings == result.findings
    assert fingerprint("app:1", back.findings[0]) == fingerprint("app:1", result.findings[0])


def test_a_file_past_the_write_limit_is_ops010s_alone():
    """3 GiB written to /var/tmp/cache.bin at start: OPS010 reports the runaway write with the
    file; OPS022 does not list the same file again. Under the limit, the file is OPS022's."""
    facts = example("OPS022", "good", "3 GiB reserved in /var/tmp/cache.bin")
    facts["runtime"]["lifecycle"].update(warmup_seconds=3.0, written_bytes=3 * 2**30,
                                         write_limit_bytes=2**30)  # fmt: skip
    [finding] = findings(facts, "OPS010", "OPS022")
    assert finding.check == "OPS010"
    assert "/var/tmp/cache.bin" in finding.message
    facts["runtime"]["lifecycle"]["limits_hit"] = []
    [finding] = findings(facts, "OPS010", "OPS022")
    assert finding.check == "OPS022"


def test_naming_the_history_step_keeps_sec004s_fingerprint():
    """SEC004's message now names the history step; its first-form fingerprint (what baselines of
    schema 1 hold) is the one a baseline made from the message without it recorded."""
    facts = example("SEC005", "good", "ENV API_TOKEN=")
    [finding] = findings(facts, "SEC004")
    before = replace(finding, message=finding.message.split("; the build history")[0],
                     identity=None)  # fmt: skip
    assert legacy_fingerprint("app:1", finding) == legacy_fingerprint("app:1", before)
