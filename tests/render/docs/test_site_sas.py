"""`igtools docs` on SAS 1.2.0: strict build, a page per artefact, no broken link, no
asset from the web, French search, and a real browser (Playwright + Debian Chromium)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from igtools.ir import IG, build_ir
from igtools.packages import PackageLoader, Settings
from igtools.render.diff.compare import compare
from igtools.render.diff.report import to_markdown
from igtools.render.docs.site import DocsRenderer, DocsReport
from tests.conftest import shared_path
from tests.render.docs.browser import CHROMIUM, DIAGRAMS, LAYOUT, NO_CHROMIUM, browser


@pytest.fixture(scope="module")
def sas_ig(tmp_path_factory: pytest.TempPathFactory) -> tuple[IG, object]:
    tgz = shared_path("fhir-packages", "ans.fhir.fr.sas-1.2.0.tgz")
    pset = PackageLoader(Settings(cache_dir=tmp_path_factory.mktemp("c"), offline=True)).load(
        str(tgz)
    )
    return build_ir(pset), pset


@pytest.fixture(scope="module")
def built(
    sas_ig: tuple[IG, object], tmp_path_factory: pytest.TempPathFactory
) -> tuple[IG, DocsReport]:
    ig, pset = sas_ig
    out = tmp_path_factory.mktemp("site")
    pages = shared_path("ig-source", "sas-1.2.0")
    old = PackageLoader(Settings(cache_dir=tmp_path_factory.mktemp("c"), offline=True)).load(
        str(shared_path("fhir-packages", "ans.fhir.fr.sas-1.1.0.tgz"))
    )
    changes = to_markdown(compare(build_ir(old), ig))  # what `igtools docs --previous` adds
    renderer = DocsRenderer(ig, pset, pages=pages, changes=changes)  # type: ignore[arg-type]
    report = renderer.render(out)
    renderer.build(out, report)  # raises on a strict-build failure or a broken link
    return ig, report


def test_every_artefact_has_a_page(built: tuple[IG, DocsReport]) -> None:
    ig, report = built
    assert report.site is not None
    art = report.site / "artefacts"
    for p in ig.profiles.values():
        assert (art / f"StructureDefinition-{p.id}.html").is_file(), p.id
    for vs in ig.value_sets.values():
        if vs.package == ig.package:
            assert (art / f"ValueSet-{vs.id}.html").is_file()
    for cs in ig.code_systems.values():
        assert (art / f"CodeSystem-{cs.id}.html").is_file()
    for c in ig.capabilities:
        assert (art / f"CapabilityStatement-{c.id}.html").is_file()
    assert len(list(art.glob("SearchParameter-*.html"))) == len(ig.search_params) == 2
    for ex in ig.examples:
        assert (art / "examples" / f"{ex.resource_type}-{ex.id}.html").is_file()
    assert len(list((art / "examples").glob("*.html"))) == 45
    # downloads
    assert (art / "json" / "StructureDefinition-FrSlotAgregateur.json").is_file()
    # the artefacts index groups by use case as the IG does (its SQL tables)
    index = (art / "index.html").read_text()
    for group in ("PS à titre individuel", "CPTS", "SOS Médecins"):
        assert group in index, group
    assert index.count("<table>") >= 3 + 6


def test_changes_page(built: tuple[IG, DocsReport]) -> None:
    _, report = built
    html = (report.site / "changes.html").read_text(encoding="utf-8")
    assert "Changements" in html  # French label: the IG is French
    assert "ans.fhir.fr.sas#1.1.0 → ans.fhir.fr.sas#1.2.0" in html
    assert "Appointment.created" in html and "mustSupport False -&gt; True" in html
    mkdocs_yml = (report.site.parent / "mkdocs.yml").read_text(encoding="utf-8")
    assert "Changements: changes.md" in mkdocs_yml


def test_links_and_offline(built: tuple[IG, DocsReport]) -> None:
    _, report = built
    assert report.links is not None
    assert report.links.broken == []
    assert report.links.external_assets == []
    assert report.links.links > 5000
    assert report.site is not None
    for page in report.site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "fonts.googleapis.com" not in text
        assert "cdn.jsdelivr.net" not in text and "unpkg.com" not in text


def test_profile_page_content(built: tuple[IG, DocsReport]) -> None:
    _, report = built
    assert report.site is not None
    page = (
        report.site / "artefacts" / "StructureDefinition-sas-cpts-slot-aggregator.html"
    ).read_text()
    for needle in (
        "Slot.serviceType",  # snapshot paths
        "referencecpts",  # slices
        "patternCode",  # pattern values
        "sas-cpts-valueset-typecreneau",  # binding links
        "Invariants",
        "Slot-ExampleSlotCPTS1.html",  # example claiming it
        "FrScheduleAgregateur",  # target profile
    ):
        assert needle in page, needle


def test_narrative_pages(built: tuple[IG, DocsReport]) -> None:
    _, report = built
    assert report.site is not None
    source = shared_path("ig-source", "sas-1.2.0", "input", "pagecontent")
    for md in source.glob("*.md"):
        if "-tous-" in md.name:  # only copy sources (specifications_techniques.txt)
            assert not (report.site / f"{md.stem}.html").exists(), md.name
            continue
        assert (report.site / f"{md.stem}.html").is_file(), md.name
    for img in (report.site / "images").iterdir():
        assert img.stat().st_size > 0
    index = (report.site / "index.html").read_text()
    assert "Service d" in index


def test_copied_pages_present_titled_and_in_the_nav(built: tuple[IG, DocsReport]) -> None:
    """The six pages the IG builds from `specifications_techniques.txt` (source;target)."""
    _, report = built
    assert report.site is not None
    index = (report.site / "index.html").read_text(encoding="utf-8")
    for group, prefix in (("PS indiv.", "ps"), ("CPTS", "cpts"), ("SOS Médecins", "sos")):
        for part, title in (
            ("gestion_regulateur", "Gestion des comptes régulateurs"),
            ("gestion_rdv", "Gestion de rendez-vous"),
        ):
            name = f"specifications_techniques-{prefix}-{part}.html"
            page = (report.site / name).read_text(encoding="utf-8")
            assert f"<title>{group} - {title}" in page, name
            assert f'href="{name}"' in index, name  # in the nav of every page
    assert "-tous-" not in index
    assert not any("specifications_techniques" in u and ".txt" in u for u in report.unconverted)


def test_labels_in_the_igs_language(built: tuple[IG, DocsReport]) -> None:
    """No English label on the French IG's pages (the templates' words come from labels)."""
    _, report = built
    assert report.site is not None
    art = report.site / "artefacts"
    cap = next(art.glob("CapabilityStatement-*.html")).read_text(encoding="utf-8")
    assert "<td>Nature</td>" in cap and "<td>Formats</td>" in cap
    for english in ("<td>kind</td>", "<td>format</td>", "Mode server"):
        assert english not in cap, english
    sp = next(art.glob("SearchParameter-*.html")).read_text(encoding="utf-8")
    for english in ("<td>code</td>", "<td>base</td>", "<td>target</td>", "<td>modifier</td>"):
        assert english not in sp, english
    assert "<td>Cibles</td>" in sp


def test_profile_elements_have_anchors_and_slices_nest(built: tuple[IG, DocsReport]) -> None:
    """Each snapshot row carries its element id as anchor; a slice is one level under its
    element, its children one more (the structure tree of issue 13 item 3)."""
    ig, report = built
    assert report.site is not None
    for p in ig.profiles.values():
        html = (report.site / "artefacts" / f"StructureDefinition-{p.id}.html").read_text(
            encoding="utf-8"
        )
        for el in p.elements():
            assert f'<tr id="{el.id}"' in html, (p.id, el.id)
        # the three views, the constraints with their anchors
        assert html.count('class="tabbed-block"') == 3, p.id
    sliced = next(
        (p, el)
        for p in ig.profiles.values()
        if not p.is_extension
        for el in p.elements()
        if ":" in el.id and "." not in el.id.rsplit(":", 1)[1] and el.children
    )
    p, el = sliced
    html = (report.site / "artefacts" / f"StructureDefinition-{p.id}.html").read_text(
        encoding="utf-8"
    )

    def depth_of(el_id: str) -> int:
        row = html.split(f'<tr id="{el_id}"', 1)[1][:300]
        return int(row.split("--d:", 1)[1].split('"', 1)[0])

    base = el.id.rsplit(":", 1)[0]
    assert depth_of(el.id) == depth_of(base) + 1
    assert depth_of(el.children[0].id) == depth_of(el.id) + 1
    assert depth_of(base) == base.count(".")  # no slice above it in the SAS profiles


def _search_index(report: DocsReport) -> list[dict[str, str]]:
    assert report.site is not None
    data = json.loads((report.site / "search" / "search_index.json").read_text())
    assert data["config"]["lang"] == ["fr"]
    docs: list[dict[str, str]] = data["docs"]
    return docs


@pytest.mark.parametrize(
    ("term", "page"),
    [
        ("créneau", "StructureDefinition-FrSlotAgregateur"),
        ("RPPS", ""),
        ("FrSlotAgregateur", "StructureDefinition-FrSlotAgregateur"),
        ("Slot.serviceType", "StructureDefinition-FrSlotAgregateur"),
        # an element's own entry: the search lands on its row
        ("Slot.serviceType", "StructureDefinition-FrSlotAgregateur.html#Slot.serviceType"),
    ],
)
def test_search_terms_are_indexed(built: tuple[IG, DocsReport], term: str, page: str) -> None:
    docs = _search_index(built[1])
    hits = [d["location"] for d in docs if term.lower() in (d["text"] + d["title"]).lower()]
    if "#" in page:
        assert any(h.endswith("/" + page) for h in hits), (term, hits[:5])
    assert hits, term
    if page:
        assert any(page in h for h in hits), (term, hits[:5])


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_in_a_browser(built: tuple[IG, DocsReport], tmp_path: Path) -> None:
    from PIL import Image

    _, report = built
    assert report.site is not None
    with browser(report.site) as (page, base, requests):
        # home page, then search "créneau"
        page.goto(f"{base}/index.html")
        page.locator("label.md-search__icon, .md-search__input").first.click()
        page.locator(".md-search__input").fill("créneau")
        results = page.locator(".md-search-result__item")
        # the search worker builds its index first: generous on a loaded machine
        results.first.wait_for(timeout=90000)
        assert results.count() > 0
        # an element's id finds its row (the entries the site's hook adds), and the result
        # opens the snapshot tab on it
        page.goto(f"{base}/index.html")
        page.locator("label.md-search__icon, .md-search__input").first.click()
        page.locator(".md-search__input").fill("Slot.serviceType")
        row_link = page.locator(".md-search-result__link[href$='#Slot.serviceType']")
        row_link.first.wait_for(state="attached", timeout=90000)
        page.goto(row_link.first.get_attribute("href") or "")
        assert page.locator('[id="Slot.serviceType"]').is_visible()
        # a profile page, then follow a link to one of its examples
        page.goto(f"{base}/artefacts/StructureDefinition-FrSlotAgregateur.html")
        shot = tmp_path / "profile.png"
        page.screenshot(path=str(shot), full_page=False)
        link = page.locator(".md-content a[href*='examples/Slot-']").first
        link.click()
        page.wait_for_load_state()
        assert "/artefacts/examples/Slot-" in page.url
        assert page.locator("pre code").first.inner_text().lstrip().startswith("{")
        # a link to an element row in the snapshot tab (not the one shown) selects that
        # tab and shows the row
        page.goto(f"{base}/artefacts/StructureDefinition-FrSlotAgregateur.html#Slot.serviceType")
        row = page.locator('[id="Slot.serviceType"]')
        row.wait_for(state="visible", timeout=10000)
        assert row.is_visible()
    # nothing was fetched from outside the site
    assert all(u.startswith(base) for u in requests), [
        u for u in requests if not u.startswith(base)
    ]
    # the screenshot is a rendered page, not a blank one
    img = Image.open(io.BytesIO(shot.read_bytes())).convert("L")
    colors = img.getcolors(maxcolors=1 << 16)
    assert colors is None or len(colors) > 50
    extrema = img.getextrema()
    assert extrema[1] - extrema[0] > 100


COPIED = [
    f"specifications_techniques-{who}-{part}.html"
    for who in ("ps", "cpts", "sos")
    for part in ("gestion_regulateur", "gestion_rdv")
]


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_layout_at_1280_px(built: tuple[IG, DocsReport]) -> None:
    """Issue 13 item 6: the home page, every profile and extension page (each of its
    structure views) and every narrative page at 1280 px: no horizontal overflow, no table
    wider than its column, no row taller than 400 px (on the narrative pages: but a figure
    or a long text in a wide cell, the author's content), no diagram with PlantUML or
    Graphviz error text; the six copied pages present and in the nav."""
    ig, report = built
    assert report.site is not None
    profiles = [f"artefacts/StructureDefinition-{p.id}.html" for p in ig.profiles.values()]
    source = shared_path("ig-source", "sas-1.2.0", "input", "pagecontent")
    narrative = sorted(
        f"{md.stem}.html"
        for md in source.glob("*.md")
        if "-tous-" not in md.name and md.stem != "index" and f"{md.stem}.html" not in COPIED
    )
    problems: list[str] = []
    diagrams = 0
    with browser(report.site) as (page, base, _requests):
        page.goto(f"{base}/index.html")
        nav = page.eval_on_selector_all(
            ".md-nav--primary a.md-nav__link", "els => els.map(a => a.getAttribute('href'))"
        )
        for name in COPIED:
            assert name in nav, f"{name} not in the nav"
        for url in ["index.html", *narrative, *COPIED, *profiles]:
            strict = url == "index.html" or url in profiles
            response = page.goto(f"{base}/{url}")
            assert response is not None and response.ok, url
            labels = page.locator(".ig-views > .tabbed-labels > label")
            views = labels.count()
            if url in profiles:
                assert views == 3, url
            for k in range(max(views, 1)):
                if views:
                    labels.nth(k).click()
                problems += [f"{url} (view {k + 1}): {p}" for p in page.evaluate(LAYOUT, strict)]
            found, count = page.evaluate(DIAGRAMS)
            problems += [f"{url}: {p}" for p in found]
            diagrams += count
    assert problems == [], "\n".join(problems)
    assert diagrams >= 1  # the home page's diagram at least was looked at
