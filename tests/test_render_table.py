"""The table report: colour only where asked, on the severity cells and titles, never misaligned,
and never on a pipe or in a file; image data cannot smuggle terminal controls in."""

from __future__ import annotations

import errno
import os
import pty
import re
import subprocess
from datetime import date
from pathlib import Path

import pytest

from checks.model import Check, CheckResult, Finding, Location, Suppressed, Suppression
from inspector.report import table as render_table
from inspector.report.formats import render as render_format
from inspector.report.model import ImageReport
from inspector.report.table import render, use_colour
from tests.conftest import REPO, fixture_image

SGR = re.compile(r"\x1b\[[0-9;]*m")
# A styled span as click.style writes it: its codes, the text, one reset.
STYLED = re.compile(r"((?:\x1b\[[0-9;]*m)+)(.*?)\x1b\[0m")
EXPECTED_CODES = {
    "critical": "\x1b[31m\x1b[1m",
    "high": "\x1b[31m",
    "medium": "\x1b[33m",
    "low": "\x1b[36m",
    "info": "\x1b[2m",
}
INSPECTOR = REPO / ".venv" / "bin" / "inspector"


def _check(check_id: str, severity: str) -> Check:
    return Check(check_id, f"name-{check_id.lower()}", "title", severity, "security", ("config",),
                 "fix it", "", run=lambda facts, ctx: iter(()))  # fmt: skip


def _finding(check_id: str, severity: str, message: str, **where: object) -> Finding:
    return Finding(check_id, severity, message, Location(**where), f"fix {check_id}")  # type: ignore[arg-type]


FINDINGS = {
    "critical": _finding("SEC004", "critical", "a secret in ENV AWS_SECRET_KEY", config="Env"),
    "high": _finding("SEC001", "high", "runs as root, " * 8 + "and wraps", config="User"),
    "medium": _finding("SIZE002", "medium", "pip cache 1.9 MB", layer=3, created_by="RUN pip"),
    "low": _finding("PY001", "low", "PYTHONFAULTHANDLER unset", config="Env"),
    "info": _finding("META003", "info", "audited by the latest tag"),
}
AUDITED = ImageReport(
    "registry.example/app:1.0",
    "sha256:0123456789abcdef0123456789abcdef",
    None,
    (
        *(CheckResult(_check(f.check, s), "failed", (f,)) for s, f in FINDINGS.items()),
        CheckResult(_check("OPS002", "high"), "skipped", reason="the lifecycle probe did not run"),
    ),
)
MISSING = ImageReport("nope:latest", None, None, error="no such image: nope:latest")
# Image data an attacker controls: a label or path with terminal controls in it.
HOSTILE_MESSAGE = "key in /x\x1b[2J\x1b]0;pwned\x07\x9b31m\there"
HOSTILE = ImageReport(
    "evil:1",
    "sha256:feedfeedfeedfeedfeed",
    None,
    (
        CheckResult(
            _check("SEC006", "high"),
            "failed",
            (_finding("SEC006", "high", HOSTILE_MESSAGE, path="/a\x1b[5mb"),),
        ),
    ),
    error=None,
)


# --- the decision ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("isatty", "environ", "expected"),
    [
        pytest.param(True, {}, True, id="tty"),
        pytest.param(True, {"NO_COLOR": ""}, True, id="tty-NO_COLOR-empty"),
        pytest.param(True, {"NO_COLOR": "1"}, False, id="tty-NO_COLOR-set"),
        pytest.param(False, {}, False, id="pipe"),
        pytest.param(False, {"NO_COLOR": ""}, False, id="pipe-NO_COLOR-empty"),
        pytest.param(False, {"NO_COLOR": "1"}, False, id="pipe-NO_COLOR-set"),
    ],
)
def test_use_colour_needs_a_terminal_and_no_non_empty_no_color(isatty, environ, expected):
    """Colour goes to a terminal only, and NO_COLOR set to anything but "" turns it off."""
    assert use_colour(isatty, environ) is expected


@pytest.mark.parametrize(
    ("isatty", "environ", "expected"),
    [
        pytest.param(False, {"FORCE_COLOR": "1"}, True, id="pipe-FORCE_COLOR"),
        pytest.param(False, {"FORCE_COLOR": ""}, False, id="pipe-FORCE_COLOR-empty"),
        pytest.param(True, {"FORCE_COLOR": "1", "NO_COLOR": "1"}, False, id="NO_COLOR-wins"),
        pytest.param(True, {"TERM": "dumb"}, False, id="tty-TERM-dumb"),
        pytest.param(False, {"FORCE_COLOR": "1", "TERM": "dumb"}, True, id="FORCE_COLOR-TERM-dumb"),
    ],
)
def test_force_color_asks_for_colour_but_no_color_wins(isatty, environ, expected):
    """FORCE_COLOR colours a pipe (CI logs), NO_COLOR still wins, TERM=dumb gets none."""
    assert use_colour(isatty, environ) is expected


