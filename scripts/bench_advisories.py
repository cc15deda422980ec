"""`make bench`, advisory part: importing a 100,000-advisory OSV export into the database.

The export is generated in OSV's format, laid out as OSV's bucket is (`ECOSYSTEM/all.zip`):
PyPI GHSA records (CVSS vectors, enumerated versions), Debian tracker records (one entry per
release with its urgency), Ubuntu notices (LTS and Pro streams, binaries) and Alpine records, with
details of realistic length (a seeded generator: the same export every run). Each measured
command runs in a fresh process, its peak RSS taken from wait4:
- the physical limit: the same zips read with the standard library's zipfile and every member
  json-parsed, nothing stored;
- `inspector db update --from DIR` into a fresh SQLite store, and (not a target) into a
  PostgreSQL server on loopback when its binaries are installed.
Targets (the vulnerabilities issue, "Speed and memory"): the import in at most 60 s and 300 MB.
Printed beside them: the ratio to the physical limit, and one lookup of 1,000 packages (an
image's inventory) against the imported database.
Exit status 1 when a target is missed, as the other benches do; 2 when the bench could not run.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SEED = 23
# 100,000 advisories, shared as OSV's exports roughly are.
EXPORTS = {"PyPI": 20_000, "Debian": 45_000, "Ubuntu": 25_000, "Alpine": 10_000}
SECONDS, PEAK_RSS = 60.0, 300e6
# Words advisories are made of; details are slices of one long text built from them.
WORDS = ["the", "attacker", "may", "cause", "a", "denial", "of", "service", "via", "crafted",
         "input", "when", "parsing", "untrusted", "data", "remote", "code", "execution",
         "buffer", "overflow", "in", "handling", "certificates", "allows", "bypass",
         "authentication", "through", "race", "condition", "session", "cache"]  # fmt: skip


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu: float  # user + system seconds: what the run costs on a machine nobody else uses
    rss: int  # bytes
    out: str


_CORPUS = " ".join(random.Random(SEED).choice(WORDS) for _ in range(4000))


def text(rng: random.Random, low: int, high: int) -> str:
    """Prose of low..high characters: a slice of the corpus at a random place."""
    start = rng.randrange(0, len(_CORPUS) - high)
    return _CORPUS[start : start + rng.randint(low, high)].strip().capitalize() + "."


def references(rng: random.Random, cve: str) -> list[dict[str, str]]:
    found = [{"type": "ADVISORY", "url": f"https://nvd.example/vuln/detail/{cve}"}]
    kinds = ["WEB", "FIX", "REPORT"]
    found += [{"type": rng.choice(kinds), "url": f"https://tracker.example/{cve}/{n}"}
              for n in range(rng.randint(1, 6))]  # fmt: skip
    return found


def pypi(rng: random.Random, n: int) -> dict:
    cve = f"CVE-20{rng.randint(10, 26)}-{n:05d}"
    major = rng.randint(0, 9)
    versions = [f"{major}.{minor}.{patch}" for minor in range(rng.randint(1, 8))
                for patch in range(rng.randint(1, 10))]  # fmt: skip
    return {
        "schema_version": "1.4.0", "id": f"GHSA-{n:04x}-{rng.randint(0, 0xFFFF):04x}-bench",
        "modified": "2026-11-02T10:00:00Z", "published": "2025-03-01T00:00:00Z",
        "aliases": [cve], "summary": text(rng, 40, 120), "details": text(rng, 300, 3000),
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        "affected": [{
            "package": {"ecosystem": "PyPI", "name": f"package-{n % 6000}",
                        "purl": f"pkg:pypi/package-{n % 6000}"},
            "ranges": [{"type": "ECOSYSTEM",
                        "events": [{"introduced": "0"}, {"fixed": f"{major + 1}.0.0"}]}],
            "versions": versions,
            "database_specific": {"source": "https://github.example/advisories.json"},
        }],
        "references": references(rng, cve),
        "database_specific": {"cwe_ids": ["CWE-79"], "github_reviewed": True,
                              "severity": rng.choice(["LOW", "MODERATE", "HIGH", "CRITICAL"])},
    }  # fmt: skip


def debian(rng: random.Random, n: int) -> dict:
    cve = f"CVE-20{rng.randint(10, 26)}-{n:05d}"
    source = f"src-{n % 4000}"
    affected = []
    for release in ("11", "12", "13"):
        events = [{"introduced": "0"}]
        if rng.random() < 0.7:
            events.append({"fixed": f"{rng.randint(1, 9)}.{rng.randint(0, 20)}-{release}+deb"})
        affected.append({
            "package": {"ecosystem": f"Debian:{release}", "name": source,
                        "purl": f"pkg:deb/debian/{source}?arch=source"},
            "ranges": [{"type": "ECOSYSTEM", "events": events}],
            "ecosystem_specific": {"urgency": rng.choice(["low", "medium", "unimportant",
                                                          "not yet assigned"])},
        })  # fmt: skip
    return {"id": f"DEBIAN-{cve}", "modified": "2026-11-20T10:00:00Z",
            "published": "2025-01-26T09:15:00Z", "upstream": [cve],
            "details": text(rng, 100, 900), "affected": affected,
            "references": [{"type": "ARTICLE",
                            "url": f"https://security-tracker.example/tracker/{cve}"}]}  # fmt: skip


def ubuntu(rng: random.Random, n: int) -> dict:
    source = f"src-{n % 3000}"
    affected = []
    for ecosystem in ("Ubuntu:20.04:LTS", "Ubuntu:22.04:LTS", "Ubuntu:24.04:LTS",
                      "Ubuntu:Pro:18.04:LTS"):  # fmt: skip
        fixed = f"{rng.randint(1, 9)}.{rng.randint(0, 40)}-0ubuntu0.{n % 7}"
        affected.append({
            "package": {"ecosystem": ecosystem, "name": source,
                        "purl": f"pkg:deb/ubuntu/{source}@{fixed}?arch=source"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}],
            "versions": [f"{fixed}~{k}" for k in range(rng.randint(0, 12))],
            "ecosystem_specific": {
                "binaries": [{"binary_name": f"{source}-bin{b}", "binary_version": fixed}
                             for b in range(rng.randint(1, 8))],
                "availability": "No subscription required",
            },
        })  # fmt: skip
    cve = f"CVE-20{rng.randint(10, 26)}-{n:05d}"
    return {"schema_version": "1.6.3", "id": f"USN-{n}-1", "modified": "2026-10-05T17:42:35Z",
            "published": "2026-10-05T17:42:35Z", "upstream": [cve], "related": [cve],
            "summary": f"{source} vulnerabilities", "details": text(rng, 300, 2500),
            "severity": [{"type": "Ubuntu", "score": rng.choice(["low", "medium", "high"])}],
            "affected": affected, "references": references(rng, cve)}  # fmt: skip


def alpine(rng: random.Random, n: int) -> dict:
    cve = f"CVE-20{rng.randint(10, 26)}-{n:05d}"
    branch = rng.choice(["v3.18", "v3.19", "v3.20", "v3.21"])
    return {"id": f"ALPINE-{cve}", "modified": "2026-08-01T12:00:00Z",
            "published": "2025-06-27T11:15:24Z", "upstream": [cve],
            "details": text(rng, 100, 700),
            "affected": [{"package": {"ecosystem": f"Alpine:{branch}", "name": f"src-{n % 1500}",
                                      "purl": f"pkg:apk/alpine/src-{n % 1500}?arch=source"},
                          "ranges": [{"type": "ECOSYSTEM",
                                      "events": [{"introduced": "0"}, {"fixed": "1.2.3-r0"}]}]}],
            "references": references(rng, cve)}  # fmt: skip


MAKERS = {"PyPI": pypi, "Debian": debian, "Ubuntu": ubuntu, "Alpine": alpine}


def generate(root: Path) -> tuple[int, int]:
    """The export under `root`; (JSON bytes, zip bytes)."""
    rng = random.Random(SEED)
    raw = packed = 0
    for ecosystem, count in EXPORTS.items():
        path = root / ecosystem / "all.zip"
        path.parent.mkdir(parents=True)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
            for n in range(count):
                record = MAKERS[ecosystem](rng, n)
                data = json.dumps(record, indent=2).encode()
                raw += len(data)
                archive.writestr(f"{record['id']}.json", data)
        packed += path.stat().st_size
    return raw, packed


BASELINE = """
import json, sys, zipfile
from pathlib import Path
count = 0
for path in sorted(Path(sys.argv[1]).glob("*/all.zip")):
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            json.loads(archive.read(info))
            count += 1
