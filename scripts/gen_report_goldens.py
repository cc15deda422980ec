"""Regenerate the report goldens, tests/golden/report/CASE.EXT, from the fixture images.

Run it after a deliberate change to a renderer, then read `git diff tests/golden/report` as a
user would read the reports: the goldens are the reviewed output. The cases, the pinned clock
and the normaliser are tests/reportcases.py's, so the test compares exactly what this writes.
Needs the Docker engine and the fixture images (`make fixtures`).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `tests` is not installed

from tests.reportcases import CASES, GOLDEN, golden_path, produce


def main() -> int:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name in CASES:
        with tempfile.TemporaryDirectory(prefix="inspector-golden-") as workdir:
            outputs = produce(name, Path(workdir))
        for fmt, text in outputs.items():
            path = golden_path(name, fmt)
            changed = not path.exists() or path.read_text() != text
            path.write_text(text)
            print(f"{'wrote' if changed else 'unchanged'} {path.relative_to(GOLDEN.parents[2])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
