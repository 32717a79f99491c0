"""Why a regenerated snapshot differs from the published one: each difference classified.

The snapshots of ../shared were written by IG Publishers of 2023 to 2026 that do not
agree, against dependency versions ../shared does not always hold. A difference is put in
the first class that explains it; one no class explains is ``unexplained`` (a generator
bug, or a publisher behaviour not yet known). The classes, in order:

- ``definition missing: URL``: an element's type names a profile (an extension, say: the
  R5 cross-version extensions the publisher synthesizes) that no loaded package defines;
- ``canonical versions``: the values differ only by the ``|version`` of canonical
  references (which references the publisher versions, and with which terminology
  package, depends on its version and on the dependency versions it had);
- ``links in texts``: texts differ only by how their links are written (relative, or
  absolute to ``http://hl7.org/fhir/R4/`` or ``R5/``: the publisher's or the extensions
  pack's version);
- ``extensions pack version: ...``: the FHIR type of the ``id`` of an HL7 extension's
  slice (``id`` in the extensions pack the publisher had, ``string`` in ../shared's);
- ``publisher's core: ...``: the publisher loads hl7.fhir.r4.core with technical
  corrections (extension elements sliced by url, the invariants of the data types on
  the elements, binding strengths of inherited elements);
- ``older publisher: ...``: behaviours of the publishers before 2025 (an element's
  docs taken from its data type or data type profile; a slicing entry's inner
  constraints not carried to its slices).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from igtools.ir.snapshot.tree import Json, types_of

_PIN = re.compile(r"((?:https?|urn):[^\s'\"|,()\]]+)\|[^\s'\",()\]]+")
_LINK = re.compile(r"\]\(http://hl7\.org/fhir/(?:R[45]/)?")

DEFINITION_MISSING = "definition missing"
PINS = "canonical versions (publisher and terminology versions pin references differently)"
LINKS = "links in texts (relative vs absolute: publisher or extensions pack version)"
CORE_INVARIANTS = "publisher's core: the data types' invariants on the elements"
CORE_EXT_SLICING = "publisher's core: extension elements sliced by url"
CORE_BINDING = "publisher's core: the binding strength of an inherited element"
EXT_ID_TYPE = (
    "extensions pack version: the FHIR type of an HL7 extension's id (the publisher's pack "
    "says id, ../shared's string)"
)
OLD_TYPE_DOCS = "older publisher: an element's docs from its data type (profile)"
OLD_NOT_CARRIED = "older publisher: a slicing entry's inner constraints not carried to its slices"
OLD_SLICING_KEPT = "older publisher: a slicing without slices kept within a slice"
_GENERIC_EXT_DOCS = ("Extension", "An Extension")
UNEXPLAINED = "unexplained"


@dataclass
class Difference:
    """One difference between a generated and a published snapshot."""

    kind: str  # missing | extra | order | facet
    eid: str = ""
    facet: str = ""
    generated: Any = None
    published: Any = None
    ids: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.kind in ("missing", "extra"):
            more = " ..." if len(self.ids) > 8 else ""
            return f"{self.kind} elements: {', '.join(self.ids[:8])}{more}"
        if self.kind == "order":
            return f"element order differs at {self.eid}: {self.generated} vs {self.published}"
        return (
            f"{self.eid}: {self.facet}: {_short(self.generated)} != published "
            f"{_short(self.published)}"
        )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def unpinned(value: Any) -> str:
    """``value`` written out with the versions of its canonical references removed."""
    return _PIN.sub(r"\1", repr(value))


def unlinked(value: Any) -> Any:
    """A text with its links to the specification written relatively."""
    return _LINK.sub("](", value) if isinstance(value, str) else value


def unsliced(eid: str) -> str:
    """``A.b:s.c:t.d`` -> ``A.b.c.d``."""
    return ".".join(seg.split(":", 1)[0] for seg in eid.split("."))


@dataclass
class Context:
    """What a classification reads: the profile, both snapshots and a resolver."""

    sd: Json
    generated: dict[str, Json]
    published: dict[str, Json]
    resolve: Callable[[str], Json | None]  # a StructureDefinition by canonical

    def __post_init__(self) -> None:
        diff = self.sd.get("differential")
        elements = diff.get("element") if isinstance(diff, dict) else None
        self.diff: dict[str, Json] = {
            str(d.get("id")): d for d in elements or [] if isinstance(d, dict)
        }


def _missing_profile(ctx: Context, eid: str) -> str | None:
    """A profile named by the types of ``eid`` or of an element above it that no loaded
    package defines."""
    parts = eid.split(".")
    for i in range(len(parts), 0, -1):
        key = ".".join(parts[:i])
        for el in (ctx.generated.get(key), ctx.published.get(key)):
            for t in types_of(el or {}):
                for p in t.get("profile") or []:
                    if isinstance(p, str) and ctx.resolve(p) is None:
                        return p.split("|", 1)[0]
    return None


def _type_root(ctx: Context, el: Json) -> Json | None:
    """The root element of an element's data type profile, or of its data type."""
    types = types_of(el)
    if len(types) != 1:
        return None
    t = types[0]
    urls = [p for p in t.get("profile") or [] if isinstance(p, str)]
    urls.append(f"http://hl7.org/fhir/StructureDefinition/{t.get('code')}")
    for url in urls:
        sd = ctx.resolve(url)
        snap = sd.get("snapshot") if sd else None
        elements = snap.get("element") if isinstance(snap, dict) else None
        if elements:
            root: Json = elements[0]
            return root
    return None


