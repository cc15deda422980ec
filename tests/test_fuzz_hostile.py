"""The hostile-input contract, for every generated input (tests/hostile_strategies.py): exit 0
with facts that pass the schema (audit: 0 or 1 with reports that parse), or exit 2 with one line
on stderr; never a traceback; bounded time and memory; nothing written outside the temp and
cache dirs; no escape sequence in any output.

Each command runs in a child forked per example: under an address-space limit (RLIMIT_AS), with
TMPDIR, HOME and INSPECTOR_CACHE_DIR in the example's own box, killed after a hard timeout (a
failure). The default profile runs a few hundred examples within `make test`; `make fuzz` runs
the `fuzz` profile (tests/conftest.py), many thousands.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import resource
import shutil
import signal
import stat
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from inspector.cli.commands import main
from inspector.facts.fielddoc import json_kind, type_kinds
from inspector.facts.schema import schema
from tests.hostile_strategies import (
    Case,
    config_bytes,
    config_cases,
    config_name,
    layer_cases,
    layout_cases,
    repack,
    unpack,
)
from tests.layertools import image_archive, layer
from tests.test_hostile_input import RAW

# A child still running after this many seconds is a failure: no input here takes a correct
# implementation more than a few seconds (a GiB-sized gzip bomb included).
TIMEOUT = float(os.environ.get("INSPECTOR_FUZZ_TIMEOUT", "30"))
# Address space a child may add to what it had when forked: far above what a small input needs.
HEADROOM = 1 << 30
REPORTS = ("json", "sarif", "markdown", "junit")
# The reader's size caps (docs/limits.md), lowered so a gzip bomb meets one in a second instead
# of being inflated to its end in ten: the bounded path is what is under test, not zlib's speed.
LIMITS = {"INSPECTOR_MAX_LAYER_SIZE": "256MiB", "INSPECTOR_MAX_IMAGE_SIZE": "512MiB"}
FUZZ = settings(
    deadline=None,  # the child's hard timeout is the time bound; wall-clock deadlines flake
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
# The largest child footprint and run time seen, for `make fuzz`'s summary (not asserted).
STATS = {"max_rss_kib": 0, "max_seconds": 0.0, "runs": 0}


# --- one box per example, one child per command -------------------------------------------------


@dataclass(frozen=True)
class Box:
    """An example's directories: the input, and where the tool may write (tmp, cache, out)."""

    root: Path

    def __getattr__(self, name: str) -> Path:
        return self.root / name

    @classmethod
    def make(cls, base: Path) -> Box:
        box = cls(Path(tempfile.mkdtemp(dir=base)))
        for name in ("input", "tmp", "cache", "out", "home", "cwd/a/b"):
            (box.root / name).mkdir(parents=True)
        (box.input / "outside").mkdir()
        (box.input / "outside" / "victim").write_bytes(b"a file the input must never change\n")
        return box


WRITABLE = ("tmp", "cache", "out")


def place(case: Case, box: Box) -> str:
    """Lay the case's files out in the box's input dir; the reference that names them."""
    target = box.input / case.target
    for name, data in case.files.items():
        path = target / name if case.kind == "oci" else target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    for name, link in case.links.items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).symlink_to(link)
    for name, size in case.sparse.items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        with open(target / name, "wb") as out:
            out.truncate(size)
    for name in case.fifos:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(target / name)
    return f"{case.kind}:{target}"


def listing(root: Path, skip: tuple[str, ...] = ()) -> dict[str, tuple[int, int, int]]:
    """Every path under root (not following links) with its type, size and mtime."""
    found = {}
    for parent, dirs, files in os.walk(root):
        rel = os.path.relpath(parent, root)
        dirs[:] = [d for d in dirs if os.path.normpath(os.path.join(rel, d)) not in skip]
        for name in dirs + files:
            st = os.lstat(os.path.join(parent, name))
            found[os.path.normpath(os.path.join(rel, name))] = (
                stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns)  # fmt: skip
    return found


