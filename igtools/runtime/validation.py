"""Profile validation on FHIR JSON: the rules a profile adds to its base resource.

A profile's rules are a tree of :class:`El` (one per snapshot element that constrains
something), built by the generator from the profile's snapshot. :func:`validate` walks
an instance (FHIR JSON, as dicts and lists) along that tree and reports every broken
rule as an :class:`Issue` with a FHIRPath-style location, the rule and the profile.

What the base resource already guarantees (JSON types, primitive formats, unknown
elements) is checked by the fhir.resources model the generated class derives from.
Checked here: cardinalities (``_name`` primitive extensions count as a value),
prohibited elements, choice types restricted by the profile, fixed values (equality)
and pattern values (the instance contains at least the pattern), required bindings
whose codes are known, literal reference targets, slices (matched by their
discriminators, then each slice's cardinality and own rules; closed slicing), empty
values (ele-1), extensions with both a value and nested extensions (ext-1), and the
profile's error-severity invariants with the FHIRPath engine of ``fhirpath.py``
(switch off with ``invariants=False``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

JSON = Any


@dataclass(frozen=True)
class Inv:
    """An invariant: a FHIRPath expression that must be true on each occurrence."""

    key: str
    severity: str
    human: str
    expression: str


@dataclass(frozen=True)
class Match:
    """How a value is recognised as belonging to a slice (one per discriminator)."""

    kind: str  # value | pattern | exists | type | profile | binding
    path: str  # relative FHIRPath: "$this", "system", "coding.system", "url", ...
    expected: JSON = None  # value/pattern: the JSON value; exists: bool; type: type name


@dataclass(frozen=True)
class El:
    """The rules of one element (a node of the profile's element tree)."""

    path: str  # element path, for messages (Slot.serviceType)
    names: tuple[str, ...] = ()  # JSON names (choice types expanded); () for the root
    min: int = 0
    max: int | None = None  # None: unbounded
    primitive: bool = False
    choice_stem: str | None = None  # "value" for value[x]: other valueXxx are refused
    fixed: JSON = None
    pattern: JSON = None
    codes: tuple[tuple[str | None, str], ...] | None = None  # bound value set, known codes
    code_kind: str | None = None  # code | Coding | CodeableConcept | Quantity | string | uri
    value_set: str | None = None
    strength: str | None = None  # required | extensible (None with codes: required)
    open_systems: tuple[str, ...] = ()  # systems whose codes are not judged (_code_ok)
    targets: tuple[str, ...] = ()  # allowed literal reference target types
    profiles: tuple[str, ...] = ()  # nested resource must conform to one of these
    invariants: tuple[Inv, ...] = ()
    children: tuple[El, ...] = ()
    slice_name: str | None = None
    slicing_rules: str | None = None  # open | closed | openAtEnd
    matches: tuple[Match, ...] = ()  # for a slice: its discriminator values
    slices: tuple[El, ...] = ()


@dataclass(frozen=True)
class Rules:
    """A profile's rules: its canonical URL, base resource type and element tree."""

    url: str
    name: str
    type: str
    root: El


@dataclass
class Issue:
    severity: str  # error | warning
    location: str  # Slot.serviceType[0].coding[0].system
    message: str
    rule: str  # cardinality | fixed | pattern | binding | slice | reference | invariant:key ...
    profile: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message} ({self.rule}; {self.profile})"


# a registry of every profile's rules, to validate nested resources by profile
Registry = Mapping[str, Rules]
# a reference -> the type of the resource it resolves to in the enclosing Bundle
Resolver = Callable[[str], str | None]
# (resource type, id) -> does that resource exist (in the package set, say)?
Known = Callable[[str, str], bool]

_EMPTY: dict[str, Rules] = {}


@dataclass
class _Ctx:
    rules: Rules
    registry: Registry
    invariants: bool
    root: JSON
    issues: list[Issue] = field(default_factory=list)
    # inside a Bundle: the resource type a reference resolves to among its entries, and
    # the Bundle itself (FHIRPath resolve() searches its entries)
    resolve: Resolver | None = None
    bundle: JSON = None
    # beyond the Bundle: does a relative reference Type/id resolve (None: all are taken
    # to, and the type they name checked)
    known: Known | None = None

    def error(self, location: str, message: str, rule: str, severity: str = "error") -> None:
        self.issues.append(Issue(severity, location, message, rule, self.rules.name))


