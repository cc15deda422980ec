"""The sudo-setuid, chown-dup and apt-leftovers fixtures are what their Dockerfiles claim, on the
real image, and the contents checks (checks/contents.py) report exactly that; good gets none."""

from __future__ import annotations

import pytest

from checks import catalog
from checks.engine import run_check
from checks.model import Context, Finding
from inspector.facts.collect import collect
from tests.conftest import fixture_image

pytestmark = pytest.mark.docker

MINE = sorted(i for i, c in catalog().items() if c.run.__module__ == "checks.contents")
MB = 1024 * 1024


@pytest.fixture(scope="module")
def facts_of(tmp_path_factory, docker_client):
    """Static facts of a fixture image, collected once per module with its own layer cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("INSPECTOR_CACHE_DIR", str(tmp_path_factory.mktemp("layer-cache")))
    seen: dict[str, dict] = {}

    def get(name: str) -> dict:
        if name not in seen:
            try:
                docker_client.images.get(fixture_image(name))
            except Exception:
                pytest.fail(f"fixture image {fixture_image(name)} is missing; run `make fixtures`")
            seen[name] = collect(fixture_image(name)).to_json()
        return seen[name]

    yield get
    mp.undo()


def findings(facts: dict) -> dict[str, list[Finding]]:
    """Every finding of the contents checks, by check id (ids without findings left out)."""
    out = {}
    for check_id in MINE:
        result = run_check(catalog()[check_id], facts, Context())
        assert result.status in ("passed", "failed"), result
        if result.findings:
            out[check_id] = list(result.findings)
    return out


# --- sudo-setuid --------------------------------------------------------------------------------


def test_sudo_setuid_lets_the_app_user_become_root_without_a_password(run):
    """As the image's own USER, `sudo -n id -u` prints 0: the NOPASSWD rule really works."""
    ran = run(fixture_image("sudo-setuid"), ["sudo", "-n", "id", "-u"])
    assert ran.exit_code == 0, ran.output
    # stdout and stderr arrive in one log in either order; sudo may warn on stderr that the
    # container's host name does not resolve (no network): the answer is its own line.
    assert "0" in [line.strip() for line in ran.output.splitlines()]


def test_sudo_setuid_adds_a_setuid_helper_and_no_longer_shows_the_deb(run):
    """The copied helper is setuid root, and the sudo .deb is gone from the container's view."""
    script = "stat -c '%a %U' /usr/local/bin/helper; ls /tmp/*.deb 2>/dev/null | wc -l"
    ran = run(fixture_image("sudo-setuid"), ["sh", "-c", script])
    assert ran.output.split() == ["4755", "root", "0"]


def test_sudo_setuid_facts_and_checks(facts_of):
    """sudo and its NOPASSWD rule are found with their layers; the deleted .deb still counts."""
    facts = facts_of("sudo-setuid")
    files = facts["files"]
    tools = {t["name"]: t for t in files["privilege"]["tools"]}
    assert tools["sudo"]["path"] == "/usr/bin/sudo"
    assert tools["sudo"]["mode"] == "4755"
    assert "dpkg -i" in tools["sudo"]["created_by"]
    rules = {s["path"]: s["rules"] for s in files["privilege"]["sudoers"]}
    assert [(r["who"], r["nopasswd"], r["commands"]) for r in rules["/etc/sudoers.d/app"]] == [
        ("app", True, ["ALL"])]  # fmt: skip
    (deb,) = files["leftovers"]["items"]
    assert deb["name"] == "deb"
    assert deb["path"].startswith("/tmp/sudo_")
    assert deb["deleted_in"] is not None
    assert "rm -f" in deb["deleted_by"]
    assert "/usr/local/bin/helper" in [f["path"] for f in facts["setuid"]]

    found = findings(facts)
    assert sorted(found) == ["SEC020", "SEC021", "SIZE021"]
    assert [f.severity for f in found["SEC020"]] == ["medium"]
    assert found["SEC020"][0].location.path == "/usr/bin/sudo"
    assert [f.severity for f in found["SEC021"]] == ["high"]
    assert found["SEC021"][0].location.path == "/etc/sudoers.d/app"
    assert [f.severity for f in found["SIZE021"]] == ["low"]
    assert "still shipped" in found["SIZE021"][0].message


# --- chown-dup ----------------------------------------------------------------------------------


def test_chown_dup_layer_is_as_large_as_the_tree_it_chowns(image):
    """Docker's own history: the `chown -R` layer weighs as much as the venv layer below it."""
    steps = [(h["CreatedBy"], h["Size"]) for h in image("chown-dup").history()]
    chown = next(size for by, size in steps if "chown -R" in by)
    venv = next(size for by, size in steps if "pip install" in by)
    assert chown >= venv > 10 * MB


def test_chown_dup_facts_and_checks(facts_of):
    """Both trees are reported as duplicated by the chown layer; SIZE022 alone fires, medium, in
    one finding for the one chown step (SIZE003 leaves these bytes to it)."""
    facts = facts_of("chown-dup")
    groups = facts["files"]["chown_duplicates"]
    assert len(groups) == 2
    assert all("chown -R" in g["readded_by"] for g in groups)
    assert all(g["owner_changed"] == g["files"] for g in groups)
    venv, app = groups
    assert "pip install" in venv["created_by"]
    assert venv["bytes"] > 10 * MB
    assert "/srv/requirements.txt" in app["examples"]

    found = findings(facts)
    assert sorted(found) == ["SIZE022"]
    [finding] = found["SIZE022"]
    assert finding.severity == "medium"
    assert "first written by layer 4" in finding.message


# --- apt-leftovers (the toolchain check) -------------------------------------------------------


def test_apt_leftovers_has_a_working_compiler_and_the_toolchain_check_says_so(run, facts_of):
    """tcc really runs in the image, and SIZE020 reports it and libc6-dev at medium."""
    ran = run(fixture_image("apt-leftovers"), ["tcc", "-v"])
    assert ran.exit_code == 0, ran.output
    found = findings(facts_of("apt-leftovers"))
    toolchain = found["SIZE020"]
    assert {f.severity for f in toolchain} == {"medium"}
    text = " ".join(f.message for f in toolchain)
    assert "/usr/bin/tcc" in text
    assert "libc6-dev" in text


# --- good ---------------------------------------------------------------------------------------


def test_good_gets_no_contents_finding(facts_of):
    """The production-shaped fixture triggers none of the contents checks."""
    assert findings(facts_of("good")) == {}
