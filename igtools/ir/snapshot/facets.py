"""Facets of an element: how a differential element merges onto its base element."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from igtools.ir.snapshot.tree import Json, Node, copy_json, types_of

FHIR_SD = "http://hl7.org/fhir/StructureDefinition/"
# Where the specification's pages live: relative links in the texts of its definitions
# become absolute when a profile inherits them (as the IG Publisher writes them).
CORE_WEB = {"hl7.fhir.r4.core": "http://hl7.org/fhir/R4/"}
_LINK = re.compile(r"\]\(([^)]*)\)")
_MARKDOWN = ("definition", "comment", "requirements", "meaningWhenMissing")

# Facets of a differential element that replace the base's value.
_REPLACED = (
    "label",
    "min",
    "max",
    "meaningWhenMissing",
    "orderMeaning",
    "maxLength",
    "mustSupport",
    "isModifier",
    "isModifierReason",
    "isSummary",
    "sliceIsConstraining",
    "representation",
    "short",
)
_PREFIXED = ("fixed", "pattern", "minValue", "maxValue", "defaultValue")


def _absolute_link(match: re.Match[str], web: str) -> str:
    url = match.group(1)
    if not url or url.startswith("..") or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", url):
        return match.group(0)
    return f"]({web}{url})"


FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
SYSTEM_STRING = "http://hl7.org/fhirpath/System.String"


def resource_id_typed(el: Json) -> Json:
    """``el`` with the FHIR type ``id`` when it is a resource's ``id``: the R4 core gives
    ``Resource.id`` the FHIR type ``string``, and ``ProfileUtilities.fixTypeOfResourceId``
    corrects it in every resource base a snapshot is generated from."""
    base = el.get("base")
    if not (isinstance(base, dict) and base.get("path") == "Resource.id"):
        return el
    types = []
    for t in el.get("type") or []:
        if not isinstance(t, dict):
            continue
        others = [
            x
            for x in t.get("extension") or []
            if not (isinstance(x, dict) and x.get("url") == FHIR_TYPE_EXT)
        ]
        fhir_type = {"url": FHIR_TYPE_EXT, "valueUrl": "id"}
        rest = {k: v for k, v in t.items() if k not in ("extension", "code")}
        types.append({"extension": [*others, fhir_type], "code": SYSTEM_STRING, **rest})
    return {**el, "type": types} if types else el


def absolute_links(el: Json, web: str) -> Json:
    """``el`` with the relative links of its markdown made absolute (below ``web``)."""
    out = dict(el)
    for key in _MARKDOWN:
        text = out.get(key)
        if isinstance(text, str) and "](" in text:
            out[key] = _LINK.sub(lambda m: _absolute_link(m, web), text)
    b = out.get("binding")
    if isinstance(b, dict) and isinstance(b.get("description"), str) and "](" in b["description"]:
        out["binding"] = {
            **b,
            "description": _LINK.sub(lambda m: _absolute_link(m, web), b["description"]),
        }
    return out


_BINDABLE = frozenset(
    {"Coding", "CodeableConcept", "Quantity", "uri", "string", "code", "CodeableReference"}
)


def _bindable(el: Json) -> bool:
    return any(t.get("code") in _BINDABLE for t in types_of(el))


def _merge_slicing(base: Any, diff: Json) -> Json:
    """``updateFromSlicing``: ordered and rules replaced, discriminators added."""
    out = copy_json(base) if isinstance(base, dict) else {}
    if "ordered" in diff:
        out["ordered"] = diff["ordered"]
    discs = list(out.get("discriminator") or [])
    for dd in diff.get("discriminator") or []:
        if not any(
            x.get("type") == dd.get("type") and x.get("path") == dd.get("path") for x in discs
        ):
            discs.append(copy_json(dd))
    if discs:
        out["discriminator"] = discs
    for key in ("rules", "description"):
        if key in diff:
            out[key] = diff[key]
    if isinstance(base, dict) and base.get("rules") == "closed":
        out["rules"] = "closed"  # a closed slicing stays closed
    return out


def _fill_out_from_base(profile: Json, usage: Json) -> Json:
    """``fillOutFromBase``: a profile's root element completed from the element it fills."""
    res = profile
    for key in (
        "sliceName",
        "label",
        "definition",
        "short",
        "comment",
        "requirements",
        "min",
        "max",
        "example",
        "maxLength",
        "mustSupport",
        "isSummary",
        "isModifier",
        "isModifierReason",
        "binding",
    ):
        if key not in res and key in usage:
            res[key] = copy_json(usage[key])
    for prefix in ("fixed", "pattern", "minValue", "maxValue"):
        if not any(k.startswith(prefix) for k in res):
            for k, v in usage.items():
                if k.startswith(prefix):
                    res[k] = copy_json(v)
    for key in ("code", "alias"):
        for v in usage.get(key) or []:
            if v not in res.setdefault(key, []):
                res[key].append(copy_json(v))
    have = {c.get("key") for c in res.get("constraint") or [] if isinstance(c, dict)}
    for c in usage.get("constraint") or []:
        if isinstance(c, dict) and c.get("key") not in have:
            res.setdefault("constraint", []).append(copy_json(c))
    urls = {e.get("url") for e in res.get("extension") or [] if isinstance(e, dict)}
    for e in usage.get("extension") or []:
        if isinstance(e, dict) and e.get("url") not in urls:
            res.setdefault("extension", []).append(copy_json(e))
    res["base"] = copy_json(usage.get("base"))
    res["path"] = usage.get("path")
    return res


