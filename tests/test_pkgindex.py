"""The fixtures' loopback package index: PEP 503 pages, and downloads pip really caches."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.conftest import FIXTURES

sys.path.insert(0, str(FIXTURES))
import pkgindex


def make_wheel(directory: Path, name: str = "demo_pkg", version: str = "1.0") -> Path:
    """A minimal but valid pure-Python wheel, so pip accepts it."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": b"VALUE = 1\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = (
        "".join(
            f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}\n"
            for path, data in files.items()
        )
        + f"{dist}/RECORD,,\n"
    )
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in {**files, f"{dist}/RECORD": record.encode()}.items():
            zf.writestr(path, data)
    return wheel


@pytest.mark.parametrize(
    ("filename", "project"),
    [
        ("charset_normalizer-3.4.0-py3-none-any.whl", "charset-normalizer"),
        ("markdown_it_py-3.0.0-py3-none-any.whl", "markdown-it-py"),
        ("Django-5.0.tar.gz", "django"),
        ("zope.interface-6.0.zip", "zope-interface"),
    ],
)
def test_project_of_normalizes_names(filename, project):
    """Distribution file names map to PEP 503 normalised project names."""
    assert pkgindex.project_of(filename) == project


def test_index_serves_pages_fresh_and_files_cacheable(tmp_path):
    """Index pages carry max-age=0, files a long max-age, and links carry the sha256."""
    wheel = make_wheel(tmp_path)
    with pkgindex.serve(tmp_path) as url:
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{url}/Demo.Pkg/") as page:
            body = page.read().decode()
            assert page.headers["Cache-Control"] == "max-age=0"
        assert f"#sha256={hashlib.sha256(wheel.read_bytes()).hexdigest()}" in body
        with urllib.request.urlopen(url.replace("/simple", f"/files/{wheel.name}")) as download:
            assert download.read() == wheel.read_bytes()
            assert "max-age=31536000" in download.headers["Cache-Control"]


def test_index_answers_head_with_the_size_and_no_body(tmp_path):
    """uv asks for a file with HEAD first: the index answers 200 with its length, no body."""
    wheel = make_wheel(tmp_path)
    with pkgindex.serve(tmp_path) as url:
        request = urllib.request.Request(url.replace("/simple", f"/files/{wheel.name}"),
                                         method="HEAD")  # fmt: skip
        with urllib.request.urlopen(request) as answer:
            assert answer.status == 200
            assert int(answer.headers["Content-Length"]) == wheel.stat().st_size
            assert answer.read() == b""


def test_pip_writes_a_real_http_cache_from_the_index(tmp_path):
    """pip downloading from the index with --trusted-host stores the wheel in its HTTP cache."""
    wheels, cache, out = tmp_path / "wheels", tmp_path / "cache", tmp_path / "out"
    wheels.mkdir()
    make_wheel(wheels)
    with pkgindex.serve(wheels) as url:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--isolated",
                "--no-deps",
                "--quiet",
                "--index-url",
                url,
                "--trusted-host",
                "127.0.0.1",
                "--cache-dir",
                str(cache),
                "-d",
                str(out),
                "demo-pkg==1.0",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    cached = [p for p in cache.glob("http*/**/*") if p.is_file()]
    assert cached, "pip wrote no HTTP cache entry"
    assert (
        sum(p.stat().st_size for p in cached)
        >= (out / "demo_pkg-1.0-py3-none-any.whl").stat().st_size
    )
