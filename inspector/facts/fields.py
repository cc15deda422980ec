"""One sentence per path of the facts JSON (`inspector/facts/schema.py`), rendered to docs/facts.md.

Tests fail when a path the schema yields has no sentence here, or a sentence names a path that no
longer exists. Repeated structures (the nine caches, the three bytecode areas, setuid/setgid) are
written once and expanded below; their kinds are listed by hand on purpose, so a new one needs a
description before the tests pass.
"""

from __future__ import annotations

from inspector.probes.fields import RUNTIME_FIELDS

FIELDS: dict[str, str] = {
    # --- top level ------------------------------------------------------------------------
    "schema_version": (
        "Version of this JSON layout; it is bumped on every incompatible change, so check it "
        "before reading anything else."
    ),
    # --- image ----------------------------------------------------------------------------
    "image": "Which image was read and where it came from.",
    "image.reference": "The REF given on the command line, verbatim.",
    "image.source": (
        'Where the image was read from: "daemon" (the local Docker engine), "docker-archive" '
        '(`docker save` output), "oci-archive" (a tar of an OCI layout), "oci" (a layout dir) '
        'or "registry" (the registry\'s API, no daemon; the platform read is in `architecture` '
        "and `os`)."
    ),
    "image.id": (
        "The image ID, `sha256:<hex>`: the engine's ID for the daemon, the digest of the image "
        "config JSON for archives; it names the exact image whatever its tags."
    ),
    "image.digest": (
        "For the daemon, the first of the engine's RepoDigests (`name@sha256:<hex>`); for a "
        "registry, `HOST/REPO@sha256:<hex>` of the manifest or index the reference resolved to "
        "(what RepoDigests records after a pull); for an OCI layout, the manifest digest "
        "(`sha256:<hex>`); null when none exists (an image that was never pushed or pulled, or "
        "a `docker save` archive)."
    ),
    "image.tags": (
        "The tags the engine or the archive gives the image (RepoTags, or the OCI "
        "`org.opencontainers.image.ref.name` annotation); empty when untagged."
    ),
    "image.created": (
        "The build time the image config records (RFC 3339 text, as the builder wrote it); null "
        "when absent."
    ),
    "image.architecture": 'The CPU architecture the config declares, e.g. "amd64" or "arm64".',
    "image.os": (
        'The operating system the config declares, normally "linux"; the distribution is in the '
        "top-level `os` section."
    ),
    "image.variant": 'The CPU variant the config declares (e.g. "v8" for arm64), else null.',
    "image.platform": (
        'os/architecture[/variant] as indexes and `--platform` name it, e.g. "linux/arm64/v8": '
        "for a registry: image, the entry of a multi-platform index that was read; null when the "
        "config does not say."
    ),
    # --- config ---------------------------------------------------------------------------
    "config": "What the image config tells Docker to do when a container starts.",
    "config.user": (
        "USER, verbatim (`name`, `uid`, `name:group`, `uid:gid`); an empty string means root, "
        "and `user` shows how Docker resolves it."
    ),
    "config.entrypoint": "ENTRYPOINT as an argument list; null when the image sets none.",
    "config.cmd": (
        "CMD as an argument list (appended to ENTRYPOINT when both are set); null when the image "
        "sets none."
    ),
    "config.env": (
        "ENV as a name-to-value map (a repeated name keeps its last value); a value the secrets "
        "analyser flags is replaced by `<redacted: HINT>`, every other value is verbatim."
    ),
    "config.workdir": "WORKDIR; an empty string means the container starts in `/`.",
    "config.labels": (
        "LABELs as a name-to-value map; flagged secret values are replaced by `<redacted: HINT>`; "
        "empty when there are none."
    ),
    "config.healthcheck": (
        "Docker's Healthcheck object verbatim (`Test`, and `Interval`, `Timeout`, `StartPeriod` "
        'in nanoseconds, `Retries`); `Test: ["NONE"]` disables an inherited one, and null means '
        "the image declares none."
    ),
    "config.stop_signal": ("STOPSIGNAL, the signal `docker stop` sends first; null means SIGTERM."),
    "config.exposed_ports": 'EXPOSEd ports, sorted, e.g. "8000/tcp"; documentation only.',
    "config.volumes": (
        "VOLUMEs, sorted: paths Docker mounts an anonymous volume on at every start (mounting a "
        "system dir such as /etc or /var/run/docker.sock there is a risk)."
    ),
    "config.entrypoint_form": (
        '"shell" when ENTRYPOINT is wrapped as `/bin/sh -c` (or `sh`, `bash`, `/bin/bash`), so a '
        'shell rather than your program may be PID 1 and get the stop signal; "exec" otherwise; '
        "null without ENTRYPOINT."
    ),
    "config.cmd_form": (
        '"shell" when CMD is wrapped as `/bin/sh -c` (or `sh`, `bash`, `/bin/bash`); "exec" '
        "otherwise; null without CMD."
    ),
    # --- history --------------------------------------------------------------------------
    "history[]": (
        "The build steps the image config records, oldest first, including steps that made no "
        "layer (ENV, CMD, ...)."
    ),
    "history[].created": "When the step ran (RFC 3339 text); null when not recorded.",
    "history[].created_by": (
        "The step's instruction as the builder recorded it, with secret values (build arguments "
        "such as `API_TOKEN=...`, credentials in URLs) replaced by a short hint; an empty string "
        "when not recorded."
    ),
    "history[].empty_layer": "True when the step changed only metadata and made no layer.",
    "history[].layer": (
        "Index into `layers[]` of the layer this step made; null for steps that made none, and "
        "for every step when the history's layer-making steps do not match the layer count "
        "(squashed or rewritten images)."
    ),
    # --- layers ---------------------------------------------------------------------------
    "layers[]": "The image's layers in the order they are applied, base layer first.",
    "layers[].index": (
        "Position in `layers[]`, 0 being the base layer; reports and the `inspector facts` "
        "summary call it layer index + 1 (layer 1 is the base layer)."
    ),
    "layers[].digest": (
        "The layer's diff_id, `sha256:<hex>` of the uncompressed tar (not the compressed blob "
        "digest a registry shows)."
    ),
    "layers[].size": "Size of the uncompressed layer tar, in bytes (tar headers included).",
    "layers[].files": (
        "Number of entries in the layer tar, of every kind: files, directories, links and "
        "whiteouts alike."
    ),
    "layers[].added_bytes": "Total size, in bytes, of the regular files this layer writes.",
    "layers[].wasted_bytes": (
        "Bytes of this layer's regular files that a later layer deleted or replaced: invisible "
        "in a container, yet still shipped and pulled with this layer."
    ),
    "layers[].created_by": (
        "The `created_by` of the history step that made this layer; null when the history cannot "
        "be matched to the layers."
    ),
    "layers[].from_cache": (
        "True when this layer's listing came from inspector's local layer cache rather than a "
        "fresh read of the tar."
    ),
    "layers[].scanned_bytes": (
        "Bytes of this layer's text files the content scan for credentials read (the first MiB "
        "of each; binaries, OS data trees and larger tails are skipped). Kept in the cache with "
        "the rest of the layer."
    ),
    # --- fs -------------------------------------------------------------------------------
    "fs": "The merged filesystem a container sees, and what the layers ship but hide.",
    "fs.visible_bytes": "Total size, in bytes, of the regular files a container can see.",
    "fs.visible_files": "Number of visible regular files and hard links.",
    "fs.wasted_bytes": (
        "Bytes of file versions that a later layer deleted or replaced: no container sees them, "
        "but they still ship in the image and are pulled with it."
    ),
    "fs.efficiency": (
        "`visible_bytes / (visible_bytes + wasted_bytes)`, rounded to 4 decimals; 1.0 means no "
        "byte ships in vain."
    ),
    "fs.waste[]": (
        "Wasted bytes grouped by the layer that wrote them, the layer that hid them and how, "
        "largest group first, at most 50 groups (so the groups may not add up to `wasted_bytes`)."
    ),
    "fs.waste[].layer": "Index of the layer that wrote these files.",
    "fs.waste[].created_by": "The history step that made `layer`; null when unknown.",
    "fs.waste[].removed_in": "Index of the later layer that deleted or replaced them.",
    "fs.waste[].removed_by": "The history step that made `removed_in`; null when unknown.",
    "fs.waste[].how": (
        '"deleted" (a whiteout or opaque directory removed them) or "replaced" (a later layer '
        "wrote the same path, or put a non-directory where a parent directory was); either way "
        "the old versions still ship in the image."
    ),
    "fs.waste[].bytes": "Bytes wasted by this group.",
    "fs.waste[].files": "Number of file versions in this group.",
    "fs.waste[].examples": "Up to 5 paths from this group, largest file first.",
    "fs.sizes": (
        "Where the visible bytes are: every file and directory (a directory summing everything "
        "below it) holding at least `threshold` bytes; what `inspector diff` compares."
    ),
    "fs.sizes.threshold": (
        "Every path with at least this many visible bytes is listed (1 MiB, higher when the "
        "list was cut at its 400 largest): a path not listed holds less."
    ),
    "fs.sizes.paths[]": "The paths, largest first, then by path.",
    "fs.sizes.paths[].path": "The file or directory.",
    "fs.sizes.paths[].bytes": "Its visible bytes (a directory's: of every file below it).",
    "fs.unsafe_names": (
        "Tar member names that were absolute or contained `..` (at most 100), as written; "
        "inspector keeps them inside the image root, but other tools may not."
    ),
    # --- os -------------------------------------------------------------------------------
    "os": (
        "The distribution, from its release files, and the C library the image's dynamic loader "
        "belongs to."
    ),
    "os.id": (
        'ID from os-release, e.g. "debian", "alpine", "ubuntu"; null when the image has no '
        "os-release (scratch-like images)."
    ),
    "os.id_like": "ID_LIKE from os-release, split into words; empty when absent.",
    "os.name": "NAME from os-release; null when absent.",
    "os.version_id": 'VERSION_ID from os-release, e.g. "12" or "3.19.1"; null when absent.',
    "os.version_codename": (
        "VERSION_CODENAME (or UBUNTU_CODENAME, or the word in parentheses in VERSION) from "
        'os-release, e.g. "bookworm"; null when none says.'
    ),
    "os.pretty_name": "PRETTY_NAME from os-release; null when absent.",
    "os.os_release_path": (
        "The os-release file that was read (`/etc/os-release`, else `/usr/lib/os-release`), "
        "after following symlinks; null when neither exists."
    ),
    "os.alpine_release": "First line of /etc/alpine-release; null when absent.",
    "os.debian_version": "First line of /etc/debian_version; null when absent.",
    "os.redhat_release": "First line of /etc/redhat-release; null when absent.",
    "os.libc": (
        '"glibc" or "musl", decided from the dynamic loader and libc files in the merged '
        "filesystem (wheels must match it); null when neither is found, e.g. a static or "
        "scratch image."
    ),
    "os.libc_evidence": (
        "The image path that decided `libc` (a loader or libc.so.6, possibly a symlink); null "
        "when `libc` is null."
    ),
    # --- os_packages ----------------------------------------------------------------------
    "os_packages": "Installed OS packages, read from the package managers' own databases.",
    "os_packages.manager": (
        '"dpkg" or "apk", the database the packages come from ("dpkg" when both exist); null '
        "when neither database exists."
    ),
    "os_packages.managers": "Every package database kind found.",
    "os_packages.packages[]": (
        "Installed packages (dpkg state `installed`, distroless status.d entries, apk "
        "records), sorted by name then architecture."
    ),
    "os_packages.packages[].name": "The package name.",
    "os_packages.packages[].version": "The installed version, as the database records it.",
    "os_packages.packages[].architecture": (
        'The package architecture, e.g. "amd64" or "all"; null when the database omits it.'
    ),
    "os_packages.packages[].source": (
        "The source package (dpkg `Source:`, apk origin), which vulnerability feeds use; the "
        "package's own name when the database omits it."
    ),
    "os_packages.packages[].source_version": (
        "The source package's version; the package's version when the database omits it."
    ),
    "os_packages.packages[].manager": '"dpkg" or "apk": which database lists this package.',
    "os_packages.databases": "The database files that were read.",
    "os_packages.truncated": (
        "True when a database was larger than what inspector captures (16 MiB, or 256 KiB per "
        "status.d file): its last record was dropped and the list may be incomplete."
    ),
    "os_packages.database_writes[]": (
        "Every layer that wrote a package database file (dpkg status or status.d, apk installed, "
        "the rpm database), deleted versions included, oldest first: when the OS packages were "
        "last installed or upgraded; the last one wrote the database the image runs with."
    ),
    "os_packages.database_writes[].layer": "Index of the layer that wrote it.",
    "os_packages.database_writes[].path": (
        "The database file written (the first one, when a layer wrote several status.d files)."
    ),
    "os_packages.database_writes[].mtime": (
        "The newest modification time of those files in the layer's tar, in Unix seconds (the "
        "time dpkg, apk or rpm wrote it; reproducible builds clamp it)."
    ),
    # --- user -----------------------------------------------------------------------------
    "user": (
        "The config's USER resolved against the image's own /etc/passwd and /etc/group, rule "
        "for rule as Docker (runc) does it, plus the accounts those files define."
    ),
    "user.config_user": "USER verbatim; an empty string when unset.",
    "user.user_part": "The part of USER before `:`; an empty string means root.",
    "user.group_part": "The part of USER after `:`; null when USER has no `:group`.",
    "user.numeric": (
        "True when USER is given only as numbers (`1000` or `1000:1000`), so it needs no "
        "passwd entry."
    ),
    "user.resolved_uid": (
        "The uid the container runs as (0 is root); null when Docker cannot start the container "
        "with this USER (see `error`)."
    ),
    "user.resolved_gid": (
        "The primary gid the container runs with; null when Docker cannot start the container "
        "with this USER (see `error`)."
    ),
    "user.supplementary_gids": (
        "Extra groups from /etc/group memberships; only filled when USER names no group and the "
        "user has a passwd entry."
    ),
    "user.name": "The passwd name of the resolved user; null when the uid has no passwd entry.",
    "user.group_name": "The /etc/group name of the resolved gid; null when it has none.",
    "user.home": (
        "The home directory (HOME) the container gets: the passwd entry's, `/` for a uid "
        "without one; null when the container cannot start."
    ),
    "user.shell": "The passwd entry's login shell; null without a passwd entry.",
    "user.in_passwd": "True when the resolved user has an entry in /etc/passwd.",
    "user.error": (
        "Docker's own error for this USER (e.g. no such user in passwd); null when the container "
        "can start."
    ),
    "user.passwd_present": "True when the image has an /etc/passwd.",
    "user.group_present": "True when the image has an /etc/group.",
    "user.users[]": (
        "The /etc/passwd entries checks judge, in file order, not every line: every uid 0 entry, "
        "USER's entry, accounts with an empty password and duplicated uids or names (each "
        "reason at most 100 entries); `users_count` counts them all."
    ),
    "user.users[].name": "The account name.",
    "user.users[].uid": "The account's uid.",
    "user.users[].gid": "The account's primary gid.",
    "user.users[].gecos": "The GECOS (comment) field.",
    "user.users[].home": "The home directory.",
    "user.users[].shell": "The login shell; an empty string when not set.",
    "user.users[].password": (
        '"set", "empty" (the account needs no password: a login or `su` to it just works), '
        '"locked" (`!` or `*`), or "unknown" when /etc/shadow has no line for it; the hash '
        "itself is never shown."
    ),
    "user.groups[]": (
        "The /etc/group entries checks judge, in file order: USER's group and the groups naming "
        "it as a member, gid 0 and duplicated gids or names (each reason at most 100); "
        "`groups_count` counts them all."
    ),
    "user.groups[].name": "The group name.",
    "user.groups[].gid": "The group's gid.",
    "user.groups[].members": "The user names listed as members.",
    "user.truncated": (
        "The account files (/etc/passwd, /etc/group) larger than what inspector reads (8 MiB), "
        "read only to their last whole line; the rest is streamed for its uid (gid) 0 lines "
        "only. A lookup that found nothing is undetermined (`undetermined` says why; `error` "
        'and the resolved ids null, not "no such user").'
    ),
    "user.users_count": (
        "How many entries /etc/passwd holds: the parseable ones in the part read, plus every "
        "line past the read limit."
    ),
    "user.groups_count": "How many entries /etc/group holds, counted as `users_count`.",
    "user.uid0_complete": (
        "True when every uid 0 entry of /etc/passwd is in `users`, even past the read limit, so "
        "a user not among them is known not to be root."
    ),
    "user.undetermined": (
        "Why USER's lookup cannot be answered from what was read (a name past the read limit of "
        "an over-large account file); null when it was answered."
    ),
    # --- world_writable, capabilities -----------------------------------------------------
    "world_writable[]": (
        "Visible paths any user may write to (mode o+w), sorted by path, at most 1000; symlinks, "
        "sticky directories such as /tmp and device nodes (/dev/null is 0666 by design) are left "
        "out."
    ),
    "world_writable[].path": "The path in the image.",
    "world_writable[].kind": '"file", "dir", "hardlink" or "fifo".',
    "world_writable[].mode": 'Permission bits in octal, e.g. "0777".',
    "world_writable[].uid": "The owner's uid.",
    "world_writable[].gid": "The owner's gid.",
    "world_writable[].layer": "Index of the layer that set this version of the path.",
    "world_writable[].created_by": "The history step that made `layer`; null when unknown.",
    "world_writable[].size": (
        "Bytes of a regular file (0 for an empty one, such as a lock file); 0 for other kinds."
    ),
    "world_writable_total": (
        "How many visible paths are world-writable, including those beyond the 1000 listed."
    ),
    "capabilities[]": (
        "Visible paths carrying file capabilities (a `security.capability` xattr), which grant "
        "privileges without setuid."
    ),
    "capabilities[].path": "The path in the image.",
    "capabilities[].layer": "Index of the layer that set this version of the file.",
    "capabilities[].created_by": "The history step that made `layer`; null when unknown.",
    "capabilities[].capabilities": "The decoded xattr.",
    "capabilities[].capabilities.raw_hex": "The xattr's bytes in hex, as stored in the layer.",
    "capabilities[].capabilities.decoded": (
        "False when the xattr is malformed; then only `raw_hex` is meaningful."
    ),
    "capabilities[].capabilities.revision": (
        "The vfs_cap_data revision, 1, 2 or 3 (3 is namespaced); null when not decoded."
    ),
    "capabilities[].capabilities.effective": (
        "True when the permitted capabilities are raised as soon as the file executes (`+e`)."
    ),
    "capabilities[].capabilities.permitted": 'Permitted capability names, e.g. "cap_net_raw".',
    "capabilities[].capabilities.inheritable": "Inheritable capability names.",
    "capabilities[].capabilities.rootid": (
        "The namespace root uid of a revision 3 xattr; null otherwise."
    ),
    "capabilities[].capabilities.text": (
        'The capabilities in getcap\'s short form, e.g. "cap_net_bind_service+ep"; null when not '
        "decoded."
    ),
    # --- secrets --------------------------------------------------------------------------
    "secrets[]": (
        "Secret-looking values in ENV, LABELs, ENTRYPOINT/CMD/HEALTHCHECK, the build history and "
        "every version of every file, deleted ones included; one finding per file version."
    ),
    "secrets[].kind": (
        'What was found, e.g. "private-key", "aws-access-key-id", "github-token", '
        '"url-credentials", "pypirc", "dotenv", "git-directory", or "secret-variable" (a '
        "secret-looking name with a real-looking value)."
    ),
    "secrets[].where": (
        '"env", "label", "command" (ENTRYPOINT, CMD or the healthcheck test), "history" or "file".'
    ),
    "secrets[].path": ('The file (or `.git` directory) holding it; null unless `where` is "file".'),
    "secrets[].name": (
        "The ENV variable or label name; for command and history findings the NAME of the "
        '`NAME=value` holding it (commands otherwise "Entrypoint", "Cmd" or '
        '"Healthcheck"); null for files and unnamed history findings.'
    ),
    "secrets[].layer": (
        "Index of the layer holding the file version, or made by the history step; null for "
        "config findings and steps that map to no layer."
    ),
    "secrets[].step": "Index into `history[]` for history findings; null otherwise.",
    "secrets[].created_by": (
        "The `created_by` of that layer or step, with every secret replaced by its hint; null "
        "for config findings."
    ),
    "secrets[].deleted": (
        "True when this file version is not in the final filesystem (a later layer deleted or "
        "replaced it): it still ships in its layer and anyone with the image can extract it; "
        "always false outside files."
    ),
    "secrets[].removed_in": (
        "Index of the layer that deleted or replaced this file version; null when it is still "
        "visible or not a file."
    ),
    "secrets[].hint": (
        "What was found, never any part of the value: the rule's title, the value's length and a "
        "fingerprint (8 hex digits of a keyed HMAC-SHA256, as `fingerprint`), or what the file "
        "holds (e.g. a key type and size)."
    ),
    "secrets[].likely_test_fixture": (
        "True for probable test or documentation material: a published example value, or a file "
        "under tests/, fixtures/ and similar dirs, a `test_*.py` module or a README where "
        "packages install, when an installed package (its RECORD, the OS, npm) owns it or it "
        "is the image's own test suite (holding test_*.py or conftest.py) the command does not "
        "run from. Never a credential file by name (a key, .aws/credentials, a dotenv...)."
    ),
    "secrets[].removal": (
        '"deleted" or "replaced": how layer `removed_in` removed this file version; null when it '
        "is still visible or not a file."
    ),
    "secrets[].line": (
        "The line of the file the content scan found it on; null for findings by file name and "
        "outside files."
    ),
    "secrets[].fingerprint": (
        "8 hex digits of the value's HMAC-SHA256 under a random key of this machine (the cache "
        "directory's `fingerprint.key`) or of the scan store, to tell two leaks apart without "
        "letting anyone test a guess (the same credential in two files has the same fingerprint, "
        "on one machine); for a file found by its name (a key, `.netrc`, a "
        "dotenv), of the file's whole text, so a later layer writing the same file again is the "
        "same secret; null when the value is not measured."
    ),
    "secrets[].owner_kind": (
        'Who installed the file: "python" (listed in an installed distribution\'s RECORD or '
        "`installed-files.txt`, or under a top-level name one installs in its site-packages), "
        '"os" (a file dpkg lists for an OS package, outside /etc; /usr/share, /usr/lib, /usr/bin '
        "and the like; Debian's dist-packages; an interpreter's standard library), \"npm\" (a "
        'node_modules package) or "app" (anything else: the app\'s code and config, home '
        "directories, /etc, and files no installed distribution claims; a distribution installed "
        "from a local directory is the app's too); null outside files."
    ),
    "secrets[].owner": (
        "The distribution (its METADATA `Name:`), OS or npm package the file belongs to; null "
        "for the app's files and when the path does not tell."
    ),
    "secrets[].file_kind": (
        '"docs" (package metadata such as `*.dist-info/METADATA`, READMEs, `*.md`/`*.rst`, '
        'docs/ and examples/ trees, /usr/share/doc), "tests" (test trees, `test_*.py`, '
        '`*_test.py`, `tests.py`), "vendored" (`_vendor/` and `vendor/` trees, minified or '
        'bundled JavaScript, `static/` bundles inside packages) or "code"; null outside files.'
    ),
    "secrets[].credential_file": (
        "True when the file holds credentials by its very name (SSH keys such as id_rsa, "
        "`*.pem`/`*.key`, `.netrc`, `.pypirc`, cloud and registry credential files, "
        "`credentials.json`), whatever the finding's kind."
    ),
    "secrets[].live_format": (
        "True when the value passes its format's own verification, which text that merely "
        "looks like a credential fails: GitHub's and npm's CRC32 checksum, a private key whose "
        "base64 body decodes to a key structure (DER, OpenSSH, OpenPGP)."
    ),
    # --- python ---------------------------------------------------------------------------
    "python": (
        "Python in the image: interpreters, virtualenvs, installed distributions, what the "
        "default command runs, and bytecode coverage."
    ),
    "python.interpreters[]": (
        "CPython installs found as `python`, `pythonX` or `pythonX.Y` files in bin dirs (a "
        "venv's own copy is listed under `venvs`), sorted by path."
    ),
    "python.interpreters[].path": "The interpreter's regular file; other names are in `symlinks`.",
    "python.interpreters[].version": (
        '"X.Y", or "X.Y.Z" when a file in the image tells the patch level (see `version_source`).'
    ),
    "python.interpreters[].version_source": (
        'What told the version: "name", "stdlib", "patchlevel.h", "sysconfigdata", "uv", '
        '"conda-meta" or "PYTHON_VERSION" (the official images\' ENV).'
    ),
    "python.interpreters[].prefix": 'The install prefix, e.g. "/usr/local".',
    "python.interpreters[].stdlib": (
        "The lib/pythonX.Y directory holding the standard library (os.py); null when Python "
        "would not find one."
    ),
    "python.interpreters[].cache_tag": (
        'The `__pycache__` tag this interpreter reads, e.g. "cpython-311".'
    ),
    "python.interpreters[].symlinks": (
        "Other paths in bin dirs that run this interpreter (symlinks, hard links, plain copies)."
    ),
    "python.interpreters[].externally_managed": (
        "True when the PEP 668 EXTERNALLY-MANAGED marker is in the stdlib dir, so pip refuses "
        "to install outside a venv."
    ),
    "python.interpreters[].externally_managed_removed": (
        "True when a later layer deleted that marker (usually to let pip install system-wide)."
    ),
    "python.interpreters[].layer": "Index of the layer the interpreter file comes from.",
    "python.venvs[]": "Virtual environments: every directory with a pyvenv.cfg, sorted.",
    "python.venvs[].path": "The venv directory.",
    "python.venvs[].home": (
        "`home` from pyvenv.cfg, the base interpreter's bin dir; null when absent."
    ),
    "python.venvs[].home_exists": (
        "True when `home` exists in the image; false when it is unset or missing, e.g. a venv "
        "copied from a build stage whose base Python lived elsewhere."
    ),
    "python.venvs[].version": (
        "The Python version pyvenv.cfg records (`version` or `version_info`); null when absent."
    ),
    "python.venvs[].include_system_site_packages": (
        "True when the venv also sees the base interpreter's site-packages."
    ),
    "python.venvs[].tool": '"venv", "virtualenv" or "uv": which tool wrote pyvenv.cfg.',
    "python.venvs[].python": (
        "The venv's bin/python (or python3, pythonX.Y) entry; null when it has none."
    ),
    "python.venvs[].interpreter": (
        "Where that entry resolves inside the image; null when it dangles, so the venv cannot run."
    ),
    "python.venvs[].site_packages": "The venv's lib/pythonX.Y/site-packages directories.",
    "python.venvs[].dangling_scripts[]": (
        "Scripts in the venv's bin dir whose `#!` interpreter (or pip's `exec` line, for long "
        "paths) does not exist in the image: console scripts made for another path, e.g. a venv "
        "built at /build/.venv and copied to /opt/venv. Scripts run through `env` are not "
        "listed; at most 50."
    ),
    "python.venvs[].dangling_scripts[].path": "The script.",
    "python.venvs[].dangling_scripts[].interpreter": "The missing interpreter it names.",
    "python.packages[]": (
        "Installed distributions (.dist-info, .egg-info, .egg) in site-packages, dist-packages, "
        "PYTHONPATH dirs and `__pypackages__`, sorted by location then name; one per install."
    ),
    "python.packages[].name": (
        "The distribution name as its metadata spells it (the directory name when there is no "
        "metadata)."
    ),
    "python.packages[].version": (
        "The installed version; null when neither the metadata nor the directory name tells."
    ),
    "python.packages[].location": "The directory it is installed into.",
    "python.packages[].metadata": "Path of its .dist-info, .egg-info or .egg.",
    "python.packages[].metadata_format": '"dist-info", "egg-info" or "egg".',
    "python.packages[].installer": (
        'The INSTALLER file\'s content, e.g. "pip", "uv", "debian"; null when absent (always '
        "for egg formats)."
    ),
    "python.packages[].editable": (
        "True for an editable (development) install, whose code lives outside site-packages."
    ),
    "python.packages[].environment": (
        "The venv path, else the prefix of the interpreter owning `location`; null when neither "
        "owns it."
    ),
    "python.packages[].environment_kind": (
        '"venv" or "interpreter"; null when `environment` is null.'
    ),
    "python.packages[].layer": "Index of the layer its metadata comes from.",
    "python.entrypoint_interpreter": (
        "Which Python the default command really runs, followed through shells, wrappers, PATH, "
        "symlinks, shebangs and env as Docker and the kernel would, and through the shell start "
        "scripts it runs (their `exec` line) and project runners (`uv run`, `poetry run`, "
        "`pipenv run`)."
    ),
    "python.entrypoint_interpreter.argv": (
        "ENTRYPOINT followed by CMD (CMD alone without ENTRYPOINT), as Docker runs them."
    ),
    "python.entrypoint_interpreter.form": '"exec" or "shell" for `argv`; null when it is empty.',
    "python.entrypoint_interpreter.command": (
        "The command that is looked up (the first word, after shells and wrappers); null when "
        "none was reached."
    ),
    "python.entrypoint_interpreter.command_args": (
        'What Python receives after its own path, e.g. ["-m", "app"] or a script path; empty '
        "when Python is not reached."
    ),
    "python.entrypoint_interpreter.resolved_path": (
        "`command` after the PATH lookup (the config's PATH, else Docker's default) and "
        "symlinks; null when it is not found."
    ),
    "python.entrypoint_interpreter.interpreter": (
        "The Python that runs (the venv's python when a venv is used); null when the command "
        "does not reach Python or cannot be decided (see `note`)."
    ),
    "python.entrypoint_interpreter.venv": "The venv the command runs in; null when none.",
    "python.entrypoint_interpreter.base_interpreter": (
        "The regular interpreter file that actually executes; null when Python is not reached."
    ),
    "python.entrypoint_interpreter.version": "That Python's version; null when unknown.",
    "python.entrypoint_interpreter.cache_tag": (
        "That Python's `__pycache__` tag; null when unknown."
    ),
    "python.entrypoint_interpreter.via": (
        '"direct", "shebang", "env" or "shell": the last hop that reached Python; null when '
        "Python is not reached."
    ),
    "python.entrypoint_interpreter.chain": (
        'Every hop in order, e.g. ["shell", "shebang", "env"]; "script" is a shell start script '
        'followed to the command it execs, "runner" a `uv run`-style runner.'
    ),
    "python.entrypoint_interpreter.wrappers": (
        "Init or privilege wrappers and project runners skipped on the way (tini, dumb-init, "
        'gosu, su-exec, "uv run", "poetry run", "pipenv run").'
    ),
    "python.entrypoint_interpreter.cwd": (
        "The directory the command runs in when a start script's `cd` (or `uv run --directory`) "
        "moved it away from the WORKDIR; null when it runs in the WORKDIR."
    ),
    "python.entrypoint_interpreter.scripts": (
        "The shell start scripts in the image followed to the command they hand over to (the "
        'last `exec` outside if/case/loops, `exec "$@"` with the script\'s arguments), in order.'
    ),
    "python.entrypoint_interpreter.note": (
        "Why the interpreter could not be decided, or what is odd (e.g. a command not on PATH, "
        "a native binary); null when there is nothing to say."
    ),
    "python.startup": (
        "How the service starts, as far as files in the image tell: the shell scripts the default "
        "command runs, the server config files it loads, and logging config files."
    ),
    "python.startup.scripts[]": (
        "The `sh -c` string of ENTRYPOINT/CMD, then each shell script it runs (the ENTRYPOINT "
        "script, scripts those call by path), at most 8; a script is read when its name ends in "
        "`.sh` or names a start (entrypoint, start, run, boot, init, serve, launch) and it sits in "
        "a bin dir, `/`, or one level under /app, /srv, /code, /usr/src/app or /opt/app."
    ),
    "python.startup.scripts[].path": "The script file; null for the `sh -c` string itself.",
    "python.startup.scripts[].layer": (
        "Index of the layer the script comes from; null for the `sh -c` string."
    ),
    "python.startup.scripts[].lines": (
        "Its commands as written, continuation lines joined, comments and blank lines dropped, "
        "secrets replaced by their hint; at most 200."
    ),
    "python.startup.scripts[].truncated": (
        "True when the script is longer than the 16 KiB read: commands past it are missing."
    ),
    "python.startup.server_configs[]": (
        "Server config files the command loads: gunicorn's `-c`/`--config` (in the command, a "
        "start script or GUNICORN_CMD_ARGS) and the `gunicorn.conf.py` it reads from WORKDIR by "
        "default; uWSGI's `--ini` files. Read when named `gunicorn*.py`, `*.conf.py` or "
        "`*uwsgi*.ini`."
    ),
    "python.startup.server_configs[].server": '"gunicorn" or "uwsgi".',
    "python.startup.server_configs[].path": "The config file, as the command names it.",
    "python.startup.server_configs[].layer": "Index of the layer the file comes from.",
    "python.startup.server_configs[].source": (
        '"argument" (named in the command), "environment" (GUNICORN_CMD_ARGS) or "default" '
        "(`./gunicorn.conf.py` in WORKDIR, which gunicorn reads only when no config is named)."
    ),
    "python.startup.server_configs[].settings": (
        "Its top-level settings, name to value as written: the Python expression for gunicorn "
        "(`2`, `multiprocessing.cpu_count() * 2 + 1`, `'-'`), the text after `=` for an ini; at "
        "most 100, 200 characters each, secrets replaced by their hint."
    ),
    "python.startup.server_configs[].parsed": (
        "False when the file is not valid Python (cut short at 64 KiB, or broken): `settings` "
        "then come from lines of the form `name = value`."
    ),
    "python.startup.logging_configs[]": (
        "Logging config files of the app (`logging.ini`, `log.yaml`, `log_config.json`, ... "
        "outside site-packages and /usr/share, /usr/lib), at most 50."
    ),
    "python.startup.logging_configs[].path": "The file.",
    "python.startup.logging_configs[].layer": "Index of the layer the file comes from.",
    "python.startup.logging_configs[].file_handlers": (
        "Handler classes it names that write to files (`FileHandler`, "
        "`logging.handlers.RotatingFileHandler`, ...), as written; empty when it logs to streams "
        "only."
    ),
    "python.startup.logging_configs[].filenames": (
        "The files it names (`filename:` keys, ini `args=('/path', ...)`), as written."
    ),
    "python.code_locations[]": (
        "Where the default command's own code lives, as the command tells: the WORKDIR when "
        "Python sources lie below it, the directories the command and its start scripts name "
        "(`--chdir`, `--app-dir`, `--pythonpath`, a script's directory, a start script's `cd`), "
        "PYTHONPATH entries, and the start scripts themselves; each with its owner and mode."
    ),
    "python.code_locations[].path": "The directory or file (symlinks resolved).",
    "python.code_locations[].kind": '"dir" or "file".',
    "python.code_locations[].role": (
        '"workdir", "command-dir" (named by the command or a start script), "pythonpath" or '
        '"start-script".'
    ),
    "python.code_locations[].why": (
        'How the command names it, e.g. "WORKDIR", "--chdir=/app", "PYTHONPATH".'
    ),
    "python.code_locations[].layer": "Index of the layer its visible version comes from.",
    "python.code_locations[].owner": "The directory's (or file's) own owner and mode.",
    "python.code_locations[].owner.uid": "Owner UID.",
    "python.code_locations[].owner.gid": "Owner GID.",
    "python.code_locations[].owner.mode": "Permission bits (mode & 0o7777), as an integer.",
    "python.code_locations[].sources_owner": (
        "The most common owner and mode of the Python sources below a directory (they can be "
        "rewritten in place even when the directory cannot); null for a file or no sources."
    ),
    "python.code_locations[].sources_owner.uid": "Owner UID of those sources.",
    "python.code_locations[].sources_owner.gid": "Owner GID of those sources.",
    "python.code_locations[].sources_owner.mode": "Their permission bits, as an integer.",
    "python.code_locations[].sources": "Python source files below it (installed code left out).",
    "python.code_locations[].example": "One of those sources, sorted first; null when none.",
    "python.healthcheck": (
        "What the config's HEALTHCHECK runs, looked up in the image as Docker runs it: exec form "
        "on the config's PATH, CMD-SHELL through the config's Shell (else `/bin/sh -c`)."
    ),
    "python.healthcheck.kind": (
        '"CMD", "CMD-SHELL" or "NONE" (the first word of Test); null when the image declares '
        "no HEALTHCHECK."
    ),
    "python.healthcheck.shell": (
        "For CMD-SHELL, the shell command Docker puts in front of it; empty otherwise."
    ),
    "python.healthcheck.shell_found": (
        "For CMD-SHELL, true when that shell exists in the image; null for other kinds."
    ),
    "python.healthcheck.programs[]": (
        "The programs it runs: the first word for CMD; for CMD-SHELL, the first word of each "
        "simple command that is not a shell builtin or keyword and not built from a variable."
    ),
    "python.healthcheck.programs[].command": "The word as written.",
    "python.healthcheck.programs[].resolved_path": (
        "Where it is found (PATH and symlinks followed); null when it is not."
    ),
    "python.healthcheck.programs[].note": (
        "Why it cannot run (missing, not on PATH, a dangling link, not executable, a shebang "
        "whose interpreter is missing); null when it can."
    ),
    "python.healthcheck.note": (
        "Why the programs could not be read (a shell line that does not parse); else null."
    ),
    "python.lock_files[]": (
        "Requirements files (`*requirements*.txt`/`.in`, `constraints*.txt`, files under a "
        "`requirements/` dir) and lock files (poetry.lock, uv.lock, Pipfile.lock, pdm.lock, "
        "pylock*.toml) the image ships outside installed packages and system dirs, sorted by path."
    ),
    "python.lock_files[].path": "The file.",
    "python.lock_files[].kind": (
        '"requirements", "poetry.lock", "uv.lock", "Pipfile.lock", "pdm.lock" or "pylock".'
    ),
    "python.lock_files[].layer": "Index of the layer the visible file comes from.",
    "python.lock_files[].requirements": (
        "Requirement lines (requirements files) or locked packages (lock files)."
    ),
    "python.lock_files[].pins": (
        'What it pins, as "name==version" with the name normalised (PEP 503); a requirement '
        'fixed by a direct URL reads "name@"; at most 200 for a requirements file.'
    ),
    "python.lock_files[].unpinned": (
        "Requirements files: normalised names required without an exact `==` version (bare "
        "names, ranges, wildcards)."
    ),
    "python.lock_files[].hashed": "Requirements files: requirement lines carrying `--hash`.",
    "python.lock_files[].includes": (
        "Requirements files: their `-r FILE` and `-c FILE` lines, verbatim."
    ),
    "python.lock_files[].truncated": (
        "True when the file was larger than what inspector captures (64 KiB for requirements, "
        "512 KiB for lock files): its lists may be incomplete."
    ),
    "python.bytecode": (
        "How much Python source ships with its compiled .pyc, in three areas: stdlib, "
        "site_packages and application."
    ),
    "python.bytecode.application_cache_tag": (
        "The tag application code was checked against: the default command's Python's, else "
        "the newest interpreter's, else the newest venv's; null when none is known (then a pyc "
        "of any tag counts)."
    ),
    # --- caches ---------------------------------------------------------------------------
    "caches": (
        "Package-manager caches, counted over every version of every file in every layer: a "
        "cache deleted by a later layer still ships in the layer that wrote it."
    ),
}