def _ext_profile(t: Json) -> bool:
    return t.get("code") == "Extension" and bool(t.get("profile"))


def type_slicing_problem(d: Json) -> str | None:
    """What the publisher refuses in a differential's slicing of a choice element: it is
    a type slicing, unordered, on one ``type``/``$this`` discriminator."""
    slicing = d.get("slicing")
    if not isinstance(slicing, dict):
        return None
    if slicing.get("ordered") is True:
        return "a choice element's type slicing cannot be ordered (slicing.ordered is true)"
    discs = slicing.get("discriminator")
    if isinstance(discs, list) and discs:
        said = ", ".join(
            f"{x.get('type')}:{x.get('path')}" if isinstance(x, dict) else str(x) for x in discs
        )
        if said != "type:$this":
            return f"a choice element is sliced by type on $this only, not by {said}"
    return None


def close_type_slicing(node: Node) -> None:
    """Type slicing of a choice element (``processSimplePathWhereDiffsConstrainTypes``):
    closed, a required slice makes the element required and of that type only, and types
    left without a slice open the slicing or, in an extension's value the differential
    does not constrain itself, go away."""
    node.el["slicing"] = {
        "discriminator": [{"type": "type", "path": "$this"}],
        "ordered": False,
        "rules": "closed",
    }
    fixed = None
    for sl in node.slices:
        m = sl.el.get("min")
        if isinstance(m, int) and m > 0:
            node.el["min"] = 1
            types = types_of(sl.el)
            fixed = types[0].get("code") if len(types) == 1 else None
    if fixed is not None:
        node.el["type"] = [t for t in types_of(node.el) if t.get("code") == fixed]
    if node.el.get("max") != "0":
        sliced = {t.get("code") for sl in node.slices for t in types_of(sl.el)}
        unsliced = [t for t in types_of(node.el) if t.get("code") not in sliced]
        if unsliced:
            if "xtension.value" in str(node.el.get("path")) and not node.touched:
                node.el["type"] = [t for t in types_of(node.el) if t.get("code") in sliced]
            else:
                node.el["slicing"]["rules"] = "open"


