"""--dockerfile: the parser, matching history steps to instructions, and SARIF on real images."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from inspector.analysers.secrets import redact_text
from inspector.cli.commands import main
from inspector.dockerfile.locate import Dockerfile, display_path
from inspector.dockerfile.parse import parse
from inspector.errors import InspectorError
from tests.conftest import FIXTURES, REPO, fixture_image
from tests.test_render_sarif import _errors

BASE = [("", True)]  # an imported base image: one layer, nothing recorded


def _dockerfile(text: str, path: str = "Dockerfile") -> Dockerfile:
    return Dockerfile(path, parse(text))


def _facts(*steps: tuple[str, bool], reference: str = "app:1") -> dict[str, Any]:
    """History as the facts give it: (created_by, made a layer) per step, layers numbered."""
    history, layer = [], 0
    for created_by, made in steps:
        history.append(
            {"created_by": created_by, "empty_layer": not made, "layer": layer if made else None}
        )
        layer += made
    return {"image": {"reference": reference}, "history": history}


def _line(text: str, start: str) -> int:
    """The 1-based line of the only line of `text` that starts with `start`."""
    found = [n for n, line in enumerate(text.split("\n"), 1) if line.startswith(start)]
    assert len(found) == 1, (start, found)
    return found[0]


# --- parsing --------------------------------------------------------------------------------


def test_continuations_and_comments_join_as_the_builder_joins_them():
    """A continued RUN keeps its start line, drops inner comments and blank lines, and its text
    reads as the history records it."""
    text = (
        "# a comment\n"
        "FROM python:3.12-slim\n"
        "\n"
        "RUN apt-get update \\\n"
        "# why: the comment inside is not part of the command\n"
        "\n"
        " && apt-get install -y tini \\  \n"
        "    && rm -rf /var/lib/apt/lists/*\n"
        "  env A=1\n"
    )
    instructions = parse(text)
    assert [(i.keyword, i.line) for i in instructions] == [("FROM", 2), ("RUN", 4), ("ENV", 9)]
    assert instructions[1].arguments == (
        "apt-get update  && apt-get install -y tini     && rm -rf /var/lib/apt/lists/*"
    )
    assert instructions[2].arguments == "A=1"


def test_escape_directive_makes_the_backtick_the_continuation():
    """`# escape=`` ` at the top: backticks continue lines, backslashes stay literal."""
    text = "# escape=`\nFROM base\nRUN copy C:\\src C:\\dst `\n    && dir\nWORKDIR C:\\app\\\n"
    instructions = parse(text)
    assert [(i.keyword, i.line) for i in instructions] == [("FROM", 2), ("RUN", 3), ("WORKDIR", 5)]
    assert instructions[1].arguments == "copy C:\\src C:\\dst     && dir"
    assert instructions[2].arguments == "C:\\app\\"


def test_a_directive_after_the_first_instruction_is_only_a_comment():
    """`# escape=` below a FROM changes nothing: the backslash still continues the line."""
    instructions = parse("FROM base\n# escape=`\nRUN a \\\n b\n")
    assert [(i.keyword, i.line, i.arguments) for i in instructions][1] == ("RUN", 3, "a  b")


def test_heredoc_bodies_are_not_instructions():
    """Lines inside `<<EOF` (and tab-stripped `<<-EOT`) documents are kept, not parsed."""
    text = (
        "FROM base\n"
        "RUN <<EOF\n"
        "FROM not-a-stage\n"
        "pip install x\n"
        "EOF\n"
        "COPY <<-EOT /etc/app.conf\n"
        "\tUSER root\n"
        "\tEOT\n"
        "RUN python3 - <<'PY' > /out\n"
        "print(1)\n"
        "PY\n"
        "USER app\n"
    )
    instructions = parse(text)
    assert [(i.keyword, i.line) for i in instructions] == [
        ("FROM", 1),
        ("RUN", 2),
        ("COPY", 6),
        ("RUN", 9),
        ("USER", 12),
    ]
    assert instructions[1].heredocs == ("FROM not-a-stage\npip install x\n",)
    assert instructions[2].heredocs == ("USER root\n",)
    assert instructions[3].heredocs == ("print(1)\n",)


def test_final_chain_is_the_last_stage_and_the_stages_it_builds_on():
    """`FROM x AS y` then `FROM y`: the chain runs through its parents; other stages are out."""
    text = (
        "ARG PARENT=Test\n"
        "FROM python:3.12 AS build\n"
        "RUN make\n"
        "FROM build AS test\n"
        "RUN pytest\n"
        "FROM python:3.12 AS docs\n"
        "RUN sphinx-build\n"
        "FROM ${PARENT}\n"
        "COPY --from=docs /html /srv\n"
    )
    dockerfile = _dockerfile(text)
    assert [s.name for s in dockerfile.stages] == ["build", "test", "docs", None]
    assert [i.arguments for i in dockerfile.final_chain()] == [
        "make",
        "pytest",
        "--from=docs /html /srv",
    ]
    # A stage named after an image it comes before does not count as the parent.
    later = _dockerfile("FROM app AS base\nRUN a\nFROM base AS app\nRUN b\nFROM app\nRUN c\n")
    assert [i.arguments for i in later.final_chain()] == ["a", "b", "c"]


def test_read_names_the_file_and_what_is_wrong(tmp_path):
    """Missing, a directory, not UTF-8, no FROM: InspectorError naming the file."""
    cases = {
        tmp_path / "missing": "no such file",
        tmp_path: "is a directory",
    }
    binary = tmp_path / "binary"
    binary.write_bytes(b"FROM x\nRUN echo \xff\n")
    cases[binary] = "not UTF-8"
    empty = tmp_path / "Dockerfile.notes"
    empty.write_text("# just a comment\nRUN echo hi\n")
    cases[empty] = "no FROM"
    for path, reason in cases.items():
        with pytest.raises(InspectorError) as caught:
            Dockerfile.read(str(path))
        assert str(path) in str(caught.value)
        assert reason in str(caught.value)


def test_path_is_relative_inside_the_working_directory_else_absolute(tmp_path, monkeypatch):
    """The SARIF artifact URI: `docker/Dockerfile` inside the checkout, absolute outside it."""
    (tmp_path / "repo" / "docker").mkdir(parents=True)
    (tmp_path / "repo" / "docker" / "Dockerfile").write_text("FROM x\n")
    (tmp_path / "Dockerfile").write_text("FROM x\n")
    monkeypatch.chdir(tmp_path / "repo")
    assert Dockerfile.read("docker/Dockerfile").path == "docker/Dockerfile"
    assert Dockerfile.read("./docker/../docker/Dockerfile").path == "docker/Dockerfile"
    assert Dockerfile.read(str(tmp_path / "repo/docker/Dockerfile")).path == "docker/Dockerfile"
    assert display_path("../Dockerfile") == (tmp_path / "Dockerfile").as_posix()


# --- matching history -----------------------------------------------------------------------

NAIVE = """\
# naive
ARG BASE=python:3.12-slim
FROM ${BASE}
ARG INDEX_URL
WORKDIR /app
COPY requirements.txt .
RUN pip install --index-url ${INDEX_URL} -r requirements.txt
COPY app/app/ ./app/
EXPOSE 8000
CMD python3 -m app
"""


def test_locate_on_legacy_builder_history():
    """The legacy builder's `#(nop)` steps and `|N ARG=...` RUNs map each layer to its line."""
    facts = _facts(
        *BASE,
        ("/bin/sh -c #(nop)  ARG INDEX_URL", False),
        ("/bin/sh -c #(nop) WORKDIR /app", True),
        ("/bin/sh -c #(nop) COPY file:48456dc5f3de5eb8 in . ", True),
        (
            "|1 INDEX_URL=http://127.0.0.1:1/simple /bin/sh -c pip install --index-url "
            "${INDEX_URL} -r requirements.txt",
            True,
        ),
        ("/bin/sh -c #(nop) COPY dir:95273ee557cd68b8 in ./app/ ", True),
        ("/bin/sh -c #(nop)  EXPOSE 8000", False),
        ('/bin/sh -c #(nop)  CMD ["/bin/sh" "-c" "python3 -m app"]', False),
    )
    dockerfile = _dockerfile(NAIVE)
    assert dockerfile.locate(facts) == {
        1: _line(NAIVE, "WORKDIR"),
        2: _line(NAIVE, "COPY requirements.txt"),
        3: _line(NAIVE, "RUN pip install"),
        4: _line(NAIVE, "COPY app/"),
    }
    assert dockerfile.mismatch(facts) is None


