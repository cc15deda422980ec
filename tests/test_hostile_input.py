"""Images built to be hostile: data that attacks the reader's terminal (ESC and C1 sequences,
OSC 52, bidirectional overrides, file names that are not UTF-8) reaches no output raw and every
JSON output stays valid UTF-8 JSON; a config whose fields have the wrong JSON types is exit 2 in
one line naming the field, never a traceback."""

from __future__ import annotations

import json
import re

import pytest

from inspector.cli.commands import main
from inspector.safetext import json_text, visible
from tests.layertools import image_archive, layer

# What a terminal would obey: C0 controls but newline and tab, DEL, C1, bidi overrides, surrogates.
RAW = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
CLEAR, TITLE, CLIPBOARD = "\x1b[2J", "\x1b]0;owned\x07", "\x1b]52;c;ZXZpbA==\x07"


def test_visible_escapes_what_a_terminal_would_obey():
    """ESC, C1 CSI, a bidi override and a surrogateescaped byte become visible; text stays."""
    assert visible(f"a{CLEAR}b\x9b31m\u202ec\udcff\n\tok é") == (
        "a\\x1b[2Jb\\x9b31m\\u202ec\\xff\n\tok é")  # fmt: skip


def test_json_text_keeps_the_document_and_escapes_the_rest():
    """C1 controls and surrogates left raw by json.dumps become \\u escapes: same JSON, UTF-8."""
    doc = {"label": f"x\x9by\udcff\u202e{CLEAR}"}
    text = json_text(json.dumps(doc, ensure_ascii=False))
    assert not RAW.search(text)
    text.encode("utf-8")
    assert json.loads(text)["label"].startswith("x\x9by")


@pytest.fixture
def hostile(tmp_path):
    """An archive whose os-release, labels, command, history and a file name attack the reader."""
    files = layer(
        ("etc/os-release", f'PRETTY_NAME="Debian{CLEAR}{TITLE}"\nID=debian\n'.encode()),
        ("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"),
        (f"srv/evil{CLIPBOARD}\u202etxt.sh", b"echo hi\n"),
        ("srv/id_rsa", b"-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n"),
    )
    archive = tmp_path / "hostile.tar"
    archive.write_bytes(image_archive(
        [files],
        config={"Labels": {"org.opencontainers.image.title": f"app{TITLE}\x9b2J",
                           "evil": f"\u202e{CLIPBOARD}"},
                "Cmd": ["python3", f"-c{CLEAR}"], "User": f"10001{TITLE}"},
        history=[{"created_by": f"/bin/sh -c echo {CLIPBOARD} # buildkit"}],
    ))  # fmt: skip
    return f"docker-archive:{archive}"


def test_no_output_carries_a_raw_escape(hostile, capsys, tmp_path, monkeypatch):
    """facts (text, JSON) and audit in every format: nothing raw, JSON parses, UTF-8 encodes."""
    monkeypatch.setenv("INSPECTOR_CACHE_DIR", str(tmp_path / "cache"))
    outputs = {}
    for fmt in ("text", "json"):
        assert main(["facts", hostile, "--no-probe", "--format", fmt]) == 0
        outputs[f"facts-{fmt}"] = capsys.readouterr().out
    written = {
        fmt: tmp_path / f"r.{fmt}" for fmt in ("json", "sarif", "junit", "markdown", "table")
    }
    code = main(["audit", hostile, "--no-probe", "--no-config",
                 *[x for fmt, p in written.items() for x in ("-o", f"{fmt}={p}")]])  # fmt: skip
    assert code in (0, 1)
    outputs.update({fmt: path.read_text() for fmt, path in written.items()})
    outputs["stderr"] = capsys.readouterr().err
    for name, text in outputs.items():
        assert not RAW.search(text), (name, RAW.search(text))
        text.encode("utf-8")
    for name in ("facts-json", "json", "sarif"):
        json.loads(outputs[name])
    assert "\\x1b]52;" in outputs["facts-text"] or "\\x1b]52;" in outputs["table"]


def test_an_error_line_naming_hostile_data_is_shown_not_obeyed(tmp_path, monkeypatch, capsys):
    """A reference full of escapes that cannot be read: exit 2, one line, escapes visible."""
    # A relative path: a long temporary directory (a pytest-xdist worker's) would push the
    # escape past where the error line shortens the reference.
    monkeypatch.chdir(tmp_path)
    assert main(["facts", f"docker-archive:no{CLEAR}such.tar", "--no-probe"]) == 2
    err = capsys.readouterr().err
    assert "\\x1b[2J" in err
    assert not RAW.search(err)