FIELDS.update(RUNTIME_FIELDS)

# --- setuid[], setgid[]: the same items, split by the bit ---------------------------------

_SPECIAL_LISTS = {
    "setuid": (
        "Visible regular files and hard links with the setuid bit: they run as their owner "
        "(often root) whoever starts them."
    ),
    "setgid": (
        "Visible regular files and hard links with the setgid bit: they run with their group "
        "whoever starts them."
    ),
}
_SPECIAL_FIELDS = {
    "path": "The path in the image.",
    "kind": '"file" or "hardlink".',
    "mode": 'Permission bits in octal, special bits included, e.g. "4755".',
    "uid": "The owner's uid (0 is root).",
    "gid": "The owner's gid.",
    "setuid": "True when the setuid bit is set (the file is then also in `setuid[]`).",
    "setgid": "True when the setgid bit is set (the file is then also in `setgid[]`).",
    "layer": "Index of the layer that set this version of the file.",
    "created_by": "The history step that made `layer`; null when unknown.",
}
for _key, _text in _SPECIAL_LISTS.items():
    FIELDS[f"{_key}[]"] = _text
    FIELDS.update({f"{_key}[].{name}": text for name, text in _SPECIAL_FIELDS.items()})

# --- python.bytecode.<area> ---------------------------------------------------------------

