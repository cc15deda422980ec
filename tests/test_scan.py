"""`inspector scan` against a real Distribution registry on 127.0.0.1 (filled through its API,
no engine) and, for the shared store, a real PostgreSQL on 127.0.0.1."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inspector.cli.commands import main
from tests.layertools import layer
from tests.postgres import postgres_server, postgres_url  # noqa: F401 - fixtures
from tests.registry import push_image, push_index, running_registry
from tests.registry_proxy import Proxy, running_proxy

BASE = layer(
    ("etc/", None),
    ("etc/os-release", b'ID=debian\nVERSION_ID="12"\n'),
    ("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\napp:x:10001:10001::/app:/bin/sh\n"),
    ("usr/local/bin/python3.11", b"\x7fELF" * 200, {"mode": 0o755}),
    compress=True,
)
# Two generations of an app: the first ships a .env, the second a pip cache instead.
V1 = layer(("app/", None), ("app/main.py", b"print(1)\n"), ("app/.env", b"PASSWORD=hunter2\n"),
           compress=True)  # fmt: skip
V2 = layer(("app/", None), ("app/main.py", b"print(2)\n"),
           ("root/.cache/pip/http/a", b"x" * 300_000), compress=True)  # fmt: skip
BROKEN = layer(("srv/data.txt", b"intact\n" * 500), compress=True)


def _diff_id(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(gzip.decompress(raw)).hexdigest()


def _config(blobs: list[bytes], arch: str = "amd64", variant: str | None = None,
            created: str = "2026-11-01T00:00:00Z") -> dict:  # fmt: skip
    return {
        "architecture": arch,
        **({"variant": variant} if variant else {}),
        "os": "linux",
        "created": created,
        "config": {"User": "10001", "Cmd": ["python3", "/app/main.py"]},
        "rootfs": {"type": "layers", "diff_ids": [_diff_id(b) for b in blobs]},
        "history": [{"created_by": f"step {i}"} for i in range(len(blobs))],
    }


def _push(address: str, repository: str, tag: str, app: bytes, **config: object) -> None:
    push_image(address, repository, tag, [BASE, app], _config([BASE, app], **config))


def _needs_registry(request: pytest.FixtureRequest) -> None:
    if shutil.which("docker-registry") is None:
        message = "docker-registry is not installed (`make test` installs it as root on Debian)"
        if request.config.getoption("--require-docker"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture
def registry(tmp_path, request, monkeypatch):
    """A loopback registry of 5 repositories: t/app (tags 1 and latest on one image, 0 on
    another), t/api, team/web (v1 and v2), t/multi (an index of amd64 and arm64), t/broken (a
    layer blob damaged on disk); all share one base layer. Each test gets its own registry,
    cache and store."""
    _needs_registry(request)
    monkeypatch.setenv("INSPECTOR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("INSPECTOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.delenv("INSPECTOR_DB", raising=False)
    workdir = tmp_path / "registry"
    workdir.mkdir()
    with running_registry(workdir) as address:
        _push(address, "t/app", "1", V1)
        _push(address, "t/app", "latest", V1)
        _push(address, "t/app", "0", V2, created="2026-01-01T00:00:00Z")
        _push(address, "t/api", "1", V2)
        _push(address, "team/web", "v1", V1)
        _push(address, "team/web", "v2", V2, created="2026-11-20T00:00:00Z")
        amd64 = push_image(address, "t/multi", "amd64", [BASE, V1], _config([BASE, V1]))
        arm64 = push_image(address, "t/multi", "arm64", [BASE, V1],
                           _config([BASE, V1], "arm64", "v8"))  # fmt: skip
        push_index(address, "t/multi", "1", {"linux/amd64": amd64, "linux/arm64/v8": arm64})
        push_image(address, "t/broken", "1", [BROKEN], _config([BROKEN]))
        _damage(workdir, BROKEN)
        yield address, workdir


def _damage(workdir: Path, blob: bytes) -> None:
    digest = hashlib.sha256(blob).hexdigest()
    data = workdir / "storage/docker/registry/v2/blobs/sha256" / digest[:2] / digest / "data"
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    data.write_bytes(bytes(raw))


def _scan(address: str, *args: str, capsys) -> tuple[int, dict]:
    code = main(["scan", f"registry:{address}", "--no-config", "--format", "json",
                 "--page-size", "2", *args])  # fmt: skip
    captured = capsys.readouterr()
    assert captured.out.startswith("{"), captured.err
    return code, json.loads(captured.out)


def _images(doc: dict) -> dict[str, dict]:
    return {f"{i['repository']}:{','.join(i['tags'])}" + (f"[{i['platform']}]"
            if i["platform"] else ""): i for i in doc["images"]}  # fmt: skip


def _blob_gets(workdir: Path) -> list[str]:
    """The digests of every blob GET in the registry's access log, in order."""
    log = (workdir / "registry.log").read_text(errors="replace")
    return re.findall(r'"GET /v2/[^ ]*/blobs/(sha256:[0-9a-f]{64})', log)


