# ruff: noqa: E501  (the expected pages at the end keep their long lines)
"""Narrative pages of an IG source tree as MkDocs markdown (igtools.render.docs.pages).

The fixture ``tests/fixtures/mini-ig-pages`` holds every construct the converter handles;
its output is asserted exactly. The SAS IG source in ``../shared/ig-source`` is converted
whole and built with ``mkdocs build --strict``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from igtools.render.docs import liquid
from igtools.render.docs.pages import ConvertedPages, PageLinks, convert_pages, mkdocs_slug
from tests.conftest import FIXTURES, shared_path

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


@pytest.fixture
def no_plantuml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)


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


# -- the fixture IG ----------------------------------------------------------------------


def test_fixture_nav_from_the_menu(tmp_path: Path, no_plantuml: None) -> None:
    result, _ = convert_mini(tmp_path)
    assert result.nav == [
        {"Home": "index.md"},
        {"Guide": [{"Reading": [{"Read the guide": "guide.md"}]}]},
        {"Artifacts": "artefacts/index.md"},
        {"FHIR spec": "http://hl7.org/fhir/R4/index.html"},
        {"Example site": "https://example.org/"},
        {"Extra page": "extra.md"},  # in pages: but not in the menu: appended
    ]
    assert result.titles == {
        "index.md": "Home",
        "guide.md": "Reading guide",
        "extra.md": "Extra page",
    }


def test_fixture_unconverted_lists_everything_with_file_and_line(
    tmp_path: Path, no_plantuml: None
) -> None:
    result, _ = convert_mini(tmp_path)
    pc = "input/pagecontent"
    assert result.unconverted == [
        "sushi-config.yaml:20: page ghost.md (Ghost page) is listed in pages: but "
        "input/pagecontent/ghost.md does not exist; not converted",
        "sushi-config.yaml:28: menu 'Missing page' -> missing.html: no page "
        "input/pagecontent/missing.md (nor an artefact page); left out of the nav",
        "sushi-config.yaml:29: menu separator 'Empty' dropped: no page under it",
        "sushi-config.yaml:30: menu 'Not there' -> nowhere.html: no page "
        "input/pagecontent/nowhere.md (nor an artefact page); left out of the nav",
        f"{pc}/extra.md:2: {{% include absent.svg %}}: no PlantUML source for absent.svg in "
        "input/images-source; shown as text",
        f"{pc}/extra.md:5: {{% include fragment-unknown.xhtml %}}: an IG Publisher fragment "
        "this converter does not produce; shown as text",
        f"{pc}/extra.md:6: Liquid tag {{% assign x = 1 %}} not supported; shown as text",
        f"{pc}/extra.md:7: {{% if page.path == 'extra.html' %}}: condition not evaluated "
        "(unknown variable or syntax); every branch kept, tags shown",
        f"{pc}/extra.md:8: Liquid output {{{{ page.title }}}} not resolved (unknown variable "
        "or filter); shown as text",
        f"{pc}/extra.md:10: image ![Lost](lost.png): no such image in input/images; "
        "image dropped, text kept",
        f"{pc}/guide.md:8: link [unknown](unknown-page.html): no such page; link dropped, "
        "text kept",
        f"{pc}/guide.md:10: link [nowhere](index.html#nowhere): no heading for #nowhere in "
        f"{pc}/index.md; linked to the page without the anchor",
        f"{pc}/guide.md:15: reference link [dead]: gone.html: no such page; link dropped, "
        "text kept",
        f'{pc}/guide.md:24: link <a href="nope.html">: no such page; link dropped, text kept',
        f'{pc}/guide.md:25: image <img src="missing.png">: no such image in input/images; '
        "image dropped, alt text kept",
        f"{pc}/notes.txt: not a markdown page (.txt); not converted",
    ]


def test_fixture_pages_exact(tmp_path: Path, no_plantuml: None) -> None:
    result, docs = convert_mini(tmp_path)
    assert sorted(p.relative_to(docs).as_posix() for p in result.pages) == [
        "extra.md",
        "guide.md",
        "index.md",
    ]
    assert (docs / "index.md").read_text(encoding="utf-8") == EXPECTED_INDEX
    assert (docs / "guide.md").read_text(encoding="utf-8") == EXPECTED_GUIDE
    assert (docs / "extra.md").read_text(encoding="utf-8") == EXPECTED_EXTRA


def test_fixture_images_and_fragments(tmp_path: Path, no_plantuml: None) -> None:
    result, docs = convert_mini(tmp_path)
    assert result.images == [docs / "images" / "logo.png"]
    assert (docs / "images" / "logo.png").read_bytes() == (
        MINI / "input" / "images" / "logo.png"
    ).read_bytes()
    # intro/notes of an artefact are not pages: links relative to the artefact page
    assert result.fragments == {
        "StructureDefinition-MiniPatient-intro": (
            "Intro of the profile, see [the guide](../guide.md#lists-and-links).\n"
        )
    }
    assert not (docs / "StructureDefinition-MiniPatient-intro.md").exists()


def test_fixture_diagrams_without_plantuml(tmp_path: Path, no_plantuml: None) -> None:
    result, docs = convert_mini(tmp_path)
    assert result.diagrams == [
        "input/images-source/flow.plantuml (diagram flow-named): not rendered (plantuml not "
        "found); its source is shown on extra.md, index.md"
    ]
    assert not (docs / "diagrams").exists()


def test_fixture_diagrams_rendered_by_file_stem_and_startuml_name(tmp_path: Path) -> None:
    result, docs = convert_mini(tmp_path, plantuml=fake_plantuml(tmp_path))
    # {% include flow.svg %} (the file) and {% include flow-named.svg %} (@startuml name)
    assert (docs / "diagrams" / "flow.svg").is_file()
    assert (docs / "diagrams" / "flow-named.svg").is_file()
    svg = (docs / "diagrams" / "flow.svg").read_text(encoding="utf-8")
    assert "Alice -> Bob: hello" in svg and "@startuml\n" in svg  # name stripped for -o
    index = (docs / "index.md").read_text(encoding="utf-8")
    assert '<p><img src="diagrams/flow.svg" alt="flow"></p>' in index
    assert "plantuml" not in index
    extra = (docs / "extra.md").read_text(encoding="utf-8")
    assert '<p><img src="diagrams/flow-named.svg" alt="flow-named"> <code>' in extra
    assert result.diagrams == [
        "input/images-source/flow.plantuml (diagram flow-named): rendered to "
        "diagrams/flow-named.svg, shown on extra.md, index.md"
    ]


def test_fixture_diagram_syntax_error_shows_the_source(tmp_path: Path) -> None:
    result, docs = convert_mini(tmp_path, plantuml=fake_plantuml(tmp_path, fail=True))
    index = (docs / "index.md").read_text(encoding="utf-8")
    assert '!!! note "Diagram not rendered"' in index
    assert "could not be rendered (PlantUML syntax error at line 3)" in index
    assert "```plantuml\n@startuml flow-named\nAlice -> Bob: hello\n@enduml\n```" in index
    assert result.diagrams == [
        "input/images-source/flow.plantuml (diagram flow-named): not rendered (PlantUML "
        "syntax error at line 3); its source is shown on extra.md, index.md"
    ]
    # a build error (igtools docs) naming the file, its line and PlantUML's message
    assert result.diagram_errors == [
        "input/images-source/flow.plantuml:3 (diagram flow-named): PlantUML: Syntax Error: @enduml"
    ]


@pytest.mark.skipif(shutil.which("plantuml") is None, reason="plantuml is not installed")
def test_fixture_diagram_with_real_plantuml(tmp_path: Path) -> None:
    result, docs = convert_mini(tmp_path)
    svg = (docs / "diagrams" / "flow.svg").read_text(encoding="utf-8")
    assert "<svg" in svg and "hello" in svg
    assert result.diagrams[0].startswith("input/images-source/flow.plantuml (diagram flow-named)")
    assert "rendered to diagrams/flow-named.svg" in result.diagrams[0]


@pytest.mark.skipif(shutil.which("plantuml") is None, reason="plantuml is not installed")
@pytest.mark.parametrize("broken", ["graphviz", "syntax"])
def test_plantuml_error_images_are_diagram_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broken: str
) -> None:
    """PlantUML exits 0 or writes an SVG of its error text: both are caught, by file."""
    source = tmp_path / "ig"
    shutil.copytree(MINI, source)
    diagram = source / "input" / "images-source" / "classes.plantuml"
    if broken == "graphviz":  # a class diagram needs Graphviz's dot
        monkeypatch.setenv("GRAPHVIZ_DOT", str(tmp_path / "no-dot"))
        diagram.write_text("@startuml\nclass A\nclass B\nA --> B\n@enduml\n", encoding="utf-8")
    else:
        diagram.write_text("\n@startuml\nA -> B: hi\nfoo bar baz(\n@enduml\n", encoding="utf-8")
    result = convert_pages(source, tmp_path / "docs", mini_links())
    assert len(result.diagram_errors) == 1, result.diagram_errors
    error = result.diagram_errors[0]
    assert error.startswith("input/images-source/classes.plantuml:")
    if broken == "graphviz":
        assert "Cannot find Graphviz" in error and "install graphviz" in error
    else:
        assert (
            error == "input/images-source/classes.plantuml:4: PlantUML: Syntax Error: foo bar baz("
        )
    assert not (tmp_path / "docs" / "diagrams" / "classes.svg").exists()


def test_fixture_raw_html_links_follow_directory_urls(tmp_path: Path, no_plantuml: None) -> None:
    _, docs = convert_mini(tmp_path, use_directory_urls=True)
    guide = (docs / "guide.md").read_text(encoding="utf-8")
    # raw HTML is not rewritten by MkDocs: it gets the built URL, from guide/
    assert '<a href="../artefacts/StructureDefinition-MiniPatient/#profile">profile</a>' in guide
    assert '<img src="../images/logo.png" alt="logo">' in guide
    # markdown links stay links between .md files (MkDocs rewrites them)
    assert "[home](index.md)" in guide
    index = (docs / "index.md").read_text(encoding="utf-8")
    assert '<a href="./">this guide</a>' in index  # the home page is the site root
    assert '<img src="images/logo.png" alt="Logo">' in index


def test_fixture_language_words(tmp_path: Path, no_plantuml: None) -> None:
    _, docs = convert_mini(tmp_path, language="fr")
    index = (docs / "index.md").read_text(encoding="utf-8")
    assert "| Paquet | Version | Statut |" in index
    assert '!!! note "Diagramme non rendu"' in index


def test_fixture_no_dependencies_and_unsupported_sql(tmp_path: Path, no_plantuml: None) -> None:
    result, docs = convert_mini(tmp_path, dependency_rows=[], resources=[])
    index = (docs / "index.md").read_text(encoding="utf-8")
    assert "*No dependencies.*" in index
    # no rows at all: the query still runs (no column is unknown) and gives an empty table
    assert "| Identifier | Description |\n| --- | --- |\n\n" in index
    assert not any("sql" in line for line in result.unconverted)


@needs_mkdocs
@pytest.mark.parametrize("directory_urls", [False, True])
def test_fixture_builds_with_mkdocs_strict(
    tmp_path: Path, no_plantuml: None, directory_urls: bool
) -> None:
    links = mini_links(use_directory_urls=directory_urls)
    docs = tmp_path / "docs"
    result = convert_pages(MINI, docs, links)
    write_stubs(docs, links.artefact_pages)
    proc = mkdocs_build(tmp_path, docs, result.nav, directory_urls)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "is not found among documentation files" not in output
    assert "WARNING" not in output
    assert broken_site_links(tmp_path / "site") == []
    built = (
        tmp_path / "site" / ("guide/index.html" if directory_urls else "guide.html")
    ).read_text(encoding="utf-8")
    assert "<strong>Markdown</strong> inside" in built  # markdown="1" took effect
    assert "<ol>\n<li>one</li>\n<li>two<ul>\n<li>two-a</li>" in built  # nested list


# -- pieces of the conversion --------------------------------------------------------------


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


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # a list right after a paragraph needs a blank line; nesting on four spaces
        ("Text:\n- a\n  - b\n    - c\n- d\n", "Text:\n\n- a\n    - b\n        - c\n- d\n"),
        # ordered list content column (3) and continuation paragraphs
        ("1. a\n\n   more a\n2. b\n   - b1\n", "1. a\n\n    more a\n2. b\n    - b1\n"),
        # tabs after the marker, lazy continuation lines
        ("-\tone\ntwo\n- three\n", "- one\n    two\n- three\n"),
        # an ordered list other than 1 does not interrupt a paragraph (CommonMark)
        ("Year\n2. not a list\n", "Year\n2. not a list\n"),
        # a fence inside a list item follows the item's new indentation
        ("- a\n\n  ```\n  code\n  ```\n", "- a\n\n    ```\n    code\n    ```\n"),
        # a table right after a paragraph
        ("Intro\n| a | b |\n|---|---|\n| 1 | 2 |\n", "Intro\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"),
        # an HTML block indented under a list item is taken out of the list
        (
            "- a\n\n    <div>\n      <p>x</p>\n    </div>\n",
            "- a\n\n<div>\n  <p>x</p>\n</div>\n",
        ),
        # indented code at the top level stays code (not a list, not HTML)
        ("Para\n\n    <div>code</div>\n", "Para\n\n    <div>code</div>\n"),
        # CommonMark hard break and "#word"
        ("a\\\nb\n#c\n", "a<br>\nb\n\\#c\n"),
        # nested markdown in table cells: markdown="1" on every open element
        (
            "<table>\n<tr>\n<td>\n\n**b**\n\n</td>\n</tr>\n</table>\n",
            '<table markdown="1">\n<tr markdown="1">\n<td markdown="1">\n\n**b**\n\n</td>'
            "\n</tr>\n</table>\n",
        ),
    ],
)
def test_commonmark_structure_for_python_markdown(
    tmp_path: Path, no_plantuml: None, source: str, expected: str
) -> None:
    text, _ = convert_text(tmp_path, source)
    assert text == expected


def test_liquid_conditions_and_variables(tmp_path: Path, no_plantuml: None) -> None:
    text, result = convert_text(
        tmp_path,
        "{% if site.data.info.releaselabel == 'ci-build' %}CI{% elsif "
        "site.data.info.releaselabel == 'draft' %}DRAFT{% else %}OTHER{% endif %}\n"
        "{% unless site.data.fhir.version contains '4.0' %}not R4{% endunless %}\n"
        "{% raw %}{{ kept }}{% endraw %} {% comment %}hidden{% endcomment %}\n"
        "[spec]({{ site.data.fhir.path }}patient.html) {{site.data.fhir.canonical}}\n",
    )
    assert text == (
        "DRAFT\n\n{{ kept }} <!--hidden-->\n"
        "[spec](http://hl7.org/fhir/R4/patient.html) http://example.org/x\n"
    )
    assert result.unconverted == []


def test_anchors_map_to_mkdocs_ids(tmp_path: Path, no_plantuml: None) -> None:
    text, result = convert_text(
        tmp_path,
        "## Message d'erreur LRM -> Hub\n## SOS Médecins\n## SOS Médecins\n"
        "[a](page.html#message-derreur-lrm---hub) [b](#sos-médecins-1) "
        '[c](page.html#r%C3%A8gles) [d](#_ftn1) <a name="_ftn1">1</a>\n',
    )
    assert "[a](#message-derreur-lrm-hub) [b](#sos-medecins_1) [c](page.md) [d](#_ftn1)" in text
    assert result.unconverted == [
        "input/pagecontent/page.md:4: link [c](page.html#r%C3%A8gles): no heading for "
        "#règles in input/pagecontent/page.md; linked to the page without the anchor"
    ]


def test_mkdocs_slug_matches_python_markdown() -> None:
    toc = pytest.importorskip("markdown.extensions.toc")
    for heading in [
        "PS à titre individuel",
        "Message d'erreur LRM -> Hub",
        "Entête RC-DE",
        "Ça  va -- bien ?",
        "a_b c",
    ]:
        assert mkdocs_slug(heading) == toc.slugify(heading, "-")


def test_publisher_outputs_link_to_the_published_ig(tmp_path: Path, no_plantuml: None) -> None:
    text, result = convert_text(
        tmp_path, "[p](../package.tgz) [d](definitions.json.zip) [x](../other/page.html)\n"
    )
    assert text == (
        "[p](http://example.org/x/package.tgz) [d](http://example.org/x/definitions.json.zip) x\n"
    )
    assert result.unconverted == [
        "input/pagecontent/page.md:1: link [x](../other/page.html): outside the IG; "
        "link dropped, text kept"
    ]


def test_artefact_sub_pages_link_to_the_artefact_page(tmp_path: Path, no_plantuml: None) -> None:
    text, result = convert_text(tmp_path, "[m](StructureDefinition-MiniPatient-mappings.html#x)\n")
    assert text == "[m](artefacts/StructureDefinition-MiniPatient.md)\n"
    assert result.unconverted == [
        "input/pagecontent/page.md:1: link [m](StructureDefinition-MiniPatient-mappings.html#x):"
        " no mappings page: linked to the artefact page, anchor #x dropped"
    ]


def test_without_sushi_config_pages_come_in_file_order(tmp_path: Path, no_plantuml: None) -> None:
    source = tmp_path / "ig"
    folder = source / "input" / "pagecontent"
    folder.mkdir(parents=True)
    (folder / "b-page.md").write_text("# Second page\n\nText.\n", encoding="utf-8")
    (folder / "a_page.md").write_text("### Not a title\n", encoding="utf-8")
    (folder / "index.md").write_text("Home.\n", encoding="utf-8")
    result = convert_pages(source, tmp_path / "docs", PageLinks())
    assert result.nav == [
        {"Index": "index.md"},
        {"A page": "a_page.md"},
        {"Second page": "b-page.md"},
    ]
    assert result.unconverted == []


def test_page_copy_lists(tmp_path: Path, no_plantuml: None) -> None:
    """A pagecontent .txt of `source;target` lines: each target is the source page under
    the target's title; a source only copied is left out; what cannot be made is listed."""
    source = tmp_path / "ig"
    folder = source / "input" / "pagecontent"
    folder.mkdir(parents=True)
    (source / "sushi-config.yaml").write_text(
        "pages:\n  index.md:\n    title: Home\n  a-x.md:\n    title: A x\n"
        "  b-x.md:\n    title: B x\n  c-x.md:\n    title: C x\n"
        "menu:\n  Home: index.html\n  Things:\n    A x: a-x.html\n    B x: b-x.html\n"
        "    C x: c-x.html\n",
        encoding="utf-8",
    )
    (folder / "index.md").write_text("See [x](all-x.html#part).\n", encoding="utf-8")
    (folder / "all-x.md").write_text("### Part\n\nShared text.\n", encoding="utf-8")
    (folder / "copies.txt").write_text(
        "all-x.md;a-x.md\nall-x.md ; b-x.md\n\nmissing.md;c-x.md", encoding="utf-8"
    )
    (folder / "notes.txt").write_text("just text\n", encoding="utf-8")
    result = convert_pages(source, tmp_path / "docs", PageLinks())
    assert result.nav == [
        {"Home": "index.md"},
        {"Things": [{"A x": "a-x.md"}, {"B x": "b-x.md"}]},
    ]
    docs = tmp_path / "docs"
    assert "Shared text." in (docs / "a-x.md").read_text(encoding="utf-8")
    assert "Shared text." in (docs / "b-x.md").read_text(encoding="utf-8")
    assert not (docs / "all-x.md").exists()
    assert "(a-x.md#part)" in (docs / "index.md").read_text(encoding="utf-8")
    assert result.titles["a-x.md"] == "A x"
    assert any(
        m.startswith("input/pagecontent/copies.txt:4: copy of missing.md to c-x.md")
        for m in result.unconverted
    ), result.unconverted
    assert any(
        m.startswith("input/pagecontent/notes.txt: not a markdown page") for m in result.unconverted
    )
    assert not any(m.startswith("input/pagecontent/copies.txt: ") for m in result.unconverted)
    assert any("menu 'C x' -> c-x.html: no page" in m for m in result.unconverted)


