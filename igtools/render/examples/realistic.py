"""Where an example's values come from, before anything is invented.

:class:`RealisticBuilder` is the :class:`~.builder.Builder` (valid by construction) with
the IG's own examples as the first source of values and of elements:

- a *full* instance also carries every element the profile's examples (and those of its
  base profiles in the package) use, and every element with a mustSupport descendant;
- a primitive value is the one those examples give at the same element (the profile's
  examples first, then its base profiles', then any example of the resource type), when
  it satisfies the element (type, length, ``matches()`` invariants, bound codes);
- else a free-text element whose own definition names a format (a URL, an e-mail, a
  phone number, an identifier system) gets a value of that format;
- among a binding's codes, the ones the examples use come first (and where the binding
  does not hold to its expansion, the codings the examples use, even outside it);
- a full instance follows one example: its values go together;
- a coding without a display gets the one its code system (or value set) gives.

Values the toolkit builds coherently are never taken from examples: names, telecom
values, identifier values, references, dates and times relative to ``--now``. An
address is taken whole from the example the instance follows, when it gives one.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from igtools.ir.model import IG, Element, Extension, Profile, TypeRef
from igtools.ir.terminology import core_code_list
from igtools.render.examples.builder import NEVER, Builder
from igtools.render.examples.formats import EMAIL, PHONE, SYSTEM, URL, format_of
from igtools.render.examples.frdata import FrenchData
from igtools.render.examples.helpers import PLACEHOLDER_CODE, is_resource

# primitive types whose values are taken from the IG's examples
TAKEN = {"string", "markdown", "uri", "url", "code", "boolean", "integer", "positiveInt",
         "unsignedInt", "decimal", "time"}  # fmt: skip
# data type parts the toolkit builds coherently (a person's name and e-mail, a commune's
# postal code and phone area, identifiers with check keys, references that resolve)
OWN = (
    "HumanName.",
    "Address.",
    "ContactPoint.value",
    "Identifier.",
    "Reference.",
    "Attachment.",
    "Narrative.",
    "Meta.",
    "Coding.system",
    "Coding.version",
    "Element.id",
    "Resource.id",
    "Extension.url",
)
_MATCHES = re.compile(r"\s*(?:\$this\.|value\.)?matches\('(.+)'\)\s*")


class RealisticBuilder(Builder):
    def __init__(self, ig: IG, data: FrenchData, now: datetime) -> None:
        super().__init__(ig, data, now)
        self._lineages: dict[str, list[str]] = {}
        self._displays: dict[tuple[str, str], str] | None = None
        self._ms_below: dict[int, bool] = {}
        self._used: dict[str, set[str]] = {}
        self._extension_context: list[Element] = []
        self._follow: list[int | None] = []

    # ------------------------------------------------------------------ which examples

    def lineage(self, profile: Profile) -> list[str]:
        """The profile's URL, then its base profiles' held by the package set."""
        found = self._lineages.get(profile.url)
        if found is None:
            found = []
            prof: Profile | None = profile
            while prof is not None and prof.url not in found:
                found.append(prof.url)
                base = (prof.base_definition or "").partition("|")[0]
                prof = self.ig.profiles.get(base)
            self._lineages[profile.url] = found
        return found

    def _keys(self, with_type: bool) -> list[str]:
        scope = self.scope
        if scope is None:
            return []
        keys = list(self.lineage(scope.profile))
        return [*keys, f"type:{scope.profile.type}"] if with_type else keys

    # ------------------------------------------------------------------ which elements

    def wanted(self, el: Element) -> int:
        n = super().wanted(el)
        if n or not self.full or el.prohibited or el.name in NEVER:
            return n
        if el.name in ("extension", "modifierExtension"):
            return n
        return 1 if self.has_ms_below(el) or self.examples_use(el) else 0

    def has_ms_below(self, el: Element) -> bool:
        found = self._ms_below.get(id(el))
        if found is None:
            found = any(d.must_support and not d.prohibited for c in el.children for d in c.walk())
            self._ms_below[id(el)] = found
        return found

    def _used_paths(self) -> set[str]:
        keys = self._keys(with_type=False)
        if not keys:
            return set()
        used = self._used.get(keys[0])
        if used is None:
            used = self._used[keys[0]] = self.harvest.used(keys)
        return used

    def examples_use(self, el: Element) -> bool:
        """Do the examples of the profile being built (or of its bases) use ``el``? Only
        an element of the resource itself or of one of its backbone elements, outside
        slices, counts: a data type's parts are completed the toolkit's way (an IG's
        example may be incoherent there: a Timing's countMax without its count)."""
        owner = el.base_path.split(".", 1)[0]
        if not is_resource(owner) or ":" in el.id:
            # inside a slice, the slice's children may be less constrained than the same
            # children of the sliced element (US Core Provenance agent.onBehalfOf): the
            # slice's own rules decide
            return False
        used = self._used_paths()
        if "[x]" not in el.path:
            return el.path in used
        if "[x]" in el.path.rsplit(".", 1)[0]:
            return False  # below a choice: the examples' type may not be the one built
        rx = _path_regex(el.path)
        return any(rx.fullmatch(p) for p in used)

    def slice_value(self, el: Element, s: Element) -> Any:
        value = super().slice_value(el, s)
        if s.min == 0 and isinstance(value, dict) and value.get("valueCode") == PLACEHOLDER_CODE:
            # an optional extension slice whose code cannot be known: left out
            self.skipped.append(f"{s.id}: no known code for it")
            return None
        return value

    def extension_value(
        self, ext: Extension, el: Element, parent: str = ""
    ) -> dict[str, Any] | None:
        """A simple extension's value as the IG's examples give it (by the extension's
        url, wherever it is used), when it fits; built otherwise. A sub-extension is
        built from the profile's slice of it when there is one (its value[x] may narrow
        the binding the extension definition gives)."""
        context = self._extension_context[-1] if self._extension_context else None
        if parent and context is not None:
            subs = context.child("extension")
            narrowed = next(
                (
                    s
                    for s in (subs.slices if subs is not None else [])
                    if s.slice_name in (ext.name, ext.url) and not s.prohibited
                ),
                None,
            )
            if narrowed is not None and narrowed.child("value[x]") is not None:
                el = narrowed
        self._extension_context.append(el)
        try:
            out = super().extension_value(ext, el, parent)
        finally:
            self._extension_context.pop()
        if out is None or parent:
            return out
        key = next((k for k in out if k.startswith("value")), None)
        if key is None or isinstance(out[key], dict | list):
            return out
        code = key[len("value") :]
        code = code[:1].lower() + code[1:]
        if code not in TAKEN or code == "code" or el.fixed is not None:
            return out
        seen = [x[key] for x in self.harvest.extensions.get(out["url"], []) if key in x]
        fits = [v for v in seen if _fits(v, code, el, set())]
        if fits:
            out[key] = self.pick(fits)
        return out

    def pick_type(self, el: Element) -> TypeRef:
        """Of a choice the profile leaves open, the type the examples use."""
        t = super().pick_type(el)
        if not el.is_choice or len(el.types) < 2 or el.fixed is not None or el.pattern:
            return t
        if el.slices or any(c.name not in ("id", "extension") for c in el.children):
            return t  # the profile constrains a type (a type slice, children of one)
        used = self._used_paths()
        stem = el.path[:-3]
        for other in el.types:
            if stem + other.code[0].upper() + other.code[1:] in used:
                return other
        return t

    # ------------------------------------------------------------------ which values

    def primitive(self, el: Element, t: TypeRef) -> Any:
        value = self.from_examples(el, t)
        if value is not None:
            return value
        value = self.formatted(el)
        if value is not None:
            return value
        return super().primitive(el, t)

    def from_examples(self, el: Element, t: TypeRef) -> Any:
        if el.base_path.startswith("Address.") and t.code == "string":
            return self._address_part(el)
        if t.code not in TAKEN or el.base_path.startswith(OWN) or el.name == "id":
            return None
        if el.min_value is not None or el.max_value is not None:
            return None
        path = el.path
        if el.is_choice:
            path = path[:-3] + t.code[0].upper() + t.code[1:]
        keys = self._keys(with_type=True)
        allowed = {c for _, c, _ in super().codes(el)} if t.code == "code" else set()
        # the example this instance follows first: its values go together
        record = self.followed_record()
        if record is not None:
            own = [v for v in _at(record, path) if _fits(v, t.code, el, allowed)]
            if own:
                return own[0]
        if "[x]" in path:
            rx = _path_regex(path)
            candidates = [
                v for (k, p), vs in self.harvest.primitives.items() if k in keys and rx.fullmatch(p)
                for v in vs
            ]  # fmt: skip
        else:
            candidates = self.harvest.values(keys, path)
        fits = [v for v in candidates if _fits(v, t.code, el, allowed)]
        return self.pick(fits) if fits else None

    def followed_record(self) -> dict[str, list[Any]] | None:
        """The values (JSON path -> values) of the example the instance follows."""
        records = self.harvest.examples_of(self._keys(with_type=True))
        return records[self._followed(len(records))] if records else None

    def _followed(self, n: int) -> int:
        """Which of ``n`` examples the instance being built follows: the first for a
        minimal instance, one drawn once per instance for a full one."""
        if not self.full or not self._follow or n < 2:
            return 0
        drawn = self._follow[-1]
        if drawn is None:
            drawn = self._follow[-1] = self.data.random.randrange(n)
        return drawn % n

    def instance(
        self, profile: Profile, resource_id: str, full: bool, variant: int = 0
    ) -> dict[str, Any]:
        self._follow.append(None)  # which example this instance follows: drawn when needed
        try:
            return super().instance(profile, resource_id, full, variant)
        finally:
            self._follow.pop()

    def formatted(self, el: Element) -> str | None:
        scope = self.scope
        kind = format_of(el)
        if kind is None or scope is None:
            return None
        if kind == URL:
            value = f"https://www.exemple.fr/{scope.profile.type.lower()}/{scope.resource_id}"
        elif kind == EMAIL:
            value = self.data.email(scope.given, scope.family)
        elif kind == PHONE:
            value = self.data.phone(scope.commune)
        elif kind == SYSTEM:
            value = f"https://www.exemple.fr/identifiants/{el.path.lower()}"
        else:
            return None
        return value if _fits(value, "string", el, set()) else None

    def codes(self, el: Element) -> list[tuple[str | None, str, str | None]]:
        """The bound codes, those the examples use at this element only when any. When
        the binding does not hold to its expansion (not required, or not wholly
        expanded), the codings the profile's own examples use come first even outside
        the expansion (a LOINC value set given by a filter)."""
        allowed = super().codes(el)
        if self.scope is None or el.fixed is not None or el.pattern is not None:
            return allowed
        keys = self._keys(with_type=True)
        used: set[Any] = set()
        for suffix in ("", ".code", ".coding.code"):
            used.update(self.harvest.values(keys, el.path + suffix))
        preferred = [c for c in allowed if c[1] in used]
        if preferred:
            return preferred
        b = el.binding
        loose = b is not None and (b.strength != "required" or not b.complete)
        if loose and el.type_codes in (["CodeableConcept"], ["Coding"]):
            own: set[Any] = set()
            for suffix in (".code", ".coding.code"):
                own.update(self.harvest.values(self._keys(with_type=False), el.path + suffix))
            seen = [
                (c.get("system"), c["code"], c.get("display"))
                for c in self.harvest.codings_at(el.path)
                if c.get("code") in own and c.get("system")
            ]
            if seen:
                return seen
        return allowed

    def complete_type(self, el: Element, t: TypeRef, obj: dict[str, Any]) -> Any:
        if t.code == "ContactPoint" and "system" not in obj and "value" not in obj:
            # the kind of contact the examples give (an e-mail, a phone)
            child = el.child("system")
            allowed = {c for _, c, _ in super().codes(child)} if child is not None else set()
            allowed = allowed or set(core_code_list("ContactPoint.system") or ())
            seen = self.harvest.values(self._keys(with_type=True), el.path + ".system")
            fits = [v for v in seen if v in allowed]
            if fits and (child is None or not child.prohibited):
                obj["system"] = self.pick(fits)
        if t.code == "Address":
            self._example_address(el, obj)
        out = super().complete_type(el, t, obj)
        coded = t.code in ("Coding", "CodeableConcept") and isinstance(out, dict)
        if coded and not any(d.fixed is not None for d in el.walk()):
            codings = [out] if t.code == "Coding" else out.get("coding") or []
            display_el = el.child("display") if t.code == "Coding" else None
            if display_el is None or not display_el.prohibited:
                for coding in codings:
                    self._add_display(coding)
        return out

    def _address_part(self, el: Element) -> Any:
        """A part of the followed example's address (see :meth:`_example_address`)."""
        record = self.followed_record()
        parent = el.path.rsplit(".", 1)[0]
        if record is None or not (
            _at(record, f"{parent}.city") or _at(record, f"{parent}.postalCode")
        ):
            return None
        values = [v for v in _at(record, el.path) if _fits(v, "string", el, set())]
        return values[0] if values else None

    def _example_address(self, el: Element, obj: dict[str, Any]) -> None:
        """The followed example's address at this element, when it gives a city or a
        postal code: a place's name and its address then agree (the example's are
        coherent; the toolkit's own commune is used otherwise)."""
        record = self.followed_record()
        if record is None or not (
            _at(record, f"{el.path}.city") or _at(record, f"{el.path}.postalCode")
        ):
            return
        for part in ("line", "city", "district", "state", "postalCode", "country"):
            child = el.child(part)
            if part in obj or (child is not None and (child.prohibited or child.fixed)):
                continue
            values = [v for v in _at(record, f"{el.path}.{part}") if isinstance(v, str)]
            if child is not None:
                values = [v for v in values if _fits(v, "string", child, set())]
            if part == "line" and len(_at(record, f"{el.path}.city")) > 1:
                values = values[:1]  # the example has several addresses: lines of the first
            if values:
                obj[part] = values if part == "line" else values[0]

    def _add_display(self, coding: Any) -> None:
        if not isinstance(coding, dict) or "display" in coding:
            return
        system, code = coding.get("system"), coding.get("code")
        if isinstance(system, str) and isinstance(code, str):
            display = self.displays().get((system, code))
            if display:
                coding["display"] = display

    def displays(self) -> dict[tuple[str, str], str]:
        """(system, code) -> display: the code systems' first, then the value sets'."""
        if self._displays is None:
            found: dict[tuple[str, str], str] = {}
            for vs in self.ig.value_sets.values():
                for c in vs.codes or []:
                    if c.system and c.display:
                        found.setdefault((c.system, c.code), c.display)
            for cs in self.ig.code_systems.values():
                for c in cs.concepts:
                    if c.display:
                        found[(c.system or cs.url, c.code)] = c.display
            self._displays = found
        return self._displays


def _at(record: dict[str, list[Any]], path: str) -> list[Any]:
    """The values of one example's record at ``path`` (choice segments matched)."""
    if "[x]" not in path:
        return record.get(path, [])
    rx = _path_regex(path)
    return [v for p, vs in record.items() if rx.fullmatch(p) for v in vs]


def _path_regex(path: str) -> re.Pattern[str]:
    """An element path with choice segments (value[x]) as a regex over JSON paths."""
    parts = [
        re.escape(p[:-3]) + "[A-Z][A-Za-z0-9]*" if p.endswith("[x]") else re.escape(p)
        for p in path.split(".")
    ]
    return re.compile(r"\.".join(parts))


def _fits(value: Any, code: str, el: Element, allowed: set[str]) -> bool:
    """Can ``value`` (from an example) be the value of ``el`` (of type ``code``)?"""
    if code == "boolean":
        return isinstance(value, bool)
    if code in ("integer", "positiveInt", "unsignedInt"):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return ok and (value >= 1 if code == "positiveInt" else value >= 0 or code == "integer")
    if code == "decimal":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if not isinstance(value, str) or not value.strip():
        return False
    if code == "code" and allowed and value not in allowed:
        return False
    if code == "time" and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?", value):
        return False
    if code in ("uri", "url") and (" " in value or not re.match(r"[a-z][a-z0-9+.-]*:", value)):
        return False
    if el.max_length is not None and len(value) > el.max_length:
        return False
    if el.fixed is not None or el.pattern is not None:
        return False
    for inv in el.constraints:
        if inv.key.startswith(("ele-", "ext-")) or inv.severity != "error":
            continue
        m = _MATCHES.fullmatch(inv.expression or "")
        if m is None:
            return False  # an invariant this reading does not judge: invent instead
        try:
            if not re.fullmatch(m[1].replace("\\\\", "\\"), value):
                return False
        except re.error:
            return False
    return True
