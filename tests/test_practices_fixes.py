"""Issue 16: checks that contradicted Turner-Trauring or cried wolf, on real layouts.

Layer-level cases go through the real analysers on built layer tars; the rest drive the checks
with facts shaped as the analysers write them (checks are pure functions of facts).
"""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from checks import catalog
from checks.engine import run_check
from checks.metadata import base_of, reference_notice
from checks.model import Context, Finding
from checks.size import user_wasted_bytes
from inspector.analysers import filemodes, files
from inspector.analysers import python as python_analyser
from inspector.analysers.imagedata import ImageData
from inspector.image.config import config_from_json
from inspector.layers.overlay import merge
from inspector.layers.reader import read_layer
from tests.conftest import session_tag
from tests.layertools import layer

CHECKS = catalog()
EXAMPLES = Path(__file__).parent / "check_examples"
NOW = Context(now=datetime(2026, 11, 23, tzinfo=UTC))
TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


def build(*layers: tuple[tuple[Any, ...], ...], wants: Any = files.wants) -> ImageData:
    reads = [read_layer(io.BytesIO(layer(*members)), wants) for members in layers]
    steps: list[str | None] = [f"RUN step {i}" for i in range(len(reads))]
    return ImageData(config=config_from_json({}), raw_config={"config": {}}, layers=reads,
                     fs=merge(reads), layer_steps=steps)  # fmt: skip


def as_facts(result: Any) -> Any:
    return json.loads(json.dumps(dataclasses.asdict(result), default=str))


def findings(check_id: str, facts: dict[str, Any], context: Context = NOW) -> list[Finding]:
    result = run_check(CHECKS[check_id], facts, context)
    assert result.status in ("passed", "failed"), result.reason
    return list(result.findings)


def example(check_id: str, kind: str, comment: str) -> dict[str, Any]:
    """The facts example of tests/check_examples/ID.json whose `_comment` starts so."""
    found = json.loads((EXAMPLES / f"{check_id}.json").read_text())[kind]
    return next(e for e in found if (e.get("_comment") or "").startswith(comment))


def device(name: str, kind: bytes, major: int, minor: int) -> tuple[Any, ...]:
    return (name, b"", {"type": kind, "mode": 0o666, "devmajor": major, "devminor": minor})


# --- SEC009: device nodes -----------------------------------------------------------------------


def test_device_nodes_of_a_debootstrap_base_are_not_world_writable_paths():
    """/dev/null, /dev/zero, /dev/tty (char) and /dev/loop0 (block), 0666, are left out."""
    data = build((
        ("dev/", None), device("dev/null", tarfile.CHRTYPE, 1, 3),
        device("dev/zero", tarfile.CHRTYPE, 1, 5), device("dev/tty", tarfile.CHRTYPE, 5, 0),
        device("dev/loop0", tarfile.BLKTYPE, 7, 0),
        ("srv/", None, {"mode": 0o777}), ("srv/app.py", b"x", {"mode": 0o644}),
    ), wants=filemodes.wants)  # fmt: skip
    assert {e.kind for v in data.fs.visible.values() for e in [v.entry]} >= {"char", "block"}
    modes = filemodes.analyse(data)
    assert [(w.path, w.kind) for w in modes.world_writable] == [("/srv", "dir")]
    assert modes.world_writable_total == 1
    facts = {"world_writable": as_facts(modes)["world_writable"], "world_writable_total": 1}
    assert [f.message for f in findings("SEC009", facts)] == [
        "dir /srv is world-writable (mode 0777)"
    ]


def test_sec009_ignores_device_nodes_listed_by_older_facts():
    """Facts that still list device nodes pass SEC009 when nothing else is world-writable."""
    facts = example("SEC009", "good", "a debootstrap-made base")
    assert len(facts["world_writable"]) == 8
    assert findings("SEC009", facts) == []


# --- SIZE004: upgrading is recommended --------------------------------------------------------


@pytest.mark.parametrize("step", [
    "/bin/sh -c apt-get update && apt-get upgrade -y && apt-get install -y curl",
    "RUN /bin/sh -c apt-get update && apt-get -y upgrade && rm -rf /var/lib/apt/lists/* # buildkit",
    "/bin/sh -c apt update && apt upgrade -y",
])  # fmt: skip
def test_plain_apt_upgrade_is_not_reported(step):
    """`apt-get upgrade`, which Turner-Trauring recommends, passes SIZE004."""
    assert findings("SIZE004", {"history": [{"created_by": step, "layer": 1}]}) == []


