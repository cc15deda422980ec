"""docs/scan.md and deploy/kubernetes/ cannot drift from the code: the JSON field tables are
current and describe every path of real scan reports (and no other), every `inspector` command
shown parses with the real CLI, and the Kubernetes recipe is an Indexed Job whose size, run id
and report step agree with each other."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest

from inspector.cli.commands import cli, main
from inspector.facts.fielddoc import kinds, type_kinds, walk
from inspector.scan.fields import FIELDS
from tests.conftest import REPO
from tests.postgres import postgres_server, postgres_url  # noqa: F401 - fixtures
from tests.test_scan import V2, _push, registry  # noqa: F401 - the loopback registry fixture

DOC = REPO / "docs" / "scan.md"
README = REPO / "README.md"
DEPLOY = REPO / "deploy" / "kubernetes"
KINDS = {"string", "integer", "number", "boolean", "array", "object", "null"}
SHELL_END = {"||", "&&", ";", "|", "&", ">", ">>", "<", "2>", "2>&1"}

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML is a test dependency
    yaml = None
# The tests that read YAML (the Kubernetes manifests, the CI recipes) need PyYAML.
needs_yaml = pytest.mark.skipif(yaml is None, reason="PyYAML is not installed")


# --- the JSON field tables ---------------------------------------------------------------------


def _problems(doc: dict[str, Any]) -> list[str]:
    """What in `doc` the field tables do not account for: a path, a kind or a value."""
    problems = []
    for path, seen in kinds(doc, FIELDS).items():
        field = FIELDS.get(path)
        if field is None:
            problems.append(f"{path}: not described in inspector/scan/fields.py")
        elif not seen <= type_kinds(field.type):
            problems.append(f"{path}: {sorted(seen)} is not {field.type!r}")
    for path, value in walk(doc, FIELDS):
        field = FIELDS.get(path)
        if field and field.values and value not in field.values:
            problems.append(f"{path}: {value!r} is not one of {field.values}")
    return problems


def test_the_field_tables_in_the_doc_are_current():
    """docs/scan.md holds exactly the tables scripts/gen_scan_doc.py renders today."""
    sys.path.insert(0, str(REPO / "scripts"))
    import gen_scan_doc

    text = DOC.read_text(encoding="utf-8")
    assert text == gen_scan_doc.render(text), "docs/scan.md is stale: run `make docs`"


def test_every_field_has_a_known_type_and_one_line_of_text():
    """Types use JSON kinds only, texts are single lines, enumerations name each value."""
    for path, field in FIELDS.items():
        assert type_kinds(field.type) <= KINDS, f"{path}: unknown type {field.type!r}"
        assert field.text.strip(), f"{path}: no description"
        assert "\n" not in field.text, f"{path}: the description is not one line"
        unnamed = [v for v in field.values if f'"{v}"' not in field.text]
        assert not unnamed, f"{path}: the description does not name {unnamed}"


def _scan(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    capsys.readouterr()
    code = main(["scan", *args, "--no-config", "--format", "json", "--page-size", "2"])
    out = capsys.readouterr().out
    assert code in (0, 1, 2), out
    assert out.startswith("{"), out
    return json.loads(out)  # type: ignore[no-any-return]


def test_real_scan_reports_are_fully_described(registry, tmp_path, capsys):  # noqa: F811
    """A first run (every platform, a broken image, a repository that does not exist), a second
    after a tag moved, and an unfinished sharded run, against an advisory database: every path,
    kind and value in them is described, and every described path occurs in them."""
    from inspector.scan.store import default_path
    from tests.test_scan_rematch import RICH_ADVISORY, _export, _import

    address, _ = registry
    target = f"registry:{address}"
    _import(str(default_path()), _export(tmp_path / "osv", [RICH_ADVISORY]))
    first = _scan(capsys, target, "--repo", "t/*", "--repo", "team/*", "--repo", "t/nope",
                  "--all-platforms")  # fmt: skip
    _push(address, "t/app", "latest", V2, created="2026-11-25T00:00:00Z")
    second = _scan(capsys, target, "--repo", "t/app")
    capsys.readouterr()
    assert main(["scan", target, "--no-config", "--repo", "t/api", "--run", "half",
                 "--shard", "0/2"]) in (0, 2)  # fmt: skip
    unfinished = _scan(capsys, target, "--run", "half", "--finish")
    reports = {"first": first, "second": second, "unfinished": unfinished}
    assert {name: _problems(doc) for name, doc in reports.items()} == {n: [] for n in reports}
    seen = set().union(*(kinds(doc, FIELDS) for doc in reports.values()))
    assert sorted(set(FIELDS) - seen) == [], "described but never written"
    # The documents really show what they are here to cover.
    statuses = {i["status"] for doc in reports.values() for i in doc["images"]}
    assert statuses == {"audited", "unchanged", "error"}
    assert first["discovery_errors"]
    assert any(i["platform"] for i in first["images"])
    assert any(i["fixed"] for i in second["images"])
    assert unfinished["run"]["status"] == "running"
    assert unfinished["run"]["finished"] is None


def test_problems_are_found():
    """An undescribed path, a wrong kind and a value outside an enumeration are each reported."""
    doc = {"schema_version": "1", "kind": "inspector-scan", "extra": 1,
           "images": [{"status": "maybe"}]}  # fmt: skip
    assert len(_problems(doc)) == 3


# --- every command shown parses --------------------------------------------------------------


def _blocks(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return re.findall(r"^```(?:yaml|yml|sh|shell|console)\n(.*?)^```", text, re.S | re.M)


def _command_lines(text: str) -> list[list[str]]:
    """The argument lists after `inspector` on the lines of `text` that run it."""
    found = []
    for line in text.replace("\\\n", " ").splitlines():
        line = re.sub(r"^(- |run: |\$ |exec )+", "", line.strip())
        if not line.startswith("inspector "):
            continue
        words = shlex.split(line, comments=True)
        for i, word in enumerate(words):
            if word in SHELL_END:
                words = words[:i]
                break
        found.append(words[1:])
    return found


def _manifests() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(DEPLOY.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return docs


def _cronjob(name: str) -> dict[str, Any]:
    (found,) = [d for d in _manifests() if d["kind"] == "CronJob" and d["metadata"]["name"] == name]
    return found


def _container(cronjob: dict[str, Any]) -> dict[str, Any]:
    (container,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    return container


def _expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' expansion of `$(NAME)` in command and args: a defined variable is replaced,
    `$$` is one `$`, and anything else is left as it is (as the kubelet does)."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "$" and i + 1 < len(text):
            if text[i + 1] == "$":
                out.append("$")
                i += 2
                continue
            if text[i + 1] == "(" and (end := text.find(")", i + 2)) != -1:
                name = text[i + 2 : end]
                out.append(env.get(name, text[i : end + 1]))
                i = end + 1
                continue
        out.append(text[i])
        i += 1
    return "".join(out)


def _container_commands(container: dict[str, Any]) -> list[list[str]]:
    env = {e["name"]: f"<{e['name']}>" for e in container.get("env", [])}
    words = [_expand(w, env) for w in [*container.get("command", []), *container.get("args", [])]]
    if words[:1] == ["inspector"]:
        return [words[1:]]
    if words[:2] == ["/bin/sh", "-c"]:
        return _command_lines(words[2])
    raise AssertionError(f"{container['name']}: runs neither inspector nor /bin/sh -c")


def _deploy_commands() -> list[list[str]]:
    if yaml is None:
        return []
    return [args for d in _manifests() if d["kind"] == "CronJob"
            for args in _container_commands(_container(d))]  # fmt: skip


DOC_COMMANDS = [args for block in _blocks(DOC) for args in _command_lines(block)]
README_COMMANDS = [args for block in _blocks(README) for args in _command_lines(block)
                   if args[:1] in (["scan"], ["runs"])]  # fmt: skip


ALL_COMMANDS = [*DOC_COMMANDS, *README_COMMANDS, *_deploy_commands()]


def _parse(args: list[str]) -> tuple[str, dict[str, Any]]:
    """Parse like `inspector ARGS` would, without running: the (sub)command and its params."""
    command: click.Command = cli
    ctx = cli.make_context("inspector", list(args))
    names = []
    while isinstance(command, click.Group):
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
        if not rest:
            break
        name, found, rest = command.resolve_command(ctx, rest)
        assert found is not None, name
        names.append(name)
        command, ctx = found, found.make_context(name, rest, parent=ctx)
    return " ".join(names), ctx.params


def _check_values(params: dict[str, Any]) -> None:
    """The option values the CLI parses after click: durations, shares, dates, the target."""
    from inspector.scan.command import parse_duration, parse_share
    from inspector.scan.discover import parse_target
    from inspector.scan.select import parse_since

    if params.get("max_time"):
        parse_duration(params["max_time"])
    if params.get("since"):
        parse_since(params["since"])
    if params.get("shard") and "$" not in params["shard"]:
        parse_share(params["shard"], params.get("shards"))
    if params.get("target"):
        parse_target(params["target"])
    if params.get("shard") or (params.get("shards") or 1) > 1:
        assert params.get("run_id"), "shards of one run must share --run"


@pytest.mark.parametrize(
    "args",
    ALL_COMMANDS,
    ids=[" ".join(a) for a in ALL_COMMANDS],
)
def test_every_documented_command_parses(args, tmp_path, monkeypatch):
    """Each command and option shown exists and takes the value given."""
    monkeypatch.chdir(tmp_path)
    for word in args:  # files an option insists exist (--repos-from) exist here
        if re.fullmatch(r"[\w.-]+\.(txt|toml)", word):
            (tmp_path / word).write_text("")
    try:
        name, params = _parse(args)
    except click.ClickException as exc:
        pytest.fail(f"`inspector {' '.join(args)}`: {exc.format_message()}")
    assert name in ("scan", "runs", "runs show", "db update", "db status"), name
    _check_values(params)


def test_the_command_check_can_fail():
    """An unknown option, a bad value or a missing subcommand is caught, so drift would be."""
    with pytest.raises(click.NoSuchOption):
        _parse(["scan", "registry:r.example", "--parallel", "4"])
    with pytest.raises(click.BadParameter):
        _parse(["scan", "registry:r.example", "--shards", "four"])
    with pytest.raises(click.UsageError):
        _parse(["runs", "list"])
    from inspector.errors import InspectorError

    with pytest.raises(InspectorError):
        _check_values(_parse(["scan", "registry:r.example", "--max-time", "3 hours"])[1])


def test_the_doc_covers_every_option_and_recipe():
    """Every option of scan, runs and runs show is named in docs/scan.md, and the doc shows
    sharded scans, --finish, and the GitLab and GitHub recipes with their index variables."""
    text = DOC.read_text(encoding="utf-8")
    runs = cli.commands["runs"]
    assert isinstance(runs, click.Group)
    commands = [cli.commands["scan"], runs, runs.commands["show"]]
    options = {o for c in commands for p in c.params if isinstance(p, click.Option)
               for o in p.opts if o.startswith("--") and o != "--help"}  # fmt: skip
    assert sorted(o for o in options if o not in text) == []
    lines = [" ".join(a) for a in DOC_COMMANDS]
    assert any("--finish" in line for line in lines)
    assert any("CI_NODE_INDEX - 1" in line and "$CI_NODE_TOTAL" in line for line in lines)
    assert any("matrix.shard" in line for line in lines)
    assert "parallel: 4" in text
    assert "shard: [0, 1, 2, 3]" in text
    assert README_COMMANDS, "the README's nightly scan is gone"


# --- the Kubernetes recipe ----------------------------------------------------------------------


def _option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


@needs_yaml
def test_the_scan_is_an_indexed_job_of_as_many_pods_as_shards():
    """completionMode Indexed, completions == parallelism == --shards, and a run id that is
    the Job's name (the same in every pod) expanded into --run."""
    cronjob = _cronjob("inspector-scan")
    job = cronjob["spec"]["jobTemplate"]["spec"]
    container = _container(cronjob)
    (args,) = _container_commands(container)
    assert job["completionMode"] == "Indexed"
    assert job["completions"] == job["parallelism"] == int(_option(args, "--shards"))
    assert "--shard" not in args  # the index comes from JOB_COMPLETION_INDEX
    env = {e["name"]: e for e in container["env"]}
    assert _option(container["args"], "--run") == "$(RUN_ID)"
    label = env["RUN_ID"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert label in ("metadata.labels['batch.kubernetes.io/job-name']",
                     "metadata.labels['job-name']")  # fmt: skip
    assert env["INSPECTOR_DB"]["valueFrom"]["secretKeyRef"]
    assert env["DOCKER_CONFIG"]["value"] in {m["mountPath"] for m in container["volumeMounts"]}
    # Exit 2 fails the index without a retry; that needs these two settings.
    rule = job["podFailurePolicy"]["rules"][0]
    assert (rule["action"], rule["onExitCodes"]["values"]) == ("FailIndex", [2])
    assert rule["onExitCodes"]["containerName"] == container["name"]
    assert job["backoffLimitPerIndex"] >= 1
    assert job["template"]["spec"]["restartPolicy"] == "Never"
    memory = container["resources"]["requests"]["memory"]
    assert 300 <= int(memory.removesuffix("Mi")) <= 400


def _minutes(schedule: str) -> int:
    """Minutes after midnight of a daily "M H * * *" schedule."""
    found = re.fullmatch(r"(\d+) (\d+) \* \* \*", schedule)
    assert found, f"not a daily schedule: {schedule!r}"
    return int(found[2]) * 60 + int(found[1])


@needs_yaml
def test_the_report_names_the_scan_job_and_runs_after_its_deadline():
    """The report CronJob computes the scan Job's name from the scan CronJob's name and time,
    runs after the scan Job's deadline, and --finishes that run with the same target and policy."""
    scan, report = _cronjob("inspector-scan"), _cronjob("inspector-scan-report")
    assert scan["spec"]["timeZone"] == report["spec"]["timeZone"] == "Etc/UTC"
    start = _minutes(scan["spec"]["schedule"])
    deadline = scan["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"]
    assert _minutes(report["spec"]["schedule"]) >= start + deadline / 60
    script = _container(report)["args"][0]
    computed = r'run="([\w-]+)-\$\(\( \$\(date -u -d \'today (\d\d):(\d\d)\' \+%s\) / 60 \)\)"'
    name = re.search(computed, script)
    assert name, script
    assert name[1] == scan["metadata"]["name"]
    assert int(name[2]) * 60 + int(name[3]) == start
    (finish,) = _container_commands(_container(report))
    (shard,) = _container_commands(_container(scan))
    assert "--finish" in finish
    assert _option(finish, "--run") == "$run"
    assert finish[1] == shard[1]  # the same target
    assert _option(finish, "--config") == _option(shard, "--config")


@needs_yaml
def test_the_policy_in_the_configmap_loads(tmp_path):
    """The ConfigMap's file is the one --config names, and a policy the real loader accepts."""
    from checks import catalog
    from inspector.policy.config import load

    (configmap,) = [d for d in _manifests() if d["kind"] == "ConfigMap"]
    (args,) = _container_commands(_container(_cronjob("inspector-scan")))
    name = Path(_option(args, "--config")).name
    path = tmp_path / name
    path.write_text(configmap["data"][name], encoding="utf-8")
    assert load(path, catalog()).fail_on == "high"


@needs_yaml
def test_the_kustomization_lists_every_manifest():
    """kubectl apply -k deploy/kubernetes applies every manifest in the folder."""
    (kustomization,) = [d for d in _manifests() if d["kind"] == "Kustomization"]
    files = {p.name for p in DEPLOY.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files


@needs_yaml
def test_kubernetes_expansion_leaves_shell_substitutions_alone():
    """The report's shell line survives the kubelet's $(VAR) expansion unchanged, and a
    defined variable is replaced: the model the tests above rely on."""
    script = _container(_cronjob("inspector-scan-report"))["args"][0]
    assert _expand(script, {"RUN_ID": "x", "INSPECTOR_DB": "y", "HOME": "z"}) == script
    assert _expand("--run $(RUN_ID) $$(date)", {"RUN_ID": "night-1"}) == "--run night-1 $(date)"


@needs_yaml
def test_the_ci_recipes_are_yaml_with_as_many_jobs_as_shards():
    """The GitLab and GitHub recipes parse as YAML; the matrix has as many entries as the N of
    --shard I/N, and the GitLab report job runs even when a shard failed."""
    blocks = [yaml.safe_load(b) for b in re.findall(r"^```yaml\n(.*?)^```", DOC.read_text(),
                                                    re.S | re.M)]  # fmt: skip
    (gitlab,) = [b for b in blocks if isinstance(b, dict) and "stages" in b]
    (github,) = [b for b in blocks if isinstance(b, dict) and "jobs" in b]
    assert isinstance(gitlab["inspector-scan"]["parallel"], int)
    assert gitlab["inspector-report"]["when"] == "always"
    assert gitlab["inspector-report"]["stage"] == gitlab["stages"][-1]
    shards = github["jobs"]["scan"]["strategy"]["matrix"]["shard"]
    (run,) = [s["run"] for s in github["jobs"]["scan"]["steps"] if "--shard" in s.get("run", "")]
    count = re.search(r"--shard \"\$\{\{ matrix.shard \}\}/(\d+)\"", run)
    assert count, run
    assert shards == list(range(int(count[1])))
    assert github["jobs"]["report"]["needs"] == "scan"
    assert github["jobs"]["report"]["if"] == "always()"


@needs_yaml
def test_the_kubernetes_commands_scan_and_report_a_real_registry(registry, postgres_url, tmp_path):  # noqa: F811
    """The manifests' own command lines, run as the pods would (4 shards with
    JOB_COMPLETION_INDEX and the Job's name as RUN_ID, then the report's shell script) against
    the loopback registry and a real PostgreSQL: the report finds the run complete with every
    image, and exits 2 for the broken one."""
    address, _ = registry
    scan, report = _cronjob("inspector-scan"), _cronjob("inspector-scan-report")
    (configmap,) = [d for d in _manifests() if d["kind"] == "ConfigMap"]
    (policy_name,) = configmap["data"]
    policy = tmp_path / policy_name
    policy.write_text(configmap["data"][policy_name], encoding="utf-8")
    # The Job's name for today's run, as the CronJob controller makes it.
    hour, minute = divmod(_minutes(scan["spec"]["schedule"]), 60)
    today = dt.datetime.now(dt.UTC).replace(hour=hour, minute=minute, second=0, microsecond=0)
    run_id = f"{scan['metadata']['name']}-{int(today.timestamp()) // 60}"

    def local(text: str) -> str:
        """A manifest's words with this test's registry and policy file."""
        text = text.replace("registry:registry.example", f"registry:{address}")
        return text.replace(f"/etc/inspector/policy/{policy_name}", str(policy))

    container = _container(scan)
    args = [local(_expand(w, {"RUN_ID": run_id})) for w in container["args"]]
    env = {**os.environ, "INSPECTOR_DB": postgres_url, "HOME": str(tmp_path)}

    def pod(index: int) -> subprocess.Popen[str]:
        pod_env = {**env, "JOB_COMPLETION_INDEX": str(index),
                   "INSPECTOR_CACHE_DIR": str(tmp_path / f"cache{index}")}  # fmt: skip
        return subprocess.Popen([sys.executable, "-m", container["command"][0], *args],
                                env=pod_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)  # fmt: skip

    shards = [pod(i) for i in range(scan["spec"]["jobTemplate"]["spec"]["completions"])]
    for shard in shards:
        _, err = shard.communicate(timeout=300)
        assert shard.returncode in (0, 2), err  # 2: the broken image is in one shard's share
    shim = tmp_path / "bin" / "inspector"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m inspector "$@"\n')
    shim.chmod(0o755)
    report_container = _container(report)
    done = subprocess.run(
        [*report_container["command"], local(report_container["args"][0])],
        env={**env, "PATH": f"{shim.parent}:{os.environ['PATH']}"},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr  # the broken image: read the report
    assert f"run {run_id} of registry:{address} (complete)" in done.stdout, done.stdout
    assert "9 images in 5 repositories" in done.stdout
    assert "t/broken" in done.stdout


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_doc_links_resolve():
    """Every #anchor in docs/scan.md names one of its headings, and every relative link a file
    or folder of the repository."""
    text = re.sub(r"^```.*?^```", "", DOC.read_text(encoding="utf-8"), flags=re.S | re.M)
    anchors = {_slug(h) for h in re.findall(r"^#+ (.+)$", text, re.M)}
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert sorted(a for a in links if a.startswith("#") and a[1:] not in anchors) == []
    files = [link for link in links if not link.startswith(("#", "http"))]
    assert sorted(f for f in files if not (DOC.parent / f).exists()) == []
    assert _slug("Time budget: `--max-time` and partial runs") == (
        "time-budget---max-time-and-partial-runs"
    )
