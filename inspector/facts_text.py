"""The readable summary of an image's facts (`inspector facts REF`), rendered from the JSON form."""

from __future__ import annotations

import json
from typing import Any

from tabulate import tabulate


def size(n: int | None) -> str:
    if n is None:
        return "?"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def short(text: str | None, width: int = 70) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


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
                        s.get("layer"),
                        "yes" if s.get("deleted") else "",
                    )
                    for s in secrets
                ],
                headers=["kind", "where", "path/name", "layer", "deleted"],
                tablefmt="simple",
            )
        )
    layer_rows = [
        (
            layer["index"],
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
                f"{w['layer']} → {w['removed_in']}",
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
    return "\n\n".join(parts)


def _user(config: dict[str, Any], user: dict[str, Any]) -> str:
    raw = config.get("user") or "(unset)"
    uid = user.get("resolved_uid")
    if uid is None:
        return f"{raw} → {user.get('error') or 'unresolved'}"
    return f"{raw} → uid {uid}, gid {user.get('resolved_gid')}"
