"""`inspector db update` against a loopback HTTP server serving OSV exports (127.0.0.1 only):
conditional requests, resumed downloads, refusals and damaged bodies; `--from` and `db status`
through the CLI."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import click
import pytest

from inspector.advisories.store import AdvisoryStore
from inspector.cli.commands import cli, main
from tests import osv_records as osv
from tests.conftest import REPO
from tests.loopback_http import reply, serving


class OsvBucket:
    """OSV's export bucket on loopback: `/ECOSYSTEM/all.zip` with ETag and Last-Modified,
    conditional GETs, byte ranges with If-Range; and the ways a real server misbehaves."""

    address = ""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str, str]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()
        self.status: int | None = None  # answer every request with this status
        self.body: bytes | None = None  # answer 200 with this body instead of the file
        self.cut_after: int | None = None  # send this many bytes of the body, then hang up
        self.ignore_range = False
        self._version = 0

    def put(self, ecosystem: str, records) -> bytes:
        """Publish an export; each new version gets a new ETag and Last-Modified."""
        self._version += 1
        data = osv.write_zip(Path(self._tmp) / f"{ecosystem}-{self._version}.zip", records)
        content = data.read_bytes()
        etag = f'"{hashlib.sha256(content).hexdigest()[:16]}"'
        modified = formatdate(1_700_000_000 + self._version * 86400, usegmt=True)
        self.files[f"/{ecosystem}/all.zip"] = (content, etag, modified)
        return content

    def url(self) -> str:
        return f"http://{self.address}"

    def asked(self, path: str) -> list[dict[str, str]]:
        with self.lock:
            return [headers for p, headers in self.requests if p == path]

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        with self.lock:
            self.requests.append((handler.path, headers))
        if self.status is not None:
            reply(handler, self.status, {}, b"<html>boom</html>")
            return
        if handler.path not in self.files:
            reply(handler, 404, {}, b"no such key")
            return
        content, etag, modified = self.files[handler.path]
        if self.body is not None:
            reply(handler, 200, {}, self.body)
            return
        validators = {"ETag": etag, "Last-Modified": modified}
        if headers.get("if-none-match") == etag:
            reply(handler, 304, validators, b"")
            return
        start = 0
        wanted = headers.get("range", "")
        honoured = not self.ignore_range and headers.get("if-range") in (None, etag, modified)
        if wanted.startswith("bytes=") and honoured:
            start = int(wanted[len("bytes=") :].rstrip("-"))
        body = content[start:]
        status = 206 if start else 200
        if start:
            validators["Content-Range"] = f"bytes {start}-{len(content) - 1}/{len(content)}"
        if self.cut_after is None:
            reply(handler, status, validators, body)
            return
        handler.send_response(status)
        for key, value in validators.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body[: self.cut_after])
        handler.wfile.flush()
        handler.close_connection = True
        handler.connection.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def bucket(tmp_path):
    target = OsvBucket()
    target._tmp = str(tmp_path / "bucket")  # type: ignore[attr-defined]
    with serving(target) as served:
        yield served


@pytest.fixture
def env(tmp_path, monkeypatch):
    """The user's store and cache in tmp_path; no INSPECTOR_DB from outside."""
    monkeypatch.setenv("INSPECTOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("INSPECTOR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("INSPECTOR_DB", raising=False)
    return tmp_path


def db_path(env) -> str:
    return str(env / "data" / "scans.sqlite")


def count(env, ecosystem: str = "PyPI") -> int:
    store = AdvisoryStore(db_path(env))
    try:
        return {s.name: s.advisories for s in store.status().ecosystems}.get(ecosystem, 0)
    finally:
        store.close()


def ids(env, key) -> list[str]:
    store = AdvisoryStore(db_path(env))
    try:
        return [a.id for a in store.advisories([key])[key]]
    finally:
        store.close()


def update(bucket, *ecosystems: str) -> list[str]:
    args = ["db", "update", "--url", bucket.url()]
    for ecosystem in ecosystems or ("PyPI",):
        args += ["--ecosystem", ecosystem]
    return args


def test_update_imports_each_ecosystem_and_a_second_update_gets_304(bucket, env, capsys):
    """The first update imports PyPI and Debian; the second sends the ETags back, gets 304,
    says so, and imports nothing."""
    bucket.put("PyPI", osv.pypi_export(3))
    bucket.put("Debian", [osv.dsa(), osv.debian_cve()])
    assert main(update(bucket, "PyPI", "Debian")) == 0
    out = capsys.readouterr().out
    assert f"PyPI: 3 advisories imported from {bucket.url()}/PyPI/all.zip" in out
    assert "Debian: 2 advisories imported" in out
    assert main(update(bucket, "PyPI", "Debian")) == 0
    out = capsys.readouterr().out
    assert "PyPI: unchanged since the last update (3 advisories kept)" in out
    assert "Debian: unchanged since the last update (2 advisories kept)" in out
    second = bucket.asked("/PyPI/all.zip")[-1]
    assert second["if-none-match"] == bucket.files["/PyPI/all.zip"][1]
    assert second["if-modified-since"] == bucket.files["/PyPI/all.zip"][2]
    assert count(env) == 3


def test_a_changed_export_is_imported_again_and_a_removed_record_is_gone(bucket, env, capsys):
    """A new ETag: the export is downloaded and replaces the old records; pkg-2's is gone."""
    bucket.put("PyPI", osv.pypi_export(3))
    assert main(update(bucket)) == 0
    bucket.put("PyPI", osv.pypi_export(2))
    assert main(update(bucket)) == 0
    assert "PyPI: 2 advisories imported" in capsys.readouterr().out
    assert ids(env, ("PyPI", "pkg-2")) == []
    assert ids(env, ("PyPI", "pkg-1")) == ["GHSA-test-0001-xxxx"]


def test_an_interrupted_download_resumes_with_range(bucket, env, capsys):
    """The server hangs up after 4,000 bytes: exit 2 saying to run again, the bytes kept in
    the .part file; the next run asks for the rest (Range + If-Range) and imports."""
    content = bucket.put("PyPI", osv.pypi_export(40))
    bucket.cut_after = 4000
    assert main(update(bucket)) == 2
    err = capsys.readouterr().err
    assert "stopped after 4000 of" in err
    assert "again to resume" in err
    assert len(err.strip().splitlines()) == 1
    part = env / "cache" / "advisories" / "PyPI.zip.part"
    assert part.stat().st_size == 4000
    assert count(env) == 0
    bucket.cut_after = None
    assert main(update(bucket)) == 0
    resumed = bucket.asked("/PyPI/all.zip")[-1]
    assert resumed["range"] == "bytes=4000-"
    assert resumed["if-range"] == bucket.files["/PyPI/all.zip"][1]
    assert count(env) == 40
    assert not part.exists()
    assert len(content) > 4000


def test_a_server_that_ignores_range_restarts_the_download_cleanly(bucket, env):
    """After an interruption, a server answering 200 with the whole file to a Range request:
    the part is dropped, the whole body written, the import whole."""
    bucket.put("PyPI", osv.pypi_export(40))
    bucket.cut_after = 5000
    assert main(update(bucket)) == 2
    bucket.cut_after = None
    bucket.ignore_range = True
    assert main(update(bucket)) == 0
    assert bucket.asked("/PyPI/all.zip")[-1]["range"] == "bytes=5000-"
    assert count(env) == 40


def test_an_export_changed_since_the_interruption_is_downloaded_whole(bucket, env):
    """The part's ETag no longer matches (If-Range): the server sends the new file whole."""
    bucket.put("PyPI", osv.pypi_export(40))
    bucket.cut_after = 5000
    assert main(update(bucket)) == 2
    bucket.cut_after = None
    bucket.put("PyPI", osv.pypi_export(7))
    assert main(update(bucket)) == 0
    assert count(env) == 7


@pytest.mark.parametrize("failure", ["500", "garbage", "truncated zip", "404"])
def test_a_refused_or_damaged_download_is_one_line_exit_2_and_the_old_data_stays(
    bucket, env, capsys, failure
):
    """500, an HTML body, half a zip, a missing export: one clear line, exit 2, the records
    from before intact and nothing left in the cache."""
    content = bucket.put("PyPI", osv.pypi_export(5))
    assert main(update(bucket)) == 0
    bucket.put("PyPI", osv.pypi_export(9))
    expected = {
        "500": "the server answered HTTP 500",
        "garbage": "not a zip archive",
        "truncated zip": "truncated",
        "404": "the server answered HTTP 404",
    }[failure]
    if failure == "500":
        bucket.status = 500
    elif failure == "garbage":
        bucket.body = b"<html>Service Unavailable</html>"
    elif failure == "truncated zip":
        bucket.body = content[: len(content) // 2]
    capsys.readouterr()
    args = update(bucket, "Ubuntu") if failure == "404" else update(bucket)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("inspector: error: ")
    assert count(env) == 5
    left = [p.name for p in (env / "cache" / "advisories").iterdir()]
    assert [name for name in left if not name.endswith(".lock")] == []


def test_one_failed_ecosystem_does_not_stop_the_others(bucket, env, capsys):
    """Ubuntu missing on the server: PyPI still imported and reported, exit 2 naming Ubuntu."""
    bucket.put("PyPI", osv.pypi_export(2))
    assert main(update(bucket, "Ubuntu", "PyPI")) == 2
    captured = capsys.readouterr()
    assert "PyPI: 2 advisories imported" in captured.out
    assert "Ubuntu/all.zip" in captured.err
    assert "(PyPI updated)" in captured.err
    assert count(env) == 2


def test_credentials_in_the_base_url_are_never_stored_or_shown(bucket, env, capsys):
    """A mirror URL with user:password: the source kept and printed has neither."""
    bucket.put("PyPI", osv.pypi_export(1))
    url = f"http://mirror-user:s3cret@{bucket.address}"
    assert main(["db", "update", "--url", url, "--ecosystem", "PyPI"]) == 0
    assert main(["db", "status", "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert "s3cret" not in out
    assert "mirror-user" not in out
    doc = json.loads(out[out.index("{") :])
    assert doc["ecosystems"][0]["source"] == f"http://{bucket.address}/PyPI/all.zip"


def test_from_a_directory_and_from_a_zip_through_the_cli(env, capsys):
    """--from DIR imports each ECOSYSTEM/all.zip; --from ZIP imports one; status lists them."""
    root = env / "osv"
    osv.write_zip(root / "PyPI" / "all.zip", [osv.ghsa(), osv.pysec()])
    osv.write_zip(root / "Alpine" / "all.zip", [osv.alpine()])
    alone = osv.write_zip(env / "ubuntu.zip", [osv.usn()])
    assert main(["db", "update", "--from", str(root)]) == 0
    assert main(["db", "update", "--from", str(alone)]) == 0
    out = capsys.readouterr().out
    assert "Alpine: 1 advisory imported" in out
    assert "PyPI: 2 advisories imported" in out
    assert "Ubuntu: 1 advisory imported" in out
    assert main(["db", "status"]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0] == db_path(env)
    assert [line.split()[0] for line in table.splitlines()[3:]] == ["Alpine", "PyPI", "Ubuntu"]
    assert "just now" in table


def test_from_and_url_together_are_a_usage_error(env, capsys):
    """--from and --url name two sources: refused with exit 2."""
    assert main(["db", "update", "--from", str(env), "--url", "http://127.0.0.1:9"]) == 2
    assert "not both" in capsys.readouterr().err


def test_status_of_an_empty_database_says_how_to_fill_it(env, capsys):
    """No advisories: one line naming `inspector db update` and --from; JSON lists none."""
    assert main(["db", "status"]) == 0
    assert "no advisories yet: run `inspector db update`" in capsys.readouterr().out
    assert main(["db", "status", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["ecosystems"] == []


def test_an_unreachable_server_is_one_line(env, capsys):
    """Nothing listening on the port: exit 2, one line naming the URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert main(["db", "update", "--url", f"http://127.0.0.1:{port}", "--ecosystem", "PyPI"]) == 2
    err = capsys.readouterr().err
    assert f"cannot download http://127.0.0.1:{port}/PyPI/all.zip" in err
    assert len(err.strip().splitlines()) == 1


def _parsed(args: list[str]) -> click.Context:
    """Parse `inspector ARGS` down to the (sub)command, as the CLI would, without running it."""
    ctx = cli.make_context("inspector", list(args))
    command: click.Command = cli
    rest = list(args)
    while isinstance(command, click.Group):
        name = rest[len(rest) - len(ctx.args) - 1]
        found = command.get_command(ctx, name)
        assert found is not None, f"no command {name!r}"
        command, rest = found, list(ctx.args)
        ctx = command.make_context(name, rest, parent=ctx)
    return ctx


def test_every_command_the_vulnerabilities_page_shows_parses():
    """docs/vulnerabilities.md's `inspector ...` lines name commands and options that exist."""
    from tests.test_docs_ci import _commands

    shown = _commands(REPO / "docs" / "vulnerabilities.md")
    assert len(shown) >= 5
    for args in shown:
        assert _parsed(args).command.name in ("update", "status"), args


def test_two_updates_at_once_download_once(bucket, env):
    """Two updates of one ecosystem started together: one downloads, the other waits for it
    and then gets 304; the records are imported once, whole."""
    from inspector.advisories.fetch import update as download

    bucket.put("PyPI", osv.pypi_export(30))
    results: list[str] = []

    def one() -> None:
        store = AdvisoryStore(db_path(env))
        try:
            results.extend(r.status for r in download(store, bucket.url(), ["PyPI"]))
        finally:
            store.close()

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(results) == ["imported", "unchanged"]
    assert count(env) == 30
