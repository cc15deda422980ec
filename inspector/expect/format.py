"""What `--expect` reads of container-structure-test's format (schemaVersion 2.0.0), key by key.

The parser knows the keys, their types and whether we support them from here alone, and
docs/expectations.md is generated from the same tables (scripts/gen_expect_doc.py), so the
reference cannot drift from the parser. Key names and meanings follow CST's own types
(pkg/types/v2 and pkg/types/unversioned in its repository): go-yaml spells a Go field in lower
case unless a tag says otherwise, and CST reads YAML strictly, so an unknown key is an error there
too.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA_VERSION = "2.0.0"

# Value kinds the parser converts to (see parse.py):
STRING, BOOL, INT = "string", "boolean", "integer"
STRINGS = "list of strings"
REGEXES = "list of regular expressions"
COMMANDS = "list of commands (each a list of strings)"
ENV_VARS = "list of key/value pairs"
OBJECT = "mapping"
TESTS = "list of mappings"


@dataclass(frozen=True)
class Key:
    name: str  # as CST spells it in YAML
    kind: str
    supported: bool
    meaning: str  # how inspector reads it, and where that differs from CST
    required: bool = False


TOP = (
    Key("schemaVersion", STRING, True, 'Must be "2.0.0" (1.0.0 files are refused).', True),
    Key(
        "globalEnvVars",
        ENV_VARS,
        True,
        "Set for every command test (after the image's own environment); `$VAR` in a value is "
        "replaced from the image's environment, as CST does.",
    ),
    Key(
        "metadataTest",
        OBJECT,
        True,
        "The image config, decided from the config the layers came with (no container). Each "
        "key below is its own expectation, named `metadataTest.KEY` (with the variable, label, "
        "port or volume in brackets), so one wrong value is one finding.",
    ),
    Key(
        "fileExistenceTests",
        TESTS,
        True,
        "Decided from the merged filesystem of the layers (no container).",
    ),
    Key(
        "fileContentTests",
        TESTS,
        True,
        "Decided from the file's bytes, captured in the single pass over the layers "
        "(no container).",
    ),
    Key(
        "commandTests",
        TESTS,
        True,
        "Run in one hardened probe container per file (see below), never a container per test.",
    ),
    Key(
        "licenseTests",
        TESTS,
        False,
        "Not supported: CST checks Debian copyright files against Google's own list of refused "
        "licenses; a file that has it is refused (exit 2) rather than passing unread.",
    ),
    Key(
        "containerRunOptions",
        OBJECT,
        True,
        "Only `user` and `envVars`; the others would weaken the probe's hardening or need a "
        "terminal, and are refused.",
    ),
)

METADATA = (
    Key(
        "envVars",
        ENV_VARS,
        True,
        "Each variable must be set in the image config to exactly `value` (or, with "
        "`isRegex: true`, to a value the regular expression matches).",
    ),
    Key("unboundEnvVars", ENV_VARS, True, "Each `key` must not be set in the image config."),
    Key(
        "labels",
        ENV_VARS,
        True,
        "Each label must be set to exactly `value` (or, with `isRegex: true`, to a value the "
        "regular expression matches).",
    ),
    Key(
        "entrypoint",
        STRINGS,
        True,
        "ENTRYPOINT must be exactly this list; `[]` expects none. Absent: not checked.",
    ),
    Key(
        "cmd",
        STRINGS,
        True,
        "CMD must be exactly this list; `[]` expects none. Absent: not checked.",
    ),
    Key(
        "exposedPorts",
        STRINGS,
        True,
        'Each port must be exposed, compared by number as CST does ("8080" matches '
        "EXPOSE 8080/tcp and 8080/udp).",
    ),
    Key("unexposedPorts", STRINGS, True, "Each port must not be exposed."),
    Key("volumes", STRINGS, True, "Each path must be a VOLUME of the image."),
    Key("unmountedVolumes", STRINGS, True, "Each path must not be a VOLUME of the image."),
    Key("workdir", STRING, True, "WORKDIR must be exactly this. Empty or absent: not checked."),
    Key(
        "user",
        STRING,
        True,
        "USER must be exactly this text (CST compares the config's text, not the UID). When the "
        "lifecycle probe saw the running app under another effective UID (an entrypoint that "
        "drops privileges), the finding says so.",
    ),
)

ENV_VAR = (
    Key("key", STRING, True, "The variable's (or label's) name.", True),
    Key("value", STRING, True, "Its value; a regular expression with `isRegex`."),
    Key("isRegex", BOOL, True, "Read `value` as a regular expression (metadata tests only)."),
)

FILE_EXISTENCE = (
    Key("name", STRING, True, "The test's name: with the file, the finding's location.", True),
    Key(
        "path",
        STRING,
        True,
        "The path in the image; `$VAR` is replaced from the image's environment, as CST does. "
        "Symlinks in its directories are followed, the last part is not (as `docker cp` reads "
        "it, which is what CST uses).",
        True,
    ),
    Key(
        "shouldExist",
        BOOL,
        True,
        "Whether the path must exist (default true). When false, nothing else is checked.",
    ),
    Key(
        "permissions",
        STRING,
        True,
        "The mode as Go writes it, which is what CST compares: `-rwxr-xr-x`, `drwxr-xr-x`, "
        "`Lrwxrwxrwx` for a symlink, `urwxr-xr-x` for setuid, `dtrwxrwxrwx` for a sticky "
        "directory.",
    ),
    Key("uid", INT, True, "The owner's UID (absent: not checked; 0 checks for root)."),
    Key("gid", INT, True, "The group's GID (absent: not checked)."),
    Key(
        "isExecutableBy",
        STRING,
        True,
        "`owner`, `group`, `other` or `any`: that execute bit must be set.",
    ),
)

FILE_CONTENT = (
    Key("name", STRING, True, "The test's name: with the file, the finding's location.", True),
    Key(
        "path",
        STRING,
        True,
        "The file; symlinks are followed. Its bytes must be in the layers: the first 1 MiB is "
        "captured in the same pass that reads them (a larger file is judged on that part, and "
        "the result says so).",
        True,
    ),
    Key("expectedContents", REGEXES, True, "Each must match somewhere in the file."),
    Key("excludedContents", REGEXES, True, "None may match anywhere in the file."),
)

COMMAND = (
    Key("name", STRING, True, "The test's name: with the file, the finding's location.", True),
    Key(
        "command",
        STRING,
        True,
        "The program, run without the image's ENTRYPOINT (as CST does), as the image's USER, "
        "in its WORKDIR; `$VAR` in it and in `args` is replaced from the image's environment.",
        True,
    ),
    Key("args", STRINGS, True, "Its arguments."),
    Key(
        "envVars",
        ENV_VARS,
        True,
        "Set for this command only, after `globalEnvVars`; `$VAR` in a value is replaced from "
        "the image's environment.",
    ),
    Key(
        "setup",
        COMMANDS,
        True,
        "Run before the command, in the same container, with the test's `envVars`; their exit "
        "codes are not judged (CST does not judge them either), but they are named when the "
        "test fails.",
    ),
    Key(
        "teardown",
        COMMANDS,
        True,
        "Run after the command, in the same container (CST's docker driver skips them because "
        "it starts a container per test; here later tests see what earlier ones left, so "
        "teardown is where a test cleans up).",
    ),
    Key("exitCode", INT, True, "The exit code expected (default 0)."),
    Key("expectedOutput", REGEXES, True, "Each must match somewhere in stdout."),
    Key("excludedOutput", REGEXES, True, "None may match anywhere in stdout."),
    Key("expectedError", REGEXES, True, "Each must match somewhere in stderr."),
    Key("excludedError", REGEXES, True, "None may match anywhere in stderr."),
)

RUN_OPTIONS = (
    Key("user", STRING, True, "Run every command test as this user (`docker exec --user`)."),
    Key(
        "envVars",
        STRINGS,
        True,
        "Names of variables copied from inspector's own environment into every command test "
        "(CST's `--env NAME`); an unset one is left out.",
    ),
    Key("privileged", BOOL, False, "Refused: the probe container never runs privileged."),
    Key("capabilities", STRINGS, False, "Refused: the probe container drops every capability."),
    Key("bindMounts", STRINGS, False, "Refused: nothing of the host is mounted into a probe."),
    Key("allocateTty", BOOL, False, "Refused: commands run without a terminal."),
    Key("envFile", STRING, False, "Not supported: use `envVars` or `globalEnvVars`."),
)

# Where each table applies, as the error lines and the docs name it.
SECTIONS: dict[str, tuple[Key, ...]] = {
    "top level": TOP,
    "metadataTest": METADATA,
    "envVars, unboundEnvVars, labels and globalEnvVars items": ENV_VAR,
    "fileExistenceTests[]": FILE_EXISTENCE,
    "fileContentTests[]": FILE_CONTENT,
    "commandTests[]": COMMAND,
    "containerRunOptions": RUN_OPTIONS,
}


def keys(table: tuple[Key, ...]) -> dict[str, Key]:
    return {key.name: key for key in table}
