"""Hostile image data meets one bounded reader: gzip bombs, huge or sparse JSON, absurd paths,
layers that look like JSON, and archive paths that are not archives. Every case is exit 0 with
the right facts or exit 2 with one line naming what is wrong (and the limit, and how to raise
it), never a traceback. Memory cases run the CLI in a subprocess under an address-space limit,
so an implementation that buffers what it could skip dies instead of passing; time cases are
sized so that one that reads what it could refuse would take minutes."""

from __future__ import annotations

import hashlib
import io
import json
import os
import resource
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from inspector.cli.commands import main
from inspector.layers import limits
from tests.layertools import (
    diff_id,
    gzip_bomb,
    image_archive,
    image_config,
    layer,
    oci_layout,
    sha256_hex,
    zero_files_layer,
)

ROOT = Path(__file__).resolve().parent.parent
# The CLI needs under 200 MiB of address space for a small image (measured); 1 GiB leaves room
# for every limit below to be reached, and none for buffering a bomb.
ADDRESS_SPACE = 1 << 30
FAKE_DIFF_ID = "sha256:" + "0" * 64


def run_cli(ref: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`inspector facts REF --no-probe --no-cache` in a child under ADDRESS_SPACE."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))

    return subprocess.run(
        [sys.executable, "-m", "inspector", "facts", ref, "--no-probe", "--no-cache"],
        capture_output=True, text=True, preexec_fn=limit, timeout=120, cwd=ROOT,
        env={**os.environ, "INSPECTOR_CACHE_DIR": str(tmp_path / "cache"), **env},
    )  # fmt: skip


def refused(result: subprocess.CompletedProcess[str], *said: str) -> str:
    """Exit 2, one line on stderr (no traceback) holding every one of `said`."""
    err = result.stderr
    assert result.returncode == 2, err[-2000:]
    assert len(err.strip().splitlines()) == 1, err[-2000:]
    assert "Traceback" not in err
    assert "internal error" not in err
    for text in said:
        assert text in err, err
    return err


def refused_in_process(ref: str, capsys: pytest.CaptureFixture[str], *said: str) -> str:
    """The same contract, in this process (for inputs that cannot cost memory)."""
    code = main(["facts", ref, "--no-probe", "--no-cache"])
    err = capsys.readouterr().err
    assert code == 2, err
    return refused(subprocess.CompletedProcess([], 2, "", err), *said)


def write(tmp_path: Path, data: bytes, name: str = "image.tar") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return f"docker-archive:{path}"


def test_a_gzip_bomb_stops_at_the_layer_limit_in_bounded_memory(tmp_path):
    """16 GiB of zeros in 16 MB: exit 2 at a 64 MiB layer limit, naming it; 1 MiB of gzip is
    1 GiB inflated, so a reader inflating a whole raw chunk dies under the address-space cap."""
    ref = write(tmp_path, image_archive([gzip_bomb("etc/passwd", 16 << 30)],
                                        diff_ids=[FAKE_DIFF_ID]))  # fmt: skip
    result = run_cli(ref, tmp_path, INSPECTOR_MAX_LAYER_SIZE="64MiB")
    refused(result, "expands beyond 64 MiB", "INSPECTOR_MAX_LAYER_SIZE", "layer.tar")


def test_layers_under_the_layer_limit_stop_at_the_image_limit(tmp_path):
    """Three layers of 48 MiB each pass a 64 MiB layer limit; together they pass no 128 MiB
    image limit: exit 2 naming INSPECTOR_MAX_IMAGE_SIZE, before any more is read."""
    bombs = [zero_files_layer([(f"srv/blob{i}", 48 << 20)]) for i in range(3)]
    ref = write(tmp_path, image_archive(bombs, layout="oci", diff_ids=[FAKE_DIFF_ID] * 3))
    result = run_cli(ref, tmp_path, INSPECTOR_MAX_LAYER_SIZE="64MiB",
                     INSPECTOR_MAX_IMAGE_SIZE="128MiB")  # fmt: skip
    refused(result, "INSPECTOR_MAX_IMAGE_SIZE", "128 MiB")


def test_a_layer_within_the_limits_reads_as_before(tmp_path, capsys, monkeypatch):
    """A small layer under a tight but sufficient limit is read in full: exit 0, facts right."""
    monkeypatch.setenv("INSPECTOR_MAX_LAYER_SIZE", "1MiB")
    monkeypatch.setenv("INSPECTOR_MAX_ENTRIES", "10")
    files = layer(
        ("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\napp:x:10001:10001::/app:/bin/sh\n")
    )
    ref = write(tmp_path, image_archive([files]))
    assert main(["facts", ref, "--no-probe", "--no-cache", "--format", "json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert {u["name"] for u in facts["user"]["users"]} == {"root", "app"}


@pytest.mark.parametrize(
    ("variable", "value"),
    [("INSPECTOR_MAX_LAYER_SIZE", "lots"), ("INSPECTOR_MAX_IMAGE_SIZE", "-1"),
     ("INSPECTOR_MAX_ENTRIES", "1e6"), ("INSPECTOR_MAX_LAYER_SIZE", "0")],
)  # fmt: skip
def test_a_limit_set_to_nonsense_is_exit_2_naming_it(tmp_path, capsys, monkeypatch, variable,
                                                      value):  # fmt: skip
    """An unparsable or non-positive limit is refused, naming the variable, not ignored."""
    monkeypatch.setenv(variable, value)
    ref = write(tmp_path, image_archive([layer(("etc/hostname", b"x\n"))]))
    refused_in_process(ref, capsys, variable)


def test_too_many_entries_is_exit_2_naming_the_limit(tmp_path, capsys, monkeypatch):
    """More members than INSPECTOR_MAX_ENTRIES: exit 2 naming it and how to raise it."""
    monkeypatch.setenv("INSPECTOR_MAX_ENTRIES", "50")
    files = layer(*[(f"srv/f{i}", b"x") for i in range(60)])
    refused_in_process(write(tmp_path, image_archive([files])), capsys, "INSPECTOR_MAX_ENTRIES")


def test_the_small_file_capture_of_one_layer_is_capped(tmp_path):
    """8000 dpkg status.d files of 256 KiB (2 GiB kept if captured whole): exit 2 at the
    64 MiB per-layer capture budget, in bounded memory."""
    bomb = zero_files_layer([(f"var/lib/dpkg/status.d/p{i}", 256 << 10) for i in range(8000)],
                            trailer=False)  # fmt: skip
    ref = write(tmp_path, image_archive([bomb], diff_ids=[FAKE_DIFF_ID]))
    refused(run_cli(ref, tmp_path), "MAX_CAPTURE_LAYER", "64 MiB")


def test_the_small_file_capture_of_one_image_is_capped(tmp_path):
    """Five layers each capturing 60 MiB (under the layer budget) pass no 256 MiB image budget."""
    bombs = [zero_files_layer([(f"var/lib/dpkg/status.d/l{n}p{i}", 256 << 10)
                               for i in range(240)]) for n in range(5)]  # fmt: skip
    refused(run_cli(write(tmp_path, image_archive(bombs)), tmp_path), "MAX_CAPTURE_IMAGE")


def sparse(path: Path, head: bytes, size: int) -> None:
    """A file of `size` bytes: `head`, then a hole (costs no disk, reads as zeros)."""
    with open(path, "wb") as out:
        out.write(head)
        out.truncate(size)


def oci_dir(tmp_path: Path) -> Path:
    """A valid OCI layout directory of one small image."""
    root = tmp_path / "layout"
    with tarfile.open(fileobj=io.BytesIO(image_archive([layer(("etc/hostname", b"x\n"))],
                                                       layout="oci"))) as tar:  # fmt: skip
        tar.extractall(root, filter="data")
    return root


def manifest_of(root: Path) -> tuple[Path, dict]:
    index = json.loads((root / "index.json").read_text())
    path = root / "blobs/sha256" / index["manifests"][0]["digest"].split(":")[1]
    return path, json.loads(path.read_text())


@pytest.mark.parametrize("which", ["index", "manifest", "config"])
def test_a_huge_sparse_json_file_in_an_oci_layout_is_refused_unread(tmp_path, which):
    """A 6 GB sparse index.json, manifest or config blob: exit 2 naming its cap, in bounded
    memory (reading it whole would need 6 GB)."""
    root = oci_dir(tmp_path)
    manifest_path, manifest = manifest_of(root)
    config = root / "blobs/sha256" / manifest["config"]["digest"].split(":")[1]
    target = {"index": root / "index.json", "manifest": manifest_path, "config": config}[which]
    sparse(target, b'{"manifests": [', 6_000_000_000)
    cap = "MAX_CONFIG_JSON" if which == "config" else "MAX_MANIFEST_JSON"
    refused(run_cli(f"oci:{root}", tmp_path), cap, "6,000,000,000 bytes")


def test_a_config_whose_size_is_not_its_descriptors_is_refused(tmp_path, capsys):
    """The manifest says how big the config is; a config of another size is a corrupt layout."""
    root = oci_dir(tmp_path)
    _, manifest = manifest_of(root)
    manifest["config"]["size"] += 1
    data = json.dumps(manifest).encode()
    digest = hashlib.sha256(data).hexdigest()
    (root / "blobs/sha256" / digest).write_bytes(data)
    index = json.loads((root / "index.json").read_text())
    index["manifests"][0].update(digest=f"sha256:{digest}", size=len(data))
    (root / "index.json").write_text(json.dumps(index))
    refused_in_process(f"oci:{root}", capsys, "image config", "descriptor says")


def archive_of(members: list[tuple[str, bytes, int]], path: Path) -> str:
    """A tar of members (name, head, size): each `head` then a hole up to `size` (sparse)."""
    with open(path, "wb") as out:
        for name, head, size in members:
            info = tarfile.TarInfo(name)
            info.size = size
            out.write(info.tobuf(format=tarfile.GNU_FORMAT))
            out.write(head)
            out.seek(size - len(head) + (-size % 512), os.SEEK_CUR)
        out.write(bytes(1024))
    return f"docker-archive:{path}"


def test_a_huge_manifest_or_config_inside_a_tarball_is_refused(tmp_path):
    """docker-archive members manifest.json of 5 GB and a config of 100 MB (sparse in the
    tarball): exit 2 naming the cap, before reading either."""
    huge_manifest = archive_of([("manifest.json", b"[", 5_000_000_000)], tmp_path / "m.tar")
    refused(run_cli(huge_manifest, tmp_path), "MAX_MANIFEST_JSON", "manifest.json")
    huge_config = archive_of([("ab" * 32 + ".json", b"{", 100_000_000)], tmp_path / "c.tar")
    refused(run_cli(huge_config, tmp_path), "MAX_CONFIG_JSON")


def test_many_json_documents_in_one_archive_are_refused_in_bounded_memory(tmp_path):
    """2000 JSON-looking blobs of 4 MiB (8 GiB if all were kept): exit 2 at 64 MiB of JSON."""
    members = [(f"blobs/sha256/{i:064x}", b"{", 4 << 20) for i in range(2000)]
    refused(run_cli(archive_of(members, tmp_path / "many.tar"), tmp_path), "MAX_DOCUMENTS")


@pytest.mark.parametrize(
    ("manifest", "said"),
    [(b"[]" * 1_000_000, "not valid JSON"), (b"[" * 1_000_000 + b"]" * 1_000_000, "nested"),
     (b'[{"Config": "x.json"}]' * 50_000, "not valid JSON")],
)  # fmt: skip
def test_many_json_documents_in_one_manifest_file_are_exit_2(tmp_path, manifest, said):
    """A manifest.json of concatenated or deeply nested documents: one line, bounded memory."""
    ref = archive_of([("manifest.json", manifest, len(manifest))], tmp_path / "docs.tar")
    refused(run_cli(ref, tmp_path), "manifest", said)


def long_name_layer(name: str) -> bytes:
    """A layer with one file whose name is `name` (a PAX path record of any length)."""
    return layer(("x", b"data", {"pax": {"path": name}}))


@pytest.mark.parametrize(
    "name",
    ["a/" * 500_000 + "f", "/".join(["d"] * 20_000), "/" * 900_000 + "etc/passwd"],
    ids=["1MB-of-components", "20000-deep", "1MB-of-slashes"],
)
def test_an_absurd_path_is_refused_in_bounded_time_and_memory(tmp_path, name):
    """A member path beyond PATH_MAX (1 MB of components, 20,000 deep): exit 2 naming
    PATH_MAX, before normalising it or adding its parent directories."""
    ref = write(tmp_path, image_archive([long_name_layer(name)]))
    refused(run_cli(ref, tmp_path), "PATH_MAX", "4096")


def test_deep_paths_in_distinct_trees_hit_the_path_budget(tmp_path):
    """1000 members 4 KiB deep in distinct trees imply 2000 parents each (4 GiB of paths):
    exit 2 at the 256 MiB path budget, in bounded memory."""
    deep = "/".join(["d"] * 2000)
    files = layer(*[(f"t{i}/{deep}", b"x") for i in range(1000)])
    refused(run_cli(write(tmp_path, image_archive([files])), tmp_path), "MAX_PATH_BYTES")


def test_a_quadratic_pax_header_is_refused(tmp_path, capsys):
    """PAX records whose length is shorter than its own digits (re-scanned once per byte)."""
    record = b"0" * 4000 + b"1 "
    refused_in_process(write(tmp_path, _raw_pax_archive(record * 250)), capsys, "PAX")


def _raw_pax_archive(pax: bytes) -> bytes:
    """An archive whose only layer starts with a PAX header holding `pax` as it is."""
    info = tarfile.TarInfo("././@PaxHeader")
    info.type, info.size = tarfile.XHDTYPE, len(pax)
    body = info.tobuf(format=tarfile.USTAR_FORMAT) + pax + bytes(-len(pax) % 512)
    body += layer(("etc/hostname", b"x\n"))
    return image_archive([body], diff_ids=[FAKE_DIFF_ID])


@pytest.mark.parametrize("layout", ["docker", "oci", "oci-dir"])
def test_a_layer_whose_first_byte_is_a_brace_is_a_layer(tmp_path, capsys, layout):
    """Tars whose first member is named `{app}` or `[x]` are layers, not JSON: exit 0, and the
    facts hold the files (uncompressed, so the blob itself starts with `{` or `[`)."""
    layers = [layer(("{app}.json", b'{"a": 1}\n')), layer(("[x]", b"y\n"))]
    data = image_archive(layers, layout="docker" if layout == "docker" else "oci")
    if layout == "oci-dir":
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(tmp_path / "layout", filter="data")
        ref = f"oci:{tmp_path / 'layout'}"
    else:
        ref = write(tmp_path, data)
    assert main(["facts", ref, "--no-probe", "--no-cache", "--format", "json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert [each["files"] for each in facts["layers"]] == [1, 1]
    assert facts["fs"]["visible_files"] == 2


def test_a_multi_member_gzip_layer_reads_as_one_stream(tmp_path, capsys):
    """Two gzip members one after the other are one layer (as the engine's reader sees it)."""
    raw = layer(("etc/hostname", b"x\n"), ("etc/passwd", b"root:x:0:0::/root:/bin/sh\n"))
    half = len(raw) // 2
    import gzip

    split = gzip.compress(raw[:half]) + gzip.compress(raw[half:])
    ref = write(tmp_path, image_archive([split], diff_ids=[
        "sha256:" + hashlib.sha256(raw).hexdigest()]))  # fmt: skip
    assert main(["facts", ref, "--no-probe", "--no-cache"]) == 0, capsys.readouterr().err


def test_garbage_after_a_gzip_layer_is_corrupt_not_ignored(tmp_path, capsys):
    """A gzip layer followed by zeros (a blob that runs on like /dev/zero): exit 2, one line."""
    import gzip

    raw = layer(("etc/hostname", b"x\n"))
    ref = write(tmp_path, image_archive([gzip.compress(raw) + bytes(1 << 20)], diff_ids=[
        "sha256:" + hashlib.sha256(raw).hexdigest()]))  # fmt: skip
    refused_in_process(ref, capsys, "corrupt gzip")


def test_a_fifo_nobody_writes_is_not_waited_for(tmp_path):
    """docker-archive: and oci: on a FIFO with no writer: exit 2 at once, no hang."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    refused(run_cli(f"docker-archive:{fifo}", tmp_path), "FIFO", "not a regular file")
    layout = tmp_path / "layout"
    layout.mkdir()
    os.mkfifo(layout / "index.json")
    refused(run_cli(f"oci:{fifo}", tmp_path), "not a directory")
    refused(run_cli(f"oci:{layout}", tmp_path), "FIFO")


@pytest.mark.parametrize(
    ("target", "said"),
    [("/etc/passwd/x", "Not a directory"), ("/" + "x" * 5000, "File name too long"),
     ("/proc/self/mem", "could not be read"), ("DIR", "is a directory")],
)  # fmt: skip
def test_a_bad_archive_path_is_one_line(tmp_path, capsys, target, said):
    """Paths that are no archive: not a directory, too long, unreadable data, a directory:
    exit 2, one short line (a 5000-character path is cut)."""
    target = str(tmp_path) if target == "DIR" else target
    err = refused_in_process(f"docker-archive:{target}", capsys, said)
    assert len(err) < 300


@pytest.mark.parametrize(
    ("target", "said"),
    [("/etc/passwd/x", "not an OCI image layout"), ("/" + "x" * 5000, "File name too long"),
     ("/etc/passwd", "not a directory")],
)  # fmt: skip
def test_a_bad_oci_path_is_one_line(tmp_path, capsys, target, said):
    """The same paths given as oci:DIR: exit 2, one short line."""
    err = refused_in_process(f"oci:{target}", capsys, said)
    assert len(err) < 300


def test_dev_zero_is_refused_unread(tmp_path):
    """/dev/zero as an archive or a layout: exit 2 at once, neither read forever nor buffered."""
    refused(run_cli("docker-archive:/dev/zero", tmp_path), "not a regular file")
    refused(run_cli("oci:/dev/zero", tmp_path), "not a directory")


def test_every_limit_is_documented():
    """docs/limits.md names every limit constant and environment variable of the reader."""
    text = (ROOT / "docs" / "limits.md").read_text()
    assert "## Reading images" in text
    names = [n for n in vars(limits) if n.startswith("MAX_") or n.endswith("_VAR")]
    for name in names:
        value = getattr(limits, name)
        assert (value if name.endswith("_VAR") else name) in text, name


def _write_layout(root, blobs: list[bytes], config: bytes) -> None:
    """An `oci:` layout of these layer blobs with this exact config (hashes recomputed)."""
    files = oci_layout(blobs)
    manifest_name = next(n for n, b in files.items() if b'"schemaVersion"' in b and "blobs" in n)
    manifest = json.loads(files.pop(manifest_name))
    files.pop(f"blobs/sha256/{manifest['config']['digest'].split(':')[1]}")
    manifest["config"].update(digest=f"sha256:{sha256_hex(config)}", size=len(config))
    raw = json.dumps(manifest).encode()
    files[f"blobs/sha256/{sha256_hex(config)}"] = config
    files[f"blobs/sha256/{sha256_hex(raw)}"] = raw
    index = json.loads(files["index.json"])
    index["manifests"][0].update(digest=f"sha256:{sha256_hex(raw)}", size=len(raw))
    files["index.json"] = json.dumps(index).encode()
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)


def test_a_layout_diff_id_that_is_not_a_digest_is_never_looked_up(tmp_path, capsys):
    """A config's diff_id of a lone surrogate (found by the hypothesis suite): the cache is not
    asked for it, the layer does not match, exit 2 in one line (it was a UnicodeEncodeError)."""
    blob = layer(("etc/passwd", b"root:x:0:0::/:/bin/sh\n"))
    config = image_config([blob]).replace(diff_id(blob).encode(), b"\\ud800")
    _write_layout(tmp_path / "layout", [blob], config)
    assert main(["facts", f"oci:{tmp_path / 'layout'}", "--no-probe"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_layout_blob_that_links_to_itself_is_exit_2(tmp_path, capsys):
    """A layer blob that is a symlink to its own name (a loop): exit 2 naming the blob."""
    blob = layer(("etc/passwd", b"root:x:0:0::/:/bin/sh\n"))
    root = tmp_path / "layout"
    _write_layout(root, [blob], image_config([blob]))
    path = root / "blobs" / "sha256" / sha256_hex(blob)
    path.unlink()
    path.symlink_to(path.name)
    assert main(["facts", f"oci:{root}", "--no-probe", "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert sha256_hex(blob)[:12] in err
    assert len(err.strip().splitlines()) == 1