# -- Liquid and SQL ------------------------------------------------------------------------


def test_liquid_tokenize_keeps_line_numbers_and_sql_json() -> None:
    source = (
        'a\n{% sql {\n "query": "select Id from Resources where Id like \'%}%\'"\n} %}\nb {{ x }}'
    )
    pieces = liquid.tokenize(source)
    assert [type(p).__name__ for p in pieces] == ["Text", "Tag", "Text", "Tag"]
    sql = pieces[1]
    assert isinstance(sql, liquid.Tag) and sql.line == 2 and sql.name == "sql"
    assert sql.data == {"query": "select Id from Resources where Id like '%}%'"}
    assert isinstance(pieces[2], liquid.Text) and pieces[2].line == 4
    assert isinstance(pieces[3], liquid.Tag) and pieces[3].output and pieces[3].line == 5


def test_liquid_whitespace_control() -> None:
    pieces = liquid.tokenize("a  \n{%- if x -%}\n  b")
    assert [p.text if isinstance(p, liquid.Text) else p.raw for p in pieces] == [
        "a",
        "{%- if x -%}",
        "b",
    ]
    assert pieces[2].line == 3


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("v == 'ci-build'", True),
        ("v != 'ci-build'", False),
        ("v == 'x' or n > 2", True),
        ("v == 'x' or n > 2 and n < 3", False),  # right to left: x or (n>2 and n<3)
        ("v contains 'build'", True),
        ("missing == 'x'", None),
        ("v", True),
        ("nil", False),
        ("false or v == 'ci-build'", True),
    ],
)
def test_liquid_conditions(expr: str, expected: bool | None) -> None:
    assert liquid.evaluate_condition(expr, {"v": "ci-build", "n": 3}) is expected


