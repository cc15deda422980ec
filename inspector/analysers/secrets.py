"""Secrets in the config, the build history and every version of every file, deleted ones included.

A value is never stored, nor any part of it: each finding carries a `hint` (the length and a
short fingerprint of the value, or what kind of thing the file holds). `created_by` strings are
redacted the same way before they are stored, since a build argument's value is exactly what
leaks there. Files are judged by name here (keys, `.netrc`, cloud credential files, ...) and by
content in `secret_rules`, whose scan the layer reader runs on every text file as it streams.

A file deleted by a later layer still ships in its layer's tar, so files are read from
`fs.history` (every version), not from the merged view.
"""

from __future__ import annotations

import bisect
import itertools
import json
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from inspector.analysers import ownership, secret_rules
from inspector.analysers.imagedata import ImageData
from inspector.layers.model import DIR, FILE, ContentHit
from inspector.layers.overlay import Version

FILE_CAP = 64 * 1024

ENV, LABEL, COMMAND, HISTORY, IN_FILE = "env", "label", "command", "history", "file"

# --- what a secret looks like ---------------------------------------------------------------

# A name is secret-looking when one of its words (split on `_`, `-`, `.`) is one of these ...
_SECRET_WORDS = frozenset({
    "PASSWORD", "PASSWD", "PASS", "PWD", "PASSPHRASE", "SECRET", "SECRETS", "TOKEN", "TOKENS",
    "CREDENTIAL", "CREDENTIALS", "APIKEY", "AUTHTOKEN",
})  # fmt: skip
# ... or when `<qualifier>_KEY` appears (API_KEY, ACCESS_KEY, PRIVATE_KEY, ...) ...
_KEY_QUALIFIERS = frozenset({
    "API", "ACCESS", "PRIVATE", "SECRET", "AUTH", "ENCRYPTION", "ENCRYPT", "SIGNING", "MASTER",
    "SSH",
})  # fmt: skip
# ... or when these are glued into a word (PGPASSWORD, MYAPIKEY).
_SECRET_SUBSTRINGS = ("PASSWORD", "PASSWD", "APIKEY", "SECRETKEY", "PRIVATEKEY", "ACCESSKEY")
# A name ending in one of these names something *about* a secret (a file, a checksum, a
# setting), not the secret itself: GPG_KEY and *_SHA256 are what official Python images set.
_NOT_SECRET_LAST_WORDS = frozenset({
    "SHA1", "SHA256", "SHA512", "MD5", "CHECKSUM", "HASH", "FINGERPRINT", "FILE", "PATH", "DIR",
    "LOCATION", "URL", "URI", "ENDPOINT", "HOST", "PORT", "USER", "USERNAME", "NAME", "ID",
    "LENGTH", "TTL", "EXPIRY", "EXPIRES", "TIMEOUT", "LIFETIME", "ENABLED", "DISABLED",
    "REQUIRED", "TYPE", "MODE", "HEADER", "FIELD", "PARAM", "ALGORITHM", "MIN", "MAX",
    "POLICY", "PROVIDER", "BACKEND", "VERSION", "COUNT", "SIZE", "PREFIX", "SUFFIX",
})  # fmt: skip
_NOT_SECRET_NAMES = frozenset({"PWD", "OLDPWD", "GPG_KEY", "GPG_KEYS"})
_PLACEHOLDERS = frozenset({
    "changeme", "change_me", "change-me", "dummy", "placeholder", "none", "null", "nil", "true",
    "false", "yes", "no", "on", "off", "0", "1", "redacted", "todo", "tbd", "example", "-",
})  # fmt: skip
_REFERENCE = re.compile(r"\$\{?[A-Za-z_][A-Za-z0-9_]*(?:[:]?[-=?+][^}]*)?\}?|\$\(.*\)")
_FILLER = re.compile(r"<[^>]*>|%\(\w+\)s|\{\{.*\}\}|\*+|x+|X+|\.\.\.")

