"""The base check of ``igtools validate`` (the FHIR R4 JSON rules of
igtools.runtime.fhirjson: strict parse + typed walk) against plain fhir.resources R4B
parsing of the same SAS 1.2.0 examples (the base check before), and on a 1,000-slot
searchset Bundle.

Target (issue 11): the JSON rules at or below plain fhir.resources parsing (ratio <= 1).
"""

from __future__ import annotations

import json
import tarfile
from functools import partial
from typing import Any

from benchmarks.bench_models import big_bundle
from benchmarks.common import SHARED, median_time, report
from igtools.runtime import fhirjson


def _examples() -> list[bytes]:
    tgz = SHARED / "fhir-packages" / "ans.fhir.fr.sas-1.2.0.tgz"
    out = []
    with tarfile.open(tgz) as tar:
        for m in tar.getmembers():
            if m.name.startswith("package/example/") and m.name.endswith(".json"):
                fh = tar.extractfile(m)
                if fh is not None:
                    out.append(fh.read())
    return out


def _fhir_resources(raws: list[bytes]) -> None:
    from fhir.resources.R4B import get_fhir_model_class

    for raw in raws:
        data = json.loads(raw)
        get_fhir_model_class(data["resourceType"]).model_validate(data)


def _json_rules(raws: list[bytes]) -> None:
    for raw in raws:
        _, issues = fhirjson.check_text(raw)
        assert not issues, issues[:3]


def _parse(raws: list[bytes]) -> None:
    for raw in raws:
        fhirjson.parse(raw)


def run(repeat: int) -> dict[str, Any]:
    raws = _examples()
    fhirjson.table()  # loaded once per process, like the model classes' import below
    _fhir_resources(raws[:1])
    example = next(json.loads(r) for r in raws if b'"ExampleBundlePSIndiv"' in r)
    bundle = [json.dumps(big_bundle(example)).encode()]
    rows: list[tuple[str, float, float | None, str]] = []
    results: dict[str, Any] = {}
    for label, data in ((f"{len(raws)} SAS examples", raws), ("1,000-slot Bundle", bundle)):
        plain = median_time(partial(_fhir_resources, data), repeat)
        rules = median_time(partial(_json_rules, data), repeat)
        parse_only = median_time(partial(_parse, data), repeat)
        rows.append((f"{label}: fhir.resources R4B parse", plain, None, "baseline"))
        rows.append((f"{label}: JSON rules (parse+check)", rules, rules / plain, "target <= 1"))
        rows.append((f"{label}: strict parse alone", parse_only, parse_only / plain, ""))
        results[label] = {"fhir_resources": plain, "json_rules": rules, "parse": parse_only}
    report("validate: base check (FHIR R4 JSON rules vs fhir.resources R4B)", rows)
    return results


if __name__ == "__main__":
    run(5)
