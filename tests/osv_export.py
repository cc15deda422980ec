"""OSV exports as OSV publishes them (`ECOSYSTEM/all.zip`, one JSON record per file), written by
the tests and the vulnerability bench for the packages an image really holds.

The record shapes follow OSV's schema and what its real exports carry: PyPI records as GHSA and
PYSEC publish them (aliases, a CVSS vector, an ADVISORY reference), Debian records as the Debian
security tracker's `DEBIAN-CVE-*` and `DSA-*` (the source package, `upstream` CVE, an urgency
in `ecosystem_specific`), each with ECOSYSTEM ranges of `introduced` / `fixed` events.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

MODIFIED = "2026-12-01T00:00:00Z"
CVSS_HIGH = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"  # 7.5
CVSS_MEDIUM = "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:N/A:N"  # 5.3


def _ranges(fixed: str | None) -> list[dict[str, Any]]:
    events: list[dict[str, str]] = [{"introduced": "0"}]
    if fixed is not None:
        events.append({"fixed": fixed})
    return [{"type": "ECOSYSTEM", "events": events}]


def pypi(
    id_: str,
    name: str,
    fixed: str | None,
    *,
    aliases: Sequence[str] = (),
    vector: str | None = CVSS_HIGH,
    summary: str | None = None,
    url: str | None = None,
) -> dict[str, Any]:
    """A PyPI record (GHSA or PYSEC) affecting every version of `name` below `fixed`."""
    record: dict[str, Any] = {
        "schema_version": "1.6.0",
        "id": id_,
        "modified": MODIFIED,
        "published": "2026-11-01T00:00:00Z",
        "aliases": list(aliases),
        "summary": summary or f"{name}: a vulnerability for the tests",
        "details": "Written by inspector's tests in OSV's format.",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": name, "purl": f"pkg:pypi/{name}"},
                "ranges": _ranges(fixed),
                "versions": [],
            }
        ],
        "references": [{"type": "ADVISORY", "url": url or f"https://advisories.example/{id_}"}],
    }
    if vector:
        record["severity"] = [{"type": "CVSS_V3", "score": vector}]
    return record


def debian(
    id_: str,
    release: str,
    source: str,
    fixed: str | None,
    *,
    upstream: Sequence[str] = (),
    urgency: str = "not yet assigned",
    summary: str | None = None,
) -> dict[str, Any]:
    """A Debian security tracker record (`DEBIAN-CVE-*`, `DSA-*`, `DLA-*`) for one source
    package in release `release` ("12"), fixed in `fixed` (None: no fix yet)."""
    return {
        "schema_version": "1.6.0",
        "id": id_,
        "modified": MODIFIED,
        "published": "2026-11-01T00:00:00Z",
        "upstream": list(upstream),
        "summary": summary or f"{source}: a vulnerability for the tests",
        "details": "Written by inspector's tests in OSV's format.",
        "affected": [
            {
                "package": {
                    "ecosystem": f"Debian:{release}",
                    "name": source,
                    "purl": f"pkg:deb/debian/{source}?arch=source",
                },
                "ranges": _ranges(fixed),
                "versions": [],
                "ecosystem_specific": {"urgency": urgency},
            }
        ],
        "references": [
            {"type": "WEB", "url": f"https://security-tracker.debian.org/tracker/{id_}"}
        ],
    }


def write_export(directory: Path, ecosystem: str, records: Iterable[dict[str, Any]]) -> Path:
    """`directory/ECOSYSTEM/all.zip`, one `ID.json` per record, as OSV's bucket serves it."""
    path = directory / ecosystem / "all.zip"
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for record in records:
            archive.writestr(f"{record['id']}.json", json.dumps(record))
    return path
