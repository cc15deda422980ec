"""Scan discovery against a real loopback Distribution registry (catalog and tags, paginated,
with token auth), small loopback HTTP servers for what a real registry does not do (tags
pagination, hostile links), and the pure selection helpers."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests

from inspector.errors import InspectorError
from inspector.scan import discover
from inspector.scan.discover import (
    DiscoveryError,
    NoCatalog,
    Target,
    parse_target,
    read_repos_file,
    repositories,
    tags,
)
from inspector.scan.select import (
    SelectionError,
    match_repositories,
    match_tags,
    newest,
    parse_created,
    parse_since,
    since,
)
from inspector.sources.registry_auth import Credentials
from inspector.sources.registry_client import Client, RegistryError
from tests.loopback_http import reply, serving
from tests.registry import DOCKER_MANIFEST, push_image, running_registry

REPOS = ["a/one", "a/two", "b/x", "team", "team/api", "team/app", "teams/web"]
CONFIG = {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}


def _needs_registry(request: pytest.FixtureRequest) -> None:
    if shutil.which("docker-registry") is None:
        message = "docker-registry is not installed (`make test` installs it as root on Debian)"
        if request.config.getoption("--require-docker"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def _client(address: str, **kwargs) -> Client:
    return Client(address, "", f"registry:{address}", credentials=lambda host: None, **kwargs)


@pytest.fixture(scope="module")
def registry(tmp_path_factory, request):
    """A loopback registry holding REPOS (tags 1, 2 and 3 in a/one; 1 elsewhere), and
    `gone`, whose only manifest was deleted (so its tag list is `null`)."""
    _needs_registry(request)
    workdir = tmp_path_factory.mktemp("scan-registry")
    with running_registry(workdir) as address:
        for repository in REPOS:
            # Image configs differ per repository, so no two repositories share a manifest.
            config = {**CONFIG, "config": {"Labels": {"repo": repository}}}
            for tag in ("1", "2", "3") if repository == "a/one" else ("1",):
                push_image(address, repository, tag, [], config)
        push_image(address, "gone", "1", [], CONFIG)
        head = requests.head(f"http://{address}/v2/gone/manifests/1", timeout=10,
                             headers={"Accept": DOCKER_MANIFEST})  # fmt: skip
        digest = head.headers["Docker-Content-Digest"]
        deleted = requests.delete(f"http://{address}/v2/gone/manifests/{digest}", timeout=10)
        assert deleted.status_code == 202
        yield address, workdir


def _catalog_gets(workdir) -> list[str]:
    lines = (workdir / "registry.log").read_text(errors="replace").splitlines()
    return [line for line in lines if '"GET /v2/_catalog' in line]


def test_catalog_pages_are_followed_to_the_end(registry):
    """Two names a page: the registry's Link is followed page after page until all 8 appear."""
    address, workdir = registry
    before = len(_catalog_gets(workdir))
    client = _client(address)
    try:
        found = repositories(client, page_size=2)
    finally:
        client.close()
    assert found == sorted([*REPOS, "gone"])
    pages = _catalog_gets(workdir)[before:]
    assert len(pages) == 4  # 8 names, 2 a page; the last page has no Link
    assert all("n=2" in line for line in pages)
    assert "GET /v2/_catalog?last=team%2Fapi&n=2 " in pages[-1]


def test_catalog_prefix_keeps_the_prefix_and_what_is_below_it(registry):
    """A prefix keeps `team` and `team/...`, not `teams/web` which only starts like it."""
    address, _ = registry
    client = _client(address)
    try:
        assert repositories(client, "team", page_size=3) == ["team", "team/api", "team/app"]
        assert repositories(client, "a/one") == ["a/one"]
        assert repositories(client, "nothing") == []
    finally:
        client.close()


