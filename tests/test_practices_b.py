"""How the service starts and behaves (issue 16, part B): the start-up facts read from layers built
here, and OPS021-OPS025 and PY019 on the real facts of the runtime-habits fixture, which does what
Turner-Trauring warns against, and of gunicorn-plain, which does not."""

from __future__ import annotations

import io
import json
from dataclasses import asdict

import pytest

from checks import catalog
from checks.engine import run_check
from checks.model import Context
from inspector.analysers import files, python
from inspector.analysers.imagedata import ImageData
from inspector.facts.collect import collect
from inspector.image.config import config_from_json
from inspector.layers.overlay import merge
from inspector.layers.reader import read_layer
from inspector.probes import ProbeOptions
from tests.conftest import fixture_image
from tests.layertools import layer as tar_layer
from tests.test_analysers_python import DEBIAN, EXE, VENV, image

NEW_CHECKS = ("OPS021", "OPS022", "OPS023", "OPS024", "OPS025", "PY019", "COR014")
ENTRYPOINT = {"Entrypoint": ["/docker-entrypoint.sh"], "Cmd": ["gunicorn", "app:app"],
              "WorkingDir": "/srv", "Env": ["PATH=/opt/venv/bin:/usr/bin:/bin"]}  # fmt: skip


def startup(*files: tuple, config: dict | None = None) -> dict:
    facts = python.analyse(image(DEBIAN + VENV + files, config=config or ENTRYPOINT))
    return json.loads(json.dumps(asdict(facts.startup)))


# --- start scripts ------------------------------------------------------------------------------


def test_entrypoint_script_commands_are_read_without_comments_and_with_secrets_hidden():
    """The ENTRYPOINT script's commands are facts: comments dropped, a password replaced."""
    script = (b"#!/bin/sh\nset -e\n# migrate first\nexport DB_PASSWORD=s3cr3t-Pa55w0rd-x9\n"
              b"python manage.py \\\n  migrate --noinput\nexec \"$@\"\n")  # fmt: skip
    found = startup(("docker-entrypoint.sh", script, EXE))
    [entry] = found["scripts"]
    assert entry["path"] == "/docker-entrypoint.sh"
    assert entry["truncated"] is False
    assert entry["lines"][0] == "set -e"
    assert "python manage.py migrate --noinput" in entry["lines"]
    assert not any("s3cr3t" in line for line in entry["lines"])
    assert not any(line.startswith("#") for line in entry["lines"])


def test_a_script_the_entrypoint_runs_is_followed_and_a_python_console_script_is_not():
    """A shell script called by path from the entrypoint is read too; gunicorn's launcher is not."""
    entry = b"#!/bin/bash\n/srv/scripts/migrate.sh\nexec gunicorn app:app\n"
    called = b"#!/bin/sh\nalembic upgrade head\n"
    found = startup(("docker-entrypoint.sh", entry, EXE), ("srv/scripts/migrate.sh", called, EXE))
    assert [s["path"] for s in found["scripts"]] == [
        "/docker-entrypoint.sh",
        "/srv/scripts/migrate.sh",
    ]
    assert found["scripts"][1]["lines"] == ["alembic upgrade head"]


def test_a_shell_form_command_is_its_own_start_script():
    """`CMD sh -c "..."`: the string is the first start script, with no path."""
    config = {"Cmd": ["/bin/sh", "-c", "flask db upgrade && exec gunicorn app:app"]}
    found = startup(config=config)
    [script] = found["scripts"]
    assert script["lines"] == ["flask db upgrade && exec gunicorn app:app"]
    assert script["path"] is None


# --- server configs -----------------------------------------------------------------------------

# Longer than the 256 bytes a file in /srv gets for its shebang: the whole file must be read.
LONG_CONF = (b'"""' + b"x" * 400 + b'"""\nimport multiprocessing\n'
             b"workers = multiprocessing.cpu_count() * 2 + 1\naccesslog = '/srv/access.log'\n"
             b"graceful_timeout = 60\n")  # fmt: skip


def test_gunicorn_conf_in_workdir_is_read_whole_with_each_setting_as_written():
    """./gunicorn.conf.py in WORKDIR, longer than a shebang read, gives every top-level setting."""
    found = startup(("srv/gunicorn.conf.py", LONG_CONF))
    [conf] = found["server_configs"]
    assert conf["source"] == "default"
    assert conf["parsed"] is True
    assert conf["settings"] == {
        "workers": "multiprocessing.cpu_count() * 2 + 1",
        "accesslog": "'/srv/access.log'",
        "graceful_timeout": "60",
    }


