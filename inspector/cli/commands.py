"""The command line: parse, call, render, exit. Exit 2 whenever the tool could not do its job."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from checks.model import CATEGORIES, SEVERITIES, Check, Context
from inspector import __version__
from inspector.audit import AuditOptions
from inspector.cli.probe_settings import probe_options, probe_setting_options
from inspector.errors import InspectorError
from inspector.policy.config import DEFAULT_MAX_DB_AGE, Policy, load
from inspector.policy.gate import Gate
from inspector.report.formats import FORMATS, SBOM_EXTENSIONS, SBOM_FORMATS
from inspector.safetext import json_text, visible
from inspector.sources import PULL_POLICIES

if TYPE_CHECKING:
    from inspector.dockerfile.locate import Dockerfile
    from inspector.facts.vulns import AdvisoryOptions
    from inspector.policy.baseline import Baseline
    from inspector.report.model import ImageReport

EXIT_ERROR = 2


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="inspector")
def cli() -> None:
    """Audit built Python container images for production readiness."""


def _options(*options):  # type: ignore[no-untyped-def]
    """Several click options as one decorator, in the order given."""

    def apply(command):  # type: ignore[no-untyped-def]
        for option in reversed(options):
            command = option(command)
        return command

    return apply


# How an image is read, and how long the lifecycle probe watches it: `facts`, `audit`, `baseline`.
# How images are read from a registry or the cache: `facts`, `audit`, `baseline`, `scan`.
_registry_options = _options(
    click.option("--no-cache", is_flag=True,
                 help="Read every layer and rebuild the facts, ignoring the cache of both."),
    click.option("--platform", metavar="OS/ARCH[/VARIANT]",
                 help="Which platform of a multi-platform registry image to read  "
                 "[default: this machine's, else linux/amd64]"),
    click.option("--insecure-registry", "insecure_registries", multiple=True, metavar="HOST",
                 help="Allow plain HTTP to this registry when it speaks no TLS (repeatable); "
                 "loopback hosts always may. HTTPS with certificate checks is tried first, "
                 "and is the only way to every other host."),
)  # fmt: skip


def _verbose(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """--verbose: say on stderr how each image was read (e.g. why a local image's layers were
    exported rather than read from the engine's storage)."""
    import logging

    class Say(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            # Through click at each line, so the stderr of this run gets it (tests run many).
            click.echo(said(f"inspector: {record.getMessage()}"), err=True)

    logger = logging.getLogger("inspector")
    for old in [h for h in logger.handlers if type(h).__name__ == "Say"]:
        logger.removeHandler(old)
    if value:
        logger.addHandler(Say())
        logger.setLevel(logging.INFO)


# How an image is read, and how long the lifecycle probe watches it: `facts`, `audit`, `baseline`.
_read_options = _options(
    click.option("-v", "--verbose", is_flag=True, expose_value=False, callback=_verbose,
                 help="Say on stderr how each image is read (where its layers come from, "
                 "and why)."),
    click.option("--pull", type=click.Choice(PULL_POLICIES), default="never", show_default=True,
                 help="When to pull REF through the daemon (with your Docker credentials)."),
    _registry_options,
)  # fmt: skip
_probe_options = _options(
    click.option("--warmup", type=click.FloatRange(0, 600), default=3.0, show_default=True,
                 help="Seconds the lifecycle probe waits at most for the app's start-up to "
                      "settle before looking at it."),
    click.option("--grace", type=click.FloatRange(0, 600), default=10.0, show_default=True,
                 help="Seconds between the stop signal and SIGKILL, as `docker stop -t`."),
    probe_setting_options,
)  # fmt: skip


# Where the advisory database is, and whether to use it: `facts`, `audit`, `baseline`.
_vuln_options = _options(
    click.option("--db", metavar="URL", help="The advisory database (`inspector db update` "
                 "fills it): a SQLite path, or postgresql://USER@HOST/DB  [default: "
                 "$INSPECTOR_DB, else scans.sqlite in the user's data directory, the scan "
                 "store's]; an audit never creates it."),
    click.option("--no-vulns", is_flag=True,
                 help="Do not match known vulnerabilities (SEC030 and SEC031 are skipped)."),
)  # fmt: skip


@cli.command()
@click.argument("ref")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="A readable summary, or versioned JSON (documented in docs/facts.md).",
)
@_read_options
@click.option("--no-probe", is_flag=True, help="Do not run the image (no runtime facts).")
@_probe_options
@_vuln_options
def facts(
    ref: str, fmt: str, pull: str, no_cache: bool, platform: str | None,
    insecure_registries: tuple[str, ...], no_probe: bool, warmup: float, grace: float,
    db: str | None, no_vulns: bool,
) -> None:  # fmt: skip
    """Print what is known about an image: config, layers, files, OS, Python, caches, secrets,
    and what it does when it runs.

    REF is a local image (tag, ID or digest), docker-archive:PATH (docker save output),
    oci-archive:PATH, oci:DIR, or registry:HOST[:PORT]/REPO[:TAG|@DIGEST] (read from the
    registry with no daemon, with your Docker or Podman credentials). Each layer is read once;
    results are cached per layer, and a cached layer is not downloaded again.
    Unless --no-probe, a local image is also run twice in hardened containers (no network,
    limits, removed afterwards): once to ask its Python about itself, once as a user would
    start it, then stopped as Docker does.
    """
    from inspector.facts.collect import collect

    options = None if no_probe else probe_options(warmup, grace)
    try:
        doc = collect(
            ref, pull=pull, use_cache=not no_cache, probe=options, progress=progress_printer(),
            platform=platform, insecure_registries=insecure_registries,
            advisories=advisory_options(db, no_vulns),
        ).to_json()  # fmt: skip
    finally:
        if sys.stderr.isatty():
            click.echo("\r\033[K", err=True, nl=False)  # leave no progress line behind
    if fmt == "json":
        click.echo(json_text(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False,
                                        default=str)))  # fmt: skip
    else:
        from inspector.report.facts_text import render

        click.echo(visible(render(doc)))


