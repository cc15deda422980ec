"""Unit tests of the notable-files analyser (inspector/analysers/files.py) on built layers."""

from __future__ import annotations

import dataclasses
import io
import json
from typing import Any

from inspector.analysers import files
from inspector.analysers.imagedata import ImageData
from inspector.image.config import config_from_json
from inspector.layers.overlay import merge
from inspector.layers.reader import read_layer
from tests.layertools import layer

TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


def build(*layers: tuple[tuple[Any, ...], ...], config: dict[str, Any] | None = None) -> ImageData:
    reads = [read_layer(io.BytesIO(layer(*members)), files.wants) for members in layers]
    steps: list[str | None] = [f"RUN step {i}" for i in range(len(reads))]
    cfg = config or {}
    return ImageData(config=config_from_json(cfg), raw_config={"config": cfg},
                     layers=reads, fs=merge(reads), layer_steps=steps)  # fmt: skip


def paths(items: Any) -> list[str]:
    return [item.path for item in items]


BASE = (("usr/bin/su", b"\x7fELF" * 10, {"mode": 0o4755}), ("bin", "->usr/bin"))


# --- privilege ----------------------------------------------------------------------------------

SUDOERS_DEBIAN = b"""#
# This file MUST be edited with the 'visudo' command as root.
Defaults\tenv_reset
Defaults\tsecure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"
# User privilege specification
root\tALL=(ALL:ALL) ALL
# Allow members of group sudo to execute any command
%sudo\tALL=(ALL:ALL) ALL
@includedir /etc/sudoers.d
"""


def test_sudo_binary_and_a_nopasswd_rule_for_the_app_user_are_reported():
    """sudo and su in the bin dirs are tools; a sudoers.d rule gives who, what and NOPASSWD."""
    data = build(BASE, (
        ("usr/bin/sudo", b"\x7fELF" * 50, {"mode": 0o4755}),
        ("etc/sudoers", SUDOERS_DEBIAN, {"mode": 0o440}),
        ("etc/sudoers.d/app", b"app ALL=(ALL) NOPASSWD: ALL\n", {"mode": 0o440}),
        ("etc/sudoers.d/README", b"# comments only\n"),
        ("etc/sudoers.d/old.bak", b"bob ALL=(ALL) NOPASSWD: ALL\n"),
        ("usr/share/doc/sudo/sudo", b"not a binary"),
    ))  # fmt: skip
    privilege = files.analyse(data).privilege
    assert [(t.name, t.path, t.mode, t.layer) for t in privilege.tools] == [
        ("su", "/usr/bin/su", "4755", 0), ("sudo", "/usr/bin/sudo", "4755", 1)]  # fmt: skip
    by_path = {s.path: s for s in privilege.sudoers}
    assert sorted(by_path) == ["/etc/sudoers", "/etc/sudoers.d/README", "/etc/sudoers.d/app",
                               "/etc/sudoers.d/old.bak"]  # fmt: skip
    main = by_path["/etc/sudoers"]
    assert [(r.who, r.group, r.runas, r.nopasswd) for r in main.rules] == [
        ("root", False, "ALL:ALL", False), ("%sudo", True, "ALL:ALL", False)]  # fmt: skip
    app = by_path["/etc/sudoers.d/app"]
    assert app.read_by_sudo
    assert app.captured
    assert not app.truncated
    assert app.created_by == "RUN step 1"
    (rule,) = app.rules
    assert (rule.who, rule.commands, rule.nopasswd, rule.all_commands) == ("app", ("ALL",), True,
                                                                          True)  # fmt: skip
    assert not by_path["/etc/sudoers.d/old.bak"].read_by_sudo
    assert by_path["/etc/sudoers.d/README"].rules == ()


def test_sudoers_aliases_uids_tags_and_several_host_specs_are_parsed():
    """User_Alias expands, #uid and %#gid stay as written, tags are stripped from commands."""
    text = """User_Alias ADMINS = alice, bob
Cmnd_Alias PKG = /usr/bin/apt-get
ADMINS ALL = NOPASSWD: ALL
#10001 ALL=(root) NOPASSWD:SETENV: /usr/bin/apt-get, \\
    /bin/systemctl
%#10001 ALL=(ALL) ALL  # a comment
app, !carol web = /bin/ls : db = (postgres) NOPASSWD: /usr/bin/psql
"""
    rules = files.parse_sudoers(text)
    got = [(r.who, r.group, r.runas, r.commands, r.nopasswd) for r in rules]
    assert got == [
        ("alice", False, None, ("ALL",), True),
        ("bob", False, None, ("ALL",), True),
        ("#10001", False, "root", ("/usr/bin/apt-get", "/bin/systemctl"), True),
        ("%#10001", True, "ALL", ("ALL",), False),
        ("app", False, None, ("/bin/ls",), False),
        ("app", False, "postgres", ("/usr/bin/psql",), True),
    ]


