"""The one hook the facts collection calls: every test of the expectation files judged, into the
facts' `expectations` section.

Metadata and file tests read what the single pass over the layers gave (the config, the merged
filesystem, the bytes captured for the content tests' paths). Command tests run after the
probes, in one container per file (`inspector/probes/commands.py`), only when the image is on a
Docker engine and probes were asked for; otherwise each says why it was not run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from inspector.analysers.imagedata import ImageData
from inspector.errors import InspectorError
from inspector.expect import judge
from inspector.expect.model import (
    CommandContainer,
    CommandTest,
    ExpectationFacts,
    ExpectationFile,
    ExpectationResult,
)
from inspector.image.config import ImageConfig
from inspector.layers.model import FILE, HARDLINK
from inspector.layers.overlay import FileSystem
from inspector.probes.limits import ProbeLimits
from inspector.probes.model import RuntimeFacts

FILE_BUDGET = 600.0  # seconds all command tests of one file may take together
# Programs that can keep the container open between commands, when the image has no Python.
_SLEEPERS = (("/bin/sleep",), ("/usr/bin/sleep",), ("/bin/busybox", "sleep"))
_FOREVER = "2147483647"


def capture(files: Collection[ExpectationFile]) -> Callable[[str, int], int | None]:
    """What the layer pass must keep for the content tests: the first CONTENT_CAP bytes of each
    path they name."""
    paths = frozenset(p for f in files for p in f.content_paths())
    return lambda path, size: judge.CONTENT_CAP if path in paths else None


def content_paths(files: Collection[ExpectationFile]) -> tuple[str, ...]:
    return tuple(sorted({p for f in files for p in f.content_paths()}))


def commands_blocked(kind: str, probing: bool, pull: str, pull_ref: str | None) -> str | None:
    """Why command tests cannot run for an image read this way, or None (they can)."""
    if not probing:
        return "command tests run the image, and probes were not requested (--no-probe)"
    if kind == "registry" and not (pull != "never" and pull_ref):
        return ("command tests run the image on a Docker engine, and it was read from a "
                "registry (run with --pull missing)")  # fmt: skip
    if kind not in ("daemon", "registry"):
        return ("command tests run the image on a Docker engine and this image is an archive: "
                "`docker load` it and give its ID")  # fmt: skip
    return None


@dataclass(frozen=True)
class ExpectRun:
    """What collect() is given: the files, and whether their commands may run."""

    files: tuple[ExpectationFile, ...]
    blocked: str | None = None  # why command tests cannot run (None: they can)
    limits: ProbeLimits | None = None

    def evaluate(self, data: ImageData, shown: ImageConfig, interpreter: str | None,
                 runtime: RuntimeFacts, image_id: str) -> ExpectationFacts:  # fmt: skip
        """`data` carries the real config (values are compared as they are); `shown` is the
        redacted one findings may quote."""
        results: list[ExpectationResult] = []
        containers: list[CommandContainer] = []
        read = judge.content_of(data.fs, lambda layer, path: data.layers[layer].contents.get(path))
        for file in self.files:
            results += judge.static(file, data.config, shown, data.fs, read)
            if not file.commands:
                continue
            blocked = self.blocked or _unrunnable(runtime)
            keepalive = _keepalive(data.fs, interpreter)
            if blocked is None and keepalive is None:
                blocked = ("the image has no program that can keep a container open for the "
                           "commands (no Python, no sleep)")  # fmt: skip
            if blocked is not None or keepalive is None:
                why = blocked or "no keep-alive program"
                results += [judge.not_run(file, t, why) for t in file.commands]
                containers.append(CommandContainer(file.name, "not-run", why))
                continue
            ran, container = _run_commands(file, image_id, keepalive, data.config, self.limits)
            results += ran
            containers.append(container)
        return ExpectationFacts(tuple(f.name for f in self.files), tuple(results),
                                tuple(containers))  # fmt: skip


def _unrunnable(runtime: RuntimeFacts) -> str | None:
    """The probes' own reason the image cannot run here (another architecture)."""
    lifecycle = runtime.lifecycle
    if lifecycle.status == "not-applicable" and runtime.static.status == "not-applicable":
        return f"command tests cannot run: {lifecycle.reason}"
    return None


def _keepalive(fs: FileSystem, interpreter: str | None) -> tuple[str, ...] | None:
    if interpreter:
        # -I -S: nothing of the image's site customisation runs in the container's PID 1.
        return (interpreter, "-I", "-S", "-c", "import time\nwhile True: time.sleep(3600)")
    for program, *sub in _SLEEPERS:
        resolved = fs.resolve(program)
        entry = fs.get(resolved) if resolved else None
        if entry is not None and entry.kind in (FILE, HARDLINK) and entry.mode & 0o111:
            return (program, *sub, _FOREVER)
    return None


def _environment(file: ExpectationFile, test: CommandTest, image_env: Mapping[str, str]
                 ) -> tuple[dict[str, str], dict[str, str]]:  # fmt: skip
    """(what the command's `$VAR` are replaced from, what the command's environment adds)."""
    added = {v.key: judge.expand(v.value, image_env) for v in file.global_env_vars}
    seen = {**image_env, **added}
    added.update({v.key: judge.expand(v.value, seen) for v in test.env_vars})
    added.update(dict(file.run_env))
    return {**image_env, **added}, added


def _run_commands(file: ExpectationFile, image_id: str, keepalive: tuple[str, ...],
                  config: ImageConfig, limits: ProbeLimits | None
                  ) -> tuple[list[ExpectationResult], CommandContainer]:  # fmt: skip
    from inspector.probes.commands import CommandsUnavailable, session
    from inspector.probes.static import masked_tail

    started = time.monotonic()
    results: list[ExpectationResult] = []
    try:
        with session(image_id, keepalive, limits) as box:
            for test in file.commands:
                if time.monotonic() - started > FILE_BUDGET:
                    results.append(judge.not_run(file, test, f"the file's command tests had "
                                                 f"already run for {FILE_BUDGET:g}s"))  # fmt: skip
                    continue
                seen, added = _environment(file, test, config.env)
                begun = time.monotonic()
                setup_failed = []
                for step in test.setup:
                    done = box.run(step, added, file.run_user)
                    if done.exit_code != 0:
                        said = done.stopped or f"exited with {done.exit_code}"
                        setup_failed.append(f"{' '.join(step)}: {said}")
                argv = [judge.expand(part, seen) for part in (test.command, *test.args)]
                ran = box.run(argv, added, file.run_user)
                for step in test.teardown:
                    box.run(step, added, file.run_user)
                outcome = judge.CommandOutcome(
                    ran.exit_code, ran.stdout.decode("utf-8", "replace"),
                    ran.stderr.decode("utf-8", "replace"), time.monotonic() - begun,
                    ran.stopped, tuple(setup_failed))  # fmt: skip
                results.append(judge.command(file, test, outcome, masked_tail))
            container = CommandContainer(file.name, "ran", None, box.short_id, box.starts,
                                         keepalive[0],
                                         round(time.monotonic() - started, 3))  # fmt: skip
    except (CommandsUnavailable, InspectorError) as exc:
        done_names = {r.name for r in results}
        results += [judge.not_run(file, t, str(exc)) for t in file.commands
                    if t.name not in done_names]  # fmt: skip
        container = CommandContainer(file.name, "failed", str(exc))
    return results, container
