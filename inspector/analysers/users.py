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
import io
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from inspector.analysers.imagedata import ImageData
from inspector.analysers.numbers import go_atoi
from inspector.layers.model import FILE
from inspector.layers.tail import LINES_SUFFIX, TAIL_SUFFIX

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
# Past the capture the reader streams the rest of the file and keeps only these lines: a uid 0
# passwd entry (a root alias), a gid 0 group (Atoi reads "0", "00", "+0" and "-0" alike). With
# every uid 0 entry known, a user the part read lacks is known not to be root at any file size.
_UID0_LINE = re.compile(rb"^[^:\n]*:[^:\n]*:[ \t]*[+-]?0+:[^\n]*$", re.MULTILINE)
_GID0_LINE = re.compile(rb"^[^:\n]*:[^:\n]*:[ \t]*[+-]?0+(?::[^\n]*)?$", re.MULTILINE)
# Entries kept in the facts: the ones checks judge (root aliases, the USER's, empty passwords,
# duplicates, the USER's groups), never every line: a hostile passwd of 700,000 one-letter
# accounts would otherwise become gigabytes of facts. Each reason keeps at most this many.
KEEP_PER_REASON = 100


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
    users: tuple[PasswdEntry, ...]  # the entries checks judge, not every line (KEEP_PER_REASON)
    groups: tuple[GroupEntry, ...]
    # Account files larger than ACCOUNT_CAP, read only to it ("/etc/passwd", "/etc/group"),
    # past which only uid/gid 0 lines are known: a lookup that found nothing has null ids and no
    # `error` (it is undetermined, not "no such user"), and `undetermined` says why.
    truncated: tuple[str, ...] = ()
    users_count: int = 0  # entries of /etc/passwd (every line past a cut counted as one)
    groups_count: int = 0
    uid0_complete: bool = True  # every uid 0 entry of /etc/passwd is in `users`
    undetermined: str | None = None  # why USER's lookup cannot be answered from what was read


def wants(path: str, size: int) -> int | None:
    return ACCOUNT_CAP if path in (PASSWD, GROUP, SHADOW) else None


def tail_pattern(path: str) -> re.Pattern[bytes] | None:
    """The lines the reader keeps from an account file's rest, past ACCOUNT_CAP."""
    return {PASSWD: _UID0_LINE, GROUP: _GID0_LINE}.get(path)


def password_state(field: str) -> str:
    if field == "":
        return "empty"
    if field[0] in "!*":
        return "locked"
    return "set"


def _lines(text: str) -> Iterator[str]:
    # One line at a time: splitlines() of 8 MiB of one-letter accounts is a list of 700,000.
    return iter(io.StringIO(text, newline=None))


def shadow_states(text: str, names: set[str] | None = None) -> dict[str, str]:
    """Password states by name: of `names` only when given (the entries kept)."""
    out = {}
    for raw in _lines(text):
        parts = raw.strip().split(":")
        if len(parts) >= 2 and parts[0] and (names is None or parts[0] in names):
            out[parts[0]] = password_state(parts[1])
    return out


def _empty_in_shadow(text: str) -> set[str]:
    out: set[str] = set()
    for raw in _lines(text):
        parts = raw.strip().split(":")
        if len(parts) >= 2 and parts[0] and parts[1] == "" and len(out) < KEEP_PER_REASON:
            out.add(parts[0])
    return out


def iter_passwd(text: str) -> Iterator[PasswdEntry]:
    for raw in _lines(text):
        parts = raw.strip().split(":")
        if len(parts) < 4 or not _INT.fullmatch(parts[2]) or not _INT.fullmatch(parts[3]):
            continue  # comments, NIS `+` lines and garbage have no usable ids
        parts += [""] * (7 - len(parts))
        # A password field other than `x` is the hash itself (no shadow file in use).
        state = "unknown" if parts[1] == "x" else password_state(parts[1])
        yield PasswdEntry(parts[0], _id(parts[2]), _id(parts[3]), parts[4], parts[5], parts[6],
                          state)  # fmt: skip


def iter_group(text: str) -> Iterator[GroupEntry]:
    for raw in _lines(text):
        parts = raw.strip().split(":")
        if len(parts) < 3 or not _INT.fullmatch(parts[2]):
            continue
        members = tuple(m for m in (parts[3].split(",") if len(parts) > 3 else []) if m)
        yield GroupEntry(parts[0], _id(parts[2]), members)


