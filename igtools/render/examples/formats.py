"""The format an element's own definition names for a free-text value.

A profile often narrows a plain ``string`` in words only: SAS's ``Slot.comment`` is
"URL permettant d'accéder à la prise de RDV", another profile's ``string`` is "the
e-mail address of ...". Only the text the profile itself wrote is read (an element in
its differential), in French or English; the earliest format named wins.
"""

from __future__ import annotations

import re

from igtools.ir.model import Element

URL = "url"
EMAIL = "email"
PHONE = "phone"
SYSTEM = "system"

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (EMAIL, re.compile(r"\be-?mails?\b|\bcourriels?\b|adresses? (?:[ée]lectronique|mail)", re.I)),
    (PHONE, re.compile(r"t[ée]l[ée]phon|\bphone\b|\bfax\b|t[ée]l[ée]copie", re.I)),
    (
        SYSTEM,
        re.compile(
            r"identifier system|system of (?:the|an) identifier|naming system|"
            r"syst[èe]me d'identifi|espace de noms?\b|\bnamespace\b",
            re.I,
        ),
    ),
    (
        URL,
        re.compile(
            r"\bURLs?\b|\bURIs?\b|hyperliens?|hyperlinks?|site (?:web|internet)|"
            r"web ?sites?|web ?pages?|page web|adresse web",
            re.I,
        ),
    ),
]

# the types whose values are free text (a uri or url already gets a URL)
TEXT_TYPES = {"string", "markdown"}


def format_of(el: Element) -> str | None:
    """``url``, ``email``, ``phone`` or ``system`` when the element's short text (or its
    definition) names one; None otherwise, or when the element is not free text or its
    text is inherited from the base definition."""
    if not el.in_differential or not set(el.type_codes) <= TEXT_TYPES or not el.types:
        return None
    if el.base_path.startswith(("HumanName.", "Address.")):
        return None  # a name or an address is built as one
    for text in (el.short, el.definition):
        if not text:
            continue
        found = [(m.start(), kind) for kind, rx in _PATTERNS if (m := rx.search(text))]
        if found:
            return min(found)[1]
    return None
