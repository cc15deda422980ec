"""A scan run as OpenMetrics text: what Prometheus alerts on (findings by severity and
repository, images by status, errors, the run's duration, layers read).

Written to stdout with `--format openmetrics`, or to a file with `--metrics FILE` for
node-exporter's textfile collector (replaced atomically, so the collector never reads half a
file). Every value is a gauge of the run reported: a nightly scan replaces the last night's.
"""

from __future__ import annotations

import os
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from checks.model import SEVERITIES
from inspector.errors import InspectorError
from inspector.scan.render import RunReport

PREFIX = "inspector_scan"


def _label(value: str) -> str:
    """A label value as OpenMetrics quotes it: backslash, double quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(pairs: dict[str, str]) -> str:
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_label(v)}"' for k, v in pairs.items()) + "}"


def _family(name: str, text: str, samples: Iterable[tuple[dict[str, str], float]],
            unit: str = "") -> list[str]:  # fmt: skip
    full = f"{PREFIX}_{name}"
    lines = [f"# TYPE {full} gauge", f"# HELP {full} {text}"]
    if unit:
        lines.insert(1, f"# UNIT {full} {unit}")
    lines += [f"{full}{_labels(labels)} {_number(value)}" for labels, value in samples]
    return lines


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _seconds(start: str | None, end: str | None) -> float | None:
    try:
        if start and end:
            return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    except ValueError:
        return None
    return None


def render(report: RunReport) -> str:
    """The whole exposition, ending with `# EOF` as OpenMetrics requires."""
    run = report.run
    findings: dict[tuple[str, str], int] = defaultdict(int)
    new: dict[tuple[str, str], int] = defaultdict(int)
    statuses: dict[str, int] = defaultdict(int)
    layers_read = 0
    repositories: set[str] = set()
    for image in report.images():
        name = image.repository.partition("/")[2] or image.repository
        repositories.add(name)
        statuses[image.status] += 1
        layers_read += image.layers_read
        for f in image.report.get("findings") or []:
            findings[(name, f["severity"])] += 1
        for f in report.new(image):
            new[(name, f["severity"])] += 1
    tally = report.tally()
    lines = [
        *_family(
            "findings",
            "Open findings of the run, by repository and severity.",
            (
                ({"repository": repo, "severity": severity}, findings[(repo, severity)])
                for repo in sorted(repositories)
                for severity in SEVERITIES
            ),
        ),
        *_family(
            "new_findings",
            "Findings new since the previous run, judged per tag, by repository and severity.",
            (
                ({"repository": repo, "severity": severity}, new[(repo, severity)])
                for repo in sorted(repositories)
                for severity in SEVERITIES
            ),
        ),
        *_family(
            "images",
            "Images of the run by status (audited, unchanged, error).",
            (({"status": s}, statuses[s]) for s in ("audited", "unchanged", "error")),
        ),
        *_family(
            "errors",
            "Image, check and discovery errors of the run (any makes the exit status 2).",
            [({}, tally.errors_total)],
        ),
        *_family(
            "tags_moved",
            "Tags that name another digest than last run.",
            [({}, tally.summary["moved"])],
        ),
        *_family("layers_read", "Layers the run read itself.", [({}, layers_read)]),
        *_family(
            "complete",
            "1 when every shard of the run finished its whole share, else 0.",
            [({}, 1 if run.status == "complete" else 0)],
        ),
    ]
    duration = _seconds(run.started, run.finished)
    if duration is not None:
        lines += _family("duration_seconds", "How long the run took, first shard's start to "
                         "last shard's end.", [({}, duration)], unit="seconds")  # fmt: skip
    try:
        started = datetime.fromisoformat(run.started).timestamp()
    except ValueError:
        started = None
    if started is not None:
        lines += _family("started_seconds", "When the run started, seconds since the epoch.",
                         [({}, started)], unit="seconds")  # fmt: skip
    return "\n".join([*lines, "# EOF"]) + "\n"


def write_file(report: RunReport, path: str) -> None:
    """For node-exporter's textfile collector: written beside the target, then renamed over it,
    so a scrape never sees a partial file."""
    target = Path(path)
    text = render(report)
    temporary = None
    try:
        handle, temporary = tempfile.mkstemp(prefix=".inspector-", suffix=".tmp",
                                             dir=target.parent)  # fmt: skip
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
        temporary = None
    except OSError as exc:
        raise InspectorError(f"cannot write the metrics to {path}: {exc}") from exc
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
