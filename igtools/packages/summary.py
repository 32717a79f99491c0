"""What a package holds, as plain data (``igtools inspect``; JSON-ready)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from igtools import __version__
from igtools.packages.loader import PackageSet
from igtools.packages.resources import ResourceEntry


def _sd_kind(entry: ResourceEntry) -> str:
    data = entry.data
    if data.get("type") == "Extension" and data.get("derivation") == "constraint":
        return "extension"
    if data.get("kind") == "logical":
        return "logical"
    if data.get("derivation") == "constraint":
        return "profile"
    return "definition"


def _title(entry: ResourceEntry) -> str | None:
    data = entry.data
    for key in ("title", "name"):
        if isinstance(data.get(key), str):
            return str(data[key])
    return None


def _ext_contexts(data: dict[str, Any]) -> list[str]:
    out = []
    for ctx in data.get("context") or []:
        if isinstance(ctx, dict) and ctx.get("expression"):
            out.append(str(ctx["expression"]))
    return out


def _ext_value_types(data: dict[str, Any]) -> list[str]:
    for el in (data.get("snapshot") or data.get("differential") or {}).get("element") or []:
        if el.get("path") == "Extension.value[x]" and el.get("max") != "0":
            return sorted({t.get("code", "?") for t in el.get("type") or []})
    return []


def _cs_concepts(concepts: list[Any]) -> int:
    n = 0
    for c in concepts or []:
        if isinstance(c, dict):
            n += 1 + _cs_concepts(c.get("concept") or [])
    return n


def summarize(pset: PackageSet) -> dict[str, Any]:
    """Summarise the root package of ``pset`` and its dependencies."""
    root = pset.root
    idx = pset.index
    pid = root.id
    profiles: dict[str, list[dict[str, Any]]] = defaultdict(list)
    extensions: list[dict[str, Any]] = []
    logical: list[dict[str, Any]] = []
    for e in idx.of_type("StructureDefinition", pid):
        d = e.data
        row: dict[str, Any] = {"name": e.name, "id": e.id, "url": e.url, "title": _title(e)}
        kind = _sd_kind(e)
        if kind == "extension":
            row["context"] = _ext_contexts(d)
            row["value_types"] = _ext_value_types(d)
            extensions.append(row)
        elif kind == "profile":
            row["base"] = d.get("baseDefinition")
            profiles[str(d.get("type"))].append(row)
        else:
            row["kind"] = kind
            logical.append(row)
    value_sets = [
        {"name": e.name, "id": e.id, "url": e.url, "title": _title(e)}
        for e in idx.of_type("ValueSet", pid)
    ]
    code_systems = [
        {
            "name": e.name,
            "id": e.id,
            "url": e.url,
            "title": _title(e),
            "concepts": _cs_concepts(e.data.get("concept") or []),
        }
        for e in idx.of_type("CodeSystem", pid)
    ]
    capabilities = []
    for e in idx.of_type("CapabilityStatement", pid):
        d = e.data
        rests = [r for r in d.get("rest") or [] if isinstance(r, dict)]
        capabilities.append(
            {
                "name": e.name,
                "id": e.id,
                "url": e.url,
                "title": _title(e),
                "kind": d.get("kind"),
                "modes": [r.get("mode") for r in rests],
                "resources": sorted(
                    {str(r.get("type")) for rest in rests for r in rest.get("resource") or []}
                ),
            }
        )
    search_params = [
        {
            "name": e.name,
            "id": e.id,
            "url": e.url,
            "code": e.data.get("code"),
            "base": e.data.get("base"),
            "type": e.data.get("type"),
            "expression": e.data.get("expression"),
        }
        for e in idx.of_type("SearchParameter", pid)
    ]
    counted = {
        "StructureDefinition",
        "ValueSet",
        "CodeSystem",
        "CapabilityStatement",
        "SearchParameter",
    }
    others = sorted(
        (
            {"type": e.resource_type, "id": e.id, "url": e.url}
            for e in idx.conformance(pid)
            if e.resource_type not in counted
        ),
        key=lambda r: (str(r["type"]), str(r["id"])),
    )
    examples = []
    for e in idx.examples_of(pid):
        claimed = e.claimed_profiles
        examples.append(
            {
                "type": e.resource_type,
                "id": e.id,
                "file": e.path,
                "profiles": [{"url": p, "resolved": idx.resolve(p) is not None} for p in claimed],
            }
        )
    deps = [
        {
            "name": d.name,
            "wanted": d.wanted,
            "version": d.version,
            "status": d.status,
            "source": d.source,
            "location": d.location,
            "required_by": d.required_by,
            "reason": d.reason,
            "lost": d.lost,
        }
        for d in pset.dependencies
    ]
    return {
        "igtools": __version__,
        "package": {
            "name": root.name,
            "version": root.version,
            "title": root.title,
            "canonical": root.canonical,
            "fhirVersions": root.fhir_versions,
            "origin": root.origin,
            "location": root.location,
        },
        "counts": {
            "profiles": sum(len(v) for v in profiles.values()),
            "extensions": len(extensions),
            "logical_models": len(logical),
            "value_sets": len(value_sets),
            "code_systems": len(code_systems),
            "capability_statements": len(capabilities),
            "search_parameters": len(search_params),
            "other_resources": len(others),
            "examples": len(examples),
        },
        "profiles": {
            k: sorted(v, key=lambda r: str(r["name"])) for k, v in sorted(profiles.items())
        },
        "extensions": sorted(extensions, key=lambda r: str(r["name"])),
        "logical_models": logical,
        "value_sets": sorted(value_sets, key=lambda r: str(r["name"])),
        "code_systems": sorted(code_systems, key=lambda r: str(r["name"])),
        "capability_statements": sorted(capabilities, key=lambda r: str(r["id"])),
        "search_parameters": sorted(search_params, key=lambda r: str(r["id"])),
        "other_resources": others,
        "examples": sorted(examples, key=lambda r: (str(r["type"]), str(r["id"]))),
        "dependencies": deps,
        "unresolved": pset.unresolved,
        "notes": [n for p in pset.packages for n in p.notes],
        "warnings": pset.warnings,
    }
