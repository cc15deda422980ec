"""`inspector diff` end to end on image archives (no engine): exit codes, one-line errors, the
JSON fully documented, and every layer the two images share read once."""

from __future__ import annotations

import json
from collections import Counter

import pytest

import inspector.facts.collect as collect_module
from inspector.cli.commands import main
from tests.layertools import image_archive, layer
from tests.test_diff_doc import problems

PLANTED = "dfCliPlanted0123456789abcdefXYZ"
STATUS = b"Package: openssl\nStatus: install ok installed\nArchitecture: amd64\nVersion: {v}\n\n"
BASE = layer(
    ("etc/", None),
    ("etc/os-release", b'ID=debian\nVERSION_ID="12"\n'),
    ("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\napp:x:10001:10001::/app:/bin/sh\n"),
    ("usr/local/bin/python3.12", b"\x7fELF" * 200, {"mode": 0o755}),
)
SITE = "opt/venv/lib/python3.12/site-packages"


def _app(six: str, openssl: str) -> bytes:
    return layer(
        ("var/lib/dpkg/status", STATUS.replace(b"{v}", openssl.encode())),
        ("opt/venv/pyvenv.cfg", b"home = /usr/local/bin\nversion = 3.12.7\n"),
        (f"{SITE}/six-{six}.dist-info/METADATA", f"Name: six\nVersion: {six}\n".encode()),
        (f"{SITE}/six.py", b"# six\n" * 100),
    )


@pytest.fixture
def pair(tmp_path, monkeypatch):
    """OLD and NEW as OCI archives sharing their base layer; a cache of the test's own."""
    monkeypatch.setenv("INSPECTOR_CACHE_DIR", str(tmp_path / "cache"))
    old = image_archive([BASE, _app("1.16.0", "3.0.13-1~deb12u1")], "oci",
                        config={"Env": ["PATH=/opt/venv/bin:/usr/bin"]})  # fmt: skip
    extra = layer(("srv/data.bin", b"z" * (2 << 20)))
    new = image_archive([BASE, _app("1.17.0", "3.0.15-1~deb12u1"), extra], "oci",
                        config={"User": "", "Env": ["PATH=/opt/venv/bin:/usr/bin",
                                                    f"PAYMENTS_API_KEY={PLANTED}"]})  # fmt: skip
    (tmp_path / "old.tar").write_bytes(old)
    (tmp_path / "new.tar").write_bytes(new)
    return f"oci-archive:{tmp_path / 'old.tar'}", f"oci-archive:{tmp_path / 'new.tar'}"


@pytest.fixture
def reads(monkeypatch) -> Counter:
    """Every layer the collector parses, by diff_id (the real reader, counted)."""
    seen: Counter = Counter()
    real = collect_module.read_layer

    def counted(*args, **kwargs):
        layer_read = real(*args, **kwargs)
        seen[layer_read.diff_id] += 1
        return layer_read

    monkeypatch.setattr(collect_module, "read_layer", counted)
    return seen


def _diff(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["diff", *args, "--no-probe", "--no-vulns"])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("cache", [[], ["--no-cache"]], ids=["cache", "no-cache"])
def test_each_shared_layer_is_read_once(pair, reads, capsys, cache):
    """OLD's two layers and NEW's two of its own are read; the shared base is read once, with
    the layer cache and without it (a cache in memory for the one diff)."""
    code, out, err = _diff(capsys, *pair, "--format", "json", *cache)
    assert code == 0, err
    doc = json.loads(out)
    assert sorted(reads.values()) == [1, 1, 1, 1]  # base, OLD's app, NEW's app and data
    shared = [r["digest"] for r in doc["size"]["layers"] if r["status"] == "shared"]
    assert len(shared) == 1
    assert reads[shared[0]] == 1
    assert (doc["old"]["layers_read"], doc["new"]["layers_read"]) == (2, 2)
    assert doc["size"]["base_layers"] == 1


def test_a_real_diff_is_fully_documented_and_says_what_moved(pair, capsys):
    """The JSON of a real diff has only documented paths, and names the upgrade (PEP 440 and
    dpkg order), the new layer, the hidden secret and USER."""
    code, out, err = _diff(capsys, *pair, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert problems(doc) == []
    (env,) = doc["packages"]["python"]
    assert env["changes"] == [{"name": "six", "change": "upgraded", "old": "1.16.0",
                               "new": "1.17.0"}]  # fmt: skip
    assert doc["packages"]["os"][0]["change"] == "upgraded"
    assert [r["status"] for r in doc["size"]["layers"]] == ["shared", "added", "added", "removed"]
    secret = [e for e in doc["config"]["env"] if e["name"] == "PAYMENTS_API_KEY"]
    assert secret == [{"name": "PAYMENTS_API_KEY", "change": "added", "old": None, "new": None,
                       "hidden": True}]  # fmt: skip
    assert PLANTED not in out
    assert doc["size"]["biggest_known"] is True
    assert doc["size"]["biggest_added"] == [
        {"path": "/srv/data.bin", "old_bytes": None, "new_bytes": 2 << 20}
    ]


@pytest.mark.parametrize("fmt", ["table", "markdown", "json"])
def test_the_gate_fails_on_a_new_high_finding(pair, capsys, fmt):
    """NEW drops USER 10001 and adds a key in ENV: new:high exits 1 in every format, and the
    planted value is never printed."""
    code, out, err = _diff(capsys, *pair, "--fail-on", "new:high", "--format", fmt)
    assert code == 1, err
    assert PLANTED not in out + err
    assert "gate failed: new " in out
    assert "SEC001" in out


def test_the_gate_passes_when_nothing_new_is_that_bad(pair, capsys):
    """The reverse diff brings nothing high that OLD lacked: exit 0, the verdict says so."""
    old, new = pair
    code, out, _ = _diff(capsys, new, old, "--fail-on", "new:high")
    assert code == 0
    assert "gate passed" in out


def test_an_unreadable_image_is_exit_2_in_one_line(pair, tmp_path, capsys):
    """A NEW that cannot be read: exit 2, one line naming it, no traceback, nothing on stdout."""
    old, _ = pair
    (tmp_path / "broken.tar").write_bytes(b"not an archive")
    code, out, err = _diff(capsys, old, f"oci-archive:{tmp_path / 'broken.tar'}")
    assert code == 2
    assert out == ""
    assert "broken.tar" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_fail_on_needs_new_severity(pair, capsys):
    """`--fail-on high` (without `new:`) is a usage error: exit 2 saying what is expected."""
    code, _, err = _diff(capsys, *pair, "--fail-on", "high")
    assert code == 2
    assert "new:SEVERITY" in err


def test_output_files_in_other_formats(pair, tmp_path, capsys):
    """-o writes other formats beside stdout's."""
    code, _, err = _diff(capsys, *pair, "-o", f"markdown={tmp_path / 'd.md'}",
                         "-o", f"json={tmp_path / 'd.json'}")  # fmt: skip
    assert code == 0, err
    assert (tmp_path / "d.md").read_text().startswith("### `oci-archive:")
    assert json.loads((tmp_path / "d.json").read_text())["schema_version"] == 1
