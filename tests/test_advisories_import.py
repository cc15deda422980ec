"""Importing OSV export zips from disk (`db update --from`): a directory laid out as OSV's
bucket, one zip, damaged and hostile archives read as streams."""

from __future__ import annotations

import io
import zipfile

import pytest

from inspector.advisories.exportzip import ExportError, members
from inspector.advisories.fetch import FetchError, import_from
from inspector.advisories.store import AdvisoryStore
from inspector.errors import InspectorError
from tests import osv_records as osv


@pytest.fixture
def store(tmp_path):
    opened = AdvisoryStore(str(tmp_path / "db" / "scans.sqlite"))
    yield opened
    opened.close()


def export_dir(root):
    osv.write_zip(root / "PyPI" / "all.zip", [osv.ghsa(), osv.pysec()])
    osv.write_zip(root / "Debian" / "all.zip", [osv.dsa(), osv.debian_cve()])
    osv.write_zip(root / "Alpine" / "all.zip", [osv.alpine()])
    return root


def test_from_a_directory_imports_every_ecosystem_it_holds(store, tmp_path):
    """DIR/ECOSYSTEM/all.zip for three ecosystems: each imported with its count and source."""
    results = import_from(store, export_dir(tmp_path / "osv"))
    assert [(r.export, r.advisories) for r in results] == [("Alpine", 1), ("Debian", 2),
                                                            ("PyPI", 2)]  # fmt: skip
    assert store.status().ecosystems[2].source == str(tmp_path / "osv" / "PyPI" / "all.zip")
    found = store.advisories([("Debian:12", "openssl")])[("Debian:12", "openssl")]
    assert [a.id for a in found] == ["DEBIAN-CVE-2024-0727", "DSA-5678-1"]


def test_from_a_directory_with_ecosystems_named_imports_only_those(store, tmp_path):
    """--ecosystem PyPI with a directory imports PyPI alone; a named one absent is an error."""
    root = export_dir(tmp_path / "osv")
    assert [r.export for r in import_from(store, root, ["PyPI"])] == ["PyPI"]
    with pytest.raises(FetchError, match=r"holds no Ubuntu/all\.zip"):
        import_from(store, root, ["Ubuntu"])


def test_from_one_zip_its_ecosystem_is_read_from_its_records(store, tmp_path):
    """A lone zip of Ubuntu records is imported as the Ubuntu export."""
    path = osv.write_zip(tmp_path / "ubuntu-export.zip", [osv.usn(), osv.usn("USN-6544-1", "xz")])
    (result,) = import_from(store, path)
    assert (result.export, result.advisories) == ("Ubuntu", 2)
    assert store.advisories([("Ubuntu:24.04", "xz")])[("Ubuntu:24.04", "xz")][0].id == "USN-6544-1"


def test_hostile_members_are_skipped_and_counted_and_the_rest_imported(store, tmp_path):
    """Bad JSON, a wrong type and a foreign record are counted; the good ones are stored."""
    path = osv.write_zip(tmp_path / "PyPI" / "all.zip", [
        osv.ghsa(), ("broken.json", b"{"), ("typed.json", b'{"id": 1, "modified": 2}'),
        osv.dsa(), ("README.txt", b"not a record"),
    ])  # fmt: skip
    (result,) = import_from(store, path, ["PyPI"])
    assert result.advisories == 1
    assert result.skipped.reasons == {"not JSON": 1, "id is not a string": 1,
                                      "no PyPI package": 1}  # fmt: skip
    assert "3 (" in result.describe()


@pytest.mark.parametrize("damage", ["truncated", "not a zip", "bad crc", "empty"])
def test_a_damaged_zip_is_one_clear_error_and_keeps_the_old_records(store, tmp_path, damage):
    """Truncated, not a zip, a flipped byte, no records: FetchError, the old PyPI set intact."""
    good = osv.write_zip(tmp_path / "good.zip", osv.pypi_export(50))
    import_from(store, good, ["PyPI"])
    data = good.read_bytes()
    bad = tmp_path / "bad.zip"
    if damage == "truncated":
        bad.write_bytes(data[: len(data) // 2])
    elif damage == "not a zip":
        bad.write_bytes(b"<html>Service Unavailable</html>")
    elif damage == "bad crc":
        raw = bytearray(data)
        raw[len(raw) // 2] ^= 0xFF
        bad.write_bytes(bytes(raw))
    else:
        osv.write_zip(bad, [])
    with pytest.raises(InspectorError) as caught:
        import_from(store, bad, ["PyPI"])
    assert "\n" not in str(caught.value)
    assert "left as it was" in str(caught.value)
    assert store.status().ecosystems[0].advisories == 50
    assert len(store.advisories([("PyPI", "pkg-49")])[("PyPI", "pkg-49")]) == 1


def test_a_missing_path_and_a_release_name_are_refused_plainly(store, tmp_path):
    """--from a path that does not exist, or --ecosystem Debian:12, is one line saying why."""
    with pytest.raises(FetchError, match="no such file"):
        import_from(store, tmp_path / "nothing")
    with pytest.raises(FetchError, match=r"name the export \(Debian\)"):
        import_from(store, tmp_path, ["Debian:12"])
    with pytest.raises(FetchError, match="not an ecosystem"):
        import_from(store, tmp_path, ["../etc"])


def _zip(entries, **kwargs) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", **kwargs) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def test_the_stream_reader_reads_stored_deflated_and_descriptor_members():
    """Stored and deflated members, and deflated ones whose sizes follow in a data descriptor
    (as streaming writers make them), come back whole and in order."""
    entries = [("a.json", b'{"a": 1}' * 100), ("dir/", b""), ("b.json", b"x" * 70_000)]
    for compression in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        got = list(members(io.BytesIO(_zip(entries, compression=compression)), 1 << 20))
        assert got == [("a.json", entries[0][1]), ("b.json", entries[2][1])]
    streamed = io.BytesIO()
    with zipfile.ZipFile(_Unseekable(streamed), "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            if not name.endswith("/"):
                with archive.open(name, "w") as member:
                    member.write(data)
    raw = streamed.getvalue()
    assert zipfile.ZipFile(io.BytesIO(raw)).infolist()[0].flag_bits & 0x8
    assert list(members(io.BytesIO(raw), 1 << 20)) == [("a.json", entries[0][1]),
                                                       ("b.json", entries[2][1])]  # fmt: skip


def test_a_member_over_the_cap_is_given_as_none_without_holding_it():
    """A 5 MB member with a 1 MB cap: None for it, the next member still read."""
    raw = _zip([("big.json", b"a" * 5_000_000), ("small.json", b"{}")],
               compression=zipfile.ZIP_DEFLATED)  # fmt: skip
    assert list(members(io.BytesIO(raw), 1 << 20)) == [("big.json", None), ("small.json", b"{}")]


def test_garbage_after_the_signature_is_damage_not_a_crash():
    """Random bytes where a member header should be: ExportError, never another exception."""
    with pytest.raises(ExportError):
        list(members(io.BytesIO(b"PK\x03\x04" + b"\x00" * 10), 1 << 20))
    with pytest.raises(ExportError, match="not a zip"):
        list(members(io.BytesIO(b""), 1 << 20))


class _Unseekable(io.RawIOBase):
    """A write-only stream zipfile cannot seek in: it writes data descriptors, as a streaming
    writer would."""

    def __init__(self, target: io.BytesIO) -> None:
        self.target = target

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        return self.target.write(data)
