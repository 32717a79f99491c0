"""Repairs of what the example builder made, when construction alone falls short.

- Other values for a primitive an invariant reads (:func:`alternatives`), at most a
  bounded number: the same value with each other last digit (a check digit: any Luhn or
  modulo key), then the values the IG's own examples give the same element path.
- The bounded repair loop driven by the validator (:class:`Checker`,
  :func:`repair_instance`), when the caller has the package set: the profiles an instance
  breaks besides its own (the one an Observation's code implies) are met by leaving out
  what they prohibit (:func:`prune`) and filling in what they require; then an optional
  element where an error remains is left out when that makes fewer errors
  (:func:`leave_out_broken`).

Deterministic: no randomness, so the same seed gives the same instances.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from igtools.ir.model import IG, Element, Profile
from igtools.runtime.validation import Issue

if TYPE_CHECKING:
    from igtools.render.examples.builder import Builder
    from igtools.validate.validator import Validator

# optional elements tried for removal where errors remain (the repair loop's last step)
MAX_LEAVE_OUT = 12


# never taken from the examples: ids, references and narrative point at the examples
SKIPPED_KEYS = {
    "resourceType",
    "text",
    "id",
    "extension",
    "modifierExtension",
    "reference",
    "fullUrl",
    "div",
}


class ExampleValues:
    """Primitive values of the IG's examples, by element path
    (``Practitioner.identifier.value``)."""

    def __init__(self, values: dict[str, list[Any]] | None = None) -> None:
        self.values: dict[str, list[Any]] = defaultdict(list, values or {})

    @classmethod
    def of(cls, ig: IG) -> ExampleValues:
        out = cls()
        for ex in ig.examples:
            out._walk(ex.data, ex.resource_type)
        return out

    def _walk(self, node: Any, path: str) -> None:
        if isinstance(node, list):
            for item in node:
                self._walk(item, path)
            return
        if not isinstance(node, dict):
            seen = self.values[path]
            if node not in seen:
                seen.append(node)
            return
        if isinstance(node.get("resourceType"), str) and "." in path:
            path = str(node["resourceType"])  # a nested resource starts a new path
        for key, value in node.items():
            if key in SKIPPED_KEYS:
                continue
            self._walk(value, f"{path}.{key}")


def check_digit_variants(value: Any) -> list[Any]:
    """``value`` with each other last digit, when it ends in a digit."""
    if not isinstance(value, str) or not value[-1:].isdigit():
        return []
    return [value[:-1] + d for d in "0123456789" if d != value[-1]]


def alternatives(el: Element, name: str, value: Any, examples: ExampleValues) -> list[Any]:
    """Other values for the child ``name`` of ``el`` (now ``value``), most likely first."""
    out = check_digit_variants(value)
    for v in examples.values.get(f"{el.path}.{name}", []):
        if v != value and v not in out and type(v) is type(value):
            out.append(v)
    return out


# --------------------------------------------------------------------------- checking


class ProfileSource(Protocol):
    """What gives the IR of any profile of the package set (an :class:`IRBuilder`)."""

    def profile(self, url: str) -> Profile | None: ...


@dataclass
class Checker:
    """Validates what the builder makes and names the profiles it breaks, when the
    caller has the package set (``source``, an IRBuilder): the builder then repairs
    (:meth:`.builder.Builder.check`). Without a checker, instances are built by
    construction only."""

    ig: IG = field(repr=False)
    source: ProfileSource | None = field(default=None, repr=False)
    validator: Validator | None = field(default=None, repr=False)
    rounds: int = 3

    def __post_init__(self) -> None:
        if self.validator is None:
            from igtools.ir.build import IRBuilder
            from igtools.validate.validator import Validator

            builder = self.source if isinstance(self.source, IRBuilder) else None
            self.validator = Validator(self.ig, builder=builder)

    def errors(self, res: dict[str, Any]) -> list[Issue]:
        assert self.validator is not None
        try:
            issues = self.validator.validate_resource(res)
        except Exception:  # a checker's failure must not stop the generation
            return []
        return [i for i in issues if i.severity in ("error", "fatal")]

    def profile(self, url: str) -> Profile | None:
        key = url.partition("|")[0]
        prof = self.ig.profiles.get(key)
        if prof is None and self.source is not None:
            prof = self.source.profile(key)
        return prof

    def broken_profiles(self, res: dict[str, Any], errors: list[Issue]) -> list[Profile]:
        """The profiles, other than the ones ``res`` claims, whose rules it breaks (an
        issue names its profile by name): the one its code implies (an Observation's
        vital signs profile), the IG's profiles by name."""
        claimed = {str(p).partition("|")[0] for p in (res.get("meta") or {}).get("profile") or []}
        names = dict.fromkeys(i.profile for i in errors)
        out: list[Profile] = []
        implied = getattr(self.validator, "_implied_profile", None)
        rules = implied(res) if implied is not None else None
        for name in names:
            prof: Profile | None = None
            if rules is not None and name in (rules.name, rules.url):
                prof = self.profile(rules.url)
            else:
                prof = next((p for p in self.ig.profiles.values() if name in (p.name, p.url)), None)
            if prof is not None and prof.url not in claimed and prof not in out:
                out.append(prof)
        return out


