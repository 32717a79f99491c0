"""IR profile -> example instance (FHIR JSON), valid by construction.

Two shapes per profile: *minimal* (only what the profile requires: required elements,
required slices, fixed and pattern values) and *full* (every mustSupport element, every
element the profile constrains, every named slice), plus numbered variants. Values
come from the profile itself first (fixed, pattern, the codes of bound value sets,
extension definitions, reference targets), then from realistic data (FrenchData).
"""

from __future__ import annotations

import copy
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from igtools.ir.model import IG, Element, Extension, Profile, TypeRef
from igtools.render.examples.codings import Codings
from igtools.render.examples.frdata import (
    Commune,
    FrenchData,
    identifier_candidates,
    system_for_type,
)
from igtools.render.examples.harvest import Harvest
from igtools.render.examples.helpers import (
    PLACEHOLDER_CODE,
    _attachment_size_and_hash,
    _has_placeholder,
    _iso,
    _ordered,
    _slice_key,
    _type_slice,
    _value_regexes,
    also_matches,
    guess_type,
    is_resource,
    merge,
)
from igtools.render.examples.invariants import satisfy
from igtools.render.examples.nested import ABSTRACT_TYPES, NestedResources
from igtools.render.examples.regexgen import generate_matching
from igtools.render.examples.repair import (
    Checker,
    ExampleValues,
    alternatives,
    repair_instance,
)
from igtools.runtime.validation import contains
from igtools.validate.rules import compose_pattern

# instances checked by the repair loop: minimal, full and the first variants
CHECKED_VARIANTS = 3

NEVER = {"id", "meta", "implicitRules", "modifierExtension", "contained", "text", "language"}

# children a data type's completion fills better than a generic value would
DEFERRED = {
    "Identifier": {"value", "system"},
    "Reference": {"reference"},
    "ContactPoint": {"value"},
    "Coding": {"code", "system", "display"},
}


@dataclass
class Scope:
    """What one resource being built needs to know of itself."""

    profile: Profile
    resource_id: str
    commune: Commune
    given: str
    family: str
    contained: list[dict[str, Any]] = field(default_factory=list)
    start: datetime | None = None


