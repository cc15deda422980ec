"""Warm reads load an image's static facts from the cache (inspector/facts/cache.py): on image
archives (no engine), the row's round trip, what invalidates it, what bypasses it, what happens
to a damaged one, and the table in both cache databases (SQLite, PostgreSQL)."""

from __future__ import annotations

import json
import sqlite3
import tarfile
import zlib
from pathlib import Path

import pytest

from inspector.cli.commands import main
from inspector.facts import cache as static_cache
from inspector.facts.collect import collect
from inspector.layers.cache import LayerCache
from tests.facts_counts import count_steps
from tests.layertools import image_archive, layer
from tests.postgres import postgres_server, postgres_url  # noqa: F401 - fixtures
from tests.test_cache import Clock

OS_RELEASE = b'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n'
SITE = "usr/lib/python3/dist-packages"
BASE = layer(
    ("etc/", None), ("etc/os-release", OS_RELEASE),
    ("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\napp:x:10001:10001::/app:/bin/sh\n"),
    ("tmp/", None, {"mode": 0o1777}),
    ("usr/bin/python3.11", b"\x7fELF fake interpreter"), ("usr/bin/python3", "->python3.11"),
    (f"{SITE}/requests-2.31.0.dist-info/METADATA",
     b"Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\n"),
    (f"{SITE}/requests/__init__.py", b"__version__ = '2.31.0'\n"),
)  # fmt: skip
APP = layer(
    ("app/", None), ("app/__init__.py", b""),
    ("app/settings.py", b'DATABASE_PASSWORD = "Zq8vR2mK9wL4pT7x"\n'),
    ("app/cache/blob.bin", b"\0" * 4096),
)  # fmt: skip
CLEANUP = layer(("app/cache/.wh.blob.bin", b""))