_AREAS = {
    "stdlib": (
        "The default command's interpreter's standard library (lib/pythonX.Y, site-packages "
        "excluded); every lib/pythonX.Y when the interpreter is unknown."
    ),
    "site_packages": (
        "Site dirs the default command's interpreter reads: its venv's (and the base's with "
        "include-system-site-packages), else its prefix's and the user site; PYTHONPATH dirs; "
        "every site-packages and dist-packages dir when the interpreter is unknown. pip, "
        "setuptools and wheel are left out."
    ),
    "application": (
        "Other Python code: under WORKDIR, else grouped by top directories; system dirs (/usr/lib, "
        "/etc, ...), caches, .git and node_modules are left out."
    ),
}
_AREA_FIELDS = {
    "modules": "Number of visible .py sources in this area.",
    "compiled": "Sources with a matching `__pycache__/<stem>.<cache tag>[.opt-N].pyc`.",
    "missing": (
        "Sources without one: Python compiles them on every start when the runtime user cannot "
        "write `__pycache__`."
    ),
    "missing_bytes": "Total size, in bytes, of the sources without a pyc.",
    "examples": "Up to 5 sources without a pyc, the alphabetically first.",
    "pyc_files": (
        "Number of .pyc files in this area's `__pycache__` dirs, whatever their tag (pycs of a "
        "tag no interpreter here reads are dead weight)."
    ),
    "pyc_bytes": "Total size, in bytes, of those .pyc files.",
    "cache_tags": 'The cache tags sources were checked against, e.g. ["cpython-311"].',
    "pyc_tags": "The cache tags the .pyc files found here carry.",
    "roots": "The stdlib dirs, site-packages dirs, or application top dirs in this area.",
    "dir_owner_uid": (
        "Owner uid most common among the dirs holding the sources (where `__pycache__` is "
        "created); null without sources."
    ),
    "dir_owner_gid": "Owner gid most common among those dirs; null without sources.",
    "dir_mode": (
        "Their most common mode as a plain integer (493 is octal 755); null without sources."
    ),
    "pycache_owner_uid": (
        "Most common owner uid of the existing `__pycache__` dirs; null when there are none."
    ),
}
for _area, _text in _AREAS.items():
    FIELDS[f"python.bytecode.{_area}"] = _text
    FIELDS.update({f"python.bytecode.{_area}.{name}": text for name, text in _AREA_FIELDS.items()})

