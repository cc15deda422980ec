"""The policy file: where it is found, what it may say, and errors that name the file and key."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from checks import catalog
from checks.model import Thresholds
from inspector.policy.config import ConfigError, Policy, find, load


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _load_text(tmp_path: Path, text: str, name: str = ".inspector.toml") -> Policy:
    return load(_write(tmp_path / name, text), catalog())


def _error(tmp_path: Path, text: str, name: str = ".inspector.toml") -> str:
    with pytest.raises(ConfigError) as caught:
        _load_text(tmp_path, text, name)
    return str(caught.value)


def test_no_file_anywhere_gives_the_defaults(tmp_path):
    """Without a policy file up the tree, the policy is the built-in defaults."""
    policy = load(None, catalog(), cwd=tmp_path)
    assert policy == Policy()
    assert policy.thresholds == Thresholds()


def test_nearest_file_upward_wins_and_own_file_beats_pyproject(tmp_path):
    """From a/b/c, a/b's .inspector.toml is used before a/b's pyproject.toml and a's files."""
    _write(tmp_path / "a" / ".inspector.toml", 'fail-on = "low"\n')
    _write(tmp_path / "a" / "b" / "pyproject.toml", '[tool.inspector]\nfail-on = "medium"\n')
    own = _write(tmp_path / "a" / "b" / ".inspector.toml", 'fail-on = "critical"\n')
    (tmp_path / "a" / "b" / "c").mkdir()
    assert find(tmp_path / "a" / "b" / "c") == own
    assert load(None, catalog(), cwd=tmp_path / "a" / "b" / "c").fail_on == "critical"


def test_pyproject_without_the_table_is_passed_over(tmp_path):
    """A project's pyproject.toml with no [tool.inspector] does not stop the upward search."""
    parent = _write(tmp_path / "pyproject.toml", '[tool.inspector]\nignore = ["META001"]\n')
    _write(tmp_path / "app" / "pyproject.toml", '[project]\nname = "app"\n')
    assert find(tmp_path / "app") == parent
    assert load(None, catalog(), cwd=tmp_path / "app").ignore == ("META001",)


def test_every_key_is_read(tmp_path):
    """select, ignore, fail-on, baseline, severity, thresholds and ignores all reach the policy."""
    policy = _load_text(
        tmp_path,
        """
        [tool.inspector]
        select = ["security", "PY001"]
        ignore = ["SEC007"]
        fail-on = "medium"
        baseline = "ci/baseline.json"
        [tool.inspector.severity]
        runs-as-root = "critical"
        META001 = "info"
        [tool.inspector.thresholds]
        image-age-days = 30
        wasted-bytes = "50MiB"
        size-floor = "500KB"
        efficiency = 0.95
        user-wasted-percent = 0.05
        stop-seconds = 2.5
        [[tool.inspector.ignores]]
        checks = ["SEC005"]
        images = ["registry.example/legacy/*"]
        paths = ["/usr/bin/*"]
        reason = "the legacy base ships it; replaced in Q1"
        expires = 2027-03-31
        """,
        name="pyproject.toml",
    )
    assert policy.select == ("security", "PY001")
    assert policy.ignore == ("SEC007",)
    assert policy.fail_on == "medium"
    assert policy.baseline == str(tmp_path / "ci" / "baseline.json")
    assert policy.severity == {"SEC001": "critical", "META001": "info"}
    assert policy.thresholds == Thresholds(
        image_age_days=30,
        wasted_bytes=50 * 2**20,
        size_floor=500_000,
        efficiency=0.95,
        user_wasted_percent=0.05,
        stop_seconds=2.5,
    )
    (ignore,) = policy.ignores
    assert ignore.checks == ("SEC005",)
    assert ignore.images == ("registry.example/legacy/*",)
    assert ignore.paths == ("/usr/bin/*",)
    assert ignore.expires == date(2027, 3, 31)
    assert ignore.source == f"{tmp_path / 'pyproject.toml'}: [tool.inspector] ignores[0]"


