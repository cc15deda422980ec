"""What an image declares in its config and history, independent of where it came from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from inspector.errors import InspectorError

# Docker's legacy builder and BuildKit both write shell-form instructions as ["/bin/sh", "-c", ...].
_SHELL_PREFIXES = (("/bin/sh", "-c"), ("sh", "-c"), ("/bin/bash", "-c"), ("bash", "-c"))


def command_form(argv: list[str] | None) -> str | None:
    """ "shell" when Docker wrapped the command in a shell, "exec" otherwise, None if absent."""
    if not argv:
        return None
    return "shell" if tuple(argv[:2]) in _SHELL_PREFIXES else "exec"


@dataclass(frozen=True)
class ImageConfig:
    user: str
    entrypoint: list[str] | None
    cmd: list[str] | None
    env: dict[str, str]
    workdir: str
    labels: dict[str, str]
    healthcheck: dict[str, Any] | None
    stop_signal: str | None
    exposed_ports: list[str]
    volumes: list[str]

    @property
    def entrypoint_form(self) -> str | None:
        return command_form(self.entrypoint)

    @property
    def cmd_form(self) -> str | None:
        return command_form(self.cmd)


def parse_env(pairs: list[str] | None) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs or []:
        name, _, value = pair.partition("=")
        env[name] = value
    return env


def config_from_json(cfg: dict[str, Any] | None) -> ImageConfig:
    """Build an ImageConfig from the `Config` object of `docker inspect` or an OCI image config."""
    cfg = cfg or {}
    return ImageConfig(
        user=cfg.get("User") or "",
        entrypoint=cfg.get("Entrypoint"),
        cmd=cfg.get("Cmd"),
        env=parse_env(cfg.get("Env")),
        workdir=cfg.get("WorkingDir") or "",
        labels=dict(cfg.get("Labels") or {}),
        healthcheck=cfg.get("Healthcheck"),
        stop_signal=cfg.get("StopSignal"),
        exposed_ports=sorted((cfg.get("ExposedPorts") or {}).keys()),
        volumes=sorted((cfg.get("Volumes") or {}).keys()),
    )


class ConfigError(InspectorError):
    """The image config does not have the shape the OCI image spec gives it."""


# Config field -> (what it must be, a test of a value). Absent and null are always allowed.
def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _string_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def _healthcheck(value: Any) -> bool:
    return isinstance(value, dict) and (value.get("Test") is None or _strings(value["Test"]))


_CONFIG_FIELDS = {
    "User": ("a string", lambda v: isinstance(v, str)),
    "Entrypoint": ("a list of strings", _strings),
    "Cmd": ("a list of strings", _strings),
    "Env": ("a list of strings", _strings),
    "WorkingDir": ("a string", lambda v: isinstance(v, str)),
    "Labels": ("an object of strings", _string_map),
    "Healthcheck": ("an object whose Test is a list of strings", _healthcheck),
    "StopSignal": ("a string", lambda v: isinstance(v, str)),
    "ExposedPorts": ("an object", lambda v: isinstance(v, dict)),
    "Volumes": ("an object", lambda v: isinstance(v, dict)),
}
_HISTORY_FIELDS = {"created": str, "created_by": str, "author": str, "comment": str,
                   "empty_layer": bool}  # fmt: skip


def _kind(value: Any) -> str:
    names = {str: "a string", int: "a number", float: "a number", bool: "a boolean",
             list: "a list", dict: "an object", type(None): "null"}  # fmt: skip
    return names.get(type(value), type(value).__name__)


def validate(raw: Any) -> dict[str, Any]:
    """`raw`, the parsed image config, when its fields have the types the spec gives them;
    else ConfigError naming the first field that does not (one line, never a traceback).
    Lone surrogates in its strings become U+FFFD (changed in place)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"the image config is {_kind(raw)}, not a JSON object")
    _replace_lone_surrogates(raw)
    for key in ("architecture", "os", "created", "variant", "author"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise ConfigError(f"the image config's {key} is {_kind(raw[key])}, not a string")
    rootfs = raw.get("rootfs")
    if rootfs is not None and not (isinstance(rootfs, dict) and
                                   (rootfs.get("diff_ids") is None
                                    or _strings(rootfs["diff_ids"]))):  # fmt: skip
        raise ConfigError("the image config's rootfs.diff_ids is not a list of strings")
    config = raw.get("config")
    if config is not None and not isinstance(config, dict):
        raise ConfigError(f"the image config's config is {_kind(config)}, not an object")
    for key, (shape, test) in _CONFIG_FIELDS.items():
        value = (config or {}).get(key)
        if value is not None and not test(value):
            raise ConfigError(f"the image config's config.{key} is {_kind(value)}, not {shape}"
                              + _which(value))  # fmt: skip
    history = raw.get("history")
    if history is not None and not isinstance(history, list):
        raise ConfigError(f"the image config's history is {_kind(history)}, not a list")
    for i, step in enumerate(history or []):
        if not isinstance(step, dict):
            raise ConfigError(f"the image config's history[{i}] is {_kind(step)}, not an object")
        for key, kind in _HISTORY_FIELDS.items():
            if step.get(key) is not None and not isinstance(step[key], kind):
                raise ConfigError(f"the image config's history[{i}].{key} is "
                                  f"{_kind(step[key])}, not {_kind(kind())}")  # fmt: skip
    return raw


# json.loads keeps a lone "\\ud800" escape (and, reading bytes, an encoded surrogate) as a str
# that no UTF-8 output can encode; Docker's Go decoder reads both as U+FFFD. Doing the same here,
# once, keeps every later writer (cache, reports, terminal) from crashing on a config string.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean(text: Any) -> Any:
    return _SURROGATE.sub("\ufffd", text) if isinstance(text, str) else text


def _replace_lone_surrogates(raw: dict[str, Any]) -> None:
    # A loop, not recursion: json.loads accepts nesting nearly as deep as the recursion limit.
    stack: list[Any] = [raw]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            items = [(_clean(k), _clean(v)) for k, v in node.items()]
            node.clear()
            node.update(items)
            stack.extend(v for _, v in items if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            node[:] = [_clean(v) for v in node]
            stack.extend(v for v in node if isinstance(v, (dict, list)))


def _which(value: Any) -> str:
    """For a list or object of the wrong items: which item, so the fix is easy to find."""
    items = (
        value
        if isinstance(value, list)
        else list(value.values())
        if isinstance(value, dict)
        else []
    )
    odd = next((v for v in items if not isinstance(v, str)), None)
    return f" (it holds {_kind(odd)})" if odd is not None else ""