def test_tags_of_a_repository_and_of_one_whose_tags_were_deleted(registry):
    """Tags come back sorted; `tags: null` (every manifest deleted) is an empty list."""
    address, _ = registry
    client = _client(address)
    try:
        assert tags(client, "a/one", page_size=2) == ["1", "2", "3"]
        assert tags(client, "gone") == []
    finally:
        client.close()


def test_tags_of_an_unknown_repository_name_it(registry):
    """A repository the registry does not know is one error line naming HOST/REPOSITORY."""
    address, _ = registry
    client = _client(address)
    try:
        with pytest.raises(RegistryError, match=rf"unknown repository {address}/no/such .*"):
            tags(client, "no/such")
    finally:
        client.close()


# -- the registry's own token auth: the catalog has its own scope ---------------------------------
USER = ("lister", "list secret")


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory, request):
    """A registry verifying tokens from a token server that grants USER the catalog
    (`registry:catalog:*`) and anonymous users only pulls of `pub`."""
    _needs_registry(request)
    from tests.token_server import BearerAuth, TokenServer, running_token_server

    class CatalogTokens(TokenServer):
        def access_for(self, user, scopes):
            access = super().access_for(user, scopes)
            if user == USER[0] and "registry:catalog:*" in scopes:
                access.append({"type": "registry", "name": "catalog", "actions": ["*"]})
            return access

    workdir = tmp_path_factory.mktemp("scan-token")
    grants = {"pusher": {"*": {"push", "pull"}}, None: {"pub": {"pull"}}}
    server = CatalogTokens(users={"pusher": "push", USER[0]: USER[1]}, grants=grants)
    with (
        running_token_server(server),
        running_registry(workdir, token=server.registry_auth(workdir)) as address,
    ):
        push_image(address, "pub", "1", [], CONFIG, auth=BearerAuth("pusher", "push"))
        yield address, server


def test_catalog_behind_a_bearer_challenge_gets_a_catalog_token(token_registry):
    """The catalog's challenge asks for `registry:catalog:*`; the token asked for has that
    scope (not a repository's), and the registry, verifying it, lists the repositories."""
    address, server = token_registry
    since_issued = len(server.issued)
    client = Client(address, "", f"registry:{address}",
                    credentials=lambda host: Credentials(*USER))  # fmt: skip
    try:
        assert repositories(client, page_size=1) == ["pub"]
    finally:
        client.close()
    issued = server.issued[since_issued:]
    assert issued[0] == (USER[0], [{"type": "registry", "name": "catalog", "actions": ["*"]}])


def test_catalog_denied_is_no_catalog_with_the_way_out(token_registry):
    """An anonymous token holds no catalog access: the registry refuses it, and that is
    NoCatalog saying to name the repositories with --repos-from or --repo."""
    address, _ = token_registry
    client = _client(address)
    try:
        with pytest.raises(NoCatalog) as caught:
            repositories(client)
    finally:
        client.close()
    message = str(caught.value)
    assert "denied" in message
    assert "--repos-from FILE" in message
    assert "--repo NAME" in message
    assert "\n" not in message


# -- loopback servers for what a real registry does not do ----------------------------------------
Answer = tuple[int, dict[str, str], bytes]


@dataclass
class Fake:
    """A loopback HTTP server answering each GET with `answer(path)`; paths seen are kept."""

    answer: Callable[[str], Answer]
    seen: list[str] = field(default_factory=list)
    address: str = ""

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        self.seen.append(handler.path)
        reply(handler, *self.answer(handler.path))


