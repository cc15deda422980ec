"""Filling the advisory database: OSV's exports downloaded (`update`) or read from disk
(`import_from`, for sites with no way out).

OSV publishes one `all.zip` per ecosystem (`{base}/PyPI/all.zip`, `{base}/Debian/all.zip`, ...).
A download is conditional (the last import's ETag and Last-Modified: a 304 imports nothing),
resumable (the bytes so far stay in `{cache}/advisories/ECOSYSTEM.zip.part`; the next run asks
for the rest with `Range` and `If-Range`, and starts over when the server sends the whole file
instead), and bounded in time. The zip is then imported member by member (`exportzip.members`):
memory stays that of one record whatever the export's size. Anything wrong (a refused
download, a body that is not a zip, a damaged archive) is one `InspectorError` and the
ecosystem's previous records stay as they were.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from inspector.advisories.exportzip import ExportError, members
from inspector.advisories.osv import MAX_RECORD_BYTES, Record, Skipped, parse
from inspector.advisories.store import AdvisoryStore, Imported, Validators, now_utc
from inspector.datastore import first_line
from inspector.errors import InspectorError

# OSV's public export: a bucket of advisories, one `all.zip` per ecosystem.
DEFAULT_BASE_URL = "https://osv-vulnerabilities.storage.googleapis.com"
DEFAULT_ECOSYSTEMS = ("PyPI", "Debian", "Ubuntu", "Alpine")
TIMEOUT = (10.0, 60.0)  # connect, and each read: a stalled server ends the download
MAX_DOWNLOAD_SECONDS = 3600.0  # a trickling server ends it too (the bytes so far are kept)
_READ = 256 * 1024  # bytes read at a time: what an interruption may cost
_PROGRESS_EVERY = 0.25  # seconds between progress lines
# An ecosystem as OSV names its export: a word, maybe with dots or spaces ("crates.io").
_EXPORT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._+-]{0,63}")

Progress = Callable[[str], None]


class FetchError(InspectorError):
    """An export could not be downloaded or read; the database keeps what it had."""


@dataclass(frozen=True)
class Result:
    """What became of one ecosystem."""

    export: str
    status: str  # "imported" | "unchanged" (the server answered 304)
    advisories: int  # records stored (for "unchanged": those already stored)
    skipped: Skipped
    source: str

    def describe(self) -> str:
        if self.status == "unchanged":
            kept = _advisories(self.advisories)
            return f"{self.export}: unchanged since the last update ({kept} kept)"
        skipped = f", {self.skipped.describe()} skipped" if self.skipped.total else ""
        return f"{self.export}: {_advisories(self.advisories)} imported from {self.source}{skipped}"


def _advisories(count: int) -> str:
    return f"{count} advisor{'y' if count == 1 else 'ies'}"


def check_export_name(name: str) -> str:
    """An `--ecosystem` value: an export's name ("Debian"), never a release ("Debian:12")."""
    if ":" in name:
        raise FetchError(
            f"--ecosystem {name!r}: name the export ({name.split(':', 1)[0]}); it holds "
            "every release"
        )
    if not _EXPORT_NAME.fullmatch(name) or ".." in name:
        raise FetchError(f"--ecosystem {name!r} is not an ecosystem's name (PyPI, Debian, ...)")
    return name


