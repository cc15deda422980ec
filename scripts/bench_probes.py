"""`make bench`, runtime part: what the probes cost beyond what they cannot avoid, in one run.

For each image, median of several rounds:
- static probe: its wall time minus a bare `docker run --rm --network none --entrypoint true
  IMAGE` (the engine's own cost of creating, starting and removing a container); target < 1 s;
- lifecycle probe: its wall time minus the warm-up and the measured stop; target < 1 s.
Exit status 1 when a target is missed.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from inspector.facts.collect import collect
from inspector.probes import lifecycle, static
from inspector.probes.model import skipped
from inspector.probes.plan import ProbePlan
from inspector.sources.daemon import connect

IMAGES = ("inspector-fixture/good:test", "inspector-fixture/naive:test")
ROUNDS = 5
WARMUP = 3.0
TARGET = 1.0


def plan_of(reference: str) -> ProbePlan:
    captured: list[ProbePlan] = []
    collect(reference, runtime=lambda plan: captured.append(plan) or skipped("bench"))
    return captured[0]


def bare_run(image_id: str) -> float:
    started = time.monotonic()
    subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "--entrypoint", "true", image_id],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.monotonic() - started


def main() -> int:
    client = connect()
    rows, missed = [], False
    for reference in IMAGES:
        plan = plan_of(reference)
        bare, probe, overhead = [], [], []
        for _ in range(ROUNDS):
            bare.append(bare_run(plan.image_id))
            started = time.monotonic()
            found = static.run(client, plan)
            probe.append(time.monotonic() - started)
            assert found.status == "ran", found
        for _ in range(3):
            started = time.monotonic()
            life = lifecycle.run(client, plan, warmup=WARMUP)
            total = time.monotonic() - started
            overhead.append(total - WARMUP - (life.stop_seconds or 0))
        static_extra = statistics.median(probe) - statistics.median(bare)
        life_extra = statistics.median(overhead)
        missed |= static_extra >= TARGET or life_extra >= TARGET
        rows.append((reference, statistics.median(bare), statistics.median(probe), static_extra,
                     life_extra))  # fmt: skip
    print("\nprobes (median; target: each extra under 1 s)")
    print(f"{'image':38} {'bare run':>9} {'static':>8} {'extra':>7}   {'lifecycle extra':>15}")
    for reference, bare_s, probe_s, extra, life_extra in rows:
        print(f"{reference:38} {bare_s:8.2f}s {probe_s:7.2f}s {extra:6.2f}s   {life_extra:14.2f}s")
    client.close()
    if missed:
        print("bench: a probe target was missed", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
