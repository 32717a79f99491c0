"""FHIRPath hooks of profile validation (:mod:`.validation`): ``conformsTo(url)``
validates against a profile of the registry, ``memberOf(url)`` answers from the codes
of the value sets the registry's rules bind (or from the registry's own expander)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .fhirpath import Hooks
from .validation import El, Registry, _code_ok, _codings, validate

JSON = Any

_HOOKS: dict[int, tuple[Registry, Any]] = {}


def registry_hooks(registry: Registry) -> Any:
    """FHIRPath hooks from a registry of rules: conformsTo(url) validates against the
    profile's rules (unknown profile: no answer); memberOf(url) knows the codes of the
    value sets bound in the rules (other value sets: no answer)."""
    got = _HOOKS.get(id(registry))
    if got is not None and got[0] is registry:
        return got[1]
    value_sets: dict[str, tuple[str | None, tuple[tuple[str | None, str], ...]]] = {}

    def collect(el: El) -> None:
        if el.value_set and el.codes is not None:
            value_sets.setdefault(el.value_set.partition("|")[0], (el.code_kind, el.codes))
        for c in el.children + el.slices:
            collect(c)

    for rules in registry.values():
        collect(rules.root)

    # a registry that can expand value sets itself (igtools validate's, over the whole
    # package set) answers first
    expand: Callable[[JSON, str], bool | None] | None = getattr(registry, "member_of", None)

    def member_of(value: JSON, url: str) -> bool | None:
        if expand is not None:
            answer = expand(value, url)
            if answer is not None:
                return answer
        known = value_sets.get(url.partition("|")[0])
        if known is None:
            return None
        kind = "code" if isinstance(value, str) else known[0]
        if isinstance(value, dict) and "coding" in value:
            kind = "CodeableConcept"
        verdicts = [_code_ok(f, known[1], kind) for f in _codings(value, kind)]
        if any(v is True for v in verdicts):
            return True
        return None if any(v is None for v in verdicts) else False

    def conforms_to(value: JSON, url: str) -> bool | None:
        rules = registry.get(url.partition("|")[0])
        if rules is None:
            return None
        issues = validate(value, rules, registry, invariants=False)
        return not any(i.severity == "error" for i in issues)

    hooks = Hooks(member_of=member_of, conforms_to=conforms_to)
    _HOOKS[id(registry)] = (registry, hooks)
    return hooks
