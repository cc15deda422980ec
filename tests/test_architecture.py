"""The layout's rules: import-linter's contracts hold, each one can fail, every top-level module
has a reason in docs/architecture.md."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH first: the copy under test, not the editable install, is what grimp reads.
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _verdicts(output: str) -> dict[str, str]:
    """Contract name -> KEPT or BROKEN, from lint-imports' summary (which wraps long names)."""
    flat = re.sub(r"\s+", " ", output)
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    found = {}
    for contract in config["contracts"]:
        name = re.sub(r"\s+", " ", contract["name"])
        verdict = re.search(re.escape(name) + r" (KEPT|BROKEN)", flat)
        found[name] = verdict.group(1) if verdict else "missing"
    return found


def test_the_contracts_hold_on_the_tree():
    """lint-imports keeps every contract on the code as it is."""
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(_verdicts(result.stdout).values()) == {"KEPT"}


@pytest.mark.parametrize(
    ("module", "line", "contracts"),
    [
        ("checks/security.py", "import docker", {"Checks are pure", "Only sources and probes"}),
        ("checks/size.py", "from inspector.facts import model", {"Checks are pure"}),
        ("checks/python.py", "import subprocess", {"Checks are pure"}),
        # The diff's renderers use the audit table's width: a source there reaches them too.
        (
            "inspector/report/table.py",
            "from inspector.sources import daemon",
            {"Report formats", "The diff is a pure"},
        ),
        (
            "inspector/report/sarif.py",
            "import docker",
            {"Report formats", "Only sources and probes"},
        ),
        ("inspector/facts/model.py", "import docker", {"Only sources and probes"}),
        ("inspector/layers/tar.py", "from inspector.facts import model", {"The pipeline flows"}),
        ("inspector/report/json.py", "from inspector.policy import gate", {"The pipeline flows"}),
        ("inspector/diff/size.py", "from inspector.facts import collect", {"The diff is a pure"}),
        ("inspector/diff/compute.py", "from inspector.scan import select", {"The pipeline flows"}),
    ],
)
def test_each_contract_fails_when_broken(tmp_path, module, line, contracts):
    """A forbidden import added to a copy of the tree breaks exactly the contracts forbidding it."""
    for package in ("inspector", "checks"):
        shutil.copytree(REPO / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    result = _lint(tmp_path)
    assert result.returncode != 0, result.stdout
    verdicts = _verdicts(result.stdout)
    assert "missing" not in verdicts.values(), verdicts
    broken = {name for name, verdict in verdicts.items() if verdict == "BROKEN"}
    assert {c for c in contracts if any(name.startswith(c) for name in broken)} == contracts
    assert len(broken) == len(contracts), broken


def test_every_top_level_module_has_a_reason():
    """No module sits at the top of inspector/ unless docs/architecture.md says why."""
    page = (REPO / "docs" / "architecture.md").read_text()
    for path in sorted((REPO / "inspector").glob("*.py")):
        if path.name in ("__init__.py", "__main__.py"):
            continue
        assert f"`inspector/{path.name}`" in page, f"{path.name}: no reason in docs/architecture.md"


def test_every_folder_is_described():
    """docs/architecture.md has a paragraph for every package under inspector/ and for checks/."""
    page = (REPO / "docs" / "architecture.md").read_text()
    folders = [p.name for p in (REPO / "inspector").iterdir() if (p / "__init__.py").exists()]
    for name in sorted(folders):
        assert f"`inspector/{name}/`" in page, f"inspector/{name}/ is not described"
    assert "`checks/`" in page
