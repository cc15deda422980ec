"""The static probe: one hardened container runs the image's own Python with our script.

It runs as the image's USER, with the image's env and WORKDIR, but with every capability dropped,
`no-new-privileges`, a read-only root, a tmpfs /tmp (with the image's own /tmp owner and mode),
no network, memory and PID limits, and a wall-clock timeout. It never runs through a shell, so an
image without one (distroless) works.
"""

from __future__ import annotations

import json
import secrets
import time
from importlib import resources
from typing import Any

import docker
import docker.errors
import requests.exceptions
from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from inspector.analysers.secrets import redact_text
from inspector.probes import containers
from inspector.probes.exits import clip, tail_lines
from inspector.probes.given import Given
from inspector.probes.limits import ProbeLimits
from inspector.probes.model import (
    AppSources,
    DependencyProblem,
    ImportCheck,
    StaticProbe,
    Uncompilable,
)
from inspector.probes.plan import ProbePlan
from inspector.probes.report_types import typed

MARKER = "@@inspector-static-probe@@"
STARTED = "@@inspector-static-probe-started@@"
TIMEOUT = 60
# Reaching our script is the interpreter's start-up only (well under a second normally): an image
# whose sitecustomize or .pth file hangs is reported after this, not after the whole TIMEOUT.
STARTUP_TIMEOUT = 10
POLL = 0.1
# The import smoke test's own limit, inside the static probe's; a third of it at most.
IMPORT_TIMEOUT = 20
# What an import failure means: these show the image cannot run its code; anything else (a
# missing setting, our read-only root, no network) may be the probe's sandbox, not the image.
_BROKEN_IMPORTS = frozenset(
    {"ModuleNotFoundError", "ImportError", "SyntaxError", "IndentationError", "TabError"}
)
LOG_LINES = 20
OUTPUT_LINES = 50


def script(plan: ProbePlan, timeout: float = TIMEOUT, nonce: str = "") -> str:
    """The code passed with `-c`: our parameters, then the in-image script verbatim."""
    imports = plan.imports
    params = {
        "app_module": plan.app_module,
        "app_script": plan.app_script,
        "imports": (
            {
                "steps": [list(s) for s in imports.steps],
                "path_entry": imports.path_entry,
                "app_roots": list(plan.app_roots),
                "cwd": imports.cwd,
            }
            if imports
            else None
        ),
        "app_roots": list(plan.app_roots),
        "import_timeout": round(min(IMPORT_TIMEOUT, timeout / 3), 1),
        "nonce": nonce,
    }
    source = resources.files("inspector.probes").joinpath("in_image.py").read_text()
    return f"PARAMS = {params!r}\n{source}"


def tmpfs_options(plan: ProbePlan) -> str:
    # The probe's /tmp is a tmpfs (the root is read-only); it carries the image's /tmp owner and
    # mode so that "can the user write /tmp" is answered for the image, not for our mount.
    tmp = plan.tmp
    mode, uid, gid = (tmp.mode, tmp.uid, tmp.gid) if tmp else (0o755, 0, 0)
    return f"rw,nosuid,nodev,noexec,size=16m,mode={mode:o},uid={uid},gid={gid}"


def run(
    client: docker.DockerClient,
    plan: ProbePlan,
    timeout: float = TIMEOUT,
    limits: ProbeLimits | None = None,
    given: Given | None = None,
) -> StaticProbe:
    if plan.interpreter is None:
        return StaticProbe("not-applicable", plan.no_interpreter_reason)
    started = time.monotonic()
    nonce = secrets.token_hex(16)
    with containers.probe_container(
        client,
        plan.image_id,
        "static",
        entrypoint=[plan.interpreter],
        command=["-c", script(plan, timeout, nonce)],
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        read_only=True,
        tmpfs={"/tmp": tmpfs_options(plan)},
        log_config=(limits or ProbeLimits()).log_config(),
        **(given or Given()).container_options(),
    ) as container:
        try:
            container.start()
        except docker.errors.APIError as exc:
            return StaticProbe("could-not-start", containers.explain(exc), plan.interpreter)
        startup = min(STARTUP_TIMEOUT, timeout)
        if not _reaches_script(container, nonce, started + startup):
            return StaticProbe(
                "timeout",
                f"the static probe's interpreter ({plan.interpreter}) had not reached inspector's "
                f"script after {startup:g}s: something it runs as it starts (sitecustomize, "
                "usercustomize or a .pth file in site-packages) hangs or is very slow",
                plan.interpreter,
                log_tail=_tail(container),
            )
        try:
            status = container.wait(timeout=max(0.1, started + timeout - time.monotonic()))
        except requests.exceptions.RequestException:
            return StaticProbe(
                "timeout",
                f"the static probe (inspector's script in {plan.interpreter}) did not finish "
                f"within {timeout:g}s",
                plan.interpreter,
                log_tail=_tail(container),
            )
        # Tails only: an image that floods its output (a noisy sitecustomize) cannot fill our
        # memory, and our report is the last line the probe writes.
        output = container.logs(stdout=True, stderr=False, tail=OUTPUT_LINES)
        errors = container.logs(stdout=False, stderr=True, tail=LOG_LINES)
        output, errors = output.decode(errors="replace"), errors.decode(errors="replace")
    seconds = round(time.monotonic() - started, 3)
    return parse(output, errors, status["StatusCode"], plan, seconds, nonce)


