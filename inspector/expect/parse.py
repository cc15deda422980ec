"""Read one container-structure-test file (YAML or JSON, schemaVersion 2.0.0) into its tests.

Strict, as CST is: an unknown key, a value of the wrong type, a missing required key, a regular
expression that does not compile or a key we do not support stops the audit with exit 2 and ONE
line naming the file, the test and the field. The YAML is walked as nodes (PyYAML's composer), so
scalars keep the text they were written with (`1.10` stays "1.10" where a string is wanted, as
go-yaml reads it) and every error can give its line.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from inspector.errors import InspectorError
from inspector.expect import format as fmt
from inspector.expect.model import (
    CommandTest,
    EnvVar,
    ExpectationFile,
    FileContentTest,
    FileExistenceTest,
    MetadataTest,
)
from inspector.expect.regex import problem

MAX_BYTES = 4 * 1024 * 1024  # far above any real test file; a bigger one is a mistake
_BOOL_TAG, _INT_TAG, _NULL_TAG = (f"tag:yaml.org,2002:{t}" for t in ("bool", "int", "null"))
_TRUE = {"true", "yes", "on", "y"}
_FALSE = {"false", "no", "off", "n"}


class ExpectError(InspectorError):
    """An expectation file that cannot be used; the message is one line."""


class _Where:
    """Where in the file a value sits, for the one error line."""

    def __init__(self, file: str, test: str, field: str = "") -> None:
        self.file, self.test, self.field = file, test, field

    def at(self, field: str) -> _Where:
        joined = f"{self.field}{field}" if field.startswith("[") else f"{self.field}.{field}"
        return _Where(self.file, self.test, joined if self.field else field)

    def error(self, problem_text: str, node: yaml.Node | None = None) -> ExpectError:
        line = f" (line {node.start_mark.line + 1})" if node is not None else ""
        field = f": field {self.field}" if self.field else ""
        return ExpectError(f"{self.file}: {self.test}{field}{line}: {problem_text}")


def load(path: Path, name: str | None = None, environ: Mapping[str, str] | None = None
         ) -> ExpectationFile:  # fmt: skip
    """The file at `path`; `name` is how findings will name it (default: `path` as given)."""
    shown = name or str(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ExpectError(f"{shown}: cannot read it: {exc.strerror or exc}") from exc
    if len(raw) > MAX_BYTES:
        raise ExpectError(f"{shown}: over {MAX_BYTES // (1024 * 1024)} MiB: not a test file")
    return parse(raw, shown, os.environ if environ is None else environ)


def parse(raw: bytes, name: str, environ: Mapping[str, str]) -> ExpectationFile:
    top = _Where(name, "file")
    try:
        text = raw.decode("utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except UnicodeDecodeError as exc:
        raise top.error(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ExpectError(f"{name}: file{where}: not valid YAML: {what}") from exc
    if root is None:
        raise top.error("empty: a container-structure-test file needs schemaVersion")
    table = _mapping(root, top, fmt.TOP)
    version = table.get("schemaVersion")
    if version is None:
        raise top.at("schemaVersion").error("required (write schemaVersion: 2.0.0)")
    if _string(version, top.at("schemaVersion")) != fmt.SCHEMA_VERSION:
        raise top.at("schemaVersion").error(
            f"{version.value!r} is not supported: inspector reads schemaVersion "
            f"{fmt.SCHEMA_VERSION} (CST's current one)",
            version,
        )
    options = table.get("containerRunOptions")
    run_user, run_env = _run_options(options, _Where(name, "containerRunOptions"), environ)
    metadata = table.get("metadataTest")
    return ExpectationFile(
        name=name,
        global_env_vars=_env_vars(
            table.get("globalEnvVars"), _Where(name, "globalEnvVars"), value_needed=True
        ),
        metadata=_metadata(metadata, _Where(name, "metadataTest")) if metadata else None,
        file_existence=tuple(_tests(table, "fileExistenceTests", name, _file_existence)),
        file_content=tuple(_tests(table, "fileContentTests", name, _file_content)),
        commands=tuple(_tests(table, "commandTests", name, _command)),
        run_user=run_user,
        run_env=run_env,
    )


# --- shapes ------------------------------------------------------------------------------------


def _null(node: yaml.Node | None) -> bool:
    return node is None or (isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG)


def _mapping(node: yaml.Node, where: _Where, table: tuple[fmt.Key, ...]) -> dict[str, yaml.Node]:
    """The keys of a mapping node, each known and supported by `table`."""
    if not isinstance(node, yaml.MappingNode):
        raise where.error("must be a mapping of keys to values", node)
    try:
        yaml.SafeLoader("").flatten_mapping(node)  # YAML merge keys (<<: *defaults)
    except yaml.YAMLError as exc:
        raise where.error(f"a merge key (<<) that is not a mapping: {exc}", node) from exc
    known = fmt.keys(table)
    out: dict[str, yaml.Node] = {}
    for key_node, value in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        if key not in known:
            shown = key if key is not None else "(a key that is not text)"
            raise where.at(str(shown)).error(f"unknown field (known: {', '.join(known)})", key_node)
        spec = known[key]
        if not spec.supported:
            raise where.at(key).error(spec.meaning, key_node)
        out[key] = value
    for spec in table:
        value = out.get(spec.name)
        empty = _null(value) or (isinstance(value, yaml.ScalarNode) and value.value == "")
        if spec.required and empty and spec.name != "schemaVersion":
            raise where.at(spec.name).error("required", node)
    return out


def _string(node: yaml.Node, where: _Where) -> str:
    if _null(node):
        return ""  # go-yaml leaves a string empty for `key:` or `key: ~`
    if not isinstance(node, yaml.ScalarNode):
        raise where.error("must be a string", node)
    return str(node.value)


def _bool(node: yaml.Node, where: _Where) -> bool:
    text = node.value.lower() if isinstance(node, yaml.ScalarNode) else None
    if isinstance(node, yaml.ScalarNode) and node.tag == _BOOL_TAG and text in _TRUE | _FALSE:
        return text in _TRUE
    raise where.error("must be true or false", node)


def _int(node: yaml.Node, where: _Where) -> int:
    if isinstance(node, yaml.ScalarNode) and node.tag == _INT_TAG:
        try:
            return int(node.value.replace("_", ""), 0)
        except ValueError:
            pass
    raise where.error("must be a whole number", node)


def _strings(node: yaml.Node | None, where: _Where) -> tuple[str, ...]:
    if _null(node):
        return ()
    assert node is not None
    if not isinstance(node, yaml.SequenceNode):
        raise where.error("must be a list of strings", node)
    return tuple(_string(item, where) for item in node.value)


def _regexes(node: yaml.Node | None, where: _Where) -> tuple[str, ...]:
    patterns = _strings(node, where)
    for pattern, item in zip(patterns, node.value if node is not None and patterns else (),
                             strict=False):  # fmt: skip
        if why := problem(pattern):
            raise where.error(why, item)
    return patterns


def _commands(node: yaml.Node | None, where: _Where) -> tuple[tuple[str, ...], ...]:
    if _null(node):
        return ()
    assert node is not None
    if not isinstance(node, yaml.SequenceNode):
        raise where.error("must be a list of commands, each a list of strings", node)
    out = []
    for item in node.value:
        command = _strings(item, where)
        if not command:
            raise where.error("an empty command (CST refuses them too)", item)
        out.append(command)
    return tuple(out)


def _env_vars(node: yaml.Node | None, where: _Where, *, value_needed: bool = False,
              regex_allowed: bool = False) -> tuple[EnvVar, ...]:  # fmt: skip
    if _null(node):
        return ()
    assert node is not None
    if not isinstance(node, yaml.SequenceNode):
        raise where.error("must be a list of mappings with key and value", node)
    out = []
    for index, item in enumerate(node.value):
        at = where.at(f"[{index}]")
        fields = _mapping(item, at, fmt.ENV_VAR)
        key = _string(fields["key"], at.at("key"))
        value = _string(fields["value"], at.at("value")) if "value" in fields else ""
        regex = _bool(fields["isRegex"], at.at("isRegex")) if "isRegex" in fields else False
        if value_needed and not value:
            raise at.at("value").error("required (CST refuses an empty value)", item)
        if regex and not regex_allowed:
            raise at.at("isRegex").error("only metadata tests read values as regular expressions",
                                         item)  # fmt: skip
        if regex and (why := problem(value)):
            raise at.at("value").error(why, fields["value"])
        out.append(EnvVar(key, value, regex))
    return tuple(out)


def _tests(table: dict[str, yaml.Node], section: str, file: str,
           build: Callable[[dict[str, yaml.Node], _Where], Any]) -> list[Any]:  # fmt: skip
    node = table.get(section)
    if _null(node):
        return []
    assert node is not None
    if not isinstance(node, yaml.SequenceNode):
        raise _Where(file, section).error("must be a list of tests", node)
    out, names = [], set()
    keys = {"fileExistenceTests": fmt.FILE_EXISTENCE, "fileContentTests": fmt.FILE_CONTENT,
            "commandTests": fmt.COMMAND}[section]  # fmt: skip
    for index, item in enumerate(node.value):
        title = _title(item)
        where = _Where(file, f"{section}[{index}]" + (f" {title!r}" if title else ""))
        test = build(_mapping(item, where, keys), where)
        if test.name in names:
            raise where.at("name").error(
                f"another {section} test is called {test.name!r}: each finding is named by its "
                "test, so names must differ", item)  # fmt: skip
        names.add(test.name)
        out.append(test)
    return out


def _title(node: yaml.Node) -> str | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if getattr(key, "value", None) == "name" and isinstance(value, yaml.ScalarNode):
                return str(value.value)
    return None


# --- the tests ---------------------------------------------------------------------------------


def _file_existence(f: dict[str, yaml.Node], where: _Where) -> FileExistenceTest:
    executable = _string(f["isExecutableBy"], where.at("isExecutableBy")) if "isExecutableBy" in f \
        else ""  # fmt: skip
    if executable not in ("", "owner", "group", "other", "any"):
        raise where.at("isExecutableBy").error(
            f"{executable!r} is not one of owner, group, other, any", f["isExecutableBy"]
        )
    return FileExistenceTest(
        name=_string(f["name"], where.at("name")),
        path=_string(f["path"], where.at("path")),
        should_exist=_bool(f["shouldExist"], where.at("shouldExist")) if "shouldExist" in f
        else True,
        permissions=_string(f["permissions"], where.at("permissions")) if "permissions" in f
        else "",
        uid=_int(f["uid"], where.at("uid")) if "uid" in f else None,
        gid=_int(f["gid"], where.at("gid")) if "gid" in f else None,
        is_executable_by=executable,
    )  # fmt: skip


def _file_content(f: dict[str, yaml.Node], where: _Where) -> FileContentTest:
    return FileContentTest(
        name=_string(f["name"], where.at("name")),
        path=_string(f["path"], where.at("path")),
        expected_contents=_regexes(f.get("expectedContents"), where.at("expectedContents")),
        excluded_contents=_regexes(f.get("excludedContents"), where.at("excludedContents")),
    )


def _command(f: dict[str, yaml.Node], where: _Where) -> CommandTest:
    return CommandTest(
        name=_string(f["name"], where.at("name")),
        command=_string(f["command"], where.at("command")),
        args=_strings(f.get("args"), where.at("args")),
        env_vars=_env_vars(f.get("envVars"), where.at("envVars"), value_needed=True),
        setup=_commands(f.get("setup"), where.at("setup")),
        teardown=_commands(f.get("teardown"), where.at("teardown")),
        exit_code=_int(f["exitCode"], where.at("exitCode")) if "exitCode" in f else 0,
        expected_output=_regexes(f.get("expectedOutput"), where.at("expectedOutput")),
        excluded_output=_regexes(f.get("excludedOutput"), where.at("excludedOutput")),
        expected_error=_regexes(f.get("expectedError"), where.at("expectedError")),
        excluded_error=_regexes(f.get("excludedError"), where.at("excludedError")),
    )


def _metadata(node: yaml.Node, where: _Where) -> MetadataTest:
    f = _mapping(node, where, fmt.METADATA)

    def listed(key: str) -> tuple[str, ...] | None:
        return None if _null(f.get(key)) else _strings(f[key], where.at(key))

    for key in ("exposedPorts", "volumes"):
        if any(not item for item in listed(key) or ()):
            raise where.at(key).error("an empty item (CST refuses them too)", f[key])
    return MetadataTest(
        env_vars=_env_vars(f.get("envVars"), where.at("envVars"), regex_allowed=True),
        unbound_env_vars=_env_vars(f.get("unboundEnvVars"), where.at("unboundEnvVars")),
        labels=_env_vars(f.get("labels"), where.at("labels"), regex_allowed=True),
        entrypoint=listed("entrypoint"),
        cmd=listed("cmd"),
        exposed_ports=listed("exposedPorts") or (),
        unexposed_ports=listed("unexposedPorts") or (),
        volumes=listed("volumes") or (),
        unmounted_volumes=listed("unmountedVolumes") or (),
        workdir=_string(f["workdir"], where.at("workdir")) if "workdir" in f else "",
        user=_string(f["user"], where.at("user")) if "user" in f else "",
    )


def _run_options(node: yaml.Node | None, where: _Where, environ: Mapping[str, str]
                 ) -> tuple[str, tuple[tuple[str, str], ...]]:  # fmt: skip
    if _null(node):
        return "", ()
    assert node is not None
    f = _mapping(node, where, fmt.RUN_OPTIONS)
    user = _string(f["user"], where.at("user")) if "user" in f else ""
    names = _strings(f.get("envVars"), where.at("envVars"))
    return user, tuple((n, environ[n]) for n in names if environ.get(n))
