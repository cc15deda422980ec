"""Which file secrets are one secret, and which are one package's examples (SEC006's grouping).

Pure functions of the facts' `secrets[]` entries found in files. A later layer that writes the
same file again (`chown -R`, `chmod -R`, a second `COPY`) stores a second copy of every secret in
it: the same value at the same path and line is one secret, first added by the earliest layer.
A distribution's docstrings and METADATA can hold dozens of credential-shaped examples: they are
one fact about the package, not one per match.
"""

from __future__ import annotations

import posixpath
from collections import Counter
from typing import Any

Secret = dict[str, Any]


def _same_secret(secret: Secret) -> tuple[Any, ...]:
    # The fingerprint is the value's (content scan) or the whole file's (findings by name):
    # together with the path and line it says "the same bytes", whatever layer wrote them.
    return (secret.get("path"), secret.get("kind"), secret.get("line"),
            secret.get("fingerprint"), secret.get("hint"))  # fmt: skip


def copies(secrets: list[Secret]) -> list[list[Secret]]:
    """The file secrets grouped into one list per secret, each list earliest layer first, in
    the order the secrets first appear."""
    groups: dict[tuple[Any, ...], list[Secret]] = {}
    for secret in secrets:
        groups.setdefault(_same_secret(secret), []).append(secret)
    return [sorted(group, key=_layer) for group in groups.values()]


def _layer(secret: Secret) -> int:
    layer = secret.get("layer")
    return layer if isinstance(layer, int) else 0


def _secret_looking(hint: str) -> list[str]:
    _, found, names = hint.partition("secret-looking: ")
    return [name for name in names.split(", ") if name] if found else []


def said_by_content(secret: Secret, secrets: list[Secret]) -> bool:
    """A dotenv file whose secret-looking variables the content scan found one by one in the
    same file version: each value is its own finding already, and the file is where they are."""
    if secret.get("kind") != "dotenv":
        return False
    found = [s for s in secrets
             if s.get("path") == secret.get("path") and s.get("layer") == secret.get("layer")
             and s.get("line") is not None]  # fmt: skip
    return bool(found) and len(found) >= len(_secret_looking(secret.get("hint") or ""))


def owner(secret: Secret) -> tuple[str, str]:
    """(owner_kind, owner) of a third-party file secret, the key of its package's roll-up."""
    return str(secret.get("owner_kind")), str(secret.get("owner") or "")


def _common(paths: list[str]) -> str:
    try:
        return posixpath.commonpath(paths)
    except ValueError:  # absolute and relative paths mixed: facts from a damaged image
        return "/"


def rollup(groups: list[list[Secret]]) -> dict[str, Any]:
    """What one package's examples amount to: how many, in which files, under which directory,
    in which layer (the one that added the most) and its history step, as the facts redacted it."""
    files = sorted({str(group[0].get("path")) for group in groups})
    under = posixpath.dirname(files[0]) if len(files) == 1 else _common(files)
    layers = Counter(group[0].get("layer") for group in groups)
    layer = max(layers, key=lambda k: (layers[k], -(k if isinstance(k, int) else 0)))
    return {
        "matches": len(groups),
        "files": [path.removeprefix(under).lstrip("/") or path for path in files],
        "under": under,
        "path": files[0] if len(files) == 1 else under,
        "layer": layer,
        "created_by": next(g[0].get("created_by") for g in groups if g[0].get("layer") == layer),
        "file_kinds": sorted({group[0].get("file_kind") or "code" for group in groups}),
        "kinds": sorted({str(group[0].get("kind")) for group in groups}),
    }