print(count)
"""

LOOKUP = """
import sys, time
from inspector.advisories.store import AdvisoryStore
store = AdvisoryStore(sys.argv[1])
keys = [("PyPI", f"package-{n}") for n in range(0, 6000, 12)]
keys += [("Debian:12", f"src-{n}") for n in range(0, 4000, 16)]
keys += [("Ubuntu:22.04", f"src-{n}") for n in range(0, 3000, 12)]
started = time.monotonic()
found = store.advisories(keys)
print(f"{len(keys)} {sum(len(v) for v in found.values())} {time.monotonic() - started:.3f}")
"""


def measure(cmd: list[str], env: dict[str, str]) -> Run:
    """Wall seconds, peak RSS in bytes and stdout of one child process."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.monotonic() - started
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if code != 0:
            tail = err.read().decode(errors="replace").strip().splitlines()[-1:]
            raise BenchError(f"{' '.join(cmd[1:4])} exited {code}: {' '.join(tail)}")
        cpu = usage.ru_utime + usage.ru_stime
        return Run(elapsed, cpu, usage.ru_maxrss * 1024, out.read().decode(errors="replace"))


class BenchError(Exception):
    """The bench itself could not run (not a missed target)."""


def verdict(ok: bool | None) -> str:
    return "" if ok is None else ("ok" if ok else "MISSED")