@dataclass(frozen=True)
class Ran:
    argv: list[str]
    code: int | None  # None: still running at the timeout, then killed
    signal: int | None  # the signal that ended it (the kernel's OOM killer, a crash)
    stdout: bytes
    stderr: bytes

    def describe(self) -> str:
        return (f"inspector {' '.join(self.argv)[:300]}: exit {self.code}, signal {self.signal}, "
                f"stderr {self.stderr[-2000:].decode('utf-8', 'replace')!r}")  # fmt: skip


def _child(argv: list[str], box: Box, limit: int) -> None:
    """In the forked child: confine, run the CLI with real stdio encodings, exit with its code."""
    code = 70
    try:
        os.chdir(box.root / "cwd" / "a" / "b")
        os.environ.update(TMPDIR=str(box.tmp), HOME=str(box.home),
                          INSPECTOR_CACHE_DIR=str(box.cache), **LIMITS)  # fmt: skip
        os.environ.pop("XDG_CACHE_HOME", None)
        tempfile.tempdir = None  # the parent's choice is cached: take TMPDIR again
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        for fd, name in ((1, "stdout"), (2, "stderr")):
            out = os.open(box.out / f"{name}.{os.getpid()}", os.O_WRONLY | os.O_CREAT, 0o600)
            os.dup2(out, fd)
        # What a UTF-8 terminal gives: stdout strict (an unencodable character is a crash, as in
        # real use), stderr backslashreplace (as Python sets it).
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), "utf-8", "strict")
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), "utf-8",
                                      "backslashreplace")  # fmt: skip
        sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), "utf-8")
        code = main(argv)
    except BaseException:  # everything, SystemExit included: the parent sees a traceback
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # the exit code below says what happened
                os.write(2, b"\nTraceback: flushing the output failed\n")
                code = 70
        os._exit(code)


def run_cli(argv: list[str], box: Box) -> Ran:
    """`inspector ARGV` in a forked child: confined, bounded, killed at TIMEOUT."""
    limit = _address_space() + HEADROOM
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _child(argv, box, limit)
    start = time.monotonic()
    status, usage = None, None
    while time.monotonic() - start < TIMEOUT:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.005)
    else:
        os.kill(pid, signal.SIGKILL)
        os.wait4(pid, 0)
        status = None
    STATS["runs"] += 1
    STATS["max_seconds"] = max(STATS["max_seconds"], time.monotonic() - start)
    if usage is not None:
        STATS["max_rss_kib"] = max(STATS["max_rss_kib"], usage.ru_maxrss)
    out = {n: (box.out / f"{n}.{pid}").read_bytes() for n in ("stdout", "stderr")}
    code = sig = None
    if status is not None:
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
        else:
            code = os.waitstatus_to_exitcode(status)
    return Ran(argv, code, sig, out["stdout"], out["stderr"])


def _address_space() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


# --- what every run must satisfy ----------------------------------------------------------------


def _text(data: bytes, what: str, ran: Ran) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        pytest.fail(f"{what} is not UTF-8 ({exc}): {ran.describe()}")
    found = RAW.search(text)
    assert not found, f"{what} carries a raw {found.group()!r}: {ran.describe()}"
    return text


def check_run(ran: Ran, allowed: tuple[int, ...]) -> bool:
    """The contract for one run; True when it produced a result (not exit 2)."""
    assert ran.code is not None or ran.signal is not None, (
        f"still running after {TIMEOUT:.0f}s: {ran.describe()}")  # fmt: skip
    assert ran.signal is None, f"killed by signal {ran.signal}: {ran.describe()}"
    err = _text(ran.stderr, "stderr", ran)
    assert "Traceback" not in err, ran.describe()
    assert "internal error" not in err, ran.describe()
    if ran.code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1, f"exit 2 needs one line on stderr: {ran.describe()}"
        assert lines[0].startswith(("inspector: error: ", "Error: ")), ran.describe()
        return False
    assert ran.code in allowed, f"exit {ran.code}: {ran.describe()}"
    _text(ran.stdout, "stdout", ran)
    return True


