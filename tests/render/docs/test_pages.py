# ruff: noqa: E501  (the expected pages at the end keep their long lines)
"""Narrative pages of an IG source tree as MkDocs markdown (igtools.render.docs.pages).

The fixture ``tests/fixtures/mini-ig-pages`` holds every construct the converter handles;
its output is asserted exactly. The SAS IG source in ``../shared/ig-source`` is converted
whole and built with ``mkdocs build --strict``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from igtools.render.docs.pages import PageLinks, convert_pages, mkdocs_slug
from tests.render.docs.pagetools import (
    MINI,
    broken_site_links,
    convert_mini,
    convert_text,
    fake_plantuml,
    mini_links,
    mkdocs_build,
    needs_mkdocs,
    write_stubs,
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
