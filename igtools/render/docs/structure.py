"""The structure view of a profile or extension page, as readers know it from the IG
Publisher: a tree of the elements (indented by depth, each slice and extension slice one
level under its element), with flags, cardinality, types linked to their profile or the
FHIR specification, bindings, the short description and the constraints; three views
(key elements = the differential, the snapshot, mustSupport only) as content tabs.

The view is raw HTML (mkdocs passes it through untouched): a table with a fixed layout
that fits the content column, long words and URLs broken, very long texts cut with the
whole text in a ``title``. Each snapshot row carries its element id as ``id`` (the IG
Publisher's ``StructureDefinition-x.html#Patient.identifier:rpps``); the other views link
their names to it. :func:`search_entries` gives one search index entry per element, which
the site's mkdocs hook (:mod:`.search_hook`) adds to the search index.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape

from igtools.ir.model import Element, Invariant, Profile, TypeRef

FHIR_SPEC = "http://hl7.org/fhir/R4/"
_FHIR_CANONICAL = "http://hl7.org/fhir/StructureDefinition/"
# where the R4 specification documents a data type (other types: their own page)
_TYPE_PAGES = {
    **{
        t: f"datatypes.html#{t}"
        for t in (
            "Address",
            "Age",
            "Annotation",
            "Attachment",
            "CodeableConcept",
            "Coding",
            "ContactPoint",
            "Count",
            "Distance",
            "Duration",
            "HumanName",
            "Identifier",
            "Money",
            "MoneyQuantity",
            "Period",
            "Quantity",
            "Range",
            "Ratio",
            "SampledData",
            "Signature",
            "SimpleQuantity",
            "Timing",
        )
    },
    **{
        t: f"metadatatypes.html#{t}"
        for t in (
            "ContactDetail",
            "Contributor",
            "DataRequirement",
            "Expression",
            "ParameterDefinition",
            "RelatedArtifact",
            "TriggerDefinition",
            "UsageContext",
        )
    },
    "Reference": "references.html#Reference",
    "Extension": "extensibility.html#Extension",
    "Narrative": "narrative.html#Narrative",
    "Meta": "resource.html#Meta",
    "Dosage": "dosage.html#Dosage",
    "Element": "element.html",
    "BackboneElement": "backboneelement.html",
    "xhtml": "narrative.html#xhtml",
}
# the constraints every element / extension inherits: not listed per element
_UBIQUITOUS = ("ele-1", "ext-1")
SHORT_MAX = 180  # characters of a short description shown (all of it in the title)
VALUE_MAX = 120  # of a fixed or pattern value
EXPRESSION_MAX = 400  # of an invariant's expression
TARGETS_MAX = 12  # target profiles of one type shown (the others in the title)
TYPES_MAX = 12  # types of one element shown (the others in the title)


@dataclass
class Labels:
    """The words of the view, in the IG's language (see :mod:`.labels`)."""

    t: dict[str, str]

    def __getitem__(self, key: str) -> str:
        return self.t.get(key, key)


class Links:
    """Hrefs of one page's structure view: our artefact pages (``hrefs``: canonical ->
    the built page, relative to this one), the FHIR specification for its own
    definitions, else the canonical itself."""

    def __init__(self, hrefs: dict[str, str], names: dict[str, str]) -> None:
        self.hrefs = hrefs
        self.names = names  # canonical -> short label

    def href(self, url: str) -> str | None:
        base = url.partition("|")[0]
        if base in self.hrefs:
            return self.hrefs[base]
        if base.startswith(_FHIR_CANONICAL) and "/" not in base[len(_FHIR_CANONICAL) :]:
            return FHIR_SPEC + _type_page(base[len(_FHIR_CANONICAL) :])
        if base.startswith(("http://", "https://")):
            return base
        return None

    def label(self, url: str) -> str:
        base, _, version = url.partition("|")
        name = self.names.get(base) or base.rstrip("/").rsplit("/", 1)[-1]
        return f"{name}|{version}" if version and base not in self.names else name

    def a(self, url: str) -> str:
        label = escape(self.label(url))
        href = self.href(url)
        if href is None:
            return f'<span title="{escape(url)}">{label}</span>'
        return f'<a href="{escape(href)}" title="{escape(url)}">{label}</a>'