def _reaches_script(container: Any, nonce: str, deadline: float) -> bool:
    """Whether the interpreter started our script (it says so first) before `deadline`; an
    interpreter that exits first counts as reached, its output tells the rest."""
    said = f"{STARTED}{nonce}".encode()
    while True:
        if said in container.logs(stdout=True, stderr=False, tail=OUTPUT_LINES):
            return True
        container.reload()
        if container.attrs["State"]["Status"] not in ("created", "running"):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL)


def masked_tail(text: str) -> tuple[str, ...]:
    """The log's last lines, credentials masked before each line is cut to its limit (a
    credential cut in two is no longer recognisable)."""
    lines = text.splitlines()[-LOG_LINES:]
    return tail_lines("\n".join(redact_text(line) or "" for line in lines), LOG_LINES)


def _tail(container: Any) -> tuple[str, ...]:
    try:
        text = container.logs(tail=LOG_LINES).decode(errors="replace")
    except docker.errors.APIError:
        return ()
    return masked_tail(text)


def parse(
    stdout: str, stderr: str, exit_code: int, plan: ProbePlan, seconds: float, nonce: str = ""
) -> StaticProbe:
    """The probe's JSON line, turned into facts; anything else is a failure with the log tail.

    The line must carry this run's nonce. Code in the image runs before our script and could
    print look-alikes: a marker line without the nonce, or a second one with it, is recorded
    as tampering (the first line with the nonce is the one read).
    """
    doc = None
    tampering: list[str] = []
    reports = 0
    for line in stdout.splitlines():
        if not line.startswith(MARKER):
            continue
        rest = line[len(MARKER) :]
        if not rest.startswith(nonce) or (nonce and not rest[len(nonce) :].startswith("{")):
            tampering.append("a line imitating the probe's report, without this run's nonce")
            continue
        reports += 1
        if reports > 1:
            tampering.append("the probe's report was printed more than once")
            continue
        try:
            doc = json.loads(rest[len(nonce) :])
        except ValueError:
            doc = None
    tail = masked_tail(stderr or stdout)
    if not isinstance(doc, dict):
        return StaticProbe(
            "failed",
            f"the interpreter exited with {exit_code} before reporting",
            plan.interpreter,
            seconds,
            log_tail=tail,
            tampering=tuple(dict.fromkeys(tampering)),
        )
    doc, wrong = typed(doc)
    dists = doc.get("distributions")
    problems: tuple[DependencyProblem, ...] = ()
    if dists is None:
        check = "unavailable: importlib.metadata is missing (Python older than 3.8)"
    else:
        problems = dependency_problems(dists, doc.get("marker_environment") or {})
        check = "done"
    return StaticProbe(
        status="ran",
        interpreter=plan.interpreter,
        seconds=seconds,
        uid=doc.get("uid"),
        gid=doc.get("gid"),
        groups=tuple(doc.get("groups") or ()),
        user_name=doc.get("user_name"),
        passwd_entry=doc.get("passwd_entry"),
        home=doc.get("home"),
        cwd=doc.get("cwd"),
        python_version=doc.get("python_version"),
        sys_version=doc.get("sys_version"),
        executable=doc.get("executable"),
        prefix=doc.get("prefix"),
        base_prefix=doc.get("base_prefix"),
        dont_write_bytecode=doc.get("dont_write_bytecode"),
        optimize=doc.get("optimize"),
        utf8_mode=doc.get("utf8_mode"),
        faulthandler=doc.get("faulthandler"),
        stdout_write_through=doc.get("stdout_write_through"),
        filesystem_encoding=doc.get("filesystem_encoding"),
        preferred_encoding=doc.get("preferred_encoding"),
        site_packages=tuple(doc.get("site_packages") or ()),
        sys_path=tuple(str(p) for p in doc.get("sys_path") or ()),
        app_dir=doc.get("app_dir"),
        writable=_writable(doc.get("writable") or {}, plan),
        distributions=None if dists is None else len(dists),
        dependency_problems=problems,
        dependency_check=check,
        ca_bundle=doc.get("ca_bundle"),
        timezone_data=doc.get("timezone_data"),
        imports=import_check(doc.get("imports"), plan, doc.get("sys_path") or ()),
        app_sources=app_sources(doc.get("app_sources")),
        # The image's own error text may quote a credential (a settings module failing to
        # connect to `postgresql://app:PASSWORD@db`): masked before it becomes a fact.
        errors=(*wrong, *(_redacted(error) or "" for error in doc.get("errors") or ())),
        log_tail=tail if exit_code else (),
        tampering=tuple(dict.fromkeys(tampering)),
    )


