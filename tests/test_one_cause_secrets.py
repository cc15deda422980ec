"""One cause, one finding for secrets, on facts shaped as real images showed them: a `chown -R`
that stores every secret again, a package's dozens of docstring examples, and an app `.env` that
SEC006 (the key, and the file by name) and SEC023 all reported."""

from __future__ import annotations

import copy
from dataclasses import replace

from inspector.report.fingerprint import fingerprint
from tests.test_one_cause import NOW, example, findings

SECRET_CHECKS = ("SEC004", "SEC005", "SEC006", "SEC023")
IMAGE = "registry.example/app:1"


def test_a_chown_copy_of_a_secret_is_the_same_secret_named_in_its_first_layer():
    """The COPY layer's key and the chown's unchanged copy: one finding at index 4 (the message
    numbers layers from 1: layer 5), naming the chown's layer 6."""
    facts = example("SEC006", "bad", "a chown -R re-adding the app's .env and settings")
    by_path = {f.location.path: f for f in findings(facts, "SEC006")}
    assert len(findings(facts, "SEC006")) == 2
    settings = by_path["/app/settings.py"]
    assert (settings.severity, settings.rule, settings.location.layer) == (
        "critical", "aws-access-key-id", 4)  # fmt: skip
    assert settings.location.created_by.startswith("COPY planted/app/")
    assert (
        "layer 5 added it, and layer 6 (RUN chown -R app:app /opt/venv /app) wrote the same "
        "file again unchanged; visible in the final filesystem" in settings.message
    )


def test_a_changed_value_at_the_same_path_is_a_second_secret():
    """A later layer that writes another value is a new secret, not a copy: two findings."""
    facts = example("SEC006", "bad", "a chown -R re-adding the app's .env and settings")
    later = next(s for s in facts["secrets"] if s["path"] == "/app/settings.py" and s["layer"] == 5)
    later.update(fingerprint="0badf00d", hint="AWS access key ID: 20 chars, fingerprint 0badf00d")
    settings = [f for f in findings(facts, "SEC006") if f.location.path == "/app/settings.py"]
    assert sorted(f.location.layer for f in settings) == [4, 5]


def test_a_secrets_fingerprint_does_not_change_with_its_later_copies():
    """A baseline that accepted the secret before a chown was added still matches it after."""
    facts = example("SEC006", "bad", "a chown -R re-adding the app's .env and settings")
    both = {f.location.path: fingerprint(IMAGE, f) for f in findings(facts, "SEC006")}
    again = copy.deepcopy(facts)
    extra = copy.deepcopy(next(s for s in again["secrets"] if s["layer"] == 5))
    extra.update(layer=6)
    again["layers"].append({"index": 6, "created_by": "RUN /bin/sh -c chmod -R g+w /app"})
    again["secrets"].append(extra)
    assert {f.location.path: fingerprint(IMAGE, f) for f in findings(again, "SEC006")} == both


def test_a_dotenv_whose_key_the_content_scan_found_is_that_keys_finding_alone():
    """/app/.env with a Stripe key: one SEC006 finding (the key, line 1); no dotenv, no SEC023."""
    facts = example("SEC006", "bad", "a chown -R re-adding the app's .env and settings")
    leak = {"name": "env_file", "path": "/app/.env", "dir": "/app", "kind": "file", "files": 1,
            "bytes": 64, "layer": 5}  # fmt: skip
    facts["files"] = {"context_leaks": [leak]}
    env = [f for f in findings(facts, *SECRET_CHECKS) if f.location.path == "/app/.env"]
    assert [(f.check, f.rule, f.severity) for f in env] == [("SEC006", "stripe-key", "critical")]


def test_a_dotenv_naming_more_secrets_than_the_content_scan_found_keeps_its_row():
    """A secret-looking variable no content rule matched is only in the dotenv row: it stays."""
    facts = example("SEC006", "bad", "a chown -R re-adding the app's .env and settings")
    for secret in facts["secrets"]:
        if secret["kind"] == "dotenv":
            secret["hint"] = "3 variables; secret-looking: STRIPE_API_KEY, DJANGO_SECRET"
    rules = sorted(f.rule for f in findings(facts, "SEC006") if f.location.path == "/app/.env")
    assert rules == ["dotenv", "stripe-key"]


def test_a_packages_examples_are_one_info_finding_per_distribution():
    """Six SQLAlchemy docstring URLs in four files and PyJWT's METADATA token: two info rows."""
    facts = example("SEC006", "bad", "SQLAlchemy's docstrings and PyJWT's METADATA")
    found = {f.message.split(" of ", 1)[1].split(" ", 1)[0]: f for f in findings(facts, "SEC006")}
    assert sorted(found) == ["PyJWT", "SQLAlchemy"]
    sqlalchemy = found["SQLAlchemy"]
    assert sqlalchemy.severity == "info"
    assert sqlalchemy.message.startswith(
        "6 credential-shaped examples (database-url) in 4 files of SQLAlchemy (a Python "
        "distribution: its code) under /opt/venv/lib/python3.11/site-packages/sqlalchemy: "
        "dialects/mssql/aioodbc.py, dialects/mssql/pyodbc.py, engine/create.py and 1 more"
    )
    assert sqlalchemy.location.path == "/opt/venv/lib/python3.11/site-packages/sqlalchemy"
    assert sqlalchemy.location.layer == 3
    assert found["PyJWT"].location.path.endswith("PyJWT-2.10.1.dist-info/METADATA")


def test_a_packages_roll_up_keeps_its_fingerprint_when_a_release_changes_its_examples():
    """One example more or fewer in the next SQLAlchemy release is the same finding."""
    facts = example("SEC006", "bad", "SQLAlchemy's docstrings and PyJWT's METADATA")
    before = {fingerprint(IMAGE, f) for f in findings(facts, "SEC006")}
    facts["secrets"] = facts["secrets"][1:]
    after = {fingerprint(IMAGE, f) for f in findings(facts, "SEC006")}
    assert after == before
    (one,) = [f for f in findings(facts, "SEC006") if "SQLAlchemy" in f.message]
    assert fingerprint(IMAGE, replace(one, identity=None)) not in before  # the count is in it


def test_a_third_party_credential_file_keeps_its_own_finding():
    """A package's live-format key in its code is not an example: its own critical finding."""
    facts = example("SEC006", "bad", "SQLAlchemy's docstrings and PyJWT's METADATA")
    key = facts["secrets"][0]
    path = key["path"].replace("aioodbc.py", "server.pem")
    key.update(kind="private-key", credential_file=True, live_format=True,
               likely_test_fixture=False, path=path)  # fmt: skip
    found = findings(facts, "SEC006", context=NOW)
    assert [f.severity for f in found if f.location.path == key["path"]] == ["critical"]
    assert len(found) == 3
