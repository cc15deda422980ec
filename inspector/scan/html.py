"""A scan run as one self-contained HTML page: the morning report a platform team sends around.

No script, no stylesheet or font to fetch, no image but inline SVG: the page opens from a file
or a mail attachment and asks nothing of the network (its Content-Security-Policy forbids it).
The trend of the last runs of the same scope is drawn as inline SVG charts; every finding links
to its check's own section at the end of the page, with the check's documentation.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

from checks.model import SEVERITIES, severity_rank
from inspector.safetext import visible
from inspector.scan.render import (
    RunReport,
    _headline,
    _not_judged_line,
    _notice,
    _short,
    load,
)

TREND_RUNS = 14  # nightly runs: two weeks
FIXED_SHOWN = 50
COLOURS = {
    "critical": "#6a1b9a",
    "high": "#c62828",
    "medium": "#ef6c00",
    "low": "#f9a825",
    "info": "#90a4ae",
}
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%;margin:.5em 0}
th,td{text-align:left;padding:.25em .5em;border-bottom:1px solid #eee;vertical-align:top}
th{background:#f5f5f5}.sev{font-weight:600}.muted{color:#666}
.critical{color:#6a1b9a}.high{color:#c62828}.medium{color:#ef6c00}.low{color:#9e7700}
.info{color:#607d8b}section.check{margin:1em 0;padding:.5em 1em;background:#fafafa}
pre{white-space:pre-wrap;font:13px/1.4 ui-monospace,monospace}
.charts{display:flex;flex-wrap:wrap;gap:2em}
"""


def _e(text: object) -> str:
    return html.escape(visible(str(text)), quote=True)


def _severity(value: str) -> str:
    return f'<span class="sev {_e(value)}">{_e(value)}</span>' if value in COLOURS else _e(value)


def _check_link(check_id: str) -> str:
    return f'<a href="#check-{_e(check_id)}">{_e(check_id)}</a>'


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Rows of cells already escaped (they may hold links)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def trend(report: RunReport, runs: int = TREND_RUNS) -> list[dict[str, Any]]:
    """The last `runs` finished runs of the same scope, oldest first, up to this one: open
    findings by severity, images and errors of each."""
    store, this = report.store, report.run
    earlier = [
        r for r in store.runs(None)
        if r.scope == this.scope and r.started <= this.started and r.status != "running"
    ]  # fmt: skip
    chosen = sorted(earlier, key=lambda r: r.started)[-runs:]
    if this.id not in {r.id for r in chosen}:
        chosen = [*(chosen[1:] if len(chosen) >= runs else chosen), this]
    points = []
    for run in chosen:
        other = report if run.id == this.id else load(store, run.id)
        if other is None:
            continue
        summary = other.tally().summary
        points.append({
            "run": run.id,
            "started": run.started,
            "open": summary.get("open") or {s: 0 for s in SEVERITIES},
            "images": summary["images"],
            "errors": other.tally().errors_total,
        })  # fmt: skip
    return points


def _bars(points: Sequence[dict[str, Any]], title: str,
          series: Sequence[tuple[str, str, Callable[[dict[str, Any]], int]]]) -> str:  # fmt: skip
    """Stacked bars, one per run; `series` is (name, colour, value of a point)."""
    width, height, left, bottom, top = 440, 170, 40, 22, 24
    plot_w, plot_h = width - left - 10, height - bottom - top
    totals = [sum(value(p) for _, _, value in series) for p in points]
    peak = max([*totals, 1])
    slot = plot_w / max(len(points), 1)
    bar = max(4.0, slot * 0.7)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{_e(title)}" class="chart">',
        f'<text x="{left}" y="15" font-size="13" font-weight="600">{_e(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" '
        'stroke="#999"/>',
        f'<text x="{left - 6}" y="{top + 10}" font-size="11" text-anchor="end">{peak}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" font-size="11" text-anchor="end">0</text>',
    ]
    for i, point in enumerate(points):
        x = left + i * slot + (slot - bar) / 2
        y = top + plot_h
        for name, colour, value in series:
            amount = value(point)
            if amount <= 0:
                continue
            h = plot_h * amount / peak
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{_e(point["started"][:10])}: {amount} {_e(name)}'
                "</title></rect>"
            )
        if len(points) <= 16 or i % 2 == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - 6}" font-size="10" '
                f'text-anchor="middle">{_e(point["started"][5:10])}</text>'
            )
    parts.append("</svg>")
    legend = " ".join(
        f'<span style="color:{colour}">&#9632;</span> {_e(name)}' for name, colour, _ in series
    )
    return f'<figure>{"".join(parts)}<figcaption class="muted">{legend}</figcaption></figure>'