def _split(values: tuple[str, ...]) -> list[str]:
    """`--select a,b --select c` -> [a, b, c]."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


# Which checks run under which policy: `audit`, `baseline`, `scan`.
_policy_options = _options(
    click.option("--select", multiple=True, metavar="ID|NAME|CATEGORY",
                 help="Run only these checks (repeat or comma-separate); replaces the "
                 "policy's select."),
    click.option("--ignore", multiple=True, metavar="ID|NAME|CATEGORY",
                 help="Do not run these checks; adds to the policy's ignore."),
    click.option("--config", "config_path", type=click.Path(dir_okay=False), metavar="PATH",
                 help="The policy file (default: the nearest .inspector.toml or "
                 "pyproject.toml with [tool.inspector], upward from here)."),
    click.option("--no-config", is_flag=True, help="Use no policy file."),
)  # fmt: skip
# What `audit` and `baseline` share: which checks, which policy, how images are read.
_scan_options = _options(
    click.argument("refs", nargs=-1, required=True, metavar="REF..."),
    _policy_options,
    _read_options,
    click.option("--no-probe", is_flag=True,
                 help="Do not run the images; runtime checks are skipped."),
    _probe_options,
    _vuln_options,
    click.option("--max-db-age", type=click.IntRange(min=0), default=None, metavar="DAYS",
                 help="Warn in every report when the advisory database is older than this  "
                 "[default: the policy's max-db-age, else 7]"),
)  # fmt: skip


def advisory_options(db: str | None, no_vulns: bool) -> AdvisoryOptions | None:
    """Where vulnerabilities are matched: --db, $INSPECTOR_DB, else the scan store's file."""
    if no_vulns:
        return None
    from inspector.datastore import default_path
    from inspector.facts.vulns import AdvisoryOptions
    from inspector.scan.command import store_url

    return AdvisoryOptions(store_url(db) or str(default_path()))


@dataclass(frozen=True)
class _Scan:
    """The parsed shared options: the checks to run and how, under which policy."""

    refs: list[str]
    checks: list[Check]
    options: AuditOptions
    policy: Policy


def _scan(
    refs: tuple[str, ...],
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    config_path: str | None,
    no_config: bool,
    pull: str,
    no_cache: bool,
    platform: str | None,
    insecure_registries: tuple[str, ...],
    no_probe: bool,
    warmup: float,
    grace: float,
    db: str | None = None,
    no_vulns: bool = True,
    max_db_age: int | None = None,
    baseline: Baseline | None = None,
    dockerfile: Dockerfile | None = None,
    expect: tuple[str, ...] = (),
) -> _Scan:
    from checks import catalog
    from checks.engine import SelectionError
    from checks.engine import select as choose

    if no_config and config_path:
        raise click.UsageError("--config and --no-config contradict each other")
    policy = Policy() if no_config else load(Path(config_path) if config_path else None, catalog())
    chosen = _split(select) or list(policy.select)
    ignored = [*policy.ignore, *_split(ignore)]
    try:
        checks = policy.override(choose(catalog().values(), chosen, ignored))
    except SelectionError as exc:
        raise click.UsageError(str(exc)) from exc
    for expired in Gate(policy).expired():
        click.echo(f"inspector: warning: {expired.source} expired on {expired.expires}; "
                   "the findings it accepted count again", err=True)  # fmt: skip
    options = AuditOptions(
        pull=pull,
        use_cache=not no_cache,
        platform=platform,
        insecure_registries=insecure_registries,
        probe=None if no_probe else probe_options(warmup, grace),
        context=Context(thresholds=policy.thresholds),
        gate=Gate(policy, baseline),
        dockerfile=dockerfile,
        advisories=advisory_options(db, no_vulns),
        max_db_age=max_db_age
        if max_db_age is not None
        else policy.max_db_age or DEFAULT_MAX_DB_AGE,
        expect=_expectations(policy, expect),
    )
    return _Scan(list(refs), checks, options, policy)


# --- expectation files (container-structure-test YAML): the policy's `expect`, then --expect ---
_expect_option = click.option(
    "--expect", "expect", multiple=True, type=click.Path(dir_okay=False), metavar="FILE",
    help="Also judge the images against this container-structure-test file (schemaVersion "
    "2.0.0; repeatable; adds to the policy's expect): each failed test is a COR030 finding. "
    "docs/expectations.md says what is read of the format.")  # fmt: skip


def _expectations(policy: Policy, given: tuple[str, ...]) -> tuple[Any, ...]:
    """Every expectation file parsed before any image is read: a broken one stops here (2)."""
    from inspector.expect.parse import load as load_expectations

    named = [*policy.expect, *((path, path) for path in given)]
    return tuple(load_expectations(Path(path), name) for path, name in dict(named).items())


def _run(scan: _Scan, jobs: int | None = None) -> list[ImageReport]:
    from inspector.audit import WORKERS
    from inspector.audit import audit as run_audit

    try:
        finished = finished_printer(len(scan.refs))
        return run_audit(scan.refs, scan.checks, scan.options, progress_printer(),
                         jobs=jobs or WORKERS, finished=finished)  # fmt: skip
    finally:
        if sys.stderr.isatty():
            click.echo("\r\033[K", err=True, nl=False)


