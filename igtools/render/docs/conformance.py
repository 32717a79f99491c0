"""Pages of the conformance resources the IR does not model: OperationDefinition,
ConceptMap, NamingSystem (each shown as the IG Publisher shows it), and every other
conformance kind a package may carry (StructureMap, GraphDefinition, Library ...: a
summary and the JSON). Read from the package set's index, as published; the
ImplementationGuide resource is the IG itself and gets no page.

Published resources may be malformed: every field is read defensively (a field of the
wrong shape is left out), never with a traceback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from igtools.ir.model import IG, Capability
from igtools.packages import PackageSet

# the kinds of artefacts.py (IR-modelled) and the IG itself: no page from here
MODELLED = frozenset(
    {
        "StructureDefinition",
        "ValueSet",
        "CodeSystem",
        "CapabilityStatement",
        "SearchParameter",
        "ImplementationGuide",
    }
)
# resource type -> page kind for those with a dedicated view; others: "res:<Type>"
KINDS = {
    "OperationDefinition": "operation",
    "ConceptMap": "conceptmap",
    "NamingSystem": "namingsystem",
}
NAMING_SYSTEM_URL = "http://hl7.org/fhir/5.0/StructureDefinition/extension-NamingSystem.url"


@dataclass
class Resource:
    """One conformance resource of the root package the IR does not model."""

    resource_type: str
    id: str
    data: dict[str, Any]

    @property
    def stem(self) -> str:
        return f"{self.resource_type}-{self.id}"

    @property
    def kind(self) -> str:
        return KINDS.get(self.resource_type, f"res:{self.resource_type}")

    @property
    def url(self) -> str | None:
        url = _str(self.data.get("url"))
        if url is None and self.resource_type == "NamingSystem":
            for ext in _dicts(self.data.get("extension")):
                if ext.get("url") == NAMING_SYSTEM_URL:
                    url = _str(ext.get("valueUri"))
        return url

    @property
    def title(self) -> str:
        d = self.data
        return _str(d.get("title")) or _str(d.get("name")) or self.id

    @property
    def description(self) -> str:
        return _str(self.data.get("description")) or ""


def other_resources(ig: IG, pset: PackageSet | None) -> list[Resource]:
    """The root package's conformance resources without an IR model, by type then id
    (none without the package set)."""
    if pset is None:
        return []
    out: dict[str, Resource] = {}
    for entry in pset.index.conformance(ig.package):
        rtype = entry.resource_type
        if rtype in MODELLED or not entry.id:
            continue
        data = entry.data
        if isinstance(data, dict):
            res = Resource(rtype, str(entry.id), data)
            out.setdefault(res.stem, res)
    return sorted(out.values(), key=lambda r: (r.resource_type, r.id))


# ------------------------------------------------------------------ field readers


def _str(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return None


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _strs(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def summary_rows(res: Resource, t: dict[str, str]) -> list[tuple[str, str]]:
    """The summary table every page starts with: canonical, version, status, ..."""
    d = res.data
    rows = [(t["url"], f"`{res.url}`" if res.url else "")]
    for key, label in (
        ("version", t["version"]),
        ("name", t["name"]),
        ("status", t["status"]),
        ("publisher", t["publisher"]),
    ):
        value = _str(d.get(key))
        if value is not None:
            rows.append((label, value))
    return rows


# ------------------------------------------------------------------ OperationDefinition


@dataclass
class OpParam:
    name: str
    use: str
    card: str
    types: list[str]  # type codes (search type for string parameters)
    profiles: list[str]  # targetProfile canonicals
    binding: tuple[str, str] | None  # (strength, value set)
    documentation: str
    depth: int = 0  # 0 for parameters, 1 for their parts ...


@dataclass
class Operation:
    code: str
    kind: str
    levels: list[str]
    resources: list[str]
    affects_state: str | None
    input_profile: str | None
    output_profile: str | None
    base: str | None
    parameters: list[OpParam] = field(default_factory=list)

    def url_forms(self) -> list[str]:
        """How it is invoked, as the IG Publisher writes it: ``[base]/Patient/$match``."""
        forms = []
        targets = self.resources or ["[Resource]"]
        if "system" in self.levels:
            forms.append(f"[base]/${self.code}")
        if "type" in self.levels:
            forms += [f"[base]/{r}/${self.code}" for r in targets]
        if "instance" in self.levels:
            forms += [f"[base]/{r}/[id]/${self.code}" for r in targets]
        return forms


def operation(res: Resource) -> Operation:
    d = res.data
    op = Operation(
        code=_str(d.get("code")) or res.id,
        kind=_str(d.get("kind")) or "",
        levels=[lvl for lvl in ("system", "type", "instance") if d.get(lvl) is True],
        resources=_strs(d.get("resource")),
        affects_state=_str(d.get("affectsState")),
        input_profile=_str(d.get("inputProfile")),
        output_profile=_str(d.get("outputProfile")),
        base=_str(d.get("base")),
    )

    def walk(params: Any, depth: int, prefix: str) -> None:
        for p in _dicts(params):
            name = _str(p.get("name")) or "?"
            types = _strs(p.get("type"))
            search = _str(p.get("searchType"))
            if search:
                types = [f"{t} ({search})" for t in types] or [search]
            raw_binding = p.get("binding")
            binding = raw_binding if isinstance(raw_binding, dict) else None
            vs = None
            if binding is not None:
                vs = _str(binding.get("valueSet")) or _str(binding.get("valueSetReference"))
            op.parameters.append(
                OpParam(
                    name=prefix + name,
                    use=_str(p.get("use")) or "",
                    card=f"{_str(p.get('min')) or '?'}..{_str(p.get('max')) or '?'}",
                    types=types,
                    profiles=_strs(p.get("targetProfile")),
                    binding=(
                        (_str(binding.get("strength")) or "", vs)
                        if binding is not None and vs
                        else None
                    ),
                    documentation=_str(p.get("documentation")) or "",
                    depth=depth,
                )
            )
            walk(p.get("part"), depth + 1, f"{prefix}{name}.")

    walk(d.get("parameter"), 0, "")
    return op


# ------------------------------------------------------------------ ConceptMap


@dataclass
class MapRow:
    source: str
    source_display: str
    relationship: str
    target: str
    target_display: str
    comment: str
    depends_on: list[str] = field(default_factory=list)  # "property = value"
    product: list[str] = field(default_factory=list)


@dataclass
class MapGroup:
    source: str
    target: str
    rows: list[MapRow]
    unmapped: str | None

    @property
    def has_depends_on(self) -> bool:
        return any(r.depends_on for r in self.rows)

    @property
    def has_product(self) -> bool:
        return any(r.product for r in self.rows)


@dataclass
class ConceptMapView:
    source: str | None
    target: str | None
    groups: list[MapGroup]


def concept_map(res: Resource) -> ConceptMapView:
    d = res.data
    source = next(
        (v for k in ("sourceCanonical", "sourceUri", "sourceScope") if (v := _str(d.get(k)))),
        None,
    )
    target = next(
        (v for k in ("targetCanonical", "targetUri", "targetScope") if (v := _str(d.get(k)))),
        None,
    )
    groups = []
    for g in _dicts(d.get("group")):
        src, tgt = (
            "|".join(x for x in (_str(g.get(end)), _str(g.get(f"{end}Version"))) if x)
            for end in ("source", "target")
        )
        rows = []
        for el in _dicts(g.get("element")):
            code = _str(el.get("code")) or ""
            display = _str(el.get("display")) or ""
            targets = _dicts(el.get("target"))
            if not targets:
                rows.append(MapRow(code, display, "", "", "", ""))
            for tg in targets:
                rows.append(
                    MapRow(
                        code,
                        display,
                        _str(tg.get("equivalence")) or _str(tg.get("relationship")) or "",
                        _str(tg.get("code")) or "",
                        _str(tg.get("display")) or "",
                        _str(tg.get("comment")) or "",
                        _other_elements(tg.get("dependsOn")),
                        _other_elements(tg.get("product")),
                    )
                )
        unmapped = None
        um = g.get("unmapped")
        if isinstance(um, dict):
            mode = _str(um.get("mode")) or ""
            what = _str(um.get("code")) or _str(um.get("url")) or _str(um.get("otherMap")) or ""
            unmapped = f"{mode} {what}".strip()
        groups.append(MapGroup(src, tgt, rows, unmapped))
    return ConceptMapView(source, target, groups)


def _other_elements(value: Any) -> list[str]:
    """A target's ``dependsOn`` / ``product`` as ``property = value (system)``."""
    out = []
    for o in _dicts(value):
        prop = _str(o.get("property")) or "?"
        val = _str(o.get("value")) or _str(o.get("display")) or ""
        system = _str(o.get("system"))
        out.append((f"{prop} = {val}" if val else prop) + (f" ({system})" if system else ""))
    return out


