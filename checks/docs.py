"""The catalog as documentation: docs/checks.md, `inspector checks` and `inspector explain ID`."""

from __future__ import annotations

import re

from checks import catalog
from checks.model import CATEGORIES, Check

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
        "| id | name | severity | category | problem |",
        "| --- | --- | --- | --- | --- |",
    ]
    for category in CATEGORIES:
        for c in (c for c in checks if c.category == category):
            lines.append(f"| [{c.id}](#{c.id.lower()}) | `{c.name}` | {c.severity} | "
                         f"{c.category} | {c.title} |")  # fmt: skip
    lines += ["", "## dockle's checkpoints", "",
              "Each of dockle's checkpoints that applies to a built image, and the checks here "
              "that cover it.", "", "| dockle | what it checks | inspector |",
              "| --- | --- | --- |"]  # fmt: skip
    for key, ids in dockle_map().items():
        covered = ", ".join(f"[{i}](#{i.lower()})" for i in ids) or DOCKLE_NOTICES.get(
            key, "not covered"
        )
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
