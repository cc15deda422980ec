"""`inspector diff --format markdown`: the diff written to be pasted into a release note or a
merge request: the verdict first, then what a reviewer asks in order (identity, findings,
config, packages, size, runtime), long lists folded into <details>."""

from __future__ import annotations

from collections.abc import Sequence

from inspector.diff import words
from inspector.diff.model import FindingEntry, ImageDiff, SetChange
from inspector.report.facts_text import size
from inspector.report.markdown import _cell as cell
from inspector.safetext import visible


def render(diff: ImageDiff) -> str:
    sections = [_title(diff), _identity(diff), _findings(diff), _config(diff), _packages(diff),
                _size(diff), _runtime(diff)]  # fmt: skip
    return visible("\n\n".join(s for s in sections if s)) + "\n"


def _code(text: str | None) -> str:
    return f"`{(text or '').replace('`', chr(39))}`" if text else "-"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cell(c) for c in cells) + " |"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [_row(headers), _row(["---"] * len(headers)), *(_row(r) for r in rows)]


def _title(diff: ImageDiff) -> str:
    lines = [f"### {_code(diff.old.reference)} → {_code(diff.new.reference)}", ""]
    verdict = diff.gate.verdict
    lines.append(f"**{verdict}**" if diff.gate.fail_on else f"_{verdict}_")
    lines.append("")
    lines.append(f"Findings: {words.findings_line(diff.findings)} · size {words.size_line(diff)}")
    return "\n".join(lines)


def _identity(diff: ImageDiff) -> str:
    old, new = diff.old, diff.new
    rows = [
        ("image ID", _code(words.short_id(old.id)), _code(words.short_id(new.id))),
        ("digest", _code(old.digest), _code(new.digest)),
        ("created", old.created or "-", new.created or "-"),
        ("platform", old.platform or "-", new.platform or "-"),
        ("base", words.base(old), words.base(new)),
        ("Python", old.python or "-", new.python or "-"),
        ("USER", words.user(old.user), words.user(new.user)),
        ("size", size(old.bytes), f"{size(new.bytes)} ({words.signed(diff.size.delta_bytes)})"),
    ]
    return "\n".join(["#### Images", "", *_table(("", "OLD", "NEW"), rows)])


def _finding_rows(label: str, entries: Sequence[FindingEntry]) -> list[list[str]]:
    out = []
    for e in entries:
        note = "" if e.compared else " (the check did not run on the other image)"
        what = e.message + note
        out.append([label, f"`{e.check}`", e.severity, what, e.where])
    return out


def _findings(diff: ImageDiff) -> str:
    f = diff.findings
    rows = _finding_rows("new", f.new) + _finding_rows("fixed", f.fixed)
    rows += _finding_rows("not checked on NEW", f.not_rechecked)
    lines = ["#### Findings", ""]
    if rows:
        lines += _table(("", "id", "severity", "what", "where"), rows)
    else:
        lines.append("No finding is new or fixed.")
    if f.still:
        lines += ["", "<details>", f"<summary>{len(f.still)} still present</summary>", ""]
        lines += _table(
            ("id", "severity", "what", "where"),
            [[f"`{e.check}`", e.severity, e.message, e.where] for e in f.still],
        )
        lines += ["", "</details>"]  # fmt: skip
    return "\n".join(lines)


def _set(name: str, change: SetChange) -> list[str]:
    out = [f"- {name} {_code(v)}: added" for v in change.added]
    return out + [f"- {name} {_code(v)}: removed" for v in change.removed]


def _config(diff: ImageDiff) -> str:
    c = diff.config
    items = [f"- {cell(words.value_change(ch, _code))}" for ch in c.changes]
    items += [f"- ENV {cell(words.value_change(ch, _code))}" for ch in c.env]
    items += [f"- label {cell(words.value_change(ch, _code))}" for ch in c.labels]
    items += _set("port", c.exposed_ports) + _set("volume", c.volumes)
    if not items:
        return "#### Config\n\nUnchanged."
    return "\n".join(["#### Config", "", *items])


def _packages(diff: ImageDiff) -> str:
    p = diff.packages
    lines = ["#### Packages", ""]
    if p.interpreter:
        lines.append(f"- {cell(words.version_change(p.interpreter))}")
    rows = [[_code(ch.name), ch.change, ch.old or "-", ch.new or "-", "OS"] for ch in p.os]
    for env in p.python:
        where = f"{env.environment}" + (" (the command's)" if env.command else "")
        rows += [[_code(ch.name), ch.change, ch.old or "-", ch.new or "-", where]
                 for ch in env.changes]  # fmt: skip
    if rows:
        if p.interpreter:
            lines.append("")
        lines += _table(("package", "change", "OLD", "NEW", "where"), rows)
    elif not p.interpreter:
        lines.append("No package changed.")
    v = p.vulnerabilities
    lines.append("")
    if not v.compared:
        lines.append(f"Known vulnerabilities: not compared ({cell(v.note or '')}).")
    else:
        lines.append(
            f"Known vulnerabilities: {len(v.introduced)} introduced, {len(v.fixed)} fixed."
        )
        vrows = [
            ["introduced", x.id, x.severity, f"{x.package} {x.installed}", x.fixed or "-"]
            for x in v.introduced
        ]
        vrows += [["fixed", x.id, x.severity, f"{x.package} {x.installed}", x.fixed or "-"]
                  for x in v.fixed]  # fmt: skip
        if vrows:
            lines += ["", *_table(("", "vulnerability", "severity", "package", "fixed in"), vrows)]
    return "\n".join(lines)


def _size(diff: ImageDiff) -> str:
    s = diff.size
    lines = ["#### Size", "", f"- {words.size_line(diff)}", f"- {words.waste_line(diff)}"]
    if s.biggest_added:
        lines.append("- grew most: " + ", ".join(
            f"{_code(g.path)} {words.signed(g.new_bytes - (g.old_bytes or 0))}"
            for g in s.biggest_added[:5]))  # fmt: skip
    rows = [[str(r.old_index + 1) if r.old_index is not None else "-",
             str(r.new_index + 1) if r.new_index is not None else "-",
             r.status, size(r.size), _code(r.created_by)] for r in s.layers]  # fmt: skip
    lines += ["", "<details>", f"<summary>{len(s.layers)} layers</summary>", ""]
    lines += _table(("OLD #", "NEW #", "", "size", "made by"), rows)
    lines += ["", "</details>"]
    return "\n".join(lines)


def _runtime(diff: ImageDiff) -> str:
    r = diff.runtime
    if not r.compared:
        return f"#### Runtime\n\nNot compared: {cell(r.note or '')}."
    if not r.changes:
        return "#### Runtime\n\nNothing the probes watch moved."
    return "\n".join(
        ["#### Runtime", "", *(f"- {cell(words.value_change(c, _code))}" for c in r.changes)]
    )
