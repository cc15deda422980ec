"""Each path of the scan report (`inspector scan --format json`, inspector/scan/render.py): its
type and one sentence, rendered into docs/scan.md by scripts/gen_scan_doc.py.

Tests fail when a real scan report has a path described nowhere here, a kind its type does not
allow or a value outside `values`, and when a path described here is one render.py no longer
writes. The findings of `findings`, `new` and `fixed` share one shape, written once and
expanded below. Paths are listed in the order render.py writes them.
"""

from __future__ import annotations

from checks.model import SEVERITIES
from inspector.report.fields import Field

RUN_STATUSES = ("running", "complete", "partial", "failed")
IMAGE_STATUSES = ("audited", "unchanged", "error")
DATABASE_STATUSES = ("current", "stale", "missing", "error", "disabled", "unknown")
MATCH_STATUSES = ("matched", "no-database", "error")
TAG_CHANGES = ("added", "moved", "same")


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f'"{v}"' for v in values)


FIELDS: dict[str, Field] = {
    # --- top level ----------------------------------------------------------------------------
    "schema_version": Field(
        "integer",
        "Version of this JSON layout, bumped when a field is removed or renamed or changes type "
        "or meaning; check it before reading anything else.",
    ),
    "kind": Field(
        "string",
        'Always "inspector-scan": tells this document from an audit report '
        "(docs/report.md), which has no `kind`.",
        ("inspector-scan",),
    ),
    "tool": Field("object", "What wrote the report."),
    "tool.name": Field("string", 'Always "inspector".', ("inspector",)),
    "tool.version": Field(
        "string",
        "The version of the inspector that rendered the report (the run's audits may be older: "
        "`unchanged` images carry results over).",
    ),
    # --- run ----------------------------------------------------------------------------------
    "run": Field("object", "The run: one scan of a registry, by one process or by all its shards."),
    "run.id": Field(
        "string",
        "The run's id: `--run ID`, or one made up at the start (UTC time and 6 hex digits, "
        'e.g. "20261126T010000Z-3fa2c1"); `inspector runs show ID` reports it again.',
    ),
    "run.scope": Field("string", 'The target as given, e.g. "registry:registry.example/team".'),
    "run.started": Field(
        "string", "When the first shard started, ISO 8601 in UTC (microseconds, with +00:00)."
    ),
    "run.finished": Field(
        "string or null",
        "When the last shard finished, ISO 8601 in UTC; null while a shard is still running.",
    ),
    "run.status": Field(
        "string",
        '"running" (a shard has not finished: the report is incomplete and the exit status 2), '
        '"complete" (every shard scanned its whole share), "partial" (a shard stopped at '
        '--max-time: `summary.left_over` images wait for the next run) or "failed" (a shard '
        "could not discover what to scan: `discovery_errors` says why; the exit status is 2).",
        RUN_STATUSES,
    ),
    "run.shards": Field("integer", "How many shards the run was split into (1 without --shard)."),
    "run.shards_done": Field(
        "integer", "How many of them have finished; the run is complete when it equals `shards`."
    ),
    # --- summary ------------------------------------------------------------------------------
    "summary": Field("object", "The run in numbers: every image recorded so far, by every shard."),
    "summary.repositories": Field("integer", "Repositories with at least one image in the run."),
    "summary.images": Field(
        "integer",
        "Images in the run (one per manifest digest and platform, whatever number of tags names "
        "it): `audited` + `unchanged` + `errors`.",
    ),
    "summary.audited": Field(
        "integer",
        "Images read and checked by this run: never seen, or seen under another catalog key.",
    ),
    "summary.unchanged": Field(
        "integer",
        "Images whose digest was audited before under the same catalog key: not read again, their "
        "stored results carried over.",
    ),
    "summary.rematched": Field(
        "integer",
        "Of the `unchanged` images, those matched again against the advisory database because it "
        "was updated since they were matched: their stored inventory was matched, no layer read.",
    ),
    "summary.errors": Field("integer", "Images that could not be read (see `images[].error`)."),
    "summary.left_over": Field(
        "integer",
        "Images not started before --max-time ran out; the next run starts with them. Not in "
        "`images`.",
    ),
    "summary.discovery_errors": Field(
        "integer", "Repositories or tags that could not be listed or resolved (`discovery_errors`)."
    ),
    "summary.unique_layers": Field(
        "integer", "Distinct layers (by diff_id) in the run's readable images."
    ),
    "summary.layers_read": Field(
        "integer",
        "Layers this run read (downloaded and parsed); the others came from the layer cache. "
        "With a shared PostgreSQL cache, at most `unique_layers` for the whole fleet.",
    ),
    "summary.findings": Field("integer", "Findings that count, over every image."),
    "summary.vulnerabilities": Field(
        "integer",
        "Of them, the findings of the vulnerability checks (known vulnerabilities of installed "
        "packages), over every image.",
    ),
    "summary.new": Field("integer", "Of them, new since the previous run (`images[].new`)."),
    "summary.fixed": Field("integer", "Findings fixed since the previous run (`images[].fixed`)."),
    "summary.open": Field(
        "object",
        "Findings open now over every image, by severity, every severity present (0 "
        "included): the same as `summary.findings`, split.",
    ),
    **{
        f"summary.open.{severity}": Field("integer", f"Number of open {severity} findings.")
        for severity in SEVERITIES
    },
    "summary.moved": Field(
        "integer",
        "Tags that name another digest than in the previous run that saw their repository "
        "(`images[].tag_changes` with change `moved`).",
    ),
    "not_judged": Field(
        "array of strings",
        "Ids of the checks a scan cannot judge, sorted: they need the image running in a probe "
        "container (start-up, PID 1, signals, the effective user), and a scan runs none. "
        "`inspector audit` on a Docker engine judges them.",
    ),
    # --- the advisory database ---------------------------------------------------------------
    "database": Field(
        "object",
        "The advisory database the run matched installed packages against: the scan store's "
        "unless --db names another.",
    ),
    "database.status": Field(
        "string",
        '"current" (imported within --max-db-age), "stale" (older: `notice` says so), "missing" '
        '(it holds no advisories: nothing was matched), "error" (it could not be read), '
        '"disabled" (the run matched nothing) or "unknown" (a run recorded by an older '
        "inspector).",
        DATABASE_STATUSES,
    ),
    "database.location": Field(
        "string or null", "The store's path or URL (never with its password); null if unknown."
    ),
    "database.updated": Field(
        "string or null",
        "When its oldest export was imported, ISO 8601 in UTC: the date of the advisories the "
        "run matched against; null when it holds none.",
    ),
    "database.notice": Field(
        "string or null",
        "One line for the reader when the database is missing, stale or unreadable (the table "
        "and Markdown show it once, under the headline); null otherwise.",
    ),
    "database.ecosystems[]": Field(
        "array", "Each ecosystem export the database holds (PyPI, Debian, Ubuntu, Alpine)."
    ),
    "database.ecosystems[].name": Field("string", 'The export\'s ecosystem, e.g. "Debian".'),
    "database.ecosystems[].advisories": Field("integer", "Advisories stored from it."),
    "database.ecosystems[].imported": Field(
        "string", "When it was last imported, ISO 8601 in UTC."
    ),
    "database.ecosystems[].newest": Field(
        "string or null", "The newest `modified` time among its advisories."
    ),
    # --- discovery errors ---------------------------------------------------------------------
    "discovery_errors[]": Field(
        "array",
        "What discovery could not list or resolve; each shard lists the errors it met. Any entry "
        "makes the exit status 2.",
    ),
    "discovery_errors[].repository": Field(
        "string", 'The repository, or "REPOSITORY:TAG" for a tag that could not be resolved.'
    ),
    "discovery_errors[].error": Field("string", "What went wrong, as one line."),
    # --- images -------------------------------------------------------------------------------
    "images[]": Field(
        "array",
        "One entry per image (a manifest digest and platform in a repository), sorted by "
        "repository, then in the order each shard recorded them.",
    ),
    "images[].registry": Field("string", 'The registry host (and port), e.g. "registry.example".'),
    "images[].repository": Field("string", 'The repository on it, e.g. "team/app".'),
    "images[].tags": Field(
        "array of strings",
        "Every tag that named this digest during the scan, sorted; tags on one digest are one "
        "image, audited once.",
    ),
    "images[].digest": Field("string", "The manifest digest read, `sha256:<hex>`."),
    "images[].platform": Field(
        "string or null",
        'The platform of a multi-platform index, e.g. "linux/arm64/v8", with --all-platforms '
        "or --platform; null for the default platform.",
    ),
    "images[].image_id": Field(
        "string or null", "The image ID (config digest); null when the image could not be read."
    ),
    "images[].created": Field(
        "string or null",
        "The image config's `created` time as the builder wrote it; null when it has none or "
        "the image could not be read.",
    ),
    "images[].status": Field(
        "string",
        '"audited" (read and checked by this run), "unchanged" (audited before under the same '
        'catalog key: not read, results carried over) or "error" (could not be read: see `error`).',
        IMAGE_STATUSES,
    ),
    "images[].error": Field(
        "string or null",
        "Why the image could not be read (manifest unknown, a blob that fails its digest, "
        "denied), as one line; null otherwise. Makes the exit status 2.",
    ),
    "images[].counts": Field(
        "object",
        "Findings that count, by severity, every severity present (0 included); suppressed "
        "findings are not counted.",
    ),
    **{
        f"images[].counts.{severity}": Field(
            "integer", f"Number of {severity} findings that count."
        )
        for severity in SEVERITIES
    },
    "images[].vulnerabilities": Field(
        "object or null",
        "The image's known vulnerabilities: null when they were not matched (no advisory "
        "database, or an audit recorded before inspector matched them).",
    ),
    "images[].vulnerabilities.status": Field(
        "string",
        '"matched" (against the database), "no-database" (it held nothing for the image\'s '
        'ecosystems) or "error" (the database could not be read then: the next run matches it '
        "again).",
        MATCH_STATUSES,
    ),
    "images[].vulnerabilities.database": Field(
        "string or null",
        "The date of the advisories they were matched against (`database.updated` then); null "
        "when there were none.",
    ),
    "images[].vulnerabilities.rematched": Field(
        "boolean",
        "True for an `unchanged` image matched again by this run because the database was "
        "updated since: its stored inventory was matched, no layer read.",
    ),
    "images[].vulnerabilities.counts": Field(
        "object", "The vulnerability checks' findings that count, by severity (0 included)."
    ),
    **{
        f"images[].vulnerabilities.counts.{severity}": Field(
            "integer", f"Number of {severity} vulnerability findings that count."
        )
        for severity in SEVERITIES
    },
    "images[].layers_read": Field(
        "integer", "Layers this image's audit read itself (0 when unchanged or all cached)."
    ),
    "images[].tag_changes[]": Field(
        "array",
        "What happened to each of this image's tags since the previous run that saw the "
        "repository, one entry per tag, sorted; separate from `status`, which says what "
        "happened to the digest (a digest carried over unchanged may still be where a tag "
        "moved to). Empty for an image that could not be read.",
    ),
    "images[].tag_changes[].tag": Field("string", "The tag."),
    "images[].tag_changes[].change": Field(
        "string",
        '"added" (the previous run did not see this tag), "moved" (it named another digest '
        'then: `from`) or "same" (it named this digest then too).',
        TAG_CHANGES,
    ),
    "images[].tag_changes[].from": Field(
        "string or null",
        "The digest the tag named in the previous run; null for an added tag.",
    ),
    "images[].suppressed": Field(
        "integer", "Findings the policy's `[[ignores]]` accepted: not listed, never counted."
    ),
    "images[].check_errors": Field(
        "array of strings",
        '"CHECK: error" for each check that crashed on this image (a bug); any makes the exit '
        "status 2.",
    ),
    "images[].notices": Field(
        "array of strings",
        "What the reader should know about this image's gate, e.g. an ignore that expired (its "
        "findings count again); empty when there is nothing.",
    ),
}