ROWS = [
    {"Id": "FrSlotAgregateur", "Type": "StructureDefinition", "Web": "a.md"},
    {"Id": "sas-sos-slot", "Type": "StructureDefinition", "Web": "b.md"},
    {"Id": "sas-cpts-valueset", "Type": "ValueSet", "Web": "c.md"},
    {"Id": "ExampleSlotSOS1", "Type": "Slot", "Web": "d.md"},
    {"Id": "slot_sp", "Type": "SearchParameter", "Web": "e.md"},
]


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        (
            "select Id from Resources",
            ["FrSlotAgregateur", "sas-sos-slot", "sas-cpts-valueset", "ExampleSlotSOS1", "slot_sp"],
        ),
        ("select Id from Resources where Id like '%SOS%'", ["sas-sos-slot", "ExampleSlotSOS1"]),
        (
            "select Id from Resources where Id like '%sos%' and Id not like 'example%'",
            ["sas-sos-slot"],
        ),
        (
            "select Id from Resources where Type in ('ValueSet', 'SearchParameter')",
            ["sas-cpts-valueset", "slot_sp"],
        ),
        ("select Id from Resources where Id like 'slot_s_'", ["slot_sp"]),
        ("select Id from Resources where Id like 'slot\\_%'", []),  # no ESCAPE support
        (
            "select Id from Resources where (Type = 'Slot' or Type = 'ValueSet') and Id like 's%'",
            ["sas-cpts-valueset"],
        ),
        (
            "select Id from Resources where not Type = 'StructureDefinition'",
            ["sas-cpts-valueset", "ExampleSlotSOS1", "slot_sp"],
        ),
        ("select Id from Resources where Name is null and Id = 'slot_sp'", ["slot_sp"]),
        ("SELECT id FROM resources WHERE type = 'Slot';", ["ExampleSlotSOS1"]),
        ("select Id from Resources order by Id desc limit 2", ["slot_sp", "sas-sos-slot"]),
    ],
)
def test_sql_queries(query: str, ids: list[str]) -> None:
    rows = [dict(r, Name=None) for r in ROWS]
    result = liquid.run_sql(query, rows, ["Id", "Type", "Name", "Web"])  # type: ignore[arg-type]
    assert [r.get("Id") or r.get("id") for r in result.rows] == ids


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("select Id from Other", "only the Resources table is available"),
        ("select Id, Kind from Resources", "unknown column 'Kind'"),
        ("select count(*) from Resources", "functions are not supported (count(...))"),
        ("select 1 from Resources", "only plain columns can be selected"),
        ("select Id from Resources where Id glob 'x'", "expected a comparison"),
        ("select Id from Resources group by Type", "not supported: 'group'"),
    ],
)
def test_sql_unsupported_queries_say_why(query: str, reason: str) -> None:
    with pytest.raises(liquid.SqlError, match=re.escape(reason)):
        liquid.run_sql(query, [dict(r) for r in ROWS], ["Id", "Type", "Web"])