def _layer_gets(workdir: Path) -> int:
    layers = {"sha256:" + hashlib.sha256(blob).hexdigest() for blob in (BASE, V1, V2)}
    return sum(1 for digest in _blob_gets(workdir) if digest in layers)


def test_discovery_is_complete_across_pages_and_tags_on_one_digest_are_one_image(registry, capsys):
    """Every repository and tag is found with 2 per page; tags on one digest make one image;
    the broken image is an error with its reason and every other image is still audited."""
    address, _ = registry
    code, doc = _scan(address, capsys=capsys)
    images = _images(doc)
    assert set(images) == {
        "t/app:1,latest", "t/app:0", "t/api:1", "team/web:v1", "team/web:v2", "t/multi:1",
        "t/multi:amd64", "t/multi:arm64", "t/broken:1",
    }  # fmt: skip
    assert code == 2  # the broken image could not be read
    broken = images["t/broken:1"]
    assert broken["status"] == "error"
    assert "t/broken" in broken["error"]
    assert "digest" in broken["error"]
    others = [i for name, i in images.items() if name != "t/broken:1"]
    assert all(i["status"] == "audited" for i in others)
    assert doc["summary"]["images"] == 9
    assert doc["summary"]["errors"] == 1
    assert doc["summary"]["audited"] == 8
    assert doc["summary"]["unchanged"] == 0
    # BASE, V1, V2 are the only layers of the readable images: each read once.
    assert doc["summary"]["unique_layers"] == 3
    assert doc["summary"]["layers_read"] == 3
    # A first run has nothing to compare with: everything found is new.
    assert all(len(i["new"]) == len(i["findings"]) for i in others)


def test_a_second_run_audits_nothing_and_reads_no_layer(registry, capsys):
    """Unchanged digests are carried over with their findings, and no layer blob is fetched."""
    address, workdir = registry
    _, first = _scan(address, "--repo", "t/app", "--repo", "team/*", capsys=capsys)
    before = _layer_gets(workdir)
    gets_before = len(_blob_gets(workdir))
    code, second = _scan(address, "--repo", "t/app", "--repo", "team/*", capsys=capsys)
    assert second["summary"]["audited"] == 0
    assert second["summary"]["unchanged"] == first["summary"]["images"] == 4
    assert second["summary"]["layers_read"] == 0
    # HEADs and tag lists only: not one blob GET, neither layer nor config.
    assert _layer_gets(workdir) == before
    assert len(_blob_gets(workdir)) == gets_before
    a, b = _images(first), _images(second)
    assert {k: v["findings"] for k, v in a.items()} == {k: v["findings"] for k, v in b.items()}
    assert all(not i["new"] and not i["fixed"] for i in second["images"])
    assert code == 0
    assert second["run"]["id"] != first["run"]["id"]


