"""The corrections the HL7 tools make to published definitions as they load them
(igtools.packages.corrections), on the real core package of ../shared and on small
packages of our own."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from igtools.packages.corrections import VS1_EXPRESSION, correct
from igtools.packages.index import ResourceIndex
from igtools.packages.package import read_package_archive
from igtools.validate.validator import Validator
from tests.conftest import SHARED

FHIR_SD = "http://hl7.org/fhir/StructureDefinition/"
CORE_TGZ = SHARED / "fhir-packages" / "hl7.fhir.r4.core-4.0.1.tgz"


def _element(sd: dict[str, Any], eid: str, part: str = "snapshot") -> dict[str, Any]:
    found: dict[str, Any] = next(e for e in sd[part]["element"] if e["id"] == eid)
    return found


@pytest.fixture(scope="module")
def core() -> ResourceIndex:
    if not CORE_TGZ.is_file():
        pytest.skip(f"{CORE_TGZ} absent")
    return ResourceIndex([read_package_archive(CORE_TGZ)])


def _sd(index: ResourceIndex, name: str) -> dict[str, Any]:
    entry = index.resolve(FHIR_SD + name)
    assert entry is not None, name
    return entry.data


@pytest.mark.shared
def test_vital_signs_units_are_extensible_on_components(core: ResourceIndex) -> None:
    for name in ("vitalsigns", "bp", "bodyweight", "heartrate"):
        sd = _sd(core, name)
        binding = _element(sd, "Observation.component.value[x]")["binding"]
        assert binding["strength"] == "extensible", name
        assert binding["valueSet"].endswith("ucum-vitals-common|4.0.1")
    diff = _element(_sd(core, "vitalsigns"), "Observation.component.value[x]", "differential")
    assert diff["binding"]["strength"] == "extensible"
    # a value[x] bound by the profile itself keeps its strength (bodyweight's units)
    weight = _element(_sd(core, "bodyweight"), "Observation.value[x]:valueQuantity.code")
    assert weight["binding"]["strength"] == "required"


@pytest.mark.shared
def test_vs1_is_the_corrected_expression(core: ResourceIndex) -> None:
    for name in ("vitalsigns", "bp", "bmi"):
        invs = [
            c
            for e in _sd(core, name)["snapshot"]["element"]
            for c in e.get("constraint") or []
            if c["key"] == "vs-1"
        ]
        assert invs and {c["expression"] for c in invs} == {VS1_EXPRESSION}, name


@pytest.mark.shared
def test_null_flavor_binding_is_unversioned(core: ResourceIndex) -> None:
    sd = _sd(core, "iso21090-nullFlavor")
    sets = {e["binding"]["valueSet"] for e in sd["snapshot"]["element"] if "binding" in e}
    assert sets == {"http://terminology.hl7.org/ValueSet/v3-NullFlavor"}


def _profile(url: str, base: str, version: str = "1.0.0") -> dict[str, Any]:
    comp = {
        "id": "Observation.component.value[x]",
        "path": "Observation.component.value[x]",
        "binding": {
            "strength": "required",
            "valueSet": "http://hl7.org/fhir/ValueSet/ucum-vitals-common|4.0.1",
        },
        "constraint": [
            {"key": "vs-1", "expression": "($this as dateTime).toString().length() >= 8"}
        ],
    }
    return {
        "resourceType": "StructureDefinition",
        "url": url,
        "version": version,
        "type": "Observation",
        "baseDefinition": base,
        "differential": {"element": [comp]},
        "snapshot": {"element": [copy.deepcopy(comp)]},
    }


def test_a_profile_derived_from_vital_signs_gets_vs1_but_keeps_its_bindings() -> None:
    sd = _profile("http://example.org/StructureDefinition/bw", FHIR_SD + "vitalsigns|4.0.1")
    correct(sd, "example.ig#1.0.0")
    el = sd["snapshot"]["element"][0]
    assert el["constraint"][0]["expression"] == VS1_EXPRESSION
    # the binding correction is the core's: an IG's own statement is its own
    assert el["binding"]["strength"] == "required"


def test_a_core_profile_derived_from_vital_signs_is_corrected_and_others_are_not() -> None:
    sd = _profile(FHIR_SD + "bw", FHIR_SD + "vitalsigns", "4.0.1")
    correct(sd, "hl7.fhir.r4.core#4.0.1")
    assert sd["differential"]["element"][0]["binding"]["strength"] == "extensible"
    other = _profile(FHIR_SD + "bw2", FHIR_SD + "Observation", "4.0.1")
    correct(other, "hl7.fhir.r4.core#4.0.1")
    el = other["snapshot"]["element"][0]
    assert el["binding"]["strength"] == "required"
    assert el["constraint"][0]["expression"].startswith("($this as dateTime)")


def test_r5_types_leave_the_extensions_pack_only() -> None:
    def ext() -> dict[str, Any]:
        types = [{"code": "CodeableConcept"}, {"code": "CodeableReference"}, {"code": "integer64"}]
        el = {"id": "Extension.value[x]", "path": "Extension.value[x]", "type": types}
        return {
            "resourceType": "StructureDefinition",
            "url": "http://hl7.org/fhir/StructureDefinition/some-ext",
            "snapshot": {"element": [el]},
            "differential": {"element": [copy.deepcopy(el)]},
        }

    pack, other = ext(), ext()
    correct(pack, "hl7.fhir.uv.extensions.r4#5.2.0")
    correct(other, "example.ig#1.0.0")
    for part in ("snapshot", "differential"):
        assert [t["code"] for t in pack[part]["element"][0]["type"]] == ["CodeableConcept"]
    assert len(other["snapshot"]["element"][0]["type"]) == 3


@pytest.mark.shared
def test_a_blood_pressure_component_in_another_unit_is_a_warning(
    fr_core_validator: Validator,
) -> None:
    """The reference validator judges the corrected core: a component's unit outside the
    Vital Signs Units is a warning (extensible), not an error."""

    def component(code: str, value: dict[str, Any]) -> dict[str, Any]:
        coding = {"system": "http://loinc.org", "code": code}
        return {"code": {"coding": [coding]}, "valueQuantity": value}

    kpa = {"value": 16, "unit": "kPa", "system": "http://unitsofmeasure.org", "code": "kPa"}
    res = {
        "resourceType": "Observation",
        "meta": {"profile": [FHIR_SD + "bp"]},
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        "subject": {"reference": "Patient/p"},
        "effectiveDateTime": "2024-01-02",
        "component": [
            component("8480-6", kpa),
            component("8462-4", {**kpa, "value": 10}),
        ],
    }
    issues = fr_core_validator.validate_resource(res)
    errors = [f"{i.location}: {i.message}" for i in issues if i.severity in ("error", "fatal")]
    assert errors == []
    warned = [i for i in issues if i.severity == "warning" and "ucum-vitals-common" in i.message]
    assert warned, [f"{i.severity} {i.location}: {i.message}" for i in issues]
