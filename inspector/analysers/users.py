"""Accounts in /etc/passwd and /etc/group, and the config `User` resolved the way Docker does.

Docker resolves `User` with runc's `user.GetExecUser` against the container's own passwd and
group files (moby daemon/oci_linux.go). This module follows that function rule for rule:
- "" means uid 0: the passwd entry with uid 0 if there is one, else uid 0, gid 0, home "/";
- a numeric user is always a uid (never a name), the first passwd entry with that uid wins, and a
  uid with no entry still starts, with gid 0 and HOME=/;
- a name must exist in passwd, or the container does not start;
- an explicit group (name or gid) replaces the passwd gid; without one, the user's memberships in
  /etc/group become supplementary groups.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from inspector.analysers.imagedata import ImageData

ACCOUNT_CAP = 1024 * 1024
PASSWD, GROUP, SHADOW = "/etc/passwd", "/etc/group", "/etc/shadow"
# runc refuses ids outside this range (user.ErrRange).
MAX_ID = 2**31 - 1
DEFAULT_HOME = "/"  # runc's default when no passwd entry supplies one

_INT = re.compile(r"[+-]?[0-9]+")  # what Go's strconv.Atoi accepts


@dataclass(frozen=True)
class PasswdEntry:
    name: str
    uid: int
    gid: int
    gecos: str
    home: str
    shell: str
    # "set", "empty" (anyone may log in without one), "locked" (`!`/`*`), or "unknown" when
    # /etc/shadow has no line for the user; the hash itself is never kept.
    password: str = "unknown"


@dataclass(frozen=True)
class GroupEntry:
    name: str
    gid: int
    members: tuple[str, ...]


@dataclass(frozen=True)
class UserFacts:
    config_user: str  # verbatim from the config
    user_part: str
    group_part: str | None  # None: no `:group` given
    numeric: bool  # a non-empty user given only as numbers (`1000`, `1000:1000`)
    # None for both when Docker cannot start the container (`error` says why).
    resolved_uid: int | None
    resolved_gid: int | None
    supplementary_gids: tuple[int, ...]  # from /etc/group memberships, implicit form only
    name: str | None  # the passwd name of the resolved user
    group_name: str | None  # the /etc/group name of the resolved gid
    home: str | None
    shell: str | None
    in_passwd: bool
    error: str | None  # Docker's own error message
    passwd_present: bool
    group_present: bool
    users: tuple[PasswdEntry, ...]
    groups: tuple[GroupEntry, ...]


def wants(path: str, size: int) -> int | None:
    return ACCOUNT_CAP if path in (PASSWD, GROUP, SHADOW) else None


def password_state(field: str) -> str:
    if field == "":
        return "empty"
    if field[0] in "!*":
        return "locked"
    return "set"


def shadow_states(text: str) -> dict[str, str]:
    out = {}
    for raw in text.splitlines():
        parts = raw.strip().split(":")
        if len(parts) >= 2 and parts[0]:
            out[parts[0]] = password_state(parts[1])
    return out


def parse_passwd(text: str) -> tuple[PasswdEntry, ...]:
    users = []
    for raw in text.splitlines():
        parts = raw.strip().split(":")
        if len(parts) < 4 or not _INT.fullmatch(parts[2]) or not _INT.fullmatch(parts[3]):
            continue  # comments, NIS `+` lines and garbage have no usable ids
        parts += [""] * (7 - len(parts))
        # A password field other than `x` is the hash itself (no shadow file in use).
        state = "unknown" if parts[1] == "x" else password_state(parts[1])
        users.append(PasswdEntry(parts[0], int(parts[2]), int(parts[3]), parts[4], parts[5],
                                 parts[6], state))  # fmt: skip
    return tuple(users)


def parse_group(text: str) -> tuple[GroupEntry, ...]:
    groups = []
    for raw in text.splitlines():
        parts = raw.strip().split(":")
        if len(parts) < 3 or not _INT.fullmatch(parts[2]):
            continue
        members = tuple(m for m in (parts[3].split(",") if len(parts) > 3 else []) if m)
        groups.append(GroupEntry(parts[0], int(parts[2]), members))
    return tuple(groups)


def analyse(data: ImageData) -> UserFacts:
    passwd_text, group_text = data.text(PASSWD), data.text(GROUP)
    users = parse_passwd(passwd_text or "")
    shadow = shadow_states(data.text(SHADOW) or "")
    users = tuple(
        dataclasses.replace(u, password=shadow.get(u.name, u.password))
        if u.password == "unknown" else u
        for u in users
    )  # fmt: skip
    groups = parse_group(group_text or "")
    return resolve(
        data.config.user,
        users,
        groups,
        passwd_present=data.fs.exists(PASSWD),
        group_present=data.fs.exists(GROUP),
    )


def _atoi(text: str) -> int | None:
    return int(text) if _INT.fullmatch(text) else None


def resolve(
    spec: str,
    users: tuple[PasswdEntry, ...],
    groups: tuple[GroupEntry, ...],
    *,
    passwd_present: bool = True,
    group_present: bool = True,
) -> UserFacts:
    """Resolve a `User` spec against parsed passwd and group entries, as runc does."""
    parts = spec.split(":")
    user_part = parts[0]
    group_part = parts[1] if len(parts) > 1 else None
    uid_arg = _atoi(user_part)
    gid_arg = _atoi(group_part) if group_part is not None else None
    numeric = bool(user_part) and uid_arg is not None and (not group_part or gid_arg is not None)

    def failed(message: str, *, in_passwd: bool = False) -> UserFacts:
        return UserFacts(spec, user_part, group_part, numeric, None, None, (), None, None, None,
                         None, in_passwd, message, passwd_present, group_present, users,
                         groups)  # fmt: skip

    uid, gid, home, shell, name = 0, 0, DEFAULT_HOME, None, None
    if not user_part:
        match = next((u for u in users if u.uid == 0), None)
    elif uid_arg is not None:
        match = next((u for u in users if u.uid == uid_arg), None)
    else:
        match = next((u for u in users if u.name == user_part), None)

    if match is not None:
        uid, gid, home, shell, name = match.uid, match.gid, match.home, match.shell, match.name
    elif user_part:
        if uid_arg is None:
            return failed(f"unable to find user {user_part}: no matching entries in passwd file")
        if not 0 <= uid_arg <= MAX_ID:
            return failed(f"uids and gids must be in range 0-{MAX_ID}")
        uid = uid_arg

    supplementary: tuple[int, ...] = ()
    if group_part:
        group = next(
            (
                g
                for g in groups
                if (g.gid == gid_arg if gid_arg is not None else g.name == group_part)
            ),
            None,
        )
        if group is not None:
            gid = group.gid
        elif gid_arg is None:
            return failed(
                f"unable to find group {group_part}: no matching entries in group file",
                in_passwd=match is not None,
            )
        elif not 0 <= gid_arg <= MAX_ID:
            return failed(f"uids and gids must be in range 0-{MAX_ID}", in_passwd=match is not None)
        else:
            gid = gid_arg
    elif name is not None:
        supplementary = tuple(g.gid for g in groups if name in g.members)

    group_name = next((g.name for g in groups if g.gid == gid), None)
    return UserFacts(spec, user_part, group_part, numeric, uid, gid, supplementary, name,
                     group_name, home, shell, match is not None, None, passwd_present,
                     group_present, users, groups)  # fmt: skip