def finished_printer(total: int) -> Callable[[ImageReport], None]:
    """Without a terminal, several images get one line each on stderr as they finish, so a CI
    log is not silent for minutes; a terminal has the progress line, one image needs neither."""
    if sys.stderr.isatty() or total < 2:
        return lambda report: None
    done = iter(range(1, total + 1))
    lock = threading.Lock()

    def say(report: ImageReport) -> None:
        with lock:
            what = "not audited" if report.error else (report.counts() or "no findings")
            click.echo(said(f"inspector: [{next(done)}/{total}] {report.reference}: {what}"),
                       err=True)  # fmt: skip

    return say


@cli.command()
@_scan_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice([*FORMATS, *SBOM_FORMATS]),
    default="table",
    show_default=True,
    help="The report on stdout; cyclonedx (CycloneDX 1.6) and spdx (SPDX 2.3) print the SBOM of "
    "the one image audited (docs/sbom.md).",
)
@click.option(
    "-o",
    "--output",
    "outputs",
    multiple=True,
    metavar="FORMAT=FILE",
    help="Also write the report in FORMAT to FILE (repeatable). An SBOM format writes one "
    "document per image: to FILE for one image, else into the directory FILE (made if "
    "missing; also when FILE ends with / or is a directory) as REF.cdx.json or REF.spdx.json.",
)
@click.option(
    "--fail-on",
    type=click.Choice(list(SEVERITIES)),
    default=None,
    help="Exit 1 when a finding has this severity or above  [default: the policy's fail-on, "
    "else high]",
)
@click.option("--exit-zero", is_flag=True, help="Exit 0 despite findings (still 2 on errors).")
@click.option(
    "--jobs",
    type=click.IntRange(1, 16),
    default=2,
    show_default=True,
    help="Images audited at once; each image's probes keep their own limits.",
)
@click.option(
    "--baseline",
    "baseline_path",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Findings listed in FILE (written by `inspector baseline`) do not fail the gate.",
)
@click.option(
    "--dockerfile",
    type=click.Path(dir_okay=False),
    metavar="PATH",
    help="The Dockerfile the images were built from: findings in a layer point at the "
    "instruction that made it (SARIF).",
)
@_expect_option
def audit(
    fmt: str,
    jobs: int,
    outputs: tuple[str, ...],
    fail_on: str | None,
    exit_zero: bool,
    baseline_path: str | None,
    dockerfile: str | None,
    **scan_args: Any,
) -> int:
    """Audit images for production readiness: findings per image, with where and how to fix.

    REF takes the same forms as for `facts`. Exit status: 0 no finding at or above --fail-on
    (high), 1 at least one, 2 an image could not be audited or the policy is wrong.
    """
    from inspector.policy.baseline import read as read_baseline
    from inspector.report.formats import render
    from inspector.report.model import exit_code

    files = _outputs(outputs, [*FORMATS, *SBOM_FORMATS])
    # The policy decides the baseline's default, so read the policy first.
    scan = _scan(**scan_args, dockerfile=_dockerfile(dockerfile) if dockerfile else None)
    _sbom_fits(fmt, files, len(scan.refs))
    baseline_file = baseline_path or scan.policy.baseline
    if baseline_file:
        gate = replace(scan.options.gate, baseline=read_baseline(Path(baseline_file)))
        scan = replace(scan, options=replace(scan.options, gate=gate))
    reports = _run(scan, jobs)
    from inspector.report import table as render_table

    # Colour only for the table on stdout, when the reader's terminal (or FORCE_COLOR) wants it.
    colour = fmt == "table" and render_table.use_colour(sys.stdout.isatty(), os.environ)
    threshold = fail_on or scan.policy.fail_on or "high"
    if fmt in SBOM_FORMATS:
        # An image that could not be audited has no SBOM: stdout stays empty, stderr says why.
        if not reports[0].error:
            click.echo(render(fmt, reports), nl=False)
    else:
        text = render(fmt, reports, fail_on=threshold, colour=colour)
        click.echo(text, nl=False, color=colour or None)
    for name, path in files:
        if name in SBOM_FORMATS:
            _write_sboms(name, path, reports)
            continue
        try:
            with open(path, "w", encoding="utf-8") as out:
                out.write(render(name, reports, fail_on=threshold))
        except OSError as exc:
            raise InspectorError(f"cannot write the {name} report to {path}: {exc}") from exc
    for report in reports:
        if report.error:
            click.echo(said(error_line(report.reference, report.error)), err=True)
    code = exit_code(reports, threshold)
    return 0 if exit_zero and code == 1 else code


def _sbom_dir(path: str, images: int) -> bool:
    """Whether `-o SBOM=path` names a directory of one document per image."""
    return images > 1 or path.endswith("/") or Path(path).is_dir()


def _sbom_fits(fmt: str, files: Sequence[tuple[str, str]], images: int) -> None:
    """Refuse, before auditing anything, SBOMs that cannot be written as asked: an SBOM
    describes one image, so several cannot share stdout or one file."""
    if fmt in SBOM_FORMATS and images > 1:
        raise click.UsageError(
            f"--format {fmt} prints the SBOM of one image, and {images} were given: write one "
            f"document per image with -o {fmt}=DIR/"
        )
    for name, path in files:
        if name in SBOM_FORMATS and _sbom_dir(path, images) and Path(path).exists() \
                and not Path(path).is_dir():  # fmt: skip
            raise click.UsageError(
                f"-o {name}={path}: {images} images get one {name} document each, so {path} "
                "must be a directory, and it is a file"
            )


