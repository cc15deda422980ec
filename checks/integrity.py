"""Integrity of the audit itself: an image whose own code imitates or alters the static probe."""

from __future__ import annotations

from collections.abc import Iterator

from checks.access import probe_missing
from checks.model import Context, Facts, Found, Location, Skip
from checks.registry import check


@check(
    "SEC024",
    "probe-tampering",
    "Code in the image imitates or alters inspector's static probe",
    severity="high",
    category="security",
    needs=("user",),
    wants=("runtime.static",),
    fix="Remove the code that runs at every interpreter start and prints or patches what the "
    "probe reads (sitecustomize, usercustomize, .pth files with `import` lines), then re-audit.",
)
def probe_tampering(facts: Facts, ctx: Context) -> Iterator[Found]:
    """
    ## What it checks
    The static probe runs inspector's script in the image's own Python, so code of the image
    that runs at every interpreter start (sitecustomize, usercustomize, `import` lines in .pth
    files) runs first. The probe makes forging hard: its report carries a nonce made for the
    run, the interpreter exits right after printing it (no atexit hook can add a line), and the
    report is held to its types. This check reports what still shows tampering:
    `runtime.static.tampering` (a look-alike report line without the nonce, the report printed
    twice), and a report whose user ID contradicts the image's USER as read from its layers.

    ## Why it matters
    A production image has no reason to recognise an audit and answer it differently; one that
    does is hiding something (a supply-chain compromise, or a build that games the gate). The
    static probe's facts (user, faulthandler, buffering, writable paths, dependencies) cannot be
    trusted for such an image, and checks built on them may pass it wrongly. Startup hooks in
    .pth files are a known malware technique on PyPI
    (https://attack.mitre.org/techniques/T1546/018/).

    ## Example
    ```text
    # /usr/local/lib/python3.12/site-packages/zz.pth: every interpreter claims to be non-root
    import os; os.getuid = lambda: 10001
    ```

    ## Instead
    No startup hooks that patch the standard library or print look-alike output. Configure
    the app in its own code; set the user with `USER 10001:10001`.

    ## References
    - https://docs.python.org/3/library/site.html
    - https://attack.mitre.org/techniques/T1546/018/
    - Practice: none of Turner-Trauring's; it guards the audit's own static probe; startup hooks are
      MITRE ATT&CK T1546.018
    """
    static = (facts.get("runtime") or {}).get("static") or {}
    status = static.get("status") or "missing"
    if status not in ("ran", "failed"):
        why = static.get("reason") or "it did not run"
        raise Skip(probe_missing("the static probe", status, why))
    where = Location(runtime="static probe: report", config="User")
    for sign in static.get("tampering") or ():
        yield Found(f"the static probe's output shows tampering: {sign}", where, subject=sign)
    user = facts.get("user") or {}
    expected, reported = user.get("resolved_uid"), static.get("uid")
    if status == "ran" and None not in (expected, reported) and expected != reported:
        shown = user.get("config_user") or "root (no USER)"
        yield Found(
            f"the image's Python told the static probe it runs as uid {reported}, but the "
            f"image's USER {shown} makes it uid {expected}: code the image runs at start altered "
            "the probe's answers, so its runtime facts are not trusted",
            where,
        )
