"""Credentials for a registry, found where Docker and Podman users already keep them.

Docker's `config.json` (`$DOCKER_CONFIG` or `~/.docker`: `auths`, identity tokens, `credHelpers`,
`credsStore`) is resolved by the docker SDK's `docker.auth`, whose credential stores run the
`docker-credential-*` programs themselves: no daemon is asked. Podman's `auth.json`
(`$REGISTRY_AUTH_FILE`, else `$XDG_RUNTIME_DIR/containers/auth.json`) has the same `auths` shape.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import docker.auth
import docker.errors

from inspector.errors import InspectorError


@dataclass(frozen=True)
class Credentials:
    username: str | None = None
    password: str | None = None
    identity_token: str | None = None  # an OAuth2 refresh token (`docker login` to some hubs)

    def __repr__(self) -> str:  # never print a secret in a traceback or a log
        return f"Credentials(username={self.username!r}, ...)"


def _podman_auth_file() -> Path | None:
    explicit = os.environ.get("REGISTRY_AUTH_FILE")
    if explicit:
        return Path(explicit)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and (Path(runtime) / "containers" / "auth.json").is_file():
        return Path(runtime) / "containers" / "auth.json"
    return None


def _from_entry(entry: dict | None) -> Credentials | None:
    if not entry:
        return None
    # `auths` entries are lower case, credential-store answers capitalised.
    token = entry.get("IdentityToken") or entry.get("identitytoken")
    user = entry.get("username") or entry.get("Username")
    password = entry.get("password") or entry.get("Password")
    if token:
        return Credentials(username=user, identity_token=token)
    if user or password:
        return Credentials(username=user, password=password)
    return None


def find_credentials(host: str) -> Credentials | None:
    """The credentials for `host` (HOST[:PORT]), or None: anonymous access is tried then."""
    try:
        podman = _podman_auth_file()
        if podman is not None and podman.is_file():
            found = _from_entry(
                docker.auth.load_config(config_path=str(podman)).resolve_authconfig(host)
            )
            if found is not None:
                return found
        config = docker.auth.load_config()  # $DOCKER_CONFIG/config.json or ~/.docker/config.json
        return _from_entry(config.resolve_authconfig(host))
    except (docker.errors.DockerException, OSError, ValueError) as exc:
        raise InspectorError(
            f"the credentials for {host} could not be read from the Docker or Podman auth "
            f"config: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from exc
