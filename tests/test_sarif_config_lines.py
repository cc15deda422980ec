"""With --dockerfile, SARIF places config findings (USER, CMD, ENV...) at the Dockerfile line
that set the field, or at the final FROM when the base image set it (no engine)."""

from __future__ import annotations

from dataclasses import replace

from inspector.dockerfile.locate import Dockerfile
from inspector.dockerfile.parse import parse
from tests.test_render_sarif import _errors, _finding, _render, _report

DOCKERFILE = """\
FROM python:3.12-slim AS build
USER build
RUN pip install app

FROM python:3.12-slim
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \\
    PYTHONUNBUFFERED=1
LABEL org.opencontainers.image.source="https://example.invalid/app"
USER 10001
CMD ["python", "-m", "app"]
"""


def _facts() -> dict:
    """The final stage's history: the base, then COPY (a layer), ENV, LABEL, USER, CMD."""
    steps = [("", True), ("COPY /opt/venv /opt/venv # buildkit", True),
             ("ENV PATH=/opt/venv/bin:/usr/local/bin PYTHONUNBUFFERED=1", False),
             ('LABEL org.opencontainers.image.source=https://example.invalid/app', False),
             ("USER 10001", False), ('CMD ["python" "-m" "app"]', False)]  # fmt: skip
    history, layer = [], 0
    for created_by, made in steps:
        history.append({"created_by": created_by, "empty_layer": not made,
                        "layer": layer if made else None})  # fmt: skip
        layer += made
    return {"image": {"reference": "app:1"}, "history": history}


def test_each_config_field_maps_to_the_instruction_of_the_final_stage_that_set_it():
    """USER and CMD of the final stage (not the build stage's USER), each ENV and LABEL name,
    and the final FROM for what only the base sets (HEALTHCHECK here)."""
    lines = Dockerfile("Dockerfile", parse(DOCKERFILE)).config_lines(_facts())
    assert lines["User"] == (10, "USER")
    assert lines["Cmd"] == lines["Entrypoint/Cmd"] == (11, "CMD")
    assert lines["Env.PATH"] == lines["Env.PYTHONUNBUFFERED"] == (7, "ENV")
    assert lines["Labels.org.opencontainers.image.source"] == (9, "LABEL")
    assert lines["Healthcheck"] == lines["Entrypoint"] == (5, "FROM")


def test_another_images_dockerfile_places_nothing():
    """A Dockerfile whose layers match nothing of the history gives no config lines."""
    other = _facts()
    other["history"][1]["created_by"] = "RUN something else entirely"
    assert Dockerfile("Dockerfile", parse(DOCKERFILE)).config_lines(other) == {}


def test_sarif_puts_config_findings_on_the_line_that_set_them():
    """SEC-like findings on User and on an ENV the image lacks point at USER and at the final
    FROM; the image location stays as related location 1; fingerprints do not change."""
    lines = Dockerfile("Dockerfile", parse(DOCKERFILE)).config_lines(_facts())
    findings = (
        _finding("SEC901", "high", config="User"),
        _finding("PY901", "low", config="Env.PYTHONFAULTHANDLER"),
        _finding("OPS901", "low", config="Cmd", runtime="lifecycle probe: pid 1"),
    )
    plain = _report(*findings)
    located = replace(plain, dockerfile="Dockerfile", dockerfile_config=lines)
    before = {r["ruleId"]: r for r in _render(plain)["runs"][0]["results"]}
    document = _render(located)
    after = {r["ruleId"]: r for r in document["runs"][0]["results"]}
    assert _errors(document) == []
    expected = {"SEC901": (10, "this USER sets User"),
                "PY901": (5, "no instruction of this stage sets Env.PYTHONFAULTHANDLER"),
                "OPS901": (11, "this CMD sets Cmd")}  # fmt: skip
    for rule, (line, said) in expected.items():
        primary = after[rule]["locations"][0]
        assert primary["physicalLocation"] == {
            "artifactLocation": {"uri": "Dockerfile"},
            "region": {"startLine": line},
        }
        assert primary["message"]["text"].startswith(said)
        assert after[rule]["relatedLocations"] == [{"id": 1, **before[rule]["locations"][0]}]
        assert after[rule]["partialFingerprints"] == before[rule]["partialFingerprints"]


def test_json_names_the_line_that_set_a_config_field():
    """The JSON report's `location.dockerfile` of a config finding is the same line."""
    import json

    from inspector.report.formats import render

    lines = Dockerfile("Dockerfile", parse(DOCKERFILE)).config_lines(_facts())
    report = replace(_report(_finding("SEC901", "high", config="User")), dockerfile="Dockerfile",
                     dockerfile_config=lines)  # fmt: skip
    [result] = json.loads(render("json", [report]))["images"][0]["results"]
    assert result["findings"][0]["location"]["dockerfile"] == {"path": "Dockerfile", "line": 10}
