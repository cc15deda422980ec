"""`make bench`, scan part: `inspector scan` of a whole registry against auditing it image by image.

A Distribution registry (Debian's docker-registry, as the tests start it) on 127.0.0.1 in a temp
dir is filled through the registry API with 1,000 tags over 200 repositories: 23 layer blobs (3
base layers, 20 app layers, a few MB in all) are uploaded once and MOUNTED into every other
repository, and each tag gets its own config (so 1,000 distinct images) and manifest. Each
measured command runs in a fresh process, its peak RSS taken from wait4:
- cold `inspector scan registry:…` (empty layer cache, fresh store);
- single `inspector audit registry:…/REPO:TAG --no-probe` runs, each with a fresh cache, as a
  user auditing the images one by one would: a seeded random sample, extrapolated to all the
  images. Target: the cold scan at most 0.2x their sum (its cost follows unique layers);
- layers read by the cold scan against the registry's unique layers (its JSON summary): equal;
- a warm rescan with nothing changed: at least 100,000 tags per hour, peak memory at most 300 MB,
  also projected to a 100,000-tag registry from its growth per image (the rescan of one group of
  repositories against the whole registry's). When it misses, it runs once more under cProfile
  and the top costs are printed.
Exit status 1 when a target is missed, as scripts/bench.py and bench_registry.py do; 2 when the
bench could not run; 0 with a printed reason when docker-registry is not installed.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import requests

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(REPO))  # for tests.registry and tests.layertools

REPOSITORIES, TAGS_PER_REPO = 200, 5
BASES, APPS = 3, 20
SAMPLE, SEED = 30, 14
FILL_THREADS = 16
SOURCE = "team0/svc000"  # the one repository the layer blobs are uploaded to; the others mount
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
# Targets (issue 14, "Speed").
COLD_RATIO, TAGS_PER_HOUR, PEAK_RSS = 0.2, 100_000, 300e6
# "Whatever the registry size": the warm rescan's memory per image, measured as the difference
# between rescanning one repository group and the whole registry, projected to this many tags.
SCALE, GROUP = 100_000, "team0/*"


class BenchError(Exception):
    """The bench itself could not run (not a missed target)."""


@dataclass(frozen=True)
class Blob:
    data: bytes
    digest: str
    diff_id: str


@dataclass(frozen=True)
class Run:
    seconds: float
    rss: int
    stdout: str
    code: int


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _blob(raw_gzip: bytes) -> Blob:
    return Blob(raw_gzip, _sha(raw_gzip), _sha(gzip.decompress(raw_gzip)))


def make_layers() -> tuple[list[Blob], list[Blob]]:
    """3 base layers that look like a Debian with Python (about 1 MB each, incompressible, so
    the bytes on the wire are real) and 20 small app layers."""
    from tests.layertools import layer

    rng = random.Random(SEED)
    bases = []
    for i in range(BASES):
        bases.append(_blob(layer(
            ("etc/", None),
            ("etc/os-release", f'ID=debian\nVERSION_ID="12"\nBUILD="{i}"\n'.encode()),
            ("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\napp:x:10001:10001::/app:/bin/sh\n"),
            ("usr/", None), ("usr/local/", None), ("usr/local/bin/", None),
            ("usr/local/bin/python3.11", b"\x7fELF" + rng.randbytes(900_000), {"mode": 0o755}),
            ("usr/share/", None),
            ("usr/share/doc.txt", rng.randbytes(100_000)),
            compress=True,
        )))  # fmt: skip
    apps = []
    for i in range(APPS):
        apps.append(_blob(layer(
            ("app/", None),
            ("app/main.py", f"print({i})\n".encode()),
            ("app/requirements.txt", f"flask=={i % 3 + 1}.0\n".encode()),
            ("app/static.bin", rng.randbytes(40_000 + 5_000 * i)),
            compress=True,
        )))  # fmt: skip
    return bases, apps


def plan(bases: list[Blob], apps: list[Blob]) -> list[tuple[str, str, list[Blob], bytes]]:
    """Every (repository, tag, layers, config) to push: each config differs (so every tag is its
    own image), while the layers come from the same 23 blobs."""
    images = []
    for r in range(REPOSITORIES):
        repository = f"team{r % 10}/svc{r:03d}"
        for t in range(TAGS_PER_REPO):
            # A repository's tags share its base and first app layer and alternate between two
            # second app layers: 4 mounts per repository, every layer used by many of them.
            second = apps[(r + 1 + r // APPS + t % 2) % APPS]
            layers = [bases[r % BASES], apps[r % APPS], second]
            config = json.dumps({
                "architecture": "amd64", "os": "linux",
                "created": f"2026-{1 + t % 12:02d}-{1 + r % 28:02d}T00:00:00Z",
                "config": {"User": "10001", "Cmd": ["python3", "/app/main.py"],
                           "Env": [f"SERVICE={repository}", f"RELEASE=1.{t}"]},
                "rootfs": {"type": "layers", "diff_ids": [blob.diff_id for blob in layers]},
                "history": [{"created_by": f"step {i}"} for i in range(len(layers))],
            }, separators=(",", ":")).encode()  # fmt: skip
            images.append((repository, f"1.{t}", layers, config))
    return images


class Filler:
    """Pushes through the registry API with one HTTP session per thread."""

    def __init__(self, address: str) -> None:
        self.base = f"http://{address}"
        self.local = threading.local()
        self.mounted = 0

    def session(self) -> requests.Session:
        import requests

        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session

    def upload(self, repository: str, data: bytes) -> str:
        digest = _sha(data)
        start = self.session().post(f"{self.base}/v2/{repository}/blobs/uploads/", timeout=60)
        start.raise_for_status()
        location = start.headers["Location"]
        location = location if location.startswith("http") else self.base + location
        done = self.session().put(
            location, params={"digest": digest}, data=data, timeout=60,
            headers={"Content-Type": "application/octet-stream"},
        )  # fmt: skip
        done.raise_for_status()
        return digest

    def mount(self, repository: str, digest: str) -> None:
        answer = self.session().post(
            f"{self.base}/v2/{repository}/blobs/uploads/",
            params={"mount": digest, "from": SOURCE}, timeout=60,
        )  # fmt: skip
        # 201 is a mount; 202 would be an upload started instead, i.e. the blob copied.
        if answer.status_code != 201:
            raise BenchError(f"mounting {digest[:19]} into {repository}: {answer.status_code}")
        self.mounted += 1

    def manifest(self, repository: str, tag: str, layers: list[Blob], config: bytes) -> None:
        body = json.dumps({
            "schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": DOCKER_CONFIG, "size": len(config),
                       "digest": self.upload(repository, config)},
            "layers": [{"mediaType": DOCKER_LAYER, "size": len(blob.data), "digest": blob.digest}
                       for blob in layers],
        }).encode()  # fmt: skip
        put = self.session().put(
            f"{self.base}/v2/{repository}/manifests/{tag}", data=body, timeout=60,
            headers={"Content-Type": DOCKER_MANIFEST},
        )  # fmt: skip
        put.raise_for_status()

    def repository(self, repository: str, images: list[tuple[str, list[Blob], bytes]]) -> None:
        if repository != SOURCE:
            for digest in dict.fromkeys(b.digest for _, layers, _ in images for b in layers):
                self.mount(repository, digest)
        for tag, layers, config in images:
            self.manifest(repository, tag, layers, config)


def fill(address: str, bases: list[Blob], apps: list[Blob]) -> tuple[list[tuple[str, str]], int]:
    """The registry filled; every (repository, tag) pushed and how many blob mounts it took."""
    filler = Filler(address)
    for blob in bases + apps:
        filler.upload(SOURCE, blob.data)
    by_repo: dict[str, list[tuple[str, list[Blob], bytes]]] = {}
    for repository, tag, layers, config in plan(bases, apps):
        by_repo.setdefault(repository, []).append((tag, layers, config))
    with ThreadPoolExecutor(max_workers=FILL_THREADS) as pool:
        list(pool.map(lambda item: filler.repository(*item), by_repo.items()))
    tags = [(repository, tag) for repository, items in by_repo.items() for tag, *_ in items]
    return tags, filler.mounted


def measure(cmd: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)) -> Run:
    """Wall seconds, peak RSS in bytes, stdout and exit status of one child process."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.monotonic() - started
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if code not in ok:
            tail = err.read().decode(errors="replace").strip().splitlines()[-1:]
            raise BenchError(f"{' '.join(cmd[1:3])} exited {code}: {' '.join(tail)}")
        return Run(elapsed, usage.ru_maxrss * 1024, out.read().decode(errors="replace"), code)


