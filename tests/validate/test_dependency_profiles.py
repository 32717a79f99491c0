"""Instances claiming a dependency's profile, and instances claiming none (checked
against hl7.fhir.r4.core's base definition), through a real package set: the
annuaire IG with FR Core 2.2.0 and hl7.fhir.r4.core from ../shared."""

from __future__ import annotations

import copy
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from igtools.ir.build import IRBuilder
from igtools.packages import PackageLoader, Settings
from igtools.validate.validator import Validator
from tests.conftest import shared_path

pytestmark = pytest.mark.shared

FR_CORE_HEIGHT = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-observation-body-height"


@pytest.fixture(scope="module")
def shared_cache(corpus_cache: Path) -> Path:
    """The session's package cache (installing hl7.fhir.r4.core takes seconds)."""
    return corpus_cache


@pytest.fixture(scope="module")
def validator(shared_cache: Path) -> Validator:
    packages = shared_path("fhir-packages")
    settings = Settings(
        cache_dir=shared_cache,
        package_dirs=[packages],
        offline=True,
        substitutes={
            "hl7.terminology.r4": "7.0.1",
            "hl7.fhir.uv.extensions.r4": "5.3.0-ballot-tc1",
        },
    )
    loader = PackageLoader(settings)
    try:
        pset = loader.load("ans.fhir.fr.annuaire#1.2.0-snapshot-2")
    finally:
        loader.close()
    builder = IRBuilder(pset)
    return Validator(builder.build(), builder=builder)


def _fr_core_example(name: str) -> dict[str, Any]:
    tgz = shared_path("fhir-packages", "hl7.fhir.fr.core-2.2.0.tgz")
    with tarfile.open(tgz) as tar:
        member = tar.extractfile(f"package/example/{name}")
        assert member is not None
        data: dict[str, Any] = json.load(member)
    return data


def _errors(v: Validator, data: dict[str, Any]) -> list[str]:
    return [str(i) for i in v.validate_resource(data) if i.severity == "error"]


def test_dependency_profile_is_checked(validator: Validator) -> None:
    height = _fr_core_example("Observation-FRCoreObservationBodyHeightExample.json")
    assert height["meta"]["profile"] == [FR_CORE_HEIGHT]
    assert _errors(validator, height) == []
    broken = copy.deepcopy(height)
    del broken["subject"]
    errors = _errors(validator, broken)
    assert any(
        e.startswith("Observation.subject:") and "FRCoreObservationBodyHeightProfile" in e
        for e in errors
    ), errors
    # the same with a versioned claim
    broken["meta"]["profile"] = [FR_CORE_HEIGHT + "|2.2.0"]
    assert _errors(validator, broken) == errors


def test_unknown_profile_is_a_warning_naming_it(validator: Validator) -> None:
    height = _fr_core_example("Observation-FRCoreObservationBodyHeightExample.json")
    height["meta"]["profile"] = ["http://example.org/StructureDefinition/nowhere"]
    issues = validator.validate_resource(height)
    warnings = [str(i) for i in issues if i.severity == "warning"]
    assert any("http://example.org/StructureDefinition/nowhere" in w for w in warnings), warnings


def test_no_profile_means_the_base_definition(validator: Validator) -> None:
    """pat-1 (a contact has a name, telecom, address or organization) is an invariant of
    hl7.fhir.r4.core's Patient: checked on an instance that claims no profile."""
    patient = {"resourceType": "Patient", "id": "p", "contact": [{"gender": "female"}]}
    errors = _errors(validator, patient)
    assert any("pat-1" in e and e.startswith("Patient.contact[0]") for e in errors), errors
    patient["contact"][0]["name"] = {"family": "Martin"}
    assert _errors(validator, patient) == []


def test_extension_checked_against_its_definition(validator: Validator) -> None:
    """An extension is validated against its definition whatever the profile says: a
    value of a type the definition does not allow is an error."""
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": "p",
        "extension": [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace",
                "valueString": "Nancy",
            }
        ],
    }
    errors = _errors(validator, patient)
    assert any(e.startswith("Patient.extension[0].valueString") for e in errors), errors
    patient["extension"][0] = {
        "url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace",
        "valueAddress": {"city": "Nancy"},
    }
    assert _errors(validator, patient) == []


def test_attachment_size_and_hash(validator: Validator) -> None:
    doc: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "id": "d",
        "status": "current",
        "content": [
            {
                "attachment": {
                    "contentType": "text/plain",
                    "data": "aGVsbG8=",  # "hello"
                    "size": 5,
                    "hash": "qvTGHdzF6KLavt4PO0gs2a6pQ00=",
                }
            }
        ],
    }
    assert _errors(validator, doc) == []
    att = doc["content"][0]["attachment"]
    att["size"], att["hash"] = 250000, "2jmj7l5rSw0yVb/vlWAYkK/YBwk="
    errors = _errors(validator, doc)
    assert any(e.startswith("DocumentReference.content[0].attachment.size") for e in errors)
    assert any(e.startswith("DocumentReference.content[0].attachment.hash") for e in errors)