# --- caches.<kind> ------------------------------------------------------------------------

_CACHES = {
    "pip": "pip's cache: `.cache/pip` under any home, PIP_CACHE_DIR, or $XDG_CACHE_HOME/pip.",
    "uv": "uv's cache: `.cache/uv` under any home, UV_CACHE_DIR, or $XDG_CACHE_HOME/uv.",
    "poetry": (
        "Poetry's cache: `.cache/pypoetry` or `.cache/poetry` under any home, POETRY_CACHE_DIR, "
        "or $XDG_CACHE_HOME/pypoetry."
    ),
    "pipenv": (
        "Pipenv's cache: `.cache/pipenv` under any home, PIPENV_CACHE_DIR, or "
        "$XDG_CACHE_HOME/pipenv."
    ),
    "pdm": "PDM's cache: `.cache/pdm` under any home, PDM_CACHE_DIR, or $XDG_CACHE_HOME/pdm.",
    "apt_lists": "apt's package lists in /var/lib/apt/lists (its lock and partial/ excluded).",
    "apt_archives": (
        "apt's downloaded .deb files in /var/cache/apt/archives and its `*.bin` caches in "
        "/var/cache/apt."
    ),
    "apk": "apk's cache in /var/cache/apk or /etc/apk/cache.",
    "dnf": "dnf's and yum's caches in /var/cache/dnf and /var/cache/yum.",
}
_CACHE_FIELDS = {
    "visible_bytes": "Bytes of cache files a container still sees; 0 when there are none.",
    "visible_files": "Number of cache files a container still sees.",
    "deleted_bytes": (
        "Bytes of cache files a later layer deleted or replaced: invisible, yet still shipped "
        "in the layer that wrote them (clean up in the same RUN, or use a cache mount)."
    ),
    "deleted_files": "Number of cache file versions a later layer deleted or replaced.",
    "layers[]": (
        "Where the cache bytes come from: one entry per writing layer and removing layer, by "
        "layer, still-visible ones first."
    ),
    "layers[].layer": "Index of the layer that wrote these cache files.",
    "layers[].created_by": "The history step that made `layer`; null when unknown.",
    "layers[].bytes_added": "Bytes of cache files that layer wrote.",
    "layers[].files": "Number of cache files that layer wrote.",
    "layers[].deleted_in": (
        "Index of the layer that deleted or replaced them; null when they are still visible."
    ),
    "layers[].deleted_by": "The history step that made `deleted_in`; null when unknown.",
    "paths": 'The cache roots seen, e.g. "/root/.cache/pip".',
}
for _kind, _text in _CACHES.items():
    FIELDS[f"caches.{_kind}"] = _text
    FIELDS.update({f"caches.{_kind}.{name}": text for name, text in _CACHE_FIELDS.items()})

