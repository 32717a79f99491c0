"""JSON Schema (draft 2020-12) per profile, for éditeurs who validate instances without Python.

:func:`profile_schema` turns one :class:`~igtools.ir.model.Profile` of the IR into a JSON
Schema for instances of that profile; :func:`write_schemas` writes one file per profile of
the IG (extension definitions excepted) and an ``index.json`` (profile URL -> file name).

Why the schema is built as data and serialized, not written by a Jinja template: a JSON
Schema is JSON, and JSON must be valid by construction. Built as Python dicts and lists
and written by :func:`json.dumps`, every string (French descriptions with quotes, FHIR's
regexes full of backslashes, URLs) is escaped by the serializer, commas and nesting
cannot go wrong, and sub-schemas compose (a slice's schema is reused as a discriminator,
a profile's schema is embedded in a Bundle's). A template would have to escape every
interpolation by hand and could emit invalid JSON silently. Serializing with sorted keys,
``indent=2`` and a trailing newline makes the output byte-identical from one run to the
next.

What the schema says, read from the profile's element tree only:

- properties under their JSON names (choice types expanded, with at most one variant
  present, exactly one when the element is required), arrays with ``minItems`` /
  ``maxItems``, required properties, prohibited ones (``max = 0``) as ``false``,
  ``resourceType`` as a ``const``, primitive extension siblings (``_name``);
- primitive types as JSON types with FHIR's regexes (translated from Java's ``\\s`` /
  ``\\S`` to explicit classes, so that every JSON Schema engine reads them alike);
- fixed values as ``const``; patterns as "contains at least" schemas (object patterns:
  nested properties with ``const`` and ``required``; array patterns: ``contains``);
- required bindings whose complete list of codes is known: ``enum`` on a ``code``, the
  system/code pairs (``anyOf``) on a ``Coding``, a ``coding`` that ``contains`` one of them
  on a ``CodeableConcept``;
- references: a ``pattern`` on ``reference`` restricting ``Type/id`` literals to the target
  resource types, where every target profile's type is known;
- slices: per slice whose discriminator can be expressed (value and pattern
  discriminators from the slice's fixed/pattern values, including patterns composed from
  the slice's children, extension slices by url, type discriminators on resources,
  profile discriminators on profiles of the IG, exists discriminators), a ``contains`` with
  ``minContains`` / ``maxContains``, and ``if`` (the discriminator) ``then`` (the slice's
  own schema) on every item; closed slicing allows only the slices' members;
- resources typed with a profile of the IG (``Bundle.entry.resource`` in a slice) are
  embedded in ``$defs`` and referenced by ``$ref`` (``#/$defs/<ProfileName>``): one file
  validates a whole Bundle, entries included, with no schema to fetch;
- invariants of the form ``child.matches('regex')`` become a ``pattern`` on the child
  (marked ``"expressed": true`` in ``x-fhir-invariants``).

What JSON Schema cannot say goes into ``x-fhir-*`` keywords: ``x-fhir-binding`` (strength,
value set, whether its codes are known), ``x-fhir-invariants`` (key, severity, human,
expression), ``x-fhir-slicing`` and ``x-fhir-slices`` (with whether each slice could be
expressed), ``x-fhir-mustSupport``, ``x-fhir-targetProfiles`` (and ``x-fhir-targetTypes``
on ``reference``), ``x-fhir-type``, ``x-fhir-profiles``, ``x-fhir-extension`` and
``x-fhir-contentReference``.

Objects stay open (``additionalProperties`` is not set): a profile closes only what it
prohibits (``false`` properties), the types a choice element excludes
(``patternProperties``: ``valueString`` where ``value[x]`` is Reference only) and closed
slicing.

Not expressed (left to a FHIR validator): FHIRPath invariants other than ``matches``,
bindings whose codes are not all known (value sets outside the package set, filters),
``ordered`` slicing, discriminators through ``resolve()`` / ``extension(url)`` /
``ofType()``, contents of elements defined by ``contentReference``, conformance of
references' targets, and profiles of data types the snapshot does not expand. A reference
``urn:uuid:`` / ``urn:oid:`` or ``#id`` is accepted whatever its target type.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from igtools.ir.model import IG, Element, Extension, Profile, TypeRef

DIALECT = "https://json-schema.org/draft/2020-12/schema"
CORE_SD = "http://hl7.org/fhir/StructureDefinition/"

Schema = dict[str, Any]

# FHIR's regexes are Java regexes: \s is [ \t\n\x0B\f\r] and \S its complement, whereas
# Python and ECMAScript engines also count Unicode spaces (a French no-break space)
# as \s. The classes are therefore spelt out.
_WS = "[ \\t\\n\\r\\f\\u000b]"
_NWS = "[^ \\t\\n\\r\\f\\u000b]"
_YEAR = "([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
_MONTH = "(0[1-9]|1[0-2])"
_DAY = "(0[1-9]|[1-2][0-9]|3[0-1])"
_TIME = "([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]+)?"
_TZ = "(Z|(\\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
_INT32 = {"minimum": -2147483648, "maximum": 2147483647}

PRIMITIVES: dict[str, Schema] = {
    "boolean": {"type": "boolean"},
    "integer": {"type": "integer", **_INT32},
    "positiveInt": {"type": "integer", "minimum": 1, "maximum": 2147483647},
    "unsignedInt": {"type": "integer", "minimum": 0, "maximum": 2147483647},
    "decimal": {"type": "number"},
    # [ \r\n\t\S]+ in Java: anything but vertical tab and form feed
    "string": {"type": "string", "pattern": "^[^\\f\\u000b]+$"},
    "markdown": {"type": "string", "pattern": "^[^\\f\\u000b]+$"},
    "xhtml": {"type": "string", "minLength": 1},
    "code": {"type": "string", "pattern": f"^{_NWS}+({_WS}{_NWS}+)*$"},
    "id": {"type": "string", "pattern": "^[A-Za-z0-9\\-\\.]{1,64}$"},
    "uri": {"type": "string", "pattern": f"^{_NWS}+$"},
    "url": {"type": "string", "pattern": f"^{_NWS}+$"},
    "canonical": {"type": "string", "pattern": f"^{_NWS}+$"},
    "oid": {"type": "string", "pattern": "^urn:oid:[0-2](\\.(0|[1-9][0-9]*))+$"},
    "uuid": {
        "type": "string",
        "pattern": "^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    },
    "base64Binary": {"type": "string", "pattern": f"^({_WS}*([0-9a-zA-Z\\+/=]){{4}}{_WS}*)+$"},
    "date": {"type": "string", "pattern": f"^{_YEAR}(-{_MONTH}(-{_DAY})?)?$"},
    "dateTime": {
        "type": "string",
        "pattern": f"^{_YEAR}(-{_MONTH}(-{_DAY}(T{_TIME}{_TZ})?)?)?$",
    },
    "instant": {"type": "string", "pattern": f"^{_YEAR}-{_MONTH}-{_DAY}T{_TIME}{_TZ}$"},
    "time": {"type": "string", "pattern": f"^{_TIME}$"},
}

# complex data types of FHIR R4 (and R5's additions): any other capitalised type is a resource
DATA_TYPES = frozenset(
    """Element BackboneElement Extension Narrative Address Age Annotation Attachment
    CodeableConcept CodeableReference Coding ContactDetail ContactPoint Contributor Count
    DataRequirement Distance Dosage Duration ElementDefinition Expression HumanName
    Identifier MarketingStatus Meta Money MoneyQuantity ParameterDefinition Period
    Population ProdCharacteristic ProductShelfLife Quantity Range Ratio RatioRange
    Reference RelatedArtifact SampledData Signature SimpleQuantity SubstanceAmount Timing
    TriggerDefinition UsageContext Availability ExtendedContactDetail MonetaryComponent
    VirtualServiceDetail DataType PrimitiveType BackboneType Base""".split()  # noqa: SIM905
)

# invariants every element carries: not worth repeating on every property
_UBIQUITOUS_INVARIANTS = frozenset({"ele-1"})


def schema_id(profile: Profile) -> str:
    """The ``$id`` of a profile's schema: its canonical URL + ``.schema.json``."""
    return profile.url.partition("|")[0] + ".schema.json"