_PEM_PRIVATE = re.compile(r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY( BLOCK)?-----")
# Linear on any input: a scheme starts only where no scheme character precedes it, and every
# part has a bound (unbounded, a long run of letters took quadratic time: 28 s for 64 KiB).
_URL_CREDENTIALS = re.compile(
    r"(?<![A-Za-z0-9+.-])(?P<scheme>[A-Za-z][A-Za-z0-9+.-]{0,30})://"
    r"(?P<user>[^\s/:@'\"`]{0,256})(?::(?P<password>[^\s/@'\"`]{0,256}))?"
    r"@(?P<host>[^\s/:'\"`?#@]{1,256})"
)
# Content rules not applied to config values and commands: a key block is found above by its
# header (a command may print one), URLs with credentials below.
_VALUE_SKIPPED_RULES = frozenset({"private-key", "putty-private-key", "database-url"})

# NAME=value in a command line or history step: build args (`|2 A=1 B=2 /bin/sh -c`), ENV and
# ARG steps, inline `VAR=x cmd`, and `--password=x` options. A value has no length bound: a
# bound leaves the rest of a longer value unmasked (a quoted value of 5,000 characters did not
# match at all). Still linear: a quoted value runs to the next quote of its kind, and only the
# last quote of each kind can lack one.
_ASSIGNMENT = re.compile(
    r"(?<![\w$.-])-{0,2}(?P<name>[A-Za-z_][A-Za-z0-9_.-]{0,127})="
    r"(?P<value>\"(?:[^\"\\]|\\.)*\"|'[^']*'|[^\s;&|\"'`]+)"
)
# A shell word: quoted, or bare up to a space or a shell operator.
_WORD = r"(?:\"(?:[^\"\\\n]|\\.)*\"|'[^'\n]*'|[^\s;&|<>\"'`]+)"
# Options that take a secret as the next word: `redis-server --requirepass X`,
# `--masterauth X`, `--password X`, `--token X`. An explicit list: `--password-stdin`,
# `--ask-pass` and `--no-password` are flags, and the word after them is no secret.
_SECRET_OPTION = re.compile(
    r"(?<![\w-])--(?P<name>requirepass|masterauth|password|passwd|token|auth-token|"
    r"access-token|api-key|apikey|client-secret|secret-key|secret-access-key|access-key)"
    r"[\"']?[ \t]+(?P<value>" + _WORD + ")"
)
# Where a command starts: the text's start, after a shell operator, the first word of an
# exec-form list as the history records it (`CMD ["mysql" ...]`), or after what runs the next
# word as a command (`sh -c`, `exec`, `sudo`, `env`, `--` of `kubectl exec`), past `VAR=x`s.
_COMMAND_START = (
    r"(?:^|(?<=[;&|(`\n])|(?<=\[\")|"
    r"(?<![\w-])(?:-c|--|exec|sudo|env|time|nohup|then|do|else)[\"']?(?=[ \t]))"
    r"[ \t]*[\"']?(?:[A-Za-z_]\w*=\S*[ \t]+)*(?:/[\w./-]*/)?"
)
# The MySQL and MariaDB clients' `-pPASS` (glued: `-p PASS` names a database, `-p` alone
# prompts), only where one of those programs is the command: `docker run -p8080:80` publishes
# a port, `ssh -p2222` picks one, `docker run --name mysql -p3306:3306` runs no client.
_MYSQL_PASSWORD = re.compile(
    _COMMAND_START + r"(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlshow|mysqlcheck|"
    r"mysqlslap|mysqlpump|mysqlbinlog|mariadb|mariadb-dump|mariadb-admin|mariadb-import|"
    r"mariadb-show|mariadb-check|mariadb-slap|mariadb-binlog)(?![\w.-])[^;&|\n]{0,500}?"
    r"(?<![\w-])-p(?P<value>" + _WORD + ")"
)
# An HTTP Authorization header's credentials: `-H "Authorization: Bearer <token>"`, `Basic`.
_AUTHORIZATION = re.compile(
    r"(?i:authorization)[\"']?[ \t]{0,5}[:=][ \t]{0,5}(?P<scheme>(?i:bearer|basic|token))"
    r"[ \t]{1,5}(?P<value>[A-Za-z0-9._~+/=:-]{8,8192})"
)
# `echo PASSWORD | docker login --password-stdin` (podman, helm, oras, crane, nerdctl...):
# the password is the echoed word.
_PASSWORD_STDIN = re.compile(
    r"(?<![\w-])(?:echo|printf)(?:[ \t]+(?:-[neE]{1,3}|'%s'|\"%s\"|%s))*[ \t]+"
    r"(?P<value>" + _WORD + r")[ \t]*\|[^|;&\n]{0,300}?(?<![\w-])login(?![\w-])[^|;&\n]{0,500}?"
    r"--password-stdin"
)
# Command forms that hold a secret in a word, by kind.
_WORD_FORMS = (
    (_SECRET_OPTION, "password-option"),
    (_MYSQL_PASSWORD, "password-option"),
    (_AUTHORIZATION, "authorization-header"),
    (_PASSWORD_STDIN, "password-stdin"),
)

# --- which files can hold one ---------------------------------------------------------------

PRIVATE_KEY, PKCS12, TFSTATE = "private-key", "pkcs12", "terraform-state"
PYPIRC, NETRC, PIP_CONF, AWS_CREDENTIALS = "pypirc", "netrc", "pip-conf", "aws-credentials"
DOCKER_CONFIG, GIT_CREDENTIALS = "docker-config", "git-credentials"
NPMRC, DOTENV = "npmrc", "dotenv"
KUBECONFIG, GIT_DIRECTORY, URL_CREDENTIALS = "kubeconfig", "git-directory", "url-credentials"
SECRET_VARIABLE = "secret-variable"

_SSH_KEY_NAME = re.compile(r"id_(?:rsa|dsa|ecdsa|ed25519)(?:_sk)?|ssh_host_\w+_key")
# Rules by name whose files exist only to hold a credential.
_CREDENTIAL_FILE_RULES = frozenset({
    PRIVATE_KEY, PKCS12, PYPIRC, NETRC, PIP_CONF, AWS_CREDENTIALS, DOCKER_CONFIG, GIT_CREDENTIALS,
    NPMRC, KUBECONFIG,
})  # fmt: skip
# Credential files by name that the content scan reads (no rule by name of their own).
_CREDENTIAL_NAMES = frozenset({
    "credentials.json", "client_secret.json", "service_account.json", "service-account.json",
    "secrets.json", "credentials", "htpasswd", ".htpasswd",
})  # fmt: skip
_KEY_EXTENSIONS = (".pem", ".key", ".ppk")
# File kinds judged by name that the content scan cannot stand in for.
_NAME_ONLY_RULES = frozenset({"pkcs12", "terraform-state", "dotenv", "kubeconfig"})
_TITLES = dict(secret_rules.rule_titles())


# One value, command or step holding more secrets than this is reported by its first ones: a
# 140 KB ENV of 10,000 credentialed URLs made 10,000 facts and a 465 MB audit.
HITS_PER_TEXT = 50
# A secret's `created_by` says where it came from; the whole step is in `history[]`. Thousands
# of files of one layer each carrying a 128 KiB step made facts of gigabytes.
STEP_SHOWN = 1000


def shown_step(text: str | None) -> str | None:
    if text is None or len(text) <= STEP_SHOWN:
        return text
    return text[:STEP_SHOWN] + "…"


@dataclass(frozen=True)
class Secret:
    kind: str  # e.g. "private-key", "pypirc", "aws-access-key-id", "secret-variable"
    where: str  # "env" | "label" | "command" | "history" | "file"
    path: str | None  # files only
    # env/label: the variable or label; history/command: the NAME of a NAME=value assignment
    # (command: else "Entrypoint", "Cmd" or "Healthcheck"); files: None.
    name: str | None
    layer: int | None  # the layer holding the file, or that the history step made
    step: int | None  # index in the config's history (history findings only)
    created_by: str | None  # that layer's or step's created_by, itself redacted
    deleted: bool  # files: this version is not in the final filesystem
    removed_in: int | None  # files: the layer that deleted or replaced this version
    hint: str  # redacted, never the value
    # Test or documentation material (tests/ dirs, /usr/share/doc, published example keys).
    likely_test_fixture: bool
    line: int | None = None  # files: the line it is on, when the content scan found it
    removal: str | None = None  # files: "deleted" or "replaced" by layer `removed_in`
    fingerprint: str | None = None  # the value's keyed fingerprint (secret_rules), when known
    # files: who installed the file ("app", "python", "os", "npm") and which distribution or
    # package that is; what the file is ("code", "docs", "tests", "vendored"). See ownership.
    owner_kind: str | None = None
    owner: str | None = None
    file_kind: str | None = None
    # files: a credential file by its very name (id_rsa, *.pem, .netrc, credentials.json, ...)
    credential_file: bool = False
    # The value passes its format's own verification (a checksum, a key body that decodes).
    live_format: bool = False


@dataclass(frozen=True)
class Secrets:
    secrets: tuple[Secret, ...]


# --- capture --------------------------------------------------------------------------------


def _file_rule(path: str) -> str | None:
    """The file kind a path may hold a secret of (judged by name alone), or None."""
    base = posixpath.basename(path)
    lower = base.lower()
    if _SSH_KEY_NAME.fullmatch(base) or lower.endswith(_KEY_EXTENSIONS):
        return PRIVATE_KEY
    if lower.endswith((".p12", ".pfx")):
        return PKCS12
    if lower.endswith(".tfstate"):
        return TFSTATE
    if base == ".pypirc":
        return PYPIRC
    if base in (".netrc", "_netrc"):
        return NETRC
    if base in ("pip.conf", "pip.ini"):
        return PIP_CONF
    if path.endswith("/.aws/credentials"):
        return AWS_CREDENTIALS
    if path.endswith("/.docker/config.json"):
        return DOCKER_CONFIG
    if base == ".git-credentials":
        return GIT_CREDENTIALS
    if base in (".npmrc", "npmrc"):
        return NPMRC
    if base in (".env", ".envrc") or base.startswith(".env."):
        return DOTENV
    if path.endswith("/.kube/config"):
        return KUBECONFIG
    if path.endswith("/.git/config"):
        return URL_CREDENTIALS
    return None


def wants(path: str, size: int) -> int | None:
    rule = _file_rule(path)
    # PKCS#12 bundles and Terraform state are findings by name; their bytes are not needed.
    if rule is not None and rule not in (PKCS12, TFSTATE):
        return FILE_CAP
    # Installed distributions' file lists: which files are third-party code and docs.
    return ownership.wants(path, size)


# --- redaction ------------------------------------------------------------------------------


def redact(value: str) -> str:
    """The length and a fingerprint of a value: nothing of the value itself."""
    return f"{len(value)} chars, fingerprint {secret_rules.fingerprint(value)}"


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def is_placeholder(value: str) -> bool:
    """Empty, boolean-like, a `$VAR` reference, an obvious filler or a template's slot in
    brackets (`[password]]`, `<password>`, `{password}`): not a secret."""
    value = _unquote(value.strip())
    return (
        not value
        or value.lower() in _PLACEHOLDERS
        or bool(_REFERENCE.fullmatch(value))
        or bool(_FILLER.fullmatch(value))
        or secret_rules.bracketed(value)
    )


def secret_name(name: str) -> bool:
    """Whether a variable, label or option name says its value is a secret."""
    upper = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper()
    if not upper or upper in _NOT_SECRET_NAMES:
        return False
    words = upper.split("_")
    if words[-1] in _NOT_SECRET_LAST_WORDS:
        return False
    if any(word in _SECRET_WORDS for word in words):
        return True
    if any(a in _KEY_QUALIFIERS and b == "KEY" for a, b in itertools.pairwise(words)):
        return True
    return any(part in word for word in words for part in _SECRET_SUBSTRINGS)


def _secret_value(value: str) -> bool:
    value = _unquote(value.strip())
    # An absolute path names where the secret is (GOOGLE_APPLICATION_CREDENTIALS=/run/...).
    return not is_placeholder(value) and not re.fullmatch(r"/[^\s:]*", value)


@dataclass(frozen=True)
class _Hit:
    kind: str
    start: int
    end: int
    hint: str
    example: bool = False


def _url_hit(match: re.Match[str]) -> _Hit | None:
    user, password = match.group("user"), match.group("password")
    # Each part says what it stands for, so the URL still reads as one:
    # `postgres://<user: 3 chars>:<password: 10 chars, a172cedc>@db`.
    if password is not None and password and not is_placeholder(password):
        who = f"<user: {len(user)} chars>" if user else ""
        hint = f"{match.group('scheme')}://{who}:<password: {redact(password)}>@"
    elif password is None and len(user) >= 16 and not is_placeholder(user):
        # A token alone as userinfo: `https://<token>@github.com/...`.
        hint = f"{match.group('scheme')}://<token: {redact(user)}>@"
    else:
        return None
    return _Hit(URL_CREDENTIALS, match.start(), match.end(), hint + match.group("host"))


def _word_hits(text: str) -> Iterator[_Hit]:
    """Secrets given as a word of a command: an option's value, a header's credentials, an
    echoed password."""
    for pattern, kind in _WORD_FORMS:
        for match in pattern.finditer(text):
            value = _unquote(match.group("value"))
            if not _secret_value(value) or value.startswith("-") or secret_rules.placeholder(value):
                continue
            start, end = match.span("value")
            yield _Hit(kind, start, end, redact(value))


def scan_value(text: str) -> list[_Hit]:
    """Known token shapes, PEM private keys, credentialed URLs and command forms (`--requirepass
    X`, `-pX`, `Authorization: Bearer X`, `echo X | ... login --password-stdin`) anywhere in
    `text`: the first HITS_PER_TEXT of them (the facts report no more)."""
    return every_value_hit(text)[:HITS_PER_TEXT]


def every_value_hit(text: str) -> list[_Hit]:
    """All of scan_value's hits, uncapped: what redaction must mask."""
    hits: list[_Hit] = list(_word_hits(text))
    # Where the block that starts at a header ends. Thousands of headers with no END after
    # them would each search to the end of the text; one search serves every header before
    # the END it found (or after the last one, when none is left).
    end = close = 0
    for match in _PEM_PRIVATE.finditer(text):
        if 0 <= end < match.end():
            end = text.find("-----END", match.end())
            close = len(text) if end < 0 else text.find("-----", end + 8) + 5
        stop = max(close, match.end())
        hits.append(_Hit(PRIVATE_KEY, match.start(), stop,
                         f"{match.group(0)} ({stop - match.start()} chars)"))  # fmt: skip
    for rule in secret_rules.RULES:
        if rule.generic or rule.id in _VALUE_SKIPPED_RULES:
            continue
        for match in rule.pattern.finditer(text):
            value = match.group(rule.group)
            if rule.check is not None and not rule.check(value):
                continue
            example = secret_rules.published_example(value)
            hits.append(_Hit(rule.id, match.start(), match.end(), redact(value), example))
    for match in _URL_CREDENTIALS.finditer(text):
        hit = _url_hit(match)
        if hit is not None:
            hits.append(hit)
    return _non_overlapping(hits)


def _non_overlapping(hits: list[_Hit]) -> list[_Hit]:
    # Keep the earliest, then the longest, so one secret is reported once.
    kept: list[_Hit] = []
    for hit in sorted(hits, key=lambda h: (h.start, -(h.end - h.start))):
        if not kept or hit.start >= kept[-1].end:
            kept.append(hit)
    return kept


def _scan_assignments(text: str) -> list[tuple[str | None, _Hit]]:
    """(assignment name or None, hit) for the first HITS_PER_TEXT secrets in a command line or
    history step: the facts report no more."""
    return _every_assignment_hit(text)[:HITS_PER_TEXT]


def _every_assignment_hit(text: str) -> list[tuple[str | None, _Hit]]:
    """(assignment name or None, hit) for every secret in a command line or history step."""
    found: list[tuple[str | None, _Hit]] = []
    # Spans of the assignment values already scanned, in text order and disjoint.
    covered: list[tuple[int, int]] = []
    for match in _ASSIGNMENT.finditer(text):
        name, value = match.group("name"), match.group("value")
        start, end = match.span("value")
        inner = every_value_hit(value)
        if inner:
            for hit in inner:
                found.append((name, _Hit(hit.kind, start + hit.start, start + hit.end, hit.hint,
                                         hit.example)))  # fmt: skip
            covered.append((start, end))
        elif secret_name(name) and _secret_value(value):
            found.append((name, _Hit(SECRET_VARIABLE, start, end, redact(_unquote(value)))))
            covered.append((start, end))
    starts = [a for a, _ in covered]
    for hit in every_value_hit(text):
        # The one span that can hold it: a bisection, not a pass over every span per hit.
        index = bisect.bisect_right(starts, hit.start) - 1
        if index < 0 or covered[index][1] <= hit.start:
            found.append((None, hit))
    return found


def redact_text(text: str | None) -> str | None:
    """`text` with every secret this module recognises replaced by its hint: every one, however
    many (the facts list the first HITS_PER_TEXT, the text shows none)."""
    if not text:
        return text
    hits = _non_overlapping([hit for _, hit in _every_assignment_hit(text)])
    out, last = [], 0
    for hit in hits:
        # A URL's hint marks its own parts; any other hint stands in brackets for the value.
        shown = hit.hint if hit.kind == URL_CREDENTIALS else f"<{hit.hint}>"
        out += [text[last : hit.start], shown]
        last = hit.end
    out.append(text[last:])
    return "".join(out)


# `registry:user:password@host/repo`: credentials typed into an image reference, where no image
# reference has them (a digest's `@` follows the repository, after a `/`).
_REFERENCE_USERINFO = re.compile(r"^(?P<prefix>[a-z-]{1,40}:)?(?P<userinfo>[^/@\s]+)@(?=[^/@\s]+/)")


def redact_reference(reference: str) -> str:
    """An image reference as reports and error lines show it: credentials typed into it
    (`registry:user:password@host/app`, `https://user:password@...`) masked."""
    match = _REFERENCE_USERINFO.match(reference)
    if match and ":" in match.group("userinfo"):
        reference = (f"{match.group('prefix') or ''}<{redact(match.group('userinfo'))}>@"
                     + reference[match.end() :])  # fmt: skip
    return redact_text(reference) or reference


def redact_argv(argv: list[str] | tuple[str, ...]) -> list[str]:
    """An exec-form command (or a process's arguments) with every secret masked, judged on the
    words together: `["redis-server", "--requirepass", "X"]` holds the secret in a word that
    means nothing alone."""
    text = " ".join(argv)
    hits = _non_overlapping([hit for _, hit in _every_assignment_hit(text)])
    out, start = [], 0
    for word in argv:
        end = start + len(word)
        pieces, last = [], start
        for hit in hits:
            if hit.end <= start or hit.start >= end:
                continue
            cut = max(hit.start, start)
            pieces += [text[last:cut], f"<{hit.hint}>"]
            last = min(hit.end, end)
        pieces.append(text[last:end])
        out.append("".join(pieces))
        start = end + 1
    return out


# --- config and history ---------------------------------------------------------------------


def _named_values(where: str, pairs: dict[str, str]) -> Iterator[Secret]:
    for name, value in sorted(pairs.items()):
        hits = scan_value(value)
        if hits:
            seen: set[str] = set()
            for hit in hits:
                if hit.kind not in seen:
                    seen.add(hit.kind)
                    yield Secret(hit.kind, where, None, name, None, None, None, False, None,
                                 hit.hint, hit.example)  # fmt: skip
        elif secret_name(name) and _secret_value(value):
            yield Secret(SECRET_VARIABLE, where, None, name, None, None, None, False, None,
                         redact(value), False)  # fmt: skip


def _commands(data: ImageData) -> Iterator[Secret]:
    healthcheck = data.config.healthcheck or {}
    fields: dict[str, Any] = {
        "Entrypoint": data.config.entrypoint,
        "Cmd": data.config.cmd,
        "Healthcheck": healthcheck.get("Test") if isinstance(healthcheck, dict) else None,
    }
    for field_name, argv in fields.items():
        if not argv:
            continue
        text = " ".join(str(arg) for arg in argv)
        for name, hit in _scan_assignments(text):
            yield Secret(hit.kind, COMMAND, None, name or field_name, None, None, None, False,
                         None, hit.hint, hit.example)  # fmt: skip


def _history(data: ImageData) -> Iterator[Secret]:
    history = data.raw_config.get("history") or []
    if not isinstance(history, list):
        return
    made_layer = [not (isinstance(h, dict) and h.get("empty_layer")) for h in history]
    # Steps map to layers only when the history accounts for every layer.
    trusted = sum(made_layer) == len(data.layers)
    layer = 0
    for index, step in enumerate(history):
        this_layer = layer if made_layer[index] and trusted else None
        layer += made_layer[index]
        created_by = step.get("created_by") if isinstance(step, dict) else None
        if not isinstance(created_by, str):
            continue
        hits = _scan_assignments(created_by)
        if not hits:
            continue
        redacted = shown_step(redact_text(created_by))
        for name, hit in hits:
            yield Secret(hit.kind, HISTORY, None, name, this_layer, index, redacted, False, None,
                         hit.hint, hit.example)  # fmt: skip


# --- files ----------------------------------------------------------------------------------


class _TestTrees:
    """Whether a file in a `tests`/`fixtures`-like tree (or a `test_*.py` module, or a README
    where packages install) is test material, not the image's leak.

    A directory's name alone proves nothing: `/home/test/.aws/credentials` is a user's keys and
    `/srv/app/fixtures/prod.env` the app's production settings. So it is test material only in
    an installed package's files (by its RECORD, the OS's or npm's), or in the image's own test
    suite (a tree holding `test_*.py`/`conftest.py`) that the command does not run from; and a
    credential file by name (a key, `.aws/credentials`, a dotenv...) never is.
    """

    def __init__(self, data: ImageData) -> None:
        self.data = data
        self.paths: list[str] | None = None  # sorted visible paths, at the first question
        config = data.config
        words = [*(config.entrypoint or ()), *(config.cmd or ())]
        self.command_paths = [w for w in words if w.startswith("/")]
        self.workdir = config.workdir or ""

    def __call__(self, path: str, owner: dict[str, Any]) -> bool:
        if owner.get("credential_file") or _file_rule(path) == DOTENV:
            return False
        if secret_rules.package_docs(path):
            return True
        base = posixpath.basename(path)
        module = base.endswith(".py") and (base.startswith("test_") or base.endswith("_test.py"))
        if not module and not secret_rules.in_test_tree(path):
            return False
        if owner.get("owner_kind") not in (None, ownership.APP):
            return True
        tree = self._tree(path) if not module else posixpath.dirname(path)
        return (
            tree is not None
            and (module or self._suite(tree))
            and not self._reached(path if module else tree)
        )

    @staticmethod
    def _tree(path: str) -> str | None:
        parts = path.split("/")
        for i, part in enumerate(parts[:-1]):
            if part in secret_rules.TEST_DIRS:
                return "/".join(parts[: i + 1])
        return None

    def _suite(self, tree: str) -> bool:
        if self.paths is None:
            self.paths = sorted(self.data.fs.visible)
        start = bisect.bisect_left(self.paths, tree + "/")
        end = bisect.bisect_left(self.paths, tree + "0")  # "0" sorts right after "/"
        for path in itertools.islice(self.paths, start, min(end, start + 10_000)):
            base = posixpath.basename(path)
            if base == "conftest.py" or (base.endswith(".py") and (
                    base.startswith("test_") or base.endswith("_test.py"))):  # fmt: skip
                return True
        return False

    def _reached(self, where: str) -> bool:
        """The command runs from inside `where` (a test tree) or runs `where` (a test module)."""
        inside = where.rstrip("/") + "/"
        places = [self.workdir, *self.command_paths] if not where.endswith(".py") else [
            *self.command_paths]  # fmt: skip
        return any((p + "/").startswith(inside) for p in places if p)


def _ini_values(text: str, key: str) -> list[str]:
    """The values of `key = value` (or `key: value`) lines, key in any case. Line by line, not
    with a `^\\s*key` multiline regex: its `\\s*` runs over every following blank line from
    each line start, minutes for 64 KiB of newlines."""
    values = []
    pending = False  # `key =` alone: the value is on the next non-blank line (a continuation)
    for line in text.split("\n"):
        stripped = line.strip()
        if pending and stripped:
            values.append(stripped)
            pending = False
            continue
        if stripped[: len(key)].lower() != key:
            continue
        rest = stripped[len(key) :].lstrip()
        if rest[:1] in ("=", ":"):
            values.append(rest[1:].strip())
            pending = not values[-1]
    return [v for v in values if not is_placeholder(v)]


_KUBE_CREDENTIALS = ("token", "client-key-data", "password")


def _kube_credential(text: str) -> str | None:
    """The first credential key of a kubeconfig that has a value, line by line (the multiline
    `^\\s*` regex this replaces was quadratic in blank lines)."""
    end = len(text.rstrip())  # a value may follow on a later line, as YAML allows
    offset = 0
    for line in text.split("\n"):
        stripped = line.lstrip()
        for key in _KUBE_CREDENTIALS:
            if stripped.startswith(key):
                rest = stripped[len(key) :].lstrip()
                colon = offset + len(line) - len(rest)
                if rest[:1] == ":" and colon + 1 < end:
                    return key
        offset += len(line) + 1
    return None


def _url_hints(text: str) -> list[str]:
    return [hit.hint for hit in scan_value(text) if hit.kind == URL_CREDENTIALS]


def _summarise(hints: list[str]) -> str | None:
    if not hints:
        return None
    more = f" (+{len(hints) - 1} more)" if len(hints) > 1 else ""
    return hints[0] + more


def _private_key(path: str, text: str | None, size: int) -> str | None:
    if text is not None:
        match = _PEM_PRIVATE.search(text)
        if match:
            return f"{match.group(0)} ({size} bytes)"
        if text.startswith("PuTTY-User-Key-File-"):
            return f"PuTTY private key ({size} bytes)"
    # id_rsa and friends are private keys by name, whatever format they are in.
    if _SSH_KEY_NAME.fullmatch(posixpath.basename(path)) and size > 0:
        return f"SSH private key file ({size} bytes)"
    return None


def _netrc(text: str) -> str | None:
    tokens = text.split()
    hints, machine = [], "default"
    for i, token in enumerate(tokens[:-1]):
        if token == "machine":
            machine = tokens[i + 1]
        elif token == "password" and not is_placeholder(tokens[i + 1]):
            hints.append(f"machine {machine}: password {redact(tokens[i + 1])}")
    return _summarise(hints)


def _docker_config(text: str) -> str | None:
    try:
        auths = json.loads(text).get("auths") or {}
    except (ValueError, AttributeError):
        # Truncated or odd JSON: fall back to the field itself.
        found = re.search(r"\"(?:auth|identitytoken)\"\s*:\s*\"[^\"]+\"", text)
        return "registry credentials (unparsed config)" if found else None
    registries = sorted(
        str(registry)
        for registry, entry in auths.items()
        if isinstance(entry, dict)
        and any(entry.get(key) for key in ("auth", "identitytoken", "password", "registrytoken"))
    )
    if not registries:
        return None
    noun = "registry" if len(registries) == 1 else "registries"
    return f"credentials for {len(registries)} {noun}: {', '.join(registries)}"


def _dotenv(text: str) -> str:
    names, secret = [], []
    for line in text.splitlines():
        match = re.match(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)", line)
        if match:
            names.append(match.group(1))
            value = match.group(2)
            if (secret_name(match.group(1)) and _secret_value(value)) or scan_value(value):
                secret.append(match.group(1))
    hint = f"{len(names)} variable{'s' if len(names) != 1 else ''}"
    return hint + (f"; secret-looking: {', '.join(secret)}" if secret else "")


def _file_hint(rule: str, path: str, text: str | None, size: int) -> str | None:
    """The redacted hint when this file version holds a secret of its kind, else None."""
    if rule == PRIVATE_KEY:
        return _private_key(path, text, size)
    if rule == PKCS12:
        return f"PKCS#12 bundle ({size} bytes)" if size else None
    if rule == TFSTATE:
        return f"Terraform state ({size} bytes)" if size else None
    if text is None:
        return None
    if rule == PYPIRC:
        return _summarise([f"password {redact(v)}" for v in _ini_values(text, "password")])
    if rule == NETRC:
        return _netrc(text)
    if rule in (PIP_CONF, GIT_CREDENTIALS, URL_CREDENTIALS):
        return _summarise(_url_hints(text))
    if rule == AWS_CREDENTIALS:
        keys = _ini_values(text, "aws_secret_access_key") + _ini_values(text, "aws_session_token")
        return _summarise([f"aws_secret_access_key {redact(v)}" for v in keys])
    if rule == DOCKER_CONFIG:
        return _docker_config(text)
    if rule == NPMRC:
        found = re.findall(r"(_authToken|_auth|_password)\s*=\s*(\S+)", text)
        return _summarise([f"{key} {redact(v)}" for key, v in found if not is_placeholder(v)])
    if rule == DOTENV:
        if not text.strip():
            return None
        hint = _dotenv(text)
        # `.env.example` and friends document the settings: only real-looking values count.
        template = path.lower().endswith((".example", ".sample", ".template", ".dist", ".tmpl"))
        return None if template and "secret-looking" not in hint else hint
    if rule == KUBECONFIG:
        key = _kube_credential(text)
        return f"kubeconfig with {key}" if key else None
    return None


class _Steps:
    """Each layer's history step, redacted once: thousands of files from one layer share it,
    and redacting a 128 KiB step per file was hours of regex work."""

    def __init__(self, data: ImageData) -> None:
        self.data = data
        self.done: dict[int, str | None] = {}

    def __call__(self, layer: int) -> str | None:
        if layer not in self.done:
            self.done[layer] = shown_step(redact_text(self.data.step(layer)))
        return self.done[layer]


def credential_file(path: str) -> bool:
    """A file that holds credentials by its very name: a key, `.netrc`, `credentials.json`.
    Not a dotenv, Terraform state or `.git/config`: in a package those are its examples."""
    rule = _file_rule(path)
    return rule in _CREDENTIAL_FILE_RULES or posixpath.basename(path).lower() in _CREDENTIAL_NAMES


class _Whose:
    """Each path's owner and kind, from the image's installed distributions (built once)."""

    def __init__(self, data: ImageData) -> None:
        self.data = data
        self.owners: ownership.Owners | None = None  # built at the first file secret, if any
        self.tests = _TestTrees(data)

    def __call__(self, path: str) -> dict[str, Any]:
        if self.owners is None:
            self.owners = ownership.owners(self.data)
        owner = self.owners.of(path)
        kind = ownership.file_kind(path, third_party=owner.kind != ownership.APP)
        return {"owner_kind": owner.kind, "owner": owner.name, "file_kind": kind,
                "credential_file": credential_file(path)}  # fmt: skip


def _file_secret(
    steps: _Steps,
    whose: _Whose,
    kind: str,
    path: str,
    version: Version,
    hint: str,
    text: str | None,
) -> Secret:
    live = kind == PRIVATE_KEY and text is not None and secret_rules.key_body_live(text)
    # A file found by its name has no one value: its whole text is the fingerprint, so a later
    # layer writing the same file again (`chown -R`) is told apart from one that changed it.
    found = secret_rules.fingerprint(text) if text is not None else None
    owner = whose(path)
    return Secret(kind, IN_FILE, path, None, version.layer, None, steps(version.layer),
                  version.removed_in is not None, version.removed_in, hint,
                  whose.tests(path, owner), removal=version.removal, fingerprint=found,
                  live_format=live, **owner)  # fmt: skip


def _git_repo(path: str) -> str | None:
    index = (path + "/").find("/.git/")
    return path[: index + 5] if index >= 0 else None


def _is_dir(data: ImageData, path: str) -> bool:
    # A `.git` *file* is a worktree or submodule pointer, not a repository.
    return any(v.entry.kind == DIR for v in data.fs.history.get(path, ()))


def _content_secret(
    steps: _Steps, whose: _Whose, path: str, version: Version, hit: ContentHit
) -> Secret:
    hint = f"{_TITLES.get(hit.rule, hit.rule)}: {hit.length} chars, fingerprint {hit.fingerprint}"
    owner = whose(path)
    return Secret(hit.rule, IN_FILE, path, None, version.layer, None, steps(version.layer),
                  version.removed_in is not None, version.removed_in, hint,
                  hit.example or whose.tests(path, owner), line=hit.line,
                  fingerprint=hit.fingerprint, removal=version.removal, live_format=hit.live,
                  **owner)  # fmt: skip


def _files(data: ImageData) -> Iterator[Secret]:
    content_hits: dict[tuple[int, str], list[ContentHit]] = {}
    for index, layer in enumerate(data.layers):
        for hit in layer.hits:
            content_hits.setdefault((index, hit.path), []).append(hit)
    repos: set[str] = set()
    steps = _Steps(data)
    whose = _Whose(data)
    paths = sorted(data.fs.history)
    for path in paths:
        repo = _git_repo(path)
        if repo is not None and repo not in repos and _is_dir(data, repo):
            repos.add(repo)
            first, last = data.fs.history[repo][0], data.fs.history[repo][-1]
            visible = data.fs.visible.get(repo)
            # Paths under repo/ sort between "repo/" and "repo0" ("0" follows "/"): two
            # bisections, not a scan of every path per repository (20,000 repos took minutes).
            entries = bisect.bisect_left(paths, repo + "0") - bisect.bisect_left(paths, repo + "/")
            yield Secret(GIT_DIRECTORY, IN_FILE, repo, None, first.layer, None,
                         steps(first.layer), visible is None,
                         last.removed_in if visible is None else None,
                         f"git metadata ({entries} paths)",
                         whose.tests(repo + "/config", owner := whose(repo)),
                         **owner)  # fmt: skip
        rule = _file_rule(path)
        for version in data.fs.history[path]:
            if version.entry.kind != FILE:
                continue
            found = content_hits.get((version.layer, path), ())
            for hit in found:
                yield _content_secret(steps, whose, path, version, hit)
            if rule is None or (found and rule not in _NAME_ONLY_RULES):
                continue  # the content scan said it better: which rule, which line
            content = data.content_of(version)
            text = content.decode("utf-8", "replace") if content is not None else None
            hint = _file_hint(rule, path, text, version.entry.size)
            if hint is not None:
                yield _file_secret(steps, whose, rule, path, version, hint, text)


def analyse(data: ImageData) -> Secrets:
    found = [
        *_named_values(ENV, data.config.env),
        *_named_values(LABEL, data.config.labels),
        *_commands(data),
        *_history(data),
        *_files(data),
    ]
    return Secrets(secrets=tuple(found))
