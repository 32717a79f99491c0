"""An IG's narrative pages (IG Publisher / SUSHI source layout) as MkDocs markdown.

Reads ``sushi-config.yaml`` (``pages:``, ``menu:``), ``input/pagecontent/*.md``,
``input/images/`` and ``input/images-source/*.plantuml`` and writes MkDocs pages:

- the nav from the menu (titles from the menu, separators as sections, ``new-tab`` and
  Liquid URLs as external links), then the pages the menu does not name;
- links to IG Publisher pages (``StructureDefinition-X.html``, examples,
  ``artifacts.html``, narrative ``x.html``; markdown, reference-style and raw HTML)
  rewritten to relative links to our pages, anchors mapped to MkDocs' heading ids;
- Liquid: PlantUML diagrams, example JSON, the dependency table, ``{% sql %}`` tables,
  simple ``{% if %}`` conditions on ``site.data`` values (see :mod:`.liquid`);
- the CommonMark of the IG Publisher turned into Python-Markdown's dialect (nested lists
  on four spaces, a blank line before a list, table or fence that follows a paragraph,
  ``markdown="1"`` on HTML blocks that hold markdown, unclosed HTML blocks closed).

Nothing is dropped silently: every link, tag, page or menu entry not converted is listed
in :attr:`ConvertedPages.unconverted` with its file and line.
"""

from __future__ import annotations

import re
from pathlib import Path

from igtools.render.docs import liquid
from igtools.render.docs.blocks import Line, Scanner
from igtools.render.docs.diagrams import read_diagrams, render_diagrams
from igtools.render.docs.liquid import Text
from igtools.render.docs.pageconfig import ConfigPart
from igtools.render.docs.pageincludes import IncludesPart
from igtools.render.docs.pagelinks import LinksPart
from igtools.render.docs.pagemodel import (
    _FOOTNOTE_DEF,
    _FOOTNOTE_REF,
    ConvertedPages,
    PageLinks,
    _anchorjs_slug,
    _github_slug,
    _kramdown_slug,
    _message_order,
    _Page,
    _unique,
    mkdocs_slug,
)

__all__ = ["ConvertedPages", "PageLinks", "convert_pages", "mkdocs_slug"]