def public_url(url: str) -> str:
    """A URL as stored and shown: no user, password, query or fragment (signed URLs carry
    their secrets there)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return urlunsplit((parts.scheme, host + port, parts.path, "", ""))


# -- reading an export zip ----------------------------------------------------------------------


def records(path: Path, skipped: Skipped) -> Iterator[Record]:
    """The records of one export zip, member by member; unusable ones counted in `skipped`."""
    try:
        with open(path, "rb") as raw:
            for name, content in members(raw, MAX_RECORD_BYTES):
                if not name.endswith(".json"):
                    continue
                if content is None:
                    skipped.add("too large")
                    continue
                record = parse(content, skipped)
                if record is not None:
                    yield record
    except OSError as exc:
        raise FetchError(f"cannot read {path}: {exc.strerror or exc}") from exc


def detect_export(path: Path) -> str:
    """The ecosystem a zip is the export of, from its first records that name one."""
    seen: dict[str, int] = {}
    for index, record in enumerate(records(path, Skipped())):
        for export in record.exports():
            seen[export] = seen.get(export, 0) + 1
        if (len(seen) == 1 and index >= 20) or index >= 200:
            break
    if not seen:
        raise FetchError(f"{path} holds no OSV record naming a package: give --ecosystem")
    return max(sorted(seen), key=lambda e: seen[e])


def import_zip(store: AdvisoryStore, path: Path, export: str, *, source: str,
               etag: str | None = None, last_modified: str | None = None,
               progress: Progress | None = None) -> Imported:  # fmt: skip
    """Replace `export`'s records with those of the zip at `path`, or raise and keep them."""
    skipped = Skipped()
    try:
        return store.import_ecosystem(
            export, _counted(records(path, skipped), export, progress), source=source,
            etag=etag, last_modified=last_modified, skipped=skipped,
        )  # fmt: skip
    except ExportError as exc:
        raise FetchError(
            f"the {export} export {source} cannot be read: {exc}; the database was left as it was"
        ) from exc
    finally:
        if progress:
            progress("")


def _counted(found: Iterable[Record], export: str, progress: Progress | None) -> Iterator[Record]:
    if progress is None:
        yield from found
        return
    last = 0.0
    for count, record in enumerate(found, 1):
        if time.monotonic() - last > _PROGRESS_EVERY:
            last = time.monotonic()
            progress(f"importing {export}: {count} advisories")
        yield record


def import_from(store: AdvisoryStore, path: str | Path, ecosystems: Sequence[str] = (),
                progress: Progress | None = None, *,
                report: Callable[[Result], None] | None = None) -> list[Result]:  # fmt: skip
    """`inspector db update --from PATH`: a directory laid out as OSV's export is
    (`ECOSYSTEM/all.zip`; only `ecosystems` of them when given), or one such zip (its
    ecosystem named by `ecosystems`, else read from its records).

    As `update`: every ecosystem is tried, each one done given to `report`; FetchError at the
    end when any failed."""
    path = Path(path)
    wanted = [check_export_name(e) for e in ecosystems]
    if path.is_dir():
        found = sorted(p.parent.name for p in path.glob("*/all.zip") if p.is_file())
        chosen = wanted or found
        absent = [e for e in chosen if not (path / e / "all.zip").is_file()]
        if absent or not chosen:
            raise FetchError(
                f"{path} holds no {'/'.join(absent) or 'ECOSYSTEM'}/all.zip (a directory laid "
                "out as OSV's export is: PyPI/all.zip, Debian/all.zip, ...)"
            )
        zips = [(e, path / e / "all.zip") for e in chosen]
    elif path.is_file():
        if len(wanted) > 1:
            raise FetchError(f"{path} is one export: give one --ecosystem, or none")
        zips = [(wanted[0] if wanted else detect_export(path), path)]
    else:
        raise FetchError(f"{path}: no such file or directory")
    results: list[Result] = []
    failures: list[str] = []
    for export, zip_path in zips:
        source = str(zip_path.resolve())
        try:
            done = import_zip(store, zip_path, export, source=source, progress=progress)
        except InspectorError as exc:
            failures.append(str(exc))
            continue
        result = Result(export, "imported", done.advisories, done.skipped, done.source)
        results.append(result)
        if report:
            report(result)
    _raise_failures(failures, results)
    return results


def _raise_failures(failures: list[str], results: list[Result]) -> None:
    if failures:
        done = [r.export for r in results]
        tail = f" ({', '.join(done)} updated)" if done else ""
        raise FetchError("; ".join(failures) + tail)


# -- downloading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Downloaded:
    path: Path
    etag: str | None
    last_modified: str | None