# --- files: notable files (inspector/analysers/files.py) --------------------------------------

_FILES_FIELDS: dict[str, str] = {
    "files": (
        "Notable files, as facts: privilege tools and sudoers rules, SSH, the build toolchain, "
        "leftover build artifacts, build-context leaks, and trees re-added only to change owner "
        "or mode."
    ),
    "files.shared_objects": (
        "The CPU each visible shared object (`*.so`, `*.so.N`, regular files) is built for, read "
        "from the first 64 bytes of its ELF header; null only in hand-made facts."
    ),
    "files.shared_objects.files": "Visible shared objects with an ELF header.",
    "files.shared_objects.machines[]": "One entry per CPU architecture found, most files first.",
    "files.shared_objects.machines[].machine": (
        'The architecture as Docker names it ("amd64", "arm64", "386", "arm", "ppc64le", '
        '"s390x", "riscv64", ...), else "e_machine N" with the ELF header\'s number.'
    ),
    "files.shared_objects.machines[].files": "How many shared objects are built for it.",
    "files.shared_objects.machines[].dirs": "The directories holding them, sorted, at most 200.",
    "files.shared_objects.machines[].examples": "The first five of their paths, sorted.",
    "files.conda[]": (
        "conda installations and environments: every visible dir holding `conda-meta/`, sorted, "
        "at most 200."
    ),
    "files.conda[].path": "The installation or environment dir, e.g. /opt/conda.",
    "files.conda[].layer": "Index of the layer that wrote its conda-meta dir.",
    "files.conda[].pkgs_dir": (
        "Its package cache: `<path>/pkgs` (the base's for an env under `envs/`), or the first "
        "dir of CONDA_PKGS_DIRS when set."
    ),
    "files.conda[].pkgs_files": "Files visible in the package cache.",
    "files.conda[].pkgs_bytes": "Their bytes.",
    "files.conda[].deleted_files": (
        "Package-cache files a later layer deleted (e.g. `conda clean` in a separate RUN): still "
        "shipped in the layer that wrote them."
    ),
    "files.conda[].deleted_bytes": "Their bytes.",
    "files.time_zones": (
        "Zone data Python's zoneinfo and the C library can find, and whether the zone ENV TZ "
        "names is in it; null only in hand-made facts."
    ),
    "files.time_zones.zoneinfo_dirs": (
        "Zone dirs holding UTC: those on Python's default TZPATH (/usr/share/zoneinfo, "
        "/usr/lib/zoneinfo, /usr/share/lib/zoneinfo, /etc/zoneinfo) and the `tzdata` package's; "
        "empty when the image has no zone data."
    ),
    "files.time_zones.tz": "ENV TZ as set; null when unset.",
    "files.time_zones.tz_files": (
        "The zone files TZ names in those dirs (a leading `:` dropped); empty when none has it, "
        "or when TZ is a POSIX rule (`CET-1CEST,M3.5.0,M10.5.0/3`) rather than a zone name."
    ),
    "files.privilege": "sudo, doas and su, and what the sudoers files grant.",
    "files.privilege.tools[]": (
        "Visible `sudo`, `doas` and `su` in /bin, /sbin, /usr/bin, /usr/sbin, /usr/local/bin and "
        "/usr/local/sbin (symlinks included)."
    ),
    "files.privilege.sudoers[]": "The visible /etc/sudoers and every file in /etc/sudoers.d.",
    "files.privilege.sudoers[].path": "The path in the image.",
    "files.privilege.sudoers[].size": "Its size in bytes.",
    "files.privilege.sudoers[].layer": "Index of the layer that wrote this version.",
    "files.privilege.sudoers[].created_by": "The step that made `layer`; null when unknown.",
    "files.privilege.sudoers[].read_by_sudo": (
        "False for a sudoers.d file sudo skips (a name with a `.` or ending in `~`)."
    ),
    "files.privilege.sudoers[].captured": (
        "False when the content was not captured (then `rules` is empty)."
    ),
    "files.privilege.sudoers[].truncated": (
        "True when the file is larger than the 64 KiB captured: rules past that are missing."
    ),
    "files.privilege.sudoers[].rules[]": (
        "Each user specification, one item per user or group it names (User_Aliases expanded, "
        "`!user` exclusions dropped); Defaults and other aliases are not listed."
    ),
    "files.privilege.sudoers[].rules[].who": (
        'Who the rule is for, as written: a user ("app"), a uid ("#10001"), a group ("%sudo", '
        '"%#10001") or "ALL" (every user).'
    ),
    "files.privilege.sudoers[].rules[].group": "True when `who` is a group (`%name` or `%#gid`).",
    "files.privilege.sudoers[].rules[].runas": (
        'The run-as list in parentheses, e.g. "ALL:ALL"; null when absent (root only).'
    ),
    "files.privilege.sudoers[].rules[].commands": (
        'The commands allowed, tags removed, e.g. ["ALL"] or ["/usr/bin/apt-get"].'
    ),
    "files.privilege.sudoers[].rules[].nopasswd": (
        "True when some of those commands are tagged NOPASSWD: they run as root with no password."
    ),
    "files.privilege.sudoers[].rules[].all_commands": "True when `commands` includes ALL.",
    "files.ssh": "An SSH server, its host keys and authorized_keys files.",
    "files.ssh.servers[]": "Visible `sshd` and `dropbear` in the bin dirs.",
    "files.ssh.host_keys[]": (
        "Every version of /etc/ssh/ssh_host_*_key (private host keys), deleted ones included: "
        "a key removed by a later layer still ships in the layer that wrote it."
    ),
    "files.ssh.authorized_keys[]": "Visible `authorized_keys` and `authorized_keys2`, anywhere.",
    "files.toolchain": "What it takes to compile code: compilers, make, headers, static libs.",
    "files.toolchain.compilers[]": (
        "Visible gcc, cc, g++, c++, clang, tcc, gfortran in the bin dirs, also versioned "
        "(gcc-12) and triplet-prefixed (x86_64-linux-gnu-gcc-12); symlinks included."
    ),
    "files.toolchain.make[]": "Visible `make` and `gmake` in the bin dirs.",
    "files.toolchain.header_dirs[]": (
        "/usr/include and /usr/local/include, when they hold visible files."
    ),
    "files.toolchain.header_dirs[].path": "The header dir.",
    "files.toolchain.header_dirs[].files": "Number of visible regular files under it.",
    "files.toolchain.header_dirs[].bytes": "Their total size in bytes.",
    "files.toolchain.python_headers[]": (
        "Visible `Python.h` files, anywhere: what building a C extension needs."
    ),
    "files.toolchain.static_libs": "Visible static libraries (`*.a`), anywhere.",
    "files.toolchain.static_libs.files": "Number of them.",
    "files.toolchain.static_libs.bytes": "Their total size in bytes.",
    "files.toolchain.static_libs.examples": "Up to 5 of them, the largest first.",
    "files.leftovers": (
        "Build inputs left behind, visible or deleted by a later layer (still shipped): wheels, "
        "sdists (name-version.tar.gz/.tar.bz2/.tar.xz/.tgz/.zip), get-pip.py, .deb/.rpm/.apk "
        "packages and conda installers; site-packages, dist-packages, ensurepip's bundled "
        "wheels, /usr/share and package-manager caches (see `caches`) are left out."
    ),
    "files.leftovers.items[]": "Each version found, largest first, at most 200.",
    "files.leftovers.visible_files": "Number of leftovers a container still sees.",
    "files.leftovers.visible_bytes": "Their total size in bytes.",
    "files.leftovers.deleted_files": (
        "Number of leftover versions a later layer deleted or replaced (still shipped)."
    ),
    "files.leftovers.deleted_bytes": "Their total size in bytes.",
    "files.context_leaks[]": (
        "Visible files that come from a build context rather than a build: VCS dirs (.git, .hg, "
        ".svn), editor dirs (.idea, .vscode), node_modules, a venv whose `home` interpreter is "
        "not in the image (copied from a host), .env* files, .envrc, Dockerfile*, "
        "docker-compose*.yml, *.tfstate; by path, at most 200. Nothing under "
        "site-packages, dist-packages, /usr/share or the global node_modules dirs; only the "
        "outermost of nested ones."
    ),
    "files.context_leaks[].name": (
        '"git", "hg", "svn", "idea", "vscode", "node_modules", "host_venv", "env_file", "envrc", '
        '"dockerfile", "compose" or "tfstate".'
    ),
    "files.context_leaks[].path": "The path in the image.",
    "files.context_leaks[].dir": "The dir it sits in (usually the application's dir).",
    "files.context_leaks[].kind": '"dir" or "file".',
    "files.context_leaks[].files": "Regular files under it (1 for a file).",
    "files.context_leaks[].bytes": "Their total size in bytes.",
    "files.context_leaks[].layer": "Index of the layer that wrote the entry at `path`.",
    "files.context_leaks[].created_by": "The history step that made `layer`; null when unknown.",
    "files.context_leaks[].credential": (
        'For .git only: "url" when a remote URL in .git/config carries a password or token, '
        '"header" when an `extraheader` carries an Authorization header (what CI checkouts '
        "persist); null otherwise. The credential itself is never output."
    ),
    "files.context_leaks[].venv_home": (
        "For host_venv only: the `home` its pyvenv.cfg names, which the image lacks."
    ),
    "files.chown_duplicates[]": (
        "Files a later layer writes again with the same size and mtime but another owner or "
        "mode (what `RUN chown -R` / `chmod -R` does): both copies ship. Grouped by the layer "
        "that first wrote them and the one that re-added them, largest first."
    ),
    "files.chown_duplicates[].layer": "Index of the layer that first wrote the files.",
    "files.chown_duplicates[].created_by": "The history step that made `layer`; null when unknown.",
    "files.chown_duplicates[].readded_in": "Index of the layer that wrote them again.",
    "files.chown_duplicates[].readded_by": (
        "The history step that made `readded_in` (usually a `chown -R` or `chmod -R`)."
    ),
    "files.chown_duplicates[].files": "Number of files duplicated.",
    "files.chown_duplicates[].bytes": "Bytes shipped twice.",
    "files.chown_duplicates[].owner_changed": "Of those files, how many changed uid or gid.",
    "files.chown_duplicates[].mode_changed": "Of those files, how many changed mode.",
    "files.chown_duplicates[].examples": "Up to 5 of them, the largest first.",
}
FIELDS.update(_FILES_FIELDS)

