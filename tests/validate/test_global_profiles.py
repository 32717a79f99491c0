"""ImplementationGuide.global: every resource of a type the package's ImplementationGuide
names there must conform to the profile it gives, whatever it claims, as the reference
validator checks when the IG is loaded (this suite's own IG: tests/validate/loose_ig.py)."""

from __future__ import annotations

from typing import Any

import pytest

from igtools.validate.validator import Validator
from tests.validate.loose_ig import MISSING_GLOBAL

pytestmark = pytest.mark.shared


def _encounter(**extra: Any) -> dict[str, Any]:
    return {"resourceType": "Encounter", "status": "planned", "class": {"code": "AMB"}, **extra}


def _issues(validator: Validator, res: dict[str, Any], profile: str | None = None) -> list[str]:
    return [
        f"{i.severity} {i.location}: {i.message} [{i.profile}]"
        for i in validator.validate_resource(res, profile)
        if i.severity in ("error", "fatal", "warning")
    ]


def test_a_global_profile_applies_to_its_type(loose_validator: Validator) -> None:
    assert _issues(loose_validator, _encounter(subject={"reference": "Patient/p"})) == []
    errors = _issues(loose_validator, _encounter())
    assert len(errors) == 1, errors
    assert errors[0].startswith("error Encounter.subject: ")
    assert "at least 1 required, found 0" in errors[0]
    assert errors[0].endswith("[EncounterWithSubject]")
    # also beside a profile given on the command line, and in a Bundle's entries
    assert (
        len(
            _issues(
                loose_validator, _encounter(), "http://hl7.org/fhir/StructureDefinition/Encounter"
            )
        )
        == 1
    )
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:7d6a4e0c-0d3e-4d1b-9a55-0c1f4d3a2b11", "resource": _encounter()}
        ],
    }
    errors = _issues(loose_validator, bundle)
    assert len(errors) == 1 and errors[0].startswith("error Bundle.entry[0].resource.subject")


def test_other_types_are_not_concerned(loose_validator: Validator) -> None:
    assert _issues(loose_validator, {"resourceType": "Patient"}) == []


def test_a_global_profile_the_package_set_lacks_is_a_warning(loose_validator: Validator) -> None:
    warnings = _issues(loose_validator, {"resourceType": "Device"})
    assert len(warnings) == 1 and warnings[0].startswith("warning Device: Global profile")
    assert MISSING_GLOBAL in warnings[0]
