"""Compare the IRs of two versions of an IG.

Artefacts are matched by canonical URL, then (renamed) by id or name. For each profile,
elements are matched by element id; for each capability statement, resources by type.
Every change says whether it breaks an éditeur **producing** instances (the new version
asks more: a tighter cardinality, a new required element or slice, a stronger binding,
a new fixed value or invariant) and/or a client **consuming** them (the new version
allows more: a looser cardinality, a new type, a weaker binding, a removed invariant,
or something the client relied on is gone), with a one-line reason.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from igtools.ir.model import IG, Capability, Element, Profile

STRENGTH = {"example": 0, "preferred": 1, "extensible": 2, "required": 3}


@dataclass
class Change:
    kind: str  # added | removed | renamed | changed
    artefact: str  # "StructureDefinition MyPatientProfile"
    path: str  # element id, "Slot" resource of a statement, or ""
    detail: str
    producer: bool  # breaks an éditeur producing instances
    consumer: bool  # breaks a client consuming them
    reason: str


@dataclass
class DiffReport:
    old: str
    new: str
    changes: list[Change] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"old": self.old, "new": self.new, "changes": [asdict(c) for c in self.changes]}

    @property
    def breaking(self) -> list[Change]:
        return [c for c in self.changes if c.producer or c.consumer]


def _unversioned(url: str | None) -> str | None:
    """A canonical without its ``|version``: pinning a version is not a change of meaning."""
    return url.partition("|")[0] if url else url


def _card(el: Element) -> str:
    return f"{el.min}..{'*' if el.max is None else el.max}"


def _max(value: int | None) -> float:
    return float("inf") if value is None else float(value)


class Comparer:
    def __init__(self, old: IG, new: IG) -> None:
        self.old = old
        self.new = new
        self.report = DiffReport(old.package, new.package)

    def add(self, *args: Any) -> None:
        self.report.changes.append(Change(*args))

    def run(self) -> DiffReport:
        self._artefacts(
            "StructureDefinition",
            self.old.profiles,
            self.new.profiles,
            lambda p: (p.id, p.name),
            self._profile,
        )
        old_vs = {u: v for u, v in self.old.value_sets.items() if v.package == self.old.package}
        new_vs = {u: v for u, v in self.new.value_sets.items() if v.package == self.new.package}
        self._artefacts("ValueSet", old_vs, new_vs, lambda v: (v.id, v.name), self._value_set)
        self._artefacts(
            "CodeSystem",
            self.old.code_systems,
            self.new.code_systems,
            lambda c: (c.id, c.name),
            self._code_system,
        )
        self._artefacts(
            "SearchParameter",
            self.old.search_params,
            self.new.search_params,
            lambda s: (s.code, s.name),
            self._search_param,
        )
        old_caps = {str(c.id): c for c in self.old.capabilities}
        new_caps = {str(c.id): c for c in self.new.capabilities}
        self._artefacts(
            "CapabilityStatement", old_caps, new_caps, lambda c: (c.id, c.name), self._capability
        )
        return self.report

    def _artefacts(
        self, kind: str, old: dict[str, Any], new: dict[str, Any], keys: Any, compare: Any
    ) -> None:
        removed = {u: a for u, a in old.items() if u not in new}
        added = {u: a for u, a in new.items() if u not in old}
        for url, a in list(removed.items()):
            match = next(
                (u for u, b in added.items() if set(keys(a)) & set(keys(b)) - {None}), None
            )
            if match is not None:
                b = added.pop(match)
                del removed[url]
                self.add(
                    "renamed",
                    f"{kind} {_label(b)}",
                    "",
                    f"{url} -> {match}",
                    True,
                    True,
                    "instances and clients naming the old canonical URL must change",
                )
                compare(a, b)
        for url, a in sorted(removed.items()):
            self.add("removed", f"{kind} {_label(a)}", "", url, True, True, f"the {kind} is gone")
        for url, b in sorted(added.items()):
            self.add("added", f"{kind} {_label(b)}", "", url, False, False, f"a new {kind}")
        for url in sorted(set(old) & set(new)):
            compare(old[url], new[url])

    # ------------------------------------------------------------------ profiles

    def _profile(self, a: Profile, b: Profile) -> None:
        name = f"StructureDefinition {b.name}"
        olds = {el.id: el for el in a.elements()}
        news = {el.id: el for el in b.elements()}
        for eid in sorted(set(olds) - set(news)):
            el = olds[eid]
            if el.slice_name:
                self.add(
                    "removed",
                    name,
                    eid,
                    f"slice {el.slice_name} removed",
                    False,
                    True,
                    "consumers relying on the slice lose it",
                )
        for eid in sorted(set(news) - set(olds)):
            el = news[eid]
            if el.slice_name or el.min > 0:
                required = el.min > 0
                self.add(
                    "added",
                    name,
                    eid,
                    f"{'slice ' + el.slice_name if el.slice_name else 'element'} {_card(el)}",
                    required,
                    False,
                    "instances must now carry it" if required else "a new optional part",
                )
        for eid in sorted(set(olds) & set(news)):
            self._element(name, olds[eid], news[eid])

    def _element(self, name: str, a: Element, b: Element) -> None:
        eid = b.id
        if a.min != b.min:
            tighter = b.min > a.min
            self.add(
                "changed",
                name,
                eid,
                f"min {a.min} -> {b.min}",
                tighter,
                not tighter,
                "now required" if tighter else "may now be absent",
            )
        if a.max != b.max:
            tighter = _max(b.max) < _max(a.max)
            self.add(
                "changed",
                name,
                eid,
                f"max {_card(a)} -> {_card(b)}",
                tighter,
                not tighter,
                "fewer occurrences allowed" if tighter else "more occurrences possible",
            )
        ta, tb = set(a.type_codes), set(b.type_codes)
        if ta != tb:
            self.add(
                "changed",
                name,
                eid,
                f"types {sorted(ta)} -> {sorted(tb)}",
                bool(ta - tb),
                bool(tb - ta),
                "types removed" if ta - tb else "types added",
            )
        pa = {p.partition("|")[0] for t in a.types for p in t.target_profiles}
        pb = {p.partition("|")[0] for t in b.types for p in t.target_profiles}
        if pa != pb:
            self.add(
                "changed",
                name,
                eid,
                f"target profiles {sorted(pa)} -> {sorted(pb)}",
                bool(pa - pb) or bool(pb - pa),
                bool(pb - pa),
                "reference targets changed",
            )
        for attr in ("fixed", "pattern"):
            va, vb = getattr(a, attr), getattr(b, attr)
            if va != vb:
                self.add(
                    "changed",
                    name,
                    eid,
                    f"{attr} {va[1] if va else None!r} -> {vb[1] if vb else None!r}",
                    vb is not None,
                    va is not None,
                    f"instances must carry the new {attr} value"
                    if vb is not None
                    else f"the {attr} value is no longer guaranteed",
                )
        ba, bb = a.binding, b.binding
        same_vs = bool(ba and bb and _unversioned(ba.value_set) == _unversioned(bb.value_set))
        if (ba is None) != (bb is None) or (
            ba and bb and (ba.strength != bb.strength or not same_vs)
        ):
            sa = STRENGTH.get(ba.strength, -1) if ba else -1
            sb = STRENGTH.get(bb.strength, -1) if bb else -1
            vs_changed = bool(ba and bb and not same_vs)
            was = f"{ba.strength} {ba.value_set}" if ba else "none"
            now = f"{bb.strength} {bb.value_set}" if bb else "none"
            self.add(
                "changed",
                name,
                eid,
                f"binding {was} -> {now}",
                sb > sa or vs_changed,
                sb < sa or vs_changed,
                "a stronger binding or another value set" if sb >= sa else "a weaker binding",
            )
        if a.must_support != b.must_support:
            self.add(
                "changed",
                name,
                eid,
                f"mustSupport {a.must_support} -> {b.must_support}",
                b.must_support,
                a.must_support,
                "must now be supported" if b.must_support else "no longer must be supported",
            )
        ia = {i.key: i.expression for i in a.constraints}
        ib = {i.key: i.expression for i in b.constraints}
        for key in sorted(set(ib) - set(ia)):
            self.add(
                "added",
                name,
                eid,
                f"invariant {key}: {ib[key]}",
                True,
                False,
                "a new rule instances must satisfy",
            )
        for key in sorted(set(ia) - set(ib)):
            self.add(
                "removed",
                name,
                eid,
                f"invariant {key}",
                False,
                True,
                "a rule consumers relied on is gone",
            )
        for key in sorted(set(ia) & set(ib)):
            if ia[key] != ib[key]:
                self.add(
                    "changed",
                    name,
                    eid,
                    f"invariant {key}: {ia[key]} -> {ib[key]}",
                    True,
                    True,
                    "the rule changed",
                )

    # ------------------------------------------------------------------ others

    def _value_set(self, a: Any, b: Any) -> None:
        if a.codes is None or b.codes is None:
            return
        ca = {(c.system, c.code) for c in a.codes}
        cb = {(c.system, c.code) for c in b.codes}
        name = f"ValueSet {b.name or b.id}"
        if ca - cb:
            self.add(
                "changed",
                name,
                "",
                f"codes removed: {sorted(c for _, c in ca - cb)}",
                True,
                False,
                "instances using them become invalid",
            )
        if cb - ca:
            self.add(
                "changed",
                name,
                "",
                f"codes added: {sorted(c for _, c in cb - ca)}",
                False,
                True,
                "clients may meet new codes",
            )

    def _code_system(self, a: Any, b: Any) -> None:
        ca, cb = {c.code for c in a.concepts}, {c.code for c in b.concepts}
        name = f"CodeSystem {b.name or b.id}"
        if ca != cb:
            self.add(
                "changed",
                name,
                "",
                f"concepts {sorted(ca)} -> {sorted(cb)}",
                bool(ca - cb),
                bool(cb - ca),
                "concepts changed",
            )

    def _search_param(self, a: Any, b: Any) -> None:
        name = f"SearchParameter {b.name or b.code}"
        for attr in ("code", "type", "expression"):
            if getattr(a, attr) != getattr(b, attr):
                self.add(
                    "changed",
                    name,
                    "",
                    f"{attr} {getattr(a, attr)!r} -> {getattr(b, attr)!r}",
                    True,
                    True,
                    f"the parameter's {attr} changed",
                )
        if sorted(a.comparators) != sorted(b.comparators):
            self.add(
                "changed",
                name,
                "",
                f"comparators {a.comparators} -> {b.comparators}",
                False,
                bool(set(a.comparators) - set(b.comparators)),
                "comparators changed",
            )

    def _capability(self, a: Capability, b: Capability) -> None:
        name = f"CapabilityStatement {b.id}"
        ra = {(rest.mode, r.type): r for rest in a.rest for r in rest.resources}
        rb = {(rest.mode, r.type): r for rest in b.rest for r in rest.resources}
        for key in sorted(set(ra) - set(rb)):
            self.add(
                "removed",
                name,
                f"{key[0]} {key[1]}",
                "resource no longer declared",
                False,
                True,
                "clients lose the resource",
            )
        for key in sorted(set(rb) - set(ra)):
            self.add(
                "added",
                name,
                f"{key[0]} {key[1]}",
                "resource declared",
                True,
                False,
                "servers must now serve it",
            )
        for key in sorted(set(ra) & set(rb)):
            x, y = ra[key], rb[key]
            path = f"{key[0]} {key[1]}"
            if set(x.interactions) != set(y.interactions):
                gone, new = (
                    set(x.interactions) - set(y.interactions),
                    set(y.interactions) - set(x.interactions),
                )
                self.add(
                    "changed",
                    name,
                    path,
                    f"interactions {sorted(x.interactions)} -> {sorted(y.interactions)}",
                    bool(new),
                    bool(gone),
                    "new interactions to implement" if new else "interactions withdrawn",
                )
            pa = {p.code for p in x.search_params}
            pb = {p.code for p in y.search_params}
            if pa != pb:
                self.add(
                    "changed",
                    name,
                    path,
                    f"search parameters {sorted(pa)} -> {sorted(pb)}",
                    bool(pb - pa),
                    bool(pa - pb),
                    "new parameters to support" if pb - pa else "parameters withdrawn",
                )
            if x.profile != y.profile:
                self.add(
                    "changed",
                    name,
                    path,
                    f"profile {x.profile} -> {y.profile}",
                    True,
                    True,
                    "another profile",
                )
            ia, ib = set(x.search_includes), set(y.search_includes)
            if ia != ib:
                self.add(
                    "changed",
                    name,
                    path,
                    f"_include {sorted(ia)} -> {sorted(ib)}",
                    bool(ib - ia),
                    bool(ia - ib),
                    "includes changed",
                )


def _label(a: Any) -> str:
    return str(getattr(a, "name", None) or getattr(a, "id", None) or getattr(a, "code", ""))


def compare(old: IG, new: IG) -> DiffReport:
    return Comparer(old, new).run()
