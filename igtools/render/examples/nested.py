"""Resources built inside the one being built: ``contained`` resources a reference points
at (``#id``), and a resource held elsewhere than a Bundle entry (a Parameters
parameter's ``resource``). A mixin of :class:`.builder.Builder`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from igtools.ir.model import IG, Element, Profile, TypeRef
from igtools.render.examples.helpers import guess_type, is_resource

if TYPE_CHECKING:
    from igtools.render.examples.builder import Scope
    from igtools.render.examples.repair import Checker

# resource types no instance can have (the core StructureDefinition says abstract)
ABSTRACT_TYPES = {"Resource", "DomainResource"}
# resources built inside resources (Parameters.parameter.resource), at most this deep
MAX_NESTING = 3


class NestedResources:
    """Contained and nested resources (a mixin of :class:`.builder.Builder`)."""

    ig: IG
    full: bool
    scope: Scope | None
    checker: Checker | None
    _nesting: list[str]

    def instance(
        self, profile: Profile, resource_id: str, full: bool, variant: int = 0
    ) -> dict[str, Any]:
        raise NotImplementedError  # the builder's

    def nested_resource(self, el: Element, t: TypeRef) -> dict[str, Any] | None:
        """A resource inside the one being built: to the type's first profile the package
        set holds (the IG's, or a dependency's with the package set at hand), else a bare
        resource of its type (an abstract type without a profile: a Patient)."""
        scope = self.scope
        assert scope is not None
        prof: Profile | None = None
        for url in t.profiles:
            key = url.partition("|")[0]
            prof = self.ig.profiles.get(key)
            if prof is None and self.checker is not None:
                prof = self.checker.profile(key)
            if prof is not None:
                break
        if prof is not None and (prof.kind != "resource" or prof.type in ABSTRACT_TYPES):
            prof = None
        rtype = prof.type if prof is not None else t.code
        if rtype in ABSTRACT_TYPES:
            guessed = guess_type(t.profiles[0]) if t.profiles else None
            rtype = guessed if guessed and guessed not in ABSTRACT_TYPES else "Patient"
        key = prof.url if prof is not None else rtype
        if key in self._nesting or len(self._nesting) >= MAX_NESTING:
            return None  # a resource holding one of its own kind: not without end
        rid = f"{scope.resource_id[: 60 - len(rtype)]}-{rtype.lower()}"
        if prof is None:
            return {"resourceType": rtype, "id": rid}
        saved = self.full
        self._nesting.append(key)
        try:
            return self.instance(prof, rid, full=False)
        finally:
            self._nesting.pop()
            self.full = saved

    def _contained_wanted(self) -> bool:
        scope = self.scope
        assert scope is not None
        el = scope.profile.root.child("contained")
        return el is not None and not el.prohibited and (el.min > len(scope.contained) or self.full)

    def _contained_needed(self) -> bool:
        scope = self.scope
        assert scope is not None
        el = scope.profile.root.child("contained")
        return el is not None and not el.prohibited and el.min > len(scope.contained)

    def contain_target(self, url: str) -> str | None:
        """Contain a resource a reference to ``url`` may point at: built from that
        profile when the package set has it, else a bare resource of its type."""
        scope = self.scope
        assert scope is not None
        prof = self.ig.profiles.get(url)
        if prof is None and self.checker is not None:
            prof = self.checker.profile(url)
        if prof is not None and prof.kind == "resource":
            return self.contain(prof)
        rt = guess_type(url)
        if rt is None or rt in ABSTRACT_TYPES or not is_resource(rt):
            return None
        cid = f"{rt.lower()}-{len(scope.contained) + 1}"
        scope.contained.append({"resourceType": rt, "id": cid})
        return cid

    def contain(self, prof: Profile) -> str:
        scope = self.scope
        assert scope is not None
        cid = f"{prof.type.lower()}-{len(scope.contained) + 1}"
        saved = self.full
        res = self.instance(prof, cid, full=False)
        self.full = saved
        scope.contained.append(res)
        return cid
