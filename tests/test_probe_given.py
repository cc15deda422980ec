"""--probe-env, --probe-env-file and --probe-memory parsed as docker does, their values masked in
whatever the probes bring back, and the policy's `inconclusive` switch validated (no engine)."""

from __future__ import annotations

import pytest

from checks import catalog
from inspector.audit import inconclusive_start
from inspector.cli.commands import main
from inspector.policy.config import ConfigError, load
from inspector.probes.given import MEMORY, Given, GivenError, parse
from inspector.probes.model import LifecycleProbe, Process, RuntimeFacts, StaticProbe

TOKEN = "s3cr3t-t0ken-value"


def test_settings_are_read_as_docker_reads_them(tmp_path):
    """An env file's KEY=VAL lines (comments and blanks skipped), then --probe-env, a later
    setting winning; a bare KEY takes this environment's value, or nothing when unset."""
    env_file = tmp_path / "app.env"
    env_file.write_text("# the app's settings\n\nDATABASE_URL=postgres://db.example/app\n"
                        "MODE=file\nEMPTY=\n")  # fmt: skip
    given = parse(["MODE=flag", "API_KEY", "UNSET", "EQUALS=a=b"], [str(env_file)],
                  environ={"API_KEY": TOKEN})  # fmt: skip
    assert dict(given.env) == {"DATABASE_URL": "postgres://db.example/app", "EMPTY": "",
                               "MODE": "flag", "API_KEY": TOKEN, "EQUALS": "a=b"}  # fmt: skip
    assert given.memory == MEMORY
    assert parse(memory="2GiB").memory == 2 * 1024**3
    assert Given().container_options() == {
        "mem_limit": MEMORY,
        "memswap_limit": MEMORY,
        "environment": None,
    }


@pytest.mark.parametrize(
    ("pairs", "memory", "said"),
    [
        ([f"={TOKEN}"], None, "--probe-env #1: expected KEY=VALUE"),
        ([f"A B={TOKEN}"], None, "--probe-env #1: expected KEY=VALUE"),
        ([], "lots", "--probe-memory 'lots': not a size"),
        ([], "4MiB", "at least 32 MiB"),
    ],
)
def test_a_bad_setting_is_one_line_that_never_shows_a_value(pairs, memory, said):
    """A malformed --probe-env names its position, never its text (it may be a value typed
    without its name); a bad size names the size."""
    with pytest.raises(GivenError) as caught:
        parse(pairs, memory=memory)
    assert said in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_an_unreadable_env_file_is_exit_2(tmp_path, capsys):
    """--probe-env-file naming no file: exit 2, one line naming the file."""
    missing = tmp_path / "nope.env"
    assert main(["audit", "app:1", "--no-config", "--probe-env-file", str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"--probe-env-file {missing}: cannot read it" in err
    assert "Traceback" not in err


def test_given_values_are_masked_in_every_string_the_probes_return():
    """The app printed its token, its command line holds it, the exit reason quotes it: every
    copy becomes `<probe-env API_KEY>`; a short value is left alone; the repr holds none."""
    given = Given((("API_KEY", TOKEN), ("DEBUG", "1")))
    facts = RuntimeFacts(
        StaticProbe("ran", log_tail=(f"using key {TOKEN}",)),
        LifecycleProbe(
            "exited-early",
            f"exited: bad key {TOKEN}",
            processes=(
                Process(1, 0, 10001, 10001, None, None, "S", "app", ("app", f"--key={TOKEN}")),
            ),
            log_tail=("DEBUG=1",),
        ),
    )
    masked = given.mask(facts)
    text = repr(masked)
    assert TOKEN not in text
    assert masked.lifecycle.reason == "exited: bad key <probe-env API_KEY>"
    assert masked.lifecycle.processes[0].cmdline == ("app", "--key=<probe-env API_KEY>")
    assert masked.lifecycle.log_tail == ("DEBUG=1",)
    assert TOKEN not in repr(given)


def test_the_policy_switch_is_validated_and_documented(tmp_path):
    """`inconclusive = "fail"` is read; any other value stops the gate with the file and key."""
    policy = tmp_path / ".inspector.toml"
    policy.write_text('inconclusive = "fail"\n')
    assert load(policy, catalog()).inconclusive == "fail"
    policy.write_text('inconclusive = "maybe"\n')
    with pytest.raises(ConfigError) as caught:
        load(policy, catalog())
    assert "inconclusive: 'maybe' is not one of 'pass', 'fail'" in str(caught.value)


def test_an_inconclusive_start_is_read_from_either_probe():
    """The lifecycle probe's inconclusive exit, or the static probe's inconclusive import test;
    nothing when the app started or the probes did not run."""
    waiting = {"lifecycle": {"reason": "waiting for configuration",
                             "exit_cause": {"verdict": "inconclusive"}}}  # fmt: skip
    assert inconclusive_start({"runtime": waiting}) == "waiting for configuration"
    imports = {"static": {"imports": {"verdict": "inconclusive", "command": "python -m app",
                                      "message": "KeyError: 'DATABASE_URL'"}}}  # fmt: skip
    assert "python -m app" in (inconclusive_start({"runtime": imports}) or "")
    assert inconclusive_start({"runtime": {"lifecycle": {"status": "ran"}}}) is None
    assert inconclusive_start({}) is None
