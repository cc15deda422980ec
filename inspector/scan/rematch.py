"""An unchanged image matched again when the advisory database changed, without reading it.

Each audit keeps its image's inventory (`inventory_record`: the components, the import path
their reachability was judged by, and the few other facts the vulnerability checks read) and
the advisory database's state its vulnerabilities were matched against (`mark`: when each
ecosystem export the image needs was imported). When a later run finds the image `unchanged`
but one of those exports imported again since, `Rematcher` matches the stored inventory against
the current advisories, builds the facts section `vulnerabilities` again, and runs only the
checks that read it: every other check's stored result stays. No layer is read, no blob fetched.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, fields, replace
from datetime import datetime
from typing import Any, Protocol

from checks.engine import run_checks
from checks.model import Check, Context
from inspector.advisories.model import (
    VULN_SEVERITIES,
    Advisory,
    AdvisoryLookup,
    DatabaseState,
    PackageKey,
    VulnerabilityFacts,
    VulnerabilityMatch,
)
from inspector.analysers.inventory import Component, Inventory
from inspector.scan.outcome import results_doc
from inspector.scan.store import Audit, Store

VULNERABILITIES = "vulnerabilities"  # the facts section matching builds
INVENTORY = "inventory"  # the facts section it is built from
RECORD_VERSION = 1  # of what `inventory_record` returns; an older record is matched as it is
CACHED_PACKAGES = 50_000  # advisories of this many packages kept for a run, then started afresh
CACHED_COMPONENTS = 100_000  # matches of this many components kept for a run, then afresh

# What matching is: the components with their reachability, the lookup -> the matches.
Matcher = Callable[[Sequence[tuple[Component, str]], AdvisoryLookup], Sequence[VulnerabilityMatch]]
Reachability = Callable[[Component, Sequence[str]], str]


class AdvisoryDatabase(AdvisoryLookup, Protocol):
    """The advisory store as the scan uses it: the lookup, and the state of the exports."""

    url: str  # where it is, as `AdvisoryOptions` names it

    def state(self, ecosystems: Iterable[str]) -> DatabaseState: ...

    def status(self) -> DatabaseState: ...  # every export imported


def vulnerability_checks(checks: Iterable[Check]) -> list[Check]:
    """The checks whose results follow the advisories: those reading `vulnerabilities`."""
    return [c for c in checks if VULNERABILITIES in (*c.needs, *c.wants)]


def export_of(ecosystem: str) -> str:
    """The export an ecosystem's advisories come in: "Debian:12" -> "Debian", "PyPI" -> "PyPI"."""
    return ecosystem.split(":", 1)[0]


def inventory_record(facts: Mapping[str, Any], checks: Iterable[Check]) -> dict[str, Any] | None:
    """What an audit keeps to match its image again later, from its facts JSON; None when the
    facts hold no inventory (then the image is matched again only by auditing it)."""
    inventory = facts.get(INVENTORY)
    if not isinstance(inventory, dict):
        return None
    section = facts.get(VULNERABILITIES) or {}
    # Besides `vulnerabilities`, the facts these checks read (the history step that installed a
    # package, say): kept as they are, since the image they describe does not change.
    sections = (s for c in vulnerability_checks(checks) for s in (*c.needs, *c.wants))
    wanted = {s.split(".", 1)[0] for s in sections}
    wanted -= {VULNERABILITIES, INVENTORY}
    judged_by = section.get("import_path_source")
    return {
        "version": RECORD_VERSION,
        INVENTORY: inventory,
        "import_path": section.get("import_path") if judged_by else inventory.get("import_path"),
        "import_path_source": judged_by or "static",
        "facts": {name: facts[name] for name in sorted(wanted) if name in facts},
    }


def mark(ecosystems: Sequence[str], database: Mapping[str, Any] | None,
         status: str = "matched", matches: str | None = None) -> dict[str, Any]:  # fmt: skip
    """The database's state as an audit records it: for each export the image's ecosystems
    need, when it was imported, its size and newest record (None: not in the database).
    `database` is a `DatabaseState` as JSON. A status other than matched / no-database (the
    store failed) never equals a current mark, so such an image is matched again as soon as the
    database answers."""
    # When it was imported, and what it holds: two imports within one clock tick still differ.
    imported = {e.get("name"): f"{e.get('imported')} {e.get('advisories')} {e.get('newest')}"
                for e in (database or {}).get("ecosystems") or []}  # fmt: skip
    exports = sorted({export_of(e) for e in ecosystems if e})
    return {
        "status": status,
        "updated": (database or {}).get("updated"),
        "ecosystems": list(ecosystems),
        "imported": {name: imported.get(name) for name in exports},
        "matches": matches,  # `matches_digest` of what was found
    }


