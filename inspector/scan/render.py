"""A scan run as a report: a table for a terminal, versioned JSON for machines, Markdown for a
chat message or an issue. Rendered from the store, so a run scanned by several shards is
reported once all of them are in (`inspector runs show ID`), exactly as a single process would.

docs/scan.md documents the JSON fields; a test fails when the two drift apart.
"""

from __future__ import annotations

import heapq
import json
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from tabulate import tabulate

from checks.model import SEVERITIES, severity_rank, shorten
from inspector import __version__
from inspector.safetext import json_text, visible
from inspector.scan.store import ImageRow, RunRow, ShardRow, Store

SCHEMA_VERSION = 1
FORMATS = ("table", "json", "markdown", "html", "openmetrics")
SHOWN_NEW = 50  # new findings listed in the table and Markdown; JSON has them all


@dataclass
class Tally:
    """What one pass over a run's images gathers for the headline, the per-repository table
    and the gate: a bounded amount, whatever the run's size."""

    summary: dict[str, Any]
    repositories: dict[str, list[Any]]  # name -> [images, worst, vulns, new, fixed, errors]
    new_shown: list[list[str]]  # the worst SHOWN_NEW new findings: image, severity, check,
    # what, where, fix
    new_total: int
    errors: list[str]  # image and check errors, the first ERRORS_SHOWN
    errors_total: int
    moved: list[list[str]]  # tags that moved: [image:tag, from, to, new, fixed], the first shown
    moved_total: int
    oldest: list[list[str]]  # the worst open findings, longest open first: image, severity,
    # check, what, open since


ERRORS_SHOWN = 200
MOVED_SHOWN = 200
OPEN_SHOWN = 20