def schema_problems(doc: dict[str, Any]) -> list[str]:
    """Paths of `doc` the facts schema does not have, or whose JSON kind it does not allow."""
    rows = dict(schema())
    parents = {path.rsplit(".", 1)[0] for path in rows if "." in path}
    problems = [f"missing {key}" for key in rows if "." not in key and
                key.removesuffix("[]") not in doc]  # fmt: skip

    def visit(path: str, value: Any) -> None:
        if isinstance(value, list) and f"{path}[]" in rows:
            path = f"{path}[]"
        if path not in rows:
            problems.append(f"{path}: not in the schema")
            return
        kind, allowed = json_kind(value), type_kinds(rows[path])
        if kind not in allowed:
            problems.append(f"{path}: {kind}, the schema says {rows[path]}")
            return
        of = rows[path].split(" or ")[0].split(" of ", 1)
        if isinstance(value, list):
            for item in value:
                if path.endswith("[]"):
                    if not isinstance(item, dict):
                        problems.append(f"{path}: an item is {json_kind(item)}")
                        continue
                    for key, inner in item.items():
                        visit(f"{path}.{key}", inner)
                elif len(of) == 2 and json_kind(item) != of[1].rstrip("s"):
                    problems.append(f"{path}: an item is {json_kind(item)}, not {of[1]}")
        elif isinstance(value, dict):
            if len(of) == 2:  # a map: keys are data
                bad = [k for k, v in value.items() if json_kind(v) != of[1].rstrip("s")]
                if bad:
                    problems.append(f"{path}: values of {bad[:3]} are not {of[1]}")
            elif path in parents:
                for key, inner in value.items():
                    visit(f"{path}.{key}", inner)

    for key, value in doc.items():
        visit(key, value)
    return problems


def check_case(case: Case, base: Path) -> None:
    """Run facts (JSON and text) and audit (every report format) on the case: the contract."""
    box = Box.make(base)
    try:
        ref = place(case, box)
        before = listing(box.root, WRITABLE)
        around = set(os.listdir(base))
        runs = [
            (["facts", ref, "--no-probe", "--format", "json"], (0,)),
            (["facts", ref, "--no-probe", "--format", "text"], (0,)),
            (["audit", ref, "--no-probe", "--no-config", "--format", "table",
              *[x for fmt in REPORTS for x in ("-o", f"{fmt}={box.out}/report.{fmt}")]], (0, 1)),
        ]  # fmt: skip
        results = [run_cli(argv, box) for argv, _ in runs]
        read = [check_run(ran, allowed) for ran, (_, allowed) in zip(results, runs, strict=True)]
        assert len(set(read)) == 1, (
            "facts and audit disagree on whether the image can be read: "
            + " | ".join(ran.describe() for ran in results))  # fmt: skip
        if read[0]:
            doc = json.loads(results[0].stdout)
            problems = schema_problems(doc)
            assert not problems, f"facts break the schema: {problems[:10]}"
            for fmt in REPORTS:
                text = _text((box.out / f"report.{fmt}").read_bytes(), f"the {fmt} report",
                             results[2])  # fmt: skip
                if fmt in ("json", "sarif"):
                    json.loads(text)
        after = listing(box.root, WRITABLE)
        changed = sorted(set(before.items()) ^ set(after.items()))
        assert not changed, f"written outside the temp and cache dirs: {changed[:10]}"
        assert set(os.listdir(base)) == around, "written beside the example's box"
    finally:
        _remove(box.root)


def _remove(root: Path) -> None:
    def writable(func: Any, path: str, _: Any) -> None:
        os.chmod(os.path.dirname(path), 0o700)
        func(path)

    shutil.rmtree(root, onexc=writable) if sys.version_info >= (3, 12) else shutil.rmtree(
        root, onerror=writable)  # fmt: skip


