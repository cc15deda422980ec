"""Security checks: who the app runs as, secrets, privilege, writable code."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from checks import secret_files
from checks.access import app_process, at_layer, config, static_probe, step, unconfirmed
from checks.model import (
    Context,
    Facts,
    Found,
    Location,
    Skip,
    command,
    layer_name,
    severity_rank,
    shorten,
)
from checks.registry import check


@check(
    "SEC001",
    "runs-as-root",
    "The application runs as root",
    severity="high",
    category="security",
    needs=("config", "user"),
    wants=("runtime.lifecycle",),
    fix="Create a user and end the image with `USER 10001:10001` (numeric, non-zero).",
    dockle=("CIS-DI-0001",),
)
def runs_as_root(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    The UID the application process really runs with. When the lifecycle probe ran, that is the
    app process it saw (an entrypoint may start as root and drop to a user with gosu or setpriv,
    which is fine). Otherwise it is the config `User` resolved through the image's own
    `/etc/passwd`: empty, `0`, `0:0`, `root`, `root:root`, or any name whose UID is 0. When the
    lookup cannot be answered (a named user past the part of an over-large `/etc/passwd` that
    was read) and the name may be one of its UID 0 entries, the finding says it is
    undetermined: an unanswered lookup is never a pass.

    ## Why it matters
    A compromise of the app is then a compromise of root in the container, which makes escapes,
    host-mount abuse and tampering with the image's own files far easier. Itamar
    Turner-Trauring's production checklist puts it first; CIS Docker Benchmark 4.1 and OWASP's
    Docker cheat sheet (rule 2) say the same.

    ## Example
    ```dockerfile
    FROM python:3.12-slim
    COPY . /app
    CMD ["python", "-m", "app"]   # no USER: runs as root
    ```

    ## Instead
    ```dockerfile
    RUN useradd --system --uid 10001 --no-create-home app
    USER 10001:10001
    ```

    ## References
    - https://pythonspeed.com/articles/root-capabilities-docker-security/
    - https://cheatsheetseries.owasp.org/cheatsheets/Docker_Security_Cheat_Sheet.html
    - https://docs.docker.com/reference/dockerfile/#user
    - Practice: #1 Don't run as root: "Less capabilities, more security: preventing Docker
      escalation attacks", https://pythonspeed.com/articles/root-capabilities-docker-security/
    """
    process = app_process(facts)
    if process is not None:
        if process.get("uid") == 0:
            name = " ".join(process.get("cmdline") or []) or process.get("name")
            yield Found(
                f"the app process (pid {process.get('pid')}: {name}) runs with UID 0",
                Location(config="User", runtime="lifecycle probe"),
            )
        return
    user = facts.get("user") or {}
    uid = user.get("resolved_uid")
    if uid == 0:
        raw = config(facts).get("user") or ""
        said = f"USER {raw!r} resolves to" if raw else "no USER is set: the image runs as"
        yield Found(f"{said} UID 0{unconfirmed(facts)}", Location(config="User"))
    elif uid is None and user.get("undetermined") and _may_be_root(user):
        raw = config(facts).get("user") or user.get("config_user") or ""
        yield Found(
            f"USER {raw!r} may resolve to UID 0, undetermined: {user['undetermined']}"
            f"{unconfirmed(facts)}",
            Location(config="User", path="/etc/passwd"),
        )


def _may_be_root(user: dict[str, Any]) -> bool:
    """Whether an unanswered USER lookup could still be UID 0."""
    part = user.get("user_part") or ""
    if part and part.lstrip("+-").isdigit():  # a uid, whatever passwd holds (no int() of it)
        return part.lstrip("+-").lstrip("0") == ""
    if not user.get("uid0_complete"):
        return True
    return part in {u.get("name") for u in user.get("users") or [] if u.get("uid") == 0}


# --- who the app runs as ------------------------------------------------------------------------


def _identity(facts: Facts) -> tuple[int | None, int | None, list[int], str]:
    """UID, GID, supplementary groups the app runs with, and where that was learnt."""
    process = app_process(facts)
    if process is not None and process.get("uid") is not None:
        return process.get("uid"), process.get("gid"), [], "lifecycle probe"
    probe = static_probe(facts)
    if probe is not None and probe.get("uid") is not None:
        return probe.get("uid"), probe.get("gid"), list(probe.get("groups") or []), "static probe"
    user = facts.get("user") or {}
    groups = list(user.get("supplementary_gids") or [])
    return user.get("resolved_uid"), user.get("resolved_gid"), groups, "config User"


