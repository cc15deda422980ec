"""Print the findings a precision golden does not label yet, as golden lines to review.

    python scripts/precision_review.py real-django-celery [NAME...]   # audits the fixture images
    python scripts/precision_review.py --json report.json --golden FILE  # any audited image
    ... --all                                        # every finding, labelled ones with their label

Each line is `? CHECK_ID key  # severity: message`: replace `?` with true, false or debatable
after reading the finding (tests/golden/precision/README.md says how), keep a short why, and
paste it into tests/golden/precision/NAME.txt. Labelled `true` findings that are no longer found
and `missed` lines that now are are listed too. Needs the Docker engine for fixture names.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `tests` is not installed

from tests.conftest import fixture_image
from tests.precision import GOLDEN, Golden, keyed, line_for, parse, score


def review(name: str, findings: list[dict], golden: Golden, show_all: bool) -> None:
    items = keyed(findings)
    result = score(name, items, golden)
    print(f"# {name}: {len(items)} findings, {len(result.unlabelled)} unlabelled")
    for item in items:
        entry = golden.labels.get((item.check, item.key))
        if entry is None or show_all:
            label = entry.label if entry else "?"
            print(line_for(item, label) if entry is None else
                  f"{label} {item.check} {item.key}  # {entry.why}")  # fmt: skip
    for entry in result.lost:
        print(f"# labelled true but not found (line {entry.line}): {entry.check} {entry.key}")
    for entry in result.now_found:
        print(f"# listed as missed but found now (line {entry.line}): {entry.check} {entry.key}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="realistic fixtures (tests/golden/precision)")
    parser.add_argument("--json", type=Path, help="an `inspector audit --format json` report")
    parser.add_argument("--golden", type=Path, help="the golden to compare a --json report with")
    parser.add_argument("--all", action="store_true", help="print labelled findings too")
    args = parser.parse_args(argv)
    if args.json:
        document = json.loads(args.json.read_text())
        golden = parse(args.golden.read_text(), args.golden.name) if args.golden else Golden()
        for image in document["images"]:
            findings = [f for r in image["results"] for f in r["findings"]]
            review(image["reference"], findings, golden, args.all)
        return 0
    if not args.names:
        parser.error("name fixtures or give --json")
    from tests.precision import audit_findings

    references = {name: fixture_image(name) for name in args.names}
    audited = audit_findings(list(references.values()))
    for name, reference in references.items():
        path = GOLDEN / f"{name}.txt"
        golden = parse(path.read_text(), path.name) if path.exists() else Golden()
        review(name, audited[reference], golden, args.all)
    return 0


if __name__ == "__main__":
    sys.exit(main())
