"""A profile no instance can satisfy is reported with the constraints that contradict
each other, and the other profiles still get their instances."""

from __future__ import annotations

import copy

import pytest

from igtools.ir import build_ir
from igtools.ir.model import IG, Discriminator, Element, Profile, Slicing
from igtools.packages import PackageLoader, Settings
from igtools.render.examples.contradictions import contradictions
from igtools.render.examples.writer import ExamplesRenderer, parse_now
from tests.golden import FIXTURE

OBSERVATION = "http://example.org/fhir/mini/StructureDefinition/mini-observation"


@pytest.fixture(scope="module")
def ig(tmp_path_factory: pytest.TempPathFactory) -> IG:
    settings = Settings(cache_dir=tmp_path_factory.mktemp("cache"), offline=True)
    loader = PackageLoader(settings)
    try:
        pset = loader.load(str(FIXTURE))
    finally:
        loader.close()
    return build_ir(pset)


def _observation(ig: IG) -> tuple[Profile, dict[str, Element]]:
    prof = copy.deepcopy(ig.profiles[OBSERVATION])
    return prof, {el.id: el for el in prof.elements()}


def test_the_fixture_profiles_are_satisfiable(ig: IG) -> None:
    for prof in ig.profiles.values():
        assert contradictions(prof) == [], prof.url


def test_min_above_max(ig: IG) -> None:
    prof, els = _observation(ig)
    els["Observation.category"].min = 2
    assert contradictions(prof) == ["Observation.category: min 2 > max 1"]


def test_fixed_code_outside_its_required_binding(ig: IG) -> None:
    prof, els = _observation(ig)
    code = els["Observation.code"]
    assert code.binding is not None and code.binding.complete and code.binding.codes
    system = code.binding.codes[0].system
    code.pattern = ("patternCodeableConcept", {"coding": [{"system": system, "code": "nope"}]})
    found = contradictions(prof)
    assert len(found) == 1
    assert found[0].startswith(f"Observation.code: patternCodeableConcept {system}#nope")
    assert str(code.binding.value_set) in found[0]
    # one of its codes is fine
    good = code.binding.codes[0].code
    code.pattern = ("patternCodeableConcept", {"coding": [{"system": system, "code": good}]})
    assert contradictions(prof) == []


def test_fixed_and_pattern_disagree(ig: IG) -> None:
    prof, els = _observation(ig)
    status = els["Observation.status"]
    status.fixed = ("fixedCode", "final")
    status.pattern = ("patternCode", "amended")
    found = contradictions(prof)
    assert any(f.startswith("Observation.status: fixedCode 'final' and patternCode") for f in found)


def test_required_items_a_closed_slicing_cannot_hold(ig: IG) -> None:
    prof, els = _observation(ig)
    category = els["Observation.category"]
    category.slicing = Slicing([Discriminator("pattern", "$this")], rules="closed")
    only = copy.deepcopy(category)
    only.id, only.slice_name, only.min, only.max = "Observation.category:none", "none", 0, 0
    only.slicing = None
    category.slices = [only]
    found = contradictions(prof)
    assert found == [
        "Observation.category: min 1, but its closed slicing holds at most 0 items (none allowed)"
    ]


def test_required_slices_beyond_the_max(ig: IG) -> None:
    prof, els = _observation(ig)
    category = els["Observation.category"]
    slices = []
    for name in ("a", "b"):
        s = copy.deepcopy(category)
        s.id, s.slice_name, s.min, s.max, s.slices = f"Observation.category:{name}", name, 1, 1, []
        slices.append(s)
    category.slices = slices
    assert contradictions(prof) == [
        "Observation.category: max 1, but its slices require 2 items (a min 1, b min 1)"
    ]


def test_the_other_profiles_are_still_written(ig: IG) -> None:
    broken = copy.deepcopy(ig)
    for el in broken.profiles[OBSERVATION].elements():
        if el.id == "Observation.category":
            el.min = 2
    renderer = ExamplesRenderer(broken, now=parse_now("2026-01-05"))
    report = renderer.build()
    assert any("Observation.category: min 2 > max 1" in x for x in report.impossible)
    profiles = {g.profile.url for g in report.generated}
    assert OBSERVATION not in profiles
    assert profiles, "the other profiles still get instances"
    assert renderer.failures(report) == []


def test_a_closed_type_slicing_of_a_choice_holds_its_types(ig: IG) -> None:
    """value[x] restricted to one type, 1..1, sliced by type on $this, closed, with no
    named slice: its types are the implicit slices (valueQuantity), nothing contradicts."""
    prof, els = _observation(ig)
    value = els["Observation.value[x]"]
    value.min, value.max = 1, 1
    value.types = [t for t in value.types if t.code == "Quantity"] or value.types[:1]
    value.slicing = Slicing([Discriminator("type", "$this")], rules="closed")
    value.slices = []
    assert contradictions(prof) == []
    # the same closed slicing on an element that is not a choice still contradicts
    category = els["Observation.category"]
    category.slicing = Slicing([Discriminator("type", "$this")], rules="closed")
    category.slices = []
    assert contradictions(prof) == [
        "Observation.category: min 1, but its closed slicing holds at most 0 items (none allowed)"
    ]
