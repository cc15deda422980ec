"""Each path of the JSON report (`inspector audit --format json`, inspector/report/json.py): its
type and one sentence, rendered to docs/report.md by scripts/gen_report_doc.py.

Tests fail when a real report has a path described nowhere here, or a kind its type does not
allow, or a value outside `values`; and when a path described here is one report/json.py no longer
writes. Findings and suppressed findings share one shape, written once and expanded below.
Paths are listed in the order report/json.py writes them, which is the order docs/report.md shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from checks.model import CATEGORIES, SEVERITIES

STATUSES = ("passed", "failed", "skipped", "error")
ADVISORY_STATUSES = ("matched", "no-database", "disabled", "error")
REACHABILITY = ("importable", "not-importable", "deleted", "installed")
VULN_SEVERITIES = ("unknown", "low", "medium", "high", "critical")
SUPPRESSED_BY = ("ignore", "baseline")


@dataclass(frozen=True)
class Field:
    type: str  # as docs/report.md shows it: "string", "integer or null", "array of strings"
    text: str  # one sentence; an enumeration says what each value means
    values: tuple[str, ...] = ()  # for an enumeration: every value it takes, each named in text


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f'"{v}"' for v in values)


FIELDS: dict[str, Field] = {
    # --- top level ----------------------------------------------------------------------------
    "schema_version": Field(
        "integer",
        "Version of this JSON layout, bumped when a field is removed or renamed or changes type "
        "or meaning; check it before reading anything else.",
    ),
    "tool": Field("object", "What wrote the report."),
    "tool.name": Field("string", 'Always "inspector".'),
    "tool.version": Field("string", "inspector's version, as `inspector --version` prints it."),
    "fail_on": Field(
        "string",
        "The gate's threshold (`--fail-on` or the policy's `fail-on`): findings at this "
        "severity or above fail it.",
    ),
    # --- images -------------------------------------------------------------------------------
    "images[]": Field("array", "One entry per REF, in the order given on the command line."),
    "images[].reference": Field("string", "The REF as given on the command line, verbatim."),
    "images[].id": Field(
        "string or null",
        "The image ID, `sha256:<hex>` (as `image.id` in docs/facts.md); null when the image "
        "could not be audited.",
    ),
    "images[].digest": Field(
        "string or null",
        "The repository digest or the OCI manifest digest (as `image.digest` in docs/facts.md); "
        "null when the image has none (built locally and never pushed, a `docker save` archive) "
        "or could not be audited.",
    ),
    "images[].error": Field(
        "string or null",
        "Why the image could not be audited (no such image, unreadable archive, engine "
        "unreachable); then `results` is empty and the exit status is 2. Null otherwise.",
    ),
    "images[].verdict": Field(
        "string",
        "The gate's decision on this image in one line, as every format states it: \"gate "
        'passed", "gate failed: 2 high (COR004, SEC001)", "gate failed: inconclusive start '
        '(...)" when the policy fails an inconclusive start, or "no verdict: ..." when the image '
        "or a check could not be audited (exit 2).",
    ),
    "images[].passed": Field(
        "boolean or null",
        "Whether this image passes the gate (no counted finding at `fail_on` or above, and no "
        "inconclusive start the policy fails); null when there is no verdict.",
    ),
    "images[].inconclusive": Field(
        "string or null",
        "Why the probes could not judge the app's start (it waited for configuration or a "
        "service, or was killed for memory): the start is neither a pass nor a fail unless the "
        'policy says `inconclusive = "fail"`. Null when they could, or did not run.',
    ),
    "images[].runtime": Field(
        "object or null",
        "Whether the runtime probes ran, as `runtime.*.status` and `.reason` in docs/facts.md: "
        "checks that need a probe that did not run are skipped. Null when the image could not "
        "be audited.",
    ),
    "images[].runtime.static": Field("object", "The static probe (the image's Python on itself)."),
    "images[].runtime.static.status": Field(
        "string",
        '"ran", or why not: "skipped" (--no-probe), "not-applicable", "could-not-start", '
        '"failed" or "timeout" (see `runtime.static.status` in docs/facts.md).',
    ),
    "images[].runtime.static.reason": Field(
        "string or null", "Why the static probe did not run or report; null when it ran."
    ),
    "images[].runtime.lifecycle": Field(
        "object", "The lifecycle probe (the image started, watched and stopped as a user would)."
    ),
    "images[].runtime.lifecycle.status": Field(
        "string",
        '"ran", or why not: "skipped" (--no-probe), "not-applicable", "could-not-start" or '
        '"exited-early" (see `runtime.lifecycle.status` in docs/facts.md).',
    ),
    "images[].runtime.lifecycle.reason": Field(
        "string or null",
        "Why the lifecycle probe did not run, or what its status means; else null.",
    ),
    "images[].counts": Field(
        "object",
        "Findings that count for the gate, by severity, every severity present (0 included); "
        "suppressed findings are not counted.",
    ),
    **{
        f"images[].counts.{severity}": Field(
            "integer", f"Number of {severity} findings that count."
        )
        for severity in SEVERITIES
    },
    "images[].suppressed": Field(
        "integer",
        "How many findings the policy's ignores or the baseline accepted (listed in each "
        "result's `suppressed`).",
    ),
    "images[].notices": Field(
        "array of strings",
        "What the reader should know about this audit of the image: an ignore that expired (its "
        "findings count again), baseline entries no longer found, a --dockerfile that does not "
        "match the image's history; empty when there is nothing.",
    ),
    # --- the advisory database ------------------------------------------------------------------
    "images[].advisories": Field(
        "object or null",
        "The advisory database the image's known vulnerabilities were matched against; null when "
        "the image could not be audited.",
    ),
    "images[].advisories.status": Field(
        "string",
        '"matched" (the database answered), "no-database" (none at the location, or it holds '
        'nothing the image needs: see `note`), "disabled" (`--no-vulns`) or "error" (the store '
        "could not be read: see `note`).",
        ADVISORY_STATUSES,
    ),
    "images[].advisories.location": Field(
        "string or null", "The store's path or URL (never a password); null when none was read."
    ),
    "images[].advisories.updated": Field(
        "string or null",
        "RFC 3339 UTC: when the ecosystems the image needs were last imported (the oldest of "
        "them); null when none was read.",
    ),
    "images[].advisories.age_days": Field(
        "integer or null", "How many days old `updated` was when the audit ran."
    ),
    "images[].advisories.max_age_days": Field(
        "integer or null",
        "`--max-db-age` (or the policy's `max-db-age`): an older database is a notice.",
    ),
    "images[].advisories.note": Field(
        "string or null", "Why vulnerabilities were not matched; null when they were."
    ),
    "images[].advisories.ecosystems": Field(
        "array of strings", 'The ecosystems the image needs matched, e.g. ["Debian:12", "PyPI"].'
    ),
    "images[].advisories.missing": Field(
        "array of strings",
        "Of those, the ones the database holds no advisories for (a notice says so).",
    ),
    # --- results ------------------------------------------------------------------------------
    "images[].results[]": Field(
        "array",
        "One result per check that was selected, sorted by check id; empty when the image could "
        "not be audited.",
    ),
    "images[].results[].check": Field("string", 'The check\'s id, e.g. "SEC001".'),
    "images[].results[].name": Field("string", 'The check\'s name, e.g. "runs-as-root".'),
    "images[].results[].category": Field(
        "string", f"The check's category: {_quoted(CATEGORIES)}.", CATEGORIES
    ),
    "images[].results[].severity": Field(
        "string",
        "The check's severity, after the policy's `[severity]` overrides: "
        f"{_quoted(SEVERITIES)}; a finding may carry another.",
        SEVERITIES,
    ),
    "images[].results[].status": Field(
        "string",
        '"passed" (it ran and nothing it found counts: no finding, or all of them suppressed), '
        '"failed" (at least one finding counts), "skipped" (it could not decide: a probe it '
        'needs did not run, or the facts lack what it needs; see `reason`) or "error" (the check '
        "crashed: a bug, reported as exit 2; see `reason`).",
        STATUSES,
    ),
    "images[].results[].reason": Field(
        "string or null", "Why the check was skipped, or the error it raised; null otherwise."
    ),
}

# --- findings and suppressed findings share one shape -------------------------------------------

_FINDING_FIELDS: dict[str, Field] = {
    "check": Field("string", "The id of the check that found it."),
    "severity": Field(
        "string",
        f"{_quoted(SEVERITIES)}: the check's own, or the one the check gave this finding, or "
        "the one the policy's `[severity]` sets for the check (which wins).",
        SEVERITIES,
    ),
    "message": Field("string", "What is wrong, with the numbers (sizes, counts, names)."),
    "location": Field(
        "object",
        "Where it is, as parts: each key below is present only when known (never null), and an "
        "empty object means the image as a whole.",
    ),
    "location.config": Field(
        "string", 'The image config field, e.g. "User", "Cmd", "Env.PYTHONFAULTHANDLER".'
    ),
    "location.layer": Field(
        "integer",
        "The layer's number as `where` shows it: 1 is the bottom (base) layer, counting up in "
        "build order, so it is `layers[N-1]` in docs/facts.md; `created_by` says which history "
        "step (Dockerfile instruction) made it.",
    ),
    "location.created_by": Field(
        "string", "The history step that made `layer`, as the builder recorded it."
    ),
    "location.path": Field("string", "The path in the image's filesystem."),
    "location.runtime": Field(
        "string", 'What a runtime probe saw it in, e.g. "lifecycle probe: pid 1".'
    ),
    "location.expectation": Field(
        "string",
        "The expectation file (as --expect or the policy's `expect` named it) and the test, "
        "e.g. \"ci/cst.yaml: test 'python runs'\".",
    ),
    "location.dockerfile": Field(
        "object",
        "With --dockerfile, when the finding is in a layer: the instruction that made the layer; "
        "when it is about a config field (USER, CMD, ENV...): the instruction that set it, or "
        "the final FROM when the base image did.",
    ),
    "location.dockerfile.path": Field(
        "string",
        "The --dockerfile path: relative to the working directory when inside it, else absolute.",
    ),
    "location.dockerfile.line": Field(
        "integer", "The line (1-based) where the instruction starts."
    ),
    "where": Field(
        "string",
        'The location as one readable line, e.g. "/root/.cache/pip; layer 4: RUN pip install '
        '…"; "image" when the location is empty.',
    ),
    "fix": Field("string", "The one-line fix."),
    "rule": Field(
        "string or null",
        "Which of the check's rules matched, for checks that have several (a secret's kind, "
        'e.g. "github-token" or "aws-secret-access-key"); `[[ignores]]` can accept findings by '
        "it (`rules`); null otherwise. For a known vulnerability, its id.",
    ),
    "vulnerability": Field(
        "object or null",
        "For a known vulnerability (SEC030, SEC031), what it is, in fields; null otherwise.",
    ),
    "vulnerability.id": Field(
        "string", "The vulnerability's id: its CVE when it has one, else the first OSV id."
    ),
    "vulnerability.aliases": Field(
        "array of strings",
        "Its other ids (GHSA, PYSEC, DSA, ... and the OSV records); `[[ignores]]` "
        "`vulnerabilities` match any of them.",
    ),
    "vulnerability.summary": Field("string or null", "The advisory's one-line summary."),
    "vulnerability.url": Field("string or null", "The advisory's page."),
    "vulnerability.severity": Field(
        "string",
        f"The advisory's severity before reachability: {_quoted(VULN_SEVERITIES)} (unknown is "
        "reported as medium).",
        VULN_SEVERITIES,
    ),
    "vulnerability.score": Field(
        "number or null", "The CVSS base score, when a vector decided the severity."
    ),
    "vulnerability.ecosystem": Field("string", 'Matched in: "Debian:12", "PyPI", ...'),
    "vulnerability.package": Field(
        "string", "The PyPI distribution, or the OS source package the advisory names."
    ),
    "vulnerability.installed": Field(
        "string", "The installed version (the source version for OS packages)."
    ),
    "vulnerability.fixed": Field(
        "string or null", "The lowest version that fixes it; null when there is no fix yet."
    ),
    "vulnerability.reachability": Field(
        "string",
        '"importable" (the command\'s interpreter can import it), "not-importable" (on disk '
        'out of its reach: info), "deleted" (deleted by a later layer, still shipped: info) or '
        '"installed" (an installed OS package).',
        REACHABILITY,
    ),
    "vulnerability.environment": Field(
        "string or null",
        "For Python, the site-packages (or vendoring package) directory it sits in.",
    ),
}

_FINDINGS = "images[].results[].findings[]"
_SUPPRESSED = "images[].results[].suppressed[]"
FIELDS[_FINDINGS] = Field(
    "array",
    "What the check found that counts for the gate (the policy's severities applied); empty "
    "when it passed, was skipped or crashed.",
)
FIELDS.update({f"{_FINDINGS}.{name}": field for name, field in _FINDING_FIELDS.items()})
FIELDS[_SUPPRESSED] = Field(
    "array",
    "What the check found that the policy's ignores or the baseline accept: shown, never "
    "counted; each is a finding plus `suppression`.",
)
FIELDS.update({f"{_SUPPRESSED}.{name}": field for name, field in _FINDING_FIELDS.items()})
FIELDS.update(
    {
        f"{_SUPPRESSED}.suppression": Field("object", "Why the finding does not count."),
        f"{_SUPPRESSED}.suppression.by": Field(
            "string",
            '"ignore" (an `[[ignores]]` entry of the policy matched it) or "baseline" (the '
            "baseline lists it).",
            SUPPRESSED_BY,
        ),
        f"{_SUPPRESSED}.suppression.reason": Field(
            "string", 'The ignore\'s `reason`, or "in the baseline".'
        ),
        f"{_SUPPRESSED}.suppression.source": Field(
            "string",
            'Where it comes from: the policy file and entry (".inspector.toml: ignores[0]"), or '
            "the baseline file's path.",
        ),
        f"{_SUPPRESSED}.suppression.expires": Field(
            "string or null",
            "The ignore's `expires` date (YYYY-MM-DD), after which it stops applying; null when "
            "it never expires, and for the baseline.",
        ),
    }
)
