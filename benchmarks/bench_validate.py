"""``igtools validate`` throughput on every example of the corpus (the packages of
../shared with a QA report), as a ratio to plain fhir.resources R4B parsing of the same
examples in the same run. Validators are built before timing (loading packages is
bench_packages' business): what is timed is judging the instances, everything
included (JSON rules, the IG's and dependencies' profiles, base definitions, Bundle
rules, extensions, terminology, invariants).

Target (issue 11): 2x plain parsing or better.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import SHARED, median_time, report


def _fhir_resources(examples: list[dict[str, Any]]) -> None:
    from fhir.resources.R4B import get_fhir_model_class

    for data in examples:
        # an instance R4B refuses still costs its parse
        with contextlib.suppress(Exception):
            get_fhir_model_class(data["resourceType"]).model_validate(data)


def run(repeat: int) -> dict[str, Any]:
    from corpus.validation import load, qa_packages
    from igtools.validate.validator import Validator

    jobs: list[tuple[Validator, list[dict[str, Any]]]] = []
    # the cache lives as long as the validators: they read definitions lazily
    with tempfile.TemporaryDirectory() as cache:
        for pkg in qa_packages(SHARED):
            loaded = load(pkg, SHARED, Path(cache))
            examples = [e.data for e in loaded.pset.index.examples_of(loaded.pset.root.id)]
            jobs.append((loaded.validator, examples))
        everything = [d for _, ex in jobs for d in ex]

        def validate_all() -> None:
            for validator, examples in jobs:
                for data in examples:
                    validator.validate_resource(data)

        validate_all()  # warm: dependencies' rules and base definitions built on first use
        _fhir_resources(everything[:5])
        base = median_time(lambda: _fhir_resources(everything), repeat)
        full = median_time(validate_all, repeat)
    rows: list[tuple[str, float, float | None, str]] = [
        ("fhir.resources R4B parse", base, None, f"baseline, {len(everything)} examples"),
        ("igtools validate (everything)", full, full / base, "target <= 2x"),
    ]
    report(f"validate: every example of {len(jobs)} corpus packages", rows)
    return {"examples": len(everything), "baseline_s": base, "validate_s": full}