def _carried(ctx: Context, d: Difference, get: Callable[[Json], Any]) -> bool:
    """The generated value is the slicing entry's element's, which the published slice
    does not have (the older publishers did not carry it to the slices); the entry is
    looked up in the published snapshot, else in its base's (inherited as it was)."""
    if ":" not in d.eid:
        return False
    entry_id = unsliced(d.eid)
    gen_entry = ctx.generated.get(entry_id)
    if gen_entry is not None and get(gen_entry) != d.generated:
        return False
    pub_entry = ctx.published.get(entry_id)
    if pub_entry is None:
        base = ctx.sd.get("baseDefinition")
        base_sd = ctx.resolve(base) if isinstance(base, str) else None
        snap = base_sd.get("snapshot") if base_sd else None
        for el in snap.get("element") or [] if isinstance(snap, dict) else []:
            if el.get("id") == entry_id:
                pub_entry = el
    return pub_entry is not None and get(pub_entry) == d.generated


def _hl7_extension_id(ctx: Context, d: Difference) -> bool:
    """``d`` is the FHIR type (``string`` vs ``id``) of the ``id`` of an extension slice
    whose definition is HL7's (the extensions pack: the version the publisher had writes
    ``id``, the one ../shared holds ``string``)."""
    if not d.eid.endswith(".id") or ":" not in d.eid:
        return False
    parent = ctx.published.get(d.eid[: -len(".id")]) or {}
    hl7 = any(
        isinstance(p, str) and p.startswith("http://hl7.org/fhir/StructureDefinition/")
        for t in types_of(parent)
        for p in t.get("profile") or []
    )
    return hl7 and [t[0] for t in d.generated or []] == [
        str(t[0]).replace("(id)", "(string)") for t in d.published or []
    ]


def classify(d: Difference, ctx: Context, facets: dict[str, Callable[[Json], Any]]) -> str:
    """The class of one difference (``unexplained`` when none fits)."""
    extra = d.kind == "extra" and all(":" in i for i in d.ids)
    if extra and all(unsliced(i) in ctx.generated for i in d.ids):
        return OLD_NOT_CARRIED
    if d.kind != "facet":
        missing = next(filter(None, (_missing_profile(ctx, i) for i in d.ids)), None)
        return f"{DEFINITION_MISSING}: {missing}" if missing else UNEXPLAINED
    missing = _missing_profile(ctx, d.eid)
    if missing:
        return f"{DEFINITION_MISSING}: {missing}"
    if unpinned(d.generated) == unpinned(d.published):
        return PINS
    if d.facet in ("short", "definition") and unlinked(d.generated) == unlinked(d.published):
        return LINKS
    if d.facet == "type" and _hl7_extension_id(ctx, d):
        return EXT_ID_TYPE
    if d.facet == "constraint" and set(d.generated) < set(d.published):
        return CORE_INVARIANTS
    if (
        d.facet == "slicing"
        and d.generated is None
        and d.published == ([("value", "url")], "open", False)
        and d.eid.endswith(("extension", "modifierExtension"))
    ):
        return CORE_EXT_SLICING
    if (
        d.facet in ("short", "definition")
        and d.generated in _GENERIC_EXT_DOCS
        and d.eid.endswith(("extension", "modifierExtension"))
        and d.eid not in ctx.diff
    ):
        return CORE_EXT_SLICING  # sliced already: the element keeps its docs
    if (
        d.facet == "slicing"
        and d.generated is None
        and d.published is not None
        and d.published == facets["slicing"](ctx.diff.get(d.eid) or {})
    ):
        return OLD_SLICING_KEPT
    if (
        d.facet == "binding"
        and d.generated
        and d.published
        and unpinned(d.generated[1]) == unpinned(d.published[1])
        and "binding" not in ctx.diff.get(d.eid, {})
    ):
        return CORE_BINDING
    get = facets[d.facet]
    if d.facet in ("short", "definition"):
        root = _type_root(ctx, ctx.published.get(d.eid) or {})
        if root is not None and unlinked(get(root)) == unlinked(d.published):
            return OLD_TYPE_DOCS
    if _carried(ctx, d, get):
        return OLD_NOT_CARRIED
    return UNEXPLAINED


def reasons(
    differences: list[Difference], ctx: Context, facets: dict[str, Callable[[Json], Any]]
) -> list[str]:
    """The classes of ``differences``, each once, in the order met; an unexplained
    difference is named (``unexplained: <the difference>``)."""
    out: list[str] = []
    for d in differences:
        cls = classify(d, ctx, facets)
        if cls == UNEXPLAINED:
            cls = f"{UNEXPLAINED}: {d}"
        if cls not in out:
            out.append(cls)
    return out
