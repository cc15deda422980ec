"""A real PostgreSQL server (Debian's binaries) on 127.0.0.1, started by the tests.

`running_postgres(workdir)` runs one server for as long as a block; the `postgres_server`
fixture runs one per session and `postgres_url` gives each test a fresh database on it. A test
module uses them with `from tests.postgres import postgres_server, postgres_url  # noqa: F401`.
Without the server binaries these fixtures skip, or fail under --require-docker (as CI runs).
`make test` installs Debian's `postgresql` when missing (scripts/postgres-tool.sh); the system
cluster that package starts is never used.
"""

from __future__ import annotations

import itertools
import os
import pwd
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.registry import free_port

USER = "inspector"
# Unix socket paths are limited to 107 bytes by the kernel; a deep pytest tmp dir can exceed
# that, and the tests connect over TCP anyway, so the socket is then left out.
_SOCKET_PATH_MAX = 100


def server_bin() -> Path | None:
    """The newest installed server's bin dir (Debian keeps initdb off PATH), or None."""
    found = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    versions = [d for d in found if re.fullmatch(r"[0-9.]+", d.parent.name)]
    return max(versions, key=lambda d: [int(x) for x in d.parent.name.split(".")], default=None)


def _as_server_user() -> list[str]:
    """The command prefix that runs a program as a user PostgreSQL accepts (it refuses root).

    As root, that is the `postgres` user, keeping only the right to traverse directories: the
    data dir then lives in the caller's workdir, whose parents (pytest's) are root's alone."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise RuntimeError(
            "PostgreSQL refuses to run as root and there is no `postgres` user to run it as"
        ) from None
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups",
            "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]  # fmt: skip


@contextmanager
def running_postgres(workdir: Path) -> Iterator[str]:
    """Yield "postgresql://inspector@127.0.0.1:PORT/postgres" of a server that lives as long as
    the block, with trust auth on loopback and fsync off; ended by its PID (a fast shutdown, as
    `pg_ctl stop -m fast` does). Its data dir and log (postgres.log) are in `workdir`."""
    import psycopg

    bindir = server_bin()
    if bindir is None:
        raise RuntimeError(
            "PostgreSQL's server is not installed (no /usr/lib/postgresql/*/bin/initdb); "
            "`make test` installs Debian's postgresql as root"
        )
    prefix = _as_server_user()
    data, sockets = workdir / "pgdata", workdir / "s"
    sockets.mkdir(parents=True, exist_ok=True)
    data.mkdir(mode=0o700, exist_ok=True)
    if prefix:
        for path in (data, sockets):
            os.chown(path, pwd.getpwnam("postgres").pw_uid, pwd.getpwnam("postgres").pw_gid)
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    initdb = subprocess.run(
        [*prefix, str(bindir / "initdb"), "-D", str(data), "-U", USER, "-A", "trust",
         "--no-sync", "-E", "UTF8", "--locale=C"],
        capture_output=True, text=True, cwd=workdir, env=env, check=False,
    )  # fmt: skip
    if initdb.returncode != 0:
        raise RuntimeError(f"initdb failed: {initdb.stderr.strip()[-500:]}")
    port = free_port()
    socket_dir = str(sockets) if len(f"{sockets}/.s.PGSQL.{port}") < _SOCKET_PATH_MAX else ""
    settings = {
        "listen_addresses": "127.0.0.1",
        "port": str(port),
        "unix_socket_directories": socket_dir,
        # A throwaway server: durability only costs time.
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "shared_buffers": "32MB",
    }
    options = [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]
    log = open(workdir / "postgres.log", "wb")  # noqa: SIM115 - closed below
    # setpriv execs, so this PID is the postmaster's own.
    process = subprocess.Popen(
        [*prefix, str(bindir / "postgres"), "-D", str(data), *options],
        stdout=log, stderr=subprocess.STDOUT, cwd=workdir, env=env,
    )  # fmt: skip
    url = f"postgresql://{USER}@127.0.0.1:{port}/postgres"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                psycopg.connect(url, connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                if process.poll() is not None or time.monotonic() > deadline:
                    text = (workdir / "postgres.log").read_text(errors="replace")
                    raise RuntimeError(f"PostgreSQL did not start: {text[-500:]}") from None
                time.sleep(0.02)
        yield url
    finally:
        process.send_signal(signal.SIGINT)  # fast shutdown: sessions are ended, not awaited
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def needs_postgres(request: pytest.FixtureRequest) -> None:
    """Skip without the server binaries; fail instead under --require-docker (CI)."""
    if server_bin() is None:
        message = "PostgreSQL's server is not installed (`make test` installs it as root on Debian)"
        if request.config.getoption("--require-docker"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory, request) -> Iterator[str]:
    """One server for the session: the URL of its `postgres` database."""
    needs_postgres(request)
    with running_postgres(tmp_path_factory.mktemp("postgres")) as url:
        yield url


_DATABASES = itertools.count()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A URL to a database of its own for this test, on the session's server."""
    import psycopg

    name = f"t_{next(_DATABASES)}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return postgres_server.rsplit("/", 1)[0] + "/" + name
