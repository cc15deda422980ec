"""Security checks: who the app runs as, secrets, privilege, writable code."""

from __future__ import annotations

from collections.abc import Iterator

from checks.access import app_process, config, lifecycle
from checks.model import Context, Facts, Found, Location
from checks.registry import check


@check(
    "SEC001",
    "runs-as-root",
    "The application runs as root",
    severity="high",
    category="security",
    needs=("config", "user"),
    wants=("runtime.lifecycle",),
    fix="Create a user and end the image with `USER 10001:10001` (numeric, non-zero).",
    dockle=("CIS-DI-0001",),
)
def runs_as_root(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    The UID the application process really runs with. When the lifecycle probe ran, that is the
    app process it saw (an entrypoint may start as root and drop to a user with gosu or setpriv,
    which is fine). Otherwise it is the config `User` resolved through the image's own
    `/etc/passwd`: empty, `0`, `0:0`, `root`, `root:root`, or any name whose UID is 0.

    ## Why it matters
    A compromise of the app is then a compromise of root in the container, which makes escapes,
    host-mount abuse and tampering with the image's own files far easier. Itamar
    Turner-Trauring's production checklist puts it first; CIS Docker Benchmark 4.1 and OWASP's
    Docker cheat sheet (rule 2) say the same.

    ## Example
    ```dockerfile
    FROM python:3.12-slim
    COPY . /app
    CMD ["python", "-m", "app"]   # no USER: runs as root
    ```

    ## Instead
    ```dockerfile
    RUN useradd --system --uid 10001 --no-create-home app
    USER 10001:10001
    ```

    ## References
    - https://pythonspeed.com/articles/root-capabilities-docker-security/
    - https://cheatsheetseries.owasp.org/cheatsheets/Docker_Security_Cheat_Sheet.html
    - https://docs.docker.com/reference/dockerfile/#user
    """
    process = app_process(facts)
    if process is not None:
        if process.get("uid") == 0:
            name = " ".join(process.get("cmdline") or []) or process.get("name")
            yield Found(
                f"the app process (pid {process.get('pid')}: {name}) runs with UID 0",
                Location(config="User", runtime="lifecycle probe"),
            )
        return
    user = facts.get("user") or {}
    uid = user.get("resolved_uid")
    if uid == 0:
        raw = config(facts).get("user") or ""
        said = f"USER {raw!r}" if raw else "no USER"
        life = lifecycle(facts)
        how = "" if life else " (the lifecycle probe did not run to confirm it)"
        yield Found(f"{said} resolves to UID 0{how}", Location(config="User"))