def validate(
    data: JSON,
    rules: Rules,
    registry: Registry = _EMPTY,
    invariants: bool = True,
    resolve: Resolver | None = None,
    bundle: JSON = None,
    known: Known | None = None,
) -> list[Issue]:
    """Every way ``data`` (FHIR JSON of one resource) breaks ``rules``. ``resolve``
    gives the resource type a reference points to inside the Bundle that holds
    ``data`` (its ``urn:uuid:`` and ``fullUrl`` references), or None; ``bundle`` is
    that Bundle (for FHIRPath's resolve() in invariants); ``known``, when given, tells
    whether a relative reference ``Type/id`` resolves to a resource (of the package
    set): only then is the type it names checked against the element's target types
    (without it, the type every ``Type/id`` names is)."""
    ctx = _Ctx(rules, registry, invariants, data, resolve=resolve, bundle=bundle, known=known)
    if not isinstance(data, dict):
        ctx.error(rules.type, "not a JSON object", "structure")
        return ctx.issues
    rt = data.get("resourceType")
    if rt != rules.type:
        ctx.error(rules.type, f"resourceType is {rt!r}, the profile is on {rules.type}", "type")
        return ctx.issues
    _check_empty(data, rules.type, ctx)
    if invariants and rules.root.invariants:
        _check_invariants(data, rules.root, rules.type, ctx)
    _check_node(data, rules.root, rules.type, ctx)
    return ctx.issues


def validate_value(
    value: JSON,
    rules: Rules,
    location: str,
    resource: JSON,
    registry: Registry = _EMPTY,
    invariants: bool = True,
) -> list[Issue]:
    """Every way ``value``, a data type occurrence at ``location`` inside ``resource``
    (an extension, a profiled Address...), breaks ``rules``, a profile on its type."""
    ctx = _Ctx(rules, registry, invariants, resource)
    if not isinstance(value, dict):
        ctx.error(location, f"not a JSON object (a {rules.type} is expected)", "structure")
        return ctx.issues
    if invariants and rules.root.invariants:
        _check_invariants(value, rules.root, location, ctx)
    _check_node(value, rules.root, location, ctx)
    return ctx.issues


# ------------------------------------------------------------------------------ helpers


def _occurrences(obj: dict[str, Any], el: El) -> list[tuple[str, JSON, JSON]]:
    """(json name, value, primitive extension) of each occurrence of ``el`` in ``obj``."""
    out: list[tuple[str, JSON, JSON]] = []
    for name in el.names:
        value = obj.get(name)
        ext = obj.get("_" + name) if el.primitive else None
        if value is None and ext is None:
            continue
        if isinstance(value, list) or isinstance(ext, list):
            values = value if isinstance(value, list) else []
            exts = ext if isinstance(ext, list) else []
            for i in range(max(len(values), len(exts))):
                v = values[i] if i < len(values) else None
                e = exts[i] if i < len(exts) else None
                if v is not None or e is not None:
                    out.append((f"{name}[{i}]", v, e))
        else:
            out.append((name, value, ext))
    return out


def contains(instance: JSON, pattern: JSON) -> bool:
    """Does ``instance`` contain at least ``pattern`` (FHIR pattern[x] semantics)?"""
    if isinstance(pattern, dict):
        if not isinstance(instance, dict):
            return False
        return all(contains(instance.get(k), v) for k, v in pattern.items())
    if isinstance(pattern, list):
        if isinstance(instance, dict):  # a pattern on a repeating element, one occurrence
            return all(contains(instance, p) for p in pattern)
        if not isinstance(instance, list):
            return False
        return all(any(contains(i, p) for i in instance) for p in pattern)
    return _same(instance, pattern)


def _same(a: JSON, b: JSON) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return bool(a == b)


def _equal(a: JSON, b: JSON) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return _same(a, b)


# a Reference (JSON) -> the resource it resolves to, or None
RefResolver = Callable[[JSON], JSON]


