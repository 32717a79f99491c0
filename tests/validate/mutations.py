"""A mutation suite derived from the IR: from each valid example, variants that each
break exactly one constraint of a profile it claims, and valid controls.

The mutations are computed from the profile (not from a list of SAS paths), so the same
suite runs on any IG's examples.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from igtools.ir.model import IG, Element, Profile

CORE_SD = "http://hl7.org/fhir/StructureDefinition/"

SAMPLES: dict[str, Any] = {
    "string": "exemple",
    "markdown": "exemple",
    "code": "exemple",
    "id": "exemple",
    "uri": "urn:uuid:3b5d3e8c-2b0e-4c44-9d37-1b9f0f8c1a11",
    "url": "https://example.org/x",
    "canonical": "https://example.org/x",
    "boolean": True,
    "integer": 1,
    "positiveInt": 1,
    "unsignedInt": 1,
    "decimal": 1.5,
    "date": "2024-01-02",
    "dateTime": "2024-01-02T10:00:00+01:00",
    "instant": "2024-01-02T10:00:00+01:00",
    "time": "10:00:00",
    "Coding": {"system": "https://example.org/cs", "code": "x"},
    "CodeableConcept": {"text": "exemple"},
    "Identifier": {"value": "exemple"},
    "Reference": {"display": "exemple"},
    "Period": {"start": "2024-01-02"},
    "HumanName": {"family": "Exemple"},
    "Address": {"city": "Paris"},
    "ContactPoint": {"system": "phone", "value": "+33100000000"},
    "Annotation": {"text": "exemple"},
    "Narrative": {
        "status": "generated",
        "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>',
    },
    "Meta": {"versionId": "1"},
    "Extension": {"url": "https://example.org/ext", "valueString": "x"},
    "Quantity": {"value": 1},
    "Duration": {"value": 1},
    "Attachment": {"contentType": "text/plain"},
}

DATE_TYPES = {"date", "dateTime", "instant"}


@dataclass
class Mutation:
    kind: str  # what it breaks (or "control")
    description: str
    data: dict[str, Any]
    profile: str
    expect_location: str | None = None  # a prefix the error location must start with

    @property
    def valid(self) -> bool:
        return self.kind == "control"


def _other_type(targets: list[str]) -> str:
    for t in ("Patient", "Device", "Group", "Medication"):
        if t not in targets:
            return t
    return "Substance"


def _target_types(ig: IG, el: Element) -> list[str] | None:
    out: list[str] = []
    for t in el.types:
        if t.code != "Reference" or not t.target_profiles:
            return None
        for url in t.target_profiles:
            url = url.partition("|")[0]
            if url in ig.profiles:
                out.append(ig.profiles[url].type)
            elif url.startswith(CORE_SD):
                out.append(url[len(CORE_SD) :])
            else:
                return None
    return out


Path = tuple[str | int, ...]


def _get(data: Any, path: Path) -> Any:
    for p in path:
        data = data[p]
    return data


def _loc(rt: str, path: Path) -> str:
    out = rt
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def _occurrences(el: Element, data: dict[str, Any], parents: list[Path]) -> list[tuple[Path, str]]:
    """(path of the value or list, json name) of ``el`` in each parent occurrence."""
    out = []
    for parent in parents:
        obj = _get(data, parent)
        if not isinstance(obj, dict):
            continue
        for n in el.json_names():
            if n in obj:
                out.append(((*parent, n), n))
    return out


def _values(data: dict[str, Any], occ: list[tuple[Path, str]]) -> list[Path]:
    """Paths of each single value (list items expanded)."""
    out: list[Path] = []
    for path, _ in occ:
        v = _get(data, path)
        if isinstance(v, list):
            out.extend((*path, i) for i in range(len(v)))
        else:
            out.append(path)
    return out


INVARIANT_BREAKERS: dict[str, Any] = {}


def mutations(ig: IG, profile: Profile, data: dict[str, Any]) -> Iterator[Mutation]:
    """Single-constraint mutations of ``data`` for ``profile``, at every depth of the
    element tree where the instance has the parent element (slices: see below)."""
    yield from _walk(ig, profile, profile.root, data, [()])
    yield from _invariant_breakers(profile, data)
    yield from _controls(profile, data)


def _variant(
    data: dict[str, Any], profile: Profile, kind: str, desc: str, loc: str | None
) -> tuple[dict[str, Any], Mutation]:
    d = copy.deepcopy(data)
    return d, Mutation(kind, desc, d, profile.url, loc)


def _walk(
    ig: IG, profile: Profile, parent_el: Element, data: dict[str, Any], parents: list[Path]
) -> Iterator[Mutation]:
    rt = profile.type
    for el in parent_el.children:
        occ = _occurrences(el, data, parents)
        values = _values(data, occ)
        # 1. required element removed (from the first parent occurrence that has it)
        if el.min >= 1 and occ and not any(s.min for s in el.slices):
            path, name = occ[0]
            d, m = _variant(
                data, profile, "required-removed", f"remove {el.path}", _loc(rt, path[:-1])
            )
            container = _get(d, path[:-1])
            container.pop(name)
            container.pop("_" + name, None)
            if not container and len(path) > 1:
                pass  # the parent becomes empty: still invalid (ele-1), still the right place
            yield m
        # 2. prohibited element added (in the first parent occurrence)
        if el.max == 0 and parents and len(el.types) == 1 and el.types[0].code in SAMPLES:
            parent = parents[0]
            obj = _get(data, parent)
            name = el.json_names()[0]
            if isinstance(obj, dict) and name not in obj and el.types[0].code != "Extension":
                d, m = _variant(
                    data, profile, "prohibited-added", f"add {el.path}", _loc(rt, (*parent, name))
                )
                value = copy.deepcopy(SAMPLES[el.types[0].code])
                _get(d, parent)[name] = [value] if el.is_array else value
                yield m
        # 3. fixed/pattern primitive value changed
        for fp in (el.fixed, el.pattern):
            if fp is not None and isinstance(fp[1], str | bool | int) and values:
                vp = values[0]
                d, m = _variant(data, profile, "fixed-changed", f"change {el.path}", _loc(rt, vp))
                old = _get(d, vp)
                new = (
                    "zz-" + str(old)
                    if isinstance(old, str)
                    else (not old if isinstance(old, bool) else old + 1)
                )
                _get(d, vp[:-1])[vp[-1]] = new
                yield m
        # 4. code outside a required value set of the package
        yield from _bad_codes(ig, profile, el, data, values)
        # 4b. a CodeableConcept under a required binding with text only ("No code provided")
        b = el.binding
        if (
            b is not None
            and b.strength == "required"
            and el.type_codes == ["CodeableConcept"]
            and not el.slices
            and values
            and isinstance(_get(data, values[0]), dict)
        ):
            vp = values[0]
            d, m = _variant(data, profile, "text-only", f"text only in {el.path}", _loc(rt, vp))
            _get(d, vp[:-1])[vp[-1]] = {"text": "texte libre"}
            yield m
        # 5. max cardinality exceeded
        if el.max is not None and el.max >= 1 and el.is_array and occ:
            path, _ = occ[0]
            items = _get(data, path)
            if isinstance(items, list) and items:
                d, m = _variant(
                    data, profile, "max-exceeded", f"{el.path} beyond {el.max}", _loc(rt, path)
                )
                _get(d, path).extend(
                    copy.deepcopy(items[0]) for _ in range(el.max - len(items) + 1)
                )
                yield m
        # 6. required slice removed (top-level slices)
        if parent_el is profile.root:
            for s in el.slices:
                if s.min >= 1 and occ and isinstance(_get(data, occ[0][0]), list):
                    yield from _slice_removals(ig, profile, el, s, data)
        # 7. malformed date
        if values and len(el.types) == 1 and el.types[0].code in DATE_TYPES:
            vp = values[0]
            d, m = _variant(data, profile, "malformed-date", f"malformed {el.path}", _loc(rt, vp))
            _get(d, vp[:-1])[vp[-1]] = "2021-02-30T25:61:00"
            yield m
        # 8. reference to a disallowed type: to a contained resource of that type (the
        # reference validator checks the type of what a reference resolves to; an
        # unresolvable "Type/id" is taken as is)
        targets = _target_types(ig, el)
        if targets and "Resource" not in targets:
            for vp in values[:1]:
                ref = _get(data, vp)
                if (
                    isinstance(ref, dict)
                    and isinstance(ref.get("reference"), str)
                    and not ref["reference"].startswith("#")
                ):
                    other = _other_type(targets)
                    d, m = _variant(
                        data, profile, "bad-reference", f"{el.path} -> {other}", _loc(rt, vp)
                    )
                    _get(d, vp)["reference"] = "#x1-other"
                    d.setdefault("contained", []).append({"resourceType": other, "id": "x1-other"})
                    yield m
        # 9. wrong primitive type
        if values and el.type_codes == ["boolean"]:
            vp = values[0]
            d, m = _variant(data, profile, "wrong-type", f"{el.path} as a string", _loc(rt, vp))
            _get(d, vp[:-1])[vp[-1]] = "oui"
            yield m
        # recurse into the element's own occurrences
        child_parents = [vp for vp in values if isinstance(_get(data, vp), dict)]
        if el.children and child_parents:
            yield from _walk(ig, profile, el, data, child_parents)


def _bad_codes(
    ig: IG, profile: Profile, el: Element, data: dict[str, Any], values: list[Path]
) -> Iterator[Mutation]:
    # slices told apart by their value set ($this value/pattern discriminator, required
    # binding): a code outside it only puts the item outside the slice (HL7 validator)
    by_binding = el.slicing is not None and any(
        d.type in ("value", "pattern") and d.path == "$this" for d in el.slicing.discriminators
    )
    candidates = [el, *([] if by_binding else el.slices)]
    for c in candidates:
        b = c.binding
        if (
            b is None
            or b.strength != "required"
            or not b.complete
            or not b.codes
            or not b.value_set
            or c.type_codes not in (["code"], ["CodeableConcept"], ["Coding"])
        ):
            continue
        vs = ig.value_sets.get(b.value_set.partition("|")[0])
        if vs is None or vs.package != ig.package:
            continue
        codes = {cc.code for cc in b.codes}
        kind = c.type_codes[0]
        for vp in values:
            v = _get(data, vp)
            if kind == "code" and v in codes:
                d, m = _variant(
                    data, profile, "code-outside-vs", f"bad code in {c.id}", _loc(profile.type, vp)
                )
                _get(d, vp[:-1])[vp[-1]] = "pas-un-code"
                yield m
                break
            if kind == "Coding" and isinstance(v, dict) and v.get("code") in codes:
                d, m = _variant(
                    data, profile, "code-outside-vs", f"bad code in {c.id}", _loc(profile.type, vp)
                )
                _get(d, vp)["code"] = "pas-un-code"
                yield m
                break
            if kind == "CodeableConcept" and isinstance(v, dict):
                codings = [x for x in v.get("coding") or [] if x.get("code") in codes]
                if codings and len(v.get("coding") or []) == len(codings):
                    d, m = _variant(
                        data,
                        profile,
                        "code-outside-vs",
                        f"bad code in {c.id}",
                        _loc(profile.type, vp),
                    )
                    for x in _get(d, vp)["coding"]:
                        x["code"] = "pas-un-code"
                    yield m
                    break


def _invariant_breakers(profile: Profile, data: dict[str, Any]) -> Iterator[Mutation]:
    """Break invariants of well-known shapes: ``value.matches('re')`` on identifiers,
    and a few core ones (org-3, cpt-2, app-4, bdl-7)."""
    rt = profile.type
    for el, inv in profile.invariants:
        if inv.severity != "error" or not inv.expression:
            continue
        expr = inv.expression.replace(" ", "")
        names = el.json_names()
        if expr.startswith("value.matches(") and el.path.count(".") == 1 and names[0] in data:
            items = data[names[0]]
            if (
                isinstance(items, list)
                and items
                and isinstance(items[0], dict)
                and "value" in items[0]
            ):
                d, m = _variant(data, profile, "invariant", f"break {inv.key}", f"{rt}.{names[0]}")
                d[names[0]][0]["value"] = "ABC"
                yield m
        elif inv.key == "org-3" and isinstance(data.get("telecom"), list) and data["telecom"]:
            d, m = _variant(data, profile, "invariant", "break org-3", f"{rt}.telecom")
            d["telecom"][0]["use"] = "home"
            yield m
        elif (
            inv.key == "cpt-2"
            and el.path == f"{rt}.telecom"
            and isinstance(data.get("telecom"), list)
            and data["telecom"]
        ):
            d, m = _variant(data, profile, "invariant", "break cpt-2", f"{rt}.telecom")
            d["telecom"][0].pop("system", None)
            yield m
        elif (
            inv.key == "app-4"
            and rt == "Appointment"
            and data.get("status") not in ("cancelled", "noshow")
        ):
            d, m = _variant(data, profile, "invariant", "break app-4", rt)
            d["cancelationReason"] = {"text": "annulé"}
            yield m
        elif (
            inv.key == "bdl-7"
            and len(data.get("entry") or []) >= 2
            and all("fullUrl" in e for e in data["entry"][:2])
        ):
            d, m = _variant(data, profile, "invariant", "break bdl-7", rt)
            d["entry"][1]["fullUrl"] = d["entry"][0]["fullUrl"]
            yield m


def _controls(profile: Profile, data: dict[str, Any]) -> Iterator[Mutation]:
    ext = profile.root.child("extension")
    room = ext is not None and (ext.max is None or len(data.get("extension", [])) < ext.max)
    if ext is not None and room and (ext.slicing is None or ext.slicing.rules != "closed"):
        d, m = _variant(data, profile, "control", "add an unprofiled extension", None)
        d["extension"] = [
            *d.get("extension", []),
            {"url": "https://example.org/ext/controle", "valueString": "ok"},
        ]
        yield m
    d, m = _variant(data, profile, "control", "change the id", None)
    d["id"] = "controle-1"
    yield m
    if profile.root.child("language") is not None and "language" not in data:
        d, m = _variant(data, profile, "control", "add language", None)
        d["language"] = "fr-FR"
        yield m


def _slice_removals(
    ig: IG, profile: Profile, el: Element, s: Element, data: dict[str, Any]
) -> Iterator[Mutation]:
    from igtools.runtime.validation import validate
    from igtools.validate.rules import build_rules

    rules, _ = build_rules(ig)
    r = rules[profile.url]
    name = el.json_names()[0]
    items = data[name]
    # find which items belong to the slice: remove each item and see if the slice count drops
    keep = []
    for i, _item in enumerate(items):
        trial = copy.deepcopy(data)
        trial[name] = [x for j, x in enumerate(items) if j != i]
        if not trial[name]:
            trial.pop(name)
        issues = validate(trial, r, rules, invariants=False)
        if any(f":{s.slice_name}" in iss.message for iss in issues):
            keep.append(i)
    if keep:
        d = copy.deepcopy(data)
        d[name] = [x for j, x in enumerate(items) if j not in keep]
        if not d[name]:
            d.pop(name)
        yield Mutation(
            "slice-removed", f"remove slice {el.path}:{s.slice_name}", d, profile.url, profile.type
        )
