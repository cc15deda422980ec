"""Known vulnerabilities (SEC030, SEC031): the `vulnerabilities` facts section as findings.

Matching happened when the facts were collected (the advisory database against the inventory,
each Python component judged by the sys.path the command really uses); these checks only say
what it found, one finding per package and vulnerability, at the severity its reachability
deserves.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from checks.access import at_layer
from checks.model import Context, Facts, Found, Skip, Vulnerability, layer_name
from checks.registry import check

# The advisory's severity as a finding's: "unknown" (no CVSS vector, no rating) is medium, the
# middle of the scale, so an unrated vulnerability neither fails a default gate (high) nor hides
# among the info findings.
SEVERITY = {"unknown": "medium", "low": "low", "medium": "medium", "high": "high",
            "critical": "critical"}  # fmt: skip
# Reachabilities that gate at the advisory's severity; every other one is info.
_LIVE = ("importable", "installed")
_PYPI = "PyPI"


def _section(facts: Facts, ecosystem_kind: str) -> list[dict[str, Any]]:
    """The matches of one kind ("python" or "os"), or Skip when matching could not decide."""
    vulns = facts.get("vulnerabilities")
    if not isinstance(vulns, dict):
        raise Skip("the facts have no vulnerabilities section (collected by an older inspector)")
    status = vulns.get("status")
    if status == "disabled":
        raise Skip(vulns.get("note") or "vulnerabilities were not matched (--no-vulns)")
    if status != "matched":
        # The facts' note is every report's notice: said once there, pointed at here.
        raise Skip(f"vulnerabilities were not matched ({status}): see the notice")
    python = ecosystem_kind == "python"
    wanted = [e for e in vulns.get("ecosystems") or () if _is_python(e) == python]
    missing = [e for e in vulns.get("missing") or () if e in wanted]
    if wanted and missing == wanted:
        raise Skip(f"the advisory database holds no advisories for {', '.join(missing)}: "
                   "`inspector db update` fetches them")  # fmt: skip
    return [m for m in vulns.get("matches") or () if _is_python(m.get("ecosystem") or "") == python]


def _is_python(ecosystem: str) -> bool:
    return ecosystem.split(":", 1)[0] == _PYPI


def _ids(match: dict[str, Any]) -> str:
    """ "CVE-2023-32681 (also GHSA-j8r2-6x86-q33q, PYSEC-2023-74)"."""
    others = _others(match)
    return match["id"] + (f" (also {', '.join(others)})" if others else "")


def _rating(match: dict[str, Any]) -> str:
    severity = match.get("severity") or "unknown"
    if severity == "unknown":
        return "severity not rated (counted as medium)"
    score = match.get("score")
    return f"{severity}" + (f", CVSS {score:g}" if isinstance(score, int | float) else "")


def _summary(match: dict[str, Any]) -> str:
    summary = " ".join((match.get("summary") or "").split())
    return f": {summary}" if summary else ""


def _others(match: dict[str, Any]) -> tuple[str, ...]:
    """Every id of the vulnerability but the one it is called by."""
    ids = {*(match.get("aliases") or ()), *(match.get("advisories") or ())}
    return tuple(sorted(ids - {match["id"]}))


def _vulnerability(match: dict[str, Any], package: str) -> Vulnerability:
    return Vulnerability(
        id=match["id"],
        aliases=_others(match),
        summary=match.get("summary"),
        url=match.get("url"),
        severity=match.get("severity") or "unknown",
        score=match.get("score"),
        ecosystem=match.get("ecosystem") or "",
        package=package,
        installed=match.get("installed") or "",
        fixed=match.get("fixed"),
        reachability=match.get("reachability") or "",
        environment=match.get("environment"),
    )


def _severity(match: dict[str, Any], live: bool) -> str:
    return SEVERITY.get(match.get("severity") or "unknown", "medium") if live else "info"


@check(
    "SEC030",
    "vulnerable-os-package",
    "An installed OS package has a known vulnerability",
    severity="high",
    category="security",
    needs=("vulnerabilities",),
    wants=("history", "layers"),
    fix="Rebuild on an updated base (`docker build --pull --no-cache`), or run "
    "`apt-get update && apt-get -y upgrade` (`apk upgrade`) in the final stage.",
)
def vulnerable_os_package(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    The OS packages (dpkg, apk) the image installs, against the advisory database
    (`inspector db update`, OSV's Debian, Ubuntu and Alpine records) for the release the image
    runs (`Debian:12`, `Ubuntu:24.04`, `Alpine:v3.20`). Debian and Ubuntu advisories name
    source packages and compare the source version by dpkg's rules, so a backported fix counts
    as fixed whatever the upstream version says. One finding per source package and
    vulnerability (its binary packages listed): the id (the CVE when there is one) and its
    aliases (DSA, DLA, USN, ...), the advisory's severity (its CVSS vector, else the
    distribution's rating; unrated counts as medium), the installed and the fixed version, or
    "no fix yet". A package a later layer deleted, whose files still ship in a lower layer, is
    info. Skipped, with the reason, when there is no advisory database or it holds nothing for
    the image's release: never a silent "0 vulnerabilities".

    ## Why it matters
    A built image freezes the OS packages of the day its base was pulled and its package layer
    cached; every fix published since is missing until it is rebuilt. The seed author calls
    "avoid apt-get upgrade" the worst so-called best practice for Docker: install the security
    updates in the build (https://pythonspeed.com/articles/security-updates-in-docker/), and
    scan the system packages as well as the Python ones
    (https://pythonspeed.com/articles/docker-python-security-scan/).

    ## Example
    ```dockerfile
    FROM python:3.12-slim          # pulled months ago; openssl has had a DSA since
    RUN pip install -r requirements.txt
    ```

    ## Instead
    ```dockerfile
    FROM python:3.12-slim
    RUN apt-get update && apt-get -y upgrade && rm -rf /var/lib/apt/lists/*
    ```
    and rebuild with `docker build --pull --no-cache` on a schedule. A vulnerability with no
    fix yet, or one that does not affect how the image uses the package, is accepted with an
    `[[tool.inspector.ignores]]` entry naming it (`vulnerabilities = ["CVE-..."]`) with the
    reason and an `expires` date.

    ## References
    - https://pythonspeed.com/articles/security-updates-in-docker/
    - https://pythonspeed.com/articles/docker-python-security-scan/
    - https://ossf.github.io/osv-schema/
    - https://www.debian.org/security/faq
    - Practice: #6 Install OS security updates during the build (`apt-get upgrade`): "The worst
      so-called best practice for Docker", https://pythonspeed.com/articles/security-updates-in-docker/
    - Practice: #8 Scan your code, Python dependencies and system packages for vulnerabilities:
      "Security scanners for Python and Docker: from code to dependencies",
      https://pythonspeed.com/articles/docker-python-security-scan/
    """
    matches = _section(facts, "os")
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for match in matches:
        source = match.get("source") or match.get("package") or ""
        groups.setdefault((source, match["id"]), []).append(match)
    for (source, _vuln), group in groups.items():
        yield _os_finding(facts, source, group)