def _paged(names: list[str], key: str, path: str, *, max_n: int | None = None,
           link: Callable[[str], str] | None = None) -> Answer:  # fmt: skip
    """A page of `names` as Distribution sends it for `path` (`?n=` and `?last=`); `link`
    rewrites the Link to the next page, `max_n` refuses bigger pages as registries do."""
    query = parse_qs(urlsplit(path).query)
    size = int(query.get("n", ["2"])[0])
    if max_n is not None and size > max_n:
        body = {"errors": [{"code": "PAGINATION_NUMBER_INVALID", "message": "too many"}]}
        return 400, {"Content-Type": "application/json"}, json.dumps(body).encode()
    last = query.get("last", [""])[0]
    rest = [name for name in sorted(names) if name > last]
    page, more = rest[:size], len(rest) > size
    headers = {"Content-Type": "application/json"}
    if more:
        nxt = f"{urlsplit(path).path}?last={quote(page[-1], safe='')}&n={size}"
        headers["Link"] = f'<{link(nxt) if link else nxt}>; rel="next"'
    return 200, headers, json.dumps({key: page}).encode()


def _json(status: int, body: object, headers: dict[str, str] | None = None) -> Answer:
    return (
        status,
        {"Content-Type": "application/json", **(headers or {})},
        json.dumps(body).encode(),
    )


@pytest.fixture(scope="module")
def _servers():
    """Two loopback servers for the module (each costs half a second to stop)."""
    with serving(Fake(_unset)) as fake, serving(Fake(_unset)) as other:
        yield fake, other


def _unset(path: str) -> Answer:
    raise AssertionError(f"no answer set for {path}")


@pytest.fixture
def fake(_servers):
    """A loopback server answering as the test sets `fake.answer`; it starts with no requests."""
    server, _ = _servers
    server.seen.clear()
    server.answer = _unset
    return server


@pytest.fixture
def other(_servers):
    """A second loopback server on another port, answering 404 to anything."""
    _, server = _servers
    server.seen.clear()
    server.answer = lambda path: (404, {}, b"")
    return server


def _listed(fake: Fake, listing: Callable[[Client], list[str]]) -> list[str]:
    client = _client(fake.address)
    try:
        return listing(client)
    finally:
        client.close()


def test_tags_pages_are_followed_to_the_end(fake):
    """A registry that pages tag lists (Distribution 3 does) is followed to the last tag."""
    names = [f"v{i}" for i in range(7)]
    fake.answer = lambda path: _paged(names, "tags", path)
    assert _listed(fake, lambda client: tags(client, "team/app", page_size=2)) == names
    assert len(fake.seen) == 4
    assert fake.seen[0] == "/v2/team/app/tags/list?n=2"
    assert fake.seen[-1] == "/v2/team/app/tags/list?last=v5&n=2"


@pytest.mark.parametrize("elsewhere", ["other-port", "http://127.0.0.2:1", "https-same-host"])
def test_a_next_page_on_another_host_is_not_followed(fake, other, elsewhere):
    """A Link to another port, host or scheme is an error, and nothing is sent there."""
    origin = {
        "other-port": f"http://{other.address}",
        "http://127.0.0.2:1": elsewhere,
        "https-same-host": f"https://{fake.address}",
    }[elsewhere]
    fake.answer = lambda path: _paged(REPOS, "repositories", path, link=lambda nxt: origin + nxt)
    with pytest.raises(RegistryError, match=r"on another host .*not followed"):
        _listed(fake, lambda client: repositories(client, page_size=2))
    assert len(fake.seen) == 1
    assert other.seen == []


def test_an_absolute_next_page_on_the_same_host_is_followed(fake):
    """A Link spelled as an absolute URL on the registry's own host and port is followed."""
    fake.answer = lambda path: _paged(
        REPOS, "repositories", path, link=lambda nxt: f"http://{fake.address}{nxt}"
    )
    assert _listed(fake, lambda client: repositories(client, page_size=3)) == sorted(REPOS)
    assert len(fake.seen) == 3


def test_a_repeated_next_page_stops_with_an_error(fake):
    """A registry whose Link always names the same page is stopped at the repeat, not looped."""
    fake.answer = lambda path: _json(
        200, {"repositories": ["a", "b"]}, {"Link": '</v2/_catalog?last=b&n=2>; rel="next"'}
    )
    with pytest.raises(RegistryError, match="repeats itself"):
        _listed(fake, lambda client: repositories(client, page_size=2))
    assert fake.seen == ["/v2/_catalog?n=2", "/v2/_catalog?last=b&n=2"]


