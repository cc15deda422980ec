"""What a check is, what it returns, and how its documentation is shaped.

A check is a pure function of the facts JSON (what `inspector facts --format json` prints) and an
audit context (the clock and the thresholds). It never imports docker, never reads a file and never
runs a container, so a test can drive it with a small dict.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

SEVERITIES = ("info", "low", "medium", "high", "critical")
CATEGORIES = ("security", "python", "correctness", "operability", "size", "metadata")
# Fact sections a check can need; "runtime.static" and "runtime.lifecycle" need probes.
SECTIONS = ("config", "history", "layers", "fs", "os", "os_packages", "user", "files", "secrets",
            "python", "caches", "image", "inventory", "vulnerabilities", "expectations",
            "runtime.static", "runtime.lifecycle")  # fmt: skip
DOC_SECTIONS = ("What it checks", "Why it matters", "Example", "Instead", "References")

Facts = dict[str, Any]


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


@dataclass(frozen=True)
class Location:
    """Where a finding is: a config field, a layer and its history step, a path, or the runtime."""

    config: str | None = None  # "User", "Env.PYTHONFAULTHANDLER", "Cmd", ...
    layer: int | None = None
    created_by: str | None = None  # the history step that made `layer`
    path: str | None = None
    runtime: str | None = None  # "static probe", "lifecycle probe: pid 1", ...
    # An expectation file and its test: "ci/cst.yaml: test 'python runs'".
    expectation: str | None = None

    def describe(self) -> str:
        parts = [self.expectation] if self.expectation else []
        if self.config:
            parts.append(f"config {self.config}")
        if self.path:
            parts.append(self.path)
        step = shorten(command(self.created_by)) if self.created_by else None
        if self.layer is not None:
            parts.append(f"{layer_name(self.layer)}: {step}" if step else layer_name(self.layer))
        elif step:
            parts.append(f"history step: {step}")  # an ENV, CMD, ... step that made no layer
        if self.runtime:
            parts.append(self.runtime)
        return "; ".join(parts) or "image"


def layer_number(index: int) -> int:
    """The number people find a layer by: 1 for the bottom (base) layer, counting up as the
    Dockerfile's layer-making instructions run. `layer` fields in the facts are 0-based indexes
    into `layers[]`; every text and report shows this number instead."""
    return index + 1


def layer_name(index: int | None) -> str:
    """ "layer 4" for the facts' index 3; "a later layer" when the index is unknown."""
    return f"layer {layer_number(index)}" if index is not None else "a later layer"


# How builders record a step: legacy `|1 ARG=v /bin/sh -c cmd`, `/bin/sh -c #(nop)  COPY ...`;
# BuildKit `RUN |1 ARG=v /bin/sh -c cmd # buildkit`. A build argument's value may be the secrets
# analyser's placeholder, `<40 chars, fingerprint f5eaf1e7>`, which holds spaces.
_PLACEHOLDER = r"<[^<>]*>"
_STEP = re.compile(
    rf"^(?P<run>RUN )?(?:\|\d+ (?:\S+=(?:{_PLACEHOLDER}|\S*) )*)?(?P<sh>/bin/sh -c )?"
    r"(?P<nop>#\(nop\) *)?"
)
_PLACEHOLDERS = re.compile(_PLACEHOLDER)


def command(created_by: str) -> str:
    """The instruction a history step ran, without the builder's shell and build-arg prefix."""
    text = " ".join(created_by.split()).removesuffix(" # buildkit")
    match = _STEP.match(text)
    rest = text[match.end() :] if match else text
    if match and (match.group("run") or match.group("sh")) and not match.group("nop"):
        return "RUN " + rest
    return rest or text