def _step(values: list[JSON], name: str, resolver: RefResolver | None = None) -> list[JSON]:
    out: list[JSON] = []
    m = re.fullmatch(r"extension\('([^']*)'\)", name)
    for v in values:
        if not isinstance(v, dict):
            continue
        if m is not None:
            out.extend(
                e for e in v.get("extension") or [] if isinstance(e, dict) and e.get("url") == m[1]
            )
            continue
        if name == "resolve()" and resolver is not None:
            found = resolver(v)
            if found is not None:
                out.append(found)
            continue
        if name.startswith("ofType(") or name == "resolve()":
            out.append(v)
            continue
        if name.endswith("[x]"):
            stem = name[:-3]
            got = [
                val for k, val in v.items() if k.startswith(stem) and k[len(stem) :][:1].isupper()
            ]
        else:
            got = [v.get(name)] if name in v else []
        for g in got:
            out.extend(g if isinstance(g, list) else [g])
    return out


def _split_path(path: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    cur = ""
    for ch in path:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "." and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p for p in parts if p and p != "$this"]


split_path = _split_path  # the steps of a simple FHIRPath (for the rule generator)


def select(value: JSON, path: str, resolver: RefResolver | None = None) -> list[JSON]:
    """Values at a simple FHIRPath ``path`` below ``value`` (names, extension('url'),
    ``resolve()``: by ``resolver`` when given, else the Reference itself)."""
    values = [value]
    for part in _split_path(path):
        values = _step(values, part, resolver)
    return values


def _resolver(ctx: _Ctx) -> RefResolver:
    """resolve() as the reference validator's FHIRPath host: a Reference resolves to a
    contained resource (``#id``) of the resource being validated, to an entry of the
    Bundle around it (by ``fullUrl``, or a relative ``Type/id`` against a RESTful
    ``fullUrl``); otherwise, as the resource it names would be, to a stand-in carrying
    only the type its URL (``Type/id``) or its ``type`` names."""

    def resolve(ref: JSON) -> JSON:
        if not isinstance(ref, dict):
            return None
        url = ref.get("reference")
        if isinstance(url, str) and url:
            if url.startswith("#"):
                contained = ctx.root.get("contained") if isinstance(ctx.root, dict) else None
                for c in contained if isinstance(contained, list) else []:
                    if isinstance(c, dict) and c.get("id") == url[1:]:
                        return c
                return None
            entries = ctx.bundle.get("entry") if isinstance(ctx.bundle, dict) else None
            for e in entries if isinstance(entries, list) else []:
                res = e.get("resource") if isinstance(e, dict) else None
                full = e.get("fullUrl") if isinstance(e, dict) else None
                if not isinstance(res, dict) or not isinstance(full, str):
                    continue
                if full == url or (not is_absolute_ref(url) and full.endswith("/" + url)):
                    return res
            if ctx.resolve is not None and (rtype := ctx.resolve(url)):
                return {"resourceType": rtype}
            m = _REF_RE.search(url.split("?")[0])
            if m is not None and _is_resource_type(m[1]):
                return {"resourceType": m[1]}
        rtype = ref.get("type")
        if isinstance(rtype, str) and rtype:
            rtype = rtype.rsplit("/", 1)[-1]
            return {"resourceType": rtype} if _is_resource_type(rtype) else None
        return None

    return resolve


def _target_types(sl: El, path: str) -> tuple[str, ...]:
    """The reference target types of the element at ``path`` (``item.resolve()``:
    ``item``) below the slice ``sl``."""
    node: El | None = sl
    for part in _split_path(path):
        if node is None or part == "resolve()":
            break
        node = next((c for c in node.children if part in c.names), None)
    return node.targets if node is not None else ()


