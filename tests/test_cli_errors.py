"""What a person sees when the input is wrong: one line on stderr, exit 2, never a traceback,
and a hint at what would have worked."""

from __future__ import annotations

import io
import json
import socket
import tarfile
import tokenize
from pathlib import Path

import pytest

from checks import catalog
from checks.docs import explain as page
from inspector.cli.commands import error_line, main
from inspector.sources.names import check_daemon_reference
from inspector.sources.registry_client import unreachable_for_good

REPO = Path(__file__).resolve().parent.parent


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    ("reference", "said"),
    [
        ("", "an empty image reference"),
        ("   ", "an empty image reference"),
        ("App:1.4", "names are lower case"),
        ("registry.example/Team/app:1", "names are lower case"),
        ("app:-bad", "is not a valid tag"),
        ("app@sha256:zz", "is not a valid digest"),
        ("docker-archive:", "nothing after docker-archive:"),
        ("registry:", "nothing after registry:"),
    ],
)
def test_impossible_references_are_one_line_and_exit_2(capsys, reference, said):
    """A reference that cannot name an image is refused before the engine is asked: exit 2,
    one line on stderr saying what a valid one looks like, nothing on stdout but its place."""
    assert main(["audit", "--no-probe", reference]) == 2
    out, err = capsys.readouterr()
    line = _one_error_line(err)
    assert said in line
    assert "400 Client Error" not in line
    assert "NullResource" not in line
    assert said not in out


@pytest.mark.parametrize(
    "reference",
    ["app:1.4", "app", "localhost:5000/team/app:1", "Registry.Example:5000/a/b@sha256:" + "a" * 64,
     "0123456789ab", "sha256:" + "f" * 64, "a__b/c-d.e:v1.2_x"],
)  # fmt: skip
def test_valid_references_pass_the_check(reference):
    """References the engine accepts are not refused: upper case is fine in a host name."""
    check_daemon_reference(reference)


def test_an_archive_file_named_as_an_image_suggests_docker_archive(tmp_path, capsys):
    """`audit ./img.tar` of a `docker save` tar says to read it as docker-archive:, a tar
    holding only an OCI layout as oci-archive:, and a layout directory as oci:."""
    saved = tmp_path / "img.tar"
    with tarfile.open(saved, "w") as tar:
        for name in ("manifest.json", "oci-layout"):
            info = tarfile.TarInfo(name)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"{}"))
    oci = tmp_path / "oci.tar"
    with tarfile.open(oci, "w") as tar:
        info = tarfile.TarInfo("oci-layout")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"{}"))
    layout = tmp_path / "layout"
    layout.mkdir()
    (layout / "oci-layout").write_text("{}")
    for path, prefix in ((saved, "docker-archive"), (oci, "oci-archive"), (layout, "oci")):
        assert main(["audit", "--no-probe", str(path)]) == 2
        line = _one_error_line(capsys.readouterr().err)
        assert f"read it as {prefix}:{path}" in line
        assert "registry:" not in line


def test_a_missing_path_is_said_to_be_missing(tmp_path, capsys):
    """A path that does not exist is not sent to the engine as an image name."""
    assert main(["audit", "--no-probe", str(tmp_path / "gone.tar")]) == 2
    assert "no such file or directory" in _one_error_line(capsys.readouterr().err)


def test_the_error_line_names_the_reference_once():
    """An error that already starts with its reference is not prefixed with it again."""
    ref = "registry:nowhere.example/x:1"
    assert error_line(ref, f"{ref}: cannot reach") == f"inspector: error: {ref}: cannot reach"
    assert error_line(ref, "cannot reach") == f"inspector: error: {ref}: cannot reach"
    assert error_line("", "an empty reference") == "inspector: error: an empty reference"


