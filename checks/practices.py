"""Turner-Trauring's practices that a built image decides from its files and history: OS security
updates applied, the command running in the environment that holds the dependencies, locked
dependencies, a HEALTHCHECK that can run, and a distribution with long support.

Facts these read besides the config and history: `os_packages.database_writes`,
`python.venvs[].dangling_scripts`, `python.healthcheck` and `python.lock_files`.
"""

from __future__ import annotations

import ast
import posixpath
import re
import shlex
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

from packaging.version import InvalidVersion, Version

from checks.access import at_layer, config, env, static_probe, step
from checks.metadata import aware, parse_time
from checks.model import Context, Facts, Found, Location, Skip, command, layer_name, shorten
from checks.registry import check

ARTICLES = "https://pythonspeed.com/articles/"
# How much older than the build the packages may be before the build is said to reuse an old
# layer: Debian's and Ubuntu's images are rebuilt every few weeks.
# Installers and build tools: how they got in says nothing about the app's dependencies.
TOOLING = frozenset({
    "pip", "setuptools", "wheel", "uv", "poetry", "poetry-core", "poetry-plugin-export", "pipenv",
    "pip-tools", "virtualenv", "pdm", "hatch", "hatchling", "build", "pipx", "flit", "flit-core",
    "setuptools-scm", "distribute", "-virtualenv",
})  # fmt: skip


def _python(facts: Facts) -> dict[str, Any]:
    return facts.get("python") or {}


def _entry(facts: Facts) -> dict[str, Any]:
    return _python(facts).get("entrypoint_interpreter") or {}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _steps(facts: Facts) -> list[tuple[int | None, str]]:
    """(layer, instruction) for each history step, oldest first."""
    return [
        (h.get("layer"), command(h.get("created_by") or "")) for h in facts.get("history") or []
    ]


