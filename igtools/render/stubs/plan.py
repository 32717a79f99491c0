"""The API plan of each CapabilityStatement: what a generated server serves and a
generated client calls.

Search parameters come from, in order: the SearchParameter definitions the statement
links (their ``code`` is the wire name; the statement's ``name`` is only a label), the
IG's other SearchParameters, the FHIR R4 base parameters igtools ships
(``igtools/data/r4-search-parameters.json``, a subset for when hl7.fhir.r4.core is
missing), the dependencies' SearchParameters (the core's, for what the subset lacks), and
the project's overlay (``[[stubs.overlay]]`` in ``ig-input/igtools.toml``) for what the
IG's pages require but its statements leave out (status, chains, ``_has``, includes,
conditional update keys, the Bundle profile of a search response).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from typing import Any

from igtools.errors import ConfigError
from igtools.ir.model import (
    IG,
    Capability,
    CapabilityOperation,
    CapabilityResource,
    CapabilityRest,
    SearchParam,
)


@dataclass
class ParamSpec:
    """A search parameter as served: wire code, type, FHIRPath expression."""

    resource: str
    code: str
    type: str
    expression: str | None = None
    targets: list[str] = field(default_factory=list)
    comparators: list[str] = field(default_factory=list)
    modifiers: list[str] = field(default_factory=list)
    url: str | None = None
    label: str | None = None  # the CapabilityStatement's name for it
    documentation: str | None = None
    source: str = "ig"  # capability | ig | base | overlay


@dataclass
class OperationApi:
    """A declared operation as served: its name (without ``$``), definition canonical and
    the levels it is routed at (``/$name``, ``/{type}/$name``, ``/{type}/{id}/$name``)."""

    name: str
    definition: str | None = None
    system: bool = False
    type: bool = False
    instance: bool = False
    documentation: str | None = None


def merge_operations(items: list[OperationApi]) -> list[OperationApi]:
    """One entry per name, the levels unioned (statements declaring it differently)."""
    out: dict[str, OperationApi] = {}
    for op in items:
        old = out.get(op.name)
        if old is None:
            out[op.name] = OperationApi(**op.__dict__)
            continue
        old.system |= op.system
        old.type |= op.type
        old.instance |= op.instance
        old.definition = old.definition or op.definition
        old.documentation = old.documentation or op.documentation
    return list(out.values())


def _resource_operation(op: CapabilityOperation) -> OperationApi:
    """A ``rest.resource.operation``: the definition's type/instance levels, else both."""
    type_, instance = bool(op.type), bool(op.instance)
    if not (type_ or instance):
        type_ = instance = True
    return OperationApi(op.name, op.definition, False, type_, instance, op.documentation)


def _rest_operations(
    rest: CapabilityRest, served: list[str]
) -> tuple[list[OperationApi], dict[str, list[OperationApi]]]:
    """The ``rest.operation`` entries: system level (unless the definition says otherwise)
    and, when the definition allows the type or instance level, on the served types it
    names (every served type when it names none)."""
    system: list[OperationApi] = []
    by_type: dict[str, list[OperationApi]] = {}
    for op in rest.operations:
        if op.system is None or op.system or not (op.type or op.instance):
            system.append(
                OperationApi(op.name, op.definition, True, documentation=op.documentation)
            )
        if op.type or op.instance:
            for rtype in [t for t in served if t in op.resources or not op.resources]:
                by_type.setdefault(rtype, []).append(
                    OperationApi(
                        op.name,
                        op.definition,
                        False,
                        bool(op.type),
                        bool(op.instance),
                        op.documentation,
                    )
                )
    return system, by_type


@dataclass
class ResourceApi:
    type: str
    profile: str | None
    supported_profiles: list[str]
    interactions: list[str]
    params: list[ParamSpec]
    chains: list[str]  # allowed chained parameters, e.g. schedule.actor:Practitioner.identifier
    has: list[str]  # allowed reverse chains, e.g. Slot:schedule:start
    includes: list[str]
    include_iterate: list[str]
    revincludes: list[str]
    conditional_update: str | None  # the search parameter a conditional update matches on
    bundle_profile: str | None  # profile of the searchset Bundle answering a search
    documentation: str | None = None
    operations: list[OperationApi] = field(default_factory=list)  # type/instance level

    @property
    def profiles(self) -> list[str]:
        return [p for p in [self.profile, *self.supported_profiles] if p]


@dataclass
class Api:
    capability: str  # id
    name: str
    title: str | None
    mode: str  # server | client
    resources: list[ResourceApi]
    url: str | None = None
    operations: list[OperationApi] = field(default_factory=list)  # system level

    @property
    def python_name(self) -> str:
        s = re.sub(r"[^0-9A-Za-z]+", "_", self.capability).strip("_").lower()
        return ("api_" + s) if s[:1].isdigit() else s