def is_resource_type(code: str) -> bool:
    return code[:1].isupper() and ":" not in code and code not in DATA_TYPES


def profile_schema(profile: Profile, ig: IG) -> Schema:
    """A JSON Schema (2020-12) for instances of ``profile``."""
    return _Builder(ig, profile).document()


def write_schemas(ig: IG, out_dir: Path) -> list[Path]:
    """Write ``<ProfileName>.schema.json`` per non-extension profile, and ``index.json``.

    Returns the files written (the index last). Re-running writes identical bytes.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    index: dict[str, str] = {}
    used: set[str] = set()
    for url, profile in sorted(ig.profiles.items()):
        if profile.is_extension:
            continue
        stem = _safe_name(profile.name)
        if stem.lower() in used:
            stem = f"{stem}-{_safe_name(profile.id)}"
        used.add(stem.lower())
        name = f"{stem}.schema.json"
        path = out_dir / name
        _write_json(path, profile_schema(profile, ig))
        written.append(path)
        index[url] = name
    index_path = out_dir / "index.json"
    _write_json(index_path, index)
    written.append(index_path)
    return written


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "_"


def dumps(schema: Any) -> str:
    """The serialized form :func:`write_schemas` writes."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _write_json(path: Path, data: Any) -> None:
    path.write_bytes(dumps(data).encode("utf-8"))


