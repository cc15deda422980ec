"""Hostile images against the analysers: numbers too long for int(), account files past what is
read, tens of thousands of files that once made a loop quadratic, and text built to make a
regex backtrack. Exit 0 with the right facts (or 2 in one line), never a traceback, and every
bounded-time case sized so that the quadratic version would take minutes."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from inspector.analysers import secrets, users
from inspector.analysers.numbers import decimal, digits_key, go_atoi
from inspector.cli.commands import main
from inspector.dockerfile import history
from inspector.dockerfile.parse import Instruction
from inspector.facts.collect import SCANNER, build_facts, capture_rule
from inspector.facts.model import flatten_analysers
from inspector.layers.reader import read_layer
from tests.layertools import image_archive, layer

DIGITS = "9" * 5000
PASSWD = b"root:x:0:0:root:/root:/bin/sh\n"


def _facts(tmp_path, capsys, layers: list[bytes], config: dict[str, Any]) -> dict[str, Any]:
    """`facts` (JSON) and `audit` of an archive: both succeed in one piece; the facts parsed."""
    archive = tmp_path / "image.tar"
    archive.write_bytes(image_archive(layers, config=config))
    ref = f"docker-archive:{archive}"
    assert main(["facts", ref, "--no-probe", "--no-cache", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert main(["audit", ref, "--no-probe", "--no-cache", "--no-config"]) in (0, 1)
    assert "Traceback" not in capsys.readouterr().err
    return json.loads(out)


def _analysed(members: list[tuple], history_steps: list[str] | None = None) -> dict[str, Any]:
    """Every analyser over one layer, as `facts` runs them, without a source or a report: the
    facts as JSON paths have them, not serialised (each file secret repeats its step)."""
    capture, _ = capture_rule()
    read = read_layer(io.BytesIO(layer(*members)), capture, SCANNER)
    steps = history_steps or ["RUN build"]
    raw = {"config": {"User": "10001"}, "history": [{"created_by": s} for s in steps]}
    loaded = SimpleNamespace(raw_config=raw, image_id="sha256:x", digest=None, tags=())
    facts = build_facts("test", "docker-archive", loaded, [read], [False])
    return flatten_analysers(facts.analysers)


# --- numbers ------------------------------------------------------------------------------------


def test_numbers_are_parsed_bounded_and_as_go_does():
    """decimal() and go_atoi() never convert thousands of digits; Atoi's clamp and errors hold."""
    assert decimal("0042") == 42
    assert decimal(DIGITS) is None
    assert decimal("²") is None  # a Unicode digit str.isdigit() accepts and int() refuses
    assert go_atoi("+17") == (17, True)
    assert go_atoi("x1") == (None, False)
    assert go_atoi(DIGITS) == (2**63 - 1, False)
    assert go_atoi("-" + DIGITS) == (-(2**63), False)
    assert go_atoi("9223372036854775808") == (2**63 - 1, False)
    assert digits_key("0" + DIGITS) > digits_key("12") > digits_key("9")


@pytest.mark.parametrize(
    ("user", "said"),
    [
        (DIGITS, f"unable to find user {DIGITS}"),
        (f"{DIGITS}:{DIGITS}", f"unable to find user {DIGITS}"),
        ("3000000000", "uids and gids must be in range 0-2147483647"),
        (f"root:{DIGITS}", f"unable to find group {DIGITS}"),
    ],
)
def test_a_user_too_long_for_int_is_docker_s_error_not_a_traceback(tmp_path, capsys, user, said):
    """A USER of 5000 digits is what runc makes of it (Atoi fails: a name nobody has); one past
    2**31-1 is out of range: either way `error` says so and the run exits normally."""
    facts = _facts(tmp_path, capsys, [layer(("etc/passwd", PASSWD))], {"User": user})
    found = facts["user"]
    assert found["error"].startswith(said)
    assert found["resolved_uid"] is None