def test_locate_on_buildkit_history():
    """BuildKit's `RUN ... # buildkit`, `COPY src dest # buildkit`, its WORKDIR layer, `EXPOSE
    map[...]`, heredoc RUNs and exec-form CMD/HEALTHCHECK all match their instructions."""
    text = (
        "FROM python:3.12-slim\n"
        "ARG INDEX_URL\n"
        "WORKDIR /srv\n"
        "COPY --chown=10001:10001 requirements.txt /tmp/\n"
        "RUN --mount=type=cache,target=/root/.cache \\\n"
        "    pip install --index-url ${INDEX_URL} -r /tmp/requirements.txt\n"
        "RUN <<EOF\n"
        "set -e\n"
        "python3 -m compileall -q /srv\n"
        "EOF\n"
        "COPY <<EOF /etc/app.conf\n"
        "debug = false\n"
        "EOF\n"
        "ENV PATH=/opt/venv/bin:$PATH \\\n"
        "    PYTHONFAULTHANDLER=1\n"
        'LABEL org.opencontainers.image.title="app"\n'
        "USER 10001\n"
        "EXPOSE 8000\n"
        'HEALTHCHECK --interval=30s CMD ["python", "-m", "app.health"]\n'
        'CMD ["python", "-m", "app"]\n'
    )
    facts = _facts(
        *BASE,
        ("ARG INDEX_URL", False),
        ("WORKDIR /srv", True),
        ("COPY --chown=10001:10001 requirements.txt /tmp/ # buildkit", True),
        (
            "RUN |1 INDEX_URL=http://127.0.0.1:1/simple /bin/sh -c pip install --index-url "
            "${INDEX_URL} -r /tmp/requirements.txt # buildkit",
            True,
        ),
        ("RUN /bin/sh -c set -e\npython3 -m compileall -q /srv\n # buildkit", True),
        ("COPY <<EOF /etc/app.conf # buildkit", True),
        ("ENV PATH=/opt/venv/bin:/usr/local/bin:/usr/bin PYTHONFAULTHANDLER=1", False),
        ("LABEL org.opencontainers.image.title=app", False),
        ("USER 10001", False),
        ("EXPOSE map[8000/tcp:{}]", False),
        (
            'HEALTHCHECK &{["CMD" "python" "-m" "app.health"] "30s" "0s" "0s" "0s" \'\\x00\'}',
            False,
        ),
        ('CMD ["python" "-m" "app"]', False),
    )
    dockerfile = _dockerfile(text)
    assert dockerfile.locate(facts) == {1: 3, 2: 4, 3: 5, 4: 7, 5: 11}
    from inspector.dockerfile.history import align, steps

    # Every instruction found its step, metadata included.
    chain = dockerfile.final_chain()
    assert len(align(chain, steps(facts["history"]))) == len(chain) == 12


