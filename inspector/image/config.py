"""What an image declares in its config and history, independent of where it came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