def test_a_large_sudoers_is_captured_only_up_to_the_cap():
    """The capture rule stays small: a huge sudoers is cut at 64 KiB and marked truncated."""
    big = b"# padding\n" * 10000 + b"app ALL=(ALL) NOPASSWD: ALL\n"
    data = build((("etc/sudoers", big),))
    (sudoers,) = files.analyse(data).privilege.sudoers
    assert sudoers.truncated
    assert sudoers.size == len(big)
    assert len(data.content("/etc/sudoers") or b"") == files.SUDOERS_CAP
    assert files.wants("/usr/bin/python3", 10**6) is None
    assert files.wants("/srv/app/.git/config", 10**9) == files.GIT_CONFIG_CAP


# --- ssh ----------------------------------------------------------------------------------------


def test_ssh_server_host_keys_even_deleted_and_authorized_keys():
    """A host key deleted by a later layer is still listed with where it was deleted."""
    data = build(
        (("usr/sbin/sshd", b"\x7fELF" * 100), ("etc/ssh/ssh_host_ed25519_key", b"-----BEGIN"),
         ("etc/ssh/ssh_host_ed25519_key.pub", b"ssh-ed25519 AAAA"),
         ("etc/ssh/ssh_host_rsa_key", b"-----BEGIN RSA"),
         ("home/dev/.ssh/authorized_keys", b"ssh-rsa AAAA dev@laptop")),
        (("etc/ssh/.wh.ssh_host_rsa_key", b""),),
    )  # fmt: skip
    ssh = files.analyse(data).ssh
    assert paths(ssh.servers) == ["/usr/sbin/sshd"]
    keys = {k.path: k for k in ssh.host_keys}
    assert sorted(keys) == ["/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_rsa_key"]
    assert keys["/etc/ssh/ssh_host_ed25519_key"].deleted_in is None
    rsa = keys["/etc/ssh/ssh_host_rsa_key"]
    assert (rsa.layer, rsa.deleted_in, rsa.deleted_by) == (0, 1, "RUN step 1")
    assert paths(ssh.authorized_keys) == ["/home/dev/.ssh/authorized_keys"]


# --- toolchain ----------------------------------------------------------------------------------


def test_compilers_make_headers_python_h_and_static_libs():
    """Debian's gcc layout (symlinks to a triplet binary) is found; gcc-ar and c++filt are not."""
    data = build((
        ("usr/bin/x86_64-linux-gnu-gcc-12", b"\x7fELF" * 1000),
        ("usr/bin/gcc-12", "->x86_64-linux-gnu-gcc-12"), ("usr/bin/gcc", "->gcc-12"),
        ("usr/bin/cc", "->/etc/alternatives/cc"), ("usr/bin/tcc", b"\x7fELF"),
        ("usr/bin/gcc-ar-12", b"\x7fELF"), ("usr/bin/c++filt", b"\x7fELF"),
        ("usr/bin/make", b"\x7fELF" * 10), ("usr/lib/gcc/x86_64-linux-gnu/12/gcc", b"x"),
        ("usr/include/stdio.h", b"x" * 300), ("usr/include/linux/types.h", b"x" * 200),
        ("usr/include/python3.11/Python.h", b"#include" * 10),
        ("usr/lib/x86_64-linux-gnu/libc.a", b"!<arch>" * 1000),
        ("usr/lib/x86_64-linux-gnu/libm.a", b"!<arch>" * 10),
    ))  # fmt: skip
    toolchain = files.analyse(data).toolchain
    assert paths(toolchain.compilers) == [
        "/usr/bin/cc", "/usr/bin/gcc", "/usr/bin/gcc-12", "/usr/bin/tcc",
        "/usr/bin/x86_64-linux-gnu-gcc-12",
    ]  # fmt: skip
    assert {c.path: c.kind for c in toolchain.compilers}["/usr/bin/gcc"] == "symlink"
    assert paths(toolchain.make) == ["/usr/bin/make"]
    assert [(h.path, h.files, h.bytes) for h in toolchain.header_dirs] == [
        ("/usr/include", 3, 580)]  # fmt: skip
    assert paths(toolchain.python_headers) == ["/usr/include/python3.11/Python.h"]
    libs = toolchain.static_libs
    assert (libs.files, libs.bytes) == (2, 7070)
    assert libs.examples == ("/usr/lib/x86_64-linux-gnu/libc.a", "/usr/lib/x86_64-linux-gnu/libm.a")


