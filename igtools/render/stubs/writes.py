"""Write checks for the generated contract tests.

For each resource a server statement lets clients write (``create``, ``update``, a
conditional update), one of the IG's examples of its profile, and a required element
whose removal takes that example out of the profile (found by validating the example
without it). The contract tests then create (a fresh identifier when the resource has
one), conditionally update twice (created, then updated in place), and send the example
without that element, expecting a 4xx OperationOutcome that names it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from igtools.ir.model import IG
from igtools.render.stubs.plan import Api
from igtools.runtime.validation import Rules, validate

_KEEP = {"resourceType", "id", "meta", "identifier", "text"}


@dataclass(frozen=True)
class Write:
    """What the contract tests write for one resource type."""

    type: str
    example: str  # the example's id (its JSON ships in the server's data/)
    create: bool
    update: bool
    conditional: str | None  # the search parameter a conditional update matches on
    required: str | None  # a required element (Type.name) the profile cannot do without

    def as_tuple(self) -> tuple[str, str, bool, bool, str | None, str | None]:
        return (self.type, self.example, self.create, self.update, self.conditional, self.required)


def _required(data: dict[str, Any], rules: Rules, registry: dict[str, Rules]) -> str | None:
    """The first top-level element of ``data`` that ``rules`` require and whose removal
    the profile reports at that element."""
    for el in rules.root.children:
        if el.min < 1 or not el.names:
            continue
        name = next((n for n in el.names if n in data), None)
        if name is None or name in _KEEP:
            continue
        without = copy.deepcopy(data)
        del without[name]
        path = f"{rules.type}.{name}"
        errors = [i for i in validate(without, rules, registry, False) if i.severity == "error"]
        if any(i.location == path or i.location.startswith(path + "[") for i in errors):
            return path
    return None


def writes(api: Api, ig: IG, registry: dict[str, Rules]) -> list[Write]:
    """The write checks of a server statement, for the types an example exists for."""
    out = []
    for r in api.resources:
        create, update = "create" in r.interactions, "update" in r.interactions
        conditional = r.conditional_update if update else None
        if not (create or update):
            continue
        candidates = [e for e in ig.examples if e.resource_type == r.type and e.id]
        preferred = [e for e in candidates if set(e.profiles) & set(r.profiles)] or candidates
        if not preferred:
            continue
        example = preferred[0]
        profile = next(
            (p for p in [*example.profiles, *r.profiles] if p in registry and p in r.profiles),
            None,
        )
        required = _required(example.data, registry[profile], registry) if profile else None
        out.append(Write(r.type, str(example.id), create, update, conditional, required))
    return out
