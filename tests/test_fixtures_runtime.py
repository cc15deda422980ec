"""The runtime-probe fixtures behave as their Dockerfile comments claim, checked with Docker."""

from __future__ import annotations

import json

import docker.errors
import pytest

from tests.conftest import fixture_image
from tests.test_fixtures import wait_for_log

pytestmark = pytest.mark.docker

# Run with the image's own python inside a container: every process but itself, from /proc.
PROCS = r"""
import json, os
out = []
for pid in sorted((p for p in os.listdir("/proc") if p.isdigit()), key=int):
    if int(pid) == os.getpid():
        continue
    try:
        with open(f"/proc/{pid}/status") as f:
            status = dict(line.split(":", 1) for line in f.read().splitlines())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = [a.decode() for a in f.read().split(b"\0")[:-1]]
    except OSError:
        continue
    status = {k: v.split() for k, v in status.items()}
    out.append({"pid": int(pid), "ppid": int(status["PPid"][0]), "state": status["State"][0],
                "uid": status["Uid"], "gid": status["Gid"], "groups": status["Groups"],
                "sigcgt": int(status["SigCgt"][0], 16), "cmdline": cmdline})
print(json.dumps(out))
"""
SIGTERM_BIT = 1 << (15 - 1)


def processes(container, python: str = "python3", **kwargs: object) -> dict[int, dict]:
    """The container's processes by PID, read from /proc with the image's python."""
    result = container.exec_run([python, "-c", PROCS], **kwargs)
    assert result.exit_code == 0, result.output.decode(errors="replace")
    return {p["pid"]: p for p in json.loads(result.output)}


def stop_status(container, timeout: int) -> int:
    container.stop(timeout=timeout)
    return container.wait(timeout=timeout + 10)["StatusCode"]


# --- distroless -------------------------------------------------------------------------------


def test_distroless_config_is_scratch_numeric_nonroot_exec_form(image):
    """distroless has numeric USER 65532, exec-form ENTRYPOINT by full path and no PYTHONPATH."""
    img = image("distroless")
    config = img.attrs["Config"]
    assert config["User"] == "65532:65532"
    assert config["Entrypoint"] == ["/usr/bin/python3", "-m", "app"]
    assert config["WorkingDir"] == "/srv"
    assert not any(e.startswith("PYTHONPATH=") for e in config["Env"] or [])


def test_distroless_has_no_shell_and_serves_as_65532(started):
    """distroless runs its app as 65532:65532, answers on 8000, and has no shell or busybox."""
    container = started(fixture_image("distroless"))
    wait_for_log(container, "listening on 8000")
    for path in ("/bin/sh", "/bin/busybox", "/usr/bin/sh"):
        with pytest.raises(docker.errors.NotFound):
            container.get_archive(path)
    assert container.exec_run(["/bin/sh", "-c", "true"]).exit_code == 126  # cannot exec
    procs = processes(container, "/usr/bin/python3")
    assert procs[1]["cmdline"] == ["/usr/bin/python3", "-m", "app"]
    assert (procs[1]["uid"], procs[1]["gid"]) == (["65532"] * 4, ["65532"] * 4)
    code = """if True:
        import os, sys, urllib.request, requests
        names = {"sh", "bash", "dash", "ash", "busybox"}
        shells = [os.path.join(d, f) for top in ("/bin", "/usr", "/lib", "/sbin", "/etc", "/srv")
                  for d, _, files in os.walk(top) for f in files if f in names]
        body = urllib.request.urlopen("http://127.0.0.1:8000/", timeout=5).read()
        print(shells, body.decode(), requests.__file__, os.environ.get("PYTHONPATH"), sep="\\n")
    """
    result = container.exec_run(["/usr/bin/python3", "-c", code])
    assert result.exit_code == 0, result.output.decode(errors="replace")
    shells, body, requests_file, pythonpath = result.output.decode().splitlines()
    assert shells == "[]"
    assert json.loads(body)["requests"] == "2.32.3"
    assert requests_file.startswith("/usr/local/lib/python3")  # the interpreter's own site dir
    assert pythonpath == "None"