class RunReport:
    """A run as the store holds it. Images are read from the store as they are rendered, never
    all at once: a run of 100,000 images is reported in the memory of a few hundred."""

    def __init__(self, store: Store, run: RunRow, shards: tuple[ShardRow, ...]) -> None:
        self.store, self.run, self.shards = store, run, shards
        self._tally: Tally | None = None

    def images(self) -> Iterator[ImageRow]:
        return self.store.images(self.run.id)

    @property
    def complete(self) -> bool:
        return len([s for s in self.shards if s.status != "running"]) == self.run.shards

    @property
    def discovery_errors(self) -> list[dict[str, str]]:
        # Every shard discovers the whole registry: a repository that failed, failed for each.
        found = {(e["repository"], e["error"]): e for s in self.shards for e in s.errors}
        return list(found.values())

    @staticmethod
    def new(image: ImageRow) -> list[dict[str, Any]]:
        wanted = set(image.report.get("new") or [])
        return [f for f in image.report.get("findings") or [] if f["fingerprint"] in wanted]

    def tally(self) -> Tally:
        if self._tally is None:
            self._tally = self._count()
        return self._tally

    def _count(self) -> Tally:
        by_status: dict[str, int] = defaultdict(int)
        layers: set[str] = set()
        repositories: dict[str, list[Any]] = {}
        shown: list[tuple[int, int, list[str]]] = []  # heap of (rank, order, row): the worst kept
        errors: list[str] = [f"{e['repository']}: {e['error']}" for e in self.discovery_errors]
        totals = {"layers_read": 0, "findings": 0, "new": 0, "fixed": 0, "errors": len(errors),
                  "vulnerabilities": 0, "rematched": 0}  # fmt: skip
        order = 0
        moved: list[list[str]] = []
        moved_total = 0
        # heap of ((rank, -age order), order, row): the worst and longest open kept
        oldest: list[tuple[tuple[int, str], int, list[str]]] = []
        open_by = {s: 0 for s in SEVERITIES}
        for image in self.images():
            by_status[image.status] += 1
            layers.update(image.report.get("layers") or [])
            findings = image.report.get("findings") or []
            new = self.new(image)
            fixed = image.report.get("fixed") or []
            totals["layers_read"] += image.layers_read
            totals["findings"] += len(findings)
            totals["new"] += len(new)
            totals["fixed"] += len(fixed)
            vulnerabilities = image.report.get("vulnerabilities") or {}
            vulns = sum((vulnerabilities.get("counts") or {}).values())
            totals["vulnerabilities"] += vulns
            totals["rematched"] += 1 if vulnerabilities.get("rematched") else 0
            row = repositories.setdefault(_bare(image.repository), [0, "-", 0, 0, 0, 0])
            row[0] += 1
            worst = max((f["severity"] for f in findings), key=severity_rank, default="-")
            if worst != "-" and (row[1] == "-" or severity_rank(worst) > severity_rank(row[1])):
                row[1] = worst
            row[2] += vulns
            row[3] += len(new)
            row[4] += len(fixed)
            failed = [image.error] if image.status == "error" else []
            failed += [f"check failed: {e}" for e in image.report.get("check_errors") or []]
            row[5] += 1 if failed else 0
            for why in failed:
                totals["errors"] += 1
                if len(errors) < ERRORS_SHOWN:
                    errors.append(f"{_name(image)}: {why}")
            for change in image.report.get("tag_changes") or []:
                if change.get("change") != "moved":
                    continue
                moved_total += 1
                if len(moved) < MOVED_SHOWN:
                    moved.append([
                        f"{_bare(image.repository)}:{change['tag']}",
                        _short_digest(change.get("from")), _short_digest(image.digest),
                        str(len(new)), str(len(fixed))])  # fmt: skip
            for f in findings:
                open_by[f["severity"]] = open_by.get(f["severity"], 0) + 1
                order += 1
                since = str(f.get("first_seen") or "")
                # Older first: the key sorts worst severity, then earliest first_seen, highest.
                key = (severity_rank(f["severity"]), _invert(since))
                entry = (key, -order, [
                    _name(image), f["severity"], f["check"], _short(f["message"], 70),
                    since[:10] or "-"])  # fmt: skip
                if len(oldest) < OPEN_SHOWN:
                    heapq.heappush(oldest, entry)
                else:
                    heapq.heappushpop(oldest, entry)
            for f in new:
                order += 1
                item = (severity_rank(f["severity"]), -order, [
                    _name(image), f["severity"], f["check"], _short(f["message"], 70),
                    _short(f["where"], 50), _short(f.get("fix") or "", 60)])  # fmt: skip
                if len(shown) < SHOWN_NEW:
                    heapq.heappush(shown, item)
                else:
                    heapq.heappushpop(shown, item)
        summary = {
            "repositories": len(repositories),
            "images": sum(by_status.values()),
            "audited": by_status["audited"],
            "unchanged": by_status["unchanged"],
            "rematched": totals["rematched"],
            "errors": by_status["error"],
            "left_over": sum(s.left_over for s in self.shards),
            "discovery_errors": len(self.discovery_errors),
            "unique_layers": len(layers),
            "layers_read": totals["layers_read"],
            "findings": totals["findings"],
            "vulnerabilities": totals["vulnerabilities"],
            "new": totals["new"],
            "fixed": totals["fixed"],
            "moved": moved_total,
            "open": open_by,
        }
        rows = [item[2] for item in sorted(shown, key=lambda x: (-x[0], -x[1]))]
        longest = [e[2] for e in sorted(oldest, key=lambda x: (x[0], x[1]), reverse=True)]
        return Tally(summary, dict(sorted(repositories.items())), rows, totals["new"], errors,
                     totals["errors"], moved, moved_total, longest)  # fmt: skip

    def summary(self) -> dict[str, Any]:
        return self.tally().summary


def load(store: Store, run_id: str) -> RunReport | None:
    run = store.run(run_id)
    if run is None:
        return None
    return RunReport(store, run, tuple(store.shards(run_id)))


