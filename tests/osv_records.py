"""OSV records shaped as each database publishes them (GHSA, PYSEC, DSA, DEBIAN-CVE, USN,
ALPINE), written from the OSV schema, and export zips laid out as OSV's bucket is."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def ghsa(ghsa_id: str = "GHSA-2gwj-7jmv-h26r", package: str = "Django", introduced: str = "4.2",
         fixed: str = "4.2.16", cve: str = "CVE-2024-45230", severity: str = "HIGH",
         modified: str = "2024-09-05T14:31:42Z") -> dict[str, Any]:  # fmt: skip
    """A GitHub advisory in the PyPI export: CVSS vector, rating in database_specific."""
    return {
        "schema_version": "1.4.0",
        "id": ghsa_id,
        "modified": modified,
        "published": "2024-09-03T21:31:02Z",
        "aliases": [cve],
        "summary": f"{package} vulnerable to denial-of-service via very large inputs",
        "details": "urlize() and urlizetrunc() were subject to a potential denial-of-service "
        "attack via very large inputs with a specific sequence of characters.",
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}],
        "affected": [
            {
                "package": {
                    "ecosystem": "PyPI",
                    "name": package,
                    "purl": f"pkg:pypi/{package.lower()}",
                },
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": introduced}, {"fixed": fixed}]}
                ],
                "database_specific": {"source": "https://github.com/github/advisory-database"},
            }
        ],
        "references": [
            {"type": "ADVISORY", "url": f"https://nvd.nist.example/vuln/detail/{cve}"},
            {"type": "WEB", "url": "https://docs.djangoproject.example/en/dev/releases/security/"},
            {"type": "PACKAGE", "url": "https://github.com/django/django"},
        ],
        "database_specific": {
            "cwe_ids": ["CWE-130", "CWE-770"],
            "github_reviewed": True,
            "github_reviewed_at": "2024-09-04T17:21:28Z",
            "nvd_published_at": "2024-09-03T21:15:14Z",
            "severity": severity,
        },
    }


def pysec(pysec_id: str = "PYSEC-2024-102", package: str = "Django",
          versions: Iterable[str] = ("4.2", "4.2.1", "4.2.15"),
          fixed: str = "4.2.16") -> dict[str, Any]:  # fmt: skip
    """A PyPA advisory: details only (no summary), a GIT range beside the ECOSYSTEM one, the
    affected versions enumerated, GHSA and CVE aliases."""
    return {
        "id": pysec_id,
        "modified": "2024-10-01T05:22:31.123456Z",
        "published": "2024-09-03T21:15:14Z",
        "aliases": ["CVE-2024-45230", "GHSA-2gwj-7jmv-h26r"],
        "details": "An issue was discovered in Django 5.1 before 5.1.1, 5.0 before 5.0.9, and "
        "4.2 before 4.2.16.\nThe urlize() and urlizetrunc() template filters are subject to a "
        "potential denial-of-service attack.",
        "affected": [
            {
                "package": {
                    "ecosystem": "PyPI",
                    "name": package,
                    "purl": f"pkg:pypi/{package.lower()}",
                },
                "ranges": [
                    {
                        "type": "GIT",
                        "repo": "https://github.com/django/django",
                        "events": [
                            {"introduced": "0"},
                            {"fixed": "3a1b9f33b0ad2d5b3b3d66a0d9e1c5a8e4f0ab12"},
                        ],
                    },
                    {"type": "ECOSYSTEM", "events": [{"introduced": "4.2"}, {"fixed": fixed}]},
                ],
                "versions": list(versions),
            }
        ],
        "references": [
            {"type": "WEB", "url": "https://www.djangoproject.example/weblog/2024/sep/03/"},
            {"type": "REPORT", "url": "https://groups.google.example/django-announce"},
        ],
    }


def dsa(dsa_id: str = "DSA-5678-1", package: str = "openssl", release: str = "12",
        fixed: str = "3.0.14-1~deb12u1",
        modified: str = "2024-06-01T08:00:00Z") -> dict[str, Any]:  # fmt: skip
    """A Debian Security Advisory: a release-scoped ecosystem, the CVEs as `upstream`."""
    return {
        "id": dsa_id,
        "modified": modified,
        "published": "2024-05-30T00:00:00Z",
        "upstream": ["CVE-2024-2511", "CVE-2024-4603"],
        "summary": f"{package} - security update",
        "details": "\nSeveral vulnerabilities were discovered in OpenSSL.\n",
        "affected": [
            {
                "package": {
                    "ecosystem": f"Debian:{release}",
                    "name": package,
                    "purl": f"pkg:deb/debian/{package}?arch=source",
                },
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                ],
                "versions": ["3.0.11-1~deb12u1", "3.0.11-1~deb12u2"],
            }
        ],
        "references": [
            {
                "type": "ADVISORY",
                "url": f"https://www.debian.example/security/2024/{dsa_id.lower()}",
            },
        ],
    }


def debian_cve(cve: str = "CVE-2024-0727", package: str = "openssl",
               urgencies: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    """A Debian security tracker record: one entry per release, each with its own urgency in
    ecosystem_specific; one release with no fix yet."""
    urgencies = urgencies or {"12": "low", "13": "not yet assigned"}
    affected = []
    for release, urgency in urgencies.items():
        events: list[dict[str, str]] = [{"introduced": "0"}]
        if release == "12":
            events.append({"fixed": "3.0.13-1~deb12u1"})
        affected.append({
            "package": {"ecosystem": f"Debian:{release}", "name": package,
                        "purl": f"pkg:deb/debian/{package}?arch=source"},
            "ranges": [{"type": "ECOSYSTEM", "events": events}],
            "ecosystem_specific": {"urgency": urgency},
        })  # fmt: skip
    return {
        "id": f"DEBIAN-{cve}",
        "modified": "2024-11-20T10:11:12Z",
        "published": "2024-01-26T09:15:00Z",
        "upstream": [cve],
        "details": "Issue summary: Processing a maliciously formatted PKCS12 file may lead "
        "OpenSSL to crash leading to a potential Denial of Service attack",
        "affected": affected,
        "references": [
            {"type": "ARTICLE", "url": f"https://security-tracker.debian.example/tracker/{cve}"}
        ],
    }


def usn(usn_id: str = "USN-6543-1", package: str = "tar") -> dict[str, Any]:
    """An Ubuntu Security Notice: LTS ecosystems with the ":LTS" suffix, a Pro (ESM) stream,
    the binaries in ecosystem_specific, an "Ubuntu" severity."""

    def entry(ecosystem: str, fixed: str) -> dict[str, Any]:
        return {
            "package": {"ecosystem": ecosystem, "name": package,
                        "purl": f"pkg:deb/ubuntu/{package}@{fixed}?arch=source"},
            "ranges": [{"type": "ECOSYSTEM",
                        "events": [{"introduced": "0"}, {"fixed": fixed}]}],
            "versions": ["1.34+dfsg-1ubuntu0.1.22.04.1"],
            "ecosystem_specific": {
                "binaries": [{"binary_name": package, "binary_version": fixed}],
                "availability": "No subscription required",
            },
        }  # fmt: skip

    return {
        "schema_version": "1.6.3",
        "id": usn_id,
        "modified": "2023-12-05T17:42:35.371064Z",
        "published": "2023-12-05T17:42:35.371064Z",
        "upstream": ["CVE-2023-39804"],
        "related": ["CVE-2023-39804"],
        "summary": f"{package} vulnerability",
        "details": "It was discovered that tar incorrectly handled extended attributes in PAX "
        "archives. An attacker could use this issue to cause tar to crash.",
        "severity": [{"type": "Ubuntu", "score": "medium"}],
        "affected": [
            entry("Ubuntu:22.04:LTS", "1.34+dfsg-1ubuntu0.1.22.04.2"),
            entry("Ubuntu:24.04:LTS", "1.35+dfsg-3ubuntu0.1"),
            entry("Ubuntu:23.10", "1.34+dfsg-1.2ubuntu1.1"),
            entry("Ubuntu:Pro:18.04:LTS", "1.29b-2ubuntu0.4+esm1"),
        ],
        "references": [
            {"type": "REPORT", "url": "https://ubuntu.example/security/CVE-2023-39804"},
            {"type": "ADVISORY", "url": f"https://ubuntu.example/security/notices/{usn_id}"},
        ],
    }


def alpine(cve: str = "CVE-2024-5535", package: str = "openssl", branch: str = "v3.20",
           fixed: str = "3.3.2-r0") -> dict[str, Any]:  # fmt: skip
    """An Alpine secdb record as OSV converts it: the branch in the ecosystem, no severity."""
    return {
        "id": f"ALPINE-{cve}",
        "modified": "2024-08-01T12:00:00Z",
        "published": "2024-06-27T11:15:24Z",
        "upstream": [cve],
        "details": "Issue summary: Calling the OpenSSL API function SSL_select_next_proto with "
        "an empty supported client protocols buffer may cause a crash or memory contents to be "
        "sent to the peer.",
        "affected": [
            {
                "package": {
                    "ecosystem": f"Alpine:{branch}",
                    "name": package,
                    "purl": f"pkg:apk/alpine/{package}?arch=source",
                },
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                ],
            }
        ],
        "references": [
            {"type": "ADVISORY", "url": f"https://security.alpinelinux.example/vuln/{cve}"},
            {"type": "WEB", "url": f"https://www.cve.example/CVERecord?id={cve}"},
        ],
    }


def encode(record: dict[str, Any]) -> bytes:
    return json.dumps(record, indent=2).encode()


def write_zip(path: Path, records: Iterable[dict[str, Any] | tuple[str, bytes]]) -> Path:
    """An export zip: one `ID.json` member per record (or (name, raw bytes) as given)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for record in records:
            if isinstance(record, tuple):
                archive.writestr(record[0], record[1])
            else:
                archive.writestr(f"{record['id']}.json", encode(record))
    return path


def pypi_export(count: int, *, first: int = 0,
                modified: str = "2024-09-05T14:31:42Z") -> list[dict[str, Any]]:  # fmt: skip
    """`count` GHSA records, each for its own package pkg-N."""
    return [ghsa(f"GHSA-test-{n:04d}-xxxx", f"pkg-{n}", "1.0", "1.5", f"CVE-2024-{n:05d}",
                 modified=modified) for n in range(first, first + count)]  # fmt: skip
