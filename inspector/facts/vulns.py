"""The `vulnerabilities` facts section: the inventory matched against the advisory database.

It runs once per audit, after the analysers and the probes, because reachability needs the
command's sys.path: the static probe's when it ran, else the one the layers tell. The database
is only ever read here: an audit never creates a store (a missing one is "no-database", said in
one line), and a store that fails makes the section "error" while the audit goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from inspector.advisories.model import (
    AdvisoryLookup,
    DatabaseState,
    VulnerabilityFacts,
    VulnerabilityMatch,
)
from inspector.analysers.inventory import Component, Inventory
from inspector.datastore import is_postgres, shown
from inspector.facts.model import NOT_MATCHED
from inspector.probes.model import RuntimeFacts

UPDATE_HINT = "`inspector db update` fetches it (`--from DIR` where there is no network)"


class Store(AdvisoryLookup, Protocol):
    """What an audit reads from the advisory store (inspector.advisories.store.AdvisoryStore)."""

    def state(self, ecosystems: Iterable[str]) -> DatabaseState: ...


def _open_store(url: str) -> Any:
    from inspector.advisories.store import AdvisoryStore

    return AdvisoryStore(url)


def _match(pairs: list[tuple[Component, str]], lookup: Store) -> tuple[VulnerabilityMatch, ...]:
    from inspector.advisories.match import match

    return tuple(match(pairs, lookup))


def _reachability(component: Component, import_path: tuple[str, ...]) -> str:
    from inspector.analysers.inventory import reachability

    return reachability(component, import_path)


@dataclass(frozen=True)
class AdvisoryOptions:
    """Where the advisory database is; how it is opened and matched (tests replace these)."""

    url: str  # a SQLite path (or sqlite:// URL), or postgresql://...
    open_store: Callable[[str], Any] = field(default=_open_store, compare=False)
    matcher: Callable[[list[tuple[Component, str]], Store], tuple[VulnerabilityMatch, ...]] = field(
        default=_match, compare=False
    )
    reachability: Callable[[Component, tuple[str, ...]], str] = field(
        default=_reachability, compare=False
    )


def _sqlite_path(url: str) -> Path | None:
    """The file a SQLite store lives in; None for a server (PostgreSQL)."""
    if is_postgres(url):
        return None
    return Path(url.removeprefix("sqlite://"))


def import_path(inventory: Inventory, runtime: RuntimeFacts) -> tuple[tuple[str, ...], str | None]:
    """The sys.path reachability is judged by, and where it came from."""
    static = runtime.static
    if static.status == "ran" and static.sys_path:
        return tuple(static.sys_path), "probe"
    if inventory.import_path:
        return tuple(inventory.import_path), "static"
    return (), None


def needed(inventory: Inventory) -> tuple[str, ...]:
    """The ecosystems the image's components are matched in."""
    return tuple(sorted({c.ecosystem for c in inventory.components if c.ecosystem}))


def missing(ecosystems: Iterable[str], state: DatabaseState) -> tuple[str, ...]:
    """The needed ecosystems the database holds no advisories for ("Debian:12" is held when the
    Debian export was imported)."""
    held = {e.name.lower() for e in state.ecosystems if e.advisories > 0}
    return tuple(e for e in ecosystems if e.split(":", 1)[0].lower() not in held)


def vulnerability_facts(
    inventory: Inventory | None, runtime: RuntimeFacts, options: AdvisoryOptions | None
) -> VulnerabilityFacts:
    if options is None:
        return NOT_MATCHED
    if inventory is None:
        return VulnerabilityFacts("error", "no inventory was collected, nothing to match",
                                  None, (), (), (), None, ())  # fmt: skip
    path, source = import_path(inventory, runtime)
    ecosystems = needed(inventory)
    where = shown(options.url)
    file = _sqlite_path(options.url)
    if file is not None and not file.is_file():
        # Opening a SQLite store creates it: an audit must not leave an empty database behind.
        note = f"no advisory database at {where}: vulnerabilities were not matched; {UPDATE_HINT}"
        return VulnerabilityFacts("no-database", note, None, ecosystems, ecosystems, path,
                                  source, ())  # fmt: skip
    store = None
    try:
        store = options.open_store(options.url)
        state = store.state(ecosystems)
        # The store knows per release ("Debian:13" absent from a Debian export); else by export.
        held = getattr(store, "missing", None)
        absent = tuple(held(ecosystems)) if held else missing(ecosystems, state)
        if ecosystems and absent == ecosystems:
            note = (f"the advisory database at {where} holds no advisories for "
                    f"{', '.join(ecosystems)}: vulnerabilities were not matched; "
                    f"{UPDATE_HINT}")  # fmt: skip
            return VulnerabilityFacts("no-database", note, state, ecosystems, absent, path,
                                      source, ())  # fmt: skip
        pairs = [(c, options.reachability(c, path)) for c in inventory.components
                 if c.ecosystem and c.ecosystem not in absent]  # fmt: skip
        matches = options.matcher(pairs, store)
    except Exception as exc:  # a broken store must not stop the audit: say so, go on
        reason = " ".join(str(exc).replace(options.url, where).split()) or type(exc).__name__
        note = f"the advisory database at {where} could not be read: {reason}"
        return VulnerabilityFacts("error", note, None, ecosystems, (), path, source, ())
    finally:
        close = getattr(store, "close", None)
        if close is not None:
            close()
    return VulnerabilityFacts("matched", None, state, ecosystems, absent, path, source,
                              tuple(matches))  # fmt: skip
