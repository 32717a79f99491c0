"""Write ``fhir-r4-types.json``, the FHIR R4 (4.0.1) type table of
:mod:`igtools.runtime.fhirjson`, from the ``hl7.fhir.r4.core`` 4.0.1 package.

Run it when the table format changes (the table is committed; FHIR is CC0)::

    python -m igtools.data.make_r4_types path/to/hl7.fhir.r4.core-4.0.1.tgz

The output is deterministic (sorted, one type per line). For each type (resources,
complex data types, and the backbone elements inside them, named by their path), each
element's JSON name maps to a spec ``"<types>[*][!]"``: the R4 type codes joined by
``|`` (several for a choice ``name[x]``), ``*`` when it repeats, ``!`` when required
(min 1). ``primitives`` gives each primitive type's JSON type and its R4 regex.
"""

from __future__ import annotations

import json
import sys
import tarfile
from pathlib import Path
from typing import Any

from igtools.data import write_table

OUT = Path(__file__).with_name("fhir-r4-types.json")
FHIR_TYPE = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
REGEX = "http://hl7.org/fhir/StructureDefinition/regex"
JSON_TYPES = {
    "boolean": "boolean",
    "integer": "integer",
    "positiveInt": "integer",
    "unsignedInt": "integer",
    "decimal": "number",
}


def _load(tgz: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    with tarfile.open(tgz, "r:gz") as tar:
        for member in tar.getmembers():
            name = member.name
            if not (name.startswith("package/StructureDefinition-") and name.endswith(".json")):
                continue
            f = tar.extractfile(member)
            if f is None:  # pragma: no cover - not a regular file
                continue
            sd = json.loads(f.read().decode("utf-8-sig"))
            if sd.get("resourceType") != "StructureDefinition" or "snapshot" not in sd:
                continue
            if sd.get("fhirVersion", "4.0.1") != "4.0.1":
                raise SystemExit(f"{name}: fhirVersion {sd.get('fhirVersion')}, not 4.0.1")
            out.append(sd)
    return out


def _type_code(t: dict[str, Any]) -> str:
    code = str(t["code"])
    if code.startswith("http://hl7.org/fhirpath/System."):
        for ext in t.get("extension") or []:
            if ext.get("url") == FHIR_TYPE:
                return str(ext["valueUrl"])
        return "string"
    return code


def _elements(sd: dict[str, Any], table: dict[str, dict[str, str]]) -> None:
    elements = sd["snapshot"]["element"]
    paths = {e["path"] for e in elements}
    for e in elements:
        path = str(e["path"])
        if "." not in path:
            table.setdefault(path, {})
            continue
        parent, _, name = path.rpartition(".")
        if sd["kind"] == "primitive-type" and name == "value":
            continue  # the JSON value itself, not a property
        if "contentReference" in e:
            codes = [str(e["contentReference"]).lstrip("#")]
        elif any(p.startswith(path + ".") for p in paths):
            codes = [path]  # a backbone element: its own (anonymous) type
        else:
            codes = [_type_code(t) for t in e.get("type") or []]
        if sd["kind"] == "resource" and name == "id" and parent == sd["type"]:
            codes = ["id"]  # Resource.id is an id (4.0.1 writes System.String, fhir-type string)
        spec = "|".join(codes)
        if e.get("max") != "1" and e.get("max") != "0":
            spec += "*"
        if int(e.get("min") or 0) >= 1:
            spec += "!"
        table.setdefault(parent, {})[name] = spec


def build(tgz: Path) -> dict[str, Any]:
    sds = _load(tgz)
    types: dict[str, dict[str, str]] = {}
    primitives: dict[str, dict[str, str]] = {}
    resources: list[str] = []
    for sd in sorted(sds, key=lambda s: str(s["url"])):
        if sd.get("derivation") == "constraint" or sd["kind"] == "logical":
            continue
        if sd["kind"] == "primitive-type":
            value = next(e for e in sd["snapshot"]["element"] if e["path"].endswith(".value"))
            regex = None
            for ext in value["type"][0].get("extension") or []:
                if ext.get("url") == REGEX:
                    regex = ext["valueString"]
            entry = {"json": JSON_TYPES.get(sd["type"], "string")}
            if regex:
                entry["regex"] = regex
            primitives[sd["type"]] = entry
            continue
        if sd["kind"] == "resource" and not sd.get("abstract"):
            resources.append(sd["type"])
        _elements(sd, types)
    return {
        "_comment": (
            "FHIR R4 4.0.1 element types for igtools.runtime.fhirjson, generated from "
            "hl7.fhir.r4.core 4.0.1 (CC0) by igtools/data/make_r4_types.py: do not edit. "
            "types: element JSON name -> '<type codes joined by |>[*: repeats][!: required]'; "
            "a backbone element's type is its path."
        ),
        "fhirVersion": "4.0.1",
        "primitives": dict(sorted(primitives.items())),
        "resources": sorted(resources),
        "types": {k: dict(sorted(v.items())) for k, v in sorted(types.items())},
    }


def dump(table: dict[str, Any]) -> str:
    """JSON with one primitive or type per line (small diffs on regeneration)."""
    lines = ["{"]
    for key in ("_comment", "fhirVersion"):
        lines.append(f"  {json.dumps(key)}: {json.dumps(table[key])},")
    lines.append(f'  "resources": {json.dumps(table["resources"])},')
    for key in ("primitives", "types"):
        items = table[key]
        lines.append(f"  {json.dumps(key)}: {{")
        rows = [
            f"    {json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}" for k, v in items.items()
        ]
        lines.append(",\n".join(rows))
        lines.append("  }," if key == "primitives" else "  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    return write_table(argv, "igtools.data.make_r4_types", OUT, build, dump)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
