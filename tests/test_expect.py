"""`--expect`: container-structure-test files read strictly, and their metadata and file tests
decided from the layers alone (no engine: images here are archives built in memory)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from checks import catalog
from checks.engine import run_check
from checks.model import Context
from inspector.cli.commands import main
from inspector.expect import judge
from inspector.expect.parse import ExpectError, load, parse
from inspector.expect.regex import search, translate
from inspector.facts.collect import capture_rule
from inspector.layers.model import DIR, FILE, SYMLINK, Entry
from tests.layertools import image_archive, layer

EXPECTATIONS = Path(__file__).parent / "expectations"


def _parse(text: str, name: str = "cst.yaml") -> object:
    return parse(text.encode(), name, {})


def _error(text: str) -> str:
    with pytest.raises(ExpectError) as caught:
        _parse(text)
    return str(caught.value)


def test_the_fixture_file_reads_every_test_type():
    """The file the engine tests use reads whole: metadata, both file kinds and commands."""
    file = load(EXPECTATIONS / "good.yaml", "good.yaml")
    assert file.metadata is not None
    assert file.metadata.user == "10001:10001"
    assert file.metadata.entrypoint == ("/usr/bin/tini", "--")
    assert len(file.file_existence) == 6
    assert len(file.file_content) == 3
    assert len(file.commands) == 6
    assert file.commands[2].setup == (("sh", "-c", "echo ready > /tmp/cst-setup"),)
    assert file.file_existence[3].should_exist is False
    assert file.file_existence[0].uid == 0
    assert file.file_existence[1].uid is None


HEAD = "schemaVersion: 2.0.0\n"
BROKEN = [
    (HEAD + "commandTests:\n  - name: py\n    command: python\n    expectedOuput: [x]\n",
     "cst.yaml: commandTests[0] 'py': field expectedOuput (line 5): unknown field"),
    (HEAD + "fileExistenceTests:\n  - name: tini\n    path: /x\n    uid: root\n",
     "cst.yaml: fileExistenceTests[0] 'tini': field uid (line 5): must be a whole number"),
    (HEAD + "fileContentTests:\n  - name: c\n    path: /x\n    expectedContents: ['(']\n",
     "cst.yaml: fileContentTests[0] 'c': field expectedContents (line 5): '(' is not a valid "
     "regular expression"),
    (HEAD + "metadataTest:\n  envVars:\n    - key: A\n      valeu: b\n",
     "cst.yaml: metadataTest: field envVars[0].valeu (line 5): unknown field"),
    (HEAD + "licenseTests:\n  - debian: true\n",
     "cst.yaml: file: field licenseTests (line 2): Not supported"),
    (HEAD + "containerRunOptions:\n  privileged: true\n",
     "cst.yaml: containerRunOptions: field privileged (line 3): Refused"),
    ("commandTests: []\n", "cst.yaml: file: field schemaVersion: required"),
    ("schemaVersion: 1.0.0\n", "cst.yaml: file: field schemaVersion (line 1): '1.0.0' is not"),
    (HEAD + "commandTests:\n  - name: a\n    command: x\n  - name: a\n    command: y\n",
     "cst.yaml: commandTests[1] 'a': field name (line 5): another commandTests test"),
    (HEAD + "commandTests:\n  - name: a\n", "cst.yaml: commandTests[0] 'a': field command"),
    (HEAD + "fileExistenceTests:\n  - name: a\n    path: /x\n    isExecutableBy: me\n",
     "cst.yaml: fileExistenceTests[0] 'a': field isExecutableBy (line 5): 'me' is not one of"),
    (HEAD + "commandTests:\n  - name: a\n    command: x\n    setup: [[]]\n",
     "cst.yaml: commandTests[0] 'a': field setup (line 5): an empty command"),
    (HEAD + "metadataTest: [1]\n", "cst.yaml: metadataTest (line 2): must be a mapping"),
    ("schemaVersion: 2.0.0\nmetadataTest: {user: [x\n", "cst.yaml: file (line 3): not valid"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "said"), BROKEN, ids=range(len(BROKEN)))
def test_a_broken_field_is_one_line_naming_the_file_the_test_and_the_field(text, said):
    """Each way a file can be wrong stops with one line that starts with file, test and field."""
    message = _error(text)
    assert "\n" not in message
    assert message.startswith(said), message


def test_a_broken_file_exits_2_in_one_line_before_any_image_is_read(tmp_path, capsys):
    """`audit --expect` with a broken field: exit 2, one stderr line, no image looked at."""
    broken = tmp_path / "cst.yaml"
    broken.write_text(HEAD + "fileExistenceTests:\n  - name: tini\n    path: /x\n    gid: x\n")
    code = main(["audit", "no-such-image:anywhere", "--expect", str(broken), "--no-probe"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1, err
    assert f"{broken}: fileExistenceTests[0] 'tini': field gid (line 5)" in err[0]


def test_the_policy_names_expectation_files_relative_to_itself(tmp_path, capsys, monkeypatch):
    """A policy's `expect` is read relative to the policy file (a broken one proves it was read)."""
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "cst.yaml").write_text(HEAD + "metadataTest:\n  usr: app\n")
    (tmp_path / ".inspector.toml").write_text('expect = ["ci/cst.yaml"]\n')
    elsewhere = tmp_path / "sub"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code = main(["audit", "no-such-image:anywhere", "--no-probe"])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "ci/cst.yaml: metadataTest: field usr (line 3): unknown field (known: envVars," in err


