"""Write ``r4-required-codes.json``: the codes of each required binding of a ``code``
element of the FHIR R4 (4.0.1) base resources and data types, expanded from the
``hl7.fhir.r4.core`` 4.0.1 package by igtools' own terminology (:mod:`igtools.ir.terminology`).

Read by :func:`igtools.ir.terminology.core_code_list`, the fallback for a required
binding whose value set cannot be expanded completely. Only complete expansions are
written: an element bound to a value set that draws from a whole code system the
package does not enumerate (``mimetypes``: all of ``urn:ietf:bcp:13``) has no entry,
so that no code of it is judged. Run it when the table format changes (the table is
committed; FHIR is CC0)::

    python -m igtools.data.make_r4_codes path/to/hl7.fhir.r4.core-4.0.1.tgz
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from igtools.data import write_table

OUT = Path(__file__).with_name("r4-required-codes.json")


def build(tgz: Path) -> dict[str, Any]:
    from igtools.ir.terminology import Terminology
    from igtools.packages import PackageLoader, Settings

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "packages"
        folder.mkdir()
        shutil.copy(tgz, folder / "hl7.fhir.r4.core-4.0.1.tgz")
        loader = PackageLoader(
            Settings(cache_dir=Path(tmp) / "cache", package_dirs=[folder], offline=True)
        )
        try:
            pset = loader.load("hl7.fhir.r4.core#4.0.1")
        finally:
            loader.close()
        index = pset.index
        terminology = Terminology(index)
        codes: dict[str, list[str]] = {}
        for entry in index.of_type("StructureDefinition"):
            sd = entry.data
            if sd.get("derivation") != "specialization":
                continue
            if sd.get("kind") not in ("resource", "complex-type"):
                continue
            for el in (sd.get("snapshot") or {}).get("element") or []:
                binding = el.get("binding") or {}
                if binding.get("strength") != "required" or "valueSet" not in binding:
                    continue
                if not any(t.get("code") == "code" for t in el.get("type") or []):
                    continue
                if el["path"] != (el.get("base") or {}).get("path", el["path"]):
                    continue  # inherited: written once, at its definition
                vs = terminology.value_set(str(binding["valueSet"]))
                if vs is None or not vs.complete or not vs.codes:
                    continue
                codes[str(el["path"])] = list(dict.fromkeys(c.code for c in vs.codes))
    return {
        "_comment": (
            "FHIR R4 4.0.1 codes of the required bindings of code elements, generated from "
            "hl7.fhir.r4.core 4.0.1 (CC0) by igtools/data/make_r4_codes.py: do not edit. "
            "Only complete expansions (no entry: the codes cannot be known)."
        ),
        "fhirVersion": "4.0.1",
        "codes": dict(sorted(codes.items())),
    }


def dump(table: dict[str, Any]) -> str:
    """JSON with one element per line (small diffs on regeneration)."""
    lines = ["{"]
    for key in ("_comment", "fhirVersion"):
        lines.append(f"  {json.dumps(key)}: {json.dumps(table[key])},")
    lines.append('  "codes": {')
    rows = [f"    {json.dumps(k)}: {json.dumps(v)}" for k, v in table["codes"].items()]
    lines.append(",\n".join(rows))
    lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    return write_table(argv, "igtools.data.make_r4_codes", OUT, build, dump)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
