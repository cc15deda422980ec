"""docs/expectations.md, generated from the parser's own key tables (`format.py`) by
scripts/gen_expect_doc.py; a test fails when the page is stale."""

from __future__ import annotations

from inspector.expect import format as fmt
from inspector.expect.collect import FILE_BUDGET
from inspector.expect.judge import CONTENT_CAP
from inspector.probes.commands import COMMAND_TIMEOUT, OUTPUT_LIMIT

INTRO = f"""\
# Expectations: the team's own container-structure-test files

`inspector audit IMAGE --expect FILE` (repeatable), or `expect = ["ci/cst.yaml"]` in the
policy (docs/config.md; paths relative to the policy file, used by `audit`, `baseline` and
`scan`), judges the image against [container-structure-test](https://github.com/GoogleContainerTools/container-structure-test)
files as they are: schemaVersion {fmt.SCHEMA_VERSION}, YAML or JSON, read as strictly as CST
reads them.

Each test that fails is a finding of **COR030** (`expectation-failed`, high by default; the
policy's `[severity]` may change it), located at the file and the test
(`location.expectation`: `ci/cst.yaml: test 'python runs'`), so the gate, SARIF, JUnit,
baselines and ignores apply to it as to every other finding (an ignore's `rules` can name a
test kind: `metadata`, `file-existence`, `file-content`, `command`). A test that could not be
decided (command tests under `--no-probe`, of an archive, or of a registry image not pulled) is
a **medium** COR030 finding that says why: an expectation never passes unread. Every result,
passed ones included, is in the facts' `expectations` section (docs/facts.md).

A broken file stops the audit before any image is read: exit 2 and one line naming the file,
the test and the field (shown here on two lines), e.g.

    inspector: ci/cst.yaml: commandTests[1] 'python version': field expectedOuput (line 9):
    unknown field (known: name, command, args, ...)

## How each kind of test is decided

- **Metadata tests** compare the image config the layers came with; no container. CST's one
  "Metadata Test" is split into one result per key and item (`metadataTest.user`,
  `metadataTest.envVars[PORT]`, `metadataTest.exposedPorts[8080]`), so one wrong value is one
  finding. Values of secret-looking variables are compared as they are but shown redacted.
- **File existence tests** read the merged filesystem (whiteouts applied); no container.
- **File content tests** read the file's first {CONTENT_CAP // 1024 // 1024} MiB, captured in
  the single pass over the layers: the paths the files name join what the analysers capture
  (and the layer cache's key, so the first audit with a new set of paths reads the layers
  again; later ones are warm). A path reached through a symlink whose target no other test or
  analyser captures is reported as not run: name the real path.
- **Command tests** run in **one** hardened probe container per file, never a container per
  test: created from the image's ID with the network off, every capability dropped,
  `no-new-privileges`, the probes' memory, PID and log limits, kept open by the image's own
  Python (or `sleep`) and removed afterwards whatever happens. Each command runs in it with
  `docker exec`, as the image's USER in its WORKDIR, without the ENTRYPOINT (as CST does),
  with at most {COMMAND_TIMEOUT:g}s and {OUTPUT_LIMIT // 1024} KiB of stdout and of stderr; a
  command that passes a limit is killed with the container, which is started again for the
  next test (the container's `starts` count in the facts says so). All of a file's command
  tests share {FILE_BUDGET:g}s. The container carries the label `inspector.probe=expect`.
  Because the tests share a container, a test sees what earlier tests wrote: `teardown` is
  where a test cleans up (CST's docker driver skips teardown, as it starts a container per
  test).

Where the probes know more, the finding says so: a failed `metadataTest.user` quotes the
effective UID the lifecycle probe saw the app run with (an entrypoint that drops privileges);
a command test that fails on an import quotes the static probe's own import failure of the
image's command, and where the missing module is installed off `sys.path`.

## What differs from CST, on purpose

- Command tests run without capabilities and without network: a test that needs either (a
  root `chown`, a download) fails here; the image should not need them at run time either.
- One container per file instead of one per test (see above); setup commands run in it
  instead of being committed to a new image.
- Regular expressions are Go's (RE2) as CST reads them: `^` starts and `$` ends the whole
  output or file (unless `(?m)`), so `^/srv/app$` does not match the line `echo` prints
  (`/srv/app\\n`): write `(?m)^/srv/app$`;
  `\\z` and POSIX classes (`[[:digit:]]`) work; the rest is Python's `re`, which agrees on
  everything RE2 accepts except `\\Q...\\E` and `(?U)` (refused as invalid, exit 2).
- A test name must be unique within its section: it names the finding.
- `scan` judges the policy's files too, without probes (a scan never runs images): its command
  tests are reported as not run. An image whose digest a scan already audited is `unchanged`
  and not judged again, even when the files changed since.

## Keys, one table per section

Generated from the parser's own tables (`inspector/expect/format.py`): a key not listed is an
error (exit 2), as it is for CST.
"""


def render() -> str:
    parts = [INTRO]
    for section, keys in fmt.SECTIONS.items():
        parts.append(f"\n### {section}\n\n| key | type | supported | how inspector reads it |\n"
                     "|---|---|---|---|\n")  # fmt: skip
        for key in keys:
            support = "yes" if key.supported else "**no**"
            required = " (required)" if key.required else ""
            meaning = key.meaning.replace("|", "\\|")
            parts.append(f"| `{key.name}`{required} | {key.kind} | {support} | {meaning} |\n")
    return "".join(parts)
