"""The layer cache: what goes in comes out, and a damaged cache is discarded, never trusted."""

from __future__ import annotations

import io
import sqlite3

from inspector.layers.cache import LayerCache
from inspector.layers.reader import read_layer
from tests.layertools import layer

LAYER = read_layer(
    io.BytesIO(layer(("etc/os-release", b"ID=debian\n"), ("caf\udce9", b"x"))),
    lambda path, size: 64 if path == "/etc/os-release" else None,
)


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
    import pytest

    from inspector.layers.cache import CacheError

    (tmp_path / "file").write_text("")
    with pytest.raises(CacheError, match="INSPECTOR_CACHE_DIR"):
        LayerCache(tmp_path / "file" / "cache" / "layers.sqlite", "rules-1")