@cache
def base_parameters() -> dict[str, list[dict[str, Any]]]:
    raw = json.loads((files("igtools.data") / "r4-search-parameters.json").read_text("utf-8"))
    return {k: v for k, v in raw.items() if not k.startswith("_")}


class ParamRegistry:
    """Every known search parameter by (resource type, code)."""

    def __init__(self, ig: IG) -> None:
        self._params: dict[tuple[str, str], ParamSpec] = {}
        self._dependencies = ig.dependency_search_params
        for rtype, items in base_parameters().items():
            for item in items:
                self.add(_spec(rtype, item, "base"))
        for sp in ig.search_params.values():
            for base in sp.base:
                self.add(_from_ir(base, sp, "ig"))
        # what the statements use from the dependencies (the core's parameters the subset
        # lacks): their resolved search parameters, the ones their includes name
        for cap in ig.capabilities:
            for rest in cap.rest:
                for r in rest.resources:
                    for csp in r.search_params:
                        if csp.resolved and (r.type, csp.code) not in self._params:
                            self.add(_from_ir(r.type, csp, "base"))
                    for inc in [*r.search_includes, *r.search_rev_includes]:
                        parts = inc.split(":")
                        if len(parts) >= 2:
                            self.get(parts[0], parts[1])

    def add(self, spec: ParamSpec) -> None:
        self._params[(spec.resource, spec.code)] = spec

    def get(self, resource: str, code: str) -> ParamSpec | None:
        """The IG's parameter, else the base subset igtools ships, else the loaded
        dependencies' (the core package's parameters the subset leaves out)."""
        found = self._params.get((resource, code)) or self._params.get(("Resource", code))
        if found is None and self._dependencies is not None:
            sp = self._dependencies.get(resource, code)
            if sp is not None:
                found = _from_ir(resource, sp, "base")
                self.add(found)
        return found

    def of(self, resource: str) -> list[ParamSpec]:
        return [p for (r, _), p in self._params.items() if r == resource]


def _spec(resource: str, item: dict[str, Any], source: str) -> ParamSpec:
    return ParamSpec(
        resource=resource,
        code=str(item["code"]),
        type=str(item["type"]),
        expression=item.get("expression"),
        targets=list(item.get("targets") or []),
        comparators=list(item.get("comparators") or []),
        modifiers=list(item.get("modifiers") or []),
        source=source,
    )


def _from_ir(resource: str, sp: SearchParam, source: str) -> ParamSpec:
    return ParamSpec(
        resource=resource,
        code=sp.code,
        type=sp.type,
        expression=sp.expression,
        targets=list(sp.targets),
        comparators=list(sp.comparators),
        modifiers=list(sp.modifiers),
        url=sp.url,
        label=sp.name,
        documentation=sp.documentation or sp.description,
        source=source,
    )


@dataclass
class Overlay:
    capabilities: list[str]
    resource: str
    search: list[str] = field(default_factory=list)
    chains: list[str] = field(default_factory=list)
    has: list[str] = field(default_factory=list)
    include: list[str] = field(default_factory=list)
    include_iterate: list[str] = field(default_factory=list)
    revinclude: list[str] = field(default_factory=list)
    conditional_update: str | None = None
    bundle_profile: str | None = None

    def applies(self, capability: Capability, resource: str) -> bool:
        ids = {capability.id, capability.name, capability.url}
        return resource == self.resource and (
            "*" in self.capabilities or bool(ids & set(self.capabilities))
        )


