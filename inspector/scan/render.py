"""A scan run as a report: a table for a terminal, versioned JSON for machines, Markdown for a
chat message or an issue. Rendered from the store, so a run scanned by several shards is
reported once all of them are in (`inspector runs show ID`), exactly as a single process would.

docs/scan.md documents the JSON fields; a test fails when the two drift apart.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tabulate import tabulate

from checks.model import SEVERITIES, severity_rank
from inspector import __version__
from inspector.safetext import json_text, visible
from inspector.scan.store import ImageRow, RunRow, ShardRow, Store

SCHEMA_VERSION = 1
FORMATS = ("table", "json", "markdown")
SHOWN_NEW = 50  # new findings listed in the table and Markdown; JSON has them all


@dataclass(frozen=True)
class RunReport:
    run: RunRow
    shards: tuple[ShardRow, ...]
    images: tuple[ImageRow, ...]

    @property
    def complete(self) -> bool:
        return len([s for s in self.shards if s.status != "running"]) == self.run.shards

    @property
    def discovery_errors(self) -> list[dict[str, str]]:
        # Every shard discovers the whole registry: a repository that failed, failed for each.
        found = {(e["repository"], e["error"]): e for s in self.shards for e in s.errors}
        return list(found.values())

    def new(self, image: ImageRow) -> list[dict[str, Any]]:
        wanted = set(image.report.get("new") or [])
        return [f for f in image.report.get("findings") or [] if f["fingerprint"] in wanted]

    def summary(self) -> dict[str, Any]:
        by_status: dict[str, int] = defaultdict(int)
        for image in self.images:
            by_status[image.status] += 1
        layers = {d for image in self.images for d in image.report.get("layers") or []}
        return {
            "repositories": len({image.repository for image in self.images}),
            "images": len(self.images),
            "audited": by_status["audited"],
            "unchanged": by_status["unchanged"],
            "errors": by_status["error"],
            "left_over": sum(s.left_over for s in self.shards),
            "discovery_errors": len(self.discovery_errors),
            "unique_layers": len(layers),
            "layers_read": sum(image.layers_read for image in self.images),
            "findings": sum(len(i.report.get("findings") or []) for i in self.images),
            "new": sum(len(i.report.get("new") or []) for i in self.images),
            "fixed": sum(len(i.report.get("fixed") or []) for i in self.images),
        }


def load(store: Store, run_id: str) -> RunReport | None:
    run = store.run(run_id)
    if run is None:
        return None
    return RunReport(run, tuple(store.shards(run_id)), tuple(store.images(run_id)))


def exit_code(report: RunReport, fail_on: str, existing: bool = False) -> int:
    """2: discovery failed somewhere, an image (or a check) could not be read; 1: a new finding
    (any finding with `existing`) at or above `fail_on`; else 0."""
    if report.discovery_errors or any(
        i.status == "error" or i.report.get("check_errors") for i in report.images
    ):
        return 2
    threshold = severity_rank(fail_on)
    for image in report.images:
        found = (image.report.get("findings") or []) if existing else report.new(image)
        if any(severity_rank(f["severity"]) >= threshold for f in found):
            return 1
    return 0


def render(fmt: str, report: RunReport) -> str:
    if fmt == "json":
        return json_text(json.dumps(document(report), indent=2, ensure_ascii=False)) + "\n"
    if fmt == "markdown":
        return visible(_markdown(report)) + "\n"
    return visible(_table(report)) + "\n"


def document(report: RunReport) -> dict[str, Any]:
    run = report.run
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "inspector-scan",
        "tool": {"name": "inspector", "version": __version__},
        "run": {
            "id": run.id,
            "scope": run.scope,
            "started": run.started,
            "finished": run.finished,
            "status": run.status,
            "shards": run.shards,
            "shards_done": len([s for s in report.shards if s.status != "running"]),
        },
        "summary": report.summary(),
        "discovery_errors": report.discovery_errors,
        "images": [_image(report, image) for image in report.images],
    }


def _image(report: RunReport, image: ImageRow) -> dict[str, Any]:
    registry, _, repository = image.repository.partition("/")
    return {
        "registry": registry,
        "repository": repository,
        "tags": list(image.tags),
        "digest": image.digest,
        "platform": image.platform or None,
        "image_id": image.report.get("image_id"),
        "created": image.report.get("created"),
        "status": image.status,
        "error": image.error,
        "counts": image.report.get("counts") or {s: 0 for s in SEVERITIES},
        "layers_read": image.layers_read,
        "findings": image.report.get("findings") or [],
        "new": report.new(image),
        "fixed": image.report.get("fixed") or [],
        "suppressed": image.report.get("suppressed", 0),
        "check_errors": image.report.get("check_errors") or [],
        "notices": image.report.get("notices") or [],
    }


def _worst(images: Sequence[ImageRow]) -> str:
    found = [f["severity"] for i in images for f in i.report.get("findings") or []]
    return max(found, key=severity_rank) if found else "-"


def _repositories(report: RunReport) -> list[list[Any]]:
    groups: dict[str, list[ImageRow]] = defaultdict(list)
    for image in report.images:
        groups[_bare(image.repository)].append(image)
    return [
        [name, len(images), _worst(images),
         sum(len(i.report.get("new") or []) for i in images),
         sum(len(i.report.get("fixed") or []) for i in images),
         sum(1 for i in images if i.status == "error")]
        for name, images in sorted(groups.items())
    ]  # fmt: skip


def _headline(report: RunReport) -> str:
    s = report.summary()
    run = report.run
    state = run.status if report.complete else (
        f"incomplete: {len([x for x in report.shards if x.status != 'running'])} of "
        f"{run.shards} shards finished"
    )  # fmt: skip
    text = (
        f"run {run.id} of {run.scope} ({state}): {s['images']} images in {s['repositories']} "
        f"repositories, {s['audited']} audited, {s['unchanged']} unchanged, {s['errors']} "
        f"errors; {s['layers_read']} layers read of {s['unique_layers']} unique; "
        f"{s['new']} new findings, {s['fixed']} fixed"
    )
    if s["left_over"]:
        text += f"; {s['left_over']} images left for the next run (--max-time)"
    return text


def _new_rows(report: RunReport) -> list[list[str]]:
    rows = []
    for image in report.images:
        name = _name(image)
        for f in report.new(image):
            rows.append([name, f["severity"], f["check"], _short(f["message"], 70),
                         _short(f["where"], 50)])  # fmt: skip
    rows.sort(key=lambda r: (-severity_rank(r[1]), r[0], r[2]))
    return rows


def _name(image: ImageRow) -> str:
    tags = ",".join(image.tags) or image.digest[:19]
    platform = f" [{image.platform}]" if image.platform else ""
    return f"{_bare(image.repository)}:{tags}{platform}"


def _bare(repository: str) -> str:
    """REPO of HOST/REPO: the run's scope names the registry."""
    return repository.partition("/")[2] or repository


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _errors(report: RunReport) -> list[str]:
    out = [f"{e['repository']}: {e['error']}" for e in report.discovery_errors]
    out += [f"{_name(i)}: {i.error}" for i in report.images if i.status == "error"]
    out += [f"{_name(i)}: check failed: {e}" for i in report.images
            for e in i.report.get("check_errors") or []]  # fmt: skip
    return out


