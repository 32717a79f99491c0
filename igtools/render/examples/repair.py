"""Other values for an element whose value breaks an invariant or a rule.

Tried in order, at most a bounded number: for a value ending in a digit, the same value
with each other last digit (a check digit: NPI, SIRET, any Luhn or modulo key); then the
values the IG's own examples give the same element path (as they are valid, they satisfy
the IG's rules on it). Deterministic: no randomness.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from igtools.ir.model import IG, Element


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
            if key in ("resourceType", "text", "id", "extension", "modifierExtension"):
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
