"""Where an extension may be used, judged as the reference validator judges it
(InstanceValidator.checkExtensionContext): the element holding the extension (its
*container*) must match one of the contexts of the extension's definition, and then
every ``contextInvariant`` must hold on it.

- ``element`` contexts: ``Element``/``Any`` match anywhere, ``Resource`` any resource;
  otherwise the container's paths must name the context. Those paths are the container's
  element path from its resource (``Patient.name``; an element reached through a content
  reference by the referenced path, ``Questionnaire.item``), its type (``HumanName``,
  ``boolean``, ``BackboneElement``, ``Patient`` for a resource) and its paths from every
  data type above it (``HumanName.given``). Types are matched with their parents
  (``DomainResource.text`` matches ``Patient.text``, ``Quantity`` an ``Age``).
- ``extension`` contexts: the container is the extension of that url, or the value of it.
- ``fhirpath`` contexts: the expression, evaluated on the container's resource, returns
  the container.
- ``contextInvariant``: evaluated with the container as focus, it must be true.

A context that cannot be evaluated (an expression igtools' FHIRPath engine refuses, an
element path naming a type R4 does not know, an unknown kind) leaves the use unjudged
unless another context allows it. Extensions within fixed, pattern and example values of
an ElementDefinition are allowed anywhere, as the reference validator allows them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from igtools.runtime import fhirjson
from igtools.runtime.fhirpath import FhirPathError, Hooks, Node, compile
from igtools.runtime.fhirpath_model import model

JSON = Any

# contexts the reference validator corrects for R4 definitions (fixContexts): the
# context at that position is read as the given expression
_CORRECTIONS: dict[str, tuple[int, str]] = {
    "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type": (
        0,
        "ElementDefinition.type",
    ),
    "http://hl7.org/fhir/StructureDefinition/regex": (1, "ElementDefinition.type"),
    "http://hl7.org/fhir/StructureDefinition/structuredefinition-normative-version": (
        0,
        "Element",
    ),
    "http://hl7.org/fhir/StructureDefinition/capabilitystatement-expectation": (0, "Element"),
    "http://hl7.org/fhir/StructureDefinition/capabilitystatement-prohibited": (0, "Element"),
}
# any extension may sit in these values (they show other elements' content)
_FREE = ("ElementDefinition.example.value", "ElementDefinition.pattern", "ElementDefinition.fixed")
_STEP = re.compile(r"([A-Za-z][A-Za-z0-9_]*)(?:\[(\d+)\])?")
_LABELS = {"element": "e", "extension": "x", "fhirpath": "p"}


@dataclass(frozen=True)
class ExtensionContext:
    """The contexts of an extension definition: (kind, expression) pairs and its
    context invariants (FHIRPath)."""

    contexts: tuple[tuple[str, str], ...]
    invariants: tuple[str, ...] = ()

    @classmethod
    def of(cls, sd: JSON) -> ExtensionContext | None:
        """From an extension StructureDefinition's JSON; None when it states no context."""
        pairs: list[tuple[str, str]] = []
        for ctx in sd.get("context") or []:
            if isinstance(ctx, dict):
                pairs.append((str(ctx.get("type")), str(ctx.get("expression"))))
        fix = _CORRECTIONS.get(str(sd.get("url")))
        if fix is not None and fix[0] < len(pairs):
            pairs[fix[0]] = (pairs[fix[0]][0], fix[1])
        invariants = tuple(s for s in sd.get("contextInvariant") or [] if isinstance(s, str))
        if not pairs:
            return None
        return cls(tuple(pairs), invariants)

    def shown(self) -> str:
        return ", ".join(f"{_LABELS.get(k, k)}:{e}" for k, e in self.contexts)


@dataclass
class _Place:
    """The element holding an extension."""

    container: JSON  # its JSON object (a primitive's ``_name`` object)
    value: JSON  # a primitive's value, else the container
    type: str | None  # its FHIR type (a backbone element's path)
    resource: JSON  # the resource it is in (the innermost one)
    paths: list[str] = field(default_factory=list)
    is_resource: bool = False
    extension_url: str | None = None  # the extension it is, or whose value it is


def _at(value: JSON, index: str | None) -> JSON:
    if index is None:
        return value
    i = int(index)
    return value[i] if isinstance(value, list) and i < len(value) else None