# --- files: the notable-file lists share one shape ----------------------------------------------

_NOTABLE_LISTS = (
    "files.privilege.tools[]",
    "files.ssh.servers[]",
    "files.ssh.host_keys[]",
    "files.ssh.authorized_keys[]",
    "files.toolchain.compilers[]",
    "files.toolchain.make[]",
    "files.toolchain.python_headers[]",
    "files.leftovers.items[]",
)
_NOTABLE_FIELDS = {
    "name": (
        'What it is: the tool\'s name ("sudo", "gcc-12", "Python.h", "ssh_host_rsa_key", ...), '
        'or for leftovers "wheel", "sdist", "get-pip", "deb", "rpm", "apk" or "installer".'
    ),
    "path": "The path in the image.",
    "kind": '"file", "hardlink" or "symlink".',
    "size": "Size in bytes (0 for links).",
    "mode": 'Permission bits in octal, special bits included, e.g. "4755".',
    "uid": "The owner's uid.",
    "gid": "The owner's gid.",
    "layer": "Index of the layer that wrote this version.",
    "created_by": "The history step that made `layer`; null when unknown.",
    "deleted_in": (
        "Index of the layer that deleted or replaced this version (its bytes still ship); null "
        "when it is visible."
    ),
    "deleted_by": "The history step that made `deleted_in`; null when visible or unknown.",
}
for _list in _NOTABLE_LISTS:
    FIELDS.update({f"{_list}.{name}": text for name, text in _NOTABLE_FIELDS.items()})

