"""Size checks: package-manager caches, bytes shipped in vain, upgrades baked into layers."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from checks.access import MiB, at_layer, size, step
from checks.metadata import base_of
from checks.model import Context, Facts, Found, Location, command, layer_name, shorten
from checks.registry import check

OS_CACHES = {
    "apt_lists": "apt package lists (/var/lib/apt/lists)",
    "apt_archives": "apt's downloaded .debs and package caches (/var/cache/apt)",
    "apk": "apk's cache (/var/cache/apk)",
    "dnf": "dnf/yum's cache (/var/cache/dnf, /var/cache/yum)",
}
# What removes each OS cache, in the RUN that writes it: the fix names the cache that is there.
OS_CACHE_CLEANUP = {
    "apt_lists": "`rm -rf /var/lib/apt/lists/*`",
    "apt_archives": "`apt-get clean` (it empties /var/cache/apt: the .debs and the *.bin caches)",
    "apk": "nothing: use `apk add --no-cache` instead of `apk add` (or `rm -rf /var/cache/apk/*`)",
    "dnf": "`dnf clean all` (yum: `yum clean all`)",
}
PYTHON_CACHES = {
    "pip": "pip's cache",
    "uv": "uv's cache",
    "poetry": "Poetry's cache",
    "pipenv": "Pipenv's cache",
    "pdm": "PDM's cache",
}


def cache_findings(facts: Facts, ctx: Context, kinds: dict[str, str], medium_over: int,
                   cleanup: dict[str, str] | None = None) -> Iterator[Found]:  # fmt: skip
    """One finding per cache kind and layer that wrote it (that step is the cause), whether a
    later layer deleted the files or not; caches under the size floor are not reported.

    A finding over `medium_over` bytes is medium, a smaller one low: each by its own bytes, not
    by what other layers wrote. With `cleanup` (what removes each kind), the fix names that cache
    and the step that wrote it.
    """
    caches = facts.get("caches") or {}
    for kind, label in kinds.items():
        cache = caches.get(kind) or {}
        by_layer: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        for entry in cache.get("layers") or []:
            if entry.get("bytes_added"):
                by_layer[entry.get("layer")].append(entry)
        for layer, entries in by_layer.items():
            added = sum(e.get("bytes_added") or 0 for e in entries)
            if added < ctx.thresholds.size_floor:
                continue
            files = sum(e.get("files") or 0 for e in entries)
            where = at_layer(facts, layer, path=", ".join(cache.get("paths") or []) or None)
            message = f"{label}: {size(added)} in {files} file(s) written by {layer_name(layer)}"
            deleted = [e for e in entries if e.get("deleted_in") is not None]
            for entry in deleted:
                removed = entry["deleted_in"]
                by = entry.get("deleted_by") or step(facts, removed)
                part = (" and" if len(entries) == 1
                        else f"; {size(entry.get('bytes_added') or 0)} of it")  # fmt: skip
                message += f"{part} deleted in {layer_name(removed)}" + (
                    f" ({by.strip()})" if by else "")  # fmt: skip
            if deleted:
                message += f": invisible, yet still shipped in {layer_name(layer)}"
            fix = _cleanup_fix(facts, kind, layer, cleanup[kind]) if cleanup else None
            yield Found(message, where, severity="medium" if added > medium_over else "low",
                        fix=fix)  # fmt: skip


def _cleanup_fix(facts: Facts, kind: str, layer: int | None, how: str) -> str:
    """The fix for one cache in one layer: what removes it, at the end of the step writing it."""
    wrote = step(facts, layer)
    where = (f"{layer_name(layer)}'s step (`{shorten(command(wrote), 50)}`)" if wrote
             else layer_name(layer))  # fmt: skip
    if kind == "apk":
        return f"In {where}: {how}."
    fix = f"End {where} with {how}, in the same RUN: a later RUN only hides the files."
    if kind == "apt_archives" and "/var/lib/apt/lists" in (wrote or ""):
        fix += " It already removes /var/lib/apt/lists; these bytes are in /var/cache/apt."
    return fix


@check(
    "SIZE001",
    "os-package-cache",
    "apt, apk or dnf caches are shipped in the image",
    severity="low",
    category="size",
    needs=("caches",),
    fix="Clean in the same RUN that installs: `apt-get clean && rm -rf /var/lib/apt/lists/*`; "
    "`apk add --no-cache`; `dnf clean all`.",
    dockle=("DKL-DI-0005", "DKL-DI-0004"),
)
def os_package_cache(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    The bytes of OS package-manager caches in every layer: apt's package lists
    (`/var/lib/apt/lists`), downloaded `.deb`s and `*.bin` caches (`/var/cache/apt`), apk's cache
    and dnf/yum's caches. Files a container still sees, and files a *later* layer deleted, which
    are invisible but still shipped in the layer that wrote them, are both reported, with the
    layer and the history step that wrote them (and the one that deleted them). Over 10 MiB in
    one kind of cache is medium, less is low. Each finding's fix names what removes *that*
    cache in the step that wrote it: `rm -rf /var/lib/apt/lists/*` for the lists, `apt-get
    clean` for `/var/cache/apt` (a step that already removes the lists still ships these),
    `apk add --no-cache`, `dnf clean all`.

    dockle's DKL-DI-0005 and DKL-DI-0004 look at the history text instead (`apt-get install`
    without `rm -rf /var/lib/apt/lists` in the same step, `apk add` without `--no-cache`), which
    flags steps that clean up in another way and misses caches written any other way; the bytes
    in the layers are what matters.

    ## Why it matters
    apt lists alone are tens of MB per mirror (measured on bookworm: 80 MB of lists and 91 MB of
    cached .debs for a few packages), pulled on every deploy and serving no purpose at run time.
    Docker's best practices: "clean up the apt cache by removing /var/lib/apt/lists" in the same
    RUN, because a later RUN only hides the files
    (https://docs.docker.com/build/building/best-practices/#apt-get).

    ## Example
    ```dockerfile
    RUN apt-get update && apt-get install -y libpq5
    RUN rm -rf /var/lib/apt/lists/*     # too late: the lists ship in the layer above
    ```

    ## Instead
    ```dockerfile
    RUN apt-get update \\
     && apt-get install -y --no-install-recommends libpq5 \\
     && apt-get clean && rm -rf /var/lib/apt/lists/*
    # Alpine:  RUN apk add --no-cache libpq
    ```

    ## References
    - https://docs.docker.com/build/building/best-practices/#apt-get
    - https://github.com/goodwithtech/dockle/blob/master/CHECKPOINT.md#dkl-di-0005
    - https://github.com/goodwithtech/dockle/blob/master/CHECKPOINT.md#dkl-di-0004
    - https://github.com/hadolint/hadolint/wiki/DL3009
    - Practice: #40 Clean apt lists and caches in the same RUN: "Installing system packages in
      Docker with minimal bloat", https://pythonspeed.com/articles/system-packages-docker/
    """
    yield from cache_findings(facts, ctx, OS_CACHES, medium_over=10 * MiB,
                              cleanup=OS_CACHE_CLEANUP)  # fmt: skip