# --- the renderer ------------------------------------------------------------------------------


def test_default_and_colour_off_have_no_escape_byte():
    """Without colour=True (as -o table=FILE renders) no ESC or CSI byte appears, even from
    hostile image data."""
    reports = [AUDITED, MISSING, HOSTILE]
    for text in (render(reports, 120), render(reports, 120, colour=False),
                 render_format("table", reports)):  # fmt: skip
        assert "\x1b" not in text
        assert "\x9b" not in text
        assert "\x07" not in text


def test_colour_marks_each_severity_cell_with_its_style():
    """critical bold red, high red, medium yellow, low cyan, info dim: on the severity cell."""
    text = render([AUDITED], 120, colour=True)
    rows = {f.check: line for line in text.splitlines() for f in FINDINGS.values()
            if line.startswith(f.check + " ")}  # fmt: skip
    assert len(rows) == len(FINDINGS)
    for severity, finding in FINDINGS.items():
        cell = f"{EXPECTED_CODES[severity]}{severity}\x1b[0m"
        assert rows[finding.check].split()[1] == cell, severity


def test_colour_touches_only_the_titles_and_the_severity_cells():
    """The styled spans are, in order: the image title (bold), then one per finding's severity."""
    text = render([AUDITED, MISSING], 120, colour=True)
    spans = [(codes, inner) for codes, inner in STYLED.findall(text)]
    assert spans[0] == ("\x1b[1m", "registry.example/app:1.0  (sha256:0123456789ab)")
    assert spans[1:6] == [(EXPECTED_CODES[s], s) for s in FINDINGS]
    assert spans[6:] == [("\x1b[1m", "nope:latest")]
    # Nothing else: with the spans removed, no escape is left.
    assert "\x1b" not in STYLED.sub("", text)


def test_coloured_columns_stay_aligned():
    """Stripped of its codes the coloured table is the plain one, whose columns line up."""
    plain = render([AUDITED, HOSTILE], 120)
    coloured = render([AUDITED, HOSTILE], 120, colour=True)
    assert coloured != plain
    assert SGR.sub("", coloured) == plain
    lines = plain.splitlines()
    header = next(line for line in lines if line.startswith("id "))
    starts = {name: header.index(name) for name in ("severity", "what", "where", "fix")}
    rows = [line for line in lines if line.split(" ", 1)[0] in {f.check for f in FINDINGS.values()}]
    assert len(rows) == len(FINDINGS)
    for row in rows:
        finding = next(f for f in FINDINGS.values() if row.startswith(f.check + " "))
        assert row[starts["severity"] :].startswith(finding.severity)
        assert row[starts["what"] :].startswith(finding.message[:10])
        assert row[starts["fix"] :].startswith(finding.fix)


def test_control_characters_in_image_data_are_shown_not_obeyed():
    """ESC, BEL, a C1 CSI and a tab in a message or path are printed as visible escapes."""
    text = render([HOSTILE], 200, colour=True)
    assert "key in /x\\x1b[2J\\x1b]0;pwned\\x07\\x9b31m here" in text
    assert "/a\\x1b[5mb" in text
    assert "\x9b" not in text
    assert "\x07" not in text
    # The only real escapes left are ours.
    assert "\x1b" not in STYLED.sub("", text)


def test_error_report_keeps_the_image_place_and_leaves_the_error_to_stderr():
    """An image that could not be audited: its bold title says so; the error text itself is
    printed once, on stderr, so the table does not repeat it."""
    text = render([MISSING], 120, colour=True)
    assert text == "\x1b[1mnope:latest\x1b[0m: not audited (the error is on stderr)\n"


def test_accepted_findings_and_notices_are_reported():
    """Findings the policy or the baseline accepted are counted, and notices are printed."""
    accepted = (
        Suppressed(FINDINGS["low"], Suppression("ignore", "legacy", "p.toml", date(2027, 3, 31))),
        Suppressed(FINDINGS["info"], Suppression("baseline", "in the baseline", "b.json")),
        Suppressed(FINDINGS["medium"], Suppression("baseline", "in the baseline", "b.json")),
    )
    report = ImageReport(
        "app:2",
        "sha256:00",
        None,
        (CheckResult(_check("SEC001", "high"), "failed", (FINDINGS["high"],), None, accepted),),
        notices=("1 baseline entry for app no longer found (SEC009): fixed?",),
    )
    text = render([report], 120)
    assert "3 findings accepted (1 by the policy's ignores, 2 in the baseline)" in text
    assert "note: 1 baseline entry for app no longer found (SEC009): fixed?" in text
    assert "PY001" not in text  # accepted findings are counted, not listed


def test_styles_cover_every_severity():
    """Every severity the catalog knows has a style, so none prints uncoloured by accident."""
    from checks.model import SEVERITIES

    assert set(render_table.SEVERITY_STYLES) == set(SEVERITIES)


# --- the real command: a terminal, NO_COLOR, a pipe -------------------------------------------


