"""Which Dockerfile line set each config field a finding names (USER, CMD, ENV, ...), so SARIF
can place a config finding at its instruction instead of at the image.

A config field is the last instruction of the image's build chain that sets it (the final
stage and the stages it is built `FROM`). A field no instruction there sets (no USER at all,
an ENV the app needs but nobody set) comes from the base image: it is placed at the final
stage's FROM, where adding the instruction fixes it.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping

from inspector.dockerfile.parse import Instruction, Stage

# The config field a finding names (checks' Location.config) -> the instruction that sets it.
_FIELDS = {
    "User": "USER",
    "Cmd": "CMD",
    "Entrypoint": "ENTRYPOINT",
    "Healthcheck": "HEALTHCHECK",
    "StopSignal": "STOPSIGNAL",
    "WorkingDir": "WORKDIR",
    "ExposedPorts": "EXPOSE",
    "Volumes": "VOLUME",
    "Labels": "LABEL",
}
FROM_BASE = "FROM"  # what `config_lines` says of a field the base image set


def config_lines(chain: Iterable[Instruction], final: Stage) -> dict[str, tuple[int, str]]:
    """Config field -> (line, keyword of the instruction there): every field of `_FIELDS`, each
    ENV and LABEL name as `Env.NAME` / `Labels.NAME`, and `Entrypoint/Cmd` (the CMD, else the
    ENTRYPOINT). Fields the chain does not set, and `FROM_BASE` itself, map to the final FROM's
    line with `FROM_BASE`."""
    found: dict[str, tuple[int, str]] = {}
    keywords = {keyword: name for name, keyword in _FIELDS.items()}
    for instruction in chain:
        keyword = instruction.keyword
        if keyword in keywords:
            found[keywords[keyword]] = (instruction.line, keyword)
        if keyword in ("ENV", "LABEL"):
            prefix = "Env" if keyword == "ENV" else "Labels"
            for name in _names(instruction.rest):
                found[f"{prefix}.{name}"] = (instruction.line, keyword)
    command = found.get("Cmd") or found.get("Entrypoint")
    if command:
        found["Entrypoint/Cmd"] = command
    for name in (*_FIELDS, "Entrypoint/Cmd", FROM_BASE):
        found.setdefault(name, (final.line, FROM_BASE))
    return found


def line_of(lines: Mapping[str, tuple[int, str]], field: str) -> tuple[int, str] | None:
    """The line for a finding's config field: its own, else (an ENV or a label the chain does
    not set) the final FROM's; None for a field no instruction sets (or no Dockerfile)."""
    if field in lines:
        return lines[field]
    if field.startswith(("Env.", "Labels.")) and FROM_BASE in lines:
        return lines[FROM_BASE]
    return None


def _names(arguments: str) -> list[str]:
    """The names an ENV or LABEL sets: `A=1 B="two words"`, or the legacy `NAME value`."""
    try:
        words = shlex.split(arguments, posix=True)
    except ValueError:
        words = arguments.split()
    if not words:
        return []
    if "=" not in words[0]:
        return [words[0]]  # `ENV NAME value with spaces`
    return [word.split("=", 1)[0] for word in words if "=" in word]