def test_severity_override_becomes_the_checks_own_severity(tmp_path):
    """Policy.override gives the overridden check the new severity and leaves the others."""
    policy = _load_text(tmp_path, '[severity]\nSEC001 = "low"\n')
    checks = {c.id: c for c in policy.override(catalog().values())}
    assert checks["SEC001"].severity == "low"
    assert checks["SEC002"].severity == catalog()["SEC002"].severity


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fail_on = 'high'\n", "fail_on: unknown key"),
        ("fail-on = 'severe'\n", "fail-on: 'severe' is not one of info, low"),
        ("select = ['SEC999']\n", "select: no check or category called 'SEC999'"),
        ("ignore = 'META001'\nselect = [1]\n", "select: must be a list of strings"),
        ("[severity]\nSEC999 = 'low'\n", "severity.SEC999: no such check"),
        ("[severity]\nSEC001 = 'urgent'\n", "severity.SEC001: 'urgent' is not one of"),
        ("[thresholds]\nage = 3\n", "thresholds.age: unknown threshold"),
        ("[thresholds]\nefficiency = 90\n", "thresholds.efficiency: 90 is a fraction"),
        ("[thresholds]\nwasted-bytes = '20 parsecs'\n", "thresholds.wasted-bytes: '20 parsecs'"),
        ("[thresholds]\nimage-age-days = -1\n", "thresholds.image-age-days: -1 must be a number"),
        ("[thresholds]\nimage-age-days = 1.5\n", "image-age-days: 1.5 must be a whole number"),
        ("[[ignores]]\nchecks = ['SEC001']\n", "ignores[0].reason: required"),
        ("[[ignores]]\nchecks = ['SEC001']\nreason = '  '\n", "ignores[0].reason: required"),
        ("[[ignores]]\nreason = 'x'\n", "ignores[0].checks: required"),
        ("[[ignores]]\nchecks = ['NOPE']\nreason = 'x'\n", "ignores[0].checks: no check"),
        (
            "[[ignores]]\nchecks = ['SEC001']\nreason = 'x'\nexpires = 'soon'\n",
            "ignores[0].expires: 'soon' is not a date",
        ),
        (
            "[[ignores]]\nchecks = ['SEC001']\nreason = 'x'\nimage = ['a']\n",
            "ignores[0].image: unknown key",
        ),
        ("baseline = 3\n", "baseline: must be a path"),
    ],
)
def test_a_wrong_key_is_an_error_naming_file_and_key(tmp_path, text, expected):
    """Each kind of mistake raises ConfigError with the file, the key and what is wrong."""
    message = _error(tmp_path, text)
    assert message.startswith(f"{tmp_path / '.inspector.toml'}: ")
    assert expected in message


def test_invalid_toml_names_the_file_and_line(tmp_path):
    """A syntax error says which file and which line."""
    message = _error(tmp_path, "fail-on = \n")
    assert str(tmp_path / ".inspector.toml") in message
    assert "line 1" in message


def test_pyproject_given_with_config_must_have_the_table(tmp_path):
    """--config pyproject.toml without [tool.inspector] is an error, not silent defaults."""
    message = _error(tmp_path, '[project]\nname = "app"\n', name="pyproject.toml")
    assert "has no [tool.inspector] table" in message


def test_missing_config_file_is_an_error(tmp_path):
    """--config naming a file that does not exist is an error naming it."""
    with pytest.raises(ConfigError, match="no such config file"):
        load(tmp_path / "nope.toml", catalog())


def test_wasted_bytes_accepts_plain_numbers_and_units(tmp_path):
    """wasted-bytes reads bytes as an integer or with an SI or IEC unit."""
    for text, expected in [("1000", 1000), ("'2MB'", 2_000_000), ("'1.5 GiB'", 3 * 2**29)]:
        policy = _load_text(tmp_path, f"[thresholds]\nwasted-bytes = {text}\n")
        assert policy.thresholds.wasted_bytes == expected


def test_size_floor_accepts_plain_numbers_and_units(tmp_path):
    """size-floor reads bytes like wasted-bytes; a size that is not one names the key."""
    for text, expected in [("0", 0), ("'512KiB'", 512 * 1024), ("'2MB'", 2_000_000)]:
        policy = _load_text(tmp_path, f"[thresholds]\nsize-floor = {text}\n")
        assert policy.thresholds.size_floor == expected
    with pytest.raises(ConfigError, match=r"thresholds\.size-floor: '1 parsec' is not a size"):
        _load_text(tmp_path, "[thresholds]\nsize-floor = '1 parsec'\n")