def _matches(value: JSON, m: Match, ctx: _Ctx, name: str = "", sl: El | None = None) -> bool:
    if m.kind in ("value", "pattern"):
        found = select(value, m.path)
        if m.kind == "value":
            return any(_equal(f, m.expected) or contains(f, m.expected) for f in found)
        return any(contains(f, m.expected) for f in found)
    if m.kind == "exists":
        return bool(select(value, m.path)) == bool(m.expected)
    if m.kind == "binding":  # expected: (code kind, codes of the slice's value set)
        kind, codes = m.expected
        return any(
            _code_ok(f, codes, kind) is True
            for v in select(value, m.path)
            for f in _codings(v, kind)
        )
    if m.kind == "type" and "resolve()" in m.path:
        # the type of the resource a reference resolves to, among the slice's targets
        targets = _target_types(sl, m.path) if sl is not None else ()
        if not targets and isinstance(m.expected, str) and _is_resource_type(m.expected):
            targets = (m.expected,)
        found = select(value, m.path, _resolver(ctx))
        return any(
            isinstance(f, dict) and ("Resource" in targets or f.get("resourceType") in targets)
            for f in found
        )
    if m.kind == "type":
        found = select(value, m.path)
        if any(isinstance(f, dict) and "resourceType" in f for f in found):
            return any(isinstance(f, dict) and f.get("resourceType") == m.expected for f in found)
        if m.path in ("$this", "") and isinstance(m.expected, str) and m.expected:
            # a choice type: the JSON name carries the type (valueReference)
            suffix = m.expected[0].upper() + m.expected[1:]
            return name.partition("[")[0].endswith(suffix)
        return False
    if m.kind == "profile":
        found = select(value, m.path)
        for f in found:
            for url in m.expected or ():
                rules = ctx.registry.get(url)
                if rules is not None:
                    if not validate(f, rules, ctx.registry, invariants=False):
                        return True
                elif isinstance(f, dict) and url in ((f.get("meta") or {}).get("profile") or []):
                    return True
        return False
    return False


def _codings(value: JSON, kind: str | None) -> list[tuple[str | None, str | None]]:
    """(system, code) of each coding of a coded value (a bare code: system None)."""
    if kind == "CodeableConcept":
        if not isinstance(value, dict):
            return []
        return [
            (c.get("system"), c.get("code"))
            for c in value.get("coding") or []
            if isinstance(c, dict)
        ]
    if kind in ("Coding", "Quantity"):
        if not isinstance(value, dict):
            return []
        return [(value.get("system"), value.get("code"))]
    return [(None, value)] if isinstance(value, str) else []


# membership sets of each codes tuple, built on first use (keyed by identity: the tuple is
# kept alive beside its sets, so an id is never reused while cached)
_CodeSets = tuple[frozenset[tuple[str | None, str]], frozenset[str], frozenset[str | None]]
_CODE_SETS: dict[int, tuple[object, _CodeSets]] = {}


def _code_sets(codes: tuple[tuple[str | None, str], ...]) -> _CodeSets:
    """(system, code) pairs, bare codes and systems of a value set's codes."""
    hit = _CODE_SETS.get(id(codes))
    if hit is None or hit[0] is not codes:
        sets = (frozenset(codes), frozenset(c for _, c in codes), frozenset(s for s, _ in codes))
        hit = (codes, sets)
        _CODE_SETS[id(codes)] = hit
    return hit[1]


def _code_ok(
    found: tuple[str | None, str | None],
    codes: tuple[tuple[str | None, str], ...],
    kind: str | None,
    open_systems: tuple[str, ...] = (),
) -> bool | None:
    """Is ``found`` in the value set? None: cannot be told (its system is open)."""
    system, code = found
    pairs, bare, _ = _code_sets(codes)
    if kind in ("code", "string", "uri"):  # the system is implied by the element
        return code in bare
    if not isinstance(code, str):
        return False
    if (system, code) in pairs or (None, code) in pairs:
        return True
    if system in open_systems:
        return None
    return False


def _show(found: list[tuple[str | None, str | None]]) -> str:
    return ", ".join(f"{s}#{c}" if s else str(c) for s, c in found)


