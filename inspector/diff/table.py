"""`inspector diff` on a terminal: the verdict, then one block per section, each line fitted
to the reader's width as the audit table is (image data made visible, long words cut in the
middle)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

from inspector.diff import words
from inspector.diff.model import FindingEntry, ImageDiff
from inspector.report.facts_text import size
from inspector.report.table import terminal_width
from inspector.safetext import visible

_INDENT = "  "
_LIST_MAX = 20  # rows of one list shown; the rest is counted (JSON and Markdown list all)


def render(diff: ImageDiff, width: int | None = None) -> str:
    width = width or terminal_width()
    out: list[str] = []

    def say(line: str, indent: int = 0) -> None:
        prefix = _INDENT * indent
        words_cut = " ".join(_middle(w, width - len(prefix) - len(_INDENT))
                             for w in visible(line.replace("\t", " ")).split(" "))  # fmt: skip
        out.extend(textwrap.wrap(words_cut, width, initial_indent=prefix,
                                 subsequent_indent=prefix + _INDENT, break_long_words=False,
                                 break_on_hyphens=False) or [prefix])  # fmt: skip

    old, new = diff.old, diff.new
    say(f"OLD {old.reference}  ({words.short_id(old.id)})")
    say(f"NEW {new.reference}  ({words.short_id(new.id)})")
    say(diff.gate.verdict)
    out.append("")
    say("identity")
    for name, a, b in (
        ("digest", old.digest or "-", new.digest or "-"),
        ("created", old.created or "-", new.created or "-"),
        ("platform", old.platform or "-", new.platform or "-"),
        ("base", words.base(old), words.base(new)),
        ("Python", old.python or "-", new.python or "-"),
    ):
        say(f"{name}: {a}" if a == b else f"{name}: {a} → {b}", 1)
    say(f"read: OLD {words.reads(old)}; NEW {words.reads(new)}", 1)
    out.append("")
    say(f"findings: {words.findings_line(diff.findings)}")
    for label, entries in (("new", diff.findings.new), ("fixed", diff.findings.fixed),
                           ("not checked on NEW", diff.findings.not_rechecked)):  # fmt: skip
        _finding_lines(say, label, entries)
    out.append("")
    changes = _config_lines(diff)
    say("config: unchanged" if not changes else "config")
    _listed(say, changes)
    out.append("")
    _package_lines(say, diff)
    out.append("")
    say(f"size: {words.size_line(diff)}")
    say(words.waste_line(diff), 1)
    for g in diff.size.biggest_added[:5]:
        say(f"grew: {g.path} {words.signed(g.new_bytes - (g.old_bytes or 0))}", 1)
    for r in diff.size.layers:
        if r.status != "shared":
            where = f"NEW layer {r.new_index + 1}" if r.new_index is not None \
                else f"OLD layer {(r.old_index or 0) + 1}"  # fmt: skip
            say(f"{r.status}: {where}, {size(r.size)}: {r.created_by or '-'}", 1)
    out.append("")
    runtime = diff.runtime
    if not runtime.compared:
        say(f"runtime: not compared: {runtime.note}")
    elif not runtime.changes:
        say("runtime: nothing the probes watch moved")
    else:
        say("runtime")
        _listed(say, [words.value_change(c) for c in runtime.changes])
    return "\n".join(out) + "\n"


def _middle(word: str, width: int) -> str:
    """A word longer than the line keeps its start and end (what a reader recognises)."""
    width = max(width, 12)
    if len(word) <= width:
        return word
    head = (width - 1) // 2
    return f"{word[:head]}…{word[len(word) - (width - 1 - head) :]}"


def _listed(say, items: list[str]) -> None:  # type: ignore[no-untyped-def]
    for item in items[:_LIST_MAX]:
        say(item, 1)
    if len(items) > _LIST_MAX:
        say(f"... and {len(items) - _LIST_MAX} more (--format json or markdown lists all)", 1)


def _finding_lines(say, label: str, entries: Iterable[FindingEntry]) -> None:  # type: ignore[no-untyped-def]
    items = []
    for e in entries:
        note = "" if e.compared else " (the check did not run on the other image)"
        items.append(f"{label} {e.severity} {e.check}: {e.message}{note} [{e.where}]")
    _listed(say, items)


def _config_lines(diff: ImageDiff) -> list[str]:
    c = diff.config
    items = [words.value_change(ch) for ch in c.changes]
    items += [f"ENV {words.value_change(ch)}" for ch in c.env]
    items += [f"label {words.value_change(ch)}" for ch in c.labels]
    items += [f"port {p}: added" for p in c.exposed_ports.added]
    items += [f"port {p}: removed" for p in c.exposed_ports.removed]
    items += [f"volume {v}: added" for v in c.volumes.added]
    items += [f"volume {v}: removed" for v in c.volumes.removed]
    return items


def _package_lines(say, diff: ImageDiff) -> None:  # type: ignore[no-untyped-def]
    p = diff.packages
    count = len(p.os) + sum(len(e.changes) for e in p.python)
    say(f"packages: {count} changed" if count or p.interpreter else "packages: unchanged")
    if p.interpreter:
        say(words.version_change(p.interpreter), 1)
    if p.os:
        say("OS packages", 1)
        _listed(
            lambda line, indent=0: say(line, indent + 1), [words.version_change(ch) for ch in p.os]
        )
    for env in p.python:
        say(f"{env.environment}" + (" (the command's)" if env.command else ""), 1)
        _listed(
            lambda line, indent=0: say(line, indent + 1),
            [words.version_change(ch) for ch in env.changes],
        )
    v = p.vulnerabilities
    if not v.compared:
        say(f"known vulnerabilities: not compared ({v.note})", 1)
        return
    say(f"known vulnerabilities: {len(v.introduced)} introduced, {len(v.fixed)} fixed", 1)
    _listed(
        lambda line, indent=0: say(line, indent + 1),
        [f"introduced {x.severity} {x.id}: {x.package} {x.installed}" for x in v.introduced]
        + [f"fixed {x.severity} {x.id}: {x.package} {x.installed}" for x in v.fixed],
    )
