"""The phrases the table and the Markdown share, so both say the same thing the same way."""

from __future__ import annotations

from collections.abc import Callable

from inspector.diff.model import FindingsDiff, ImageDiff, Side, ValueChange, VersionChange
from inspector.report.facts_text import size

HIDDEN = "secret-looking: value not shown"


def signed(n: int) -> str:
    """+1.2 MiB, -300 B, ±0 B."""
    if n == 0:
        return "±0 B"
    return ("+" if n > 0 else "-") + size(abs(n))


def short_id(value: str | None) -> str:
    return value.removeprefix("sha256:")[:12] if value else "-"


def user(value: str | None) -> str:
    return value if value else "(unset: root)"


def _plain(text: str) -> str:
    return text


def value_change(change: ValueChange, quote: Callable[[str], str] = _plain) -> str:
    """`USER: 0 → 10001`, `PORT: added: 8000`, `API_TOKEN: changed (secret-looking...)`;
    `quote` marks each value (Markdown's code spans)."""
    if change.hidden:
        return f"{change.name}: {change.change} ({HIDDEN})"
    if change.name == "USER":  # unset is not "removed": it is root
        return f"USER: {quote(user(change.old))} → {quote(user(change.new))}"
    if change.change == "added":
        return f"{change.name}: added: {quote(change.new or '')}"
    if change.change == "removed":
        return f"{change.name}: removed (was {quote(change.old or '')})"
    return f"{change.name}: {quote(change.old or '')} → {quote(change.new or '')}"


def version_change(change: VersionChange) -> str:
    """`six 1.16.0 → 1.17.0 (upgraded)`, `attrs 24.2.0 (added)`; the interpreter as `Python`."""
    if change.name == "python":
        return f"Python {change.old or '?'} → {change.new or '?'} ({change.change})"
    if change.change == "added":
        return f"{change.name} {change.new} (added)"
    if change.change == "removed":
        return f"{change.name} {change.old} (removed)"
    return f"{change.name} {change.old} → {change.new} ({change.change})"


def findings_line(findings: FindingsDiff) -> str:
    parts = [f"{len(findings.new)} new", f"{len(findings.fixed)} fixed",
             f"{len(findings.still)} still present"]  # fmt: skip
    if findings.not_rechecked:
        parts.append(f"{len(findings.not_rechecked)} not checked on NEW")
    return ", ".join(parts)


def size_line(diff: ImageDiff) -> str:
    s = diff.size
    line = (f"{size(diff.old.bytes)} → {size(diff.new.bytes)} ({signed(s.delta_bytes)}); "
            f"{s.shared_layers} layer{'' if s.shared_layers == 1 else 's'} shared "
            f"({size(s.shared_bytes)}), {_count(s.layers, 'added')} new ({size(s.added_bytes)}), "
            f"{_count(s.layers, 'removed')} removed ({size(s.removed_bytes)})")  # fmt: skip
    return line


def waste_line(diff: ImageDiff) -> str:
    return (f"wasted (deleted or replaced by a later layer): {size(diff.old.wasted_bytes)} → "
            f"{size(diff.new.wasted_bytes)} "
            f"({signed(diff.new.wasted_bytes - diff.old.wasted_bytes)})")  # fmt: skip


def _count(layers: tuple, status: str) -> int:
    return sum(1 for layer in layers if layer.status == status)


def base(side: Side) -> str:
    if side.base.name or side.base.digest:
        name = side.base.name or "?"
        return f"{name}@{side.base.digest}" if side.base.digest else name
    return "not declared"


def reads(side: Side) -> str:
    cached = side.layers - side.layers_read
    return f"{side.layers_read} of {side.layers} layers read" + (
        f", {cached} from the cache" if cached else ""
    )
