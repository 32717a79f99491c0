"""A CodeSystem resource as a lookup structure: its codes, hierarchy and properties, and
the value set filters that can be evaluated on it (see :mod:`igtools.ir.terminology`)."""

from __future__ import annotations

import re
from typing import Any

from igtools.ir.model import Concept

# concept properties that name a parent or a child (FHIR's and HL7 v3's spellings)
PARENT_PROPS = frozenset({"parent", "subsumedBy"})
CHILD_PROPS = frozenset({"child"})


class FilterError(Exception):
    """A value set filter that cannot be evaluated here (the reason is the message)."""


def _prop_value(p: dict[str, Any]) -> str | None:
    for key, value in p.items():
        if not key.startswith("value"):
            continue
        if key == "valueCoding" and isinstance(value, dict):
            code = value.get("code")
            return code if isinstance(code, str) else None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str | int | float):
            return str(value)
    return None


class CodeSystemIndex:
    """Codes of one CodeSystem (nested concepts flattened), parents, children, properties."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.url = str(data.get("url"))
        self.version = data.get("version") if isinstance(data.get("version"), str) else None
        self.content = data.get("content")
        # the code system this one supplements (its codes are not a system of their own)
        sup = data.get("supplements")
        self.supplements = sup if isinstance(sup, str) and sup else None
        self.case_sensitive = data.get("caseSensitive") is not False
        self.concepts: list[Concept] = []
        self.codes: set[str] = set()
        self.children: dict[str, list[str]] = {}
        self.props: dict[str, dict[str, list[str]]] = {}
        self._lower: set[str] | None = None
        self._parents: dict[str, list[str]] | None = None
        self._add(data.get("concept") or [], None)
        for code, props in self.props.items():
            for parent in (v for k in PARENT_PROPS for v in props.get(k, ())):
                self._link(parent, code)
            for child in props.get("child", ()):
                self._link(code, child)

    @property
    def active(self) -> list[Concept]:
        """Every code of the code system (abstract and deprecated ones too)."""
        return self.concepts

    def has(self, code: str) -> bool:
        if code in self.codes:
            return True
        if not self.case_sensitive:
            if self._lower is None:
                self._lower = {c.lower() for c in self.codes}
            return code.lower() in self._lower
        return False

    def _link(self, parent: str, child: str) -> None:
        kids = self.children.setdefault(parent, [])
        if child not in kids:
            kids.append(child)

    def _add(self, concepts: list[Any], parent: str | None) -> None:
        for c in concepts:
            if not isinstance(c, dict) or not isinstance(c.get("code"), str):
                continue
            code = c["code"]
            if code not in self.codes:
                self.codes.add(code)
                self.concepts.append(Concept(self.url, code, c.get("display")))
            props = self.props.setdefault(code, {})
            if isinstance(c.get("display"), str):
                props.setdefault("display", []).append(c["display"])
            for p in c.get("property") or []:
                if isinstance(p, dict) and isinstance(p.get("code"), str):
                    value = _prop_value(p)
                    if value is not None:
                        props.setdefault(p["code"], []).append(value)
            if parent is not None:
                self._link(parent, code)
            self._add(c.get("concept") or [], code)

    # ------------------------------------------------------------------ hierarchy

    def descendants(self, code: str) -> set[str]:
        out: set[str] = set()
        todo = list(self.children.get(code, ()))
        while todo:
            c = todo.pop()
            if c not in out:
                out.add(c)
                todo.extend(self.children.get(c, ()))
        return out

    def ancestors(self, code: str) -> set[str]:
        if self._parents is None:
            self._parents = {}
            for p, kids in self.children.items():
                for k in kids:
                    self._parents.setdefault(k, []).append(p)
        parents = self._parents
        out: set[str] = set()
        todo = list(parents.get(code, ()))
        while todo:
            c = todo.pop()
            if c not in out:
                out.add(c)
                todo.extend(parents.get(c, ()))
        return out

    # ------------------------------------------------------------------ filters

    def filter(self, filters: list[dict[str, Any]]) -> list[Concept]:
        """The concepts every filter accepts (filters of one include are ANDed)."""
        keep = set(self.codes)
        for f in filters:
            keep &= self._one(f)
        return [c for c in self.concepts if c.code in keep]

    def _one(self, f: dict[str, Any]) -> set[str]:
        prop, op, value = f.get("property"), f.get("op"), f.get("value")
        if not isinstance(prop, str) or not isinstance(op, str) or not isinstance(value, str):
            raise FilterError("a filter without property, op or value")
        hierarchy = prop in ("concept", "code", *PARENT_PROPS)
        if op in ("is-a", "descendent-of", "is-not-a", "generalizes"):
            if not hierarchy:
                raise FilterError(f"filter {prop} {op} {value}")
            if value not in self.codes:
                return set() if op != "is-not-a" else set(self.codes)
            if op == "is-a":
                return {value} | self.descendants(value)
            if op == "descendent-of":
                return self.descendants(value)
            if op == "generalizes":
                return {value} | self.ancestors(value)
            return self.codes - ({value} | self.descendants(value))
        if op in ("=", "in", "not-in"):
            wanted = {value} if op == "=" else {v.strip() for v in value.split(",")}
            if prop in ("concept", "code"):
                found = self.codes & wanted
            else:
                found = {c for c, p in self.props.items() if wanted & set(p.get(prop, ()))}
            return self.codes - found if op == "not-in" else found
        if op == "exists":
            has = {c for c, p in self.props.items() if p.get(prop)}
            return has if value == "true" else self.codes - has
        if op == "regex":
            try:
                rx = re.compile(value)
            except re.error as exc:
                raise FilterError(f"filter regex {value!r}: {exc}") from exc
            if prop in ("concept", "code"):
                return {c for c in self.codes if rx.fullmatch(c)}
            return {
                c for c, p in self.props.items() if any(rx.fullmatch(v) for v in p.get(prop, ()))
            }
        raise FilterError(f"filter op {op!r}")
