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

import html
import posixpath
import re
import shutil
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import yaml

from igtools.render.docs import liquid
from igtools.render.docs.blocks import Line, Scanner
from igtools.render.docs.diagrams import Diagram, read_diagrams, render_diagrams
from igtools.render.docs.liquid import SqlError, Tag, Text


@dataclass
class PageLinks:
    """What the narrative pages link to and include, from the artefact side of the site."""

    # IG Publisher page stem -> our page path relative to the docs root
    artefact_pages: dict[str, str] = field(default_factory=dict)
    # "Type-id" -> pretty JSON of that example
    examples_json: dict[str, str] = field(default_factory=dict)
    # rows of {% sql %}: Id, Type, Name, Title, Description, Url, Web (Web = our page path)
    resources: list[dict[str, str]] = field(default_factory=list)
    # rows of dependency-table.xhtml: Package, Version, Status
    dependency_rows: list[dict[str, str]] = field(default_factory=list)
    # MkDocs rewrites markdown links but not raw HTML ones: raw HTML gets the built URL
    use_directory_urls: bool = False
    # language of the few words this converter writes ("fr", "en"); None: from the config
    language: str | None = None


@dataclass
class ConvertedPages:
    nav: list[Any] = field(default_factory=list)
    pages: list[Path] = field(default_factory=list)
    images: list[Path] = field(default_factory=list)
    diagrams: list[str] = field(default_factory=list)
    # diagrams PlantUML failed on (its error image or message): "file:line: message"
    diagram_errors: list[str] = field(default_factory=list)
    unconverted: list[str] = field(default_factory=list)
    # page path (docs-relative) -> title
    titles: dict[str, str] = field(default_factory=dict)
    # "<artefact stem>-intro" / "-notes" -> markdown for that artefact page (links relative
    # to the artefact page): IG Publisher intro/notes fragments are not pages of their own
    fragments: dict[str, str] = field(default_factory=dict)


# -- words this converter writes --------------------------------------------------------

_TEXTS: dict[str, dict[str, str]] = {
    "fr": {
        "package": "Paquet",
        "version": "Version",
        "status": "Statut",
        "no_dependencies": "Aucune dépendance.",
        "diagram_title": "Diagramme non rendu",
        "diagram_body": "Le diagramme « {name} » n'a pas pu être rendu ({reason}) ; "
        "voici sa source PlantUML.",
    },
    "en": {
        "package": "Package",
        "version": "Version",
        "status": "Status",
        "no_dependencies": "No dependencies.",
        "diagram_title": "Diagram not rendered",
        "diagram_body": "The diagram “{name}” could not be rendered ({reason}); "
        "its PlantUML source follows.",
    },
}

_FHIR_PATHS = {
    "1.0": "http://hl7.org/fhir/DSTU2/",
    "3.0": "http://hl7.org/fhir/STU3/",
    "4.0": "http://hl7.org/fhir/R4/",
    "4.3": "http://hl7.org/fhir/R4B/",
    "5.0": "http://hl7.org/fhir/R5/",
}

_IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".bmp", ".ico")
# files the IG Publisher writes beside its pages (linked to on the published IG)
_PUBLISHER_OUTPUT = re.compile(
    r"^(package\.tgz|package\.r\d+\.tgz|full-ig\.zip|[\w.-]+\.(zip|tgz|json|xml|ttl|csv|xlsx|sch))$"
)
_SUBPAGE = re.compile(r"^(.+?)-(definitions|mappings|examples|testing|history|changes)$")
_RESOURCE_FORMAT = re.compile(r"^(.+)\.(json|xml|ttl)$")

_FOOTNOTE_DEF = re.compile(r"^ {0,3}\[\^([^\]\s]+)\]:")
_FOOTNOTE_REF = re.compile(r"\[\^([^\]\s]+)\](?!:)")

# a line of a page copy list: `source.md;target.md`
_COPY_LINE = re.compile(r"^\s*([^;\s/\\][^;/\\]*?\.md)\s*;\s*([^;\s/\\][^;/\\]*?\.md)\s*$")

PH_OPEN, PH_CLOSE = "\ue000", "\ue001"
_PH_RE = re.compile(PH_OPEN + r"(\d+)" + PH_CLOSE)
_CODE_OPEN, _CODE_CLOSE = "\ue002", "\ue003"
_CODE_RE = re.compile(_CODE_OPEN + r"(\d+)\n*" + _CODE_CLOSE)


# -- small helpers ----------------------------------------------------------------------


def mkdocs_slug(value: str) -> str:
    """The id Python-Markdown's toc extension gives a heading (its default slugify)."""
    value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    value = re.sub(r"[^\w\s-]", "", value).strip().lower()
    return re.sub(r"[-\s]+", "-", value)


def _unique(slug: str, used: set[str]) -> str:
    while slug in used or not slug:
        m = re.match(r"^(.*)_([0-9]+)$", slug)
        slug = f"{m.group(1)}_{int(m.group(2)) + 1}" if m else f"{slug}_1"
    used.add(slug)
    return slug


def _github_slug(value: str) -> str:
    return re.sub(r"[^\w\- ]", "", value.strip().lower()).replace(" ", "-")


def _anchorjs_slug(value: str) -> str:
    value = value.strip().replace("'", "")
    value = re.sub(r"[& +$,:;=?@\"#{}|^~\[`%!<>\]./()*\\\n\t\b\v\u00a0]", "-", value)
    return re.sub(r"-{2,}", "-", value)[:64].strip("-").lower()


def _kramdown_slug(value: str) -> str:
    value = re.sub(r"^[^a-zA-Z]+", "", value)
    value = re.sub(r"[^a-zA-Z0-9 -]", "", value)
    return value.replace(" ", "-").lower()


def _md_escape_cell(text: str) -> str:
    text = re.sub(r"\n\s*\n", "<br>", text.strip())
    return text.replace("\n", " ").replace("|", "\\|")


