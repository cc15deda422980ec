"""A finding's identity across rebuilds, retags, probe modes and rewordings: what baselines, scan
deltas and SARIF alerts match on.

The identity is the check, the image's repository and the finding's subject: the config field,
the path, the check's rule (a secret's kind, a vulnerability's package and id), what the check
names as `subject` where it finds several things in one place (an account of /etc/shadow, a port)
and its `identity` (what stays the same when the message lists what varies); a build step when
the finding has no other place. Never the message or the runtime
location: both change with the probe mode (a probe confirms what the config said) and with any
rewording of the text, and a baseline must keep accepting the same finding of the same image.
"""

from __future__ import annotations

import hashlib
import re

from checks.model import Finding, Vulnerability, command

# Sizes (with their unit: 990 KiB becomes 1.0 MiB as a cache grows), numbers and long hex runs
# change between builds (sizes, counts, digests): not an identity.
_VOLATILE = re.compile(r"\d+(?:\.\d+)?\s*(?:[KMGT]i?B|bytes|B)\b|[0-9a-f]{12,}|\d+", re.IGNORECASE)
# A secret's hint carries a keyed fingerprint of its value (`13 chars, fingerprint 1a2b3c4d`):
# the key is the machine's or the scan store's, so the digits differ between machines. Where the
# secret is, not which value it has, is the finding's identity: a baseline made on a laptop
# matches in CI.
_SECRET_FINGERPRINT = re.compile(r"\bfingerprint [0-9a-f]{8}\b")
# Hashed first, so that no subject of this form can equal a fingerprint of the first form.
_FORM = "subject-v2"


def fingerprint(reference: str, finding: Finding) -> str:
    """Stable across rebuilds, retags, probe modes and rewordings: the repository, the check and
    the finding's subject (see the module's docstring)."""
    if finding.vulnerability is not None:
        return _vulnerability(reference, finding.check, finding.vulnerability)
    loc = finding.location
    step = ""
    if finding.subject is None and not (loc.config or loc.path) and loc.created_by:
        # A finding about a build step (an upgrade, a chown that rewrites files) has the step as
        # its place; the builder's shell prefix is not part of it.
        step = command(loc.created_by)
    parts = (loc.config or "", loc.path or "", finding.identity or "", step)
    text = "\x00".join((_FORM, finding.check, repository(reference), finding.rule or "",
                        # The subject is a name the check chose (an account, a port): verbatim.
                        finding.subject or "", *map(_stable, parts)))  # fmt: skip
    # A file name that is not UTF-8 arrives surrogateescaped (\udcff): surrogatepass hashes it as
    # is, where a strict encode would crash the report.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def fingerprints(reference: str, finding: Finding) -> tuple[str, str]:
    """(the fingerprint, the first form's): what a baseline or a stored scan may hold."""
    return fingerprint(reference, finding), legacy_fingerprint(reference, finding)


def legacy_fingerprint(reference: str, finding: Finding) -> str:
    """The first form (inspector 0.x's baselines and scan stores): the check, the repository,
    where, and the message's words with numbers blanked. Read only, so that baselines written
    before the subject form keep accepting their findings for a release."""
    if finding.vulnerability is not None:
        return _vulnerability(reference, finding.check, finding.vulnerability)
    loc = finding.location
    parts = (
        finding.check,
        repository(reference),
        loc.config or "",
        loc.path or "",
        loc.runtime or "",
        " ".join((loc.created_by or "").split()),
        finding.identity if finding.identity is not None else finding.message,
    )
    text = "\x00".join(map(_stable, parts))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _stable(part: str) -> str:
    return _VOLATILE.sub("#", _SECRET_FINGERPRINT.sub("fingerprint #", part))


def repository(reference: str) -> str:
    """The reference without its tag or digest: a rebuilt image keeps the name, not the tag."""
    name = reference.split("@", 1)[0]
    head, slash, last = name.rpartition("/")
    return head + slash + last.split(":", 1)[0]


def _vulnerability(reference: str, check: str, vuln: Vulnerability) -> str:
    """A package's vulnerability is the same finding whatever version, layer or build step a
    rebuild gives it: the check, the repository, the package, the vulnerability's id (verbatim:
    its digits are the identity) and, for Python, the environment it sits in (numbers blanked:
    python3.11 and python3.12's site-packages are the same place). A copy a later layer
    deleted is another finding than the one installed beside it. Both forms agree on it."""
    parts = (
        check,
        repository(reference),
        vuln.package,
        vuln.id,
        _VOLATILE.sub("#", vuln.environment or ""),
        "deleted" if vuln.reachability == "deleted" else "",
    )
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