def _check_binding(value: JSON, el: El, loc: str, ctx: _Ctx) -> None:
    """A value bound to a value set (FHIR's verdicts, as the HL7 validator words them):
    required: a code from the value set (a CodeableConcept: at least one coding);
    extensible: a warning when no coding is in it. Codes of open systems are not judged."""
    strength = el.strength or "required"
    vs = el.value_set or "(unnamed)"
    kind = el.code_kind
    if len(el.names) > 1 and kind:  # a choice (medication[x]): only its coded types are bound
        name = loc.rsplit(".", 1)[-1].partition("[")[0]
        if name.endswith("Quantity") and any(n.endswith("Quantity") for n in el.names):
            kind = "Quantity"  # and the units of its Quantity, as the reference judges them
        elif not name.endswith(kind[0].upper() + kind[1:]):
            return
    found = _codings(value, kind)
    if kind == "CodeableConcept" and not [c for _, c in found if c]:
        if strength == "required" and isinstance(value, dict):
            ctx.error(
                loc,
                f"No code provided, and a code is required from the value set {vs}",
                "binding",
            )
        return
    if el.codes is None or (kind in ("Coding", "Quantity") and not any(c for _, c in found)):
        return  # nothing to judge it by, or no code to judge (a Quantity without units)
    verdicts = [_code_ok(f, el.codes, kind, el.open_systems) for f in found]
    if not verdicts or any(v is not False for v in verdicts):
        return  # one coding in the value set (or not judged): enough
    shown = _show(found)
    if strength == "required":
        if kind == "CodeableConcept":
            message = (
                f"None of the codings provided are in the value set {vs}, and a coding "
                f"from this value set is required (codes = {shown})"
            )
        else:
            message = (
                f"The code provided ({shown}) was not found in the value set {vs}, "
                "and a code from this value set is required"
            )
        ctx.error(loc, message, "binding")
    elif kind in ("code", "string", "uri") or _code_sets(el.codes)[2] & {s for s, _ in found}:
        # extensible: a code of a system the value set draws from, yet not in it (the
        # reference validator says nothing of codes of other systems: no suitable code)
        ctx.error(
            loc,
            f"None of the codings provided are in the value set {vs}, and a coding should "
            f"come from this value set unless it has no suitable code (codes = {shown})",
            "binding",
            "warning",
        )


_REF_RE = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


def is_absolute_ref(ref: str) -> bool:
    """Is ``ref`` an absolute URL (``http://...``, ``urn:...``)?"""
    return bool(_SCHEME.match(ref))


def _check_reference(value: JSON, el: El, loc: str, ctx: _Ctx) -> None:
    if not el.targets or not isinstance(value, dict):
        return
    ref = value.get("reference")
    if not isinstance(ref, str):
        return
    if ref.startswith("#"):
        target_type = None
        for c in ctx.root.get("contained") or [] if isinstance(ctx.root, dict) else []:
            if isinstance(c, dict) and c.get("id") == ref[1:]:
                target_type = c.get("resourceType")
        if target_type is None:
            ctx.error(f"{loc}.reference", f"no contained resource {ref}", "reference")
            return
    elif ref.startswith("urn:") or (ctx.resolve is not None and ctx.resolve(ref)):
        # resolved among the entries of the enclosing Bundle (by fullUrl)
        target_type = ctx.resolve(ref) if ctx.resolve is not None else None
        if target_type is None:
            return  # not in this Bundle (or no Bundle around): nothing to check here
    else:
        m = _REF_RE.search(ref)
        if m is None or not _is_resource_type(m[1]):
            # as the reference validator: a reference that names no resource type cannot
            # have its target checked (resolving it is the server's business)
            ctx.error(
                f"{loc}.reference",
                f"{ref!r} names no resource type (Type/id or an absolute URL ending so): "
                "its target type is not checked",
                "reference",
                "warning",
            )
            return
        target_type = m[1]
        if ctx.known is not None and (is_absolute_ref(ref) or not ctx.known(m[1], m[2])):
            # as the reference validator by default: the type a reference names is
            # checked once the reference resolves (to a resource of the package set);
            # an unresolvable one is taken as is. Without ``known`` (generated models),
            # the URL is taken at its word, as with assumeValidRestReferences
            return
    if "Resource" not in el.targets and target_type not in el.targets:
        allowed = ", ".join(el.targets)
        ctx.error(
            f"{loc}.reference",
            f"reference to {target_type} not allowed (allowed: {allowed})",
            "reference",
        )


_RESOURCE_TYPES: dict[str, bool] = {}


def _is_resource_type(name: str) -> bool:
    """Is ``name`` a FHIR resource type (per the fhir.resources models)?"""
    if name not in _RESOURCE_TYPES:
        from fhir.resources.R4B import get_fhir_model_class
        from fhir.resources.R4B.resource import Resource

        try:
            _RESOURCE_TYPES[name] = issubclass(get_fhir_model_class(name), Resource)
        except (KeyError, ValueError, TypeError):
            _RESOURCE_TYPES[name] = False
    return _RESOURCE_TYPES[name]