# --- vulnerabilities: the inventory matched against the advisory database -------------------

_VULNERABILITY_FIELDS = {
    "vulnerabilities": (
        "Known vulnerabilities of the inventory's components, matched against the offline "
        "advisory database (`inspector db update`) after the probes ran, so each Python "
        "component is judged by the sys.path the command really uses."
    ),
    "vulnerabilities.status": (
        '"matched" (the database answered), "no-database" (none at the given location, or it '
        'holds no advisories for any ecosystem the image needs), "disabled" (`--no-vulns`, or '
        'a caller that asked for no matching) or "error" (the store could not be read).'
    ),
    "vulnerabilities.note": (
        'One line for the reader when status is not "matched": where the database was '
        "looked for and how to get one, or what failed; null when matched."
    ),
    "vulnerabilities.database": (
        "The advisory database matched against; null when there was none or it failed."
    ),
    "vulnerabilities.database.location": "The store's path or URL (never a password).",
    "vulnerabilities.database.updated": (
        "RFC 3339 UTC: the oldest import of the ecosystems the image needs, i.e. how current "
        "the matching is; reports state it and warn past `--max-db-age` days."
    ),
    "vulnerabilities.database.ecosystems[]": "Each ecosystem export the store holds.",
    "vulnerabilities.database.ecosystems[].name": (
        'The export\'s ecosystem: "PyPI", "Debian", "Ubuntu", "Alpine".'
    ),
    "vulnerabilities.database.ecosystems[].advisories": "How many records it holds.",
    "vulnerabilities.database.ecosystems[].imported": ("RFC 3339 UTC: when it was last imported."),
    "vulnerabilities.database.ecosystems[].source": (
        "Where it was imported from: the export's URL (no credentials) or the file given."
    ),
    "vulnerabilities.database.ecosystems[].newest": (
        "The newest `modified` time among its records; null when it holds none."
    ),
    "vulnerabilities.ecosystems": (
        'The ecosystems the image\'s components are matched in, e.g. ["Debian:12", "PyPI"].'
    ),
    "vulnerabilities.missing": (
        "Of those, the ones the database holds no advisories for: their components were not "
        "matched (the checks say so rather than report nothing)."
    ),
    "vulnerabilities.import_path": (
        "The sys.path reachability was judged by: the static probe's when it ran, else the "
        "one the layers tell (`inventory.import_path`)."
    ),
    "vulnerabilities.import_path_source": (
        '"probe" (the static probe\'s sys.path), "static" (from the layers), or null when '
        "neither is known."
    ),
    "vulnerabilities.matches[]": (
        "One per component and vulnerability (advisories that alias each other merged), "
        "worst severity first, then package and id."
    ),
    "vulnerabilities.matches[].id": (
        "What the vulnerability is called: its CVE when it has one, else the first OSV id."
    ),
    "vulnerabilities.matches[].advisories": "Every OSV record merged into this match, sorted.",
    "vulnerabilities.matches[].aliases": (
        "Every other id those records give (CVE, GHSA, PYSEC, DSA, ...), sorted."
    ),
    "vulnerabilities.matches[].summary": "The advisory's one-line summary; null when none.",
    "vulnerabilities.matches[].severity": (
        '"unknown", "low", "medium", "high" or "critical": from the CVSS vector, else the '
        "ecosystem's rating; unknown when neither says."
    ),
    "vulnerabilities.matches[].severity_source": (
        'What decided the severity ("CVSS_V3", "CVSS_V4", "rating"); null when unknown.'
    ),
    "vulnerabilities.matches[].score": "The CVSS base score, when a vector decided; else null.",
    "vulnerabilities.matches[].vector": "The CVSS vector that decided, else null.",
    "vulnerabilities.matches[].url": "The advisory's page; null when it links none.",
    "vulnerabilities.matches[].ecosystem": 'The component\'s ecosystem: "Debian:12", "PyPI", ...',
    "vulnerabilities.matches[].package": (
        "The component's name (the binary package for OS components, the PEP 503 name for "
        "Python ones)."
    ),
    "vulnerabilities.matches[].source": (
        "For OS components, the source package (or apk origin) the advisory names; null for "
        "Python ones."
    ),
    "vulnerabilities.matches[].installed": (
        "The version compared: the source version for OS components."
    ),
    "vulnerabilities.matches[].fixed": (
        "The lowest fixed version above the installed one; null when there is no fix yet."
    ),
    "vulnerabilities.matches[].path": (
        "The component's evidence: its .dist-info, the package database, the wheel, the SBOM."
    ),
    "vulnerabilities.matches[].layer": "Index of the layer that wrote `path`.",
    "vulnerabilities.matches[].kind": (
        'The component\'s kind: "dpkg", "apk", "dist-info", "egg-info", "vendored", "sbom", '
        '"wheel" or "bundled-library".'
    ),
    "vulnerabilities.matches[].reachability": (
        '"importable" (on the command\'s sys.path), "not-importable" (on disk, out of its '
        'reach), "deleted" (a later layer deleted it; its bytes still ship) or "installed" '
        "(an OS package the package manager lists)."
    ),
    "vulnerabilities.matches[].environment": (
        "For Python components, the site-packages (or vendoring package) directory it sits "
        "in; null for OS packages."
    ),
}
FIELDS.update(_VULNERABILITY_FIELDS)
# --- inventory ----------------------------------------------------------------------------------

