"""The content scanner's rules (pure): each finds its credential and passes its look-alikes, the
prefilter's fallback agrees with Hyperscan, and a hit never holds any part of a value."""

from __future__ import annotations

import dataclasses
import json

import pytest

from inspector.analysers import secret_rules
from inspector.analysers.secret_rules import RULES, _Prefilter, scan, scanned
from tests.planted import generate
from tests.test_secret_rule_families import NEW_MUST_FIND, NEW_MUST_NOT

# rule -> (a file that must be found, a look-alike that must not be)
PEM_HEADERS = "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----\n"
AWS_DOC_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SLACK_DOC_HOOK = "https://hooks.slack.com/services/T00000000/B00000000/" + "X" * 24
MUST_NOT = {
    "private-key": ("/srv/a.txt", PEM_HEADERS),
    "putty-private-key": ("/srv/a.txt", "PuTTY-User-Key-File-3: ssh-ed25519\nPrivate-Lines: 1\n"),
    "aws-access-key-id": ("/srv/a.py", 'KEY = "AKIAIOSFODNN7EXAMPLE"\n'),
    "aws-secret-access-key": ("/srv/a.py", f'aws_secret_access_key = "{AWS_DOC_SECRET}"\n'),
    "github-token": ("/srv/a.py", 'T = "ghp_' + "a1B2" * 9 + '"\n'),
    "github-fine-grained-token": ("/srv/a.py", f'T = "github_pat_{"x" * 22}_{"x" * 59}"\n'),
    "gitlab-token": ("/srv/a.py", 'T = "glpat-xxxxxxxxxxxxxxxxxxxx"\n'),
    "slack-token": ("/srv/a.py", f'T = "xoxb-{"0" * 12}-{"0" * 13}-{"x" * 24}"\n'),
    "slack-webhook": ("/srv/a.py", f"U = '{SLACK_DOC_HOOK}'\n"),
    "stripe-key": ("/srv/a.py", 'T = "sk_test_' + "a1B2" * 6 + '"\n'),
    "google-api-key": ("/srv/a.py", 'K = "AIzaSy' + "X" * 33 + '"\n'),
    "google-service-account": ("/srv/sa.json", '{"type": "service_account", "private_key": ""}\n'),
    "azure-storage-key": ("/srv/a.conf", "AccountKey=" + "A" * 86 + "==\n"),
    "pypi-token": ("/srv/a.sh", "twine upload -p pypi-AgEIcHlwaS5vcmc dist/*\n"),
    "npm-token": ("/srv/a.sh", "npm_" + "a1B2" * 9 + "\n"),
    "docker-auths": ("/srv/c.json", '{"auths": {"r.example": {"auth": "bm90LWEtcGFpcg=="}}}\n'),
    "kubernetes-dockerconfigjson": ("/srv/s.yaml", "  .dockerconfigjson: e30=\n"),
    "huggingface-token": ("/srv/a.py", 'T = "hf_' + "x" * 34 + '"\n'),
    "openai-key": ("/srv/a.py", 'K = "sk-proj-xxxxxxxx"\n'),
    "jwt": ("/srv/a.py", 'T = "eyJub3QtanNvbi.eyJhbHNvLW5vdA.c2lnbmF0dXJlLXRoYXQtaXMtbm90"\n'),
    "database-url": ("/srv/a.py", 'DB = "postgres://user:password@localhost/app"\n'),
    "password-assignment": ("/srv/a.py", 'PASSWORD = "${DB_PASSWORD}"\nSECRET = "changeme"\n'),
    "password-setting": ("/srv/a.ini", "password = <your-password>\nsecret = xxxxxxxxxxxx\n"),
}
MUST_FIND = {rule: (path, text) for path, (text, found) in generate.FILES.items()
             for rule, _line in found}  # fmt: skip


def test_every_rule_has_a_must_find_and_a_must_not_find_example():
    """No rule goes untested: the fixture (or, for the newer families, their own test module)
    plants each one, and each has a look-alike."""
    ids = {rule.id for rule in RULES}
    assert set(MUST_FIND) | {"slack-webhook"} | set(NEW_MUST_FIND) == ids
    assert set(MUST_NOT) | set(NEW_MUST_NOT) == ids


@pytest.mark.parametrize("rule", sorted(MUST_FIND))
def test_rule_finds_its_credential(rule):
    """The planted credential of each rule is found, on its line."""
    path, text = MUST_FIND[rule]
    expected = {(r, line) for r, line in generate.FILES[path][1] if r == rule}
    found = {(h.rule, h.line) for h in scan(path, text.encode()) if h.rule == rule}
    assert found == expected


def test_slack_webhook_is_found():
    """A Slack incoming webhook URL with a random key is found (no fixture file carries one)."""
    url = "https://hooks.slack.com/services/T0A1B2C3D/B4E5F6G7H/" + "a9Z8y7X6w5V4u3T2s1R0q9P8"
    assert [h.rule for h in scan("/srv/notify.py", f'HOOK = "{url}"\n'.encode())] == [
        "slack-webhook"]  # fmt: skip