@pytest.mark.parametrize(
    ("raw", "config", "field"),
    [
        ({}, {"Env": [1, 2]}, "config.Env is a list, not a list of strings (it holds a number)"),
        ({"config": "run me"}, {}, "config is a string, not an object"),
        ({"history": "steps"}, {}, "history is a string, not a list"),
        ({"history": [1, 2]}, {}, "history[0] is a number, not an object"),
        ({"history": [{"created_by": 7}]}, {}, "history[0].created_by is a number"),
        ({}, {"Labels": ["a", "b"]}, "config.Labels is a list, not an object of strings"),
        ({}, {"ExposedPorts": ["8000/tcp"]}, "config.ExposedPorts is a list, not an object"),
        ({}, {"Healthcheck": "curl localhost"}, "config.Healthcheck is a string"),
        ({}, {"Cmd": [1, 2]}, "config.Cmd is a list, not a list of strings"),
        ({}, {"Entrypoint": "python -m app"}, "config.Entrypoint is a string, not a list"),
        ({}, {"WorkingDir": {"a": 1}}, "config.WorkingDir is an object, not a string"),
        ({}, {"Volumes": ["/data"]}, "config.Volumes is a list, not an object"),
        ({"architecture": 64}, {}, "architecture is a number, not a string"),
        ({"rootfs": {"diff_ids": "sha256:x"}}, {}, "rootfs.diff_ids is not a list of strings"),
    ],
)  # fmt: skip
def test_a_config_field_of_the_wrong_type_is_exit_2_in_one_line(tmp_path, capsys, raw, config,
                                                               field):  # fmt: skip
    """Each config field of the wrong JSON type: exit 2 naming the field, never a traceback."""
    archive = tmp_path / "odd.tar"
    archive.write_bytes(image_archive([layer(("etc/passwd", b"root:x:0:0::/:/bin/sh\n"))],
                                      config=config, raw=raw))  # fmt: skip
    assert main(["facts", f"docker-archive:{archive}", "--no-probe", "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert field in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def _negative_size_tar() -> bytes:
    """A tar whose one member claims a size of -1 in GNU base-256, checksum recomputed."""
    raw = bytearray(layer(("etc/passwd", b"root:x:0:0::/:/bin/sh\n")))
    header = raw[:512]
    header[124:136] = b"\xff" * 12
    header[148:156] = b" " * 8
    header[148:156] = f"{sum(header):06o}\0 ".encode()
    raw[:512] = header
    return bytes(raw)


@pytest.mark.parametrize(
    ("members", "said"),
    [
        ([("etc/passwd", b"x", {"pax": {"size": "abc"}})], "size='abc'"),
        ([("etc/passwd", b"x", {"pax": {"mtime": "nan"}})], "mtime='nan'"),
        ([("etc/passwd", b"x", {"pax": {"mtime": "inf"}})], "mtime='inf'"),
        ([("etc/passwd", b"x", {"pax": {"uid": "root"}})], "uid='root'"),
        ([("etc/passwd", b"x", {"pax": {"uid": "9" * 5000}})], "not a non-negative integer"),
        ([("etc/passwd", b"x", {"pax": {"GNU.sparse.realsize": "big"}})], "GNU.sparse.realsize"),
        ([("p" * 1_200_000, b"x")], "extended header of"),
        (None, "negative size"),
    ],
)  # fmt: skip
def test_a_malformed_tar_number_is_exit_2_in_one_line(tmp_path, capsys, members, said):
    """Malformed PAX numbers, a 5000-digit uid, a negative size, a 1.2 MB name: exit 2 saying
    what is corrupt, never a traceback, and no memory claimed beyond the header cap."""
    raw = _negative_size_tar() if members is None else layer(*members)
    archive = tmp_path / "bad.tar"
    archive.write_bytes(image_archive([raw]))
    assert main(["facts", f"docker-archive:{archive}", "--no-probe", "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert said in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_huge_config_values_are_read_in_linear_time(tmp_path):
    """A 256 KiB ENV value, a 128 KiB history step and a 256 KiB CMD of patterns that made the
    secret scanners quadratic (hours for these sizes) are read within the suite's 60 s budget."""
    import subprocess
    import sys

    archive = tmp_path / "big.tar"
    archive.write_bytes(image_archive(
        [layer(("etc/passwd", b"root:x:0:0::/:/bin/sh\n"))],
        config={"Env": ["BLOB=" + "a." * 131072], "Cmd": ["sh", "-c", "x" * 262144]},
        history=[{"created_by": "/bin/sh -c echo " + "b-" * 65536}],
    ))  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "inspector", "facts", f"docker-archive:{archive}", "--no-probe",
         "--no-cache", "--format", "json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-500:]
