"""Precision and recall on realistic images: every finding is labelled in a reviewed golden."""

from __future__ import annotations

import pytest

from tests.conftest import fixture_image
from tests.precision import PRECISION_SUMMARY, audit_findings, golden_names, keyed, load, score

pytestmark = pytest.mark.docker

NAMES = golden_names()


@pytest.fixture(scope="module")
def scores(docker_client, request):
    """Each realistic fixture audited once (probes included) and scored against its golden."""
    audited = audit_findings([fixture_image(name) for name in NAMES])
    out = {name: score(name, keyed(audited[fixture_image(name)]), load(name)) for name in NAMES}
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
