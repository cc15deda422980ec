"""A file found by its name (a `.netrc`) carries its whole text's fingerprint in the facts, so a
later layer writing it again unchanged (a `chown -R`) is told apart from one that changed it."""

from __future__ import annotations

from inspector.analysers import secrets
from tests.test_analysers_system import build


def test_a_named_files_copies_share_its_fingerprint_and_a_change_does_not():
    """Layer 1 rewrites the .netrc unchanged, layer 2 with another password: two fingerprints."""
    netrc = b"machine git.example\nlogin deploy\npassword Zq8rT2vLm4Xw9Kp1Ns\n"
    changed = netrc.replace(b"Zq8rT2", b"Yh7uP3")
    data = build(secrets, (("root/.netrc", netrc),), (("root/.netrc", netrc),),
                 (("root/.netrc", changed),))  # fmt: skip
    found = [s for s in secrets.analyse(data).secrets if s.path == "/root/.netrc"]
    prints = {s.layer: s.fingerprint for s in found if s.kind == "netrc"}
    assert sorted(prints) == [0, 1, 2]
    assert prints[0] == prints[1] != prints[2]
    assert all(p and len(p) == 8 for p in prints.values())