@check(
    "SEC002",
    "user-not-numeric",
    "USER is a name, so Kubernetes cannot verify the image runs as non-root",
    severity="low",
    category="security",
    needs=("config", "user"),
    fix="Use the numeric UID (and GID) in USER, e.g. `USER 10001:10001`.",
)
def user_not_numeric(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    Whether the user part of the config `User` is a name (`USER app`) rather than a number.
    Names that resolve to UID 0 are left to SEC001, and names that do not resolve at all to
    COR001.

    ## Why it matters
    The kubelet only sees the image config, not its `/etc/passwd`. With `runAsNonRoot: true` and
    a non-numeric USER it refuses to start the pod ("container has runAsNonRoot and image has
    non-numeric user (app), cannot verify user is non-root"), so the image either fails in
    hardened clusters or forces people to drop the policy. A number also states the UID that
    volume permissions must match
    (https://kubernetes.io/docs/tasks/configure-pod-container/security-context/).

    ## Example
    ```dockerfile
    RUN useradd --uid 10001 app
    USER app
    ```

    ## Instead
    ```dockerfile
    RUN useradd --uid 10001 app
    USER 10001:10001
    ```

    ## References
    - https://kubernetes.io/docs/concepts/security/pod-security-standards/
    - https://kubernetes.io/docs/tasks/configure-pod-container/security-context/
    - https://docs.docker.com/reference/dockerfile/#user
    - Practice: none of Turner-Trauring's; Kubernetes' Pod Security Standards, which verify
      `runAsNonRoot` only for a numeric USER
    """
    user = facts.get("user") or {}
    part = user.get("user_part") or ""
    if not part or part.isdigit() or user.get("numeric") or user.get("error"):
        return
    uid = user.get("resolved_uid")
    if uid == 0:
        return
    raw = config(facts).get("user") or part
    resolved = f" (UID {uid})" if uid is not None else ""
    yield Found(
        f"USER {raw!r} names user {part!r}{resolved}: Kubernetes' runAsNonRoot cannot verify a "
        "name and refuses to start the pod",
        Location(config="User"),
        fix=f"Write `USER {uid}:{user.get('resolved_gid')}` instead of the name."
        if uid is not None and user.get("resolved_gid") is not None
        else None,
    )


@check(
    "SEC003",
    "user-without-passwd-entry",
    "The numeric USER has no /etc/passwd entry: it runs in group 0 with HOME=/",
    severity="medium",
    category="security",
    needs=("config", "user"),
    wants=("python", "runtime.static"),
    fix="Create the user (`useradd --uid 10001 --gid 10001 ...`) and set `USER 10001:10001`.",
)
def user_without_passwd_entry(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    A non-root USER whose UID has no line in the image's `/etc/passwd`. When the static probe
    ran, the GID, HOME and passwd lookup are what the process really saw; otherwise they come
    from resolving USER against the image's files as Docker does. GID 0 is medium, another GID
    low.

    The OpenShift arbitrary-UID pattern is info: a numeric USER in group 0 whose application
    directories belong to group 0 with the owner's permissions copied to the group
    (`chgrp -R 0 /app && chmod -R g=u /app`). OpenShift runs every container with a random UID
    and GID 0 whatever USER says, so an image made for it has no passwd line by design, and
    group 0 is how that UID gets exactly the access the owner has
    (https://docs.openshift.com/container-platform/4.14/openshift_images/create-images.html).

    ## Why it matters
    Docker's USER reference: "When the user doesn't have a primary group then the image (or the
    next instructions) will be run with the root group". GID 0 can write every file that is
    group-writable by root, and HOME becomes `/`, so tools that write to `~` (pip, matplotlib,
    Hugging Face caches) fail or write to the root directory, and anything that looks the user
    up (`getpass.getuser()`, ssh, some database clients) fails
    (https://docs.docker.com/reference/dockerfile/#user).

    ## Example
    ```dockerfile
    USER 4242
    ```

    ## Instead
    ```dockerfile
    RUN groupadd --gid 10001 app && useradd --uid 10001 --gid 10001 --home-dir /srv app
    USER 10001:10001
    ```

    ## References
    - https://docs.docker.com/reference/dockerfile/#user
    - https://docs.openshift.com/container-platform/4.14/openshift_images/create-images.html
    - Practice: none of Turner-Trauring's; Docker's USER reference and OpenShift's image
      guidelines
    """
    user = facts.get("user") or {}
    if user.get("error") or user.get("resolved_uid") in (None, 0):
        return
    probe = static_probe(facts)
    if probe is not None and probe.get("passwd_entry") is not None:
        if probe.get("passwd_entry"):
            return
        gid, home, where = probe.get("gid"), probe.get("home"), "static probe"
    else:
        if user.get("in_passwd"):
            return
        gid, home, where = user.get("resolved_gid"), user.get("home"), None
    raw = config(facts).get("user") or ""
    effects = [f"HOME={home}"] if home else []
    severity = None
    pattern = ""
    if gid == 0:
        effects.insert(0, "GID 0 (root's group)")
        shared = _group_zero_dirs(facts) if user.get("numeric") else []
        if shared:
            severity = "info"
            pattern = (f"; {', '.join(shared)} belong to group 0 with g=u: the OpenShift "
                       "arbitrary-UID pattern, by design")  # fmt: skip
    else:
        severity = "low"
        effects.insert(0, f"GID {gid}")
    yield Found(
        f"USER {raw!r}: UID {user.get('resolved_uid')} has no /etc/passwd entry, so it runs "
        f"with {' and '.join(effects)}, and user lookups fail{pattern}",
        Location(config="User", path="/etc/passwd", runtime=where),
        severity=severity,
    )


def _group_zero_dirs(facts: Facts) -> list[str]:
    """The app's code roots when they are group 0 with the owner's permissions (g=u, g+w)."""
    bytecode = (facts.get("python") or {}).get("bytecode") or {}
    area = bytecode.get("application") or {}
    mode = area.get("dir_mode")
    if area.get("dir_owner_gid") != 0 or not isinstance(mode, int) or not mode & 0o020:
        return []
    if (mode >> 3) & 0o7 != (mode >> 6) & 0o7:
        return []
    return list(area.get("roots") or [])


# --- secrets ------------------------------------------------------------------------------------

# Kinds that are credentials by their very shape (a key block, a token format, a password field).
_REAL_CREDENTIALS = frozenset({
    "private-key", "aws-access-key-id", "github-token", "gitlab-token", "pypi-token",
    "slack-token", "stripe-key", "google-api-key", "url-credentials", "netrc", "pypirc",
    "pip-conf", "aws-credentials", "docker-config", "git-credentials", "npmrc", "kubeconfig",
    # found in file contents (inspector/analysers/secret_rules.py)
    "putty-private-key", "aws-secret-access-key", "github-fine-grained-token", "slack-webhook",
    "google-service-account", "azure-storage-key", "npm-token", "docker-auths",
    "kubernetes-dockerconfigjson", "huggingface-token", "openai-key", "database-url",
    "private-key-json", "private-key-unterminated", "azure-devops-pat", "azure-ai-services-key",
    "azure-sas-token", "azure-entra-client-secret", "azure-container-registry-key",
    "azure-app-configuration", "grafana-api-key", "grafana-service-account-token",
    "alibaba-access-key-id", "private-packagist-token", "openai-client-secret", "maven-password",
})  # fmt: skip
_LIKELY_CREDENTIALS = frozenset({
    "secret-variable", "pkcs12", "terraform-state", "jwt", "password-assignment",
    "password-setting",
})  # fmt: skip
_PACKAGE_WORDS = {"python": "a Python distribution", "os": "an OS package", "npm": "an npm package"}
_FILE_WORDS = {"vendored": "vendored code"}
_HINT_LENGTH = re.compile(r"\((\d+) (?:chars|bytes)\)")
# A PEM private key is hundreds of characters; a short "key" in a command is a header being
# printed or grepped for, not a key.
_SHORTEST_KEY = 200


def _third_party_material(secret: dict[str, Any]) -> bool:
    """A match in a file an installed package put there (a distribution, the OS, npm) that is
    neither a credential file by name nor a value of a verified live format in the package's
    code: SQLAlchemy's `scott:tiger` docstrings, a README's token in METADATA, a package's
    test keys. The image's own files (owner "app", or no owner recorded) never are."""
    if secret.get("owner_kind") in (None, "app"):
        return False
    if secret.get("file_kind") in ("docs", "tests", "vendored"):
        return True
    return not (secret.get("credential_file") or secret.get("live_format"))


def _secret_severity(secret: dict[str, Any]) -> str:
    """critical for credentials by shape, lower as the evidence weakens."""
    kind = secret.get("kind") or ""
    if secret.get("likely_test_fixture") or _third_party_material(secret):
        return "info"  # someone's tests, docs or examples: worth a look, never a gate failure
    if kind == "private-key" and secret.get("where") != "file":
        size = _HINT_LENGTH.search(secret.get("hint") or "")
        if size and int(size.group(1)) < _SHORTEST_KEY:
            return "low"
    if kind in _REAL_CREDENTIALS:
        return "critical"
    if kind in _LIKELY_CREDENTIALS:
        return "high"
    if kind == "dotenv":
        return "high" if "secret-looking" in (secret.get("hint") or "") else "low"
    if kind == "git-directory":
        return "medium"
    return "high"


def _instruction(created_by: str | None, width: int = 80) -> str | None:
    """A history step as its Dockerfile line: `|2 A=.. /bin/sh -c rm x` -> `RUN rm x`."""
    if not created_by:
        return None
    text = " ".join(created_by.split())
    if "#(nop) " in text:
        text = text.split("#(nop) ", 1)[1].strip()
    elif " /bin/sh -c " in f" {text}":
        text = "RUN " + f" {text}".split(" /bin/sh -c ", 1)[1]
    return text if len(text) <= width else text[: width - 1] + "…"


def _secrets(facts: Facts, *where: str) -> list[dict[str, Any]]:
    return [s for s in facts.get("secrets") or [] if s.get("where") in where]


@check(
    "SEC004",
    "secret-in-config",
    "A secret is in the image config: ENV, LABEL, ENTRYPOINT/CMD or HEALTHCHECK",
    severity="critical",
    category="security",
    needs=("config", "secrets"),
    fix="Remove it from the image and inject it at run time (orchestrator secret, mounted "
    "file); rotate it.",
    dockle=("CIS-DI-0010",),
)
def secret_in_config(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    The facts' `secrets[]` findings in ENV values, LABELs and the ENTRYPOINT, CMD and HEALTHCHECK
    commands: known token shapes (AWS, GitHub, GitLab, PyPI, Slack, Stripe, Google), PEM
    private keys, URLs with a password, and secret-looking names (`*_PASSWORD`, `API_TOKEN`,
    ...) with real-looking values. Placeholders (`changeme`, `${VAR}`) and checksums
    (`*_SHA256`, `GPG_KEY`) are not reported. Shapes of real credentials are critical; a
    secret-looking name alone is high. The finding names the history steps that record the
    same value (the `ENV` step that set it, the build argument it came from): one finding for
    one secret, where SEC005 reports only the values the history alone keeps.

    ## Why it matters
    The config ships with the image: anyone who can pull it reads the value with
    `docker inspect`, without running anything. Docker's own build check says "setting secrets
    in a Dockerfile using ENV or ARG is insecure because they persist in the final image"
    (https://docs.docker.com/reference/build-checks/secrets-used-in-arg-or-env/); CIS Docker
    Benchmark 4.10 says not to store secrets in Dockerfiles.

    ## Example
    ```dockerfile
    ENV DATABASE_URL=postgres://app:s3cr3t@db/app
    ```

    ## Instead
    ```sh
    docker run -e DATABASE_URL ... app     # or a Kubernetes Secret / mounted file
    ```

    ## References
    - https://docs.docker.com/build/building/secrets/
    - https://pythonspeed.com/articles/docker-build-secrets/
    - https://docs.docker.com/reference/build-checks/secrets-used-in-arg-or-env/
    - https://github.com/goodwithtech/dockle#cis-di-0010
    - Practice: #4 Don't pass secrets with `--build-arg` or ENV, history and config keep them:
      "Don't leak your Docker image's build secrets",
      https://pythonspeed.com/articles/docker-build-secrets/
    - Practice: #5 Runtime secrets don't belong in the image: "Don't leak your Docker image's build
      secrets", https://pythonspeed.com/articles/docker-build-secrets/
    """
    fields = {"env": "Env", "label": "Labels", "command": None}
    history = _secrets(facts, "history")
    for secret in _secrets(facts, "env", "label", "command"):
        where = secret.get("where")
        name = secret.get("name") or "?"
        field = f"{fields[where]}.{name}" if fields.get(where) else name
        steps = sorted({s.get("step") for s in history if _same_value(s, secret)} - {None})
        recorded = ""
        if steps:
            plural = "s" if len(steps) > 1 else ""
            recorded = (f"; the build history shows it too (history step{plural} "
                        f"{', '.join(map(str, steps))})")  # fmt: skip
        what = f"{secret.get('kind')} in config {field}: {secret.get('hint')}"
        yield Found(
            what + recorded,
            Location(config=field),
            severity=_secret_severity(secret),
            # The history steps are detail: a baseline that accepted this secret still does.
            identity=what,
        )


def _same_value(one: dict[str, Any], other: dict[str, Any]) -> bool:
    """Whether two secret findings are one value: same kind and same redacted hint (its length
    and a fingerprint of the value, never the value)."""
    return (one.get("kind"), one.get("hint")) == (other.get("kind"), other.get("hint"))


@check(
    "SEC005",
    "secret-in-build-history",
    "A secret is recorded in the build history (build arguments, RUN commands)",
    severity="critical",
    category="security",
    needs=("history", "secrets"),
    fix="Pass it with `RUN --mount=type=secret,id=...` instead of ARG/ENV, rebuild, and rotate it.",
    dockle=("CIS-DI-0010",),
)
def secret_in_build_history(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    The facts' `secrets[]` findings in `history[].created_by`: build arguments the classic
    builder records as `|N NAME=value ... /bin/sh -c ...` on every RUN after the ARG, `ARG`/`ENV`
    steps with defaults, and credentials typed into a command (`pip install --index-url
    https://user:token@...`, `--password X`, `redis-server --requirepass X`, a MySQL or MariaDB
    client's `-pX`, an `Authorization: Bearer X` header, `echo X | docker login
    --password-stdin`). One finding per secret, listing every step that shows it. A value
    the config still holds (an `ENV`, a `LABEL`, the command) is reported by SEC004 alone, with
    the history steps that show it; this check keeps the secrets only the history records:
    build arguments, and values typed into `RUN` lines.

    ## Why it matters
    `docker history --no-trunc` prints every step to anyone who has the image, and deleting
    nothing in a later layer changes that: "--build-arg values leak into history"
    (https://pythonspeed.com/articles/docker-build-secrets/). Provenance attestations in
    `mode=max` record build argument values too.

    ## Example
    ```dockerfile
    ARG API_TOKEN=...
    RUN curl -H "Authorization: Bearer $API_TOKEN" https://api.example.com/release
    ```

    ## Instead
    ```dockerfile
    RUN --mount=type=secret,id=api_token \\
        curl -H "Authorization: Bearer $(cat /run/secrets/api_token)" https://api.example.com/release
    ```

    ## References
    - https://docs.docker.com/build/building/secrets/
    - https://pythonspeed.com/articles/docker-build-secrets/
    - https://docs.docker.com/reference/build-checks/secrets-used-in-arg-or-env/
    - https://github.com/goodwithtech/dockle#cis-di-0010
    - Practice: #4 Don't pass secrets with `--build-arg` or ENV, history and config keep them:
      "Don't leak your Docker image's build secrets",
      https://pythonspeed.com/articles/docker-build-secrets/
    """
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    # A value the config still holds is SEC004's: its ENV, LABEL or CMD step is in the history
    # by necessity, and one fix (take it out of the image) covers both.
    in_config = _secrets(facts, "env", "label", "command")
    for secret in _secrets(facts, "history"):
        if any(_same_value(secret, kept) for kept in in_config):
            continue
        key = (secret.get("kind"), secret.get("name"), secret.get("hint"))
        groups.setdefault(key, []).append(secret)
    for (kind, name, hint), found in groups.items():
        first = next((s for s in found if s.get("layer") is not None), found[0])
        steps = ", ".join(str(s.get("step")) for s in found)
        what = f"build argument or variable {name}" if name else kind
        plural = "s" if len(found) > 1 else ""
        yield Found(
            f"{what} ({kind}: {hint}) is recorded in the history of {len(found)} build "
            f"step{plural} (history step{plural} {steps})",
            # created_by here is the analyser's redacted copy: never the value.
            Location(layer=first.get("layer"), created_by=first.get("created_by")),
            severity=max((_secret_severity(s) for s in found), key=severity_rank),
            # The variable, not the step: a rebuild that rewrites the step keeps the finding.
            subject=f"{kind} {name}" if name else None,
        )


@check(
    "SEC006",
    "secret-in-layer-files",
    "A credential is in a file of a layer, possibly deleted by a later one but still shipped",
    severity="critical",
    category="security",
    needs=("layers", "secrets"),
    fix="Rotate the credential first (it has shipped), then keep it out of every layer: "
    "`RUN --mount=type=secret,...`, or a build stage that is not the final one; deleting it in a "
    "later layer does not remove it.",
    dockle=("CIS-DI-0010",),
)
def secret_in_layer_files(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    The facts' `secrets[]` findings in files, read from every version of every file in every
    layer, deleted and overwritten ones included. By name: private keys, `.netrc`, `.pypirc`,
    `pip.conf` and `.git-credentials` with credentials, AWS and Docker credentials, `.npmrc`
    tokens, kubeconfigs, dotenv files, PKCS#12 bundles, Terraform state and `.git`
    directories. By content, in every text file as the layer streams: PEM, OpenSSH and PuTTY
    private keys, AWS key IDs and secret keys, GitHub (classic, fine-grained, app, OAuth; the
    CRC32 checked), GitLab, Slack, Stripe, Google API keys and service-account JSON, Azure
    storage keys, PyPI and npm tokens, Docker `auths` and Kubernetes `.dockerconfigjson`,
    Hugging Face and OpenAI keys, JWTs, database URLs with passwords, and `password = "..."`
    assignments with a random-looking value in the image's own code and config files. Each
    finding names the rule, the file and line, the layer and history step that wrote it and,
    when a later layer deleted or replaced it, that layer; never the value, only its length and
    a fingerprint. Published example values and placeholders (`${VAR}`, `<token>`,
    `changeme`, `[password]`, `{password}`) are not findings; test and documentation material
    (under `tests/` or `fixtures/`, `test_*` files, `/usr/share/doc`, a package's README,
    documentation pairs such as `scott:tiger`) is info.

    Files an installed package put in the image are third-party: those an installed
    distribution lists in its `RECORD` (or that sit under a top-level name it installs in
    site-packages), the OS's packages' and npm packages'. A match there is info (the package's
    own docstrings, `*.dist-info/METADATA`, tests and vendored bundles are full of example
    credentials), unless the file is a credential file by name (`id_rsa`, a `.pem` key) or the
    value verifies as a live format (GitHub's and npm's checksums pass, a private key's body
    decodes to a key) and the file is the package's code, not its docs, tests or vendored
    bundles. The app's own code, config and home directories keep the full severity, and so
    does a distribution installed from a local directory (`pip install .` of the project).
    `[[ignores]]` accept findings by path and by rule (`rules = ["jwt"]`).

    One secret is one finding. A package's examples are one info finding per distribution (or
    OS or npm package): how many matches in how many files, a few of them, under which
    directory. A later layer that writes the same file again unchanged (`chown -R`,
    `chmod -R`, a second `COPY`) stores a second copy of every secret in it: the same value at
    the same path and line is reported once, in the layer that first added it, naming the
    layers that copied it again. A dotenv file whose secret-looking variables the content scan
    found one by one is reported through those values (each names the file and line), not once
    more as a dotenv file; SEC023 leaves such a file to this check.

    ## Why it matters
    "Deleting a file does not actually remove it from the image … anyone with access to the
    image can extract it" (https://pythonspeed.com/articles/docker-build-secrets/): each layer
    is a tar that `docker save` hands out whole. CIS Docker Benchmark 4.10; dockle CIS-DI-0010
    looks at file names in the final filesystem only, so it misses deleted files.

    ## Example
    ```dockerfile
    COPY .netrc /root/.netrc
    RUN pip install -r requirements.txt
    RUN rm /root/.netrc          # still in the COPY layer
    ```

    ## Instead
    ```dockerfile
    RUN --mount=type=secret,id=netrc,target=/root/.netrc pip install -r requirements.txt
    ```

    ## References
    - https://docs.docker.com/build/building/secrets/
    - https://pythonspeed.com/articles/docker-build-secrets/
    - https://docs.docker.com/reference/build-checks/secrets-used-in-arg-or-env/
    - https://github.com/goodwithtech/dockle#cis-di-0010
    - Practice: #3 Don't leak build secrets by COPY-then-rm, the layer keeps them: "Don't leak your
      Docker image's build secrets", https://pythonspeed.com/articles/docker-build-secrets/
    - Practice: #5 Runtime secrets don't belong in the image: "Don't leak your Docker image's build
      secrets", https://pythonspeed.com/articles/docker-build-secrets/
    """
    secrets = _secrets(facts, "file")
    third_party: dict[tuple[str, str], list[list[dict[str, Any]]]] = {}
    for copies in secret_files.copies(secrets):
        first = copies[0]
        if secret_files.said_by_content(first, secrets):
            continue
        severity = _secret_severity(first)
        if severity == "info" and first.get("owner_kind") not in (None, "app"):
            third_party.setdefault(secret_files.owner(first), []).append(copies)
            continue
        yield _file_secret_found(facts, copies, severity)
    for (owner_kind, owner), groups in third_party.items():
        yield _package_examples_found(facts, owner_kind, owner, groups)


def _shipped(facts: Facts, first: dict[str, Any], last: dict[str, Any]) -> str:
    """Where the secret is now: in the final filesystem, or only in the layers' tars."""
    if not last.get("deleted"):
        return "visible in the final filesystem"
    removed = last.get("removed_in")
    layer = first.get("layer")
    if removed is None or removed >= len(facts.get("layers") or []):
        return f"deleted later, yet still shipped in {layer_name(layer)}"
    by = _instruction(step(facts, removed))
    by_text = f" ({by})" if by else ""
    return (
        f"{last.get('removal') or 'deleted'} in {layer_name(removed)}{by_text}, yet still "
        f"shipped in {layer_name(layer)}"
    )


def _file_secret_found(facts: Facts, copies: list[dict[str, Any]], severity: str) -> Found:
    """One secret, however many layers wrote its file: named in the layer that first added it."""
    first, last = copies[0], copies[-1]
    test = " (looks like test or documentation material)" if first.get(
        "likely_test_fixture") else ""  # fmt: skip
    if first.get("owner_kind") not in (None, "app"):
        owner = first.get("owner") or _PACKAGE_WORDS.get(first.get("owner_kind"), "a package")
        test += f" (third-party: {owner}, {first.get('file_kind') or 'code'})"
    line = f" line {first['line']}" if first.get("line") else ""
    what = f"{first.get('kind')} in {first.get('path')}{line}: {first.get('hint')}"
    again = ""
    if len(copies) > 1:
        later = []
        for copy in copies[1:]:
            # The analyser's redacted copy, as its Dockerfile line.
            by = shorten(command(copy["created_by"]), 80) if copy.get("created_by") else None
            later.append(layer_name(copy.get("layer")) + (f" ({by})" if by else ""))
        again = (
            f"; one secret: {layer_name(first.get('layer'))} added it, and {', '.join(later)} "
            "wrote the same file again unchanged"
        )
    return Found(
        f"{what}{again}; {_shipped(facts, first, last)}{test}",
        Location(
            layer=first.get("layer"), created_by=first.get("created_by"), path=first.get("path")
        ),
        severity=severity,
        rule=first.get("kind"),
        # The later copies are detail (a chown added or dropped): the secret stays the same one.
        identity=f"{what}{test}" if again else None,
    )


def _package_examples_found(facts: Facts, owner_kind: str, owner: str,
                            groups: list[list[dict[str, Any]]]) -> Found:  # fmt: skip
    """One info finding for one package's credential-shaped examples: docstrings, METADATA,
    tests and vendored bundles, counted, with a few of their files."""
    summary = secret_files.rollup(groups)
    name = owner or _PACKAGE_WORDS.get(owner_kind, "a package")
    words = _PACKAGE_WORDS.get(owner_kind, "a package")
    matches, files = summary["matches"], summary["files"]
    shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
    kinds = ", ".join(summary["kinds"])
    file_kinds = ", ".join(_FILE_WORDS.get(k, k) for k in summary["file_kinds"])
    return Found(
        f"{matches} credential-shaped example{'s' if matches != 1 else ''} ({kinds}) in "
        f"{len(files)} file{'s' if len(files) != 1 else ''} of {name} ({words}: its "
        f"{file_kinds}) under {summary['under']}: {shown}; third-party "
        "examples and test data, not this image's credentials",
        # created_by is the analyser's redacted copy: a step's own text may hold a credential.
        Location(layer=summary["layer"], created_by=summary["created_by"], path=summary["path"]),
        severity="info",
        # One kind (PyJWT's README token): an ignore by rule still matches it.
        rule=summary["kinds"][0] if len(summary["kinds"]) == 1 else None,
        fix=f"Nothing to rotate: these are {name}'s own examples. Accept them with an "
        "`[[ignores]]` entry by path if they distract.",
        # How many examples a release of the package carries changes; the package does not.
        identity=f"third-party examples in {owner_kind} {name}",
    )


# --- privilege in files -------------------------------------------------------------------------

# setuid/setgid programs Debian, Ubuntu and Alpine bases ship (login, shadow, util-linux, PAM,
# bsdutils, cron, openssh-client): expected, and harmless once the app runs non-root with
# no-new-privileges. Anything else was added by the image.
_USUAL_PRIVILEGED = frozenset({
    "su", "mount", "umount", "passwd", "chsh", "chfn", "newgrp", "gpasswd", "unix_chkpwd",
    "expiry", "chage", "wall", "write", "write.ul", "bsd-write", "crontab", "ssh-agent",
    "pam_extrausers_chkpwd", "dotlockfile", "mail-lock", "mail-unlock", "mail-touchlock",
    "bbsuid", "fusermount", "fusermount3",
})  # fmt: skip
_SYSTEM_BIN_DIRS = ("/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/", "/usr/lib/", "/usr/libexec/",
                    "/lib/")  # fmt: skip


def _usual_privileged(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name in _USUAL_PRIVILEGED and path.startswith(_SYSTEM_BIN_DIRS)


# Programs that run whatever code they are handed: setuid root, any user who can start them runs
# arbitrary code as root (`python3 -c 'import os; os.setuid(0); os.system("sh")'`).
_CODE_RUNNERS = re.compile(
    r"(?:python|pypy|perl|ruby|node|php|lua|tclsh|wish|bash|sh|dash|ash|zsh|ksh|mksh|busybox|"
    r"env|find|awk|gawk|mawk|vim?|less|more|nano|tar|cp|gdb)(?:\d+(?:\.\d+)*[a-z]?)?"
)


def _runs_any_code(facts: Facts, path: str) -> str | None:
    """Why a privileged file hands out a root shell: it is an interpreter, or None."""
    name = path.rsplit("/", 1)[-1]
    interpreters = {i.get("path") for i in (facts.get("python") or {}).get("interpreters") or []}
    if path in interpreters or re.fullmatch(r"(?:python|pypy)(?:\d+(?:\.\d+)*[a-z]?)?", name):
        return "a Python interpreter, so `-c` runs any code"
    if _CODE_RUNNERS.fullmatch(name):
        return f"{name} runs commands or code it is given"
    return None


def _privileged_files(facts: Facts) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for entry in [*(facts.get("setuid") or []), *(facts.get("setgid") or [])]:
        seen.setdefault(entry.get("path") or "", entry)
    return [seen[p] for p in sorted(seen)]


@check(
    "SEC007",
    "setuid-setgid-files",
    "setuid/setgid files beyond the ones the base distribution ships",
    severity="medium",
    category="security",
    needs=("files",),
    fix="Strip the bits in the final stage: `RUN find / -xdev -perm /6000 -type f -exec chmod "
    "a-s {} +`, and run with `--security-opt no-new-privileges`.",
    dockle=("CIS-DI-0008",),
)
def setuid_setgid_files(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    Visible regular files with the setuid or setgid bit. The programs Debian, Ubuntu and Alpine
    bases ship with those bits (`su`, `mount`, `umount`, `passwd`, `chsh`, `chfn`, `newgrp`,
    `gpasswd`, `unix_chkpwd`, `expiry`, `chage`, `wall`, `crontab`, `ssh-agent`, ...) are
    summed up in one informational finding; every other one (sudo, pkexec, a copied binary,
    an interpreter) is a finding of its own, with the layer and step that set it. A setuid-root
    program that runs whatever code it is given (a Python interpreter, wherever it was copied
    to, or perl, a shell, `env`, `busybox`, `find`, ...) is critical, rule `setuid-interpreter`:
    it is root for anyone (setgid to group root: high).

    ## Why it matters
    A setuid-root program runs as root whoever starts it: it is the classic way up from a
    compromised non-root app. CIS Docker Benchmark 4.8: "Ensure setuid and setgid permissions
    are removed"; dockle CIS-DI-0008 reports them all, which on a Debian base is a dozen
    expected files, so the base's usual ones are kept apart here
    (https://github.com/goodwithtech/dockle#cis-di-0008).

    ## Example
    ```dockerfile
    RUN apt-get install -y sudo        # /usr/bin/sudo is setuid root
    ```

    ## Instead
    ```dockerfile
    RUN find / -xdev -perm /6000 -type f -exec chmod a-s {} +
    ```
    and run with `--security-opt no-new-privileges` (Kubernetes:
    `allowPrivilegeEscalation: false`).

    ## References
    - https://github.com/goodwithtech/dockle#cis-di-0008
    - https://cheatsheetseries.owasp.org/cheatsheets/Docker_Security_Cheat_Sheet.html
    - https://www.cisecurity.org/benchmark/docker
    - Practice: #2 Least privilege: the app needs no capabilities, no setuid, no sudo: "Less
      capabilities, more security: preventing Docker escalation attacks",
      https://pythonspeed.com/articles/root-capabilities-docker-security/
    """
    usual: list[str] = []
    for entry in _privileged_files(facts):
        path = entry.get("path") or ""
        if _usual_privileged(path):
            usual.append(path.rsplit("/", 1)[-1])
            continue
        bits = " and ".join(b for b in ("setuid", "setgid") if entry.get(b)) or "setuid/setgid"
        owner = f"(mode {entry.get('mode')}, owner {entry.get('uid')}:{entry.get('gid')})"
        where = at_layer(facts, entry.get("layer"), path)
        runner = _runs_any_code(facts, path)
        root_user = entry.get("setuid") and entry.get("uid") == 0
        root_group = entry.get("setgid") and entry.get("gid") == 0
        if runner and (root_user or root_group):
            who = "root" if root_user else "group root (gid 0)"
            yield Found(
                f"{path} is {bits} {owner} and is {runner}: anyone who can run it is {who}, "
                "so any code in the container (an exploited app included) becomes "
                f"{'root' if root_user else 'group root'} with one command",
                where,
                severity="critical" if root_user else "high",
                fix=f"Remove the bit now: `RUN chmod a-s {path}` (or copy the interpreter without "
                "it); never make an interpreter setuid. Run with `--security-opt "
                "no-new-privileges`.",
                rule="setuid-interpreter",
            )
            continue
        yield Found(
            f"{path} is {bits} {owner}: it runs with its owner's privileges whoever starts it",
            where,
        )
    if usual:
        yield Found(
            f"{len(usual)} setuid/setgid programs the base distribution ships: "
            f"{', '.join(sorted(usual))}",
            Location(path="/usr/bin"),
            severity="info",
        )


# Docker's default capability set: a file capability outside it has no effect without --cap-add.
_DOCKER_DEFAULT_CAPS = frozenset({
    "cap_chown", "cap_dac_override", "cap_fsetid", "cap_fowner", "cap_mknod", "cap_net_raw",
    "cap_setgid", "cap_setuid", "cap_setfcap", "cap_setpcap", "cap_net_bind_service",
    "cap_sys_chroot", "cap_kill", "cap_audit_write",
})  # fmt: skip


@check(
    "SEC008",
    "file-capabilities",
    "Files carry capabilities that any user running them gets",
    severity="medium",
    category="security",
    needs=("files",),
    fix="Remove them with `setcap -r FILE` in the final stage; listen on a port >= 1024 "
    "instead of granting cap_net_bind_service.",
)
def file_capabilities(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    Visible files with a `security.capability` extended attribute, decoded. Capabilities in
    Docker's default set (`cap_net_bind_service`, `cap_net_raw`, `cap_setuid`, ...) are medium;
    ones outside it have no effect unless the container is given them with `--cap-add`, and
    are low.

    ## Why it matters
    A file capability such as `cap_net_bind_service+ep` on `python3` gives that privilege to
    every user who runs the file, without setuid, and setuid scanners do not see it. OWASP's
    Docker cheat sheet, rule 3: limit capabilities
    (https://cheatsheetseries.owasp.org/cheatsheets/Docker_Security_Cheat_Sheet.html).

    ## Example
    ```dockerfile
    RUN setcap cap_net_bind_service=+ep /usr/bin/python3.11
    ```

    ## Instead
    ```dockerfile
    ENV PORT=8000      # listen on an unprivileged port; map 80 -> 8000 outside
    ```

    ## References
    - https://cheatsheetseries.owasp.org/cheatsheets/Docker_Security_Cheat_Sheet.html
    - https://man7.org/linux/man-pages/man7/capabilities.7.html
    - https://docs.docker.com/engine/containers/run/#runtime-privilege-and-linux-capabilities
    - Practice: #2 Least privilege: the app needs no capabilities, no setuid, no sudo: "Less
      capabilities, more security: preventing Docker escalation attacks",
      https://pythonspeed.com/articles/root-capabilities-docker-security/
    """
    for entry in facts.get("capabilities") or []:
        caps = entry.get("capabilities") or {}
        permitted = [c.lower() for c in caps.get("permitted") or []]
        text = caps.get("text") or (f"raw {caps.get('raw_hex')}" if caps.get("raw_hex") else "?")
        effective = caps.get("decoded") is False or any(
            c in _DOCKER_DEFAULT_CAPS for c in permitted
        )
        outside = "" if effective else " (outside Docker's default set: inert without --cap-add)"
        yield Found(
            f"{entry.get('path')} carries file capabilities {text}{outside}",
            at_layer(facts, entry.get("layer"), entry.get("path")),
            severity=None if effective else "low",
        )


_TMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock")
_DEVICES = ("char", "block")
_SHOWN = 20


def _under(path: str, roots: list[str] | tuple[str, ...]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots if r)


def _code_roots(facts: Facts) -> list[str]:
    """Where code lives: app and site-packages roots, interpreter prefixes, bin dirs."""
    bytecode = (facts.get("python") or {}).get("bytecode") or {}
    roots = [r for area in ("application", "site_packages", "stdlib")
             for r in (bytecode.get(area) or {}).get("roots") or []]  # fmt: skip
    probe = static_probe(facts) or {}
    if probe.get("app_dir"):
        roots.append(probe["app_dir"])
    venvs = [v.get("path") for v in (facts.get("python") or {}).get("venvs") or []]
    return [*roots, *venvs, "/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin",
            "/usr/lib", "/lib", "/etc"]  # fmt: skip


@check(
    "SEC009",
    "world-writable-paths",
    "Files or directories anyone can write, outside the temporary directories",
    severity="low",
    category="security",
    needs=("files",),
    fix="Remove the o+w bit (`chmod -R o-w PATH`) and give write access only to the runtime "
    "user, on the data directories that need it.",
)
def world_writable_paths(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    Visible paths with mode o+w outside `/tmp`, `/var/tmp`, `/dev/shm` and `/run/lock`
    (symlinks and sticky directories are never counted). A world-writable path among the
    code (application, site-packages, bin dirs, `/etc`) is medium; elsewhere low. Device nodes
    (`/dev/null`, `/dev/zero`, `/dev/tty`: character or block devices, 0666 by design in any
    debootstrap-made base) are not files anyone can tamper with, and the runtime mounts its own
    `/dev` over the image's: they are never reported. Neither are empty lock files (`.lock`,
    `*.lock`, `*.lck` of 0 bytes, such as uv's `.venv/.lock`, made 0666 on purpose so that any
    user can take the lock): they hold nothing to tamper with and nothing runs them. One
    finding per layer that set the modes (one `chmod -R 777` is one cause), listing its paths;
    medium when any of them is among the code.

    ## Why it matters
    Any process in the container, whatever its user, can change such a file or plant one in
    such a directory: code and configuration can be tampered with, and the image no longer
    works with a read-only root filesystem (OWASP Docker cheat sheet rule 8,
    https://cheatsheetseries.owasp.org/cheatsheets/Docker_Security_Cheat_Sheet.html; Sysdig:
    executables owned by root and not writable, https://sysdig.com/blog/dockerfile-best-practices/).
    `chmod -R 777 /app` is the usual way this happens.

    ## Example
    ```dockerfile
    COPY . /app
    RUN chmod -R 777 /app
    ```

    ## Instead
    ```dockerfile
    COPY . /app                                   # root-owned, read-only for the app
    RUN install -d -o 10001 -g 10001 /app/data    # only the data dir is writable
    ```

    ## References
    - https://sysdig.com/blog/dockerfile-best-practices/
    - https://cheatsheetseries.owasp.org/cheatsheets/Docker_Security_Cheat_Sheet.html
    - Practice: none of Turner-Trauring's; OWASP's and Sysdig's advice on tamper-proof images
    """
    code = _code_roots(facts)
    listed = facts.get("world_writable") or []
    # Facts from an analyser that still listed device nodes: they are not counted either.
    entries = [e for e in listed if e.get("kind") not in _DEVICES
               and not _under(e.get("path") or "", _TMP_DIRS) and not _empty_lock(e)]  # fmt: skip
    # One `chmod -R 777` is one cause: one finding per layer that set the modes, listing paths.
    by_layer: dict[Any, list[dict[str, Any]]] = {}
    for entry in entries:
        by_layer.setdefault(entry.get("layer"), []).append(entry)
    for layer, group in by_layer.items():
        paths = [str(e.get("path") or "") for e in group]
        in_code = [p for p in paths if _under(p, code)]
        shown = ", ".join(f"{p} ({e.get('mode')})" for p, e in zip(paths[:_SHOWN], group,
                                                                  strict=False))  # fmt: skip
        more = f" and {len(paths) - _SHOWN} more" if len(paths) > _SHOWN else ""
        what = (f"{len(paths)} world-writable paths" if len(paths) > 1
                else f"{group[0].get('kind')} {paths[0]} is world-writable")  # fmt: skip
        listing = f": {shown}{more}" if len(paths) > 1 else f" (mode {group[0].get('mode')})"
        code_note = ""
        if in_code:
            code_note = (" among the image's code" if len(in_code) == len(paths)
                         else f"; {len(in_code)} of them among the image's code")  # fmt: skip
        # Many paths: which of them the listing shows changes with the tree, the step does not.
        identity = None
        if len(paths) > 1:
            identity = "world-writable paths" + (" among the image's code" if in_code else "")
        yield Found(
            f"{what}{listing}{code_note}",
            at_layer(facts, layer, paths[0] if len(paths) == 1 else _top(paths)),
            severity="medium" if in_code else None,
            identity=identity,
        )
    total = facts.get("world_writable_total") or 0
    more = max(0, total - len(listed))
    if more > 0:
        yield Found(f"{more} more world-writable paths", Location(path="/"))


# Lock files tools create for every user to take (uv's `.venv/.lock` is 0666 on purpose): empty,
# they hold nothing anyone could tamper with, and nothing runs them.
_LOCK_NAMES = re.compile(r"(?:^|/)(?:[^/]*\.)?(?:lock|lck)$")


def _empty_lock(entry: dict[str, Any]) -> bool:
    return (entry.get("kind") == "file" and entry.get("size") == 0
            and bool(_LOCK_NAMES.search(entry.get("path") or "")))  # fmt: skip


def _top(paths: list[str]) -> str | None:
    """The shortest path of a group that holds all the others (the dir a `chmod -R` named)."""
    top = min(paths, key=len)
    return top if all(p == top or p.startswith(top.rstrip("/") + "/") for p in paths) else None


def _can_write(uid: int, gid: int | None, groups: list[int], owner: Any, group: Any,
               mode: Any) -> bool:  # fmt: skip
    """Whether uid/gid may create files in a dir with this owner, group and mode (no ACLs)."""
    if not isinstance(mode, int):
        return False
    if owner == uid:
        return bool(mode & 0o200)
    if group is not None and (group == gid or group in groups):
        return bool(mode & 0o020)
    return bool(mode & 0o002)


@check(
    "SEC010",
    "code-writable-by-app",
    "The runtime user can modify the application code or its installed packages",
    severity="medium",
    category="security",
    needs=("config", "user", "python"),
    wants=("runtime.static", "runtime.lifecycle"),
    fix="Install code and packages as root (COPY without --chown, a root-owned venv) and make "
    "only data directories writable by the app user.",
)
def code_writable_by_app(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    Whether the user the app runs as can create, replace or rewrite files of its code: the
    directory of the module or script the command runs, the site-packages dirs and the other
    directories on its interpreter's sys.path (what the static probe measured, when it ran as
    that user), and, from the owner, group and mode the layers give them, the places the command
    names: the WORKDIR when Python sources lie below it, `--chdir`/`--app-dir`/`--pythonpath`,
    a start script's `cd`, PYTHONPATH, and the start scripts themselves (`/entrypoint`, `/start`
    reached through `exec`). When the app runs as another user than the probe (an entrypoint
    that drops privileges) or the probe did not run, the directories holding the sources are
    judged from their owner and mode too. An app that runs as root can write everything: SEC001
    reports that instead.

    ## Why it matters
    If the process can rewrite its own code or dependencies, an attacker who gets code
    execution once can make it permanent (for the container's life) and tamper with what the
    app does. Sysdig: "Make executables owned by root and not writable"
    (https://sysdig.com/blog/dockerfile-best-practices/). `COPY --chown=app . /app` and
    `pip install --user` as the app user are the usual causes.

    ## Example
    ```dockerfile
    COPY --chown=10001:10001 . /app
    USER 10001:10001
    ```

    ## Instead
    ```dockerfile
    COPY . /app
    RUN install -d -o 10001 -g 10001 /app/uploads
    USER 10001:10001
    ```

    ## References
    - https://sysdig.com/blog/dockerfile-best-practices/
    - https://docs.docker.com/reference/dockerfile/#copy---chown---chmod
    - Practice: none of Turner-Trauring's; Sysdig's Dockerfile best practices (executables owned by
      root and not writable)
    """
    uid, gid, groups, source = _identity(facts)
    if uid is None:
        raise Skip("cannot tell which user the app runs as")
    if uid == 0:
        return
    found = list(_writable_code(facts, uid, gid, groups, source))
    paths = [f.location.path or "" for f in found]
    # One cause, one finding: a writable dir that holds another writable place says both.
    for finding, path in zip(found, paths, strict=True):
        if any(other != path and _under(path, [other]) for other in paths if other):
            continue
        below = [p for p in paths if p != path and path and _under(p, [path])]
        if below:
            finding = replace(finding, message=f"{finding.message}; below it, also writable: "
                              f"{', '.join(below)}")  # fmt: skip
        yield finding


def _writable_code(facts: Facts, uid: int, gid: int | None, groups: list[int],
                   source: str) -> Iterator[Found]:  # fmt: skip
    """Every place of code the app's user can write, children of another place included."""
    probe = static_probe(facts)
    reported: list[str] = []
    measured = probe is not None and probe.get("uid") == uid and bool(probe.get("writable"))
    if probe is not None and probe.get("uid") == uid:
        gid, groups = probe.get("gid", gid), list(probe.get("groups") or groups)
    if measured:
        assert probe is not None
        imported = [probe.get("app_dir"), *(probe.get("site_packages") or [])]
        searched = list(probe.get("sys_path") or [])
        for path, writable in sorted((probe.get("writable") or {}).items()):
            if not writable or path not in imported + searched or _under(path, reported):
                continue
            said = (
                "which holds code the app imports"
                if path in imported
                else ("a directory on its sys.path: a module planted there is imported")
            )
            yield Found(f"UID {uid} can write {path}, {said}",
                        Location(path=path, runtime="static probe"))  # fmt: skip
            reported.append(path)
    yield from _writable_locations(facts, uid, gid, groups, source, reported)
    if measured:
        return
    bytecode = (facts.get("python") or {}).get("bytecode") or {}
    for area, label in (("application", "application code"), ("site_packages", "packages")):
        facts_area = bytecode.get(area) or {}
        roots = list(facts_area.get("roots") or [])
        if not facts_area.get("modules") or all(_under(r, reported) for r in roots if r):
            continue
        if _can_write(uid, gid, groups, facts_area.get("dir_owner_uid"),
                      facts_area.get("dir_owner_gid"), facts_area.get("dir_mode")):  # fmt: skip
            mode = facts_area.get("dir_mode")
            yield Found(
                f"UID {uid} (from the {source}) can write the {label} in "
                f"{', '.join(roots) or '?'}: its dirs are owned by "
                f"{facts_area.get('dir_owner_uid')}:{facts_area.get('dir_owner_gid')} "
                f"with mode {mode:o}",
                Location(path=(roots or [None])[0]),
            )


def _owned(owner: dict[str, Any] | None) -> str:
    owner = owner or {}
    return f"owned by {owner.get('uid')}:{owner.get('gid')} with mode {owner.get('mode', 0):o}"


def _writable_locations(facts: Facts, uid: int, gid: int | None, groups: list[int], source: str,
                        reported: list[str]) -> Iterator[Found]:  # fmt: skip
    """The code places the command names (python.code_locations), judged from their owner and
    mode in the layers: the WORKDIR, --chdir and the like, PYTHONPATH, the start scripts."""

    def can(owner: dict[str, Any] | None) -> bool:
        owner = owner or {}
        return _can_write(uid, gid, groups, owner.get("uid"), owner.get("gid"), owner.get("mode"))

    scripts = []
    who = f"UID {uid} (from the {source})"
    for place in (facts.get("python") or {}).get("code_locations") or []:
        path = place.get("path") or ""
        if place.get("role") == "start-script":
            if can(place.get("owner")) and not _under(path, reported):
                scripts.append(place)
            continue
        if not path or _under(path, reported):
            continue
        what = f"{path} ({place.get('why')}"
        what += f", {place.get('sources')} Python sources)" if place.get("sources") else ")"
        if can(place.get("owner")):
            message = f"{who} can write {what}: the directory is {_owned(place.get('owner'))}"
        elif place.get("sources") and can(place.get("sources_owner")):
            owned = _owned(place.get("sources_owner"))
            message = f"{who} can rewrite the code in {what}: its sources are {owned}"
            message += f" (e.g. {place.get('example')})"
        else:
            continue
        reported.append(path)
        yield Found(message, at_layer(facts, place.get("layer"), path),
                    fix=f"Copy {path} as root (COPY without --chown, no `chown -R` of it) and "
                    f"give UID {uid} only the data directories it writes.")  # fmt: skip
    if scripts:
        first = scripts[0]
        names = ", ".join(str(p.get("path")) for p in scripts)
        yield Found(
            f"{who} can rewrite the start script{'s' if len(scripts) > 1 else ''} {names} the "
            f"command runs: {_owned(first.get('owner'))}",
            at_layer(facts, first.get("layer"), first.get("path")),
            fix="Copy start scripts as root with `COPY --chmod=0755` (no --chown): the app needs "
            "to run them, not to change them.",
        )


# --- accounts -----------------------------------------------------------------------------------


@check(
    "SEC011",
    "empty-password",
    "An account has an empty password",
    severity="high",
    category="security",
    needs=("user",),
    fix="Lock the account: `RUN passwd -l NAME` (or `usermod -p '*' NAME`).",
    dockle=("DKL-LI-0001",),
)
def empty_password(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    Accounts whose password field in `/etc/shadow` (or `/etc/passwd` without shadow) is empty.
    Root with an empty password is critical: with the base's setuid `su`, any user in the
    container becomes root without a password.

    ## Why it matters
    An empty password means no password: `su NAME` or a login just works. dockle's
    DKL-LI-0001 "Avoid empty password" fails images for it
    (https://github.com/goodwithtech/dockle#dkl-li-0001).

    ## Example
    ```dockerfile
    RUN passwd -d root
    ```

    ## Instead
    ```dockerfile
    RUN passwd -l root
    ```

    ## References
    - https://github.com/goodwithtech/dockle#dkl-li-0001
    - https://man7.org/linux/man-pages/man5/shadow.5.html
    - Practice: none of Turner-Trauring's; dockle's DKL-LI-0001 and shadow(5)
    """
    for account in (facts.get("user") or {}).get("users") or []:
        if account.get("password") == "empty":
            root = account.get("uid") == 0
            yield Found(
                f"account {account.get('name')} (UID {account.get('uid')}) has an empty password"
                + (": any user can `su` to root" if root else ""),
                Location(path="/etc/shadow"),
                severity="critical" if root else None,
                subject=f"account {account.get('name')}",
            )


def _duplicates(items: list[dict[str, Any]], key: str) -> dict[Any, list[str]]:
    seen: dict[Any, list[str]] = {}
    for item in items:
        seen.setdefault(item.get(key), []).append(str(item.get("name")))
    return {k: v for k, v in seen.items() if len(v) > 1}


@check(
    "SEC012",
    "duplicate-accounts",
    "Two accounts or groups share a UID, GID or name",
    severity="medium",
    category="security",
    needs=("user",),
    fix="Give every account and group its own UID/GID and name (remove the duplicate lines).",
    dockle=("DKL-LI-0002",),
)
def duplicate_accounts(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    Duplicate UIDs or names in `/etc/passwd`, and duplicate GIDs or names in `/etc/group`. A
    second account with UID 0 is a root alias and is high.

    ## Why it matters
    Two names for one UID make file ownership and audit logs ambiguous, and a second UID 0
    account (`toor`) is root under another name, which checks for "root" miss. dockle's
    DKL-LI-0002 "Be unique UID/GROUPs"
    (https://github.com/goodwithtech/dockle#dkl-li-0002).

    ## Example
    ```dockerfile
    RUN echo 'toor:x:0:0::/root:/bin/sh' >> /etc/passwd
    ```

    ## Instead
    ```dockerfile
    RUN useradd --uid 10001 app     # useradd refuses a UID already in use
    ```

    ## References
    - https://github.com/goodwithtech/dockle#dkl-li-0002
    - https://man7.org/linux/man-pages/man5/passwd.5.html
    - Practice: none of Turner-Trauring's; dockle's DKL-LI-0002 and passwd(5)
    """
    user = facts.get("user") or {}
    users, groups = user.get("users") or [], user.get("groups") or []
    for uid, names in _duplicates(users, "uid").items():
        yield Found(f"UID {uid} is shared by accounts {', '.join(names)}",
                    Location(path="/etc/passwd"), severity="high" if uid == 0 else None,
                    subject=f"UID {uid}")  # fmt: skip
    for name, _ in _duplicates(users, "name").items():
        yield Found(f"account name {name} appears more than once", Location(path="/etc/passwd"),
                    subject=f"account {name}")  # fmt: skip
    for gid, names in _duplicates(groups, "gid").items():
        yield Found(f"GID {gid} is shared by groups {', '.join(names)}",
                    Location(path="/etc/group"), subject=f"GID {gid}")  # fmt: skip
    for name, _ in _duplicates(groups, "name").items():
        yield Found(f"group name {name} appears more than once", Location(path="/etc/group"),
                    subject=f"group {name}")  # fmt: skip
