"""One probed collection per fixture image per test session, shared by every test file.

Probing a fixture costs seconds of waiting (a static probe, then the app started, watched and
stopped); a dozen test files once probed the same fixtures again. `Probed` collects each
fixture's facts once, probes included, with the suite's probe options and the suite's pinned
clock, and builds any audit report from those facts (`inspector.audit.report_of`), so a test
that wants other checks, a policy or another clock judges the same facts again for free.
Collections run concurrently (each mostly waits on the engine) and are thread-safe: two tests
asking for one fixture share one collection.
"""

from __future__ import annotations

import fcntl
import json
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from checks.model import Check, Context
from tests.precision import REALISTIC_GRACE, realistic

# The moment every date-dependent check in the suite judges against (checks.model.utc_now is
# pinned to it for the whole session): fixtures are built at test time, so they are never older
# than this, and Python's or Debian's end of life does not move the goldens on a calendar date.
CLOCK = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)

# The warm-up is a bound: the lifecycle probe looks once the app's start-up has settled
# (inspector/probes/ready.py), so a generous bound costs only the apps that never settle and
# makes a loaded machine's verdict the same as an idle one's.
SUITE_WARMUP = 20.0
SUITE_GRACE = 3.0
WORKERS = 6


def suite_probe(name: str) -> Any:
    """The probe options every shared collection of fixture NAME uses."""
    from inspector.probes import ProbeOptions

    grace = REALISTIC_GRACE if realistic(name) else SUITE_GRACE
    return ProbeOptions(warmup=SUITE_WARMUP, grace=grace)


def suite_context(**thresholds: Any) -> Context:
    """The checks' context at the suite's clock. A stop counts as slow only past the longest
    grace period the suite gives: how long a shutdown takes while six probes share two loaded
    cores is the machine's, not the fixture's (a stop signal ignored is still a kill, proven by
    the signal masks; slow stops are proven on facts in tests/check_examples/OPS002.json)."""
    from checks.model import Thresholds

    chosen = {"stop_seconds": REALISTIC_GRACE, **thresholds}
    return Context(now=CLOCK, thresholds=Thresholds(**chosen))


class Probed:
    """Each fixture's facts, probes included, collected at most once: per session, or, given a
    directory all pytest-xdist workers share, once for all of them (a lock file per fixture)."""

    def __init__(self, shared: Path | None = None) -> None:
        self._shared = shared
        self._lock = threading.Lock()
        self._collections: dict[str, Future[dict[str, Any]]] = {}
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="probed")

    def start(self, names: Iterable[str]) -> None:
        """Begin collecting every fixture in NAMES not yet asked for (they run concurrently)."""
        with self._lock:
            for name in names:
                if name not in self._collections:
                    self._collections[name] = self._pool.submit(_collect, name, self._shared)

    def facts(self, name: str) -> dict[str, Any]:
        """Fixture NAME's facts JSON, probed with `suite_probe(name)`. Do not mutate it."""
        self.start([name])
        return self._collections[name].result()

    def report(
        self,
        name: str,
        checks: Sequence[Check] | None = None,
        context: Context | None = None,
        **options: Any,
    ) -> Any:
        """Fixture NAME's audit report (every check unless CHECKS), judged from the shared
        facts at the suite's clock unless CONTEXT; OPTIONS are other AuditOptions fields."""
        from checks import catalog
        from inspector.audit import AuditOptions, report_of
        from inspector.errors import InspectorError
        from inspector.report.model import ImageReport
        from tests.conftest import fixture_image

        chosen = list(checks) if checks is not None else list(catalog().values())
        audit = AuditOptions(probe=suite_probe(name), context=context or suite_context(),
                             **options)  # fmt: skip
        try:
            facts = self.facts(name)
        except InspectorError as exc:  # as audit_one reports an image it could not audit
            return ImageReport(fixture_image(name), None, None, error=str(exc))
        return report_of(fixture_image(name), facts, chosen, audit)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _collect(name: str, shared: Path | None) -> dict[str, Any]:
    from inspector.facts.collect import collect
    from tests.conftest import fixture_image

    if shared is None:
        return collect(fixture_image(name), probe=suite_probe(name)).to_json()
    shared.mkdir(parents=True, exist_ok=True)
    done = shared / f"{name}.json"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worker collecting it: wait for its result
        if not done.exists():
            facts = collect(fixture_image(name), probe=suite_probe(name)).to_json()
            partial = done.with_suffix(".partial")
            partial.write_text(json.dumps(facts))
            partial.replace(done)
    return json.loads(done.read_text())


def pinned_now() -> datetime:
    """checks.model.utc_now while the suite runs."""
    return CLOCK