def test_dist_upgrade_is_only_a_note():
    """`dist-upgrade` and `full-upgrade` are info, never a gate failure."""
    for verb in ("dist-upgrade", "full-upgrade"):
        step = f"/bin/sh -c apt-get update && apt-get {verb} -y"
        found = findings("SIZE004", {"history": [{"created_by": step, "layer": 1}]})
        assert [(f.severity, f.message) for f in found] == [
            ("info", f"a build step runs `apt-get {verb}`")
        ]


# --- OPS004: servers only, info -----------------------------------------------------------------


def test_healthcheck_missing_is_info_and_only_for_images_that_serve():
    """A serving or listening image without HEALTHCHECK is info; a batch job is not reported."""
    served = findings("OPS004", {"config": {"healthcheck": None, "cmd": ["gunicorn", "app:app"]}})
    assert [f.severity for f in served] == ["info"]
    listening = example("OPS004", "bad", "no EXPOSE, but the lifecycle probe saw")
    assert [f.severity for f in findings("OPS004", listening)] == ["info"]
    batch = example("OPS004", "good", "a batch job")
    assert findings("OPS004", batch) == []


# --- SEC023: severity per kind ------------------------------------------------------------------


def test_context_leak_severity_follows_what_each_kind_gives_away():
    """A repo copied with `COPY . .`: build files info in one finding, .dockerignore none, IDE
    dirs low, .env and .git medium, a .git whose remote URL carries a token high; from the real
    files analyser."""
    git_config = f'[remote "origin"]\n\turl = https://{TOKEN}@github.com/acme/app.git\n'.encode()
    data = build((
        ("srv/", None), ("srv/Dockerfile", b"FROM python:3.12-slim\n"),
        ("srv/compose.yaml", b"services: {}\n"), ("srv/.dockerignore", b".venv\n"),
        ("srv/.env.example", b"DATABASE_URL=\n"), ("srv/.env", b"DEBUG=0\n"),
        ("srv/.vscode/", None), ("srv/.vscode/settings.json", b"{}"),
        ("srv/.git/", None), ("srv/.git/config", git_config), ("srv/.git/HEAD", b"ref: main\n"),
        ("srv/app.py", b"print(1)\n"),
    ))  # fmt: skip
    facts = {"files": as_facts(files.analyse(data))}
    severity = {f.location.path: f.severity for f in findings("SEC023", facts)}
    assert severity == {
        "/srv": "info",
        "/srv/.env.example": "info",
        "/srv/.env": "medium",
        "/srv/.vscode": "low",
        "/srv/.git": "high",
    }


# --- OPS005: the default gunicorn.conf.py ------------------------------------------------------


def test_worker_tmp_dir_in_the_default_gunicorn_conf_py_satisfies_ops005():
    """gunicorn reads ./gunicorn.conf.py from WORKDIR: worker_tmp_dir there passes; the same
    file without it is medium and names the file."""
    good = example("OPS005", "good", "gunicorn reads ./gunicorn.conf.py")
    assert findings("OPS005", good) == []
    bad = example("OPS005", "bad", "WORKDIR /srv holds a gunicorn.conf.py")
    [finding] = findings("OPS005", bad)
    assert finding.severity == "medium"
    assert "/srv/gunicorn.conf.py does not set worker_tmp_dir" in finding.message


@pytest.mark.parametrize(("conf", "expected"), [
    (b'import multiprocessing\nworkers = 2\nworker_tmp_dir = "/dev/shm"\n', []),
    (b"workers = 2\n", ["medium"]),
])  # fmt: skip
def test_gunicorn_conf_py_in_workdir_read_from_the_layer(conf, expected):
    """gunicorn-plain's layout plus a /srv/gunicorn.conf.py, through the real Python analyser:
    worker_tmp_dir there passes OPS005; the same file without it does not."""
    cmd = ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "2", "wsgi:app"]
    raw = {"Cmd": cmd, "WorkingDir": "/srv", "Env": ["PATH=/opt/venv/bin:/usr/bin"]}
    members = (
        ("srv/", None), ("srv/wsgi.py", b"app = None\n"), ("srv/gunicorn.conf.py", conf),
        ("opt/venv/bin/gunicorn", b"#!/opt/venv/bin/python\nimport gunicorn\n", {"mode": 0o755}),
    )  # fmt: skip
    reads = [read_layer(io.BytesIO(layer(*members)), python_analyser.wants)]
    data = ImageData(config=config_from_json(raw), raw_config={"config": raw}, layers=reads,
                     fs=merge(reads), layer_steps=["COPY . /srv"])  # fmt: skip
    startup = as_facts(python_analyser.analyse(data))["startup"]
    facts = {"config": {"cmd": cmd, "workdir": "/srv", "env": {}}, "python": {"startup": startup}}
    assert [f.severity for f in findings("OPS005", facts)] == expected