def test_locate_skips_a_base_image_look_alike():
    """A base image that also ran `WORKDIR /app` and `CMD`: ours are the latest steps."""
    text = 'FROM base\nWORKDIR /app\nCOPY . .\nCMD ["python3"]\n'
    facts = _facts(
        ("/bin/sh -c #(nop) ADD file:1 in / ", True),
        ("/bin/sh -c #(nop) WORKDIR /app", True),
        ('/bin/sh -c #(nop)  CMD ["python3"]', False),
        ("/bin/sh -c #(nop) WORKDIR /app", True),
        ("/bin/sh -c #(nop) COPY dir:2 in . ", True),
        ('/bin/sh -c #(nop)  CMD ["python3"]', False),
    )
    assert _dockerfile(text).locate(facts) == {2: 2, 3: 3}


def test_multi_stage_only_the_final_stage_made_layers():
    """Build-stage instructions made no layer of the image; COPY --from in the final one did."""
    text = (
        "FROM python:3.12 AS build\n"
        "RUN python3 -m venv /opt/venv\n"
        "FROM python:3.12-slim\n"
        "RUN python3 -m venv /opt/venv\n"
        "COPY --from=build /opt/venv /opt/venv\n"
    )
    facts = _facts(
        *BASE,
        ("/bin/sh -c python3 -m venv /opt/venv", True),
        ("/bin/sh -c #(nop) COPY dir:3 in /opt/venv ", True),
    )
    assert _dockerfile(text).locate(facts) == {1: 4, 2: 5}
    chained = "FROM base AS deps\nRUN pip install x\nFROM deps\nCOPY . /app\n"
    facts = _facts(
        *BASE, ("/bin/sh -c pip install x", True), ("/bin/sh -c #(nop) COPY dir:4 in /app ", True)
    )
    assert _dockerfile(chained).locate(facts) == {1: 2, 2: 4}


