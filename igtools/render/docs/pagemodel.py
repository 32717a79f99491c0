"""The narrative pages converter's data: what it is given and returns (:class:`PageLinks`,
:class:`ConvertedPages`), its pages, link targets and placeholders, the words it writes,
the slug and attribute helpers, and :class:`ConverterBase`, the state its parts
(:mod:`.pageconfig`, :mod:`.pagelinks`, :mod:`.pageincludes`) share.
"""

from __future__ import annotations

import html
import re
import shutil
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from igtools.render.docs.blocks import Line
from igtools.render.docs.diagrams import Diagram
from igtools.render.docs.liquid import Tag


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


# -- the converter's state -------------------------------------------------------------


class ConverterBase:
    """State shared by the converter's parts; the methods one part calls on another are
    declared here and defined by that part."""

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

    def t(self, key: str) -> str:
        return _TEXTS[self.lang][key]

    # defined by the parts

    def resolve(self, url: str, page: _Page | None) -> _Target:
        raise NotImplementedError

    def relative(self, target_path: str, page: _Page, html_mode: bool) -> str:
        raise NotImplementedError

    def rewrite_markdown(self, text: str, page: _Page, where: Callable[[int], str]) -> str:
        raise NotImplementedError

    def placeholder(self, tag: Tag, page: _Page) -> _Placeholder:
        raise NotImplementedError