def _os_finding(facts: Facts, source: str, group: Sequence[dict[str, Any]]) -> Found:
    # The binary packages one source package built share its version and its fix: one cause.
    group = sorted(group, key=lambda m: (m.get("layer") is None, m.get("layer") or 0,
                                         m.get("package") or ""))  # fmt: skip
    first = group[0]
    live = [m for m in group if m.get("reachability") in _LIVE]
    shown = live[0] if live else first
    binaries = sorted({m.get("package") or "" for m in group} - {""})
    noun = "binary package" if len(binaries) == 1 else "binary packages"
    built = f" ({noun} {', '.join(binaries)})" if binaries not in ([], [source]) else ""
    ecosystem = first.get("ecosystem") or ""
    fixed = first.get("fixed")
    fixed_text = f"fixed in {fixed}" if fixed else f"no fix yet in {ecosystem}"
    where = ""
    if not live:
        where = (f"; deleted in a later layer but still shipped in {layer_name(first.get('layer'))}"
                 ", not installed in the container")  # fmt: skip
    message = (f"{source} {first.get('installed')}{built} has {_ids(first)}, {_rating(first)}"
               f"{_summary(first)}; {fixed_text}{where}")  # fmt: skip
    upgrade = ("`apk update && apk upgrade`" if ecosystem.startswith("Alpine")
               else "`apt-get update && apt-get -y upgrade`")  # fmt: skip
    if fixed:
        fix = (f"Rebuild on an updated base (`docker build --pull --no-cache`) or run {upgrade} "
               f"in the final stage, to get {source} {fixed} or later.")  # fmt: skip
    else:
        names = ", ".join(binaries or [source])
        fix = (f"{ecosystem} has no fix for {first['id']} in {source} yet: remove {names} if the "
               "app does not need it, or accept it with an `[[tool.inspector.ignores]]` entry "
               f'(vulnerabilities = ["{first["id"]}"]) that expires, and rebuild when the fix '
               "ships.")  # fmt: skip
    if not live:
        shipped = layer_name(first.get("layer"))
        fix = (f"Delete it in the same RUN that installed it (it still ships in {shipped}), "
               "or build the runtime stage without it.")  # fmt: skip
    return Found(
        message,
        at_layer(facts, shown.get("layer"), shown.get("path")),
        severity=_severity(first, bool(live)),
        fix=fix,
        rule=first["id"],
        identity=f"{source} {first['id']}",
        vulnerability=_vulnerability(shown, source),
    )