def test_a_moved_tag_reports_what_is_new_and_what_it_fixed(registry, capsys):
    """latest moves from the V1 image (a .env) to a V2 image: the .env is fixed, findings both
    images share are neither new nor fixed, and the move is said with both digests while the
    tag that stayed says so."""
    address, _ = registry
    _, first = _scan(address, "--repo", "t/app", capsys=capsys)
    old = _images(first)["t/app:1,latest"]
    _push(address, "t/app", "latest", V2, created="2026-11-25T00:00:00Z")
    code, second = _scan(address, "--repo", "t/app", "--fail-on", "low", capsys=capsys)
    images = _images(second)
    moved = images["t/app:latest"]
    assert moved["status"] == "audited"
    assert images["t/app:1"]["status"] == "unchanged"
    assert moved["tag_changes"] == [{"tag": "latest", "change": "moved", "from": old["digest"]}]
    assert images["t/app:1"]["tag_changes"] == [
        {"tag": "1", "change": "same", "from": old["digest"]}
    ]
    fixed = {f["check"] for f in moved["fixed"]}
    old_checks = {f["check"] for f in old["findings"]}
    now_checks = {f["check"] for f in moved["findings"]}
    assert fixed
    assert fixed <= old_checks - now_checks
    assert not moved["new"]  # V2 has nothing V1 did not have
    assert second["summary"]["fixed"] == len(moved["fixed"])
    assert second["summary"]["moved"] == 1
    assert code == 0  # nothing new, whatever --fail-on says
    assert main(["runs", "show", second["run"]["id"], "--format", "json",
                 "--fail-on-existing", "--fail-on", "low"]) == 1  # fmt: skip
    why = capsys.readouterr().err.splitlines()
    assert why[0] == "inspector: findings at or above low fail the gate:"
    assert any(line.startswith("  t/app:latest: ") for line in why[1:])
    assert main(["runs", "show", second["run"]["id"]]) == 0
    table = capsys.readouterr().out
    assert "Tags moved (1):" in table
    assert "1 tags moved" in table
    row = next(line for line in table.splitlines() if line.startswith("t/app:latest"))
    assert old["digest"][:19] in row
    assert moved["digest"][:19] in row


def test_a_tag_moved_to_a_worse_image_is_a_regression_even_if_another_tag_had_it(registry, capsys):
    """latest moves from a good image to one running as root, which tag 0.9 of the same
    repository already was: judged per tag, root is new for latest and the gate fails; judged
    per repository (as before) it read `new 0, fixed 1`."""
    address, _ = registry
    as_root = _config([BASE, V2], created="2026-10-01T00:00:00Z")
    as_root["config"]["User"] = ""
    push_image(address, "t/moved", "0.9", [BASE, V2], as_root)
    _push(address, "t/moved", "latest", V2, created="2026-11-01T00:00:00Z")
    code, first = _scan(address, "--repo", "t/moved", capsys=capsys)
    good = _images(first)["t/moved:latest"]
    rebuilt = {**as_root, "created": "2026-11-20T00:00:00Z"}
    push_image(address, "t/moved", "latest", [BASE, V2], rebuilt)
    code, second = _scan(address, "--repo", "t/moved", "--fail-on", "high", capsys=capsys)
    latest = _images(second)["t/moved:latest"]
    assert latest["tag_changes"] == [{"tag": "latest", "change": "moved", "from": good["digest"]}]
    brought = {f["check"] for f in latest["new"]}
    assert "SEC001" in brought  # runs as root: 0.9 had it, latest did not
    assert "SEC001" not in {f["check"] for f in good["findings"]}
    assert any(f["severity"] == "high" for f in latest["new"])
    assert second["summary"]["new"] == len(latest["new"])
    assert code == 1
    assert not _images(second)["t/moved:0.9"]["new"]  # 0.9 did not move


def test_all_platforms_audits_each_index_entry(registry, capsys):
    """--all-platforms makes each platform of an index its own image; by default one."""
    address, _ = registry
    _, doc = _scan(address, "--repo", "t/multi", "--tags", "1", "--all-platforms", capsys=capsys)
    assert set(_images(doc)) == {"t/multi:1[linux/amd64]", "t/multi:1[linux/arm64/v8]"}
    _, one = _scan(address, "--repo", "t/multi", "--tags", "1", capsys=capsys)
    assert set(_images(one)) == {"t/multi:1"}


def test_tags_newest_and_since_select_images(registry, capsys):
    """--tags globs, --newest 1 per repository by creation time, --since a date."""
    address, _ = registry
    _, tagged = _scan(address, "--repo", "team/web", "--tags", "v2", capsys=capsys)
    assert set(_images(tagged)) == {"team/web:v2"}
    _, newest = _scan(address, "--repo", "t/app", "--repo", "team/web", "--newest", "1",
                      capsys=capsys)  # fmt: skip
    assert set(_images(newest)) == {"t/app:1,latest", "team/web:v2"}
    _, recent = _scan(address, "--repo", "team/web", "--since", "2026-11-10", capsys=capsys)
    assert set(_images(recent)) == {"team/web:v2"}


