"""Links of the IG's own texts on the artefact side of the site (descriptions, comments,
requirements, capability documentation...): written for the IG Publisher's flat output
(``general-requirements.html``, ``StructureDefinition-x.html``, ``#anchor`` of the
published page), they are pointed at our pages when the site has them, and at the
published IG (its canonical base + the page) otherwise."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from urllib.parse import unquote

from igtools.render.docs.artefacts import relative

_MD_LINK = re.compile(r"(\]\(\s*)(<[^<>\n]*>|[^\s()<>]+)")
_HREF = re.compile(r"(\bhref\s*=\s*)([\"'])([^\"'\n]*)\2", re.I)
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})", re.M)
_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)
# raw HTML the templates write with links of their own (the structure view): left alone
GENERATED_OPEN, GENERATED_CLOSE = "<!-- igtools:html -->", "<!-- /igtools:html -->"
_GENERATED = re.compile(re.escape(GENERATED_OPEN) + ".*?" + re.escape(GENERATED_CLOSE), re.S)
_EXPLICIT_ID = re.compile(r"\{:?\s*#([\w-]+)|\bid\s*=\s*[\"']([^\"']+)[\"']")


class LinkMapper:
    """Rewrites the IG Publisher links of one IG's texts (see the module doc)."""

    def __init__(
        self,
        artefact_pages: dict[str, str],
        narrative_pages: dict[str, str],
        published_base: str | None,
        slug: Callable[[str], str],
    ) -> None:
        self.artefact_pages = artefact_pages  # IG Publisher stem -> our docs path
        self.narrative_pages = narrative_pages  # stem -> our docs path (with --pages)
        self.base = (published_base or "").rstrip("/")
        self.slug = slug

    def published(self, from_path: str) -> str:
        """The IG Publisher's page for our page ``from_path``."""
        stem = posixpath.splitext(posixpath.basename(from_path))[0]
        if from_path == "index.md":
            stem = "index"
        elif stem == "index":
            stem = "artifacts"
        return f"{self.base}/{stem}.html"

    def target(self, url: str, from_path: str, own_ids: set[str]) -> str:
        raw = url.strip()
        if not raw or re.match(r"^[a-zA-Z][\w+.-]*:", raw) or raw.startswith(("//", "/")):
            return url
        path, hash_, anchor = raw.partition("#")
        path = unquote(path.split("?", 1)[0])
        if not path:  # an anchor of the published page of this artefact
            if anchor in own_ids or not self.base:
                return url
            return f"{self.published(from_path)}#{anchor}"
        if path.endswith(".md") or path.startswith("../"):
            return url  # ours (written by a template or the page converter)
        name = posixpath.normpath(path).removeprefix("./")
        if not name.endswith((".html", ".htm")):
            return url  # files (our downloads, images): the templates' own links
        stem = name.rsplit(".", 1)[0]
        if stem in self.artefact_pages and not anchor:
            return relative(self.artefact_pages[stem], from_path)
        if stem in self.narrative_pages:
            return relative(self.narrative_pages[stem], from_path)  # its anchors are its own
        if self.base:
            return f"{self.base}/{name}{hash_}{anchor}"
        if stem in self.artefact_pages:
            return relative(self.artefact_pages[stem], from_path)
        return url

    def rewrite(self, markdown: str, from_path: str) -> str:
        """``markdown`` of our page ``from_path`` with its IG Publisher links mapped
        (fenced code left alone)."""
        own_ids = {self.slug(m.group(1)) for m in _HEADING.finditer(markdown)}
        own_ids |= {m.group(1) or m.group(2) for m in _EXPLICIT_ID.finditer(markdown)}
        parts = []
        pos = 0
        for g in _GENERATED.finditer(markdown):
            parts += [*_split_fences(markdown[pos : g.start()]), g.group(0)]
            pos = g.end()
        parts += _split_fences(markdown[pos:])
        out = []
        for k, part in enumerate(parts):
            if k % 2:
                out.append(part)
                continue

            def md(m: re.Match[str]) -> str:
                url = m.group(2)
                bracketed = url.startswith("<")
                new = self.target(url[1:-1] if bracketed else url, from_path, own_ids)
                return m.group(1) + (f"<{new}>" if bracketed else new)

            def href(m: re.Match[str]) -> str:
                new = self.target(m.group(3), from_path, own_ids)
                return f"{m.group(1)}{m.group(2)}{new}{m.group(2)}"

            out.append(_HREF.sub(href, _MD_LINK.sub(md, part)))
        return "".join(out)


def _split_fences(text: str) -> list[str]:
    """Text outside fences at even indexes, fenced blocks (with their fences) at odd."""
    parts: list[str] = []
    pos = 0
    while True:
        m = _FENCE.search(text, pos)
        if m is None:
            parts.append(text[pos:])
            return parts
        close = re.compile(
            r"^ {0,3}" + m.group(1)[0] + "{" + str(len(m.group(1))) + r",}\s*$", re.M
        )
        end = close.search(
            text, text.find("\n", m.end()) + 1 if "\n" in text[m.end() :] else len(text)
        )
        stop = end.end() if end else len(text)
        parts += [text[pos : m.start()], text[m.start() : stop]]
        pos = stop
