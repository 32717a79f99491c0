"""Value set expansion from what the package set holds, without a terminology server.

Sources, in order: a value set's own ``expansion`` (when complete); its ``compose``:
explicit concepts, whole code systems found in the package set, simple filters on a
loaded code system (``is-a``, ``descendent-of``, ``is-not-a``, ``generalizes``, ``=``,
``in``, ``not-in``, ``exists``, ``regex``), other value sets (``include.valueSet``,
intersected), ``exclude``; for required bindings of ``code`` elements of base resources,
the complete code lists of the R4 core's own value sets (see :func:`core_code_list`).

What cannot be expanded is never silently narrowed. An expansion is the codes known to
be in the value set plus its *open systems*: code systems some (unknown) codes of which
may also be in it (a code system missing from the package set, or not complete, a filter
that cannot be evaluated). A code of any other system is in the value set exactly when it
is among the codes, so it can still be judged. When an include cannot be bounded at all
(a value set missing from the package set), ``open_systems`` is None: nothing is judged.

Value sets and code systems are looked up by canonical URL (``url|version``: that
version, else whichever the package set has) and expanded once, on first use.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from igtools.ir.codesystems import CodeSystemIndex, FilterError
from igtools.ir.model import CodeSystem, Concept, ValueSet
from igtools.packages import ResourceIndex
from igtools.packages.resources import ResourceEntry
from igtools.packages.spec import version_key

Key = tuple[str | None, str]


@dataclass
class Expansion:
    """Codes known to be in a value set; ``open``: systems that may add more (None:
    anything may); ``exact``: the codes are certain members (no guess involved)."""

    codes: list[Concept] = field(default_factory=list)
    open: set[str] | None = field(default_factory=set)
    exact: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.exact and self.open == set()

    def keys(self) -> set[Key]:
        return {(c.system, c.code) for c in self.codes}


def _dedupe(concepts: Iterable[Concept]) -> list[Concept]:
    seen: set[Key] = set()
    out: list[Concept] = []
    for c in concepts:
        key = (c.system, c.code)
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def _union(parts: list[Expansion]) -> Expansion:
    out = Expansion()
    for p in parts:
        out.codes.extend(p.codes)
        out.exact = out.exact and p.exact
        out.notes.extend(p.notes)
        if out.open is not None:
            out.open = None if p.open is None else out.open | p.open
    out.codes = _dedupe(out.codes)
    return out


def _intersect(a: Expansion, b: Expansion) -> Expansion:
    """Codes possibly in both: a code is possibly in an expansion when it is among its
    codes or its system is open."""
    if a.open is None:
        a, b = b, a
    if b.open is None:  # b is unbounded: a bounds the result, no longer exactly
        return Expansion(
            list(a.codes),
            set(a.open or ()) if a.open is not None else None,
            False,
            a.notes + b.notes,
        )
    a_keys, b_keys = a.keys(), b.keys()
    a_open, b_open = a.open or set(), b.open
    codes = [c for c in a.codes if (c.system, c.code) in b_keys or c.system in b_open]
    codes += [c for c in b.codes if (c.system, c.code) not in a_keys and c.system in a_open]
    return Expansion(_dedupe(codes), a_open & b_open, a.exact and b.exact, a.notes + b.notes)


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
    """Code systems and value sets of a package set, expanded once each (by URL)."""

    def __init__(self, index: ResourceIndex) -> None:
        self.index = index
        self._vs: dict[str, ValueSet | None] = {}
        self._cs: dict[str, CodeSystem | None] = {}
        self._csi: dict[str, CodeSystemIndex | None] = {}
        self._exp: dict[str, Expansion | None] = {}

    def _resolve(self, canonical: str, resource_type: str) -> ResourceEntry | None:
        """The resource ``canonical`` names: that version if given and held (else any);
        without a version, the root package's, else the latest version the package set
        holds (hl7.terminology's code systems over the older copies in the core)."""
        entry = self.index.resolve(canonical)
        if entry is None and "|" in canonical:  # another version is better than none
            entry = self.index.resolve(canonical.partition("|")[0])
        elif entry is not None and "|" not in canonical:
            root = self.index.packages[0].id if self.index.packages else None
            same = [
                e for e in self.index.all_versions(canonical) if e.resource_type == resource_type
            ]
            if len(same) > 1 and entry.package != root:
                entry = max(same, key=lambda e: version_key(e.version or "0"))
        if entry is None or entry.resource_type != resource_type:
            return None
        return entry

    # ------------------------------------------------------------------ code systems

    def code_system_index(self, url: str) -> CodeSystemIndex | None:
        """The loaded code system at ``url`` with its hierarchy and properties."""
        if url not in self._csi:
            entry = self._resolve(url, "CodeSystem")
            self._csi[url] = None if entry is None else CodeSystemIndex(entry.data)
        return self._csi[url]

    def code_system(self, url: str) -> CodeSystem | None:
        if url not in self._cs:
            entry = self._resolve(url, "CodeSystem")
            cs = None
            idx = self.code_system_index(url)
            if entry is not None and idx is not None:
                d = entry.data
                cs = CodeSystem(
                    url=str(d.get("url")),
                    version=d.get("version"),
                    name=d.get("name"),
                    title=d.get("title"),
                    id=entry.id,
                    package=entry.package,
                    content=d.get("content"),
                    concepts=idx.concepts,
                    description=d.get("description"),
                )
            self._cs[url] = cs
        return self._cs[url]

    # ------------------------------------------------------------------ value sets

    def value_set(self, url: str) -> ValueSet | None:
        """The value set at ``url`` (``url|version`` accepted), expanded where possible."""
        if url in self._vs:
            return self._vs[url]
        entry = self._resolve(url, "ValueSet")
        exp = self.expansion(url)
        if entry is None or exp is None:
            self._vs[url] = None
            return None
        d = entry.data
        known = bool(exp.codes) or exp.open is not None
        vs = ValueSet(
            url=str(d.get("url")),
            version=d.get("version"),
            name=d.get("name"),
            title=d.get("title"),
            id=entry.id,
            package=entry.package,
            description=d.get("description"),
            codes=exp.codes if known else None,
            complete=exp.complete,
            note="; ".join(dict.fromkeys(exp.notes)) or None,
            includes=list((d.get("compose") or {}).get("include") or []),
            open_systems=sorted(exp.open) if exp.open is not None else None,
        )
        self._vs[url] = vs
        return vs

    def expansion(self, url: str) -> Expansion | None:
        """The expansion of the value set at ``url``; None when no loaded package has it."""
        if url in self._exp:
            return self._exp[url]
        entry = self._resolve(url, "ValueSet")
        if entry is None:
            self._exp[url] = None
            return None
        key = f"{entry.url}|{entry.version}"  # url and url|version: one expansion
        if key in self._exp:
            self._exp[url] = self._exp[key]
            return self._exp[key]
        # cycle guard: a value set that includes itself adds nothing it does not have
        guard = Expansion([], None, False, [f"value set {url} includes itself"])
        self._exp[url] = self._exp[key] = guard
        exp = self._expand(entry.data)
        self._exp[url] = self._exp[key] = exp
        return exp

    def _expand(self, d: dict[str, Any]) -> Expansion:
        expansion = d.get("expansion")
        given: Expansion | None = None
        if isinstance(expansion, dict) and expansion.get("contains"):
            codes = _dedupe(_contains(expansion["contains"]))
            total = expansion.get("total")
            if not isinstance(total, int) or total <= len(codes):
                return Expansion(codes)
            given = Expansion(codes, None, False, ["the package's expansion is partial"])
        compose = d.get("compose")
        if not isinstance(compose, dict):
            return given or Expansion([], None, False, ["no compose and no expansion"])
        includes = [i for i in compose.get("include") or [] if isinstance(i, dict)]
        out = _union([self._include(i) for i in includes])
        for exc in compose.get("exclude") or []:
            if not isinstance(exc, dict):
                continue
            ex = self._include(exc)
            if ex.complete:
                drop = ex.keys()
                out.codes = [c for c in out.codes if (c.system, c.code) not in drop]
            else:  # what is left is a superset: codes are no longer certain
                out.exact = False
                out.notes.append("an exclude could not be evaluated")
                out.notes.extend(ex.notes)
        if given is not None:  # the partial expansion's codes are members too
            out.codes = _dedupe([*out.codes, *given.codes])
        return out

    def _include(self, inc: dict[str, Any]) -> Expansion:
        system = inc.get("system")
        parts: list[Expansion] = []
        if isinstance(system, str):
            parts.append(self._system_part(system, inc))
        for vs_url in inc.get("valueSet") or []:
            if not isinstance(vs_url, str):
                continue
            exp = self.expansion(vs_url)
            if exp is None:
                exp = Expansion([], None, False, [f"value set {vs_url} is not in the package set"])
            parts.append(exp)
        if not parts:
            return Expansion([], None, False, ["an include with neither system nor valueSet"])
        result = parts[0]
        for p in parts[1:]:
            result = _intersect(result, p)
        return result

    def _system_part(self, system: str, inc: dict[str, Any]) -> Expansion:
        concepts = inc.get("concept")
        filters = inc.get("filter")
        if concepts:
            return Expansion(
                _dedupe(
                    Concept(system, c["code"], c.get("display"))
                    for c in concepts
                    if isinstance(c, dict) and isinstance(c.get("code"), str)
                )
            )
        version = inc.get("version")
        cs_url = f"{system}|{version}" if isinstance(version, str) and version else system
        idx = self.code_system_index(cs_url)
        if idx is None:
            return Expansion(
                [], {system}, True, [f"code system {system} is not in the package set"]
            )
        # a "complete" code system without a single concept says nothing: open too
        complete = idx.content == "complete" and bool(idx.codes)
        content = idx.content if idx.codes else f"{idx.content} without concepts"
        note = [] if complete else [f"code system {system} content is {content}"]
        if filters:
            if not complete:
                return Expansion([], {system}, True, [*note, f"filters on {system} not evaluated"])
            try:
                codes = idx.filter([f for f in filters if isinstance(f, dict)])
            except FilterError as exc:
                return Expansion([], {system}, True, [f"{system}: {exc}: not evaluated"])
            return Expansion(codes)
        if complete:
            return Expansion(list(idx.active))
        return Expansion(list(idx.active), {system}, True, note)


@cache
def _required_codes() -> dict[str, tuple[str, ...]]:
    from importlib.resources import files

    text = files("igtools.data").joinpath("r4-required-codes.json").read_text(encoding="utf-8")
    return {k: tuple(v) for k, v in json.loads(text)["codes"].items()}


def core_code_list(path: str) -> tuple[str, ...] | None:
    """The codes the R4 (4.0.1) base definition allows for a ``code`` element with a
    required binding, or None when they cannot be known.

    ``path`` is a base element path such as ``Slot.status`` or ``Bundle.entry.search.mode``.
    The table (``igtools/data/r4-required-codes.json``) holds the complete expansions of
    the core's own value sets; an element bound to a value set that draws from a whole
    code system the core does not enumerate (``CapabilityStatement.format``: mime types,
    all of ``urn:ietf:bcp:13``) has none, so that no code of it is judged. (The lists
    fhir.resources carries are parsed from the short descriptions: truncated, ``+``,
    ``etc.``, or ``formats`` for ``CapabilityStatement.format``.)
    """
    return _required_codes().get(path)
