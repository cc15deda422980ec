"""Metadata checks: labels, age, how the image was referenced, and the OS release's support."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

from checks.access import config
from checks.model import Context, Facts, Found, Location, Skip, command
from checks.registry import check

OCI_REQUIRED = {
    "org.opencontainers.image.source": "the repository URL",
    "org.opencontainers.image.revision": "the commit it was built from",
    "org.opencontainers.image.version": "the release version",
}


@dataclass(frozen=True)
class Base:
    """Where the base image ends in the history: its steps are history[:steps], its layers
    layers[:layers]."""

    steps: int
    layers: int


def base_of(facts: Facts) -> Base | None:
    """The base image's part of the history, by the trivy heuristic; None when undecidable.

    A base image's history ends with its CMD (or ENTRYPOINT), which makes no layer; the last
    such step that a layer-making step follows is where the user's Dockerfile starts
    (`CMD ["python3"]` of python:3.12-slim, then `RUN pip install ...`). A base that sets no CMD
    (a debootstrap tarball, `FROM scratch`) leaves nothing to find.
    """
    history = facts.get("history") or []
    later_layer = False
    for index in range(len(history) - 1, -1, -1):
        entry = history[index]
        if not entry.get("empty_layer") and entry.get("layer") is not None:
            later_layer = True
            continue
        said = command(entry.get("created_by") or "")
        if later_layer and said.startswith(("CMD ", "CMD[", "ENTRYPOINT ", "ENTRYPOINT[")):
            layers = [h.get("layer") for h in history[:index] if h.get("layer") is not None]
            return Base(index + 1, max(layers) + 1 if layers else 0)
    return None


_REQUIRED_LABEL = re.compile(
    r"(org\.opencontainers\.image\.(?:source|revision|version))=(\"[^\"]*\"|'[^']*'|\S*)"
)


def base_labels(facts: Facts) -> dict[str, str] | None:
    """The required OCI labels the base image's LABEL steps set; None when the base is unknown."""
    base = base_of(facts)
    if base is None:
        return None
    found: dict[str, str] = {}
    for entry in (facts.get("history") or [])[: base.steps]:
        said = command(entry.get("created_by") or "")
        if said.startswith("LABEL "):
            for key, value in _REQUIRED_LABEL.findall(said):
                found[key] = value.strip("\"'")
    return found