# ------------------------------------------------------------------------------ walking


def _check_empty(value: JSON, loc: str, ctx: _Ctx) -> None:
    """ele-1 in FHIR JSON: no empty objects, arrays or strings; ext-1 on extensions."""
    if isinstance(value, dict):
        if not value:
            ctx.error(loc, "empty element (ele-1: must have a value or children)", "ele-1")
        if "url" in value and "extension" in value and any(k.startswith("value") for k in value):
            ctx.error(loc, "extension with both a value and nested extensions", "ext-1")
        for k, v in value.items():
            if k != "div":
                _check_empty(v, f"{loc}.{k}", ctx)
    elif isinstance(value, list):
        if not value:
            ctx.error(loc, "empty array", "ele-1")
        for i, v in enumerate(value):
            if v is not None:
                _check_empty(v, f"{loc}[{i}]", ctx)
    elif value == "":
        # a blank string is a value for the reference validator (at most a warning about
        # its white space); only the empty string is no value
        ctx.error(loc, "empty string", "ele-1")


def _check_node(obj: JSON, el: El, loc: str, ctx: _Ctx) -> None:
    """Check the children (and their slices) of ``el`` inside one occurrence ``obj``."""
    if not isinstance(obj, dict):
        return
    for child in el.children:
        _check_element(obj, child, loc, ctx)


def _check_element(obj: dict[str, Any], el: El, parent_loc: str, ctx: _Ctx) -> None:
    occ = _occurrences(obj, el)
    where = f"{parent_loc}.{el.names[0]}" if el.names else parent_loc
    if el.choice_stem is not None:
        stem = el.choice_stem
        for key in obj:
            k = key.lstrip("_")
            if k.startswith(stem) and k[len(stem) :][:1].isupper() and k not in el.names:
                ctx.error(
                    f"{parent_loc}.{key}",
                    f"type {k[len(stem) :]} not allowed here (allowed: {', '.join(el.names)})",
                    "type",
                )
    _check_count(len(occ), el.min, el.max, where, el.path, ctx)
    for name, value, _ext in occ:
        loc = f"{parent_loc}.{name}"
        _check_value(value, el, loc, ctx)
    if el.slices:
        _check_slices(occ, el, parent_loc, ctx)


def _check_count(n: int, lo: int, hi: int | None, where: str, path: str, ctx: _Ctx) -> None:
    if hi == 0 and n > 0:
        ctx.error(where, f"{path} is not allowed by the profile (max 0), found {n}", "cardinality")
    elif n < lo:
        ctx.error(where, f"{path}: at least {lo} required, found {n}", "cardinality")
    elif hi is not None and n > hi:
        ctx.error(where, f"{path}: at most {hi} allowed, found {n}", "cardinality")


def _check_value(value: JSON, el: El, loc: str, ctx: _Ctx) -> None:
    if value is None:
        return
    if el.fixed is not None and not _equal(value, el.fixed):
        ctx.error(loc, f"must be exactly {_short(el.fixed)}, found {_short(value)}", "fixed")
    if el.pattern is not None and not contains(value, el.pattern):
        ctx.error(
            loc, f"must match the pattern {_short(el.pattern)}, found {_short(value)}", "pattern"
        )
    if el.codes is not None or el.strength is not None:
        _check_binding(value, el, loc, ctx)
    if el.targets:
        _check_reference(value, el, loc, ctx)
    if el.profiles and isinstance(value, dict):
        _check_profiles(value, el, loc, ctx)
    if ctx.invariants and el.invariants:
        _check_invariants(value, el, loc, ctx)
    _check_node(value, el, loc, ctx)


def _check_profiles(value: dict[str, Any], el: El, loc: str, ctx: _Ctx) -> None:
    known = [ctx.registry[u] for u in el.profiles if u in ctx.registry]
    if not known:
        return
    bundle = ctx.bundle if ctx.bundle is not None else _as_bundle(ctx.root)
    results = [
        validate(value, r, ctx.registry, ctx.invariants, ctx.resolve, bundle, ctx.known)
        for r in known
    ]
    if any(not r for r in results):
        return
    best = min(results, key=len)
    for issue in best:
        issue.location = loc + issue.location[len(str(value.get("resourceType"))) :]
        ctx.issues.append(issue)


