"""Run every benchmark: ``python -m benchmarks [--repeat N] [--json FILE]``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmarks import (
    bench_build,
    bench_docs,
    bench_examples,
    bench_fhirpath,
    bench_jsonrules,
    bench_models,
    bench_packages,
    bench_snapshots,
    bench_stubs,
    bench_terminology,
    bench_validate,
)
from benchmarks.common import SHARED


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks")
    ap.add_argument("--repeat", type=int, default=7, help="runs per measure (median kept)")
    ap.add_argument("--json", type=Path, default=Path(".bench/results.json"))
    args = ap.parse_args()
    if not SHARED.is_dir():
        print(f"{SHARED} absent: benchmarks need the SAS packages in ../shared", file=sys.stderr)
        return 2
    results = {
        "packages": bench_packages.run(args.repeat),
        "snapshots": bench_snapshots.run(args.repeat),
        "models": bench_models.run(args.repeat),
        "examples": bench_examples.run(args.repeat),
        "validate_json_rules": bench_jsonrules.run(args.repeat),
        "terminology": bench_terminology.run(args.repeat),
        "validate_invariants": bench_fhirpath.run(args.repeat),
        "validate_corpus": bench_validate.run(args.repeat),
        "docs": bench_docs.run(args.repeat),
        "stubs": bench_stubs.run(args.repeat),
        "build": bench_build.run(args.repeat),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