# ------------------------------------------------------------------ NamingSystem


@dataclass
class UniqueId:
    type: str
    value: str
    preferred: str
    comment: str


@dataclass
class NamingSystemView:
    kind: str
    responsible: str
    type: str
    usage: str
    ids: list[UniqueId]


def naming_system(res: Resource) -> NamingSystemView:
    d = res.data
    ids = [
        UniqueId(
            _str(u.get("type")) or "",
            _str(u.get("value")) or "",
            _str(u.get("preferred")) or "",
            _str(u.get("comment")) or "",
        )
        for u in _dicts(d.get("uniqueId"))
    ]
    raw_type = d.get("type")
    kind_type: dict[str, Any] = raw_type if isinstance(raw_type, dict) else {}
    type_text = _str(kind_type.get("text")) or next(
        (
            _str(c.get("display")) or _str(c.get("code")) or ""
            for c in _dicts(kind_type.get("coding"))
        ),
        "",
    )
    return NamingSystemView(
        kind=_str(d.get("kind")) or "",
        responsible=_str(d.get("responsible")) or "",
        type=type_text,
        usage=_str(d.get("usage")) or "",
        ids=ids,
    )


# ------------------------------------------------------------------ CapabilityStatement


@dataclass
class CapOperation:
    name: str
    definition: str | None
    documentation: str


