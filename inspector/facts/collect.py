"""Collecting one image's facts: resolve the reference, read each layer once (or take it from
the cache), merge the layers, run every static analyser, then the probes when asked.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import inspect
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any, BinaryIO

from inspector.analysers import ANALYSERS, analyser_modules, ownership, secret_rules, users
from inspector.analysers.imagedata import ImageData
from inspector.expect import collect as expect_hook
from inspector.expect.model import ExpectationFile
from inspector.facts import cache as static_cache
from inspector.facts import fingerprint_key
from inspector.facts.model import (
    SCHEMA_VERSION,
    Facts,
    FsFacts,
    HistoryFacts,
    ImageFacts,
    LayerFacts,
    WasteFacts,
)
from inspector.facts.sizes import path_sizes
from inspector.facts.vulns import AdvisoryOptions, vulnerability_facts
from inspector.image.config import ImageConfig, config_from_json
from inspector.layers.cache import LayerCache, default_dir
from inspector.layers.model import LayerRead, Scanner
from inspector.layers.overlay import FileSystem, merge
from inspector.layers.reader import read_layer
from inspector.layers.store import LayerStore
from inspector.layers.stored import StoredLayer, read_stored_layer
from inspector.probes import ProbeOptions
from inspector.probes.model import RuntimeFacts, not_applicable, skipped
from inspector.probes.plan import ProbePlan, plan
from inspector.sources import load, parse_reference
from inspector.sources.archive import Known

WASTE_GROUPS = 50
# The modules whose code decides what a layer read captures: a change to any of them must not
# serve stale cached contents.
_READER_MODULES = (
    "inspector.layers.model",
    "inspector.layers.stream",
    "inspector.layers.tar",
    "inspector.layers.reader",
    "inspector.layers.tail",
    "inspector.layers.stored",
    "inspector.layers.dirwalk",
)


def capture_rule(
    expect: Sequence[ExpectationFile] = (),
) -> tuple[Callable[[str, int], int | None], str]:
    """One capture function for the single pass, and a fingerprint of the rules behind it
    (the files expectation content tests name are captured too, and change the fingerprint)."""
    modules = analyser_modules()
    wants = [m.wants for m in modules]
    if expect:
        wants.append(expect_hook.capture(expect))

    def capture(path: str, size: int) -> int | None:
        best = None
        for want in wants:
            cap = want(path, size)
            if cap is not None and (best is None or cap > best):
                best = cap
        return best

    source = "".join(inspect.getsource(m) for m in modules)
    source += "".join(inspect.getsource(importlib.import_module(m)) for m in _READER_MODULES)
    source += inspect.getsource(secret_rules) + inspect.getsource(ownership)
    # Cached hits carry fingerprints made with one key: another key reads its own rows.
    source += secret_rules.key_id()
    source += "".join(f"\0{path}" for path in expect_hook.content_paths(expect))
    return capture, hashlib.sha256(source.encode()).hexdigest()[:16]


# The content scan for credentials, run by the reader on every text file it streams.
SCANNER = Scanner(
    secret_rules.scanned,
    secret_rules.is_text,
    secret_rules.scan,
    secret_rules.SCAN_CAP,
    secret_rules.TEXT_PROBE,
)


def redacted_config(config: ImageConfig, secrets: dict[str, Any]) -> ImageConfig:
    """The config as facts show it: values the secrets analyser flagged replaced by their hint."""
    from inspector.analysers.secrets import redact_argv

    flagged = {(s["where"], s["name"]): s["hint"] for s in secrets.get("secrets", ()) if s["name"]}

    def scrub(where: str, values: dict[str, str]) -> dict[str, str]:
        return {
            k: f"<redacted: {flagged[(where, k)]}>" if (where, k) in flagged else v
            for k, v in values.items()
        }

    def argv(values: list[str] | None) -> list[str] | None:
        return None if values is None else redact_argv([str(v) for v in values])

    healthcheck = config.healthcheck
    if healthcheck and healthcheck.get("Test"):
        healthcheck = {**healthcheck, "Test": argv(healthcheck["Test"])}
    return dataclasses.replace(
        config,
        env=scrub("env", config.env),
        labels=scrub("label", config.labels),
        entrypoint=argv(config.entrypoint),
        cmd=argv(config.cmd),
        healthcheck=healthcheck,
    )


def history_facts(raw_config: dict[str, Any], layer_count: int) -> tuple[HistoryFacts, ...]:
    """History steps with secrets in `created_by` (build arguments) redacted."""
    from inspector.analysers.secrets import redact_text

    steps = raw_config.get("history") or []
    made = [s for s in steps if not s.get("empty_layer")]
    # Only trust the step-to-layer mapping when the counts agree (squashed images lie).
    mapped = len(made) == layer_count
    out, layer = [], 0
    for step in steps:
        empty = bool(step.get("empty_layer"))
        index = None
        if not empty and mapped:
            index, layer = layer, layer + 1
        created_by = redact_text(step.get("created_by") or "") or ""
        out.append(HistoryFacts(step.get("created"), created_by, empty, index))
    return tuple(out)


def waste_facts(fs: FileSystem, steps: Sequence[str | None]) -> tuple[WasteFacts, ...]:
    groups: dict[tuple[int, int, str], list[Any]] = defaultdict(lambda: [0, 0, []])
    for version in fs.removed():
        if not version.bytes:
            continue
        if version.removed_in is None or version.removal is None:
            continue
        group = groups[(version.layer, version.removed_in, version.removal)]
        group[0] += version.bytes
        group[1] += 1
        group[2].append((version.bytes, version.entry.path))
    ordered = sorted(groups.items(), key=lambda item: -item[1][0])[:WASTE_GROUPS]

    def step(i: int) -> str | None:
        return steps[i] if i < len(steps) else None

    return tuple(
        WasteFacts(
            layer,
            step(layer),
            removed_in,
            step(removed_in),
            how,
            total,
            files,
            tuple(p for _, p in sorted(paths, reverse=True)[:5]),
        )
        for (layer, removed_in, how), (total, files, paths) in ordered
    )


def _local_cache(fingerprint: str) -> LayerStore:
    return LayerCache(default_dir() / "layers.sqlite", fingerprint)


def platform_of(raw: dict[str, Any]) -> str | None:
    """The image's platform as indexes and --platform name it, from its config."""
    os_name, arch, variant = raw.get("os"), raw.get("architecture"), raw.get("variant")
    if not (os_name and arch):
        return None
    return f"{os_name}/{arch}" + (f"/{variant}" if variant else "")


