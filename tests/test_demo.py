"""`make demo` on a machine whose fixture images are current: no download, and the exit code
the demo shows is said in words."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import REPO


@pytest.mark.docker
def test_demo_downloads_nothing_and_says_what_its_exit_code_means():
    """With every fixture image current, `make demo` neither downloads a package nor a wheel,
    audits the naive image, and explains its exit status 1 (findings at or above high)."""
    done = subprocess.run(["make", "-s", "demo"], cwd=REPO, capture_output=True, text=True,
                          timeout=900)  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "downloading" not in output
    assert "images up to date, 0 built" in output
    assert "demo: exit 1: findings at or above the gate's threshold (high)" in done.stderr
    assert "inspector-fixture/naive:test" in done.stdout
