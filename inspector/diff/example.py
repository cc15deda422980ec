"""A made-up release, 1.4 to 1.5, diffed by the real inspector/diff/compute.py: docs/diff.md's
example, the README's Markdown sample, and the diff in which every path docs/diff.md describes
must appear (so no description outlives its field)."""

from __future__ import annotations

from typing import Any

from checks import catalog
from checks.model import CheckResult, Finding, Location
from inspector.diff.compute import Audited, compute
from inspector.diff.model import ImageDiff

OLD_REF = "registry:registry.example/shop/api:1.4"
NEW_REF = "shop/api:1.5"
_BASE = [
    ("sha256:" + "b1" * 32, 79_691_776, "ADD rootfs.tar.xz / # buildkit"),
    ("sha256:" + "b2" * 32, 9_728_512, "RUN apt-get update && apt-get install ..."),
]
_SITE = "/opt/venv/lib/python3.12/site-packages"
MiB = 1 << 20


def _layers(extra: list[tuple[str, int, str]]) -> list[dict[str, Any]]:
    return [
        {"index": i, "digest": d, "size": size, "created_by": step, "from_cache": False}
        for i, (d, size, step) in enumerate(_BASE + extra)
    ]


def _facts(
    version: str,
    *,
    user: str,
    layers: list[tuple[str, int, str]],
    env: dict[str, str],
    os_packages: dict[str, str],
    dists: dict[str, str],
    python: str,
    sizes: dict[str, int],
    matches: list[dict[str, Any]],
    lifecycle: dict[str, Any],
    digest: str | None,
    created: str,
) -> dict[str, Any]:
    return {
        "image": {
            "id": "sha256:" + ("4a" if version == "1.4" else "9c") * 32,
            "digest": digest,
            "created": created,
            "platform": "linux/amd64",
        },
        "config": {
            "user": user,
            "env": env,
            "entrypoint": ["/usr/bin/tini", "--"],
            "cmd": ["gunicorn", "shop.wsgi:app"],
            "workdir": "/srv",
            "stop_signal": None,
            "healthcheck": {"Test": ["CMD", "python", "-m", "shop.health"]}
            if version == "1.5"
            else None,
            "exposed_ports": ["8000/tcp"] + (["9100/tcp"] if version == "1.5" else []),
            "volumes": ["/srv/media"] if version == "1.4" else [],
            "labels": {
                "org.opencontainers.image.version": f"{version}.0",
                "org.opencontainers.image.base.name": "python:3.12-slim",
                "org.opencontainers.image.base.digest": "sha256:" + "5e" * 32,
            },
        },
        "layers": _layers(layers),
        "fs": {
            "visible_bytes": sum(sizes.values()) * 3,
            "wasted_bytes": 0 if version == "1.5" else 14 * MiB,
            "sizes": {
                "threshold": MiB,
                "paths": [{"path": p, "bytes": b} for p, b in sizes.items()],
            },
        },
        "os_packages": {
            "packages": [
                {"name": n, "version": v, "manager": "dpkg", "architecture": "amd64"}
                for n, v in os_packages.items()
            ]
        },
        "inventory": {
            "import_path": [_SITE],
            "components": [
                {
                    "kind": "dist-info",
                    "name": n,
                    "version": v,
                    "environment": _SITE,
                    "deleted": False,
                    "ecosystem": "PyPI",
                }
                for n, v in dists.items()
            ],
        },
        "python": {"entrypoint_interpreter": {"version": python[:4]}},
        "runtime": {
            "static": {"status": "ran", "python_version": python},
            "lifecycle": {"status": "ran", **lifecycle},
        },
        "vulnerabilities": {"status": "matched", "matches": matches},
    }


def _match(
    vid: str,
    severity: str,
    ecosystem: str,
    package: str,
    installed: str,
    fixed: str | None,
    where: str | None,
) -> dict[str, Any]:
    return {
        "id": vid,
        "severity": severity,
        "ecosystem": ecosystem,
        "package": package,
        "installed": installed,
        "fixed": fixed,
        "environment": where,
    }


def _finding(check_id: str, message: str, location: Location) -> Finding:
    check = catalog()[check_id]
    return Finding(check.id, check.severity, message, location, check.fix)


def _results(*findings: Finding, skipped: tuple[str, ...] = ()) -> list[CheckResult]:
    checks = catalog()
    by: dict[str, list[Finding]] = {}
    for f in findings:
        by.setdefault(f.check, []).append(f)
    out = [CheckResult(checks[c], "failed", tuple(fs)) for c, fs in by.items()]
    out += [
        CheckResult(checks[c], "skipped", reason="the lifecycle probe did not run") for c in skipped
    ]
    ran = [c for c in ("SEC001", "OPS004", "SIZE002", "SEC004", "OPS002") if c not in by]
    return out + [CheckResult(checks[c], "passed") for c in ran if c not in skipped]