def exit_code(report: RunReport, fail_on: str, existing: bool = False) -> int:
    """2: discovery failed somewhere, an image (or a check) could not be read; 1: a new finding
    (any finding with `existing`) at or above `fail_on`; else 0."""
    if report.discovery_errors or report.tally().errors_total:
        return 2
    threshold = severity_rank(fail_on)
    for image in report.images():
        found = (image.report.get("findings") or []) if existing else report.new(image)
        if any(severity_rank(f["severity"]) >= threshold for f in found):
            return 1
    return 0


def failing(report: RunReport, fail_on: str, existing: bool, limit: int = 20) -> list[str]:
    """The findings that make the gate fail, worst first, as lines for stderr: what a person
    reads to see why a nightly job went red (the first `limit`, then how many more)."""
    threshold = severity_rank(fail_on)
    found: list[tuple[int, str]] = []
    total = 0
    for image in report.images():
        pool = (image.report.get("findings") or []) if existing else report.new(image)
        for f in pool:
            if severity_rank(f["severity"]) >= threshold:
                total += 1
                line = (f"{_name(image)}: {f['severity']} {f['check']} "
                        f"{_short(f['message'], 90)} ({_short(f['where'], 50)})")  # fmt: skip
                found.append((-severity_rank(f["severity"]), line))
                found = sorted(found)[:limit]
    lines = [line for _, line in found]
    if total > len(lines):
        lines.append(f"… and {total - len(lines)} more (--format json lists them all)")
    return lines


def write(fmt: str, report: RunReport, out: Callable[[str], Any]) -> None:
    """The report in `fmt`, handed to `out` a piece at a time."""
    if fmt == "json":
        _write_json(report, out)
    elif fmt == "html":
        from inspector.scan.html import render as page

        out(page(report))
    elif fmt == "openmetrics":
        from inspector.scan.metrics import render as metrics

        out(metrics(report))
    elif fmt == "markdown":
        out(visible(_markdown(report)) + "\n")
    else:
        out(visible(_table(report)) + "\n")


def render(fmt: str, report: RunReport) -> str:
    """The whole report as one string (tests, small runs); `write` streams it."""
    parts: list[str] = []
    write(fmt, report, parts.append)
    return "".join(parts)


def _dumps(value: Any, indent: int) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return json_text(text.replace("\n", "\n" + " " * indent))


def _write_json(report: RunReport, out: Callable[[str], Any]) -> None:
    head = document(report)
    marker = "__IMAGES__"
    before, after = _dumps({**head, "images": marker}, 0).split(json.dumps(marker), 1)
    out(before + "[")
    first = True
    for image in report.images():
        out(("\n    " if first else ",\n    ") + _dumps(_image(report, image), 4))
        first = False
    out(("\n  ]" if not first else "]") + after + "\n")


def document(report: RunReport) -> dict[str, Any]:
    """Everything but the images (written one at a time by `write`)."""
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
        "not_judged": not_judged(),
        "database": database(report.run),
        "discovery_errors": report.discovery_errors,
    }


def database(run: RunRow) -> dict[str, Any]:
    """The advisory database the run matched against, as the report shows it."""
    recorded = run.advisories or {}
    status = recorded.get("status") or "unknown"  # a run recorded before databases were kept
    return {
        "status": status,
        "location": recorded.get("location"),
        "updated": recorded.get("updated"),
        "notice": recorded.get("notice"),
        "ecosystems": [
            {key: e.get(key) for key in ("name", "advisories", "imported", "newest")}
            for e in recorded.get("ecosystems") or []
        ],
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
        "vulnerabilities": image.report.get("vulnerabilities"),
        "layers_read": image.layers_read,
        "tag_changes": image.report.get("tag_changes") or [],
        "findings": image.report.get("findings") or [],
        "new": report.new(image),
        "fixed": image.report.get("fixed") or [],
        "suppressed": image.report.get("suppressed", 0),
        "check_errors": image.report.get("check_errors") or [],
        "notices": image.report.get("notices") or [],
    }


