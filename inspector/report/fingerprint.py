"""A finding's identity across rebuilds and retags: what baselines and SARIF alerts match on."""

from __future__ import annotations

import hashlib
import re

from checks.model import Finding, Vulnerability

# Sizes (with their unit: 990 KiB becomes 1.0 MiB as a cache grows), numbers and long hex runs
# change between builds (sizes, counts, digests): not an identity.
_VOLATILE = re.compile(r"\d+(?:\.\d+)?\s*(?:[KMGT]i?B|bytes|B)\b|[0-9a-f]{12,}|\d+", re.IGNORECASE)


def fingerprint(reference: str, finding: Finding) -> str:
    """Stable across rebuilds and retags: the repository, the check, where, the message's words."""
    loc = finding.location
    if finding.vulnerability is not None:
        return _vulnerability(reference, finding.check, finding.vulnerability)
    parts = (
        finding.check,
        repository(reference),
        loc.config or "",
        loc.path or "",
        loc.runtime or "",
        " ".join((loc.created_by or "").split()),
        # A finding that lists what one cause touched names what stays the same instead: one
        # more file or layer in the list is the same finding.
        finding.identity if finding.identity is not None else finding.message,
    )
    text = "\x00".join(_VOLATILE.sub("#", part) for part in parts)
    # A file name that is not UTF-8 arrives surrogateescaped (\udcff): surrogatepass hashes it as
    # is, where a strict encode would crash the report. Text without surrogates hashes as before.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


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
    deleted is another finding than the one installed beside it."""
    parts = (
        check,
        repository(reference),
        vuln.package,
        vuln.id,
        _VOLATILE.sub("#", vuln.environment or ""),
        "deleted" if vuln.reachability == "deleted" else "",
    )
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