def _check_slices(occ: list[tuple[str, JSON, JSON]], el: El, parent_loc: str, ctx: _Ctx) -> None:
    counts = {s.slice_name: 0 for s in el.slices}
    members: dict[str | None, list[tuple[str, JSON, JSON]]] = {}
    for name, value, _ext in occ:
        loc = f"{parent_loc}.{name}"
        matched = [
            s
            for s in el.slices
            if s.matches and all(_matches(value, m, ctx, name, s) for m in s.matches)
        ]
        if len(matched) > 1:
            # an element belongs to one slice at most: as the reference validator, the
            # first that matches takes it, and matching others is an error
            names = ", ".join(str(s.slice_name) for s in matched)
            ctx.error(loc, f"matches more than one slice of {el.path} ({names})", "slice")
        for s in matched[:1]:
            counts[s.slice_name] += 1
            members.setdefault(s.slice_name, []).append((name, value, _ext))
            _check_value(value, s, loc, ctx)
        if not matched and el.slicing_rules == "closed":
            ctx.error(loc, f"matches no slice of {el.path} (slicing is closed)", "slice")
    where = f"{parent_loc}.{el.names[0]}" if el.names else parent_loc
    for s in el.slices:
        if not s.matches:
            continue  # discriminator not evaluable: the slice cannot be counted
        n = counts[s.slice_name]
        label = f"{el.path}:{s.slice_name}"
        _check_count(n, s.min, s.max, where, label, ctx)
        if s.slices and members.get(s.slice_name):
            # re-slicing (a/b): the slice's own items among its re-slices (an absent
            # optional slice asks nothing of its re-slices)
            _check_slices(members[s.slice_name], s, parent_loc, ctx)


# ------------------------------------------------------------------------------ FHIRPath


def _compile(expression: str) -> Callable[..., list[Any]] | None:
    """``expression`` compiled by the FHIRPath engine (runtime/fhirpath.py, cached), as a
    function of (data, variables) giving System values; None when it cannot compile."""
    from .fhirpath import FhirPathError, compile, value_of

    try:
        expr = compile(expression)
    except FhirPathError:
        return None

    def run(data: JSON, variables: Mapping[str, Any] | None = None) -> list[Any]:
        env = dict(variables or {})
        res, root = env.pop("resource", None), env.pop("rootResource", None)
        found = expr.evaluate(data, resource=res, root_resource=root, variables=env)
        return [value_of(r) for r in found]

    return run


def invariant_supported(expression: str) -> bool:
    """Can the FHIRPath engine compile this expression? (used by the generator to warn)"""
    return _compile(expression) is not None


def _check_invariants(value: JSON, el: El, loc: str, ctx: _Ctx) -> None:
    """Each invariant of ``el`` on one occurrence, evaluated knowing the occurrence's FHIR
    type (choice types below it resolve) and the resource it is in (%resource)."""
    from .fhirpath import FhirPathError, compile, element_type
    from .fhirpath_hooks import registry_hooks

    name = loc.rpartition(".")[2].partition("[")[0]
    ftype = element_type(el.path, name if el.choice_stem else None)
    hooks = registry_hooks(ctx.registry)
    for inv in el.invariants:
        try:
            expr = compile(inv.expression)
            verdict = expr.verdict(
                value, type=ftype, resource=ctx.root, hooks=hooks, bundle=ctx.bundle
            )
        except FhirPathError as exc:  # an engine gap is not the instance's fault
            ctx.error(
                loc,
                f"invariant {inv.key} could not be evaluated: {exc}",
                f"invariant:{inv.key}",
                "warning",
            )
            continue
        # FHIRPath: an empty result gives no verdict; anything but true fails
        if verdict is False:
            ctx.error(
                loc,
                f"invariant {inv.key} broken: {inv.human}",
                f"invariant:{inv.key}",
                inv.severity,
            )


def _as_bundle(value: JSON) -> JSON:
    return value if isinstance(value, dict) and value.get("resourceType") == "Bundle" else None


def _short(value: JSON) -> str:
    import json

    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= 120 else text[:117] + "..."


def iter_errors(issues: list[Issue]) -> Iterator[Issue]:
    return (i for i in issues if i.severity == "error")