def locate(loc: str, data: JSON) -> _Place | None:
    """The element holding the extension at ``loc`` (``Patient.name[0].extension[1]``)
    in the resource ``data``; None when ``loc`` is not an extension's location there."""
    head, _, last = loc.rpartition(".")
    if not head or not last.startswith(("extension", "modifierExtension")):
        return None
    steps = head.split(".")
    rt = data.get("resourceType") if isinstance(data, dict) else None
    if steps[0] != rt:
        return None
    types = fhirjson.table().types
    place = _Place(data, data, rt, data, [rt], True)
    rel = rt  # the element path from the resource
    chains: list[str] = []  # paths from the types above, and the element's own type
    parent: JSON = None
    parent_type: str | None = None
    obj: JSON = data
    tname = rt
    primitive = False
    for step in steps[1:]:
        m = _STEP.fullmatch(step)
        if m is None or primitive or not isinstance(obj, dict):
            return None
        name, index = m.group(1), m.group(2)
        prop = types.get(tname, {}).get(name)
        if prop is None:
            return None
        code, _, kind, choice = prop
        label = choice or name
        parent, parent_type = obj, tname
        if kind == fhirjson.PRIMITIVE:
            primitive = True
            place.value = _at(obj.get(name), index)
            obj = _at(obj.get("_" + name), index)
            place.container = obj
        else:
            obj = _at(obj.get(name), index)
            place.container = place.value = obj
        if kind == fhirjson.RESOURCE:
            if not isinstance(obj, dict) or not isinstance(obj.get("resourceType"), str):
                return None
            tname = rel = str(obj["resourceType"])
            place.resource = obj
            place.is_resource = True
            place.type = tname
            chains = []
            continue
        place.is_resource = False
        backbone = "." in code
        if backbone and code.split(".", 1)[0] == rel.split(".", 1)[0]:
            rel = code  # a content reference: the referenced element's path
        else:
            rel = f"{rel}.{label}"
        chains = [f"{c}.{label}" for c in chains]
        chains.append("BackboneElement" if backbone else code)
        place.type = tname = code
    if not isinstance(place.container, dict):
        return None
    place.paths = [rel, *chains]
    if tname == "Extension" and not primitive:
        place.extension_url = _url(place.container)
    elif parent_type == "Extension":
        place.extension_url = _url(parent)
    return place


def _url(obj: JSON) -> str | None:
    url = obj.get("url") if isinstance(obj, dict) else None
    return url if isinstance(url, str) else None


def _element_ok(en: str, place: _Place) -> bool | None:
    if en in ("Element", "Any") or (en == "Resource" and place.is_resource):
        return True
    m = model()
    head = en.split(".", 1)[0]
    if "#" in en or not (m.known_type(head) or head in fhirjson.table().types):
        return None  # a context on a type R4 does not know (a logical model...)
    for p in place.paths:
        if p == en:
            return True
        pn, dot, pt = p.partition(".")
        if en.endswith(dot + pt) and any(a + dot + pt == en for a in m.ancestors(pn)):
            return True
    return False


def _fhirpath_ok(expr: str, place: _Place, data: JSON, hooks: Hooks | None) -> bool | None:
    try:
        found = compile(expr).evaluate(place.resource, root_resource=data, hooks=hooks)
    except FhirPathError:
        return None
    target = place.container
    return any(isinstance(n, Node) and (n.data is target or n.ext is target) for n in found)


def _truth(result: list[Any]) -> bool:
    """FHIRPath's convertToBoolean: empty is false, a single boolean is itself, any
    other non-empty result is true."""
    if not result:
        return False
    if len(result) == 1:
        v = result[0].data if isinstance(result[0], Node) else result[0]
        if isinstance(v, bool):
            return v
    return True


def judge(
    ctx: ExtensionContext, loc: str, data: JSON, hooks: Hooks | None = None
) -> tuple[bool | None, str]:
    """Whether the extension at ``loc`` in ``data`` may be used there: (True, ""),
    (False, why) or (None, "") when it cannot be told."""
    place = locate(loc, data)
    if place is None:
        return None, ""
    if any(p.startswith(_FREE) for p in place.paths):
        return True, ""
    verdict: bool | None = False
    for kind, expr in ctx.contexts:
        ok: bool | None
        if kind == "element":
            ok = _element_ok(expr, place)
        elif kind == "extension":
            ok = place.extension_url == expr
        elif kind == "fhirpath":
            ok = _fhirpath_ok(expr, place, data, hooks)
        else:
            ok = None
        if ok:
            verdict = True
            break
        if ok is None:
            verdict = None
    if verdict is not True:
        if verdict is None:
            return None, ""
        return False, f"allowed = {ctx.shown()}; this element is [{', '.join(place.paths)}]"
    for inv in ctx.invariants:
        if place.type is not None and place.container is not place.value:
            focus = Node(place.value, place.container, place.type, place.resource)
        else:
            focus = Node(place.container, None, place.type, place.resource)
        try:
            result = compile(inv).evaluate(
                focus, resource=place.resource, root_resource=data, hooks=hooks
            )
        except FhirPathError:
            continue
        if not _truth(result):
            return False, f"based on context invariant '{inv}'"
    return True, ""