def prune(el: Element, obj: dict[str, Any]) -> bool:
    """Remove from ``obj`` what ``el``'s profile prohibits (max 0), type slices of a
    choice included (``value[x]:valueQuantity`` 0..0); whether anything went."""
    changed = False
    for child in el.children:
        names = [n for n in child.json_names() if n in obj]
        if not names:
            continue
        if child.prohibited:
            for n in names:
                del obj[n]
            changed = True
            continue
        if child.is_choice:
            for s in child.slices:
                if s.prohibited and len(s.types) == 1:
                    n = child.name[:-3] + s.types[0].code[0].upper() + s.types[0].code[1:]
                    if n in obj:
                        del obj[n]
                        changed = True
        for n in names:
            if n not in obj:
                continue
            value = obj[n]
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict) and "resourceType" not in item:
                    changed |= prune(child, item)
    return changed


def steps(location: str) -> list[str | int]:
    """``Observation.component[0].valueQuantity`` -> ["component", 0, "valueQuantity"]."""
    out: list[str | int] = []
    for part in location.split(".")[1:]:
        name, _, rest = part.partition("[")
        out.append(name)
        while rest:
            index, _, rest = rest.partition("]")
            if not index.isdigit():
                return []
            out.append(int(index))
            rest = rest.removeprefix("[")
    return out


def optional_at(root: Element, path: list[str | int]) -> bool:
    """May the element at the JSON ``path`` be left out (its element min 0, or an array
    item)? True too when the profile's IR does not list the element (a base element it
    leaves alone): the caller keeps a removal only when it makes fewer errors."""
    el: Element | None = root
    for i, step in enumerate(path):
        if isinstance(step, int) or el is None:
            continue
        el = next((c for c in el.children if step in c.json_names()), None)
        if el is None:
            return True
        last = i == len(path) - 1 or (i == len(path) - 2 and isinstance(path[-1], int))
        if last:
            return el.min == 0 or isinstance(path[-1], int)
    return False


def leave_out(res: dict[str, Any], path: list[str | int]) -> Any:
    """Remove what ``path`` leads to; returns an undo function (None when absent)."""
    node: Any = res
    for step in path[:-1]:
        if isinstance(step, int):
            if not isinstance(node, list) or step >= len(node):
                return None
            node = node[step]
        else:
            if not isinstance(node, dict) or step not in node:
                return None
            node = node[step]
    last = path[-1]
    if isinstance(last, int) and isinstance(node, list) and last < len(node):
        value = node.pop(last)
        return lambda: node.insert(last, value)
    if isinstance(last, str) and isinstance(node, dict) and last in node:
        value = node.pop(last)
        return lambda: node.__setitem__(last, value)
    return None


def optional_candidates(root: Element, errors: list[Issue]) -> list[list[str | int]]:
    """For each error's location, it and its ancestors, deepest first, that may be left
    out (each once)."""
    out: list[list[str | int]] = []
    for issue in errors:
        path = steps(issue.location)
        while path:
            if path not in out and optional_at(root, path):
                out.append(list(path))
            path = path[:-1]
    return out


# --------------------------------------------------------------------------- the loop


def repair_instance(builder: Builder, res: dict[str, Any], profile: Profile) -> None:
    """The bounded repair loop: validate, and for the profiles the instance breaks
    besides its own (a vital signs profile its LOINC code implies), leave out what
    they prohibit and fill in what they require; at most ``rounds`` times."""
    checker = builder.checker
    assert checker is not None
    for _ in range(checker.rounds):
        errors = checker.errors(res)
        if not errors:
            return
        before = json.dumps(res, sort_keys=True)
        for other in checker.broken_profiles(res, errors):
            if other.type != res.get("resourceType"):
                continue
            # only what the other profile requires is added (never an optional
            # element it would prohibit a type of)
            saved, builder.full = builder.full, False
            try:
                prune(other.root, res)
                builder.fill(other.root, res, force=True)
                prune(other.root, res)
            finally:
                builder.full = saved
        if json.dumps(res, sort_keys=True) == before:
            break
    leave_out_broken(builder, res, profile)
    for issue in checker.errors(res):
        builder.skipped.append(f"{profile.id}: still invalid: {issue}")


def leave_out_broken(builder: Builder, res: dict[str, Any], profile: Profile) -> None:
    """Last repair: an optional element where an error is (or its nearest optional
    ancestor) is left out, when that makes fewer errors; at most ``MAX_LEAVE_OUT``
    tries, in the order of the errors."""
    checker = builder.checker
    assert checker is not None
    errors = checker.errors(res)
    tries = 0
    while errors and tries < MAX_LEAVE_OUT:
        progressed = False
        for path in optional_candidates(profile.root, errors):
            tries += 1
            undo = leave_out(res, path)
            if undo is None:
                continue
            after = checker.errors(res)
            if len(after) < len(errors):
                where = ".".join(str(p) for p in path)
                builder.skipped.append(f"{profile.id}: {where} left out (it broke: {errors[0]})")
                errors, progressed = after, True
                break
            undo()
            if tries >= MAX_LEAVE_OUT:
                break
        if not progressed:
            break
