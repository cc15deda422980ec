"""Baselines: the findings an image already had, so that only new ones fail the gate.

`inspector baseline REF...` writes one; `inspector audit --baseline FILE` (or `baseline = ...` in
the policy) suppresses the findings it lists. Findings are matched by fingerprint (the check, the
image's repository and the finding's subject: its config field, path, rule or named subject, see
`inspector.report.fingerprint`), so a retag, a rebuild, another probe mode or a reworded message
keeps matching, and a finding about another subject does not. Baselines of schema 1 hold the
first form of the fingerprint (the message's words with numbers blanked); they are still read, and
the gate matches a finding on either form.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inspector import __version__
from inspector.errors import InspectorError
from inspector.report.fingerprint import fingerprint, repository

if TYPE_CHECKING:
    from inspector.report.model import ImageReport

SCHEMA_VERSION = 2
# Schema 1 differs only in its fingerprints' form; the gate matches both.
READABLE = (1, 2)
KIND = "inspector-baseline"


class BaselineError(InspectorError):
    """The baseline file cannot be used."""


@dataclass(frozen=True)
class Entry:
    fingerprint: str
    check: str
    repository: str
    severity: str
    where: str
    message: str


@dataclass(frozen=True)
class Baseline:
    source: str
    entries: Mapping[str, Entry]  # fingerprint -> entry


def document(reports: Sequence[ImageReport], now: datetime | None = None) -> dict[str, Any]:
    """Every finding that counts in these reports (the policy's ignores already applied)."""
    entries = {}
    for report in reports:
        for finding in report.findings:
            key = fingerprint(report.reference, finding)
            entries[key] = {
                "fingerprint": key,
                "check": finding.check,
                "repository": repository(report.reference),
                "severity": finding.severity,
                "where": finding.location.describe(),
                "message": finding.message,
            }
    return {
        "kind": KIND,
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "inspector", "version": __version__},
        "created": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "images": [{"reference": r.reference, "id": r.image_id} for r in reports],
        # Sorted so that a regenerated baseline diffs well in review.
        "findings": sorted(entries.values(), key=_order),
    }


def _order(entry: dict[str, str]) -> tuple[str, ...]:
    return entry["repository"], entry["check"], entry["where"], entry["fingerprint"]


def write(reports: Sequence[ImageReport], path: Path) -> int:
    doc = document(reports)
    try:
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as exc:
        raise BaselineError(f"cannot write the baseline {path}: {exc}") from exc
    return len(doc["findings"])


def read(path: Path) -> Baseline:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BaselineError(f"{path}: no such baseline (write one with `inspector baseline REF "
                            f"-o {path}`)") from exc  # fmt: skip
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"{path}: cannot read the baseline: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{path}: not a baseline: invalid JSON ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        raise BaselineError(f'{path}: not an inspector baseline (no "kind": "{KIND}")')
    if doc.get("schema_version") not in READABLE:
        raise BaselineError(f"{path}: baseline schema_version {doc.get('schema_version')!r}; "
                            f"this inspector reads {', '.join(map(str, READABLE))}")  # fmt: skip
    entries = {}
    for i, raw in enumerate(doc.get("findings") or []):
        try:
            entry = Entry(**{k: str(raw[k]) for k in Entry.__dataclass_fields__})
        except (KeyError, TypeError) as exc:
            raise BaselineError(f"{path}: findings[{i}] is incomplete ({exc})") from exc
        entries[entry.fingerprint] = entry
    return Baseline(str(path), entries)