def test_no_toolchain_in_a_slim_image():
    """An image without compilers or headers reports empty lists and zero counts."""
    toolchain = files.analyse(build(BASE)).toolchain
    assert toolchain.compilers == toolchain.make == toolchain.python_headers == ()
    assert toolchain.header_dirs == ()
    assert (toolchain.static_libs.files, toolchain.static_libs.bytes) == (0, 0)


# --- leftovers ----------------------------------------------------------------------------------


def test_leftovers_visible_and_deleted_later_with_bytes_and_steps():
    """A wheel deleted by a later layer still counts, with the layer and step that deleted it."""
    data = build(
        (("tmp/wheels/numpy-1.26.4-cp311-cp311-manylinux.whl", b"w" * 5000),
         ("srv/requests-2.31.0.tar.gz", b"s" * 700), ("get-pip.py", b"p" * 300),
         ("root/Miniconda3-latest-Linux-x86_64.sh", b"m" * 900),
         ("srv/backup.tar.gz", b"b" * 100), ("tmp/sudo_1.9.13.deb", b"d" * 40),
         ("opt/venv/lib/python3.11/site-packages/pkg/data/x-1.0.whl", b"w"),
         ("usr/share/python-wheels/pip-23.0-py3-none-any.whl", b"w" * 10),
         ("usr/lib/python3.11/ensurepip/_bundled/pip-24.0-py3-none-any.whl", b"w" * 10),
         ("root/.cache/pip/wheels/ab/foo-1.0-py3-none-any.whl", b"w" * 10),
         ("var/cache/apt/archives/gcc_12_amd64.deb", b"d" * 10)),
        (("tmp/.wh.wheels", b""),),
    )  # fmt: skip
    left = files.analyse(data).leftovers
    got = {i.path: (i.name, i.size, i.deleted_in) for i in left.items}
    assert got == {
        "/tmp/wheels/numpy-1.26.4-cp311-cp311-manylinux.whl": ("wheel", 5000, 1),
        "/root/Miniconda3-latest-Linux-x86_64.sh": ("installer", 900, None),
        "/srv/requests-2.31.0.tar.gz": ("sdist", 700, None),
        "/get-pip.py": ("get-pip", 300, None),
        "/tmp/sudo_1.9.13.deb": ("deb", 40, None),
    }
    assert [i.size for i in left.items] == [5000, 900, 700, 300, 40]
    assert (left.visible_files, left.visible_bytes) == (4, 1940)
    assert (left.deleted_files, left.deleted_bytes) == (1, 5000)
    wheel = left.items[0]
    assert (wheel.layer, wheel.created_by, wheel.deleted_by) == (0, "RUN step 0", "RUN step 1")


# --- build-context leaks ------------------------------------------------------------------------


