"""FHIRPath invariants in ``igtools validate`` (igtools.runtime.fhirpath) on the SAS 1.2.0
examples, as ratios to plain fhir.resources R4B parsing of the same examples:

- validate with invariants off, then on (the whole of ``Validator.validate_resource``);
- the invariant evaluations alone, as validate makes them (recorded once: expression,
  occurrence, FHIR type, resource), run by igtools' engine, by fhirpathpy as it is, and
  by fhirpathpy with its R4 model (the occurrence wrapped in a typed ResourceNode).

Goal (issue 11): invariants no longer dominate validate's time.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import SHARED, median_time, report
from igtools.ir import build_ir
from igtools.packages import PackageLoader, Settings
from igtools.runtime import fhirpath
from igtools.validate.validator import Validator

Call = tuple[fhirpath.Expression, Any, dict[str, Any]]


def _record(validator: Validator, examples: list[dict[str, Any]]) -> list[Call]:
    """Every invariant evaluation one validation of ``examples`` makes."""
    calls: list[Call] = []
    original = fhirpath.Expression.verdict

    def recording(self: fhirpath.Expression, data: Any, **kw: Any) -> bool | None:
        calls.append((self, data, kw))
        return original(self, data, **kw)

    fhirpath.Expression.verdict = recording  # type: ignore[method-assign]
    try:
        for ex in examples:
            validator.validate_resource(ex)
    finally:
        fhirpath.Expression.verdict = original  # type: ignore[method-assign]
    return calls


def _igtools(calls: list[Call]) -> None:
    for expr, data, kw in calls:
        expr.verdict(data, **kw)


def _fhirpathpy(calls: list[Call], with_model: bool) -> Any:
    """A function running ``calls`` with fhirpathpy (compiled beforehand, untimed)."""
    import fhirpathpy
    from fhirpathpy.engine.nodes import ResourceNode
    from fhirpathpy.models import models

    model = models["r4"] if with_model else None
    options = {"traceFn": lambda *args: None}
    compiled = {e.text: fhirpathpy.compile(e.text, model, options) for e, _, _ in calls}
    prepared = []
    for expr, data, kw in calls:
        root = data
        if (
            with_model
            and kw.get("type")
            and not (isinstance(data, dict) and "resourceType" in data)
        ):
            root = ResourceNode.create_node(data, kw["type"])
        env = {"resource": kw.get("resource"), "rootResource": kw.get("resource")}
        prepared.append((compiled[expr.text], root, env))

    def run() -> None:
        for fn, root, env in prepared:
            with contextlib.suppress(Exception):  # what fhirpathpy cannot run costs too
                fn(root, env)

    return run


def run(repeat: int) -> dict[str, Any]:
    tgz = SHARED / "fhir-packages" / "ans.fhir.fr.sas-1.2.0.tgz"
    tmp = Path(tempfile.mkdtemp(prefix="igtools-bench-fhirpath-"))
    try:
        pset = PackageLoader(Settings(cache_dir=tmp / "cache", offline=True)).load(str(tgz))
        ig = build_ir(pset)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    examples = [json.loads(json.dumps(e.data)) for e in ig.examples]
    on, off = Validator(ig), Validator(ig, invariants=False)
    calls = _record(on, examples)
    from fhir.resources.R4B import get_fhir_model_class

    def plain() -> None:
        for ex in examples:
            get_fhir_model_class(ex["resourceType"]).model_validate(ex)

    def validate(v: Validator) -> None:
        for ex in examples:
            v.validate_resource(ex)

    plain()
    base = median_time(plain, repeat)
    t_off = median_time(lambda: validate(off), repeat)
    t_on = median_time(lambda: validate(on), repeat)
    t_eng = median_time(lambda: _igtools(calls), repeat)
    t_fp = median_time(_fhirpathpy(calls, False), repeat)
    t_fp4 = median_time(_fhirpathpy(calls, True), repeat)
    n = f"{len(examples)} examples"
    rows = [
        (f"{n}: fhir.resources R4B parse", base, None, "baseline"),
        (f"{n}: validate, invariants off", t_off, t_off / base, ""),
        (f"{n}: validate, invariants on", t_on, t_on / base, ""),
        (f"{len(calls)} invariant evaluations: igtools", t_eng, t_eng / base, "goal: << validate"),
        (f"{len(calls)} evaluations: fhirpathpy", t_fp, t_fp / base, "as it is"),
        (f"{len(calls)} evaluations: fhirpathpy + R4", t_fp4, t_fp4 / base, "its R4 model"),
    ]
    report(f"FHIRPath invariants (median of {repeat} runs)", rows)
    return {
        "evaluations": len(calls),
        **{name: {"seconds": s, "ratio": r} for name, s, r, _ in rows},
    }


if __name__ == "__main__":
    run(7)