def shorten(text: str, width: int = 60) -> str:
    """`text` in at most `width` characters, cut only at a safe place: never inside a redaction
    placeholder (`<40 chars, fingerprint f5eaf1e7>`), which would read as a value."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    cut = width - 1
    for match in _PLACEHOLDERS.finditer(text):
        if match.start() < cut < match.end():
            cut = match.start()
            break
    return text[:cut].rstrip() + "…"


@dataclass(frozen=True)
class Vulnerability:
    """What a finding about a known vulnerability carries beyond its text: reports show it in
    their own fields (SARIF makes each id a rule), ignores match its id and aliases, and the
    fingerprint reads the package and the id, not where a rebuild put the package."""

    id: str  # the CVE when there is one, else the first OSV id
    aliases: tuple[str, ...]  # every other id the advisories give (GHSA, PYSEC, DSA, ...)
    summary: str | None
    url: str | None  # the advisory's page
    severity: str  # the advisory's: "unknown", "low", "medium", "high", "critical"
    score: float | None  # the CVSS base score, when a vector decided
    ecosystem: str  # "PyPI", "Debian:12", ...
    package: str  # the PyPI name, or the OS source package (the one the advisory names)
    installed: str
    fixed: str | None  # None: no fix yet
    reachability: str  # "importable", "not-importable", "deleted", "installed"
    environment: str | None = None  # Python: the site-packages dir; None for OS packages


@dataclass(frozen=True)
class Finding:
    check: str  # the check id
    severity: str
    message: str  # what is wrong, with the numbers
    location: Location
    fix: str  # the one-line fix
    rule: str | None = None  # the check's own sub-rule that matched, e.g. a secret's kind
    # What stays the same across rebuilds when the message lists things that vary (the files,
    # layers or steps one cause touches): the fingerprint reads it instead of the message.
    identity: str | None = None
    vulnerability: Vulnerability | None = None  # set by the known-vulnerability checks
    # What the finding is about when its config field or path is not enough to tell it from the
    # check's other findings in the same place (an account of /etc/shadow, a port, a build
    # variable): names, never prose. The fingerprint reads it; see inspector/report/fingerprint.
    subject: str | None = None


@dataclass(frozen=True)
class Found:
    """What a check function yields; the engine stamps the check's id, severity and fix on it."""

    message: str
    location: Location = field(default_factory=Location)
    severity: str | None = None  # None: the check's own severity
    fix: str | None = None  # None: the check's one-line fix
    rule: str | None = None  # which of the check's rules matched, when it has several
    identity: str | None = None  # see Finding.identity; None: the message is the identity
    vulnerability: Vulnerability | None = None
    subject: str | None = None  # see Finding.subject


@dataclass(frozen=True)
class Thresholds:
    """Limits some checks compare against; the policy's [thresholds] table sets them."""

    image_age_days: int = 90
    wasted_bytes: int = 20 * 1024 * 1024
    # dive's CI defaults, so results can be compared: lowestEfficiency, highestUserWastedPercent.
    efficiency: float = 0.9
    user_wasted_percent: float = 0.1
    stop_seconds: float = 5.0
    # Days the OS packages may lag behind the image's build before SEC025 calls them stale.
    package_lag_days: int = 30
    # Bytes under which a size check reports nothing: a 288-byte cache or a 3 KiB copy is not
    # worth a rebuild, and a row for it buries the ones that are.
    size_floor: int = 1024 * 1024


def utc_now() -> datetime:
    """The moment date-dependent checks judge against when no `Context(now=...)` is given (the
    one place the catalog reads the clock, so a test suite can pin it)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Context:
    now: datetime = field(default_factory=lambda: utc_now())
    thresholds: Thresholds = field(default_factory=Thresholds)


class Skip(Exception):
    """Raised by a check that cannot decide on these facts (e.g. the probe did not run)."""


@dataclass(frozen=True)
class Check:
    id: str
    name: str  # reads as the problem: "runs-as-root"
    title: str  # one line
    severity: str  # the default; a finding may carry another
    category: str
    needs: tuple[str, ...]
    fix: str
    doc: str  # Markdown with the DOC_SECTIONS headings
    run: Callable[[Facts, Context], Iterable[Found]] = field(repr=False, compare=False)
    wants: tuple[str, ...] = ()  # sections it uses when present (e.g. a probe), not required
    dockle: tuple[str, ...] = ()  # dockle checkpoints this check covers

    @property
    def needs_probe(self) -> bool:
        return any(s.startswith("runtime.") for s in self.needs + self.wants)

    def sections(self) -> dict[str, str]:
        """The documentation's sections by heading."""
        out: dict[str, str] = {}
        for match in re.finditer(r"^## (.+?)\n(.*?)(?=^## |\Z)", self.doc, re.S | re.M):
            out[match.group(1).strip()] = match.group(2).strip()
        return out

    def finding(self, found: Found) -> Finding:
        return Finding(self.id, found.severity or self.severity, found.message, found.location,
                       found.fix or self.fix, found.rule, found.identity,
                       found.vulnerability, found.subject)  # fmt: skip


@dataclass(frozen=True)
class Suppression:
    """Why a finding does not count for the gate: an ignore in the policy, or the baseline."""

    by: str  # "ignore" | "baseline"
    reason: str
    source: str  # "pyproject.toml: ignores[0]", "inspector-baseline.json"
    expires: date | None = None


@dataclass(frozen=True)
class Suppressed:
    finding: Finding
    suppression: Suppression


@dataclass(frozen=True)
class CheckResult:
    check: Check
    status: str  # "passed" | "failed" | "skipped" | "error"
    findings: tuple[Finding, ...] = ()  # the ones that count
    reason: str | None = None  # why skipped, or the error
    suppressed: tuple[Suppressed, ...] = ()  # found, but accepted by the policy