def collect(
    reference: str,
    *,
    pull: str = "never",
    use_cache: bool = True,
    probe: ProbeOptions | None = None,
    progress: Callable[[str], None] = lambda message: None,
    runtime: Callable[[ProbePlan], RuntimeFacts] | None = None,
    platform: str | None = None,
    insecure_registries: tuple[str, ...] = (),
    layer_cache: Callable[[str], LayerStore] | None = None,
    advisories: AdvisoryOptions | None = None,
    expect: Sequence[ExpectationFile] = (),
) -> Facts:
    """The facts of one image; runtime probes run only when `probe` options are given, and
    known vulnerabilities are matched only when `advisories` says where the database is.

    `runtime`, when given, replaces the probes: it gets the plan they would have followed.
    `platform` and `insecure_registries` concern `registry:` references (sources.load).
    `layer_cache` opens the layer cache for a capture fingerprint (a scan's shared PostgreSQL
    one); by default, the SQLite file in the user's cache directory. `expect` are the
    expectation files judged into the `expectations` section.
    """
    ref = parse_reference(reference)
    fingerprint_key.ensure()
    capture, fingerprint = capture_rule(expect)
    cache: LayerStore | None = None
    if use_cache:
        cache = (layer_cache or _local_cache)(fingerprint)
    kept: set[str] = set()
    storing: LayerStore | None = None
    try:
        read_count = 0

        def read(stream: BinaryIO) -> LayerRead:
            nonlocal read_count
            read_count += 1
            progress(f"reading layer {read_count}")
            return read_layer(stream, capture, SCANNER, users.tail_pattern)

        def read_stored(layer: StoredLayer) -> LayerRead:
            nonlocal read_count
            read_count += 1
            progress(f"reading layer {read_count} from the engine's storage")
            return read_stored_layer(layer, capture, SCANNER, users.tail_pattern)

        def keep(layer: LayerRead) -> None:
            assert cache is not None
            cache.put(layer)
            kept.add(layer.diff_id)

        known = Known(cache.contains, cache.with_size, cache.claim, keep) if cache else Known()
        loaded = load(
            ref,
            read,
            known,
            pull=pull,
            cached_config=cache.get_config if cache else (lambda image_id: None),
            platform=platform,
            insecure_registries=insecure_registries,
            read_stored=read_stored,
        )
        diff_ids = (loaded.raw_config.get("rootfs") or {}).get("diff_ids") or []
        # Warm: this image's static facts are stored, so its layers need not even be decoded.
        facts_key = static_cache.fingerprint(fingerprint) if cache is not None else None
        warm = None if expect else static_cache.lookup(cache, loaded.image_id, facts_key)
        layers: list[LayerRead] = []
        from_cache: list[bool] = []
        for diff_id in diff_ids if warm is None else ():
            layer = loaded.layers.get(diff_id)
            if layer is None and cache is not None:
                layer = cache.get(diff_id)
                from_cache.append(True)
            else:
                from_cache.append(False)
            if layer is None:
                # A cache row vanished or was damaged between the lookup and now: read afresh.
                return collect(
                    reference,
                    pull=pull,
                    use_cache=False,
                    probe=probe,
                    progress=progress,
                    runtime=runtime,
                    platform=platform,
                    insecure_registries=insecure_registries,
                    layer_cache=layer_cache,
                    advisories=advisories,
                    expect=expect,
                )
            layers.append(layer)
        if cache is not None:
            for layer in loaded.layers.values():
                if layer.diff_id not in kept:
                    cache.put(layer)
            cache.put_config(loaded.image_id, loaded.config_bytes)
            if warm is None:  # still open to store this cold read's static facts, then closed
                storing, cache = cache, None
    finally:
        if cache is not None:
            cache.close()
    runtime = runtime or runtime_for(
        ref.kind, probe, progress, pull=pull, pull_ref=getattr(loaded, "pull_ref", None)
    )
    if warm is not None:
        return warm.complete(reference, ref.kind, loaded, runtime, advisories)
    pull_ref = getattr(loaded, "pull_ref", None)
    expecting = expect_hook.ExpectRun(
        tuple(expect), expect_hook.commands_blocked(ref.kind, probe is not None, pull, pull_ref),
        probe.limits if probe else None) if expect else None  # fmt: skip
    seen = static_cache.PlanSeen(runtime)
    try:
        facts = build_facts(reference, ref.kind, loaded, layers, from_cache, seen, advisories,
                            expecting)  # fmt: skip
        if expecting is None:
            # Expectations judge the merged filesystem itself: audits with them are never
            # served from, nor stored as, the static facts alone.
            static_cache.remember(storing, loaded.image_id, facts_key, facts, seen.plan)
    finally:
        if storing is not None:
            storing.close()
    return facts