# --- schema algebra -------------------------------------------------------------------


def merge(a: Schema, b: Schema) -> Schema:
    """A schema both ``a`` and ``b`` hold for, merged where readable, else via ``allOf``."""
    out = dict(a)
    rest: Schema = {}
    for key, value in b.items():
        if key not in out:
            out[key] = value
        elif key == "properties":
            props = dict(out[key])
            for name, sub in value.items():
                if name not in props:
                    props[name] = sub
                elif props[name] is False or sub is False:
                    props[name] = False
                elif isinstance(props[name], dict) and isinstance(sub, dict):
                    props[name] = merge(props[name], sub)
            out[key] = props
        elif key == "required":
            out[key] = list(out[key]) + [r for r in value if r not in out[key]]
        elif key == "allOf":
            out[key] = list(out[key]) + list(value)
        elif out[key] != value:
            rest[key] = value
    if rest:
        out["allOf"] = [*out.get("allOf", []), rest]
    return out


def _at(name: str, sub: Schema, array: bool) -> Schema:
    """``sub`` holds at property ``name`` (for an array: for one of its items)."""
    return {"properties": {name: {"contains": sub} if array else sub}, "required": [name]}


def pattern_schema(value: Any) -> Schema:
    """FHIR pattern semantics: the instance holds at least what the pattern holds."""
    if isinstance(value, dict):
        return {
            "type": "object",
            "properties": {k: _pattern_member(v) for k, v in value.items()},
            "required": list(value),
        }
    return {"const": value}


def _pattern_member(value: Any) -> Schema:
    if isinstance(value, list):
        contains = [{"contains": pattern_schema(v)} for v in value]
        if len(contains) == 1:
            return {"type": "array", **contains[0]}
        return {"type": "array", "allOf": contains}
    return pattern_schema(value)


def _value_at(value: Any, segs: list[str], fixed: bool) -> Schema | None:
    """The schema of a fixed/pattern ``value`` at a discriminator path below it."""
    if not segs:
        return {"const": value} if fixed else pattern_schema(value)
    if not isinstance(value, dict) or segs[0] not in value:
        return None
    sub = value[segs[0]]
    if isinstance(sub, list):
        inner = [_value_at(v, segs[1:], fixed) for v in sub]
        if not inner or any(i is None for i in inner):
            return None
        parts = [{"contains": i} for i in inner]
        wrapped = parts[0] if len(parts) == 1 else {"allOf": parts}
        return {"properties": {segs[0]: wrapped}, "required": [segs[0]]}
    found = _value_at(sub, segs[1:], fixed)
    return None if found is None else _at(segs[0], found, False)


def _all_of(parts: list[Schema]) -> Schema | None:
    if not parts:
        return None
    out = parts[0]
    for p in parts[1:]:
        out = merge(out, p)
    return out


def _no_extensions(el: Element, t: TypeRef | None) -> bool:
    """Element ids, extension urls and xhtml are not primitives with a ``_name`` sibling."""
    if t is not None and t.code == "xhtml":
        return True
    return el.base_path in ("Element.id", "Extension.url")


def _choice_guards(children: list[Element], props: Schema) -> Schema:
    """``patternProperties`` forbidding the types a choice element does not allow.

    ``value[x]`` restricted to Reference: ``valueString`` (and ``_valueString``) is not an
    unknown property but a type the profile excludes.
    """
    guards: Schema = {}
    for el in children:
        if not el.is_choice:
            continue
        stem = el.name[:-3]
        allowed = sorted(
            k[len(stem) :]
            for k in props
            if k.startswith(stem) and k[len(stem) :][:1].isupper() and props[k] is not False
        )
        if allowed:
            alternatives = "|".join(re.escape(a) for a in allowed)
            guards[f"^_?{re.escape(stem)}(?!({alternatives})$)[A-Z]"] = False
        else:
            guards[f"^_?{re.escape(stem)}[A-Z]"] = False
    return guards