def _write_sboms(name: str, path: str, reports: Sequence[ImageReport]) -> None:
    """One SBOM document per audited image, to `path` or into the directory `path`."""
    from inspector.report.formats import render

    audited = [r for r in reports if not r.error]
    if not _sbom_dir(path, len(reports)):
        targets = [(Path(path), r) for r in audited]
    else:
        directory = Path(path)
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InspectorError(f"cannot make the directory {path} for the {name} SBOMs: "
                                 f"{exc}") from exc  # fmt: skip
        targets = list(zip(_sbom_names(directory, name, audited), audited, strict=True))
    for target, report in targets:
        try:
            target.write_text(render(name, [report]), encoding="utf-8")
        except OSError as exc:
            raise InspectorError(f"cannot write the {name} SBOM to {target}: {exc}") from exc


def _sbom_names(directory: Path, name: str, reports: Sequence[ImageReport]) -> list[Path]:
    """REF.cdx.json per image, REF with every character but letters, digits, `.`, `-` and `_`
    made `_` (`app:1.4` -> app_1.4); a name two REFs share gets -2, -3, ... after the first."""
    out, seen = [], set()
    for report in reports:
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", report.reference).lstrip(".") or "image"
        candidate, n = stem, 1
        while candidate in seen:
            n += 1
            candidate = f"{stem}-{n}"
        seen.add(candidate)
        out.append(directory / f"{candidate}{SBOM_EXTENSIONS[name]}")
    return out


def error_line(reference: str, error: str) -> str:
    """One image's error as stderr shows it: the reference once, however the error begins."""
    if not reference.strip() or error.startswith(f"{reference}: "):
        return f"inspector: error: {error}"
    return f"inspector: error: {reference}: {error}"


def _dockerfile(path: str) -> Dockerfile:
    from inspector.dockerfile.locate import Dockerfile

    return Dockerfile.read(path)


@cli.command()
@_scan_options
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default="inspector-baseline.json",
    show_default=True,
    help="Where to write the baseline.",
)
@_expect_option
def baseline(output: str, **scan_args: Any) -> int:
    """Record the findings images have now, so that `audit --baseline FILE` fails only on new ones.

    The policy's ignores and severities apply (accepted findings are not recorded); its baseline
    does not. Findings match later by check, image repository (not tag), where, and message
    with numbers blanked, so rebuilds and retags keep matching. Exit 2, writing nothing, when an
    image could not be audited.
    """
    from inspector.policy.baseline import write

    reports = _run(_scan(**scan_args))
    failed = [r for r in reports if r.error]
    for report in failed:
        click.echo(said(error_line(report.reference, report.error or "")), err=True)
    if failed:
        click.echo(f"inspector: no baseline written: {len(failed)} image(s) not audited", err=True)
        return EXIT_ERROR
    count = write(reports, Path(output))
    click.echo(f"wrote {count} finding{'' if count == 1 else 's'} of {len(reports)} "
               f"image{'' if len(reports) == 1 else 's'} to {output}")  # fmt: skip
    return 0


def _outputs(outputs: tuple[str, ...], formats: Sequence[str]) -> list[tuple[str, str]]:
    files = []
    for output in outputs:
        name, sep, path = output.partition("=")
        if not sep or name not in formats or not path:
            raise click.UsageError(f"-o {output!r}: expected FORMAT=FILE with FORMAT one of "
                                   f"{', '.join(formats)}")  # fmt: skip
        files.append((name, path))
    return files


_SCAN_FORMATS = ("table", "json", "markdown", "html", "openmetrics")
# How a scan run is reported and gated: `scan` and `runs show`.
_run_report_options = _options(
    click.option("--format", "fmt", type=click.Choice(_SCAN_FORMATS), default="table",
                 show_default=True, help="The report on stdout."),
    click.option("-o", "--output", "outputs", multiple=True, metavar="FORMAT=FILE",
                 help="Also write the report in FORMAT to FILE (repeatable)."),
    click.option("--fail-on", type=click.Choice(list(SEVERITIES)), default=None,
                 help="Exit 1 when a NEW finding has this severity or above  [default: the "
                 "policy's fail-on, else high]"),
    click.option("--fail-on-existing", is_flag=True,
                 help="Count every finding for --fail-on, not only the new ones."),
    click.option("--exit-zero", is_flag=True, help="Exit 0 despite findings (still 2 on errors)."),
    click.option("--db", metavar="URL", help="The scan store: a SQLite path, or "
                 "postgresql://USER@HOST/DB shared by a team or by every shard  [default: "
                 "$INSPECTOR_DB, else scans.sqlite in the user's data directory]"),
)  # fmt: skip


def _report_run(store: Any, run_id: str, fmt: str, outputs: tuple[str, ...],
                fail_on: str, existing: bool, exit_zero: bool) -> int:  # fmt: skip
    from inspector.scan.command import finished_report
    from inspector.scan.render import exit_code, write

    files = _outputs(outputs, _SCAN_FORMATS)
    report = finished_report(store, run_id)
    write(fmt, report, lambda text: click.echo(text, nl=False))
    for name, path in files:
        if name == "openmetrics":
            from inspector.scan.metrics import write_file

            write_file(report, path)  # replaced whole: a textfile collector never reads half
            continue
        try:
            with open(path, "w", encoding="utf-8") as out:
                write(name, report, out.write)
        except OSError as exc:
            raise InspectorError(f"cannot write the {name} report to {path}: {exc}") from exc
    if not report.complete:
        done = len([s for s in report.shards if s.status != "running"])
        click.echo(f"inspector: run {run_id} is incomplete: {done} of {report.run.shards} "
                   "shards finished", err=True)  # fmt: skip
        return EXIT_ERROR
    code = exit_code(report, fail_on, existing)
    if code == 1:
        from inspector.scan.render import failing

        which = "findings" if existing else "new findings"
        click.echo(f"inspector: {which} at or above {fail_on} fail the gate:", err=True)
        for line in failing(report, fail_on, existing):
            click.echo(said(f"  {line}"), err=True)
    return 0 if exit_zero and code == 1 else code