def _type_page(code: str) -> str:
    if code in _TYPE_PAGES:
        return _TYPE_PAGES[code]
    if code[:1].islower():
        return f"datatypes.html#{code}"
    return f"{code.lower()}.html"


def _cut(text: str, limit: int) -> str:
    """``text`` escaped; past ``limit`` characters, cut with the whole in a title."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return escape(text)
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[limit // 2 : limit] else text[:limit]
    return f'<span title="{escape(text)}">{escape(cut)}…</span>'


# ------------------------------------------------------------------------- cells


def depth(el: Element) -> int:
    """Tree depth: one per path segment, one more under each slice."""
    d = 0
    up = parent_id(el.id)
    while up is not None:
        d += 1
        up = parent_id(up)
    return d


def name_html(el: Element) -> str:
    last = el.id.rsplit(".", 1)[-1] if "." in el.id else el.id
    if ":" in last:
        base, _, slice_name = last.partition(":")
        return (
            f'<span class="ig-sliced">{escape(base)}:</span>'
            f'<span class="ig-slice">{escape(slice_name)}</span>'
        )
    return escape(last)


def flags_html(el: Element, t: Labels) -> str:
    out = []
    if el.must_support:
        out.append(f'<span class="ig-flag" title="{escape(t["flag_ms"])}">S</span>')
    if el.is_modifier:
        out.append(f'<span class="ig-flag" title="{escape(t["flag_modifier"])}">?!</span>')
    if el.is_summary:
        out.append(f'<span class="ig-flag" title="{escape(t["flag_summary"])}">Σ</span>')
    if any(c.key not in _UBIQUITOUS for c in el.constraints):
        out.append(f'<span class="ig-flag" title="{escape(t["flag_invariant"])}">I</span>')
    return "".join(out)


def card_text(el: Element) -> str:
    return f"{el.min}..{'*' if el.max is None else el.max}"


def type_html(el: Element, links: Links, ids: frozenset[str] = frozenset()) -> str:
    """The types (``ids``: the element ids of the page, for content references)."""
    parts = [_one_type(tr, links) for tr in el.types[:TYPES_MAX]]
    if len(el.types) > TYPES_MAX:  # value[x] of Extension: every type of FHIR
        rest = [tr.code for tr in el.types[TYPES_MAX:]]
        parts.append(f'<span title="{escape(" | ".join(rest))}">+{len(rest)}</span>')
    if el.content_reference:  # "#Bundle.link" or "<canonical>#Bundle.link"
        target = el.content_reference.rpartition("#")[2]
        shown = escape(f"→ {target}")
        if target in ids:
            parts.append(f'<a href="#{escape(target)}">{shown}</a>')
        else:
            parts.append(shown)
    return " | ".join(parts)


def _one_type(tr: TypeRef, links: Links) -> str:
    code = tr.code
    if code.startswith("http://hl7.org/fhirpath/"):
        head = escape(code.rsplit("/", 1)[-1])
    else:
        head = f'<a href="{FHIR_SPEC}{_type_page(code)}">{escape(code)}</a>'
    inner = [links.a(u) for u in tr.profiles]
    targets = tr.target_profiles
    inner += [links.a(u) for u in targets[:TARGETS_MAX]]
    if len(targets) > TARGETS_MAX:
        rest = targets[TARGETS_MAX:]
        inner.append(f'<span title="{escape(" ".join(rest))}">+{len(rest)}</span>')
    if not inner:
        return head
    return f"{head}({' | '.join(inner)})"


def binding_html(el: Element, links: Links) -> str:
    b = el.binding
    if b is None:
        return ""
    vs = links.a(b.value_set) if b.value_set else ""
    return f'{vs} <span class="ig-strength">({escape(b.strength)})</span>'.strip()


def description_html(el: Element, t: Labels, keys_seen: set[str]) -> str:
    bits = []
    if el.short:
        bits.append(_cut(el.short, SHORT_MAX))
    for fp in (el.fixed, el.pattern):
        if fp is not None:  # ("patternCode", value)
            value = json.dumps(fp[1], ensure_ascii=False, separators=(", ", ": "))
            code = _cut(value, VALUE_MAX)
            bits.append(f"<span class='ig-label'>{escape(fp[0])}</span> = <code>{code}</code>")
    if el.slicing is not None:
        ds = ", ".join(f"{d.type}:{d.path}" for d in el.slicing.discriminators)
        text = f"{el.slicing.rules}" + (f" ({ds})" if ds else "")
        bits.append(f"<span class='ig-label'>{escape(t['slicing'])}</span> {_cut(text, VALUE_MAX)}")
    keys = [c.key for c in el.constraints if c.key not in _UBIQUITOUS]
    if keys:
        linked = [
            f'<a href="#inv-{escape(k)}">{escape(k)}</a>' if k in keys_seen else escape(k)
            for k in dict.fromkeys(keys)
        ]
        bits.append(f"<span class='ig-label'>{escape(t['invariants'])}</span> {', '.join(linked)}")
    return "<br>".join(bits)


# ------------------------------------------------------------------------- views


def parent_id(el_id: str) -> str | None:
    """The tree parent of an element id: a slice's element (``a.b:s`` -> ``a.b``, a
    reslice ``a.b:s/t`` -> ``a.b:s``), else the id without its last segment."""
    head, dot, last = el_id.rpartition(".")
    if ":" in last:
        name, _, sl = last.partition(":")
        if "/" in sl:
            return f"{head}{dot}{name}:{sl.rsplit('/', 1)[0]}"
        return f"{head}{dot}{name}"
    return head or None


def _with_ancestors(profile: Profile, keep: set[str]) -> list[tuple[Element, bool]]:
    """The elements of ``keep`` (ids) in snapshot order, with the ancestors that place
    them in the tree (flagged False: context rows)."""
    ancestors: set[str] = set()
    for el_id in keep:
        up = parent_id(el_id)
        while up is not None and up not in ancestors:
            ancestors.add(up)
            up = parent_id(up)
    return [(el, el.id in keep) for el in profile.elements() if el.id in keep or el.id in ancestors]


def _row(
    el: Element,
    links: Links,
    t: Labels,
    keys_seen: set[str],
    anchor: bool,
    context: bool = False,
    ids: frozenset[str] = frozenset(),
) -> str:
    d = depth(el)
    name = name_html(el)
    if not anchor:
        name = f'<a href="#{escape(el.id)}">{name}</a>'
    attrs = f' id="{escape(el.id)}"' if anchor else ""
    cls = ["ig-ctx"] if context else []
    if el.max == 0:
        cls.append("ig-zero")
    if cls:
        attrs += f' class="{" ".join(cls)}"'
    return (
        f"<tr{attrs}>"
        f'<td class="ig-name" style="--d:{d}" title="{escape(el.id)}">{name}</td>'
        f'<td class="ig-flags">{flags_html(el, t)}</td>'
        f'<td class="ig-card">{card_text(el)}</td>'
        f'<td class="ig-type">{type_html(el, links, ids)}</td>'
        f'<td class="ig-binding">{binding_html(el, links)}</td>'
        f'<td class="ig-desc">{description_html(el, t, keys_seen)}</td>'
        "</tr>"
    )


def _table(rows: Iterable[str], t: Labels) -> str:
    head = "".join(
        f"<th>{escape(t[k])}</th>" for k in ("element", "flags", "card", "type", "binding", "notes")
    )
    body = "\n".join(rows)
    return (
        '<table class="ig-tree">'
        '<colgroup><col class="ig-c-name"><col class="ig-c-flags"><col class="ig-c-card">'
        '<col class="ig-c-type"><col class="ig-c-binding"><col class="ig-c-desc"></colgroup>'
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody></table>"
    )


def structure_view(profile: Profile, links: Links, t: dict[str, str]) -> str:
    """The three views as content tabs (raw HTML, one block)."""
    lab = Labels(t)
    keys_seen = {inv.key for _el, inv in constraint_rows(profile)}
    ids = frozenset(el.id for el in profile.elements())

    def row(el: Element, anchor: bool, context: bool = False) -> str:
        return _row(el, links, lab, keys_seen, anchor, context, ids)

    diff = _with_ancestors(profile, {el.id for el in profile.elements() if el.in_differential})
    ms = _with_ancestors(profile, {el.id for el in profile.elements() if el.must_support})
    views = [
        (
            lab["key_elements"],
            _table((row(el, False, not own) for el, own in diff), lab)
            if diff
            else f"<p>{escape(lab['none'])}.</p>",
        ),
        (
            lab["snapshot"],
            _table((row(el, True) for el in profile.elements()), lab),
        ),
        (
            lab["must_support_view"],
            _table((row(el, False, not own) for el, own in ms), lab)
            if ms
            else f"<p>{escape(lab['none'])}.</p>",
        ),
    ]
    return tabs("ig-view", views) + f'\n<p class="ig-legend">{escape(lab["legend"])}</p>'


def tabs(prefix: str, views: list[tuple[str, str]]) -> str:
    """Content tabs in the markup of pymdownx.tabbed's alternate style (which
    mkdocs-material styles and scripts), written as raw HTML so that the tables inside
    are left alone by markdown; the first tab is selected."""
    inputs = "".join(
        f'<input{" checked" if k == 0 else ""} id="{prefix}-{k + 1}" name="{prefix}" type="radio">'
        for k in range(len(views))
    )
    labels = "".join(
        f'<label for="{prefix}-{k + 1}">{escape(title)}</label>'
        for k, (title, _b) in enumerate(views)
    )
    blocks = "\n".join(f'<div class="tabbed-block">\n{body}\n</div>' for _t, body in views)
    return (
        f'<div class="tabbed-set tabbed-alternate ig-views" data-tabs="1:{len(views)}">'
        f'{inputs}<div class="tabbed-labels">{labels}</div>\n'
        f'<div class="tabbed-content">\n{blocks}\n</div>\n</div>'
    )


# ------------------------------------------------------------------------- constraints


def constraint_rows(profile: Profile) -> list[tuple[list[Element], Invariant]]:
    """Each invariant of the profile once (but ele-1 and ext-1), with its elements."""
    by_key: dict[tuple[str, str, str], tuple[list[Element], Invariant]] = {}
    for el, inv in profile.invariants:
        if inv.key in _UBIQUITOUS:
            continue
        k = (inv.key, inv.human, inv.expression or "")
        if k not in by_key:
            by_key[k] = ([], inv)
        by_key[k][0].append(el)
    return list(by_key.values())


def constraints_html(profile: Profile, t: dict[str, str]) -> str:
    lab = Labels(t)
    rows = []
    seen: set[str] = set()
    for els, inv in constraint_rows(profile):
        anchor = f' id="inv-{escape(inv.key)}"' if inv.key not in seen else ""
        seen.add(inv.key)
        shown = els[:8]
        where = ", ".join(
            f'<a href="#{escape(el.id)}"><code>{escape(el.id)}</code></a>' for el in shown
        )
        if len(els) > len(shown):
            rest = " ".join(el.id for el in els[len(shown) :])
            where += f' <span title="{escape(rest)}">+{len(els) - len(shown)}</span>'
        expr = f"<code>{_cut(inv.expression, EXPRESSION_MAX)}</code>" if inv.expression else ""
        rows.append(
            f"<tr{anchor}><td>{escape(inv.key)}</td><td>{escape(inv.severity)}</td>"
            f"<td>{where}</td><td>{_cut(inv.human or '', 400)}</td><td>{expr}</td></tr>"
        )
    if not rows:
        return ""
    head = "".join(
        f"<th>{escape(lab[k])}</th>"
        for k in ("key", "severity", "element", "description", "expression")
    )
    return (
        '<table class="ig-constraints">'
        '<colgroup><col class="ig-c-key"><col class="ig-c-sev"><col class="ig-c-els">'
        '<col class="ig-c-human"><col class="ig-c-expr"></colgroup>'
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody></table>"
    )


# ------------------------------------------------------------------------- search


def search_entries(profile: Profile, page_url: str, title: str) -> list[dict[str, str]]:
    """One search index entry per element, pointing at its row (``page_url`` is the
    built page, relative to the site root)."""
    out = []
    for el in profile.elements():
        words = [el.short or ""]
        if el.in_differential and el.definition and el.definition != el.short:
            words.append(" ".join(el.definition.split())[:300])
        types = " ".join(
            [t.code for t in el.types]
            + [u.partition("|")[0].rsplit("/", 1)[-1] for t in el.types for u in t.profiles]
            + [u.partition("|")[0].rsplit("/", 1)[-1] for t in el.types for u in t.target_profiles]
        )
        if types:
            words.append(types)
        if el.binding is not None and el.binding.value_set:
            words.append(el.binding.value_set.partition("|")[0].rsplit("/", 1)[-1])
        out.append(
            {
                "location": f"{page_url}#{el.id}",
                "title": f"{el.id} ({title})",
                "text": escape(" — ".join(w for w in words if w)),
            }
        )
    return out
