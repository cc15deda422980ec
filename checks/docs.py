"""The catalog as documentation: docs/checks.md, `inspector checks` and `inspector explain ID`."""

from __future__ import annotations

import re

from checks import catalog
from checks.model import CATEGORIES, Check

# Itamar Turner-Trauring's practices that a built image can decide, numbered once here (the
# numbers are the anchors of docs/checks.md's practice table). A check names the ones it carries
# in a "Practice: #N" line of its References; docs/checks.md prefers that line's wording and falls
# back to these one-liners for the practices no check carries yet.
PRACTICES = {
    1: "Don't run as root",
    2: "Least privilege: the app needs no capabilities, no setuid, no sudo",
    3: "Don't leak build secrets by COPY-then-rm, the layer keeps them",
    4: "Don't pass secrets with `--build-arg` or ENV, history and config keep them",
    5: "Runtime secrets don't belong in the image",
    6: "Install OS security updates during the build (`apt-get upgrade`)",
    7: "Build caching freezes old packages: rebuild without the cache on a schedule, and redeploy",
    8: "Scan your code, Python dependencies and system packages for vulnerabilities",
    9: "The base image must get timely security updates (its OS not end-of-life)",
    10: "Avoid short-support distributions (Fedora, non-LTS Ubuntu, testing/sid)",
    11: "Install minimal packages (`--no-install-recommends`)",
    12: "No compilers or -dev packages in the runtime image: build in a multi-stage build",
    13: "Pin the base image and the Python version (not `python:3`, not `latest`)",
    14: "Pin all Python dependencies, transitive ones included (a lock file, ideally with hashes)",
    15: "Use a supported, up-to-date Python",
    16: "Don't jump to a new Python X.Y (or a pre-release) on day one",
    17: "Avoid Alpine (musl)",
    18: "Activate the venv with `ENV PATH`/`VIRTUAL_ENV`, not `source activate` in RUN",
    19: "Multi-stage: copy the venv at the same path onto the same base interpreter",
    20: "The image must actually work: smoke-test it before pushing",
    21: "Build for the production CPU architecture",
    22: "Don't run DB migrations as part of server startup",
    23: "Listen on 0.0.0.0, not 127.0.0.1",
    24: "A production WSGI/ASGI server, not a development server",
    25: "`PYTHONFAULTHANDLER`, tracebacks on crashes in C code",
    26: "Unbuffered stdout (`PYTHONUNBUFFERED`)",
    27: "Signals must reach the app (exec form, `exec` in scripts)",
    28: "An init (tini or `--init`) reaps zombies and forwards signals",
    29: "gunicorn `--worker-tmp-dir /dev/shm`",
    30: "gunicorn: set the number of workers explicitly, containers see the host's CPUs",
    31: "gunicorn timeouts and graceful timeout that fit the orchestrator's stop grace",
    32: "Log to stdout (`--access-logfile -`), not to files",
    33: "Health check present, and one that works",
    34: "Pre-compile `.pyc` for a faster start (and read-only roots)",
    35: "Timezone data available / `TZ` valid",
    36: "No runtime writes into the image; works on a read-only root",
    37: "Traceable images: version and commit labels, set by the build automation",
    38: "Order the Dockerfile so dependencies install before the code is copied (caching)",
    39: "Disable the pip cache (`--no-cache-dir`)",
    40: "Clean apt lists and caches in the same RUN",
    41: "Layers are append-only: deleting in a later layer doesn't shrink the image",
    42: "`.dockerignore`: don't ship `.git`, local venvs, junk",
    43: "A slim variant rather than the full `python:3.X` image at runtime",
    44: "Conda images: `conda clean`, conda-pack or multi-stage, activate properly",
}

# dockle's checkpoints that apply to a built image, and what each is about (dockle's own titles).
DOCKLE = {
    "CIS-DI-0001": "Create a user for the container",
    "CIS-DI-0006": "Add HEALTHCHECK instruction to the container image",
    "CIS-DI-0008": "Confirm safety of setuid/setgid files",
    "CIS-DI-0010": "Do not store credential in environment variables/files",
    "DKL-DI-0001": "Avoid sudo command",
    "DKL-DI-0002": "Avoid sensitive directory mounting",
    "DKL-DI-0003": "Avoid apt-get dist-upgrade",
    "DKL-DI-0004": "Use apk add with --no-cache",
    "DKL-DI-0005": "Clear apt-get caches",
    "DKL-DI-0006": "Avoid latest tag",
    "DKL-LI-0001": "Avoid empty password",
    "DKL-LI-0002": "Be unique UID/GROUPs",
    "DKL-LI-0003": "Only put necessary files",
}

# dockle checkpoints about how the image is referenced rather than what it is: a notice in every
# report covers them, not a check.
DOCKLE_NOTICES = {
    "DKL-DI-0006": "a notice when the image is audited by `latest` or no tag",
}


