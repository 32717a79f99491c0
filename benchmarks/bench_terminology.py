"""Terminology without a server: a binding check against a value set of 50,000 codes
against the same check against one of 3 codes (membership is a set lookup: the ratio
should stay near 1), and expanding every value set of hl7.terminology against reading
that package's index.

Target (issue 11, item 5): large value sets do not slow checks (ratio <= 1.5).
"""

from __future__ import annotations

import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.common import SHARED, median_time, report
from igtools.runtime.validation import El, Rules, validate


def _rules(n: int) -> Rules:
    codes = tuple(("http://example.org/cs", f"c{i}") for i in range(n))
    el = El(
        "Observation.code", ("code",), codes=codes, code_kind="CodeableConcept", strength="required"
    )
    return Rules("u", "P", "Observation", El("Observation", children=(el,)))


def _check(rules: Rules, instances: list[dict[str, Any]]) -> None:
    for data in instances:
        validate(data, rules)


def _expand_all(index: Any) -> int:
    from igtools.ir.terminology import Terminology

    tx = Terminology(index)  # a fresh cache: every value set expanded again
    entries = index.of_type("ValueSet")
    for e in entries:
        tx.value_set(str(e.url))
    return len(entries)


def run(repeat: int) -> dict[str, Any]:
    instances = [
        {
            "resourceType": "Observation",
            "code": {"coding": [{"system": "http://example.org/cs", "code": f"c{i % 3}"}]},
        }
        for i in range(2000)
    ]
    small, large = _rules(3), _rules(50_000)
    _check(large, instances[:1])  # the sets are built on first use: once per value set
    base = median_time(partial(_check, small, instances), repeat)
    big = median_time(partial(_check, large, instances), repeat)
    rows: list[tuple[str, float, float | None, str]] = [
        ("2,000 CodeableConcepts, value set of 3 codes", base, None, "baseline"),
        ("2,000 CodeableConcepts, value set of 50,000 codes", big, big / base, "target <= 1.5"),
    ]
    results: dict[str, Any] = {"small_vs": base, "large_vs": big}
    if (SHARED / "fhir-packages" / "hl7.terminology.r4-7.0.1.tgz").is_file():
        from igtools.packages import PackageLoader, Settings

        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                cache_dir=Path(tmp), package_dirs=[SHARED / "fhir-packages"], offline=True
            )
            t0 = time.perf_counter()
            pset = PackageLoader(settings).load("hl7.terminology.r4#7.0.1", dependencies=False)
            n = _expand_all(pset.index)  # reads every resource once (lazy JSON)
            load = time.perf_counter() - t0
            full = median_time(partial(_expand_all, pset.index), repeat)
        rows.append(("hl7.terminology 7.0.1: load, read, expand once", load, None, "baseline"))
        rows.append((f"expand its {n} value sets again", full, full / load, ""))
        results.update({"terminology_first": load, "terminology_expand_all": full})
    report("terminology: bindings and expansion", rows)
    return results


if __name__ == "__main__":
    run(5)
