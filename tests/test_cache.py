"""The layer cache: what goes in comes out, a damaged cache is discarded, never trusted, its size
is capped by evicting the least recently used layers, and a claim has a layer read once."""

from __future__ import annotations

import io
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable

import pytest

from inspector.layers import cache as cache_module
from inspector.layers.cache import CacheError, LayerCache, encode, max_size
from inspector.layers.model import LayerRead
from inspector.layers.reader import read_layer
from tests.layertools import layer

LAYER = read_layer(
    io.BytesIO(layer(("etc/os-release", b"ID=debian\n"), ("caf\udce9", b"x"))),
    lambda path, size: 64 if path == "/etc/os-release" else None,
)


def sized_layer(seed: int) -> LayerRead:
    """A distinct layer whose cache row is about 5 KiB (captured bytes that do not compress)."""
    data = random.Random(seed).randbytes(4000)
    return read_layer(io.BytesIO(layer(("blob", data))), lambda path, size: size)


class Clock:
    """A clock the test moves by hand, so "least recently used" needs no sleeping."""

    def __init__(self, now: float = 1_000_000) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def in_thread(work: Callable[[], object], timeout: float = 20) -> object:
    """`work()`'s result from another thread; a test fails, rather than hangs, if it blocks."""
    out: list[object] = []
    thread = threading.Thread(target=lambda: out.append(work()), daemon=True)
    thread.start()
    thread.join(timeout)
    assert out, "the call did not return (a claim never released?)"
    return out[0]


def test_a_layer_round_trips_with_contents_and_odd_names(tmp_path):
    """A stored layer comes back equal, captured contents and non-UTF-8 names included."""
    cache = LayerCache(tmp_path / "layers.sqlite", "rules-1")
    cache.put(LAYER)
    assert cache.contains(LAYER.diff_id)
    assert cache.with_size(LAYER.size) == {LAYER.diff_id}
    assert cache.get(LAYER.diff_id) == LAYER
    cache.close()


def test_other_capture_rules_do_not_see_the_entry(tmp_path):
    """An entry written under other capture rules is a miss, so stale contents are never served."""
    LayerCache(tmp_path / "layers.sqlite", "rules-1").put(LAYER)
    other = LayerCache(tmp_path / "layers.sqlite", "rules-2")
    assert not other.contains(LAYER.diff_id)
    assert other.get(LAYER.diff_id) is None


def test_a_file_that_is_not_a_database_is_replaced(tmp_path):
    """Garbage where the cache file should be is discarded and a working cache takes its place."""
    path = tmp_path / "layers.sqlite"
    path.write_bytes(b"this is not sqlite" * 1000)
    cache = LayerCache(path, "rules-1")
    cache.put(LAYER)
    assert cache.get(LAYER.diff_id) == LAYER
    cache.close()
    assert sqlite3.connect(path).execute("SELECT count(*) FROM layers").fetchone() == (1,)


def test_a_damaged_row_is_a_miss_and_is_removed(tmp_path):
    """A row whose data does not decode reads as absent and is deleted."""
    cache = LayerCache(tmp_path / "layers.sqlite", "rules-1")
    cache.put(LAYER)
    cache.db.execute("UPDATE layers SET data = ?", (b"\x00broken",))
    cache.db.commit()
    assert cache.get(LAYER.diff_id) is None
    assert not cache.contains(LAYER.diff_id)


def test_a_config_that_does_not_match_its_image_id_is_not_served(tmp_path):
    """A stored config is served only when its digest is the image ID it is filed under."""
    import hashlib

    cache = LayerCache(tmp_path / "layers.sqlite", "rules-1")
    config = b'{"rootfs": {"diff_ids": []}}'
    image_id = "sha256:" + hashlib.sha256(config).hexdigest()
    cache.put_config(image_id, config)
    assert cache.get_config(image_id) == config
    cache.put_config(image_id, config + b" ")
    assert cache.get_config(image_id) is None