def test_unsupported_sql_is_listed_and_shown(tmp_path: Path, no_plantuml: None) -> None:
    text, result = convert_text(tmp_path, '{% sql {"query": "select Kind from Resources"} %}\n')
    assert text.startswith("<code>{% sql {&quot;query&quot;: &quot;select Kind")
    assert result.unconverted == [
        "input/pagecontent/page.md:1: {% sql %} query not supported (unknown column 'Kind' "
        "(available: Description, Id, Name, Title, Type, Url, Web)): select Kind from "
        "Resources; shown as text"
    ]


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


# -- expected output of the fixture (no plantuml) ---------------------------------------
# (converted pages keep the source's long lines)

EXPECTED_INDEX = """\
<blockquote class="stu-note">
<p>Continuous build of <a href="index.html">this guide</a>.</p>
</blockquote>


<div class="figure">
    <img src="images/logo.png" alt="Logo">
    <p></p>
</div>

!!! note "Diagram not rendered"
    The diagram “flow” could not be rendered (plantuml not found); its PlantUML source follows.

```plantuml
@startuml flow-named
Alice -> Bob: hello
@enduml
```


### Overview
Read the [guide](guide.md#entete-rc-de) and the [profile](artefacts/StructureDefinition-MiniPatient.md).
The spec: [Patient](http://hl7.org/fhir/R4/patient.html).

- first point
    - nested point
- second point

Included note, see [the guide](guide.md).


### Resources


| Identifier | Description |
| --- | --- |
| [MiniPatient](artefacts/StructureDefinition-MiniPatient.md) | A patient, see [codes](artefacts/ValueSet-mini-codes.md) \\| piped |
| [mini-codes](artefacts/ValueSet-mini-codes.md) | Codes |


### Dependencies


| Package | Version | Status |
| --- | --- | --- |
| hl7.fhir.r4.core | 4.0.1 | resolved |
"""


