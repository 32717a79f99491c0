"""Check a built site: every internal link and image resolves, no asset from the web."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from lxml import html as lxml_html


@dataclass
class LinkReport:
    pages: int = 0
    links: int = 0
    broken: list[str] = field(default_factory=list)  # "page: href (why)"
    external_assets: list[str] = field(default_factory=list)  # scripts/styles/images from the web


def _ids(doc: lxml_html.HtmlElement) -> set[str]:
    return {str(e.get("id")) for e in doc.iter() if e.get("id")} | {
        str(e.get("name")) for e in doc.iter("a") if e.get("name")
    }


def check_site(site: Path, anchors: bool = True) -> LinkReport:
    report = LinkReport()
    ids_cache: dict[Path, set[str]] = {}

    def ids_of(path: Path) -> set[str]:
        if path not in ids_cache:
            ids_cache[path] = _ids(lxml_html.fromstring(path.read_bytes()))
        return ids_cache[path]

    for page in sorted(site.rglob("*.html")):
        if page.name == "404.html" and page.parent == site:
            continue  # served at any path: its links are site-absolute by design
        report.pages += 1
        doc = lxml_html.fromstring(page.read_bytes())
        rel_page = page.relative_to(site).as_posix()
        for el in doc.iter():
            for attr in ("href", "src"):
                value = el.get(attr)
                if not value:
                    continue
                url = urlsplit(value)
                if url.scheme in ("http", "https") or value.startswith("//"):
                    if el.tag in ("script", "img", "iframe") or (
                        el.tag == "link" and el.get("rel") in ("stylesheet", "preload", "icon")
                    ):
                        report.external_assets.append(f"{rel_page}: <{el.tag}> {value}")
                    continue
                if url.scheme in ("mailto", "data", "javascript", "tel") or url.scheme:
                    continue
                report.links += 1
                if not url.path:
                    target = page
                else:
                    base = site if url.path.startswith("/") else page.parent
                    target = (base / unquote(url.path).lstrip("/")).resolve()
                    if target.is_dir():
                        target = target / "index.html"
                if not target.exists():
                    report.broken.append(f"{rel_page}: {value} (no such file)")
                    continue
                fragment = unquote(url.fragment)
                if (
                    anchors
                    and fragment
                    and target.suffix == ".html"
                    and fragment not in ids_of(target)
                ):
                    report.broken.append(f"{rel_page}: {value} (no such anchor)")
    return report
