"""Runtime probes on the real fixture images: what each image does when it runs, and the sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from inspector.cli.commands import main
from inspector.facts.collect import collect
from inspector.probes import ProbeOptions, containers, lifecycle, static
from inspector.probes.lifecycle import docker_diff
from inspector.probes.model import skipped
from inspector.probes.plan import ProbePlan
from inspector.probes.upperdir import changes_from_upper
from tests.conftest import fixture_image, own_probes
from tests.test_fixtures import wait_for_log

pytestmark = pytest.mark.docker

WARMUP, GRACE = 2.0, 3.0
PROBED = (
    "good", "naive", "distroless", "no-python", "drops-privileges", "numeric-nopasswd",
    "ghost-user", "sigterm-ignorer", "sigterm-tini", "shell-pid1", "spawner", "needs-config",
)  # fmt: skip


@pytest.fixture(scope="module")
def runtime(fixture_probes) -> dict[str, dict[str, Any]]:
    """The runtime facts of every probed fixture (the session's shared collections, probed
    concurrently: each probe waits a lot)."""
    fixture_probes.start(PROBED)
    return {name: fixture_probes.facts(name)["runtime"] for name in PROBED}


def probe_containers(docker_client) -> list[containers.Listed]:
    """This session's probe containers (and those of the CLIs it started): never another run's."""
    return own_probes(docker_client)


# --- the static probe --------------------------------------------------------------------------


def test_good_static_probe_reports_its_user_python_and_settings(runtime):
    """good: the venv's python runs as 10001:10001 with faulthandler on and unbuffered stdout."""
    s = runtime["good"]["static"]
    assert s["status"] == "ran"
    assert (s["uid"], s["gid"], s["user_name"], s["home"], s["cwd"]) == (
        10001, 10001, "app", "/srv", "/srv")  # fmt: skip
    assert s["interpreter"] == s["executable"] == "/opt/venv/bin/python"
    assert (s["prefix"], s["base_prefix"]) == ("/opt/venv", "/usr")
    assert s["python_version"].startswith("3.")
    assert s["faulthandler"] is True
    assert s["stdout_write_through"] is True
    assert s["dont_write_bytecode"] is False
    assert s["ca_bundle"]
    assert s["timezone_data"] is True
    assert s["dependency_check"] == "done"
    assert s["dependency_problems"] == []
    assert s["distributions"] == 9  # the pinned requirements; pip and setuptools were removed


def test_good_code_is_not_writable_by_its_user_but_tmp_is(runtime):
    """good's user cannot write its site-packages, app dir or any dir on sys.path; /tmp keeps
    the image's 1777."""
    s = runtime["good"]["static"]
    assert s["app_dir"] == "/srv/app"
    assert s["writable"] == {
        "/opt/venv/lib/python3.11/site-packages": False,
        "/srv/app": False,
        "/srv": False,
        "/tmp": True,
        "/usr/lib/python3.11": False,
        "/usr/lib/python3.11/lib-dynload": False,
    }


def test_naive_static_probe_runs_as_root_with_everything_writable(runtime):
    """naive: root, faulthandler off, buffered stdout, and code root can rewrite."""
    s = runtime["naive"]["static"]
    assert (s["uid"], s["gid"], s["home"]) == (0, 0, "/root")
    assert s["faulthandler"] is False
    assert s["stdout_write_through"] is False
    assert s["app_dir"] == "/app/app"
    assert all(s["writable"].values())


def test_distroless_static_probe_works_without_a_shell(runtime):
    """distroless (no /bin/sh): the interpreter is run directly, as the numeric USER 65532."""
    s = runtime["distroless"]["static"]
    assert s["status"] == "ran"
    assert (s["uid"], s["gid"], s["user_name"]) == (65532, 65532, "nonroot")
    assert s["interpreter"] == "/usr/bin/python3.11"


