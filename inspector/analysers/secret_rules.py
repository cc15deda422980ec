"""Credentials inside file contents: the rule table, and the scan the layer reader runs on every
text file of every layer as it streams (deleted and overwritten versions included).

A rule is a set of keywords and a pattern. A file is decoded and matched only when one of the
keywords of a rule occurs in its lower-cased bytes, so the regexes run on a small share of the
files. Each candidate must then pass the format's own checks (GitHub's and npm's CRC32, a JWT
header that decodes, a base64 Docker auth that holds `user:password`) and must not be a
published example or a placeholder. A hit keeps the rule, the line, the value's length and a
short fingerprint: never the value, nor any part of it.

The fingerprint is keyed (HMAC-SHA256 under a random key, 8 hex digits), so that it tells two
leaks apart without confirming a guess: an unsalted hash of a weak password is found in a
dictionary. The key is the machine's or the scan store's (`use_fingerprint_key`, called by
facts collection and by the scan); until one is given, a random key of this process.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import posixpath
import re
import secrets
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from inspector.layers.model import ContentHit

SCAN_CAP = 1 << 20  # bytes of a file that are scanned; a credential file is small
TEXT_PROBE = 8192  # a NUL in the first bytes: not text (and the rest is never read)
# Extensions of files that are never text worth scanning (or are scanned by name elsewhere).
_BINARY_EXTENSIONS = frozenset({
    ".so", ".a", ".o", ".pyc", ".pyo", ".pyd", ".dll", ".exe", ".bin", ".dat", ".db", ".sqlite",
    ".gz", ".tgz", ".bz2", ".xz", ".zst", ".zip", ".whl", ".egg", ".jar", ".war", ".tar", ".7z",
    ".png", ".jpg", ".jpeg", ".gif", ".ico", ".bmp", ".webp", ".tiff", ".pdf", ".woff", ".woff2",
    ".ttf", ".otf", ".eot", ".mo", ".npy", ".npz", ".pt", ".pth", ".onnx", ".h5", ".pkl",
    ".pickle", ".parquet", ".arrow", ".deb", ".rpm", ".p12", ".pfx", ".der", ".crt", ".cer",
    ".mp3", ".mp4", ".wav", ".ogg", ".svgz", ".cache", ".lz4", ".ogv", ".wasm",
})  # fmt: skip
# Source files of compiled extensions and type stubs: in a package's tree they are its code.
_VENDORED_SOURCES = frozenset({
    ".h", ".hpp", ".hh", ".hxx", ".cuh", ".inl", ".c", ".cc", ".cpp", ".cxx", ".cu", ".pyx",
    ".pxd", ".pxi", ".pyi", ".f", ".f90", ".s",
})  # fmt: skip
# Trees that hold no one's credentials, only what the OS ships: skipping them is what keeps the
# scan cheap (zone data, locales, man pages, the package database's file lists).
_SKIPPED_TREES = (
    "/usr/share/zoneinfo/", "/usr/share/locale/", "/usr/share/i18n/", "/usr/share/man/",
    "/usr/share/info/", "/usr/share/mime/", "/usr/share/terminfo/", "/usr/lib/locale/",
    "/var/lib/dpkg/info/", "/usr/share/perl", "/usr/share/X11/", "/etc/ssl/certs/",
    "/usr/share/ca-certificates/", "/proc/", "/sys/",
)  # fmt: skip
# Published example values: documentation keys, not leaks.
KNOWN_EXAMPLES = frozenset({
    "AKIAIOSFODNN7EXAMPLE", "AKIAI44QH8DHBEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0"
    "IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
})  # fmt: skip
_PLACEHOLDER_WORDS = frozenset({
    "changeme", "change_me", "change-me", "password", "passwd", "secret", "example", "dummy",
    "placeholder", "redacted", "your_password", "yourpassword", "mypassword", "test", "testing",
    "xxxxxxxx", "12345678", "123456789", "1234567890", "password123", "qwerty", "letmein",
    "default", "admin", "root", "user", "pass", "none", "null", "todo", "tbd", "notasecret",
})  # fmt: skip
_PLACEHOLDER = re.compile(
    r"\$\{?[A-Za-z_]\w*\}?|\$\(.*\)|%\(\w+\)s|\{\{.*\}\}|<[^>]*>|\[[^\]]*\]|%s|\{\w*\}|"
    r"(?i:.*(?:example|sample|dummy|placeholder|changeme|your[-_]?(?:api[-_]?)?(?:key|token|"
    r"secret|password)|replace[-_]?me|insert[-_]?here|redacted|fake|not[-_]?a[-_]?real).*)|"
    r"(.)\1{5,}.*|.*(.)\2{7,}.*"
)
# A word in brackets is a template's slot, not a value: `[password]]` (redis's
# `redis://[[username]:[password]]@localhost`), `<password>`, `{password}`, `(password)`. Both
# sides: a real password may well end in `)`.
_BRACKETED = re.compile(r"[\[<{(]+[\w .-]*[\]>})]+")
# Credentials that documentation has used for decades: Oracle's `scott`/`tiger` sample schema
# fills SQLAlchemy's docstrings. Written in an app's config they are still no secret.
_DOC_USERINFO = re.compile(r"(?i)scott:tiger\W*\w{0,8}")
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Directories of tests and fixtures: a secret inside is someone's test data (reported at info).
TEST_DIRS = frozenset({"test", "tests", "testing", "testdata", "test_data", "fixtures"})
_DOC_EXTENSIONS = (".md", ".rst", ".txt", ".html", ".ipynb")


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    keywords: tuple[bytes, ...]  # lower case; the rule runs only when one occurs in the file
    pattern: re.Pattern[str]
    group: int = 0  # the group that is the secret value
    check: Callable[[str], bool] | None = None  # the format's own test of a value
    # Generic rules (passwords in assignments) are too noisy for third-party code.
    generic: bool = False
    # A literal every match contains: the pattern is tried only in a window around each one,
    # instead of at every position of the file.
    anchor: str | None = None
    # The format's proof of a live credential, given the whole match (a checksum that passes,
    # a key body that decodes to a key structure); None: the shape alone proves nothing.
    live: Callable[[str], bool] | None = None
    # Whether the whole match is a well-known documentation example (kept, at info).
    documented: Callable[[str], bool] | None = None
    # The files the rule reads at all, by path (Maven's settings files); None: every file.
    paths: Callable[[str], bool] | None = None


def published_example(value: str) -> bool:
    """A documentation value (AWS's example keys, jwt.io's token, anything marked EXAMPLE)."""
    return value in KNOWN_EXAMPLES or "EXAMPLE" in value


class _Key:
    """The fingerprint key: one per process, replaced by the machine's or the store's."""

    value: bytes = secrets.token_bytes(32)
    given = False


def use_fingerprint_key(key: bytes) -> None:
    """Fingerprint with `key` from now on (the machine's key file, or a scan store's key)."""
    _Key.value, _Key.given = key, True


def fingerprint_key_given() -> bool:
    return _Key.given


def key_id() -> str:
    """Which key fingerprints are made with (not the key): the layer cache keeps the hits of
    each key apart, so one audit never mixes fingerprints of two keys."""
    return hmac.new(_Key.value, b"inspector fingerprint key id", hashlib.sha256).hexdigest()[:8]


def fingerprint(value: str) -> str:
    """8 hex digits of the value's HMAC-SHA256 under the fingerprint key: enough to tell two
    leaks apart, never the value, and no test of a guessed value without the key."""
    data = value.encode("utf-8", "surrogatepass")
    return hmac.new(_Key.value, data, hashlib.sha256).hexdigest()[:8]


def placeholder(value: str) -> bool:
    stripped = value.strip().strip("\"'")
    return (not stripped or stripped.lower() in _PLACEHOLDER_WORDS
            or bool(_PLACEHOLDER.fullmatch(stripped)) or bracketed(stripped))  # fmt: skip


def bracketed(value: str) -> bool:
    """A template's slot: a bare word between brackets (`[password]]`, `<pw>`, `{pw}`)."""
    return bool(_BRACKETED.fullmatch(value.strip()))