def test_a_config_named_by_c_is_read_and_the_default_one_only_when_present():
    """`-c conf/prod.conf.py` is read as an argument; without gunicorn, no config is read."""
    config = {
        **ENTRYPOINT,
        "Entrypoint": None,
        "Cmd": ["gunicorn", "-c", "conf/prod.conf.py", "a:b"],
    }
    found = startup(("srv/conf/prod.conf.py", b"workers = 2\n"), config=config)
    assert [(c["path"], c["source"], c["settings"]) for c in found["server_configs"]] == [
        ("/srv/conf/prod.conf.py", "argument", {"workers": "2"})
    ]
    config = {**ENTRYPOINT, "Entrypoint": None, "Cmd": ["python", "-m", "app"]}
    assert (
        startup(("srv/gunicorn.conf.py", b"workers = 2\n"), config=config)["server_configs"] == []
    )


def test_a_broken_gunicorn_conf_still_gives_its_simple_assignments():
    """A config that is not valid Python falls back to `name = value` lines, marked unparsed."""
    found = startup(("srv/gunicorn.conf.py", b"workers = 4\ndef broken(:\n"))
    [conf] = found["server_configs"]
    assert conf["parsed"] is False
    assert conf["settings"] == {"workers": "4"}


# --- logging configs ----------------------------------------------------------------------------

LOGGING_INI = (b"[handlers]\nkeys=file\n[handler_file]\nclass=handlers.RotatingFileHandler\n"
               b"args=('/var/log/app/app.log', 'a')\n")  # fmt: skip


def test_logging_configs_name_their_file_handlers_and_files_and_others_are_not_read():
    """logging.ini's file handler is a fact; logrotate.conf and catalog.yaml are not read."""
    found = startup(("srv/logging.ini", LOGGING_INI),
                    ("srv/log.yaml", b"handlers:\n  console:\n    class: logging.StreamHandler\n"),
                    ("etc/logrotate.conf", b"weekly\n"), ("srv/catalog.yaml", b"a: 1\n"),
                    ("opt/venv/lib/python3.11/site-packages/x/log.ini", LOGGING_INI))  # fmt: skip
    assert [(c["path"], c["file_handlers"], c["filenames"]) for c in found["logging_configs"]] == [
        ("/srv/log.yaml", [], []),
        ("/srv/logging.ini", ["handlers.RotatingFileHandler"], ["/var/log/app/app.log"]),
    ]


# --- shared objects' architecture --------------------------------------------------------------


def elf(machine: int, big_endian: bool = False) -> bytes:
    """A 64-bit ELF shared object's header for `machine`, padded past the 64 bytes read."""
    order = "big" if big_endian else "little"
    ident = b"\x7fELF\x02" + (b"\x02" if big_endian else b"\x01") + b"\x01" + bytes(9)
    return ident + (3).to_bytes(2, order) + machine.to_bytes(2, order) + bytes(200)


def test_shared_objects_are_grouped_by_the_cpu_their_elf_header_names():
    """x86-64, AArch64 and big-endian s390x headers are told apart; a text `.so.conf` is not ELF."""
    reads = [
        ("usr/lib/x86_64-linux-gnu/libz.so.1.2.13", elf(62)),
        ("usr/lib/x86_64-linux-gnu/libc.so.6", elf(62)),
        ("srv/app/native/_speedups.abi3.so", elf(183)),
        ("srv/app/native/_zseries.so", elf(22, big_endian=True)),
        ("etc/ld.so.conf", b"include /etc/ld.so.conf.d/*.conf\n"),
        ("usr/lib/x86_64-linux-gnu/libz.so", "->libz.so.1.2.13"),
    ]
    layer = read_layer(io.BytesIO(tar_layer(*reads)), files.wants)
    data = ImageData(config_from_json({}), {}, [layer], merge([layer]), ["step 0"])
    found = files.analyse(data).shared_objects
    assert found.files == 4
    assert [(m.machine, m.files, m.dirs) for m in found.machines] == [
        ("amd64", 2, ("/usr/lib/x86_64-linux-gnu",)),
        ("arm64", 1, ("/srv/app/native",)),
        ("s390x", 1, ("/srv/app/native",)),
    ]


