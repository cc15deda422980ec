"""The readable summary of an image's facts (`inspector facts REF`), rendered from the JSON form."""

from __future__ import annotations

import json
from typing import Any

from tabulate import tabulate

from checks.access import size as _size
from checks.model import layer_number, shorten


def _secret_owner(secret: dict[str, Any]) -> str:
    """`SQLAlchemy (docs)` for a file a package installed; empty for the image's own files."""
    kind = secret.get("owner_kind")
    if kind in (None, "app"):
        return ""
    return f"{secret.get('owner') or kind} ({secret.get('file_kind') or 'code'})"


def size(n: int | None) -> str:
    """The findings' size formatter (binary units), so a summary and a report say the same."""
    return "?" if n is None else _size(n)


def short(text: str | None, width: int = 70) -> str:
    return shorten(text or "", width)


def _argv(argv: list[str] | None, form: str | None) -> str:
    return f"{json.dumps(argv)}  [{form} form]" if argv else "(none)"


def render(doc: dict[str, Any]) -> str:
    image, config, fs = doc["image"], doc["config"], doc["fs"]
    os_ = doc.get("os") or {}
    user = doc.get("user") or {}
    python = doc.get("python") or {}
    rows = [
        ("image", image["id"]),
        ("reference", f"{image['reference']} ({image['source']})"),
        ("tags", ", ".join(image["tags"]) or "(none)"),
        ("created", image.get("created") or "?"),
        ("platform", f"{image.get('os')}/{image.get('architecture')}"),
        (
            "os",
            f"{os_.get('pretty_name') or os_.get('id') or '?'} (libc: {os_.get('libc') or '?'})",
        ),
        ("user", _user(config, user)),
        ("entrypoint", _argv(config["entrypoint"], config["entrypoint_form"])),
        ("cmd", _argv(config["cmd"], config["cmd_form"])),
        ("healthcheck", " ".join((config.get("healthcheck") or {}).get("Test") or []) or "(none)"),
        ("files", f"{fs['visible_files']} visible, {size(fs['visible_bytes'])}"),
        ("wasted", f"{size(fs['wasted_bytes'])} (efficiency {fs['efficiency']:.1%})"),
    ]
    parts = [tabulate(rows, tablefmt="plain")]
    interpreters = python.get("interpreters") or []
    if interpreters:
        parts.append(
            "python:\n"
            + tabulate(
                [(i.get("path"), i.get("version")) for i in interpreters],
                headers=["interpreter", "version"],
                tablefmt="simple",
            )
        )
    packages = python.get("packages") or []
    if packages:
        names = ", ".join(f"{p['name']} {p['version']}" for p in packages[:12])
        more = f" and {len(packages) - 12} more" if len(packages) > 12 else ""
        parts.append(f"python packages ({len(packages)}): {names}{more}")
    caches = doc.get("caches") or {}
    cache_rows = [
        (kind, size(c.get("visible_bytes")), size(c.get("deleted_bytes")))
        for kind, c in caches.items()
        if isinstance(c, dict) and (c.get("visible_bytes") or c.get("deleted_bytes"))
    ]
    if cache_rows:
        headers = ["cache", "visible", "deleted but shipped"]
        parts.append("caches:\n" + tabulate(cache_rows, headers=headers, tablefmt="simple"))
    secrets = doc.get("secrets") or []
    if secrets:
        parts.append(
            "secrets:\n"
            + tabulate(
                [
                    (
                        s.get("kind"),
                        s.get("where"),
                        s.get("path") or s.get("name"),
                        layer_number(s["layer"]) if s.get("layer") is not None else "",
                        "yes" if s.get("deleted") else "",
                        _secret_owner(s),
                    )
                    for s in secrets
                ],
                headers=["kind", "where", "path/name", "layer", "deleted", "installed by"],
                tablefmt="simple",
            )
        )
    layer_rows = [
        (
            layer_number(layer["index"]),
            size(layer["size"]),
            size(layer["wasted_bytes"]) if layer["wasted_bytes"] else "",
            short(layer["created_by"]) or "(not recorded)",
        )
        for layer in doc["layers"]
    ]
    parts.append(
        f"layers ({len(layer_rows)}):\n"
        + tabulate(layer_rows, headers=["layer", "size", "wasted", "created by"], tablefmt="simple")
    )
    if fs["waste"]:
        waste_rows = [
            (
                size(w["bytes"]),
                w["files"],
                f"{layer_number(w['layer'])} → {layer_number(w['removed_in'])}",
                w["how"],
                short(w["examples"][0] if w["examples"] else "", 50),
            )
            for w in fs["waste"][:8]
        ]
        parts.append(
            "largest waste:\n"
            + tabulate(
                waste_rows, headers=["bytes", "files", "layers", "how", "e.g."], tablefmt="simple"
            )
        )
    parts.append(_runtime(doc.get("runtime") or {}))
    parts.append(_vulnerabilities(doc.get("vulnerabilities")))
    return "\n\n".join(p for p in parts if p)