def test_a_name_that_does_not_resolve_is_not_retried():
    """A host name the resolver says does not exist fails at once; a resolver that cannot
    answer now (EAI_AGAIN) and a reset connection are worth a retry."""
    assert unreachable_for_good(socket.gaierror(socket.EAI_NONAME, "Name or service not known"))
    assert unreachable_for_good(ConnectionRefusedError())
    assert not unreachable_for_good(socket.gaierror(socket.EAI_AGAIN, "Temporary failure"))
    assert not unreachable_for_good(ConnectionResetError())


def test_explain_of_an_unknown_check_suggests_the_nearest(capsys):
    """`explain NOPE` is one line and exit 2; a short or misspelt id or name gets a suggestion."""
    assert main(["explain", "NOPE"]) == 2
    assert "no check 'NOPE'" in _one_error_line(capsys.readouterr().err)
    assert main(["explain", "py1"]) == 2
    assert _one_error_line(capsys.readouterr().err).endswith("did you mean PY001?")
    assert main(["explain", "runs-as-rot"]) == 2
    assert _one_error_line(capsys.readouterr().err).endswith("did you mean runs-as-root?")


def test_checks_lists_as_json_and_by_category(capsys):
    """`checks --format json --category size` is parseable and holds only that category."""
    assert main(["checks", "--format", "json", "--category", "size"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows
    assert {r["category"] for r in rows} == {"size"}
    assert {"id", "name", "severity", "category", "problem", "sections"} <= set(rows[0])
    assert len(rows) == sum(1 for c in catalog().values() if c.category == "size")


def _docstring_tokens(path: Path) -> list[tokenize.TokenInfo]:
    tokens = list(tokenize.generate_tokens(io.StringIO(path.read_text()).readline))
    return [
        t
        for t in tokens
        if t.type == tokenize.STRING and t.string.lstrip("rbuRBU")[:3] in ('"""', "'''")
    ]


def test_check_docs_keep_their_line_continuations():
    """A backslash at the end of a line in a check's documentation (a Dockerfile RUN split over
    lines) reaches `explain` as written: no non-raw docstring joins two lines with it."""
    for path in sorted((REPO / "checks").glob("*.py")):
        for token in _docstring_tokens(path):
            raw = token.string[0] in "rR"
            joined = [line for line in token.string.splitlines() if line.endswith("\\")
                      and not line.endswith("\\\\")]  # fmt: skip
            assert raw or not joined, f"{path.name}:{token.start[0]}: {joined[0]}"
    text = page(catalog()["SIZE004"])
    assert "apt-get -y upgrade \\\n && apt-get install" in text


def test_an_unknown_os_release_is_said_in_words():
    """The end-of-life check on an image with no os-release says so, never `os id None`."""
    from checks.model import Context, Skip

    eol = catalog()["META004"]
    cases = (
        ({"os": {}}, "no /etc/os-release"),
        ({"os": {"id": "wolfi", "version_id": None}}, "wolfi (no version)"),
    )
    for facts, said in cases:
        with pytest.raises(Skip) as skipped:
            list(eol.run(facts, Context()))
        assert said in str(skipped.value)
        assert "None" not in str(skipped.value)


@pytest.mark.docker
def test_several_images_without_a_terminal_get_a_line_each(tmp_path):
    """`audit` of three images into a pipe: one stderr line per image as it ends, the table ends
    with the summary, and the error is on stderr only."""
    import subprocess

    from tests.conftest import fixture_image

    refs = [fixture_image("naive"), fixture_image("good"), "App:1"]
    done = subprocess.run(
        [str(REPO / ".venv/bin/inspector"), "audit", "--no-probe", "--jobs", "2", *refs],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    progress = [line for line in done.stderr.splitlines() if line.startswith("inspector: [")]
    assert sorted(line.split("]")[0] for line in progress) == [
        "inspector: [1/3", "inspector: [2/3", "inspector: [3/3"]  # fmt: skip
    assert "3 images: 2 audited, 1 not audited" in done.stdout
    assert "names are lower case" not in done.stdout
    assert done.stderr.count("names are lower case") == 1
