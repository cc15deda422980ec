"""One scan of a registry: discover, select, skip what is unchanged, audit the rest, record.

The cost follows what changed, not the registry's size: a tag is resolved to its digest with one
HEAD; an image whose digest was audited under the same catalog key is `unchanged` (its stored
results carried over, no layer read; when the advisory database changed since, its stored
inventory is matched again and its vulnerability checks run again, still reading no layer); a
layer is read once per cache (once per fleet when the cache is the shared PostgreSQL one),
whatever number of images holds it. Images never seen go first, so a scan stopped by --max-time
is continued by the next one.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from checks.engine import run_checks
from checks.model import Check, Context
from inspector.analysers import secret_rules
from inspector.errors import InspectorError
from inspector.facts import fingerprint_key
from inspector.layers.store import LayerStore
from inspector.policy.gate import Gate, apply
from inspector.scan import discover
from inspector.scan import select as choose
from inspector.scan.outcome import (
    Seen,
    catalog_key,
    counts,
    delta,
    finding_entry,
    first_forms,
    first_seen,
    open_since,
    results_doc,
    results_from,
)
from inspector.scan.rematch import (
    AdvisoryDatabase,
    Rematcher,
    inventory_record,
    mark_of_facts,
    run_database,
    vulnerability_checks,
)
from inspector.scan.store import Audit, ImageRow, Store
from inspector.sources import registry
from inspector.sources.registry_client import HOSTS, Client

AUDITED, UNCHANGED, ERROR = "audited", "unchanged", "error"
DISCOVERY_THREADS = 8
PREVIOUS_KEPT = 8  # repositories whose previous findings are kept in memory


class ScanError(InspectorError):
    """The scan cannot start: a target, option or store that cannot be used."""


@dataclass(frozen=True)
class ScanOptions:
    target: str  # registry:HOST[:PORT][/PREFIX]
    repos: tuple[str, ...] = ()  # names or globs
    repos_from: Path | None = None
    tags: tuple[str, ...] = ()  # globs or re:REGEX
    newest: int | None = None
    since: datetime | None = None
    platform: str | None = None
    all_platforms: bool = False
    jobs: int = 4
    max_time: float | None = None  # seconds
    shard: int = 0
    shards: int = 1
    run_id: str | None = None
    insecure: tuple[str, ...] = ()
    page_size: int = 100
    use_cache: bool = True
    max_db_age_days: float = 7.0  # an older advisory database is a notice in the report
    # The policy's expectation files (inspector.expect.model.ExpectationFile), judged per image.
    expect: tuple[Any, ...] = ()


@dataclass
class Candidate:
    """One image of the run: a manifest digest in a repository, and every tag naming it."""

    repository: str
    digest: str
    platform: str  # the platform asked for ("" for the default, or the index entry's)
    tags: list[str] = field(default_factory=list)
    created: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.digest, self.platform)

    def reference(self, host: str) -> str:
        return f"registry:{host}/{self.repository}@{self.digest}"

    def shard_of(self, shards: int) -> int:
        # Stable across machines and runs (unlike hash()): every shard computes the same split.
        text = f"{self.repository}@{self.digest}#{self.platform}".encode()
        return int.from_bytes(hashlib.sha256(text).digest()[:8], "big") % shards


@dataclass(frozen=True)
class Outcome:
    """What the scan did with one shard of a run."""

    run_id: str
    shard: int
    discovered: int  # images found (this shard's share)
    audited: int
    unchanged: int
    errors: int
    left_over: int  # not started before --max-time
    discovery_errors: tuple[dict[str, str], ...]
    partial: bool


def new_run_id(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Scan:
    def __init__(
        self,
        options: ScanOptions,
        checks: Sequence[Check],
        context: Context,
        gate: Gate,
        store: Store,
        layer_cache: Callable[[str], LayerStore] | None = None,
        progress: Callable[[str], None] = lambda message: None,
        advisories: AdvisoryDatabase | None = None,
    ) -> None:
        self.options, self.checks, self.context, self.gate = options, checks, context, gate
        self.store, self.layer_cache, self.progress = store, layer_cache, progress
        # None: no advisory database is used (nothing matched, nothing matched again).
        self.advisories = advisories
        self.rematcher = Rematcher(advisories, checks, context) if advisories else None
        self.vulnerability_checks = {c.id for c in vulnerability_checks(checks)}
        self.target = discover.parse_target(options.target)
        self.catalog = catalog_key(checks, context.thresholds)
        self.by_id = {c.id: c for c in checks}
        self.discovery_errors: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._previous_seen: dict[str, list[Seen]] = {}
        self._first_seen: dict[str, dict[str, str]] = {}
        self.run_started = ""  # set when the run begins

    # -- discovery ------------------------------------------------------------------------

    def _client(self, repository: str, what: str) -> Client:
        return Client(self.target.host, repository, what, insecure=self.options.insecure)

    def _repositories(self) -> list[str]:
        options, target = self.options, self.target
        names: list[str] = []
        if options.repos_from is not None:
            names += discover.read_repos_file(options.repos_from)
        plain = [r for r in options.repos if not any(ch in r for ch in "*?[")]
        globs = [r for r in options.repos if r not in plain]
        bad = [r for r in plain if not discover.valid_repository(r)]
        if bad:
            raise ScanError(f"--repo {bad[0][:80]!r} is not a repository name (lower case "
                            "path components, e.g. team/app) nor a glob")  # fmt: skip
        names += plain
        if globs or not names:
            client = self._client("", f"registry:{target.host} catalog")
            try:
                listed = discover.repositories(client, target.prefix, options.page_size)
            finally:
                client.close()
            names += choose.match_repositories(listed, globs) if globs else listed
        prefix = target.prefix
        if prefix:
            names = [n for n in names if n == prefix or n.startswith(prefix.rstrip("/") + "/")]
        if not names and (globs or prefix):
            # A typo'd prefix or glob must not pass for a registry with nothing to report.
            asked = " and ".join(
                [*([f"the prefix {prefix!r}"] if prefix else []),
                 *([f"--repo {', '.join(repr(g) for g in globs)}"] if globs else [])]
            )  # fmt: skip
            raise ScanError(
                f"{asked} matches no repository of {target.host}; check the spelling "
                "(`inspector scan registry:HOST` with no selection lists what there is)"
            )
        return sorted(dict.fromkeys(names))

    def _candidates_of(self, repository: str) -> list[Candidate]:
        options = self.options
        client = self._client(repository, f"registry:{self.target.host}/{repository}")
        try:
            tags = discover.tags(client, repository, options.page_size)
            if options.tags:
                tags = choose.match_tags(tags, list(options.tags))
            found: dict[tuple[str, str], Candidate] = {}
            for tag in tags:
                ref = registry.RegistryRef(self.target.host, repository, tag, None)
                try:
                    digest = registry.resolve(client, ref)
                except InspectorError as exc:
                    self._discovery_error(f"{repository}:{tag}", str(exc))
                    continue
                for platform, image_digest in self._platforms(client, ref, digest):
                    item = found.setdefault(
                        (image_digest, platform), Candidate(repository, image_digest, platform)
                    )
                    item.tags.append(tag)
            return list(found.values())
        finally:
            client.close()

    def _platforms(
        self, client: Client, ref: registry.RegistryRef, digest: str
    ) -> list[tuple[str, str]]:
        if not self.options.all_platforms:
            return [(self.options.platform or "", digest)]
        pairs = registry.index_platforms(client, ref, digest)
        return [(p, d) for p, d in pairs] if pairs else [("", digest)]

    def _discovery_error(self, what: str, error: str) -> None:
        with self._lock:
            self.discovery_errors.append({"repository": what, "error": error})

    def discover(self) -> list[Candidate]:
        """Every image of this shard's share, tags that name the same digest merged."""
        repositories = self._repositories()
        self.progress(f"discovered {len(repositories)} repositories; resolving their tags")
        found: list[Candidate] = []

        def one(repository: str) -> list[Candidate]:
            try:
                return self._candidates_of(repository)
            except InspectorError as exc:
                self._discovery_error(repository, str(exc))
                return []

        # Tag resolution is one HEAD per tag, all waiting on the network: more threads than
        # --jobs, still within the per-host bound every request goes through.
        with ThreadPoolExecutor(max_workers=max(self.options.jobs, DISCOVERY_THREADS)) as pool:
            for items in pool.map(one, repositories):
                found.extend(items)
        shards = self.options.shards
        return [c for c in found if c.shard_of(shards) == self.options.shard]

    def _select_by_time(
        self, items: list[Candidate], stored: dict[tuple[str, str], str | None]
    ) -> list[Candidate]:
        options = self.options
        if options.newest is None and options.since is None:
            return items

        def created(item: Candidate) -> datetime | None:
            if item.created is None:
                item.created = stored[item.key] if item.key in stored else self._created(item)
            return choose.parse_created(item.created)

        by_repo: dict[str, list[Candidate]] = {}
        for item in items:
            by_repo.setdefault(item.repository, []).append(item)
        kept: list[Candidate] = []
        for group in by_repo.values():
            if options.since is not None:
                group = choose.since(group, options.since, created)
            if options.newest is not None:
                group = choose.newest(group, options.newest, created)
            kept.extend(group)
        return kept

    def _created(self, item: Candidate) -> str | None:
        client = self._client(item.repository, item.reference(self.target.host))
        try:
            ref = registry.RegistryRef(self.target.host, item.repository, None, item.digest)
            config = registry.image_config(client, ref, item.digest, item.platform or None)
            value = config.get("created")
            return value if isinstance(value, str) else None
        except InspectorError:
            return None  # the audit will say why the image cannot be read
        finally:
            client.close()

    # -- auditing --------------------------------------------------------------------------

    def _previous(self, name: str, run_id: str) -> list[Seen]:
        """Each image of the previous run that saw repository `name`; the last few repositories
        are kept, as images come mostly grouped by repository."""
        if name not in self._previous_seen:
            if len(self._previous_seen) >= PREVIOUS_KEPT:
                oldest = next(iter(self._previous_seen))
                self._previous_seen.pop(oldest)
                self._first_seen.pop(oldest, None)
            started, rows = self.store.previous_run(name, run_id)
            seen = [
                Seen(row.digest, row.platform, row.tags, row.report.get("findings") or [], started)
                for row in rows
            ]
            self._previous_seen[name] = seen
            self._first_seen[name] = first_seen(seen)
        return self._previous_seen[name]

    def _audit(self, item: Candidate) -> tuple[Audit, int, dict[str, Any] | None]:
        """Read and check one image: its stored audit, how many layers were read, and its
        inventory record (what matching it again later needs)."""
        from inspector.facts.collect import collect
        from inspector.facts.vulns import AdvisoryOptions

        # Matched as `audit` matches, against the run's database (each audit opens its own
        # connection: audits run in threads).
        advisories = AdvisoryOptions(self.advisories.url) if self.advisories else None
        facts = collect(
            item.reference(self.target.host),
            use_cache=self.options.use_cache,
            platform=item.platform or self.options.platform,
            insecure_registries=self.options.insecure,
            layer_cache=self.layer_cache,
            probe=None,
            advisories=advisories,
            expect=self.options.expect,
        )
        doc = facts.to_json()
        results = run_checks(doc, self.checks, self.context)
        layers = doc.get("layers") or []
        audit = Audit(
            item.digest,
            item.platform,
            doc["image"].get("id"),
            doc["image"].get("created"),
            tuple(layer["digest"] for layer in layers),
            results_doc(results),
            mark_of_facts(doc),
        )
        read = sum(1 for layer in layers if not layer.get("from_cache"))
        return audit, read, inventory_record(doc, self.checks)

    def _row(self, run_id: str, item: Candidate, seq: int, status: str, audit: Audit | None,
             error: str | None, layers_read: int, rematched: bool = False,
             note: str | None = None) -> ImageRow:  # fmt: skip
        name = f"{self.target.host}/{item.repository}"
        # As `audit registry:...` names it: fingerprints, ignores and baselines match both.
        reference = f"registry:{name}"
        findings: list[dict[str, Any]] = []
        suppressed = 0
        notices: tuple[str, ...] = ()
        check_errors: list[str] = []
        first_form: dict[str, str] = {}
        if audit is not None:
            results = results_from(audit.results, self.by_id)
            applied = apply(self.gate, reference, results)
            for result in applied.results:
                if result.status == "error":
                    check_errors.append(f"{result.check.id}: {result.reason}")
                findings.extend(finding_entry(reference, f) for f in result.findings)
                first_form.update(first_forms(reference, result.findings))
                suppressed += len(result.suppressed)
            notices = applied.notices
        if note:
            notices = (*notices, note)
        findings.sort(key=lambda f: (-_rank(f["severity"]), f["check"], f["where"]))
        previous = self._previous(name, run_id)
        since = open_since(findings, self._first_seen.get(name, {}), self.run_started, first_form)
        for f in findings:
            f["first_seen"] = since[f["fingerprint"]]
        moved = (delta(findings, item.digest, item.platform, item.tags, previous, first_form)
                 if audit else None)  # fmt: skip
        new, fixed = (moved.new, moved.fixed) if moved else ([], [])
        report = {
            "image_id": audit.image_id if audit else None,
            "created": audit.created if audit else None,
            "layers": list(audit.layers) if audit else [],
            "counts": counts(findings),
            "findings": findings,
            "new": [f["fingerprint"] for f in new],
            "fixed": fixed,
            "tag_changes": moved.tags if moved else [],
            "suppressed": suppressed,
            "notices": list(notices),
            "check_errors": check_errors,
            "vulnerabilities": self._vulnerabilities(audit, findings, rematched),
        }
        return ImageRow(name, item.digest, item.platform, tuple(sorted(item.tags)),
                        status, error, self.options.shard, seq, layers_read, report)  # fmt: skip

    def _vulnerabilities(self, audit: Audit | None, findings: Sequence[dict[str, Any]],
                         rematched: bool) -> dict[str, Any] | None:  # fmt: skip
        """The image's vulnerability findings that count, by severity, and the database date
        they were matched against; None when its vulnerabilities were not matched."""
        if audit is None or audit.matched is None:
            return None
        return {
            "status": audit.matched.get("status"),
            "database": audit.matched.get("updated"),
            "rematched": rematched,
            "counts": counts(f for f in findings if f["check"] in self.vulnerability_checks),
        }

    def _unchanged(self, audit: Audit) -> tuple[Audit, bool, str | None]:
        """An unchanged image's audit, matched again if the advisory database changed since."""
        if self.rematcher is None:
            return audit, False, None
        return self.rematcher.refresh(self.store, audit, self.catalog)

    def run(self) -> Outcome:
        options = self.options
        started = datetime.now(UTC)
        deadline = time.monotonic() + options.max_time if options.max_time else None
        run_id = options.run_id or new_run_id(started)
        scope = self.options.target
        # Secret fingerprints under the store's key: comparable with its earlier runs' audits.
        proposed = fingerprint_key.machine_key() or secrets.token_bytes(32)
        secret_rules.use_fingerprint_key(self.store.fingerprint_key(proposed))
        # Microseconds: runs started in the same second still sort in the order they began.
        database = run_database(self.advisories, started, options.max_db_age_days)
        self.store.begin(run_id, started.isoformat(timespec="microseconds"), scope, self.catalog,
                         options.shards, options.shard, database)  # fmt: skip
        recorded = self.store.run(run_id)
        # The run's own start (its first shard's), so every shard dates what it opens alike.
        self.run_started = recorded.started if recorded else started.isoformat()
        try:
            items = self.discover()
        except InspectorError as exc:
            # Recorded as failed with its reason: never left `running` in `inspector runs`.
            self._discovery_error(scope, str(exc))
            self.store.finish(run_id, options.shard, _now(), partial=False, discovered=0,
                              left_over=0, errors=self.discovery_errors, failed=True)  # fmt: skip
            raise
        stored = self.store.audited([c.key for c in items], self.catalog)
        items = self._select_by_time(items, stored)
        host = self.target.host
        done = self.store.recorded(run_id, options.shard)
        # A shard started again (a Kubernetes retry) does not redo what it recorded.
        items = [c for c in items if (f"{host}/{c.repository}", c.digest, c.platform) not in done]
        # Never-seen and changed images first: a partial run leaves the cheap ones for later.
        items.sort(key=lambda c: (c.key in stored, c.repository, c.digest, c.platform))
        total = len(items)
        tally = {AUDITED: 0, UNCHANGED: 0, ERROR: 0}
        layers = {"read": 0, "cached": 0}
        matched_again = 0  # unchanged images matched again against an updated database
        received_before = HOSTS.received
        seq = 0

        def record(item: Candidate, status: str, audit: Audit | None, error: str | None,
                   layers_read: int, inventory: dict[str, Any] | None = None,
                   rematched: bool = False, note: str | None = None) -> None:  # fmt: skip
            nonlocal seq, matched_again
            seq += 1
            matched_again += rematched
            if audit is not None and status == AUDITED:
                self.store.save_audit(audit, self.catalog, _now())
                if inventory is not None:
                    self.store.save_inventory(audit.digest, audit.platform, inventory, _now())
            self.store.save_image(run_id, self._row(run_id, item, seq, status, audit, error,
                                                    layers_read, rematched, note))  # fmt: skip
            tally[status] += 1
            if status == AUDITED and audit is not None:
                layers["read"] += layers_read
                layers["cached"] += len(audit.layers) - layers_read
            finished = sum(tally.values())
            fetched = (HOSTS.received - received_before) / 1e6
            matched = f", {matched_again} matched again" if matched_again else ""
            self.progress(f"{finished}/{total} images ({tally[AUDITED]} audited, "
                          f"{tally[UNCHANGED]} unchanged{matched}, {tally[ERROR]} errors); layers "
                          f"{layers['read']} read, {layers['cached']} cached; "
                          f"{fetched:,.1f} MB fetched" + _left(deadline))  # fmt: skip

        left = 0
        queue = items[::-1]  # popped from the end: cheap, and in the order sorted above
        with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
            running: dict[Future[tuple[Audit, int, dict[str, Any] | None]], Candidate] = {}
            while queue or running:
                while queue and len(running) < max(1, options.jobs):
                    if deadline is not None and time.monotonic() >= deadline:
                        left, queue = len(queue), []
                        break
                    item = queue.pop()
                    if item.key in stored:
                        audit = self.store.audit(item.digest, item.platform, self.catalog)
                        if audit is not None:  # else pruned since the plan: audit it again
                            audit, rematched, note = self._unchanged(audit)
                            record(item, UNCHANGED, audit, None, 0, rematched=rematched,
                                   note=note)  # fmt: skip
                            continue
                    running[pool.submit(self._audit, item)] = item
                if not running:
                    continue
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    item = running.pop(future)
                    try:
                        audit, read, inventory = future.result()
                    except InspectorError as exc:
                        record(item, ERROR, None, str(exc), 0)
                    except Exception as exc:  # a bug, on one image: the others still count
                        why = f"internal error (a bug; please report it): {type(exc).__name__}"
                        record(item, ERROR, None, f"{why}: {exc}", 0)
                    else:
                        record(item, AUDITED, audit, None, read, inventory)
        self.store.finish(run_id, options.shard, _now(), partial=left > 0,
                          discovered=total + len(done), left_over=left,
                          errors=self.discovery_errors)  # fmt: skip
        return Outcome(run_id, options.shard, total + len(done), tally[AUDITED],
                       tally[UNCHANGED], tally[ERROR], left, tuple(self.discovery_errors),
                       left > 0)  # fmt: skip


def _left(deadline: float | None) -> str:
    if deadline is None:
        return ""
    return f"; {max(0, int(deadline - time.monotonic()))} s left"


def _rank(severity: str) -> int:
    from checks.model import severity_rank

    return severity_rank(severity)
