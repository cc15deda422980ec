"""Each path of `inspector diff --format json` (inspector/diff/json.py): its type and one
sentence, rendered to docs/diff.md by scripts/gen_diff_doc.py.

Tests fail when a real diff has a path described nowhere here, a kind its type does not allow
or a value outside `values`, and when a path described here is one the renderer no longer
writes. Shapes written more than once (an image, a named change, a finding) are written once
and expanded below. Paths are in the order json.py writes them.
"""

from __future__ import annotations

from checks.model import SEVERITIES
from inspector.report.fields import Field

CHANGES = ("added", "removed", "changed")
VERSION_CHANGES = ("added", "removed", "upgraded", "downgraded", "changed")
LAYER_STATUSES = ("shared", "added", "removed")
VULN_SEVERITIES = ("unknown", "low", "medium", "high", "critical")


def _side(name: str, what: str) -> dict[str, Field]:
    p = name
    return {
        p: Field("object", f"{what}, as read."),
        f"{p}.reference": Field("string", f"{name.upper()} as given on the command line."),
        f"{p}.id": Field("string or null", "The image ID, `sha256:<hex>` (its config's digest)."),
        f"{p}.digest": Field(
            "string or null",
            "The repository digest or the OCI manifest digest (what a deployment pulls by); "
            "null when the source knows none (a local build never pushed, an archive).",
        ),
        f"{p}.created": Field("string or null", "When the image was built, as its config says."),
        f"{p}.platform": Field("string or null", "os/architecture[/variant] of the image."),
        f"{p}.base": Field(
            "object",
            "The base the image says it was built on: its OCI `base.name` and `base.digest` "
            "labels (each null when absent).",
        ),
        f"{p}.base.name": Field("string or null", "`org.opencontainers.image.base.name`."),
        f"{p}.base.digest": Field("string or null", "`org.opencontainers.image.base.digest`."),
        f"{p}.layers": Field("integer", "How many layers it has."),
        f"{p}.layers_read": Field(
            "integer",
            "How many of them were read from the image itself; the others came from the layer "
            "cache (the layers the other image shares with it, read a moment before, or "
            "cached by an earlier run).",
        ),
        f"{p}.bytes": Field("integer", "Uncompressed bytes of all its layers."),
        f"{p}.visible_bytes": Field("integer", "Bytes of the files a container sees."),
        f"{p}.wasted_bytes": Field(
            "integer", "Bytes shipped in a layer but deleted or replaced by a later one."
        ),
        f"{p}.python": Field(
            "string or null",
            "The version of the Python the command runs: the static probe's exact one, else what "
            "the layers tell; null when unknown or when there is no Python.",
        ),
        f"{p}.user": Field("string", "USER as set; an empty string means root."),
    }


def _named(p: str, what: str, hidden: bool) -> dict[str, Field]:
    out = {
        p: Field("array", what),
        f"{p}.name": Field("string", "What moved."),
        f"{p}.change": Field(
            "string",
            '"added" (only NEW has it), "removed" (only OLD has it) or "changed".',
            CHANGES,
        ),
        f"{p}.old": Field(
            "string or null",
            "OLD's value (lists and objects as compact JSON); null when added"
            + (" or hidden." if hidden else "."),
        ),
        f"{p}.new": Field(
            "string or null",
            "NEW's value; null when removed" + (" or hidden." if hidden else "."),
        ),
        f"{p}.hidden": Field(
            "boolean",
            "True when the name looks like a secret's or the facts redacted the value: then "
            "neither value is shown, only that it moved."
            if hidden
            else "Always false here: these values are shown.",
        ),
    }
    return out


def _set(p: str, what: str) -> dict[str, Field]:
    return {
        p: Field("object", what),
        f"{p}.added": Field("array of strings", "Only NEW has these, sorted."),
        f"{p}.removed": Field("array of strings", "Only OLD has these, sorted."),
    }


def _versions(p: str, what: str) -> dict[str, Field]:
    return {
        p: Field("array", what),
        f"{p}.name": Field("string", "The package name (PyPI: normalised as PEP 503 does)."),
        f"{p}.change": Field(
            "string",
            '"added", "removed", "upgraded" or "downgraded" in the ecosystem\'s own version '
            'order (dpkg, apk, PEP 440), or "changed" when the versions cannot be ordered.',
            VERSION_CHANGES,
        ),
        f"{p}.old": Field("string or null", "OLD's version; null when added."),
        f"{p}.new": Field("string or null", "NEW's version; null when removed."),
    }