@cli.command()
@click.argument("target", metavar="registry:HOST[:PORT][/PREFIX]")
@click.option(
    "--repo",
    "repos",
    multiple=True,
    metavar="NAME|GLOB",
    help="Scan these repositories (repeatable); a glob is matched against the "
    "catalog, a plain name needs no catalog.",
)
@click.option(
    "--repos-from",
    type=click.Path(dir_okay=False, exists=True),
    metavar="FILE",
    help="Repository names, one per line: for registries without a catalog.",
)
@click.option(
    "--tags",
    multiple=True,
    metavar="GLOB|re:REGEX",
    help="Only tags matching (repeatable)  [default: every tag]",
)
@click.option(
    "--newest",
    type=click.IntRange(1),
    metavar="N",
    help="Only the N most recently created images of each repository.",
)
@click.option(
    "--since", metavar="DATE", help="Only images created since DATE (2026-11-01, or 7d, 12h ago)."
)
@click.option(
    "--all-platforms", is_flag=True, help="Audit every platform of a multi-platform index, not one."
)
@click.option(
    "--jobs",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Images in flight at once.",
)
@click.option(
    "--max-time",
    metavar="DURATION",
    help="Start no new image after this long "
    "(90m, 2h); the run is recorded as partial and the next one starts with what "
    "was left.",
)
@click.option(
    "--shard",
    metavar="I/N",
    help="Scan share I (from 0) of N of the images; all "
    "shards of one run share --run and a PostgreSQL --db.",
)
@click.option(
    "--shards",
    type=click.IntRange(1),
    metavar="N",
    help="N shards, this one's index from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job).",
)
@click.option(
    "--run",
    "run_id",
    metavar="ID",
    help="The run's id  [default: a new one; shards of one run must share it]",
)
@click.option(
    "--finish",
    is_flag=True,
    help="Scan nothing: report the run --run names once all its shards are in.",
)
@click.option(
    "--keep-runs",
    type=click.IntRange(1),
    metavar="N",
    help="Afterwards, delete all but the N newest runs from the store.",
)
@click.option(
    "--page-size",
    type=click.IntRange(1, 1000),
    default=100,
    show_default=True,
    help="Repositories and tags asked for per catalog page.",
)
@click.option(
    "--max-db-age",
    type=click.IntRange(min=0),
    default=None,
    metavar="DAYS",
    help="Say once in the report when the advisory database is older than this  [default: "
    "the policy's max-db-age, else 7]",
)
@_run_report_options
@_policy_options
@click.option(
    "--baseline",
    "baseline_path",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Findings listed in FILE (`inspector baseline`) are accepted  [default: the "
    "policy's baseline]",
)
@_registry_options
def scan(
    target: str, repos: tuple[str, ...], repos_from: str | None, tags: tuple[str, ...],
    newest: int | None, since: str | None, all_platforms: bool, jobs: int,
    max_time: str | None, shard: str | None, shards: int | None, run_id: str | None,
    finish: bool, keep_runs: int | None, page_size: int, max_db_age: int | None, fmt: str,
    outputs: tuple[str, ...],
    fail_on: str | None, fail_on_existing: bool, exit_zero: bool, db: str | None,
    select: tuple[str, ...], ignore: tuple[str, ...], config_path: str | None, no_config: bool,
    baseline_path: str | None, platform: str | None, insecure_registries: tuple[str, ...],
    no_cache: bool,
) -> int:  # fmt: skip
    """Audit every image of a registry (or of some repositories) and record the run.

    An image whose digest was audited before with the same checks is `unchanged`: not read
    again. Each image reports its findings `new` since the previous run that saw its
    repository, and those `fixed`. Runs are kept in a store (`inspector runs`). Exit status: 0
    no new finding at or above --fail-on, 1 at least one, 2 discovery failed or an image could
    not be read (the report still covers every other image).
    """
    from inspector.scan.command import layer_cache_for, parse_duration, parse_share, store_url
    from inspector.scan.select import parse_since
    from inspector.scan.store import Store

    if finish and not run_id:
        raise click.UsageError("--finish needs --run ID: the run to report")
    share = parse_share(shard, shards)
    url = store_url(db)
    if share.shards > 1 and not run_id:
        raise click.UsageError("shards of one run must share it: give --run ID")
    files_checked = _outputs(outputs, _SCAN_FORMATS)
    scan_setup = _scan(("-",), select, ignore, config_path, no_config, "never", no_cache,
                       platform, insecure_registries, True, 0.0, 0.0,
                       max_db_age=max_db_age)  # fmt: skip
    baseline_file = baseline_path or scan_setup.policy.baseline
    if baseline_file:
        from inspector.policy.baseline import read as read_baseline

        gate = replace(scan_setup.options.gate, baseline=read_baseline(Path(baseline_file)))
        scan_setup = replace(scan_setup, options=replace(scan_setup.options, gate=gate))
    threshold = fail_on or scan_setup.policy.fail_on or "high"
    store = Store(url)
    try:
        if finish:
            return _report_run(store, run_id or "", fmt, outputs, threshold, fail_on_existing,
                               exit_zero)  # fmt: skip
        from inspector.advisories.store import AdvisoryStore
        from inspector.scan.run import Scan, ScanOptions

        options = ScanOptions(
            target=target, repos=repos, repos_from=Path(repos_from) if repos_from else None,
            tags=tags, newest=newest, since=parse_since(since) if since else None,
            platform=platform, all_platforms=all_platforms, jobs=jobs,
            max_time=parse_duration(max_time) if max_time else None, shard=share.shard,
            shards=share.shards, run_id=run_id, insecure=insecure_registries,
            page_size=page_size, use_cache=not no_cache,
            max_db_age_days=scan_setup.options.max_db_age, expect=scan_setup.options.expect,
        )  # fmt: skip
        # The advisory database is the scan store's own (`inspector db update --db` the same).
        advisories = AdvisoryStore(store.url)
        scanner = Scan(options, scan_setup.checks, scan_setup.options.context,
                       scan_setup.options.gate, store, layer_cache_for(url),
                       progress_printer(), advisories)  # fmt: skip
        try:
            outcome = scanner.run()
        finally:
            advisories.close()
            if sys.stderr.isatty():
                click.echo("\r\033[K", err=True, nl=False)
        if keep_runs:
            store.prune(keep_runs, spare=outcome.run_id)
        if share.shards > 1:
            # One shard's share: its own images only; `--finish` reports the whole run.
            click.echo(f"shard {share.shard} of {share.shards} of run {outcome.run_id}: "
                       f"{outcome.audited} audited, {outcome.unchanged} unchanged, "
                       f"{outcome.errors} errors, {outcome.left_over} left")  # fmt: skip
            for name, _path in files_checked:
                click.echo(f"inspector: -o {name}: shards write no report; "
                           "`scan --finish --run ID` does", err=True)  # fmt: skip
            failed = outcome.errors or outcome.discovery_errors
            return EXIT_ERROR if failed else 0
        return _report_run(store, outcome.run_id, fmt, outputs, threshold, fail_on_existing,
                           exit_zero)  # fmt: skip
    finally:
        store.close()


@cli.group(invoke_without_command=True)
@click.option(
    "--db",
    metavar="URL",
    help="The scan store  [default: $INSPECTOR_DB, else the user's SQLite store]",
)
@click.option(
    "--limit",
    type=click.IntRange(1),
    default=20,
    show_default=True,
    help="How many of the newest runs to list.",
)
@click.pass_context
def runs(ctx: click.Context, db: str | None, limit: int) -> None:
    """List recorded scan runs, newest first (`runs show ID` reports one)."""
    if ctx.invoked_subcommand is not None:
        return
    from inspector.scan.command import store_url
    from inspector.scan.render import runs_table
    from inspector.scan.store import Store

    store = Store(store_url(db))
    try:
        click.echo(runs_table(store.runs(limit)))
    finally:
        store.close()


@runs.command(name="show")
@click.argument("run_id", metavar="ID")
@_run_report_options
def runs_show(run_id: str, fmt: str, outputs: tuple[str, ...], fail_on: str | None,
              fail_on_existing: bool, exit_zero: bool, db: str | None) -> int:  # fmt: skip
    """Report one run, with the exit status a scan would have given (2 while shards are
    missing). ID is a run's ID, `latest`, or its number in `inspector runs` (1 is the newest)."""
    from checks import catalog
    from inspector.scan.command import store_url
    from inspector.scan.store import Store

    threshold = fail_on or load(None, catalog()).fail_on or "high"
    store = Store(store_url(db))
    try:
        return _report_run(store, run_id, fmt, outputs, threshold, fail_on_existing,
                           exit_zero)  # fmt: skip
    finally:
        store.close()


_advisory_db_option = click.option(
    "--db", metavar="URL",
    help="The database: a SQLite path, or postgresql://USER@HOST/DB  [default: $INSPECTOR_DB, "
    "else scans.sqlite in the user's data directory, shared with scans]",
)  # fmt: skip


@cli.group(name="db", short_help="The offline advisory database: `db update`, `db status`.")
def advisory_db() -> None:
    """The offline advisory database: known vulnerabilities in PyPI, Debian, Ubuntu and Alpine
    packages, from OSV's exports.

    `db update` downloads them (or imports them from disk with --from); `db status` says what
    the database holds and how old it is. Audits match against it without the network.
    """


@advisory_db.command(
    name="update", short_help="Download OSV's advisories, or import them --from disk."
)
@_advisory_db_option
@click.option("--url", "base_url", metavar="BASE",
              help="Where the exports are: BASE/ECOSYSTEM/all.zip, as OSV publishes them  "
              "[default: OSV's public export]")  # fmt: skip
@click.option("--ecosystem", "ecosystems", multiple=True, metavar="NAME",
              help="An ecosystem to update, as OSV names its export: PyPI, Debian, Ubuntu, "
              "Alpine (repeatable)  [default: those four; with --from: every one found]",
              )  # fmt: skip
@click.option("--from", "source", metavar="DIR|ZIP",
              help="Import from disk instead of downloading, where there is no network: a "
              "directory laid out as OSV's export is (ECOSYSTEM/all.zip), or one such zip.",
              )  # fmt: skip
def db_update(db: str | None, base_url: str | None, ecosystems: tuple[str, ...],
              source: str | None) -> int:  # fmt: skip
    """Download OSV's advisories (or import them --from disk) into the database.

    Each ecosystem's records replace its previous ones at once; a download that fails or an
    archive that is damaged leaves them as they were (exit 2). Downloads are conditional (an
    unchanged export is not downloaded again) and resume where an interrupted one stopped.
    """
    from inspector.advisories.fetch import DEFAULT_BASE_URL, DEFAULT_ECOSYSTEMS, import_from
    from inspector.advisories.fetch import update as download
    from inspector.advisories.store import AdvisoryStore
    from inspector.scan.command import store_url

    if source and base_url:
        raise click.UsageError("give --from or --url, not both")
    store = AdvisoryStore(store_url(db))
    try:
        progress = progress_printer()

        def report(done: Any) -> None:
            click.echo(visible(done.describe()))

        if source:
            import_from(store, source, ecosystems, progress, report=report)
        else:
            base = base_url or DEFAULT_BASE_URL
            download(store, base, ecosystems or DEFAULT_ECOSYSTEMS, progress, report=report)
    finally:
        store.close()
    return 0


@advisory_db.command(name="status", short_help="What the database holds and how old it is.")
@_advisory_db_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="The report on stdout.")  # fmt: skip
def db_status(db: str | None, fmt: str) -> int:
    """What the database holds, per ecosystem: advisories, when imported, how old, from where."""
    from datetime import UTC, datetime

    from inspector.advisories import status
    from inspector.advisories.store import AdvisoryStore
    from inspector.scan.command import store_url

    store = AdvisoryStore(store_url(db))
    try:
        state = store.status()
    finally:
        store.close()
    render = status.as_json if fmt == "json" else status.table
    click.echo(render(state, datetime.now(UTC)), nl=False)
    return 0