def environment(home: Path) -> dict[str, str]:
    """A fresh layer cache, data dir and Docker config under `home`."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "INSPECTOR_CACHE_DIR": str(home / "cache"),
        "INSPECTOR_DATA_DIR": str(home / "data"),
        "DOCKER_CONFIG": str(home / "docker"),
    }


def scan_cmd(address: str, db: Path, *prefix: str) -> list[str]:
    # --exit-zero: findings are the images' business here; 2 (an image unreadable) still shows.
    return [*prefix, str(BIN / "inspector"), "scan", f"registry:{address}", "--db", str(db),
            "--format", "json", "--no-config", "--exit-zero"]  # fmt: skip


def single_audits(address: str, tags: list[tuple[str, str]], work: Path) -> list[Run]:
    """A seeded sample of images audited one process each, each with a fresh cache."""
    sample = random.Random(SEED).sample(tags, min(SAMPLE, len(tags)))
    runs = []
    for i, (repository, tag) in enumerate(sample):
        cmd = [str(BIN / "inspector"), "audit", f"registry:{address}/{repository}:{tag}",
               "--no-probe", "--no-config", "--exit-zero", "--format", "json"]  # fmt: skip
        runs.append(measure(cmd, environment(work / f"audit-{i}")))
    return runs


def profile(address: str, db: Path, home: Path, top: int = 15) -> Iterator[str]:
    """The warm rescan once more under cProfile: its top costs by own time and by cumulative."""
    import pstats

    out = home / "warm.prof"
    # The console script, run as a file by this interpreter under the profiler.
    cmd = scan_cmd(address, db, sys.executable, "-m", "cProfile", "-o", str(out))
    measure(cmd, environment(home), ok=(0, 2))
    for order in ("tottime", "cumulative"):
        stats = pstats.Stats(str(out))
        rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2 if order == "tottime" else 3],
                      reverse=True)[:top]  # fmt: skip
        yield f"  top {top} by {order} (calls, own s, cumulative s, function):"
        for (path, line, name), (_, calls, own, cumulative, _) in rows:
            where = path.replace(str(REPO) + "/", "").replace(str(BIN.parent) + "/", "")
            yield f"    {calls:>9} {own:8.2f} {cumulative:8.2f}  {where}:{line}({name})"


def code_fingerprint() -> str:
    """The Python code the scans run: a scan's catalog key covers it, so when it changes during
    the bench (an edit in the working tree) the warm rescan re-audits everything."""
    import checks
    import inspector

    digest = hashlib.sha256()
    for package in (inspector, checks):
        root = Path(package.__file__).parent
        for path in sorted(root.rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def verdict(ok: bool | None) -> str:
    return "" if ok is None else ("PASS" if ok else "MISS")


def bench(work: Path, address: str, with_profile: bool) -> int:
    started = time.monotonic()
    bases, apps = make_layers()
    layer_bytes = sum(len(blob.data) for blob in bases + apps)
    tags, mounts = fill(address, bases, apps)
    filled = time.monotonic() - started
    repositories = len({repository for repository, _ in tags})
    print(f"  filled: {len(tags)} tags over {repositories} repositories, {len(bases + apps)} "
          f"layers ({layer_bytes / 1e6:.1f} MB gzip'd) uploaded once and mounted {mounts} times, "
          f"in {filled:.1f} s")  # fmt: skip

    home, db = work / "scan", work / "scan" / "scans.sqlite"
    load, code = os.getloadavg()[0], code_fingerprint()
    cold = measure(scan_cmd(address, db), environment(home), ok=(0, 2))
    cold_doc = json.loads(cold.stdout)
    summary = cold_doc["summary"]
    print(f"  cold scan: {summary['images']} images ({summary['audited']} audited, "
          f"{summary['errors']} errors) in {cold.seconds:.1f} s")  # fmt: skip

    audits = single_audits(address, tags, work)
    each = sum(run.seconds for run in audits) / len(audits)
    images = summary["images"]
    singles = each * images
    print(f"  single audits: a seeded sample of {len(audits)} of {images} images, one process "
          f"and fresh cache each, {each:.2f} s per image on average; sum extrapolated to "
          f"{images} images: {singles:.0f} s")  # fmt: skip

    warm = measure(scan_cmd(address, db), environment(home), ok=(0, 2))
    warm_summary = json.loads(warm.stdout)["summary"]
    per_hour = len(tags) / warm.seconds * 3600
    group = measure([*scan_cmd(address, db), "--repo", GROUP], environment(home), ok=(0, 2))
    group_images = json.loads(group.stdout)["summary"]["images"]
    print(f"  warm rescan: {warm_summary['unchanged']} unchanged, {warm_summary['audited']} "
          f"audited, {warm_summary['layers_read']} layers read, in {warm.seconds:.1f} s; "
          f"machine: {os.cpu_count()} cores, load average {load:.1f} before the cold scan, "
          f"{os.getloadavg()[0]:.1f} now (other work on it slows every column)")  # fmt: skip

    if code_fingerprint() != code:
        raise BenchError(
            "inspector's code changed while the bench ran, so the warm rescan re-audited every"
            " image; run it again on a tree nobody is editing"
        )
    unique = summary["unique_layers"]
    per_image = max(0.0, (warm.rss - group.rss) / max(1, images - group_images))
    at_scale = warm.rss + per_image * (SCALE - images)
    ratio = cold.seconds / singles
    rows: list[tuple[str, str, str, bool | None]] = [
        ("cold scan", f"{cold.seconds:.1f} s",
         f"{ratio:.3f}x the sum of single audits (<= {COLD_RATIO}x)", ratio <= COLD_RATIO),
        ("sum of single audits (extrapolated)", f"{singles:.0f} s",
         f"sample of {len(audits)}, x{images / len(audits):.1f}", None),
        ("layers read, cold", f"{summary['layers_read']}",
         f"{unique} unique layers (equal)", summary["layers_read"] == unique),
        ("images unreadable, cold", f"{summary['errors']}", "(0)", summary["errors"] == 0),
        ("warm rescan, nothing changed", f"{warm.seconds:.1f} s",
         f"{per_hour:,.0f} tags/hour (>= {TAGS_PER_HOUR:,})", per_hour >= TAGS_PER_HOUR),
        ("warm rescan, layers read", f"{warm_summary['layers_read']}",
         f"{warm_summary['unchanged']} of {images} unchanged (0 read)",
         warm_summary["layers_read"] == 0 and warm_summary["unchanged"] == images),
        ("peak memory, warm rescan", f"{warm.rss / 1e6:.0f} MB", f"(<= {PEAK_RSS / 1e6:.0f} MB)",
         warm.rss <= PEAK_RSS),
        ("peak memory per image, warm", f"{per_image / 1e3:.1f} KB",
         f"{group_images} vs {images} images; {SCALE:,} tags: {at_scale / 1e6:,.0f} MB"
         f" (<= {PEAK_RSS / 1e6:.0f} MB)", at_scale <= PEAK_RSS),
        ("peak memory, cold scan", f"{cold.rss / 1e6:.0f} MB", "", None),
        ("peak memory, single audit (max)", f"{max(r.rss for r in audits) / 1e6:.0f} MB", "",
         None),
    ]  # fmt: skip
    width = max(len(row[0]) for row in rows)
    for label, value, note, ok in rows:
        print(f"  {label:<{width}}  {value:>9}  {note:<52} {verdict(ok)}")
    missed_warm = per_hour < TAGS_PER_HOUR or warm.rss > PEAK_RSS or at_scale > PEAK_RSS
    if missed_warm or with_profile:
        print("where the warm rescan's time goes (cProfile, which slows it down):")
        for line in profile(address, db, home):
            print(line)
    return 0 if all(ok is not False for *_, ok in rows) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--profile", action="store_true",
                        help="profile the warm rescan even when it meets its targets")  # fmt: skip
    args = parser.parse_args()
    from tests.registry import running_registry

    if shutil.which("docker-registry") is None:
        print("scan bench skipped: docker-registry is not installed (make bench installs it)")
        return 0
    print(f"scan bench: {REPOSITORIES * TAGS_PER_REPO} tags over {REPOSITORIES} repositories in a "
          "loopback registry, layers shared")  # fmt: skip
    try:
        with (
            tempfile.TemporaryDirectory(prefix="inspector-bench-scan-") as tmp,
            running_registry(Path(tmp)) as address,
        ):
            return bench(Path(tmp), address, args.profile)
    except BenchError as exc:
        print(f"scan bench could not run: {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