@check(
    "SEC031",
    "vulnerable-python-package",
    "A Python distribution in the image has a known vulnerability",
    severity="high",
    category="security",
    needs=("vulnerabilities",),
    wants=("history", "layers", "runtime.static"),
    fix="Pin the fixed version in the requirements the image installs from, and rebuild.",
)
def vulnerable_python_package(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    Every Python distribution in the image (each interpreter's and venv's site-packages, the
    packages pip and setuptools vendor, `ensurepip`'s bundled wheels, SBOMs shipped inside
    packages, and distributions a later layer deleted), against the advisory database's PyPI
    records (`inspector db update`), by PEP 503 name and PEP 440 version. One finding per
    distribution and vulnerability: the id (the CVE when there is one) and its aliases (GHSA,
    PYSEC), the advisory's severity (its CVSS vector, else its rating; unrated counts as
    medium), the installed and the fixed version, or "no fix yet", and whether the command can
    import it. Only a distribution on the sys.path of the interpreter the command runs (the
    static probe's, else the one the layers tell) counts at the advisory's severity; one on disk
    that the command cannot import (another interpreter's site-packages, pip's vendored
    packages, an ensurepip wheel) and one deleted but still shipped in a lower layer are info.
    Skipped, with the reason, when there is no advisory database or it holds no PyPI records:
    never a silent "0 vulnerabilities".

    ## Why it matters
    A vulnerable dependency the app imports is the vulnerability that reaches production; the
    seed author asks for scanning the Python dependencies as well as the code and the system
    packages (https://pythonspeed.com/articles/docker-python-security-scan/), and for applying
    security updates rather than freezing what a cached build installed
    (https://pythonspeed.com/articles/security-updates-in-docker/). Scanners that flag every
    `.dist-info` wherever it sits bury that one under packages nothing imports; this check
    tells them apart.

    ## Example
    ```text
    # requirements.txt
    requests==2.25.0
    ```

    ## Instead
    ```text
    # requirements.txt
    requests==2.32.3
    ```
    then rebuild. A vulnerability that does not affect how the app uses the package is accepted
    with an `[[tool.inspector.ignores]]` entry naming it (`vulnerabilities = ["CVE-..."]`;
    any of its aliases matches) with the reason ("not affected, because ...") and an `expires`
    date.

    ## References
    - https://pythonspeed.com/articles/docker-python-security-scan/
    - https://pythonspeed.com/articles/security-updates-in-docker/
    - https://ossf.github.io/osv-schema/
    - https://packaging.python.org/en/latest/specifications/version-specifiers/
    - Practice: #8 Scan your code, Python dependencies and system packages for vulnerabilities:
      "Security scanners for Python and Docker: from code to dependencies",
      https://pythonspeed.com/articles/docker-python-security-scan/
    """
    # pip's vendored packages are listed twice (vendor.txt and its SBOM): one place, one finding.
    seen: set[tuple[Any, ...]] = set()
    for match in sorted(_section(facts, "python"), key=_evidence_rank):
        key = (match.get("package"), match["id"], match.get("installed"),
               match.get("environment"), match.get("reachability"))  # fmt: skip
        if key not in seen:
            seen.add(key)
            yield _python_finding(facts, match)


# The evidence a finding points at when one package is listed by several: its own metadata first.
_EVIDENCE = ("dist-info", "egg-info", "vendored", "wheel", "sbom")


def _evidence_rank(match: dict[str, Any]) -> int:
    kind = match.get("kind")
    return _EVIDENCE.index(kind) if kind in _EVIDENCE else len(_EVIDENCE)


def _python_finding(facts: Facts, match: dict[str, Any]) -> Found:
    name, installed, fixed = match.get("package") or "", match.get("installed"), match.get("fixed")
    reach = match.get("reachability")
    environment = match.get("environment")
    live = reach in _LIVE
    layer = match.get("layer")
    vendored = match.get("kind") in ("vendored", "sbom")
    if reach == "importable":
        where = "importable by the command" + (f" (from {environment})" if environment else "")
    elif reach == "deleted":
        where = f"deleted in a later layer but still shipped in {layer_name(layer)}"
    elif vendored:
        where = (f"vendored inside {environment}, not importable by the command as {name}"
                 if environment else "vendored, not importable by the command")  # fmt: skip
    else:
        where = "not importable by the command" + (
            f" ({environment} is not on its sys.path)" if environment else ""
        )
    fixed_text = f"fixed in {fixed}" if fixed else "no fix yet"
    message = (f"{name} {installed} has {_ids(match)}, {_rating(match)}{_summary(match)}; "
               f"{fixed_text}; {where}")  # fmt: skip
    if reach == "importable" and fixed:
        fix = (f"Pin `{name}=={fixed}` (or later) in the requirements the image installs from "
               "(requirements.txt, the lock file), and rebuild.")  # fmt: skip
    elif reach == "importable":
        fix = (f"No release of {name} fixes {match['id']} yet: drop or replace {name} if you can, "
               f'or accept it with an `[[tool.inspector.ignores]]` entry (vulnerabilities = ["'
               f'{match["id"]}"]) that expires, and upgrade when a fix is released.')  # fmt: skip
    elif reach == "deleted":
        fix = (f"Uninstall {name} in the same RUN that installed it (its files still ship in "
               f"{layer_name(layer)}), or copy only the app's environment in a multi-stage "
               "build.")  # fmt: skip
    elif vendored:
        fix = (f"Upgrade the package that vendors it ({environment or 'pip'}) to a release "
               f"with {name} {fixed or 'fixed'}, or leave it out of the runtime image."
               )  # fmt: skip
    else:
        to = f" to {fixed}" if fixed else ""
        place = environment or "the image"
        fix = (f"The command cannot import it: remove {name} from {place} (or the whole "
               f"environment, in a multi-stage build), or upgrade it{to}.")  # fmt: skip
    return Found(
        message,
        at_layer(facts, layer, match.get("path")),
        severity=_severity(match, live),
        fix=fix,
        rule=match["id"],
        identity=f"{name} {match['id']}",
        vulnerability=_vulnerability(match, name),
    )