@cli.command(name="checks")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table for people; json (id, name, severity, category, problem, sections) for tools.",
)
@click.option(
    "--category",
    "categories",
    multiple=True,
    type=click.Choice(list(CATEGORIES)),
    help="Only checks of this category (repeatable).",
)
def list_checks(fmt: str, categories: tuple[str, ...]) -> None:
    """List the check catalog: id, name, severity, category and the problem it finds."""
    from tabulate import tabulate

    from checks import catalog

    chosen = [c for c in catalog().values() if not categories or c.category in categories]
    if fmt == "json":
        rows = [
            {"id": c.id, "name": c.name, "severity": c.severity, "category": c.category,
             "problem": c.title, "sections": list(c.needs)}
            for c in chosen
        ]  # fmt: skip
        click.echo(json.dumps(rows, indent=2))
        return
    rows = [(c.id, c.name, c.severity, c.category, c.title) for c in chosen]
    click.echo(tabulate(rows, headers=["id", "name", "severity", "category", "problem"]))


@cli.command()
@click.argument("check_id", metavar="ID")
def explain(check_id: str) -> int:
    """Print one check's documentation: what, why, an example, the fix, references."""
    import difflib

    from checks import catalog
    from checks.docs import explain as page

    checks = catalog().values()
    found = {c.id.lower(): c for c in checks}
    found.update({c.name: c for c in checks})
    check = found.get(check_id.lower())
    if check is None:
        names = [c.id for c in checks] + [c.name for c in checks]
        # `py1`, `PY01`: the id with its number written short.
        short = re.fullmatch(r"([a-z]+)0*(\d{1,3})", check_id.lower())
        padded = f"{short.group(1).upper()}{int(short.group(2)):03d}" if short else ""
        close = [padded] if padded.lower() in found else []
        close = close or difflib.get_close_matches(check_id.upper(), [c.id for c in checks], n=1)
        close = close or difflib.get_close_matches(check_id.lower(), names, n=1, cutoff=0.5)
        hint = f"did you mean {close[0]}?" if close else "`inspector checks` lists them"
        click.echo(visible(f"inspector: error: no check {check_id!r}; {hint}"), err=True)
        return EXIT_ERROR
    click.echo(page(check), nl=False)
    return 0


