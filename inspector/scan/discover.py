"""What a scan covers: the repositories of a registry (its catalog, or a file naming them) and
the tags of each, read page by page through the polite registry Client.

A registry is untrusted input here as everywhere: pagination links are followed only on the
registry's own host and scheme, a link seen before ends the listing with an error instead of a
loop, every page is capped in bytes, pages and names are capped in number, and names that are
not valid repository names or tags are skipped (they could not be pulled, and they end up in
URL paths).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, parse_qs, urljoin, urlsplit

import requests

from inspector.errors import InspectorError
from inspector.layers.limits import MAX_MANIFEST_JSON
from inspector.sources.registry import _HOST, _REPOSITORY, _TAG, PREFIX
from inspector.sources.registry_client import Client, Denied, RegistryError, registry_said

# Registries cap a page themselves (Distribution answers 400 PAGINATION_NUMBER_INVALID above
# its `catalog.maxentries`, 1000 by default): asking for more only earns that error.
MAX_PAGE_SIZE = 1000
# A page of 1000 names of 255 bytes is 256 KiB of JSON; the manifest cap bounds the parser.
MAX_PAGE_JSON = MAX_MANIFEST_JSON
# Far above any real registry (the largest public ones list ~100k repositories), low enough
# that a registry sending names forever is stopped before memory runs out.
MAX_REPOSITORIES = 1_000_000
MAX_TAGS = 1_000_000  # of one repository: CI registries keep a tag per commit, for years
# Pages of one listing: 1,000,000 names at 10 a page. A registry sending empty pages with
# ever-new links is stopped here.
MAX_PAGES = 100_000
MAX_NAME = 255  # bytes of a repository name, as Distribution limits it
_TARGET_USAGE = "write registry:HOST[:PORT][/PREFIX], e.g. registry:registry.example.com/team"
_NO_CATALOG_HINT = "name the repositories with --repos-from FILE or --repo NAME"


class DiscoveryError(InspectorError):
    """What a scan should cover could not be listed: a bad target, file or catalog."""


class NoCatalog(DiscoveryError, RegistryError):
    """The registry lists no repositories (no catalog, or the catalog is denied)."""


@dataclass(frozen=True)
class Target:
    """A scan target: a registry host and, optionally, the repositories under a prefix."""

    host: str  # HOST[:PORT]
    prefix: str  # "" for the whole registry, else a repository path such as "team/app"

    def __str__(self) -> str:
        return PREFIX + self.host + (f"/{self.prefix}" if self.prefix else "")

    def covers(self, repository: str) -> bool:
        """Whether `repository` is the prefix itself or below it (`team` covers `team/app`,
        not `teams/app`)."""
        return _under(repository, self.prefix)


def parse_target(text: str) -> Target:
    """`registry:HOST[:PORT][/PREFIX]` (the `registry:` may be left out). As in image
    references, the host must look like one (a dot, a port or `localhost`), so a forgotten
    host (`registry:team/app`) is an error, not a scan of a host called `team`."""
    shown = text if text.startswith(PREFIX) else PREFIX + text
    body = text.removeprefix(PREFIX)
    head, _, prefix = body.partition("/")
    prefix = prefix.rstrip("/")
    if "@" in head:  # `user:password@host`: never said back (CI logs keep error lines)
        raise DiscoveryError(
            f"{PREFIX}{head.rsplit('@', 1)[1]}: a target holds no credentials (log in with "
            f"`docker login` instead): {_TARGET_USAGE}"
        )
    if not head:
        raise DiscoveryError(f"{shown} names no registry host: {_TARGET_USAGE}")
    if not ("." in head or ":" in head or head == "localhost") or not _HOST.match(head):
        raise DiscoveryError(f"{shown}: {head!r} is not a registry host: {_TARGET_USAGE}")
    if prefix and (":" in prefix or "@" in prefix):
        raise DiscoveryError(
            f"{shown}: a scan covers repositories, not one tag or digest: {_TARGET_USAGE}"
        )
    if prefix and (len(prefix) > MAX_NAME or not _REPOSITORY.match(prefix)):
        raise DiscoveryError(
            f"{shown}: {prefix[:80]!r} is not a repository prefix (lower case, components "
            f"separated by /): {_TARGET_USAGE}"
        )
    return Target(head, prefix)


def valid_repository(name: str) -> bool:
    return len(name) <= MAX_NAME and _REPOSITORY.match(name) is not None


def repositories(client: Client, prefix: str = "", page_size: int = 100) -> list[str]:
    """Every repository the registry's catalog lists under `prefix` (all when ""), sorted.

    A registry without a catalog (404, 405, 501, UNSUPPORTED) or refusing it to these
    credentials raises NoCatalog, whose message says how to name repositories instead.
    """

    def refused(response: requests.Response, said: str) -> InspectorError | None:
        if response.status_code in (404, 405, 501) or "UNSUPPORTED" in said:
            return _no_catalog(client, f"the registry answered {said}")
        return None

    try:
        names = _listing(client, "_catalog", "repositories", page_size, MAX_REPOSITORIES, refused)
    except NoCatalog:
        raise
    except Denied as exc:
        raise _no_catalog(client, "the catalog is denied to these credentials") from exc
    return sorted({name for name in names if valid_repository(name) and _under(name, prefix)})


def _under(name: str, prefix: str) -> bool:
    return not prefix or name == prefix or name.startswith(prefix + "/")


def _no_catalog(client: Client, why: str) -> NoCatalog:
    return NoCatalog(f"{client.host} lists no repositories ({why}): {_NO_CATALOG_HINT}")


def tags(client: Client, repository: str, page_size: int = 100) -> list[str]:
    """The tags of `repository`, sorted; [] when all its tags were deleted (`tags: null`)."""
    if not valid_repository(repository):
        raise client.fail(f"{repository[:80]!r} is not a valid repository name")

    def unknown(response: requests.Response, said: str) -> InspectorError | None:
        if response.status_code == 404:
            return client.fail(f"unknown repository {client.host}/{repository} ({said})")
        return None

    found = _listing(client, f"{repository}/tags/list", "tags", page_size, MAX_TAGS, unknown)
    return sorted({tag for tag in found if _TAG.match(tag)})


# Turns a tolerated error answer (and what the registry said) into the exception to raise;
# None: the generic "the registry answered ..." error.
Refusal = Callable[[requests.Response, str], InspectorError | None]


def _listing(
    client: Client, path: str, key: str, page_size: int, cap: int, refusal: Refusal
) -> list[str]:
    """The strings under `key` in every page of the paginated listing at /v2/`path`."""
    size = max(1, min(page_size, MAX_PAGE_SIZE))
    # Relative to /v2/: the client settles the scheme (HTTPS, or plain HTTP for a loopback host
    # that speaks no TLS) on its first request, so the origin is read after each one.
    url: str | None = f"{path}?n={size}"
    seen_urls: set[str] = set()
    seen_lasts: set[str] = set()
    names: list[str] = []
    pages = 0
    while url is not None:
        pages += 1
        if pages > MAX_PAGES:
            raise client.fail(f"the registry's {key} listing runs past {MAX_PAGES:,} pages")
        response = client.request("GET", url, stream=True, tolerated=(400, 404, 405, 501))
        origin = urlsplit(client.base)
        current = f"{client.base}/v2/{url}"
        seen_urls.add(current)
        with response:
            if response.status_code >= 400:
                said = registry_said(response)
                if pages == 1 and "PAGINATION_NUMBER_INVALID" in said and "?n=" in url:
                    # The registry caps pages below our size: its own default size will do.
                    url = url.split("?", 1)[0]
                    pages = 0
                    continue
                raise refusal(response, said) or client.fail(f"the registry answered {said}")
            page = _page(client, response, key)
            following = response.links.get("next", {}).get("url")
        names.extend(name for name in page if isinstance(name, str))
        if len(names) > cap:
            raise client.fail(f"the registry lists more than {cap:,} {key}")
        url = (
            _next(client, origin, current, following, seen_urls, seen_lasts) if following else None
        )
    return names


def _page(client: Client, response: requests.Response, key: str) -> list[Any]:
    parts, total = [], 0
    for chunk in response.iter_content(1 << 16):
        total += len(chunk)
        if total > MAX_PAGE_JSON:
            raise client.fail(f"a page of {key} is larger than {MAX_PAGE_JSON:,} bytes")
        parts.append(chunk)
    try:
        document = json.loads(b"".join(parts))
    except (ValueError, RecursionError) as exc:
        raise client.fail(f"a page of {key} is not valid JSON") from exc
    if not isinstance(document, dict):
        raise client.fail(f"a page of {key} is not a JSON object")
    listed = document.get(key)
    if listed is None:  # `tags: null`: every tag of the repository was deleted
        return []
    if not isinstance(listed, list):
        raise client.fail(f"a page of {key} holds {type(listed).__name__}, not a list")
    return listed


def _next(
    client: Client,
    origin: SplitResult,
    current: str,
    link: str,
    seen_urls: set[str],
    seen_lasts: set[str],
) -> str:
    """The next page's path under /v2/, refused unless on the registry's own scheme and host
    (a catalog must not send the client, and its credentials, anywhere else)."""
    url = urljoin(current, link)
    target = urlsplit(url)
    if _origin(target) != _origin(origin):
        raise client.fail(
            f"the registry's next page is on another host ({url[:200]}): not followed"
        )
    if not target.path.startswith("/v2/"):
        raise client.fail(f"the registry's next page {url[:200]} is not under /v2/")
    last = parse_qs(target.query).get("last", [None])[0]
    if url in seen_urls or (last is not None and last in seen_lasts):
        raise client.fail(
            f"the registry's pagination repeats itself ({url[:200]}): stopped instead of looping"
        )
    if last is not None:
        seen_lasts.add(last)
    return target.path[len("/v2/") :] + (f"?{target.query}" if target.query else "")


def _origin(url: SplitResult) -> tuple[str, str, int | None]:
    """Scheme, host and port, the default port made explicit (`HOST` is `HOST:443`)."""
    try:
        port = url.port
    except ValueError:  # a port out of range: no origin at all
        return (url.scheme, url.netloc, -1)
    default = {"http": 80, "https": 443}.get(url.scheme)
    return (url.scheme, (url.hostname or "").lower(), port or default)


def read_repos_file(path: Path) -> list[str]:
    """The repositories `path` names, one a line, in order and without repeats; blank lines
    and `#` comments are ignored. A line that is not a repository name is an error naming
    FILE:LINE."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DiscoveryError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise DiscoveryError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    names: dict[str, None] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        name = line.split("#", 1)[0].strip()
        if not name:
            continue
        first, slash, _ = name.partition("/")
        if slash and ("." in first or ":" in first or first == "localhost"):
            # As Docker reads names, that first component is a host: not a repository of
            # the registry being scanned.
            raise DiscoveryError(
                f"{path}:{number}: {name[:80]!r} starts with a registry host: write the "
                "repository only (the host is the scan target's), e.g. team/app"
            )
        if not valid_repository(name):
            raise DiscoveryError(
                f"{path}:{number}: {name[:80]!r} is not a repository name: write one per "
                "line, lower case, components separated by /, e.g. team/app"
            )
        names[name] = None
        if len(names) > MAX_REPOSITORIES:
            raise DiscoveryError(f"{path}: more than {MAX_REPOSITORIES:,} repositories")
    return list(names)