def _vulnerabilities(section: dict[str, Any] | None) -> str:
    """How many known vulnerabilities, how reachable, against which database (or why none)."""
    if not isinstance(section, dict):
        return ""
    if section.get("status") != "matched":
        return f"vulnerabilities: {section.get('note') or section.get('status')}"
    database = section.get("database") or {}
    matches = section.get("matches") or []
    by: dict[str, int] = {}
    for match in matches:
        by[match.get("reachability") or "?"] = by.get(match.get("reachability") or "?", 0) + 1
    how = ", ".join(f"{n} {reach}" for reach, n in sorted(by.items()))
    day = (database.get("updated") or "?")[:10]
    text = (f"vulnerabilities: {len(matches)} known ({how or 'none'}), against the advisory "
            f"database updated {day} ({database.get('location')})")  # fmt: skip
    if section.get("missing"):
        text += f"; not matched (no advisories): {', '.join(section['missing'])}"
    return text


def _runtime(runtime: dict[str, Any]) -> str:
    static, life = runtime.get("static") or {}, runtime.get("lifecycle") or {}
    rows: list[tuple[str, str]] = []
    if static.get("status") == "ran":
        who = f"uid {static['uid']}, gid {static['gid']}"
        who += f" ({static['user_name']})" if static.get("user_name") else " (no passwd entry)"
        writable = [p for p, ok in (static.get("writable") or {}).items() if ok]
        problems = static.get("dependency_problems") or []
        rows += [
            ("python runs as", f"{who}, HOME {static.get('home')}, cwd {static.get('cwd')}"),
            ("python", f"{static.get('python_version')} at {static.get('executable')}"),
            ("faulthandler", "on" if static.get("faulthandler") else "off"),
            ("stdout", "write-through" if static.get("stdout_write_through") else "buffered"),
            ("writable", ", ".join(writable) or "(none of the checked dirs)"),
            ("dependencies", "; ".join(p["message"] for p in problems) or "consistent"),
        ]
        if static.get("imports"):
            rows.append(("imports", _imports(static["imports"])))
    else:
        rows.append(("static probe", _status(static)))
    if life.get("status") == "ran":
        app = next(
            (p for p in life.get("processes") or [] if p["pid"] == life.get("app_pid")), None
        )
        pid1 = f"{life.get('pid1_kind')}: {short(' '.join(life.get('pid1_cmdline') or []))}"
        ports = [f"{s['port']}/{s['protocol']}" for s in life.get("listening") or []]
        unknown = "(none)" if life.get("sockets_known") else "(unknown)"
        rows += [
            ("PID 1", pid1),
            ("app process", f"pid {app['pid']}, uid {app['uid']}, gid {app['gid']}" if app
                            else "(none found)"),
            ("processes", f"{len(life.get('processes') or [])}, zombies {life.get('zombies')}"),
            ("listening", ", ".join(ports) or unknown),
            ("written", f"{life.get('written_total')} paths, {life.get('pyc_written')} .pyc"),
            ("stop", f"{life.get('stop_signal')} → {life.get('stopped_by')} after "
                     f"{life.get('stop_seconds')}s, exit {life.get('exit_code')}"),
        ]  # fmt: skip
    else:
        rows.append(("lifecycle probe", _status(life)))
        if life.get("log_tail"):
            rows.append(("last log line", short(life["log_tail"][-1])))
    return "runtime:\n" + tabulate(rows, tablefmt="plain")


def _imports(found: dict[str, Any]) -> str:
    """The import smoke test in one line: what was imported, and how it ended."""
    head = f"{found.get('command')}: {found.get('verdict')}"
    if found.get("status") == "ok":
        return f"{head} ({len(found.get('imported') or [])} imported)"
    said = found.get("exception") or found.get("status")
    where = f" at {found['location']}" if found.get("location") else ""
    text = f"{head}, {said}: {found.get('message')}{where}"
    if found.get("found_elsewhere"):
        text += f"; installed in {', '.join(found['found_elsewhere'])}, off sys.path"
    return short(text, 160)


def _status(section: dict[str, Any]) -> str:
    text = section.get("status") or "?"
    detail = section.get("message") or section.get("reason")
    if section.get("exit_code") is not None:
        text += f" (exit {section['exit_code']})"
    return f"{text}: {detail}" if detail else text


def _user(config: dict[str, Any], user: dict[str, Any]) -> str:
    raw = config.get("user") or "(unset)"
    uid = user.get("resolved_uid")
    if uid is None:
        return f"{raw} → {user.get('error') or 'unresolved'}"
    return f"{raw} → uid {uid}, gid {user.get('resolved_gid')}"