_REQUESTS = _match("CVE-2024-35195", "medium", "PyPI", "requests", "2.31.0", "2.32.0", _SITE)
_CURL = _match(
    "CVE-2024-9681", "low", "Debian:12", "curl", "7.88.1-10+deb12u8", None, "/var/lib/dpkg/status"
)
_ROOT = _finding(
    "SEC001",
    "no USER is set: the app process runs with UID 0",
    Location(config="User", runtime="lifecycle probe: pid 1"),
)
_SECRET = _finding(
    "SEC004",
    "secret-variable in config Env.STRIPE_API_KEY: 32 chars",
    Location(config="Env.STRIPE_API_KEY"),
)
_HEALTH = _finding("OPS004", "the image declares no HEALTHCHECK", Location(config="Healthcheck"))
_CACHE = _finding(
    "SIZE002",
    "pip's cache: 14.2 MiB in 212 file(s) written by layer 4",
    Location(layer=3, created_by="RUN pip install -r requirements.txt", path="/root/.cache/pip"),
)
_KILLED = _finding(
    "OPS002",
    "docker stop needed SIGKILL: PID 1 ignored SIGTERM for 10 s",
    Location(runtime="lifecycle probe: pid 1"),
)


def pair() -> tuple[Audited, Audited]:
    """OLD (1.4, from the registry) and NEW (1.5, a local build)."""
    old = _facts(
        "1.4",
        user="",
        digest="registry.example/shop/api@sha256:" + "0d" * 32,
        created="2026-11-02T09:14:03Z",
        layers=[
            ("sha256:" + "a4" * 32, 61_440_000, "RUN pip install -r requirements.txt"),
            ("sha256:" + "c4" * 32, 1_228_800, "COPY . /srv"),
        ],
        env={
            "PATH": "/opt/venv/bin:/usr/bin",
            "STRIPE_API_KEY": "<redacted: 32 chars, fingerprint 1a2b3c4d>",
            "WEB_CONCURRENCY": "2",
        },
        os_packages={"openssl": "3.0.13-1~deb12u1", "libexpat1": "2.5.0-1"},
        dists={"requests": "2.31.0", "urllib3": "2.0.7", "gunicorn": "22.0.0"},
        python="3.12.6",
        sizes={_SITE: 48 * MiB, "/root/.cache/pip": 14 * MiB},
        matches=[_REQUESTS],
        lifecycle={
            "app_pid": 1,
            "processes": [{"pid": 1, "euid": 0}],
            "pid1_kind": "app",
            "stopped_by": "kill",
            "stop_seconds": 10.2,
            "listening": [{"protocol": "tcp", "address": "0.0.0.0", "port": 8000}],
        },
    )
    new = _facts(
        "1.5",
        user="10001",
        digest=None,
        created="2026-12-07T18:40:51Z",
        layers=[
            ("sha256:" + "a5" * 32, 88_080_384, "RUN pip install --no-cache-dir -r ..."),
            ("sha256:" + "c5" * 32, 1_310_720, "COPY . /srv"),
            ("sha256:" + "d5" * 32, 4_194_304, "RUN apt-get install -y curl"),
        ],
        env={
            "PATH": "/opt/venv/bin:/usr/bin",
            "STRIPE_API_KEY": "<redacted: 32 chars, fingerprint 9f8e7d6c>",
            "PYTHONFAULTHANDLER": "1",
        },
        os_packages={"openssl": "3.0.15-1~deb12u1", "curl": "7.88.1-10+deb12u8"},
        dists={"requests": "2.32.3", "urllib3": "2.2.3", "gunicorn": "23.0.0", "numpy": "2.1.3"},
        python="3.12.7",
        sizes={_SITE: 76 * MiB, f"{_SITE}/numpy": 27 * MiB, f"{_SITE}/numpy.libs": 26 * MiB},
        matches=[_CURL],
        lifecycle={
            "app_pid": 7,
            "processes": [{"pid": 1, "euid": 10001}, {"pid": 7, "euid": 10001}],
            "pid1_kind": "init",
            "stopped_by": "signal",
            "stop_seconds": 0.4,
            "listening": [
                {"protocol": "tcp", "address": "0.0.0.0", "port": 8000},
                {"protocol": "tcp", "address": "0.0.0.0", "port": 9100},
            ],
        },
    )
    return (
        Audited(OLD_REF, old, _results(_ROOT, _SECRET, _HEALTH, _CACHE, _KILLED)),
        Audited(
            NEW_REF,
            new,
            _results(
                _SECRET,
                _finding(
                    "SIZE002",
                    "pip's wheel cache: 3.1 MiB in 40 file(s) written by layer 5",
                    Location(
                        layer=4,
                        created_by="RUN apt-get install -y curl",
                        path="/root/.cache/pip/wheels",
                    ),
                ),
                skipped=("OPS002",),
            ),
        ),
    )


def example() -> ImageDiff:
    """What docs/diff.md and the README show: `--fail-on new:medium`, failed by a new cache."""
    old, new = pair()
    return compute(old, new, fail_on="medium")
