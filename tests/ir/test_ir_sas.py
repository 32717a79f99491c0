"""The IR built from the real SAS packages: properties checked against the snapshots."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from igtools.ir import IG, build_ir
from igtools.ir.profiles import SnapshotError, build_profile
from igtools.packages import PackageLoader, Settings

CPTS_SLOT = (
    "https://interop.esante.gouv.fr/ig/fhir/sas/StructureDefinition/sas-cpts-slot-aggregator"
)
PS_SLOT = "http://sas.fr/fhir/StructureDefinition/FrSlotAgregateur"
R5_EXT = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Slot.serviceType"


@pytest.fixture(scope="module")
def ig(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> IG:
    from tests.conftest import shared_path

    tgz = shared_path("fhir-packages", "ans.fhir.fr.sas-1.2.0.tgz")
    cache = tmp_path_factory.mktemp("cache")
    pset = PackageLoader(Settings(cache_dir=cache, offline=True)).load(str(tgz))
    return build_ir(pset)


def test_every_structure_definition_has_ir(ig: IG) -> None:
    assert len(ig.profiles) == 20
    assert sum(p.is_extension for p in ig.profiles.values()) == 2
    assert len(ig.capabilities) == 9
    assert len(ig.value_sets) >= 9
    assert len(ig.examples) == 45


def test_snapshot_tree_is_complete(ig: IG) -> None:
    """Every snapshot element lands exactly once in the tree."""
    import json
    import tarfile

    from tests.conftest import shared_path

    tgz = shared_path("fhir-packages", "ans.fhir.fr.sas-1.2.0.tgz")
    with tarfile.open(tgz) as tf:
        for m in tf:
            if m.name.startswith("package/StructureDefinition-"):
                fh = tf.extractfile(m)
                assert fh is not None
                sd = json.load(fh)
                ids = [e["id"] for e in sd["snapshot"]["element"]]
                tree = [el.id for el in ig.profiles[sd["url"]].elements()]
                assert sorted(tree) == sorted(ids), sd["url"]


def test_slices_discriminators_and_cardinality(ig: IG) -> None:
    slot = ig.profiles[CPTS_SLOT]
    st = slot.root.child("serviceType")
    assert st is not None and st.slicing is not None
    assert [(d.type, d.path) for d in st.slicing.discriminators] == [("pattern", "$this")]
    assert [s.slice_name for s in st.slices] == ["TypeConsultation", "referencecpts"]
    ref = st.slice("referencecpts")
    assert ref is not None
    ext = ref.child("extension")
    assert ext is not None and ext.min == 1
    r5 = ext.slice("sas-servicetype-r5")
    assert r5 is not None and (r5.min, r5.max) == (1, 1)
    # the extension definition is in the package: typed value
    assert r5.extension is not None and r5.extension.url == R5_EXT
    assert [t.code for t in r5.extension.value_types] == ["Reference"]
    # the profile narrows the value inside the slice to the CPTS HealthcareService profile
    value = r5.child("value[x]")
    assert value is not None
    assert value.types[0].target_profiles == [
        "https://interop.esante.gouv.fr/ig/fhir/sas/StructureDefinition/sas-cpts-healthcareservice-aggregator"
    ]
    # TypeConsultation forbids the R5 extension
    tc = st.slice("TypeConsultation")
    assert tc is not None
    tc_ext = tc.child("extension")
    assert tc_ext is not None
    forbidden = tc_ext.slice("sas-servicetype-r5")
    assert forbidden is not None and forbidden.prohibited


def test_fixed_pattern_and_required_binding(ig: IG) -> None:
    slot = ig.profiles[CPTS_SLOT]
    status = slot.root.child("status")
    assert status is not None
    assert status.pattern == ("patternCode", "free")
    assert status.required and status.max == 1
    b = status.binding
    assert b is not None and b.strength == "required"
    # slotstatus is a core value set: codes come from fhir.resources
    assert b.codes is not None and {c.code for c in b.codes} >= {"free", "busy"}
    system = slot.element("Slot.serviceType:TypeConsultation.coding.system")
    assert system is not None and system.pattern is not None
    assert system.pattern[0] == "patternUri"
    url = slot.element("Slot.serviceType:referencecpts.extension:sas-servicetype-r5.url")
    assert url is not None and url.fixed == ("fixedUri", R5_EXT)


def test_ig_value_set_expanded_from_package(ig: IG) -> None:
    vs = ig.value_sets[
        "https://interop.esante.gouv.fr/ig/fhir/sas/ValueSet/categorie-orientation-sas-valueset"
    ]
    assert vs.codes is not None
    codes = {c.code for c in vs.codes}
    assert {"001", "002", "003"} <= codes


def test_choice_types_and_references(ig: IG) -> None:
    slot = ig.profiles[PS_SLOT]
    schedule = slot.root.child("schedule")
    assert schedule is not None and schedule.required
    assert schedule.types[0].code == "Reference"
    assert schedule.types[0].target_profiles == [
        "http://sas.fr/fhir/StructureDefinition/FrScheduleAgregateur"
    ]
    ext = ig.extensions[R5_EXT]
    assert ext.value_element is not None
    assert ext.value_element.is_choice
    assert ext.value_element.json_names() == ["valueReference"]


def test_invariants_and_flags(ig: IG) -> None:
    slot = ig.profiles[PS_SLOT]
    keys = {inv.key for _, inv in slot.invariants}
    assert {"dom-2", "dom-3", "ele-1"} <= keys
    for _, inv in slot.invariants:
        assert inv.severity in ("error", "warning")
        assert inv.expression
    # mustSupport exactly where the snapshots say (none on FrSlotAgregateur)
    assert not any(el.must_support for el in slot.elements())
    org = ig.profiles[
        "https://interop.esante.gouv.fr/ig/fhir/sas/StructureDefinition/sas-cpts-organization-aggregator"
    ]
    assert sum(el.must_support for el in org.elements()) == 2


def test_capabilities_use_wire_codes(ig: IG) -> None:
    caps = {c.id: c for c in ig.capabilities}
    ps = caps["SAS-GestionnaireAgenda-PsIndiv"]
    assert [r.mode for r in ps.rest] == ["server"]
    slot = next(r for r in ps.rest[0].resources if r.type == "Slot")
    # the statement labels it SPDateDebutSlot (or similar); the wire name is the SP's code
    start = next(p for p in slot.search_params if p.url and p.url.endswith("slot-sp-start"))
    assert start.code == "start" and start.type == "date" and start.resolved
    assert start.name != start.code
    assert "Slot:schedule" in slot.search_includes
    regul = caps["SAS-GestionnaireStructure"]
    prac = regul.rest[0].resources[0]
    assert prac.type == "Practitioner"
    assert set(prac.interactions) == {"create", "update"}


def test_missing_fr_core_extensions_are_warned(ig: IG) -> None:
    assert any("FrAppointmentOperator" in w and "not found" in w for w in ig.warnings), ig.warnings


def test_profile_without_snapshot_is_a_clear_error() -> None:
    sd = {
        "resourceType": "StructureDefinition",
        "url": "http://example.org/sd/x",
        "type": "Patient",
        "differential": {"element": [{"id": "Patient", "path": "Patient"}]},
    }
    with pytest.raises(SnapshotError, match=re.escape("http://example.org/sd/x has no snapshot")):
        build_profile(sd, "x#1", lambda url: None)


def test_broken_tree_is_a_clear_error() -> None:
    sd = {
        "url": "http://example.org/sd/y",
        "type": "Patient",
        "snapshot": {
            "element": [
                {"id": "Patient", "path": "Patient", "min": 0, "max": "*"},
                {"id": "Patient.name.given", "path": "Patient.name.given", "min": 0, "max": "*"},
            ]
        },
    }
    with pytest.raises(SnapshotError, match=re.escape("Patient.name.given")):
        build_profile(sd, "y#1", lambda url: None)


def test_ir_is_deterministic(tmp_path: Path) -> None:
    from tests.conftest import shared_path

    tgz = shared_path("fhir-packages", "ans.fhir.fr.sas-1.1.0.tgz")
    a = build_ir(PackageLoader(Settings(cache_dir=tmp_path, offline=True)).load(str(tgz)))
    b = build_ir(PackageLoader(Settings(cache_dir=tmp_path, offline=True)).load(str(tgz)))
    assert list(a.profiles) == list(b.profiles)
    assert a.warnings == b.warnings
    assert len(a.profiles) == 19
