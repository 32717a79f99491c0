"""Helpers of the narrative pages tests (test_pages.py, test_pages_sas.py)."""

from __future__ import annotations

import importlib.util
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from igtools.render.docs.pages import ConvertedPages, PageLinks, convert_pages
from tests.conftest import FIXTURES

MINI = FIXTURES / "mini-ig-pages"
SAS_SOURCE = ("ig-source", "sas-1.2.0")
SAS_TGZ = ("fhir-packages", "ans.fhir.fr.sas-1.2.0.tgz")


# -- helpers ------------------------------------------------------------------------------


def mini_links(**overrides: Any) -> PageLinks:
    links = PageLinks(
        artefact_pages={
            "StructureDefinition-MiniPatient": "artefacts/StructureDefinition-MiniPatient.md",
            "ValueSet-mini-codes": "artefacts/ValueSet-mini-codes.md",
            "Patient-example1": "artefacts/examples/Patient-example1.md",
            "artifacts": "artefacts/index.md",
        },
        examples_json={
            "Patient-example1": '{\n  "resourceType": "Patient",\n  "id": "example1"\n}'
        },
        resources=[
            {
                "Id": "MiniPatient",
                "Type": "StructureDefinition",
                "Name": "MiniPatient",
                "Title": "",
                "Description": "A patient, see [codes](ValueSet-mini-codes.html) | piped",
                "Url": "http://example.org/fhir/mini/StructureDefinition/MiniPatient",
                "Web": "artefacts/StructureDefinition-MiniPatient.md",
            },
            {
                "Id": "mini-codes",
                "Type": "ValueSet",
                "Name": "MiniCodes",
                "Title": "",
                "Description": "Codes",
                "Url": "",
                "Web": "artefacts/ValueSet-mini-codes.md",
            },
            {
                "Id": "example1",
                "Type": "Patient",
                "Name": "",
                "Title": "",
                "Description": "",
                "Url": "",
                "Web": "artefacts/examples/Patient-example1.md",
            },
        ],
        dependency_rows=[{"Package": "hl7.fhir.r4.core", "Version": "4.0.1", "Status": "resolved"}],
    )
    for key, value in overrides.items():
        setattr(links, key, value)
    return links


def fake_plantuml(folder: Path, fail: bool = False) -> str:
    """A stand-in for the plantuml command: one SVG per input file (or a syntax error)."""
    script = folder / "fake-plantuml"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys, pathlib\n"
        "args = sys.argv[1:]\n"
        "out = pathlib.Path(args[args.index('-o') + 1])\n"
        "inputs = [a for a in args if a.endswith('.puml')]\n"
        f"if {fail!r}:\n"
        "    for f in inputs:\n"
        "        print(f'Error line 2 in file: {f}', file=sys.stderr)\n"
        "    print('Some diagram description contains errors', file=sys.stderr)\n"
        "    sys.exit(200)\n"
        "for f in inputs:\n"
        "    body = pathlib.Path(f).read_text()\n"
        "    svg = '<svg xmlns=\"http://www.w3.org/2000/svg\"><!--' + body + '--></svg>'\n"
        "    (out / (pathlib.Path(f).stem + '.svg')).write_text(svg)\n",
        encoding="utf-8",
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def convert_mini(
    tmp_path: Path, plantuml: str | None = None, **overrides: Any
) -> tuple[ConvertedPages, Path]:
    docs = tmp_path / "docs"
    return convert_pages(MINI, docs, mini_links(**overrides), plantuml=plantuml), docs


def strip_code(text: str) -> str:
    """A page without its fenced code blocks and code spans (their text is not links)."""
    text = re.sub(r"^([ \t]*)(`{3,}|~{3,}).*?^\1\2[ \t]*$", "", text, flags=re.M | re.S)
    return re.sub(r"(`+).+?\1", "", text, flags=re.S)