def _table(report: RunReport) -> str:
    parts = [_headline(report), ""]
    repos = _repositories(report)
    if repos:
        parts.append(tabulate(repos, headers=["repository", "images", "worst", "new", "fixed",
                                              "errors"]))  # fmt: skip
    new = _new_rows(report)
    if new:
        parts += ["", f"New findings ({len(new)}):"]
        parts.append(tabulate(new[:SHOWN_NEW], headers=["image", "severity", "check", "what",
                                                        "where"]))  # fmt: skip
        if len(new) > SHOWN_NEW:
            parts.append(f"… and {len(new) - SHOWN_NEW} more (--format json lists them all)")
    errors = _errors(report)
    if errors:
        parts += ["", f"Errors ({len(errors)}):", *[f"  {e}" for e in errors]]
    return "\n".join(parts)


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _markdown(report: RunReport) -> str:
    lines = [f"**inspector scan** · {_cell(_headline(report))}", ""]
    repos = _repositories(report)
    if repos:
        lines += ["| repository | images | worst | new | fixed | errors |", "|---" * 6 + "|"]
        lines += ["| " + " | ".join(_cell(str(c)) for c in row) + " |" for row in repos]
    new = _new_rows(report)
    if new:
        lines += ["", f"**New findings ({len(new)})**", ""]
        lines += [f"- **{r[1]}** `{r[2]}` {_cell(r[0])}: {_cell(r[3])} ({_cell(r[4])})"
                  for r in new[:SHOWN_NEW]]  # fmt: skip
        if len(new) > SHOWN_NEW:
            lines.append(f"- … and {len(new) - SHOWN_NEW} more")
    errors = _errors(report)
    if errors:
        lines += ["", f"**Errors ({len(errors)})**", "", *[f"- {_cell(e)}" for e in errors]]
    return "\n".join(lines)


def runs_table(runs: Sequence[RunRow]) -> str:
    rows = [[r.id, r.started, r.finished or "-", r.status, f"{r.shards_done}/{r.shards}",
             r.images, r.errors, r.scope] for r in runs]  # fmt: skip
    if not rows:
        return "no runs recorded"
    return visible(tabulate(rows, headers=["run", "started", "finished", "status", "shards",
                                           "images", "errors", "scope"]))  # fmt: skip
