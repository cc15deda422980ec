"""Test setup: the Docker engine, the fixture images, and containers that never outlive a test.

Tests marked `docker` need an engine and the images from `make fixtures`. Without an engine they
are skipped, unless `--require-docker` is given (CI and `make test` give it): then they fail.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import Phase, settings

# Hypothesis profiles (tests/test_fuzz_hostile.py, docs/limits.md): "suite" runs within
# `make test`, the same examples every run so CI is repeatable, a failure reported as found
# (shrinking one can take minutes); "fuzz" is `make fuzz`, new examples every run, shrunk.
# Choose with HYPOTHESIS_PROFILE or --hypothesis-profile.
settings.register_profile(
    "suite",
    max_examples=60,
    derandomize=True,
    print_blob=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
settings.register_profile("fuzz", max_examples=2000, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))

# Audits match known vulnerabilities against the default advisory database (the user's data
# directory): tests get an empty one of their own, so no developer's database changes a verdict.
# A test that wants a database makes one and names it (--db, AdvisoryOptions).
_DATA_DIR = tempfile.mkdtemp(prefix="inspector-test-data-")
atexit.register(shutil.rmtree, _DATA_DIR, ignore_errors=True)
os.environ["INSPECTOR_DATA_DIR"] = _DATA_DIR
os.environ.pop("INSPECTOR_DB", None)

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
TEST_LABEL = "inspector.test"
# Containers carry this session's id, so concurrent sessions never remove each other's; probe
# containers carry it too (inspector.probe.run, from INSPECTOR_RUN_ID, inherited by every CLI
# this session starts), so a test counts and waits for this run's own probes only.
SESSION = uuid.uuid4().hex
os.environ["INSPECTOR_RUN_ID"] = SESSION


def own_probes(client: object) -> list[object]:
    """The probe containers this test session (and the CLIs it started) has on the engine now."""
    from inspector.probes.containers import RUN_LABEL, listed

    return listed(client, f"{RUN_LABEL}={SESSION}")


def fixture_image(name: str) -> str:
    """The tag `make fixtures` gives the image built from fixtures/NAME/Dockerfile."""
    return f"inspector-fixture/{name}:test"


def session_tag(name: str) -> str:
    """A tag for an image a test builds, this session's own: concurrent runs on one engine never
    build over, audit or remove each other's images."""
    return f"inspector-test/{name}:{SESSION[:16]}"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--require-docker",
        action="store_true",
        help="fail, instead of skipping, tests marked docker when no engine or fixture answers",
    )


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """Precision and recall on the realistic fixtures, when tests/test_precision.py ran."""
    from tests.precision import PRECISION_SUMMARY, summary

    scores = config.stash.get(PRECISION_SUMMARY, None)
    if scores:
        terminalreporter.section("precision")
        for line in summary(scores):
            terminalreporter.write_line(line)


@functools.cache
def _engine_problem() -> str | None:
    import docker
    import docker.errors

    try:
        client = docker.from_env(timeout=30)
        client.ping()
        client.close()
    except docker.errors.DockerException as exc:
        return f"no Docker engine answers ({exc}); run `make engine`"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("docker") is None:
        return
    problem = _engine_problem()
    if problem is None:
        return
    if item.config.getoption("--require-docker"):
        pytest.fail(problem, pytrace=False)
    pytest.skip(problem)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[object]:
    """A Docker SDK client; after the session no container a test started may remain."""
    import docker

    client = docker.from_env(timeout=120)
    yield client
    from inspector.probes.containers import listed, remove_listed

    # The list endpoint only: a container removed while we look is not an error.
    leftovers = listed(client, f"{TEST_LABEL}={SESSION}")
    # Probe containers this session or a CLI it started made (their run label): none may outlive
    # the run. Probes of other runs on the same engine, live or killed earlier, are not ours.
    leftovers += own_probes(client)
    for container in leftovers:
        remove_listed(client, container)
    assert not leftovers, f"tests left containers behind: {[c.name for c in leftovers]}"
    client.close()


@pytest.fixture(scope="session", autouse=True)
def pinned_clock() -> Iterator[None]:
    """Every date-dependent check judges at the suite's clock (tests/probed.py CLOCK), never at
    today's date: a golden that passes in December passes in May."""
    import checks.model
    from tests.probed import pinned_now

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(checks.model, "utc_now", pinned_now)
        yield


@pytest.fixture(scope="session")
def fixture_probes(docker_client, tmp_path_factory) -> Iterator[object]:
    """One probed collection per fixture per session (tests/probed.py): `.facts(name)`,
    `.report(name, checks=None, context=None)`, and `.start(names)` to prefetch concurrently."""
    from tests.probed import Probed

    # pytest-xdist workers share their base temp's parent: one collection for all of them.
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    shared = Probed(tmp_path_factory.getbasetemp().parent / "probed" if worker else None)
    yield shared
    shared.close()


@pytest.fixture(scope="session")
def image(docker_client) -> Callable[[str], object]:
    """Look up a fixture image by name; a missing one is an error that says how to build it."""

    def get(name: str) -> object:
        import docker.errors

        try:
            return docker_client.images.get(fixture_image(name))
        except docker.errors.ImageNotFound:
            pytest.fail(f"fixture image {fixture_image(name)} is missing; run `make fixtures`")

    return get


@dataclass(frozen=True)
class Ran:
    exit_code: int
    output: str
    diff: list[dict[str, object]]


@pytest.fixture
def run(docker_client) -> Callable[..., Ran]:
    """Run a command in an image with the network off, wait for it, and always remove it."""

    def _run(ref: str, command: list[str] | None = None, **kwargs: object) -> Ran:
        container = docker_client.containers.create(
            ref,
            command,
            network_mode="none",
            labels={TEST_LABEL: SESSION},
            **kwargs,
        )
        try:
            container.start()
            status = container.wait(timeout=60)
            output = container.logs(stdout=True, stderr=True).decode(errors="replace")
            return Ran(status["StatusCode"], output, container.diff() or [])
        finally:
            container.remove(force=True)

    return _run


@pytest.fixture
def started(docker_client) -> Iterator[Callable[..., object]]:
    """Start an image as a user would (its own entrypoint), with the network off; removed after."""
    containers: list[object] = []

    def _start(ref: str, **kwargs: object) -> object:
        container = docker_client.containers.run(
            ref, detach=True, network_mode="none", labels={TEST_LABEL: SESSION}, **kwargs
        )
        containers.append(container)
        return container

    yield _start
    for container in containers:
        container.remove(force=True)


@pytest.fixture(autouse=True)
def _fingerprint_key_restored() -> Iterator[None]:
    """Each test leaves the process's secret fingerprint key as it found it: a test that runs the
    CLI (which takes the machine's key from its own cache dir) must not change the key other
    tests' hints were computed with at collection, whatever order pytest-xdist runs them in."""
    from inspector.analysers import secret_rules

    saved = (secret_rules._Key.value, secret_rules._Key.given)
    yield
    secret_rules._Key.value, secret_rules._Key.given = saved