_MATCHES = re.compile(r"([A-Za-z][A-Za-z0-9]*)\.matches\('((?:[^'\\]|\\.)*)'\)")
_FHIRPATH_ESCAPES = {"\\'": "'", '\\"': '"', "\\/": "/", "\\\\": "\\"}


def _matches_invariants(el: Element, keys: bool = False) -> list[tuple[str, str]]:
    """Invariants ``child.matches('regex')`` on a single primitive child: (name, regex).

    With ``keys``: (invariant key, regex). FHIRPath's ``matches`` and JSON Schema's
    ``pattern`` both search (unanchored) with ECMAScript-like regexes; other invariants
    stay in ``x-fhir-invariants`` only.
    """
    out: list[tuple[str, str]] = []
    for inv in el.constraints:
        m = _MATCHES.fullmatch((inv.expression or "").strip())
        if m is None:
            continue
        name, regex = m.group(1), m.group(2)
        for escaped, plain in _FHIRPATH_ESCAPES.items():
            regex = regex.replace(escaped, plain)
        child = el.child(name)
        if child is None or child.is_array or child.is_choice:
            continue
        if not child.types or not all(t.is_primitive for t in child.types):
            continue
        if "(?<" in regex or "(?P" in regex:
            continue
        try:
            re.compile(regex)
        except re.error:
            continue
        out.append((inv.key if keys else name, regex))
    return out


# --- the builder ----------------------------------------------------------------------