def test_numeric_user_without_passwd_entry_runs_with_gid_0_and_home_root(runtime):
    """numeric-nopasswd: USER 4242 has no passwd entry, so Docker gives it gid 0 and HOME /."""
    s = runtime["numeric-nopasswd"]["static"]
    assert (s["uid"], s["gid"], s["home"], s["passwd_entry"], s["user_name"]) == (
        4242, 0, "/", False, None)  # fmt: skip


def test_no_python_image_static_probe_is_not_applicable(runtime):
    """no-python: the static probe says not-applicable and why, and measures nothing."""
    s = runtime["no-python"]["static"]
    assert s["status"] == "not-applicable"
    assert "no Python" in s["reason"]
    assert s["uid"] is None


def test_dependency_problems_match_pip_check(runtime, run):
    """drops-privileges: the probe's dependency problems are exactly what `pip check` prints."""
    s = runtime["drops-privileges"]["static"]
    ran = run(fixture_image("drops-privileges"), ["python3", "-m", "pip", "check"],
              entrypoint=[])  # fmt: skip
    expected = [line for line in ran.output.splitlines() if line.strip()]
    assert [p["message"] for p in s["dependency_problems"]] == expected
    problem = s["dependency_problems"][0]
    assert (problem["distribution"], problem["kind"], problem["installed"]) == (
        "rich", "missing", None)  # fmt: skip


def test_static_probe_finds_the_app_behind_an_entrypoint_script(runtime):
    """drops-privileges: `entrypoint.sh python3 -m app` still gives the app dir /srv/app."""
    assert runtime["drops-privileges"]["static"]["app_dir"] == "/srv/app"


def test_user_that_does_not_exist_cannot_start_with_dockers_message(runtime):
    """ghost-user: both probes record could-not-start with Docker's own message."""
    for section in runtime["ghost-user"].values():
        assert section["status"] == "could-not-start"
        text = section.get("message") or section.get("reason")
        assert "unable to find user ghost" in text


# --- the lifecycle probe -----------------------------------------------------------------------


def test_good_lifecycle_tini_is_pid1_app_is_child_and_stops_on_sigterm(runtime):
    """good: tini is PID 1, the app (uid 10001) listens on 8000 and exits 0 on SIGTERM."""
    life = runtime["good"]["lifecycle"]
    assert life["status"] == "ran"
    assert life["pid_namespace"] == "container"
    assert life["pid1_kind"] == "init"
    assert life["pid1_cmdline"][0] == "/usr/bin/tini"
    app = next(p for p in life["processes"] if p["pid"] == life["app_pid"])
    assert app["ppid"] == 1
    assert app["uid"] == 10001
    assert app["gid"] == 10001
    assert app["cmdline"] == ["python", "-m", "app"]
    assert {"protocol": "tcp", "address": "0.0.0.0", "port": 8000} in life["listening"]
    assert (life["stop_signal"], life["stopped_by"], life["exit_code"]) == ("SIGTERM", "signal", 0)
    assert life["stop_seconds"] < GRACE
    assert life["written_total"] == 0
    assert life["pyc_written"] == 0


def test_naive_shell_stays_pid1_swallows_sigterm_and_writes_pyc(runtime):
    """naive: shell-form CMD keeps /bin/sh as PID 1, so SIGTERM never reaches the app: killed."""
    life = runtime["naive"]["lifecycle"]
    assert life["pid1_kind"] == "shell"
    assert life["pid1_cmdline"] == ["/bin/sh", "-c", "python3 -m app"]
    app = next(p for p in life["processes"] if p["pid"] == life["app_pid"])
    assert app["cmdline"] == ["python3", "-m", "app"]
    assert app["uid"] == 0
    assert (life["stopped_by"], life["exit_code"]) == ("kill", 137)
    assert life["stop_seconds"] >= GRACE
    assert life["pyc_written"] > 0
    assert any(w["path"].endswith(".pyc") and w["kind"] == "added" for w in life["written"])