def parse_overlays(data: Any, where: str) -> list[Overlay]:
    """``[[stubs.overlay]]`` tables of the project configuration."""
    if data is None:
        return []
    if not isinstance(data, list):
        raise ConfigError(f"{where}: [[stubs.overlay]] must be an array of tables")
    out = []
    keys = {
        "capabilities",
        "resource",
        "search",
        "chains",
        "has",
        "include",
        "include-iterate",
        "revinclude",
        "conditional-update",
        "bundle-profile",
    }
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: stubs.overlay[{i}] is not a table")
        unknown = set(item) - keys
        if unknown:
            raise ConfigError(f"{where}: stubs.overlay[{i}]: unknown keys {sorted(unknown)}")
        if "resource" not in item or "capabilities" not in item:
            raise ConfigError(f"{where}: stubs.overlay[{i}] needs 'resource' and 'capabilities'")
        out.append(
            Overlay(
                capabilities=[str(c) for c in item["capabilities"]],
                resource=str(item["resource"]),
                search=[str(x) for x in item.get("search", [])],
                chains=[str(x) for x in item.get("chains", [])],
                has=[str(x) for x in item.get("has", [])],
                include=[str(x) for x in item.get("include", [])],
                include_iterate=[str(x) for x in item.get("include-iterate", [])],
                revinclude=[str(x) for x in item.get("revinclude", [])],
                conditional_update=item.get("conditional-update"),
                bundle_profile=item.get("bundle-profile"),
            )
        )
    return out


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def build_plan(ig: IG, overlays: list[Overlay] | None = None) -> tuple[list[Api], list[str]]:
    """The API of every rest entry of every CapabilityStatement, and warnings."""
    registry = ParamRegistry(ig)
    overlays = overlays or []
    apis: list[Api] = []
    warnings: list[str] = []
    for cap in ig.capabilities:
        for rest in cap.rest:
            resources = [
                _resource_api(cap, r, registry, overlays, warnings) for r in rest.resources
            ]
            system, by_type = _rest_operations(rest, [r.type for r in resources])
            for res in resources:
                res.operations = merge_operations(res.operations + by_type.get(res.type, []))
            apis.append(
                Api(
                    capability=str(cap.id),
                    name=str(cap.name or cap.id),
                    title=cap.title,
                    mode=rest.mode,
                    resources=resources,
                    url=cap.url,
                    operations=merge_operations(system),
                )
            )
    return apis, warnings


def _resource_api(
    cap: Capability,
    r: CapabilityResource,
    registry: ParamRegistry,
    overlays: list[Overlay],
    warnings: list[str],
) -> ResourceApi:
    params: list[ParamSpec] = []
    has: list[str] = []
    for sp in r.search_params:
        if sp.code == "_has":
            continue  # a special parameter: its shapes come from the overlay
        known = registry.get(r.type, sp.code)
        if sp.resolved:
            spec = _from_ir(r.type, sp, "capability")
        elif known is not None:
            spec = ParamSpec(**{**known.__dict__, "label": sp.name, "source": "capability"})
        else:
            warnings.append(
                f"{cap.id}: {r.type} search parameter {sp.name} ({sp.url}): definition not "
                f"found; served as {sp.code} ({sp.type}) without an expression"
            )
            spec = ParamSpec(
                r.type, sp.code, sp.type, label=sp.name, url=sp.url, source="capability"
            )
        spec.documentation = sp.documentation or spec.documentation
        params.append(spec)
    includes = list(r.search_includes)
    iterate: list[str] = []
    revincludes = list(r.search_rev_includes)
    chains: list[str] = []
    conditional = None
    bundle = None
    if r.conditional_update and any(p.code == "identifier" for p in params):
        conditional = "identifier"
    for o in overlays:
        if not o.applies(cap, r.type):
            continue
        for code in o.search:
            spec2 = registry.get(r.type, code)
            if spec2 is None:
                warnings.append(f"{cap.id}: overlay names unknown search parameter {r.type}.{code}")
                continue
            params.append(ParamSpec(**{**spec2.__dict__, "source": "overlay"}))
        chains += o.chains
        has += o.has
        iterate += o.include_iterate
        includes += [i for i in o.include if i not in o.include_iterate]
        revincludes += o.revinclude
        conditional = o.conditional_update or conditional
        bundle = o.bundle_profile or bundle
    includes = [i for i in _dedupe(includes) if i not in iterate]
    seen: set[str] = set()
    unique = []
    for p in params:
        if p.code not in seen:
            seen.add(p.code)
            unique.append(p)
    for chain in chains:
        head = chain.split(".", 1)[0].split(":", 1)[0]
        if head not in seen:
            warnings.append(f"{cap.id}: {r.type} chain {chain} starts with undeclared {head}")
    for inc in [
        *includes,
        *iterate,
        *revincludes,
        *[f"{h.split(':')[0]}:{h.split(':')[1]}" for h in has],
    ]:
        parts = inc.split(":")
        if len(parts) >= 2 and registry.get(parts[0], parts[1]) is None:
            warnings.append(f"{cap.id}: {r.type}: {inc} names an unknown search parameter")
    return ResourceApi(
        type=r.type,
        profile=r.profile,
        supported_profiles=list(r.supported_profiles),
        interactions=list(r.interactions),
        params=unique,
        chains=_dedupe(chains),
        has=_dedupe(has),
        includes=includes,
        include_iterate=_dedupe(iterate),
        revincludes=_dedupe(revincludes),
        conditional_update=conditional,
        bundle_profile=bundle,
        documentation=r.documentation,
        operations=merge_operations([_resource_operation(op) for op in r.operations]),
    )
