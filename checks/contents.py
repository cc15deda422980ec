"""Checks on what the image contains: privilege tools, SSH, toolchains, leftovers, context leaks,
and trees a later layer re-adds only to change owner or mode (facts section `files`)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from checks.access import MiB, at_layer, config, size
from checks.access import step as layer_step
from checks.model import Context, Facts, Found, Location, command, layer_name, shorten
from checks.registry import check

# A `chown -R` that duplicates more than this is worth a rebuild.
CHOWN_MEDIUM_BYTES = 10 * MiB
_SUDO_IN_STEP = re.compile(r"(?<![\w./-])sudo(?![\w.-])")
_DEV_PACKAGE = re.compile(r"[a-z0-9][a-z0-9.+-]*-dev|build-essential|(?:gcc|g\+\+|cpp|clang)-\d+")


def _files(facts: Facts) -> dict[str, Any]:
    return facts.get("files") or {}


def _section(facts: Facts, name: str) -> dict[str, Any]:
    return _files(facts).get(name) or {}


def _deleted_note(item: dict[str, Any]) -> str:
    deleted = item.get("deleted_in")
    if deleted is None:
        return ""
    return (
        f" (deleted in {layer_name(deleted)}, yet still shipped in {layer_name(item.get('layer'))})"
    )


# --- privilege ---------------------------------------------------------------------------------


@check(
    "SEC020",
    "sudo-installed",
    "sudo or doas is installed, or the build runs sudo",
    severity="medium",
    category="security",
    needs=("files",),
    wants=("history",),
    fix="Remove sudo (`apt-get purge sudo`); start as root and drop to the app user with "
    "`gosu`/`setpriv` in the entrypoint when a step really needs root.",
    dockle=("DKL-DI-0001",),
)
def sudo_installed(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    A visible `sudo` or `doas` in the bin dirs (/bin, /sbin, /usr/bin, /usr/sbin and their
    /usr/local twins), with the layer that installed it. When neither is installed, build
    steps (`history[].created_by`) that mention `sudo` are reported instead, which is what
    dockle's DKL-DI-0001 looks for. `su` alone is not reported: every Debian base ships it, and
    it needs root's password.

    ## Why it matters
    A container needs no privilege escalation tool: build steps already run as root, and a
    setuid-root `sudo` is a way up for anyone who compromises the app. Docker's best practices
    say to avoid installing or using sudo, and hadolint rule DL3004 flags it in Dockerfiles
    (https://docs.docker.com/build/building/best-practices/#user).

    ## Example
    ```dockerfile
    RUN apt-get install -y sudo \\
     && echo 'app ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/app
    USER app
    ```

    ## Instead
    ```dockerfile
    # do root work at build time, as root; then:
    USER 10001:10001
    # or, when the entrypoint must start as root: exec gosu app "$@"
    ```

    ## References
    - https://docs.docker.com/build/building/best-practices/#user
    - https://github.com/hadolint/hadolint/wiki/DL3004
    - https://github.com/goodwithtech/dockle#dkl-di-0001
    - Practice: #2 Least privilege: the app needs no capabilities, no setuid, no sudo: "Less
      capabilities, more security: preventing Docker escalation attacks",
      https://pythonspeed.com/articles/root-capabilities-docker-security/
    """
    tools = [
        t
        for t in _section(facts, "privilege").get("tools") or []
        if t.get("name") in ("sudo", "doas")
    ]
    for tool in tools:
        path = tool.get("path")
        setuid = " setuid root" if str(tool.get("mode") or "").startswith(("4", "6")) else ""
        yield Found(
            f"{tool.get('name')} is installed at {path}{setuid} (mode {tool.get('mode')})",
            at_layer(facts, tool.get("layer"), path),
        )
    if tools:
        return
    for step in facts.get("history") or []:
        created_by = step.get("created_by") or ""
        if _SUDO_IN_STEP.search(created_by):
            layer = step.get("layer")
            where = at_layer(facts, layer) if layer is not None else Location(created_by=created_by)
            yield Found(f"a build step mentions sudo: {_short(created_by)}", where)