def parse_passwd(text: str) -> tuple[PasswdEntry, ...]:
    return tuple(iter_passwd(text))


def parse_group(text: str) -> tuple[GroupEntry, ...]:
    return tuple(iter_group(text))


def _duplicated(hashes: list[int]) -> set[int]:
    """Hashes seen more than once (at most KEEP_PER_REASON of them): one int per entry in
    memory, instead of the entries."""
    hashes.sort()
    out: set[int] = set()
    for a, b in itertools.pairwise(hashes):
        if a == b and a not in out:
            out.add(a)
            if len(out) >= KEEP_PER_REASON:
                break
    return out


def _id(text: str) -> int:
    # runc ignores Atoi's range error here: an id beyond int64 is read as Go clamps it, and
    # `resolve` then refuses it as out of range. Never int() on thousands of digits.
    if len(text) < 19:  # within int64 whatever its sign: int() reads it as Atoi does
        return int(text)
    value, _ = go_atoi(text)
    return value if value is not None else 0


@dataclass(frozen=True)
class _Account:
    head: str  # the whole lines captured
    cut: bool  # larger than what was captured
    streamed: bool  # the rest past the cut was streamed: every uid/gid 0 line is in `tail`
    complete: bool  # streamed, and no kept line was dropped for the tail's bounds
    rest_lines: int  # lines past the cut
    tail: str = ""  # the lines kept past the cut

    @property
    def text(self) -> str:
        return self.head + self.tail


def _account(data: ImageData, path: str) -> _Account | None:
    """The captured whole lines of an account file, and what is known of the rest."""
    version = data.fs.visible.get(path)
    raw = data.content_of(version) if version is not None else None
    if version is None or version.entry.kind != FILE:
        text = raw.decode("utf-8", "replace") if raw is not None else None
        return _Account(text, False, False, False, 0) if text is not None else None
    size = version.entry.size
    if raw is None:
        return _Account("", True, False, False, 0) if size > 0 else None
    if len(raw) >= size:
        return _Account(raw.decode("utf-8", "replace"), False, False, False, 0)
    # The cut fell inside a line: "app:x:1000:..." cut to "app:x:10" would be a wrong uid.
    head = raw[: raw.rfind(b"\n") + 1]
    layer = data.layers[version.layer].contents
    tail, lines = layer.get(path + TAIL_SUFFIX), layer.get(path + LINES_SUFFIX)
    if tail is None or lines is None:  # read by a reader not asked for the rest
        return _Account(head.decode("utf-8", "replace"), True, False, False, 0)
    counted = lines.decode("ascii", "replace").rstrip("+")
    rest = int(counted) if counted.isdigit() else 0
    return _Account(head.decode("utf-8", "replace"), True, True, not lines.endswith(b"+"), rest,
                    tail.decode("utf-8", "replace"))  # fmt: skip


def _account_text(data: ImageData, path: str) -> tuple[str | None, bool]:
    account = _account(data, path)
    return (account.text, account.cut) if account is not None else (None, False)


def analyse(data: ImageData) -> UserFacts:
    passwd, group = _account(data, PASSWD), _account(data, GROUP)
    shadow = _account(data, SHADOW)
    passwd_text, group_text = passwd.text if passwd else "", group.text if group else ""
    shadow_text = shadow.text if shadow else ""
    spec = data.config.user
    users, users_parsed = _kept_users(passwd_text, spec, _empty_in_shadow(shadow_text))
    states = shadow_states(shadow_text, {u.name for u in users if u.password == "unknown"})
    users = tuple(
        dataclasses.replace(u, password=states.get(u.name, u.password))
        if u.password == "unknown" else u
        for u in users
    )  # fmt: skip
    truncated = tuple(p for p, a in ((PASSWD, passwd), (GROUP, group)) if a and a.cut)
    # Resolved on the kept entries (they hold every match, in file order) to learn the groups
    # to keep, then again with them.
    first = resolve(spec, users, (), truncated=truncated)
    groups, groups_parsed = _kept_groups(group_text, spec, first)
    resolved = resolve(spec, users, groups, passwd_present=data.fs.exists(PASSWD),
                       group_present=data.fs.exists(GROUP), truncated=truncated)  # fmt: skip
    uid0_complete = passwd is None or not passwd.cut or passwd.complete
    uid0_complete = uid0_complete and sum(u.uid == 0 for u in users) < KEEP_PER_REASON
    return dataclasses.replace(
        resolved,
        users_count=_count(passwd, users_parsed, iter_passwd),
        groups_count=_count(group, groups_parsed, iter_group),
        uid0_complete=uid0_complete,
        undetermined=_undetermined(resolved, passwd, group),
    )