def runtime_for(
    kind: str,
    options: ProbeOptions | None,
    progress: Callable[[str], None],
    *,
    pull: str = "never",
    pull_ref: str | None = None,
) -> Callable[[ProbePlan], RuntimeFacts]:
    """How the runtime section is filled: by probes on the engine, or with the reason why not.

    A `registry:` image is probed only when `pull` allows putting it on the engine: pulled by
    the digest of the manifest read (`pull_ref`), so the probed image is the read one."""
    if options is None:
        return lambda _plan: skipped("probes were not requested (--no-probe)")
    if kind == "registry" and pull != "never" and pull_ref:

        def pull_then_probe(target: ProbePlan) -> RuntimeFacts:
            from inspector.probes import probe as run_probes
            from inspector.sources.registry_pull import pull_into_engine

            progress(f"pulling {pull_ref} into the engine to probe it")
            pull_into_engine(pull_ref, target.image_id, pull)
            return run_probes(target, options, progress)

        return pull_then_probe
    if kind == "registry":
        return lambda _plan: skipped(
            "the image was read from a registry; runtime probes need it on a Docker engine "
            "(run with --pull missing)"
        )
    if kind != "daemon":
        return lambda _plan: not_applicable(
            "probes run images on a Docker engine and this image is an archive: "
            "`docker load` it and give its ID"
        )

    def run(target: ProbePlan) -> RuntimeFacts:
        from inspector.probes import probe as run_probes

        return run_probes(target, options, progress)

    return run