def _headline(report: RunReport) -> str:
    s = report.summary()
    run = report.run
    state = run.status if report.complete else (
        f"incomplete: {len([x for x in report.shards if x.status != 'running'])} of "
        f"{run.shards} shards finished"
    )  # fmt: skip
    again = f" ({s['rematched']} matched again)" if s["rematched"] else ""
    text = (
        f"run {run.id} of {run.scope} ({state}): {s['images']} images in {s['repositories']} "
        f"repositories, {s['audited']} audited, {s['unchanged']} unchanged{again}, "
        f"{s['errors']} errors; {s['layers_read']} layers read of {s['unique_layers']} unique; "
        f"{s['new']} new findings, {s['fixed']} fixed"
    )
    if s["moved"]:
        text += f"; {s['moved']} tags moved"
    if s["left_over"]:
        text += f"; {s['left_over']} images left for the next run (--max-time)"
    db = database(run)
    if db["updated"]:
        text += f"; {s['vulnerabilities']} vulnerabilities, advisories of {db['updated'][:10]}"
    return text


def not_judged() -> list[str]:
    """The checks a scan cannot judge: they need the image running in a probe container, and a
    scan reads registries without an engine. Said in every report, so a clean scan is never
    read as a clean start-up."""
    from checks import catalog

    return sorted(c.id for c in catalog().values() if _needs_runtime(c))


def _needs_runtime(check: Any) -> bool:
    return any(section.startswith("runtime.") for section in check.needs)


def _not_judged_line() -> str:
    ids = not_judged()
    return (
        f"not judged: {len(ids)} checks need the image running in a probe container, which a "
        f"scan does not do ({', '.join(ids)}); `inspector audit` on an engine judges them"
    )


def _notice(report: RunReport) -> str | None:
    """The run's one word about its advisory database: missing, stale or unreadable."""
    notice = database(report.run)["notice"]
    return f"notice: {notice}" if notice else None


def _name(image: ImageRow) -> str:
    tags = ",".join(image.tags) or image.digest[:19]
    platform = f" [{image.platform}]" if image.platform else ""
    return f"{_bare(image.repository)}:{tags}{platform}"


def _invert(text: str) -> str:
    """A string that sorts in the reverse order of `text` (ISO times: older sorts higher)."""
    return "".join(chr(0x10FFFF - ord(ch)) for ch in text) if text else ""


def _open_line(tally: Tally) -> str:
    counts = tally.summary["open"]
    shown = ", ".join(f"{counts[s]} {s}" for s in reversed(SEVERITIES) if counts.get(s))
    return f"Open now ({tally.summary['findings']}: {shown or 'none'}), worst and oldest first:"


def _short_digest(digest: str | None) -> str:
    """`sha256:` and the first 12 hex digits: enough to tell two digests apart at a glance."""
    return (digest or "-")[:19]


def _bare(repository: str) -> str:
    """REPO of HOST/REPO: the run's scope names the registry."""
    return repository.partition("/")[2] or repository


def _short(text: str, width: int) -> str:
    """At most `width` characters, cut between words where one ends in the second half."""
    out = shorten(text, width)
    if not out.endswith("…"):
        return out
    body = out[:-1]
    space = body.rfind(" ")
    if space >= width // 2:
        body = body[:space]
    return body.rstrip(" ,;:(") + "…"


