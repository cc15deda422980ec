"""Credentials inside file contents, on a real image (secrets-content): every planted one found
with its rule, file, line and layer, deleted and overwritten versions included; no look-alike
reported; and no value, nor any part of one, in any output."""

from __future__ import annotations

import json

import pytest

from inspector.cli.commands import main
from tests.conftest import fixture_image
from tests.planted import generate

pytestmark = pytest.mark.docker


IMAGE = fixture_image("secrets-content")
PLANTED_LAYER, DELETING_LAYER, OVERWRITING_LAYER = 2, 3, 4
STRONG = {"jwt", "password-assignment", "password-setting"}  # high; every other rule critical


def _facts(capsys: pytest.CaptureFixture[str], fmt: str = "json") -> str:
    capsys.readouterr()
    assert main(["facts", IMAGE, "--no-probe", "--format", fmt]) == 0
    return capsys.readouterr().out


@pytest.fixture(scope="module")
def outputs(docker_client, tmp_path_factory) -> dict[str, str]:
    """Every output a user can get for the image: facts (JSON and text) and every report."""
    work = tmp_path_factory.mktemp("outputs")
    files = {fmt: work / f"report.{fmt}" for fmt in ("json", "sarif", "junit", "markdown", "table")}
    args = [f"{fmt}={path}" for fmt, path in files.items()]
    code = main(["audit", IMAGE, "--no-probe", "--no-config",
                 *[x for a in args for x in ("-o", a)]])  # fmt: skip
    assert code == 1
    return {fmt: path.read_text() for fmt, path in files.items()}


@pytest.fixture
def facts_outputs(docker_client, capsys) -> dict[str, str]:
    """`inspector facts` as JSON and as text."""
    return {"facts-json": _facts(capsys), "facts-text": _facts(capsys, "text")}


def _expected() -> set[tuple[str, str, int, bool, int | None]]:
    out = set()
    for path, (_text, found) in generate.FILES.items():
        removed = (DELETING_LAYER if path in generate.DELETED
                   else OVERWRITING_LAYER if path in generate.OVERWRITTEN else None)  # fmt: skip
        for rule, line in found:
            out.add((rule, path, line, removed is not None, removed))
    return out


def test_every_planted_credential_is_found_where_it_is(facts_outputs):
    """Each rule's credential: its file, line and layer, and the layer that removed it."""
    secrets = json.loads(facts_outputs["facts-json"])["secrets"]
    real = {(s["kind"], s["path"], s["line"], s["deleted"], s["removed_in"])
            for s in secrets if not s["likely_test_fixture"]}  # fmt: skip
    assert real == _expected()
    assert {s["layer"] for s in secrets} == {PLANTED_LAYER}
    replaced = {s["removal"] for s in secrets if s["path"] in generate.OVERWRITTEN}
    assert replaced == {"replaced"}
    assert {s["removal"] for s in secrets if s["path"] in generate.DELETED} == {"deleted"}


def test_look_alikes_are_not_reported_and_test_material_is_info(outputs):
    """Example keys, placeholders and bad checksums are no finding; a package's tests are info."""
    report = json.loads(outputs["json"])["images"][0]
    findings = [f for r in report["results"] for f in r["findings"]]
    paths = {f["location"].get("path") for f in findings if f["severity"] != "info"}
    assert not paths & set(generate.LOOKALIKES)
    test = [f for f in findings if f["location"].get("path") in generate.TEST_MATERIAL]
    assert sorted(f["rule"] for f in test) == sorted(r for _, r in generate.TEST_MATERIAL.values())
    assert {f["severity"] for f in test} == {"info"}


def test_findings_say_rule_line_layer_and_how_to_fix(outputs):
    """SEC006 per credential: critical (high for JWTs and passwords), the rule, the line, the
    layer that still ships it, and a fix that starts with rotating it."""
    report = json.loads(outputs["json"])["images"][0]
    sec006 = [f for r in report["results"] if r["check"] == "SEC006" for f in r["findings"]
              if f["location"].get("path") in generate.FILES]  # fmt: skip
    assert len(sec006) == len(_expected())
    expected = _expected()
    for finding in sec006:
        assert finding["severity"] == ("high" if finding["rule"] in STRONG else "critical")
        path = finding["location"]["path"]
        line = int(finding["message"].split(f"in {path} line ", 1)[1].split(":", 1)[0])
        assert any(e[:3] == (finding["rule"], path, line) for e in expected), finding["message"]
        assert finding["location"]["layer"] == PLANTED_LAYER + 1  # reports number from 1
        assert finding["fix"].startswith("Rotate the credential first")
    deleted = [f for f in sec006 if f["location"]["path"] == "/srv/keys/deploy.txt"]
    assert f"deleted in layer {DELETING_LAYER + 1}" in deleted[0]["message"]
    assert f"still shipped in layer {PLANTED_LAYER + 1}" in deleted[0]["message"]


def test_no_output_holds_any_part_of_a_planted_value(outputs, facts_outputs):
    """No value, its first or last 8 characters, or the Docker auth inside, in any format."""
    for fmt, text in {**outputs, **facts_outputs}.items():
        for value in generate.planted_values():
            for part in {value, value[:8], value[-8:]}:
                if len(part.strip()) >= 8:
                    assert part not in text, (fmt, part[:3] + "…")


def test_a_warm_read_finds_the_same_from_the_layer_cache(tmp_path, monkeypatch, capsys):
    """The content scan's results are cached with the layer: a second read scans nothing."""
    monkeypatch.setenv("INSPECTOR_CACHE_DIR", str(tmp_path / "cache"))
    cold = json.loads(_facts(capsys))
    warm = json.loads(_facts(capsys))
    assert all(layer["from_cache"] for layer in warm["layers"])
    assert cold["secrets"] == warm["secrets"]
    assert sum(layer["scanned_bytes"] for layer in cold["layers"]) > 0


def test_the_policy_accepts_findings_by_rule_and_path(tmp_path, monkeypatch):
    """[[ignores]] by `rules` and by `paths`: exactly those findings are accepted, with reasons."""
    policy = tmp_path / ".inspector.toml"
    policy.write_text(
        '[[ignores]]\nchecks = ["SEC006"]\nrules = ["jwt", "password-*"]\n'
        'reason = "dev-only values, rotated weekly"\n\n'
        '[[ignores]]\nchecks = ["SEC006"]\npaths = ["/srv/deploy/*"]\n'
        'reason = "deploy files are replaced at release"\n'
    )
    out = tmp_path / "report.json"
    monkeypatch.chdir(tmp_path)
    assert main(["audit", IMAGE, "--no-probe", "-o", f"json={out}"]) == 1
    report = json.loads(out.read_text())["images"][0]
    accepted = [s for r in report["results"] for s in r.get("suppressed", [])]
    reasons = [(s, s["suppression"]["reason"]) for s in accepted]
    by_rule = {s["rule"] for s, why in reasons if why.startswith("dev-only")}
    assert by_rule == {"jwt", "password-assignment", "password-setting"}
    by_path = {s["location"]["path"] for s, why in reasons if why.startswith("deploy files")}
    assert by_path == {p for p in generate.FILES if p.startswith("/srv/deploy/")}
    left = [f for r in report["results"] if r["check"] == "SEC006" for f in r["findings"]]
    assert not [f for f in left if f["rule"] in by_rule]
    assert not [f for f in left if f["location"]["path"].startswith("/srv/deploy/")]