# --- no-python --------------------------------------------------------------------------------


def test_no_python_has_no_python_and_busybox_httpd_listens_on_8080(image, started):
    """no-python has no python anywhere, runs as root, and busybox httpd listens on 8080."""
    config = image("no-python").attrs["Config"]
    assert config["User"] == ""
    assert config["Entrypoint"][:2] == ["/bin/busybox", "httpd"]
    container = started(fixture_image("no-python"))
    found = container.exec_run(["find", "/", "-xdev", "-name", "python*"])
    assert (found.exit_code, found.output) == (0, b"")
    pid1 = container.exec_run(["cat", "/proc/1/cmdline"]).output.split(b"\0")
    assert pid1[:2] == [b"/bin/busybox", b"httpd"]
    status = container.exec_run(["cat", "/proc/1/status"]).output.decode()
    assert "Uid:\t0\t0\t0\t0" in status
    # busybox binds [::]:8080, so the listening socket (state 0A) shows in tcp6, not tcp.
    sockets = container.exec_run(["cat", "/proc/net/tcp", "/proc/net/tcp6"]).output.decode()
    assert any(
        line.split()[1].endswith(":1F90") and line.split()[3] == "0A"
        for line in sockets.splitlines()[1:]
        if line.split()[0].endswith(":")
    )
    page = container.exec_run(["wget", "-q", "-O", "-", "http://127.0.0.1:8080/"])
    assert b"busybox httpd" in page.output


# --- drops-privileges -------------------------------------------------------------------------


def test_drops_privileges_starts_as_root_and_runs_the_app_as_10001(image, started):
    """drops-privileges has no USER, yet its app (PID 1 after exec) runs as 10001 with no groups."""
    config = image("drops-privileges").attrs["Config"]
    assert config["User"] == ""
    assert config["Entrypoint"] == ["/usr/local/bin/entrypoint.sh"]
    assert config["Cmd"] == ["python3", "-m", "app"]
    container = started(fixture_image("drops-privileges"))
    wait_for_log(container, "listening on 8000")
    assert "dropping to uid 10001" in container.logs().decode()
    pid1 = processes(container)[1]
    assert pid1["cmdline"] == ["python3", "-m", "app"]
    assert (pid1["uid"], pid1["gid"], pid1["groups"]) == (["10001"] * 4, ["10001"] * 4, [])
    # The root-only step happened: the directory belongs to app.
    owner = container.exec_run(["stat", "-c", "%u:%g", "/srv/data"]).output.decode().strip()
    assert owner == "10001:10001"


def test_drops_privileges_pip_check_reports_exactly_the_missing_markdown_it(run):
    """pip check in drops-privileges reports only that rich's markdown-it-py is not installed."""
    ran = run(fixture_image("drops-privileges"), None, entrypoint=["python3", "-m", "pip", "check"])
    assert ran.exit_code == 1
    assert ran.output == "rich 13.9.4 requires markdown-it-py, which is not installed.\n"


# --- numeric-nopasswd -------------------------------------------------------------------------


def test_numeric_nopasswd_runs_with_gid_0_and_home_slash(image, started):
    """numeric-nopasswd's USER 4242 has no passwd entry, so the app runs with gid 0 and HOME=/."""
    assert image("numeric-nopasswd").attrs["Config"]["User"] == "4242"
    container = started(fixture_image("numeric-nopasswd"))
    wait_for_log(container, "listening on 8000")
    assert container.exec_run(["getent", "passwd", "4242"]).exit_code == 2
    pid1 = processes(container)[1]
    assert pid1["cmdline"] == ["python3", "-m", "app"]
    assert (pid1["uid"], pid1["gid"]) == (["4242"] * 4, ["0"] * 4)
    environ = container.exec_run(["cat", "/proc/1/environ"]).output.split(b"\0")
    assert b"HOME=/" in environ


# --- ghost-user -------------------------------------------------------------------------------