class _Converter(ConfigPart, LinksPart, IncludesPart):
    """The narrative pages converter: its parts, then the two phases and the run."""

    # phase 1: Liquid, blocks, headings

    def prepare(self, page: _Page) -> None:
        text = page.source.read_text(encoding="utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
        try:
            pieces = self.liquid_pieces(text, page)
        except liquid.LiquidSyntaxError as exc:
            self.unconverted(page.rel_source, f"Liquid not readable ({exc}); page kept as text")
            pieces = [Text(text, 1)]
        lines = self.to_lines(pieces, page)
        scanner = Scanner(lines)
        page.lines = scanner.run()
        used: set[str] = set()
        counts: dict[str, int] = {}
        for text_, explicit, level in scanner.headings:
            our = explicit or _unique(mkdocs_slug(text_), used)
            if explicit:
                used.add(explicit)
            page.ids.add(our)
            if level == 1 and not page.first_heading:
                page.first_heading = text_
            gh = _github_slug(text_)
            n = counts.get(gh, 0)
            counts[gh] = n + 1
            candidates = [
                our,
                gh if n == 0 else f"{gh}-{n}",
                _anchorjs_slug(text_),
                _kramdown_slug(text_),
                mkdocs_slug(text_),
            ]
            for c in candidates:
                if c:
                    page.anchors.setdefault(c.lower(), our)
        for raw_id in scanner.raw_ids:
            page.ids.add(raw_id)
            page.anchors.setdefault(raw_id.lower(), raw_id)

    # phase 2: rewrite and write

    def check_footnotes(self, page: _Page) -> None:
        """Footnote references (``[^3]``) without a definition (``[^3]: ...``) are listed:
        the footnotes extension leaves them as text."""
        defined: set[str] = set()
        used: list[tuple[str, int]] = []
        for ln in page.lines:
            if ln.kind not in ("md", "htmlmd"):
                continue
            text = re.sub(r"(`+).*?\1", "", ln.text)
            m = _FOOTNOTE_DEF.match(text)
            if m:
                defined.add(m.group(1))
                text = text[m.end() :]
            used += [(r, ln.src) for r in _FOOTNOTE_REF.findall(text)]
        for ref, src in used:
            if ref not in defined:
                self.unconverted(
                    f"{page.rel_source}:{src}",
                    f"footnote [^{ref}] has no definition ([^{ref}]: ...) on the page; "
                    "shown as text",
                )

    def convert(self, page: _Page) -> str:
        self.check_footnotes(page)
        regions: list[tuple[str, int, list[Line]]] = []
        for ln in page.lines:
            if regions and regions[-1][0] == ln.kind and regions[-1][1] == ln.block:
                regions[-1][2].append(ln)
            else:
                regions.append((ln.kind, ln.block, [ln]))
        out: list[str] = []
        for kind, _block, lines in regions:
            text = "\n".join(ln.text for ln in lines)

            def where(k: int, lines: list[Line] = lines) -> str:
                return f"{page.rel_source}:{lines[min(max(k, 0), len(lines) - 1)].src}"

            hoisted: list[str] = []
            if kind == "code":
                text = self.expand(text, page, "code", hoisted)
            elif kind == "html":
                text = self.rewrite_html(text, page, where)
                text = self.expand(text, page, "html", hoisted)
            else:
                text = self.rewrite_markdown(text, page, where)
                text = self.expand(text, page, "md", hoisted)
            out.append(text)
            if hoisted:
                out.append("\n" + "\n\n".join(hoisted) + "\n")
        body = "\n".join(out).strip("\n")
        return body + "\n" if body else ""

    # the whole run

    def run(self) -> ConvertedPages:
        self.read_config()
        self.setup_variables()
        self.docs_dir.mkdir(parents=True, exist_ok=True)
        self.copy_images()
        self.diagrams, self.diagram_names = read_diagrams(self.source / "input" / "images-source")
        render_diagrams(self.diagrams, self.docs_dir / "diagrams", self.docs_dir, self.plantuml)
        self.discover_pages()
        for page in self.pages.values():
            self.prepare(page)
        self.result.nav = self.nav()
        for page in self.pages.values():
            text = self.convert(page)
            if page.fragment:
                self.result.fragments[page.stem] = text
                continue
            target = self.docs_dir / page.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            self.result.pages.append(target)
            self.result.titles[page.path] = self.title_of(page)
        self.report_diagrams()
        # a copied page's messages are its source's: listed once
        unique = list(dict.fromkeys(self.result.unconverted))
        self.result.unconverted = sorted(unique, key=_message_order)
        return self.result

    def report_diagrams(self) -> None:
        for d in self.diagrams:
            rel = d.file.relative_to(self.source).as_posix()
            label = f"{rel}" + (f" (diagram {d.name})" if d.name != d.file.stem else "")
            used = sorted(set(d.used_by))
            if d.error:
                self.result.diagram_errors.append(
                    f"{rel}:{d.error_line or d.line or 1}"
                    + (f" (diagram {d.name})" if d.name != d.file.stem else "")
                    + f": PlantUML: {d.error}"
                )
            if d.svg and used:
                self.result.diagrams.append(
                    f"{label}: rendered to {d.svg}, shown on " + ", ".join(used)
                )
            elif d.svg:
                self.result.diagrams.append(
                    f"{label}: rendered to {d.svg}; not referenced by any page"
                )
            elif used:
                self.result.diagrams.append(
                    f"{label}: not rendered ({d.failure}); its source "
                    "is shown on " + ", ".join(used)
                )
            else:
                self.result.diagrams.append(
                    f"{label}: not rendered ({d.failure}); not referenced by any page"
                )


def convert_pages(
    source: Path, docs_dir: Path, links: PageLinks, plantuml: str | None = None
) -> ConvertedPages:
    """Convert the narrative pages of the IG source folder ``source`` into ``docs_dir``.

    Pages go to ``docs_dir/<page>.md`` (``index.md`` is the home), images to
    ``docs_dir/images/``, rendered diagrams to ``docs_dir/diagrams/<name>.svg``.
    ``plantuml`` is the plantuml executable (None: looked up on PATH; when absent,
    diagrams are shown as PlantUML source under a note).
    """
    return _Converter(source, docs_dir, links, plantuml).run()