def test_entrypoint_that_drops_privileges_runs_the_app_as_10001(runtime):
    """drops-privileges: no USER in the config, yet the app process runs with uid/gid 10001."""
    assert runtime["drops-privileges"]["static"]["uid"] == 0  # the config says root
    life = runtime["drops-privileges"]["lifecycle"]
    pid1 = next(p for p in life["processes"] if p["pid"] == 1)
    assert (pid1["uid"], pid1["gid"]) == (10001, 10001)
    assert pid1["cmdline"] == ["python3", "-m", "app"]  # setpriv exec'd: the app is PID 1
    assert life["pid1_kind"] == "app"
    assert life["app_pid"] == 1


def test_sigterm_ignored_by_python_as_pid1_is_killed_after_the_grace(runtime):
    """sigterm-ignorer: python as PID 1 without a handler ignores SIGTERM and is SIGKILLed."""
    life = runtime["sigterm-ignorer"]["lifecycle"]
    assert life["pid1_kind"] == "app"
    assert (life["stopped_by"], life["exit_code"]) == ("kill", 137)
    assert life["stop_seconds"] >= GRACE


def test_same_app_behind_tini_stops_at_once(runtime):
    """sigterm-tini: tini forwards SIGTERM, the app dies of it (143) well within the grace."""
    life = runtime["sigterm-tini"]["lifecycle"]
    assert life["pid1_kind"] == "init"
    assert (life["stopped_by"], life["exit_code"]) == ("signal", 143)
    assert life["stop_seconds"] < GRACE


def test_shell_script_pid1_is_a_shell_with_the_app_as_child(runtime):
    """shell-pid1: sh runs start.sh as PID 1 and the app is its child."""
    life = runtime["shell-pid1"]["lifecycle"]
    assert life["pid1_kind"] == "shell"
    assert life["pid1_cmdline"] == ["/bin/sh", "/srv/start.sh"]
    app = next(p for p in life["processes"] if p["pid"] == life["app_pid"])
    assert app["ppid"] == 1
    assert app["name"].startswith("python")


def test_unreaped_children_show_as_zombies(runtime):
    """spawner: the three children it never waits for are zombies of PID 1."""
    life = runtime["spawner"]["lifecycle"]
    zombies = [p for p in life["processes"] if p["state"] == "Z"]
    assert life["zombies"] == len(zombies) == 3
    assert all(z["ppid"] == 1 for z in zombies)
    assert life["app_pid"] == 1


def test_distroless_and_no_python_images_are_watched_too(runtime):
    """Images without a shell or without Python still get a lifecycle probe."""
    distroless = runtime["distroless"]["lifecycle"]
    assert distroless["status"] == "ran"
    assert distroless["processes"][0]["uid"] == 65532
    busybox = runtime["no-python"]["lifecycle"]
    assert busybox["status"] == "ran"
    assert busybox["pid1_cmdline"][:2] == ["/bin/busybox", "httpd"]
    assert any(s["port"] == 8080 for s in busybox["listening"])


def test_app_that_exits_during_warmup_is_inconclusive_with_its_log(runtime):
    """needs-config: exits 3 during the warm-up: exited-early, exit code and the log line kept."""
    life = runtime["needs-config"]["lifecycle"]
    assert life["status"] == "exited-early"
    assert life["exit_code"] == 3
    assert any("DATABASE_URL is not set" in line for line in life["log_tail"])
    assert life["stopped_by"] is None
    assert life["pid1_kind"] is None
    assert life["exit_cause"]["kind"] == "needs-config"
    assert life["exit_cause"]["subject"] == "DATABASE_URL"
    assert "waiting for configuration" in life["reason"]
    assert "inconclusive" in life["reason"]


# --- the sandbox and cleanup ------------------------------------------------------------------


