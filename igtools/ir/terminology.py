"""Value set expansion from what the package set holds.

Sources, in order: a value set's own ``expansion``; its ``compose`` (explicit concepts,
whole code systems found in the index, other value sets); for required bindings of
``code`` elements of base resources, the code lists fhir.resources carries
(``enum_values``). Filters are not evaluated: such a value set is marked incomplete,
with the reason, never silently narrowed.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from igtools.ir.model import CodeSystem, Concept, ValueSet
from igtools.packages import ResourceIndex


def _flatten(concepts: list[Any], system: str | None) -> list[Concept]:
    out: list[Concept] = []
    for c in concepts or []:
        if not isinstance(c, dict) or not isinstance(c.get("code"), str):
            continue
        out.append(Concept(system, c["code"], c.get("display")))
        out.extend(_flatten(c.get("concept") or [], system))
    return out


def _contains(items: list[Any]) -> list[Concept]:
    out: list[Concept] = []
    for c in items or []:
        if not isinstance(c, dict):
            continue
        if isinstance(c.get("code"), str) and not c.get("abstract"):
            out.append(Concept(c.get("system"), c["code"], c.get("display")))
        out.extend(_contains(c.get("contains") or []))
    return out


class Terminology:
    def __init__(self, index: ResourceIndex) -> None:
        self.index = index
        self._vs: dict[str, ValueSet | None] = {}
        self._cs: dict[str, CodeSystem | None] = {}

    def code_system(self, url: str) -> CodeSystem | None:
        if url not in self._cs:
            entry = self.index.resolve(url)
            cs = None
            if entry is not None and entry.resource_type == "CodeSystem":
                d = entry.data
                cs = CodeSystem(
                    url=str(d.get("url")),
                    version=d.get("version"),
                    name=d.get("name"),
                    title=d.get("title"),
                    id=entry.id,
                    package=entry.package,
                    content=d.get("content"),
                    concepts=_flatten(d.get("concept") or [], str(d.get("url"))),
                    description=d.get("description"),
                )
            self._cs[url] = cs
        return self._cs[url]

    def value_set(self, url: str) -> ValueSet | None:
        """The value set at ``url`` (``url|version`` accepted), expanded where possible."""
        if url in self._vs:
            return self._vs[url]
        self._vs[url] = None  # cycle guard
        entry = self.index.resolve(url)
        if entry is None or entry.resource_type != "ValueSet":
            return None
        d = entry.data
        codes, complete, note = self._expand(d)
        vs = ValueSet(
            url=str(d.get("url")),
            version=d.get("version"),
            name=d.get("name"),
            title=d.get("title"),
            id=entry.id,
            package=entry.package,
            description=d.get("description"),
            codes=codes,
            complete=complete,
            note=note,
            includes=list((d.get("compose") or {}).get("include") or []),
        )
        self._vs[url] = vs
        return vs

    def _expand(self, d: dict[str, Any]) -> tuple[list[Concept] | None, bool, str | None]:
        expansion = d.get("expansion")
        if isinstance(expansion, dict) and expansion.get("contains"):
            total = expansion.get("total")
            codes = _contains(expansion["contains"])
            complete = not isinstance(total, int) or total <= len(codes)
            return codes, complete, None if complete else "the package's expansion is partial"
        compose = d.get("compose")
        if not isinstance(compose, dict):
            return None, False, "no compose and no expansion"
        found: list[Concept] = []
        notes: list[str] = []
        for inc in compose.get("include") or []:
            if isinstance(inc, dict):
                found.extend(self._include(inc, notes) or [])
        excluded: set[tuple[str | None, str]] = set()
        for exc in compose.get("exclude") or []:
            if isinstance(exc, dict):
                excluded |= {(c.system, c.code) for c in self._include(exc, notes) or []}
        seen: set[tuple[str | None, str]] = set()
        out = []
        for c in found:
            key = (c.system, c.code)
            if key not in excluded and key not in seen:
                seen.add(key)
                out.append(c)
        if notes:
            return (out or None), False, "; ".join(notes)
        return out, True, None

    def _include(self, inc: dict[str, Any], notes: list[str]) -> list[Concept] | None:
        system = inc.get("system")
        result: list[Concept] | None = None
        if isinstance(system, str):
            if inc.get("concept"):
                result = [
                    Concept(system, c["code"], c.get("display"))
                    for c in inc["concept"]
                    if isinstance(c, dict) and isinstance(c.get("code"), str)
                ]
            elif inc.get("filter"):
                notes.append(f"filters on {system} not evaluated")
                return None
            else:
                cs = self.code_system(system)
                if cs is None:
                    notes.append(f"code system {system} not available")
                    return None
                if cs.content not in (None, "complete"):
                    notes.append(f"code system {system} content is {cs.content}")
                result = list(cs.concepts)
        for vs_url in inc.get("valueSet") or []:
            vs = self.value_set(vs_url)
            if vs is None or vs.codes is None:
                notes.append(f"value set {vs_url} not available")
                continue
            if not vs.complete:
                notes.append(f"value set {vs_url} only partly expanded")
            if result is None:
                result = list(vs.codes)
            else:  # system and valueSet together: the intersection
                keep = {(c.system, c.code) for c in vs.codes}
                result = [c for c in result if (c.system, c.code) in keep]
        return result


@cache
def core_code_list(path: str) -> tuple[str, ...] | None:
    """The codes fhir.resources (R4B) allows for a base ``code`` element.

    ``path`` is a base element path such as ``Slot.status`` or ``Bundle.entry.search.mode``.
    """
    from fhir.resources.R4B import get_fhir_model_class

    parts = path.split(".")
    if len(parts) < 2:
        return None
    class_name = "".join(p[0].upper() + p[1:] for p in parts[:-1])
    try:
        model = get_fhir_model_class(class_name)
    except (KeyError, ValueError, AttributeError):
        return None
    info = model.model_fields.get(parts[-1])
    extra = info.json_schema_extra if info is not None else None
    values = extra.get("enum_values") if isinstance(extra, dict) else None
    if isinstance(values, list):
        return tuple(str(v) for v in values)
    return None
