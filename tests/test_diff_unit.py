"""`inspector diff` as a pure function of two facts documents: each section's rules, the gate,
and the secrets it must never show."""

from __future__ import annotations

import json

import pytest

from checks import catalog
from checks.model import CheckResult, Finding, Location
from inspector.diff import json as diff_json
from inspector.diff import markdown, table
from inspector.diff.compute import Audited, compute
from inspector.diff.config import config_diff
from inspector.diff.findings import findings_diff, gate
from inspector.diff.packages import packages_diff, vulnerabilities_diff
from inspector.diff.runtime import runtime_diff
from inspector.diff.size import size_diff

PLANTED = "dfUnitPlanted0123456789abcdefXYZ"


def _finding(check: str, message: str, **where: object) -> Finding:
    c = catalog()[check]
    return Finding(c.id, c.severity, message, Location(**where), c.fix)  # type: ignore[arg-type]


def _results(*findings: Finding, skipped: tuple[str, ...] = (), passed: tuple[str, ...] = ()):
    by: dict[str, list[Finding]] = {}
    for f in findings:
        by.setdefault(f.check, []).append(f)
    checks = catalog()
    out = [CheckResult(checks[c], "failed", tuple(fs)) for c, fs in by.items()]
    out += [CheckResult(checks[c], "skipped", reason="probe did not run") for c in skipped]
    return out + [CheckResult(checks[c], "passed") for c in passed]


# --- config ---------------------------------------------------------------------------------


def test_env_added_removed_changed_by_name():
    """ENV variables are compared by name: added, removed and changed each say so."""
    diff = config_diff({"env": {"A": "1", "B": "2"}}, {"env": {"A": "3", "C": "4"}})
    assert [(c.name, c.change, c.old, c.new) for c in diff.env] == [
        ("A", "changed", "1", "3"), ("B", "removed", "2", None), ("C", "added", None, "4"),
    ]  # fmt: skip


def test_secret_looking_env_values_are_never_shown():
    """A value under a secret-looking name is hidden, whatever the facts left of it, and the
    planted value appears in no format."""
    old = {"env": {"PAYMENTS_API_KEY": PLANTED}}
    new = {"env": {"PAYMENTS_API_KEY": PLANTED + "2", "DB": "<redacted: 9 chars, fingerprint 1>"}}
    diff = config_diff(old, new)
    assert [(c.name, c.change, c.old, c.new, c.hidden) for c in diff.env] == [
        ("DB", "added", None, None, True),
        ("PAYMENTS_API_KEY", "changed", None, None, True),
    ]
    whole = compute(Audited("a:1", {"config": old}), Audited("a:2", {"config": new}))
    for text in (table.render(whole, 100), markdown.render(whole), diff_json.render(whole)):
        assert PLANTED not in text
        assert "value not shown" in text or '"hidden": true' in text


def test_unset_user_and_workdir_mean_root_and_slash():
    """No USER and an empty USER are the same image; USER set where it was not is a change."""
    assert config_diff({"user": ""}, {"workdir": ""}).changes == ()
    change = config_diff({"user": ""}, {"user": "10001"}).changes[0]
    assert (change.name, change.old, change.new) == ("USER", None, "10001")
    whole = compute(Audited("a:1", {"config": {}}), Audited("a:2", {"config": {"user": "10001"}}))
    assert "USER: (unset: root) → 10001" in table.render(whole, 100)


def test_ports_volumes_and_commands():
    """Ports and volumes are sets; ENTRYPOINT and CMD are compared as argument lists."""
    diff = config_diff(
        {"exposed_ports": ["8000/tcp"], "volumes": ["/data"], "cmd": ["python", "-m", "app"]},
        {"exposed_ports": ["8000/tcp", "9100/tcp"], "cmd": ["gunicorn", "app:app"]},
    )
    assert diff.exposed_ports.added == ("9100/tcp",)
    assert diff.volumes.removed == ("/data",)
    assert [(c.name, c.new) for c in diff.changes] == [("CMD", '["gunicorn", "app:app"]')]


# --- packages -------------------------------------------------------------------------------


def _os(**versions: str) -> dict:
    return {"os_packages": {"packages": [{"name": n, "version": v, "manager": "dpkg"}
                                         for n, v in versions.items()]}}  # fmt: skip


