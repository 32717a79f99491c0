"""Models: generation time for SAS 1.2.0, and validating a 1,000-slot searchset Bundle
through the generated models against plain fhir.resources R4B parsing of the same Bundle.

Targets (issue 3): generation under 5 s; validation at most 2x plain parsing with
invariants off.
"""

from __future__ import annotations

import copy
import importlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import SHARED, median_time, report
from igtools.ir import build_ir
from igtools.packages import PackageLoader, Settings
from igtools.render.models.python import ModelsRenderer


def big_bundle(
    example: dict[str, Any], slots: int = 1000, practitioners: int = 100
) -> dict[str, Any]:
    """A searchset Bundle of ``slots`` Slots spread over ``practitioners`` practitioners,
    each with a PractitionerRole and a Schedule, cloned from an IG example Bundle."""
    by_type: dict[str, dict[str, Any]] = {}
    for e in example["entry"]:
        by_type.setdefault(e["resource"]["resourceType"], e)
    out = copy.deepcopy(example)
    out["entry"] = []
    for p in range(practitioners):
        for rt in ("Practitioner", "PractitionerRole", "Schedule"):
            e = copy.deepcopy(by_type[rt])
            e["resource"]["id"] = f"{rt.lower()}-{p}"
            e["fullUrl"] = f"https://example.org/fhir/{rt}/{rt.lower()}-{p}"
            if rt == "Schedule":
                e["resource"]["actor"] = [
                    {"reference": f"Practitioner/practitioner-{p}"},
                    {"reference": f"PractitionerRole/practitionerrole-{p}"},
                ]
            if rt == "PractitionerRole":
                e["resource"]["practitioner"] = {"reference": f"Practitioner/practitioner-{p}"}
            out["entry"].append(e)
    for s in range(slots):
        e = copy.deepcopy(by_type["Slot"])
        e["resource"]["id"] = f"slot-{s}"
        e["resource"]["schedule"] = {"reference": f"Schedule/schedule-{s % practitioners}"}
        e["fullUrl"] = f"https://example.org/fhir/Slot/slot-{s}"
        out["entry"].append(e)
    out["total"] = slots
    return out


def run(repeat: int) -> dict[str, Any]:
    tgz = SHARED / "fhir-packages" / "ans.fhir.fr.sas-1.2.0.tgz"
    tmp = Path(tempfile.mkdtemp(prefix="igtools-bench-models-"))
    try:
        t0 = time.perf_counter()
        pset = PackageLoader(Settings(cache_dir=tmp / "cache", offline=True)).load(str(tgz))
        ig = build_ir(pset)
        load_ir = time.perf_counter() - t0

        def generate() -> None:
            ModelsRenderer(ig, "bench_sas_models").render(tmp / "out")

        gen = median_time(generate, max(1, repeat // 2))
        sys.path.insert(0, str(tmp / "out"))
        models = importlib.import_module("bench_sas_models")
        example = next(e for e in ig.examples if e.id == "ExampleBundlePSIndiv")
        bundle = big_bundle(example.data)
        profile_cls = models.PROFILES[example.profiles[0]]
        from fhir.resources.R4B.bundle import Bundle

        raw = json.dumps(bundle)
        plain = median_time(lambda: Bundle.model_validate(json.loads(raw)), repeat)
        models.set_invariants(False)
        no_inv = median_time(lambda: profile_cls.model_validate(json.loads(raw)), repeat)
        models.set_invariants(True)
        with_inv = median_time(
            lambda: profile_cls.model_validate(json.loads(raw)), max(1, repeat // 3)
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows = [
        ("load + IR of SAS 1.2.0", load_ir, None, "for reference"),
        ("generate all SAS 1.2.0 models", gen, None, "target < 5 s"),
        ("plain fhir.resources Bundle parse (1,000 slots)", plain, None, "baseline"),
        ("generated BundleAgregateur, invariants off", no_inv, no_inv / plain, "target <= 2x"),
        ("generated BundleAgregateur, invariants on", with_inv, with_inv / plain, ""),
    ]
    report(f"Models (median of {repeat} runs)", rows)
    return {name: {"seconds": s, "ratio": r} for name, s, r, _ in rows}
