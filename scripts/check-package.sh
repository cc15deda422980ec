#!/usr/bin/env bash
# Build the wheel and sdist, install the wheel (not editable) into a fresh virtual environment and
# run it from outside the checkout: package data missing from the wheel (the in-image probe
# script, the check pages `explain` prints) fails here, not on a user's machine.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
BIN=${BIN:-.venv/bin}
FIXTURE=${PACKAGE_CHECK_IMAGE:-inspector-fixture/good:test}
work=$(mktemp -d "${TMPDIR:-/tmp}/inspector-package.XXXXXX")
trap 'rm -rf "$work"' EXIT

say() { printf 'package: %s\n' "$*" >&2; }
started=$SECONDS
rm -rf dist
"$BIN/python" -m build --outdir dist . >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
wheel=$(ls dist/*.whl)
ls dist/*.tar.gz >/dev/null
say "built $(basename "$wheel") and the sdist in $((SECONDS - started))s"
if grep -qi "deprecat" "$work/build.log"; then
    say "the build printed deprecation warnings:"; grep -i -A3 "deprecat" "$work/build.log" >&2; exit 1
fi

"$PYTHON" -m venv "$work/venv"
"$work/venv/bin/pip" install -qq "$wheel"
cd "$work"  # nothing from the checkout is importable from here
"$work/venv/bin/inspector" --version
"$work/venv/bin/inspector" explain SEC001 | grep -q "runs-as-root\|SEC001"
# With probes: the in-image probe script is package data the static probe needs.
status=0
INSPECTOR_CACHE_DIR="$work/cache" "$work/venv/bin/inspector" audit "$FIXTURE" --format json \
    -o "table=$work/report.txt" >"$work/report.json" || status=$?
if [ "$status" -gt 1 ]; then
    say "the installed wheel could not audit $FIXTURE (exit $status):"; cat "$work/report.txt" >&2 || true; exit 1
fi
"$work/venv/bin/python" - "$work/report.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
image = report["images"][0]
assert not image.get("error"), image.get("error")
runtime = image.get("runtime") or {}
# The static probe runs the in-image script shipped as package data: it must have run.
statuses = {name: probe["status"] for name, probe in runtime.items()}
assert statuses.get("static") == "ran", f"static probe did not run: {runtime.get('static')}"
findings = sum(len(r.get("findings", [])) for r in image.get("results", []))
print(f"package: the installed wheel audited {image['reference']}: {findings} findings, "
      f"probes {statuses}", file=sys.stderr)
PY
say "wheel installed and audited $FIXTURE in $((SECONDS - started))s"
