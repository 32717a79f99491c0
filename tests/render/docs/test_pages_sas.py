"""The SAS IG's narrative pages (../shared/ig-source/sas-1.2.0) converted whole and built
with ``mkdocs build --strict``."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import yaml

from igtools.render.docs.pages import ConvertedPages, PageLinks, convert_pages
from tests.conftest import shared_path
from tests.render.docs.pagetools import (
    SAS_SOURCE,
    SAS_TGZ,
    broken_site_links,
    mkdocs_build,
    needs_mkdocs,
    page_targets,
    strip_code,
    write_stubs,
)

# -- the SAS IG (../shared) ----------------------------------------------------------------


def sas_links(tmp: Path) -> PageLinks:
    """PageLinks built from the SAS 1.2.0 package: one page per conformance resource and
    example, SQL rows from index.conformance(root) and the examples."""
    from igtools.packages import PackageLoader, Settings

    tgz = shared_path(*SAS_TGZ)
    pset = PackageLoader(Settings(cache_dir=tmp / "cache", offline=True)).load(str(tgz))
    root = pset.root.id
    artefact_pages = {"artifacts": "artefacts/index.md"}
    rows: list[dict[str, str]] = []
    examples: dict[str, str] = {}
    for entry in pset.index.conformance(root):
        stem = f"{entry.resource_type}-{entry.id}"
        artefact_pages[stem] = f"artefacts/{stem}.md"
        data = entry.data
        rows.append(
            {
                "Id": str(entry.id),
                "Type": entry.resource_type,
                "Name": str(data.get("name", "")),
                "Title": str(data.get("title", "")),
                "Description": str(data.get("description", "")),
                "Url": str(data.get("url", "")),
                "Web": artefact_pages[stem],
            }
        )
    for entry in pset.index.examples_of(root):
        stem = f"{entry.resource_type}-{entry.id}"
        artefact_pages[stem] = f"artefacts/examples/{stem}.md"
        examples[stem] = json.dumps(entry.data, indent=2, ensure_ascii=False)
        rows.append(
            {
                "Id": str(entry.id),
                "Type": entry.resource_type,
                "Name": "",
                "Title": "",
                "Description": "",
                "Url": "",
                "Web": artefact_pages[stem],
            }
        )
    deps = [
        {"Package": d.name, "Version": d.version or d.wanted, "Status": d.status}
        for d in pset.dependencies
    ]
    return PageLinks(artefact_pages, examples, rows, deps)


@pytest.fixture(scope="module")
def sas(tmp_path_factory: pytest.TempPathFactory) -> tuple[ConvertedPages, Path, PageLinks]:
    source = shared_path(*SAS_SOURCE)
    tmp = tmp_path_factory.mktemp("sas-pages")
    links = sas_links(tmp)
    docs = tmp / "project" / "docs"
    return convert_pages(source, docs, links), docs, links


def menu_pages(menu: dict[str, Any]) -> list[tuple[str, str]]:
    """(title, value) of every menu entry, depth first."""
    out: list[tuple[str, str]] = []
    for title, value in menu.items():
        if isinstance(value, dict):
            out += menu_pages(value)
        else:
            out.append((str(title).strip(), str(value or "").strip()))
    return out


def nav_pages(nav: list[Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for item in nav:
        for title, value in item.items():
            if isinstance(value, list):
                out += nav_pages(value)
            else:
                out.append((title, value))
    return out


@pytest.mark.shared
def test_sas_every_page_converted(sas: tuple[ConvertedPages, Path, PageLinks]) -> None:
    result, docs, _ = sas
    pagecontent = shared_path(*SAS_SOURCE) / "input" / "pagecontent"
    own = [p.stem for p in pagecontent.glob("*.md") if "-tous-" not in p.stem]
    copies = [
        line.split(";")[1].strip()[: -len(".md")]
        for line in (pagecontent / "specifications_techniques.txt").read_text().splitlines()
        if line.strip()
    ]
    sources = sorted(own + copies)
    assert len(sources) == 14 + 6  # the two -tous- pages are only copy sources
    assert sorted(p.stem for p in result.pages) == sources
    assert all(p.parent == docs and p.suffix == ".md" for p in result.pages)
    # every page is reachable from the nav
    assert {v for _, v in nav_pages(result.nav)} >= {f"{s}.md" for s in sources}
    # Liquid is gone from every page
    for path in result.pages:
        text = path.read_text(encoding="utf-8")
        assert "{%" not in strip_code(text) and "{{" not in strip_code(text), path.name


@pytest.mark.shared
def test_sas_nav_follows_the_menu(sas: tuple[ConvertedPages, Path, PageLinks]) -> None:
    result, _, _ = sas
    source = shared_path(*SAS_SOURCE)
    config = yaml.safe_load((source / "sushi-config.yaml").read_text(encoding="utf-8"))
    nav = nav_pages(result.nav)
    missing = []
    for title, value in menu_pages(config["menu"]):
        if not value.endswith(".html") or value.startswith("new-tab"):
            continue
        stem = value[: -len(".html")]
        if (source / "input" / "pagecontent" / f"{stem}.md").is_file() or "-gestion_" in stem:
            assert (title, f"{stem}.md") in nav  # the French title of the menu
        elif stem != "artifacts":
            missing.append((title, value))
    assert ("Ressources de conformité", "artefacts/index.md") in nav
    assert ("Spécifications FHIR", "http://hl7.org/fhir/R4/index.html") in nav
    assert ("Site de l'ANS", "https://esante.gouv.fr/") in nav
    # the separators became sections
    specs = next(item["Spécif. techniques"] for item in result.nav if "Spécif. techniques" in item)
    assert [next(iter(s)) for s in specs] == [
        "PS indiv.",
        "CPTS",
        "SOS Médecins",
        "Fluidification parcours régulateur",
    ]
    # menu entries without a page are listed by name and file (the copied pages are made)
    assert missing == []
    for title, value in missing:
        assert any(
            f"menu '{title}' -> {value}: no page" in line and "left out of the nav" in line
            for line in result.unconverted
        ), title


@pytest.mark.shared
def test_sas_images_and_diagrams(sas: tuple[ConvertedPages, Path, PageLinks]) -> None:
    result, docs, _ = sas
    source = shared_path(*SAS_SOURCE)
    assert len(result.images) == len(list((source / "input" / "images").iterdir()))
    rendered = shutil.which("plantuml") is not None
    includes = 0
    pagecontent = source / "input" / "pagecontent"
    copied_from = {
        target.strip(): src.strip()
        for line in (pagecontent / "specifications_techniques.txt").read_text().splitlines()
        if line.strip()
        for src, target in [line.split(";")]
    }
    for path in result.pages:
        name = copied_from.get(path.name, path.name)
        original = (pagecontent / name).read_text(encoding="utf-8")
        text = path.read_text(encoding="utf-8")
        for target in page_targets(text):
            if target.startswith("images/"):
                assert (docs / unquote(target)).is_file(), target
        for name in re.findall(r"\{%\s*include\s+(\S+)\.svg\s*%\}", original):
            includes += 1
            if rendered:
                assert (docs / "diagrams" / f"{name}.svg").is_file(), name
                assert f'src="diagrams/{name}.svg"' in text
            else:
                assert "```plantuml" in text and '!!! note "Diagramme non rendu"' in text
    assert includes == 11
    assert len(result.diagrams) == 15  # one line per diagram, referenced or not
    assert sum("not referenced by any page" in d for d in result.diagrams) == 4


@pytest.mark.shared
def test_sas_no_link_left_to_an_ig_publisher_page(
    sas: tuple[ConvertedPages, Path, PageLinks],
) -> None:
    result, docs, links = sas
    ours = set(links.artefact_pages.values())
    for path in result.pages:
        for target in page_targets(path.read_text(encoding="utf-8")):
            if re.match(r"^[a-zA-Z][\w+.-]*:", target) or target.startswith("#"):
                continue
            assert not re.search(r"\.html?(#|$)", target), f"{path.name}: {target}"
            file = unquote(target.split("#")[0])
            assert file in ours or (docs / file).exists(), f"{path.name}: {target}"
    # the links to pages that do not exist are listed, with their line
    dropped = [line for line in result.unconverted if "no such page; link dropped" in line]
    assert dropped == []  # the 7 links to the copied pages (faq.md:630, index.md) resolve
    faq = (docs / "faq.md").read_text(encoding="utf-8")
    assert "(specifications_techniques-ps-gestion_regulateur.md#regles-de-gestion)" in faq


@pytest.mark.shared
def test_sas_sql_tables(sas: tuple[ConvertedPages, Path, PageLinks]) -> None:
    result, docs, links = sas
    text = (docs / "ressources_casusage.md").read_text(encoding="utf-8")
    tables = re.findall(
        r"^\| Identifiant \| Type \| Description \|\n\|[-| ]+\|\n((?:\|.*\n)*)", text, flags=re.M
    )
    assert len(tables) == 3
    got = [re.findall(r"^\| \[([^\]]+)\]\(([^)]+)\) \| (\w+) \|", t, flags=re.M) for t in tables]
    rows = links.resources

    def ids(keep: Any) -> list[tuple[str, str, str]]:
        return [(r["Id"], r["Web"], r["Type"]) for r in rows if keep(r["Id"].lower(), r["Type"])]

    kinds = ("StructureDefinition", "ValueSet", "SearchParameter")
    ps = ids(
        lambda i, t: (
            t in kinds
            and "sos" not in i
            and "cpts" not in i
            and "lrm" not in i
            and not i.startswith("example")
        )
    )
    cpts = ids(lambda i, t: t in kinds and "cpts" in i and not i.startswith("example"))
    sos = ids(lambda i, t: "sos" in i and not i.startswith("example"))
    assert got == [ps, cpts, sos]
    assert len(ps) == 17 and len(cpts) == 7 and len(sos) == 10
    assert (
        "FrSlotAgregateur",
        "artefacts/StructureDefinition-FrSlotAgregateur.md",
        "StructureDefinition",
    ) in ps
    assert not any("sql" in line for line in result.unconverted)


@pytest.mark.shared
def test_sas_unconverted_is_complete(sas: tuple[ConvertedPages, Path, PageLinks]) -> None:
    result, _, _ = sas
    # the copy list is read (not listed); its six pages exist
    assert not any("specifications_techniques.txt" in line for line in result.unconverted)
    assert sum("is listed in pages: but" in line for line in result.unconverted) == 0
    assert not any(" no page input/pagecontent/" in line for line in result.unconverted)
    # (before: the .txt, 6 pages and 6 menu entries missing, 7 links to them dropped);
    # left: a footnote the IG never defines (its text stays "[^3]" on the IG too)
    assert result.unconverted == [
        f"input/pagecontent/specifications_techniques-{page}.md:{line}: footnote [^3] has no "
        "definition ([^3]: ...) on the page; shown as text"
        for page, line in (("cpts-recherche_creneaux", 92), ("ps-recherche_creneaux", 92))
    ] + [
        "input/pagecontent/specifications_techniques-tous-gestion_rdv.md:83: footnote [^3] "
        "has no definition ([^3]: ...) on the page; shown as text"
    ]
    assert result.titles["specifications_techniques-sos-gestion_regulateur.md"] == (
        "SOS Médecins - Gestion des comptes régulateurs"
    )


@pytest.mark.shared
@needs_mkdocs
def test_sas_builds_with_mkdocs_strict(sas: tuple[ConvertedPages, Path, PageLinks]) -> None:
    result, docs, links = sas
    write_stubs(docs, links.artefact_pages)
    project = docs.parent
    proc = mkdocs_build(project, docs, result.nav)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-5000:]
    assert "is not found among documentation files" not in output
    assert "WARNING" not in output
    assert broken_site_links(project / "site") == []
