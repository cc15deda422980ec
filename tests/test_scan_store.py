"""The scan store on a real SQLite file: pages, shards finishing, pruning, schema versions, and
reports rendered a page at a time."""

from __future__ import annotations

import json
import sqlite3

import pytest

from inspector.scan.render import load, render
from inspector.scan.store import Audit, ImageRow, Store, StoreError


def _row(repository: str, n: int, status: str = "audited") -> ImageRow:
    finding = {"fingerprint": f"fp{n}", "check": "SEC001", "severity": "high",
               "message": "runs as root", "where": "config User", "fix": "USER 10001"}  # fmt: skip
    report = {"layers": [f"sha256:{n % 7:064x}"], "findings": [finding], "new": [f"fp{n}"],
              "fixed": [], "counts": {"high": 1}}  # fmt: skip
    return ImageRow(repository, f"sha256:{n:064x}", "", (f"t{n}",), status,
                    "boom" if status == "error" else None, 0, n, 1, report)  # fmt: skip


@pytest.fixture
def store(tmp_path):
    opened = Store(str(tmp_path / "scans.sqlite"))
    yield opened
    opened.close()


def test_images_are_read_page_by_page_in_order_without_loss(store):
    """1,203 images (more than two pages) come back once each, by repository then digest."""
    store.begin("r1", "2026-11-26T00:00:00+00:00", "registry:h", "k", 1, 0)
    for n in range(1203):
        store.save_image("r1", _row(f"h/repo{n % 3}", n))
    seen = [(i.repository, i.digest) for i in store.images("r1")]
    assert len(seen) == len(set(seen)) == 1203
    assert seen == sorted(seen)


def test_a_big_run_renders_as_valid_json_with_every_image_and_a_bounded_table(store):
    """The JSON, written image by image, parses and holds all 1,203; the table lists the 50
    worst new findings and counts the rest."""
    store.begin("r1", "2026-11-26T00:00:00+00:00", "registry:h", "k", 1, 0)
    for n in range(1203):
        store.save_image("r1", _row(f"h/repo{n % 3}", n, "error" if n == 5 else "audited"))
    store.finish("r1", 0, "2026-11-26T01:00:00+00:00", partial=False, discovered=1203,
                 left_over=0, errors=[])  # fmt: skip
    report = load(store, "r1")
    doc = json.loads(render("json", report))
    assert len(doc["images"]) == 1203
    assert doc["summary"]["images"] == 1203
    assert doc["summary"]["errors"] == 1
    assert doc["summary"]["unique_layers"] == 7
    table = render("table", report)
    assert "New findings (1203):" in table
    assert "… and 1153 more" in table
    assert "Errors (1):" in table


def test_the_run_is_complete_only_when_its_last_shard_finishes(store):
    """A run of 3 shards stays running until all 3 finish; one partial shard makes it partial."""
    for shard in range(3):
        store.begin("r1", "2026-11-26T00:00:00+00:00", "registry:h", "k", 3, shard)
    store.finish("r1", 0, "t1", partial=False, discovered=1, left_over=0, errors=[])
    store.finish("r1", 2, "t2", partial=True, discovered=1, left_over=4, errors=[])
    assert store.run("r1").status == "running"
    store.finish("r1", 1, "t3", partial=False, discovered=1, left_over=0, errors=[])
    assert store.run("r1").status == "partial"
    with pytest.raises(StoreError, match="already finished"):
        store.begin("r1", "2026-11-26T00:00:00+00:00", "registry:h", "k", 3, 1)
    with pytest.raises(StoreError, match="give each scan its own --run"):
        store.begin("r1", "2026-11-26T00:00:00+00:00", "registry:other", "k", 3, 0)


def test_pruning_keeps_the_newest_runs_and_the_audits_they_use(store):
    """--keep-runs 1 deletes older runs and the audits no kept image refers to."""
    for day, digest in ((1, 1), (2, 2)):
        run = f"r{day}"
        store.begin(run, f"2026-11-0{day}T00:00:00+00:00", "registry:h", "k", 1, 0)
        store.save_audit(Audit(f"sha256:{digest:064x}", "", None, None, (), []), "k", "now")
        store.save_image(run, _row("h/app", digest))
    assert store.prune(1) == 1
    assert [r.id for r in store.runs()] == ["r2"]
    assert store.audit(f"sha256:{2:064x}", "", "k") is not None
    assert store.audit(f"sha256:{1:064x}", "", "k") is None


def test_a_store_from_a_newer_inspector_is_refused(tmp_path):
    """A schema newer than this inspector knows is an error naming the fix, not a guess."""
    path = tmp_path / "scans.sqlite"
    Store(str(path)).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE inspector_meta SET value = '99' WHERE key = 'schema'")
    with pytest.raises(StoreError, match="upgrade inspector"):
        Store(str(path))


def test_an_unusable_store_path_is_one_clear_error(tmp_path):
    """A store that cannot be created says so in one line."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match="cannot be used"):
        Store(str(blocker / "scans.sqlite"))


def test_pruning_never_deletes_the_run_just_made(store):
    """Runs started in the same second sort by id, whatever it is: the spared run survives."""
    for run in ("r-b", "r-a"):
        store.begin(run, "2026-11-26T00:00:00+00:00", "registry:h", "k", 1, 0)
    store.prune(1, spare="r-a")
    assert [r.id for r in store.runs()] == ["r-a"]


def test_report_cells_are_cut_between_words():
    """The scan's table cuts a long message at a word boundary, never mid-word, and keeps a
    redaction placeholder whole."""
    from inspector.scan.render import _short

    text = "the command's python3 cannot run: python3 is not found on PATH anywhere at all"
    cut = _short(text, 40)
    assert cut.endswith("…")
    assert len(cut) <= 40
    assert text.startswith(cut[:-1])
    assert not text[len(cut) - 1].isalnum()  # a whole word ended where the cut is
    secret = "DB_URL=postgres://app:<12 chars, fingerprint 1a2b3c4d>@db.example/prod in /app/.env"
    assert "<12 chars," not in _short(secret, 40) or "1a2b3c4d>" in _short(secret, 40)