@check(
    "SIZE002",
    "python-package-cache",
    "pip, uv, Poetry, Pipenv or PDM caches are shipped in the image",
    severity="medium",
    category="size",
    needs=("caches",),
    fix="`pip install --no-cache-dir` (uv: `UV_NO_CACHE=1`), or a BuildKit cache mount.",
)
def python_package_cache(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    The bytes of Python package-manager caches in every layer: pip (`~/.cache/pip` of any home,
    `PIP_CACHE_DIR`), uv, Poetry, Pipenv and PDM. Files still visible, and files a later layer
    deleted (invisible, still shipped in the layer that wrote them), each with the layer and the
    history step that wrote them. One finding per cache and layer that wrote it; over 1 MiB
    from one layer is medium, less is low (only seen when the `size-floor` threshold, 1 MiB,
    is lowered: under it nothing is reported). The bytes a later layer deleted are this
    check's to report: SIZE003 leaves them out of its own count.

    ## Why it matters
    pip keeps every downloaded wheel and HTTP response in its cache; in an image that is pure
    weight, often as large as the packages themselves, and deleting it in a later RUN saves
    nothing because layers are append-only
    (https://pip.pypa.io/en/stable/topics/caching/;
    https://pythonspeed.com/articles/smaller-python-docker-images/). hadolint DL3042 asks for
    `--no-cache-dir`.

    ## Example
    ```dockerfile
    RUN pip install -r requirements.txt
    RUN rm -rf /root/.cache/pip          # hides the cache, ships it anyway
    ```

    ## Instead
    ```dockerfile
    RUN pip install --no-cache-dir -r requirements.txt
    # or keep the speed without the bytes:
    RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt
    ```

    ## References
    - https://pip.pypa.io/en/stable/topics/caching/
    - https://pythonspeed.com/articles/docker-cache-pip-downloads/
    - https://github.com/hadolint/hadolint/wiki/DL3042
    - https://docs.astral.sh/uv/guides/integration/docker/#caching
    - Practice: #39 Disable the pip cache (`--no-cache-dir`): Turner-Trauring's EuroPython 2020 talk
      "Best practices for production-ready Docker packaging", https://av.tib.eu/media/49984
    """
    yield from cache_findings(facts, ctx, PYTHON_CACHES, medium_over=MiB)


# --- wasted bytes -------------------------------------------------------------------------------


def base_layer_count(facts: Facts) -> int:
    """How many bottom layers are the base image's: from the history when it tells, else 1."""
    base = base_of(facts)
    return max(base.layers, 1) if base is not None else 1


def user_wasted_bytes(facts: Facts) -> int:
    """Wasted bytes the user's layers (those above the base) caused: what they wrote and a later
    layer hid, plus base files they deleted or replaced. Waste that both starts and ends inside
    the base is the base's own and not counted."""
    base = base_layer_count(facts)
    layers = facts.get("layers") or []
    written = sum(layer.get("wasted_bytes") or 0 for layer in layers[base:])
    # fs.waste groups are the largest 50: enough for the base files a user step removes.
    groups = (facts.get("fs") or {}).get("waste") or []
    removed = sum(g.get("bytes") or 0 for g in groups
                  if (g.get("layer") or 0) < base <= (g.get("removed_in") or 0))  # fmt: skip
    return written + removed


# The checks that report hidden bytes of their own kind, with the fix that kind needs.
WASTE_OWNERS = {"os_caches": "SIZE001", "python_caches": "SIZE002", "leftovers": "SIZE021",
                "chown": "SIZE022", "conda": "SIZE032"}  # fmt: skip


def owned_waste(facts: Facts) -> list[tuple[str, int | None, int | None, int]]:
    """(owner, layer that wrote, layer that hid, bytes) for the hidden bytes a more specific
    check reports: deleted caches, deleted leftovers, copies a chown re-added, conda's deleted
    package cache. SIZE003 counts only the rest, so one cause is one finding."""
    out: list[tuple[str, int | None, int | None, int]] = []
    for kind, cache in (facts.get("caches") or {}).items():
        owner = "os_caches" if kind in OS_CACHES else "python_caches"
        for entry in (cache or {}).get("layers") or []:
            if entry.get("deleted_in") is not None:
                out.append((owner, entry.get("layer"), entry["deleted_in"],
                            entry.get("bytes_added") or 0))  # fmt: skip
    files = facts.get("files") or {}
    for item in (files.get("leftovers") or {}).get("items") or []:
        if item.get("deleted_in") is not None:
            out.append(("leftovers", item.get("layer"), item["deleted_in"], item.get("size") or 0))
    for group in files.get("chown_duplicates") or []:
        out.append(("chown", group.get("layer"), group.get("readded_in"), group.get("bytes") or 0))
    for root in files.get("conda") or []:
        if root.get("deleted_bytes"):
            out.append(("conda", root.get("layer"), None, root["deleted_bytes"]))
    return out


def unexplained_waste(facts: Facts) -> tuple[int, dict[str, int], list[dict[str, Any]]]:
    """(the user's wasted bytes no more specific check reports, those it does by owner, the
    waste groups with the owned bytes taken out, largest first)."""
    base = base_layer_count(facts)
    owned_by: dict[str, int] = defaultdict(int)
    per_pair: dict[tuple[Any, Any], int] = defaultdict(int)
    for owner, layer, removed, nbytes in owned_waste(facts):
        # Only what the user's layers hid counts against them (as in user_wasted_bytes).
        if (removed is not None and removed < base) or (removed is None and (layer or 0) < base):
            continue
        owned_by[owner] += nbytes
        per_pair[(layer, removed)] += nbytes
    rest = []
    for group in (facts.get("fs") or {}).get("waste") or []:
        if (group.get("removed_in") or 0) < base:
            continue
        pair = (group.get("layer"), group.get("removed_in"))
        taken = min(per_pair[pair], group.get("bytes") or 0)
        per_pair[pair] -= taken
        left = (group.get("bytes") or 0) - taken
        if left > 0:
            rest.append({**group, "bytes": left})
    rest.sort(key=lambda g: -g["bytes"])
    wasted = max(0, user_wasted_bytes(facts) - sum(owned_by.values()))
    return wasted, dict(owned_by), rest


@check(
    "SIZE003",
    "wasted-bytes",
    "The image ships many bytes that later layers deleted or replaced",
    severity="medium",
    category="size",
    needs=("fs", "layers"),
    fix="Create and delete files in the same RUN, or build in one stage and COPY the result.",
)
def wasted_bytes(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    The file versions no container sees but every pull downloads (a later layer deleted or
    replaced them), counting only the waste your layers cause: bytes written by a layer above
    the base image and hidden later, and base files your steps delete or replace. Waste made and
    hidden inside a multi-layer base (python:slim, CUDA and conda bases have several layers) is
    not yours to fix and is left out. The base ends at its last CMD or ENTRYPOINT step that
    your layers follow in the history (the heuristic trivy uses); when the history does not
    tell, only layer 0 is the base. Three limits, any of which fails the check:

    - the user's wasted bytes over the `wasted_bytes` threshold (20 MiB);
    - efficiency, `visible / (visible + user wasted)` bytes, under the `efficiency` threshold
      (0.9, dive's `lowestEfficiency` default);
    - the user wasted share over `user_wasted_percent` (0.1, dive's `highestUserWastedPercent`
      default): the user's wasted bytes divided by all bytes the image ships (visible +
      wasted). dive divides all wasted bytes, with every copy of a duplicated path counted, by
      the size of the layers above layer 0
      (https://github.com/wagoodman/dive#ci-integration), so its figures run higher.

    Hidden bytes that a more specific check reports, with the fix their kind needs, are not
    counted here, so one cause gives one finding: caches a later layer deleted (SIZE001,
    SIZE002), deleted wheels, sdists and installers (SIZE021), copies a `chown -R` or
    `chmod -R` re-added (SIZE022) and conda's deleted package cache (SIZE032). What is left
    must also pass the `size-floor` threshold (1 MiB). The one finding names the largest
    remaining waste groups: the layer and step that wrote the files, the layer and step that
    hid them, and example paths, and how many bytes the other checks report.

    ## Why it matters
    "Docker images are append-only": deleting or overwriting a file in a later layer hides it,
    but its bytes stay in the layer that wrote it, are stored, pushed and pulled on every deploy
    (https://pythonspeed.com/articles/smaller-python-docker-images/). Typical causes are a
    cleanup in its own RUN, build tools removed after use, and files a later step overwrites.

    ## Example
    ```dockerfile
    RUN apt-get update && apt-get install -y build-essential && pip install -r requirements.txt
    RUN apt-get purge -y build-essential   # the compiler still ships in the layer above
    ```

    ## Instead
    ```dockerfile
    FROM python:3.12-slim AS build
    RUN apt-get update && apt-get install -y build-essential \\
     && pip wheel --wheel-dir /wheels -r requirements.txt
    FROM python:3.12-slim
    COPY --from=build /wheels /wheels
    ```

    ## References
    - https://github.com/wagoodman/dive#ci-integration
    - https://pythonspeed.com/articles/smaller-python-docker-images/
    - https://docs.docker.com/build/building/multi-stage/
    - Practice: #41 Layers are append-only: deleting in a later layer doesn't shrink the image:
      Turner-Trauring's article on smaller images,
      https://pythonspeed.com/articles/smaller-python-docker-images/
    """
    fs = facts.get("fs") or {}
    limits = ctx.thresholds
    base = base_layer_count(facts)
    wasted, owned, groups = unexplained_waste(facts)
    if wasted < limits.size_floor:
        return
    visible = fs.get("visible_bytes") or 0
    efficiency = visible / (visible + wasted) if visible + wasted else None
    total = visible + (fs.get("wasted_bytes") or 0)
    user = wasted / total if total else 0.0
    crossed = []
    if wasted > limits.wasted_bytes:
        crossed.append(f"over the {size(limits.wasted_bytes)} limit")
    if efficiency is not None and efficiency < limits.efficiency:
        crossed.append(f"efficiency {efficiency:.2f} < {limits.efficiency}")
    if user > limits.user_wasted_percent:
        crossed.append(f"{user:.0%} of the image wasted by layers above the base "
                       f"(limit {limits.user_wasted_percent:.0%})")  # fmt: skip
    if not crossed:
        return
    parts = [f"{size(wasted)} shipped but invisible ({'; '.join(crossed)})"]
    # The largest groups, trivia left out (a rewritten /etc/passwd is 3 KiB of every image).
    for group in [g for g in groups if g["bytes"] >= limits.size_floor][:3]:
        layer, removed = group.get("layer"), group.get("removed_in")
        examples = ", ".join((group.get("examples") or [])[:3])
        wrote, by = group.get("created_by"), (group.get("removed_by") or "").strip()
        parts.append(
            f"{size(group['bytes'])} in {layer_name(layer)}"
            + (f" ({_short_step(wrote)})" if wrote else "")
            + f", {group.get('how')} in {layer_name(removed)}"
            + (f" ({_short_step(by)})" if by else "")
            + (f", e.g. {examples}" if examples else "")
        )
    others = ", ".join(f"{size(n)} by {WASTE_OWNERS[o]}" for o, n in sorted(owned.items()) if n)
    if others:
        parts.append(f"not counted here, reported on their own: {others}")
    in_base = max(0, (fs.get("wasted_bytes") or 0) - user_wasted_bytes(facts))
    if in_base:
        parts.append(f"{size(in_base)} more inside the base's {base} layer(s), not counted")
    # One finding for the image: the groups are listed, and which are largest changes with a
    # rebuild, so the identity is the check's subject, not the list.
    yield Found("; ".join(parts), Location(), identity="wasted bytes above the base")


def _short_step(created_by: str) -> str:
    return shorten(command(created_by), 70)


# --- upgrades in the build ----------------------------------------------------------------------

# Only the verbs that may remove or add packages: a plain `upgrade` is the recommended practice.
UPGRADE = re.compile(r"\b(?:apt-get|apt|aptitude)\s+(?:-\S+\s+)*(dist-upgrade|full-upgrade)\b")


@check(
    "SIZE004",
    "os-upgrade-in-build",
    "The build runs `apt-get dist-upgrade`, which may add or remove the base's packages",
    severity="info",
    category="size",
    needs=("history",),
    fix="Use `apt-get upgrade -y` (security updates without removals) in the same RUN as the "
    "install and the cleanup.",
    dockle=("DKL-DI-0003",),
)
def os_upgrade_in_build(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    The history steps for `apt-get`/`apt`/`aptitude` `dist-upgrade` or `full-upgrade`: a
    note to review (info), never a gate failure. A plain `upgrade` is not reported at all: it is
    what Turner-Trauring recommends.

    ## Why it matters
    Installing OS security updates in the build is right: base images such as `python:*-slim`
    lag Debian's security fixes, and the advice to avoid `apt-get upgrade` is "the worst
    so-called best practice for Docker"
    (https://pythonspeed.com/articles/security-updates-in-docker/); Docker's own docs and
    hadolint dropped it. This check used to flag `upgrade` too and now does not. What remains
    is that `dist-upgrade` and `full-upgrade` may also remove packages or install new ones to
    resolve dependencies, so the image no longer has the package set of the base it names;
    on a stable release `upgrade` applies the same security fixes. dockle keeps this as
    DKL-DI-0003 (https://github.com/goodwithtech/dockle/blob/master/CHECKPOINT.md#dkl-di-0003).
    Whether updates are applied at all is judged from the age of the package database layer,
    not here.

    ## Example
    ```dockerfile
    FROM python:3.12-slim
    RUN apt-get update && apt-get dist-upgrade -y
    ```

    ## Instead
    ```dockerfile
    FROM python:3.12-slim
    RUN apt-get update && apt-get -y upgrade \\
     && apt-get install -y --no-install-recommends libpq5 \\
     && rm -rf /var/lib/apt/lists/*
    ```

    ## References
    - https://pythonspeed.com/articles/security-updates-in-docker/
    - https://pythonspeed.com/articles/system-packages-docker/
    - https://github.com/goodwithtech/dockle/blob/master/CHECKPOINT.md#dkl-di-0003
    - Practice: #6 Install OS security updates during the build (`apt-get upgrade`): "The worst
      so-called best practice for Docker", https://pythonspeed.com/articles/security-updates-in-docker/
    """
    for entry in facts.get("history") or []:
        match = UPGRADE.search(entry.get("created_by") or "")
        if match:
            where = Location(layer=entry.get("layer"), created_by=entry.get("created_by"))
            yield Found(f"a build step runs `{match.group(0)}`", where)