def render(report: RunReport) -> str:
    tally = report.tally()
    run = report.run
    points = trend(report)
    by_severity = [
        (s, COLOURS[s], (lambda p, s=s: int(p["open"].get(s, 0)))) for s in reversed(SEVERITIES)
    ]
    charts = _bars(points, "Open findings by severity, last runs", by_severity) + _bars(
        points,
        "Images and errors, last runs",
        [("images", "#546e7a", lambda p: int(p["images"])),
         ("errors", "#c62828", lambda p: int(p["errors"]))],
    )  # fmt: skip
    cited: set[str] = set()

    def cite(check_id: str) -> str:
        cited.add(check_id)
        return _check_link(check_id)

    repos = sorted(
        tally.repositories.items(),
        key=lambda item: (-severity_rank(item[1][1]) if item[1][1] != "-" else 1, -item[1][3],
                          item[0]),
    )  # fmt: skip
    fixed_rows: list[list[str]] = []
    fixed_total = 0
    for image in report.images():
        for f in image.report.get("fixed") or []:
            fixed_total += 1
            if len(fixed_rows) < FIXED_SHOWN:
                name = image.repository.partition("/")[2] or image.repository
                fixed_rows.append([_e(f"{name}:{','.join(image.tags)}"), _severity(f["severity"]),
                                   cite(f["check"]), _e(_short(f["message"], 90))])  # fmt: skip
    notice = _notice(report)
    body = [
        f"<h1>inspector scan of {_e(run.scope)}</h1>",
        f"<p>{_e(_headline(report))}</p>",
        *([f"<p><strong>{_e(notice)}</strong></p>"] if notice else []),
        f'<p class="muted">{_e(_not_judged_line())}</p>',
        "<h2>Trend</h2>",
        f'<div class="charts">{charts}</div>',
        "<h2>Repositories, worst first</h2>",
        _table(
            ["repository", "images", "worst", "vulnerabilities", "new", "fixed", "errors"],
            [
                [
                    _e(name),
                    _e(row[0]),
                    _severity(row[1]),
                    _e(row[2]),
                    _e(row[3]),
                    _e(row[4]),
                    _e(row[5]),
                ]
                for name, row in repos
            ],
        ),
    ]
    if tally.moved_total:
        body += [f"<h2>Tags moved ({tally.moved_total})</h2>",
                 _table(["tag", "from", "to", "new", "fixed"],
                        [[_e(c) for c in row] for row in tally.moved])]  # fmt: skip
    body += [f"<h2>New findings ({tally.new_total})</h2>"]
    body.append(
        _table(
            ["image", "severity", "check", "what", "where", "fix"],
            [
                [_e(r[0]), _severity(r[1]), cite(r[2]), _e(r[3]), _e(r[4]), _e(r[5])]
                for r in tally.new_shown
            ],
        )
        if tally.new_shown
        else "<p>Nothing new since the previous run.</p>"
    )
    if tally.new_total > len(tally.new_shown):
        body.append(f"<p class=\"muted\">… and {tally.new_total - len(tally.new_shown)} more, "
                    "less severe (the JSON report lists them all).</p>")  # fmt: skip
    body += [f"<h2>Fixed findings ({fixed_total})</h2>"]
    body.append(
        _table(["image", "severity", "check", "what"], fixed_rows)
        if fixed_rows
        else "<p>Nothing fixed since the previous run.</p>"
    )
    if tally.oldest:
        body += ["<h2>Open now, worst and oldest first</h2>",
                 _table(["image", "severity", "check", "what", "open since"],
                        [[_e(r[0]), _severity(r[1]), cite(r[2]), _e(r[3]), _e(r[4])]
                         for r in tally.oldest])]  # fmt: skip
    if tally.errors_total:
        body += [f"<h2>Errors ({tally.errors_total})</h2>", "<ul>",
                 *[f"<li>{_e(e)}</li>" for e in tally.errors], "</ul>"]  # fmt: skip
    body += ["<h2>Checks</h2>", *_check_sections(sorted(cited))]
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>inspector scan · {_e(run.id)}</title><style>{_STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


def _check_sections(ids: Sequence[str]) -> list[str]:
    from checks import catalog

    known = catalog()
    out = []
    for check_id in ids:
        check = known.get(check_id)
        if check is None:
            continue
        out.append(
            f'<section class="check" id="check-{_e(check_id)}"><h3>{_e(check_id)} '
            f"{_e(check.title)}</h3><p>{_severity(check.severity)} · {_e(check.category)}</p>"
            f"<pre>{_e(check.doc.strip())}</pre><p><strong>Fix:</strong> {_e(check.fix)}</p>"
            "</section>"
        )
    return out