def archive(tmp_path: Path, layout: str = "docker-archive") -> str:
    """A three-layer image (OS, Python, an app with a planted credential, a deleted file) as
    `docker save` writes it, or as an OCI layout directory ("oci")."""
    data = image_archive([BASE, APP, CLEANUP], "oci" if layout == "oci" else "docker",
                         config={"Cmd": ["python3", "-m", "app"]})  # fmt: skip
    path = tmp_path / f"image-{len(list(tmp_path.glob('image-*')))}.tar"
    path.write_bytes(data)
    if layout == "oci":
        with tarfile.open(path) as tar:
            tar.extractall(path.with_suffix(""), filter="data")
        return f"oci:{path.with_suffix('')}"
    return f"docker-archive:{path}"


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("INSPECTOR_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def rows(cache_dir: Path) -> list[tuple[str, str, bytes]]:
    db = sqlite3.connect(cache_dir / "layers.sqlite")
    try:
        return db.execute("SELECT image_id, fingerprint, data FROM facts").fetchall()
    finally:
        db.close()


def without_from_cache(doc: dict) -> dict:
    for entry in doc["layers"]:
        entry.pop("from_cache")
    return doc


def test_a_second_read_loads_the_static_facts_without_reading_merging_or_analysing(
    tmp_path, cache_dir, monkeypatch
):
    """The second read of an image gives the facts of the first, every layer from the cache,
    with no layer read or decoded, no merge and no analyser run."""
    ref = archive(tmp_path, "oci")  # a layout whose index comes first: cached layers unread
    cold = collect(ref).to_json()
    counts = count_steps(monkeypatch)
    warm = collect(ref).to_json()
    assert dict(counts) == {}
    assert all(entry["from_cache"] for entry in warm["layers"])
    assert not any(entry["from_cache"] for entry in cold["layers"])
    assert without_from_cache(warm) == without_from_cache(cold)
    assert warm["secrets"]  # the facts are really there
    assert warm["fs"]["wasted_bytes"] == 4096


def test_the_image_section_names_this_read(tmp_path, cache_dir):
    """One image under another name: the stored facts, under the name and source read now."""
    first = collect(archive(tmp_path)).to_json()
    again = archive(tmp_path)  # the same bytes in another file
    warm = collect(again).to_json()
    assert warm["image"]["reference"] == again != first["image"]["reference"]
    assert warm["image"]["id"] == first["image"]["id"]


def test_the_probe_plan_comes_back_equal(tmp_path, cache_dir):
    """The plan the probes follow on a warm read equals the cold read's, paths included."""
    plans = []

    def runtime(plan):
        from inspector.probes.model import skipped

        plans.append(plan)
        return skipped("not run in this test")

    ref = archive(tmp_path)
    collect(ref, runtime=runtime)
    collect(ref, runtime=runtime)
    cold, warm = plans
    assert warm == cold
    assert warm.image_paths == cold.image_paths
    assert "/app/settings.py" in warm.image_paths
    assert warm.modules == cold.modules
    assert warm.tmp == cold.tmp is not None


def test_a_change_of_code_fingerprint_rebuilds(tmp_path, cache_dir, monkeypatch):
    """Other analyser, reader or model code (another fingerprint) never gets the stored facts."""
    ref = archive(tmp_path)
    collect(ref)
    monkeypatch.setattr(static_cache, "code_digest", lambda: "other code")
    counts = count_steps(monkeypatch)
    collect(ref)
    assert counts["analyse"] > 0
    assert counts["merge"] == 1
    assert len(rows(cache_dir)) == 2  # one per fingerprint


def test_another_secret_fingerprint_key_rebuilds(tmp_path, cache_dir, monkeypatch):
    """Facts hold secret fingerprints made with one key: with another key they are rebuilt."""
    from inspector.analysers import secret_rules

    ref = archive(tmp_path)
    first = collect(ref).to_json()
    monkeypatch.setattr(secret_rules._Key, "value", b"k" * 32)
    monkeypatch.setattr(secret_rules._Key, "given", True)
    counts = count_steps(monkeypatch)
    second = collect(ref).to_json()
    assert counts["analyse"] > 0
    assert first["secrets"][0]["hint"] != second["secrets"][0]["hint"]


def test_no_cache_neither_reads_nor_writes_the_stored_facts(tmp_path, cache_dir, monkeypatch,
                                                            capsys):  # fmt: skip
    """--no-cache collects afresh even when facts are stored, and stores none."""
    ref = archive(tmp_path)
    assert main(["facts", ref, "--no-cache", "--format", "json"]) == 0
    assert not (cache_dir / "layers.sqlite").exists()
    collect(ref)
    counts = count_steps(monkeypatch)
    assert main(["facts", ref, "--no-cache", "--format", "json"]) == 0
    assert counts["analyse"] > 0
    assert counts["read"] == 3


@pytest.mark.parametrize("damage", ["garbage", "truncated", "other-shape", "other-image"])
def test_a_damaged_or_mismatched_row_is_dropped_and_rebuilt(tmp_path, cache_dir, monkeypatch,
                                                            damage):  # fmt: skip
    """A stored row that cannot be read back, or is not this image's, is ignored: the facts are
    rebuilt (no traceback, the same facts) and a good row replaces it."""
    ref = archive(tmp_path)
    cold = collect(ref).to_json()
    ((_, _, data),) = rows(cache_dir)
    doc = json.loads(zlib.decompress(data))
    if damage == "garbage":
        data = b"not zlib at all"
    elif damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "other-shape":
        doc["facts"]["layers"][0]["size"] = "big"
        data = zlib.compress(json.dumps(doc).encode())
    else:
        doc["image_id"] = "sha256:" + "0" * 64
        data = zlib.compress(json.dumps(doc).encode())
    db = sqlite3.connect(cache_dir / "layers.sqlite")
    db.execute("UPDATE facts SET data = ?", (data,))
    db.commit()
    db.close()
    counts = count_steps(monkeypatch)
    rebuilt = collect(ref).to_json()
    assert counts["analyse"] > 0
    assert without_from_cache(rebuilt) == without_from_cache(cold)
    counts.clear()
    collect(ref)
    assert counts["analyse"] == 0  # the rebuilt row serves again


def test_rows_are_held_to_a_tenth_of_the_cap_least_recently_used_first(tmp_path, monkeypatch):
    """Stored facts are bounded: over a tenth of INSPECTOR_CACHE_MAX_SIZE, the least recently
    used rows go, never the one just put."""
    monkeypatch.setenv("INSPECTOR_CACHE_MAX_SIZE", "100KiB")
    clock = Clock()
    cache = LayerCache(tmp_path / "layers.sqlite", "rules-1", clock=clock)
    blob = bytes(4000)
    for i in range(2):
        clock.now += 100
        cache.put_facts(f"sha256:{i}", "k", blob)
    clock.now += 100
    assert cache.get_facts("sha256:0", "k") == blob  # used again: now the most recent
    clock.now += 100
    cache.put_facts("sha256:2", "k", bytes(3000))  # 11,000 bytes: over the 10,240 allowed
    kept = {row[0] for row in cache.db.execute("SELECT image_id FROM facts")}
    assert kept == {"sha256:0", "sha256:2"}
    clock.now += 100
    cache.put_facts("sha256:3", "k", bytes(20000))  # alone over the cap, yet kept
    assert [row[0] for row in cache.db.execute("SELECT image_id FROM facts")] == ["sha256:3"]
    cache.close()


def test_a_cache_file_made_before_the_table_gains_it(tmp_path):
    """A layer cache written by an inspector without stored facts keeps its layers and gets the
    facts table."""
    from tests.test_cache import LAYER

    path = tmp_path / "layers.sqlite"
    LayerCache(path, "rules-1").put(LAYER)
    db = sqlite3.connect(path)
    db.execute("DROP TABLE facts")
    db.commit()
    db.close()
    cache = LayerCache(path, "rules-1")
    assert cache.get(LAYER.diff_id) == LAYER
    cache.put_facts("sha256:1", "k", b"row")
    assert cache.get_facts("sha256:1", "k") == b"row"
    assert cache.get_facts("sha256:1", "other") is None
    cache.close()


def test_revive_refuses_values_of_another_shape():
    """Reading a row back checks every value against the model's types."""
    from inspector.probes.plan import ProbePlan, TmpDir

    plan = ProbePlan("sha256:1", "amd64", "/usr/bin/python3", None, "app", None,
                     TmpDir(0o1777, 0, 0), frozenset({"/a", "/b"}))  # fmt: skip
    doc = {**plan.__dict__, "tmp": {"mode": 1023, "uid": 0, "gid": 0},
           "image_paths": ["/a", "/b"], "modules": {}, "imports": None,
           "app_roots": []}  # fmt: skip
    assert static_cache.revive(ProbePlan, doc) == plan
    for field, bad in [("image_paths", ["/a", 3]), ("tmp", {"mode": "x", "uid": 0, "gid": 0}),
                       ("interpreter", 7), ("app_roots", "not a list")]:  # fmt: skip
        with pytest.raises((TypeError, ValueError, KeyError)):
            static_cache.revive(ProbePlan, {**doc, field: bad})


def test_postgres_keeps_stored_facts_bounded_and_adds_the_table_to_an_older_database(
    postgres_url,  # noqa: F811 - the imported fixture
    monkeypatch,
):
    """The PostgreSQL cache stores, serves, drops and caps facts rows as SQLite does, and a
    database made before the table exists gains it when opened."""
    import psycopg

    from inspector.layers.cache_postgres import PostgresLayerCache

    PostgresLayerCache(postgres_url, "rules-1").close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP TABLE inspector_facts")
    monkeypatch.setenv("INSPECTOR_CACHE_MAX_SIZE", "100KiB")
    clock = Clock()
    cache = PostgresLayerCache(postgres_url, "rules-1", clock=clock)
    try:
        for i in range(2):
            clock.now += 100
            cache.put_facts(f"sha256:{i}", "k", bytes(4000))
        clock.now += 100
        assert cache.get_facts("sha256:0", "k") == bytes(4000)
        assert cache.get_facts("sha256:0", "other") is None
        clock.now += 100
        cache.put_facts("sha256:2", "k", bytes(3000))
        assert cache.get_facts("sha256:1", "k") is None  # the least recently used went
        cache.drop_facts("sha256:2", "k")
        assert cache.get_facts("sha256:2", "k") is None
        assert cache.get_facts("sha256:0", "k") == bytes(4000)
    finally:
        cache.close()


def test_a_scan_cache_in_postgres_serves_stored_facts(tmp_path, postgres_url, monkeypatch):  # noqa: F811
    """Facts read through a PostgreSQL layer cache (a scan's) are stored there and served."""
    from inspector.layers.cache_postgres import PostgresLayerCache

    def opened(fingerprint: str) -> PostgresLayerCache:
        return PostgresLayerCache(postgres_url, fingerprint)

    ref = archive(tmp_path, "oci")
    cold = collect(ref, layer_cache=opened).to_json()
    counts = count_steps(monkeypatch)
    warm = collect(ref, layer_cache=opened).to_json()
    assert counts["analyse"] == 0
    assert counts["read"] == 0
    assert without_from_cache(warm) == without_from_cache(cold)


def test_every_facts_section_is_stored_or_computed_on_each_read():
    """A new Facts section must be either stored (static) or computed on every read, warm ones
    included; one neither would silently take its default on a warm read."""
    from dataclasses import fields

    from inspector.facts.model import Facts

    named = static_cache.STATIC_FIELDS + static_cache.RECOMPUTED
    assert sorted(f.name for f in fields(Facts)) == sorted(named)