# --- conda --------------------------------------------------------------------------------------


def files_image(*layers: tuple, env: list[str] | None = None) -> ImageData:
    reads = [read_layer(io.BytesIO(tar_layer(*members)), files.wants) for members in layers]
    config = config_from_json({"Env": env or []})
    return ImageData(config, {}, reads, merge(reads), [f"step {i}" for i in range(len(reads))])


def test_conda_package_cache_counts_visible_and_deleted_files_and_envs_share_the_base_cache():
    """A cache deleted by a later RUN is counted as deleted; an env under envs/ names the base's."""
    install = (("opt/conda/conda-meta/history", b"==> 2026 <==\n"),
               ("opt/conda/envs/app/conda-meta/history", b"==> 2026 <==\n"),
               ("opt/conda/pkgs/numpy-2.1.0-py312/lib/x.so", b"n" * 3000),
               ("opt/conda/pkgs/numpy-2.1.0-py312.conda", b"c" * 1000),
               ("opt/conda/pkgs/urls.txt", b"u" * 10))  # fmt: skip
    clean = (("opt/conda/pkgs/.wh.numpy-2.1.0-py312", b""),
             ("opt/conda/pkgs/.wh.numpy-2.1.0-py312.conda", b""))  # fmt: skip
    found = files.analyse(files_image(install, clean)).conda
    assert [(c.path, c.pkgs_dir, c.pkgs_files, c.pkgs_bytes, c.deleted_files, c.deleted_bytes)
            for c in found] == [
        ("/opt/conda", "/opt/conda/pkgs", 1, 10, 2, 4000),
        ("/opt/conda/envs/app", "/opt/conda/pkgs", 1, 10, 2, 4000),
    ]  # fmt: skip
    result = run_check(catalog()["SIZE032"], {"files": {"conda": [asdict(c) for c in found]}},
                       Context())  # fmt: skip
    assert [f.message for f in result.findings] == []  # 4000 bytes: under the 10 MiB limit


def test_conda_pkgs_dirs_moves_the_cache_that_is_counted():
    """CONDA_PKGS_DIRS=/cache/conda: the cache there is counted, not <root>/pkgs."""
    members = (("opt/conda/conda-meta/history", b"x"), ("cache/conda/a.conda", b"a" * 50),
               ("opt/conda/pkgs/b.conda", b"b" * 7))  # fmt: skip
    [root] = files.analyse(files_image(members, env=["CONDA_PKGS_DIRS=/cache/conda"])).conda
    assert (root.pkgs_dir, root.pkgs_files, root.pkgs_bytes) == ("/cache/conda", 1, 50)


# --- time zones ---------------------------------------------------------------------------------


def test_time_zone_facts_find_the_zone_tz_names_and_miss_a_typo():
    """Zone dirs with UTC are listed; TZ=:Europe/Paris is found, TZ=Europe/Pariss is not."""
    zones = (("usr/share/zoneinfo/Etc/UTC", b"TZif2"), ("usr/share/zoneinfo/UTC", "->Etc/UTC"),
             ("usr/share/zoneinfo/Europe/Paris", b"TZif2"),
             ("opt/venv/lib/python3.12/site-packages/tzdata/zoneinfo/UTC", b"TZif2"),
             ("opt/venv/lib/python3.12/site-packages/pytz/zoneinfo/UTC", b"TZif2"))  # fmt: skip
    found = files.analyse(files_image(zones, env=["TZ=:Europe/Paris"])).time_zones
    assert found.zoneinfo_dirs == ("/opt/venv/lib/python3.12/site-packages/tzdata/zoneinfo",
                                   "/usr/share/zoneinfo")  # fmt: skip
    assert found.tz_files == ("/usr/share/zoneinfo/Europe/Paris",)
    typo = files.analyse(files_image(zones, env=["TZ=Europe/Pariss"])).time_zones
    assert typo.tz_files == ()
    facts = {"config": {"env": {"TZ": "Europe/Pariss"}}, "files": {"time_zones": asdict(typo)}}
    [finding] = run_check(catalog()["PY019"], json.loads(json.dumps(facts)), Context()).findings
    assert finding.message.startswith("ENV TZ=Europe/Pariss names a zone that is not in the image")


def test_no_zone_dirs_without_zone_data():
    """An image without zoneinfo (pytz's private copy aside) has no zone dirs."""
    members = (("opt/venv/lib/python3.12/site-packages/pytz/zoneinfo/UTC", b"TZif2"),)
    assert files.analyse(files_image(members)).time_zones.zoneinfo_dirs == ()