def test_max_time_leaves_a_partial_run_that_the_next_run_completes(registry, capsys):
    """A run out of time starts nothing new and is partial; the next one audits what was left
    first and carries over what the partial run did."""
    address, _ = registry

    def slow_blobs(method: str, path: str, headers: dict[str, str]) -> None:
        if "/blobs/" in path:
            time.sleep(1.5)  # each image then outlasts the 1 s budget: one image at most starts

    with running_proxy(Proxy(address, fault=slow_blobs)) as proxy:
        _, partial = _scan(proxy.address, "--repo", "t/*", "--repo", "team/*", "--jobs", "1",
                           "--max-time", "1s", capsys=capsys)  # fmt: skip
    # The store knows the registry by the address scanned: scan the proxy's again? No: the
    # next run goes straight to the registry, so compare by images, not by scope.
    assert partial["run"]["status"] == "partial"
    left = partial["summary"]["left_over"]
    assert left > 0
    assert partial["summary"]["images"] + left == 9
    _, rest = _scan(address, "--repo", "t/*", "--repo", "team/*", capsys=capsys)
    assert rest["run"]["status"] == "complete"
    assert rest["summary"]["images"] == 9
    assert rest["summary"]["unchanged"] == partial["summary"]["audited"]
    assert (
        rest["summary"]["audited"] + rest["summary"]["errors"]
        == left + partial["summary"]["errors"]
    )


def test_runs_lists_and_prunes(registry, capsys):
    """`inspector runs` lists runs newest first; --keep-runs keeps only the newest N."""
    address, _ = registry
    for _ in range(3):
        _scan(address, "--repo", "t/api", "--keep-runs", "2", capsys=capsys)
    assert main(["runs"]) == 0
    listed = capsys.readouterr().out
    assert listed.count("registry:") == 2


def test_runs_show_takes_latest_and_a_position(registry, capsys):
    """`runs show latest` and `runs show N` (N as numbered by `inspector runs`, 1 the newest)
    report the run they name; a position past the last run is one clear error."""
    address, _ = registry
    _, older = _scan(address, "--repo", "t/api", capsys=capsys)
    _, newer = _scan(address, "--repo", "t/api", capsys=capsys)
    assert main(["runs"]) == 0
    listed = capsys.readouterr().out
    assert listed.splitlines()[0].split()[0] == "#"
    for given, expected in (("latest", newer), ("1", newer), ("2", older)):
        assert main(["runs", "show", given, "--format", "json", "--exit-zero"]) == 0
        assert json.loads(capsys.readouterr().out)["run"]["id"] == expected["run"]["id"]
    assert main(["runs", "show", "9"]) == 2
    err = capsys.readouterr().err
    assert "no run at position 9" in err
    assert len(err.strip().splitlines()) == 1