@pytest.mark.parametrize("rule", sorted(MUST_NOT))
def test_rule_passes_its_look_alike(rule):
    """Placeholders, published examples and values that fail the format's checks are not hits."""
    path, text = MUST_NOT[rule]
    assert scan(path, text.encode()) == ()


def test_fixture_look_alikes_are_not_found():
    """Every look-alike file the fixture plants scans clean."""
    for path, text in generate.LOOKALIKES.items():
        assert scan(path, text.encode()) == (), path


def test_third_party_tests_and_docs_are_found_and_judged_by_the_analyser():
    """A token in a package's tests or README is found; whether it is test material needs its
    owner and the command, so the layer's scan leaves that to the secrets analyser."""
    for path, (text, rule) in generate.TEST_MATERIAL.items():
        hits = scan(path, text.encode())
        assert [(h.rule, h.example) for h in hits] == [(rule, False)]


def test_generic_password_rules_skip_third_party_code():
    """`password = "..."` in site-packages is its author's test data, not the image's leak."""
    text = b'DB_PASSWORD = "Zq8-pL2xVw9-Rk4m"\n'
    assert [h.rule for h in scan("/srv/app/db.py", text)] == ["password-assignment"]
    assert scan("/usr/local/lib/python3.12/site-packages/lib/db.py", text) == ()


def test_a_hit_holds_no_part_of_the_value():
    """A hit keeps the rule, line, length and a fingerprint: no field contains the value."""
    for path, (text, _found) in generate.FILES.items():
        for hit in scan(path, text.encode()):
            shown = json.dumps(dataclasses.asdict(hit))
            for value in generate.planted_values():
                for part in (value[:8], value[-8:]):
                    if len(part.strip()) == 8:
                        assert part not in shown


PREFILTER_TEXTS = [
    *(text for text, _ in generate.FILES.values()),
    *generate.LOOKALIKES.values(),
    *(text for _, text in [*NEW_MUST_FIND.values(), *NEW_MUST_NOT.values()]),
    "nothing to see",
    "PASSWORD TOKEN aws AKIA",
]


def _rules_named_in(data: bytes) -> set[int]:
    """The rules one of whose keywords occurs in DATA, any case: what a prefilter must select."""
    lower = data.lower()
    return {i for i, rule in enumerate(RULES) if any(k.lower() in lower for k in rule.keywords)}


def test_the_fallback_prefilter_selects_exactly_the_rules_whose_keywords_occur():
    """Without Hyperscan, one bytes.find per keyword selects exactly the rules a keyword of which
    occurs in the text (any case), checked against a plain reading of the rule table."""
    slow = _Prefilter()
    slow.database = None
    selected = [slow.rules(text.encode()) for text in PREFILTER_TEXTS]
    assert selected == [_rules_named_in(text.encode()) for text in PREFILTER_TEXTS]
    assert selected[-2] == set()  # "nothing to see"
    assert len(selected[-1]) > 1  # keywords of several rules, in the wrong case


def test_hyperscan_selects_the_same_rules_as_the_fallback():
    """Where Hyperscan is installed (Linux x86-64) it is used, and it selects exactly the rules
    the fallback and the rule table do: the fast path is never a different answer."""
    pytest.importorskip("hyperscan")
    fast = _Prefilter()
    assert fast.database is not None, "hyperscan imports but the prefilter does not use it"
    for text in PREFILTER_TEXTS:
        assert fast.rules(text.encode()) == _rules_named_in(text.encode())


@pytest.mark.parametrize(
    ("path", "size", "expected"),
    [("/srv/app/settings.py", 120, True), ("/usr/lib/x86_64-linux-gnu/libz.so.1", 9000, False),
     ("/usr/share/zoneinfo/UTC", 114, False), ("/srv/app/__pycache__/a.cpython-311.pyc", 9, False),
     ("/srv/app/empty.py", 0, False), ("/root/.config/gh/hosts.yml", 90, True)],
)  # fmt: skip
def test_which_files_are_scanned(path, size, expected):
    """Text files are scanned; binaries by extension, OS data trees and empty files are not."""
    assert scanned(path, size) is expected


def test_binary_content_is_skipped_whatever_its_name():
    """A NUL in the first bytes: not text, not scanned."""
    assert scan("/srv/blob.txt", b"\0" + b"ghp_" + b"a" * 36) == ()
    assert (
        secret_rules.fingerprint("x")
        == secret_rules.fingerprint("x")
        != secret_rules.fingerprint("y")
    )


def test_threads_scanning_at_once_get_the_same_hits():
    """Audits read images in parallel: concurrent scans (one Hyperscan scratch per thread) find
    exactly what one thread finds."""
    from concurrent.futures import ThreadPoolExecutor

    files = [(path, text.encode() * 40) for path, (text, _) in generate.FILES.items()] * 10
    alone = [scan(path, data) for path, data in files]
    with ThreadPoolExecutor(max_workers=6) as pool:
        together = list(pool.map(lambda item: scan(*item), files))
    assert together == alone