def slice_minimums(node: Node) -> None:
    """The min of an element sliced implicitly is the sum of its slices' mins."""
    for c in node.children:
        slice_minimums(c)
    for sl in node.slices:
        slice_minimums(sl)
    base = node.el.get("base")
    repeats = not (isinstance(base, dict) and base.get("max") == "1")
    if node.slices and node.auto_sliced and repeats:
        total = 0
        for sl in node.slices:
            if "/" not in str(sl.el.get("sliceName")):
                m = sl.el.get("min")
                total += m if isinstance(m, int) else 0
        m = node.el.get("min")
        if isinstance(m, int) and total > m:
            node.el["min"] = total


def extension_doco(el: Json) -> None:
    """The publisher drops the generic docs of an extension element it constrains."""
    el["short"] = "Extension"
    el["definition"] = "An Extension"
    for key in ("comment", "requirements", "alias", "mapping"):
        el.pop(key, None)


def _pin(ref: Any, version: Callable[[str], str | None]) -> Any:
    if isinstance(ref, str) and "|" not in ref:
        v = version(ref)
        if v:
            return f"{ref}|{v}"
    return ref


# the extensions of an element that a profile does not inherit from its base
# (ProfileUtilities.NON_INHERITED_ED_URLS): a base element's status, maturity, work group
NON_INHERITED_EXTENSIONS = frozenset(
    {
        "http://hl7.org/fhir/tools/StructureDefinition/binding-definition",
        "http://hl7.org/fhir/tools/StructureDefinition/no-binding",
        "http://hl7.org/fhir/StructureDefinition/elementdefinition-isCommonBinding",
        "http://hl7.org/fhir/StructureDefinition/structuredefinition-standards-status",
        "http://hl7.org/fhir/StructureDefinition/structuredefinition-category",
        "http://hl7.org/fhir/StructureDefinition/structuredefinition-fmm",
        "http://hl7.org/fhir/StructureDefinition/structuredefinition-implements",
        "http://hl7.org/fhir/StructureDefinition/structuredefinition-explicit-type-name",
        "http://hl7.org/fhir/StructureDefinition/structuredefinition-security-category",
        "http://hl7.org/fhir/StructureDefinition/structuredefinition-wg",
        "http://hl7.org/fhir/StructureDefinition/structuredefinition-normative-version",
        "http://hl7.org/fhir/tools/StructureDefinition/obligation-profile",
        "http://hl7.org/fhir/StructureDefinition/obligation-profile",
        "http://hl7.org/fhir/StructureDefinition/structuredefinition-standards-status-reason",
        "http://hl7.org/fhir/StructureDefinition/structuredefinition-summary",
    }
)


def inheritable(el: Json) -> Json:
    """``el`` (a definition's root) without the extensions a derived profile, or an
    element typed with the definition, does not inherit."""
    exts = el.get("extension")
    if not isinstance(exts, list):
        return el
    kept = [
        x for x in exts if not (isinstance(x, dict) and x.get("url") in NON_INHERITED_EXTENSIONS)
    ]
    if len(kept) == len(exts):
        return el
    out = {k: v for k, v in el.items() if k != "extension"}
    if kept:
        out = (
            {"extension": kept, **out}
            if next(iter(el)) == "extension"
            else {**out, "extension": kept}
        )
    return out


def with_sources(el: Json, url: str) -> Json:
    """``el`` with the source of each constraint that names none: the StructureDefinition
    it is read from (``ext-1`` on an extension's root is the ``Extension``'s), as the
    publisher writes it."""
    constraints = el.get("constraint")
    if not isinstance(constraints, list) or all(
        not isinstance(c, dict) or c.get("source") for c in constraints
    ):
        return el
    filled = [
        {**c, "source": url} if isinstance(c, dict) and not c.get("source") else c
        for c in constraints
    ]
    return {**el, "constraint": filled}


