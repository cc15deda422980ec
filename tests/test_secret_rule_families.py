"""The rule families real images carry that the scanner once missed: Azure (DevOps, AI
services, SAS, Entra, container registry, App Configuration), Grafana, Alibaba Cloud, Private
Packagist, Maven's settings files, OpenAI realtime client secrets, and private keys cut before
their END line or held in a JSON string. Each rule finds a value of its real format and passes
a look-alike that fails the format's own test (pure; values are made here, never written down)."""

from __future__ import annotations

import base64
import json
import random
import string
import urllib.parse

import pytest

from checks import catalog
from checks.engine import run_check
from checks.model import Context
from inspector.analysers.secret_rules import scan

_RNG = random.Random(20261207_2)
ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"


def _pick(alphabet: str, n: int) -> str:
    return "".join(_RNG.choice(alphabet) for _ in range(n))


def _cask(signature: str) -> str:
    """Microsoft's identifiable 84-character key layout, with a service's signature."""
    return (_pick(ALNUM, 52) + "JQQJ99" + _pick(ALNUM, 1) + _pick("ABCDEFGHIJKL", 1)
            + _pick(ALNUM, 16) + signature + _pick(ALNUM, 4))  # fmt: skip


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _der_lines(size: int = 1190) -> list[str]:
    """Base64 lines of a DER SEQUENCE, as an RSA key's body starts."""
    payload = bytes(_RNG.randrange(256) for _ in range(size))
    text = _b64(b"\x30\x82" + len(payload).to_bytes(2, "big") + payload)
    return [text[i : i + 64] for i in range(0, len(text), 64)]


def _noise_lines() -> list[str]:
    text = _b64(b"\x41" + bytes(_RNG.randrange(256) for _ in range(600)))
    return [text[i : i + 64] for i in range(0, len(text), 64)]


def _grafana(key: str) -> str:
    return _b64(json.dumps({"k": key, "n": "ci", "id": 1}, separators=(",", ":")).encode())


SAS = ("https://acct.blob.core.windows.net/c/f?sv=2022-11-02&ss=b&srt=co&sp=rl"
       "&se=2027-01-01T00:00:00Z&spr=https&sig=")  # fmt: skip
APPCONFIG = "Endpoint=https://shop-config.azconfig.io;Id=Ab1c-l0-s0:Xy9z;Secret="
BEGIN, END = "-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----"
MAVEN = (
    "<settings><servers><server><id>corp</id><username>ci</username>{}</server></servers>"
    "</settings>\n"
)

