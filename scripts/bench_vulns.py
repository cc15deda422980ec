"""`make bench`, vulnerability part: what matching known vulnerabilities adds to an audit.

The vu-layout fixture (a Debian bookworm base's 122 real packages, about 90 Python components in
a venv, the system site-packages, pip's and setuptools' vendored packages) is audited with a warm
layer cache and no probes, the way a CI gate re-audits an image it has seen, with and without
matching. The advisory store is a fresh SQLite file imported with `import_from` from OSV exports
the bench writes in OSV's format: 15 advisories per Debian source package the image holds and 6
per Python distribution (fixed above the installed version, below it, or not at all), and enough
for packages the image does not hold to make 100,000 in all (about OSV's PyPI and Debian exports
together). Audits alternate, five of each; the medians are compared.

Printed: the import's seconds, the audit's seconds with and without matching (wall clock, and this
process's CPU time, which other jobs on a shared machine do not inflate), the seconds matching adds
and the ratio. Target: at most 1 s added, wall clock. Exit status 1 when missed, 2 when the bench
could not run (no engine, the fixture not built).
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # for tests.osv_export

IMAGE = "inspector-fixture/vu-layout:test"
TOTAL_ADVISORIES = 100_000
PER_SOURCE, PER_DISTRIBUTION = 15, 6
ROUNDS = 7
TARGET_ADDED = 1.0
SEED = 23


class BenchError(Exception):
    """The bench itself could not run (not a missed target)."""


def advisories(inventory: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(PyPI records, Debian records) for the image's packages, then filler to the total."""
    from tests.osv_export import CVSS_HIGH, CVSS_MEDIUM, debian, pypi

    rng = random.Random(SEED)
    sources = sorted({(c["source"], c["source_version"]) for c in inventory["components"]
                      if c["kind"] == "dpkg" and c["source"]})  # fmt: skip
    names = sorted({(c["name"], c["version"]) for c in inventory["components"]
                    if c["ecosystem"] == "PyPI"})  # fmt: skip
    serial = iter(range(1, 10**7))
    python: list[dict[str, Any]] = []
    for name, version in names:
        for i in range(PER_DISTRIBUTION):
            fixed = (None, "0.0.1", f"{version}.post1")[i % 3]
            python.append(pypi(f"GHSA-bench-{next(serial):07d}", name, fixed,
                               aliases=[f"CVE-2026-{next(serial)}"],
                               vector=CVSS_HIGH if i % 2 else CVSS_MEDIUM))  # fmt: skip
    os_records: list[dict[str, Any]] = []
    for source, version in sources:
        for i in range(PER_SOURCE):
            fixed = (None, "0.0.1-1", f"{version}+1")[i % 3]
            os_records.append(debian(f"DEBIAN-CVE-2026-{next(serial)}", "12", source, fixed,
                                     urgency=rng.choice(("low", "medium", "high",
                                                         "unimportant"))))  # fmt: skip
    while len(python) + len(os_records) < TOTAL_ADVISORIES:
        n = next(serial)
        if n % 5 < 2:
            python.append(pypi(f"PYSEC-2026-{n}", f"other-package-{n % 9000}", f"{n % 7}.1"))
        else:
            os_records.append(debian(f"DEBIAN-CVE-2025-{n}", "12", f"othersrc{n % 20000}",
                                     f"{n % 5}.0-1"))  # fmt: skip
    return python, os_records


def timed(run: Any) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def both(run: Any) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds of this process, what `run` returned)."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = run()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def bench(workdir: Path) -> int:
    from checks import catalog
    from inspector.advisories.fetch import import_from
    from inspector.advisories.store import AdvisoryStore
    from inspector.audit import AuditOptions, audit_one
    from inspector.errors import InspectorError
    from inspector.facts.collect import collect
    from inspector.facts.vulns import AdvisoryOptions
    from tests.osv_export import write_export

    try:
        doc = collect(IMAGE, probe=None).to_json()  # also warms the layer cache
    except InspectorError as exc:
        raise BenchError(f"cannot read {IMAGE} (`fixtures/build.py vu-layout`): {exc}") from exc
    python, os_records = advisories(doc["inventory"])
    exports = workdir / "osv"
    write_export(exports, "PyPI", python)
    write_export(exports, "Debian", os_records)
    store = workdir / "advisories.sqlite"
    with AdvisoryStore(str(store)) as opened:
        imported = timed(lambda: import_from(opened, exports))
    total = len(python) + len(os_records)
    print(f"advisory store: {total:,} advisories ({len(python):,} PyPI, {len(os_records):,} "
          f"Debian) imported in {imported:.1f} s")  # fmt: skip

    checks = list(catalog().values())
    plain = AuditOptions(probe=None)
    matching = AuditOptions(probe=None, advisories=AdvisoryOptions(str(store)))
    runs: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    found = 0
    audit_one(IMAGE, checks, matching, lambda m: None)  # the store's pages, as a warm gate has
    for _ in range(ROUNDS):
        for matched, options in ((False, plain), (True, matching)):
            wall, cpu, report = both(lambda o=options: audit_one(IMAGE, checks, o, lambda m: None))
            if report.error:
                raise BenchError(f"the audit failed: {report.error}")
            runs[matched].append((wall, cpu))
            if matched:
                found = sum(1 for f in report.findings if f.vulnerability is not None)
    base, matched = (statistics.median(w for w, _ in runs[k]) for k in (False, True))
    base_cpu, matched_cpu = (statistics.median(c for _, c in runs[k]) for k in (False, True))
    added = matched - base
    load = os.getloadavg()[0]
    print(f"audit of {IMAGE}, warm layer cache, no probes (median of {ROUNDS}, load average "
          f"{load:.1f}): {base:.2f} s without matching, {matched:.2f} s with ({found} "
          f"vulnerability findings); CPU {base_cpu:.2f} s and {matched_cpu:.2f} s")  # fmt: skip
    ok = added <= TARGET_ADDED
    print(f"matching adds {added:.2f} s ({matched / base:.2f}x; CPU {matched_cpu - base_cpu:.2f} "
          f"s); target <= {TARGET_ADDED:.0f} s: {'met' if ok else 'MISSED'}")  # fmt: skip
    return 0 if ok else 1


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="inspector-bench-vulns-"))
    # A layer cache of its own: warm for these audits, and nobody else's disturbed.
    os.environ["INSPECTOR_CACHE_DIR"] = str(workdir / "cache")
    try:
        return bench(workdir)
    except BenchError as exc:
        print(f"bench_vulns: {exc}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