@dataclass
class CapOperations:
    """The operations of one rest entry of a CapabilityStatement: system-level ones and
    per resource type (``rest.operation``, ``rest.resource.operation``)."""

    system: list[CapOperation] = field(default_factory=list)
    by_resource: dict[str, list[CapOperation]] = field(default_factory=dict)


def _cap_ops(value: Any) -> list[CapOperation]:
    return [
        CapOperation(
            _str(o.get("name")) or "?",
            _str(o.get("definition")),
            _str(o.get("documentation")) or "",
        )
        for o in _dicts(value)
    ]


def capability_operations(
    capabilities: list[Capability], ig: IG, pset: PackageSet | None
) -> dict[str, list[CapOperations]]:
    """Capability id -> its operations per rest entry (in the IR's order); empty
    without the package set."""
    out: dict[str, list[CapOperations]] = {}
    if pset is None:
        return out
    raw = {
        str(e.id): e.data
        for e in pset.index.of_type("CapabilityStatement", ig.package)
        if isinstance(e.data, dict)
    }
    for c in capabilities:
        data = raw.get(str(c.id))
        if data is None:
            continue
        rests = []
        for rest in _dicts(data.get("rest")):
            ops = CapOperations(system=_cap_ops(rest.get("operation")))
            for r in _dicts(rest.get("resource")):
                found = _cap_ops(r.get("operation"))
                if found:
                    ops.by_resource.setdefault(_str(r.get("type")) or "?", []).extend(found)
            rests.append(ops)
        out[str(c.id)] = rests
    return out


def raw_json(res: Resource) -> str:
    return json.dumps(res.data, indent=2, ensure_ascii=False)