@cli.command()
@click.option(
    "--all", "everything", is_flag=True, help="Also remove probes of runs still in progress."
)
def cleanup(everything: bool) -> int:
    """Remove probe containers left behind by a run that was killed.

    Probe containers carry the label `inspector.probe`; those whose run may still be in progress
    are kept unless --all is given: a run of this host whose process is alive, or a run of another
    host (a CI job or machine sharing the engine) whose time bound has not passed. Exits 2 when
    a container that was due could not be removed, naming it and the engine's reason.
    """
    from inspector.probes.containers import cleanup as remove_leftovers
    from inspector.sources.daemon import connect

    client = connect()
    try:
        found = remove_leftovers(client, everything)
    finally:
        client.close()
    for leftover in found:
        what = f"{leftover.name} ({leftover.role} probe of {leftover.image})"
        if leftover.error is not None:
            click.echo(said(f"not removed {what}: {leftover.why}; the engine said: "
                            f"{leftover.error}"), err=True)  # fmt: skip
        else:
            verb = "removed" if leftover.removed else "kept"
            click.echo(said(f"{verb} {what}: {leftover.why}"))
    if not found:
        click.echo("no probe containers found")
    failed = sum(1 for leftover in found if leftover.error is not None)
    if failed:
        click.echo(
            f"inspector: {failed} probe container(s) could not be removed; "
            "fix what the engine said and run `inspector cleanup` again",
            err=True,
        )
        return EXIT_ERROR
    return 0


# --- `inspector diff OLD NEW` (inspector/diff/, docs/diff.md) -----------------------------------
_DIFF_FORMATS = ("table", "json", "markdown")