def _environ(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("NO_COLOR", "FORCE_COLOR", "CLICOLOR_FORCE", "TERM")}  # fmt: skip
    return {**env, "TERM": "xterm-256color", "COLUMNS": "140", **extra}


def _audit_on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[str, int]:
    """Run inspector with its stdout (only) on a pseudo-terminal; stderr stays a pipe, so its
    progress line does not mix escapes into what we look at."""
    controller, terminal = pty.openpty()
    try:
        child = subprocess.Popen([str(INSPECTOR), *args], stdin=subprocess.DEVNULL,
                                 stdout=terminal, stderr=subprocess.PIPE, env=env)  # fmt: skip
    finally:
        os.close(terminal)
    chunks = []
    try:
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError as exc:  # EIO: every writer closed the terminal
                if exc.errno != errno.EIO:
                    raise
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(controller)
        assert child.stderr is not None
        child.stderr.read()
        child.stderr.close()
        code = child.wait()
    # The terminal's line discipline turns \n into \r\n.
    return b"".join(chunks).decode().replace("\r\n", "\n"), code


@pytest.mark.docker
def test_terminal_gets_colour_and_the_table_file_does_not(image, tmp_path: Path):
    """On a terminal the severities are coloured; the -o table file of the same run has none."""
    image("naive")
    table = tmp_path / "table.txt"
    out, code = _audit_on_a_terminal(
        ["audit", fixture_image("naive"), "--no-probe", "--no-config", "-o", f"table={table}"],
        _environ(),
    )
    assert code == 1
    assert f"{EXPECTED_CODES['high']}high\x1b[0m" in out
    written = table.read_text(encoding="utf-8")
    assert "\x1b" not in written
    assert SGR.sub("", out) == written


@pytest.mark.docker
def test_no_color_turns_colour_off_on_a_terminal(image):
    """NO_COLOR=1: the same audit on a terminal carries no escape at all."""
    image("naive")
    out, code = _audit_on_a_terminal(
        ["audit", fixture_image("naive"), "--no-probe", "--no-config"], _environ(NO_COLOR="1")
    )
    assert code == 1
    assert "SEC001" in out
    assert "\x1b" not in out


@pytest.mark.docker
def test_a_pipe_never_gets_colour(image):
    """stdout captured through a pipe (what CI does) carries no escape, TERM notwithstanding."""
    image("naive")
    done = subprocess.run(
        [str(INSPECTOR), "audit", fixture_image("naive"), "--no-probe", "--no-config"],
        capture_output=True,
        env=_environ(),
        check=False,
    )
    assert done.returncode == 1
    assert b"SEC001" in done.stdout
    assert b"\x1b" not in done.stdout


@pytest.mark.docker
def test_force_color_colours_a_pipe(image):
    """FORCE_COLOR=1 (a CI log that renders ANSI) colours stdout even through a pipe."""
    image("naive")
    done = subprocess.run(
        [str(INSPECTOR), "audit", fixture_image("naive"), "--no-probe", "--no-config"],
        capture_output=True,
        env=_environ(FORCE_COLOR="1"),
        check=False,
    )
    assert done.returncode == 1
    assert f"{EXPECTED_CODES['high']}high\x1b[0m".encode() in done.stdout


def test_several_images_end_with_one_summary():
    """A multi-image table ends with how many images, findings by severity, which failed the
    gate and which could not be audited; one image has no summary."""
    text = render([AUDITED, MISSING], 120, fail_on="high")
    summary = text.split("\n\n")[-1].splitlines()
    assert summary == [
        "2 images: 1 audited, 1 not audited (errors on stderr)",
        "findings: 1 critical, 1 high, 1 medium, 1 low, 1 info",
        "failed the gate (high or above): registry.example/app:1.0",
        "not audited: nope:latest",
    ]
    assert "images:" not in render([AUDITED], 120)


def test_a_long_path_is_cut_in_its_middle_to_fit_its_column():
    """A path longer than its column keeps its start and end around an ellipsis, so no line is
    wider than the terminal, in the column layout (120) and the stacked one (80)."""
    path = "/srv/" + "very-long-directory-name/" * 8 + "settings.py"
    report = ImageReport(
        "app:1",
        "sha256:0123456789abcdef",
        None,
        (CheckResult(_check("SEC006", "high"), "failed",
                     (_finding("SEC006", "high", f"a key in {path}", path=path),)),),
    )  # fmt: skip
    for width in (80, 120, 200):
        text = render([report], width)
        assert max(len(line) for line in text.splitlines()) <= width, text
        assert "/srv/very-long" in text
        assert "settings.py" in text
        assert "…" in text


def test_skipped_checks_are_one_short_line_per_reason():
    """Each reason checks were skipped is its own line with its count, never a Python None."""
    text = render([AUDITED], 80)
    assert "  skipped 1: the lifecycle probe did not run" in text.splitlines()
    assert "None" not in text