def test_redacted_secrets_and_empty_layer_runs_still_match():
    """A token the facts redacted (in the command and in a `|N` build argument) and a RUN that
    changed nothing (no layer) still align; the next layers land on their own lines."""
    text = (
        "FROM base\n"
        "ARG API_TOKEN=fake-api-token-0f1e2d3c4b5a69788796a5b4c3d2e1f0\n"
        'RUN test -n "$API_TOKEN"\n'
        "RUN pip install --index-url https://deploy:s3cr3t-Passw0rd-xyz@pypi.example/simple x\n"
        "RUN rm -rf /root/.netrc\n"
    )
    arg = "|1 API_TOKEN=fake-api-token-0f1e2d3c4b5a69788796a5b4c3d2e1f0 /bin/sh -c "
    facts = _facts(
        *BASE,
        (
            "/bin/sh -c #(nop)  ARG API_TOKEN=fake-api-token-0f1e2d3c4b5a69788796a5b4c3d2e1f0",
            False,
        ),
        (arg + 'test -n "$API_TOKEN"', False),
        (
            arg
            + "pip install --index-url https://deploy:s3cr3t-Passw0rd-xyz@pypi.example/simple x",
            True,
        ),
        (arg + "rm -rf /root/.netrc", True),
    )
    for step in facts["history"]:
        step["created_by"] = redact_text(step["created_by"])
    assert "s3cr3t" not in json.dumps(facts)
    assert _dockerfile(text).locate(facts) == {1: 4, 2: 5}


def test_an_edited_instruction_loses_only_its_layer():
    """The RUN changed since the build: its layer is absent, the others still map."""
    edited = NAIVE.replace("RUN pip install", "RUN pip install --no-cache-dir")
    facts = _facts(
        *BASE,
        ("/bin/sh -c #(nop)  ARG INDEX_URL", False),
        ("/bin/sh -c #(nop) WORKDIR /app", True),
        ("/bin/sh -c #(nop) COPY file:1 in . ", True),
        (
            "|1 INDEX_URL=x /bin/sh -c pip install --index-url ${INDEX_URL} -r requirements.txt",
            True,
        ),
        ("/bin/sh -c #(nop) COPY dir:2 in ./app/ ", True),
    )
    assert _dockerfile(edited).locate(facts) == {1: 5, 2: 6, 4: 8}