def _vulnerabilities(p: str, what: str) -> dict[str, Field]:
    return {
        p: Field("array", what),
        f"{p}.id": Field("string", "The vulnerability's id (OSV, GHSA, CVE, ...)."),
        f"{p}.severity": Field(
            "string",
            '"critical", "high", "medium", "low" or "unknown" (see docs/vulnerabilities.md).',
            VULN_SEVERITIES,
        ),
        f"{p}.ecosystem": Field("string", 'The OSV ecosystem ("PyPI", "Debian:12", ...).'),
        f"{p}.package": Field("string", "The vulnerable package."),
        f"{p}.installed": Field("string", "The version installed."),
        f"{p}.fixed": Field("string or null", "The first version with the fix; null when none."),
        f"{p}.where": Field(
            "string or null", "The environment (site-packages) or the package database."
        ),
    }


def _findings(p: str, what: str) -> dict[str, Field]:
    return {
        p: Field("array", what),
        f"{p}.fingerprint": Field(
            "string",
            "The finding's identity, as baselines and `scan` match it (computed with NEW's "
            "reference for both images: the same application under two names).",
        ),
        f"{p}.check": Field("string", "The check's id (`inspector explain ID`)."),
        f"{p}.severity": Field(
            "string",
            "The policy's severity for it: " + ", ".join(f'"{s}"' for s in SEVERITIES) + ".",
            SEVERITIES,
        ),
        f"{p}.message": Field("string", "What is wrong, with the numbers (for people)."),
        f"{p}.where": Field("string", "Where it is: config field, path, layer, history step."),
        f"{p}.fix": Field("string", "How to fix it, in one line."),
        f"{p}.compared": Field(
            "boolean",
            "False when the check did not run on the other image (a probe that could not run "
            "there): then a new finding may have been in OLD as well.",
        ),
    }


