"""Links of the IG's texts on artefact pages: to our pages, else to the published IG."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from igtools.ir import IG, build_ir
from igtools.packages import PackageLoader, Settings
from igtools.render.docs.pages import mkdocs_slug
from igtools.render.docs.site import DocsRenderer
from igtools.render.docs.textlinks import LinkMapper
from tests.conftest import SHARED, shared_path
from tests.render.docs.browser import CHROMIUM, LAYOUT, browser

BASE = "http://example.org/fhir/ig"
ARTEFACTS = {
    "StructureDefinition-p": "artefacts/StructureDefinition-p.md",
    "Patient-ex": "artefacts/examples/Patient-ex.md",
}


def mapper(narrative: dict[str, str] | None = None, base: str | None = BASE) -> LinkMapper:
    return LinkMapper(ARTEFACTS, narrative or {}, base, mkdocs_slug)


def test_package_only_links_go_to_the_published_ig() -> None:
    text = (
        "See [the rules](general-requirements.html#must-support), "
        "[p](StructureDefinition-p.html), [p defs](StructureDefinition-p-definitions.html#P.a), "
        '[here](#summary), [ex](./Patient-ex.html), <a href="guidance.html">g</a>, '
        "[web](https://hl7.org/x.html), [ours](../index.md), [mail](mailto:a@b.c)\n\n"
        "## Summary\n\n[local](#summary) and [there](#elsewhere)\n\n"
        '```json\n{"a": "[x](y.html)"}\n```\n'
    )
    out = mapper().rewrite(text, "artefacts/StructureDefinition-q.md")
    assert f"[the rules]({BASE}/general-requirements.html#must-support)" in out
    assert "[p](StructureDefinition-p.md)" in out
    assert f"[p defs]({BASE}/StructureDefinition-p-definitions.html#P.a)" in out
    assert "[ex](examples/Patient-ex.md)" in out
    assert f'<a href="{BASE}/guidance.html">g</a>' in out
    assert "[web](https://hl7.org/x.html)" in out and "[ours](../index.md)" in out
    assert "[mail](mailto:a@b.c)" in out
    # an anchor of the page itself stays; another goes to the published page
    assert "[local](#summary)" in out and "[here](#summary)" in out
    assert f"[there]({BASE}/StructureDefinition-q.html#elsewhere)" in out
    assert '{"a": "[x](y.html)"}' in out  # code is not rewritten


def test_files_are_left_alone() -> None:
    text = "[Download](json/StructureDefinition-q.json){ .md-button } ![i](images/a.png)"
    assert mapper().rewrite(text, "artefacts/StructureDefinition-q.md") == text


def test_narrative_pages_of_the_site_are_ours() -> None:
    m = mapper({"general-requirements": "general-requirements.md"})
    out = m.rewrite("[r](general-requirements.html#x)", "artefacts/examples/Patient-ex.md")
    assert out == "[r](../../general-requirements.md)"


def test_without_a_canonical_links_are_left() -> None:
    out = mapper(base=None).rewrite(
        "[r](general.html) [p](StructureDefinition-p.html#a)", "artefacts/x.md"
    )
    assert out == "[r](general.html) [p](StructureDefinition-p.md)"


_FOLDER = SHARED / "fhir-packages"
PACKAGES = sorted(
    p.name
    for p in (_FOLDER.glob("*.tgz") if _FOLDER.is_dir() else [])
    # the FHIR core specification and THO are not IGs with pages of their own
    if not p.name.startswith(("hl7.fhir.r4.core-", "hl7.terminology."))
)


@pytest.fixture(scope="module")
def loader(tmp_path_factory: pytest.TempPathFactory) -> PackageLoader:
    """One package cache for the module (the dependencies are shared between IGs)."""
    return PackageLoader(
        Settings(cache_dir=tmp_path_factory.mktemp("cache"), offline=True, package_dirs=[_FOLDER])
    )


# every IG, the extensions pack included (856 pages: under a minute since the nav lists
# only the small kinds; it weighed 2.1 GB and took minutes when every page was in it)
_PARAMS = list(PACKAGES)


@pytest.mark.shared
@pytest.mark.parametrize("package", _PARAMS or ["(none)"])
def test_package_only_site_builds_strictly(
    package: str, loader: PackageLoader, tmp_path: Path
) -> None:
    """`igtools docs PACKAGE --no-pages`: strict build, no broken link (US Core 6.1.0
    had 10 links to its narrative pages, now to its published pages); the structure views
    of its largest profile pages fit 1280 px in a browser."""
    tgz = shared_path("fhir-packages", package)
    pset = loader.load(str(tgz))
    ig: IG = build_ir(pset)
    renderer = DocsRenderer(ig, pset)
    report = renderer.render(tmp_path)
    renderer.build(tmp_path, report)  # raises on a strict-build failure or a broken link
    assert report.links is not None and report.links.links > 0
    _check_layout(tmp_path / "site")
    if package.startswith("hl7.fhir.us.core-"):
        server = tmp_path / "site" / "artefacts" / "CapabilityStatement-us-core-server.html"
        html = server.read_text(encoding="utf-8")
        assert 'href="http://hl7.org/fhir/us/core/general-requirements.html"' in html


def _check_layout(site: Path, pages: int = 5) -> None:
    """The structure views of the largest profile and extension pages at 1280 px, in
    Debian's Chromium when it is installed (the layout checks of issue 13 item 6 on every
    IG of ../shared, not only SAS): no horizontal overflow, no table wider than its column,
    no row taller than 400 px."""
    if CHROMIUM is None or importlib.util.find_spec("playwright") is None:
        return  # the SAS browser tests say why they skip
    largest = sorted(
        (site / "artefacts").glob("StructureDefinition-*.html"),
        key=lambda f: (-f.stat().st_size, f.name),
    )[:pages]
    problems: list[str] = []
    with browser(site) as (page, base, _requests):
        for f in largest:
            url = f.relative_to(site).as_posix()
            page.goto(f"{base}/{url}")
            labels = page.locator(".ig-views > .tabbed-labels > label")
            for k in range(labels.count()):
                labels.nth(k).click()
                problems += [f"{url} (view {k + 1}): {p}" for p in page.evaluate(LAYOUT, True)]
    assert problems == [], "\n".join(problems)
