"""Unit tests of the one-pass layer reader and the overlay merge, on tars built in the test."""

from __future__ import annotations

import hashlib
import io

import pytest

from inspector.layers.model import LayerError
from inspector.layers.overlay import DELETED, REPLACED, merge
from inspector.layers.reader import normalize, read_layer
from tests.layertools import layer


def read(raw: bytes, capture=None):
    return read_layer(io.BytesIO(raw), capture)


def test_entries_carry_metadata_and_diff_id_is_the_uncompressed_digest():
    """A plain and a gzip layer give the same entries and the sha256 of the uncompressed tar."""
    members = (("usr/", None), ("usr/bin/app", b"#!/bin/sh\n", {"mode": 0o4755, "uid": 0}),
               ("usr/bin/py", "->app"))  # fmt: skip
    plain, gz = layer(*members), layer(*members, compress=True)
    a, b = read(plain), read(gz)
    assert a.entries == b.entries
    assert a.diff_id == b.diff_id == "sha256:" + hashlib.sha256(plain).hexdigest()
    app = next(e for e in a.entries if e.path == "/usr/bin/app")
    assert (app.kind, app.size, app.mode) == ("file", 10, 0o4755)
    assert next(e for e in a.entries if e.path == "/usr/bin/py").link == "app"


def test_capture_reads_only_what_it_asks_for_up_to_the_cap():
    """Small files the capture asks for are kept (capped); others are not read into memory."""
    raw = layer(("etc/os-release", b"ID=debian\n"), ("big.bin", b"x" * 5000))
    got = read(raw, lambda path, size: 4 if path == "/big.bin" else None)
    assert got.contents == {"/big.bin": b"xxxx"}


def test_file_capabilities_come_from_the_xattr():
    """A security.capability xattr in the PAX header is reported, hex-encoded."""
    raw = layer(("bin/ping", b"\x7fELF", {"pax": {"SCHILY.xattr.security.capability": "\x01"}}))
    assert read(raw).entries[0].capability == "01"


@pytest.mark.parametrize(
    ("name", "path", "unsafe"),
    [("./etc/passwd", "/etc/passwd", False), ("etc/", "/etc", False),
     ("../../etc/shadow", "/etc/shadow", True), ("/abs/file", "/abs/file", True),
     ("a/../../b", "/b", True)],
)  # fmt: skip
def test_names_are_normalised_inside_the_root(name, path, unsafe):
    """Member names map into the image root; escaping names are flagged, never followed."""
    assert normalize(name) == (path, unsafe)


def test_truncated_and_garbage_layers_are_clear_errors():
    """A truncated gzip layer and bytes that are no tar raise LayerError, not a traceback."""
    gz = layer(("f", b"x" * 100_000), compress=True)
    with pytest.raises(LayerError):
        read(gz[: len(gz) // 2])
    with pytest.raises(LayerError):
        read(b"this is not a tar archive at all" * 100)


def test_whiteouts_hide_lower_layers_and_count_as_waste():
    """A file whiteout and a directory whiteout (with its whole subtree) hide lower versions."""
    base = read(layer(("root/.cache/pip/http/a", b"a" * 100), ("root/.cache/pip/http/b", b"b" * 50),
                      ("etc/secret", b"s" * 7), ("keep", b"k")))  # fmt: skip
    top = read(layer(("root/.cache/.wh.pip", b""), ("etc/.wh.secret", b"")))
    fs = merge([base, top])
    assert not fs.exists("/root/.cache/pip/http/a")
    assert not fs.exists("/root/.cache/pip")
    assert fs.exists("/root/.cache")
    assert fs.exists("/keep")
    assert fs.wasted_bytes == 157
    assert fs.wasted_by_layer() == [157, 0]
    removed = {v.entry.path: (v.layer, v.removed_in, v.removal) for v in fs.removed()}
    assert removed["/root/.cache/pip/http/a"] == (0, 1, DELETED)


def test_opaque_directory_hides_lower_contents_but_keeps_its_own_layer():
    """An opaque dir hides what lower layers put in it, not the files its own layer adds."""
    base = read(layer(("app/old.py", b"old"), ("app/also.py", b"x")))
    top = read(layer(("app/new.py", b"new"), ("app/.wh..wh..opq", b"")))
    fs = merge([base, top])
    assert sorted(fs.children("/app")) == ["/app/new.py"]
    assert fs.wasted_bytes == 4


def test_overwrite_replaces_and_dir_over_dir_merges():
    """A file written again wastes its old bytes; re-adding a directory keeps its children."""
    base = read(layer(("srv/", None), ("srv/app.py", b"v1" * 10), ("srv/lib.py", b"l")))
    top = read(layer(("srv/", None, {"uid": 10001}), ("srv/app.py", b"v2")))
    fs = merge([base, top])
    assert fs.get("/srv").uid == 10001
    assert fs.exists("/srv/lib.py")
    assert fs.get("/srv/app.py").size == 2
    assert fs.wasted_bytes == 20
    assert [v.removal for v in fs.history["/srv/app.py"]] == [REPLACED, None]
    assert fs.visible_bytes == 3


def test_file_over_directory_replaces_the_subtree():
    """A file at a path where a directory was hides that directory's whole subtree."""
    base = read(layer(("opt/tool/bin/x", b"12345")))
    top = read(layer(("opt/tool", b"now a file")))
    fs = merge([base, top])
    assert not fs.exists("/opt/tool/bin/x")
    assert fs.get("/opt/tool").kind == "file"
    assert fs.wasted_bytes == 5


def test_resolve_follows_links_and_survives_loops():
    """Symlinks resolve inside the image; loops and dangling links give None."""
    fs = merge([read(layer(("usr/bin/python3.11", b"ELF"), ("usr/bin/python3", "->python3.11"),
                           ("usr/local/bin/python", "->/usr/bin/python3"), ("loop/a", "->b"),
                           ("loop/b", "->a"), ("dangling", "->/nowhere")))])  # fmt: skip
    assert fs.resolve("/usr/local/bin/python") == "/usr/bin/python3.11"
    assert fs.resolve("/loop/a") is None
    assert fs.resolve("/dangling") is None


def test_deep_trees_do_not_recurse():
    """A 2000-deep chain (as deep as PATH_MAX allows) merges, walks, is whited out: no recursion."""
    deep = "/".join(["d"] * 2000)
    fs = merge([read(layer((f"{deep}/f", b"x"))), read(layer(("d/.wh.d", b"")))])
    assert [v.entry.path for v in fs.walk()] == ["/d"]  # only /d itself is left
    assert fs.wasted_bytes == 1