def pinned(el: Json, version: Callable[[str], str | None], sources: bool = True) -> Json:
    """``el`` with its canonical references versioned (``url|4.0.1``): ``version`` gives
    the version of the resource a reference resolves to, or None to leave it as it is
    (value sets, profiles, target profiles, the sources of constraints)."""
    out = dict(el)
    if sources and isinstance(out.get("constraint"), list):
        out["constraint"] = [
            {**c, "source": _pin(c["source"], version)}
            if isinstance(c, dict) and isinstance(c.get("source"), str)
            else c
            for c in out["constraint"]
        ]
    b = out.get("binding")
    if isinstance(b, dict) and "valueSet" in b:
        out["binding"] = {**b, "valueSet": _pin(b["valueSet"], version)}
    if isinstance(out.get("type"), list):
        types = []
        for t in out["type"]:
            if isinstance(t, dict):
                t = dict(t)
                for key in ("profile", "targetProfile"):
                    if isinstance(t.get(key), list):
                        t[key] = [_pin(r, version) for r in t[key]]
            types.append(t)
        out["type"] = types
    return out


def is_extension(el: Json) -> bool:
    path = str(el.get("path") or "")
    return path == "Extension" or path.endswith((".extension", ".modifierExtension"))


ProfileRoot = Callable[[str], Json | None]


def _max_value(value: Any) -> float | None:
    if value == "*":
        return float("inf")
    try:
        return float(int(str(value)))
    except ValueError:
        return None


def cardinality_problem(base: Json, d: Json) -> str | None:
    """What is wrong with the cardinality a differential element gives its base element."""
    b_min, b_max = base.get("min"), _max_value(base.get("max"))
    d_min, d_max = d.get("min"), _max_value(d.get("max"))
    # in a slice, the minimum of the base does not apply
    below = isinstance(d_min, int) and isinstance(b_min, int) and d_min < b_min
    if below and not d.get("sliceName"):
        return f"min {d_min} is below the base's {b_min}"
    if d_max is not None and b_max is not None and d_max > b_max:
        return f"max {d.get('max')} is above the base's {base.get('max')}"
    if isinstance(d_min, int) and d_max is not None and d_min > d_max:
        return f"min {d_min} is above max {d.get('max')}"
    return None


