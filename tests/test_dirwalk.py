"""Unit tests of walking a layer's diff directory (a stored layer with no tar-split): overlayfs'
markers mapped to a tar's, inode metadata kept, and hostile directories read in bounded time."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from inspector.facts.collect import SCANNER, capture_rule
from inspector.layers.dirwalk import walk_layer
from inspector.layers.limits import LimitExceeded
from inspector.layers.model import Entry
from inspector.layers.stored import StoredLayer, StoredLayerError

CAP_NET_RAW = bytes.fromhex("0100000200200000000000000000000000000000")
AWS_KEY = "AKIA" + "QYLPMN5HHHFPZAM2"  # a made-up key of the real shape


def diff_dir(tmp_path: Path) -> Path:
    """A diff directory as overlayfs leaves it after a build step (root makes the markers)."""
    root = tmp_path / "diff"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (root / "srv" / "odd" / "gone").mkdir(parents=True)
    (root / "srv" / "settings.py").write_text(f'AWS_ACCESS_KEY_ID = "{AWS_KEY}"\n')
    odd = root / "srv" / "odd"
    os.symlink("loop-b", odd / "loop-a")
    os.symlink("loop-a", odd / "loop-b")
    os.symlink(".", odd / "self")
    os.mkfifo(odd / "fifo")
    os.mknod(odd / "null", stat.S_IFCHR | 0o644, os.makedev(1, 3))
    os.mknod(odd / "deleted", stat.S_IFCHR | 0o000, os.makedev(0, 0))  # a whiteout
    os.setxattr(odd / "gone", "trusted.overlay.opaque", b"y")
    (odd / "gone" / "new").write_text("new\n")
    (odd / "locked").write_text("nobody may read this\n")
    os.chmod(odd / "locked", 0)
    (odd / "a").write_text("one inode, two names\n")
    os.link(odd / "a", odd / "b")
    (odd / "pinger").write_bytes(b"\x7fELF")
    os.setxattr(odd / "pinger", "security.capability", CAP_NET_RAW)
    return root


def walk(root: Path):  # type: ignore[no-untyped-def]
    capture, _ = capture_rule()
    return walk_layer(StoredLayer("sha256:" + "0" * 64, root, None), capture, SCANNER)


def by_path(entries: tuple[Entry, ...]) -> dict[tuple[str, str], Entry]:
    return {(e.path, e.kind): e for e in entries}


def test_overlay_markers_and_inodes_read_as_a_tar_says_them(tmp_path):
    """Whiteout devices become whiteouts, the opaque xattr an opaque entry, a second name of an
    inode a hard link, the capability xattr the entry's capability; symlinks are not followed."""
    read = walk(diff_dir(tmp_path))
    entries = by_path(read.entries)
    assert ("/srv/odd/deleted", "whiteout") in entries
    assert ("/srv/odd/gone", "opaque") in entries
    assert entries[("/srv/odd/b", "hardlink")].link == "/srv/odd/a"
    assert entries[("/srv/odd/a", "file")].size == 21
    assert entries[("/srv/odd/pinger", "file")].capability == CAP_NET_RAW.hex()
    assert entries[("/srv/odd/loop-a", "symlink")].link == "loop-b"
    assert entries[("/srv/odd/self", "symlink")].link == "."
    assert ("/srv/odd/fifo", "fifo") in entries
    assert ("/srv/odd/null", "char") in entries
    assert entries[("/srv/odd/locked", "file")].mode == 0
    # Members come depth first in byte order, each directory before what it holds.
    paths = [e.path for e in read.entries]
    assert paths.index("/srv") < paths.index("/srv/odd") < paths.index("/srv/odd/a")
    assert paths.index("/srv/odd/gone") < paths.index("/srv/odd/gone/new")


def test_analysers_get_captures_and_the_scan_from_the_files(tmp_path):
    """Captured files are read from disk and the content scan finds the planted key."""
    read = walk(diff_dir(tmp_path))
    assert read.contents["/etc/passwd"].startswith(b"root:x:0:0")
    assert [hit.path for hit in read.hits] == ["/srv/settings.py"]


def test_a_directory_with_more_names_than_the_limit_stops_there(tmp_path, monkeypatch):
    """A directory of more entries than INSPECTOR_MAX_ENTRIES stops at the limit, listed no
    further than that (millions of files cost bounded memory)."""
    root = tmp_path / "diff"
    (root / "many").mkdir(parents=True)
    for i in range(50):
        (root / "many" / f"f{i}").touch()
    monkeypatch.setenv("INSPECTOR_MAX_ENTRIES", "20")
    with pytest.raises(LimitExceeded):
        walk(root)


def test_a_missing_layer_directory_is_a_clear_error(tmp_path):
    """A layer directory that is gone raises StoredLayerError (the caller exports instead)."""
    with pytest.raises(StoredLayerError, match="cannot read"):
        walk(tmp_path / "nowhere")
