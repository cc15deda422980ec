"""The team's own expectations (container-structure-test files given with --expect or the
policy's `expect`): each test that failed, or could not be decided, is a finding."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from checks.access import app_process, static_probe
from checks.model import Context, Facts, Found, Location, Skip
from checks.registry import check

_KIND = {"metadata": "metadata test", "file-existence": "file existence test",
         "file-content": "file content test", "command": "command test"}  # fmt: skip
_IMPORT_ERRORS = re.compile(r"\b(ModuleNotFoundError|ImportError)\b")
NOT_RUN_SEVERITY = "medium"


@check(
    "COR030",
    "expectation-failed",
    "A test of the team's own expectation file (container-structure-test) failed",
    severity="high",
    category="correctness",
    needs=("expectations",),
    wants=("config", "runtime.static", "runtime.lifecycle"),
    fix="Fix the image so the test holds, or fix the test if the image is right: the finding "
    "says what was expected and what the image has.",
)
def expectation_failed(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    Each test of the expectation files given with `--expect FILE` or the policy's `expect`:
    container-structure-test's own YAML (schemaVersion 2.0.0). Metadata tests (each key
    its own test: `metadataTest.user`, `metadataTest.envVars[PORT]`) and file tests are
    decided from the image's config and layers, without a container; command tests run in
    one hardened probe container per file. A test that failed is a finding at this check's
    severity; a test that could not be decided (command tests under `--no-probe`, or of an
    image that is not on a Docker engine) is a medium finding that says why, so an
    expectation never passes unread. docs/expectations.md lists what is read of the format.
    Where the probes know more (the app's effective UID after its entrypoint drops
    privileges, an import the image's own command fails on), the finding says so.

    ## Why it matters
    A release is signed off against what the team requires of the image, written once as
    container-structure-test files (https://github.com/GoogleContainerTools/container-structure-test);
    running them in the same audit puts them under the same gate, baseline, SARIF and JUnit
    as every other finding, with the file and the test as the location.

    ## Example
    ```yaml
    schemaVersion: 2.0.0
    metadataTest:
      user: app                      # the image's USER is root
    commandTests:
      - name: python version
        command: python
        args: ["--version"]
        expectedOutput: ["Python 3\\.12"]   # the image ships 3.11
    ```

    ## Instead
    ```dockerfile
    FROM python:3.12-slim
    RUN useradd --create-home app
    USER app
    ```

    ## References
    - https://github.com/GoogleContainerTools/container-structure-test#command-tests
    - https://docs.docker.com/reference/dockerfile/#user
    - Practice: #20 The image must actually work: smoke-test it before pushing: "Broken by default:
      why you should avoid most Dockerfile examples",
      https://pythonspeed.com/articles/dockerizing-python-is-hard/
    """
    section = facts.get("expectations")
    if not isinstance(section, dict):
        raise Skip("no expectation file was given (--expect FILE, or the policy's `expect`)")
    for result in section.get("results") or ():
        status = result.get("status")
        if status not in ("failed", "not-run"):
            continue
        kind, name, file = result.get("kind") or "", result.get("name") or "", result.get("file")
        what = f"{_KIND.get(kind, 'test')} {name!r}"
        if status == "failed":
            message = f"{what} failed: " + "; ".join(result.get("failures") or ["it failed"])
        else:
            message = f"{what} was not run: {result.get('reason') or 'unknown reason'}"
        notes = _notes(facts, result)
        if notes:
            message += " (" + "; ".join(notes) + ")"
        yield Found(
            message,
            Location(
                path=result.get("path") if kind.startswith("file") else None,
                runtime="expectation probe container" if kind == "command" else None,
                expectation=f"{file}: test {name!r}",
            ),
            severity=NOT_RUN_SEVERITY if status == "not-run" else None,
            fix=None if status == "failed" else _not_run_fix(result.get("reason") or ""),
            rule=kind,
            identity=f"{file}: {kind}: {name}",
        )


def _not_run_fix(reason: str) -> str:
    if "--no-probe" in reason:
        return "Audit without --no-probe so the command tests run."
    if "registry" in reason:
        return "Audit with --pull missing so the image is put on the engine and its commands run."
    if "archive" in reason:
        return "`docker load` the archive and audit the image by its ID."
    return "Make the image runnable on this engine, or move the test to another file."


def _notes(facts: Facts, result: dict[str, Any]) -> list[str]:
    """What the probes add: the app's real effective UID, an import the image fails on."""
    notes = []
    name = result.get("name") or ""
    if name == "metadataTest.user" and result.get("status") == "failed":
        process = app_process(facts)
        if process and process.get("euid") is not None:
            euid = process["euid"]
            why = " (its entrypoint drops privileges)" if euid != 0 else " (root)"
            notes.append(f"the lifecycle probe saw the app run with effective UID {euid}{why}")
    if result.get("kind") == "command" and result.get("status") == "failed":
        text = "\n".join(result.get("stderr_tail") or ())
        static = static_probe(facts)
        imports = (static or {}).get("imports") or {}
        if _IMPORT_ERRORS.search(text) and imports.get("verdict") == "broken":
            where = imports.get("found_elsewhere") or []
            failed = imports.get("module") or imports.get("message") or ""
            note = f"the image's own command fails to import too: {imports.get('exception')} "
            note = (note + failed).rstrip()
            if where:
                note += f", installed in {', '.join(where)} but off sys.path"
            notes.append(note)
    return notes