def test_a_named_config_replaces_the_default_and_a_computed_value_is_low():
    """With `-c`, the default file is not read; a worker_tmp_dir computed at start is low."""
    facts = copy.deepcopy(example("OPS005", "good", "gunicorn reads ./gunicorn.conf.py"))
    facts["config"]["cmd"] = ["gunicorn", "-c", "/etc/gunicorn/conf.py", "app:app"]
    [unknown] = findings("OPS005", facts)
    assert unknown.severity == "low"
    assert "unless /etc/gunicorn/conf.py sets" in unknown.message
    facts = copy.deepcopy(example("OPS005", "good", "gunicorn reads ./gunicorn.conf.py"))
    settings = facts["python"]["startup"]["server_configs"][0]["settings"]
    settings["worker_tmp_dir"] = 'os.environ.get("TMP_DIR", "/dev/shm")'
    [computed] = findings("OPS005", facts)
    assert computed.severity == "low"
    assert "computed at start" in computed.message


# --- META002: package age -----------------------------------------------------------------------


def test_images_with_a_package_database_are_left_to_sec025():
    """An old image whose packages can be dated passes META002 and fails SEC025 once: one
    stale image, one finding; without a package database META002 judges its build time."""
    dated = copy.deepcopy(example("META002", "good", "an old image with a package database"))
    assert findings("META002", dated) == []
    assert findings("SEC025", dated)
    undated = example("META002", "bad", "a distroless-style image")
    [finding] = findings("META002", undated)
    assert finding.severity == "medium"
    assert "2026-07-02" in finding.message


def test_source_date_epoch_stamps_are_not_build_times():
    """A recent SOURCE_DATE_EPOCH stamp passes; an old one skips: it is a commit time."""
    facts = copy.deepcopy(example("META002", "good", "SOURCE_DATE_EPOCH set to a commit"))
    assert findings("META002", facts) == []
    for entry in facts["history"]:
        if entry["created"] == facts["image"]["created"]:
            entry["created"] = "2026-03-01T00:00:00Z"
    facts["image"]["created"] = "2026-03-01T00:00:00Z"
    result = run_check(CHECKS["META002"], facts, NOW)
    assert result.status == "skipped"
    assert "SOURCE_DATE_EPOCH" in (result.reason or "")


# --- SIZE003 and META001: where the base ends ---------------------------------------------------


def test_base_ends_at_its_last_cmd_that_user_layers_follow():
    """The CUDA-style base's ENTRYPOINT closes three layers; a history without one is unknown."""
    facts = example("SIZE003", "good", "a CUDA-style base")
    base = base_of(facts)
    assert base is not None
    assert (base.steps, base.layers) == (5, 3)
    assert base_of({"history": [{"created_by": "", "layer": 0}]}) is None


def test_waste_inside_a_multi_layer_base_is_not_the_users():
    """150 MB deleted inside the base is not counted; 40 MB the user deleted is."""
    good = example("SIZE003", "good", "a CUDA-style base")
    assert user_wasted_bytes(good) == 0
    assert findings("SIZE003", good) == []
    bad = example("SIZE003", "bad", "the same base, and a user step")
    assert user_wasted_bytes(bad) == 40_000_000
    messages = [f.message for f in findings("SIZE003", bad)]
    # One finding: the largest groups are listed in it, not one row each; layers numbered from 1.
    [message] = messages
    assert "143.1 MiB more inside the base's 3 layer(s), not counted" in message
    assert "in layer 4 (RUN pip install -r requirements.txt), deleted in layer 5" in message


def test_base_files_the_user_deletes_are_the_users_waste():
    """A user step that deletes base files makes waste of its own (e.g. rm -rf /usr/share)."""
    facts = copy.deepcopy(example("SIZE003", "good", "a CUDA-style base"))
    facts["fs"]["waste"].append({"layer": 1, "removed_in": 4, "how": "deleted",
                                 "bytes": 30_000_000, "files": 900, "examples": []})  # fmt: skip
    assert user_wasted_bytes(facts) == 30_000_000


