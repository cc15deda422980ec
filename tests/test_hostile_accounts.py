"""Hostile account files: /etc/passwd and /etc/group of hundreds of thousands of one-letter
entries (once 2.7 GB of memory and 232 MB of facts), and a 50 MB /etc/passwd whose last line is
a uid 0 alias (once a pass: the part read did not hold it). The facts keep what checks judge,
memory stays bounded, and the answer is right at any size, or a finding that says it is not
known."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.layertools import image_archive, layer

ROOT = b"root:x:0:0:root:/root:/bin/sh\n"
MiB = 1024 * 1024
# `inspector facts` of the small fixtures peaks near 100 MiB; reading every account entry into
# the facts took gigabytes.
RSS_BOUND_MIB = 400

# Runs the CLI in a child and prints its peak resident set (KiB), as the kernel counted it.
_MEASURE = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], stdout=open(sys.argv[0] + ".out", "wb"),
                      stderr=subprocess.PIPE)
sys.stderr.buffer.write(done.stderr)
print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _run(tmp_path: Path, files: list[tuple[str, bytes]], user: str,
         *args: str) -> tuple[int, int, bytes, str]:  # fmt: skip
    """(exit code, peak RSS in MiB, stdout, stderr) of `inspector ARGS` on an image of `files`."""
    archive = tmp_path / "image.tar"
    archive.write_bytes(image_archive([layer(*files)], config={"User": user}))
    out = tmp_path / "run"
    command = [sys.executable, "-c", _MEASURE.replace("sys.argv[0]", repr(str(out))),
               sys.executable, "-m", "inspector", *args, f"docker-archive:{archive}",
               "--no-probe", "--no-cache"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    code, rss = done.stdout.split()
    return int(code), int(rss) // 1024, out.with_suffix(".out").read_bytes(), done.stderr


def _short_accounts(count: int, width: int = 1) -> bytes:
    """`count` accounts with the shortest lines runc still reads: "a:x:1:1::/:"."""
    names = (f"{i:x}".encode() for i in range(count))
    return b"".join(b"%s:x:%d:1::/:\n" % (name, 1000 + i) for i, name in enumerate(names))


def test_seven_hundred_thousand_accounts_keep_only_what_checks_judge(tmp_path):
    """700,000 passwd entries and 1,000,000 groups (some 14 MiB each, past the read): facts
    exit 0 with every entry counted, the kept entries a handful, facts JSON small, memory
    bounded."""
    passwd = ROOT + _short_accounts(700_000)
    group = b"root:x:0:\n" + b"".join(b"g%x:x:%d:\n" % (i, 1000 + i) for i in range(1_000_000))
    code, rss, out, err = _run(tmp_path, [("etc/passwd", passwd), ("etc/group", group)], "0:0",
                               "facts", "--format", "json")  # fmt: skip
    assert code == 0, err
    user = json.loads(out)["user"]
    assert user["users_count"] == passwd.count(b"\n")
    assert user["groups_count"] == group.count(b"\n")
    assert len(user["users"]) <= 400
    assert len(user["groups"]) <= 500
    assert len(out) < 2 * MiB, len(out)
    assert rss < RSS_BOUND_MIB, f"peak RSS {rss} MiB"


def test_a_uid0_alias_at_the_end_of_a_50_mb_passwd_fails_the_gate(tmp_path):
    """USER toor2, a uid 0 alias on the last line of a 50 MB /etc/passwd (far past the 8 MiB
    read): resolved to UID 0 by the streamed rest, so SEC001 fails the gate; memory bounded."""
    filler = _short_accounts(50 * MiB // 16)
    passwd = ROOT + filler + b"toor2:x:0:0::/root:/bin/sh\n"
    assert len(passwd) > 48 * MiB
    code, rss, out, err = _run(tmp_path, [("etc/passwd", passwd)], "toor2", "audit",
                               "--no-config", "--format", "json")  # fmt: skip
    assert code == 1, err
    results = json.loads(out)["images"][0]["results"]
    by_check = {r["check"]: r["findings"] for r in results}
    assert ["resolves to UID 0" in f["message"] for f in by_check["SEC001"]] == [True]
    assert by_check["COR001"] == []
    assert rss < RSS_BOUND_MIB, f"peak RSS {rss} MiB"


def test_a_non_root_user_past_the_read_is_undetermined_and_fails_the_gate(tmp_path):
    """USER app on the last line of a 12 MB /etc/passwd: not root (every uid 0 line is known),
    but whether it exists is not known, so COR001 says undetermined and the gate fails."""
    passwd = ROOT + _short_accounts(12 * MiB // 16) + b"app:x:10001:10001::/srv:/bin/sh\n"
    code, _, out, err = _run(tmp_path, [("etc/passwd", passwd)], "app", "audit", "--no-config",
                             "--format", "json")  # fmt: skip
    assert code == 1, err
    by_check = {r["check"]: r["findings"] for r in json.loads(out)["images"][0]["results"]}
    assert by_check["SEC001"] == []
    assert ["undetermined" in f["message"] for f in by_check["COR001"]] == [True]