def test_go_regular_expressions_read_as_go_reads_them():
    """POSIX classes, `\\z` and a `$` that ends the text only (Go's RE2 semantics)."""
    assert translate("[[:digit:]]+") == "[0-9]+"
    assert search("^[[:alpha:]]+$", "abc")
    assert not search("^[[:alpha:]]+$", "ab1")
    assert not search("done$", "done\n")  # Go: `$` is the end of the text
    assert search("(?m)done$", "done\nmore")
    assert search("a\\z", "a")
    assert not search("a\\z", "a\n")
    assert search("[]a]", "]")


def test_dollar_variables_expand_as_go_os_expand_does():
    """`$VAR`, `${VAR}`, unset names, a lone `$`, and `${}` eaten, as CST's substitution."""
    env = {"HOME": "/srv", "PORT": "8000"}
    assert judge.expand("$HOME/app", env) == "/srv/app"
    assert judge.expand("${PORT}x $NOPE.", env) == "8000x ."
    assert judge.expand("cost: 5$", env) == "cost: 5$"
    assert judge.expand("a ${}b", env) == "a b"


@pytest.mark.parametrize(
    ("kind", "mode", "shown"),
    [
        (FILE, 0o755, "-rwxr-xr-x"),
        (DIR, 0o755, "drwxr-xr-x"),
        (SYMLINK, 0o777, "Lrwxrwxrwx"),
        (FILE, 0o4755, "urwxr-xr-x"),
        (DIR, 0o1777, "dtrwxrwxrwx"),
        ("char", 0o666, "Dcrw-rw-rw-"),
        (FILE, 0o2640, "grw-r-----"),
    ],
)
def test_modes_are_written_as_go_writes_them(kind, mode, shown):
    """permissions compares Go's FileMode.String(), which is what CST compares."""
    assert judge.go_mode(Entry("/x", kind, 0, mode, 0, 0, 0)) == shown


def test_content_paths_join_the_capture_and_its_fingerprint():
    """A content test's path is captured (1 MiB) and changes the cache fingerprint; no file
    changes nothing."""
    file = _parse(HEAD + "fileContentTests:\n  - name: c\n    path: /var/lib/cst/state.dat\n")
    plain, plain_key = capture_rule()
    wanting, wanting_key = capture_rule([file])
    assert plain("/var/lib/cst/state.dat", 10) is None
    assert wanting("/var/lib/cst/state.dat", 10) == judge.CONTENT_CAP
    assert plain_key != wanting_key
    assert capture_rule([])[1] == plain_key


# --- a whole audit of an archive: static tests decided, command tests not run ------------------

STATIC_FILE = """\
schemaVersion: 2.0.0
metadataTest:
  envVars:
    - {key: PORT, value: "8000"}
    - {key: API_TOKEN, value: "nope"}
  labels:
    - {key: version, value: "^1\\\\.", isRegex: true}
  exposedPorts: ["8000", "9000"]
  user: "10001"
  workdir: /srv
  cmd: [python3]
fileExistenceTests:
  - {name: settings exist, path: $HOME/settings.toml, uid: 10001, permissions: "-rw-r-----"}
  - {name: no shell history, path: /root/.bash_history, shouldExist: false}
  - {name: link is a link, path: /srv/current, permissions: Lrwxrwxrwx}
  - {name: through a dir link, path: /app/settings.toml}
  - {name: run is executable, path: /srv/run.sh, isExecutableBy: other}
fileContentTests:
  - {name: debug off, path: /srv/settings.toml, expectedContents: ["debug = false"],
     excludedContents: ["password"]}
  - {name: through a link, path: /srv/current}
  - {name: missing, path: /srv/nothing.toml, expectedContents: [x]}
commandTests:
  - {name: runs, command: python3, args: ["-V"]}
"""


def _archive(tmp_path: Path) -> Path:
    layers = [
        layer(("srv/", None), ("root/", None), ("var/lib/app/real.dat", b"state\n")),
        layer(
            ("srv/settings.toml", b"debug = false\npassword = hunter2\n",
             {"uid": 10001, "gid": 10001, "mode": 0o640}),
            ("srv/run.sh", b"#!/bin/sh\n", {"mode": 0o744}),
            ("srv/current", "->/var/lib/app/real.dat", {"mode": 0o777}),
            ("app", "->srv"),
        ),
    ]  # fmt: skip
    config = {"Env": ["PORT=8000", "HOME=/srv", "API_TOKEN=ghp_" + "a1" * 18],
              "Labels": {"version": "1.4.2"}, "ExposedPorts": {"8000/tcp": {}},
              "WorkingDir": "/srv"}  # fmt: skip
    path = tmp_path / "image.tar"
    path.write_bytes(image_archive(layers, config=config))
    return path


