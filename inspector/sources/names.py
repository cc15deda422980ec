"""What a Docker image reference may look like, checked before anything asks the engine.

The grammar is the one the engine and registries apply (the distribution project's reference
grammar): `[HOST[:PORT]/]PATH[:TAG][@DIGEST]`, PATH components in lower case, or an image ID. A
reference that cannot be valid gets one line saying what a valid one looks like, instead of the
engine's raw `400 Client Error` (or, for an empty one, docker-py's exception).
"""

from __future__ import annotations

import re
import tarfile
from pathlib import Path

from inspector.errors import InspectorError

FORMS = (
    "NAME[:TAG] or NAME@sha256:DIGEST (lower case, e.g. app:1.4), an image ID, "
    "docker-archive:FILE, oci-archive:FILE, oci:DIR or registry:HOST/NAME[:TAG]"
)
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_HOST = rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}"
_NAME = re.compile(rf"(?:(?P<host>{_HOST})/)?(?P<path>{_COMPONENT}(?:/{_COMPONENT})*)")
_ID = re.compile(r"(?:sha256:)?[0-9a-f]{12,64}")
_ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.zst", ".oci")
NAME_MAX = 255


class BadReference(InspectorError):
    """The reference cannot name an image."""


def check_daemon_reference(text: str) -> None:
    """Raise `BadReference` when `text` cannot name an image the engine has."""
    if not text.strip():
        raise BadReference(f"an empty image reference; give {FORMS}")
    hint = archive_hint(text)
    if hint:
        raise BadReference(hint)
    if _ID.fullmatch(text):
        return
    name, digest = text.split("@", 1) if "@" in text else (text, None)
    tag = None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    match = _NAME.fullmatch(name)
    if match is None or len(name) > NAME_MAX:
        problem = "names are lower case" if name != name.lower() else "not a valid image name"
        raise BadReference(f"{problem}; give {FORMS}")
    # A first component without a dot, colon or `localhost` is a path, not a host, and paths
    # are lower case.
    host = match.group("host")
    if host and not ("." in host or ":" in host or host == "localhost") and host != host.lower():
        raise BadReference(f"names are lower case; give {FORMS}")
    if tag is not None and not re.fullmatch(_TAG, tag):
        raise BadReference(f"{tag!r} is not a valid tag; give {FORMS}")
    if digest is not None and not re.fullmatch(_DIGEST, digest):
        raise BadReference(f"{digest!r} is not a valid digest; give {FORMS}")


def archive_hint(text: str) -> str | None:
    """For a reference that is a file or directory path: which prefix reads it."""
    looks_like_path = text.startswith(("/", "./", "../", "~")) or text.endswith(_ARCHIVE_SUFFIXES)
    path = Path(text).expanduser()
    try:
        exists = path.exists()
    except OSError:
        exists = False
    if not (looks_like_path or (exists and ("/" in text or path.is_file()))):
        return None
    if not exists:
        return ("looks like a path, but there is no such file or directory; an archive is read "
                "as docker-archive:FILE or oci-archive:FILE, a layout as oci:DIR")  # fmt: skip
    prefix = _prefix_for(path)
    what = "directory" if path.is_dir() else "file"
    return f"a {what}, not an image name: read it as {prefix}:{text}"


def _prefix_for(path: Path) -> str:
    """`oci` for a layout directory; for a tar, `docker-archive` when it holds `docker save`'s
    manifest.json (Docker 25+ writes an OCI layout beside it), else `oci-archive` when it holds
    an OCI layout."""
    if path.is_dir():
        return "oci"
    try:
        with tarfile.open(path) as tar:
            names = set()
            for count, member in enumerate(tar):
                names.add(member.name.removeprefix("./"))
                if "manifest.json" in names or count > 10_000:
                    break
    except (OSError, tarfile.TarError, EOFError):
        return "docker-archive"
    if "manifest.json" not in names and "oci-layout" in names:
        return "oci-archive"
    return "docker-archive"