def test_os_packages_follow_dpkg_order_not_text_order():
    """deb12u10 is newer than deb12u7 and ~ sorts before the release, as dpkg says (text order
    says the opposite of both)."""
    diff = packages_diff(
        _os(libc6="2.36-9+deb12u7", ssl="3.0.15-1", gone="1"),
        _os(libc6="2.36-9+deb12u10", ssl="3.0.15-1~deb12u1", new="2"),
    )
    assert [(c.name, c.change) for c in diff.os] == [
        ("gone", "removed"), ("libc6", "upgraded"), ("new", "added"), ("ssl", "downgraded"),
    ]  # fmt: skip


def _dists(path: list[str], **by_env: dict[str, str]) -> dict:
    return {"inventory": {"import_path": path, "components": [
        {"kind": "dist-info", "name": n, "version": v, "environment": env, "deleted": False}
        for env, dists in by_env.items() for n, v in dists.items()]}}  # fmt: skip


def test_python_distributions_per_environment_the_commands_first():
    """PEP 440 order (1.10 after 1.9, rc before the release), grouped per site-packages, the
    environment on the command's sys.path listed first."""
    venv, system = "/opt/venv/lib/site", "/usr/lib/python3/dist-packages"
    old = _dists([venv], **{system: {"a": "1.0"}, venv: {"six": "1.9.0", "x": "2.0.0rc1"}})
    new = _dists([venv], **{system: {"a": "0.9"}, venv: {"six": "1.10.0", "x": "2.0.0"}})
    diff = packages_diff(old, new)
    assert [(e.environment, e.command) for e in diff.python] == [(venv, True), (system, False)]
    assert [(c.name, c.change) for c in diff.python[0].changes] == [
        ("six", "upgraded"), ("x", "upgraded"),
    ]  # fmt: skip
    assert diff.python[1].changes[0].change == "downgraded"


def test_interpreter_version_from_the_probe_else_the_layers():
    """The static probe's exact version wins over the layers' minor version."""
    old = {"python": {"entrypoint_interpreter": {"version": "3.11"}}}
    new = {"runtime": {"static": {"status": "ran", "python_version": "3.12.7"}}}
    change = packages_diff(old, new).interpreter
    assert change is not None
    assert (change.old, change.new, change.change) == ("3.11", "3.12.7", "upgraded")


def test_vulnerabilities_introduced_and_fixed_only_when_both_matched():
    """Matches are compared by id, package and place; without a database on one side, not."""

    def match(vid: str, package: str) -> dict:
        return {"id": vid, "package": package, "ecosystem": "PyPI", "severity": "high",
                "installed": "1", "environment": "/site"}  # fmt: skip

    old = {"status": "matched", "matches": [match("CVE-1", "a"), match("CVE-2", "b")]}
    new = {"status": "matched", "matches": [match("CVE-2", "b"), match("CVE-3", "c")]}
    diff = vulnerabilities_diff(old, new)
    assert [v.id for v in diff.introduced] == ["CVE-3"]
    assert [v.id for v in diff.fixed] == ["CVE-1"]
    off = vulnerabilities_diff({"status": "disabled"}, new)
    assert not off.compared
    assert "OLD" in (off.note or "")


# --- findings and the gate ------------------------------------------------------------------


def test_findings_match_by_fingerprint_not_by_text():
    """A message whose numbers moved is the same finding (the fingerprint blanks them), so it
    is still present, not fixed and new."""
    old = _results(_finding("SIZE002", "pip's cache: 14.2 MiB in 212 file(s)", path="/root/.cache"))
    new = _results(_finding("SIZE002", "pip's cache: 3.1 MiB in 40 file(s)", path="/root/.cache"))
    diff = findings_diff("shop/api:1.5", old, new)
    assert (len(diff.new), len(diff.fixed), len(diff.still)) == (0, 0, 1)


def test_new_fixed_and_a_check_that_did_not_run():
    """A finding whose check was skipped on NEW is not called fixed; a new one whose check was
    skipped on OLD is new but marked not compared."""
    root = _finding("SEC001", "runs as root", config="User")
    killed = _finding("OPS002", "SIGKILL needed", runtime="lifecycle probe")
    secret = _finding("SEC004", "secret-variable in config Env.KEY", config="Env.KEY")
    zombie = _finding("OPS001", "a shell is PID 1", runtime="lifecycle probe")
    old = _results(root, killed, skipped=("OPS001",), passed=("SEC004",))
    new = _results(secret, zombie, skipped=("OPS002",), passed=("SEC001",))
    diff = findings_diff("a:2", old, new)
    assert {(e.check, e.compared) for e in diff.new} == {("SEC004", True), ("OPS001", False)}
    assert [e.check for e in diff.fixed] == ["SEC001"]
    assert [e.check for e in diff.not_rechecked] == ["OPS002"]


