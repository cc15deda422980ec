"""No output of inspector prints a planted secret: facts (JSON and text), every report format,
progress and error lines, scan reports and the scan store's rows, for every secret-bearing
fixture (tests/planted_secrets.py lists them and their values)."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

from inspector.cli.commands import main
from inspector.report.facts_text import render as facts_text
from inspector.report.formats import FORMATS
from tests.conftest import fixture_image
from tests.layertools import layer
from tests.planted_secrets import planted, values
from tests.registry import push_image, running_registry
from tests.test_redaction_complete import FORMS, URL_PASSWORDS


def _survivors(outputs: dict[str, str], planted_values: list[str]) -> list[tuple[str, str]]:
    """(output, value start) for each planted value some output holds: never the whole value,
    so a failing test does not print it either."""
    return [(name, value[:4] + "…") for name, text in outputs.items()
            for value in planted_values if value in text]  # fmt: skip


def _watched(monkeypatch) -> None:
    """Progress lines are printed only to a terminal: make stderr one, so they are captured."""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)


@pytest.mark.docker
@pytest.mark.parametrize("name", sorted(planted()))
def test_no_output_of_a_secret_bearing_fixture_prints_a_planted_value(
    name, docker_client, tmp_path, capsys, monkeypatch
):
    """`facts` (JSON, and the text summary of the same facts) and `audit` in every format, with
    the probes, progress and error lines: no planted value of the fixture in any of them."""
    image = fixture_image(name)
    _watched(monkeypatch)
    outputs: dict[str, str] = {}
    probe = ["--warmup", "1", "--grace", "1"]
    assert main(["facts", image, "--format", "json", *probe]) == 0
    printed, err = capsys.readouterr()
    outputs["facts json"], outputs["facts stderr"] = printed, err
    outputs["facts text"] = facts_text(json.loads(printed))
    files = {fmt: tmp_path / f"report.{fmt}" for fmt in FORMATS if fmt != "table"}
    extra = [arg for fmt, path in files.items() for arg in ("-o", f"{fmt}={path}")]
    code = main(["audit", image, "--no-config", *probe, *extra])
    assert code in (0, 1)
    outputs["audit table"], outputs["audit stderr"] = capsys.readouterr()
    outputs.update({f"audit {fmt}": path.read_text() for fmt, path in files.items()})
    assert _survivors(outputs, values(name)) == []


# A registry image holding every form the unit tests plant, for the scan's outputs.
SCAN_HISTORY = [
    "RUN pip download " + " ".join(f"https://ci:{pw}@m{i}.example/s"
                                   for i, pw in enumerate(URL_PASSWORDS)),
    *(text for text, _ in FORMS),
]  # fmt: skip
SCAN_ENV_TOKEN = "ScanEnvT0ken9q"
SCAN_CMD_PASSWORD = "ScanCmdPw4x"
SCAN_DOTENV_PASSWORD = "ScanD0tenvPw7"
SCAN_PLANTED = [*URL_PASSWORDS, *(value for _, value in FORMS), SCAN_ENV_TOKEN,
                SCAN_CMD_PASSWORD, SCAN_DOTENV_PASSWORD]  # fmt: skip


def _diff_id(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(gzip.decompress(raw)).hexdigest()


def _store_rows(path: Path) -> str:
    """Every row of every table of the SQLite store, as text."""
    db = sqlite3.connect(path)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return "\n".join(repr(row) for table in tables
                         for row in db.execute(f"SELECT * FROM {table}"))  # fmt: skip
    finally:
        db.close()


def test_a_scan_prints_and_stores_no_planted_value(tmp_path, capsys, monkeypatch, request):
    """A scan of an image holding secrets in its history, ENV, CMD and a file: the scan's
    table, JSON and Markdown, `runs show`, progress lines and every row of the store hold none
    of the planted values."""
    if shutil.which("docker-registry") is None:
        if request.config.getoption("--require-docker"):
            pytest.fail("docker-registry is not installed", pytrace=False)
        pytest.skip("docker-registry is not installed")
    monkeypatch.setenv("INSPECTOR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("INSPECTOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.delenv("INSPECTOR_DB", raising=False)
    _watched(monkeypatch)
    app = layer(("app/", None), ("app/main.py", b"print(1)\n"),
                ("app/.env", f"DB_PASSWORD={SCAN_DOTENV_PASSWORD}\n".encode()),
                compress=True)  # fmt: skip
    config = {
        "architecture": "amd64", "os": "linux", "created": "2026-11-01T00:00:00Z",
        "config": {"User": "10001", "Env": [f"API_TOKEN={SCAN_ENV_TOKEN}"],
                   "Cmd": ["redis-server", "--requirepass", SCAN_CMD_PASSWORD]},
        "rootfs": {"type": "layers", "diff_ids": [_diff_id(app)]},
        "history": [*({"created_by": text, "empty_layer": True} for text in SCAN_HISTORY),
                    {"created_by": "COPY app /app"}],
    }  # fmt: skip
    workdir = tmp_path / "registry"
    workdir.mkdir()
    outputs: dict[str, str] = {}
    with running_registry(workdir) as address:
        push_image(address, "t/leaky", "1", [app], config)
        files = {fmt: tmp_path / f"scan.{fmt}" for fmt in ("json", "markdown")}
        extra = [arg for fmt, path in files.items() for arg in ("-o", f"{fmt}={path}")]
        code = main(["scan", f"registry:{address}", "--no-config", "--run", "leaky-1", *extra])
        assert code in (0, 1)
        outputs["scan table"], outputs["scan stderr"] = capsys.readouterr()
        outputs.update({f"scan {fmt}": path.read_text() for fmt, path in files.items()})
        for fmt in ("table", "json", "markdown"):
            main(["runs", "show", "leaky-1", "--format", fmt])
            outputs[f"runs show {fmt}"], outputs[f"runs show {fmt} stderr"] = capsys.readouterr()
    outputs["store rows"] = _store_rows(tmp_path / "data" / "scans.sqlite")
    assert "chars, fingerprint" in outputs["scan json"]  # the secrets were found, and masked
    assert _survivors(outputs, SCAN_PLANTED) == []


def test_an_error_line_does_not_print_the_store_password(tmp_path, capsys):
    """A scan store that cannot be reached: exit 2, one line naming the store without its
    password."""
    password = "St0rePassw0rd8"
    code = main(["runs", "--db", f"postgresql://inspector:{password}@127.0.0.1:1/scans"])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.strip()
    assert password not in out + err


TYPED_PASSWORD = "Typ3dPassw0rd5"


def _error_outputs(ref: str, tmp_path, capsys) -> dict[str, str]:
    """`facts` and `audit` (every format) of a reference that cannot be read: stdout, stderr
    and the report files."""
    outputs: dict[str, str] = {}
    assert main(["facts", ref, "--no-probe"]) == 2
    outputs["facts out"], outputs["facts err"] = capsys.readouterr()
    files = {fmt: tmp_path / f"report.{fmt}" for fmt in FORMATS if fmt != "table"}
    extra = [arg for fmt, path in files.items() for arg in ("-o", f"{fmt}={path}")]
    assert main(["audit", ref, "--no-probe", "--no-config", *extra]) == 2
    outputs["audit out"], outputs["audit err"] = capsys.readouterr()
    outputs.update({f"audit {fmt}": path.read_text() for fmt, path in files.items()})
    return outputs


def test_credentials_typed_into_a_registry_reference_are_not_said_back(tmp_path, capsys):
    """`registry:user:PASSWORD@host/app` and a scan target of that form: the error lines and
    the reports name the reference without the password (they repeated it)."""
    ref = f"registry:ci:{TYPED_PASSWORD}@127.0.0.1:1/app:1"
    outputs = _error_outputs(ref, tmp_path, capsys)
    code = main(["scan", f"registry:ci:{TYPED_PASSWORD}@127.0.0.1:1", "--no-config",
                 "--db", str(tmp_path / "scans.sqlite")])  # fmt: skip
    assert code == 2
    outputs["scan out"], outputs["scan err"] = capsys.readouterr()
    assert all(outputs[name].strip() for name in ("facts err", "audit err", "scan err"))
    assert _survivors(outputs, [TYPED_PASSWORD]) == []


@pytest.mark.docker
def test_a_url_given_as_an_image_reference_is_not_said_back(docker_client, tmp_path, capsys):
    """`https://user:PASSWORD@host/app` given to `facts` and `audit`: no output repeats the
    password (the engine's error said it back with `https:/`, which no redaction knew)."""
    outputs = _error_outputs(f"https://ci:{TYPED_PASSWORD}@127.0.0.1:1/app:1", tmp_path, capsys)
    assert _survivors(outputs, [TYPED_PASSWORD]) == []