def documented_userinfo(url: str) -> bool:
    """A URL whose `user:password` is a famous documentation pair (`scott:tiger`)."""
    userinfo = url.split("://", 1)[-1].rsplit("@", 1)[0]
    return bool(_DOC_USERINFO.fullmatch(userinfo))


_KEY_HEADER = re.compile(r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----")


def _der(body: bytes) -> bool:
    """A DER SEQUENCE whose declared length is exactly the bytes there are: a key structure,
    not base64-looking filler (which decodes to noise, or does not decode at all)."""
    if len(body) < 64 or body[0] != 0x30:
        return False
    if body[1] < 0x80:
        return 2 + body[1] == len(body)
    width = body[1] & 0x7F
    if not 1 <= width <= 4 or len(body) < 2 + width:
        return False
    return 2 + width + int.from_bytes(body[2 : 2 + width], "big") == len(body)


def _b64_body(lines: list[str]) -> bytes | None:
    joined = "".join(line.strip() for line in lines)
    try:
        return base64.b64decode(joined + "=" * (-len(joined) % 4), validate=True)
    except (ValueError, binascii.Error):
        return None


def key_body_live(block: str) -> bool:
    """A private key block (`-----BEGIN ... PRIVATE KEY-----`, optional `Proc-Type:` headers,
    base64 lines, `-----END`; JSON's `\\n` escapes allowed) whose body decodes to a key: DER
    (PKCS#1, PKCS#8, SEC1), OpenSSH's `openssh-key-v1` or an OpenPGP secret-key packet; a
    legacy encrypted body to whole cipher blocks."""
    text = block.replace("\\n", "\n")
    header = _KEY_HEADER.search(text)  # a certificate before the key is not the key
    begin = header.start() if header else -1
    start = text.find("-----\n", begin) if begin >= 0 else -1
    end = text.find("-----END", start) if start >= 0 else -1
    if end < 0:
        return False
    lines = text[start + 6 : end].splitlines()
    headers = [line for line in lines if ":" in line]
    # A PGP armour ends in its `=XXXX` CRC24 line: not part of the packets.
    body = _b64_body([line for line in lines if line.strip() and ":" not in line
                      and not line.startswith("=")])  # fmt: skip
    if body is None or len(body) < 64:
        return False
    if headers and not text[begin:start].startswith("-----BEGIN PGP"):
        return len(body) % 8 == 0  # encrypted: the cipher's blocks, nothing to parse
    return _der(body) or body.startswith(b"openssh-key-v1\0") or _pgp_secret_key(body[0])


def _putty_live(block: str) -> bool:
    """A PuTTY key whose private lines decode to at least a 32-byte key."""
    lines = block.split("Private-Lines:", 1)[-1].splitlines()[1:]
    body = _b64_body([line for line in lines if line.strip() and ":" not in line])
    return body is not None and len(body) >= 32


def _pgp_secret_key(first: int) -> bool:
    """An OpenPGP secret-key or secret-subkey packet (tags 5 and 7), new or old header format."""
    if first & 0xC0 == 0xC0:
        return first & 0x3F in (5, 7)
    return first & 0xC0 == 0x80 and (first >> 2) & 0x0F in (5, 7)


def _always(_value: str) -> bool:
    return True


def _entropy(value: str) -> float:
    counts = {c: value.count(c) for c in set(value)}
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def _random_looking(value: str, minimum: float = 3.0) -> bool:
    kinds = (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]")
    classes = sum(bool(re.search(kind, value)) for kind in kinds)
    return classes >= 2 and _entropy(value) >= minimum and not placeholder(value)


def _base62_crc32(token: str) -> bool:
    """GitHub's and npm's tokens end in a base62 CRC32 of their 30 random characters."""
    body, check = token[4:-6], token[-6:]
    number = 0
    for char in check:
        number = number * 62 + _BASE62.index(char)
    return number == binascii.crc32(body.encode())


def _jwt(token: str) -> bool:
    header = token.split(".", 1)[0]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (ValueError, binascii.Error):
        return False
    return isinstance(decoded, dict) and "alg" in decoded and decoded.get("alg") != "none"


def _docker_auth(value: str) -> bool:
    """A Docker `auth` field: base64 of `user:password`."""
    try:
        _user, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False
    return bool(sep and password and not placeholder(password))


def _dockerconfigjson(value: str) -> bool:
    """A Kubernetes `.dockerconfigjson`: base64 of a Docker config with an `auth`."""
    try:
        doc = json.loads(base64.b64decode(value, validate=True))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False
    auths = doc.get("auths") if isinstance(doc, dict) else None
    return isinstance(auths, dict) and any(
        isinstance(entry, dict) and isinstance(entry.get("auth"), str)
        and _docker_auth(entry["auth"])
        for entry in auths.values()
    )  # fmt: skip


def _not_placeholder(value: str) -> bool:
    return not placeholder(value)


def _b64(value: str) -> bytes | None:
    try:
        return base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (ValueError, binascii.Error):
        return None


def _sas_signature(value: str) -> bool:
    """An Azure SAS `sig`: the URL-encoded base64 of an HMAC-SHA256, so exactly 32 bytes."""
    decoded = _b64(urllib.parse.unquote(value))
    return decoded is not None and len(decoded) == 32 and _random_looking(value, 3.5)


def _app_configuration_secret(value: str) -> bool:
    decoded = _b64(value)
    return decoded is not None and len(decoded) >= 24 and _random_looking(value, 3.5)


def _grafana_key(value: str) -> bool:
    """A Grafana API key or Cloud token: base64 JSON naming its key (`k`) and name (`n`)."""
    decoded = _b64(value.removeprefix("glc_"))
    try:
        doc = json.loads(decoded) if decoded is not None else None
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(doc, dict) and isinstance(doc.get("k"), str) and len(doc["k"]) >= 16 \
        and not placeholder(doc["k"])  # fmt: skip


def _maven_settings(path: str) -> bool:
    """Maven's user and global settings, and the master password's file."""
    return posixpath.basename(path) in ("settings.xml", "settings-security.xml")


def _maven_plaintext(value: str) -> bool:
    """A plaintext password: not `{...}` (encrypted by `mvn --encrypt-password`), not a
    `${env.X}` reference, not a placeholder."""
    stripped = value.strip()
    return not (stripped.startswith("{") and stripped.endswith("}")) and "${" not in stripped \
        and not placeholder(stripped) and len(stripped) >= 6  # fmt: skip


def _key_fragment(value: str) -> bool:
    """The base64 lines of a private key that decode to the start of a key structure (a DER
    SEQUENCE, OpenSSH's magic): a cut key, or one in a JSON string with `\\n` escapes."""
    lines = value.replace("\\r", "").replace("\\n", "\n").split()
    joined = "".join(lines)
    body = _b64(joined[: len(joined) - len(joined) % 4])
    if body is None or len(body) < 48:
        return False
    return (body[0] == 0x30 and body[1] in (0x81, 0x82, 0x83)) or body.startswith(
        b"openssh-key-v1\0")  # fmt: skip


# The identifiable format of Microsoft's newer keys (84 characters: 52 random, the `JQQJ9`
# signature, a date and flags, then the service's own 4-letter signature at 76).
_CASK = r"[A-Za-z0-9]{52}JQQJ9[9DH][A-Za-z0-9][A-L][A-Za-z0-9]{16}%s[A-Za-z0-9]{4}"
_KEY_BEGIN = r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----"


RULES: tuple[Rule, ...] = (
    Rule("private-key", "private key (PEM or OpenSSH)", (b"-----begin",), re.compile(
        r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----"
        r"[ \t\r]*\n((?:[\w-]{1,40}:[^\n]{0,200}\n)*(?:[A-Za-z0-9+/=]{16,100}\r?\n){3,400})"
        r"[A-Za-z0-9+/=]{0,100}\r?\n?-----END"), 1, live=key_body_live),
    Rule("putty-private-key", "PuTTY private key", (b"putty-user-key-file",), re.compile(
        r"PuTTY-User-Key-File-[23]: [^\n]{1,100}\n(?:[^\n]{0,2000}\n){0,40}?Private-Lines: \d+\r?\n"
        r"((?:[A-Za-z0-9+/=]{1,100}\r?\n){1,100})"), 1, live=_putty_live),
    Rule("aws-access-key-id", "AWS access key ID", (b"akia", b"asia", b"abia", b"acca"),
         re.compile(r"(?<![A-Z0-9])((?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})(?![A-Z0-9])"), 1),
    Rule("aws-secret-access-key", "AWS secret access key", (b"aws",), re.compile(
        r"(?i:aws_?secret_?(?:access_?)?key)[\"']?\s{0,5}[:=]\s{0,5}[\"']?"
        r"([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"), 1, lambda v: _random_looking(v, 4.0)),
    Rule("github-token", "GitHub token (classic, OAuth or app)", (b"ghp_", b"gho_", b"ghu_",
         b"ghs_", b"ghr_"), re.compile(
        r"(?<![A-Za-z0-9_])(gh[pousr]_[A-Za-z0-9]{36})(?![A-Za-z0-9])"), 1, _base62_crc32,
         live=_always),
    Rule("github-fine-grained-token", "GitHub fine-grained token", (b"github_pat_",), re.compile(
        r"(?<![A-Za-z0-9_])(github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})(?![A-Za-z0-9])"), 1,
         _random_looking),
    Rule("gitlab-token", "GitLab token", (b"glpat-", b"glptt-", b"gldt-", b"glrt-", b"glcbt-"),
         re.compile(r"(?<![A-Za-z0-9_-])(gl(?:pat|ptt|dt|rt|cbt)-[A-Za-z0-9_-]{20,64})"
                    r"(?![A-Za-z0-9_-])"), 1, _random_looking),
    Rule("slack-token", "Slack token", (b"xox",), re.compile(
        r"(?<![A-Za-z0-9])(xox[abposre]-[0-9]{6,15}-[A-Za-z0-9-]{10,120})"), 1, _random_looking),
    Rule("slack-webhook", "Slack incoming webhook", (b"hooks.slack.com",), re.compile(
        r"(https://hooks\.slack\.com/services/T[A-Z0-9]{6,12}/B[A-Z0-9]{6,12}/[A-Za-z0-9]{20,32})"),
         1, _random_looking),
    Rule("stripe-key", "Stripe live secret key", (b"k_live_",), re.compile(
        r"(?<![A-Za-z0-9_])((?:sk|rk)_live_[0-9a-zA-Z]{24,99})(?![A-Za-z0-9])"), 1,
         _random_looking),
    Rule("google-api-key", "Google API key", (b"aiza",), re.compile(
        r"(?<![A-Za-z0-9_-])(AIza[0-9A-Za-z_-]{35})(?![A-Za-z0-9_-])"), 1, _random_looking),
    Rule("google-service-account", "Google service account key", (b"service_account",),
         re.compile(r"\"private_key\"\s{0,5}:\s{0,5}\"(-----BEGIN (?:RSA )?PRIVATE KEY-----"
                    r"(?:\\n|[A-Za-z0-9+/=]){100,8000}-----END (?:RSA )?PRIVATE KEY-----"
                    r"(?:\\n)?)\""), 1, live=key_body_live),
    Rule("azure-storage-key", "Azure storage account key", (b"accountkey",), re.compile(
        r"AccountKey=([A-Za-z0-9+/]{86}==)"), 1, _random_looking),
    Rule("pypi-token", "PyPI upload token", (b"pypi-age",), re.compile(
        r"(?<![A-Za-z0-9_-])(pypi-AgE(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw)[A-Za-z0-9_-]{50,300})"),
         1),
    Rule("npm-token", "npm access token", (b"npm_",), re.compile(
        r"(?<![A-Za-z0-9_])(npm_[A-Za-z0-9]{36})(?![A-Za-z0-9])"), 1, _base62_crc32,
         live=_always),
    Rule("docker-auths", "Docker registry credentials (`auths`)", (b"\"auths\"",), re.compile(
        r"\"auths\"\s{0,5}:\s{0,5}\{[^{}]{0,500}\{[^{}]{0,500}\"auth\"\s{0,5}:\s{0,5}"
        r"\"([A-Za-z0-9+/=]{8,2000})\""), 1, _docker_auth),
    Rule("kubernetes-dockerconfigjson", "Kubernetes image pull secret", (b"dockerconfigjson",),
         re.compile(r"\.dockerconfigjson[\"']?\s{0,5}:\s{0,5}[\"']?([A-Za-z0-9+/=]{20,20000})"), 1,
         _dockerconfigjson),
    Rule("huggingface-token", "Hugging Face token", (b"hf_",), re.compile(
        r"(?<![A-Za-z0-9_])(hf_[A-Za-z]{34})(?![A-Za-z0-9])"), 1, _random_looking),
    Rule("openai-key", "OpenAI API key", (b"t3blbkfj",), re.compile(
        r"(?<![A-Za-z0-9_-])(sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{16,200}T3BlbkFJ"
        r"[A-Za-z0-9_-]{16,200})(?![A-Za-z0-9_-])"), 1),
    Rule("jwt", "JSON Web Token", (b"eyj",), re.compile(
        r"(?<![A-Za-z0-9_-])(eyJ[A-Za-z0-9_-]{8,2000}\.eyJ[A-Za-z0-9_-]{8,4000}\."
        r"[A-Za-z0-9_-]{16,1000})(?![A-Za-z0-9_-])"), 1, _jwt),
    Rule("database-url", "database URL with a password", (b"postgres", b"mysql", b"mariadb",
         b"mongodb", b"redis", b"amqp", b"mssql", b"oracle", b"cockroachdb"), re.compile(
        r"(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|mssql|oracle|"
        r"cockroachdb)(?:\+[a-z0-9]{1,20})?://[^\s:/@'\"`]{0,100}:([^\s@/'\"`]{1,200})@"
        r"[^\s/'\"`]{1,200}"), 1, _not_placeholder, anchor="://",
         documented=documented_userinfo),
    Rule("private-key-json", "private key in a JSON string (`\\n` escapes)", (b"-----begin",),
         re.compile(_KEY_BEGIN + r"(?:\\r)?\\n((?:[A-Za-z0-9+/=]{16,100}(?:\\r)?\\n){3,400}+)"), 1,
         _key_fragment, live=key_body_live),
    Rule("private-key-unterminated", "private key without its END line", (b"-----begin",),
         re.compile(_KEY_BEGIN + r"[ \t\r]*\n((?:[A-Za-z0-9+/=]{16,100}\r?\n){3,400}+)"
                    r"(?![A-Za-z0-9+/=]{0,100}\r?\n?-----END)"), 1, _key_fragment),
    Rule("azure-devops-pat", "Azure DevOps personal access token", (b"azdo",), re.compile(
        r"(?<![A-Za-z0-9])(" + _CASK % "AZDO" + r")(?![A-Za-z0-9])"), 1, _random_looking),
    Rule("azure-ai-services-key", "Azure AI services key", (b"acog",), re.compile(
        r"(?<![A-Za-z0-9])(" + _CASK % "ACOG" + r")(?![A-Za-z0-9])"), 1, _random_looking),
    Rule("azure-sas-token", "Azure shared access signature", (b"sig=",), re.compile(
        r"(?<![A-Za-z0-9])sv=20\d\d-\d\d-\d\d&[^\s\"'<>`]{0,400}?(?<=[?&;])sig="
        r"([A-Za-z0-9%+/]{40,120})"), 1, _sas_signature),
    Rule("azure-entra-client-secret", "Microsoft Entra client secret", (b"q~",), re.compile(
        r"(?<![A-Za-z0-9_~.+/=-])([A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34})"
        r"(?![A-Za-z0-9_~.+/=-])"), 1, lambda v: _random_looking(v, 3.5)),
    Rule("azure-container-registry-key", "Azure container registry password", (b"+acr",),
         re.compile(r"(?<![A-Za-z0-9+/])([A-Za-z0-9+/]{42}\+ACR[A-Za-z0-9]{6})(?![A-Za-z0-9+/=])"),
         1, lambda v: _random_looking(v, 3.5)),
    Rule("azure-app-configuration", "Azure App Configuration connection string",
         (b"azconfig.io",), re.compile(
        r"Endpoint=https://[A-Za-z0-9-]{1,63}\.azconfig\.io;Id=[^;\s\"']{1,80};"
        r"Secret=([A-Za-z0-9+/]{32,100}={0,2})"), 1, _app_configuration_secret),
    Rule("grafana-api-key", "Grafana API key or Cloud token", (b"eyjrijoi", b"glc_eyj"),
         re.compile(r"(?<![A-Za-z0-9+/_])((?:glc_eyJ|eyJrIjoi)[A-Za-z0-9+/]{50,600}={0,2})"
                    r"(?![A-Za-z0-9+/=])"), 1, _grafana_key),
    Rule("grafana-service-account-token", "Grafana service account token", (b"glsa_",),
         re.compile(r"(?<![A-Za-z0-9_])(glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})(?![A-Za-z0-9_])"), 1,
         lambda v: _random_looking(v[5:37], 3.5)),
    Rule("alibaba-access-key-id", "Alibaba Cloud AccessKey ID", (b"ltai",), re.compile(
        r"(?<![A-Za-z0-9])(LTAI[A-Za-z0-9]{20})(?![A-Za-z0-9])"), 1,
         lambda v: _random_looking(v[4:], 3.5)),
    Rule("private-packagist-token", "Private Packagist token", (b"packagist_",), re.compile(
        r"(?<![A-Za-z0-9_])(packagist_[ou][ru]t_[a-f0-9]{68})(?![A-Za-z0-9])"), 1,
         lambda v: _random_looking(v[14:], 3.3)),
    Rule("openai-client-secret", "OpenAI realtime client secret", (b"ek_",), re.compile(
        r"(?<![A-Za-z0-9_-])(ek_[a-f0-9]{32})(?![A-Za-z0-9_-])"), 1,
         lambda v: _random_looking(v[3:], 3.3)),
    Rule("maven-password", "Maven settings password in plaintext", (b"<password>", b"<master>",
         b"<passphrase>"), re.compile(
        r"<(password|master|passphrase)>[ \t\r\n]{0,20}([^<>\s][^<>]{0,300}?)[ \t\r\n]{0,20}</\1>"),
         2, _maven_plaintext, paths=_maven_settings),
    Rule("password-assignment", "password or secret in an assignment", (b"pass", b"secret",
         b"pwd", b"api_key", b"apikey", b"token"), re.compile(
        r"(?i:password|passwd|pwd|secret|api_?key|access_token|auth_token)[\w.-]{0,30}?[\"']?"
        r"[ \t]{0,5}(?::|=|:=)[ \t]{0,5}[\"']([^\"'\s]{8,128})[\"']"), 1,
         lambda v: _random_looking(v, 3.0), generic=True),
    Rule("password-setting", "password or secret in a config file", (b"pass", b"secret",
         b"pwd", b"api_key", b"apikey", b"token"), re.compile(
        r"(?im:^[ \t]{0,20}(?:export[ \t]{1,5})?[\w.-]{0,30}?(?:password|passwd|pwd|secret|"
        r"api_?key|access_token|auth_token)[\w.-]{0,30}?[ \t]{0,5}[:=][ \t]{0,5}"
        r"([^\s#'\"]{8,128})[ \t]*$)"), 1, lambda v: _random_looking(v, 3.0), generic=True),
)  # fmt: skip
RULE_IDS = tuple(rule.id for rule in RULES)
# Config-style files, where an unquoted `password: value` line is a setting.
_CONFIG_NAMES = (".env", ".ini", ".cfg", ".conf", ".properties", ".yaml", ".yml", ".toml")


def scanned(path: str, size: int) -> bool:
    """Whether the layer reader should scan this file's contents."""
    if size <= 0 or any(path.startswith(tree) for tree in _SKIPPED_TREES):
        return False
    base = posixpath.basename(path).lower()
    ext = posixpath.splitext(base)[1]
    if ext in _VENDORED_SOURCES and (third_party(path) or path.startswith("/usr/include/")):
        return False  # a package's C headers and stubs hold its code, not your credentials
    # libz.so.1.2.13: a versioned shared library ends in its version, not in .so
    return ext not in _BINARY_EXTENSIONS and ".so." not in base and "/__pycache__/" not in path


def is_text(head: bytes) -> bool:
    """Whether a file's first bytes are text (no NUL): only then is the rest read and scanned."""
    return b"\0" not in head[:TEXT_PROBE]


def third_party(path: str) -> bool:
    """Code the image installed from packages: site-packages, the stdlib, the OS's share."""
    return ("/site-packages/" in path or "/dist-packages/" in path or path.startswith(
        ("/usr/lib/python", "/usr/local/lib/python", "/usr/share/", "/usr/lib/node_modules/"))
        or "/node_modules/" in path)  # fmt: skip


def package_docs(path: str) -> bool:
    """A documentation file where packages install (a README in site-packages)."""
    return third_party(path) and posixpath.basename(path).lower().endswith(_DOC_EXTENSIONS)


def in_test_tree(path: str) -> bool:
    """Under a tests or fixtures directory, or /usr/share/doc: the rule for files by name too."""
    return path.startswith("/usr/share/doc/") or any(p in TEST_DIRS for p in path.split("/")[:-1])


class _Prefilter:
    """Which rules' keywords occur in a file: Hyperscan (one pass for all keywords, about 800
    MB/s here) when it is installed, else one `bytes.find` per keyword (about 40 MB/s)."""

    def __init__(self) -> None:
        self.keywords = sorted({k for rule in RULES for k in rule.keywords})
        self.rules_of = [
            frozenset(i for i, rule in enumerate(RULES) if k in rule.keywords)
            for k in self.keywords
        ]
        self.database: Any = None
        self.local = threading.local()
        try:
            import hyperscan
        except ImportError:
            return
        database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        database.compile(
            expressions=[re.escape(k.decode()).encode() for k in self.keywords],
            ids=list(range(len(self.keywords))),
            elements=len(self.keywords),
            flags=[hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_SINGLEMATCH] * len(self.keywords),
        )
        self.database = database
        self.scratch_type = hyperscan.Scratch

    def rules(self, data: bytes) -> set[int]:
        found: set[int] = set()
        if self.database is not None:

            def seen(keyword: int, start: int, end: int, flags: int, context: object) -> None:
                found.update(self.rules_of[keyword])

            # A scratch space serves one scan at a time: one per thread (audits run in parallel).
            scratch = getattr(self.local, "scratch", None)
            if scratch is None:
                scratch = self.local.scratch = self.scratch_type(self.database)
            self.database.scan(data, match_event_handler=seen, scratch=scratch)
            return found
        lower = data.lower()
        for keyword, rules in zip(self.keywords, self.rules_of, strict=True):
            if keyword in lower:
                found.update(rules)
        return found


_PREFILTER: _Prefilter | None = None
_WINDOW = 420  # characters around an anchor that a match can span


def _matches(rule: Rule, text: str) -> Iterator[re.Match[str]]:
    if rule.anchor is None:
        yield from rule.pattern.finditer(text)
        return
    pos, done = text.find(rule.anchor), 0
    while pos >= 0:
        match = rule.pattern.search(text, max(done, pos - 60), pos + _WINDOW)
        if match is not None and match.start() <= pos:
            yield match
            done = match.end()
        pos = text.find(rule.anchor, max(pos + len(rule.anchor), done))


def scan(path: str, data: bytes) -> tuple[ContentHit, ...]:
    """Every credential in one file version's bytes (its first SCAN_CAP bytes)."""
    global _PREFILTER
    if not is_text(data):
        return ()
    if _PREFILTER is None:
        _PREFILTER = _Prefilter()
    present = _PREFILTER.rules(data)
    if not present:
        return ()
    vendored = third_party(path)
    base = posixpath.basename(path).lower()
    config_file = base.endswith(_CONFIG_NAMES) or base.startswith(".env")
    # A third party's `password = "..."` is its test data, not your leak; a bare `password:
    # value` line is a setting only in a config file.
    rules = [rule for i, rule in enumerate(RULES) if i in present
             and not (rule.generic and vendored)
             and not (rule.id == "password-setting" and not config_file)
             and (rule.paths is None or rule.paths(path))]  # fmt: skip
    if not rules:
        return ()
    text = data.decode("utf-8", "replace")
    hits: list[ContentHit] = []
    taken: list[tuple[int, int]] = []
    for rule in rules:
        for match in _matches(rule, text):
            start, end = match.span(rule.group)
            if any(a < end and start < b for a, b in taken):
                continue  # one secret, one finding: the first (most specific) rule wins
            value = match.group(rule.group)
            if rule.check is not None and not rule.check(value):
                continue
            if published_example(value):
                continue  # a documentation key, published for everyone to paste
            taken.append((start, end))
            line = text.count("\n", 0, match.start()) + 1
            whole = match.group(0)
            # Whether the file is test material needs its owner and the command: the secrets
            # analyser judges that (secrets._TestTrees); a layer's scan only knows the value.
            example = bool(rule.documented and rule.documented(whole))
            live = bool(rule.live and rule.live(whole))
            hits.append(ContentHit(path, rule.id, line, len(value), fingerprint(value), example,
                                   live))  # fmt: skip
    return tuple(sorted(hits, key=lambda h: (h.line, h.rule)))


def rule_titles() -> Iterator[tuple[str, str]]:
    for rule in RULES:
        yield rule.id, rule.title
