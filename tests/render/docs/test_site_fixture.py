"""`igtools docs` on the fixture IG (no ../shared): artefact pages only, models page."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from igtools.cli import cli
from tests.golden import FIXTURE, RECORD


def test_docs_without_pages_with_models(tmp_path: Path) -> None:
    out = tmp_path / "site"
    r = CliRunner().invoke(
        cli,
        [
            "--offline",
            "-q",
            "--cache-dir",
            str(tmp_path / "c"),
            "docs",
            str(FIXTURE),
            "-o",
            str(out),
            "--models",
            str(RECORD / "models"),
            "--previous",
            str(FIXTURE),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "internal links checked" in r.stdout
    site = out / "site"
    assert (site / "index.html").is_file()
    assert (site / "models.html").is_file()
    assert "example_fhir_mini_models" in (site / "models.html").read_text()
    assert "0 changes" in (site / "changes.html").read_text()  # --previous: the same version
    art = site / "artefacts"
    names = sorted(p.name for p in art.glob("*.html"))
    assert "StructureDefinition-mini-patient.html" in names
    assert "StructureDefinition-mini-birth-place.html" in names
    assert "ValueSet-mini-score-type.html" in names
    assert "CodeSystem-mini-score-type.html" in names
    assert "CapabilityStatement-mini-server.html" in names
    assert "SearchParameter-mini-birth-place.html" in names
    assert len(list((art / "examples").glob("*.html"))) == 3
    # the English labels of a non-French IG
    assert (
        "Key elements (differential)" in (art / "StructureDefinition-mini-patient.html").read_text()
    )


def test_bad_pages_folder_is_a_usage_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    r = CliRunner().invoke(
        cli,
        [
            "--offline",
            "--cache-dir",
            str(tmp_path / "c"),
            "docs",
            str(FIXTURE),
            "-o",
            str(tmp_path / "o"),
            "--pages",
            str(empty),
        ],
    )
    assert r.exit_code == 2
    assert "not an IG source folder" in r.stderr


def test_pages_and_artefact_intro(tmp_path: Path) -> None:
    """Narrative pages of a source folder, and an artefact's intro fragment on its page."""
    import shutil

    pages = tmp_path / "pages"
    shutil.copytree(Path(__file__).resolve().parents[2] / "fixtures" / "mini-ig-pages", pages)
    content = pages / "input" / "pagecontent"
    (content / "StructureDefinition-MiniPatient-intro.md").rename(
        content / "StructureDefinition-mini-patient-intro.md"
    )
    # the pages fixture names its example after another IG: point it at ours
    guide = content / "guide.md"
    guide.write_text(guide.read_text().replace("Patient-example1", "Patient-mini-patient-1"))
    out = tmp_path / "site"
    r = CliRunner().invoke(
        cli,
        [
            "--offline",
            "-q",
            "--cache-dir",
            str(tmp_path / "c"),
            "docs",
            str(FIXTURE),
            "-o",
            str(out),
            "--pages",
            str(pages),
        ],
    )
    assert r.exit_code == 0, r.output
    page = (out / "site" / "artefacts" / "StructureDefinition-mini-patient.html").read_text()
    assert "Intro of the profile" in page
    assert (out / "site" / "guide.html").is_file()


def test_docs_with_stubs_page(tmp_path: Path) -> None:
    """`--stubs DIR` documents the generated servers, clients and models."""
    stubs = tmp_path / "stubs"
    args = ["--offline", "-q", "--cache-dir", str(tmp_path / "c")]
    r = CliRunner().invoke(cli, [*args, "stubs", str(FIXTURE), "-o", str(stubs)])
    assert r.exit_code == 0, r.output
    out = tmp_path / "site"
    r = CliRunner().invoke(
        cli, [*args, "docs", str(FIXTURE), "-o", str(out), "--stubs", str(stubs)]
    )
    assert r.exit_code == 0, r.output
    page = (out / "site" / "stubs.html").read_text()
    assert "mini_server_server" in page and "create_app" in page
    assert (out / "site" / "models.html").is_file()


@pytest.mark.skipif(shutil.which("plantuml") is None, reason="plantuml is not installed")
def test_diagram_error_stops_the_build_unless_no_strict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = tmp_path / "pages"
    shutil.copytree(Path(__file__).resolve().parents[2] / "fixtures" / "mini-ig-pages", pages)
    guide = pages / "input" / "pagecontent" / "guide.md"  # its example is another IG's
    guide.write_text(guide.read_text().replace("Patient-example1", "Patient-mini-patient-1"))
    (pages / "input" / "images-source" / "classes.plantuml").write_text(
        "@startuml\nclass A\nA --> B\n@enduml\n", encoding="utf-8"
    )
    monkeypatch.setenv("GRAPHVIZ_DOT", str(tmp_path / "no-dot"))
    args = ["--offline", "--cache-dir", str(tmp_path / "c"), "docs", str(FIXTURE)]
    args += ["--pages", str(pages), "-o", str(tmp_path / "site")]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code != 0
    assert "input/images-source/classes.plantuml:1: PlantUML: Dot Executable" in r.stderr
    assert "Cannot find Graphviz" in r.stderr and "Traceback" not in r.output
    r = CliRunner().invoke(cli, [*args, "--no-strict"])
    assert r.exit_code == 0, r.output
    assert "diagram: input/images-source/classes.plantuml:1: PlantUML" in r.stderr


def test_markdown_extensions_of_ig_pages(tmp_path: Path) -> None:
    """Footnotes, definition lists, abbreviations, strikethrough, attribute lists."""
    pages = tmp_path / "pages"
    content = pages / "input" / "pagecontent"
    content.mkdir(parents=True)
    (content / "index.md").write_text(
        "# Home\n\nA claim[^1] about the SAS.\n\nMissing[^9] note.\n\n"
        "Term\n: its definition\n\n~~old~~ new\n\nStyled paragraph.\n{: .special}\n\n"
        "[^1]: The footnote text.\n\n*[SAS]: Service d'accès aux soins\n",
        encoding="utf-8",
    )
    out = tmp_path / "site"
    args = ["--offline", "--cache-dir", str(tmp_path / "c"), "docs", str(FIXTURE)]
    r = CliRunner().invoke(cli, [*args, "--pages", str(pages), "-o", str(out)])
    assert r.exit_code == 0, r.output
    html = (out / "site" / "index.html").read_text(encoding="utf-8")
    assert 'class="footnote"' in html and "The footnote text." in html
    assert "[^1]" not in html
    assert "<dl>" in html and "<dd>" in html and "its definition" in html
    assert '<abbr title="Service d\'accès aux soins">SAS</abbr>' in html
    assert "<del>old</del>" in html
    assert '<p class="special">Styled paragraph.</p>' in html
    assert "input/pagecontent/index.md:5: footnote [^9] has no definition" in r.stderr