def build_facts(
    reference: str,
    kind: str,
    loaded: Any,
    layers: list[LayerRead],
    from_cache: list[bool],
    runtime: Callable[[ProbePlan], RuntimeFacts] | None = None,
    advisories: AdvisoryOptions | None = None,
    expect: expect_hook.ExpectRun | None = None,
) -> Facts:
    raw = loaded.raw_config
    config = config_from_json(raw.get("config"))
    history = history_facts(raw, len(layers))
    steps: list[str | None] = [None] * len(layers)
    for step in history:
        if step.layer is not None:
            steps[step.layer] = step.created_by
    fs = merge(layers)
    waste_per_layer = fs.wasted_by_layer()
    # Only the secrets analyser sees the config as it is; every other analyser, and the facts,
    # see it with flagged values redacted, so no analyser can echo a secret into the output.
    modules = dict(zip(ANALYSERS, analyser_modules(), strict=True))
    real = ImageData(config=config, raw_config=raw, layers=layers, fs=fs, layer_steps=steps)
    results: dict[str, Any] = {"secrets": asdict(modules["secrets"].analyse(real))}
    shown = redacted_config(config, results["secrets"])
    data = dataclasses.replace(real, config=shown)
    python = modules["python"].analyse(data)
    outcomes: dict[str, Any] = {"python": python}
    for name, module in modules.items():
        if name == "secrets":
            continue
        if name == "python":
            outcome = python
        elif name == "bytecode":
            outcome = module.analyse(data, python=python)  # shares the interpreter scan
        elif name == "inventory":
            # Reuses what the OS, package, user and Python analysers found (listed before it).
            outcome = module.analyse(data, osinfo=outcomes["osinfo"],
                                     ospackages=outcomes["ospackages"], python=python,
                                     users=outcomes["users"])  # fmt: skip
        else:
            outcome = module.analyse(data)
        outcomes[name] = outcome
        results[name] = asdict(outcome)
    visible = fs.visible_bytes
    wasted = fs.wasted_bytes
    roots = ((results.get("bytecode") or {}).get("application") or {}).get("roots") or ()
    target = plan(loaded.image_id, raw.get("architecture"), fs, results["python"], config.env,
                  app_roots=roots)  # fmt: skip
    found = runtime(target) if runtime else skipped("probes were not requested")
    # Matched once the probe's sys.path is known: it decides what the command can import.
    vulnerabilities = vulnerability_facts(outcomes.get("inventory"), found, advisories)
    # Judged on the real config (values compared as they are), quoting the redacted one.
    expectations = expect.evaluate(real, shown, target.interpreter, found,
                                   loaded.image_id) if expect else None  # fmt: skip
    return Facts(
        schema_version=SCHEMA_VERSION,
        image=ImageFacts(
            reference,
            kind,
            loaded.image_id,
            loaded.digest,
            loaded.tags,
            raw.get("created"),
            raw.get("architecture"),
            raw.get("os"),
            raw.get("variant"),
            platform_of(raw),
        ),
        config=shown,
        history=history,
        layers=tuple(
            LayerFacts(
                i,
                layer.diff_id,
                layer.size,
                len(layer.entries),
                sum(e.size for e in layer.entries if e.kind == "file"),
                waste_per_layer[i],
                steps[i],
                from_cache[i],
                layer.scanned_bytes,
            )
            for i, layer in enumerate(layers)
        ),
        fs=FsFacts(
            visible_bytes=visible,
            visible_files=sum(
                1 for v in fs.visible.values() if v.entry.kind in ("file", "hardlink")
            ),
            wasted_bytes=wasted,
            efficiency=round(visible / (visible + wasted), 4) if visible + wasted else 1.0,
            waste=waste_facts(fs, steps),
            unsafe_names=tuple(n for layer in layers for n in layer.unsafe_names)[:100],
            sizes=path_sizes(fs),
        ),
        analysers=results,
        runtime=found,
        vulnerabilities=vulnerabilities,
        expectations=expectations,
    )