def test_a_selection_that_matches_nothing_is_an_error_and_the_run_is_failed(registry, capsys):
    """A typo'd prefix or --repo glob exits 2 naming what matched nothing, and the run is
    recorded as failed with that reason, never left running."""
    address, _ = registry
    assert main(["scan", f"registry:{address}/tema", "--no-config"]) == 2
    err = capsys.readouterr().err
    assert "the prefix 'tema' matches no repository" in err
    assert main(["scan", f"registry:{address}", "--no-config", "--repo", "tema/*"]) == 2
    assert "--repo 'tema/*' matches no repository" in capsys.readouterr().err
    assert main(["runs"]) == 0
    rows = capsys.readouterr().out.splitlines()[2:]
    assert len(rows) == 2
    assert all(" failed " in row and " running " not in row for row in rows)
    assert main(["runs", "show", "latest", "--format", "json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["run"]["status"] == "failed"
    assert "matches no repository" in doc["discovery_errors"][0]["error"]


def test_every_report_says_which_checks_a_scan_cannot_judge(registry, capsys):
    """A scan runs no probe: the JSON lists the checks that need one and the table and Markdown
    say so in a line, so a clean scan never reads as a clean start-up."""
    from checks import catalog

    address, _ = registry
    _, doc = _scan(address, "--repo", "t/api", capsys=capsys)
    needing = {c.id for c in catalog().values() if any(s.startswith("runtime.") for s in c.needs)}
    assert needing
    assert set(doc["not_judged"]) == needing
    for fmt in ("table", "markdown"):
        assert main(["runs", "show", "latest", "--format", fmt, "--exit-zero"]) == 0
        out = capsys.readouterr().out
        line = next(row for row in out.splitlines() if "not judged:" in row)
        assert all(check in line for check in needing)


def test_open_findings_say_since_when_and_the_report_lists_the_oldest(registry, capsys):
    """A finding still open in a later run keeps the start of the first run that saw it; one
    that appears later is dated by its own run; the table lists what is open now, worst and
    oldest first, with its date."""
    address, _ = registry
    _, first = _scan(address, "--repo", "t/app", capsys=capsys)
    _push(address, "t/app", "latest", V2, created="2026-11-25T00:00:00Z")
    _, second = _scan(address, "--repo", "t/app", capsys=capsys)
    started = first["run"]["started"]
    kept = _images(second)["t/app:1"]["findings"]
    assert kept
    assert {f["first_seen"] for f in kept} == {started}
    assert second["summary"]["open"]["high"] == sum(
        1 for i in second["images"] for f in i["findings"] if f["severity"] == "high"
    )
    assert main(["runs", "show", "latest", "--exit-zero"]) == 0
    table = capsys.readouterr().out
    assert "Open now (" in table
    assert started[:10] in table.split("Open now (", 1)[1]


def test_openmetrics_parse_with_prometheus_and_agree_with_the_json(registry, capsys, tmp_path):
    """`--format openmetrics` and `-o openmetrics=FILE` are valid OpenMetrics (Prometheus' own
    parser reads them) and say what the JSON says: findings by repository and severity, images
    by status, errors, tags moved, layers read, the run's duration."""
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    address, _ = registry
    _, doc = _scan(address, "--repo", "t/*", capsys=capsys)
    metrics_file = tmp_path / "inspector.prom"
    assert (
        main(
            [
                "runs",
                "show",
                "latest",
                "--format",
                "openmetrics",
                "--exit-zero",
                "-o",
                f"openmetrics={metrics_file}",
            ]
        )
        == 2
    )  # 2: t/broken cannot be read
    text = capsys.readouterr().out
    assert text.endswith("# EOF\n")
    assert metrics_file.read_text() == text
    assert not list(tmp_path.glob(".inspector-*"))  # the temporary file was renamed
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in families.values()
        for s in family.samples
    }
    for image in doc["images"]:
        for severity, count in image["counts"].items():
            assert count <= samples[
                ("inspector_scan_findings",
                 (("repository", image["repository"]), ("severity", severity)))
            ]  # fmt: skip
    total = sum(v for (name, _), v in samples.items() if name == "inspector_scan_findings")
    assert total == doc["summary"]["findings"]
    assert samples[("inspector_scan_images", (("status", "error"),))] == doc["summary"]["errors"]
    assert samples[("inspector_scan_errors", ())] >= 1
    assert samples[("inspector_scan_layers_read", ())] == doc["summary"]["layers_read"]
    assert samples[("inspector_scan_duration_seconds", ())] >= 0
    assert families["inspector_scan_duration_seconds"].unit == "seconds"


# Chromium's own background services (updates, time, accounts) are pointed at a closed port
# on loopback and every host name fails to resolve: nothing leaves the machine, whatever it tries.
_CHROMIUM = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-pings",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-domain-reliability", "--disable-breakpad",
    "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
    "--enable-logging=stderr", "--v=0",
)  # fmt: skip