@check(
    "META001",
    "oci-labels-missing",
    "The OCI labels for source, revision and version are missing",
    severity="low",
    category="metadata",
    needs=("config",),
    fix="Set org.opencontainers.image.source, .revision and .version at build time (`--label`).",
)
def oci_labels_missing(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    The config's labels for `org.opencontainers.image.source`, `org.opencontainers.image.revision`
    and `org.opencontainers.image.version`: missing or empty, or inherited from the base image.
    A label is inherited when a LABEL step of the base sets it to the value the image still has
    (ubuntu:24.04 sets `org.opencontainers.image.version=24.04`, which says nothing about your
    app); a `--label` or LABEL of your own with another value counts. Where the base ends is
    read from the history: the base's last CMD or ENTRYPOINT step that your layers follow (the
    heuristic trivy uses). When that cannot be decided (a base with no CMD, a squashed image),
    every label counts, as before: a label set the same in base and app cannot be told apart.

    ## Why it matters
    These standard keys are how a person, a scanner or a registry UI gets from a running image
    back to the code and commit it was built from: without them, triaging a vulnerability or an
    incident in production starts with guesswork
    (https://github.com/opencontainers/image-spec/blob/main/annotations.md). GitHub links a
    package to its repository with `org.opencontainers.image.source`, and Renovate and others
    read it for changelogs.

    ## Example
    ```dockerfile
    FROM python:3.12-slim
    COPY . /app            # no LABEL: which commit is this?
    ```

    ## Instead
    ```dockerfile
    ARG GIT_SHA VERSION
    LABEL org.opencontainers.image.source="https://github.com/acme/app" \\
          org.opencontainers.image.revision="${GIT_SHA}" \\
          org.opencontainers.image.version="${VERSION}"
    ```
    or let CI set them (`docker/metadata-action`, `docker build --label ...`).

    ## References
    - https://github.com/opencontainers/image-spec/blob/main/annotations.md
    - https://docs.github.com/en/packages/learn-github-packages/connecting-a-repository-to-a-package
    - https://github.com/docker/metadata-action
    - Practice: #37 Traceable images: version and commit labels, set by the build automation
      (Turner-Trauring's production checklist, https://pythonspeed.com/docker/)
    """
    labels = config(facts).get("labels") or {}
    missing = [key for key in OCI_REQUIRED if not str(labels.get(key) or "").strip()]
    if missing:
        said = ", ".join(f"{key} ({OCI_REQUIRED[key]})" for key in missing)
        yield Found(f"missing label(s): {said}", Location(config="Labels"))
    inherited = base_labels(facts) or {}
    from_base = [key for key in OCI_REQUIRED if key not in missing and key in inherited
                 and str(labels.get(key)).strip() == inherited[key]]  # fmt: skip
    if from_base:
        said = ", ".join(f"{key}={inherited[key]}" for key in from_base)
        yield Found(f"label(s) inherited from the base image, not about this image: {said}",
                    Location(config="Labels"))  # fmt: skip


# --- age ----------------------------------------------------------------------------------------


def parse_time(text: str | None) -> datetime | None:
    """RFC 3339 as builders write it (`Z`, nanoseconds), aware; None when it does not parse."""
    if not text:
        return None
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?",
                         text.strip())  # fmt: skip
    if not match:
        return None
    base, fraction, zone = match.groups()
    zone = "+00:00" if zone in (None, "Z") else zone
    stamp = f"{base}.{(fraction or '0')[:6].ljust(6, '0')}{zone}"
    try:
        return datetime.fromisoformat(stamp)
    except ValueError:
        return None


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _fixed_stamp(facts: Facts) -> datetime | None:
    """The one time a reproducible build stamps on the image and its steps, else None.

    `SOURCE_DATE_EPOCH` (BuildKit) sets the image's `created` and every step it built to the
    same instant, usually the last commit's time; real builds give each step its own time.
    """
    created = parse_time((facts.get("image") or {}).get("created"))
    if created is None:
        return None
    same = [h for h in facts.get("history") or []
            if h.get("layer") is not None and parse_time(h.get("created")) == created]  # fmt: skip
    return created if len(same) >= 2 else None


def _believable(moment: datetime | None, fixed: datetime | None) -> bool:
    return moment is not None and moment.year >= 2000 and moment != fixed


@check(
    "META002",
    "image-stale",
    "An image without an OS package database was built long ago",
    severity="medium",
    category="metadata",
    needs=("image",),
    wants=("history", "os_packages"),
    fix="Rebuild on a schedule with a fresh base (`docker build --pull --no-cache`) and redeploy.",
)
def image_stale(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    The image's build time against the clock, for images whose OS packages cannot be dated:
    no package database (scratch, some distroless images). Older than the `image_age_days`
    threshold (90 days) is medium, older than twice that is high. An image with a dpkg, apk or
    rpm database passes here: the age of its packages is SEC025's, which dates the layer that
    last updated them (a fresh image on a months-old cached `apt-get` layer is exactly the stale
    case, and the image's `created` time hides it), so one stale image gives one finding.

    Reproducible builds stamp a fixed time: the Unix epoch, or `SOURCE_DATE_EPOCH` (usually the
    last commit's time) on the image and on every step the build made. Neither is taken as a
    build date. A `SOURCE_DATE_EPOCH` stamp within the limit passes (the build cannot be older
    than its commit), an older one skips the check; after an epoch stamp the newest believable
    history step counts, and the check is skipped when there is none.

    ## Why it matters
    An image is a snapshot: the libraries and Python distributions in it get no security fixes
    until it is rebuilt. Build caching makes it worse, since a rebuild can reuse months-old
    layers (https://pythonspeed.com/articles/docker-cache-insecure-images/). CIS Docker
    Benchmark 4.4 asks for images to be rebuilt to pick up security patches.

    ## Example
    A distroless-style image with no package database, built in January and still deployed in
    June.

    ## Instead
    Rebuild weekly (or on every base image update) in CI with `docker build --pull`, and use
    `--no-cache` at least for the OS and dependency layers; redeploy what you rebuilt.

    ## References
    - https://pythonspeed.com/articles/docker-cache-insecure-images/
    - https://pythonspeed.com/articles/disabling-docker-caching/
    - https://docs.docker.com/build/building/best-practices/#rebuild-your-images-often
    - https://reproducible-builds.org/docs/source-date-epoch/
    - Practice: #7 Build caching freezes old packages: rebuild without the cache on a schedule,
      and redeploy: "Avoiding insecure images from Docker build caching",
      https://pythonspeed.com/articles/docker-cache-insecure-images/
    """
    if (facts.get("os_packages") or {}).get("database_writes"):
        return  # the packages can be dated: SEC025 judges them
    limit = ctx.thresholds.image_age_days
    fixed = _fixed_stamp(facts)
    if fixed is not None:
        # The build ran at or after the stamp (a commit's time): a recent stamp proves enough.
        if (aware(ctx.now) - aware(fixed)).days <= limit:
            return
        raise Skip("the image and its steps carry one fixed stamp (SOURCE_DATE_EPOCH), not "
                   "the time it was built")  # fmt: skip
    created = parse_time((facts.get("image") or {}).get("created"))
    if _believable(created, fixed):
        when, source = created, "the image was built"
    else:
        stamps = [parse_time(h.get("created")) for h in facts.get("history") or []]
        believable = [s for s in stamps if _believable(s, fixed)]
        if not believable:
            raise Skip("the image records no believable build time (none, or a fixed epoch)")
        when, source = max(believable), "the newest history step ran"
    days = (aware(ctx.now) - aware(when)).days
    if days > limit:
        yield Found(
            f"{source} {days} days ago ({when.date().isoformat()}), over the {limit}-day limit",
            Location(),
            severity="high" if days > 2 * limit else None,
        )


# --- the reference ------------------------------------------------------------------------------

ARCHIVES = ("docker-archive:", "oci-archive:", "oci:")


def tag_of(reference: str) -> str | None:
    """The tag in a name reference (`repo:tag`), "" when there is none, None for digests/IDs."""
    if "@" in reference or reference.startswith(ARCHIVES):
        return None
    if re.fullmatch(r"(sha256:)?[0-9a-f]{12,64}", reference):
        return None
    last = reference.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else ""


def reference_notice(reference: str, image_id: str | None,
                     digest: str | None = None) -> str | None:  # fmt: skip
    """What to tell the reader when the audit named the image by `latest` or by no tag.

    It is about how the audit was invoked, not about the image, so it is a notice beside the
    findings, never a finding (it was the check META003): CI audits `myapp:latest` before
    tagging on purpose. dockle reports the same as DKL-DI-0006. `latest` moves with every push,
    so what was audited and what a deployment of that name runs tomorrow can differ; the notice
    names what to deploy: the manifest digest (a registry image: `HOST/REPO@sha256:...`) or
    the repository digest the engine recorded (a local image that was pushed or pulled), which
    a registry serves; the image (config) ID only when there is neither, as no registry pulls
    by it. Pinning the *base* image, which Turner-Trauring asks for, is another matter.
    """
    tag = tag_of(reference)
    if tag is None or tag not in ("", "latest"):
        return None
    why = "the `latest` tag" if tag else "no tag (Docker reads it as `latest`)"
    said = f"{reference} names the image by {why}, which moves with every push: "
    if digest:
        pinned = digest if "@" in digest else f"the manifest digest {digest}"
        return f"{said}what was audited is {pinned}; deploy that digest or a version tag"
    return (f"{said}what was audited is image ID {image_id or 'unknown'}, which no registry "
            "serves (the engine knows no repository digest for it: it was never pushed or "
            "pulled); push it and deploy the digest the registry gives it, or a version "
            "tag")  # fmt: skip


# --- end of life --------------------------------------------------------------------------------

# When each release's support ends: Debian LTS (https://wiki.debian.org/LTS), Ubuntu standard
# support (https://ubuntu.com/about/release-cycle), Alpine (https://alpinelinux.org/releases/).
END_OF_LIFE: dict[str, dict[str, date]] = {
    "debian": {
        "8": date(2020, 6, 30),
        "9": date(2022, 6, 30),
        "10": date(2024, 6, 30),
        "11": date(2026, 8, 31),
        "12": date(2028, 6, 30),
        "13": date(2030, 6, 30),
    },
    "ubuntu": {
        "16.04": date(2021, 4, 30),
        "18.04": date(2023, 5, 31),
        "20.04": date(2025, 5, 31),
        "22.04": date(2027, 6, 1),
        "24.04": date(2029, 5, 31),
    },
    "alpine": {
        "3.14": date(2023, 5, 1),
        "3.15": date(2023, 11, 1),
        "3.16": date(2024, 5, 23),
        "3.17": date(2024, 11, 22),
        "3.18": date(2025, 5, 9),
        "3.19": date(2025, 11, 1),
        "3.20": date(2026, 4, 1),
        "3.21": date(2026, 11, 1),
        "3.22": date(2027, 5, 1),
    },
}
NAMES = {"debian": "Debian", "ubuntu": "Ubuntu", "alpine": "Alpine"}


def release(facts: Facts) -> tuple[str, str] | None:
    """The distribution and the release key the table uses ("12", "22.04", "3.19")."""
    os_ = facts.get("os") or {}
    distro = (os_.get("id") or "").lower()
    version = os_.get("version_id") or ""
    if not distro and os_.get("alpine_release"):
        distro, version = "alpine", os_["alpine_release"]
    if distro == "debian" and not version:
        version = os_.get("debian_version") or ""  # "12.5"; "trixie/sid" is not a release
    if distro not in END_OF_LIFE:
        return None
    parts = re.findall(r"\d+", version)
    if not parts:
        return None
    if distro == "debian":
        return distro, parts[0]
    if len(parts) < 2:
        return None
    return distro, f"{parts[0]}.{parts[1]:0>2}" if distro == "ubuntu" else f"{parts[0]}.{parts[1]}"


def numeric(key: str) -> tuple[tuple[int, str], ...]:
    """A release's order, part by part, without int(): os-release is image text, and a part of
    thousands of digits made int() raise (more significant digits is larger, else as text)."""
    return tuple((len(p.lstrip("0")), p.lstrip("0")) for p in key.split("."))


@check(
    "META004",
    "os-end-of-life",
    "The OS release in the image is past its end of life",
    severity="high",
    category="metadata",
    needs=("os",),
    fix="Rebase on a supported release (e.g. python:3.12-slim-bookworm or -trixie, Ubuntu 24.04).",
)
def os_end_of_life(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    The distribution release (`os.id` and `os.version_id`, else `/etc/alpine-release` or
    `/etc/debian_version`) against an offline table of end-of-life dates: Debian's LTS end, Ubuntu's
    end of standard support, Alpine's end of support. Past the date is high; within 180 days of it
    is low. A release older than every one in the table is past its end too; a newer or unknown
    one is skipped (no date known), as are images without an os-release (scratch, distroless
    without one).

    - Debian (LTS end): 9 stretch 2022-06-30, 10 buster 2024-06-30, 11 bullseye 2026-08-31,
      12 bookworm 2028-06-30, 13 trixie 2030-06-30.
    - Ubuntu (end of standard support): 18.04 2023-05-31, 20.04 2025-05-31, 22.04 2027-06-01,
      24.04 2029-05-31; interim releases are META005's (short-support distributions).
    - Alpine: 3.17 2024-11-22, 3.18 2025-05-09, 3.19 2025-11-01, 3.20 2026-04-01,
      3.21 2026-11-01, 3.22 2027-05-01.

    ## Why it matters
    After its end of life a release gets no security updates: every new CVE in its OpenSSL,
    glibc or zlib stays open in the image for good, and scanners report an ever-growing list
    (https://pythonspeed.com/articles/base-image-python-docker-images/). Ubuntu's Expanded
    Security Maintenance and Debian's ELTS extend support only for paying subscribers.

    ## Example
    ```dockerfile
    FROM python:3.9-slim-buster     # Debian 10: LTS ended 2024-06-30
    ```

    ## Instead
    ```dockerfile
    FROM python:3.12-slim-bookworm  # Debian 12: LTS until 2028-06-30
    ```

    ## References
    - https://wiki.debian.org/LTS
    - https://ubuntu.com/about/release-cycle
    - https://alpinelinux.org/releases/
    - https://endoflife.date/
    - Practice: #9 The base image must get timely security updates (its OS not end-of-life): "The
      best Docker base image for your Python application",
      https://pythonspeed.com/articles/base-image-python-docker-images/
    """
    found = release(facts)
    if found is None:
        os_ = facts.get("os") or {}
        if not os_.get("id"):
            raise Skip("the image names no OS release (no /etc/os-release)")
        said = f"{os_['id']} {os_.get('version_id') or '(no version)'}"
        raise Skip(f"no end-of-life dates known for {said}")
    distro, version = found
    table = END_OF_LIFE[distro]
    name = f"{NAMES[distro]} {version}"
    today = ctx.now.date()
    where = Location(path=(facts.get("os") or {}).get("os_release_path") or "/etc/os-release")
    end = table.get(version)
    if end is None:
        oldest = min(table, key=numeric)
        if numeric(version) < numeric(oldest):
            yield Found(f"{name} is older than {NAMES[distro]} {oldest}, whose support ended "
                        f"{table[oldest].isoformat()}", where)  # fmt: skip
            return
        raise Skip(f"no end-of-life date known for {name}")
    if end < today:
        yield Found(f"{name} reached its end of life on {end.isoformat()}: no security updates "
                    f"since", where)  # fmt: skip
    elif (end - today).days <= 180:
        yield Found(f"{name} reaches its end of life on {end.isoformat()} "
                    f"({(end - today).days} days left)", where, severity="low")  # fmt: skip