@pytest.mark.parametrize("where", ["passwd", "group"])
def test_an_account_id_of_5000_digits_is_out_of_range(tmp_path, capsys, where):
    """A passwd uid or a group gid of 5000 digits: the entry is read as runc reads it (clamped
    to int64) and resolving to it says the id is out of range."""
    if where == "passwd":
        files_ = [("etc/passwd", PASSWD + f"app:x:{DIGITS}:0::/:/bin/sh\n".encode())]
        spec = "app"
    else:
        files_ = [("etc/passwd", PASSWD), ("etc/group", f"root:x:0:\napp:x:{DIGITS}:\n".encode())]
        spec = "root:app"
    facts = _facts(tmp_path, capsys, [layer(*files_)], {"User": spec})
    found = facts["user"]
    assert found["error"] == "uids and gids must be in range 0-2147483647"
    assert found["in_passwd"] is True


@pytest.mark.parametrize(
    "path",
    [
        f"usr/bin/python3.{DIGITS[:4000]}",
        f"usr/lib/python3.{DIGITS[:4000]}/os.py",
        f"app/__pycache__/m.cpython-3{DIGITS[:4000]}.pyc",
        f"usr/bin/python3.{DIGITS}",
    ],
)
def test_a_python_version_of_thousands_of_digits_in_a_file_name_is_ordered_not_converted(
    tmp_path, capsys, path
):
    """python3.<4000 digits> binaries, library dirs and cache tags: facts and audit run to the
    end; 5000 digits is a path past PATH_MAX, which the reader refuses in one line (exit 2)."""
    members = [("etc/passwd", PASSWD), ("usr/bin/python3.12", b"\x7fELF"), (path, b"\x7fELF")]
    if len(path) <= 4096:
        _facts(tmp_path, capsys, [layer(*members)], {})
        return
    archive = tmp_path / "image.tar"
    archive.write_bytes(image_archive([layer(*members)]))
    assert main(["facts", f"docker-archive:{archive}", "--no-probe", "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_versions_are_ordered_exactly_at_any_length():
    """The interpreter and cache-tag orderings compare 5000-digit parts without int()."""
    from inspector.analysers import bytecode, python

    assert python._version_key(f"3.{DIGITS}") > python._version_key("3.12.1")
    assert bytecode._version_key(f"3.{DIGITS}") > bytecode._version_key("3.12")


# --- account files past the capture cap ---------------------------------------------------------


def _filler(size: int) -> bytes:
    line = b"u%07d:x:%d:100::/home/u:/bin/sh\n"
    count = size // len(line % (0, 0)) + 1
    return b"".join(line % (i, 20000 + i) for i in range(count))


def test_a_user_defined_after_the_first_mib_is_found(tmp_path, capsys):
    """/etc/passwd of 1.5 MiB (was read to 1 MiB): the user on its last line resolves."""
    passwd = PASSWD + _filler(3 << 19) + b"app:x:10001:10001::/srv:/bin/sh\n"
    facts = _facts(tmp_path, capsys, [layer(("etc/passwd", passwd))], {"User": "app"})
    found = facts["user"]
    assert (found["resolved_uid"], found["error"], found["truncated"]) == (10001, None, [])


CUT = 4100  # inside a line of the filler


def test_a_passwd_past_the_cap_is_truncated_and_a_missing_user_undetermined(
    tmp_path, capsys, monkeypatch
):
    """Past ACCOUNT_CAP: `truncated` names the file, the line cut in two is counted once (no
    wrong uid), and a user not in the part read is neither resolved nor "no such user": COR001
    says the lookup is undetermined (a finding, never a pass); every uid 0 entry is known, so
    SEC001 knows `app` is not root."""
    monkeypatch.setattr(users, "ACCOUNT_CAP", CUT)
    passwd = PASSWD + _filler(8192) + b"app:x:10001:10001::/srv:/bin/sh\n"
    config = {"User": "app"}
    facts = _facts(tmp_path, capsys, [layer(("etc/passwd", passwd))], config)
    found = facts["user"]
    assert found["truncated"] == ["/etc/passwd"]
    assert (found["error"], found["resolved_uid"], found["in_passwd"]) == (None, None, False)
    assert "'app'" in found["undetermined"]
    assert [u["name"] for u in found["users"]] == ["root"]
    assert (found["users_count"], found["uid0_complete"]) == (passwd.count(b"\n"), True)
    archive = tmp_path / "image.tar"
    assert main(["audit", f"docker-archive:{archive}", "--no-probe", "--no-cache", "--no-config",
                 "--format", "json"]) == 1  # fmt: skip
    results = json.loads(capsys.readouterr().out)["images"][0]["results"]
    by_check = {r["check"]: r["findings"] for r in results}
    assert ["undetermined" in f["message"] for f in by_check["COR001"]] == [True]
    assert by_check["SEC001"] == []


def test_a_user_found_before_the_cut_still_resolves(monkeypatch):
    """The part read is a prefix and the first entry wins: a user found there is exact."""
    monkeypatch.setattr(users, "ACCOUNT_CAP", 4096)
    passwd = PASSWD + b"app:x:10001:10001::/srv:/bin/sh\n" + _filler(8192)
    facts = _analysed([("etc/passwd", passwd)])
    found = facts["user"]
    assert found["truncated"] == ("/etc/passwd",)
    assert (found["resolved_uid"], found["users"][1]["uid"]) == (10001, 10001)


# --- many files ---------------------------------------------------------------------------------


def test_twenty_thousand_git_directories_are_counted_in_linear_time():
    """20,000 `.git` dirs (each counted by a scan of every path, and each leak compared with
    every root: over 120 s) are each one secret and one context leak, with their own counts."""
    members = [(f"srv/r{i}/.git/config", b"[core]\n") for i in range(20_000)]
    facts = _analysed(members)
    repos = [s for s in facts["secrets"] if s["kind"] == "git-directory"]
    assert len(repos) == 20_000
    assert {s["hint"] for s in repos} == {"git metadata (1 paths)"}
    leaks = facts["files"]["context_leaks"]
    assert leaks[0]["name"] == "git"
    assert leaks[0]["files"] == 1


def test_fifty_thousand_secret_files_share_one_redacted_history_step():
    """50,000 files named id_rsa and .env from one layer made by a 128 KiB history step (that
    step redacted once per file: hours) are each reported, the step redacted once."""
    members = [(f"srv/d{i}/{'id_rsa' if i % 2 else '.env'}", b"PASSWORD=hunter2xyz\n")
               for i in range(50_000)]  # fmt: skip
    step = "RUN echo " + "TOKEN=abc " * 13_000
    facts = _analysed(members, [step])
    found = [s for s in facts["secrets"] if s["where"] == "file"]
    assert {s["path"] for s in found} == {"/" + path for path, _ in members}
    assert len({s["created_by"] for s in found}) == 1


# --- regexes and scans on image text ------------------------------------------------------------

N = 200_000  # characters: a quadratic scan of this many is minutes, a linear one milliseconds


def _dockerfile_step(keyword: str, arguments: str, heredocs: tuple[str, ...] = ()) -> Instruction:
    return Instruction(keyword, arguments, 1, heredocs)


KEY_HEADERS = "-----BEGIN RSA PRIVATE KEY-----" * (N // 31)
COVERED = "A=ghp_" + " A=ghp_".join(["a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"] * (N // 44))


def _key_hits(hits: list) -> list[tuple[str, int, int]]:
    return [(h.kind, h.start, h.end) for h in hits]


# (name, the scan, what it must return): a right answer, so a scan that gives up or breaks
# fails here; the test's timeout (far above the linear run, far below the quadratic one) is
# what catches a quadratic regex coming back.
CASES: list[tuple[str, Callable[[], object], Callable[[object], bool]]] = [
    ("pypirc of blank lines", lambda: secrets._file_hint(
        secrets.PYPIRC, "/root/.pypirc", "\n" * (64 << 10), 1), lambda hint: hint is None),
    ("aws credentials of blank lines", lambda: secrets._file_hint(
        secrets.AWS_CREDENTIALS, "/root/.aws/credentials", " \n" * (32 << 10), 1),
     lambda hint: hint is None),
    ("kubeconfig of blank lines", lambda: secrets._file_hint(
        secrets.KUBECONFIG, "/root/.kube/config", "\n" * (64 << 10), 1),
     lambda hint: hint is None),
    ("key headers without an end", lambda: secrets.scan_value(KEY_HEADERS),
     lambda hits: _key_hits(hits) == [("private-key", 0, len(KEY_HEADERS))]),
    ("many covered assignments", lambda: secrets.redact_text(COVERED),
     lambda text: isinstance(text, str) and secrets.redact_text(text) == text),
    ("WORKDIR of two variables over a step of slashes", lambda: history.matches(
        _dockerfile_step("WORKDIR", "/$A/$B/c"), history.Step("WORKDIR", "/" * N)),
     lambda matched: matched is False),
    ("COPY with variables over a step of slashes", lambda: history.matches(
        _dockerfile_step("COPY", "$A/$B/x /$C/$D/y"), history.Step("COPY", "/" * N)),
     lambda matched: matched is False),
    ("heredoc RUN over a step of pipe paths", lambda: history.matches(
        _dockerfile_step("RUN", "<<EOF", heredocs=("#!/bin/sh\necho hi",)),
        history.Step("RUN", "/dev/pipes/" * (N // 11) + " x")),
     lambda matched: matched is False),
    ("heredoc COPY source of digits", lambda: history._HEREDOC_SOURCE.sub(
        r"<<\2", "0" * N), lambda text: text == "0" * N),
]  # fmt: skip


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("make", "right"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_image_text_built_to_backtrack_is_scanned_in_linear_time(make, right):
    """Each input is sized so the quadratic version (the regex or scan it replaced) took
    minutes; linear, the whole parametrised set runs in about a second, and each gives the
    right answer (no hint in blank lines, one key hit over the whole text, no false match)."""
    assert right(make())


def test_checks_order_releases_and_read_ports_without_int_on_image_text():
    """A 5000-digit os-release part and exposed ports of 5000 digits or "²" raise nothing."""
    from checks.metadata import numeric
    from checks.operability import exposed_tcp_ports

    assert numeric(f"12.{DIGITS}") > numeric("12.4")
    facts = {"config": {"exposed_ports": [f"{DIGITS}/tcp", "²/tcp", "8000/tcp", "53/udp"]}}
    assert exposed_tcp_ports(facts) == [8000]


def test_many_secrets_in_one_value_or_step_make_bounded_facts(tmp_path, capsys):
    """A history step of 10,000 credentialed URLs gives its first HITS_PER_TEXT secrets and
    prints none of the 10,000 passwords, and 2000 key files under a 128 KiB step carry the step
    cut to STEP_SHOWN: a few MB of facts, not GB."""
    from inspector.analysers.secrets import HITS_PER_TEXT, STEP_SHOWN

    passwords = [f"Mpw{i:05d}q" for i in range(10_000)]
    mirrors = "".join(f"https://u:{pw}@h/" for pw in passwords)

    keys = [(f"srv/k{i}/id_rsa", b"-----BEGIN RSA PRIVATE KEY-----\nMIIE\n") for i in range(2000)]
    archive = tmp_path / "many.tar"
    archive.write_bytes(image_archive(
        [layer(("etc/passwd", b"root:x:0:0::/:/bin/sh\n"), *keys)],
        history=[{"created_by": "RUN echo " + "x" * 128 * 1024},
                 {"created_by": "ENV MIRRORS=" + mirrors, "empty_layer": True}],
    ))  # fmt: skip
    assert main(["facts", f"docker-archive:{archive}", "--no-probe", "--no-cache",
                 "--format", "json"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    secrets = json.loads(out)["secrets"]
    assert sum(1 for s in secrets if s["where"] == "history") == HITS_PER_TEXT
    files = [s for s in secrets if s["where"] == "file"]
    assert len(files) == 2000
    assert all(len(s["created_by"]) == STEP_SHOWN + 1 for s in files)
    assert len(out) < 20 * 1024 * 1024
    assert re.findall(r"Mpw\d{5}q", out) == []  # one pass, not 10,000 searches of the output