def _short(text: str, width: int = 100) -> str:
    """A history step as people wrote it: build-arg prefix and `/bin/sh -c` dropped, one line."""
    return shorten(command(text), width)


def _runtime_principals(facts: Facts) -> set[str]:
    """How sudoers can name the runtime user: ALL, its name, #uid, %group, %#gid."""
    user = facts.get("user") or {}
    names = {"ALL"}
    uid, name = user.get("resolved_uid"), user.get("name")
    if uid is not None:
        names.add(f"#{uid}")
    if name:
        names.add(name)
    gids = {user.get("resolved_gid"), *(user.get("supplementary_gids") or [])} - {None}
    for group in user.get("groups") or []:
        if group.get("gid") in gids or (name and name in (group.get("members") or [])):
            names.add(f"%{group.get('name')}")
            names.add(f"%#{group.get('gid')}")
    names.update(f"%#{gid}" for gid in gids)
    return names


@check(
    "SEC021",
    "passwordless-sudo",
    "sudoers grants commands with NOPASSWD",
    severity="medium",
    category="security",
    needs=("files", "user"),
    fix="Delete the NOPASSWD rule (and sudo with it); do root work at build time.",
    dockle=("DKL-DI-0001",),
)
def passwordless_sudo(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    Rules in /etc/sudoers and the /etc/sudoers.d files sudo reads that let someone run commands
    with `NOPASSWD`. A rule for the runtime user (by name, `#uid`, one of its groups, or `ALL`
    users) is high: the app is then root with one command. A rule for someone else is medium;
    a rule with no sudo installed is inert, so low.

    ## Why it matters
    `app ALL=(ALL) NOPASSWD: ALL` makes a non-root USER meaningless: whoever gets code
    execution in the app runs `sudo` and is root, with every capability the container has.
    hadolint DL3004 and Docker's best practices say not to use sudo in images
    (https://docs.docker.com/build/building/best-practices/#user). NOPASSWD for the runtime
    user is the case that matters: it needs no password an attacker would have to find.

    ## Example
    ```dockerfile
    RUN apt-get install -y sudo \\
     && echo 'app ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/app
    USER app
    ```

    ## Instead
    ```dockerfile
    RUN apt-get install -y the-thing-you-needed-root-for
    USER 10001:10001
    ```

    ## References
    - https://github.com/hadolint/hadolint/wiki/DL3004
    - https://docs.docker.com/build/building/best-practices/#user
    - https://www.sudo.ws/docs/man/sudoers.man/
    - Practice: #2 Least privilege: the app needs no capabilities, no setuid, no sudo: "Less
      capabilities, more security: preventing Docker escalation attacks",
      https://pythonspeed.com/articles/root-capabilities-docker-security/
    """
    privilege = _section(facts, "privilege")
    installed = any(t.get("name") in ("sudo", "doas") for t in privilege.get("tools") or [])
    runtime = _runtime_principals(facts)
    for sudoers in privilege.get("sudoers") or []:
        if not sudoers.get("read_by_sudo", True):
            continue
        path = sudoers.get("path")
        for rule in sudoers.get("rules") or []:
            if not rule.get("nopasswd"):
                continue
            who = rule.get("who") or "?"
            commands = ", ".join(rule.get("commands") or []) or "?"
            runas = f"({rule.get('runas')}) " if rule.get("runas") else ""
            message = f"{path}: `{who}` may run {runas}{commands} as root without a password"
            if not installed:
                severity = "low"
                message += " (no sudo is installed, so the rule is inert for now)"
            elif who in runtime:
                severity = "high"
                message += " — that includes the user the image runs as"
            else:
                severity = "medium"
            yield Found(message, at_layer(facts, sudoers.get("layer"), path), severity=severity,
                        subject=f"{who} {runas}{commands}")  # fmt: skip


# --- ssh ---------------------------------------------------------------------------------------


@check(
    "SEC022",
    "ssh-server-or-keys",
    "An SSH server, baked-in host keys or authorized_keys",
    severity="medium",
    category="security",
    needs=("files",),
    wants=("config",),
    fix="Remove the SSH server and keys; debug with `docker exec` or `kubectl exec`, and "
    "generate host keys at start if SSH is truly needed.",
)
def ssh_server_or_keys(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    A visible `sshd` or `dropbear`, `EXPOSE 22`, `authorized_keys` files anywhere (medium), and
    SSH host private keys `/etc/ssh/ssh_host_*_key` (high), including keys a later layer
    deleted, since their bytes still ship in the layer that wrote them.

    ## Why it matters
    Host keys generated at build time are the same in every container of the image and readable
    by anyone who pulls it, so any of them can be impersonated; an `authorized_keys` lets
    whoever holds the key in. An SSH daemon is one more network service to patch and a way
    around the orchestrator's access control. hadolint DL3001 says commands like `ssh` make no
    sense in a container (https://github.com/hadolint/hadolint/wiki/DL3001), and Docker's
    guidance is one concern per container.

    ## Example
    ```dockerfile
    RUN apt-get install -y openssh-server   # generates /etc/ssh/ssh_host_*_key now
    COPY id_rsa.pub /root/.ssh/authorized_keys
    EXPOSE 22
    ```

    ## Instead
    ```sh
    docker exec -it CONTAINER sh      # or: kubectl exec -it POD -- sh
    ```

    ## References
    - https://github.com/hadolint/hadolint/wiki/DL3001
    - https://docs.docker.com/build/building/best-practices/#decouple-applications
    - https://sysdig.com/blog/dockerfile-best-practices/
    - Practice: none of Turner-Trauring's; hadolint's DL3001 and Docker's advice to decouple
      applications
    """
    ssh = _section(facts, "ssh")
    for key in ssh.get("host_keys") or []:
        path = key.get("path")
        yield Found(
            f"SSH host private key {path} ({size(key.get('size') or 0)}) is baked into the image"
            f"{_deleted_note(key)}: every container shares it and anyone with the image has it",
            at_layer(facts, key.get("layer"), path),
            severity="high",
        )
    for server in ssh.get("servers") or []:
        path = server.get("path")
        yield Found(
            f"an SSH server is installed at {path}", at_layer(facts, server.get("layer"), path)
        )
    for keys in ssh.get("authorized_keys") or []:
        path = keys.get("path")
        yield Found(
            f"{path} lets the holders of its keys log in ({size(keys.get('size') or 0)})",
            at_layer(facts, keys.get("layer"), path),
        )
    if "22/tcp" in (config(facts).get("exposed_ports") or []):
        yield Found("the image EXPOSEs 22/tcp, the SSH port", Location(config="ExposedPorts"))


# --- build-context leaks -----------------------------------------------------------------------

_ENV_TEMPLATES = (".example", ".sample", ".template", ".dist", ".tmpl")
_LEAK_WORDS = {
    "git": "a Git repository (all history, maybe remotes)",
    "hg": "a Mercurial repository",
    "svn": "a Subversion checkout",
    "idea": "JetBrains IDE settings",
    "vscode": "VS Code settings",
    "node_modules": "a node_modules tree",
    "host_venv": "a virtual environment made on another machine",
    "env_file": "a dotenv file",
    "envrc": "a direnv file",
    "dockerfile": "a Dockerfile",
    "compose": "a Compose file",
    "tfstate": "Terraform state",
}
# Files that say how the image is built: harmless, and one cause however many there are (the
# context was copied whole), so one finding lists them.
_BUILD_FILES = frozenset({"dockerfile", "compose"})
# Files that hold settings: when one holds a secret, SEC006 reports it there.
_SECRET_HOLDERS = frozenset({"env_file", "envrc"})
# The fix itself, not a leak: older facts list it.
_NOT_LEAKS = frozenset({"dockerignore"})
# What each kind can give away. Build files and editor settings describe how the image is made,
# not secrets (a credential inside one is SEC006's, found by content); VCS history, dotenv and
# Terraform state hold secrets themselves, and a host venv cannot even run: those keep medium.
_LEAK_SEVERITY = {
    "idea": "low",
    "vscode": "low",
    "node_modules": "low",
}


@check(
    "SEC023",
    "build-context-leak",
    "Files from the build context that have no business in the image",
    severity="medium",
    category="security",
    needs=("files",),
    wants=("secrets",),
    fix="Add a .dockerignore (`.git`, `.env*`, `.venv`, `node_modules`, `*.tfstate`, "
    "`Dockerfile*`, IDE dirs) and COPY explicit paths instead of `COPY . .`.",
    dockle=("DKL-LI-0003",),
)
def build_context_leak(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    Visible files that come from a developer's checkout rather than from the build: `.git`,
    `.hg`, `.svn`, `.idea`, `.vscode`, `node_modules`, a venv whose interpreter is not in the
    image (copied from a host), `.env*`, `.envrc`, `Dockerfile*`, `docker-compose*.yml` and
    `*.tfstate`, outside site-packages and /usr/share. A `.dockerignore` is not reported: it
    is the fix, and holds nothing.

    The severity is per kind, by what it can give away: a `.git` whose config carries a
    credential (a token in a remote URL, or an Authorization `extraheader` that CI checkouts
    persist) is high, and the credential itself is never shown; `.git`, `.hg`, `.svn` (the whole
    history, deleted secrets included), `.env` and `.envrc` (real settings), `*.tfstate` and a
    host venv are medium; `.idea`, `.vscode` and `node_modules` are low; Dockerfiles and
    Compose files are info, all of them in one finding that lists them (one `COPY . .` copied
    them all), and so is a dotenv template (`.env.example`, `.env.sample`): they say how the
    image is built, not secrets, and a credential written inside any file is reported by
    SEC006 on its own. A `.env` or `.envrc` holding a secret is not reported here: SEC006's
    finding for that secret names the file, and one fix (rotate it, keep the file out) covers
    both.

    ## Why it matters
    `COPY . .` without a `.dockerignore` ships whatever the checkout holds: `.git` with the
    whole history (deleted secrets included) and sometimes a push token, `.env` files with
    real settings, Terraform state with cloud credentials, a host venv that cannot even run
    here. Docker's best practices: "Exclude with .dockerignore"
    (https://docs.docker.com/build/building/best-practices/#exclude-with-dockerignore);
    dockle DKL-LI-0003 "Only put necessary files".

    ## Example
    ```dockerfile
    WORKDIR /app
    COPY . .          # no .dockerignore: .git, .env, .venv, Dockerfile come along
    ```

    ## Instead
    ```text
    # .dockerignore
    .git
    .env*
    .venv
    node_modules
    *.tfstate
    ```
    and `COPY pyproject.toml src/ ./` rather than `COPY . .`.

    ## References
    - https://docs.docker.com/build/concepts/context/#dockerignore-files
    - https://docs.docker.com/build/building/best-practices/#exclude-with-dockerignore
    - https://github.com/goodwithtech/dockle#dkl-li-0003
    - Practice: #42 `.dockerignore`: don't ship `.git`, local venvs, junk: Turner-Trauring's article
      on smaller images, https://pythonspeed.com/articles/smaller-python-docker-images/
    """
    build_files: list[dict[str, Any]] = []
    # Visible files SEC006 reports a secret in: a dotenv's secret is that finding, not this one.
    with_secret = {s.get("path") for s in facts.get("secrets") or []
                   if s.get("where") == "file" and not s.get("deleted")}  # fmt: skip
    for leak in _files(facts).get("context_leaks") or []:
        name = leak.get("name") or "?"
        if name in _NOT_LEAKS or (name in _SECRET_HOLDERS and leak.get("path") in with_secret):
            continue
        if name in _BUILD_FILES:
            build_files.append(leak)
            continue
        path = leak.get("path")
        what = _LEAK_WORDS.get(name, name)
        files, nbytes = leak.get("files") or 0, leak.get("bytes") or 0
        amount = f"{files} files, {size(nbytes)}" if leak.get("kind") == "dir" else size(nbytes)
        message = f"{path} is {what} ({amount}) in {leak.get('dir')}"
        severity = _LEAK_SEVERITY.get(name)
        if name == "git" and leak.get("credential"):
            how = "a remote URL" if leak.get("credential") == "url" else "an Authorization header"
            message += f"; its config carries a credential in {how} (not shown)"
            severity = "high"
        if name == "host_venv" and leak.get("venv_home"):
            message += f"; its interpreter {leak.get('venv_home')} is not in the image"
        if name == "env_file" and (path or "").lower().endswith(_ENV_TEMPLATES):
            # `.env.example` documents the settings' names; SEC006 reports real-looking values.
            message += " (a template: names and placeholders)"
            severity = "info"
        yield Found(message, at_layer(facts, leak.get("layer"), path), severity=severity)
    if build_files:
        yield _build_files_found(facts, build_files)


def _build_files_found(facts: Facts, leaks: list[dict[str, Any]]) -> Found:
    """One finding for the build files copied with the app, in the layer that copied the most."""
    paths = sorted(str(leak.get("path")) for leak in leaks)
    dirs = sorted({str(leak.get("dir")) for leak in leaks})
    layers = defaultdict(int)
    for leak in leaks:
        layers[leak.get("layer")] += 1
    layer = max(layers, key=lambda k: (layers[k], -(k or 0)))
    shown = ", ".join(paths[:8]) + (f" and {len(paths) - 8} more" if len(paths) > 8 else "")
    return Found(
        f"{len(paths)} build file(s) copied with the app: {shown}; they say how the image is "
        "built and hold nothing it runs",
        at_layer(facts, layer, dirs[0] if len(dirs) == 1 else None),
        severity="info",
        # The list grows or shrinks with the checkout; the cause is the copy into these dirs.
        identity=f"build files copied with the app into {', '.join(dirs)}",
    )


# --- size: toolchain, leftovers, chown duplication ---------------------------------------------


def _dev_packages(facts: Facts) -> list[str]:
    packages = (facts.get("os_packages") or {}).get("packages") or []
    return sorted({p.get("name") for p in packages if _DEV_PACKAGE.fullmatch(p.get("name") or "")})


@check(
    "SIZE020",
    "build-toolchain",
    "Compilers, -dev packages or Python headers in the runtime image",
    severity="medium",
    category="size",
    needs=("files",),
    wants=("os_packages",),
    fix="Build wheels or the venv in a builder stage and COPY only the result into a slim "
    "runtime stage without compilers and -dev packages.",
)
def build_toolchain(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    Compilers in the bin dirs (gcc, cc, g++, c++, clang, tcc, gfortran, versioned or
    triplet-prefixed like `x86_64-linux-gnu-gcc-12`), `make`, and OS packages that only
    building needs: names ending in `-dev`, `build-essential`, `gcc-N`, `g++-N`, `cpp-N`,
    `clang-N`. Header and static-library totals are added to the message. A `Python.h` without
    any of those is low, and the one a source-built CPython installs under
    /usr/local/include/pythonX.Y (the official `python` images) is not reported.

    ## Why it matters
    A compiler needed for one `pip install` step stays in every container: tens to hundreds of
    MB, more packages to patch, and a ready toolchain for an attacker. Removing it in a later
    layer does not shrink the image. The fix is a multi-stage build
    (https://pythonspeed.com/articles/multi-stage-docker-python/,
    https://pythonspeed.com/articles/smaller-python-docker-images/).

    ## Example
    ```dockerfile
    FROM python:3.12-slim
    RUN apt-get update && apt-get install -y gcc libpq-dev
    RUN pip install psycopg2
    ```

    ## Instead
    ```dockerfile
    FROM python:3.12-slim AS build
    RUN apt-get update && apt-get install -y gcc libpq-dev
    RUN pip wheel --wheel-dir /wheels psycopg2
    FROM python:3.12-slim
    RUN apt-get update && apt-get install -y --no-install-recommends libpq5 \\
     && rm -rf /var/lib/apt/lists/*
    COPY --from=build /wheels /wheels
    RUN pip install --no-cache-dir /wheels/* && rm -rf /wheels
    ```

    ## References
    - https://pythonspeed.com/articles/multi-stage-docker-python/
    - https://pythonspeed.com/articles/smaller-python-docker-images/
    - https://docs.docker.com/build/building/multi-stage/
    - Practice: #12 No compilers or -dev packages in the runtime image: build in a multi-stage
      build: "Multi-stage builds #2: Python specifics",
      https://pythonspeed.com/articles/multi-stage-docker-python/
    - Practice: #43 A slim variant rather than the full `python:3.X` image at runtime: "The best
      Docker base image for your Python application",
      https://pythonspeed.com/articles/base-image-python-docker-images/
    """
    toolchain = _section(facts, "toolchain")
    headers = toolchain.get("header_dirs") or []
    libs = toolchain.get("static_libs") or {}
    extra = [f"{h.get('path')}: {h.get('files')} files, {size(h.get('bytes') or 0)}"
             for h in headers]  # fmt: skip
    if libs.get("files"):
        extra.append(f"{libs.get('files')} static libraries, {size(libs.get('bytes') or 0)}")
    note = f" ({'; '.join(extra)})" if extra else ""
    by_layer: dict[int | None, list[str]] = defaultdict(list)
    for tool in (toolchain.get("compilers") or []) + (toolchain.get("make") or []):
        by_layer[tool.get("layer")].append(tool.get("path") or "?")
    for layer, paths in sorted(by_layer.items(), key=lambda item: (item[0] is None, item[0])):
        shown = ", ".join(paths[:8]) + (f" and {len(paths) - 8} more" if len(paths) > 8 else "")
        yield Found(f"build tools in the runtime image: {shown}{note}",
                    at_layer(facts, layer, paths[0]))  # fmt: skip
        note = ""
    dev = _dev_packages(facts)
    if dev:
        shown = ", ".join(dev[:10]) + (f" and {len(dev) - 10} more" if len(dev) > 10 else "")
        yield Found(f"{len(dev)} build-only OS packages are installed: {shown}{note}",
                    Location(path="/var/lib/dpkg/status"))  # fmt: skip
    if by_layer or dev:
        return
    for header in toolchain.get("python_headers") or []:
        path = header.get("path") or ""
        if re.fullmatch(r"/usr/local/include/python3\.\d+t?/Python\.h", path):
            continue
        yield Found(f"{path}: Python's C headers, only needed to build extensions{note}",
                    at_layer(facts, header.get("layer"), path), severity="low")  # fmt: skip


_LEFTOVER_WORDS = {
    "wheel": "wheel",
    "sdist": "sdist",
    "get-pip": "get-pip.py",
    "deb": ".deb",
    "rpm": ".rpm",
    "apk": ".apk",
    "installer": "installer",
}


@check(
    "SIZE021",
    "leftover-artifacts",
    "Wheels, sdists, packages or installers left in the image",
    severity="low",
    category="size",
    needs=("files",),
    fix="Install from a builder stage or a `RUN --mount=type=bind` of the files, or delete them "
    "in the same RUN that uses them.",
)
def leftover_artifacts(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    Build inputs outside site-packages, /usr/share and the package-manager caches: `*.whl`,
    sdists (`name-1.2.tar.gz`, `.zip`, `.tar.bz2`), `get-pip.py`, `.deb`/`.rpm`/`.apk` files and
    conda installers (`Miniconda*.sh`). Files a later layer deleted count too: their bytes are
    still shipped in the layer that wrote them. One finding per layer that wrote them (the step
    to change), with the bytes and the later layer that deleted them; leftovers under the
    `size-floor` threshold (1 MiB) are not reported. Deleted leftovers are this check's to
    report: SIZE003 leaves their bytes out of its own count.

    ## Why it matters
    They were needed for one step and add only weight afterwards; deleting them in a later
    `RUN` does not help, since layers are append-only
    (https://pythonspeed.com/articles/smaller-python-docker-images/). Docker's best practices
    recommend multi-stage builds and bind mounts for exactly this
    (https://docs.docker.com/build/building/best-practices/).

    ## Example
    ```dockerfile
    COPY wheels/ /tmp/wheels/
    RUN pip install /tmp/wheels/*.whl
    RUN rm -rf /tmp/wheels          # too late: layer 1 still holds them
    ```

    ## Instead
    ```dockerfile
    RUN --mount=type=bind,source=wheels,target=/tmp/wheels pip install /tmp/wheels/*.whl
    ```

    ## References
    - https://docs.docker.com/build/building/best-practices/
    - https://docs.docker.com/reference/dockerfile/#run---mounttypebind
    - https://pythonspeed.com/articles/smaller-python-docker-images/
    - Practice: #41 Layers are append-only: deleting in a later layer doesn't shrink the image:
      Turner-Trauring's article on smaller images,
      https://pythonspeed.com/articles/smaller-python-docker-images/
    """
    groups: dict[int | None, list[dict[str, Any]]] = defaultdict(list)
    for item in _section(facts, "leftovers").get("items") or []:
        groups[item.get("layer")].append(item)
    for layer, items in sorted(groups.items(), key=lambda g: -_total(g[1])):
        if _total(items) < ctx.thresholds.size_floor:
            continue
        kinds = defaultdict(int)
        for item in items:
            kinds[_LEFTOVER_WORDS.get(item.get("name"), item.get("name"))] += 1
        what = ", ".join(f"{n} {k}{'s' if n > 1 and not k.startswith('.') else ''}"
                         for k, n in sorted(kinds.items()))  # fmt: skip
        paths = sorted(str(i.get("path")) for i in items)
        shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        yield Found(f"{what} ({size(_total(items))}) {_leftover_fate(facts, items)}: {shown}",
                    at_layer(facts, layer, _common_dir(paths)),
                    identity=f"{', '.join(sorted(kinds))} {_leftover_state(items)}")  # fmt: skip


def _leftover_fate(facts: Facts, items: list[dict[str, Any]]) -> str:
    """Left in the image, or deleted by which later layer (and step) yet still shipped."""
    deleted: dict[int, int] = defaultdict(int)
    for item in items:
        if item.get("deleted_in") is not None:
            deleted[item["deleted_in"]] += item.get("size") or 0
    if not deleted:
        return "left in the image"
    kept = [i for i in items if i.get("deleted_in") is None]
    mixed = len(deleted) > 1 or bool(kept)
    fates = []
    for layer, nbytes in sorted(deleted.items()):
        by = layer_step(facts, layer)
        amount = f"{size(nbytes)} of them " if mixed else ""
        fates.append(f"{amount}deleted in {layer_name(layer)}"
                     + (f" ({_short(by, 70)})" if by else ""))  # fmt: skip
    left = f"; {size(_total(kept))} still visible" if kept else ""
    return ", ".join(fates) + f" yet still shipped{left}"


def _leftover_state(items: list[dict[str, Any]]) -> str:
    return "deleted yet shipped" if all(i.get("deleted_in") is not None for i in items) else "left"


def _common_dir(paths: list[str]) -> str | None:
    """The deepest dir holding every path (a file's own path when there is one)."""
    if len(paths) == 1:
        return paths[0]
    parts = [p.split("/")[:-1] for p in paths]
    common = []
    for names in zip(*parts, strict=False):
        if len(set(names)) != 1:
            break
        common.append(names[0])
    joined = "/".join(common)
    return joined if joined not in ("", "/") else None


def _total(items: list[dict[str, Any]]) -> int:
    return sum(i.get("size") or 0 for i in items)


@check(
    "SIZE022",
    "chown-duplication",
    "A recursive chown/chmod re-adds whole trees in a new layer",
    severity="low",
    category="size",
    needs=("files",),
    fix="Set owner and mode as files arrive: `COPY --chown=… --chmod=…`, or chown in the same "
    "RUN that creates them (better: keep code root-owned).",
)
def chown_duplication(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    Files a later layer writes again with the same size and mtime but another owner or mode:
    what `RUN chown -R` or `chmod -R` does after a `COPY` or an install. One finding per
    re-adding layer (the `chown -R` step is the one cause, however many layers it copies
    from), listing the layers it copied from, with the bytes, the history steps and examples.
    Medium when it duplicates more than 10 MiB; under the `size-floor` threshold (1 MiB) it is
    not reported. These duplicated bytes are this check's: SIZE003 leaves them out of its own
    count.

    ## Why it matters
    A layer stores whole files, so changing only the metadata copies every byte again; the
    old copy stays in the lower layer. A `chown -R` over a venv doubles its size for nothing
    (https://blog.mornati.net/docker-images-and-chown/). `COPY --chown` sets the owner as the
    files arrive, at no cost (https://docs.docker.com/reference/dockerfile/#copy---chown---chmod).

    ## Example
    ```dockerfile
    COPY . /app
    RUN pip install -r /app/requirements.txt
    RUN chown -R app:app /app /usr/local/lib/python3.12   # every file again
    ```

    ## Instead
    ```dockerfile
    COPY --chown=app:app . /app
    # or, better, keep code root-owned and read-only for the app user
    ```

    ## References
    - https://blog.mornati.net/docker-images-and-chown/
    - https://docs.docker.com/reference/dockerfile/#copy---chown---chmod
    - https://pythonspeed.com/articles/smaller-python-docker-images/
    - Practice: #41 Layers are append-only: deleting in a later layer doesn't shrink the image:
      Turner-Trauring's article on smaller images,
      https://pythonspeed.com/articles/smaller-python-docker-images/
    """
    by_step: dict[int | None, list[dict[str, Any]]] = defaultdict(list)
    for group in _files(facts).get("chown_duplicates") or []:
        by_step[group.get("readded_in")].append(group)
    for readded, groups in sorted(by_step.items(), key=lambda item: -_bytes(item[1])):
        total = _bytes(groups)
        if total < ctx.thresholds.size_floor:
            continue
        changed = " and ".join(
            word for word, key in (("owner", "owner_changed"), ("mode", "mode_changed"))
            if any(g.get(key) for g in groups)
        ) or "metadata"  # fmt: skip
        groups = sorted(groups, key=lambda g: -(g.get("bytes") or 0))
        sources = [f"{layer_name(g.get('layer'))} ({_short(g.get('created_by') or '?', 50)})"
                   for g in groups[:3]]  # fmt: skip
        if len(groups) > 3:
            sources.append(f"{len(groups) - 3} more layer(s)")
        examples = ", ".join((groups[0].get("examples") or [])[:3])
        files = sum(g.get("files") or 0 for g in groups)
        yield Found(
            f"{files} files ({size(total)}) are written again by {layer_name(readded)} "
            f"({_short(groups[0].get('readded_by') or '?', 70)}) only to change their {changed}; "
            f"first written by {', '.join(sources)}; e.g. {examples}",
            at_layer(facts, readded),
            severity="medium" if total > CHOWN_MEDIUM_BYTES else None,
            # One step re-adds them all; which layers it copies from is detail.
            identity=f"written again only to change their {changed}",
        )


def _bytes(groups: list[dict[str, Any]]) -> int:
    return sum(g.get("bytes") or 0 for g in groups)