def test_context_leaks_git_with_credential_dotfiles_and_host_venv():
    """A .git with a token URL is flagged "url" and the token appears nowhere in the facts."""
    git_config = f"""[core]
\trepositoryformatversion = 0
[remote "origin"]
\turl = https://x-access-token:{TOKEN}@github.com/acme/app.git
""".encode()
    data = build(
        (("usr/bin/python3.11", b"\x7fELF"),
         ("opt/venv/pyvenv.cfg", b"home = /usr/bin\n"),
         ("usr/share/doc/thing/.git/HEAD", b"ref"),
         ("opt/venv/lib/python3.11/site-packages/pkg/.vscode/settings.json", b"{}"),
         ("usr/lib/node_modules/npm/package.json", b"{}")),
        (("app/.git/config", git_config), ("app/.git/HEAD", b"ref: refs/heads/main\n"),
         ("app/.git/objects/pack/pack-1.pack", b"p" * 1000),
         ("app/.git/hooks/Dockerfile", b"FROM x"),
         ("app/.env", b"DEBUG=1\n"), ("app/.env.production", b"X=1\n"),
         ("app/Dockerfile", b"FROM python"), ("app/docker-compose.prod.yml", b"services:"),
         ("app/.dockerignore", b".git"), ("app/infra/terraform.tfstate", b"{}"),
         ("app/.idea/workspace.xml", b"<x/>"),
         ("app/node_modules/left-pad/index.js", b"x" * 50),
         ("app/node_modules/left-pad/.git/HEAD", b"ref"),
         ("app/.venv/pyvenv.cfg", b"home = /Users/me/.pyenv/versions/3.11/bin\n"),
         ("app/.venv/bin/python", "->/Users/me/.pyenv/versions/3.11/bin/python"),
         ("app/main.py", b"print()")),
    )  # fmt: skip
    result = files.analyse(data)
    leaks = {leak.path: leak for leak in result.context_leaks}
    assert {p: leak.name for p, leak in leaks.items()} == {
        "/app/.git": "git", "/app/.env": "env_file", "/app/.env.production": "env_file",
        "/app/Dockerfile": "dockerfile", "/app/docker-compose.prod.yml": "compose",
        "/app/infra/terraform.tfstate": "tfstate",
        "/app/.idea": "idea", "/app/node_modules": "node_modules", "/app/.venv": "host_venv",
    }  # fmt: skip
    git = leaks["/app/.git"]
    assert (git.kind, git.dir, git.files, git.credential, git.layer) == ("dir", "/app", 4, "url", 1)
    assert git.bytes == len(git_config) + len(b"ref: refs/heads/main\n") + 1000 + len(b"FROM x")
    assert leaks["/app/node_modules"].files == 2
    assert leaks["/app/.venv"].venv_home == "/Users/me/.pyenv/versions/3.11/bin"
    assert leaks["/app/infra/terraform.tfstate"].dir == "/app/infra"
    assert TOKEN not in json.dumps(dataclasses.asdict(result))


def test_git_extraheader_counts_as_a_credential_and_a_plain_remote_does_not():
    """CI checkouts persist `extraheader = AUTHORIZATION: basic ...`; `git@host` URLs are fine."""
    header = b'[http "https://github.com/"]\n\textraheader = AUTHORIZATION: basic eC1hY2Nlc3M=\n'
    plain = b'[remote "origin"]\n\turl = https://git@github.com/acme/app.git\n'
    data = build((("a/.git/config", header), ("b/.git/config", plain)))
    leaks = {leak.path: leak.credential for leak in files.analyse(data).context_leaks}
    assert leaks == {"/a/.git": "header", "/b/.git": None}


# --- chown/chmod duplication --------------------------------------------------------------------


def test_chown_r_in_a_later_layer_duplicates_the_tree():
    """Same size and mtime, new owner or mode: grouped by (original, re-adding) layer."""
    stamp = {"mtime": 1_700_000_000}
    data = build(
        (("app/", None), ("app/big.bin", b"x" * 4000, dict(stamp)),
         ("app/main.py", b"print()", dict(stamp)), ("app/run.sh", b"#!/bin/sh", dict(stamp)),
         ("app/edited.py", b"a = 1", dict(stamp))),
        (("app/big.bin", b"x" * 4000, {**stamp, "uid": 10001, "gid": 10001}),
         ("app/main.py", b"print()", {**stamp, "uid": 10001, "gid": 10001}),
         ("app/run.sh", b"#!/bin/sh", {**stamp, "mode": 0o755}),
         ("app/edited.py", b"a = 22", {**stamp, "uid": 10001})),
        (("app/main.py", b"print()", {**stamp, "uid": 10001, "gid": 10001}),),
    )  # fmt: skip
    (dup,) = files.analyse(data).chown_duplicates
    assert (dup.layer, dup.created_by, dup.readded_in, dup.readded_by) == (
        0, "RUN step 0", 1, "RUN step 1")  # fmt: skip
    assert (dup.files, dup.bytes) == (3, 4000 + 7 + 9)
    assert (dup.owner_changed, dup.mode_changed) == (2, 1)
    assert dup.examples == ("/app/big.bin", "/app/run.sh", "/app/main.py")


def test_no_duplication_without_a_later_rewrite():
    """An image whose layers never rewrite a file reports no duplication."""
    assert files.analyse(build(BASE, (("app/main.py", b"x"),))).chown_duplicates == ()