def test_cli_validates_a_dependency_profile(
    tmp_path: Path, shared_cache: Path, validator: Validator
) -> None:
    from click.testing import CliRunner

    from igtools.cli import cli

    height = _fr_core_example("Observation-FRCoreObservationBodyHeightExample.json")
    del height["subject"]
    f = tmp_path / "height.json"
    f.write_text(json.dumps(height))
    args = [
        "--offline",
        "--cache-dir",
        str(shared_cache),
        "--package-dir",
        str(shared_path("fhir-packages")),
        "validate",
        "hl7.fhir.fr.core#2.2.0",
        str(f),
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert "Observation.subject" in result.stdout


def test_vital_signs_profile_implied_by_the_loinc_code(validator: Validator) -> None:
    """FHIR R4: an Observation with a vital sign's LOINC code conforms to that vital
    sign's profile (the code table comes from hl7.fhir.r4.core's profiles)."""
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": "w",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
        "subject": {"reference": "Patient/p"},
        "effectiveDateTime": "2024-05-01",
        "valueQuantity": {
            "value": 62,
            "unit": "kg",
            "system": "http://unitsofmeasure.org",
            "code": "[kg]",
        },
    }
    errors = _errors(validator, obs)
    assert any(
        e.startswith("Observation.category") and "observation-bodyweight" in e for e in errors
    ), errors
    assert any(e.startswith("Observation.valueQuantity.code") for e in errors), errors
    obs["code"]["coding"][0]["code"] = "1234-5"  # not a vital sign: the base only
    assert _errors(validator, obs) == []


def test_data_type_invariants_whatever_the_profile(validator: Validator) -> None:
    """Each data type value is checked against its type's definition in
    hl7.fhir.r4.core, as the reference validator does: per-1 on a Period, ref-1 on a
    Reference (against the contained resources of the resource that holds it)."""
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": "p",
        "name": [{"family": "Martin", "period": {"start": "2024-05-01", "end": "2020-01-01"}}],
        "generalPractitioner": [{"reference": "#gp"}],
    }
    errors = _errors(validator, patient)
    assert any(e.startswith("Patient.name[0].period") and "per-1" in e for e in errors), errors
    assert any(e.startswith("Patient.generalPractitioner[0]") and "ref-1" in e for e in errors)
    patient["name"][0]["period"]["end"] = "2025-01-01"
    patient["contained"] = [{"resourceType": "Practitioner", "id": "gp"}]
    assert _errors(validator, patient) == []


def test_member_of_any_value_set_of_the_package_set(validator: Validator) -> None:
    """FHIRPath memberOf() in invariants, through the package set's expansions: a value
    set bound nowhere in the rules is still known."""
    member_of = validator.rules.member_of
    gender = "http://hl7.org/fhir/ValueSet/administrative-gender"
    assert member_of("female", gender) is True
    assert member_of("feminine", gender) is False
    coding = {"system": "http://hl7.org/fhir/administrative-gender", "code": "male"}
    assert member_of({"coding": [coding]}, gender + "|4.0.1") is True
    assert member_of(coding, "http://example.org/ValueSet/unknown") is None


def test_member_of_in_an_invariant(validator: Validator) -> None:
    from igtools.runtime.validation import El, Inv, Rules, validate

    inv = Inv(
        "x-2",
        "error",
        "a gender of the FHIR value set",
        "gender.memberOf('http://hl7.org/fhir/ValueSet/administrative-gender')",
    )
    rules = Rules("http://x/p", "P", "Patient", El("Patient", invariants=(inv,)))
    ok = {"resourceType": "Patient", "gender": "other"}
    assert validate(ok, rules, validator.rules) == []
    bad = {"resourceType": "Patient", "gender": "feminine"}
    assert [i.rule for i in validate(bad, rules, validator.rules)] == ["invariant:x-2"]


def test_a_missing_element_reported_once(validator: Validator) -> None:
    """Required by the base (R4 Observation.status) and by the profile: the profile's
    cardinality issue names it, not a second base issue at its parent."""
    height = _fr_core_example("Observation-FRCoreObservationBodyHeightExample.json")
    del height["status"]
    errors = [e for e in _errors(validator, height) if "status" in e]
    # one per profile that requires it (the claimed one, and core's bodyheight implied by
    # the LOINC code), none from the base at the parent
    assert sorted(e.rsplit("; ", 1)[1] for e in errors) == [
        "FRCoreObservationBodyHeightProfile)",
        "observation-bodyheight)",
    ], errors
    assert all(e.startswith("Observation.status: ") for e in errors), errors
