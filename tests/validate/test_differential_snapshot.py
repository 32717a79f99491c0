"""A StructureDefinition validated as an instance, given by its differential alone: its
snapshot is generated and what stops the generation is an error, in the reference
validator's words ("Error generating Snapshot: ..."). Definitions of this test's own,
with hl7.fhir.r4.core from ../shared (tests/validate/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest

from igtools.validate.validator import Validator

pytestmark = pytest.mark.shared

URL = "http://example.org/fhir/ctx/StructureDefinition/obs-test"


def _profile(*paths: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "StructureDefinition",
        "url": URL,
        "name": "ObsTest",
        "status": "draft",
        "fhirVersion": "4.0.1",
        "kind": "resource",
        "abstract": False,
        "type": "Observation",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Observation",
        "derivation": "constraint",
        "differential": {"element": [{"id": p, "path": p, "short": "x"} for p in paths]},
        **extra,
    }


def _snapshot_errors(validator: Validator, sd: dict[str, Any]) -> list[str]:
    return [
        i.message
        for i in validator.validate_resource(sd)
        if i.severity == "error" and i.message.startswith("Error generating Snapshot")
    ]


def test_a_valid_differential_generates(loose_validator: Validator) -> None:
    assert _snapshot_errors(loose_validator, _profile("Observation.valueQuantity.unit")) == []


def test_illegal_paths_in_the_reference_words(loose_validator: Validator) -> None:
    errors = _snapshot_errors(loose_validator, _profile("Observation.code", "Observation..code"))
    assert errors == [
        f"Error generating Snapshot: Illegal path 'Observation..code' in differential in {URL}: "
        "name portion missing ('..')"
    ]
    errors = _snapshot_errors(loose_validator, _profile("Observation.co$de"))
    assert errors and "illegal character '$'" in errors[0]
    errors = _snapshot_errors(loose_validator, _profile("Patient.name"))
    assert errors and "must start with Observation." in errors[0]


def test_the_generator_refusal_is_the_error(loose_validator: Validator) -> None:
    errors = _snapshot_errors(loose_validator, _profile("Observation.nothingHere"))
    assert len(errors) == 1 and "'nothingHere'" in errors[0], errors


def test_not_judged_with_a_snapshot_or_an_unknown_base(loose_validator: Validator) -> None:
    with_snapshot = _profile(
        "Observation.nothingHere",
        snapshot={"element": [{"id": "Observation", "path": "Observation"}]},
    )
    assert _snapshot_errors(loose_validator, with_snapshot) == []
    unknown_base = _profile(
        "Observation.nothingHere", baseDefinition="http://example.org/none/Observation"
    )
    assert _snapshot_errors(loose_validator, unknown_base) == []