def update(store: AdvisoryStore, base_url: str = DEFAULT_BASE_URL,
           ecosystems: Sequence[str] = DEFAULT_ECOSYSTEMS, progress: Progress | None = None,
           *, cache_dir: Path | None = None,
           report: Callable[[Result], None] | None = None) -> list[Result]:  # fmt: skip
    """`inspector db update`: download and import each ecosystem's `all.zip` from `base_url`.

    Every ecosystem is tried; each one done is given to `report` as it finishes. When any
    failed, FetchError says which and why (the others' imports stand: each is whole).
    """
    if urlsplit(base_url).scheme not in ("http", "https"):
        raise FetchError(f"--url {base_url!r}: give an http:// or https:// URL")
    cache = (cache_dir or _default_cache()) / "advisories"
    wanted = [check_export_name(e) for e in dict.fromkeys(ecosystems)]
    results: list[Result] = []
    failures: list[str] = []
    import requests

    with requests.Session() as session:
        session.headers["User-Agent"] = "inspector (python-image-inspector)"
        # Byte ranges count the file's own bytes: no transfer encoding in between.
        session.headers["Accept-Encoding"] = "identity"
        for export in wanted:
            url = f"{base_url.rstrip('/')}/{quote(export)}/all.zip"
            try:
                result = _update_one(store, session, url, export, cache, progress)
            except InspectorError as exc:
                failures.append(str(exc))
                continue
            results.append(result)
            if report:
                report(result)
    _raise_failures(failures, results)
    return results


def _default_cache() -> Path:
    from inspector.layers.cache import default_dir

    return default_dir()


def _update_one(store: AdvisoryStore, session: object, url: str, export: str, cache: Path,
                progress: Progress | None) -> Result:  # fmt: skip
    # Two updates on one machine (a cron job and a person) share the .part file: one waits for
    # the other, then finds the export unchanged.
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f"{export}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _update_locked(store, session, url, export, cache, progress)


def _update_locked(store: AdvisoryStore, session: object, url: str, export: str, cache: Path,
                   progress: Progress | None) -> Result:  # fmt: skip
    source = public_url(url)
    previous = store.validators(export)
    if previous is not None and previous.source != source:
        previous = None  # another server's validators mean nothing to this one
    downloaded = _download(session, url, cache / f"{export}.zip", previous, progress)
    if downloaded is None:
        kept = store.confirm(export, now_utc())
        return Result(export, "unchanged", kept, Skipped(), source)
    try:
        done = import_zip(store, downloaded.path, export, source=source, etag=downloaded.etag,
                          last_modified=downloaded.last_modified, progress=progress)  # fmt: skip
    finally:
        downloaded.path.unlink(missing_ok=True)
    return Result(export, "imported", done.advisories, done.skipped, done.source)