def test_threads_opening_one_cache_at_once_never_discard_it(tmp_path):
    """Parallel audits open the same fresh cache together: contention is waited out, never taken
    for damage (deleting the files under another connection crashed the process with SIGBUS)."""
    from concurrent.futures import ThreadPoolExecutor

    for round_ in range(10):
        path = tmp_path / f"round-{round_}" / "layers.sqlite"
        LayerCache(path, "rules-1").put(LAYER)

        def open_and_read(_: int, where=path) -> bool:
            cache = LayerCache(where, "rules-1")
            try:
                return cache.get(LAYER.diff_id) == LAYER
            finally:
                cache.close()

        with ThreadPoolExecutor(max_workers=4) as pool:
            assert all(pool.map(open_and_read, range(8)))


def test_an_unusable_cache_dir_is_a_clear_error(tmp_path):
    """A cache path under a file: CacheError naming the path and the way out, no traceback."""
    (tmp_path / "file").write_text("")
    with pytest.raises(CacheError, match="INSPECTOR_CACHE_DIR"):
        LayerCache(tmp_path / "file" / "cache" / "layers.sqlite", "rules-1")


def test_a_cache_file_of_the_previous_format_is_rebuilt(tmp_path):
    """A file written before `used` existed is replaced by a working cache, not half-used."""
    path = tmp_path / "layers.sqlite"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE layers (diff_id TEXT NOT NULL, fingerprint TEXT NOT NULL,"
        " size INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (diff_id, fingerprint))"
    )
    old.execute("INSERT INTO layers VALUES ('sha256:old', '3:rules-1', 1, x'00')")
    old.commit()
    old.close()
    cache = LayerCache(path, "rules-1")
    cache.put(LAYER)
    assert cache.get(LAYER.diff_id) == LAYER
    assert cache.db.execute("SELECT diff_id FROM layers").fetchall() == [(LAYER.diff_id,)]
    cache.close()


def test_the_size_cap_setting_is_read_as_a_size_or_none(monkeypatch):
    """INSPECTOR_CACHE_MAX_SIZE: 10 GiB unset, sizes with units, 0 or none for no cap, and a
    clear error for anything else."""
    monkeypatch.delenv("INSPECTOR_CACHE_MAX_SIZE", raising=False)
    assert max_size() == 10 << 30
    for text, expected in (("500MiB", 500 << 20), ("4096", 4096), ("0", None), ("None", None)):
        monkeypatch.setenv("INSPECTOR_CACHE_MAX_SIZE", text)
        assert max_size() == expected
    monkeypatch.setenv("INSPECTOR_CACHE_MAX_SIZE", "lots")
    with pytest.raises(CacheError, match=r"INSPECTOR_CACHE_MAX_SIZE='lots' is not a size"):
        max_size()


def stored(cache: LayerCache) -> int:
    return cache.db.execute("SELECT coalesce(sum(length(data)), 0) FROM layers").fetchone()[0]


def test_eviction_keeps_the_cache_under_its_cap_least_recently_used_first(tmp_path, monkeypatch):
    """Over the cap, the layer used longest ago goes: a `get` counts as a use, so the oldest
    put survives when it was read since."""
    first, second, third = (sized_layer(seed) for seed in (1, 2, 3))
    cap = len(encode(first)) + len(encode(second)) + 100
    monkeypatch.setenv("INSPECTOR_CACHE_MAX_SIZE", str(cap))
    clock = Clock()
    cache = LayerCache(tmp_path / "layers.sqlite", "rules-1", clock=clock)
    cache.put(first)
    clock.now += 10
    cache.put(second)
    clock.now += 100
    assert cache.get(first.diff_id) == first
    clock.now += 100
    cache.put(third)
    assert [cache.contains(d.diff_id) for d in (first, second, third)] == [True, False, True]
    assert stored(cache) <= cap
    cache.close()


