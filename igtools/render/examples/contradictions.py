"""Constraints of a profile that no instance can satisfy, found without trying.

Each finding names the constraints that contradict each other, by element id:

- a cardinality whose min is above its max (after the profile's own merging of base and
  differential: the snapshot says so);
- required slices asking more items than their sliced element's max;
- a closed slicing whose slices cannot hold as many items as the sliced element requires
  (every item must fall in a slice, each slice has a max); not for a choice element sliced
  by type on ``$this``, whose types are implicit slices;
- a fixed and a pattern value that disagree;
- a fixed or pattern code outside a required binding whose value set is fully known;
- a required element (min >= 1) with no type left and no value to carry.

A profile with a finding gets no instance; the others are still generated.
"""

from __future__ import annotations

from typing import Any

from igtools.ir.model import Element, Profile


def contradictions(profile: Profile) -> list[str]:
    """Constraints of ``profile`` no instance can satisfy (empty when none is found)."""
    out: list[str] = []
    for el in profile.elements():
        out.extend(_cardinality(el))
        out.extend(_slicing(el))
        out.extend(_values(el))
    return out


def _cardinality(el: Element) -> list[str]:
    if el.max is not None and el.min > el.max:
        return [f"{el.id}: min {el.min} > max {el.max}"]
    return []


def _slicing(el: Element) -> list[str]:
    out = []
    live = [s for s in el.slices if not s.prohibited]
    required = [s for s in el.slices if s.min > 0]
    needed = sum(s.min for s in required)
    if el.max is not None and needed > el.max:
        names = ", ".join(f"{s.slice_name} min {s.min}" for s in required)
        out.append(f"{el.id}: max {el.max}, but its slices require {needed} items ({names})")
    if (
        el.slicing is not None
        and el.slicing.rules == "closed"
        and el.min > 0
        and not _type_sliced_choice(el)
        and all(s.max is not None for s in live)
    ):
        room = sum(s.max or 0 for s in live)
        if room < el.min:
            names = ", ".join(f"{s.slice_name} max {s.max}" for s in live) or "none allowed"
            out.append(
                f"{el.id}: min {el.min}, but its closed slicing holds at most {room} "
                f"items ({names})"
            )
    return out


def _type_sliced_choice(el: Element) -> bool:
    """A choice element (``value[x]``) sliced by type on ``$this``: each of its types is
    an implicit slice (``valueQuantity``), so a closed slicing without named slices still
    holds a value of any type the element allows."""
    return (
        el.is_choice
        and el.slicing is not None
        and bool(el.types)
        and all(d.type == "type" and d.path == "$this" for d in el.slicing.discriminators)
    )


def _values(el: Element) -> list[str]:
    out = []
    if el.fixed is not None and el.pattern is not None and el.fixed[1] != el.pattern[1]:
        out.append(f"{el.id}: {el.fixed[0]} {el.fixed[1]!r} and {el.pattern[0]} disagree")
    b = el.binding
    if b is not None and b.strength == "required" and b.complete and b.codes is not None:
        allowed = {(c.system, c.code) for c in b.codes}
        codes = {c for _, c in allowed}
        for pair in (el.fixed, el.pattern):
            if pair is None:
                continue
            kind, value = pair
            for system, code in _codings(value):
                ok = code in codes if system is None else (system, code) in allowed
                if not ok:
                    shown = f"{system}#{code}" if system else code
                    out.append(
                        f"{el.id}: {kind} {shown} is not in the value set {b.value_set} "
                        "its required binding names"
                    )
    if (
        el.min >= 1
        and not el.types
        and el.fixed is None
        and el.pattern is None
        and el.content_reference is None
        and "." in el.path
    ):
        out.append(f"{el.id}: required (min {el.min}), but no type is allowed")
    return out


def _codings(value: Any) -> list[tuple[str | None, str]]:
    """The (system, code) pairs a fixed or pattern value carries (a code, a Coding, a
    CodeableConcept)."""
    if isinstance(value, str):
        return [(None, value)]
    if isinstance(value, dict):
        if isinstance(value.get("code"), str):
            system = value.get("system")
            return [(system if isinstance(system, str) else None, value["code"])]
        out: list[tuple[str | None, str]] = []
        for coding in value.get("coding") or []:
            out.extend(_codings(coding) if isinstance(coding, dict) else [])
        return out
    return []