def page_targets(text: str) -> list[str]:
    """Every link and image target of a markdown page, markdown and raw HTML, outside code."""
    text = strip_code(text)
    found = re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", text)
    found += re.findall(r"^\s*\[[^\]]+\]:\s*(\S+)", text, flags=re.M)
    found += re.findall(r"\s(?:href|src)=\"([^\"]*)\"", text)
    return found


def write_stubs(docs: Path, artefact_pages: dict[str, str]) -> None:
    """Artefact pages, as the lead's renderer would write them (headings for anchors)."""
    for stem, path in artefact_pages.items():
        target = docs / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.write_text(f"# {stem}\n\n## Profile\n\n## Profiles\n", encoding="utf-8")


def mkdocs_build(
    project: Path, docs: Path, nav: list[Any], use_directory_urls: bool = False
) -> subprocess.CompletedProcess[str]:
    theme = "material" if importlib.util.find_spec("material") else "mkdocs"
    config = {
        "site_name": "test",
        "docs_dir": str(docs),
        "site_dir": str(project / "site"),
        "use_directory_urls": use_directory_urls,
        "strict": True,
        "theme": {"name": theme},
        "markdown_extensions": [
            "tables",
            {"toc": {"permalink": True}},
            "admonition",
            "attr_list",
            "md_in_html",
            "pymdownx.superfences",
        ],
        "validation": {
            "nav": {"omitted_files": "info", "not_found": "warn", "absolute_links": "warn"},
            "links": {
                "not_found": "warn",
                "anchors": "warn",
                "absolute_links": "warn",
                "unrecognized_links": "warn",
            },
        },
        "nav": nav,
    }
    cfg = project / "mkdocs.yml"
    cfg.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(cfg)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def broken_site_links(site: Path) -> list[str]:
    """Relative href/src of the built pages that point at no file or no anchor."""
    from lxml import html as lxml_html

    broken = []
    ids: dict[Path, set[str]] = {}

    def ids_of(path: Path) -> set[str]:
        if path not in ids:
            doc = lxml_html.fromstring(path.read_bytes())
            ids[path] = {str(e.get("id")) for e in doc.iter() if e.get("id")} | {
                str(e.get("name")) for e in doc.iter("a") if e.get("name")
            }
        return ids[path]

    for page in sorted(site.rglob("*.html")):
        if page.parent == site and page.name == "404.html":
            continue
        doc = lxml_html.fromstring(page.read_bytes())
        article = doc.xpath("//article") or doc.xpath("//div[@role='main']") or [doc]
        for el in article[0].iter():
            for attr in ("href", "src"):
                value = el.get(attr)
                if not value or re.match(r"^[a-zA-Z][\w+.-]*:|^//", value):
                    continue
                url = urlsplit(value)
                target = page if not url.path else (page.parent / unquote(url.path)).resolve()
                if target.is_dir():
                    target = target / "index.html"
                if not target.exists():
                    broken.append(f"{page.relative_to(site)}: {value}")
                elif (
                    url.fragment
                    and target.suffix == ".html"
                    and unquote(url.fragment) not in ids_of(target)
                ):
                    broken.append(f"{page.relative_to(site)}: {value} (no such anchor)")
    return broken


needs_mkdocs = pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None, reason="mkdocs is not installed"
)


def convert_text(tmp_path: Path, text: str, **overrides: Any) -> tuple[str, ConvertedPages]:
    source = tmp_path / "ig"
    (source / "input" / "pagecontent").mkdir(parents=True)
    (source / "input" / "pagecontent" / "page.md").write_text(text, encoding="utf-8")
    (source / "sushi-config.yaml").write_text(
        "id: x\ncanonical: http://example.org/x\nreleaseLabel: draft\nmenu:\n  Page: page.html\n",
        encoding="utf-8",
    )
    result = convert_pages(source, tmp_path / "docs", mini_links(**overrides), plantuml=None)
    return (tmp_path / "docs" / "page.md").read_text(encoding="utf-8"), result
