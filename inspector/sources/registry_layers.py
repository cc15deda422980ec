"""A registry image's layers read side by side, within the per-host request bound.

Each layer is one blob read into the single-pass reader on a worker thread (and inflated on a
thread of its own ahead of that reader: layers/stream.py), so downloads, inflating and parsing
of different layers overlap on every core. The result is the same as reading them one after the
other: each layer's read is independent of the others, and the overlay merge, done later, takes
them in the config's order whatever order they arrived in.

Cache claims (`Known.claim`) are taken on this thread, at most `workers` at a time, in the order
of their diff_ids: a reader of two images that share layers in another order waits for the
other to finish a layer, never for each other. A layer in flight is kept (`Known.keep`) and its
claim given back as soon as it is read. When one read fails, the others are cancelled at their
next chunk, every worker is waited for, and the first failing layer of the image says why.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from inspector.layers.model import LayerRead
from inspector.sources.archive import Known
from inspector.sources.registry_blob import Cancelled
from inspector.sources.registry_client import slots_per_host

# Layers read at once: beyond a few, more threads only share the same cores and raise peak
# memory (each holds a layer's entries while it parses), and the host's request bound caps
# it anyway.
MAX_WORKERS = 4


@dataclass(frozen=True)
class Wanted:
    position: int  # in the manifest, from 0
    descriptor: Any
    diff_id: Any  # the config's (validated as a string by image.config)


# (the wanted layer, the event that cancels it) -> the layer, read and verified
ReadOne = Callable[[Wanted, threading.Event], LayerRead]


def workers_for(count: int) -> int:
    """Threads for `count` layers: never more than the host's request bound allows."""
    return max(1, min(count, MAX_WORKERS, slots_per_host()))


def wanted_layers(descriptors: list[Any], diff_ids: list[Any], known: Known) -> list[Wanted]:
    """The layers to read: not in the cache, each diff_id once (its first place)."""
    wanted: dict[str, Wanted] = {}
    for position, (descriptor, diff_id) in enumerate(zip(descriptors, diff_ids, strict=True)):
        if diff_id in known or diff_id in wanted:
            continue
        wanted[diff_id] = Wanted(position, descriptor, diff_id)
    return list(wanted.values())


def read_layers(
    wanted: list[Wanted],
    known: Known,
    read_one: ReadOne,
    on_read: Callable[[Wanted, LayerRead], None],
) -> dict[str, LayerRead]:
    """Every wanted layer read by `read_one` on worker threads, by diff_id in manifest order.

    `on_read` tallies each layer read (the image-wide limits) on this thread, before it is
    kept. Raises the error of the first failing layer in manifest order, once no worker is
    left running.
    """
    cancel = threading.Event()
    done: dict[int, LayerRead] = {}
    failed: dict[int, BaseException] = {}
    running: dict[Future[LayerRead], tuple[Wanted, AbstractContextManager[bool]]] = {}
    # Claimed in diff_id order (see the module's docstring); each read starts once claimed.
    waiting = sorted(wanted, key=lambda layer: layer.diff_id, reverse=True)
    workers = workers_for(len(wanted))
    with ThreadPoolExecutor(workers, "inspector-layer") as pool:
        try:
            while (waiting or running) and not failed:
                while waiting and len(running) < workers:
                    layer = waiting.pop()
                    claim = known.claim(layer.diff_id)
                    if not claim.__enter__():
                        claim.__exit__(None, None, None)
                        continue  # another reader put it in the cache while this one waited
                    try:
                        running[pool.submit(read_one, layer, cancel)] = (layer, claim)
                    except BaseException:
                        claim.__exit__(None, None, None)
                        raise
                if running:
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        layer, claim = running.pop(future)
                        try:
                            _finish(future, layer, known, on_read, done, failed)
                        finally:
                            claim.__exit__(None, None, None)
        finally:
            cancel.set()  # a failure or an interrupt: the rest stop at their next chunk
            for future, (layer, claim) in running.items():
                try:
                    error = future.exception()  # waits for the worker
                    if error is not None and not isinstance(error, Cancelled):
                        failed.setdefault(layer.position, error)
                finally:
                    claim.__exit__(None, None, None)
    if failed:
        raise failed[min(failed)]
    return {done[position].diff_id: done[position] for position in sorted(done)}


def _finish(
    future: Future[LayerRead],
    layer: Wanted,
    known: Known,
    on_read: Callable[[Wanted, LayerRead], None],
    done: dict[int, LayerRead],
    failed: dict[int, BaseException],
) -> None:
    """One finished read: tallied and kept, or its failure noted (a cancelled one is not)."""
    error = future.exception()
    if error is not None:
        if not isinstance(error, Cancelled):
            failed[layer.position] = error
        return
    read = future.result()
    try:
        on_read(layer, read)
    except Exception as exc:  # an image-wide limit passed: the error of this layer
        failed[layer.position] = exc
        return
    known.keep(read)
    done[layer.position] = read
