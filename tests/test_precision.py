"""Precision and recall on realistic images: every finding is labelled in a reviewed golden."""

from __future__ import annotations

import importlib.util
import json

import pytest

from tests.conftest import FIXTURES, fixture_image
from tests.precision import PRECISION_SUMMARY, audit_findings, golden_names, keyed, load, score

pytestmark = pytest.mark.docker

NAMES = golden_names()


# The credential each realistic fixture plants in the app's own files (its generate.py makes the
# value at build time): the rule that must report it, the path, and the function that made it.
PLANTED = {
    "real-django-celery": ("stripe-key", "/app/config/settings/production.py", "stripe_key"),
    "real-fastapi-uv": ("openai-key", "/app/.env", "openai_key"),
    "real-flask-boot": ("private-key", "/root/.ssh/id_ed25519", "deploy_key"),
}


@pytest.fixture(scope="module")
def audited(docker_client):
    """Each realistic fixture audited once, probes included: its findings as report dicts."""
    found = audit_findings([fixture_image(name) for name in NAMES])
    return {name: found[fixture_image(name)] for name in NAMES}


@pytest.fixture(scope="module")
def scores(audited, request):
    """Each realistic fixture's findings scored against its golden."""
    out = {name: score(name, keyed(audited[name]), load(name)) for name in NAMES}
    # Printed at the end of the run (tests/conftest.py), pass or fail.
    request.config.stash[PRECISION_SUMMARY] = list(out.values())
    return out


@pytest.mark.parametrize("name", NAMES)
def test_every_finding_is_labelled(scores, name):
    """A finding the golden does not label must be reviewed (scripts/precision_review.py)."""
    unlabelled = scores[name].unlabelled
    lines = "\n".join(f"{f.check} {f.key}  # {f.severity}: {f.message[:120]}" for f in unlabelled)
    assert not unlabelled, f"{len(unlabelled)} unlabelled finding(s) on {name}:\n{lines}"


@pytest.mark.parametrize("name", NAMES)
def test_true_findings_are_still_found(scores, name):
    """A finding labelled true that is no longer reported is a recall regression."""
    lost = [f"line {e.line}: {e.check} {e.key}" for e in scores[name].lost]
    assert not lost, "labelled true, not reported any more:\n" + "\n".join(lost)


@pytest.mark.parametrize("name", NAMES)
def test_missed_problems_found_now_are_relabelled(scores, name):
    """A `missed` problem the audit now reports must become a `true` line."""
    found = [f"line {e.line}: {e.check} {e.key}" for e in scores[name].now_found]
    assert not found, "found now, relabel as true:\n" + "\n".join(found)


@pytest.mark.parametrize("name", NAMES)
def test_precision_and_recall_stay_above_the_floors(scores, name):
    """Precision and recall do not fall below the floors the golden records."""
    result, floors = scores[name], load(name).floors
    if result.precision is not None:
        assert result.precision >= floors["precision"], f"precision {result.precision:.2f}"
    if result.recall is not None:
        assert result.recall >= floors["recall"], f"recall {result.recall:.2f}"


def planted_value(name: str) -> str:
    """The credential the fixture's generate.py planted (same seed, same value)."""
    spec = importlib.util.spec_from_file_location(
        f"{name}_generate", FIXTURES / name / "generate.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, PLANTED[name][2])()


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_planted_credentials_are_high_or_critical_and_never_printed(audited, name):
    """The app's own planted credential is reported at high or above; its value never appears."""
    rule, path, _ = PLANTED[name]
    hits = [f for f in audited[name] if f["rule"] == rule and f["location"]["path"] == path]
    assert hits, f"{rule} in {path} is not reported"
    assert all(f["severity"] in ("high", "critical") for f in hits)
    value = planted_value(name)
    printed = json.dumps(audited[name])
    for line in value.splitlines():
        if len(line) >= 16:
            assert line not in printed
