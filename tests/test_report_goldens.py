"""Every report format on fixture images is exactly its reviewed golden (tests/golden/report/).

The audits and the normaliser are in tests/reportcases.py; after a deliberate change to a
renderer, regenerate with `.venv/bin/python scripts/gen_report_goldens.py`, then read the diff.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable

import pytest

from inspector import __version__
from inspector.report.formats import FORMATS
from tests.conftest import REPO
from tests.reportcases import (
    CASES,
    GOLDEN,
    TABLE_WIDTHS,
    golden_path,
    normalise,
    normalise_output,
    produce,
)

REGENERATE = ".venv/bin/python scripts/gen_report_goldens.py"


@pytest.fixture(scope="module")
def produced(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], dict[str, str]]:
    """Each case audited once per module, all formats rendered from that one audit."""
    done: dict[str, dict[str, str]] = {}

    def get(name: str) -> dict[str, str]:
        if name not in done:
            done[name] = produce(name, tmp_path_factory.mktemp(name))
        return done[name]

    return get


@pytest.mark.docker
@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("name", list(CASES))
def test_report_matches_its_golden(produced, name: str, fmt: str):
    """The normalised report equals the golden file; a mismatch shows the diff and the fix."""
    golden = golden_path(name, fmt)
    assert golden.exists(), f"{golden} is missing: run {REGENERATE}"
    expected, actual = golden.read_text(), produced(name)[fmt]
    if actual != expected:
        diff = difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            fromfile=str(golden.relative_to(REPO)),
            tofile=f"{name} as {fmt} now",
        )
        pytest.fail(
            f"{name} as {fmt} differs from its golden; if the change is intended, run "
            f"{REGENERATE} and review the new goldens:\n{''.join(diff)}",
            pytrace=False,
        )


def test_every_golden_file_belongs_to_a_case():
    """No golden file is left over from a case or format that no longer exists."""
    formats = [*FORMATS, *(f"table@{width}" for width in TABLE_WIDTHS)]
    expected = {golden_path(name, fmt).name for name in CASES for fmt in formats}
    assert sorted(p.name for p in GOLDEN.iterdir()) == sorted(expected)


@pytest.mark.docker
def test_policy_case_exercises_every_kind_of_suppression(produced):
    """The naive-policy golden shows an ignore, the baseline, an expired ignore and an override."""
    image = json.loads(produced("naive-policy")["json"])["images"][0]
    by = {s["check"]: s["suppression"]["by"] for r in image["results"] for s in r["suppressed"]}
    assert by == {"META001": "ignore", "PY007": "baseline", "SIZE002": "baseline"}
    assert [n for n in image["notices"] if "expired" in n and "SEC001" in n]
    severities = {f["check"]: f["severity"] for r in image["results"] for f in r["findings"]}
    assert severities["PY001"] == "medium"  # the catalog says low
    assert "SEC001" in severities  # the expired ignore no longer applies


def test_normalise_replaces_what_varies_between_builds():
    """IDs, ports, sizes, file counts, times and the temp dir in findings become placeholders."""
    image_id = "0123456789ab" + "c" * 52
    volatile = {"/tmp/xyz": "{tmp}", image_id: "{image-id}", image_id[:12]: "{image-id}"}
    text = (
        f"sha256:{image_id} ({image_id[:12]}) sha256:{'d' * 64} http://127.0.0.1:44973/simple "
        "1.9 MB in 9 file(s), 1609 bytes, 12 KiB, 300 B, 3 files 2026-11-23T15:24:49.123Z "
        "/tmp/xyz/.inspector.toml 4 of 4 sources, layer 3, expired on 2000-01-01"
    )
    assert normalise(text, volatile) == (
        "sha256:{image-id} ({image-id}) sha256:{digest} http://127.0.0.1:{port}/simple "
        "{size} in {n} file(s), {size}, {size}, {size}, {n} files {time} "
        "{tmp}/.inspector.toml 4 of 4 sources, layer 3, expired on 2000-01-01"
    )


def test_normalise_output_replaces_only_ids_and_the_version():
    """A rendered report keeps the catalog's own numbers; IDs and the tool version go."""
    volatile = {"0123456789ab": "{image-id}"}
    text = (
        f'"version": "{__version__}", "text": "mdurl {__version__}, buffers in 8 KB blocks, '
        'http://127.0.0.1:8000/healthz", (0123456789ab)'
    )
    assert normalise_output(text, volatile) == (
        f'"version": "{{version}}", "text": "mdurl {__version__}, buffers in 8 KB blocks, '
        'http://127.0.0.1:8000/healthz", ({image-id})'
    )


@pytest.mark.docker
@pytest.mark.parametrize("width", TABLE_WIDTHS)
@pytest.mark.parametrize("name", list(CASES))
def test_table_fits_the_terminal(produced, name: str, width: int):
    """At 80 and 200 columns the table is its golden, and no line of findings is wider than the
    terminal (an image's reference alone may be)."""
    text = produced(name)[f"table@{width}"]
    assert text == golden_path(name, f"table@{width}").read_text(), f"run {REGENERATE}"
    titles = {line for line in text.splitlines() if line.startswith("inspector-fixture/")}
    too_wide = [line for line in text.splitlines() if len(line) > width and line not in titles]
    assert not too_wide, too_wide
