"""Links of the narrative pages: IG Publisher URLs resolved to our pages, files or the
published IG, anchors mapped to our heading ids, markdown and raw HTML rewritten."""

from __future__ import annotations

import html
import posixpath
import re
from collections.abc import Callable
from urllib.parse import quote, unquote

from igtools.render.docs.pagemodel import (
    _CODE_RE,
    _IMAGE_EXTS,
    _INLINE_LINK,
    _PUBLISHER_OUTPUT,
    _REF_DEF,
    _RESOURCE_FORMAT,
    _SUBPAGE,
    PH_CLOSE,
    PH_OPEN,
    ConverterBase,
    _attr_value,
    _line_of,
    _mask_code_spans,
    _Page,
    _Placeholder,
    _quote_path,
    _set_attr,
    _Target,
    _unmask_code_spans,
    mkdocs_slug,
)


class LinksPart(ConverterBase):
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

    # rewriting

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
