"""CapabilityStatements and SearchParameters -> IR.

A CapabilityStatement's ``searchParam.name`` is only a label: the wire name is the
``code`` of the SearchParameter its ``definition`` points to. When that definition is
not in the package set (a core parameter without the core package), the code is taken
from the definition URL's last segment (``.../Schedule-actor`` -> ``actor``; the
parameters of every resource take their ``_``: ``.../Resource-lastUpdated`` ->
``_lastUpdated``) and the parameter is flagged ``resolved=False``.

Declared operations (``rest.operation``, ``rest.resource.operation``) keep their name
(without ``$``) and definition canonical; when the package set has that
OperationDefinition, also its ``system``/``type``/``instance`` flags and resource types.
"""

from __future__ import annotations

from typing import Any

from igtools.ir.model import (
    Capability,
    CapabilityOperation,
    CapabilityResource,
    CapabilityRest,
    SearchParam,
)
from igtools.packages import ResourceEntry, ResourceIndex

CORE_SP = "http://hl7.org/fhir/SearchParameter/"
EXPECTATION_EXT = "http://hl7.org/fhir/StructureDefinition/capabilitystatement-expectation"


def _strs(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def search_param_from_resource(d: dict[str, Any]) -> SearchParam:
    return SearchParam(
        code=str(d.get("code")),
        type=str(d.get("type")),
        url=d.get("url"),
        name=d.get("name"),
        base=_strs(d.get("base")),
        expression=d.get("expression"),
        description=d.get("description"),
        targets=_strs(d.get("target")),
        comparators=_strs(d.get("comparator")),
        modifiers=_strs(d.get("modifier")),
        chains=_strs(d.get("chain")),
        multiple_or=d.get("multipleOr"),
        multiple_and=d.get("multipleAnd"),
    )


class DependencySearchParams:
    """The SearchParameters of the package set outside the root package (the base
    parameters of ``hl7.fhir.r4.core``, a national core's), looked up by the resource type
    they apply to and their code, read on demand: the definition at the core's usual URL
    (``.../SearchParameter/Patient-link``) first, else every one once."""

    def __init__(self, index: ResourceIndex, root: str) -> None:
        self._index = index
        self._root = root
        self._by_key: dict[tuple[str, str], SearchParam] | None = None

    def _scan(self) -> dict[tuple[str, str], SearchParam]:
        if self._by_key is None:
            self._by_key = {}
            for entry in self._index.of_type("SearchParameter"):
                if entry.package == self._root:
                    continue
                sp = search_param_from_resource(entry.data)
                for base in sp.base:
                    self._by_key.setdefault((base, sp.code), sp)
        return self._by_key

    def get(self, resource: str, code: str) -> SearchParam | None:
        """The parameter ``code`` of ``resource`` (or of every resource: ``_id``)."""
        types = (resource, "DomainResource", "Resource")
        tail = code[1:] if code.startswith("_") else code
        for rtype in types:
            entry = self._index.resolve(f"{CORE_SP}{rtype}-{tail}")
            if entry is not None and entry.resource_type == "SearchParameter":
                sp = search_param_from_resource(entry.data)
                if sp.code == code and rtype in sp.base:
                    return sp
        by_key = self._scan()
        for rtype in types:
            found = by_key.get((rtype, code))
            if found is not None:
                return found
        return None


def _expectation(obj: dict[str, Any]) -> str | None:
    for ext in obj.get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == EXPECTATION_EXT:
            value = ext.get("valueCode")
            return str(value) if value else None
    return None


def _capability_param(sp: dict[str, Any], index: ResourceIndex) -> SearchParam:
    definition = sp.get("definition")
    entry = index.resolve(definition) if isinstance(definition, str) else None
    if entry is not None and entry.resource_type == "SearchParameter":
        param = search_param_from_resource(entry.data)
    else:
        code = str(sp.get("name"))
        if isinstance(definition, str):
            tail = definition.rstrip("/").rsplit("/", 1)[-1].partition("|")[0]
            base, _, rest = tail.partition("-")
            code = rest or tail
            if base in ("Resource", "DomainResource") and rest and not rest.startswith("_"):
                code = "_" + rest  # Resource-id -> _id, Resource-has -> _has (R4 codes)
        param = SearchParam(code=code, type=str(sp.get("type")), url=definition, resolved=False)
    param.name = sp.get("name")
    param.documentation = sp.get("documentation")
    param.expectation = _expectation(sp)
    if sp.get("type") and param.type in ("None", ""):
        param.type = str(sp["type"])
    return param


def _interactions(items: Any) -> list[str]:
    return [str(i["code"]) for i in items or [] if isinstance(i, dict) and i.get("code")]


def _operations(items: Any, index: ResourceIndex) -> list[CapabilityOperation]:
    """The declared operations with, when the package set has their OperationDefinition,
    the levels and resource types it allows."""
    out = []
    for op in items or []:
        if not isinstance(op, dict) or not isinstance(op.get("name"), str) or not op["name"]:
            continue
        definition = op.get("definition")
        found = CapabilityOperation(
            name=op["name"].lstrip("$"),
            definition=definition if isinstance(definition, str) else None,
            documentation=op.get("documentation"),
        )
        entry = index.resolve(definition) if isinstance(definition, str) else None
        if entry is not None and entry.resource_type == "OperationDefinition":
            found.system = bool(entry.data.get("system"))
            found.type = bool(entry.data.get("type"))
            found.instance = bool(entry.data.get("instance"))
            found.resources = _strs(entry.data.get("resource"))
        out.append(found)
    return out


def build_capability(entry: ResourceEntry, index: ResourceIndex) -> Capability:
    d = entry.data
    rests = []
    for rest in d.get("rest") or []:
        if not isinstance(rest, dict):
            continue
        resources = []
        for r in rest.get("resource") or []:
            if not isinstance(r, dict):
                continue
            resources.append(
                CapabilityResource(
                    type=str(r.get("type")),
                    profile=r.get("profile"),
                    supported_profiles=_strs(r.get("supportedProfile")),
                    interactions=_interactions(r.get("interaction")),
                    search_params=[
                        _capability_param(sp, index)
                        for sp in r.get("searchParam") or []
                        if isinstance(sp, dict)
                    ],
                    search_includes=_strs(r.get("searchInclude")),
                    search_rev_includes=_strs(r.get("searchRevInclude")),
                    conditional_create=r.get("conditionalCreate"),
                    conditional_update=r.get("conditionalUpdate"),
                    conditional_delete=r.get("conditionalDelete"),
                    documentation=r.get("documentation"),
                    versioning=r.get("versioning"),
                    operations=_operations(r.get("operation"), index),
                )
            )
        rests.append(
            CapabilityRest(
                mode=str(rest.get("mode")),
                resources=resources,
                interactions=_interactions(rest.get("interaction")),
                documentation=rest.get("documentation"),
                operations=_operations(rest.get("operation"), index),
            )
        )
    return Capability(
        url=d.get("url"),
        name=d.get("name"),
        title=d.get("title"),
        id=entry.id,
        package=entry.package,
        kind=d.get("kind"),
        status=d.get("status"),
        description=d.get("description"),
        formats=_strs(d.get("format")),
        rest=rests,
    )
