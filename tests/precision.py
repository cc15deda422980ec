"""The reviewed precision goldens (tests/golden/precision/NAME.txt): keys, parsing and the score.

A finding is matched to its label by a key that survives a rebuild: the check id, the rule, the
path, the history step with build-arg prefixes, content digests and loopback ports taken out, the
config field and the probe, never a layer number, a digest or anything the run varies. Findings
that share a key get an ordinal (`#2`, `#3`...) in the order the audit reports them, so one cause
reported twice can be labelled once true and once false. tests/golden/precision/README.md
describes the file format; tests/test_precision.py and scripts/precision_review.py use this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from checks.model import command, shorten

GOLDEN = Path(__file__).parent / "golden" / "precision"
LABELS = ("true", "false", "debatable")
MISSED = "missed"
STEP_WIDTH = 72
_DIGEST = re.compile(r"(dir|file|multi):[0-9a-f]{64}")
_PORT = re.compile(r"127\.0\.0\.1:\d+")
# Where tests/test_precision.py leaves its scores for the end-of-run summary (tests/conftest.py).
PRECISION_SUMMARY = pytest.StashKey[list["Score"]]()
_FLOOR = re.compile(r"^floor (precision|recall) (\d(?:\.\d+)?)$")


def step_key(created_by: str) -> str:
    """A history step as the Dockerfile wrote it, cut to a stable width; no digests or ports."""
    text = _PORT.sub("127.0.0.1:PORT", _DIGEST.sub(r"\1:*", command(created_by)))
    return shorten(text, STEP_WIDTH)


def location_key(finding: Mapping[str, Any]) -> str:
    """The stable part of a finding's location (a report's JSON finding or a Finding as a dict)."""
    location = finding.get("location") or {}
    parts = []
    if finding.get("rule"):
        parts.append(f"rule={finding['rule']}")
    if location.get("path"):
        parts.append(f"path={location['path']}")
    if location.get("created_by"):
        parts.append(f"step={step_key(location['created_by'])}")
    if location.get("config"):
        parts.append(f"config={location['config']}")
    if location.get("runtime"):
        parts.append(f"runtime={location['runtime']}")
    return " ; ".join(" ".join(p.split()) for p in parts) or "image"


@dataclass(frozen=True)
class Keyed:
    """One finding of an audit with the key its label is looked up by."""

    check: str
    key: str
    severity: str
    message: str


def keyed(findings: Iterable[Mapping[str, Any]]) -> list[Keyed]:
    """Every finding with its key; the second and later findings of one key get `#N`."""
    seen: dict[tuple[str, str], int] = {}
    out = []
    for finding in findings:
        base = location_key(finding)
        n = seen[(finding["check"], base)] = seen.get((finding["check"], base), 0) + 1
        key = base if n == 1 else f"{base} ; #{n}"
        out.append(Keyed(finding["check"], key, finding["severity"], finding["message"]))
    return out


@dataclass(frozen=True)
class Label:
    label: str  # true, false, debatable or missed
    check: str
    key: str
    why: str
    line: int


@dataclass
class Golden:
    labels: dict[tuple[str, str], Label] = field(default_factory=dict)
    missed: dict[tuple[str, str], Label] = field(default_factory=dict)
    floors: dict[str, float] = field(default_factory=dict)


class GoldenError(ValueError):
    pass


def parse(text: str, name: str = "golden") -> Golden:
    """Read a precision golden; a malformed line is an error that names it."""
    golden = Golden()
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        floor = _FLOOR.match(line)
        if floor:
            golden.floors[floor.group(1)] = float(floor.group(2))
            continue
        body, sep, why = line.partition("  # ")
        words = body.split(" ", 2)
        if not sep or not why.strip() or len(words) < 3:
            raise GoldenError(f"{name}:{number}: expected `LABEL CHECK_ID key  # why`: {line}")
        label, check, key = words[0], words[1], words[2].strip()
        if label not in (*LABELS, MISSED):
            raise GoldenError(f"{name}:{number}: label {label!r} is none of {LABELS} or missed")
        entry = Label(label, check, key, why.strip(), number)
        table = golden.missed if label == MISSED else golden.labels
        if (check, key) in table:
            raise GoldenError(f"{name}:{number}: {check} {key} is labelled twice")
        table[(check, key)] = entry
    return golden


def load(name: str) -> Golden:
    path = GOLDEN / f"{name}.txt"
    return parse(path.read_text(), path.name)


def golden_names() -> list[str]:
    return sorted(p.stem for p in GOLDEN.glob("*.txt"))


def line_for(finding: Keyed, label: str = "?") -> str:
    """A finding as a golden line, its severity and message as the comment to review from."""
    message = " ".join(finding.message.split())
    return f"{label} {finding.check} {finding.key}  # {finding.severity}: {shorten(message, 160)}"


@dataclass(frozen=True)
class Score:
    """One image's findings against its golden."""

    name: str
    true: int
    false: int
    debatable: int
    missed: int
    serious_true: int  # medium and above
    serious_false: int
    unlabelled: tuple[Keyed, ...]
    lost: tuple[Label, ...]  # labelled true, no longer found
    now_found: tuple[Label, ...]  # listed as missed, now found: relabel as true

    @property
    def precision(self) -> float | None:
        judged = self.true + self.false
        return self.true / judged if judged else None

    @property
    def serious_precision(self) -> float | None:
        judged = self.serious_true + self.serious_false
        return self.serious_true / judged if judged else None

    @property
    def recall(self) -> float | None:
        wanted = self.true + self.missed
        return self.true / wanted if wanted else None