def test_a_next_page_repeating_last_under_another_size_stops(fake):
    """A Link that goes back to a `last=` already read (only `n` changed) is a loop too."""
    sizes = iter(range(3, 100))
    fake.answer = lambda path: _json(
        200, {"repositories": ["a"]}, {"Link": f'</v2/_catalog?last=a&n={next(sizes)}>; rel="next"'}
    )
    with pytest.raises(RegistryError, match="repeats itself"):
        _listed(fake, repositories)
    assert len(fake.seen) == 2


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, {"errors": [{"code": "NOT_FOUND", "message": "no route"}]}),
        (400, {"errors": [{"code": "UNSUPPORTED", "message": "catalog is disabled"}]}),
        (405, {"errors": []}),
    ],
)
def test_a_registry_without_a_catalog_is_no_catalog_with_the_way_out(fake, status, body):
    """404, 405 or UNSUPPORTED for the catalog is NoCatalog, one line naming both remedies."""
    fake.answer = lambda path: _json(status, body)
    with pytest.raises(NoCatalog) as caught:
        _listed(fake, repositories)
    message = str(caught.value)
    assert message.startswith(f"{fake.address} lists no repositories")
    assert "--repos-from FILE or --repo NAME" in message
    assert isinstance(caught.value, InspectorError)


def test_another_client_error_for_the_catalog_is_not_no_catalog(fake):
    """A 400 that is not UNSUPPORTED is the registry's own error, not a missing catalog."""
    fake.answer = lambda path: _json(400, {"errors": [{"code": "NAME_INVALID", "message": "?"}]})
    with pytest.raises(RegistryError, match="the registry answered NAME_INVALID") as caught:
        _listed(fake, repositories)
    assert not isinstance(caught.value, NoCatalog)


