"""The layer cache in PostgreSQL, against a real server: the same entries as the SQLite cache,
the same cap, claims that hold across threads and processes, and one-line connection errors."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from inspector.layers.cache import CacheError, encode
from inspector.layers.cache_postgres import PostgresLayerCache
from tests.postgres import postgres_server, postgres_url  # noqa: F401 - fixtures
from tests.registry import free_port
from tests.test_cache import LAYER, Clock, in_thread, sized_layer


@pytest.fixture
def cache(postgres_url) -> Iterator[PostgresLayerCache]:  # noqa: F811 - the imported fixture
    opened = PostgresLayerCache(postgres_url, "rules-1")
    yield opened
    opened.close()


def sql(url: str, query: str, *args: object) -> list[tuple]:
    """Run one statement on a connection of the test's own."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(query, args)
        return cursor.fetchall() if cursor.description else []


def advisory_locks(url: str, *, granted: bool) -> int:
    return sql(
        url,
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted = %s",
        granted,
    )[0][0]


def test_a_layer_and_a_config_round_trip(cache):
    """A stored layer comes back equal (contents and non-UTF-8 names), found by digest and size;
    a config is served only under its own digest."""
    import hashlib

    cache.put(LAYER)
    assert cache.contains(LAYER.diff_id)
    assert cache.with_size(LAYER.size) == {LAYER.diff_id}
    assert cache.get(LAYER.diff_id) == LAYER
    config = b'{"rootfs": {"diff_ids": []}}'
    image_id = "sha256:" + hashlib.sha256(config).hexdigest()
    cache.put_config(image_id, config)
    assert cache.get_config(image_id) == config
    cache.put_config(image_id, config + b" ")
    assert cache.get_config(image_id) is None


def test_other_capture_rules_do_not_see_the_entry(cache, postgres_url):  # noqa: F811
    """An entry written under other capture rules is a miss, so stale contents are never served."""
    cache.put(LAYER)
    other = PostgresLayerCache(postgres_url, "rules-2")
    assert not other.contains(LAYER.diff_id)
    assert other.get(LAYER.diff_id) is None
    other.close()


def test_a_damaged_row_is_a_miss_and_is_removed(cache, postgres_url):  # noqa: F811
    """A row whose data does not decode reads as absent and is deleted."""
    cache.put(LAYER)
    sql(postgres_url, "UPDATE inspector_layers SET data = %s", b"\x00broken")
    assert cache.get(LAYER.diff_id) is None
    assert not cache.contains(LAYER.diff_id)


def test_eviction_keeps_the_cache_under_its_cap_least_recently_used_first(
    postgres_url,  # noqa: F811
    monkeypatch,
):
    """Over the cap, the layer used longest ago goes (a `get` counts as a use, noted at most
    once a minute), never the one just put."""
    first, second, third = (sized_layer(seed) for seed in (1, 2, 3))
    cap = len(encode(first)) + len(encode(second)) + 100
    monkeypatch.setenv("INSPECTOR_CACHE_MAX_SIZE", str(cap))
    clock = Clock()
    cache = PostgresLayerCache(postgres_url, "rules-1", clock=clock)
    cache.put(first)
    clock.now += 10
    cache.put(second)
    clock.now += 30
    assert cache.get(second.diff_id) == second  # within a minute: not noted
    clock.now += 100
    assert cache.get(first.diff_id) == first
    clock.now += 100
    cache.put(third)
    assert [cache.contains(d.diff_id) for d in (first, second, third)] == [True, False, True]
    total = sql(postgres_url, "SELECT sum(length(data)) FROM inspector_layers")[0][0]
    assert total <= cap
    monkeypatch.setenv("INSPECTOR_CACHE_MAX_SIZE", "1KiB")
    small = PostgresLayerCache(postgres_url, "rules-1", clock=clock)
    small.put(second)
    assert [cache.contains(d.diff_id) for d in (first, second, third)] == [False, True, False]
    small.close()
    cache.close()


def test_two_threads_claiming_one_layer_read_it_once(cache, postgres_url):  # noqa: F811
    """Two threads of one cache claim a layer: the second waits on the server's lock, then is
    False and finds the layer the first one put."""
    out: list[tuple[bool, bool]] = []

    def second_reader() -> None:
        with cache.claim(LAYER.diff_id) as mine:
            out.append((mine, cache.get(LAYER.diff_id) == LAYER))

    with cache.claim(LAYER.diff_id) as mine:
        assert mine
        thread = threading.Thread(target=second_reader, daemon=True)
        thread.start()
        wait_for(lambda: advisory_locks(postgres_url, granted=False) == 1 or not thread.is_alive())
        cache.put(LAYER)
    thread.join(20)
    assert out == [(False, True)]
    assert advisory_locks(postgres_url, granted=True) == 0


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.005)


