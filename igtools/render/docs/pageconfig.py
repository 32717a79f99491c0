"""The narrative pages' configuration: ``sushi-config.yaml`` (variables, ``pages:``,
``menu:``), the pages of ``input/pagecontent`` and their copy lists, intro/notes
fragments, images, and the nav built from the menu."""

from __future__ import annotations

import posixpath
import re
import shutil
from pathlib import Path
from typing import Any

import yaml

from igtools.render.docs import liquid
from igtools.render.docs.liquid import Tag, Text
from igtools.render.docs.pagemodel import (
    _COPY_LINE,
    _FHIR_PATHS,
    _TEXTS,
    ConverterBase,
    _child,
    _entries,
    _Entry,
    _Page,
)


class ConfigPart(ConverterBase):
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