def _segments(script: str) -> list[list[str]]:
    """The simple commands of a shell line, split on `&&`, `;`, `|` and the like."""
    lexer = shlex.shlex(script, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:
        return []
    out: list[list[str]] = [[]]
    for token in tokens:
        if token in ("&&", "||", ";", "&", "|", ";;", "|&", "(", ")"):
            out.append([])
        else:
            out[-1].append(token)
    return [s for s in out if s]


# --- security updates ---------------------------------------------------------------------------

# A step that brings the installed packages up to date, not one that only adds packages.
_UPGRADE = re.compile(
    r"\b(?:apt-get|apt|aptitude)\b[^;&|]*?\s(?:dist-|full-)?upgrade\b"
    r"|\bapk\b[^;&|]*?\supgrade\b"
    r"|\b(?:dnf|yum|microdnf|tdnf)\b[^;&|]*?\s(?:upgrade|update|distro-sync)\b"
    r"|\bzypper\b[^;&|]*?\s(?:up|update|dup|dist-upgrade|patch)\b"
)


def _believable(moment: datetime | None) -> datetime | None:
    """A time a builder really recorded: reproducible builds stamp the epoch or a fixed date."""
    return aware(moment) if moment is not None and moment.year >= 2000 else None


def _built(facts: Facts) -> datetime | None:
    image = facts.get("image") or {}
    created = _believable(parse_time(image.get("created")))
    if created is not None:
        return created
    stamps = [_believable(parse_time(h.get("created"))) for h in facts.get("history") or []]
    known = [s for s in stamps if s is not None]
    return max(known) if known else None


def _layer_time(facts: Facts, layer: int, mtime: int | None) -> tuple[datetime | None, str]:
    """When a layer was made: its history step's time, else the database file's mtime."""
    for h in facts.get("history") or []:
        if h.get("layer") == layer:
            moment = _believable(parse_time(h.get("created")))
            if moment is not None:
                return moment, "the time its history step records"
    if mtime:
        moment = _believable(datetime.fromtimestamp(mtime, UTC))
        if moment is not None:
            return moment, "the database file's modification time"
    return None, ""


def _stamped(facts: Facts, layer: int) -> bool:
    """Reproducible builds stamp every new step with one time (SOURCE_DATE_EPOCH); real steps
    differ by at least their nanoseconds."""
    history = facts.get("history") or []
    mine = next((h.get("created") for h in history if h.get("layer") == layer), None)
    return bool(mine) and sum(1 for h in history if h.get("created") == mine) > 1


@check(
    "SEC025",
    "os-packages-not-updated",
    "The OS packages were last updated long before the image was built, or long ago",
    severity="medium",
    category="security",
    needs=("os_packages", "history", "image"),
    fix="Run `apt-get update && apt-get -y upgrade` (or `apk upgrade`) in the final stage, and "
    "rebuild with `docker build --pull --no-cache` on a schedule.",
)
def os_packages_not_updated(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    When the image's OS packages last got their updates. Of the layers that wrote the package
    database (`/var/lib/dpkg/status` or distroless `status.d`, apk's `installed`, the rpm
    database), the newest one whose build step upgraded the packages (`apt-get upgrade`,
    `dist-upgrade`, `apk upgrade`, `dnf upgrade`, ...) counts; when no step did, the first
    one, the base image's. Its time is the history step's `created` (the database file's
    modification time when history does not map steps to layers). It is reported when that is
    more than 30 days (the `package-lag-days` threshold) before the image was built (a cached
    upgrade layer, or an old base that was never upgraded), or older than the `image_age_days`
    threshold (90 days) today; high past twice that. Images without a package database are
    skipped, and so are builds that stamp a fixed time (the epoch, or `SOURCE_DATE_EPOCH` shared
    by the upgrade step and others), which does not say when the upgrade ran.

    ## Why it matters
    Base images lag behind their distribution's security fixes, and Docker's build cache keeps
    reusing the layer that ran `apt-get upgrade` months ago: a freshly built image can ship
    packages with long-fixed vulnerabilities. Turner-Trauring calls "don't run apt-get upgrade"
    the worst so-called best practice for Docker
    (https://pythonspeed.com/articles/security-updates-in-docker/), and asks for rebuilds without
    the cache (https://pythonspeed.com/articles/docker-cache-insecure-images/).

    ## Example
    ```dockerfile
    FROM python:3.12-slim              # pulled months ago, never upgraded
    RUN apt-get update && apt-get install -y libpq5   # only adds packages
    ```

    ## Instead
    ```dockerfile
    FROM python:3.12-slim
    RUN apt-get update && apt-get -y upgrade && \\
        apt-get install -y --no-install-recommends libpq5 && rm -rf /var/lib/apt/lists/*
    ```
    and rebuild weekly with `docker build --pull --no-cache`, then redeploy.

    ## References
    - https://pythonspeed.com/articles/security-updates-in-docker/
    - https://pythonspeed.com/articles/docker-cache-insecure-images/
    - https://pythonspeed.com/articles/disabling-docker-caching/
    - https://pythonspeed.com/articles/system-packages-docker/
    - Practice: #6 Install OS security updates during the build (`apt-get upgrade`): "The worst
      so-called best practice for Docker", https://pythonspeed.com/articles/security-updates-in-docker/
    - Practice: #7 Build caching freezes old packages, rebuild without the cache on a schedule:
      "Avoiding insecure images from Docker build caching",
      https://pythonspeed.com/articles/docker-cache-insecure-images/
    """
    packages = facts.get("os_packages") or {}
    writes = packages.get("database_writes")
    if writes is None:
        raise Skip("the facts do not list the package database's layers (os_packages)")
    if not writes:
        raise Skip("the image has no OS package database (dpkg, apk or rpm)")
    upgrades = [w for w in writes if _UPGRADE.search(command(step(facts, w.get("layer")) or ""))]
    refresh = upgrades[-1] if upgrades else writes[0]
    layer = refresh.get("layer")
    when, source = _layer_time(facts, layer, refresh.get("mtime"))
    if when is None:
        raise Skip(f"no believable time for {layer_name(layer)}, which last updated the packages")
    if upgrades and _stamped(facts, layer):
        raise Skip(f"{layer_name(layer)}'s time is a fixed stamp (SOURCE_DATE_EPOCH) shared "
                   "with other steps, not when its upgrade ran")  # fmt: skip
    built = _built(facts)
    lag = (built - when).days if built is not None else None
    age = (aware(ctx.now) - when).days
    limit = ctx.thresholds.image_age_days
    lag_limit = ctx.thresholds.package_lag_days
    late = lag is not None and lag > lag_limit
    old = age > limit
    if not late and not old:
        return
    how = (
        f"the last upgrade of the OS packages ran in {layer_name(layer)}"
        if upgrades
        else "no build step upgrades the OS packages; they date from the base image's "
        f"{layer_name(layer)}"
    )
    said = [f"{how}, made {when.date().isoformat()} ({source})"]
    if late and built is not None:
        said.append(f"{lag} days before the image was built ({built.date().isoformat()})")
    said.append(f"{age} days ago")
    fix = None
    if upgrades:
        fix = ("Rebuild without the cache (`docker build --pull --no-cache`) so the upgrade step "
               "runs again, on a schedule, and redeploy.")  # fmt: skip
    yield Found(
        ", ".join(said) + ": security fixes released since are missing",
        at_layer(facts, layer, refresh.get("path")),
        severity="high" if age > 2 * limit else None,
        fix=fix,
        rule="cached-upgrade" if upgrades else "never-upgraded",
    )


# --- the environment that holds the dependencies ------------------------------------------------


def _app_dists(facts: Facts, environment: str | None) -> list[dict[str, Any]]:
    """Distributions in one environment other than installers and build tools."""
    return [
        p
        for p in _python(facts).get("packages") or []
        if p.get("environment") == environment and normalize(p.get("name") or "") not in TOOLING
    ]


def _prefix_of(facts: Facts, interpreter: str | None) -> str | None:
    for i in _python(facts).get("interpreters") or []:
        if interpreter and interpreter in (i.get("path"), *(i.get("symlinks") or [])):
            return i.get("prefix")
    return None


def _python_dirs(facts: Facts) -> set[str]:
    """Directories that hold a `python`-named program (interpreters, their links, venv bins)."""
    py = _python(facts)
    paths = []
    for i in py.get("interpreters") or []:
        paths += [i.get("path"), *(i.get("symlinks") or [])]
    paths += [v.get("python") for v in py.get("venvs") or []]
    return {posixpath.dirname(p) for p in paths if p}


def _probe_says(facts: Facts, venv: str) -> str | None:
    """What the static probe showed about the command's Python and the venv: "searches" (the
    venv is on its sys.path), "imports" (the app imported fine), "cor004" (an import failed for
    a module the venv has, which COR004 reports with the same fix), else None."""
    probe = static_probe(facts)
    if probe is None:
        return None
    inside = venv.rstrip("/") + "/"
    if any(str(p).startswith(inside) for p in probe.get("sys_path") or []):
        return "searches"
    imports = probe.get("imports") or {}
    if imports.get("verdict") == "ok":
        return "imports"
    found = imports.get("found_elsewhere") or []
    if imports.get("verdict") == "broken" and any(str(p).startswith(inside) for p in found):
        return "cor004"
    return None


_BROKEN_COMMAND = re.compile(
    r"does not exist in the image|is not found on PATH|is a dangling symlink|"
    r"is not an executable file|has no shebang line"
)


@check(
    "COR005",
    "command-skips-venv",
    "The command does not run in the virtualenv that holds the dependencies",
    severity="high",
    category="correctness",
    needs=("config", "python"),
    wants=("runtime.static",),
    fix="Put the venv first on PATH (`ENV VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH`) and "
    "build it at the path and on the base Python it runs with.",
)
def command_skips_venv(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    Three ways the dependencies are installed but not where the command looks:
    - `system-python`: the default command runs an interpreter outside any venv while a venv
      holds the installed distributions and that interpreter's own environment holds none
      (deps in `/opt/venv`, `CMD ["python", ...]` finds `/usr/local/bin/python`). Not reported
      when `PYTHONPATH` names the venv, or when the static probe shows the command's Python
      searching it or importing the app fine; a failed import of a module the venv has is
      COR004's finding, with the same fix, and is not repeated here.
    - `virtual-env-path`: `VIRTUAL_ENV` names a venv of the image but its `bin` is not on PATH,
      or comes after a directory with another `python` (medium; low when the command names
      the venv's python by its path anyway).
    - `relocated-venv`: a venv whose `bin/python` dangles, or whose console scripts' `#!` lines
      name an interpreter missing from the image (the venv was built at another path or on
      another base and copied). The default command's own failure is COR002's and COR003's.

    ## Why it matters
    `source venv/bin/activate` in a RUN step does not last past that step, and a venv is not
    relocatable: its scripts hard-code the path it was made at and `pyvenv.cfg` the base
    interpreter (https://docs.python.org/3/library/venv.html). The result is an image where
    `ModuleNotFoundError` appears only in production, or where `docker exec app alembic upgrade`
    fails with "no such file or directory"
    (https://pythonspeed.com/articles/activate-virtualenv-dockerfile/;
    https://pythonspeed.com/articles/multi-stage-docker-python/).

    ## Example
    ```dockerfile
    FROM python:3.12 AS build
    RUN python -m venv /build/.venv && /build/.venv/bin/pip install -r requirements.txt
    FROM python:3.12-slim
    COPY --from=build /build/.venv /opt/venv   # scripts still say #!/build/.venv/bin/python
    CMD ["python", "-m", "app"]                # /usr/local/bin/python: not the venv
    ```

    ## Instead
    ```dockerfile
    FROM python:3.12 AS build
    RUN python -m venv /opt/venv && /opt/venv/bin/pip install -r requirements.txt
    FROM python:3.12-slim
    COPY --from=build /opt/venv /opt/venv
    ENV VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH
    CMD ["python", "-m", "app"]
    ```

    ## References
    - https://pythonspeed.com/articles/activate-virtualenv-dockerfile/
    - https://pythonspeed.com/articles/multi-stage-docker-python/
    - https://docs.python.org/3/library/venv.html#how-venvs-work
    - Practice: #18 Activate the venv with `ENV PATH`/`VIRTUAL_ENV`, not `source activate` in
      RUN: "Activating a virtualenv in a Dockerfile",
      https://pythonspeed.com/articles/activate-virtualenv-dockerfile/
    - Practice: #19 Multi-stage: copy the venv at the same path onto the same base interpreter:
      "Multi-stage builds #2: Python specifics",
      https://pythonspeed.com/articles/multi-stage-docker-python/
    """
    py = _python(facts)
    venvs = {v.get("path"): v for v in py.get("venvs") or [] if v.get("path")}
    if not venvs:
        return
    entry = _entry(facts)
    variables = env(facts)
    virtual_env = (variables.get("VIRTUAL_ENV") or "").rstrip("/")
    reported: set[str] = set()

    # system-python
    prefix = _prefix_of(facts, entry.get("base_interpreter"))
    if entry.get("interpreter") and not entry.get("venv") and prefix:
        own = _app_dists(facts, prefix)
        holders = sorted(((len(_app_dists(facts, path)), path) for path in venvs), reverse=True)
        count, venv = holders[0]
        pythonpath = variables.get("PYTHONPATH") or ""
        probe = _probe_says(facts, venv)
        if count and not own and venv not in pythonpath and probe in (None, "cor004"):
            reported.add(venv)  # the same cause as a VIRTUAL_ENV/PATH mismatch: said once
        if count and not own and venv not in pythonpath and probe is None:
            names = ", ".join(sorted(str(p.get("name")) for p in _app_dists(facts, venv))[:5])
            also = (f" (VIRTUAL_ENV={virtual_env} is set, but it does not choose the python)"
                    if virtual_env == venv else "")  # fmt: skip
            yield Found(
                f"the command runs {entry.get('interpreter')}, outside the venv {venv} that holds "
                f"the {count} installed distribution(s) ({names}): they cannot be imported{also}",
                Location(config="Entrypoint/Cmd", path=venv),
                fix=f"Put {venv}/bin first on PATH (`ENV PATH={venv}/bin:$PATH`) or run "
                f"{venv}/bin/python.",
                rule="system-python",
            )

    # virtual-env-path
    if virtual_env and virtual_env in venvs and virtual_env not in reported:
        path_dirs = [d.rstrip("/") for d in (variables.get("PATH") or "").split(":") if d]
        wanted = f"{virtual_env}/bin"
        before = path_dirs[: path_dirs.index(wanted)] if wanted in path_dirs else path_dirs
        shadow = [d for d in before if d in _python_dirs(facts)]
        if wanted not in path_dirs or shadow:
            why = (f"{wanted} is not on PATH" if wanted not in path_dirs
                   else f"{shadow[0]} comes before {wanted} on PATH")  # fmt: skip
            direct = entry.get("venv") == virtual_env
            yield Found(
                f"VIRTUAL_ENV={virtual_env} but {why}: `python`, `pip` and console scripts run "
                "outside the venv"
                + (" (the default command names the venv's python itself)" if direct else ""),
                Location(config="Env.PATH"),
                severity="low" if direct else "medium",
                fix=f"Set `ENV PATH={wanted}:$PATH` after VIRTUAL_ENV.",
                rule="virtual-env-path",
            )

    # relocated-venv
    command_broken = bool(_BROKEN_COMMAND.search(entry.get("note") or ""))
    command_path = entry.get("resolved_path") or ""
    for path, venv in sorted(venvs.items()):
        scripts = [s for s in venv.get("dangling_scripts") or []
                   if not (command_broken and s.get("path") == command_path)]  # fmt: skip
        dangling = not venv.get("interpreter")
        if command_broken and command_path.startswith(path.rstrip("/") + "/"):
            continue  # the command itself cannot run: COR002/COR003
        if not scripts and not dangling:
            continue
        said = []
        if dangling:
            home = venv.get("home")
            missing = " (missing from the image)" if home and not venv.get("home_exists") else ""
            said.append(f"its {venv.get('python') or 'bin/python'} dangles; pyvenv.cfg home is "
                        f"{home}{missing}")  # fmt: skip
        if scripts:
            first = scripts[0]
            said.append(f"{len(scripts)} console script(s) name an interpreter the image lacks "
                        f"(e.g. {first.get('path')} runs {first.get('interpreter')})")  # fmt: skip
        yield Found(
            f"the venv {path} was built elsewhere and copied: " + "; ".join(said),
            Location(path=path),
            severity="medium",
            fix=f"Create the venv at {path} in the build stage, on the same base Python as the "
            "final stage, then `COPY --from=build` it to the same path.",
            rule="relocated-venv",
        )


# --- locked dependencies ------------------------------------------------------------------------

_PIP = re.compile(r"pip(?:\d(?:\.\d+)?)?")
_PY = re.compile(r"python(?:\d(?:\.\d+)?)?")
# pip install options that take a value (`--opt value`); the rest are flags.
_VALUED = frozenset({
    "-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-i", "--index-url",
    "--extra-index-url", "-f", "--find-links", "-t", "--target", "--prefix", "--root",
    "--trusted-host", "--platform", "--python-version", "--implementation", "--abi", "--src",
    "--upgrade-strategy", "--progress-bar", "--cache-dir", "--log", "--python", "-p",
    "--only-binary", "--no-binary", "--report", "--global-option", "--config-settings", "-C",
    "--timeout", "--retries", "--proxy", "--cert", "--client-cert", "--exists-action",
    "--root-user-action", "--index-strategy", "--python-platform", "--keyring-provider",
    "--index", "--default-index", "--resolution", "--prerelease", "--exclude-newer",
})  # fmt: skip
# `--no-index` is not among them: it installs whatever a wheel directory holds, and those wheels
# were resolved from the same kind of requirements when `pip wheel` built them.
_LOCKED_OPTIONS = frozenset({"--require-hashes", "--no-deps"})


def _pip_installs(instruction: str) -> Iterator[list[str]]:
    """The arguments after `install` of each pip (or `python -m pip`, `uv pip`) install."""
    if not instruction.startswith("RUN "):
        return
    for words in _segments(instruction[4:]):
        i = 0
        while i < len(words) and (re.match(r"[A-Za-z_]\w*=", words[i]) or words[i] in
                                  ("sudo", "exec", "command", "env")):  # fmt: skip
            i += 1
        rest = words[i:]
        base = posixpath.basename(rest[0]) if rest else ""
        if _PY.fullmatch(base) and rest[1:3] == ["-m", "pip"]:
            rest = rest[3:]
        elif base == "uv" and rest[1:2] == ["pip"]:
            rest = rest[2:]
        elif _PIP.fullmatch(base):
            rest = rest[1:]
        else:
            continue
        while rest and rest[0].startswith("-"):  # pip's own options before the subcommand
            rest = rest[1:]
        if rest and rest[0] == "install":
            yield rest[1:]


def _wheel_install(args: list[str]) -> bool:
    """Whether a pip install takes wheels built earlier (`/wheels/*`, `*.whl`, `--no-index
    --find-links DIR`) instead of naming what it installs: a builder stage's `pip wheel -r`."""
    if any(a.endswith(".whl") or ("/" in a and a.endswith("*")) for a in args):
        return True
    links = any(a in ("-f", "--find-links") or a.startswith("--find-links=") for a in args)
    return links and "--no-index" in args


def _wheel_sources(facts: Facts, layer: int | None) -> list[dict[str, Any]]:
    """The requirements files in the image a wheel install was built from: those whose names the
    step's layer installed, at least half of each file's (the wheels' origin is not recorded)."""
    if layer is None:
        return []
    installed = {normalize(p.get("name") or "") for p in _python(facts).get("packages") or []
                 if p.get("layer") == layer}  # fmt: skip
    found = []
    for f in _python(facts).get("lock_files") or []:
        if f.get("kind") != "requirements":
            continue
        names = {p.split("==")[0].rstrip("@") for p in f.get("pins") or []}
        names |= {normalize(n) for n in f.get("unpinned") or []}
        names -= TOOLING
        if names and len(names & installed) * 2 >= len(names):
            found.append(f)
    return found


def _parse_install(args: list[str]) -> tuple[list[str], list[str], list[str], bool]:
    """(requirement files, constraint files, specifiers, locked by its options)."""
    files: list[str] = []
    constraints: list[str] = []
    specs: list[str] = []
    locked = False
    i = 0
    while i < len(args):
        word = args[i]
        name, eq, value = word.partition("=")
        if word.startswith("-"):
            option = name if eq and name.startswith("--") else word
            if not eq and word[:2] in ("-r", "-c") and len(word) > 2:
                option, value, eq = word[:2], word[2:], "="
            if option in _VALUED and not eq:
                value = args[i + 1] if i + 1 < len(args) else ""
                i += 1
            if option in ("-r", "--requirement"):
                files.append(value)
            elif option in ("-c", "--constraint"):
                constraints.append(value)
            locked |= option in _LOCKED_OPTIONS
        elif i + 1 < len(args) and args[i + 1] == "@":
            i += 2  # `name @ url`: fixed by its URL
        else:
            specs.append(word)
        i += 1
    return files, constraints, specs, locked


def _unpinned_specs(specs: list[str]) -> list[str]:
    """Specifiers that name a distribution without an exact version (tooling left out)."""
    out = []
    for spec in specs:
        archive = spec.endswith((".whl", ".zip", ".gz"))
        if any(c in spec for c in "$/`") or spec.startswith(".") or archive:
            continue  # a path, URL, archive or variable: decided by what it points at
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)", spec)
        if match is None or normalize(match.group(1)) in TOOLING:
            continue
        rest = match.group(3).split(";")[0].strip()
        if re.fullmatch(r"===?\s*[^\s,*]+", rest) or rest.startswith("@"):
            continue
        out.append(spec)
    return out


def _lock_file(facts: Facts, name: str, workdir: str) -> dict[str, Any] | None:
    """The captured requirements file an install step named (relative to its WORKDIR)."""
    files = _python(facts).get("lock_files") or []
    path = posixpath.normpath(posixpath.join(workdir or "/", name))
    exact = [f for f in files if f.get("path") == path]
    if exact:
        return exact[0]
    same = [f for f in files if posixpath.basename(f.get("path") or "") == posixpath.basename(name)]
    return same[0] if len(same) == 1 else None


def _version_key(text: str | None) -> str:
    try:
        return str(Version(text or ""))
    except InvalidVersion:
        return (text or "").strip()


def _same_version(installed: str | None, pinned: str) -> bool:
    a, b = _version_key(installed), _version_key(pinned)
    return a == b or a.split("+")[0] == b.split("+")[0]


_CONSTRAINT_VARIABLES = ("PIP_CONSTRAINT", "PIP_REQUIRE_HASHES", "UV_CONSTRAINT")
# Tools that bring dependencies of their own when pip installs them.
_TOOLS_WITH_DEPENDENCIES = TOOLING - {"pip", "setuptools", "wheel", "uv", "distribute"}


def _tool(spec: str) -> bool:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", spec)
    return match is not None and normalize(match.group(0)) in _TOOLS_WITH_DEPENDENCIES


_LOCK_STEP = re.compile(
    r"\bpoetry\s+(?:install|sync)\b|\buv\s+sync\b|\bpipenv\s+(?:install|sync)\b|"
    r"\bpdm\s+(?:install|sync)\b|\bpip-sync\b|\buv\s+pip\s+sync\b"
)


@check(
    "PY010",
    "dependencies-not-locked",
    "Python dependencies are installed without pinning exact versions of all of them",
    severity="medium",
    category="python",
    needs=("history", "python"),
    wants=("config",),
    fix="Pin every dependency, transitive ones included: `pip-compile --generate-hashes` or "
    "`uv lock`, then `pip install --require-hashes -r requirements.txt` or `uv sync --frozen`.",
)
def dependencies_not_locked(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    How the build installed the Python dependencies, from the history and the files the image
    ships (`python.lock_files`):
    - `unpinned-requirements`: a `pip install -r FILE` (or `uv pip install -r`) step whose
      requirements file, found in the image, requires names without an exact `==` version,
      with no `-c` constraints file beside it (medium).
    - `unpinned-install`: a `pip install NAME ...` step naming distributions without an exact
      version (low: the history is the only evidence). Installers and build tools (pip,
      setuptools, wheel, poetry, uv, ...) are left out, and so are paths, URLs, wheels,
      `--no-index`, `--require-hashes` and `-c` installs.
    - `not-in-lock`: a step that installed from a lock or fully pinned requirements file put
      distributions into the image that the file does not pin (two or more: the project itself
      is allowed), or at another version: the transitive dependencies are not locked (low; a
      version mismatch is medium). Without history the files are compared only when they pin
      at least half of what the app's environment holds, and a step that also pip-installs a
      tool with dependencies of its own (poetry, pipenv, pdm...) is not compared.
    A step that installs wheels built earlier (`pip wheel -r requirements.txt -w /wheels` in a
    builder stage, then `pip install /wheels/*` or `pip install --no-index --find-links /wheels
    ...`) is judged like `pip install -r` of the requirements file it was built from: the
    requirements files in the image whose names that step's layer installed (at least half of
    each file's). `--no-index` alone does not lock anything: the wheels were resolved from those
    requirements when they were built.
    `PIP_CONSTRAINT`, `PIP_REQUIRE_HASHES` or `UV_CONSTRAINT` in the config count as locking.
    False positives are worse than misses here: anything unclear is not reported.

    ## Why it matters
    Unpinned dependencies make every build a new, untested set of versions: a release of any
    transitive dependency can break the image or the app without a line of code changing, and
    a rebuild for a security fix cannot reproduce what was running. Turner-Trauring asks for
    every dependency, transitive ones included, to be pinned in a lock file, ideally with hashes
    (https://pythonspeed.com/articles/pipenv-docker/;
    https://pythonspeed.com/articles/pip-compile-in-docker/).

    ## Example
    ```dockerfile
    COPY requirements.txt .        # flask>=2, gunicorn
    RUN pip install -r requirements.txt
    ```

    ## Instead
    ```dockerfile
    COPY requirements.txt .        # made by `pip-compile --generate-hashes`: every package ==
    RUN pip install --require-hashes -r requirements.txt
    ```
    or `COPY pyproject.toml uv.lock ./` and `RUN uv sync --frozen --no-dev`.

    ## References
    - https://pythonspeed.com/articles/pipenv-docker/
    - https://pythonspeed.com/articles/pip-compile-in-docker/
    - https://pip.pypa.io/en/stable/topics/repeatable-installs/
    - https://docs.astral.sh/uv/concepts/projects/sync/
    - Practice: #14 Pin all Python dependencies, transitive ones included (a lock file, ideally
      with hashes): "Faster Docker builds with pipenv, poetry, or pip-tools",
      https://pythonspeed.com/articles/pipenv-docker/
    """
    py = _python(facts)
    if "lock_files" not in py:
        raise Skip("the facts do not list requirements and lock files (python.lock_files)")
    workdir = "/"
    lock_layers: dict[int, list[dict[str, Any]]] = {}
    unpinned_files: set[str] = set()
    tool_layers: set[int] = set()
    # pip and uv read constraints and hash checking from the environment as well.
    constrained = any(env(facts).get(name) for name in _CONSTRAINT_VARIABLES)
    for layer, instruction in _steps(facts):
        if instruction.startswith("WORKDIR "):
            workdir = posixpath.normpath(posixpath.join(workdir, instruction[8:].strip()))
            continue
        where = at_layer(facts, layer)
        for args in _pip_installs(instruction):
            files, constraints, specs, locked = _parse_install(args)
            if layer is not None and any(_tool(spec) for spec in specs):
                tool_layers.add(layer)  # the tool's own dependencies land beside the app's
            if locked or constraints or constrained:
                continue
            sources = [(name, _lock_file(facts, name, workdir)) for name in files]
            wheels = not files and _wheel_install(args)
            if wheels:  # judged by the requirements the wheels were built from, as `-r` is
                sources = [(str(f.get("path")), f) for f in _wheel_sources(facts, layer)]
            how = "installs wheels built from it" if wheels else "installs from it"
            for _name, found in sources:
                if found is None or found.get("path") in unpinned_files:
                    continue
                if found.get("unpinned") and not any(
                    i.startswith(("-c", "--constraint")) for i in found.get("includes") or []
                ):
                    unpinned_files.add(found["path"])
                    names = ", ".join(found["unpinned"][:5])
                    more = len(found["unpinned"]) - 5
                    yield Found(
                        f"{found['path']} requires {len(found['unpinned'])} distribution(s) "
                        f"without an exact version ({names}{', …' if more > 0 else ''}) and the "
                        f"step {how}: `{shorten(instruction, 80)}`",
                        Location(path=found["path"], layer=layer, created_by=where.created_by),
                        rule="unpinned-requirements",
                    )
                elif found.get("pins") and layer is not None:
                    lock_layers.setdefault(layer, []).append(found)
            loose = [] if "--no-index" in args else _unpinned_specs(specs)
            if loose:
                yield Found(
                    f"a build step installs {', '.join(loose[:5])} without an exact version: "
                    f"`{shorten(instruction, 80)}`",
                    where,
                    severity="low",
                    rule="unpinned-install",
                )
        if layer is not None and _LOCK_STEP.search(instruction):
            locks = [f for f in py.get("lock_files") or [] if f.get("kind") != "requirements"]
            if locks:
                lock_layers.setdefault(layer, []).extend(locks)
    for layer in tool_layers:
        lock_layers.pop(layer, None)
    yield from _not_in_lock(facts, lock_layers, unpinned_files)


def _not_in_lock(facts: Facts, lock_layers: dict[int, list[dict[str, Any]]],
                 skip: set[str]) -> Iterator[Found]:  # fmt: skip
    """Distributions installed by a step that used a lock file, which that file does not pin."""
    py = _python(facts)
    entry = _entry(facts)
    app_env = entry.get("venv") or _prefix_of(facts, entry.get("base_interpreter"))
    dists = [
        d
        for d in _app_dists(facts, app_env)
        if not d.get("editable") and (d.get("installer") or "") not in ("", "debian", "conda")
    ]
    if not dists:
        return
    groups: list[tuple[list[dict[str, Any]], list[dict[str, Any]], int | None]] = []
    for layer, files in sorted(lock_layers.items()):
        groups.append(([d for d in dists if d.get("layer") == layer], files, layer))
    if not lock_layers:
        # No history names a lock: compare with the image's locks only when they clearly belong
        # to this environment (they pin at least half of what it holds).
        files = [
            f
            for f in py.get("lock_files") or []
            if f.get("pins") and not f.get("unpinned") and f.get("path") not in skip
        ]
        names = {p.split("==")[0].rstrip("@") for f in files for p in f.get("pins") or []}
        held = {normalize(d.get("name") or "") for d in dists}
        if files and len(held & names) * 2 >= len(held):
            groups.append((dists, files, None))
    for installed, files, layer in groups:
        pins: dict[str, list[str]] = {}
        for f in files:
            for pin in f.get("pins") or []:
                name, _, version = pin.partition("==")
                pins.setdefault(name.rstrip("@"), []).append(version)
        missing, other = [], []
        for d in installed:
            name = normalize(d.get("name") or "")
            if name not in pins:
                missing.append(d)
            elif "" not in pins[name] and not any(
                _same_version(d.get("version"), v) for v in pins[name]
            ):
                other.append((d, pins[name][0]))
        paths = ", ".join(sorted({str(f.get("path")) for f in files}))
        where = at_layer(facts, layer, paths) if layer is not None else Location(path=paths)
        if other:
            d, pinned = other[0]
            yield Found(
                f"{len(other)} installed distribution(s) differ from the versions {paths} pins "
                f"(e.g. {d.get('name')} {d.get('version')}, pinned {pinned}): the image was not "
                "installed from its lock",
                where,
                rule="not-in-lock",
            )
        if len(missing) >= 2:
            names = ", ".join(sorted(f"{d.get('name')} {d.get('version')}" for d in missing)[:6])
            yield Found(
                f"{len(missing)} installed distribution(s) are not pinned by {paths} ({names}"
                f"{', …' if len(missing) > 6 else ''}): transitive dependencies are not locked",
                where,
                severity="low",
                rule="not-in-lock",
            )


# --- health check -------------------------------------------------------------------------------


@check(
    "OPS012",
    "healthcheck-cannot-run",
    "The HEALTHCHECK runs a program the image does not have, or needs a shell it lacks",
    severity="high",
    category="operability",
    needs=("config", "python"),
    fix='Check with the image\'s own Python: `HEALTHCHECK CMD ["python", "-c", "import urllib.'
    "request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)\"]`.",
)
def healthcheck_cannot_run(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    The config's HEALTHCHECK, looked up in the image as Docker runs it
    (`python.healthcheck`): for `CMD`, its program must exist on the config's PATH, be
    executable, and its `#!` interpreter must exist; for `CMD-SHELL`, the shell Docker wraps it
    in (`/bin/sh -c`, or the config's SHELL) must exist, and at least one of the programs the
    line runs must be found (`curl -f ... || wget ...` is fine when either is there). Shell
    builtins and words built from variables are not looked up.

    ## Why it matters
    A health check that cannot run fails every time: Docker marks the container `unhealthy`
    for ever, Swarm replaces it in a loop, and Compose services that wait on `service_healthy`
    never start. `curl` and `wget` are not in `python:*-slim` or distroless images, and
    distroless has no `/bin/sh` (https://docs.docker.com/reference/dockerfile/#healthcheck).
    Turner-Trauring's production checklist asks for a health check that works
    (https://pythonspeed.com/docker/).

    ## Example
    ```dockerfile
    FROM python:3.12-slim
    HEALTHCHECK CMD curl -f http://localhost:8000/ || exit 1    # slim has no curl
    ```

    ## Instead
    ```dockerfile
    HEALTHCHECK --start-period=10s CMD ["python", "-c", \\
      "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"]
    ```

    ## References
    - https://docs.docker.com/reference/dockerfile/#healthcheck
    - https://docs.docker.com/compose/how-tos/startup-order/
    - https://github.com/GoogleContainerTools/distroless#debug-images
    - Practice: #33 Health check present, and one that works (Turner-Trauring's production
      checklist, https://pythonspeed.com/docker/)
    """
    health = _python(facts).get("healthcheck")
    if health is None:
        raise Skip("the facts do not say what the HEALTHCHECK runs (python.healthcheck)")
    kind = health.get("kind")
    if kind not in ("CMD", "CMD-SHELL"):
        return
    test = (config(facts).get("healthcheck") or {}).get("Test") or []
    shown = shorten(" ".join(str(t) for t in test[1:]), 80)
    where = Location(config="Healthcheck")
    if kind == "CMD-SHELL" and health.get("shell_found") is False:
        shell = " ".join(health.get("shell") or ["/bin/sh", "-c"])
        yield Found(f"HEALTHCHECK CMD-SHELL `{shown}` runs through `{shell}`, which the image "
                    "does not have: it fails every time", where, rule="no-shell")  # fmt: skip
        return
    programs = health.get("programs") or []
    broken = [p for p in programs if p.get("note")]
    if not programs or len(broken) < len(programs):
        return
    notes = "; ".join(str(p.get("note")) for p in broken[:3])
    yield Found(f"HEALTHCHECK `{shown}` cannot run: {notes}; the container is never healthy",
                where, rule="missing-program")  # fmt: skip


# Commands that succeed without looking at anything: a health check made only of them is a no-op.
_NO_OP_PROGRAMS = frozenset({"true", ":", "exit", "echo", "printf"})
# Calls that end a `python -c` snippet or print, without contacting anything.
_NO_OP_CALLS = frozenset({"exit", "quit", "print", "sys.exit", "os._exit"})
_SHELL_OPERATORS = frozenset({";", "&&", "||", "|", "&", "\n"})


def _call_name(node: Any) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return f"{func.value.id}.{func.attr}"
    return ""


def _no_op_code(code: str) -> bool:
    """Whether a `python -c` snippet only imports modules and exits: it contacts nothing."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.Pass)):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        if (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
                and _call_name(node.value) in _NO_OP_CALLS
                and all(isinstance(a, ast.Constant) for a in node.value.args)):  # fmt: skip
            continue
        return False
    return bool(tree.body)


def _no_op_command(words: list[str]) -> bool:
    """Whether one simple command checks nothing: `true`, `exit 0`, `python -c "import app"`."""
    while words and re.match(r"[A-Za-z_]\w*=", words[0]):
        words = words[1:]  # VAR=value before the command
    if not words:
        return True
    program = posixpath.basename(words[0])
    if program in _NO_OP_PROGRAMS:
        return True
    if re.fullmatch(r"python[0-9.]*", program):
        rest = [w for w in words[1:] if w not in ("-u", "-B", "-E", "-I", "-s", "-S", "-O")]
        return len(rest) >= 2 and rest[0] == "-c" and _no_op_code(rest[1])
    return False


def _no_op_healthcheck(test: list[str]) -> bool:
    """Whether a HEALTHCHECK's every command succeeds without contacting the app."""
    if not test or test[0] not in ("CMD", "CMD-SHELL") or len(test) < 2:
        return False
    if test[0] == "CMD":
        return _no_op_command([str(t) for t in test[1:]])
    try:
        lexer = shlex.shlex(" ".join(str(t) for t in test[1:]), posix=True,
                            punctuation_chars=";&|")  # fmt: skip
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError:
        return False
    commands: list[list[str]] = [[]]
    for token in tokens:
        if token in _SHELL_OPERATORS:
            commands.append([])
        else:
            commands[-1].append(token)
    return all(_no_op_command(c) for c in commands if c)


@check(
    "OPS013",
    "healthcheck-checks-nothing",
    "The HEALTHCHECK succeeds without contacting the app: it only imports a module or exits 0",
    severity="low",
    category="operability",
    needs=("config",),
    fix='Ask the running app: `HEALTHCHECK CMD ["python", "-c", "import urllib.request; '
    "urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)\"]` (a worker: check "
    "its broker connection or a heartbeat file it updates).",
)
def healthcheck_checks_nothing(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    The config's HEALTHCHECK (`CMD` or `CMD-SHELL`), when every command it runs succeeds
    without looking at the running application: `true`, `:`, `exit 0`, `echo ok`, and
    `python -c CODE` whose code only imports modules, prints or exits
    (`python -c "import app"`, `python -c "import sys; sys.exit(0)"`). A check that opens a
    URL or socket, runs a module (`python -m app.healthcheck`), calls a program such as `curl`,
    or reads a file the app writes is not reported: it may well look at the app.

    ## Why it matters
    Docker runs the health check in a new process beside the app. Importing the app's module
    there succeeds as long as the files are in the image, whether the server is deadlocked,
    out of connections or crashed into a restart loop, so the container is reported
    `healthy` for ever: Compose starts the services that wait on `service_healthy` against a
    dead server and Swarm never replaces it. It is worse than no health check, which at least
    does not claim health. A health check must ask the running process
    (https://docs.docker.com/reference/dockerfile/#healthcheck); Turner-Trauring's checklist
    asks for one that works (https://pythonspeed.com/docker/).

    ## Example
    ```dockerfile
    HEALTHCHECK CMD ["python", "-c", "import app"]
    ```

    ## Instead
    ```dockerfile
    HEALTHCHECK --start-period=10s CMD ["python", "-c", \\
      "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"]
    ```
    For a worker with no port: check its broker (`celery -A proj inspect ping -d celery@$HOSTNAME`)
    or a heartbeat file the worker touches, and fail when it is stale.

    ## References
    - https://docs.docker.com/reference/dockerfile/#healthcheck
    - https://docs.docker.com/compose/how-tos/startup-order/
    - https://pythonspeed.com/docker/
    - Practice: #33 Health check present, and one that works (Turner-Trauring's production
      checklist, https://pythonspeed.com/docker/)
    """
    health = config(facts).get("healthcheck") or {}
    test = [str(t) for t in health.get("Test") or []]
    if not _no_op_healthcheck(test):
        return
    shown = shorten(" ".join(test[1:]), 80)
    yield Found(
        f"HEALTHCHECK `{shown}` succeeds without contacting the app: it reports healthy "
        "whether or not the app answers",
        Location(config="Healthcheck"),
    )


# --- short-support distributions ----------------------------------------------------------------

# Ubuntu interim releases get nine months of updates (https://ubuntu.com/about/release-cycle).
UBUNTU_INTERIM_END: dict[str, date] = {
    "17.10": date(2018, 7, 19),
    "18.10": date(2019, 7, 18),
    "19.04": date(2020, 1, 23),
    "19.10": date(2020, 7, 17),
    "20.10": date(2021, 7, 22),
    "21.04": date(2022, 1, 20),
    "21.10": date(2022, 7, 14),
    "22.10": date(2023, 7, 20),
    "23.04": date(2024, 1, 25),
    "23.10": date(2024, 7, 11),
    "24.10": date(2025, 7, 10),
    "25.04": date(2026, 1, 15),
    "25.10": date(2026, 7, 9),
}
_ROLLING = {
    "fedora": "Fedora: each release gets about 13 months of updates",
    "arch": "Arch Linux: a rolling release with no stable base",
    "opensuse-tumbleweed": "openSUSE Tumbleweed: a rolling release with no stable base",
}


def _short_support(os_: dict[str, Any], today: date) -> tuple[str, str | None] | None:
    """(what it is, severity override) for a short-support release, else None."""
    distro = (os_.get("id") or "").lower()
    version = os_.get("version_id") or ""
    pretty = os_.get("pretty_name") or ""
    if distro == "ubuntu":
        match = re.fullmatch(r"(\d+)\.(\d+)(?:\.\d+)?", version)
        if match is None:
            return None
        year, month = match.groups()
        key = f"{year}.{month.zfill(2)}"
        if month.zfill(2) == "04" and int(year[-1]) % 2 == 0:
            return None  # an LTS release: META004 knows its end
        end = UBUNTU_INTERIM_END.get(key)
        if end is not None and end < today:
            return (f"Ubuntu {key}, an interim release whose nine months of support ended "
                    f"{end.isoformat()}: no security updates since", "high")  # fmt: skip
        until = f" (until {end.isoformat()})" if end else ""
        return f"Ubuntu {key}, an interim release with nine months of support{until}", None
    if distro == "debian" and not version:
        said = os_.get("debian_version") or os_.get("version_codename") or ""
        if "sid" in said or "testing" in said or os_.get("version_codename") == "sid":
            return (f"Debian {said} (testing or unstable: no VERSION_ID), which changes daily "
                    "and gets no security support", None)  # fmt: skip
        return None
    if distro == "alpine":
        release = version or os_.get("alpine_release") or ""
        if "edge" in pretty.lower() or re.search(r"_(?:alpha|beta|rc|git)", release):
            return f"Alpine edge ({release or pretty}), the development branch", None
        return None
    if distro in _ROLLING:
        return f"{_ROLLING[distro]} ({pretty or distro})", None
    return None


@check(
    "META005",
    "short-support-distro",
    "The OS is an interim, rolling or testing release with short or no security support",
    severity="medium",
    category="metadata",
    needs=("os",),
    fix="Base the image on a long-term release: Debian stable (python:3.12-slim-bookworm or "
    "-trixie) or Ubuntu LTS (24.04).",
)
def short_support_distro(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    The release in `/etc/os-release` (and `/etc/debian_version`, `/etc/alpine-release`):
    - Ubuntu interim releases (any `VERSION_ID` but an even year's `.04`): nine months of
      support; high once that has ended (ended dates from Ubuntu's release cycle, 17.10 to
      25.10), since META004's end-of-life table holds only LTS releases.
    - Debian testing or unstable: no `VERSION_ID`, `debian_version` like `forky/sid`.
    - Alpine edge (`_alpha` releases, PRETTY_NAME "edge").
    - Fedora (about 13 months per release), Arch Linux and openSUSE Tumbleweed (rolling).

    ## Why it matters
    A base image must keep getting security updates for as long as the application runs on it.
    Interim and rolling releases end within months or change underneath the image, so every
    rebuild is a distribution upgrade, and past their end they get no fixes at all. The seed
    author recommends Debian stable or Ubuntu LTS for exactly this reason
    (https://pythonspeed.com/articles/base-image-python-docker-images/).

    ## Example
    ```dockerfile
    FROM ubuntu:24.10          # support ended 2025-07-10
    ```

    ## Instead
    ```dockerfile
    FROM ubuntu:24.04          # LTS: standard support until 2029
    ```
    or `FROM python:3.12-slim-bookworm` (Debian stable).

    ## References
    - https://pythonspeed.com/articles/base-image-python-docker-images/
    - https://ubuntu.com/about/release-cycle
    - https://wiki.debian.org/DebianTesting
    - https://docs.fedoraproject.org/en-US/releases/lifecycle/
    - Practice: #10 Avoid short-support distributions (Fedora, non-LTS Ubuntu, testing/sid):
      "The best Docker base image for your Python application",
      https://pythonspeed.com/articles/base-image-python-docker-images/
    """
    os_ = facts.get("os") or {}
    if not os_.get("id") and not os_.get("alpine_release"):
        raise Skip("the image has no os-release to read")
    if not os_.get("id"):
        os_ = {**os_, "id": "alpine"}
    found = _short_support(os_, ctx.now.date())
    if found is None:
        return
    what, severity = found
    where = Location(path=os_.get("os_release_path") or "/etc/os-release")
    yield Found(f"the image runs {what}", where, severity=severity)
