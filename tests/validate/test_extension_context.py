"""Where an extension may be used (its definition's element contexts), through a real
package set (SAS 1.2.0 with hl7.fhir.r4.core from ../shared): an element reached through
a content reference (``Questionnaire.item.item`` is ``Questionnaire.item`` again) has
the referenced element's path, as the reference validator reads it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from corpus.validation import load
from igtools.runtime.fhirjson import definition_path
from igtools.validate.validator import Validator
from tests.conftest import SHARED

OPTION_PREFIX = "http://hl7.org/fhir/StructureDefinition/questionnaire-optionPrefix"


def test_definition_path_follows_content_references() -> None:
    assert definition_path("Questionnaire.item.item.item.answerOption") == (
        "Questionnaire.item.answerOption"
    )
    assert definition_path("Observation.component.referenceRange") == ("Observation.referenceRange")
    # data types and their own backbone elements keep the path they are reached by
    assert definition_path("Patient.name.given") == "Patient.name.given"
    assert definition_path("MedicationRequest.dosageInstruction.timing.repeat") == (
        "MedicationRequest.dosageInstruction.timing.repeat"
    )
    assert definition_path("Patient.unknown.part") == "Patient.unknown.part"


@pytest.fixture(scope="module")
def validator(corpus_cache: Path) -> Validator:
    if not (SHARED / "fhir-packages" / "ans.fhir.fr.sas-1.2.0.tgz").is_file():
        pytest.skip(f"{SHARED}/fhir-packages/ans.fhir.fr.sas-1.2.0.tgz absent")
    return load("ans.fhir.fr.sas#1.2.0", SHARED, corpus_cache).validator


def _prefixed(text: str) -> dict[str, Any]:
    return {
        "valueCoding": {"code": "a"},
        "extension": [{"url": OPTION_PREFIX, "valueString": text}],
    }


def _errors(validator: Validator, res: dict[str, Any]) -> list[str]:
    return [
        f"{i.location}: {i.message}"
        for i in validator.validate_resource(res)
        if i.severity in ("error", "fatal")
    ]


@pytest.mark.shared
def test_an_extension_in_its_context_through_a_content_reference(validator: Validator) -> None:
    item = {"linkId": "3", "type": "choice", "answerOption": [_prefixed("1.")]}
    group = {"linkId": "2", "type": "group", "item": [item]}
    res = {
        "resourceType": "Questionnaire",
        "status": "draft",
        "item": [{"linkId": "1", "type": "group", "item": [group]}],
    }
    assert _errors(validator, res) == []


@pytest.mark.shared
def test_an_extension_out_of_its_context(validator: Validator) -> None:
    res = {
        "resourceType": "Patient",
        "_birthDate": {"extension": [{"url": OPTION_PREFIX, "valueString": "1."}]},
        "birthDate": "1970-01-01",
    }
    errors = _errors(validator, res)
    assert len(errors) == 1 and "not allowed to be used at this point" in errors[0], errors
    assert "Patient.birthDate" in errors[0]
