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
from inspector.analysers.numbers import go_atoi
from inspector.layers.model import FILE

# Bytes of each account file read. The reader keeps captured files whole in memory (and in the
# layer cache), so the cap is finite; it is far above any real passwd (8 MiB is some 150,000
# accounts). A file read only in part is named in `truncated`, and a lookup it cannot answer is
# left undetermined instead of "no such user".
ACCOUNT_CAP = 8 * 1024 * 1024
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
    # Account files larger than ACCOUNT_CAP, read only to it ("/etc/passwd", "/etc/group"):
    # `users`/`groups` miss their later lines, and a lookup that found nothing in the part read
    # has null ids and no `error` (it is undetermined, not "no such user"); `group_name` and
    # `supplementary_gids` may miss what lies past the cut.
    truncated: tuple[str, ...] = ()


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
        users.append(PasswdEntry(parts[0], _id(parts[2]), _id(parts[3]), parts[4], parts[5],
                                 parts[6], state))  # fmt: skip
    return tuple(users)


def parse_group(text: str) -> tuple[GroupEntry, ...]:
    groups = []
    for raw in text.splitlines():
        parts = raw.strip().split(":")
        if len(parts) < 3 or not _INT.fullmatch(parts[2]):
            continue
        members = tuple(m for m in (parts[3].split(",") if len(parts) > 3 else []) if m)
        groups.append(GroupEntry(parts[0], _id(parts[2]), members))
    return tuple(groups)


def _id(text: str) -> int:
    # runc ignores Atoi's range error here: an id beyond int64 is read as Go clamps it, and
    # `resolve` then refuses it as out of range. Never int() on thousands of digits.
    value, _ = go_atoi(text)
    return value if value is not None else 0


def _account_text(data: ImageData, path: str) -> tuple[str | None, bool]:
    """The whole lines of an account file that were captured, and whether some are missing."""
    version = data.fs.visible.get(path)
    raw = data.content_of(version) if version is not None else None
    if version is None or version.entry.kind != FILE:
        return (raw.decode("utf-8", "replace") if raw is not None else None), False
    size = version.entry.size
    if raw is None:
        return None, size > 0
    if len(raw) >= size:
        return raw.decode("utf-8", "replace"), False
    # The cut fell inside a line: "app:x:1000:..." cut to "app:x:10" would be a wrong uid.
    return raw[: raw.rfind(b"\n") + 1].decode("utf-8", "replace"), True


def analyse(data: ImageData) -> UserFacts:
    (passwd_text, passwd_cut), (group_text, group_cut) = (
        _account_text(data, PASSWD), _account_text(data, GROUP))  # fmt: skip
    users = parse_passwd(passwd_text or "")
    shadow = shadow_states(_account_text(data, SHADOW)[0] or "")
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
        truncated=tuple(p for p, cut in ((PASSWD, passwd_cut), (GROUP, group_cut)) if cut),
    )


def _atoi(text: str) -> int | None:
    # An Atoi error, a range error included, makes runc take the text as a name.
    value, in_range = go_atoi(text)
    return value if in_range else None


def resolve(
    spec: str,
    users: tuple[PasswdEntry, ...],
    groups: tuple[GroupEntry, ...],
    *,
    passwd_present: bool = True,
    group_present: bool = True,
    truncated: tuple[str, ...] = (),
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
                         groups, truncated)  # fmt: skip

    def undetermined(path: str) -> UserFacts | None:
        # Not found in a file read only in part: the entry may be in the rest. Claiming Docker's
        # "no matching entries" here would be a false high finding.
        if path not in truncated:
            return None
        return dataclasses.replace(failed(""), error=None, in_passwd=False)

    uid, gid, home, shell, name = 0, 0, DEFAULT_HOME, None, None
    if not user_part:
        match = next((u for u in users if u.uid == 0), None)
    elif uid_arg is not None:
        match = next((u for u in users if u.uid == uid_arg), None)
    else:
        match = next((u for u in users if u.name == user_part), None)

    if match is not None:
        uid, gid, home, shell, name = match.uid, match.gid, match.home, match.shell, match.name
        # runc range-checks only a numeric USER; an entry's id it takes as read, and Docker then
        # casts it to 32 bits, so one outside runc's range runs as some other id than written
        # (2**63-1, the clamp of a 5000-digit uid, becomes 4294967295). Refused the same way.
        if not (0 <= uid <= MAX_ID and 0 <= gid <= MAX_ID):
            return failed(f"uids and gids must be in range 0-{MAX_ID}", in_passwd=True)
    elif user_part and (pending := undetermined(PASSWD)) is not None:
        return pending
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
            if not 0 <= gid <= MAX_ID:
                return failed(f"uids and gids must be in range 0-{MAX_ID}",
                              in_passwd=match is not None)  # fmt: skip
        elif (pending := undetermined(GROUP)) is not None:
            return pending
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
                     group_present, users, groups, truncated)  # fmt: skip