# --- the checks on a real image -----------------------------------------------------------------


@pytest.fixture(scope="module")
def probed(tmp_path_factory):
    """Facts of a fixture with both probes, read through a layer cache of this module's own."""
    cache = tmp_path_factory.mktemp("layer-cache")
    seen: dict[str, dict] = {}

    def facts(name: str) -> dict:
        if name not in seen:
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("INSPECTOR_CACHE_DIR", str(cache))
                options = ProbeOptions(warmup=3, grace=5)
                seen[name] = collect(fixture_image(name), probe=options).to_json()
        return seen[name]

    return facts


def findings(check_id: str, facts: dict) -> list[tuple[str, str]]:
    result = run_check(catalog()[check_id], facts, Context())
    assert result.status in ("passed", "failed"), result.reason
    return [(f.severity, f.message) for f in result.findings]


@pytest.mark.docker
def test_runtime_habits_logs_to_files_and_the_probe_sees_them_written(image, probed):
    """OPS021: gunicorn.conf.py's accesslog/errorlog, confirmed by the files the container wrote,
    in one finding: the config file is the one cause of both log files."""
    image("runtime-habits")
    [(severity, message)] = findings("OPS021", probed("runtime-habits"))
    assert severity == "medium"
    assert message.startswith("/srv/gunicorn.conf.py sets accesslog")
    assert 'errorlog = "/srv/logs/error.log"' in message
    assert "the running container wrote /srv/logs/access.log, /srv/logs/error.log" in message


@pytest.mark.docker
def test_runtime_habits_writes_its_database_into_the_image(image, probed):
    """OPS022: the SQLite file is reported; its .pyc and log files are left to PY002 and OPS021."""
    image("runtime-habits")
    [(severity, message)] = findings("OPS022", probed("runtime-habits"))
    assert severity == "medium"
    assert "/srv/db.sqlite3" in message
    assert ".pyc" not in message
    assert ".log" not in message


@pytest.mark.docker
def test_runtime_habits_migrates_at_start_and_its_log_shows_it(image, probed):
    """OPS023: the entrypoint script's `manage.py migrate`, with the migration line of the log."""
    image("runtime-habits")
    [(severity, message)] = findings("OPS023", probed("runtime-habits"))
    assert severity == "medium"
    assert message.startswith("`python3 manage.py migrate --noinput` migrates the database")
    assert "Applying app.0001_initial... OK" in message


@pytest.mark.docker
def test_runtime_habits_sizes_gunicorn_from_the_host_and_outwaits_the_stop_grace(image, probed):
    """OPS024 and OPS025 read gunicorn.conf.py from WORKDIR; PY019 sees TZ without zone data."""
    image("runtime-habits")
    facts = probed("runtime-habits")
    assert facts["runtime"]["static"]["timezone_data"] is False
    [(_, workers)] = findings("OPS024", facts)
    assert "workers = multiprocessing.cpu_count() * 2 + 1" in workers
    [(_, grace)] = findings("OPS025", facts)
    assert "graceful_timeout = 60" in grace
    [(_, tz)] = findings("PY019", facts)
    assert tz.startswith("ENV TZ=Europe/Paris but the image has no timezone data")


@pytest.mark.docker
def test_foreign_so_reports_the_arm64_extension_in_the_amd64_image(image, probed):
    """COR014 names the arm64 object; the image's own hundreds of amd64 libraries pass."""
    image("foreign-so")
    facts = probed("foreign-so")
    machines = {m["machine"]: m["files"] for m in facts["files"]["shared_objects"]["machines"]}
    assert machines["arm64"] == 1
    assert machines["amd64"] > 100
    [(severity, message)] = findings("COR014", facts)
    assert severity == "high"
    assert "built for arm64 in an amd64 image" in message
    assert "/srv/app/native/_speedups.abi3.so" in message


@pytest.mark.docker
def test_gunicorn_plain_passes_every_new_check(image, probed):
    """gunicorn-plain logs to stderr, writes only in /tmp, sets --workers 2, has zone data and
    only amd64 objects."""
    image("gunicorn-plain")
    facts = probed("gunicorn-plain")
    assert {cid: findings(cid, facts) for cid in NEW_CHECKS} == {cid: [] for cid in NEW_CHECKS}