def test_metadata_and_file_tests_are_decided_from_an_archive(tmp_path, capsys):
    """Every static test gets its verdict from the layers alone; the command test says why it
    did not run; each failed test is a COR030 finding located at the file and the test."""
    expect = tmp_path / "cst.yaml"
    expect.write_text(STATIC_FILE)
    code = main(["audit", f"docker-archive:{_archive(tmp_path)}", "--expect", str(expect),
                 "--select", "COR030", "--format", "json", "--no-cache"])  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    findings = report["images"][0]["results"][0]["findings"]
    by_test = {re.search(r"test '(.*)'$", f["location"]["expectation"]).group(1): f
               for f in findings}  # fmt: skip
    assert sorted(by_test) == sorted([
        "metadataTest.envVars[API_TOKEN]", "metadataTest.exposedPorts[9000]",
        "run is executable", "debug off", "through a link", "missing",
        "runs",
    ])  # fmt: skip
    token = by_test["metadataTest.envVars[API_TOKEN]"]["message"]
    assert "ghp_" not in token
    assert "redacted" in token
    assert "matches 'password', which is excluded" in by_test["debug off"]["message"]
    assert by_test["debug off"]["location"]["path"] == "/srv/settings.toml"
    assert "symlink to /var/lib/app/real.dat" in by_test["through a link"]["message"]
    assert by_test["through a link"]["severity"] == "medium"
    assert by_test["runs"]["severity"] == "medium"
    assert "archive" in by_test["runs"]["message"]
    assert by_test["missing"]["severity"] == "high"
    assert by_test["run is executable"]["message"].endswith("not executable by other (-rwxr--r--)")


def test_the_check_adds_what_the_probes_know():
    """A failed USER expectation quotes the app's effective UID; a command failing on an import
    quotes the static probe's own import failure."""
    failed_user = {
        "file": "cst.yaml",
        "kind": "metadata",
        "name": "metadataTest.user",
        "status": "failed",
        "failures": ["USER is '(none: root)', expected '10001'"],
    }
    failed_import = {
        "file": "cst.yaml",
        "kind": "command",
        "name": "imports",
        "status": "failed",
        "failures": ["exited with 1, expected 0"],
        "stderr_tail": ["ModuleNotFoundError: No module named 'rich'"],
    }
    facts = {
        "expectations": {"files": ["cst.yaml"], "results": [failed_user, failed_import]},
        "runtime": {
            "lifecycle": {"status": "ran", "app_pid": 7,
                          "processes": [{"pid": 7, "euid": 10001}]},
            "static": {"status": "ran", "imports": {"verdict": "broken",
                       "exception": "ModuleNotFoundError", "module": "rich",
                       "found_elsewhere": ["/opt/other/site-packages"]}},
        },
    }  # fmt: skip
    result = run_check(catalog()["COR030"], facts, Context())
    user, imports = (f.message for f in result.findings)
    assert "effective UID 10001 (its entrypoint drops privileges)" in user
    assert "fails to import too: ModuleNotFoundError rich" in imports
    assert "/opt/other/site-packages" in imports


def test_without_expectation_files_the_check_is_skipped():
    """No file given: COR030 says so (skipped), it never passes unread."""
    result = run_check(catalog()["COR030"], {"expectations": None}, Context())
    assert result.status == "skipped"
    assert "--expect" in (result.reason or "")


def test_docs_expectations_md_is_generated_from_the_parser():
    """docs/expectations.md equals what `make docs` writes from the parser's key tables."""
    from inspector.expect.docs import render

    page = (Path(__file__).parent.parent / "docs" / "expectations.md").read_text()
    assert page == render(), "run `make docs` (scripts/gen_expect_doc.py)"


def test_every_key_the_parser_accepts_is_in_the_docs():
    """Each key of each section is a row of the page, supported or not, so nothing is hidden."""
    from inspector.expect import format as fmt
    from inspector.expect.docs import render

    page = render()
    for keys in fmt.SECTIONS.values():
        for key in keys:
            assert f"| `{key.name}`" in page, key.name


def test_audit_baseline_and_scan_take_the_policys_files_and_expect_adds_to_them(tmp_path):
    """The policy's `expect` (named as written) and `--expect` both reach the audit options
    that `audit`, `baseline` and `scan` share."""
    from inspector.cli.commands import _scan

    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "cst.yaml").write_text(HEAD + "metadataTest:\n  user: app\n")
    (tmp_path / "more.yaml").write_text(HEAD + "metadataTest:\n  workdir: /srv\n")
    (tmp_path / ".inspector.toml").write_text('expect = ["ci/cst.yaml"]\n')
    setup = _scan(("img",), (), (), str(tmp_path / ".inspector.toml"), False, "never", False,
                  None, (), True, 0.0, 0.0, expect=(str(tmp_path / "more.yaml"),))  # fmt: skip
    names = [file.name for file in setup.options.expect]
    assert names == ["ci/cst.yaml", str(tmp_path / "more.yaml")]
    assert setup.options.expect[0].metadata.user == "app"