def match_digest(found: Mapping[str, Any]) -> str:
    """One match (as the facts' JSON has it) as a short digest of its whole content."""
    text = json.dumps(found, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def matches_digest(digests: Iterable[str]) -> str:
    """What an image's matches were, whatever their order: unchanged after a database update,
    its vulnerability checks would say the same, so they need not run again."""
    return hashlib.sha256("\n".join(sorted(digests)).encode()).hexdigest()


def mark_of_facts(facts: Mapping[str, Any]) -> dict[str, Any] | None:
    """The mark of a freshly audited image, from its `vulnerabilities` section (None: it has
    none, or matching was turned off)."""
    section = facts.get(VULNERABILITIES)
    if not isinstance(section, dict) or section.get("status") == "disabled":
        return None
    found = matches_digest(match_digest(m) for m in section.get("matches") or [])
    return mark(section.get("ecosystems") or [], section.get("database"),
                section.get("status") or "matched", found)  # fmt: skip


class CachedLookup:
    """The store's lookup, remembered for a run: images of one registry share most packages
    (one Debian base, the same few dozen Python distributions), so each is asked for once."""

    def __init__(self, database: AdvisoryLookup) -> None:
        self.database = database
        self.known: dict[PackageKey, tuple[Advisory, ...]] = {}
        self.asked = 0  # packages the store was asked about

    def advisories(self, keys: Iterable[PackageKey]) -> Mapping[PackageKey, tuple[Advisory, ...]]:
        wanted = list(dict.fromkeys(keys))
        missing = [k for k in wanted if k not in self.known]
        if missing:
            if len(self.known) + len(missing) > CACHED_PACKAGES:
                self.known.clear()
            found = self.database.advisories(missing)
            self.asked += len(missing)
            for key in missing:
                self.known[key] = tuple(found.get(key, ()))
        return {k: self.known[k] for k in wanted if self.known.get(k)}


class Rematcher:
    """Matches unchanged images again for one run, against the database as it is now."""

    def __init__(self, database: AdvisoryDatabase, checks: Iterable[Check], context: Context,
                 matcher: Matcher | None = None,
                 reachability: Reachability | None = None) -> None:  # fmt: skip
        self.database = database
        self.lookup = CachedLookup(database)
        self._view = _RunView(database.url, self.lookup, self.state)
        self.checks = vulnerability_checks(checks)
        self.context = context
        self._matcher = matcher
        self._reachability = reachability
        self._states: dict[tuple[str, ...], DatabaseState] = {}
        # What each (component, reachability) matched this run: images of a registry share
        # most components, so each is matched once whatever the number of images holding it.
        self._matched: dict[tuple[Component, str], tuple[VulnerabilityMatch, ...]] = {}
        # Each of those matches as JSON with its digest, by id() (the matches above keep them
        # alive): turned into the facts' JSON once, not once per image holding them.
        self._as_json: dict[int, tuple[dict[str, Any], str]] = {}
        # Components read back from stored inventories, one object per distinct one: images
        # share them, and equal objects compare by identity first.
        self._components: dict[tuple[Any, ...], Component] = {}
        self._reached: dict[tuple[Component, tuple[str, ...]], str] = {}
        self.rematched = 0

    def state(self, ecosystems: Sequence[str]) -> DatabaseState:
        """The database's state for these ecosystems, asked once per run and set of them."""
        key = tuple(sorted(set(ecosystems)))
        if key not in self._states:
            self._states[key] = self.database.state(key)
        return self._states[key]

    def current(self, ecosystems: Sequence[str]) -> dict[str, Any]:
        state = self.state(ecosystems)
        doc = asdict(state)
        matched = any(export_of(e) in {s.name for s in state.ecosystems} for e in ecosystems)
        return mark(ecosystems, doc, "matched" if matched or not ecosystems else "no-database")

    def stale(self, audit: Audit) -> bool:
        """Whether the database changed since `audit` was matched (never, for an audit that
        matched nothing: it has no inventory to match)."""
        if audit.matched is None:
            return False
        now = self.current(audit.matched.get("ecosystems") or [])
        if audit.matched.get("status") not in ("matched", "no-database"):
            return now["status"] == "matched"
        return now["imported"] != audit.matched.get("imported")

    def rematch(self, audit: Audit, record: Mapping[str, Any]) -> Audit:
        """`audit` with its vulnerability checks run again on the stored inventory matched
        against the current advisories, and the mark of the database they were matched
        against; every other check's result as stored."""
        found = vulnerability_section(record, self._view, self._matches, self._reach,
                                      self._component)  # fmt: skip
        section, digest = self._json(found)
        matched = mark(section["ecosystems"], section["database"], section["status"], digest)
        self.rematched += 1
        if digest == (audit.matched or {}).get("matches") and section["status"] == (
            audit.matched or {}
        ).get("status"):
            # The same matches as before the update: the checks would say what they said.
            return Audit(audit.digest, audit.platform, audit.image_id, audit.created,
                         audit.layers, audit.results, matched)  # fmt: skip
        facts = {**(record.get("facts") or {}), INVENTORY: record.get(INVENTORY),
                 VULNERABILITIES: section}  # fmt: skip
        fresh = {r["check"]: r for r in results_doc(run_checks(facts, self.checks, self.context))}
        results = [fresh.pop(r["check"], r) for r in audit.results]
        results += fresh.values()  # a vulnerability check the stored audit did not run
        return Audit(audit.digest, audit.platform, audit.image_id, audit.created, audit.layers,
                     results, matched)  # fmt: skip

    def refresh(self, store: Store, audit: Audit, catalog: str) -> tuple[Audit, bool, str | None]:
        """An unchanged image's audit, matched again when the database changed since it was
        matched, and kept so in `store`: (the audit, whether it was matched again, a note for
        the report when that failed: then the stored results stand)."""
        try:
            if not self.stale(audit):
                return audit, False, None
            record = store.inventory(audit.digest, audit.platform)
            if record is None:
                return audit, False, None  # audited before inventories were kept
            fresh = self.rematch(audit, record)
            store.rematched(fresh, catalog, results=fresh.results is not audit.results)
        except Exception as exc:  # a store that failed, a damaged record: say so, go on
            return audit, False, ("its vulnerabilities could not be matched against the "
                                  f"updated advisory database: {_first_line(exc)}")  # fmt: skip
        return fresh, True, None

    def _matches(self, pairs: Sequence[tuple[Component, str]]) -> list[VulnerabilityMatch]:
        """Matching `pairs`, each component matched once per run (one call for those never
        seen, whose matches are then told apart by the component they name)."""
        missing = [p for p in dict.fromkeys(pairs) if p not in self._matched]
        if missing:
            if self._matcher is None:
                from inspector.advisories.match import match

                self._matcher = match
            if len(self._matched) + len(missing) > CACHED_COMPONENTS:
                self._matched.clear()
                self._as_json.clear()
            by_component: dict[tuple[Any, ...], list[VulnerabilityMatch]] = {}
            for found in self._matcher(missing, self.lookup):
                key = (found.ecosystem, found.package, found.path, found.layer, found.kind,
                       found.environment, found.reachability)  # fmt: skip
                by_component.setdefault(key, []).append(found)
            for component, reach in missing:
                key = (component.ecosystem, component.name, component.path, component.layer,
                       component.kind, component.environment, reach)  # fmt: skip
                self._matched[(component, reach)] = tuple(by_component.get(key, ()))
        return [m for pair in pairs for m in self._matched[pair]]

    def _json(self, facts: VulnerabilityFacts) -> tuple[dict[str, Any], str]:
        """The section as the facts' JSON has it (tuples as lists), and the digest of its
        matches. Made by hand: asdict's deep copies of a few hundred matches per image would
        cost more than matching them."""
        doc = {f.name: _json(getattr(facts, f.name)) for f in fields(facts)
               if f.name not in ("database", "matches")}  # fmt: skip
        doc["database"] = _json(asdict(facts.database)) if facts.database else None
        pairs = [self._match_json(m) for m in facts.matches]
        doc["matches"] = [found for found, _ in pairs]
        return doc, matches_digest(digest for _, digest in pairs)

    def _match_json(self, found: VulnerabilityMatch) -> tuple[dict[str, Any], str]:
        known = self._as_json.get(id(found))
        if known is None:
            doc = {f: _json(getattr(found, f)) for f in _MATCH_FIELDS}
            known = (doc, match_digest(doc))
            if len(self._as_json) < CACHED_COMPONENTS * 10:  # only while `found` stays cached
                self._as_json[id(found)] = known
        return known

    def _component(self, stored: Mapping[str, Any]) -> Component:
        key = tuple(map(stored.get, _COMPONENT_FIELDS))
        known = self._components.get(key)
        if known is None:
            if len(self._components) >= CACHED_COMPONENTS:
                self._components.clear()
                self._reached.clear()
            known = self._components[key] = Component(*key)
        return known

    def _reach(self, component: Component, import_path: Sequence[str]) -> str:
        key = (component, tuple(import_path))
        known = self._reached.get(key)
        if known is None:
            if self._reachability is None:
                from inspector.analysers.inventory import reachability

                self._reachability = reachability
            known = self._reached[key] = self._reachability(component, import_path)
        return known


_MATCH_FIELDS = tuple(f.name for f in fields(VulnerabilityMatch))
_COMPONENT_FIELDS = tuple(f.name for f in fields(Component))


def vulnerability_section(
    record: Mapping[str, Any],
    database: _RunView,
    matches: Callable[[Sequence[tuple[Component, str]]], Sequence[VulnerabilityMatch]],
    reachability: Reachability,
    component: Callable[[Mapping[str, Any]], Component],
) -> VulnerabilityFacts:
    """The facts section `vulnerabilities` of a stored inventory matched now: made by the very
    function an audit makes it with, handed the run's database and its remembered matches."""
    from inspector.facts.vulns import AdvisoryOptions, vulnerability_facts
    from inspector.probes.model import skipped

    stored = record.get(INVENTORY) or {}
    # The import path the audit judged reachability by (the probe's, when one ran), as the
    # inventory's own: no probe runs now.
    judged_by = tuple(record.get("import_path") or stored.get("import_path") or ())
    inventory = Inventory(stored.get("os_ecosystem"),
                          tuple(component(c) for c in stored.get("components") or []),
                          judged_by)  # fmt: skip
    options = AdvisoryOptions(
        url=database.url,
        open_store=lambda url: database,
        matcher=lambda pairs, lookup: tuple(sorted(matches(pairs), key=_order)),
        reachability=reachability,
    )
    found = vulnerability_facts(inventory, skipped("matched again from the stored inventory"),
                                options)  # fmt: skip
    source = record.get("import_path_source")
    return replace(found, import_path_source=source) if found.import_path else found


class _RunView:
    """The database as one run sees it: each package looked up and each state asked once, and
    no `close` for matching to call (the run closes the store once, at its end)."""

    def __init__(self, url: str, lookup: CachedLookup,
                 state: Callable[[Sequence[str]], DatabaseState]) -> None:  # fmt: skip
        self.url, self._lookup, self._state = url, lookup, state

    def advisories(self, keys: Iterable[PackageKey]) -> Mapping[PackageKey, tuple[Advisory, ...]]:
        return self._lookup.advisories(keys)

    def state(self, ecosystems: Iterable[str]) -> DatabaseState:
        return self._state(tuple(ecosystems))


def _order(found: VulnerabilityMatch) -> tuple[Any, ...]:
    """Worst first, then by package and id, as matching sorts what it finds."""
    rank = VULN_SEVERITIES.index(found.severity) if found.severity in VULN_SEVERITIES else 0
    return (-rank, found.package, found.id, found.ecosystem, found.path, found.layer,
            found.installed, found.reachability, found.kind, found.environment or "")  # fmt: skip


def _json(value: Any) -> Any:
    """Tuples as lists, exactly as the facts' JSON has them."""
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    return value


def age_days(updated: str | None, now: datetime) -> float | None:
    """How old the database is at `now`, in days (None: it has no date)."""
    if not updated:
        return None
    try:
        when = datetime.fromisoformat(updated.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (now - when).total_seconds() / 86400


def run_database(database: AdvisoryDatabase | None, now: datetime,
                 max_age_days: float) -> dict[str, Any]:  # fmt: skip
    """What a run records of the advisory database it used: its date and exports, and the one
    notice its report gives when the database is missing, stale or failing."""
    if database is None:
        return {"status": "disabled", "location": None, "updated": None, "ecosystems": [],
                "notice": None}  # fmt: skip
    try:
        state = database.status()
    except Exception as exc:  # the store failed: the run goes on, and says so once
        return {"status": "error", "location": None, "updated": None, "ecosystems": [],
                "notice": f"the advisory database cannot be read ({_first_line(exc)}): "
                "vulnerabilities were not matched"}  # fmt: skip
    doc = _json(asdict(state))
    held = [e for e in state.ecosystems if e.advisories]
    if not held:
        doc.update(status="missing", notice=(
            f"no advisory database in {state.location}: vulnerabilities were not matched; "
            "`inspector db update` downloads one (or imports it with --from)"))  # fmt: skip
        return doc
    # The oldest export decides: an image matched against it may miss what came since.
    updated = min(e.imported for e in held)
    doc["updated"] = updated
    age = age_days(updated, now)
    if age is not None and age > max_age_days:
        doc.update(status="stale", notice=(
            f"the advisory database is {age:.0f} days old (imported {updated[:10]}; "
            f"--max-db-age is {max_age_days:g} days): vulnerabilities published since are "
            "missing; run `inspector db update`"))  # fmt: skip
    else:
        doc.update(status="current", notice=None)
    return doc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