def _fence_for(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _quote_path(path: str) -> str:
    return quote(path, safe="/#%!$&'()*+,;=:@~-._")


def _attr_value(attrs: str, name: str) -> str | None:
    m = re.search(r"(?:^|\s)" + name + r"\s*=\s*(\"([^\"]*)\"|'([^']*)'|([^\s\"'>]+))", attrs, re.I)
    if m is None:
        return None
    value = m.group(2) if m.group(2) is not None else m.group(3) or m.group(4) or ""
    return html.unescape(value)


def _set_attr(attrs: str, name: str, value: str) -> str:
    pattern = re.compile(r"((?:^|\s)" + name + r"\s*=\s*)(\"[^\"]*\"|'[^']*'|[^\s\"'>]+)", re.I)
    return pattern.sub(lambda m: m.group(1) + '"' + html.escape(value) + '"', attrs, count=1)


# -- configuration ----------------------------------------------------------------------


@dataclass
class _Entry:
    key: str
    value: Any  # str | None | list[_Entry]
    line: int


def _entries(node: yaml.Node | None) -> list[_Entry]:
    """A YAML mapping as ordered entries with their line numbers (duplicates kept)."""
    if not isinstance(node, yaml.MappingNode):
        return []
    out = []
    for key_node, value_node in node.value:
        key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else ""
        value: Any
        if isinstance(value_node, yaml.MappingNode):
            value = _entries(value_node)
        elif isinstance(value_node, yaml.ScalarNode):
            value = None if value_node.tag.endswith(":null") else str(value_node.value)
        else:
            value = yaml.safe_load(yaml.serialize(value_node))
        out.append(_Entry(key, value, key_node.start_mark.line + 1))
    return out


def _child(entries: list[_Entry], key: str) -> _Entry | None:
    for e in entries:
        if e.key == key:
            return e
    return None


# -- link targets -----------------------------------------------------------------------


@dataclass
class _Target:
    kind: str  # page | file | external | anchor | unknown
    path: str = ""  # docs-relative path (page .md, image, diagram)
    anchor: str = ""
    url: str = ""  # external URL
    reason: str = ""  # unknown: why; otherwise a note to list (partial conversion)


@dataclass
class _Placeholder:
    kind: str  # diagram | json | deps | sql | unknown
    line: int
    raw: str
    arg: str = ""
    data: Any = None
    block: bool = False  # renders as a block (hoisted out of raw HTML)


@dataclass
class _Page:
    stem: str
    source: Path
    rel_source: str  # for messages, relative to the IG source folder
    path: str  # docs-relative output path
    title: str = ""
    lines: list[Line] = field(default_factory=list)
    placeholders: list[_Placeholder] = field(default_factory=list)
    anchors: dict[str, str] = field(default_factory=dict)  # IG anchor candidates -> our id
    ids: set[str] = field(default_factory=set)
    first_heading: str = ""  # the first level-1 heading
    fragment: bool = False


# -- the converter ----------------------------------------------------------------------


class _Converter:
    def __init__(self, source: Path, docs_dir: Path, links: PageLinks, plantuml: str | None):
        self.source = source
        self.docs_dir = docs_dir
        self.links = links
        self.plantuml = plantuml if plantuml is not None else shutil.which("plantuml")
        self.result = ConvertedPages()
        self.pagecontent = source / "input" / "pagecontent"
        self.images_dir = source / "input" / "images"
        self.includes_dir = source / "input" / "includes"
        self.config_entries: list[_Entry] = []
        self.config: dict[str, Any] = {}
        self.pages: dict[str, _Page] = {}  # stem -> page
        self.images: set[str] = set()  # paths relative to input/images
        self.diagrams: list[Diagram] = []
        self.diagram_names: dict[str, Diagram] = {}
        self.variables: dict[str, Any] = {}
        self.lang = "en"
        self.copy_list_files: set[Path] = set()
        self.copy_targets: set[str] | None = None
        self.copy_aliases: dict[str, str] = {}  # copy-only source stem -> its first copy

    # messages

    def unconverted(self, where: str, what: str) -> None:
        self.result.unconverted.append(f"{where}: {what}")

    # setup

    def read_config(self) -> None:
        path = self.source / "sushi-config.yaml"
        if not path.is_file():  # pages in file order, titled by their first heading
            return
        text = path.read_text(encoding="utf-8-sig")
        try:
            self.config = yaml.safe_load(text) or {}
            self.config_entries = _entries(yaml.compose(text))
        except yaml.YAMLError as exc:
            self.unconverted("sushi-config.yaml", f"not readable YAML ({exc}); ignored")
            self.config = {}
        if not isinstance(self.config, dict):
            self.config = {}

    def setup_variables(self) -> None:
        cfg = self.config
        fhir_version = cfg.get("fhirVersion")
        if isinstance(fhir_version, list):
            fhir_version = fhir_version[0] if fhir_version else None
        fhir_version = str(fhir_version or "4.0.1")
        spec = _FHIR_PATHS.get(".".join(fhir_version.split(".")[:2]), "http://hl7.org/fhir/R4/")
        canonical = str(cfg.get("canonical") or "")
        version = str(cfg.get("version") or "")
        values = {
            "site.data.fhir.path": spec,
            "site.data.fhir.version": fhir_version,
            "site.data.fhir.canonical": canonical,
            "site.data.fhir.packageId": cfg.get("packageId") or cfg.get("id"),
            "site.data.fhir.igId": cfg.get("id"),
            "site.data.fhir.igName": cfg.get("name"),
            "site.data.fhir.igVer": version,
            "site.data.fhir.ig.id": cfg.get("id"),
            "site.data.fhir.ig.name": cfg.get("name"),
            "site.data.fhir.ig.title": cfg.get("title"),
            "site.data.fhir.ig.url": f"{canonical}/ImplementationGuide/{cfg.get('id')}",
            "site.data.fhir.ig.version": version,
            "site.data.fhir.ig.status": cfg.get("status"),
            "site.data.info.releaselabel": cfg.get("releaseLabel"),
            "site.data.info.version": version,
            "site.data.info.title": cfg.get("title"),
            "site.data.info.name": cfg.get("name"),
            "site.data.info.canonical": canonical,
            "site.data.info.status": cfg.get("status"),
        }
        self.variables = {k: v for k, v in values.items() if v not in (None, "")}
        lang = self.links.language
        if not lang:
            params = cfg.get("parameters")
            lang_value = params.get("i18n-default-lang") if isinstance(params, dict) else None
            french = "#FR" in str(cfg.get("jurisdiction", ""))
            lang = str(lang_value or cfg.get("language") or ("fr" if french else "en"))
        self.lang = lang[:2].lower() if lang[:2].lower() in _TEXTS else "en"

    def t(self, key: str) -> str:
        return _TEXTS[self.lang][key]

    def config_pages(self) -> list[tuple[str, str, int]]:
        """``pages:`` flattened: (file name, title, line)."""
        out: list[tuple[str, str, int]] = []

        def walk(entries: list[_Entry]) -> None:
            for e in entries:
                title = ""
                children: list[_Entry] = []
                if isinstance(e.value, list):
                    for sub in e.value:
                        if sub.key == "title" and isinstance(sub.value, str):
                            title = sub.value.strip()
                        elif isinstance(sub.value, list) or re.search(r"\.\w+$", sub.key):
                            children.append(sub)
                out.append((e.key, title, e.line))
                walk(children)

        pages = _child(self.config_entries, "pages")
        if pages is not None and isinstance(pages.value, list):
            walk(pages.value)
        return out

    def discover_pages(self) -> None:
        configured = self.config_pages()
        titles = {}
        for name, title, line in configured:
            stem, ext = posixpath.splitext(name)
            path = self.pagecontent / name
            if ext == ".md" and (path.is_file() or self.is_copy_target(name)):
                titles[stem] = title
            elif ext == ".md":
                self.unconverted(
                    f"sushi-config.yaml:{line}",
                    f"page {name} ({title or 'no title'}) is listed in pages: but "
                    f"input/pagecontent/{name} does not exist; not converted",
                )
            elif not path.is_file() and ext in (".xml", ".html"):
                self.unconverted(
                    f"sushi-config.yaml:{line}",
                    f"page {name}: input/pagecontent/{name} does not exist",
                )
        files = sorted(self.pagecontent.iterdir()) if self.pagecontent.is_dir() else []
        copies = self.copy_lists(files)
        for path in files:
            rel = path.relative_to(self.source).as_posix()
            if path.is_dir():
                self.unconverted(rel, "folder inside pagecontent: not read")
                continue
            if path in self.copy_list_files:
                continue
            frag = re.match(r"^(.+)-(intro|notes)\.md$", path.name)
            if frag and frag.group(1) in self.links.artefact_pages:
                self.add_fragment(path, frag.group(1), frag.group(2))
                continue
            if path.suffix != ".md":
                self.unconverted(
                    rel, f"not a markdown page ({path.suffix or 'no extension'}); not converted"
                )
                continue
            stem = path.stem
            self.pages[stem] = _Page(stem, path, rel, f"{stem}.md", titles.get(stem, ""))
        self.add_copies(copies, titles, {posixpath.splitext(n)[0] for n, _t, _l in configured})
        notes_dir = self.source / "input" / "intro-notes"
        if notes_dir.is_dir():
            for path in sorted(notes_dir.iterdir()):
                frag = re.match(r"^(.+)-(intro|notes)\.md$", path.name)
                if frag and frag.group(1) in self.links.artefact_pages:
                    self.add_fragment(path, frag.group(1), frag.group(2))
                else:
                    self.unconverted(
                        path.relative_to(self.source).as_posix(),
                        "intro/notes file of no known artefact; not converted",
                    )

    # page copy lists: `source.md;target.md` lines in a pagecontent .txt file (the IG's
    # build copies each source page to its targets, e.g. one page per use case)

    def is_copy_target(self, name: str) -> bool:
        if self.copy_targets is None:
            files = sorted(self.pagecontent.iterdir()) if self.pagecontent.is_dir() else []
            self.copy_lists(files)
        assert self.copy_targets is not None
        return name in self.copy_targets

    def copy_lists(self, files: list[Path]) -> list[tuple[str, str, str]]:
        """(source, target, "list file:line") of every copy list of ``files``."""
        out: list[tuple[str, str, str]] = []
        self.copy_targets = set()
        for path in files:
            if path.suffix.lower() != ".txt" or not path.is_file():
                continue
            text = path.read_text(encoding="utf-8-sig", errors="replace")
            lines = [(k, ln) for k, ln in enumerate(text.splitlines(), 1) if ln.strip()]
            pairs = [(k, _COPY_LINE.match(ln)) for k, ln in lines]
            if not pairs or any(m is None for _k, m in pairs):
                continue  # not a copy list: reported as a non-page file
            self.copy_list_files.add(path)
            rel = path.relative_to(self.source).as_posix()
            for k, m in pairs:
                assert m is not None
                out.append((m.group(1), m.group(2), f"{rel}:{k}"))
                self.copy_targets.add(m.group(2))
        return out

    def add_copies(
        self, copies: list[tuple[str, str, str]], titles: dict[str, str], configured: set[str]
    ) -> None:
        sources: dict[str, list[str]] = {}
        for source, target, where in copies:
            src_stem = posixpath.splitext(source)[0]
            stem = posixpath.splitext(target)[0]
            if stem in self.pages:
                self.unconverted(
                    where,
                    f"copy of {source} to {target}: input/pagecontent/{target} exists; "
                    "the existing page is kept",
                )
                continue
            if src_stem not in self.pages or self.pages[src_stem].fragment:
                self.unconverted(
                    where,
                    f"copy of {source} to {target}: input/pagecontent/{source} does not "
                    f"exist; {target} not produced",
                )
                continue
            src = self.pages[src_stem]
            self.pages[stem] = _Page(
                stem, src.source, src.rel_source, f"{stem}.md", titles.get(stem, "")
            )
            sources.setdefault(src_stem, []).append(stem)
        menu = self.menu_stems()
        for src_stem in sources:
            if src_stem not in configured and src_stem not in menu:
                # only a copy source: its copies are the pages (links to it go to the first)
                self.copy_aliases[src_stem] = sources[src_stem][0]
                del self.pages[src_stem]

    def menu_stems(self) -> set[str]:
        out: set[str] = set()

        def walk(entries: list[_Entry]) -> None:
            for e in entries:
                if isinstance(e.value, list):
                    walk(e.value)
                elif isinstance(e.value, str):
                    name = posixpath.basename(e.value.split("#")[0].strip())
                    out.add(posixpath.splitext(name)[0])

        menu = _child(self.config_entries, "menu")
        if menu is not None and isinstance(menu.value, list):
            walk(menu.value)
        return out

    def add_fragment(self, path: Path, stem: str, part: str) -> None:
        key = f"{stem}-{part}"
        page = _Page(
            key,
            path,
            path.relative_to(self.source).as_posix(),
            self.links.artefact_pages[stem],
            fragment=True,
        )
        self.pages[" fragment " + key] = page

    def copy_images(self) -> None:
        if not self.images_dir.is_dir():
            return
        target_root = self.docs_dir / "images"
        for path in sorted(self.images_dir.rglob("*")):
            if not path.is_file():
                continue
            rel = path.relative_to(self.images_dir).as_posix()
            target = target_root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            self.images.add(rel)
            self.result.images.append(target)

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

    def liquid_pieces(
        self, text: str, page: _Page, depth: int = 0, origin: str = ""
    ) -> list[liquid.Piece]:
        """Liquid evaluated; ``{% include %}`` of ``input/includes/`` files spliced in."""
        tokens = liquid.tokenize(text)
        evaluated = liquid.evaluate(tokens, self.variables)
        for line, problem in evaluated.problems:
            self.unconverted(f"{origin or page.rel_source}:{line}", problem)
        out: list[liquid.Piece] = []
        includes = self.includes_dir.resolve()
        for piece in evaluated.pieces:
            if isinstance(piece, Tag) and piece.name == "include" and depth < 5:
                name = piece.body.split()[0] if piece.body.split() else ""
                path = (self.includes_dir / name).resolve()
                if (
                    name
                    and path.is_relative_to(includes)
                    and path.is_file()
                    and path.suffix in (".md", ".html", ".xhtml")
                ):
                    inner = path.read_text(encoding="utf-8-sig")
                    rel = path.relative_to(self.source.resolve()).as_posix()
                    for sub in self.liquid_pieces(inner, page, depth + 1, rel):
                        sub.line = piece.line  # its lines are the include tag's
                        out.append(sub)
                    continue
            out.append(piece)
        return out

    def to_lines(self, pieces: list[liquid.Piece], page: _Page) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []
        buf = ""
        buf_src = 1
        for piece in pieces:
            if isinstance(piece, Text):
                parts = piece.text.split("\n")
                for k, part in enumerate(parts):
                    if k > 0:
                        out.append((buf, buf_src))
                        buf = ""
                        buf_src = piece.line + k
                    elif not buf:
                        buf_src = piece.line
                    buf += part
                continue
            ph = self.placeholder(piece, page)
            if not buf:
                buf_src = piece.line
            buf += f"{PH_OPEN}{len(page.placeholders)}{PH_CLOSE}"
            page.placeholders.append(ph)
        out.append((buf, buf_src))
        return out

    def placeholder(self, tag: Tag, page: _Page) -> _Placeholder:
        where = f"{page.rel_source}:{tag.line}"
        if tag.output:
            self.unconverted(
                where,
                f"Liquid output {tag.raw} not resolved (unknown variable or filter); shown as text",
            )
            return _Placeholder("unknown", tag.line, tag.raw)
        if tag.name == "include":
            name = tag.body.split()[0] if tag.body.split() else ""
            if name.endswith("-json-html.xhtml"):
                stem = name[: -len("-json-html.xhtml")]
                if stem in self.links.examples_json:
                    return _Placeholder("json", tag.line, tag.raw, stem, block=True)
                self.unconverted(
                    where, f"{tag.raw}: no example {stem} in the package; shown as text"
                )
                return _Placeholder("unknown", tag.line, tag.raw)
            if name in ("dependency-table.xhtml", "dependency-table-short.xhtml"):
                return _Placeholder("deps", tag.line, tag.raw, block=True)
            if name.endswith(".svg"):
                stem = name[:-4]
                if stem in self.diagram_names:
                    d = self.diagram_names[stem]
                    d.used_by.append(page.path)
                    return _Placeholder("diagram", tag.line, tag.raw, stem, block=not d.svg)
                if stem + ".svg" in self.images:
                    return _Placeholder("image", tag.line, tag.raw, stem + ".svg")
                self.unconverted(
                    where,
                    f"{tag.raw}: no PlantUML source for {name} in "
                    "input/images-source; shown as text",
                )
                return _Placeholder("unknown", tag.line, tag.raw)
            self.unconverted(
                where,
                f"{tag.raw}: an IG Publisher fragment this converter does "
                "not produce; shown as text",
            )
            return _Placeholder("unknown", tag.line, tag.raw)
        if tag.name == "sql":
            return self.sql_placeholder(tag, where)
        if tag.name in (
            "if",
            "elsif",
            "else",
            "endif",
            "unless",
            "endunless",
            "for",
            "endfor",
            "case",
            "when",
            "endcase",
            "capture",
            "endcapture",
            "tablerow",
            "endtablerow",
        ):
            # the block was reported when it was evaluated
            return _Placeholder("unknown", tag.line, tag.raw)
        self.unconverted(where, f"Liquid tag {tag.raw} not supported; shown as text")
        return _Placeholder("unknown", tag.line, tag.raw)

    def sql_placeholder(self, tag: Tag, where: str) -> _Placeholder:
        spec = tag.data
        if tag.problem:
            self.unconverted(where, f"{{% sql %}}: {tag.problem}; shown as text")
            return _Placeholder("unknown", tag.line, tag.raw)
        if spec is None:
            spec = {"query": tag.body}
        if not isinstance(spec, dict) or not isinstance(spec.get("query"), str):
            self.unconverted(where, "{% sql %} without a query; shown as text")
            return _Placeholder("unknown", tag.line, tag.raw)
        query = " ".join(spec["query"].split())
        try:
            result = liquid.run_sql(
                spec["query"],
                self.links.resources,
                ["Id", "Type", "Name", "Title", "Description", "Url", "Web"],
            )
        except SqlError as exc:
            self.unconverted(
                where, f"{{% sql %}} query not supported ({exc}): {query}; shown as text"
            )
            return _Placeholder("unknown", tag.line, tag.raw)
        columns = spec.get("columns")
        cols: list[dict[str, str]] = []
        if isinstance(columns, list) and columns:
            for c in columns:
                if not isinstance(c, dict) or not isinstance(c.get("source"), str):
                    self.unconverted(
                        where, f"{{% sql %}} column {c!r} not understood; shown as text"
                    )
                    return _Placeholder("unknown", tag.line, tag.raw)
                if c["source"] not in result.columns or (
                    c.get("target") and c["target"] not in result.columns
                ):
                    missing = c.get("target") if c["source"] in result.columns else c["source"]
                    self.unconverted(
                        where,
                        f"{{% sql %}} column {missing!r} is not selected "
                        f"by the query: {query}; shown as text",
                    )
                    return _Placeholder("unknown", tag.line, tag.raw)
                cols.append({k: str(v) for k, v in c.items()})
        else:
            cols = [{"title": c, "type": "text", "source": c} for c in result.columns]
        return _Placeholder("sql", tag.line, tag.raw, data=(cols, result.rows), block=True)

    # nav

    def nav(self) -> list[Any]:
        menu = _child(self.config_entries, "menu")
        nav: list[Any] = []
        in_nav: set[str] = set()
        if menu is not None and isinstance(menu.value, list):
            nav = self.menu_items(menu.value, in_nav)
        extra: list[str] = []
        for name, _title, _line in self.config_pages():
            stem = posixpath.splitext(name)[0]
            if stem in self.pages and stem not in extra:
                extra.append(stem)
        extra += sorted(
            (s for s in self.pages if s not in extra and not self.pages[s].fragment),
            key=lambda s: (s != "index", s),  # without a menu, the home page first
        )
        for stem in extra:
            page = self.pages[stem]
            if page.path not in in_nav:
                nav.append({self.title_of(page): page.path})
                in_nav.add(page.path)
        return nav

    def title_of(self, page: _Page) -> str:
        if page.title or page.first_heading:
            return page.title or page.first_heading
        words = re.sub(r"[_\-]+", " ", page.stem).strip()
        return words[:1].upper() + words[1:]

    def menu_items(self, entries: list[_Entry], in_nav: set[str]) -> list[Any]:
        out: list[Any] = []
        group: tuple[str, list[Any], int] | None = None

        def close_group() -> None:
            nonlocal group
            if group is None:
                return
            label, items, line = group
            if items:
                out.append({label: items})
            else:
                self.unconverted(
                    f"sushi-config.yaml:{line}",
                    f"menu separator '{label}' dropped: no page under it",
                )
            group = None

        for e in entries:
            title = e.key.strip()
            where = f"sushi-config.yaml:{e.line}"
            if isinstance(e.value, list):
                children = self.menu_items(e.value, in_nav)
                target = group[1] if group else out
                if children:
                    target.append({title: children})
                else:
                    self.unconverted(where, f"menu '{title}' dropped: none of its pages exist")
                continue
            if e.value is None or not str(e.value).strip():
                close_group()
                label = re.sub(r"^[\s_\-=*]+|[\s_\-=*]+$", "", title)
                if label:
                    group = (label, [], e.line)
                else:
                    self.unconverted(where, f"menu separator '{title}' dropped (no label)")
                continue
            entry = self.menu_entry(title, str(e.value).strip(), where, in_nav)
            if entry is not None:
                (group[1] if group else out).append(entry)
        close_group()
        return out

    def menu_entry(
        self, title: str, value: str, where: str, in_nav: set[str]
    ) -> dict[str, str] | None:
        if value.startswith("new-tab "):
            value = value[len("new-tab ") :].strip()
        if "{{" in value or "{%" in value:
            try:
                pieces = liquid.evaluate(liquid.tokenize(value), self.variables).pieces
            except liquid.LiquidSyntaxError:
                pieces = []
            if not pieces or any(isinstance(p, Tag) for p in pieces):
                self.unconverted(
                    where, f"menu '{title}' -> {value}: Liquid not resolved; left out of the nav"
                )
                return None
            value = "".join(p.text for p in pieces if isinstance(p, Text))
        if re.match(r"^[a-zA-Z][\w+.-]*:", value) or value.startswith("//"):
            return {title: value}
        target = self.resolve(value, None)
        if target.kind == "page":
            if target.anchor:
                self.unconverted(
                    where,
                    f"menu '{title}' -> {value}: the anchor is dropped "
                    "(a nav entry links a whole page)",
                )
            in_nav.add(target.path)
            return {title: target.path}
        if target.kind == "external":
            return {title: target.url}
        if target.kind == "file":
            return {title: target.path}
        stem = posixpath.splitext(posixpath.basename(value.split("#")[0]))[0]
        self.unconverted(
            where,
            f"menu '{title}' -> {value}: no page input/pagecontent/{stem}.md "
            f"(nor an artefact page); left out of the nav",
        )
        return None

    # links

    def resolve(self, url: str, page: _Page | None) -> _Target:
        raw = url.strip()
        if not raw:
            return _Target("unknown", reason="empty link")
        if re.match(r"^[a-zA-Z][\w+.-]*:", raw) or raw.startswith("//"):
            return _Target("external", url=raw)
        path, _, anchor = raw.partition("#")
        path = path.split("?", 1)[0]
        path = unquote(path)
        anchor = unquote(anchor)
        if not path:
            if page is None:
                return _Target("unknown", reason="anchor without a page")
            return _Target("anchor", path=page.path, anchor=anchor)
        if path.startswith("/"):
            return _Target("unknown", reason="site-absolute link")
        norm = posixpath.normpath(path)
        if norm.startswith("../"):
            name = re.sub(r"^(\.\./)+", "", norm)
            if _PUBLISHER_OUTPUT.match(name) and self.variables.get("site.data.fhir.canonical"):
                canonical = str(self.variables["site.data.fhir.canonical"]).rstrip("/")
                return _Target("external", url=f"{canonical}/{name}")
            return _Target("unknown", reason="outside the IG")
        name = norm
        lower = name.lower()
        ap = self.links.artefact_pages
        if lower.endswith((".html", ".htm")):
            stem = name.rsplit(".", 1)[0]
            stem = self.copy_aliases.get(stem, stem)
            if stem in self.pages and not self.pages[stem].fragment:
                return _Target("page", path=self.pages[stem].path, anchor=anchor)
            if stem in ap:
                return _Target("page", path=ap[stem], anchor=anchor)
            fmt = _RESOURCE_FORMAT.match(stem)
            if fmt and fmt.group(1) in ap:
                return _Target("page", path=ap[fmt.group(1)], anchor=anchor)
            sub = _SUBPAGE.match(stem)
            if sub and sub.group(1) in ap:
                return _Target(
                    "page",
                    path=ap[sub.group(1)],
                    reason=f"no {sub.group(2)} page: linked to the artefact page"
                    + (f", anchor #{anchor} dropped" if anchor else ""),
                )
            return _Target("unknown", reason="no such page")
        md_stem = self.copy_aliases.get(name[:-3], name[:-3])
        if lower.endswith(".md") and md_stem in self.pages:
            return _Target("page", path=self.pages[md_stem].path, anchor=anchor)
        for candidate in (name, name.removeprefix("images/")):
            if candidate in self.images:
                return _Target("file", path=f"images/{candidate}")
        if lower.endswith(".svg") and name[:-4] in self.diagram_names:
            d = self.diagram_names[name[:-4]]
            if page is not None:
                d.used_by.append(page.path)
            if d.svg:
                return _Target("file", path=f"diagrams/{name[:-4]}.svg")
            return _Target("unknown", reason=f"diagram not rendered ({d.failure})")
        fmt = _RESOURCE_FORMAT.match(name)
        if fmt and fmt.group(1) in ap:
            return _Target("page", path=ap[fmt.group(1)], anchor=anchor)
        if _PUBLISHER_OUTPUT.match(name) and self.variables.get("site.data.fhir.canonical"):
            canonical = str(self.variables["site.data.fhir.canonical"]).rstrip("/")
            return _Target("external", url=f"{canonical}/{name}")
        if lower.endswith(_IMAGE_EXTS):
            return _Target("unknown", reason="no such image in input/images")
        return _Target("unknown", reason="no such page or file")

    def map_anchor(self, target: _Target, page: _Page, where: str, shown: str) -> str:
        """The id our page has for an IG Publisher anchor ("" and listed when none)."""
        if not target.anchor:
            return ""
        owner = next(
            (p for p in self.pages.values() if p.path == target.path and not p.fragment), None
        )
        if owner is None:
            return target.anchor  # an artefact page: its ids are the lead's
        if target.anchor in owner.ids:
            return target.anchor
        mapped = owner.anchors.get(target.anchor.lower())
        if mapped is None:
            mapped = owner.anchors.get(mkdocs_slug(target.anchor))
        if mapped is None:
            self.unconverted(
                where,
                f"link {shown}: no heading for #{target.anchor} in "
                f"{owner.rel_source}; linked to the page without the anchor",
            )
            return ""
        return mapped

    def built_url(self, path: str) -> str:
        if not path.endswith(".md"):
            return path
        if not self.links.use_directory_urls:
            return path[:-3] + ".html"
        if path == "index.md":
            return ""
        if path.endswith("/index.md"):
            return path[: -len("index.md")]
        return path[:-3] + "/"

    def relative(self, target_path: str, page: _Page, html_mode: bool) -> str:
        if html_mode:
            target = self.built_url(target_path)
            here = self.built_url(page.path)
            base = here if here.endswith("/") or here == "" else posixpath.dirname(here)
            base = base.rstrip("/")
            rel = posixpath.relpath(target.rstrip("/") or ".", base or ".")
            if target.endswith("/") or target == "":
                rel = "./" if rel == "." else rel + "/"
            return _quote_path(rel)
        base = posixpath.dirname(page.path)
        return _quote_path(posixpath.relpath(target_path, base or "."))

    def link_url(
        self, target: _Target, page: _Page, html_mode: bool, where: str, shown: str
    ) -> str:
        if target.kind == "external":
            return target.url
        if target.reason:
            self.unconverted(where, f"link {shown}: {target.reason}")
        anchor = ""
        if target.kind in ("page", "anchor"):
            anchor = self.map_anchor(target, page, where, shown)
        suffix = f"#{quote(anchor, safe='-_.~')}" if anchor else ""
        if target.kind == "anchor" or (
            target.kind == "page" and target.path == page.path and anchor
        ):
            return suffix or "#"
        return self.relative(target.path, page, html_mode) + suffix

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

    def rewrite_markdown(self, text: str, page: _Page, where: Callable[[int], str]) -> str:
        codes: list[str] = []
        masked = _mask_code_spans(text, codes)
        dead: set[str] = set()

        def show(s: str) -> str:
            return _CODE_RE.sub(lambda c: codes[int(c.group(1))], s)

        def refdef(m: re.Match[str]) -> str:
            label, url = m.group(2), m.group(3).strip("<>")
            if label.startswith("^"):
                return m.group(0)
            shown = show(f"[{label}]: {url}")
            target = self.resolve(url, page)
            if target.kind == "unknown":
                self.unconverted(
                    where(_line_of(m)),
                    f"reference link {shown}: {target.reason}; link dropped, text kept",
                )
                dead.add(label.lower())
                return ""
            new = self.link_url(target, page, False, where(_line_of(m)), shown)
            return f"{m.group(1)}[{label}]: {new}{m.group(4)}"

        masked = _REF_DEF.sub(refdef, masked)

        def inline(m: re.Match[str]) -> str:
            bang, label, url, title = m.group(1), m.group(2), m.group(3), m.group(4) or ""
            if not bang:
                label = _INLINE_LINK.sub(inline, label)
            url_clean = url[1:-1] if url.startswith("<") else url
            shown = show(f"{bang}[{label}]({url_clean})")
            if PH_OPEN in url_clean:
                self.unconverted(
                    where(_line_of(m)),
                    f"link {shown}: its URL holds unresolved Liquid; link dropped, text kept",
                )
                return label
            target = self.resolve(url_clean, page)
            if target.kind == "unknown":
                what = "image" if bang else "link"
                self.unconverted(
                    where(_line_of(m)),
                    f"{what} {shown}: {target.reason}; {what} dropped, text kept",
                )
                return f"*{label}*" if bang and label else label
            new = self.link_url(target, page, False, where(_line_of(m)), shown)
            return f"{bang}[{label}]({new}{title})"

        masked = _INLINE_LINK.sub(inline, masked)
        if dead:

            def ref_use(m: re.Match[str]) -> str:
                text_, label = m.group(1), m.group(2)
                key = (label or text_).lower()
                return text_ if key in dead else m.group(0)

            masked = re.sub(r"\[([^\[\]]+)\](?:\[([^\[\]]*)\])?(?![(:])", ref_use, masked)
        masked = self.rewrite_html(masked, page, where)
        return _unmask_code_spans(masked, codes, page)

    def rewrite_html(self, text: str, page: _Page, where: Callable[[int], str]) -> str:
        def anchor_pair(m: re.Match[str]) -> str:
            attrs, inner = m.group(1) or "", m.group(2)
            first = _line_of(m) + m.string.count("\n", m.start(), m.start(2))
            inner = self.rewrite_html(inner, page, lambda k: where(first + k))
            href = _attr_value(attrs, "href")
            if href is None:
                return f"<a{attrs}>{inner}</a>"
            shown = f'<a href="{href}">'
            if PH_OPEN in href:
                self.unconverted(
                    where(_line_of(m)),
                    f"link {shown}: its URL holds unresolved Liquid; link dropped, text kept",
                )
                return inner
            target = self.resolve(href, page)
            if target.kind == "unknown":
                self.unconverted(
                    where(_line_of(m)), f"link {shown}: {target.reason}; link dropped, text kept"
                )
                return inner
            new = self.link_url(target, page, True, where(_line_of(m)), shown)
            return f"<a{_set_attr(attrs, 'href', new)}>{inner}</a>"

        text = re.sub(r"<a(\s[^<>]*)?>(.*?)</a\s*>", anchor_pair, text, flags=re.S | re.I)

        def iframe(m: re.Match[str]) -> str:
            attrs = m.group(1) or ""
            src = _attr_value(attrs, "src") or ""
            target_src = src.split("#")[0].split("?")[0]
            fmt = _RESOURCE_FORMAT.match(posixpath.basename(unquote(target_src)))
            if fmt and fmt.group(1) in self.links.examples_json:
                line = int(where(_line_of(m)).rsplit(":", 1)[1])
                ph = _Placeholder("json", line, m.group(0), fmt.group(1), block=True)
                page.placeholders.append(ph)
                return f"{PH_OPEN}{len(page.placeholders) - 1}{PH_CLOSE}"
            target = self.resolve(src, page)
            if target.kind == "external":
                return m.group(0)
            if target.kind == "unknown":
                self.unconverted(
                    where(_line_of(m)), f'<iframe src="{src}">: {target.reason}; iframe dropped'
                )
                return ""
            new = self.link_url(target, page, True, where(_line_of(m)), f'<iframe src="{src}">')
            return m.group(0).replace(m.group(1), _set_attr(attrs, "src", new), 1)

        text = re.sub(r"<iframe(\s[^<>]*)?>(?:.*?</iframe\s*>)?", iframe, text, flags=re.S | re.I)

        def other(m: re.Match[str]) -> str:
            tag, attrs = m.group(1), m.group(2)
            if tag.lower() in ("a", "iframe"):
                return m.group(0)
            for attr in ("src", "href", "data", "poster"):
                value = _attr_value(attrs, attr)
                if value is None:
                    continue
                shown = f'<{tag} {attr}="{value}">'
                target = self.resolve(value, page)
                if target.kind == "unknown":
                    if tag.lower() == "img":
                        alt = _attr_value(attrs, "alt") or ""
                        self.unconverted(
                            where(_line_of(m)),
                            f"image {shown}: {target.reason}; "
                            "image dropped" + (", alt text kept" if alt else ""),
                        )
                        return f"<em>{html.escape(alt)}</em>" if alt else ""
                    self.unconverted(where(_line_of(m)), f"{shown}: {target.reason}; kept as is")
                    continue
                if target.kind == "external":
                    continue
                new = self.link_url(target, page, True, where(_line_of(m)), shown)
                attrs = _set_attr(attrs, attr, new)
            return f"<{tag}{attrs}{m.group(3)}>"

        return re.sub(
            r"<(img|source|link|script|embed|video|audio|object|input|track)"
            r"(\s(?:\"[^\"]*\"|'[^']*'|[^'\">])*?)?(/?)>",
            lambda m: other(m) if m.group(2) else m.group(0),
            text,
            flags=re.I,
        )

    def expand(self, text: str, page: _Page, context: str, hoisted: list[str]) -> str:
        """Placeholders replaced by what their tag becomes, as the context allows."""

        def one(p: re.Match[str]) -> str:
            ph = page.placeholders[int(p.group(1))]
            if context == "code":
                return ph.raw
            if ph.block:
                block = self.block_markdown(ph, page)
                if context == "html":  # raw HTML cannot hold markdown: after the block
                    hoisted.append(block)
                    return ""
                return "\n\n" + block + "\n\n"
            return self.inline_markdown(ph, page, context == "html")

        out: list[str] = []
        for line in text.split("\n"):
            if PH_OPEN not in line:
                out.append(line)
                continue
            alone = _PH_RE.fullmatch(line.strip())
            if alone and context == "md" and page.placeholders[int(alone.group(1))].block:
                pad = line[: len(line) - len(line.lstrip())]
                block = self.block_markdown(page.placeholders[int(alone.group(1))], page)
                out.append("")
                out.extend((pad + b) if b else "" for b in block.split("\n"))
                out.append("")
                continue
            out.append(_PH_RE.sub(one, line))
        return "\n".join(out)

    def inline_markdown(self, ph: _Placeholder, page: _Page, html_mode: bool) -> str:
        if ph.kind == "diagram":
            svg = f"diagrams/{ph.arg}.svg"
            if html_mode:
                url = self.relative(svg, page, True)
                return f'<img src="{url}" alt="{html.escape(ph.arg)}">'
            return f"![{ph.arg}]({self.relative(svg, page, False)})"
        if ph.kind == "image":
            if html_mode:
                return f'<img src="{self.relative("images/" + ph.arg, page, True)}" alt="">'
            return f"![{ph.arg}]({self.relative('images/' + ph.arg, page, False)})"
        raw = html.escape(ph.raw)
        if "\n" in raw:
            return f"<pre><code>{raw}</code></pre>"
        return f"<code>{raw}</code>"

    def block_markdown(self, ph: _Placeholder, page: _Page) -> str:
        if ph.kind == "json":
            text = self.links.examples_json[ph.arg].rstrip("\n")
            fence = _fence_for(text)
            lines = []
            if ph.arg in self.links.artefact_pages:
                rtype, _, rid = ph.arg.partition("-")
                url = self.relative(self.links.artefact_pages[ph.arg], page, False)
                lines += [f"[{rtype}/{rid}]({url})", ""]
            else:
                self.unconverted(
                    f"{page.rel_source}:{ph.line}",
                    f"example {ph.arg}: no example page to link to; JSON shown",
                )
            lines += [f"{fence}json", text, fence]
            return "\n".join(lines)
        if ph.kind == "deps":
            rows = self.links.dependency_rows
            if not rows:
                return f"*{self.t('no_dependencies')}*"
            head = [self.t("package"), self.t("version"), self.t("status")]
            lines = ["| " + " | ".join(head) + " |", "| --- | --- | --- |"]
            for r in rows:
                cells = [r.get("Package", ""), r.get("Version", ""), r.get("Status", "")]
                lines.append("| " + " | ".join(_md_escape_cell(c) for c in cells) + " |")
            return "\n".join(lines)
        if ph.kind == "sql":
            cols, rows = ph.data
            lines = [
                "| "
                + " | ".join(_md_escape_cell(c.get("title") or c["source"]) for c in cols)
                + " |",
                "| " + " | ".join("---" for _ in cols) + " |",
            ]
            for r in rows:
                cells = []
                for c in cols:
                    value = str(r.get(c["source"]) or "")
                    if c.get("type") == "link" and c.get("target"):
                        target = str(r.get(c["target"]) or "")
                        if re.match(r"^[a-zA-Z][\w+.-]*:", target):
                            cells.append(f"[{_md_escape_cell(value)}]({target})")
                        elif target:
                            url = self.relative(target, page, False)
                            cells.append(f"[{_md_escape_cell(value)}]({url})")
                        else:
                            cells.append(_md_escape_cell(value))
                    elif c.get("type") == "markdown":
                        rewritten = self.rewrite_markdown(
                            value, page, lambda o: f"{page.rel_source}:{ph.line}"
                        )
                        cells.append(_md_escape_cell(rewritten))
                    else:
                        cells.append(_md_escape_cell(value))
                lines.append("| " + " | ".join(cells) + " |")
            return "\n".join(lines)
        if ph.kind == "diagram":
            d = self.diagram_names[ph.arg]
            note = self.t("diagram_body").format(name=ph.arg, reason=d.failure)
            fence = _fence_for(d.text)
            return "\n".join(
                [
                    f'!!! note "{self.t("diagram_title")}"',
                    f"    {note}",
                    "",
                    f"{fence}plantuml",
                    d.text.strip("\n"),
                    fence,
                ]
            )
        return self.inline_markdown(ph, page, False)

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


_REF_DEF = re.compile(
    r"^( {0,3})\[([^\]\n]+)\]:[ \t]*(<[^>\n]*>|\S+)((?:[ \t]+(?:\"[^\"\n]*\"|'[^'\n]*'"
    r"|\([^)\n]*\)))?[ \t]*)$",
    re.M,
)
_INLINE_LINK = re.compile(
    r"(!?)\[((?:[^\[\]\\]|\\.|\[(?:[^\[\]\\]|\\.)*\])*)\]"
    r"\(\s*(<[^<>\n]*>|(?:[^\s()\\]|\\.|\((?:[^\s()\\]|\\.)*\))*)"
    r"(\s+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^()\n]*\)))?\s*\)"
)


def _message_order(message: str) -> tuple[int, str, int]:
    """The configuration first, then the pages in name order, each by line."""
    m = re.match(r"^([^:]+?)(?::(\d+))?: ", message)
    where = m.group(1) if m else message
    line = int(m.group(2)) if m and m.group(2) else 0
    return (0 if where == "sushi-config.yaml" else 1, where, line)


def _line_of(m: re.Match[str]) -> int:
    """Line index of a match in the text it was found in."""
    return m.string.count("\n", 0, m.start())


def _mask_code_spans(text: str, codes: list[str]) -> str:
    """Code spans replaced by tokens (links inside code are text, not links)."""
    out = []
    pos = 0
    i = 0
    n = len(text)
    while i < n:
        if text[i] != "`":
            i += 1
            continue
        j = i
        while j < n and text[j] == "`":
            j += 1
        run = text[i:j]
        close = re.compile(r"(?<!`)" + run + r"(?!`)")
        m = close.search(text, j)
        if m is None or re.search(r"\n[ \t]*\n", text[j : m.start()]):
            i = j
            continue
        out.append(text[pos:i])
        newlines = "\n" * text.count("\n", i, m.end())  # keeps line numbers
        out.append(f"{_CODE_OPEN}{len(codes)}{newlines}{_CODE_CLOSE}")
        codes.append(text[i : m.end()])
        pos = i = m.end()
    out.append(text[pos:])
    return "".join(out)


def _unmask_code_spans(text: str, codes: list[str], page: _Page) -> str:
    def restore(m: re.Match[str]) -> str:
        code = codes[int(m.group(1))]
        return _PH_RE.sub(lambda p: page.placeholders[int(p.group(1))].raw, code)

    return _CODE_RE.sub(restore, text)


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
