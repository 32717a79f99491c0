"""A canonical reference that resolves in the package set resolves to a resource of a
type its element allows (the base definition's targetProfile), as the reference
validator checks ("Canonical URL 'X' refers to a resource that has the wrong type")."""

from __future__ import annotations

from typing import Any

import pytest

WRONG = "refers to a resource that has the wrong type"
CORE_VS = "http://hl7.org/fhir/ValueSet/administrative-gender"
CORE_SD = "http://hl7.org/fhir/StructureDefinition/Patient"


def _wrong(validator: Any, res: dict[str, Any]) -> list[tuple[str, str]]:
    return [(i.location, i.message) for i in validator.validate_resource(res) if WRONG in i.message]


@pytest.mark.shared
def test_canonical_to_a_resource_of_the_wrong_type(fr_core_validator: Any) -> None:
    qr = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": CORE_VS,
        "status": "in-progress",
    }
    assert _wrong(fr_core_validator, qr) == [
        (
            "QuestionnaireResponse.questionnaire",
            f"Canonical URL '{CORE_VS}' {WRONG}. Found ValueSet expecting one of [Questionnaire]",
        )
    ]
    # not in the package set: not judged here
    qr["questionnaire"] = "http://example.org/fhir/Questionnaire/q1|2.0"
    assert _wrong(fr_core_validator, qr) == []


@pytest.mark.shared
def test_nested_items_and_contained(fr_core_validator: Any) -> None:
    item = {"linkId": "1.1", "type": "choice", "answerValueSet": CORE_SD}
    q = {
        "resourceType": "Questionnaire",
        "status": "draft",
        "item": [
            {"linkId": "1", "type": "group", "item": [item]},
            {"linkId": "2", "type": "choice", "answerValueSet": CORE_VS},
        ],
    }
    expected = (
        "Questionnaire.item[0].item[0].answerValueSet",
        f"Canonical URL '{CORE_SD}' {WRONG}. Found StructureDefinition expecting one of [ValueSet]",
    )
    assert _wrong(fr_core_validator, q) == [expected]
    holder = {"resourceType": "List", "status": "current", "mode": "working", "contained": [q]}
    assert _wrong(fr_core_validator, holder) == [
        (expected[0].replace("Questionnaire.", "List.contained[0].", 1), expected[1])
    ]