def warm_up(root: Path) -> None:
    """Import in this process what the CLI imports lazily, so each forked child starts warm."""
    from contextlib import redirect_stderr, redirect_stdout

    warm = Box.make(root)
    archive = warm.input / "warm.tar"
    archive.write_bytes(image_archive([layer(("etc/passwd", b"root:x:0:0::/:/bin/sh\n"))]))
    saved = os.environ.get("INSPECTOR_CACHE_DIR")
    os.environ["INSPECTOR_CACHE_DIR"] = str(warm.cache)
    try:
        with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            main(["facts", f"docker-archive:{archive}", "--no-probe"])
            main(["audit", f"docker-archive:{archive}", "--no-probe", "--no-config",
                  *[x for f in REPORTS for x in ("-o", f"{f}={warm.out}/r.{f}")]])  # fmt: skip
    finally:
        if saved is None:
            del os.environ["INSPECTOR_CACHE_DIR"]
        else:
            os.environ["INSPECTOR_CACHE_DIR"] = saved
        _remove(warm.root)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A dir for the per-example boxes; afterwards, the largest run seen, in .hypothesis/."""
    root = tmp_path_factory.mktemp("fuzz")
    warm_up(root)
    yield root
    summary = Path(".hypothesis") / "fuzz-stats.json"
    summary.parent.mkdir(exist_ok=True)
    summary.write_text(json.dumps(STATS, indent=2) + "\n")


# --- the properties -----------------------------------------------------------------------------


@FUZZ
@given(case=layer_cases())
def test_hostile_layers_meet_the_contract(base, case):
    """Layer tars with mutated headers, sizes, types, names, links, PAX records and nesting, in
    any compression (gzip bombs included): every one meets the contract."""
    check_case(case, base)


@FUZZ
@given(case=config_cases())
def test_hostile_configs_meet_the_contract(base, case):
    """Configs with wrong types at every field, huge or deep values, duplicate keys, surrogates
    and encodings that are not UTF-8: every one meets the contract."""
    check_case(case, base)


@FUZZ
@given(case=layout_cases())
def test_hostile_manifests_and_layouts_meet_the_contract(base, case):
    """Manifests, OCI indexes, outer archives and oci: directories that lie (traversal digests,
    links out, loops, FIFOs, sparse giants): every one meets the contract."""
    check_case(case, base)


# --- failures the suite found, kept as plain examples -------------------------------------------


def _archive_with_config(
    tmp_path: Path, edits: list[tuple[tuple, Any]], layout: str = "docker"
) -> str:
    """A valid image whose config has `edits` (bytes values spliced in as raw JSON): a docker
    archive, or an `oci:` layout directory."""
    files = unpack(image_archive([layer(("etc/passwd", b"root:x:0:0::/:/bin/sh\n"))], layout))
    name = config_name(files, layout)
    files[name] = config_bytes(json.loads(files[name]), edits, duplicate=None)
    if layout == "oci":
        for path, data in files.items():
            (tmp_path / "layout" / path).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / "layout" / path).write_bytes(data)
        return f"oci:{tmp_path / 'layout'}"
    archive = tmp_path / "image.tar"
    archive.write_bytes(repack(files))
    return f"docker-archive:{archive}"


def test_a_lone_surrogate_in_the_config_is_read_as_docker_reads_it(tmp_path, monkeypatch, capsys):
    """Lone surrogates (a JSON \\ud800 escape, encoded surrogate bytes) in User, a label and Env
    become U+FFFD as in Docker's decoder: facts exit 0, every report is written (the SARIF
    fingerprint of a finding on User used to crash on them)."""
    monkeypatch.setenv("INSPECTOR_CACHE_DIR", str(tmp_path / "cache"))
    ref = _archive_with_config(tmp_path, [
        (("config", "User"), b'"\\ud800app"'),
        (("config", "Labels"), b'{"k\\udcff": "\xed\xa0\x80"}'),
        (("config", "Env"), b'["A=\\udfff"]'),
    ])  # fmt: skip
    assert main(["facts", ref, "--no-probe", "--format", "json"]) == 0
    config = json.loads(capsys.readouterr().out)["config"]
    assert config["user"] == "\ufffdapp"
    assert config["labels"] == {"k\ufffd": "\ufffd"}
    assert config["env"] == {"A": "\ufffd"}
    outputs = [x for fmt in REPORTS for x in ("-o", f"{fmt}={tmp_path}/r.{fmt}")]
    assert main(["audit", ref, "--no-probe", "--no-config", *outputs]) in (0, 1)
    assert "Traceback" not in capsys.readouterr().err
    json.loads((tmp_path / "r.sarif").read_text(encoding="utf-8"))


def test_a_fingerprint_hashes_a_name_that_is_not_utf8():
    """A finding on a file whose name is not UTF-8 (surrogateescaped) has a stable fingerprint in
    both forms; names that are UTF-8 hash in the first form exactly as before."""
    from checks.model import Finding, Location
    from inspector.report.fingerprint import _VOLATILE, fingerprint, legacy_fingerprint

    odd = Finding("SEC001", "high", "a key", Location(path="/srv/id_\udcff\udcfe"), "remove it")
    assert fingerprint("app:1", odd) == fingerprint("app:2", odd)
    assert legacy_fingerprint("app:1", odd) == legacy_fingerprint("app:2", odd)
    plain = Finding("SEC001", "high", "a key", Location(path="/srv/id_rsa"), "remove it")
    parts = ("SEC001", "app", "", "/srv/id_rsa", "", "", "a key")
    text = "\x00".join(_VOLATILE.sub("#", part) for part in parts)
    assert legacy_fingerprint("app:1", plain) == hashlib.sha256(text.encode()).hexdigest()


def test_junit_shows_bidi_c1_and_undecodable_bytes_visibly():
    """JUnit XML (shown by CI servers) makes a bidi override, a C1 CSI and a surrogateescaped
    byte from a history step or file name visible, and stays writable as UTF-8 and parseable."""
    import xml.etree.ElementTree as ET

    from checks.model import CheckResult, Finding, Location
    from inspector.report import junit
    from inspector.report.model import ImageReport
    from tests.test_render_junit_markdown import ROOT

    where = Location(layer=1, created_by="RUN echo \u202eevil\x9b2J", path="/srv/\udcff")
    bad = Finding("SEC900", "high", "key in \u2066x\x1b]0;t\x07", where, "rm it")
    report = ImageReport("x\u202e:1", "sha256:ab", None, (CheckResult(ROOT, "failed", (bad,)),))
    text = junit.render([report])
    assert not RAW.search(text), RAW.search(text)
    ET.fromstring(text.encode("utf-8"))
    assert "\\u202eevil\\x9b2J" in text
    assert "/srv/\\xff" in text


def test_the_table_clips_a_huge_word_instead_of_padding_every_line_to_it():
    """One 200,000-character word (an ENV value quoted in a finding) among 1,000 lines of other
    findings: the table stays small, the word clipped with its length. tabulate pads each line of
    a column to the longest, so unclipped this table was 200 MB (10,000 findings: gigabytes)."""
    from checks.model import CheckResult, Finding, Location
    from inspector.report import table
    from inspector.report.model import ImageReport
    from tests.test_render_junit_markdown import ROOT

    word = "https://u:p@h/" * 14_000 + "end"
    huge = Finding("SEC900", "high", f"ENV X holds {word}", Location(config="Env.X"), "rm it")
    many = [Finding("SEC900", "high", "\n".join(["a line"] * 20), Location(), "rm it")] * 50
    report = ImageReport("app:1", "sha256:ab", None, (CheckResult(ROOT, "failed", (huge, *many)),))
    text = table.render([report], width=140)
    assert len(text) < 1_000_000
    assert "(195,003 more characters)" in text
    assert "https://u:p@h/https://" in text


def test_sarif_locates_a_finding_in_a_file_whose_name_is_not_utf8(tmp_path, monkeypatch, capsys):
    """A private key under a directory named by the byte 0xff: the SARIF artifact URI encodes
    that byte as %FF (quoting the name as strict UTF-8 used to crash the whole report)."""
    from tests.hostile_strategies import CONTENTS, Member, to_tar

    monkeypatch.setenv("INSPECTOR_CACHE_DIR", str(tmp_path / "cache"))
    key = next(c for c in CONTENTS if c.startswith(b"-----BEGIN RSA"))
    archive = tmp_path / "image.tar"
    archive.write_bytes(image_archive([to_tar([Member(b"srv/\xff/id_rsa", data=key)])]))
    sarif = tmp_path / "r.sarif"
    code = main(["audit", f"docker-archive:{archive}", "--no-probe", "--no-config",
                 "-o", f"sarif={sarif}"])  # fmt: skip
    assert code == 1, capsys.readouterr().err
    uris = [
        loc["physicalLocation"]["artifactLocation"]["uri"]
        for run in json.loads(sarif.read_text(encoding="utf-8"))["runs"]
        for result in run["results"]
        for loc in result.get("locations", [])
    ]
    assert any(uri.endswith("/srv/%FF/id_rsa") for uri in uris), uris