def explain(check: Check) -> str:
    """One check's page: what `inspector explain ID` prints and docs/checks.md embeds."""
    header = [
        f"# {check.id} {check.name}: {check.title}",
        "",
        f"Severity: {check.severity} · Category: {check.category} · "
        f"Needs: {', '.join(check.needs)}"
        + (f" · Uses when present: {', '.join(check.wants)}" if check.wants else "")
        + (f" · dockle: {', '.join(check.dockle)}" if check.dockle else ""),
        "",
        f"Fix: {check.fix}",
        "",
    ]
    body = re.sub(r"^## ", "### ", check.doc, flags=re.M)
    return "\n".join(header) + "\n" + body + "\n"


def practice_lines(check: Check) -> list[str]:
    """The Practice bullets of a check's References, each joined onto one line."""
    bullets = re.split(r"^- ", check.sections().get("References", ""), flags=re.M)
    return [" ".join(b.split()) for b in bullets if b.startswith("Practice:")]


def practices(check: Check) -> tuple[int, ...]:
    """The numbers of Turner-Trauring's practices a check carries, in the order it names them."""
    found = (re.match(r"Practice: #(\d+) ", line) for line in practice_lines(check))
    return tuple(int(m.group(1)) for m in found if m)


def practice_map() -> dict[int, tuple[str, list[str]]]:
    """Each practice: its wording (from the first check carrying it) and the checks carrying it."""
    out: dict[int, tuple[str, list[str]]] = {n: (text, []) for n, text in PRACTICES.items()}
    for check in catalog().values():
        for line in practice_lines(check):
            match = re.match(r"Practice: #(\d+) (.+)", line)
            if not match:
                continue
            number = int(match.group(1))
            text, ids = out.get(number, (match.group(2), []))
            out[number] = (text if ids else match.group(2), [*ids, check.id])
    return dict(sorted(out.items()))


def _link(check_id: str) -> str:
    return f"[{check_id}](#{check_id.lower()})"


def listing() -> list[tuple[str, str, str, str, str]]:
    return [(c.id, c.name, c.severity, c.category, c.title) for c in catalog().values()]


def dockle_map() -> dict[str, list[str]]:
    covered: dict[str, list[str]] = {key: [] for key in DOCKLE}
    for check in catalog().values():
        for key in check.dockle:
            covered.setdefault(key, []).append(check.id)
    return covered


def render() -> str:
    checks = list(catalog().values())
    lines = [
        "# The check catalog",
        "",
        "Generated from `checks/` by `make docs`; a test fails when this file is stale. "
        "`inspector checks` lists the same catalog and `inspector explain ID` prints one page.",
        "",
        "| id | name | severity | category | practice | problem |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for category in CATEGORIES:
        for c in (c for c in checks if c.category == category):
            carried = ", ".join(f"[#{n}](#practice-{n})" for n in practices(c)) or "—"
            lines.append(f"| {_link(c.id)} | `{c.name}` | {c.severity} | {c.category} | "
                         f"{carried} | {c.title} |")  # fmt: skip
    lines += [
        "",
        "## Itamar Turner-Trauring's practices",
        "",
        "Itamar Turner-Trauring writes the guidance on packaging Python for production in Docker "
        'that this catalog follows: "Production-ready Docker packaging for Python" '
        "(https://pythonspeed.com/docker/), its articles on pythonspeed.com, and his EuroPython "
        '2020 talk "Best practices for production-ready Docker packaging". Wherever a check\'s '
        "documentation says Turner-Trauring, it means him. Below: his practices that a built "
        "image can decide, and the checks that carry each (a check's References name its "
        "practices and the article each comes from).",
        "",
        "| # | practice | checks |",
        "| --- | --- | --- |",
    ]
    for number, (text, ids) in practice_map().items():
        carried = ", ".join(_link(i) for i in ids) or "not covered"
        lines.append(f'| <a id="practice-{number}"></a>#{number} | {text} | {carried} |')
    others = [_link(c.id) for c in checks if not practices(c)]
    lines += ["", "Checks that carry none of these practices (their References say what backs them "
              "instead): " + ", ".join(others) + "."]  # fmt: skip
    lines += ["", "## dockle's checkpoints", "",
              "Each of dockle's checkpoints that applies to a built image, and the checks here "
              "that cover it.", "", "| dockle | what it checks | inspector |",
              "| --- | --- | --- |"]  # fmt: skip
    for key, ids in dockle_map().items():
        covered = ", ".join(_link(i) for i in ids) or DOCKLE_NOTICES.get(key, "not covered")
        lines.append(f"| {key} | {DOCKLE.get(key, '')} | {covered} |")
    lines.append("")
    for category in CATEGORIES:
        members = [c for c in checks if c.category == category]
        if not members:
            continue
        lines += [f"## {category.capitalize()}", ""]
        for c in members:
            page = explain(c).replace(f"# {c.id} ", f'### <a id="{c.id.lower()}"></a>{c.id} ', 1)
            page = re.sub(r"^### ", "#### ", page, flags=re.M)
            lines += [page]
    return "\n".join(lines).rstrip() + "\n"
