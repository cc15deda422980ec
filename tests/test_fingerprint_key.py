"""Secret fingerprints are keyed: a report's `fingerprint 1a2b3c4d` does not confirm a guessed
password to whoever lacks the key, two runs on one machine (or one scan store) agree, and the
findings' own fingerprints (baselines, SARIF) do not depend on the key at all."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys

from checks.model import Finding, Location
from inspector.analysers import secret_rules
from inspector.facts.fingerprint_key import KEY_FILE, machine_key
from inspector.report.fingerprint import fingerprint as finding_fingerprint
from inspector.scan.store import Store
from tests.layertools import image_archive, layer
from tests.postgres import postgres_server, postgres_url  # noqa: F401 - fixtures

PASSWORD = "hunter2-Fk9"


def _hints(archive: str, cache_dir) -> list[str]:
    """The secrets' hints of one `inspector facts` run, in a process of its own."""
    env = {**os.environ, "INSPECTOR_CACHE_DIR": str(cache_dir)}
    out = subprocess.run(
        [sys.executable, "-m", "inspector", "facts", archive, "--no-probe", "--format", "json"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return sorted(s["hint"] for s in json.loads(out)["secrets"])


def test_the_hint_is_no_unsalted_hash_of_the_value():
    """The fingerprint shown beside the length is not the value's sha256: a dictionary of
    hashed guesses finds nothing in it."""
    shown = secret_rules.fingerprint(PASSWORD)
    assert shown != hashlib.sha256(PASSWORD.encode()).hexdigest()[:8]
    assert len(shown) == 8
    assert shown == secret_rules.fingerprint(PASSWORD)


def test_the_machine_key_is_made_once_readable_by_its_owner_only(tmp_path):
    """The key file is created on first use with mode 0600 and read back unchanged after."""
    first = machine_key(tmp_path)
    assert first is not None
    assert len(first) == 32
    mode = stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode)
    assert mode == 0o600
    assert machine_key(tmp_path) == first
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE]  # no temporary file left


def test_two_runs_on_one_machine_agree_and_two_machines_do_not(tmp_path):
    """The same image's hints are equal between two runs with one cache directory (the cached
    layer and a fresh read alike) and differ under another machine's key."""
    archive = tmp_path / "image.tar"
    archive.write_bytes(image_archive(
        [layer(("srv/.env", f"DB_PASSWORD={PASSWORD}\n".encode()))],
        config={"Env": [f"API_TOKEN={PASSWORD}x"]},
    ))  # fmt: skip
    ref = f"docker-archive:{archive}"
    here = _hints(ref, tmp_path / "here")
    assert here
    assert here == _hints(ref, tmp_path / "here")
    assert _hints(ref, tmp_path / "elsewhere") != here


def test_a_finding_fingerprint_does_not_depend_on_the_key():
    """Two keys give two hints for one secret, and one finding fingerprint: a baseline made on
    one machine matches on another."""
    one = secret_rules.fingerprint(PASSWORD)
    secret_rules.use_fingerprint_key(b"k" * 32)
    try:
        other = secret_rules.fingerprint(PASSWORD)
    finally:
        secret_rules.use_fingerprint_key(os.urandom(32))
    assert one != other

    def finding(fp: str) -> Finding:
        message = f"env API_TOKEN (secret-variable: 11 chars, fingerprint {fp}) is in the config"
        return Finding("SEC004", "critical", message, Location(config="Env"), "fix")

    assert finding_fingerprint("app:1", finding(one)) == finding_fingerprint(
        "app:2", finding(other)
    )


def test_a_scan_store_keeps_the_first_key_it_is_given(tmp_path):
    """The store's key is the first run's: a later run (another machine) proposing its own key
    gets the stored one."""
    url = str(tmp_path / "scans.sqlite")
    store = Store(url)
    first = store.fingerprint_key(b"a" * 32)
    store.close()
    again = Store(url)
    assert again.fingerprint_key(b"b" * 32) == first == b"a" * 32
    again.close()


def test_a_postgresql_store_keeps_the_first_key_it_is_given(postgres_url):  # noqa: F811
    """The same on PostgreSQL, the store a fleet shares: every machine gets the first key."""
    first = Store(postgres_url)
    try:
        assert first.fingerprint_key(b"c" * 32) == b"c" * 32
    finally:
        first.close()
    second = Store(postgres_url)
    try:
        assert second.fingerprint_key(b"d" * 32) == b"c" * 32
    finally:
        second.close()
