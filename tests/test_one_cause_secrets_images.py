"""One cause, one finding for secrets on real images: ts-thirdparty (the real SQLAlchemy, redis,
django-redis, PyJWT, debugpy and tornado beside planted app credentials) and sd-chown-env (the
real SQLAlchemy and a planted .env and settings file, then one `chown -R` of both). Each planted
credential is one finding at critical, in the layer that first added it; each package's examples
are one info finding; an app `.env` is reported through its keys alone."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from contextlib import redirect_stdout
from types import ModuleType

import pytest

from inspector.cli.commands import main
from tests.conftest import FIXTURES, fixture_image

pytestmark = pytest.mark.docker

SECRET_CHECKS = ("SEC004", "SEC005", "SEC006", "SEC023")
IMAGES = ("ts-thirdparty", "sd-chown-env")


def _generator(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"{name}_generate",
                                                  FIXTURES / name / "generate.py")  # fmt: skip
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def audited(docker_client, tmp_path_factory) -> dict[str, tuple[list[dict], dict]]:
    """Per image: the secret checks' findings of `inspector audit` (no probes: the secrets are
    static facts), and `inspector facts`."""
    out = {}
    for name in IMAGES:
        docker_client.images.get(fixture_image(name))  # a missing fixture fails here, by name
        where = tmp_path_factory.mktemp(name)
        report = where / "report.json"
        assert main(["audit", fixture_image(name), "--no-probe", "--no-config",
                     "-o", f"json={report}"]) == 1  # fmt: skip
        with (where / "facts.json").open("w") as handle, redirect_stdout(handle):
            assert main(["facts", fixture_image(name), "--no-probe", "--format", "json"]) == 0
        (image,) = json.loads(report.read_text())["images"]
        found = [dict(f, check=r["check"]) for r in image["results"]
                 if r["check"] in SECRET_CHECKS for f in r["findings"]]  # fmt: skip
        out[name] = (found, json.loads((where / "facts.json").read_text()))
    return out


def _path(finding: dict) -> str:
    return (finding.get("location") or {}).get("path") or ""


@pytest.mark.parametrize("name", IMAGES)
def test_each_planted_credential_is_one_finding_at_critical_or_high(audited, name):
    """Every planted credential: exactly one finding of its kind at its path, high or critical."""
    found, _facts = audited[name]
    counts = Counter((_path(f), f.get("rule")) for f in found)
    wrong = []
    for path, (_text, kinds) in _generator(name).FILES.items():
        for kind in kinds:
            rows = [f for f in found if (_path(f), f.get("rule")) == (path, kind)]
            severities = sorted(f["severity"] for f in rows)
            if counts[(path, kind)] != 1 or severities[0] not in ("high", "critical"):
                wrong.append(f"{kind} in {path}: {severities}")
    assert not wrong, "not one high or critical finding each: " + "; ".join(wrong)


@pytest.mark.parametrize("name", IMAGES)
def test_each_third_party_distribution_is_one_info_finding(audited, name):
    """SQLAlchemy's dozens of docstring URLs (and each other package's examples): one info row."""
    found, facts = audited[name]
    owners = {s.get("owner") for s in facts["secrets"]
              if s.get("where") == "file" and s.get("owner_kind") == "python"}  # fmt: skip
    third_party = [f for f in found if _path(f).startswith("/opt/venv/")]
    assert len(third_party) == len(owners), [f["message"][:120] for f in third_party]
    assert {f["severity"] for f in third_party} == {"info"}
    (sqlalchemy,) = [f for f in third_party if " of SQLAlchemy " in f["message"]]
    # The report numbers layers from 1, the facts' index from 0.
    matches = sum(1 for s in facts["secrets"] if s.get("owner") == "SQLAlchemy"
                  and s.get("layer") == sqlalchemy["location"]["layer"] - 1)  # fmt: skip
    assert sqlalchemy["message"].startswith(f"{matches} credential-shaped examples")
    assert matches > 20


def test_a_chown_copy_is_named_in_the_finding_of_the_layer_that_first_added_it(audited):
    """sd-chown-env: the COPY layer's secrets, each naming the chown layer that copied it."""
    found, facts = audited["sd-chown-env"]
    planted = [f for f in found if _path(f).startswith("/app/")]
    chown = next(i for i, layer in enumerate(facts["layers"])
                 if "chown -R" in (layer.get("created_by") or ""))  # fmt: skip
    # The report and its messages number layers from 1, the facts' index from 0: the COPY
    # before the chown is index chown - 1, layer chown.
    assert {f["location"]["layer"] for f in planted} == {chown}
    assert all(f"layer {chown + 1} (RUN chown -R app:app /opt/venv /app) wrote the same file "
               "again unchanged" in f["message"] for f in planted)  # fmt: skip


@pytest.mark.parametrize("name", IMAGES)
def test_an_app_dotenv_is_reported_through_its_keys_alone(audited, name):
    """/app/.env: one SEC006 finding per key it holds; no dotenv row, no SEC023."""
    found, _facts = audited[name]
    env = sorted((f["check"], f.get("rule")) for f in found if _path(f) == "/app/.env")
    kinds = _generator(name).FILES["/app/.env"][1]
    assert env == sorted(("SEC006", kind) for kind in kinds)


@pytest.mark.parametrize("name", IMAGES)
def test_no_output_holds_a_planted_value(audited, name):
    """Neither the findings nor the facts hold any planted value."""
    found, facts = audited[name]
    text = json.dumps(found) + json.dumps(facts)
    leaked = [len(v) for v in _generator(name).planted_values() if v in text]
    assert not leaked, f"{len(leaked)} planted values appear (lengths {leaked})"