def import_into_postgres(tmp: Path, export: Path, env: dict[str, str]) -> Run | None:
    """The same import into a PostgreSQL server on loopback (tests/postgres.py), when its
    binaries are installed; None otherwise."""
    sys.path.insert(0, str(REPO))
    from tests.postgres import running_postgres, server_bin

    if server_bin() is None:
        print("  PostgreSQL is not installed: its import is skipped")
        return None
    with running_postgres(tmp / "postgres") as url:
        cmd = [str(BIN / "inspector"), "db", "update", "--db", url, "--from", str(export)]
        return measure(cmd, env)


def bench(tmp: Path) -> int:
    export = tmp / "osv"
    started = time.monotonic()
    raw, packed = generate(export)
    total = sum(EXPORTS.values())
    print(f"  load average before: {os.getloadavg()[0]:.1f} (the machine's other work slows "
          "wall times; CPU times are not)")  # fmt: skip
    print(f"  generated: {total:,} advisories, {raw / 1e6:.0f} MB of JSON in "
          f"{packed / 1e6:.0f} MB of zips ({time.monotonic() - started:.0f} s)")  # fmt: skip
    env = {**os.environ, "INSPECTOR_DATA_DIR": str(tmp / "data"),
           "INSPECTOR_CACHE_DIR": str(tmp / "cache")}  # fmt: skip
    env.pop("INSPECTOR_DB", None)
    limit = measure([sys.executable, "-c", BASELINE, str(export)], env)
    if int(limit.out.strip()) != total:
        raise BenchError(f"the baseline read {limit.out.strip()} records, not {total}")
    imported = measure([str(BIN / "inspector"), "db", "update", "--from", str(export)], env)
    stored = sum(int(line.split()[1]) for line in imported.out.splitlines() if "imported" in line)
    lookup = measure([sys.executable, "-c", LOOKUP, str(tmp / "data" / "scans.sqlite")], env)
    keys, hits, lookup_seconds = lookup.out.split()
    postgres = import_into_postgres(tmp, export, env)
    ratio = imported.seconds / limit.seconds
    cpu_ratio = imported.cpu / limit.cpu
    rows: list[tuple[str, str, str, bool | None]] = [
        ("import, 100,000 advisories", f"{imported.seconds:.1f} s", f"(<= {SECONDS:.0f} s)",
         imported.seconds <= SECONDS),
        ("peak memory, import", f"{imported.rss / 1e6:.0f} MB", f"(<= {PEAK_RSS / 1e6:.0f} MB)",
         imported.rss <= PEAK_RSS),
        ("advisories stored", f"{stored:,}", f"({total:,})", stored == total),
        ("import, CPU (user + system)", f"{imported.cpu:.1f} s", "", None),
        ("physical limit: unzip + json.loads", f"{limit.seconds:.1f} s",
         f"CPU {limit.cpu:.1f} s, peak {limit.rss / 1e6:.0f} MB", None),
        ("import / physical limit", f"{ratio:.1f}x", f"CPU {cpu_ratio:.1f}x", None),
        ("lookup of an inventory", f"{float(lookup_seconds) * 1000:.0f} ms",
         f"{keys} packages, {hits} advisories found", None),
    ]  # fmt: skip
    if postgres is not None:
        note = f"CPU {postgres.cpu:.1f} s, peak {postgres.rss / 1e6:.0f} MB"
        rows.append(("import into PostgreSQL (loopback)", f"{postgres.seconds:.1f} s", note, None))
    width = max(len(row[0]) for row in rows)
    for label, value, note, ok in rows:
        print(f"  {label:<{width}}  {value:>9}  {note:<48} {verdict(ok)}")
    return 0 if all(ok is not False for *_, ok in rows) else 1


def main() -> int:
    print(f"advisory bench: importing {sum(EXPORTS.values()):,} OSV advisories "
          f"({', '.join(f'{k} {v:,}' for k, v in EXPORTS.items())})")  # fmt: skip
    try:
        with tempfile.TemporaryDirectory(prefix="inspector-bench-advisories-") as tmp:
            return bench(Path(tmp))
    except BenchError as exc:
        print(f"advisory bench could not run: {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