FIELDS: dict[str, Field] = {
    "schema_version": Field(
        "integer",
        "Version of this JSON layout, bumped when a field is removed or renamed or changes type "
        "or meaning; check it before reading anything else.",
    ),
    "tool": Field("object", "What wrote the diff."),
    "tool.name": Field("string", 'Always "inspector".'),
    "tool.version": Field("string", "inspector's version, as `inspector --version` prints it."),
    **_side("old", "The image compared from (the release out there)"),
    **_side("new", "The image compared to (the build about to replace it)"),
    # --- config -------------------------------------------------------------------------------
    "config": Field("object", "The image config's changes."),
    **_named(
        "config.changes[]",
        "USER, ENTRYPOINT, CMD, WORKDIR, STOPSIGNAL and HEALTHCHECK that differ, named as the "
        "Dockerfile instruction.",
        hidden=False,
    ),
    **_named("config.env[]", "ENV variables that differ, by name.", hidden=True),
    **_named("config.labels[]", "Labels that differ, by name.", hidden=True),
    **_set("config.exposed_ports", 'EXPOSEd ports ("8000/tcp").'),
    **_set("config.volumes", "VOLUMEs."),
    # --- size ---------------------------------------------------------------------------------
    "size": Field("object", "Sizes, in uncompressed layer bytes, and layers by diff_id."),
    "size.delta_bytes": Field("integer", "NEW's bytes minus OLD's (negative: NEW is smaller)."),
    "size.shared_layers": Field("integer", "Layers both images hold (the same diff_id)."),
    "size.shared_bytes": Field("integer", "Their bytes."),
    "size.added_bytes": Field(
        "integer",
        "Bytes of NEW's layers OLD lacks: about what a host that holds OLD fetches (compressed, "
        "less).",
    ),
    "size.removed_bytes": Field("integer", "Bytes of OLD's layers NEW no longer has."),
    "size.base_layers": Field(
        "integer",
        "How many leading layers both have in the same order: their common base (0 means the "
        "base changed).",
    ),
    "size.layers[]": Field("array", "NEW's layers in order, then OLD's layers NEW does not have."),
    "size.layers[].digest": Field("string", "The layer's diff_id."),
    "size.layers[].status": Field(
        "string",
        '"shared" (both hold it), "added" (only NEW) or "removed" (only OLD).',
        LAYER_STATUSES,
    ),
    "size.layers[].size": Field("integer", "Uncompressed bytes of the layer."),
    "size.layers[].old_index": Field(
        "integer or null", "Its index in OLD's layers (0 is the bottom); null when added."
    ),
    "size.layers[].new_index": Field(
        "integer or null", "Its index in NEW's layers; null when removed."
    ),
    "size.layers[].created_by": Field(
        "string or null", "The history step that made it (secrets redacted)."
    ),
    "size.biggest_added[]": Field(
        "array",
        "The paths that grew most from OLD to NEW (at most 10, a directory left out when one "
        "listed path inside it explains its growth); empty when `biggest_known` is false.",
    ),
    "size.biggest_added[].path": Field("string", "The file or directory."),
    "size.biggest_added[].old_bytes": Field(
        "integer or null",
        "Its visible bytes in OLD; null when OLD held less there than its facts list.",
    ),
    "size.biggest_added[].new_bytes": Field("integer", "Its visible bytes in NEW."),
    "size.biggest_known": Field(
        "boolean",
        "True when both images' facts list the size of every large path (`fs.sizes`), so "
        "`biggest_added` could be computed.",
    ),
    # --- packages -----------------------------------------------------------------------------
    "packages": Field("object", "Packages and the interpreter."),
    **_versions("packages.os[]", "OS packages (dpkg, apk) that differ, by name."),
    "packages.python[]": Field(
        "array",
        "Python distributions that differ, per environment: the command's own first (in its "
        "sys.path's order), then the others; environments with no change are left out.",
    ),
    "packages.python[].environment": Field("string", "The site-packages dir."),
    "packages.python[].command": Field(
        "boolean", "True when the command can import from it (it is on the command's sys.path)."
    ),
    **_versions("packages.python[].changes[]", "The distributions that differ there."),
    "packages.interpreter": Field(
        "object or null",
        "The command's Python version when it differs (same shape as a package's change, named "
        '"python"); null when unchanged.',
    ),
    "packages.interpreter.name": Field("string", 'Always "python".'),
    "packages.interpreter.change": Field(
        "string",
        '"added", "removed", "upgraded", "downgraded" or "changed", as for packages.',
        VERSION_CHANGES,
    ),
    "packages.interpreter.old": Field("string or null", "OLD's version; null when unknown."),
    "packages.interpreter.new": Field("string or null", "NEW's version; null when unknown."),
    "packages.vulnerabilities": Field(
        "object",
        "Known vulnerabilities NEW introduces and fixes, by vulnerability, package and where it "
        "sits.",
    ),
    "packages.vulnerabilities.compared": Field(
        "boolean", "False when either image was not matched (no database, --no-vulns)."
    ),
    "packages.vulnerabilities.note": Field("string or null", "Why not compared; else null."),
    **_vulnerabilities("packages.vulnerabilities.introduced[]", "Only NEW has these, worst first."),
    **_vulnerabilities("packages.vulnerabilities.fixed[]", "Only OLD had these, worst first."),
    # --- findings -----------------------------------------------------------------------------
    "findings": Field(
        "object",
        "The findings that count (the policy's ignores and severities applied) of both images, "
        "matched by fingerprint; each list worst first.",
    ),
    **_findings("findings.new[]", "NEW's findings OLD did not have."),
    **_findings("findings.fixed[]", "OLD's findings NEW no longer has (its check ran on NEW)."),
    **_findings("findings.still[]", "Findings both images have."),
    **_findings(
        "findings.not_rechecked[]",
        "OLD's findings whose check did not run on NEW: neither fixed nor still present.",
    ),
    # --- runtime ------------------------------------------------------------------------------
    "runtime": Field(
        "object",
        "The lifecycle probe's facts that moved: startup, effective_uid, pid1, pid1_cmdline, "
        "listening, stopped_by, stop_seconds (a move under a second is noise and left out).",
    ),
    "runtime.compared": Field(
        "boolean",
        "False when either image was not probed (--no-probe, a registry image not pulled).",
    ),
    "runtime.note": Field("string or null", "Why not compared; else null."),
    **_named("runtime.changes[]", "The facts that moved, by name.", hidden=False),
    # --- gate ---------------------------------------------------------------------------------
    "gate": Field("object", "The verdict of `--fail-on new:SEVERITY`."),
    "gate.fail_on": Field(
        "string or null",
        "The SEVERITY given: " + ", ".join(f'"{s}"' for s in SEVERITIES) + "; null without "
        "--fail-on.",
    ),
    "gate.failed": Field(
        "boolean", "True when a new finding is at or above `fail_on` (the exit status is 1)."
    ),
    "gate.counted": Field(
        "array of strings", "The fingerprints of the new findings that failed the gate."
    ),
    "gate.verdict": Field(
        "string", 'One line for people: "gate passed: ..." or "gate failed: new 1 high (SEC004)".'
    ),
}
