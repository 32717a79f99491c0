"""The structure view of profile pages (igtools/render/docs/structure.py) on the fixture IG:
the tree, the three views, links, constraints, cut texts, the search entries and the
hook that adds them to the search index."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from igtools.ir import IG, build_ir
from igtools.ir.model import Element, Profile
from igtools.packages import PackageLoader, Settings
from igtools.render.docs.artefacts import collect, structure_links
from igtools.render.docs.labels import labels
from igtools.render.docs.search_hook import add_entries
from igtools.render.docs.structure import (
    SHORT_MAX,
    constraints_html,
    depth,
    parent_id,
    search_entries,
    structure_view,
)
from igtools.render.docs.textlinks import GENERATED_CLOSE, GENERATED_OPEN, LinkMapper
from tests.golden import FIXTURE

PATIENT = "http://example.org/fhir/mini/StructureDefinition/mini-patient"


@pytest.fixture(scope="module")
def ig(tmp_path_factory: pytest.TempPathFactory) -> IG:
    pset = PackageLoader(Settings(cache_dir=tmp_path_factory.mktemp("c"), offline=True)).load(
        str(FIXTURE)
    )
    return build_ir(pset)


def view(ig: IG, profile: Profile, lang: str = "en") -> str:
    site = collect(ig)
    path = site.pages[f"StructureDefinition-{profile.id}"].path
    return structure_view(profile, structure_links(site, path), labels(lang))


def blocks(text: str) -> list[str]:
    return re.findall(r'<div class="tabbed-block">(.*?)</div>', text, re.S)


def test_parent_and_depth() -> None:
    assert parent_id("Patient") is None
    assert parent_id("Patient.identifier") == "Patient"
    assert parent_id("Patient.identifier:ssn") == "Patient.identifier"
    assert parent_id("Patient.identifier:ssn.system") == "Patient.identifier:ssn"
    assert parent_id("Obs.component:a/b") == "Obs.component:a"
    el = Element("Patient.identifier:ssn.system", "Patient.identifier.system", 0, 1, "", 0, 1)
    assert depth(el) == 3  # Patient > identifier > :ssn > system


def test_snapshot_rows_are_the_tree(ig: IG) -> None:
    p = ig.profiles[PATIENT]
    _key, snapshot, _ms = blocks(view(ig, p))
    ids = re.findall(r'<tr id="([^"]+)"', snapshot)
    assert ids == [el.id for el in p.elements()]  # every element, in snapshot order
    depths = dict(re.findall(r'<tr id="([^"]+)".*?--d:(\d+)', snapshot))
    assert depths["Patient"] == "0"
    assert depths["Patient.identifier"] == "1"
    assert depths["Patient.identifier:ssn"] == "2"  # the slice under its element
    assert depths["Patient.identifier:ssn.system"] == "3"
    assert depths["Patient.extension:birthPlace"] == "2"  # an extension slice too


def test_key_elements_and_must_support_views(ig: IG) -> None:
    p = ig.profiles[PATIENT]
    key, _snapshot, ms = blocks(view(ig, p))
    # no anchors outside the snapshot (ids stay unique): names link to the snapshot row
    assert 'id="' not in key.replace('id="inv-', "") and 'id="' not in ms
    key_ids = re.findall(r'<a href="#([^"]+)">', key)
    diff = [el.id for el in p.elements() if el.in_differential]
    assert [i for i in key_ids if i in diff] == diff
    # mustSupport only, with the ancestors that place them (context rows, greyed)
    ms_rows = re.findall(r'<tr( class="ig-ctx")?><td class="ig-name"[^>]*><a href="#([^"]+)"', ms)
    assert ("", "Patient.identifier:ssn") in ms_rows
    assert (' class="ig-ctx"', "Patient") in ms_rows
    assert not any(i == "Patient.identifier:ssn.system" for _c, i in ms_rows)  # not MS


def test_columns_links_and_labels(ig: IG) -> None:
    p = ig.profiles[PATIENT]
    text = view(ig, p)
    snapshot = blocks(text)[1]
    gender = snapshot.split('<tr id="Patient.gender"', 1)[1].split("</tr>", 1)[0]
    assert 'title="mustSupport: must be supported">S<' in gender
    assert ">Σ<" in gender and ">1..1<" in gender
    assert '<a href="http://hl7.org/fhir/R4/datatypes.html#code">code</a>' in gender
    # the binding: the value set (linked, versionless href) and the strength
    assert 'href="http://hl7.org/fhir/ValueSet/administrative-gender"' in gender
    assert "(required)" in gender
    # a type's profile: our page, as built HTML (raw HTML is not rewritten by mkdocs)
    ext = snapshot.split('<tr id="Patient.extension:birthPlace"', 1)[1].split("</tr>", 1)[0]
    assert 'href="StructureDefinition-mini-birth-place.html"' in ext
    root = snapshot.split('<tr id="Patient"', 1)[1].split("</tr>", 1)[0]
    assert '<a href="#inv-mini-pat-1">mini-pat-1</a>' in root and ">I<" in root
    # the French labels of a French IG
    fr = view(ig, p, "fr")
    assert "Éléments clés (différentiel)" in fr and "Drapeaux" in fr


def test_constraints_listed_with_anchors(ig: IG) -> None:
    p = ig.profiles[PATIENT]
    text = constraints_html(p, labels("en"))
    assert '<tr id="inv-mini-pat-1">' in text
    assert '<a href="#Patient"><code>Patient</code></a>' in text
    assert "name.exists() or identifier.exists()" in text
    assert "ele-1" not in text


def test_long_texts_are_cut_with_the_whole_in_a_title(ig: IG) -> None:
    p = ig.profiles[PATIENT]
    el = next(e for e in p.elements() if e.id == "Patient.name")
    old = el.short
    el.short = "word " * 100 + "https://example.org/" + "x" * 200
    try:
        row = blocks(view(ig, p))[1].split('<tr id="Patient.name"', 1)[1].split("</tr>", 1)[0]
    finally:
        el.short = old
    shown = re.search(r'<td class="ig-desc"><span title="([^"]+)">([^<]+)…</span>', row)
    assert shown is not None
    assert html.unescape(shown.group(1)).endswith("x" * 200)  # the whole text
    assert len(shown.group(2)) <= SHORT_MAX


def test_search_entries_and_the_hook(ig: IG, tmp_path: Path) -> None:
    p = ig.profiles[PATIENT]
    entries = search_entries(p, "artefacts/StructureDefinition-mini-patient.html", "Mini Patient")
    assert len(entries) == len(list(p.elements()))
    gender = next(e for e in entries if e["location"].endswith("#Patient.gender"))
    assert gender["title"] == "Patient.gender (Mini Patient)"
    assert "administrative-gender" in gender["text"]
    # the hook adds them to the search index the search plugin wrote, once
    (tmp_path / "search").mkdir()
    index = tmp_path / "search" / "search_index.json"
    index.write_text(json.dumps({"config": {}, "docs": [{"location": "a.html", "title": "A"}]}))
    assert add_entries(tmp_path, entries) == len(entries)
    assert add_entries(tmp_path, entries) == 0
    docs = json.loads(index.read_text())["docs"]
    assert len(docs) == 1 + len(entries)


def test_text_links_leave_the_generated_html_alone() -> None:
    mapper = LinkMapper(
        {"StructureDefinition-x": "artefacts/StructureDefinition-x.md"}, {}, None, str
    )
    generated = f'{GENERATED_OPEN}\n<a href="StructureDefinition-x.html">x</a>\n{GENERATED_CLOSE}'
    text = f"[x](StructureDefinition-x.html)\n\n{generated}\n"
    out = mapper.rewrite(text, "artefacts/StructureDefinition-y.md")
    assert out == f"[x](StructureDefinition-x.md)\n\n{generated}\n"


def test_many_types_are_cut(ig: IG) -> None:
    """Extension.value[x] allows every FHIR type (US Core's race): the first ones shown,
    the others counted, all of them in a title."""
    from igtools.ir.model import TypeRef
    from igtools.render.docs.structure import TYPES_MAX

    p = ig.profiles[PATIENT]
    el = next(e for e in p.elements() if e.id == "Patient.birthDate")
    old = el.types
    el.types = [TypeRef(f"type{k}") for k in range(50)]
    try:
        row = blocks(view(ig, p))[1].split('<tr id="Patient.birthDate"', 1)[1].split("</tr>")[0]
    finally:
        el.types = old
    assert row.count("datatypes.html#type") == TYPES_MAX
    assert f">+{50 - TYPES_MAX}</span>" in row and "type49" in row