def _chromium(request: pytest.FixtureRequest) -> str:
    found = shutil.which("chromium")
    if found is None:
        message = "chromium is not installed (`make test` installs it as root on Debian)"
        if request.config.getoption("--require-docker"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


def test_the_html_report_loads_in_chromium_with_no_error_and_draws_its_charts(
    registry, capsys, tmp_path, request
):
    """`--format html` is one self-contained page: headless Chromium loads it with no console
    message (its Content-Security-Policy would report any request leaving the file), every link
    stays inside the page, each finding links to its check's section, and a screenshot shows
    the trend charts drawn."""
    from PIL import Image

    from inspector.scan.html import COLOURS

    browser = _chromium(request)
    address, _ = registry
    _scan(address, "--repo", "t/app", "--repo", "team/*", capsys=capsys)
    _push(address, "t/app", "latest", V2, created="2026-11-25T00:00:00Z")
    _scan(address, "--repo", "t/app", "--repo", "team/*", capsys=capsys)
    page = tmp_path / "report.html"
    assert main(["runs", "show", "latest", "--format", "html", "--exit-zero",
                 "-o", f"html={page}"]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert page.read_text() == text
    assert "Tags moved (1)" in text
    links = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', text)
    assert links
    assert all(link.startswith("#check-") for link in links)
    for link in set(links):
        assert f'id="{link[1:]}"' in text  # every finding's link lands on its check
    assert "url(" not in text
    assert "<script" not in text
    shot = tmp_path / "shot.png"
    ran = subprocess.run(
        [browser, *_CHROMIUM, f"--user-data-dir={tmp_path / 'profile'}",
         f"--screenshot={shot}", "--window-size=1200,1400", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-2000:]
    console = [line for line in ran.stderr.splitlines() if "CONSOLE" in line]
    assert console == []
    with Image.open(shot) as picture:
        pixels = list(picture.convert("RGB").tobytes())
    pixels = list(zip(pixels[0::3], pixels[1::3], pixels[2::3], strict=True))
    images_bar = (0x54, 0x6E, 0x7A)
    high = tuple(int(COLOURS["high"][i : i + 2], 16) for i in (1, 3, 5))
    assert sum(1 for p in pixels if p == images_bar) > 500  # bars of the images chart
    assert sum(1 for p in pixels if p == high) > 100  # high findings in the severity chart


def test_table_and_markdown_reports(registry, capsys):
    """The table has one line per repository and lists new findings; Markdown the same, for a
    chat message; both name the broken image's error."""
    address, _ = registry
    main(["scan", f"registry:{address}", "--no-config", "--repo", "t/*"])
    table = capsys.readouterr().out
    assert "t/app" in table
    assert "New findings" in table
    assert "Errors (1)" in table
    run_id = table.split()[1]
    assert main(["runs", "show", run_id, "--format", "markdown"]) == 2
    markdown = capsys.readouterr().out
    assert markdown.startswith("**inspector scan**")
    assert "| t/app |" in markdown


def _shard(address: str, url: str, index: int, workdir: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "inspector", "scan", f"registry:{address}", "--no-config",
         "--db", url, "--run", "nightly-1", "--shard", f"{index}/3", "--page-size", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**__import__("os").environ, "INSPECTOR_CACHE_DIR": str(workdir / f"c{index}")},
    )  # fmt: skip


def test_three_shards_on_postgresql_equal_one_process(registry, postgres_url, tmp_path, capsys):  # noqa: F811
    """Three concurrent shards writing one PostgreSQL store report exactly what one process
    does, and read each unique layer once across the fleet (the shared layer cache)."""
    address, workdir = registry
    before = _layer_gets(workdir)
    shards = [_shard(address, postgres_url, i, tmp_path) for i in range(3)]
    outputs = [p.communicate(timeout=300) for p in shards]
    for process, (_out, err) in zip(shards, outputs, strict=True):
        assert process.returncode in (0, 2), err  # 2: the broken image is in some shard
        assert "Traceback" not in err
    fleet_layer_gets = _layer_gets(workdir) - before
    code = main(["scan", f"registry:{address}", "--db", postgres_url, "--run", "nightly-1",
                 "--finish", "--format", "json"])  # fmt: skip
    fleet = json.loads(capsys.readouterr().out)
    assert code == 2
    assert fleet["run"]["status"] == "complete"
    assert fleet["summary"]["layers_read"] == fleet["summary"]["unique_layers"] == 3
    # Each of the three layer blobs was downloaded once by the whole fleet.
    assert fleet_layer_gets == 3
    _, single = _scan(address, capsys=capsys)

    def comparable(doc: dict) -> dict:
        return {name: (i["status"], [f["fingerprint"] for f in i["findings"]])
                for name, i in _images(doc).items()}  # fmt: skip

    assert comparable(fleet) == comparable(single)
    assert fleet["summary"]["images"] == single["summary"]["images"] == 9


def test_a_baseline_written_by_audit_is_honoured_by_scan(registry, tmp_path, capsys):
    """Findings recorded by `inspector baseline registry:...` are accepted by a scan of the same
    repository (the same fingerprints), counted as suppressed, and gate nothing."""
    address, _ = registry
    baseline = tmp_path / "baseline.json"
    assert main(["baseline", f"registry:{address}/t/api:1", "--no-config", "--no-probe",
                 "-o", str(baseline)]) == 0  # fmt: skip
    capsys.readouterr()
    code, doc = _scan(address, "--repo", "t/api", "--baseline", str(baseline),
                      "--fail-on-existing", "--fail-on", "info", capsys=capsys)  # fmt: skip
    (image,) = doc["images"]
    assert image["findings"] == []
    assert image["suppressed"] == len(json.loads(baseline.read_text())["findings"]) > 0
    assert code == 0
