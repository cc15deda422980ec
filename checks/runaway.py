"""Runaway start-ups: an app that fills its disk or floods its log as soon as it runs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checks.access import probe_missing, size
from checks.model import Context, Facts, Found, Location, Skip
from checks.registry import check


def _watched(facts: Facts) -> dict[str, Any]:
    """The lifecycle probe's facts whether the app kept running or not (limits apply to both)."""
    probe = (facts.get("runtime") or {}).get("lifecycle") or {}
    status = probe.get("status") or "missing"
    if status not in ("ran", "exited-early"):
        why = probe.get("reason") or probe.get("message") or "it did not run"
        raise Skip(probe_missing("the lifecycle probe", status, why))
    return probe


def runaway_paths(life: dict[str, Any]) -> list[str]:
    """The files OPS010 names when the app passed the write limit (at most 3), else none: the
    runaway write is its finding, and OPS022 does not list them again."""
    if "write" not in (life.get("limits_hit") or ()):
        return []
    kept = sorted(
        str(w.get("path")) for w in life.get("written") or () if w.get("kind") != "deleted"
    )
    # Files, not the directories above them: a directory is listed before what it holds.
    leaves = [
        p for i, p in enumerate(kept) if not kept[i + 1 :] or not kept[i + 1].startswith(p + "/")
    ]
    return leaves[:3]


@check(
    "OPS010",
    "fills-its-disk",
    "The app writes over the probe's write limit into its container filesystem at start",
    severity="high",
    category="operability",
    needs=(),
    wants=("runtime.lifecycle",),
    fix="Bound what the app writes at start (a size-capped cache, a tmpfs or a volume with a "
    "quota), or write it at build time; raise INSPECTOR_PROBE_WRITE_LIMIT if this much is meant.",
)
def fills_its_disk(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    Whether the lifecycle probe had to stop the app because, during its warm-up, it wrote more
    than the write limit (1 GiB by default) into its writable layer and volumes, or created
    over 200,000 files there. The probe freezes the container, records its processes, and kills
    it: `runtime.lifecycle.limits_hit` holds "write" and `stopped_by` is "limit".

    ## Why it matters
    A container's writable layer lives on the node's disk: without a quota (Docker sets none by
    default) an app that writes at this rate fills the node within minutes and takes every other
    container there down with it, or is evicted by Kubernetes for ephemeral-storage pressure and
    restarts into the same loop. Data written into the container layer is also lost on every
    restart and is the slowest storage a container has (copy-on-write).

    ## Example
    ```python
    # at import time: unpack every model into the container filesystem
    for name in MODELS:
        download(name, "/var/tmp/models")
    ```

    ## Instead
    ```dockerfile
    # unpack at build time, so the image carries the data read-only
    RUN python -m app.fetch_models /opt/models
    ```
    Or mount a volume with a size limit (`emptyDir.sizeLimit`, a tmpfs with `size=`) and bound
    the cache in the app.

    ## References
    - https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/
    - https://docs.docker.com/engine/storage/drivers/#container-and-layers
    - https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#local-ephemeral-storage
    - Practice: none of Turner-Trauring's; Kubernetes' ephemeral-storage eviction of a node under
      disk pressure
    """
    life = _watched(facts)
    if "write" not in (life.get("limits_hit") or ()):
        return
    limit = life.get("write_limit_bytes")
    written = life.get("written_bytes")
    shown = runaway_paths(life)
    paths = ", ".join(shown)
    where = f" (under {paths})" if paths else ""
    yield Found(
        f"during the {life.get('warmup_seconds')} s warm-up the app wrote {size(written or 0)} "
        f"into its container filesystem, past the probe's write limit of {size(limit or 0)}"
        f"{where}; the probe stopped it",
        Location(runtime="lifecycle probe: written files", path=shown[0] if shown else None),
    )


@check(
    "OPS011",
    "floods-its-log",
    "The app prints more than the probe's log limit during its warm-up",
    severity="medium",
    category="operability",
    needs=(),
    wants=("runtime.lifecycle",),
    fix="Log at INFO in production, drop prints from hot loops, and rate-limit repeated "
    "messages; raise INSPECTOR_PROBE_LOG_LIMIT if this much output is meant.",
)
def floods_its_log(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    Whether the app's output during the lifecycle probe's warm-up (3 s by default) passed the
    log limit (16 MiB by default): the engine rotated the probe container's log, so
    `runtime.lifecycle.limits_hit` holds "log". Only seen when the engine runs on this machine
    (`log_known`).

    ## Why it matters
    Megabytes of output per second at start is a print or a DEBUG log left in a hot loop. Every
    byte goes through the container runtime's log pipe to a file on the node (Docker's default
    json-file driver keeps all of it unless `max-size` is set) and then to the log shipper and
    the log store, which bill by volume; the app also spends its CPU writing it, and the lines
    that matter are lost in the noise.

    ## Example
    ```python
    while True:
        request = queue.get()
        print("handled", request)  # every request, to stdout, unbuffered
    ```

    ## Instead
    ```python
    log = logging.getLogger(__name__)
    log.debug("handled %s", request)  # off at the production level (INFO)
    ```

    ## References
    - https://docs.docker.com/engine/logging/drivers/json-file/
    - https://12factor.net/logs
    - https://kubernetes.io/docs/concepts/cluster-administration/logging/#log-rotation
    - Practice: none of Turner-Trauring's; Docker's json-file log driver and Kubernetes' log
      rotation
    """
    life = _watched(facts)
    if "log" not in (life.get("limits_hit") or ()):
        return
    limit = size(life.get("log_limit_bytes") or 0)
    yield Found(
        f"the app printed more than {limit} during the {life.get('warmup_seconds')} s warm-up "
        f"(the probe kept only the newest {limit})",
        Location(runtime="lifecycle probe: container log"),
    )