def test_another_images_dockerfile_matches_nothing_and_says_so():
    """Sharing only `ARG INDEX_URL` and `EXPOSE 8000`: no layer is located, and the warning
    names the Dockerfile and the image."""
    facts = _facts(
        *BASE,
        ("/bin/sh -c #(nop)  ARG INDEX_URL", False),
        ("/bin/sh -c #(nop) COPY file:1 in /root/.netrc ", True),
        ("|1 INDEX_URL=x /bin/sh -c mkdir -p /root/.ssh", True),
        ("/bin/sh -c #(nop)  EXPOSE 8000", False),
        reference="registry.example/other:2",
    )
    dockerfile = _dockerfile(NAIVE, path="docker/Dockerfile")
    assert dockerfile.locate(facts) == {}
    assert dockerfile.mismatch(facts) == (
        "--dockerfile docker/Dockerfile does not match the history of registry.example/other:2; "
        "findings keep image locations"
    )
    # An image with no recorded history at all (squashed, imported) matches nothing either.
    assert dockerfile.mismatch(_facts(*BASE)) is not None
    # A final stage that only sets metadata matches on that metadata alone.
    metadata = _dockerfile("FROM app:1\nUSER 10001\n")
    assert metadata.mismatch(_facts(*BASE, ("/bin/sh -c #(nop)  USER 10001", False))) is None
    assert metadata.mismatch(_facts(*BASE, ("/bin/sh -c #(nop)  USER root", False)))


def test_missing_dockerfile_is_exit_2_with_the_file_named(capsys, tmp_path):
    """`--dockerfile` naming no file stops before any image is read: exit 2, a clear message."""
    missing = tmp_path / "nope" / "Dockerfile"
    assert main(["audit", "app:1", "--no-probe", "--dockerfile", str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"--dockerfile {missing}: no such file" in err
    assert "Traceback" not in err


# --- real fixture images --------------------------------------------------------------------


def _expected_lines(dockerfile: Path, facts: dict[str, Any]) -> dict[int, int]:
    """Each own layer's line, found by plain text search (not by the module under test): the
    RUN line holding the start of the command, the COPY line ending in the destination, the
    WORKDIR line naming the directory (after `${ARG}` defaults are put in, as the builder records
    COPY and WORKDIR expanded and RUN as written). No two lines may qualify."""
    text = dockerfile.read_text()
    lines = text.split("\n")
    defaults = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, re.M))
    expanded = [
        re.sub(r"\$\{(\w+)\}", lambda m: defaults.get(m.group(1), m.group(0)), line)
        for line in lines
    ]
    out = {}
    for layer in facts["layers"]:
        step = " ".join((layer["created_by"] or "").split())
        if copy := re.search(r"#\(nop\) (COPY|ADD) \S+ in (.+)$", step):
            keyword, dest = copy.groups()
            hits = [
                n
                for n, line in enumerate(expanded, 1)
                if line.startswith(keyword + " ") and line.rstrip().endswith(" " + dest)
            ]
        elif workdir := re.search(r"#\(nop\) WORKDIR (.+)$", step):
            hits = [
                n
                for n, line in enumerate(expanded, 1)
                if line.strip() == "WORKDIR " + workdir.group(1)
            ]
        elif "/bin/sh -c " in step and "#(nop)" not in step:
            start = step.split("/bin/sh -c ", 1)[1][:25]
            hits = [
                n
                for n, line in enumerate(lines, 1)
                if line.startswith("RUN ") and start in _joined(lines, n - 1)
            ]
        else:
            continue
        assert len(hits) <= 1, (layer["index"], step, hits)
        # No hit: a base image layer (an upstream base records its own RUNs).
        if hits:
            out[layer["index"]] = hits[0]
    return out


def _joined(lines: list[str], index: int) -> str:
    """The instruction starting at `lines[index]` with its `\\` continuations joined, spaces
    collapsed as the builder records a RUN (a short first line must still match)."""
    parts = []
    for line in lines[index:]:
        parts.append(line.rstrip().removesuffix("\\"))
        if not line.rstrip().endswith("\\"):
            break
    return " ".join(" ".join(parts).split())