def _new_severity(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """`--fail-on new:SEVERITY` -> SEVERITY; anything else is a usage error (exit 2)."""
    if value is None:
        return None
    kind, _, severity = value.partition(":")
    if kind != "new" or severity not in SEVERITIES:
        raise click.BadParameter(f"{value!r}: expected new:SEVERITY, SEVERITY one of "
                                 f"{', '.join(SEVERITIES)}")  # fmt: skip
    return severity


@cli.command(name="diff")
@click.argument("old_ref", metavar="OLD")
@click.argument("new_ref", metavar="NEW")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(_DIFF_FORMATS),
    default="table",
    show_default=True,
    help="The diff on stdout: a terminal table, versioned JSON "
    "(docs/diff.md), or Markdown for a release note or a merge request.",
)
@click.option(
    "-o",
    "--output",
    "outputs",
    multiple=True,
    metavar="FORMAT=FILE",
    help="Also write the diff in FORMAT to FILE (repeatable).",
)
@click.option(
    "--fail-on",
    "fail_on",
    metavar="new:SEVERITY",
    callback=_new_severity,
    help="Exit 1 when NEW has a finding at SEVERITY or above that OLD did not have.",
)
@_policy_options
@_read_options
@click.option(
    "--no-probe",
    is_flag=True,
    help="Do not run the images; runtime checks and facts are not compared.",
)
@_probe_options
@_vuln_options
def diff_images(old_ref: str, new_ref: str, fmt: str, outputs: tuple[str, ...],
                fail_on: str | None, **scan_args: Any) -> int:  # fmt: skip
    """What changed from OLD to NEW: identity, config, size per layer, OS packages and Python
    distributions, known vulnerabilities, findings new, fixed and still present, and the
    runtime facts that moved.

    OLD and NEW take the same forms as REF for `facts` (registry:HOST/REPO:TAG for the release
    out there, a local tag for the build about to replace it). Layers the two share are read
    once. Exit status: 0, or 1 when --fail-on new:SEVERITY finds a new finding at or above it;
    2 when either image cannot be read.
    """
    from inspector.diff import json as diff_json
    from inspector.diff import markdown as diff_markdown
    from inspector.diff import table as diff_table
    from inspector.diff.run import diff as compute_diff

    renderers = {"table": diff_table.render, "json": diff_json.render,
                 "markdown": diff_markdown.render}  # fmt: skip
    files = _outputs(outputs, _DIFF_FORMATS)
    scan = _scan((old_ref, new_ref), **scan_args)
    try:
        result = compute_diff(old_ref, new_ref, scan.checks, scan.options, fail_on=fail_on,
                              progress=progress_printer())  # fmt: skip
    finally:
        if sys.stderr.isatty():
            click.echo("\r\033[K", err=True, nl=False)
    click.echo(renderers[fmt](result), nl=False)
    for name, path in files:
        try:
            Path(path).write_text(renderers[name](result), encoding="utf-8")
        except OSError as exc:
            raise InspectorError(f"cannot write the {name} diff to {path}: {exc}") from exc
    return 1 if result.gate.failed else 0


def said(line: str) -> str:
    """A progress or error line as printed: credentials masked (an error may quote what the
    user typed, `https://user:password@...`, or what the image holds) and made visible."""
    from inspector.analysers.secrets import redact_text

    return visible(redact_text(line) or "")


def progress_printer():  # type: ignore[no-untyped-def]
    """Progress on stderr only when a person watches it."""
    if not sys.stderr.isatty():
        return lambda message: None
    return lambda message: click.echo(f"\r\033[K{said(message)}", err=True, nl=False)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so probe containers are removed on the way out."""


# Every SIGINT and SIGTERM received, in order. A signal handler runs between two bytecodes of
# the main thread, even inside another handler or inside a lock's critical section (an Event's
# set() holds a lock a nested handler would wait for forever), so the handler only appends to a
# list (one atomic step), writes with os.write (no buffered stream's lock) and raises.
_signals: list[int] = []
_STILL_CLEANING = b"inspector: still cleaning up (removing probe containers)\n"


def _stopping() -> bool:
    return bool(_signals)


def _interrupted(signum: int, frame: object) -> None:
    # The first SIGINT or SIGTERM stops the run; the ones after it (a second Ctrl-C, `timeout`
    # or a CI runner signalling the whole process group) must not stop the cleanup it starts,
    # removing probe containers on the way out, nor turn the exit status into a signal death.
    _signals.append(signum)
    if len(_signals) > 1:
        # A later one, or one nested in the first handler before it raised: the first decides.
        with contextlib.suppress(OSError):
            os.write(2, _STILL_CLEANING)
        return
    if signum == signal.SIGTERM:
        raise Terminated()
    raise KeyboardInterrupt()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code instead of exiting (tests call this)."""
    _signals.clear()
    previous = {s: signal.signal(s, _interrupted) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return _main(argv)
    except Terminated:
        click.echo("inspector: terminated", err=True)
        return 143
    except KeyboardInterrupt:  # raised outside click's own handling, e.g. between commands
        click.echo("inspector: aborted", err=True)
        return 130
    finally:
        # Once stopping, the handlers stay: a late signal must not kill the exit itself.
        if not _stopping():
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def _main(argv: list[str] | None) -> int:
    try:
        result = cli.main(args=argv, prog_name="inspector", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return EXIT_ERROR
    except click.Abort as exc:
        if isinstance(exc.__context__, Terminated):
            raise exc.__context__ from None
        click.echo("inspector: aborted", err=True)
        return 130
    except InspectorError as exc:
        click.echo(said(f"inspector: error: {exc}"), err=True)
        return EXIT_ERROR
    except Exception:  # a bug: never let it pass for a verdict (0 or 1)
        click.echo("inspector: internal error (a bug; please report it with this trace):", err=True)
        click.echo(traceback.format_exc(), err=True, nl=False)
        return EXIT_ERROR
    return result if isinstance(result, int) else 0


def run() -> None:
    code = main()
    # The exit status is decided: a signal arriving now (during interpreter shutdown, which
    # restores the default handlers) would only turn it into a signal death. Hold them off.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    sys.exit(code)
