"""The audits behind the report goldens (tests/golden/report/) and the real reports docs/report.md
is checked against: fixture images without probes, and naive under a policy and a baseline.

Shared by tests/test_report_goldens.py, tests/test_report_doc.py and
scripts/gen_report_goldens.py, so the goldens are regenerated exactly as the test makes them.

The goldens run the audit through its API rather than the CLI for one reason: the clock. Image
age (META002), Python's and the OS's end of life (PY006, META004) and ignore expiry compare with
today, so the golden audits run at `NOW` instead; the policy composition below is the CLI's
(`inspector.cli.commands._scan`): the policy's select and ignore, its severities, its
thresholds, its gate.

`normalise` replaces what legitimately differs between builds and machines with `{placeholders}`
(no angle brackets: Markdown and XML would escape them). It runs on the findings' and results'
text before rendering, so the table wraps the same text on every machine and SARIF fingerprints
hash it; `normalise_output` then replaces only what renderers add (image IDs, the version).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from checks import catalog
from checks.engine import select
from checks.model import CheckResult, Context, Finding, Suppressed
from inspector import __version__
from inspector.audit import AuditOptions, audit
from inspector.cli.commands import main
from inspector.dockerfile.locate import Dockerfile
from inspector.policy.baseline import read as read_baseline
from inspector.policy.config import Policy, load
from inspector.policy.gate import Gate
from inspector.report.formats import FORMATS, render
from inspector.report.model import ImageReport
from tests.conftest import REPO, fixture_image

GOLDEN = REPO / "tests" / "golden" / "report"
EXTENSIONS = {"table": "txt", "json": "json", "sarif": "sarif", "junit": "xml", "markdown": "md"}
TABLE_WIDTH = 120  # what a terminal would decide, pinned
# The table is also kept at a narrow terminal's width and a wide one's: "table@80" is CASE-80.txt.
TABLE_WIDTHS = (80, 200)
# After every fixture build (so META002 never fires), before Python 3.11's and Debian 12's ends.
NOW = datetime(2026, 6, 1, tzinfo=UTC)
NAIVE = fixture_image("naive")
GOOD = fixture_image("good")

# Exercises each way the policy changes a verdict: a severity override (PY001 low -> medium), an
# ignore that applies (META001, by name and image pattern; naive's `python3 -m app` names no
# server, so without probes OPS004 has nothing to say), an expired one (SEC001: counts again,
# with a notice), and the baseline (PY007 and SIZE002, see `policy_files`). The dates are far
# from any real today, so the CLI (which uses the real clock) sees the same.
POLICY = """\
[severity]
PY001 = "medium"

[[ignores]]
checks = ["oci-labels-missing"]
images = ["inspector-fixture/*"]
reason = "the release pipeline labels the image when it promotes it"
expires = 2999-12-31

[[ignores]]
checks = ["SEC001"]
reason = "the pod's securityContext sets the user"
expires = 2000-01-01
"""
BASELINED = "PY007,SIZE002"


@dataclass(frozen=True)
class Case:
    reference: str
    policy: bool = False  # audit under POLICY and a baseline of BASELINED
    dockerfile: str | None = None  # --dockerfile, relative to the repository


CASES = {
    "naive": Case(NAIVE),  # many findings
    "good": Case(GOOD),  # clean but for the base image's setuid programs (info)
    # What a release job runs: a policy, a baseline and the Dockerfile the image was built from.
    "naive-policy": Case(NAIVE, policy=True, dockerfile="fixtures/naive/Dockerfile"),
}


def policy_files(directory: Path) -> tuple[Path, Path]:
    """POLICY as .inspector.toml, and a baseline of naive's BASELINED findings that
    `inspector baseline` wrote under it."""
    config = directory / ".inspector.toml"
    config.write_text(POLICY)
    baseline = directory / "inspector-baseline.json"
    argv = ["baseline", NAIVE, "--no-probe", "--config", str(config), "--select", BASELINED,
            "-o", str(baseline)]  # fmt: skip
    if main(argv) != 0:
        raise RuntimeError(f"`inspector {' '.join(argv)}` failed: is {NAIVE} built?")
    return config, baseline


def audit_case(case: Case, workdir: Path) -> list[ImageReport]:
    """The case audited without probes at NOW, as `inspector audit REF --no-probe` (with
    `--config`, `--baseline` and `--dockerfile` for a policy case) would."""
    policy, baseline = Policy(), None
    if case.policy:
        config, baseline_path = policy_files(workdir)
        policy, baseline = load(config, catalog()), read_baseline(baseline_path)
    checks = policy.override(select(catalog().values(), policy.select, policy.ignore))
    options = AuditOptions(
        probe=None,
        context=Context(now=NOW, thresholds=policy.thresholds),
        gate=Gate(policy, baseline, today=NOW.date()),
        dockerfile=Dockerfile.read(str(REPO / case.dockerfile)) if case.dockerfile else None,
    )
    reports = audit([case.reference], checks, options)
    failed = [f"{r.reference}: {r.error}" for r in reports if r.error]
    if failed:
        raise RuntimeError(f"cannot audit {'; '.join(failed)} (run `make fixtures`)")
    return reports


def produce(name: str, workdir: Path) -> dict[str, str]:
    """Each format's normalised report of case `name`, by format name."""
    reports = audit_case(CASES[name], workdir)
    volatile = _volatile(reports, workdir)
    stable = [_stable(report, volatile) for report in reports]
    out = {}
    for fmt in FORMATS:
        if fmt == "table":
            from inspector.report import table as render_table

            text = render_table.render(stable, width=TABLE_WIDTH)
            for width in TABLE_WIDTHS:
                wide = render_table.render(stable, width=width)
                out[f"table@{width}"] = normalise_output(wide, volatile)
        else:
            text = render(fmt, stable)
        out[fmt] = normalise_output(text, volatile)
    return out


