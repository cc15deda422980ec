"""Write docs/checks.md from the catalog (`make docs`); a test fails when it drifts."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from checks.docs import render  # noqa: E402

if __name__ == "__main__":
    (REPO / "docs" / "checks.md").write_text(render())
    print("wrote docs/checks.md")