FIXTURE_NAMES = sorted(d.name for d in FIXTURES.iterdir() if (d / "Dockerfile").is_file())


@pytest.mark.docker
@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_every_fixture_layer_maps_to_the_instruction_that_made_it(name):
    """On each real fixture image, every layer our Dockerfile made is at its instruction's line."""
    from inspector.facts.collect import collect

    facts = collect(fixture_image(name)).to_json()
    dockerfile = Dockerfile.read(str(FIXTURES / name / "Dockerfile"))
    expected = _expected_lines(FIXTURES / name / "Dockerfile", facts)
    assert expected
    assert dockerfile.locate(facts) == expected
    assert dockerfile.mismatch(facts) is None


def _sarif(capsys, ref: str, *extra: str) -> dict[str, Any]:
    main(["audit", ref, "--no-probe", "--format", "sarif", *extra])
    return json.loads(capsys.readouterr().out)


@pytest.mark.docker
@pytest.mark.parametrize("name", ["naive", "secrets-leaked"])
def test_sarif_puts_layer_findings_on_the_dockerfile_line(name, capsys, monkeypatch):
    """`audit --format sarif --dockerfile fixtures/NAME/Dockerfile`: each layer finding points at
    the instruction that made its layer, each config finding at the line that set its field, the
    image location is kept as a related location, the fingerprints do not change and the
    document is schema-valid."""
    from inspector.facts.collect import collect

    monkeypatch.chdir(REPO)
    path = f"fixtures/{name}/Dockerfile"
    expected = _expected_lines(REPO / path, collect(fixture_image(name)).to_json())
    plain = _sarif(capsys, fixture_image(name))
    located = _sarif(capsys, fixture_image(name), "--dockerfile", path)
    assert _errors(located) == []
    results = located["runs"][0]["results"]
    moved = 0
    for before, result in zip(plain["runs"][0]["results"], results, strict=True):
        assert result["partialFingerprints"] == before["partialFingerprints"]
        image = before["locations"][0]
        layers = [
            loc["name"] for loc in image.get("logicalLocations", []) if loc["kind"] == "layer"
        ]
        # "layer N" counts from 1; `expected` is keyed by the facts' 0-based index.
        layer = int(layers[0].split()[1]) - 1 if layers else None
        fields = [loc for loc in image.get("logicalLocations", []) if loc["kind"] == "configField"]
        if layer not in expected and fields:
            # A config finding sits at the line that set its field (or the final FROM).
            primary = result["locations"][0]["physicalLocation"]
            assert primary["artifactLocation"]["uri"] == path
            assert result["relatedLocations"] == [{"id": 1, **image}]
            continue
        if layer not in expected:
            assert result["locations"] == before["locations"]
            assert "relatedLocations" not in result
            continue
        moved += 1
        primary = result["locations"][0]["physicalLocation"]
        assert primary["artifactLocation"]["uri"] == path
        assert primary["region"]["startLine"] == expected[layer]
        assert result["relatedLocations"] == [{"id": 1, **image}]
    assert moved, f"no finding of {name} is in a layer of its own"


@pytest.mark.docker
def test_a_dockerfile_of_another_image_keeps_image_locations(capsys, monkeypatch):
    """naive's Dockerfile against secrets-leaked locates nothing: the SARIF is as without it."""
    monkeypatch.chdir(REPO)
    ref = fixture_image("secrets-leaked")
    plain = _sarif(capsys, ref)
    other = _sarif(capsys, ref, "--dockerfile", "fixtures/naive/Dockerfile")
    assert other["runs"][0]["results"] == plain["runs"][0]["results"]
    notices = other["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    # The other notice is the advisory database's (the tests run with none).
    mismatch = [n for n in notices if "--dockerfile" in n["message"]["text"]]
    assert [n["level"] for n in mismatch] == ["warning"]
    assert "--dockerfile fixtures/naive/Dockerfile does not match" in mismatch[0]["message"]["text"]