EXPECTED_GUIDE = """\
### Entête RC-DE

Intro paragraph:

1. one
2. two
    * two-a

Text with `[code](x.html)` and [a ref][spec], a dead ref and unknown.
An example: [Patient example](artefacts/examples/Patient-example1.md), its [JSON](artefacts/examples/Patient-example1.md),
all [artifacts](artefacts/index.md#profiles), [home](index.md) and [nowhere](index.md).
\\#hashtag is not a heading<br>
next line.

[spec]: artefacts/ValueSet-mini-codes.md "The codes"


<div class="note" markdown="1">

**Markdown** inside with a [link](index.md).

</div>

<table>
  <tr><td><a href="artefacts/StructureDefinition-MiniPatient.html#profile">profile</a> gone</td>
  <td><img src="images/logo.png" alt="logo"> <em>nothing</em></td></tr>
</table>

### Lists and links


[Patient/example1](artefacts/examples/Patient-example1.md)

```json
{
  "resourceType": "Patient",
  "id": "example1"
}
```




[Patient/example1](artefacts/examples/Patient-example1.md)

```json
{
  "resourceType": "Patient",
  "id": "example1"
}
```


```html
<a href="not-rewritten.html">code</a>
```
"""


EXPECTED_EXTRA = """\
<div class="figure">
  <p> <code>{% include absent.svg %}</code></p>
</div>

!!! note "Diagram not rendered"
    The diagram “flow-named” could not be rendered (plantuml not found); its PlantUML source follows.

```plantuml
@startuml flow-named
Alice -> Bob: hello
@enduml
```


<code>{% include fragment-unknown.xhtml %}</code>
<code>{% assign x = 1 %}</code>
<code>{% if page.path == &#x27;extra.html&#x27; %}</code>kept with its tags<code>{% endif %}</code>
Title: <code>{{ page.title }}</code>

![Logo](images/logo.png) *Lost*

<div><p>unclosed paragraph
still open</p></div>

After the block.
"""