def claim_in_process(
    url: str, report: multiprocessing.Queue, start: object, go: object, die: bool
) -> None:
    """A separate scanner: claim LAYER when told to start, report, and put it when told to go
    (or die holding it)."""
    cache = PostgresLayerCache(url, "rules-1")
    start.wait(30)  # type: ignore[attr-defined]
    with cache.claim(LAYER.diff_id) as mine:
        report.put(("claimed", mine))
        if die:
            report.close()
            report.join_thread()  # the report is sent by a thread os._exit would not wait for
            os._exit(3)
        if mine:
            go.wait(30)  # type: ignore[attr-defined]
            cache.put(LAYER)
        else:
            report.put(("found", cache.get(LAYER.diff_id) == LAYER))
    cache.close()


def test_two_processes_claiming_one_layer_read_it_once(postgres_url):  # noqa: F811
    """Two scanner processes claim a layer: exactly one reads it; the other waits for its put
    and finds the layer."""
    context = multiprocessing.get_context("spawn")
    first_report, second_report = context.Queue(), context.Queue()
    started, second_start, go = context.Event(), context.Event(), context.Event()
    started.set()
    first = context.Process(
        target=claim_in_process, args=(postgres_url, first_report, started, go, False)
    )
    second = context.Process(
        target=claim_in_process, args=(postgres_url, second_report, second_start, go, False)
    )
    # Both start at once (spawning takes a while); the second claims once the first holds it.
    first.start()
    second.start()
    assert first_report.get(timeout=30) == ("claimed", True)
    second_start.set()
    wait_for(lambda: advisory_locks(postgres_url, granted=False) == 1 or not second.is_alive())
    go.set()
    assert second_report.get(timeout=30) == ("claimed", False)
    assert second_report.get(timeout=30) == ("found", True)
    for process in (first, second):
        process.join(30)
        assert process.exitcode == 0


def test_a_scanner_that_dies_holding_a_claim_releases_it(postgres_url):  # noqa: F811
    """A process killed inside its claim releases it with its connection: the layer can be
    claimed (and read) again."""
    context = multiprocessing.get_context("spawn")
    report, started, go = context.Queue(), context.Event(), context.Event()
    started.set()
    process = context.Process(
        target=claim_in_process, args=(postgres_url, report, started, go, True)
    )
    process.start()
    assert report.get(timeout=30) == ("claimed", True)
    process.join(30)
    assert process.exitcode == 3
    cache = PostgresLayerCache(postgres_url, "rules-1")

    def claim() -> bool:
        with cache.claim(LAYER.diff_id) as mine:
            return mine

    assert in_thread(claim) is True
    cache.close()


def test_an_exception_inside_a_claim_releases_it(cache, postgres_url):  # noqa: F811
    """A reader that fails inside its claim holds no lock afterwards; the next claim is True."""
    claimed: list[bool] = []

    def fail_while_reading() -> None:
        with cache.claim(LAYER.diff_id) as mine:
            claimed.append(mine)
            raise RuntimeError("read failed")

    with pytest.raises(RuntimeError, match="read failed"):
        fail_while_reading()
    assert claimed == [True]
    assert advisory_locks(postgres_url, granted=True) == 0
    other = PostgresLayerCache(postgres_url, "rules-1")

    def claim() -> bool:
        with other.claim(LAYER.diff_id) as mine:
            return mine

    assert in_thread(claim) is True
    other.close()


@pytest.mark.parametrize(
    ("conninfo", "where"),
    [
        ("postgresql://scanner:s3cret-pw@127.0.0.1:{port}/cache", "127.0.0.1:{port}"),
        ("postgresql://scanner:s3cret-pw@127.0.0.1:notaport/cache", "127.0.0.1:notaport"),
        ("postgresql://scanner:s3cret-pw@[::1/cache", "(an unreadable URL)"),
        ("scanner:s3cret-pw@127.0.0.1", "(an unreadable URL)"),
    ],
)
def test_an_unusable_server_or_url_is_one_line_without_the_password(conninfo, where):
    """A refused connection or an unreadable URL: a CacheError of one line naming the server,
    never the password."""
    port = free_port()
    with pytest.raises(CacheError) as caught:
        PostgresLayerCache(conninfo.format(port=port), "rules-1")
    message = str(caught.value)
    assert f"PostgreSQL at {where.format(port=port)} cannot be used" in message
    assert "\n" not in message
    assert "s3cret" not in message
