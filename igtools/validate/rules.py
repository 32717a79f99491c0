"""IR profile -> runtime :class:`~igtools.runtime.validation.Rules`.

Only what the base resource model (fhir.resources) does not already enforce becomes a
rule; elements that add nothing are pruned, so the rule tree stays small.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from igtools.ir.model import IG, Element, Profile
from igtools.runtime.validation import El, Inv, Match, Rules, invariant_supported, split_path
from igtools.validate.fixes import evaluated_expression

CORE_SD = "http://hl7.org/fhir/StructureDefinition/"
NATIVE_INVARIANTS = frozenset({"ele-1", "ext-1"})  # checked natively by the runtime
CODE_KINDS = {"code", "Coding", "CodeableConcept", "Quantity", "string", "uri"}


class RuleBuilder:
    def __init__(self, ig: IG, sd_type: Callable[[str], str | None] | None = None) -> None:
        self.ig = ig
        self.warnings: list[str] = []
        # bound codes as rule tuples, once per value set expansion (see _codes)
        self._code_cache: dict[tuple[int, str], tuple[object, tuple[tuple[str | None, str], ...]]]
        self._code_cache = {}
        # the type of a StructureDefinition outside the IG (a dependency's), if known
        self._sd_type = sd_type

    def _profile_type(self, url: str) -> str | None:
        """The type of the profile at ``url`` (the IG's or, through the package set, a
        dependency's); None when unknown."""
        prof = self.ig.profiles.get(url)
        if prof is not None:
            return prof.type
        if self._sd_type is not None:
            return self._sd_type(url)
        return None

    # ------------------------------------------------------------------ public

    def rules(self, profile: Profile) -> Rules:
        root = self._element(profile.root, profile, is_root=True)
        return Rules(
            url=profile.url,
            name=profile.name or profile.id or profile.url,
            type=profile.type,
            root=root or El(profile.type),
        )

    # ------------------------------------------------------------------ helpers

    def _target_types(self, el: Element) -> tuple[str, ...]:
        out: list[str] = []
        for t in el.types:
            if t.code not in ("Reference", "canonical", "CodeableReference"):
                continue
            if t.code != "Reference":
                return ()
            if not t.target_profiles:
                return ()
            for url in t.target_profiles:
                base = url.partition("|")[0]
                ptype = self._profile_type(base)
                if ptype is not None:
                    out.append(ptype)
                elif base.startswith(CORE_SD):
                    out.append(base[len(CORE_SD) :])
                else:
                    return ()  # unknown target profile: no restriction we can check
        return tuple(dict.fromkeys(out))

    def _codes(self, el: Element) -> dict[str, Any]:
        """The binding fields of ``el``'s rule (see ``El.codes``): required and extensible
        bindings of coded elements; {} when there is nothing to check."""
        b = el.binding
        if b is None or b.strength not in ("required", "extensible") or not b.value_set:
            return {}
        kinds = {t.code for t in el.types} & CODE_KINDS
        if len(kinds) > 1:  # a choice: its coded type (see _check_binding), not its units
            kinds -= {"Quantity", "string"}
        if len(kinds) != 1:
            return {}
        kind = kinds.pop()
        judged = b.codes is not None and (b.complete or b.open_systems is not None)
        if kind in ("code", "string", "uri") and not b.complete:
            judged = False  # the system is implied: an open system could hold any code
        why = (b.note or "cannot be expanded").removeprefix(f"value set {b.value_set} ")
        if not judged:
            self._warn_once(
                f"value set {b.value_set} ({b.strength} binding): {why}: "
                "codes bound to it not checked"
            )
            if b.strength != "required" or kind != "CodeableConcept":
                return {}  # required CodeableConcepts still need a coding (see _check_binding)
            return {"code_kind": kind, "value_set": b.value_set, "strength": b.strength}
        if b.open_systems and not b.complete:
            self._warn_once(
                f"value set {b.value_set} ({b.strength} binding): codes of "
                f"{', '.join(b.open_systems)} not checked ({why})"
            )
        key = (id(b.codes), b.value_set)
        cached = self._code_cache.get(key)
        if cached is None or cached[0] is not b.codes:
            codes = tuple(dict.fromkeys((c.system, c.code) for c in b.codes or ()))
            cached = (b.codes, codes)
            self._code_cache[key] = cached
        return {
            "codes": cached[1],
            "code_kind": kind,
            "value_set": b.value_set,
            "strength": b.strength,
            "open_systems": () if b.complete else tuple(b.open_systems or ()),
        }

    def _warn_once(self, message: str) -> None:
        """A warning about a value set: once, however many elements it binds."""
        if message not in self.warnings:
            self.warnings.append(message)

    def _invariants(self, el: Element, profile: Profile) -> tuple[Inv, ...]:
        out = []
        for inv in el.constraints:
            if inv.key in NATIVE_INVARIANTS or inv.severity != "error" or not inv.expression:
                continue
            expression = evaluated_expression(inv.key, inv.expression)
            if not invariant_supported(expression):
                self.warnings.append(
                    f"{profile.name}: {el.id}: invariant {inv.key} ({inv.expression}) is not "
                    "supported by the FHIRPath engine: not checked"
                )
                continue
            out.append(Inv(inv.key, inv.severity, inv.human, expression))
        return tuple(out)

    def _profiles(self, el: Element) -> tuple[str, ...]:
        """Profiles a nested resource must conform to (Bundle.entry.resource, contained)."""
        out: list[str] = []
        for t in el.types:
            if t.code[:1].isupper() and t.profiles and t.code != "Extension":
                out.extend(
                    p.partition("|")[0]
                    for p in t.profiles
                    if self._profile_type(p.partition("|")[0]) is not None
                )
        return tuple(out) if self._is_resource_slot(el) else ()

    @staticmethod
    def _is_resource_slot(el: Element) -> bool:
        # a resource embedded in another (Bundle.entry.resource, contained, parameter)
        return el.name in ("resource", "contained") or el.path.endswith(".resource")

    def _element(self, el: Element, profile: Profile, is_root: bool = False) -> El | None:
        children = tuple(
            c for c in (self._element(ch, profile) for ch in el.children) if c is not None
        )
        bound = self._codes(el)
        invariants = self._invariants(el, profile)
        targets = self._target_types(el)
        profiles = self._profiles(el)
        slices: tuple[El, ...] = ()
        if el.slices:
            slices = tuple(
                s for s in (self._slice(sl, el, profile) for sl in el.slices) if s is not None
            )
        names: tuple[str, ...] = () if is_root else tuple(el.json_names())
        card_narrowed = el.min > el.base_min or (
            el.max is not None and (el.base_max is None or el.max < el.base_max)
        )
        choice_narrowed = el.is_choice and not is_root
        primitive = bool(el.types) and all(t.is_primitive for t in el.types)
        fixed = el.fixed[1] if el.fixed else None
        pattern = el.pattern[1] if el.pattern else None
        interesting = (
            is_root
            or children
            or slices
            or card_narrowed
            or choice_narrowed
            or fixed is not None
            or pattern is not None
            or bool(bound)
            or targets
            or profiles
            or invariants
        )
        if not interesting:
            return None
        return El(
            path=el.path,
            names=names,
            min=el.min,
            max=el.max,
            primitive=primitive,
            choice_stem=el.name[:-3] if el.is_choice and not is_root else None,
            fixed=fixed,
            pattern=pattern,
            targets=targets,
            profiles=profiles,
            invariants=invariants,
            children=children,
            slicing_rules=el.slicing.rules if el.slicing else None,
            slices=slices,
            **bound,
        )

    def _slice(self, sl: Element, sliced: Element, profile: Profile) -> El | None:
        base = self._element(sl, profile)
        if base is None:
            base = El(path=sl.path, names=tuple(sl.json_names()))
        matches: list[Match] = []
        evaluable = sliced.slicing is not None and bool(sliced.slicing.discriminators)
        for d in sliced.slicing.discriminators if sliced.slicing else []:
            m = self._match(sl, d.type, d.path)
            if m is None:
                evaluable = False
                break
            matches.append(m)
        if not evaluable:
            self.warnings.append(
                f"{profile.name}: {sl.id}: slice discriminator not evaluable: slice "
                "cardinality not checked"
            )
        return El(
            path=base.path,
            names=base.names,
            min=sl.min,
            max=sl.max,
            primitive=base.primitive,
            choice_stem=base.choice_stem,
            fixed=base.fixed,
            pattern=base.pattern,
            codes=base.codes,
            code_kind=base.code_kind,
            value_set=base.value_set,
            strength=base.strength,
            open_systems=base.open_systems,
            targets=base.targets,
            profiles=base.profiles,
            invariants=base.invariants,
            children=base.children,
            slice_name=sl.slice_name,
            slicing_rules=base.slicing_rules,
            matches=tuple(matches) if evaluable else (),
            slices=base.slices,
        )

    def _match(self, sl: Element, kind: str, path: str) -> Match | None:
        target = _navigate(sl, path)
        if kind in ("value", "pattern"):
            if path in ("url",) or path.endswith(".url"):
                # extension slices: the url is the type profile's
                owner = sl if path == "url" else _navigate(sl, path.rsplit(".", 1)[0])
                if owner is not None:
                    for t in owner.types:
                        if t.code == "Extension" and t.profiles:
                            return Match(kind, path, t.profiles[0].partition("|")[0])
            if target is None:
                return None
            b = target.binding
            if target.fixed is None and target.pattern is None and b and b.strength == "required":
                # as the HL7 validator: a slice told apart by its required value set
                bound = self._codes(target)
                if not bound.get("codes") or bound.get("open_systems"):
                    return None  # membership cannot be told: not evaluable
                return Match("binding", path, (bound["code_kind"], bound["codes"]))
            value = compose_pattern(target)
            return None if value is None else Match(kind, path, value)
        if kind == "exists":
            if target is None:
                return None
            if target.min >= 1:
                return Match(kind, path, True)
            if target.max == 0:
                return Match(kind, path, False)
            return None
        if kind == "type":
            if target is None or len(target.types) != 1:
                return None
            return Match(kind, path, target.types[0].code)
        if kind == "profile":
            if target is None:
                return None
            profiles = [p.partition("|")[0] for t in target.types for p in t.profiles]
            return Match(kind, path, tuple(profiles)) if profiles else None
        return None


def _navigate(el: Element, path: str) -> Element | None:
    node: Element | None = el
    for part in split_path(path):  # dots inside extension('http://...') are not steps
        if node is None:
            return None
        if part in ("$this", ""):
            continue
        if part.startswith("extension("):
            url = part[len("extension('") : -2]
            ext = node.child("extension")
            node = None
            if ext is not None:
                for s in ext.slices:
                    if any(url in (p.partition("|")[0] for p in t.profiles) for t in s.types):
                        node = s
            continue
        if part == "resolve()" or part.startswith("ofType("):
            continue
        node = node.child(part) or node.child(part + "[x]")
    return node


def compose_pattern(el: Element) -> Any:
    """The value an element must carry: its fixed/pattern value, or one composed from
    the fixed/pattern values of its descendants (and of its required slices)."""
    if el.fixed is not None:
        return el.fixed[1]
    if el.pattern is not None:
        return el.pattern[1]
    out: dict[str, Any] = {}
    for child in el.children:
        if child.prohibited or child.is_choice:
            continue
        items: list[Any] = []
        value = compose_pattern(child)
        if value is not None:
            items.append(value)
        for s in child.slices:
            if s.min >= 1:
                sv = compose_pattern(s)
                if sv is None:
                    for t in s.types:
                        if t.code == "Extension" and t.profiles:
                            sv = {"url": t.profiles[0].partition("|")[0]}
                if sv is not None:
                    items.append(sv)
        if not items:
            continue
        if child.is_array:
            out[child.name] = items
        elif len(items) == 1:
            out[child.name] = items[0]
    return out or None


def build_rules(ig: IG) -> tuple[dict[str, Rules], list[str]]:
    """Rules of every profile (not extension definitions) of the IG, by URL."""
    builder = RuleBuilder(ig)
    rules = {url: builder.rules(p) for url, p in ig.profiles.items() if p.is_profile}
    return rules, sorted(set(builder.warnings))