# rule -> (path, text that must be found)
NEW_MUST_FIND = {
    "azure-devops-pat": ("/srv/ci.env", f"AZURE_DEVOPS_EXT_PAT={_cask('AZDO')}\n"),
    "azure-ai-services-key": ("/srv/app/ai.py", f'KEY = "{_cask("ACOG")}"\n'),
    "azure-sas-token": (
        "/srv/app/blob.py",
        f'URL = "{SAS}{urllib.parse.quote(_b64(_RNG.randbytes(32)), safe="")}"\n',
    ),
    "azure-entra-client-secret": (
        "/srv/app/auth.py",
        f'CLIENT_SECRET = "{_pick(ALNUM, 3)}8Q~{_pick(ALNUM + "_~.-", 34)}"\n',
    ),
    "azure-container-registry-key": (
        "/root/push.sh",
        f"docker login r.azurecr.io -u r -p {_pick(ALNUM + '+/', 42)}+ACR{_pick(ALNUM, 6)}\n",
    ),
    "azure-app-configuration": (
        "/srv/app/config.json",
        f'{{"AppConfig": "{APPCONFIG}{_b64(_RNG.randbytes(32))}"}}\n',
    ),
    "grafana-api-key": ("/srv/app/dash.py", f'KEY = "{_grafana(_pick(ALNUM, 32))}"\n'),
    "grafana-service-account-token": (
        "/srv/app/dash.py",
        f'T = "glsa_{_pick(ALNUM, 32)}_{_pick(HEX, 8)}"\n',
    ),
    "alibaba-access-key-id": ("/srv/app/oss.py", f'ID = "LTAI5t{_pick(ALNUM, 18)}"\n'),
    "private-packagist-token": (
        "/root/.composer/auth.json",
        f'{{"http-basic": {{"repo.packagist.com": {{"username": "token", '
        f'"password": "packagist_ort_{_pick(HEX, 68)}"}}}}}}\n',
    ),
    "openai-client-secret": ("/srv/app/rt.py", f'SECRET = "ek_{_pick(HEX, 32)}"\n'),
    "maven-password": (
        "/root/.m2/settings.xml",
        MAVEN.format(f"<password>{_pick(ALNUM, 14)}!x</password>"),
    ),
    "private-key-json": (
        "/srv/app/keys.json",
        json.dumps({"signing_key": "\n".join([BEGIN, *_der_lines(), END, ""])}) + "\n",
    ),
    "private-key-unterminated": (
        "/srv/app/cut.pem.txt",
        "\n".join([BEGIN, *_der_lines()[:10]]) + "\n",
    ),
}
# rule -> (path, a look-alike that must not be found)
NEW_MUST_NOT = {
    "azure-devops-pat": (
        "/srv/ci.env",
        f"AZURE_DEVOPS_EXT_PAT={'a' * 52}JQQJ99aA{'a' * 16}AZDOaaaa\n",
    ),
    "azure-ai-services-key": ("/srv/app/ai.py", f'KEY = "{"0" * 52}JQQJ77{"0" * 18}ACOG0000"\n'),
    "azure-sas-token": ("/srv/app/blob.py", f'URL = "{SAS}{"a" * 43}%3D"\n'),
    "azure-entra-client-secret": ("/srv/app/auth.py", f'CLIENT_SECRET = "abc8Q~{"x" * 34}"\n'),
    "azure-container-registry-key": (
        "/root/push.sh",
        f"docker login r.azurecr.io -u r -p {'A' * 42}+ACRAAAAAA\n",
    ),
    "azure-app-configuration": (
        "/srv/app/config.json",
        f'{{"AppConfig": "{APPCONFIG}{"A" * 43}="}}\n',
    ),
    "grafana-api-key": ("/srv/app/dash.py", f'KEY = "{_grafana("")}{"A" * 40}"\n'),
    "grafana-service-account-token": ("/srv/app/dash.py", f'T = "glsa_{"x" * 32}_{"0" * 8}"\n'),
    "alibaba-access-key-id": ("/srv/app/oss.py", 'ID = "LTAIxxxxxxxxxxxxxxxxxxxx"\n'),
    "private-packagist-token": ("/root/.composer/auth.json", f'"packagist_ort_{"0" * 68}"\n'),
    "openai-client-secret": (
        "/srv/app/rt.py",
        f'SECRET = "ek_{"0" * 32}"\nweek_{_pick(HEX, 32)}\n',
    ),
    "maven-password": (
        "/root/.m2/settings.xml",
        MAVEN.format("<password>{COQLCE6DU6GtcS5P=}</password>")
        + MAVEN.format("<password>${env.MAVEN_PASSWORD}</password>"),
    ),
    "private-key-json": (
        "/srv/app/keys.json",
        json.dumps({"k": "\n".join([BEGIN, *_noise_lines(), END, ""])}) + "\n",
    ),
    "private-key-unterminated": (
        "/srv/app/cut.pem.txt",
        "\n".join([BEGIN, *_noise_lines()]) + "\n",
    ),
}


@pytest.mark.parametrize("rule", sorted(NEW_MUST_FIND))
def test_each_new_rule_finds_its_credential(rule):
    """The real format of each family is found, by its own rule, once."""
    path, text = NEW_MUST_FIND[rule]
    assert [h.rule for h in scan(path, text.encode())] == [rule]


@pytest.mark.parametrize("rule", sorted(NEW_MUST_NOT))
def test_each_new_rule_passes_its_look_alike(rule):
    """Placeholders, encrypted or referenced values and strings failing the format are clean."""
    path, text = NEW_MUST_NOT[rule]
    assert [h.rule for h in scan(path, text.encode())] == []


def test_maven_passwords_are_read_only_in_maven_settings_files():
    """`<password>` in any other XML is no Maven setting; settings-security.xml's plaintext
    master password is one."""
    _, text = NEW_MUST_FIND["maven-password"]
    assert scan("/srv/app/pom-data.xml", text.encode()) == ()
    master = f"<settingsSecurity><master>{_pick(ALNUM, 16)}</master></settingsSecurity>\n"
    hits = scan("/root/.m2/settings-security.xml", master.encode())
    assert [h.rule for h in hits] == ["maven-password"]
    encrypted = "<settingsSecurity><master>{jSMOWnoPFgsHVpMvz5VrIt5k=}</master></settingsSecurity>"
    assert scan("/root/.m2/settings-security.xml", encrypted.encode()) == ()


def test_a_whole_pem_key_stays_one_private_key_finding():
    """A complete key is the private-key rule's, not also a cut or JSON one."""
    text = "\n".join([BEGIN, *_der_lines(), END, ""])
    assert [h.rule for h in scan("/srv/app/key.txt", text.encode())] == ["private-key"]


def test_the_new_families_gate_as_credentials():
    """A finding of each new rule in the app's own file is critical, never a lower guess."""
    check = catalog()["SEC006"]
    for rule in NEW_MUST_FIND:
        facts = {"layers": [{"index": 0}], "secrets": [{
            "kind": rule, "where": "file", "path": "/srv/app/x", "hint": "h", "layer": 0,
            "deleted": False, "likely_test_fixture": False, "owner_kind": "app"}]}  # fmt: skip
        (finding,) = run_check(check, facts, Context()).findings
        assert finding.severity == "critical", rule
