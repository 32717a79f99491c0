"""Which code to give a coded element: the codes of its bound value set, else the codings
the IG's own examples use there that its binding accepts, else codings of a system the
binding includes whole, else a placeholder (listed in the left-out notes)."""

from __future__ import annotations

from typing import Any

from igtools.ir.model import Element
from igtools.ir.terminology import core_code_list
from igtools.render.examples.frdata import FrenchData
from igtools.render.examples.harvest import Harvest
from igtools.render.examples.helpers import PLACEHOLDER_CODE


class Codings:
    """The example builder's choice of codes (a mixin of :class:`.builder.Builder`)."""

    harvest: Harvest
    skipped: list[str]
    full: bool
    data: FrenchData

    def codes(self, el: Element) -> list[tuple[str | None, str, str | None]]:
        b = el.binding
        if b is not None and b.codes:
            return [(c.system, c.code, c.display) for c in b.codes]
        core = core_code_list(el.base_path) if el.type_codes == ["code"] else None
        return [(None, c, None) for c in core or ()]

    def admissible(self, el: Element, codings: list[dict[str, str]]) -> list[dict[str, str]]:
        """The codings a required binding of ``el`` can accept: of its expanded codes, or
        of the systems it includes whole without the package set holding them."""
        b = el.binding
        if b is None or b.strength != "required" or b.open_systems is None:
            return codings
        known = {(c.system, c.code) for c in b.codes or []}
        return [
            c
            for c in codings
            if c.get("system") in b.open_systems or (c.get("system"), c.get("code")) in known
        ]

    def known_codings(self, el: Element, system: str | None = None) -> list[dict[str, str]]:
        """Codings the IG's examples use at ``el`` that its binding accepts, else codings
        they use anywhere of a system the binding includes whole."""
        seen = self.admissible(el, self.harvest.codings_at(el.path, system))
        b = el.binding
        if not seen and b is not None and b.open_systems:
            for open_system in b.open_systems:
                if system in (None, open_system):
                    seen += self.harvest.codings_at(el.path, open_system)
        return seen

    def placeholder(self, el: Element) -> dict[str, str]:
        """A placeholder coding, of the system the binding includes when there is one
        (so that only the code is unknown), listed in the left-out notes."""
        b = el.binding
        systems = b.open_systems if b is not None and b.open_systems else ["urn:ietf:rfc:3986"]
        vs = b.value_set if b is not None else None
        self.skipped.append(f"{el.id}: placeholder code (value set {vs} is not in the package set)")
        return {"system": systems[0], "code": PLACEHOLDER_CODE}

    def pick(self, options: list[Any]) -> Any:
        return options[0] if not self.full else self.data.random.choice(options)

    def _harvested_coding(self, val: Any, code: str, seen: list[dict[str, str]]) -> Any:
        """A coding the IG's examples give this extension, in place of a placeholder or a
        text-only concept (a value set the package set cannot expand)."""
        if not seen or not isinstance(val, dict):
            return val
        if code == "Coding" and val.get("code") == PLACEHOLDER_CODE:
            return dict(self.pick(seen))
        if code == "CodeableConcept" and not val.get("coding"):
            return {"coding": [dict(self.pick(seen))]}
        return val