# --- findings, new and fixed share one shape ------------------------------------------------------

_FINDING_FIELDS: dict[str, Field] = {
    "fingerprint": Field(
        "string",
        "The finding's identity across rebuilds, retags and probe modes (64 hex digits): the "
        "check, the repository and the finding's subject (config field, path, rule, named "
        "subject), never its message; new and fixed compare these.",
    ),
    "check": Field("string", 'The id of the check that found it, e.g. "SEC001".'),
    "severity": Field(
        "string",
        f"{_quoted(SEVERITIES)}: the check's, the one it gave this finding, or the policy's "
        "`[severity]` override (which wins).",
        SEVERITIES,
    ),
    "message": Field("string", "What is wrong, with the numbers."),
    "where": Field(
        "string",
        'Where it is, as one readable line (layer, path, config field); "image" for the '
        "whole image.",
    ),
    "fix": Field("string", "The one-line fix."),
    "first_seen": Field(
        "string",
        "When the repository was first seen with this finding open, ISO 8601: the start of the "
        "earliest run of an unbroken series of runs that saw it on any image of the repository.",
    ),
}

_SHAPES = {
    "images[].findings[]": "Every finding that counts, worst severity first.",
    "images[].new[]": (
        "Findings judged per tag: not on the digest each of this image's tags named in the "
        "previous run, so a tag moved to a worse image shows what it brought even when other "
        "tags of the repository had those findings already. A tag seen for the first time is "
        "compared with the same digest under another tag, else with every image of the "
        "repository then. All of them on a repository's first run."
    ),
    "images[].fixed[]": (
        "Findings on the digest one of this image's tags named in the previous run that this "
        "image no longer has: what moving the tag fixed. Empty when no tag moved."
    ),
}
for _path, _text in _SHAPES.items():
    FIELDS[_path] = Field("array", _text)
    FIELDS.update({f"{_path}.{name}": field for name, field in _FINDING_FIELDS.items()})

# In the order render.py writes an image's keys, so docs/scan.md reads like a report.
_ORDER = (
    "registry", "repository", "tags", "digest", "platform", "image_id", "created", "status",
    "error", "counts", "vulnerabilities", "layers_read", "tag_changes", "findings", "new", "fixed",
    "suppressed", "check_errors", "notices",
)  # fmt: skip


def _position(path: str) -> tuple[int, int]:
    if not path.startswith("images[]."):
        return (0, 0)
    name = path.removeprefix("images[].").split(".")[0].removesuffix("[]")
    return (1, _ORDER.index(name))


FIELDS = dict(sorted(FIELDS.items(), key=lambda item: _position(item[0])))
