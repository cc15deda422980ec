"""The tests of an expectation file as parsed, and their results as facts (frozen, JSON-ready).

The results are the facts' `expectations` section (described in inspector/facts/fields.py);
check COR030 turns each failed or undecided one into a finding.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

# --- one file, as parse.py reads it ----------------------------------------------------------


@dataclass(frozen=True)
class EnvVar:
    key: str
    value: str = ""
    is_regex: bool = False


@dataclass(frozen=True)
class MetadataTest:
    env_vars: tuple[EnvVar, ...] = ()
    unbound_env_vars: tuple[EnvVar, ...] = ()
    labels: tuple[EnvVar, ...] = ()
    entrypoint: tuple[str, ...] | None = None  # None: not checked; (): expects none
    cmd: tuple[str, ...] | None = None
    exposed_ports: tuple[str, ...] = ()
    unexposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    unmounted_volumes: tuple[str, ...] = ()
    workdir: str = ""
    user: str = ""


@dataclass(frozen=True)
class FileExistenceTest:
    name: str
    path: str
    should_exist: bool = True
    permissions: str = ""
    uid: int | None = None  # None: not checked
    gid: int | None = None
    is_executable_by: str = ""


@dataclass(frozen=True)
class FileContentTest:
    name: str
    path: str
    expected_contents: tuple[str, ...] = ()
    excluded_contents: tuple[str, ...] = ()


@dataclass(frozen=True)
class CommandTest:
    name: str
    command: str
    args: tuple[str, ...] = ()
    env_vars: tuple[EnvVar, ...] = ()
    setup: tuple[tuple[str, ...], ...] = ()
    teardown: tuple[tuple[str, ...], ...] = ()
    exit_code: int = 0
    expected_output: tuple[str, ...] = ()
    excluded_output: tuple[str, ...] = ()
    expected_error: tuple[str, ...] = ()
    excluded_error: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExpectationFile:
    """One CST file. `name` is how findings name it: the path as the user or the policy wrote
    it, so a baseline keeps matching wherever the command runs from."""

    name: str
    global_env_vars: tuple[EnvVar, ...] = ()
    metadata: MetadataTest | None = None
    file_existence: tuple[FileExistenceTest, ...] = ()
    file_content: tuple[FileContentTest, ...] = ()
    commands: tuple[CommandTest, ...] = ()
    run_user: str = ""  # containerRunOptions.user
    run_env: tuple[tuple[str, str], ...] = ()  # containerRunOptions.envVars, read at parse time

    def content_paths(self) -> tuple[str, ...]:
        """The content tests' paths as the layer pass names files: absolute, normalised."""
        return tuple(posixpath.normpath("/" + t.path.lstrip("/")) for t in self.file_content)


# --- the facts section ------------------------------------------------------------------------

KINDS = ("metadata", "file-existence", "file-content", "command")
STATUSES = ("passed", "failed", "not-run")


@dataclass(frozen=True)
class ExpectationResult:
    file: str  # the expectation file, as the user or the policy named it
    kind: str  # one of KINDS
    name: str  # the test's name; metadata: "metadataTest.user", "metadataTest.envVars[PORT]"
    status: str  # one of STATUSES
    failures: tuple[str, ...] = ()  # what did not hold, one sentence each
    reason: str | None = None  # why it was not run
    path: str | None = None  # the image path a file test looked at
    exit_code: int | None = None  # a command's exit code, when it exited
    stdout_tail: tuple[str, ...] = ()  # a command's last lines, credentials masked
    stderr_tail: tuple[str, ...] = ()
    seconds: float | None = None  # a command test's time, setup and teardown included


@dataclass(frozen=True)
class CommandContainer:
    """How one file's command tests ran: one container, started once (again only after a
    command had to be killed)."""

    file: str
    status: str  # "ran" | "not-run" | "failed"
    reason: str | None = None
    container: str | None = None  # its short ID: the same for every test of the file
    starts: int = 0  # times it was started: 1, plus one per command killed on a limit
    keepalive: str | None = None  # the program that kept it open between commands
    seconds: float | None = None


@dataclass(frozen=True)
class ExpectationFacts:
    files: tuple[str, ...]  # the expectation files, in the order given
    results: tuple[ExpectationResult, ...]
    command_containers: tuple[CommandContainer, ...] = ()
