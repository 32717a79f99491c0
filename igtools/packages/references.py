"""Canonical references a package makes, to tell what a missing dependency costs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from igtools.packages.resources import ResourceEntry

CORE_SD_PREFIX = "http://hl7.org/fhir/StructureDefinition/"


def _elements(sd: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for part in ("snapshot", "differential"):
        block = sd.get(part)
        if isinstance(block, dict):
            for el in block.get("element") or []:
                if isinstance(el, dict):
                    yield el


def canonical_references(entry: ResourceEntry) -> Iterator[tuple[str, str]]:
    """Yield (canonical, what refers to it) for the references a resource makes."""
    res = entry.data
    rt = entry.resource_type
    if entry.is_example:
        for p in entry.claimed_profiles:
            yield p, f"{entry.key} meta.profile"
        return
    if rt == "StructureDefinition":
        base = res.get("baseDefinition")
        if isinstance(base, str):
            yield base, f"{entry.key} baseDefinition"
        for el in _elements(res):
            path = el.get("id") or el.get("path")
            for t in el.get("type") or []:
                if not isinstance(t, dict):
                    continue
                for key in ("profile", "targetProfile"):
                    for url in t.get(key) or []:
                        if isinstance(url, str):
                            yield url, f"{entry.key} {path} {key}"
            binding = el.get("binding")
            if isinstance(binding, dict) and isinstance(binding.get("valueSet"), str):
                yield binding["valueSet"], f"{entry.key} {path} binding"
    elif rt == "ValueSet":
        compose = res.get("compose")
        if isinstance(compose, dict):
            for part in ("include", "exclude"):
                for inc in compose.get(part) or []:
                    if not isinstance(inc, dict):
                        continue
                    if isinstance(inc.get("system"), str):
                        yield inc["system"], f"{entry.key} compose.{part}.system"
                    for vs in inc.get("valueSet") or []:
                        if isinstance(vs, str):
                            yield vs, f"{entry.key} compose.{part}.valueSet"
    elif rt == "CapabilityStatement":
        for rest in res.get("rest") or []:
            for r in (rest.get("resource") or []) if isinstance(rest, dict) else []:
                if not isinstance(r, dict):
                    continue
                if isinstance(r.get("profile"), str):
                    yield r["profile"], f"{entry.key} rest.resource({r.get('type')}).profile"
                for p in r.get("supportedProfile") or []:
                    if isinstance(p, str):
                        yield p, f"{entry.key} rest.resource({r.get('type')}).supportedProfile"
                for sp in r.get("searchParam") or []:
                    if isinstance(sp, dict) and isinstance(sp.get("definition"), str):
                        yield sp["definition"], f"{entry.key} searchParam {sp.get('name')}"
    elif rt == "SearchParameter" and isinstance(res.get("derivedFrom"), str):
        yield res["derivedFrom"], f"{entry.key} derivedFrom"


def provided_by_fhir_resources(url: str) -> bool:
    """Is this the canonical of a base resource or data type that fhir.resources models?"""
    if not url.startswith(CORE_SD_PREFIX):
        return False
    name = url[len(CORE_SD_PREFIX) :].partition("|")[0]
    return name in _core_type_names()


_CORE_NAMES: frozenset[str] | None = None


def _core_type_names() -> frozenset[str]:
    global _CORE_NAMES
    if _CORE_NAMES is None:
        from fhir.resources.R4B import fhirtypes

        names = {n[: -len("Type")] for n in dir(fhirtypes) if n.endswith("Type")}
        # primitive types are lower-case in FHIR, capitalised in fhirtypes
        names |= {n[0].lower() + n[1:] for n in names}
        _CORE_NAMES = frozenset(names)
    return _CORE_NAMES
