"""`igtools docs`: a MkDocs (mkdocs-material) project of the IG, rendered from Jinja2
templates, then built with ``mkdocs build --strict`` and checked (every internal link,
no asset loaded from the web)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from igtools.errors import IgtoolsError
from igtools.ir.model import IG
from igtools.packages import PackageSet
from igtools.render.docs.artefacts import ART, ArtefactSite, collect, write_artefact_pages
from igtools.render.docs.conformance import capability_operations, other_resources
from igtools.render.docs.labels import labels
from igtools.render.docs.linkcheck import LinkReport, check_site
from igtools.render.docs.search_hook import SIDECAR
from igtools.render.docs.structure import search_entries
from igtools.render.templating import builtin_templates, environment, render


@dataclass
class DocsReport:
    project: Path
    site: Path | None = None
    pages: int = 0
    unconverted: list[str] = field(default_factory=list)
    diagrams: list[str] = field(default_factory=list)
    links: LinkReport | None = None
    warnings: list[str] = field(default_factory=list)


def ig_language(pages: Path | None, ig: IG) -> str:
    if pages is not None and (pages / "sushi-config.yaml").is_file():
        try:
            cfg = yaml.safe_load((pages / "sushi-config.yaml").read_text(encoding="utf-8")) or {}
        except yaml.YAMLError:
            cfg = {}
        params = cfg.get("parameters") if isinstance(cfg, dict) else None
        lang = params.get("i18n-default-lang") if isinstance(params, dict) else None
        if isinstance(lang, str):
            return lang[:2]
        juris = str(cfg.get("jurisdiction", "")) if isinstance(cfg, dict) else ""
        if "#FR" in juris:
            return "fr"
    return "fr" if ig.canonical and ".fr/" in ig.canonical + "/" else "en"


# mkdocs-material writes the whole nav into every page: a site of N pages all in the nav
# weighs N x N (the extensions pack's 856 pages made 2.1 GB). The artefacts index lists
# every page by kind; the nav lists a kind's pages only while it stays small.
NAV_KIND_MAX = 100  # a kind with more pages is reached through the artefacts index
NAV_TOTAL_MAX = 300  # past this, the largest kinds listed leave the nav too


def nav_groups(groups: list[tuple[str, list[Any]]]) -> list[tuple[str, list[Any]]]:
    """The artefact kinds whose pages the nav lists (in the index's order): those of at
    most :data:`NAV_KIND_MAX` pages, the largest left out until the total is at most
    :data:`NAV_TOTAL_MAX`. The others are still built and listed by the artefacts index
    (mkdocs reports pages outside the nav at info level only)."""
    kept = [(title, pages) for title, pages in groups if len(pages) <= NAV_KIND_MAX]
    while sum(len(pages) for _, pages in kept) > NAV_TOTAL_MAX:
        kept.remove(max(kept, key=lambda g: len(g[1])))
    return kept


class DocsRenderer:
    def __init__(
        self,
        ig: IG,
        pset: PackageSet | None = None,
        pages: Path | None = None,
        models_dir: Path | None = None,
        stubs_dir: Path | None = None,
        templates: Path | None = None,
        offline: bool = True,
        language: str | None = None,
        changes: str | None = None,
        strict: bool = True,
    ) -> None:
        self.ig = ig
        self.strict = strict  # diagrams PlantUML fails on: errors (else warnings)
        self.narrative_pages: dict[str, str] = {}  # stem -> docs path, with --pages
        self.changes = changes  # Markdown of `igtools diff` against a previous version
        self.pset = pset
        self.pages_source = pages
        self.stubs_dir = stubs_dir
        if models_dir is None and stubs_dir is not None and (stubs_dir / "models").is_dir():
            models_dir = stubs_dir / "models"  # `igtools stubs` writes the models beside
        self.models_dir = models_dir
        self.env = environment("docs", templates)
        self.offline = offline
        self.lang = language or ig_language(pages, ig)
        self.t = labels(self.lang)
        # conformance resources without an IR model (operations, concept maps ...)
        self.others = other_resources(ig, pset)

    # ------------------------------------------------------------------ project

    def render(self, out: Path) -> DocsReport:
        report = DocsReport(project=out)
        docs = out / "docs"
        if docs.exists():
            shutil.rmtree(docs)
        docs.mkdir(parents=True)
        site = collect(self.ig, self.others)
        nav: list[Any] = []
        use_case: tuple[str, str] | None = None
        fragments: dict[str, str] = {}
        written: list[Path] = []
        if self.pages_source is not None:
            nav, fragments = self._convert_pages(site, docs, report)
            use_case = self._use_case_page()
        else:
            written.append(
                render(
                    self.env,
                    "home.md.jinja",
                    docs / "index.md",
                    ig=self.ig,
                    t=self.t,
                    models_page=self.models_dir is not None,
                )
            )
            nav = [{self.t["home"]: "index.md"}]
        written += write_artefact_pages(
            self.ig,
            site,
            self.env,
            docs,
            self.t,
            fragments,
            self.others,
            capability_operations(self.ig.capabilities, self.ig, self.pset),
        )
        (docs / "assets").mkdir(exist_ok=True)
        for asset in ("igtools.css", "igtools.js", "iframe-worker-shim.js"):
            shutil.copy(builtin_templates() / "docs" / "assets" / asset, docs / "assets")
        self._element_search(site, out)
        written.append(self._artefacts_index(site, docs, use_case))
        self._map_text_links(site, docs, written)
        nav = self._with_artefacts_nav(nav, site)
        if self.models_dir is not None and (self.models_dir / "README.md").is_file():
            written.append(
                render(
                    self.env,
                    "models.md.jinja",
                    docs / "models.md",
                    t=self.t,
                    readme=_demote(
                        self.models_dir.joinpath("README.md").read_text(encoding="utf-8")
                    ),
                )
            )
            nav.append({self.t["models"]: "models.md"})
        if self.stubs_dir is not None:
            packages = [
                (p.name, _demote(_demote((p / "README.md").read_text(encoding="utf-8"))))
                for p in sorted(self.stubs_dir.iterdir())
                if p.name.endswith(("_server", "_client")) and (p / "README.md").is_file()
            ]
            if packages:
                written.append(
                    render(
                        self.env, "stubs.md.jinja", docs / "stubs.md", t=self.t, packages=packages
                    )
                )
                nav.append({self.t["stubs"]: "stubs.md"})
        if self.changes is not None:
            body = "\n".join(
                ("#" + ln) if ln.startswith("#") else ln for ln in self.changes.splitlines()
            )
            written.append(
                render(self.env, "changes.md.jinja", docs / "changes.md", t=self.t, body=body)
            )
            nav.append({self.t["changes"]: "changes.md"})
        report.pages = len(list(docs.rglob("*.md")))
        nav_yaml = yaml.safe_dump(nav, allow_unicode=True, sort_keys=False, width=1000)
        render(
            self.env,
            "mkdocs.yml.jinja",
            out / "mkdocs.yml",
            ig=self.ig,
            lang=self.lang,
            offline=self.offline,
            nav_yaml=nav_yaml.rstrip(),
        )
        return report

    def _element_search(self, site: ArtefactSite, out: Path) -> None:
        """One search entry per element of each profile and extension page (added to the
        search index by the site's hook, see :mod:`.search_hook`)."""
        entries: list[dict[str, str]] = []
        for p in self.ig.profiles.values():
            page = site.pages[f"StructureDefinition-{p.id}"]
            entries += search_entries(p, page.path[: -len(".md")] + ".html", page.title)
        (out / SIDECAR).write_text(
            json.dumps(entries, ensure_ascii=False, indent=0) + "\n", encoding="utf-8"
        )
        shutil.copy(Path(__file__).with_name("search_hook.py"), out / "igtools_hooks.py")

    def _map_text_links(self, site: ArtefactSite, docs: Path, written: list[Path]) -> None:
        """The IG Publisher links of the IG's texts on the artefact pages (and the home
        page we write): to our pages, else to the published IG (see :mod:`.textlinks`)."""
        from igtools.render.docs.pages import mkdocs_slug
        from igtools.render.docs.textlinks import LinkMapper

        mapper = LinkMapper(
            {stem: page.path for stem, page in site.pages.items()},
            self.narrative_pages,
            self.ig.canonical,
            mkdocs_slug,
        )
        for path in written:
            rel = path.relative_to(docs).as_posix()
            if path.suffix != ".md" or not (rel.startswith(f"{ART}/") or rel == "index.md"):
                continue
            text = path.read_text(encoding="utf-8")
            new = mapper.rewrite(text, rel)
            if new != text:
                path.write_text(new, encoding="utf-8")

    def _convert_pages(
        self, site: ArtefactSite, docs: Path, report: DocsReport
    ) -> tuple[list[Any], dict[str, str]]:
        from igtools.render.docs.pages import PageLinks, convert_pages

        assert self.pages_source is not None
        if (
            not (self.pages_source / "sushi-config.yaml").is_file()
            and not (self.pages_source / "input" / "pagecontent").is_dir()
        ):
            raise IgtoolsError(
                f"--pages {self.pages_source}: not an IG source folder "
                "(no sushi-config.yaml nor input/pagecontent)"
            )
        links = PageLinks(
            artefact_pages={stem: page.path for stem, page in site.pages.items()},
            examples_json={
                f"{ex.resource_type}-{ex.id}": json.dumps(ex.data, indent=2, ensure_ascii=False)
                for ex in self.ig.examples
            },
            resources=self._resource_rows(site),
            dependency_rows=self._dependency_rows(),
        )
        converted = convert_pages(self.pages_source, docs, links)
        report.unconverted.extend(converted.unconverted)
        report.diagrams.extend(converted.diagrams)
        self.narrative_pages = {p.removesuffix(".md"): p for p in converted.titles}
        if converted.diagram_errors and self.strict:
            raise IgtoolsError(
                f"PlantUML could not render {len(converted.diagram_errors)} diagram(s) "
                "(with --no-strict their source is shown instead):\n  "
                + "\n  ".join(converted.diagram_errors)
            )
        report.warnings.extend(f"diagram: {e}" for e in converted.diagram_errors)
        return list(converted.nav), dict(converted.fragments)

    def _use_case_page(self) -> tuple[str, str] | None:
        """The narrative page that groups artefacts (a page with IG Publisher SQL tables)."""
        assert self.pages_source is not None
        folder = self.pages_source / "input" / "pagecontent"
        for page in sorted(folder.glob("*.md")) if folder.is_dir() else []:
            if "{% sql" in page.read_text(encoding="utf-8", errors="ignore"):
                return page.stem, f"../{page.stem}.md"
        return None

    @staticmethod
    def _use_case_body(docs: Path, use_case: tuple[str, str] | None) -> str:
        """The IG's own grouping of artefacts by use case (its converted SQL tables),
        re-based for the artefacts index, one folder down."""
        if use_case is None:
            return ""
        page = docs / f"{use_case[0]}.md"
        if not page.is_file():
            return ""
        text = page.read_text(encoding="utf-8")

        # links were relative to the docs root; the index lives in artefacts/
        def rebase(target: str) -> str:
            if re.match(r"https?:|#|mailto:", target):
                return target
            return (
                target[len("artefacts/") :] if target.startswith("artefacts/") else "../" + target
            )

        text = re.sub(r"\]\(([^)\s]+)\)", lambda m: f"]({rebase(m[1])})", text)
        text = re.sub(r'(src|href)="([^"]+)"', lambda m: f'{m[1]}="{rebase(m[2])}"', text)
        return "\n".join(("##" + ln) if ln.startswith("#") else ln for ln in text.splitlines())

    def _resource_rows(self, site: ArtefactSite) -> list[dict[str, str]]:
        rows = []
        kinds = {
            "profile": "StructureDefinition",
            "extension": "StructureDefinition",
            "valueset": "ValueSet",
            "codesystem": "CodeSystem",
            "capability": "CapabilityStatement",
            "searchparam": "SearchParameter",
        }
        urls = {stem: url for url, stem in site.by_url.items()}
        descriptions = self._descriptions()
        for stem, page in site.pages.items():
            if page.kind == "index":
                continue
            rtype = kinds.get(page.kind) or stem.split("-", 1)[0]
            rid = stem.split("-", 1)[1] if "-" in stem else stem
            rows.append(
                {
                    "Id": rid,
                    "Type": rtype,
                    "Name": page.title,
                    "Title": page.title,
                    "Description": descriptions.get(stem, ""),
                    "Url": urls.get(stem, ""),
                    "Web": page.path,
                }
            )
        return rows

    def _descriptions(self) -> dict[str, str]:
        out = {}
        for p in self.ig.profiles.values():
            out[f"StructureDefinition-{p.id}"] = p.description or ""
        for vs in self.ig.value_sets.values():
            out[f"ValueSet-{vs.id}"] = vs.description or ""
        for c in self.ig.capabilities:
            out[f"CapabilityStatement-{c.id}"] = c.description or ""
        for sp in self.ig.search_params.values():
            out[f"SearchParameter-{str(sp.url or sp.code).rsplit('/', 1)[-1]}"] = (
                sp.description or ""
            )
        for res in self.others:
            out[res.stem] = res.description
        return out

    def _dependency_rows(self) -> list[dict[str, str]]:
        if self.pset is None:
            return []
        return [
            {"Package": d.name, "Version": d.version or d.wanted, "Status": d.status}
            for d in self.pset.dependencies
        ]

    def _artefacts_index(
        self, site: ArtefactSite, docs: Path, use_case: tuple[str, str] | None
    ) -> Path:
        t = self.t
        desc = self._descriptions()
        groups = [
            (title, [(p, desc.get(p.stem, "")) for p in pages])
            for title, pages in self._by_kind(site)
        ]
        return render(
            self.env,
            "artefacts_index.md.jinja",
            docs / ART / "index.md",
            t=t,
            groups=groups,
            cell=_cell,
            use_case_page=use_case[1] if use_case else None,
            use_case_title=use_case[0] if use_case else "",
            use_case_body=self._use_case_body(docs, use_case),
        )

    def _by_kind(self, site: ArtefactSite) -> list[tuple[str, list[Any]]]:
        """The artefact pages grouped by kind, in the index's order (empty kinds left out)."""
        t = self.t
        out = []
        for kind, title in (
            ("profile", t["profiles"]),
            ("extension", t["extensions"]),
            ("valueset", t["value_sets"]),
            ("codesystem", t["code_systems"]),
            ("capability", t["capabilities"]),
            ("searchparam", t["search_params"]),
            ("operation", t["operations"]),
            ("conceptmap", t["concept_maps"]),
            ("namingsystem", t["naming_systems"]),
            # other conformance kinds (StructureMap, GraphDefinition ...): by type name
            *((k, k[len("res:") :]) for k in sorted({r.kind for r in self.others}) if ":" in k),
            ("example", t["examples"]),
        ):
            pages = sorted(
                (p for p in site.pages.values() if p.kind == kind), key=lambda p: p.title
            )
            if pages:
                out.append((title, pages))
        return out

    def _with_artefacts_nav(self, nav: list[Any], site: ArtefactSite) -> list[Any]:
        t = self.t
        section: list[Any] = [f"{ART}/index.md"]
        for title, pages in nav_groups(self._by_kind(site)):
            section.append({title: [{p.title: p.path} for p in pages]})
        target = f"{ART}/index.md"

        def replace(items: list[Any]) -> bool:
            for i, item in enumerate(items):
                if isinstance(item, dict):
                    for key, value in item.items():
                        if value == target:
                            items[i] = {key: section}
                            return True
                        if isinstance(value, list) and replace(value):
                            return True
            return False

        if not replace(nav):
            nav.append({t["artefacts"]: section})
        return nav

    # ------------------------------------------------------------------ build

    def build(self, project: Path, report: DocsReport) -> None:
        cmd = [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-q",
            "-f",
            str(project / "mkdocs.yml"),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=_mkdocs_env())
        if proc.returncode != 0:
            lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
            raise IgtoolsError("mkdocs build --strict failed:\n" + "\n".join(lines[-30:]))
        report.site = project / "site"
        report.links = check_site(report.site)
        if report.links.broken:
            raise IgtoolsError(
                f"{len(report.links.broken)} broken internal links in the built site:\n"
                + "\n".join(report.links.broken[:30])
            )


def serve(project: Path, host: str, port: int) -> None:
    cmd = [
        sys.executable,
        "-m",
        "mkdocs",
        "serve",
        "-f",
        str(project / "mkdocs.yml"),
        "-a",
        f"{host}:{port}",
    ]
    subprocess.run(cmd, check=False, env=_mkdocs_env())


def _mkdocs_env() -> dict[str, str]:
    import os

    # mkdocs-material's end-of-life banner is not the user's business here
    return {**os.environ, "NO_MKDOCS_2_WARNING": "1"}


def _cell(value: Any) -> str:
    from igtools.render.docs.artefacts import cell

    return cell(value)


def _demote(markdown: str) -> str:
    """Drop a README's first heading (the page has its own) and demote the others."""
    lines = markdown.splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    return "\n".join(("#" + ln) if ln.startswith("#") else ln for ln in lines)