def test_labels_inherited_from_ubuntu_do_not_satisfy_meta001():
    """ubuntu:24.04's version=24.04 is the base's; CI's own --label value counts."""
    [finding] = findings("META001", example("META001", "bad", "FROM ubuntu:24.04"))
    assert "org.opencontainers.image.version=24.04" in finding.message
    assert findings("META001", example("META001", "good", "the same base")) == []


# --- SEC003: OpenShift's arbitrary UID ----------------------------------------------------------


def test_openshift_arbitrary_uid_pattern_is_info():
    """USER 1001, group 0, app dir g=u: info; group 0 with a root-only app dir stays medium."""
    [ubi] = findings("SEC003", example("SEC003", "bad", "OpenShift's arbitrary-UID layout"))
    assert ubi.severity == "info"
    assert "OpenShift arbitrary-UID pattern" in ubi.message
    [plain] = findings("SEC003", example("SEC003", "bad", "group 0 but the app dir"))
    assert plain.severity == "medium"


# --- META003: how the audit was invoked ---------------------------------------------------------


def test_latest_reference_is_a_notice_not_a_check():
    """`app`/`app:latest` give the notice with what to deploy: the manifest or repository
    digest when there is one, else the audited image ID; a version tag or digest none."""
    said = reference_notice("registry.example/acme/app", "sha256:abc")
    assert said is not None
    assert "no tag" in said
    assert "image ID sha256:abc, which no registry serves" in said
    pinned = "registry.example/acme/app@sha256:" + "d" * 64
    said = reference_notice("registry:registry.example/acme/app:latest", "sha256:abc", pinned)
    assert said is not None
    assert f"what was audited is {pinned}; deploy that digest" in said
    assert "sha256:abc" not in said
    assert reference_notice("acme/app:latest", None) is not None
    assert reference_notice("acme/app:1.4.2", None) is None
    assert reference_notice("acme/app@sha256:" + "a" * 64, None) is None
    assert "META003" not in CHECKS


# --- a multi-layer base built by the engine -----------------------------------------------------

# A base made of the good fixture plus 25 MiB written and deleted in two of its own steps, ending
# with its CMD, as python:slim or a CUDA base ends; then an app built FROM it.
BASE_TAG, APP_TAG = session_tag("i16-base"), session_tag("i16-app")
BASE_DOCKERFILE = """FROM inspector-fixture/good:test
USER 0
RUN head -c 26214400 /dev/zero > /blob
RUN rm /blob
CMD ["bash"]
"""
APP_DOCKERFILE = f"""FROM {BASE_TAG}
RUN echo built > /srv/built.txt
USER 10001:10001
CMD ["python", "-m", "app"]
"""


@pytest.fixture(scope="module")
def multi_layer_base_app(docker_client, tmp_path_factory) -> Any:
    """Facts of an app built FROM a multi-layer base (built here, removed after)."""
    from inspector.facts.collect import collect

    built = []
    try:
        for tag, text in ((BASE_TAG, BASE_DOCKERFILE), (APP_TAG, APP_DOCKERFILE)):
            docker_client.images.build(fileobj=io.BytesIO(text.encode()), tag=tag, rm=True,
                                       network_mode="none", pull=False)  # fmt: skip
            built.append(tag)
        cache = tmp_path_factory.mktemp("layer-cache")
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("INSPECTOR_CACHE_DIR", str(cache))
            yield collect(APP_TAG).to_json()
    finally:
        for tag in reversed(built):
            docker_client.images.remove(tag, force=True)


@pytest.mark.docker
def test_engine_built_base_is_found_and_its_waste_and_labels_are_not_the_apps(
    multi_layer_base_app,
):
    """The base's CMD closes its layers: its 25 MiB written and deleted inside it fail no
    SIZE003 limit, and the good fixture's OCI labels, which the base carries, fail META001."""
    facts = multi_layer_base_app
    base = base_of(facts)
    assert base is not None
    assert base.layers == len(facts["layers"]) - 1  # only the app's RUN is above it
    assert facts["fs"]["wasted_bytes"] >= 25 * 1024 * 1024
    assert user_wasted_bytes(facts) < 1024 * 1024
    assert findings("SIZE003", facts) == []
    [inherited] = findings("META001", facts)
    assert "org.opencontainers.image.version=1.0.0" in inherited.message