FIELDS.update(
    {
        "inventory": (
            "Every installed component an advisory could name (OS packages, Python distributions "
            "wherever they sit, vendored packages, shipped SBOMs, wheels, libraries bundled in "
            "wheels), with where it sits, and the command's import path."
        ),
        "inventory.os_ecosystem": (
            'The OSV ecosystem of the OS release ("Debian:12", "Ubuntu:24.04", "Alpine:v3.20"); '
            "null when the release is unknown."
        ),
        "inventory.components[]": "The components, sorted by ecosystem, name, version and path.",
        "inventory.components[].ecosystem": (
            'The OSV ecosystem it is matched in ("PyPI", "Debian:12", ...); "" when it is not '
            "matched itself: an unknown OS release, a library bundled in a wheel, or Python code "
            "Debian's packages installed (matched through its dpkg package, which knows "
            "Debian's backported fixes)."
        ),
        "inventory.components[].name": (
            "PyPI: the name normalised as PEP 503 does; OS: the binary package's name; a bundled "
            'library: its file name without the hash auditwheel adds ("libssl").'
        ),
        "inventory.components[].version": (
            'The version, as its evidence gives it ("" when none does); a bundled library\'s '
            "is its soname version."
        ),
        "inventory.components[].source": (
            "OS packages: the source package (dpkg `Source:`, apk origin); null otherwise."
        ),
        "inventory.components[].source_version": (
            "OS packages: the source package's version; null otherwise."
        ),
        "inventory.components[].kind": (
            'What the evidence is: "dpkg", "apk", "dist-info", "egg-info", "vendored" (pip\'s '
            'vendor.txt, a dist-info in a `_vendor` dir), "sbom" (an SBOM the image ships), '
            '"wheel" (an ensurepip or Debian bundled .whl) or "bundled-library" (a .so in a '
            "wheel's `*.libs`)."
        ),
        "inventory.components[].path": (
            "The evidence: the metadata dir, the package database, vendor.txt, the SBOM, the wheel "
            "or the shared library."
        ),
        "inventory.components[].layer": (
            "Index of the layer that wrote the evidence (for OS packages: the first layer whose "
            "database lists the package at this version)."
        ),
        "inventory.components[].deleted": (
            "A later layer deleted the evidence: not in the container, but its bytes still ship."
        ),
        "inventory.components[].environment": (
            "The directory that decides whether the command can import it: the site-packages it "
            "sits in, or the vendoring dir (`pip/_vendor`, `ensurepip/_bundled`); null for OS "
            "packages."
        ),
        "inventory.components[].purl": (
            "The package URL (pkg:pypi, pkg:deb with arch and distro, pkg:apk, pkg:generic)."
        ),
        "inventory.import_path": (
            "The command's sys.path as the layers alone tell it: the script's dir or the "
            "working dir for `-m`, PYTHONPATH, the stdlib, the user site, the venv's "
            "site-packages (and the base interpreter's with include-system-site-packages) or the "
            "interpreter's own, each followed by the dirs its `.pth` files name; every site dir "
            "when the command's interpreter is unknown."
        ),
    }
)

# --- expectations: the team's own container-structure-test files (docs/expectations.md) -------

FIELDS.update(
    {
        "expectations": (
            "Every test of the expectation files (`--expect FILE`, the policy's `expect`) and "
            "how it ended; null when no file was given. Check COR030 reads it."
        ),
        "expectations.files": "The expectation files, named as the user or the policy wrote them.",
        "expectations.results[]": (
            "One per test, in each file's order: the metadata test's keys, then the file "
            "existence, file content and command tests."
        ),
        "expectations.results[].file": "The file the test is in.",
        "expectations.results[].kind": (
            '"metadata", "file-existence", "file-content" or "command".'
        ),
        "expectations.results[].name": (
            "The test's name; a metadata key is named by its path, with the variable, label, "
            'port or volume in brackets: "metadataTest.user", "metadataTest.envVars[PORT]".'
        ),
        "expectations.results[].status": (
            '"passed", "failed" or "not-run" (it could not be decided here: `reason` says why).'
        ),
        "expectations.results[].failures": (
            "What did not hold, one sentence each (values of secret-looking variables shown "
            "redacted)."
        ),
        "expectations.results[].reason": "Why the test was not run; null when it was.",
        "expectations.results[].path": (
            "For a file test, the path looked at (symlinks followed as the test reads them)."
        ),
        "expectations.results[].exit_code": (
            "For a command test, its command's exit code; null when it did not exit by itself."
        ),
        "expectations.results[].stdout_tail": (
            "For a command test, the last lines of its stdout, credentials masked."
        ),
        "expectations.results[].stderr_tail": (
            "For a command test, the last lines of its stderr, credentials masked."
        ),
        "expectations.results[].seconds": (
            "For a command test, its time, setup and teardown included."
        ),
        "expectations.command_containers[]": (
            "One per file with command tests: the one probe container they all ran in."
        ),
        "expectations.command_containers[].file": "The expectation file.",
        "expectations.command_containers[].status": (
            '"ran", "not-run" (no engine, --no-probe, nothing in the image can keep it open) '
            'or "failed" (it could not be created or started).'
        ),
        "expectations.command_containers[].reason": "Why it did not run; null when it ran.",
        "expectations.command_containers[].container": (
            "Its short container ID: every command test of the file ran in it."
        ),
        "expectations.command_containers[].starts": (
            "How many times it was started: 1, plus one for each command killed on its time or "
            "output limit (the container is killed with it, then started again)."
        ),
        "expectations.command_containers[].keepalive": (
            "The image's program that kept it open between commands (its Python, or sleep)."
        ),
        "expectations.command_containers[].seconds": "How long all its command tests took.",
    }
)