def test_ghost_user_cannot_start(image, run):
    """ghost-user's USER ghost is not in /etc/passwd, so Docker refuses to start the container."""
    assert image("ghost-user").attrs["Config"]["User"] == "ghost"
    passwd = run(fixture_image("ghost-user"), ["cat", "/etc/passwd"], user="0").output
    assert "ghost:" not in passwd
    with pytest.raises(docker.errors.APIError) as raised:
        run(fixture_image("ghost-user"))
    assert "unable to find user ghost: no matching entries in passwd file" in str(raised.value)


# --- sigterm-ignorer / sigterm-tini -----------------------------------------------------------


def test_sigterm_ignorer_is_killed_after_the_stop_timeout(image, started):
    """sigterm-ignorer's PID 1 has no SIGTERM handler, so docker stop ends in SIGKILL (137)."""
    config = image("sigterm-ignorer").attrs["Config"]
    assert (config["Entrypoint"], config["Cmd"]) == (None, ["python3", "/srv/sleeper.py"])
    assert config["User"] == "10001:10001"
    container = started(fixture_image("sigterm-ignorer"))
    wait_for_log(container, "sleeper started")
    pid1 = processes(container)[1]
    assert pid1["cmdline"] == ["python3", "/srv/sleeper.py"]
    assert pid1["uid"] == ["10001"] * 4
    assert not pid1["sigcgt"] & SIGTERM_BIT
    assert stop_status(container, timeout=2) == 137


def test_sigterm_tini_stops_on_sigterm(image, started):
    """sigterm-tini runs the same loop under tini as PID 1, so SIGTERM ends it (exit 143)."""
    assert image("sigterm-tini").attrs["Config"]["Entrypoint"] == ["/usr/bin/tini", "--"]
    container = started(fixture_image("sigterm-tini"))
    wait_for_log(container, "sleeper started")
    procs = processes(container)
    assert procs[1]["cmdline"] == ["/usr/bin/tini", "--", "python3", "/srv/sleeper.py"]
    child = [p for p in procs.values() if p["ppid"] == 1]
    assert [p["cmdline"] for p in child] == [["python3", "/srv/sleeper.py"]]
    assert stop_status(container, timeout=10) == 143


# --- shell-pid1 and naive ---------------------------------------------------------------------


def test_shell_pid1_keeps_sh_as_pid1_with_the_app_as_its_child(image, started):
    """shell-pid1's PID 1 is /bin/sh running start.sh, and the app is its child process."""
    assert image("shell-pid1").attrs["Config"]["Entrypoint"] == ["/bin/sh", "/srv/start.sh"]
    container = started(fixture_image("shell-pid1"))
    wait_for_log(container, "listening on 8000")
    procs = processes(container)
    assert procs[1]["cmdline"] == ["/bin/sh", "/srv/start.sh"]
    children = [p["cmdline"] for p in procs.values() if p["ppid"] == 1]
    assert children == [["python3", "-m", "app"]]


def test_naive_shell_form_cmd_keeps_sh_as_pid1(started):
    """naive's shell-form CMD leaves dash as PID 1 (it does not exec) with the app as its child."""
    container = started(fixture_image("naive"))
    wait_for_log(container, "listening on 8000")
    procs = processes(container)
    assert procs[1]["cmdline"] == ["/bin/sh", "-c", "python3 -m app"]
    children = [p["cmdline"] for p in procs.values() if p["ppid"] == 1]
    assert children == [["python3", "-m", "app"]]


# --- spawner ----------------------------------------------------------------------------------


def test_spawner_leaves_zombies_under_pid1(image, started):
    """spawner's PID 1 python never reaps its forked children: they stay zombies (state Z)."""
    config = image("spawner").attrs["Config"]
    assert (config["Entrypoint"], config["Cmd"]) == (None, ["python3", "/srv/spawner.py"])
    container = started(fixture_image("spawner"))
    wait_for_log(container, "spawner ready")
    procs = processes(container)
    assert procs[1]["cmdline"] == ["python3", "/srv/spawner.py"]
    children = [p for p in procs.values() if p["ppid"] == 1]
    assert sorted(p["state"] for p in children) == ["S", "Z", "Z", "Z"]
    assert [p["cmdline"] for p in children if p["state"] == "S"] == [["sleep", "infinity"]]