def plan_for(name: str) -> ProbePlan:
    """The plan collect hands the probes for a fixture (captured, with no probe run)."""
    captured: list[ProbePlan] = []
    collect(fixture_image(name), runtime=lambda plan: captured.append(plan) or skipped("plan"))
    return captured[0]


def test_static_probe_container_is_hardened_and_created_by_id(docker_client, monkeypatch):
    """The static probe runs by image ID, no network, caps dropped, no-new-privileges, ro root."""
    seen: list[dict[str, Any]] = []
    real_create = containers.create

    def spy(client, image_id, role, **options):
        container = real_create(client, image_id, role, **options)
        container.reload()
        seen.append(container.attrs)
        return container

    monkeypatch.setattr(containers, "create", spy)
    facts = collect(fixture_image("good"), probe=ProbeOptions(warmup=0.5, grace=1)).to_json()
    static_attrs, lifecycle_attrs = seen
    host = static_attrs["HostConfig"]
    assert static_attrs["Image"] == facts["image"]["id"]
    assert host["NetworkMode"] == "none"
    assert host["CapDrop"] == ["ALL"]
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["ReadonlyRootfs"] is True
    assert "mode=1777" in host["Tmpfs"]["/tmp"]
    assert host["Memory"] > 0
    assert host["PidsLimit"] > 0
    assert not host.get("Binds")
    assert not host.get("Mounts")
    assert static_attrs["Config"]["Labels"][containers.LABEL] == "static"
    assert static_attrs["Config"]["Env"] == lifecycle_attrs["Config"]["Env"]  # the image's only
    assert lifecycle_attrs["HostConfig"]["NetworkMode"] == "none"
    assert lifecycle_attrs["Image"] == facts["image"]["id"]
    assert not probe_containers(docker_client)


def test_static_probe_timeout_is_reported_and_the_container_removed(docker_client):
    """A static probe that outlives its wall-clock timeout is status timeout, never left behind."""
    found = static.run(docker_client, plan_for("good"), timeout=0.01)
    assert found.status == "timeout"
    assert not probe_containers(docker_client)


def test_processes_fall_back_to_docker_top_without_local_proc(docker_client, tmp_path):
    """With no readable /proc (a remote engine), docker top still finds PID 1 and the app."""
    target = plan_for("sigterm-tini")
    life = lifecycle.run(docker_client, target, warmup=1, grace=2, proc_root=str(tmp_path))
    assert life.pid_namespace == "host"
    assert not life.sockets_known
    assert life.pid1_kind == "init"
    assert {p.name for p in life.processes} >= {"tini", "python3"}
    assert not probe_containers(docker_client)


def test_archives_and_no_probe_give_reasons_not_runtime_facts(tmp_path, docker_client):
    """An archive source is not-applicable, --no-probe is skipped; both say why."""
    archive = tmp_path / "good.tar"
    with open(archive, "wb") as out:
        for chunk in docker_client.images.get(fixture_image("good")).save(named=True):
            out.write(chunk)
    from_archive = collect(f"docker-archive:{archive}", probe=ProbeOptions()).to_json()
    assert from_archive["runtime"]["static"]["status"] == "not-applicable"
    assert "docker load" in from_archive["runtime"]["lifecycle"]["reason"]
    skipped = collect(fixture_image("good")).to_json()["runtime"]
    assert skipped["static"]["status"] == skipped["lifecycle"]["status"] == "skipped"


def test_facts_json_has_every_required_runtime_path(capsys):
    """`inspector facts --format json` carries the runtime paths the issue names."""
    code = main(["facts", fixture_image("sigterm-tini"), "--format", "json", "--warmup", "1",
                 "--grace", "2"])  # fmt: skip
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    static_keys = {"uid", "gid", "home", "faulthandler", "python_version", "writable",
                   "dependency_problems"}  # fmt: skip
    assert static_keys <= set(doc["runtime"]["static"])
    life = doc["runtime"]["lifecycle"]
    assert {"status", "processes", "pid1_kind", "stop_seconds", "exit_code", "written"} <= set(life)
    assert {"pid", "uid", "gid", "cmdline"} <= set(life["processes"][0])


