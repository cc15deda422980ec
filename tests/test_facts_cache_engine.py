"""Warm audits of real fixture images on the engine: the second audit loads the static facts
stored by the first (no `docker save`, no layer read or decoded, no merge, no analyser run,
counted, not timed) and reports exactly what the first did; probes still run on it; a
Dockerfile given to the second audit is the one its report uses; --no-cache reads afresh."""

from __future__ import annotations

import dataclasses

import pytest

from checks import catalog
from inspector.audit import AuditOptions, audit_one
from inspector.dockerfile.locate import Dockerfile
from inspector.facts.collect import collect
from inspector.probes import ProbeOptions
from tests.conftest import FIXTURES, fixture_image
from tests.facts_counts import count_steps

pytestmark = pytest.mark.docker

IMAGE = fixture_image("good")
CHECKS = list(catalog().values())


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("INSPECTOR_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def audited(options: AuditOptions):
    return audit_one(IMAGE, CHECKS, options, lambda message: None)


def test_a_second_audit_reports_the_same_without_reading_the_image(docker_client, cache_dir,
                                                                   monkeypatch):  # fmt: skip
    """`audit --no-probe` twice: the same report; the second exported, read, decoded, merged
    and analysed nothing."""
    options = AuditOptions(probe=None)
    cold = audited(options)
    counts = count_steps(monkeypatch)
    warm = audited(options)
    assert dict(counts) == {}
    assert warm == cold
    assert cold.results


def test_second_facts_equal_the_first_but_for_where_layers_came_from(docker_client, cache_dir,
                                                                     monkeypatch):  # fmt: skip
    """`facts --no-probe` twice: the same facts, every layer now from the cache, nothing read."""
    cold = collect(IMAGE).to_json()
    counts = count_steps(monkeypatch)
    warm = collect(IMAGE).to_json()
    assert dict(counts) == {}
    assert [layer.pop("from_cache") for layer in cold["layers"]] == [False] * len(cold["layers"])
    assert [layer.pop("from_cache") for layer in warm["layers"]] == [True] * len(warm["layers"])
    assert warm == cold


def test_probes_run_on_a_warm_audit(docker_client, cache_dir, monkeypatch):
    """With probes, the warm audit still runs them (from the stored plan) and finds the same."""
    options = AuditOptions(probe=ProbeOptions(warmup=2, grace=3))
    cold = audited(options)
    counts = count_steps(monkeypatch)
    warm = audited(options)
    assert counts["analyse"] == 0
    assert counts["export"] == 0
    assert warm.runtime == cold.runtime
    assert {name: section["status"] for name, section in warm.runtime.items()} == {
        "static": "ran", "lifecycle": "ran"}  # fmt: skip
    assert [f.check for f in warm.findings] == [f.check for f in cold.findings]


def test_a_warm_audit_locates_layers_in_the_dockerfile_it_is_given(docker_client, cache_dir):
    """The Dockerfile is applied to the facts after they are loaded: a warm audit with another
    Dockerfile reports what a fresh audit with that Dockerfile does."""
    mine = Dockerfile.read(str(FIXTURES / "good" / "Dockerfile"))
    other = Dockerfile.read(str(FIXTURES / "naive" / "Dockerfile"))
    first = audited(AuditOptions(probe=None, dockerfile=mine))
    warm = audited(AuditOptions(probe=None, dockerfile=other))
    fresh = audited(AuditOptions(probe=None, dockerfile=other, use_cache=False))
    assert warm == fresh
    assert (warm.dockerfile, warm.notices) != (first.dockerfile, first.notices)


def test_no_cache_reads_the_image_again(docker_client, cache_dir, monkeypatch):
    """`use_cache=False` (--no-cache) exports, reads and analyses even with facts stored."""
    options = AuditOptions(probe=None)
    cold = audited(options)
    counts = count_steps(monkeypatch)
    fresh = audited(dataclasses.replace(options, use_cache=False))
    assert counts["export"] == 1
    assert counts["read"] > 0
    assert counts["analyse"] > 0
    assert fresh == cold


def test_other_code_or_a_damaged_row_reads_the_image_again(docker_client, cache_dir, monkeypatch):
    """A stored row made by other code (another fingerprint) is not served, and a damaged one is
    dropped: both audits analyse afresh and report what the first audit did, no traceback."""
    import sqlite3

    from inspector.facts import cache as static_cache

    options = AuditOptions(probe=None)
    cold = audited(options)
    counts = count_steps(monkeypatch)
    with monkeypatch.context() as patched:
        patched.setattr(static_cache, "code_digest", lambda: "other code")
        assert audited(options) == cold
    assert counts["analyse"] > 0
    db = sqlite3.connect(cache_dir / "layers.sqlite")
    db.execute("UPDATE facts SET data = ?", (b"\x78\x9c damaged",))
    db.commit()
    db.close()
    counts.clear()
    assert audited(options) == cold
    assert counts["analyse"] > 0
    counts.clear()
    assert audited(options) == cold
    assert counts["analyse"] == 0  # rebuilt and stored again
