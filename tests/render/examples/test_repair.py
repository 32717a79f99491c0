"""The repair loop: what another profile prohibits is left out, what it requires filled
in (FHIR R4's vital signs profile an Observation's LOINC code implies); slices whose
discriminator cannot tell an item apart are not both built."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from igtools.ir.build import IRBuilder
from igtools.ir.model import Discriminator, Element, Slicing, TypeRef
from igtools.render.examples.helpers import also_matches
from igtools.render.examples.repair import prune
from tests.conftest import SHARED


def _el(eid: str, lo: int = 0, hi: int | None = 1, types: list[str] | None = None) -> Element:
    path = ".".join(p.split(":")[0] for p in eid.split("."))
    return Element(
        id=eid,
        path=path,
        min=lo,
        max=hi,
        base_path=path,
        base_min=0,
        base_max=hi,
        types=[TypeRef(t) for t in types or []],
    )


def test_prune_leaves_out_prohibited_elements_and_type_slices() -> None:
    root = _el("Observation", hi=None)
    value = _el("Observation.value[x]", types=["Quantity", "string"])
    quantity = _el("Observation.value[x]:valueQuantity", hi=0, types=["Quantity"])
    quantity.slice_name = "valueQuantity"
    value.slices = [quantity]
    note = _el("Observation.note", hi=0, types=["Annotation"])
    code = _el("Observation.code", lo=1, types=["CodeableConcept"])
    root.children = [value, note, code]
    obs = {"code": {"text": "x"}, "valueQuantity": {"value": 1}, "note": [{"text": "n"}]}
    assert prune(root, obs)
    assert obs == {"code": {"text": "x"}}
    assert not prune(root, obs)


def _identifier_slice(name: str, system: str) -> Element:
    s = _el(f"Patient.identifier:{name}", types=["Identifier"])
    s.slice_name = name
    typ = _el(f"Patient.identifier:{name}.type", lo=1, types=["CodeableConcept"])
    typ.pattern = ("patternCodeableConcept", {"coding": [{"system": "v2", "code": "NH"}]})
    sys_el = _el(f"Patient.identifier:{name}.system", lo=1, types=["uri"])
    sys_el.pattern = ("patternUri", system)
    s.children = [typ, sys_el]
    return s


def test_slices_the_discriminator_cannot_tell_apart() -> None:
    identifier = _el("Patient.identifier", hi=None, types=["Identifier"])
    a, b = _identifier_slice("A", "urn:a"), _identifier_slice("B", "urn:b")
    identifier.slices = [a, b]
    item = {"type": {"coding": [{"system": "v2", "code": "NH"}]}, "system": "urn:a"}
    # sliced on type only: an item of A also matches B
    identifier.slicing = Slicing([Discriminator("value", "type")])
    assert also_matches(identifier, a, item) == ["B"]
    # sliced on type and system: told apart
    identifier.slicing = Slicing([Discriminator("value", "type"), Discriminator("value", "system")])
    assert also_matches(identifier, a, item) == []


EPRESCRIPTION = "ans.fhir.fr.eprescription#1.1.0-ballot"


@pytest.mark.shared
def test_the_implied_vital_signs_profile_is_met(corpus_cache: Path) -> None:
    from corpus.validation import load
    from igtools.render.examples.writer import PARIS, ExamplesRenderer

    name, _, version = EPRESCRIPTION.partition("#")
    if not (SHARED / "fhir-packages" / f"{name}-{version}.tgz").is_file():
        pytest.skip(f"{SHARED}/fhir-packages/{name}-{version}.tgz absent")
    loaded = load(EPRESCRIPTION, SHARED, corpus_cache)
    ig, validator = loaded.validator.ig, loaded.validator
    now = datetime(2026, 1, 5, tzinfo=PARIS)

    def observations(source: IRBuilder | None) -> dict[str, list[str]]:
        renderer = ExamplesRenderer(ig, seed=0, now=now, source=source)
        report = renderer.build()
        out = {}
        for g in report.generated:
            if g.resource["resourceType"] == "Observation":
                out[g.filename] = [
                    f"{i.rule} ({i.profile})"
                    for i in validator.validate_resource(g.resource)
                    if i.severity == "error"
                ]
        return out

    alone = observations(None)
    # built by construction only, a body height breaks the vital signs profile its code implies
    assert any(any("bodyheight" in e for e in errors) for errors in alone.values()), alone
    repaired = observations(loaded.builder)
    assert repaired.keys() == alone.keys()
    assert all(errors == [] for errors in repaired.values()), repaired


def test_an_optional_element_that_breaks_a_rule_is_left_out(tmp_path: Path) -> None:
    from igtools.ir import build_ir
    from igtools.packages import PackageLoader, Settings
    from igtools.render.examples.builder import Builder
    from igtools.render.examples.frdata import FrenchData
    from igtools.render.examples.repair import Checker, leave_out_broken
    from igtools.render.examples.writer import parse_now
    from tests.golden import FIXTURE

    loader = PackageLoader(Settings(cache_dir=tmp_path / "cache", offline=True))
    try:
        ig = build_ir(loader.load(str(FIXTURE)))
    finally:
        loader.close()
    profile = ig.profiles["http://example.org/fhir/mini/StructureDefinition/mini-observation"]
    builder = Builder(ig, FrenchData(0), parse_now("2026-01-05"))
    checker = builder.checker = Checker(ig)
    res = builder.instance(profile, "obs", full=False)
    assert checker.errors(res) == []
    res["issued"] = "not an instant"  # optional, broken
    res["status"] = "bogus"  # required, broken: leaving it out would be no better
    assert {i.location for i in checker.errors(res)} == {"Observation.issued", "Observation.status"}
    leave_out_broken(builder, res, profile)
    assert "issued" not in res
    assert res["status"] == "bogus"
    assert [i.location for i in checker.errors(res)] == ["Observation.status"]
    assert any("issued left out" in note for note in builder.skipped)