def _inspector(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "inspector", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_for_probe(docker_client, role: str, pid: int, seconds: float = 60) -> Any:
    """The `role` probe container of process `pid`: another run's probe on the same engine
    (or one a killed run left) must not start the test's clock."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for container in probe_containers(docker_client):
            owner = container.labels.get(containers.OWNER_LABEL, "").split(":")
            if container.labels.get(containers.LABEL) == role and owner[1:2] == [str(pid)]:
                return container
        time.sleep(0.1)
    raise AssertionError(f"no {role} probe container appeared within {seconds}s")


@pytest.mark.parametrize(("how", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_run_removes_its_probe_container(docker_client, how, code):
    """Ctrl-C or SIGTERM mid-probe: inspector exits 130/143 and no probe container remains."""
    child = _inspector("facts", fixture_image("su-start-script"), "--warmup", "60")
    try:
        _wait_for_probe(docker_client, "lifecycle", child.pid)
        child.send_signal(how)
        assert child.wait(timeout=60) == code
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert not probe_containers(docker_client)


@pytest.mark.parametrize(
    ("first", "second", "gap", "code"),
    [(signal.SIGINT, signal.SIGINT, 0.0, 130), (signal.SIGINT, signal.SIGINT, 0.3, 130),
     (signal.SIGTERM, signal.SIGTERM, 0.05, 143), (signal.SIGTERM, signal.SIGINT, 0.3, 143)],
)  # fmt: skip
def test_a_second_signal_during_cleanup_leaves_no_probe_behind(docker_client, first, second,
                                                               gap, code):  # fmt: skip
    """Two signals in a row (a double Ctrl-C, a process group signalled twice): the second one
    cannot stop the cleanup the first started; no container remains and no traceback shows."""
    child = subprocess.Popen(
        [sys.executable, "-m", "inspector", "facts", fixture_image("su-start-script"),
         "--warmup", "60"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_for_probe(docker_client, "lifecycle", child.pid)
        child.send_signal(first)
        time.sleep(gap)
        if child.poll() is None:
            child.send_signal(second)
        _, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == code
    assert "Traceback" not in err
    assert not probe_containers(docker_client)


def test_cleanup_keeps_live_runs_and_removes_those_of_killed_runs(docker_client, capsys):
    """`inspector cleanup` keeps a running probe, then removes it once its run was SIGKILLed."""
    child = _inspector("facts", fixture_image("su-start-script"), "--warmup", "60")
    try:
        _wait_for_probe(docker_client, "lifecycle", child.pid)
        assert main(["cleanup"]) == 0
        assert "kept" in capsys.readouterr().out
        assert len(probe_containers(docker_client)) == 1
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        assert len(probe_containers(docker_client)) == 1  # a killed run cannot clean up
        assert main(["cleanup"]) == 0
        assert "removed" in capsys.readouterr().out
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert not probe_containers(docker_client)


def test_upper_dir_changes_equal_docker_diff(docker_client, started):
    """The overlay upper dir gives exactly what `docker diff` says: added, changed, deleted."""
    target = plan_for("naive")
    container = started(target.image_id)
    # It writes its .pyc while it imports, before it listens: after this line both views are
    # of a finished start, whatever the machine's load.
    wait_for_log(container, "listening on")
    command = (
        "rm /etc/issue && mkdir -p /var/new/deep && touch /var/new/deep/x /app/requirements.txt"
    )
    assert container.exec_run(["sh", "-c", command]).exit_code == 0
    container.reload()
    ours = changes_from_upper(container.attrs, target.image_paths)
    assert ours is not None
    assert {(w.path, w.kind) for w in ours} == {(w.path, w.kind) for w in docker_diff(container)}
    assert ("/etc/issue", "deleted") in {(w.path, w.kind) for w in ours}