class _Builder:
    def __init__(self, ig: IG, profile: Profile) -> None:
        self.ig = ig
        self.profile = profile
        self.defs: dict[str, tuple[str, Schema]] = {}  # profile URL -> ($defs key, schema)

    # documents and embedded profiles

    def document(self) -> Schema:
        p = self.profile
        doc: Schema = {"$schema": DIALECT, "$id": schema_id(p), **self._resource_schema(p)}
        if self.defs:
            doc["$defs"] = {key: schema for key, schema in self.defs.values()}
        return doc

    def _resource_schema(self, p: Profile) -> Schema:
        head: Schema = {"title": p.name}
        if p.description:
            head["description"] = p.description
        head["x-fhir-profile"] = p.url
        head["x-fhir-type"] = p.type
        if p.version:
            head["x-fhir-version"] = p.version
        body = self._object(p.root, resource_type=p.type if p.kind == "resource" else None)
        meta = self._invariants(p.root)
        return {**head, **body, **meta}

    def _embed(self, p: Profile) -> Schema:
        """A ``$ref`` to ``p``'s schema, embedded in ``$defs`` unless it is the document.

        Embedded copies have no ``$id`` of their own (the reference is a JSON pointer):
        loading every file into one validator never meets the same ``$id`` twice.
        """
        if p.url == self.profile.url:
            return {"$ref": "#"}
        if p.url not in self.defs:
            keys = {k for k, _ in self.defs.values()}
            key = _safe_name(p.name)
            if key in keys:
                key = f"{key}-{_safe_name(p.id)}"
            self.defs[p.url] = (key, {})  # placeholder: guards profiles embedding each other
            self.defs[p.url] = (key, self._resource_schema(p))
        return {"$ref": f"#/$defs/{self.defs[p.url][0]}"}

    # objects and properties

    def _object(
        self, el: Element, resource_type: str | None = None, skip: frozenset[str] = frozenset()
    ) -> Schema:
        props: Schema = {}
        required: list[str] = []
        extra: list[Schema] = []
        if resource_type is not None:
            props["resourceType"] = {"const": resource_type}
            required.append("resourceType")
        children = [c for c in el.children if c.name not in skip]
        for child in children:
            self._property(child, props, required, extra)
        schema: Schema = {"type": "object", "properties": props}
        guards = _choice_guards(children, props)
        if guards:
            schema["patternProperties"] = guards
        if required:
            schema["required"] = required
        if extra:
            schema["allOf"] = extra
        return schema

    def _variants(self, el: Element) -> list[tuple[str, TypeRef | None, Element]]:
        """(JSON name, type, the element defining it) per JSON name of ``el``.

        A choice element sliced by type (``value[x]:valueReference``) takes each
        variant's definition from its slice.
        """
        if not el.types:
            return [(el.name, None, el)]
        if not el.is_choice:
            return [(el.name, el.types[0], el)]
        out: list[tuple[str, TypeRef | None, Element]] = []
        for name, t in zip(el.json_names(), el.types, strict=True):
            src, tref = el, t
            for s in el.slices:
                if s.slice_name == name or (len(s.types) == 1 and s.types[0].code == t.code):
                    src, tref = s, (s.types[0] if len(s.types) == 1 else t)
            out.append((name, tref, src))
        return out

    def _property(
        self, el: Element, props: Schema, required: list[str], extra: list[Schema]
    ) -> None:
        variants = self._variants(el)
        if el.prohibited:
            for name, t, _ in variants:
                props[name] = False
                if t is None or t.is_primitive:
                    props["_" + name] = False
            return
        closed_types = (
            el.is_choice and el.slicing is not None and el.slicing.rules == "closed" and el.slices
        )
        presences: list[Schema] = []
        for name, t, src in variants:
            if closed_types and src is el:
                props[name] = False  # closed type slicing: only the sliced types
                continue
            primitive = t is not None and t.is_primitive
            value = self._value(src, t)
            prop = self._array(el, src, t, value) if el.is_array else value
            prop = {**self._meta(src), **prop}
            props[name] = prop
            if primitive and not _no_extensions(el, t):
                props["_" + name] = self._primitive_element(src, el.is_array)
            needs_value = src.fixed is not None or src.pattern is not None
            if primitive and not needs_value:
                presence: Schema = {"anyOf": [{"required": [name]}, {"required": ["_" + name]}]}
            else:
                presence = {"required": [name]}
            presences.append(presence)
            if src is not el and src.min >= 1 and len(variants) > 1:
                extra.append(presence)
        if len(presences) > 1:
            if el.min >= 1:
                extra.append({"oneOf": presences})
            else:  # at most one variant
                extra.append({"oneOf": [*presences, {"not": {"anyOf": presences}}]})
        elif presences and el.min >= 1:
            only = presences[0]
            if list(only) == ["required"]:
                required.extend(only["required"])
            else:
                extra.append(only)

    def _meta(self, el: Element) -> Schema:
        meta: Schema = {}
        text = el.short or el.definition
        if text:
            meta["description"] = text
        if el.must_support:
            meta["x-fhir-mustSupport"] = True
        b = el.binding
        if b is not None:
            binding: Schema = {"strength": b.strength}
            if b.value_set:
                binding["valueSet"] = b.value_set
            binding["codesKnown"] = bool(b.codes is not None and b.complete)
            if b.note:
                binding["note"] = b.note
            meta["x-fhir-binding"] = binding
        meta.update(self._invariants(el))
        targets = sorted({p for t in el.types for p in t.target_profiles})
        if targets:
            meta["x-fhir-targetProfiles"] = targets
        if el.slicing is not None:
            slicing: Schema = {
                "discriminators": [
                    {"type": d.type, "path": d.path} for d in el.slicing.discriminators
                ],
                "rules": el.slicing.rules,
                "ordered": el.slicing.ordered,
            }
            if el.slicing.description:
                slicing["description"] = el.slicing.description
            meta["x-fhir-slicing"] = slicing
        if el.slices and not el.is_choice:
            meta["x-fhir-slices"] = [
                {
                    "name": s.slice_name,
                    "min": s.min,
                    "max": "*" if s.max is None else s.max,
                    "expressed": self._discriminator(el, s) is not None,
                    **({"description": s.short} if s.short else {}),
                }
                for s in el.slices
            ]
        return meta

    def _invariants(self, el: Element) -> Schema:
        expressed = {key for key, _ in _matches_invariants(el, keys=True)}
        invs = [
            {
                "key": inv.key,
                "severity": inv.severity,
                "human": inv.human,
                **({"expression": inv.expression} if inv.expression else {}),
                **({"expressed": True} if inv.key in expressed else {}),
            }
            for inv in el.constraints
            if inv.key not in _UBIQUITOUS_INVARIANTS
        ]
        return {"x-fhir-invariants": invs} if invs else {}

    def _primitive_element(self, el: Element, array: bool) -> Schema:
        """The ``_name`` sibling of a primitive: its id and extensions."""
        ext: Schema = {"type": "object", "x-fhir-type": "Element"}
        if el.children:
            ext = merge(ext, self._object(el, skip=frozenset({"value"})))
        if array:
            return {"type": "array", "items": {"anyOf": [{"type": "null"}, ext]}}
        return ext

    # arrays and slices

    def _array(self, el: Element, src: Element, t: TypeRef | None, item: Schema) -> Schema:
        if t is not None and t.is_primitive:
            item = {"anyOf": [item, {"type": "null"}]}  # nulls align with "_name" entries
        arr: Schema = {"type": "array", "minItems": max(1, el.min)}
        if el.max is not None:
            arr["maxItems"] = el.max
        slices = src.slices if src.slicing is not None and not src.is_choice else []
        conditions: list[Schema] = []
        counts: list[Schema] = []
        members: list[Schema] = []
        every_slice = True
        for s in slices:
            d = self._discriminator(src, s)
            if d is None:
                every_slice = False
                continue
            members.append(d)
            if s.min > 0 or s.max is not None:
                count: Schema = {"contains": d, "minContains": s.min}
                if s.max is not None:
                    count["maxContains"] = s.max
                counts.append(count)
            if not s.prohibited:
                st = s.types[0] if len(s.types) == 1 else t
                conditions.append({"if": d, "then": {**self._meta(s), **self._value(s, st)}})
        if slices and src.slicing is not None and src.slicing.rules == "closed" and every_slice:
            conditions.append({"anyOf": members})
        if conditions:
            item = merge(item, {"allOf": conditions})
        arr["items"] = item
        if counts:
            arr["allOf"] = counts
        return arr

    def _discriminator(self, sliced: Element, s: Element) -> Schema | None:
        """A schema true exactly of the items of slice ``s`` (None: not expressible)."""
        if sliced.slicing is None or not sliced.slicing.discriminators:
            return None
        parts = []
        for d in sliced.slicing.discriminators:
            part = self._disc(s, d.type, d.path)
            if part is None:
                return None
            parts.append(part)
        return _all_of(parts)

    def _disc(self, s: Element, dtype: str, path: str) -> Schema | None:
        segs = [] if path in ("$this", "") else path.split(".")
        if any(not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", seg) for seg in segs):
            return None  # resolve(), extension('...'), ofType(...): not expressible
        if dtype == "exists":
            return self._disc_exists(s, segs)
        return self._disc_at(s, segs, dtype)

    def _disc_exists(self, el: Element, segs: list[str]) -> Schema | None:
        chain: list[tuple[str, bool]] = []
        for seg in segs:
            child = el.child(seg)
            if child is None or len(child.json_names()) != 1:
                return None
            chain.append((child.json_names()[0], child.is_array))
            el = child
        if not chain:
            return None
        presence: Schema = {}
        for name, array in reversed(chain):
            presence = _at(name, presence, array)
        if el.min >= 1:
            return presence
        if el.max == 0:
            return {"not": presence}
        return None

    def _disc_at(self, el: Element, segs: list[str], dtype: str) -> Schema | None:
        if not segs:
            return self._disc_leaf(el, dtype)
        if dtype in ("value", "pattern"):
            for fp, fixed in ((el.fixed, True), (el.pattern, False)):
                if fp is not None:
                    found = _value_at(fp[1], segs, fixed)
                    if found is not None:
                        return found
        seg = segs[0]
        child = el.child(seg)
        if child is None:
            if seg == "url" and len(segs) == 1 and el.type_codes == ["Extension"]:
                url = self._extension_url(el)
                if url is not None:
                    return _at("url", {"const": url}, False)
            return None
        names = child.json_names()
        if len(names) != 1:
            return None
        sub = self._disc_at(child, segs[1:], dtype)
        return None if sub is None else _at(names[0], sub, child.is_array)

    def _disc_leaf(self, el: Element, dtype: str) -> Schema | None:
        if dtype in ("value", "pattern"):
            if el.fixed is not None:
                return {"const": el.fixed[1]}
            if el.pattern is not None:
                return pattern_schema(el.pattern[1])
            if dtype == "value" and len(el.types) == 1:
                bound = self._binding(el, el.types[0].code)
                if bound is not None:
                    return bound
            return self._composed(el)
        if dtype == "type":
            codes = {t.code for t in el.types}
            if len(codes) == 1:
                (code,) = codes
                if is_resource_type(code) and code not in ("Resource", "DomainResource"):
                    return _at("resourceType", {"const": code}, False)
            return None
        if dtype == "profile":
            refs: list[Schema] = []
            for t in el.types:
                for url in t.profiles:
                    p = self.ig.profiles.get(url.partition("|")[0])
                    if p is None:
                        return None
                    if p.is_extension:
                        refs.append(_at("url", {"const": p.url}, False))
                    elif p.kind == "resource":
                        refs.append(self._embed(p))
                    else:
                        return None
            if not refs:
                return None
            return refs[0] if len(refs) == 1 else {"anyOf": refs}
        return None

    def _composed(self, el: Element) -> Schema | None:
        """The pattern a slice's children compose (fixed/pattern values, required slices)."""
        parts: list[Schema] = []
        for child in el.children:
            names = child.json_names()
            if child.prohibited or len(names) != 1:
                continue
            if child.fixed is not None:
                sub: Schema | None = {"const": child.fixed[1]}
            elif child.pattern is not None:
                sub = pattern_schema(child.pattern[1])
            else:
                sub = self._composed(child)
            if sub is not None:
                parts.append(_at(names[0], sub, child.is_array))
            if child.is_array and child.slicing is not None:
                for s in child.slices:
                    if s.min >= 1:
                        d = self._discriminator(child, s)
                        if d is not None:
                            parts.append(_at(names[0], d, True))
        return _all_of(parts)

    # values of one type

    def _value(self, el: Element, t: TypeRef | None) -> Schema:
        if t is None:
            if el.content_reference:
                return {
                    "type": "object",
                    "minProperties": 1,
                    "x-fhir-contentReference": el.content_reference,
                }
            return {}
        code = t.code
        if t.is_primitive:
            schema = self._primitive(el, code)
        elif code == "Extension":
            schema = self._extension_value(el, t)
        elif is_resource_type(code):
            return self._resource_value(el, t)
        elif el.children and len(el.types) == 1:
            schema = {**self._object(el), "minProperties": 1, "x-fhir-type": code}
        else:
            schema = {"type": "object", "minProperties": 1, "x-fhir-type": code}
        if t.profiles and code != "Extension":
            schema["x-fhir-profiles"] = list(t.profiles)
        for name, regex in _matches_invariants(el):
            schema = merge(schema, {"properties": {name: {"pattern": regex}}})
        if code == "Reference":
            ref = self._reference_pattern(t)
            if ref is not None:
                schema = merge(schema, {"properties": {"reference": ref}})
        if el.fixed is not None:
            schema = merge(schema, {"const": el.fixed[1]})
        if el.pattern is not None:
            schema = merge(schema, pattern_schema(el.pattern[1]))
        bound = self._binding(el, code)
        if bound is not None:
            schema = merge(schema, bound)
        return schema

    def _primitive(self, el: Element, code: str) -> Schema:
        schema = dict(PRIMITIVES.get(code, {"type": "string"}))
        if schema.get("type") == "string" and el.max_length:
            schema["maxLength"] = el.max_length
        for key, bound in (("minimum", el.min_value), ("maximum", el.max_value)):
            if bound is not None:
                value = bound[1]
                if isinstance(value, int | float) and not isinstance(value, bool):
                    schema[key] = value
                else:
                    schema["x-fhir-" + ("minValue" if key == "minimum" else "maxValue")] = value
        return schema

    def _binding(self, el: Element, code: str) -> Schema | None:
        """Required binding with every code known -> the codes, per data type."""
        b = el.binding
        if b is None or b.strength != "required" or not b.complete or not b.codes:
            return None
        if code in ("code", "string", "uri"):
            return {"enum": list(dict.fromkeys(c.code for c in b.codes))}
        if code not in ("Coding", "CodeableConcept"):
            return None
        by_system: dict[str | None, list[str]] = {}
        for c in b.codes:
            codes = by_system.setdefault(c.system, [])
            if c.code not in codes:
                codes.append(c.code)
        alternatives: list[Schema] = []
        for system, codes in by_system.items():
            code_schema: Schema = {"const": codes[0]} if len(codes) == 1 else {"enum": codes}
            if system is None:
                alternatives.append({"properties": {"code": code_schema}, "required": ["code"]})
            else:
                alternatives.append(
                    {
                        "properties": {"system": {"const": system}, "code": code_schema},
                        "required": ["system", "code"],
                    }
                )
        coding = alternatives[0] if len(alternatives) == 1 else {"anyOf": alternatives}
        if code == "Coding":
            return coding
        return _at("coding", coding, True)

    def _target_types(self, t: TypeRef) -> list[str] | None:
        """Resource types of the target profiles; None when one of them is unknown."""
        out: list[str] = []
        for url in t.target_profiles:
            key = url.partition("|")[0]
            p = self.ig.profiles.get(key)
            if p is not None:
                out.append(p.type)
            elif key.startswith(CORE_SD) and "/" not in key[len(CORE_SD) :]:
                out.append(key[len(CORE_SD) :])
            else:
                return None
        return out

    def _reference_pattern(self, t: TypeRef) -> Schema | None:
        types = self._target_types(t)
        if not types or any(x in ("Resource", "DomainResource") for x in types):
            return None
        alternatives = "|".join(sorted(set(types)))
        literal = (
            "((http|https)://([A-Za-z0-9\\-\\\\\\.:%$]*/)+)?"
            f"({alternatives})(/[A-Za-z0-9\\-\\.]{{1,64}}(/_history/[A-Za-z0-9\\-\\.]{{1,64}})?"
            "|\\?.*)"
        )
        return {
            "type": "string",
            "pattern": f"^(#.*|urn:(uuid|oid):.+|{literal})$",
            "x-fhir-targetTypes": sorted(set(types)),
        }

    def _resource_value(self, el: Element, t: TypeRef) -> Schema:
        refs: list[Schema] = []
        for url in t.profiles:
            p = self.ig.profiles.get(url.partition("|")[0])
            if p is None or p.kind != "resource":
                refs = []
                break
            refs.append(self._embed(p))
        if refs:
            schema = refs[0] if len(refs) == 1 else {"anyOf": refs}
            return {**schema, "x-fhir-type": t.code, "x-fhir-profiles": list(t.profiles)}
        resource_type: Schema = (
            {"type": "string"} if t.code in ("Resource", "DomainResource") else {"const": t.code}
        )
        schema = {
            "type": "object",
            "properties": {"resourceType": resource_type},
            "required": ["resourceType"],
            "x-fhir-type": t.code,
        }
        if t.profiles:
            schema["x-fhir-profiles"] = list(t.profiles)
        return schema

    # extensions

    def _extension_url(self, el: Element) -> str | None:
        url_el = el.child("url")
        if url_el is not None:
            for fp in (url_el.fixed, url_el.pattern):
                if fp is not None and isinstance(fp[1], str):
                    return fp[1]
        if el.extension is not None:
            return el.extension.url
        for t in el.types:
            if t.code == "Extension" and t.profiles:
                return t.profiles[0].partition("|")[0]
        return None

    def _extension_value(self, el: Element, t: TypeRef) -> Schema:
        if el.children and len(el.types) == 1:
            schema: Schema = {**self._object(el), "x-fhir-type": "Extension"}
        elif el.extension is not None:
            schema = self._extension_definition(el.extension)
        else:
            schema = {
                "type": "object",
                "properties": {"url": PRIMITIVES["uri"]},
                "required": ["url"],
                "x-fhir-type": "Extension",
            }
        url = self._extension_url(el)
        if url is not None:
            schema = merge(schema, _at("url", {"const": url}, False))
            schema["x-fhir-extension"] = url
        return schema

    def _extension_definition(self, ext: Extension) -> Schema:
        """An extension's schema from its definition (slots the snapshot leaves unexpanded)."""
        props: Schema = {"url": {"const": ext.url}}
        required = ["url"]
        extra: list[Schema] = []
        if ext.children:
            item: Schema = {"type": "object", "required": ["url"], "x-fhir-type": "Extension"}
            conditions: list[Schema] = []
            counts: list[Schema] = []
            for child in ext.children:
                d = _at("url", {"const": child.url}, False)
                conditions.append({"if": d, "then": self._extension_definition(child)})
                if child.min > 0 or child.max is not None:
                    count: Schema = {"contains": d, "minContains": child.min}
                    if child.max is not None:
                        count["maxContains"] = child.max
                    counts.append(count)
            arr: Schema = {"type": "array", "minItems": 1, "items": {**item, "allOf": conditions}}
            if counts:
                arr["allOf"] = counts
            props["extension"] = arr
            if any(c.min >= 1 for c in ext.children):
                required.append("extension")
        elif ext.value_element is not None:
            self._property(ext.value_element, props, required, extra)
        schema: Schema = {
            "type": "object",
            "properties": props,
            "required": required,
            "x-fhir-type": "Extension",
            "x-fhir-extension": ext.url,
        }
        if ext.value_element is not None:
            guards = _choice_guards([ext.value_element], props)
            if guards:
                schema["patternProperties"] = guards
        if ext.short:
            schema["description"] = ext.short
        if extra:
            schema["allOf"] = extra
        return schema