def _count(account: _Account | None, parsed: int,
           parse: Callable[[str], Iterator[object]]) -> int:  # fmt: skip
    """Entries in the part read, plus every line past the cut (each one entry at most): the
    lines kept past it are among those, not counted twice."""
    if account is None:
        return 0
    return parsed - sum(1 for _ in parse(account.tail)) + account.rest_lines


def _undetermined(facts: UserFacts, passwd: _Account | None,
                  group: _Account | None) -> str | None:  # fmt: skip
    if facts.error is not None or facts.resolved_uid is not None or not facts.truncated:
        return None
    if passwd is not None and passwd.cut and not facts.in_passwd and facts.user_part:
        return (f"/etc/passwd is larger than the {ACCOUNT_CAP // (1024 * 1024)} MiB inspector "
                f"reads, and the part read has no entry for {facts.user_part!r}")  # fmt: skip
    return (f"/etc/group is larger than the {ACCOUNT_CAP // (1024 * 1024)} MiB inspector "
            f"reads, and the part read has no group {facts.group_part!r}")  # fmt: skip


def _kept_users(text: str, spec: str,
                empty_in_shadow: set[str]) -> tuple[tuple[PasswdEntry, ...], int]:  # fmt: skip
    """The passwd entries checks judge, in file order: every match of USER (runc takes the
    first), uid 0 entries, empty passwords and duplicated uids or names; each reason at most
    KEEP_PER_REASON times."""
    user_part = spec.split(":")[0]
    uid_arg = _atoi(user_part)
    uid_hashes, name_hashes = [], []
    for entry in iter_passwd(text):
        uid_hashes.append(hash(entry.uid))
        name_hashes.append(hash(entry.name))
    parsed = len(uid_hashes)
    dup_uids, dup_names = _duplicated(uid_hashes), _duplicated(name_hashes)
    del uid_hashes, name_hashes
    taken: dict[str, int] = {}
    kept = []
    for entry in iter_passwd(text):
        reasons = [
            reason
            for reason, applies in (
                ("user", entry.uid == 0 if not user_part
                 else entry.uid == uid_arg if uid_arg is not None else entry.name == user_part),
                ("root", entry.uid == 0),
                ("empty", entry.password == "empty" or entry.name in empty_in_shadow),
                ("dup", hash(entry.uid) in dup_uids or hash(entry.name) in dup_names),
            )
            if applies and taken.get(reason, 0) < KEEP_PER_REASON
        ]  # fmt: skip
        for reason in reasons:
            taken[reason] = taken.get(reason, 0) + 1
        if reasons:
            kept.append(entry)
    return tuple(kept), parsed


def _kept_groups(text: str, spec: str,
                 resolved: UserFacts) -> tuple[tuple[GroupEntry, ...], int]:  # fmt: skip
    """The groups checks judge: USER's explicit group, its gid's, those naming it as a member,
    gid 0 and duplicates; each reason at most KEEP_PER_REASON times."""
    group_part = resolved.group_part
    gid_arg = _atoi(group_part) if group_part is not None else None
    gid, name = resolved.resolved_gid, resolved.name
    gid_hashes, name_hashes = [], []
    for entry in iter_group(text):
        gid_hashes.append(hash(entry.gid))
        name_hashes.append(hash(entry.name))
    parsed = len(gid_hashes)
    dup_gids, dup_names = _duplicated(gid_hashes), _duplicated(name_hashes)
    del gid_hashes, name_hashes
    taken: dict[str, int] = {}
    kept = []
    for group in iter_group(text):
        reasons = [
            reason
            for reason, applies in (
                ("explicit", bool(group_part) and (group.gid == gid_arg if gid_arg is not None
                                                   else group.name == group_part)),
                ("gid", group.gid == gid),
                ("member", name is not None and name in group.members),
                ("root", group.gid == 0),
                ("dup", hash(group.gid) in dup_gids or hash(group.name) in dup_names),
            )
            if applies and taken.get(reason, 0) < KEEP_PER_REASON
        ]  # fmt: skip
        for reason in reasons:
            taken[reason] = taken.get(reason, 0) + 1
        if reasons:
            kept.append(group)
    return tuple(kept), parsed


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