class Builder(Codings, NestedResources):
    def __init__(self, ig: IG, data: FrenchData, now: datetime) -> None:
        self.ig = ig
        self.data = data
        self.now = now
        self.full = False
        self.targets: dict[str, str] = {}  # profile URL or type -> "Type/id" to point at
        self.bundle_types: set[str] | None = None  # inside a Bundle: the types it holds
        self.harvest = Harvest(ig)
        self.skipped: list[str] = []  # optional parts left out, and why
        self.scope: Scope | None = None
        self._example_values: ExampleValues | None = None
        self._element_ids: dict[str, dict[str, Element]] = {}  # profile url -> id -> element
        # set by the caller that has the package set: validate and repair what is built
        self.checker: Checker | None = None
        self._nesting: list[str] = []  # the nested resources being built (profile or type)
        bundle_profiles = {
            p
            for prof in ig.profiles.values()
            if prof.type == "Bundle"
            for el in prof.elements()
            if el.name == "resource"
            for t in el.types
            for p in t.profiles
        }
        # resource profiles never carried as Bundle entries: candidates for `contained`
        self.containable = {
            url
            for url, prof in ig.profiles.items()
            if prof.is_profile and prof.kind == "resource" and url not in bundle_profiles
        }

    # ------------------------------------------------------------------ entry point

    def instance(
        self, profile: Profile, resource_id: str, full: bool, variant: int = 0
    ) -> dict[str, Any]:
        self.full = full
        commune = self.data.commune()
        outer = self.scope
        self.scope = Scope(profile, resource_id, commune, self.data.given(), self.data.family())
        self.scope.start = (self.now + timedelta(days=1 + variant % 3)).replace(
            hour=9 + (variant * 2) % 8, minute=(variant * 20) % 60, second=0, microsecond=0
        )
        try:
            res: dict[str, Any] = {
                "resourceType": profile.type,
                "id": resource_id,
                "meta": {"profile": [profile.url]},
            }
            meta_el = profile.root.child("meta")
            if meta_el is not None:
                meta = self.fill(meta_el, {"profile": [profile.url]}, force=False)
                res["meta"] = meta
            body = self.fill(profile.root, {}, force=True)
            res.update({k: v for k, v in body.items() if k not in ("resourceType", "id", "meta")})
            contained_el = profile.root.child("contained")
            if self.scope.contained:
                res["contained"] = self.scope.contained
            elif contained_el is not None and contained_el.min >= 1:
                pass  # nothing referenced could be contained: the validator will say
            if self.checker is not None and outer is None and variant < CHECKED_VARIANTS:
                self.check(res, profile)
            return _ordered(res, profile)
        finally:
            self.scope = outer

    def check(self, res: dict[str, Any], profile: Profile) -> None:
        """The bounded repair loop (see :func:`.repair.repair_instance`)."""
        repair_instance(self, res, profile)

    # ------------------------------------------------------------------ elements

    def wanted(self, el: Element) -> int:
        """How many occurrences of ``el`` to build (slices counted by the caller)."""
        if el.prohibited:
            return 0
        if el.min > 0:
            return el.min
        if el.fixed is not None or el.pattern is not None:
            return 1  # the profile's values are shown even on optional elements
        if el.name in NEVER or (el.name == "extension" and not el.slices):
            return 0
        if self.full and (
            el.must_support or el.in_differential or el.fixed is not None or el.pattern is not None
        ):
            return 1
        return 0

    def fill(self, el: Element, obj: dict[str, Any], force: bool) -> dict[str, Any]:
        """Fill the children of ``el`` into ``obj`` (an occurrence of ``el``)."""
        owner = el.types[0].code if len(el.types) == 1 else ""
        deferred = DEFERRED.get(owner, set())
        for child in el.children:
            if child.prohibited:
                continue
            if child.name in deferred and child.fixed is None and child.pattern is None:
                continue
            names = child.json_names()
            present = next((n for n in names if n in obj), None)
            typed = _type_slice(child, present) if present is not None else None
            if child.slices and typed is None:
                items = self.sliced_items(child, obj.get(present) if present else None)
                if items:
                    key = present or self.json_name(child)
                    obj[key] = items if child.is_array else items[0]
                continue
            n = self.wanted(child)
            if present is not None:
                # a pattern already gave a value: complete it with what the child requires
                # (a choice type's value with what its type slice requires)
                target = typed or child
                value = obj[present]
                if isinstance(value, list):
                    obj[present] = [self.complete(target, v) for v in value]
                else:
                    obj[present] = self.complete(target, value)
                continue
            if n == 0:
                continue
            count = n if child.is_array else 1
            if child.max is not None:
                count = min(count, child.max)
            if (
                self.bundle_types is not None
                and child.is_array
                and child.type_codes == ["Reference"]
            ):
                values = self.bundle_references(child, count)
            else:
                values = [self.value(child) for _ in range(count)]
            values = [v for v in values if v is not None]
            if not values:
                continue
            obj[self.json_name(child)] = values if child.is_array else values[0]
        if el.constraints and (obj or "." not in el.path):
            self.repair(el, obj)
        return obj

    def repair(self, el: Element, obj: dict[str, Any]) -> None:
        """Satisfy the element's invariants (see :mod:`.invariants`)."""
        for key in satisfy(el, obj, self.value, self.json_name, self.alternatives):
            self.skipped.append(f"{el.id}: invariant {key} could not be satisfied")

    def alternatives(self, el: Element, name: str, value: Any) -> list[Any]:
        """Other values to try for the child ``name`` of ``el`` when ``value`` breaks an
        invariant (see :mod:`.repair`)."""
        if self._example_values is None:
            self._example_values = ExampleValues.of(self.ig)
        return alternatives(el, name, value, self._example_values)

    def json_name(self, el: Element) -> str:
        if not el.is_choice:
            return el.name
        t = self.pick_type(el)
        return el.name[:-3] + t.code[0].upper() + t.code[1:]

    def pick_type(self, el: Element) -> TypeRef:
        for pref in (el.fixed, el.pattern):
            if pref is not None:
                code = pref[0][len("fixed") if pref[0].startswith("fixed") else len("pattern") :]
                for t in el.types:
                    if t.code.lower() == code.lower():
                        return t
        if el.is_choice and el.slices:
            for s in el.slices:
                if s.min >= 1 and s.types:
                    return s.types[0]
            # a type the profile constrains (a slice of it) rather than one it leaves open
            typed = [s for s in el.slices if s.types and not s.prohibited]
            allowed = {t.code for t in el.types}
            for s in typed:
                if s.types[0].code in allowed:
                    return s.types[0]
        return el.types[0] if el.types else TypeRef("string")

    def sliced_items(self, el: Element, existing: Any) -> list[Any]:
        items: list[Any] = (
            list(existing) if isinstance(existing, list) else ([existing] if existing else [])
        )
        for s in el.slices:
            if s.prohibited:
                continue
            n = s.min if s.min > 0 else (1 if self.full and s.slice_name else 0)
            if s.max is not None:
                n = min(n, s.max)
            key = _slice_key(s)
            if key is not None:
                for i, item in enumerate(items):
                    if contains(item, key):
                        n -= 1
                        generated = self.slice_value(el, s)
                        items[i] = merge(item, generated) if generated is not None else item
            for _ in range(max(0, n)):
                value = self.slice_value(el, s)
                if value is None:
                    continue
                if s.min == 0 and _has_placeholder(value):
                    # an optional slice we cannot fill with a real code: leave it out
                    self.skipped.append(f"{s.id}: no known code for it")
                    continue
                if s.min == 0 and (others := also_matches(el, s, value)):
                    # its discriminator does not tell it from another slice: an item
                    # would match both (an error), so the optional slice is left out
                    self.skipped.append(
                        f"{s.id}: an item would also match slice(s) {', '.join(others)}"
                    )
                    continue
                items.append(value)
        if self.full and not items and el.must_support:
            v = self.value(el)
            if v is not None:
                items.append(v)
        while len(items) < el.min:
            v = self.value(el)
            if v is None:
                break
            items.append(v)
        if el.max is not None:
            items = items[: el.max]
        return items

    def slice_value(self, el: Element, s: Element) -> Any:
        ext = s.extension
        if ext is None and el.name in ("extension", "modifierExtension"):
            for t in s.types:
                if t.profiles:
                    ext = Extension(t.profiles[0], s.slice_name or "", None, [], [], None)
        if ext is not None:
            return self.extension_value(ext, s)
        base = compose_pattern(s)
        return self.value(s, start=copy.deepcopy(base) if base is not None else None)

    # ------------------------------------------------------------------ values

    def value(self, el: Element, start: Any = None) -> Any:
        if el.fixed is not None:
            return copy.deepcopy(el.fixed[1])
        if not el.types and el.pattern is None:
            return None  # a content reference (Observation.component.referenceRange)
        t = self.pick_type(el)
        if el.is_choice and el.slices:
            # the constraints of a choice type's children are on its type slice
            # (value[x]:valueQuantity): build from there
            typed = next((s for s in el.slices if s.type_codes == [t.code]), None)
            if typed is not None and not typed.prohibited:
                return self.value(typed, start)
        if el.pattern is not None and start is None:
            start = copy.deepcopy(el.pattern[1])
        if t.is_primitive:
            if start is not None and not isinstance(start, dict | list):
                return start
            return self.primitive(el, t)
        if t.code == "Extension":
            url = t.profiles[0] if t.profiles else None
            ext = el.extension
            if ext is None and url:
                ext = Extension(url, el.slice_name or "", None, [], [], None)
            return self.extension_value(ext, el) if ext is not None else None
        obj: dict[str, Any] = start if isinstance(start, dict) else {}
        if t.code in ABSTRACT_TYPES or (t.code[:1].isupper() and self.is_resource(t.code)):
            # Bundle entries and `contained` are built by bundles.py and contain(); a
            # resource held elsewhere (Parameters.parameter.resource) is built here
            return self.nested_resource(el, t)
        obj = self.fill(el, obj, force=True)
        if not obj and el.min >= 1 and t.code not in DEFERRED:
            # a required element has content (ele-1) even when all its children are
            # optional: the first one that can be built
            for child in el.children:
                if child.prohibited or child.name in NEVER or child.name == "extension":
                    continue
                v = self.value(child)
                if v is not None:
                    obj[self.json_name(child)] = [v] if child.is_array else v
                    break
        done = self.complete_type(el, t, obj)
        if isinstance(done, dict) and el.constraints:
            # checked again with what completing the data type added (say, an invariant
            # over an attachment's url or data)
            self.repair(el, done)
        return done

    def complete(self, el: Element, value: Any) -> Any:
        if isinstance(value, dict):
            t = self.pick_type(el)
            return self.complete_type(el, t, self.fill(el, value, force=True))
        return value

    @staticmethod
    def is_resource(code: str) -> bool:
        return is_resource(code)

    def complete_type(self, el: Element, t: TypeRef, obj: dict[str, Any]) -> Any:
        """Give a data type value the content that makes it meaningful."""
        scope = self.scope
        assert scope is not None
        code = t.code
        codes = self.codes(el)
        if code == "CodeableConcept":
            if not obj.get("coding") and not obj.get("text"):
                if codes:
                    system, c, display = self.pick(codes)
                    coding = {
                        k: v
                        for k, v in (("system", system), ("code", c), ("display", display))
                        if v
                    }
                    obj["coding"] = [coding]
                elif seen := self.known_codings(el):
                    obj["coding"] = [dict(self.pick(seen))]
                elif el.binding is not None and el.binding.strength == "required":
                    # a required value set the package set does not hold: a text alone
                    # is invalid, a code of it cannot be known; a placeholder says so
                    obj["coding"] = [self.placeholder(el)]
                else:
                    obj["text"] = el.short or "Exemple"
            elif obj.get("coding"):
                for coding in obj["coding"]:
                    if "code" in coding:
                        continue
                    match = [x for x in codes if x[0] in (None, coding.get("system"))] or codes
                    if match:
                        coding["code"] = match[0][1]
                        if match[0][0] and "system" not in coding:
                            coding["system"] = match[0][0]
                        continue
                    seen = self.known_codings(el, coding.get("system"))
                    if seen:
                        for k, v in self.pick(seen).items():
                            coding.setdefault(k, v)
        elif code == "Coding":
            if "code" not in obj and "system" in obj and codes:
                match = [x for x in codes if x[0] in (None, obj["system"])]
                if match:
                    obj["code"] = match[0][1]
            seen = self.known_codings(el, obj.get("system"))
            if "code" not in obj and not codes and seen:
                for k, v in self.pick(seen).items():
                    obj.setdefault(k, v)
            if "code" not in obj:
                if codes:
                    system, c, display = self.pick(codes)
                    obj.update(
                        {
                            k: v
                            for k, v in (("system", system), ("code", c), ("display", display))
                            if v and k not in obj
                        }
                    )
                else:
                    for k, v in self.placeholder(el).items():
                        obj.setdefault(k, v)
                    obj["code"] = PLACEHOLDER_CODE
        elif code == "Identifier":
            self.identifier(el, obj)
        elif code == "HumanName":
            if "family" not in obj and "text" not in obj:
                obj["family"] = scope.family
            if "given" not in obj and el.path.endswith("name"):
                obj["given"] = [scope.given]
        elif code == "Address":
            c = scope.commune
            obj.setdefault("line", [self.data.street()])
            obj.setdefault("city", c.name)
            obj.setdefault("postalCode", c.postal_code)
            obj.setdefault("country", "France")
        elif code == "ContactPoint":
            system = obj.get("system") or "phone"
            obj.setdefault("system", system)
            if "value" not in obj:
                if system == "email":
                    obj["value"] = self.data.email(scope.given, scope.family)
                elif system == "url":
                    obj["value"] = f"https://www.exemple.fr/{scope.resource_id}"
                else:
                    obj["value"] = self.data.phone(scope.commune)
        elif code == "Reference":
            if not obj.get("reference"):
                ref = self.reference(el, t)
                if ref is not None:
                    obj["reference"] = ref
                elif not obj.get("identifier") and not obj.get("display"):
                    obj["display"] = el.short or "Exemple"
        elif code == "Period":
            if not obj:
                start = scope.start or self.now
                obj["start"] = _iso(start)
        elif code in ("Quantity", "Duration", "Age"):
            obj.setdefault("value", 30)
            if code == "Duration":
                obj.setdefault("unit", "min")
                obj.setdefault("system", "http://unitsofmeasure.org")
                obj.setdefault("code", "min")
        elif code == "Narrative":
            obj.setdefault("status", "generated")
            obj.setdefault("div", '<div xmlns="http://www.w3.org/1999/xhtml"><p>Exemple</p></div>')
        elif code == "Attachment":
            obj.setdefault("contentType", "text/plain")
            obj.setdefault("title", "Document")
            _attachment_size_and_hash(obj)
        elif code == "Meta":
            pass
        elif not obj and code not in ("BackboneElement", "Element"):
            return None
        return obj or None

    def identifier(self, el: Element, obj: dict[str, Any]) -> None:
        if "value" in obj:
            return
        kinds = self.harvest.identifier_kinds(el.path, obj.get("system"))
        if kinds:
            for k, v in copy.deepcopy(self.pick(kinds)).items():
                if k == "type" and "type" in obj:
                    continue
                obj.setdefault(k, v)
        system = obj.get("system")
        type_code = None
        typ = obj.get("type")
        if isinstance(typ, dict):
            for c in typ.get("coding") or []:
                type_code = c.get("code") or type_code
        regexes = _value_regexes(el)
        candidates = identifier_candidates(self.data, system, type_code)
        value = next((c for c in candidates if all(re.fullmatch(r, c) for r in regexes)), None)
        if value is None and regexes:
            value = generate_matching(regexes[0], self.data.random)
        if value is None:
            value = (
                candidates[0]
                if candidates
                else str(uuid.UUID(int=self.data.random.getrandbits(128)))
            )
        obj["value"] = value
        if not system:
            known = system_for_type(type_code)
            if known is not None and candidates:
                obj["system"] = known
            elif value.count("-") == 4:
                obj["system"] = "urn:ietf:rfc:3986"
                obj["value"] = "urn:uuid:" + value
            else:
                obj["system"] = f"https://www.exemple.fr/identifiants/{el.path.lower()}"

    def reference(self, el: Element, t: TypeRef) -> str | None:
        scope = self.scope
        assert scope is not None
        for url in self.target_profiles(el, t):
            prof = self.ig.profiles.get(url)
            if prof is not None and url in self.containable and self._contained_wanted():
                return "#" + self.contain(prof)
            if self._contained_needed():
                # the profile requires contained resources: the first reference made
                # points at one (of the target's profile when the package set has it)
                cid = self.contain_target(url)
                if cid is not None:
                    return "#" + cid
            if url in self.targets:
                return self.targets[url]
            rt = prof.type if prof is not None else guess_type(url)
            if rt is not None and rt in self.targets:
                return self.targets[rt]
            if self.bundle_types is not None:
                continue  # inside a Bundle, never point outside it
            if prof is not None:
                return f"{prof.type}/{prof.id}-minimal"
            if rt is not None and rt != "Resource":
                return f"{rt}/exemple-{rt.lower()}"
        return None

    def target_profiles(self, el: Element, t: TypeRef) -> list[str]:
        """The targets a reference of ``el`` may have: inside a slice, those the sliced
        element allows too (an item of a slice meets the sliced element's rules)."""
        targets = [u.partition("|")[0] for u in t.target_profiles]
        scope = self.scope
        if scope is None or ":" not in el.id:
            return targets
        if scope.profile.url not in self._element_ids:
            self._element_ids[scope.profile.url] = {e.id: e for e in scope.profile.elements()}
        unsliced = self._element_ids[scope.profile.url].get(re.sub(r":[^.]+", "", el.id))
        if unsliced is None:
            return targets
        outer = [u.partition("|")[0] for x in unsliced.types for u in x.target_profiles]
        if not outer:
            return targets
        types = {self._target_type(u) for u in targets}
        narrowed = [u for u in outer if self._target_type(u) in types or "Resource" in types]
        return narrowed or targets

    def _target_type(self, url: str) -> str | None:
        prof = self.ig.profiles.get(url)
        return prof.type if prof is not None else guess_type(url)

    def bundle_references(self, el: Element, count: int) -> list[Any]:
        """Inside a Bundle, one reference per target type the Bundle holds."""
        out: list[Any] = []
        for t in el.types:
            for url in t.target_profiles:
                single = TypeRef(t.code, t.profiles, [url])
                ref = self.reference(el, single)
                if ref is not None and {"reference": ref} not in out:
                    out.append(self.fill(el, {"reference": ref}, force=True))
        if el.max is not None:
            out = out[: el.max]
        while len(out) < count:
            v = self.value(el)
            if v is None:
                break
            out.append(v)
        return out

    def extension_value(
        self, ext: Extension, el: Element, parent: str = ""
    ) -> dict[str, Any] | None:
        # a canonical's version (url|5.2.0) is not part of the extension's url
        out: dict[str, Any] = {"url": ext.url.partition("|")[0]}
        where = f"{parent}/{out['url']}" if parent else out["url"]
        value_el = el.child("value[x]")
        types = [
            t
            for t in (
                value_el.types
                if value_el is not None and not value_el.prohibited
                else ext.value_types
            )
        ]
        if not ext.children and not types:
            # a definition the package set does not hold: as the IG's examples use it
            seen = self.harvest.extensions.get(out["url"])
            return copy.deepcopy(seen[0]) if seen else None
        if ext.children and not types:
            nested: list[dict[str, Any]] = []
            # an extension has content (ext-1): when no sub-extension is required, the
            # first one that can be built
            first = not any(c.min >= 1 for c in ext.children) and not self.full
            # sub-extensions the profile using the extension prohibits (max 0)
            sub_el = el.child("extension")
            banned = {
                x.slice_name for x in (sub_el.slices if sub_el is not None else []) if x.prohibited
            }
            for child in ext.children:
                if child.name in banned or child.url in banned:
                    continue
                if child.min >= 1 or self.full or (first and not nested):
                    sub = Extension(
                        child.url,
                        child.name,
                        child.title,
                        [],
                        child.value_types,
                        child.value_element,
                    )
                    v = (
                        self.extension_value(sub, child.value_element or el, where)
                        if child.value_types
                        else None
                    )
                    if v is not None:
                        nested.append(v)
            if nested:
                out["extension"] = nested
            return out if nested else None
        if not types:
            return None
        t = types[0]
        name = "value" + t.code[0].upper() + t.code[1:]
        source = value_el if value_el is not None else ext.value_element
        if source is not None and source.slices:
            # a type slice of value[x] (value[x]:valueReference) carries the constraints
            source = next((x for x in source.slices if x.type_codes == [t.code]), source)
        if source is None:
            return None
        if source.fixed is not None or source.pattern is not None:
            val = self.value(source)
        elif t.is_primitive:
            val = self.primitive(source, t)
        else:
            val = self.complete_type(source, t, self.fill(source, {}, force=True))
        if val is not None and t.code in ("Coding", "CodeableConcept"):
            seen = self.admissible(source, self.harvest.extension_codings(where, name))
            val = self._harvested_coding(val, t.code, seen)
        if val is None:
            return None
        out[name] = val
        return out

    def primitive(self, el: Element, t: TypeRef) -> Any:
        scope = self.scope
        assert scope is not None
        code = t.code
        name = el.name
        codes = self.codes(el)
        if code == "code" and codes:
            return self.pick(codes)[1]
        if code == "boolean":
            return True
        if code in ("integer", "positiveInt", "unsignedInt", "integer64"):
            return 1
        if code == "decimal":
            return 1.5
        if code in ("instant", "dateTime"):
            start = scope.start or self.now
            if name == "end":
                return _iso(start + timedelta(minutes=20))
            if name in ("created", "lastUpdated", "recorded", "issued", "date", "timestamp"):
                return _iso(self.now - timedelta(hours=2))
            return _iso(start)
        if code == "date":
            if name == "birthDate":
                r = self.data.random
                return f"{1955 + r.randint(0, 40)}-0{r.randint(1, 9)}-1{r.randint(0, 9)}"
            return (scope.start or self.now).date().isoformat()
        if code == "time":
            return "09:00:00"
        if code in ("uri", "url", "canonical"):
            if name == "system":
                return "urn:ietf:rfc:3986"
            return f"https://www.exemple.fr/{scope.profile.type.lower()}/{scope.resource_id}"
        if code == "uuid":
            return f"urn:uuid:{uuid.UUID(int=self.data.random.getrandbits(128))}"
        if code == "oid":
            return "urn:oid:1.2.250.1.999.1"
        if code == "id":
            return f"id-{self.data.random.randint(1, 9999)}"
        if code == "code":
            return PLACEHOLDER_CODE
        if code in ("base64Binary",):
            return "RXhlbXBsZQ=="
        # strings: by element name, in French
        words = {
            "family": scope.family,
            "given": scope.given,
            "name": self.data.organization_name(scope.commune),
            "city": scope.commune.name,
            "postalCode": scope.commune.postal_code,
            "line": self.data.street(),
            "country": "France",
            "prefix": "Dr",
            "display": el.short or "Exemple",
            "title": "Exemple",
        }
        value = words.get(name) or "Exemple"
        if el.max_length:
            value = value[: el.max_length]
        return value