def _download(session, url: str, target: Path, previous: Validators | None,  # type: ignore[no-untyped-def]
              progress: Progress | None) -> _Downloaded | None:  # fmt: skip
    """Download `url` to `target` (None: 304, the stored import is current)."""
    import requests

    shown = public_url(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    meta = target.with_name(target.name + ".part.json")
    headers: dict[str, str] = {}
    if previous is not None and previous.etag:
        headers["If-None-Match"] = previous.etag
    if previous is not None and previous.last_modified:
        headers["If-Modified-Since"] = previous.last_modified
    resume = _resumable(part, meta, shown)
    if resume is not None:
        headers["Range"] = f"bytes={part.stat().st_size}-"
        headers["If-Range"] = resume
    try:
        response = session.get(url, headers=headers, stream=True, timeout=TIMEOUT,
                               allow_redirects=True)  # fmt: skip
    except requests.exceptions.RequestException as exc:
        raise FetchError(f"cannot download {shown}: {_reason(exc)}") from exc
    with response:
        if response.status_code == 304:
            part.unlink(missing_ok=True)
            meta.unlink(missing_ok=True)
            return None
        if response.status_code == 416 and resume is not None:
            part.unlink(missing_ok=True)  # the part is longer than the file: start over
            meta.unlink(missing_ok=True)
            return _download(session, url, target, previous, progress)
        if response.status_code not in (200, 206):
            _drain(response)
            answer = f"{response.status_code} {response.reason or ''}".rstrip()
            raise FetchError(f"cannot download {shown}: the server answered HTTP {answer}")
        etag = response.headers.get("ETag")
        last_modified = response.headers.get("Last-Modified")
        offset = _resume_offset(response, part) if resume is not None else 0
        if offset == 0:
            part.unlink(missing_ok=True)
        meta.write_text(json.dumps({"url": shown, "etag": etag, "last_modified": last_modified}))
        total = _total(response, offset)
        _receive(response, part, offset, total, shown, progress)
    part.replace(target)
    meta.unlink(missing_ok=True)
    return _Downloaded(target, etag, last_modified)


def _drain(response) -> None:  # type: ignore[no-untyped-def]
    """Read a refusal's (small) body before closing: closing with bytes unread resets the
    connection, which servers log as an error of theirs."""
    import urllib3.exceptions

    # The refusal is what gets reported; a failure to read its body is not.
    with contextlib.suppress(urllib3.exceptions.HTTPError, OSError):
        response.raw.read(64 * 1024, decode_content=False)


def _resumable(part: Path, meta: Path, shown: str) -> str | None:
    """The If-Range validator of a partial download of this URL, when there is one."""
    try:
        kept = json.loads(meta.read_text())
        size = part.stat().st_size
    except (OSError, ValueError):
        return None
    if not isinstance(kept, dict) or kept.get("url") != shown or size == 0:
        return None
    validator = kept.get("etag") or kept.get("last_modified")
    # A weak ETag cannot validate a byte range (RFC 9110, 13.1.5).
    if not isinstance(validator, str) or validator.startswith("W/"):
        validator = kept.get("last_modified")
    return validator if isinstance(validator, str) and validator else None


_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


def _resume_offset(response, part: Path) -> int:  # type: ignore[no-untyped-def]
    """Where the body starts: the part's end for a 206 that continues it, 0 for a whole file
    (a server that ignores Range, or a file that changed since)."""
    if response.status_code != 206:
        return 0
    found = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
    size = part.stat().st_size if part.exists() else 0
    if found is None or int(found[1]) != size:
        raise FetchError(
            f"cannot resume {public_url(response.url)}: the server sent another byte range "
            f"({response.headers.get('Content-Range', 'none')}); run again to start over"
        )
    return size


def _total(response, offset: int) -> int | None:  # type: ignore[no-untyped-def]
    length = response.headers.get("Content-Length", "")
    return offset + int(length) if length.isdigit() else None


def _receive(response, part: Path, offset: int, total: int | None, shown: str,  # type: ignore[no-untyped-def]
             progress: Progress | None) -> None:  # fmt: skip
    import urllib3.exceptions

    received = offset
    started = last = time.monotonic()
    raw = response.raw
    # A body cut short must keep the bytes that came: urllib3 would drop its buffered part of
    # the chunk when raising. The length is checked below instead, and the rest resumed.
    raw.enforce_content_length = False
    try:
        with open(part, "ab" if offset else "wb") as out:
            while chunk := raw.read(_READ, decode_content=False):
                out.write(chunk)
                received += len(chunk)
                now = time.monotonic()
                if now - started > MAX_DOWNLOAD_SECONDS:
                    raise TimeoutError(f"still downloading after {MAX_DOWNLOAD_SECONDS:.0f}s")
                if progress and now - last > _PROGRESS_EVERY:
                    last = now
                    of = f" of {total / 1e6:.1f} MB" if total else ""
                    progress(f"downloading {shown}: {received / 1e6:.1f}{of}")
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise FetchError(
            f"downloading {shown} stopped after {received} bytes ({_reason(exc)}); run "
            "`inspector db update` again to resume"
        ) from exc
    finally:
        if progress:
            progress("")
    if total is not None and received != total:
        raise FetchError(
            f"downloading {shown} stopped after {received} of {total} bytes; run "
            "`inspector db update` again to resume"
        )


def _reason(exc: BaseException) -> str:
    """A requests/urllib3 error as a few words, not its nested repr."""
    text = first_line(exc)
    for marker in ("Connection refused", "timed out", "Name or service not known",
                   "Connection reset", "IncompleteRead", "Connection broken"):  # fmt: skip
        if marker.lower() in text.lower():
            return marker.lower() if marker != "IncompleteRead" else "the body was cut short"
    return text[:200]