def test_page_size_is_capped_and_a_smaller_registry_cap_falls_back_to_its_default(fake):
    """n is never above 1000; a registry refusing even that (PAGINATION_NUMBER_INVALID) is
    asked again without n, and its own pages are followed to the end."""
    fake.answer = lambda path: _paged(REPOS, "repositories", path, max_n=2)
    assert _listed(fake, lambda client: repositories(client, page_size=5000)) == sorted(REPOS)
    assert fake.seen[:2] == ["/v2/_catalog?n=1000", "/v2/_catalog"]
    assert len(fake.seen) == 2 + 3  # the refused page, then 7 names at 2 a page


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"repositories": ["ok/one", 7, None, "UPPER", "../etc", "x" * 300, "ok/two", "ok/one"]},
         ["ok/one", "ok/two"]),
        ({"repositories": None}, []),
        ({"repositories": "ok/one"}, "holds str, not a list"),
        ([1, 2], "not a JSON object"),
        (b"[" * 100_000, "not valid JSON"),  # nested past the parser's recursion limit
    ],
)  # fmt: skip
def test_hostile_pages_are_refused_or_cleaned(fake, body, expected):
    """Non-list `repositories` or non-JSON is an error; non-strings and names that are not
    repository names are skipped."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    fake.answer = lambda path: (200, {"Content-Type": "application/json"}, raw)
    if isinstance(expected, list):
        assert _listed(fake, repositories) == expected
    else:
        with pytest.raises(RegistryError, match=expected):
            _listed(fake, repositories)


def test_a_page_above_the_size_cap_is_refused(fake, monkeypatch):
    """A page of more bytes than the cap is refused without parsing it."""
    monkeypatch.setattr(discover, "MAX_PAGE_JSON", 1000)
    fake.answer = lambda path: _json(200, {"repositories": [f"r{i:05d}" for i in range(200)]})
    with pytest.raises(RegistryError, match="larger than 1,000 bytes"):
        _listed(fake, repositories)


# -- targets and repository files -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("registry:registry.example.com", Target("registry.example.com", "")),
        ("registry:localhost:5000/team/", Target("localhost:5000", "team")),
        ("registry.example.com/team/app", Target("registry.example.com", "team/app")),
        ("registry:[::1]:5000/a", Target("[::1]:5000", "a")),
    ],
)
def test_parse_target(text, expected):
    """HOST[:PORT][/PREFIX], with or without `registry:`; a trailing slash is dropped."""
    assert parse_target(text) == expected
    assert str(expected).startswith("registry:")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("registry:", "names no registry host"),
        ("registry:team/app", "'team' is not a registry host"),
        ("registry:registry.example.com/app:1", "not one tag or digest"),
        ("registry:registry.example.com/Team", "'Team' is not a repository prefix"),
        ("registry:bad_host.example.com/a", "is not a registry host"),
    ],
)
def test_parse_target_errors_say_how_to_write_it(text, says):
    """Each malformed target is one line saying what is wrong and how to write it."""
    with pytest.raises(DiscoveryError, match=says) as caught:
        parse_target(text)
    assert "write registry:HOST[:PORT][/PREFIX]" in str(caught.value)


def test_target_covers_its_prefix_only():
    """`team` covers `team` and `team/app`, not `teams/app`; no prefix covers everything."""
    assert Target("h.example", "team").covers("team/app")
    assert Target("h.example", "team").covers("team")
    assert not Target("h.example", "team").covers("teams/app")
    assert Target("h.example", "").covers("anything")


def test_read_repos_file(tmp_path):
    """Comments and blank lines are ignored, names kept in order once each."""
    path = tmp_path / "repos.txt"
    path.write_text("# nightly\n\nteam/app\n  team/api   # the API\nteam/app\nbase\n")
    assert read_repos_file(path) == ["team/app", "team/api", "base"]


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("Team/App", "'Team/App' is not a repository name"),
        ("registry.example.com/team/app", "starts with a registry host"),
        ("team/app:1", "is not a repository name"),
    ],
)
def test_read_repos_file_errors_name_file_and_line(tmp_path, line, says):
    """A bad line is one error naming FILE:LINE and saying how to write it."""
    path = tmp_path / "repos.txt"
    path.write_text(f"# header\nok/one\n{line}\n")
    with pytest.raises(DiscoveryError, match=says) as caught:
        read_repos_file(path)
    assert str(caught.value).startswith(f"{path}:3: ")


def test_read_repos_file_missing_or_not_text(tmp_path):
    """A missing file or one that is not UTF-8 is one line naming the file."""
    with pytest.raises(DiscoveryError, match="cannot read it"):
        read_repos_file(tmp_path / "absent.txt")
    (tmp_path / "bin").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(DiscoveryError, match="not UTF-8"):
        read_repos_file(tmp_path / "bin")


# -- selection (pure) ----------------------------------------------------------------------------
def test_match_repositories_globs_on_the_full_name():
    """Globs match the whole name (`*` crosses `/`); several globs are a union; none is all."""
    names = ["team/app", "team/a/b", "ops/api", "team/api", "teams/x"]
    assert match_repositories(names, ["team/*"]) == ["team/app", "team/a/b", "team/api"]
    assert match_repositories(names, ["*/api"]) == ["ops/api", "team/api"]
    assert match_repositories(names, ["ops/*", "teams/?"]) == ["ops/api", "teams/x"]
    assert match_repositories(names, ["team"]) == []
    assert match_repositories(names, []) == names


def test_match_tags_globs_and_regexes():
    """Globs and `re:` regexes (whole tag) are a union; tags over 128 characters never match."""
    found = ["1.2.3", "1.2.3-rc1", "latest", "main-abc123", "v2", "x" * 129]
    assert match_tags(found, ["1.*"]) == ["1.2.3", "1.2.3-rc1"]
    assert match_tags(found, [r"re:\d+\.\d+\.\d+"]) == ["1.2.3"]  # fullmatch: not the rc
    assert match_tags(found, ["latest", r"re:main-[0-9a-f]+"]) == ["latest", "main-abc123"]
    assert match_tags(found, ["re:x+"]) == []
    assert match_tags(found, []) == found[:-1]


def test_match_tags_bad_regex_is_one_line_naming_it():
    """A regex that does not compile is a SelectionError quoting the pattern, before any match."""
    with pytest.raises(SelectionError, match=r"--tags 're:\(unclosed': not a regular expression"):
        match_tags([], ["re:(unclosed"])


def _at(day: int) -> dt.datetime:
    return dt.datetime(2026, 11, day, tzinfo=dt.UTC)


ITEMS = {"a": _at(1), "b": _at(5), "c": None, "d": _at(3), "e": _at(5), "f": _at(9)}


def test_newest_keeps_n_newest_and_every_unknown_in_the_given_order():
    """The N newest by created (ties by given order), plus those of unknown creation."""
    assert newest(list(ITEMS), 2, ITEMS.get) == ["b", "c", "f"]
    assert newest(list(ITEMS), 3, ITEMS.get) == ["b", "c", "e", "f"]
    assert newest(list(ITEMS), 99, ITEMS.get) == list(ITEMS)
    naive = {"x": dt.datetime(2026, 11, 2), "y": _at(1)}  # naive is UTC
    assert newest(["x", "y"], 1, naive.get) == ["x"]
    with pytest.raises(SelectionError, match="--newest 0"):
        newest(["a"], 0, ITEMS.get)


def test_since_keeps_those_created_at_or_after_and_every_unknown():
    """`since` is inclusive of the date and keeps items of unknown creation."""
    assert since(list(ITEMS), _at(5), ITEMS.get) == ["b", "c", "e", "f"]
    assert since(list(ITEMS), dt.datetime(2026, 11, 9), ITEMS.get) == ["c", "f"]


def test_parse_since_dates_times_and_ages():
    """Dates are midnight UTC, times keep their offset (none: UTC), ages count back from now."""
    now = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)
    assert parse_since("2026-11-01") == _at(1)
    assert parse_since("2026-11-01T12:00:00Z") == _at(1) + dt.timedelta(hours=12)
    assert parse_since("2026-11-01T12:00:00+02:00") == _at(1) + dt.timedelta(hours=10)
    assert parse_since("7d", now) == now - dt.timedelta(days=7)
    assert parse_since("12h", now) == now - dt.timedelta(hours=12)
    assert parse_since("2w", now) == now - dt.timedelta(weeks=2)


@pytest.mark.parametrize("text", ["yesterday", "7", "7m", "-1d", "2026-13-01", "01/11/2026", ""])
def test_parse_since_errors_say_how_to_write_it(text):
    """Anything else is one line quoting it and listing the accepted forms."""
    with pytest.raises(SelectionError, match=r"--since .*write a date \(2026-11-01\)"):
        parse_since(text)


def test_parse_created_reads_rfc3339_and_drops_reproducible_constants():
    """Nanoseconds and offsets are read; missing, garbled and pre-2013 constants are None."""
    assert parse_created("2024-01-02T03:04:05.123456789Z") == dt.datetime(
        2024, 1, 2, 3, 4, 5, 123456, tzinfo=dt.UTC
    )
    assert parse_created("2024-01-02T05:04:05+02:00") == dt.datetime(
        2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC
    )
    for constant in ("1970-01-01T00:00:00Z", "1980-01-01T00:00:01Z", "0001-01-01T00:00:00Z"):
        assert parse_created(constant) is None
    for junk in (None, 17, "", "last tuesday", "2024-01-02T03:04:05Z" + " " * 100):
        assert parse_created(junk) is None