def _table(report: RunReport) -> str:
    tally = report.tally()
    notice = _notice(report)
    parts = [_headline(report), *([notice] if notice else []), _not_judged_line(), ""]
    repos = [[name, *row] for name, row in tally.repositories.items()]
    if repos:
        parts.append(tabulate(repos, headers=["repository", "images", "worst", "vulns", "new",
                                              "fixed", "errors"]))  # fmt: skip
    if tally.moved_total:
        parts += ["", f"Tags moved ({tally.moved_total}):"]
        parts.append(tabulate(tally.moved, headers=["tag", "from", "to", "new", "fixed"]))
        if tally.moved_total > len(tally.moved):
            parts.append(f"… and {tally.moved_total - len(tally.moved)} more (--format json)")
    if tally.oldest:
        parts += ["", _open_line(tally)]
        parts.append(tabulate(tally.oldest, headers=["image", "severity", "check", "what",
                                                     "open since"]))  # fmt: skip
    if tally.new_total:
        parts += ["", f"New findings ({tally.new_total}):"]
        parts.append(tabulate(tally.new_shown, headers=["image", "severity", "check", "what",
                                                        "where", "fix"]))  # fmt: skip
        if tally.new_total > len(tally.new_shown):
            more = tally.new_total - len(tally.new_shown)
            parts.append(f"… and {more} more, less severe (--format json lists them all)")
    if tally.errors_total:
        parts += ["", f"Errors ({tally.errors_total}):", *[f"  {e}" for e in tally.errors]]
        if tally.errors_total > len(tally.errors):
            parts.append(f"  … and {tally.errors_total - len(tally.errors)} more")
    return "\n".join(parts)


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _markdown(report: RunReport) -> str:
    tally = report.tally()
    lines = [f"**inspector scan** · {_cell(_headline(report))}", ""]
    notice = _notice(report)
    if notice:
        lines += [f"> **{_cell(notice)}**", ""]
    lines += [f"_{_cell(_not_judged_line())}_", ""]
    if tally.repositories:
        lines += ["| repository | images | worst | vulns | new | fixed | errors |",
                  "|---" * 7 + "|"]  # fmt: skip
        lines += ["| " + " | ".join(_cell(str(c)) for c in [name, *row]) + " |"
                  for name, row in tally.repositories.items()]  # fmt: skip
    if tally.moved_total:
        lines += ["", f"**Tags moved ({tally.moved_total})**", ""]
        lines += [f"- `{_cell(r[0])}`: `{r[1]}` → `{r[2]}` ({r[3]} new, {r[4]} fixed)"
                  for r in tally.moved]  # fmt: skip
        if tally.moved_total > len(tally.moved):
            lines.append(f"- … and {tally.moved_total - len(tally.moved)} more")
    if tally.oldest:
        lines += ["", f"**{_cell(_open_line(tally))}**", ""]
        lines += [f"- **{r[1]}** `{r[2]}` {_cell(r[0])}: {_cell(r[3])} (open since {r[4]})"
                  for r in tally.oldest]  # fmt: skip
    if tally.new_total:
        lines += ["", f"**New findings ({tally.new_total})**", ""]
        lines += [f"- **{r[1]}** `{r[2]}` {_cell(r[0])}: {_cell(r[3])} ({_cell(r[4])})"
                  + (f"; fix: {_cell(r[5])}" if r[5] else "")
                  for r in tally.new_shown]  # fmt: skip
        if tally.new_total > len(tally.new_shown):
            lines.append(f"- … and {tally.new_total - len(tally.new_shown)} more")
    if tally.errors_total:
        lines += ["", f"**Errors ({tally.errors_total})**", "",
                  *[f"- {_cell(e)}" for e in tally.errors]]  # fmt: skip
    return "\n".join(lines)


def runs_table(runs: Sequence[RunRow]) -> str:
    # The number is what `runs show N` takes (1 is the newest).
    rows = [[n, r.id, r.started, r.finished or "-", r.status, f"{r.shards_done}/{r.shards}",
             r.images, r.errors, r.scope] for n, r in enumerate(runs, 1)]  # fmt: skip
    if not rows:
        return "no runs recorded"
    return visible(tabulate(rows, headers=["#", "run", "started", "finished", "status",
                                           "shards", "images", "errors", "scope"]))  # fmt: skip