def test_a_use_is_noted_at_most_once_a_minute(tmp_path, monkeypatch):
    """Lookups within a minute of a layer's last use write nothing: it stays the oldest."""
    first, second, third = (sized_layer(seed) for seed in (1, 2, 3))
    monkeypatch.setenv(
        "INSPECTOR_CACHE_MAX_SIZE", str(len(encode(first)) + len(encode(second)) + 100)
    )
    clock = Clock()
    cache = LayerCache(tmp_path / "layers.sqlite", "rules-1", clock=clock)
    cache.put(first)
    clock.now += 10
    cache.put(second)
    clock.now += 30
    assert cache.contains(first.diff_id)
    assert cache.get(first.diff_id) == first
    cache.put(third)
    assert [cache.contains(d.diff_id) for d in (first, second, third)] == [False, True, True]
    cache.close()


def test_the_layer_just_put_stays_even_alone_over_the_cap(tmp_path, monkeypatch):
    """A layer bigger than the whole cap evicts every other one, never itself."""
    first, second = sized_layer(1), sized_layer(2)
    monkeypatch.setenv("INSPECTOR_CACHE_MAX_SIZE", "1KiB")
    cache = LayerCache(tmp_path / "layers.sqlite", "rules-1", clock=Clock())
    cache.put(first)
    cache.put(second)
    assert (cache.contains(first.diff_id), cache.contains(second.diff_id)) == (False, True)
    cache.close()


def test_no_cap_keeps_everything(tmp_path, monkeypatch):
    """INSPECTOR_CACHE_MAX_SIZE=none: nothing is evicted however small a cap would have been."""
    monkeypatch.setenv("INSPECTOR_CACHE_MAX_SIZE", "none")
    cache = LayerCache(tmp_path / "layers.sqlite", "rules-1", clock=Clock())
    layers = [sized_layer(seed) for seed in range(5)]
    for one in layers:
        cache.put(one)
    assert all(cache.contains(one.diff_id) for one in layers)
    cache.close()


def _claims_waiting(cache: LayerCache, diff_id: str) -> int:
    key = (os.path.realpath(cache.path), cache.fingerprint, diff_id)
    with cache_module._CLAIMS_LOCK:
        return cache_module._CLAIMS.get(key, [None, 0])[1]


def test_two_threads_claiming_one_layer_read_it_once(tmp_path):
    """The first claim is True; a second thread's claim waits for it, then is False and finds
    the layer the first one put."""
    path = tmp_path / "layers.sqlite"
    first = LayerCache(path, "rules-1")

    def second_reader() -> tuple[bool, bool]:
        cache = LayerCache(path, "rules-1")
        try:
            with cache.claim(LAYER.diff_id) as mine:
                return mine, cache.get(LAYER.diff_id) == LAYER
        finally:
            cache.close()

    out: list[tuple[bool, bool]] = []
    with first.claim(LAYER.diff_id) as mine:
        assert mine
        thread = threading.Thread(target=lambda: out.append(second_reader()), daemon=True)
        thread.start()
        # Put only once the other thread waits on the claim (or wrongly went through it).
        while _claims_waiting(first, LAYER.diff_id) < 2 and thread.is_alive():
            time.sleep(0.001)
        first.put(LAYER)
    thread.join(20)
    assert out == [(False, True)]
    assert _claims_waiting(first, LAYER.diff_id) == 0
    first.close()


def test_an_exception_inside_a_claim_releases_it(tmp_path):
    """A reader that fails inside its claim lets the next one claim the layer (and read it)."""
    path = tmp_path / "layers.sqlite"
    cache = LayerCache(path, "rules-1")
    claimed: list[bool] = []

    def fail_while_reading() -> None:
        with cache.claim(LAYER.diff_id) as mine:
            claimed.append(mine)
            raise RuntimeError("read failed")

    with pytest.raises(RuntimeError, match="read failed"):
        fail_while_reading()
    assert claimed == [True]

    def claim_again() -> bool:
        other = LayerCache(path, "rules-1")
        try:
            with other.claim(LAYER.diff_id) as mine:
                return mine
        finally:
            other.close()

    assert in_thread(claim_again) is True
    cache.close()
