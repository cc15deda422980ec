"""A Dockerfile given with `--dockerfile`, and which of its instructions made each image layer
(matching the image's history against the instructions lives in `inspector.dockerfile.history`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspector.dockerfile.config_lines import config_lines
from inspector.dockerfile.history import align, steps
from inspector.dockerfile.parse import LAYER_KEYWORDS, Instruction, Stage, parse, stages
from inspector.errors import InspectorError


@dataclass(frozen=True)
class Dockerfile:
    path: str  # relative POSIX path when inside the working directory, else absolute
    instructions: tuple[Instruction, ...]  # every instruction, FROMs and global ARGs included

    @classmethod
    def read(cls, path: str) -> Dockerfile:
        """Read and parse `path`; InspectorError (naming the file) when it is not a Dockerfile."""
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError:
            raise InspectorError(f"--dockerfile {path}: no such file") from None
        except IsADirectoryError:
            raise InspectorError(f"--dockerfile {path}: is a directory, not a file") from None
        except OSError as exc:
            raise InspectorError(f"--dockerfile {path}: cannot read it: {exc.strerror}") from None
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InspectorError(
                f"--dockerfile {path}: not UTF-8 text (invalid byte at offset {exc.start})"
            ) from None
        instructions = parse(text)
        if not any(i.keyword == "FROM" for i in instructions):
            raise InspectorError(f"--dockerfile {path}: no FROM instruction, not a Dockerfile")
        return cls(display_path(path), instructions)

    @property
    def stages(self) -> tuple[Stage, ...]:
        return stages(self.instructions)

    def final_chain(self) -> tuple[Instruction, ...]:
        """The instructions that made the image's own layers: the last stage and the stages it
        is built `FROM`, oldest first, without the FROMs."""
        chain: list[Stage] = []
        found = self.stages
        index = len(found) - 1
        while index >= 0:
            stage = found[index]
            chain.insert(0, stage)
            # `FROM build` names a stage only when that stage comes before it.
            earlier = [i for i in range(index) if found[i].name == stage.base.lower()]
            index = earlier[-1] if earlier else -1
        return tuple(i for stage in chain for i in stage.instructions)

    def locate(self, facts: dict[str, Any]) -> dict[int, int]:
        """Layer index (as in `layers[]`) -> 1-based line of the instruction that made it.

        Empty when the Dockerfile does not match the image's history (see `mismatch`)."""
        history = facts.get("history") or []
        chain = self.final_chain()
        pairs = align(chain, steps(history))
        if _mismatched(chain, pairs):
            return {}
        lines = {}
        for instruction, step in pairs:
            layer = history[step].get("layer") if isinstance(history[step], dict) else None
            if isinstance(layer, int):
                lines[layer] = chain[instruction].line
        return lines

    def config_lines(self, facts: dict[str, Any]) -> dict[str, tuple[int, str]]:
        """Config field -> (line, keyword) of the instruction that set it (see
        `inspector.dockerfile.config_lines`); empty when the Dockerfile does not match."""
        chain = self.final_chain()
        if not self.stages or _mismatched(chain, align(chain, steps(facts.get("history") or []))):
            return {}
        return config_lines(chain, self.stages[-1])

    def mismatch(self, facts: dict[str, Any]) -> str | None:
        """The warning to print when this Dockerfile does not match the image; else None."""
        chain = self.final_chain()
        if not _mismatched(chain, align(chain, steps(facts.get("history") or []))):
            return None
        image = (facts.get("image") or {}).get("reference") or "the image"
        return (
            f"--dockerfile {self.path} does not match the history of {image}; "
            "findings keep image locations"
        )


def _mismatched(chain: tuple[Instruction, ...], pairs: list[tuple[int, int]]) -> bool:
    # Metadata such as `EXPOSE 8000` or `ARG INDEX_URL` matches many images: when the final
    # stage makes layers, at least one of those must be found for the Dockerfile to count.
    makers = {i for i, instruction in enumerate(chain) if instruction.keyword in LAYER_KEYWORDS}
    matched = {i for i, _ in pairs}
    if makers:
        return not makers & matched
    return bool(chain) and not matched


def display_path(path: str) -> str:
    """`path` as a relative POSIX path when it is inside the working directory, else absolute."""
    given = Path(path)
    cwd = Path.cwd()
    for candidate, base in ((Path(os.path.abspath(given)), cwd), (given.resolve(), cwd.resolve())):
        try:
            return candidate.relative_to(base).as_posix()
        except ValueError:
            continue
    return Path(os.path.abspath(given)).as_posix()