def golden_path(name: str, fmt: str) -> Path:
    if fmt.startswith("table@"):
        return GOLDEN / f"{name}-{fmt.removeprefix('table@')}.txt"
    return GOLDEN / f"{name}.{EXTENSIONS[fmt]}"


# --- normalisation ------------------------------------------------------------------------------

_RULES = (
    # Layer and other digests not known in advance.
    (re.compile(r"sha256:[0-9a-f]{64}"), "sha256:{digest}"),
    # The fixture build's package index listens on an ephemeral loopback port (history steps).
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:{port}"),
    # Fixture layers are rebuilt from Debian's current packages: sizes and file counts drift.
    (re.compile(r"\b\d+(?:\.\d+)?\s?(?:[KMGT]i?B|kB|B|bytes?)\b"), "{size}"),
    (re.compile(r"\b\d+(?= (?:file\(s\)|files?\b))"), "{n}"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?"), "{time}"),
)
# The tool's version where reports state it (JSON, SARIF), not any "0.1.0" in a message.
_VERSION = re.compile(rf'("(?:version|semanticVersion)": )"{re.escape(__version__)}"')


def _volatile(reports: Sequence[ImageReport], workdir: Path) -> dict[str, str]:
    """Exact strings to replace: this machine's image IDs (whole and short), the temp dir, and
    where the repository is checked out (a Dockerfile's path is absolute when the working
    directory is elsewhere)."""
    out = {str(workdir): "{tmp}", f"{REPO}/": ""}
    for report in reports:
        if report.image_id:
            hex_id = report.image_id.removeprefix("sha256:")
            out[hex_id] = "{image-id}"
            out[hex_id[:12]] = "{image-id}"  # the short form tables and Markdown show
        if report.digest:
            out[report.digest] = "{repo-digest}"
    return out


def normalise(text: str, volatile: Mapping[str, str]) -> str:
    """A finding's or a result's text, before rendering: every rule applies."""
    text = _exact(text, volatile)
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


def normalise_output(text: str, volatile: Mapping[str, str]) -> str:
    """A rendered report: only what renderers add (IDs, the version). The rules stay off, as
    the catalog's own text (rule help in SARIF) has sizes and ports that never vary."""
    return _VERSION.sub(r'\1"{version}"', _exact(text, volatile))


def _exact(text: str, volatile: Mapping[str, str]) -> str:
    # Longest first: a short ID is a prefix of the whole one.
    for exact in sorted(volatile, key=len, reverse=True):
        text = text.replace(exact, volatile[exact])
    return text


def _stable(report: ImageReport, volatile: Mapping[str, str]) -> ImageReport:
    """The report with its findings' and results' text normalised, IDs left to the output."""

    def text(value: str | None) -> str | None:
        return None if value is None else normalise(value, volatile)

    def finding(f: Finding) -> Finding:
        loc = f.location
        location = replace(loc, config=text(loc.config), created_by=text(loc.created_by),
                           path=text(loc.path), runtime=text(loc.runtime))  # fmt: skip
        return replace(f, message=normalise(f.message, volatile), location=location,
                       fix=normalise(f.fix, volatile))  # fmt: skip

    def suppressed(s: Suppressed) -> Suppressed:
        why = replace(s.suppression, reason=normalise(s.suppression.reason, volatile),
                      source=normalise(s.suppression.source, volatile))  # fmt: skip
        return Suppressed(finding(s.finding), why)

    def result(r: CheckResult) -> CheckResult:
        return replace(r, reason=text(r.reason), findings=tuple(map(finding, r.findings)),
                       suppressed=tuple(map(suppressed, r.suppressed)))  # fmt: skip

    runtime = {
        name: {key: text(value) if isinstance(value, str) else value for key, value in s.items()}
        for name, s in (report.runtime or {}).items()
    }
    return replace(
        report,
        dockerfile=text(report.dockerfile),  # relative to the checkout, wherever the test runs
        results=tuple(map(result, report.results)),
        runtime=runtime if report.runtime is not None else None,
        notices=tuple(normalise(n, volatile) for n in report.notices),
    )