SERIOUS = ("medium", "high", "critical")


def score(name: str, findings: list[Keyed], golden: Golden) -> Score:
    counts = {label: 0 for label in LABELS}
    serious = {"true": 0, "false": 0}
    unlabelled = []
    found_keys = {(f.check, f.key) for f in findings}
    for finding in findings:
        entry = golden.labels.get((finding.check, finding.key))
        if entry is None:
            if (finding.check, finding.key) not in golden.missed:
                unlabelled.append(finding)
            continue
        counts[entry.label] += 1
        if entry.label in serious and finding.severity in SERIOUS:
            serious[entry.label] += 1
    lost = tuple(e for k, e in golden.labels.items() if e.label == "true" and k not in found_keys)
    now_found = tuple(e for k, e in golden.missed.items() if k in found_keys)
    return Score(name, counts["true"], counts["false"], counts["debatable"],
                 len(golden.missed) - len(now_found), serious["true"], serious["false"],
                 tuple(unlabelled), lost, now_found)  # fmt: skip


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f} %"


def summary(scores: list[Score]) -> list[str]:
    """The lines the suite prints: per image and overall, precision and recall."""
    lines = ["precision and recall on the realistic fixtures (tests/golden/precision):"]
    for s in scores:
        lines.append(
            f"  {s.name}: {s.true} true, {s.false} false, {s.debatable} debatable, "
            f"{s.missed} missed: precision {percent(s.precision)} "
            f"(medium and above {percent(s.serious_precision)}), recall {percent(s.recall)}"
        )
    total = Score("overall", *(sum(getattr(s, f) for s in scores) for f in (
        "true", "false", "debatable", "missed", "serious_true", "serious_false")),
        (), (), ())  # fmt: skip
    lines.append(
        f"  overall: {total.true} true, {total.false} false, {total.debatable} debatable, "
        f"{total.missed} missed: precision {percent(total.precision)} "
        f"(medium and above {percent(total.serious_precision)}), recall {percent(total.recall)}"
    )
    return lines


# --- auditing (the test and scripts/precision_review.py audit the same way) -------------------


# Realistic apps import a web framework, an ORM and their settings before they handle SIGTERM or
# listen; on a loaded two-core machine that takes seconds. The probe waits long enough for them
# to be up, so what it sees does not depend on the machine's load (tests/test_audit.py too).
REALISTIC_WARMUP = 15.0
REALISTIC_GRACE = 10.0


# Other fixtures whose verdict needs their real start to be over before the stop signal: uvicorn
# workers that import FastAPI miss the supervisor's 5 s ping on a loaded machine (it then hangs on
# SIGTERM), and gunicorn's master only exits once every worker has failed to load the app.
SLOW_STARTS = frozenset({"ru-fastapi-workers", "wr-gunicorn-noattr"})


def realistic(name: str) -> bool:
    """A fixture built the way real projects ship (fixtures/real-*), or one of the slow starts
    above: each is probed with the realistic warm-up and grace."""
    return name.startswith("real-") or name in SLOW_STARTS


def audit_findings(references: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Audit each image once with every check, probes included, as tests/test_audit.py does."""
    from dataclasses import asdict

    from checks import catalog
    from inspector.audit import AuditOptions, audit_one
    from inspector.probes import ProbeOptions

    options = AuditOptions(probe=ProbeOptions(warmup=REALISTIC_WARMUP, grace=REALISTIC_GRACE))
    checks = list(catalog().values())
    out = {}
    for reference in references:
        report = audit_one(reference, checks, options, lambda message: None)
        if report.error is not None:
            raise RuntimeError(f"{reference}: {report.error}")
        out[reference] = [asdict(f) for f in report.findings]
    return out
