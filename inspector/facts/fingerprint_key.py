"""The key secret fingerprints are made with, kept in the user's cache directory.

A secret's hint shows its length and a fingerprint, so that two findings of one value can be
told apart. An unsalted hash would let anyone holding a report confirm a guessed password; the
fingerprint is an HMAC under this key instead (see `secret_rules.fingerprint`). The key is made
once per machine (32 random bytes, the file readable by its owner only) and kept beside the layer
cache, whose cached hits carry fingerprints made with it: two runs on one machine give the same
fingerprints. A scan uses its store's key instead (`Store.fingerprint_key`), so every machine of
a fleet sharing a store fingerprints alike.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

from inspector.analysers import secret_rules
from inspector.layers.cache import default_dir

KEY_FILE = "fingerprint.key"
KEY_BYTES = 32


def machine_key(directory: Path | None = None) -> bytes | None:
    """This machine's key, created on first use; None when the directory cannot hold it (a
    read-only home): the process's random key then serves, fingerprints vary between runs."""
    path = (directory or default_dir()) / KEY_FILE
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    except (OSError, ValueError):
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole under another name, then linked: a concurrent run reads either no file
        # or the whole key, and the first link wins.
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".fingerprint-key-")
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, secrets.token_hex(KEY_BYTES).encode())
            os.close(fd)
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
        return _read(path)
    except (OSError, ValueError):
        return None


def _read(path: Path) -> bytes:
    key = bytes.fromhex(path.read_text().strip())
    if len(key) < 16:
        raise ValueError(f"{path}: too short to be a key")
    return key


def ensure() -> None:
    """Use the machine's key unless a key was given already (a scan gives its store's)."""
    if not secret_rules.fingerprint_key_given():
        key = machine_key()
        if key is not None:
            secret_rules.use_fingerprint_key(key)