def _redacted(value: Any) -> Any:
    """Image text with every credential masked, before it is cut (a cut credential is no
    longer recognisable); anything else as it is."""
    return redact_text(value) if isinstance(value, str) else value


def import_check(found: Any, plan: ProbePlan, searched: Any) -> ImportCheck | None:
    """The import smoke test's report as facts, with where a missing module does live."""
    if plan.imports is None:
        return None
    if not isinstance(found, dict):
        return ImportCheck(plan.imports.command, "not-run", "inconclusive",
                           message="the static probe did not report on its imports")  # fmt: skip
    status = str(found.get("status") or "failed")
    exception = clip(found.get("exception"))
    if status == "ok":
        verdict = "passed"
    elif status == "failed" and exception in _BROKEN_IMPORTS:
        verdict = "broken"
    elif status == "failed" and exception == "AttributeError" and found.get("attribute"):
        verdict = "broken"  # the module imported but lacks the object the server loads
    else:
        verdict = "inconclusive"
    module = clip(found.get("module"))
    paths = [str(p) for p in searched] if isinstance(searched, list) else []
    imported = found.get("imported")
    loaded, uncached, uncached_bytes = _loaded_sources(found)
    return ImportCheck(
        command=plan.imports.command,
        status=status,
        verdict=verdict,
        imported=tuple(str(m) for m in imported[:50]) if isinstance(imported, list) else (),
        exception=exception,
        message=clip(_redacted(found.get("message")), 500),
        module=module,
        library=clip(found.get("library")),
        location=clip(found.get("location")),
        raised_in=clip(found.get("raised_in")),
        attribute=clip(found.get("attribute")),
        found_elsewhere=plan.installed_elsewhere(module, paths) if verdict == "broken" else (),
        seconds=found.get("seconds") if isinstance(found.get("seconds"), (int, float)) else None,
        app_sources_loaded=loaded,
        app_sources_uncached=uncached,
        app_sources_uncached_bytes=uncached_bytes,
    )


def _loaded_sources(found: Any) -> tuple[int | None, tuple[str, ...], int | None]:
    """(application sources the import test loaded, those without a .pyc, their bytes)."""
    sources = found.get("sources")
    if not isinstance(sources, list):
        return None, (), None
    rows = [s for s in sources if isinstance(s, dict) and isinstance(s.get("path"), str)]
    uncached = [s for s in rows if s.get("cached") is False]
    size = sum(s["size"] for s in uncached if isinstance(s.get("size"), int))
    return len(rows), tuple(clip(s["path"]) or "" for s in uncached[:200]), size


def app_sources(found: Any) -> AppSources | None:
    """The compile test of the application's uncached sources, as facts."""
    if not isinstance(found, dict) or not isinstance(found.get("checked"), int):
        return None
    failed = []
    for item in found.get("uncompilable") or []:
        if isinstance(item, dict) and isinstance(item.get("path"), str):
            size = item.get("size") if isinstance(item.get("size"), int) else 0
            failed.append(Uncompilable(clip(item["path"]) or "", size,
                                       clip(_redacted(item.get("error")), 300) or ""))  # fmt: skip
    return AppSources(found["checked"], found.get("complete") is True, tuple(failed[:200]))


def _writable(found: dict[str, Any], plan: ProbePlan) -> dict[str, bool]:
    out = {str(path): bool(value) for path, value in found.items()}
    if plan.tmp is None and "/tmp" in out:
        out["/tmp"] = False  # our tmpfs made it exist; the image itself has no /tmp
    return out


def dependency_problems(
    dists: list[dict[str, Any]], environment: dict[str, str]
) -> tuple[DependencyProblem, ...]:
    """What `pip check` reports, from the distributions the image's interpreter sees."""
    installed = {canonicalize_name(d["name"]): d for d in dists if d.get("name")}
    out = []
    for dist in dists:
        name, version = dist.get("name"), dist.get("version")
        if not name:
            continue
        for text in dist.get("requires") or ():
            try:
                req = Requirement(text)
                if req.marker and not req.marker.evaluate({**environment, "extra": ""}):
                    continue
            except (
                InvalidRequirement,
                InvalidMarker,
                UndefinedComparison,
                UndefinedEnvironmentName,
            ):
                continue  # pip check skips what it cannot parse too
            target = installed.get(canonicalize_name(req.name))
            if target is None:
                message = (
                    f"{canonicalize_name(name)} {version} requires "
                    f"{canonicalize_name(req.name)}, which is not installed."
                )
                out.append(DependencyProblem(name, version, text, "missing", None, message))
                continue
            have = target.get("version")
            try:
                ok = not req.specifier or req.specifier.contains(Version(have), prereleases=True)
            except (InvalidVersion, TypeError):
                continue
            if not ok:
                message = (
                    f"{canonicalize_name(name)} {version} has requirement {req}, but you "
                    f"have {canonicalize_name(target['name'])} {have}."
                )
                out.append(DependencyProblem(name, version, text, "conflict", have, message))
    return tuple(out)