def merge_element(
    node: Node,
    d: Json,
    url: str,
    new_slice: bool,
    profile_root: ProfileRoot,
    problems: list[str],
) -> None:
    """Apply one differential element onto its snapshot element (``updateFromDefinition``);
    what is wrong with it (a cardinality wider than the base's) goes to ``problems``."""
    if not node.orig and not node.el:  # an element a specialization adds
        el = {k: copy_json(v) for k, v in d.items() if k != "id"}
        el["base"] = {"path": d.get("path"), "min": d.get("min", 0), "max": d.get("max", "*")}
        node.el = el
        return
    el = node.el
    if "base" not in el:
        el["base"] = {
            "path": el.get("path"),
            "min": el.get("min", 0),
            "max": el.get("max", "*"),
        }
    d_types = types_of(d)
    d_profile = None
    base_codes = {t.get("code") for t in types_of(el)}
    if len(d_types) == 1 and base_codes & {"Extension", "Resource"}:
        profiles = d_types[0].get("profile") or []
        if profiles and isinstance(profiles[0], str):
            d_profile = profile_root(profiles[0])
    if d_profile is not None:
        # the element starts from the root of the profile its type names
        template = copy_json(d_profile)
        template["path"] = el.get("path")
        template.pop("sliceName", None)
        template.pop("id", None)
        template.pop("base", None)
        template.pop("slicing", None)
        if d_types[0].get("code") != "Extension":
            for key in ("min", "max"):
                if key in el:
                    template[key] = el[key]
        el = node.el = _fill_out_from_base(template, el)
    if new_slice and "min" not in d and not str(el.get("path")).endswith("xtension.value[x]"):
        el["min"] = 0
    is_ext = is_extension(el)
    if is_ext:
        extension_doco(el)
    root = None
    el_types = types_of(el)
    if el.get("sliceName") and len(el_types) == 1 and _ext_profile(el_types[0]):
        root = profile_root(str(el_types[0]["profile"][0]))
    if root is None and len(d_types) == 1 and _ext_profile(d_types[0]):
        root = profile_root(str(d_types[0]["profile"][0]))
    if root is not None:
        for key in ("definition", "short"):
            if key in root:
                el[key] = root[key]
            else:
                el.pop(key, None)
        for key in ("comment", "requirements"):
            if key in root:
                el[key] = root[key]
        for key in ("alias", "mapping"):
            if key in root:
                el[key] = copy_json(root[key])
            else:
                el.pop(key, None)
    if "sliceName" in d:
        el["sliceName"] = d["sliceName"]
    for key in ("short", "definition", "comment", "label", "requirements"):
        value = d.get(key)
        if isinstance(value, str):
            base_text = el.get(key)
            if value.startswith("...") and key != "short":
                el[key] = (base_text or "") + "\r\n" + value[3:]
            else:
                el[key] = value
    if "." not in str(el.get("path")):
        el.pop("requirements", None)
    if isinstance(d.get("alias"), list):
        have = list(el.get("alias") or [])
        el["alias"] = have + [a for a in d["alias"] if a not in have]
    problem = cardinality_problem(el, d)
    if problem is not None:
        problems.append(f"StructureDefinition {url}: {d.get('id') or d.get('path')}: {problem}")
    for key in _REPLACED:
        if key in d and key not in ("isModifier", "isModifierReason", "short"):
            el[key] = copy_json(d[key])
    if is_ext:
        for key in ("isModifier", "isModifierReason"):
            if key in d:
                el[key] = d[key]
    for key, value in d.items():
        for prefix in _PREFIXED:
            if key.startswith(prefix) and key[len(prefix) : len(prefix) + 1].isupper():
                for old in [k for k in el if k.startswith(prefix) and k != key]:
                    if old[len(prefix) : len(prefix) + 1].isupper():
                        del el[old]
                el[key] = copy_json(value)
    if isinstance(d.get("example"), list):
        have = list(el.get("example") or [])
        el["example"] = have + [copy_json(x) for x in d["example"] if x not in have]
    if isinstance(d.get("binding"), dict):
        db = d["binding"]
        nb = {k: v for k, v in (el.get("binding") or {}).items() if k != "description"}
        nb.pop("extension", None)
        if "extension" in db:
            nb["extension"] = copy_json(db["extension"])
        for key in ("strength", "description", "valueSet"):
            if key in db:
                nb[key] = db[key]
        el["binding"] = nb
    if "type" in d:
        el["type"] = copy_json(d["type"])
    if isinstance(d.get("slicing"), dict):
        el["slicing"] = _merge_slicing(el.get("slicing"), d["slicing"])
    if isinstance(d.get("mapping"), list):
        have = list(el.get("mapping") or [])
        for m in d["mapping"]:
            if not any(
                isinstance(h, dict)
                and h.get("identity") == m.get("identity")
                and h.get("map") == m.get("map")
                for h in have
            ):
                have.append(copy_json(m))
        el["mapping"] = have
    constraints = [dict(c) for c in el.get("constraint") or [] if isinstance(c, dict)]
    keys = {c.get("key") for c in constraints}
    for c in d.get("constraint") or []:
        if isinstance(c, dict) and c.get("key") not in keys:
            constraints.append({**copy_json(c), "source": c.get("source") or url})
            keys.add(c.get("key"))
    if constraints:
        el["constraint"] = constraints
    if isinstance(d.get("condition"), list):
        have = list(el.get("condition") or [])
        el["condition"] = have + [c for c in d["condition"] if c not in have]
    if "binding" in el and not _bindable(el):
        del el["binding"]
    if isinstance(d.get("extension"), list):
        exts = [e for e in el.get("extension") or [] if isinstance(e, dict)]
        new_urls = {e.get("url") for e in d["extension"] if isinstance(e, dict)}
        el["extension"] = [e for e in exts if e.get("url") not in new_urls] + copy_json(
            d["extension"]
        )