def test_gate_fails_only_on_new_findings_at_or_above():
    """new:high fails on a new high finding, not on a still-present one nor a new medium."""
    secret = _finding("SEC004", "secret-variable in config Env.KEY", config="Env.KEY")
    cache = _finding("SIZE002", "pip's cache", path="/root/.cache/pip")
    still = findings_diff("a:2", _results(secret), _results(secret, cache))
    assert not gate(still, "high").failed
    assert gate(still, "medium").failed
    fresh = findings_diff("a:2", _results(), _results(secret))
    verdict = gate(fresh, "high")
    assert verdict.failed
    assert verdict.verdict.startswith("gate failed: new 1 ")
    assert "SEC004" in verdict.verdict
    assert not gate(fresh, None).failed


# --- size and runtime -----------------------------------------------------------------------


def _layers(*specs: tuple[str, int]) -> dict:
    return {"layers": [{"index": i, "digest": d, "size": s, "created_by": f"step {i}"}
                       for i, (d, s) in enumerate(specs)]}  # fmt: skip


def test_layers_shared_added_removed_by_diff_id():
    """Layers are matched by diff_id; the common leading ones are the base."""
    diff = size_diff(_layers(("a", 10), ("b", 5), ("c", 1)),
                     _layers(("a", 10), ("b", 5), ("d", 7), ("e", 2)))  # fmt: skip
    assert [(r.digest, r.status) for r in diff.layers] == [
        ("a", "shared"), ("b", "shared"), ("d", "added"), ("e", "added"), ("c", "removed"),
    ]  # fmt: skip
    assert (diff.base_layers, diff.shared_bytes, diff.added_bytes, diff.removed_bytes) == (
        2, 15, 9, 1,
    )  # fmt: skip
    assert diff.delta_bytes == 8


def test_biggest_paths_keep_the_deepest_that_explains_the_growth():
    """A directory whose growth one listed child explains is left out; absent from OLD means
    below OLD's threshold."""
    mib = 1 << 20
    old = {"fs": {"sizes": {"threshold": mib, "paths": [{"path": "/opt/venv", "bytes": 10 * mib}]}}}
    new = {"fs": {"sizes": {"threshold": mib, "paths": [
        {"path": "/opt/venv", "bytes": 60 * mib},
        {"path": "/opt/venv/numpy", "bytes": 50 * mib},
    ]}}}  # fmt: skip
    diff = size_diff(old, new)
    assert diff.biggest_known
    assert [(g.path, g.old_bytes) for g in diff.biggest_added] == [("/opt/venv/numpy", None)]


def test_runtime_moves_and_stop_time_noise():
    """The app's effective UID moving is reported; a stop time within a second is noise."""

    def lifecycle(euid: int, stop: float) -> dict:
        return {"runtime": {"lifecycle": {"status": "ran", "app_pid": 1, "stop_seconds": stop,
                                          "processes": [{"pid": 1, "euid": euid}]}}}  # fmt: skip

    diff = runtime_diff(lifecycle(0, 0.4), lifecycle(10001, 0.9))
    assert [(c.name, c.old, c.new) for c in diff.changes] == [("effective_uid", "0", "10001")]
    skipped = runtime_diff({"runtime": {"lifecycle": {"status": "skipped", "reason": "no"}}},
                           lifecycle(0, 1))  # fmt: skip
    assert not skipped.compared


def test_json_is_versioned_and_round_trips():
    """The JSON names its schema and tool, and is one object."""
    from inspector.diff.example import example

    doc = json.loads(diff_json.render(example()))
    assert doc["schema_version"] == diff_json.SCHEMA_VERSION
    assert doc["tool"]["name"] == "inspector"
    assert doc["gate"]["failed"] is True


@pytest.mark.parametrize("width", [60, 80, 120, 200])
def test_table_fits_the_width(width):
    """No line of the table is wider than the terminal it was rendered for."""
    from inspector.diff.example import example

    lines = table.render(example(), width).splitlines()
    assert max(len(line) for line in lines) <= width
