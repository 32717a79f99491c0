"""Every kind of extension context judged as the reference validator judges it: element
contexts on resources, on data types and on their parents (``DomainResource.text``,
``Quantity`` for an ``Age``, ``BackboneElement``), extension contexts (the parent
extension's url), FHIRPath contexts and context invariants. The extension definitions
are this suite's own (tests/validate/loose_ig.py), with hl7.fhir.r4.core from ../shared."""

from __future__ import annotations

from typing import Any

import pytest

from igtools.validate.contexts import ExtensionContext, judge, locate
from igtools.validate.validator import Validator
from tests.validate.loose_ig import BASE


@pytest.fixture
def validator(loose_validator: Validator) -> Validator:
    return loose_validator


def _ext(name: str, value: bool = True) -> dict[str, Any]:
    return {"url": BASE + name, "valueBoolean": value}


def _errors(validator: Validator, res: dict[str, Any]) -> list[str]:
    return [
        f"{i.location}: {i.message}"
        for i in validator.validate_resource(res)
        if i.severity in ("error", "fatal")
    ]


def _one_context_error(errors: list[str], where: str) -> None:
    assert len(errors) == 1, errors
    assert errors[0].startswith(where) and "not allowed to be used at this point" in errors[0]


pytestmark = pytest.mark.shared


def test_element_contexts_on_a_resource_and_on_a_data_type(validator: Validator) -> None:
    org = {"resourceType": "Organization", "name": "x", "extension": [_ext("mixed")]}
    assert _errors(validator, org) == []
    period = {"start": "2020-01-01", "extension": [_ext("mixed")]}
    org = {"resourceType": "Organization", "name": "x"}
    org["telecom"] = [{"system": "phone", "value": "1", "period": period}]
    assert _errors(validator, org) == []
    # a ContactPoint.period anywhere: in a Patient's contact too
    patient = {"resourceType": "Patient", "contact": [{"telecom": [{"period": period}]}]}
    assert _errors(validator, patient) == []
    # the wrong resource, and a Period that is not a ContactPoint's
    _one_context_error(
        _errors(validator, {"resourceType": "Patient", "extension": [_ext("mixed")]}),
        "Patient.extension[0]",
    )
    enc = {"resourceType": "Encounter", "status": "planned", "class": {"code": "AMB"}}
    enc["subject"] = {"reference": "Patient/p"}  # the suite's IG has a global profile
    enc["period"] = period
    errors = _errors(validator, enc)
    _one_context_error(errors, "Encounter.period.extension[0]")
    assert "this element is [Encounter.period, Period]" in errors[0]


def test_extension_context_is_the_parent_extension(validator: Validator) -> None:
    holder = {"url": BASE + "holder", "valueBoolean": True}
    holder["_valueBoolean"] = {"extension": [_ext("mixed")]}
    assert _errors(validator, {"resourceType": "Patient", "extension": [holder]}) == []
    other = {"url": BASE + "backbone", "valueBoolean": True}
    other["_valueBoolean"] = {"extension": [_ext("mixed")]}
    contact = {"name": {"text": "x"}, "extension": [other]}
    errors = _errors(validator, {"resourceType": "Patient", "contact": [contact]})
    _one_context_error(errors, "Patient.contact[0].extension[0].valueBoolean.extension[0]")


def test_fhirpath_context(validator: Validator) -> None:
    fax = {"system": "fax", "value": "1", "extension": [_ext("mixed")]}
    phone = {"system": "phone", "value": "2", "extension": [_ext("mixed")]}
    org = {"resourceType": "Organization", "name": "x", "telecom": [fax, phone]}
    errors = _errors(validator, org)
    _one_context_error(errors, "Organization.telecom[1].extension[0]")
    assert "p:Organization.telecom.where(system = 'fax')" in errors[0]


def test_type_contexts_by_inheritance(validator: Validator) -> None:
    patient = {
        "resourceType": "Patient",
        "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'},
        "gender": "other",
        "_gender": {"extension": [_ext("by-type")]},  # a code is a string
        "contact": [{"name": {"text": "x"}, "extension": [_ext("backbone")]}],
    }
    patient["text"]["extension"] = [_ext("by-type")]  # Patient.text is DomainResource.text
    assert _errors(validator, patient) == []
    age = {"value": 3, "unit": "a", "system": "http://unitsofmeasure.org", "code": "a"}
    age["extension"] = [_ext("by-type")]  # an Age is a Quantity
    cond = {"resourceType": "Condition", "subject": {"reference": "Patient/p"}, "onsetAge": age}
    assert _errors(validator, cond) == []
    # a HumanName is none of DomainResource.text, Quantity, string; a Patient no backbone
    wrong = {
        "resourceType": "Patient",
        "name": [{"text": "x", "extension": [_ext("by-type")]}],
        "extension": [_ext("backbone")],
    }
    errors = _errors(validator, wrong)
    assert len(errors) == 2, errors
    assert all("not allowed to be used at this point" in e for e in errors)


def test_context_invariant_on_the_element_holding_the_extension(validator: Validator) -> None:
    obs = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "extension": [_ext("guarded")],
    }
    assert _errors(validator, obs) == []
    obs["status"] = "preliminary"
    errors = _errors(validator, obs)
    _one_context_error(errors, "Observation.extension[0]")
    assert "context invariant 'status = 'final''" in errors[0]


def test_paths_of_the_element_holding_an_extension() -> None:
    given = {"extension": [{"url": "u", "valueBoolean": True}]}
    data = {
        "resourceType": "Patient",
        "contact": [{"name": {"given": ["a"], "_given": [given]}}],
    }
    place = locate("Patient.contact[0].name.given[0].extension[0]", data)
    assert place is not None and place.container is given and place.value == "a"
    assert place.paths == [
        "Patient.contact.name.given",
        "BackboneElement.name.given",
        "HumanName.given",
        "string",
    ]
    item = {"linkId": "2", "extension": [{"url": "u", "valueBoolean": True}]}
    q = {"resourceType": "Questionnaire", "item": [{"linkId": "1", "item": [item]}]}
    place = locate("Questionnaire.item[0].item[0].extension[0]", q)
    assert place is not None and place.paths[0] == "Questionnaire.item"
    org = {"resourceType": "Organization", "extension": [{"url": "u", "valueBoolean": True}]}
    pat = {"resourceType": "Patient", "contained": [org]}
    place = locate("Patient.contained[0].extension[0]", pat)
    assert place is not None and place.resource is org and place.paths == ["Organization"]
    assert locate("Patient.name[0].family", pat) is None


def test_a_context_that_cannot_be_evaluated_is_not_judged() -> None:
    data = {"resourceType": "Patient", "extension": [{"url": "u", "valueBoolean": True}]}
    bad_path = ExtensionContext((("fhirpath", "Patient.where("),))
    assert judge(bad_path, "Patient.extension[0]", data) == (None, "")
    unknown_type = ExtensionContext((("element", "MyLogicalModel.part"),))
    assert judge(unknown_type, "Patient.extension[0]", data) == (None, "")
    both = ExtensionContext((("fhirpath", "Patient.where("), ("element", "Organization")))
    assert judge(both, "Patient.extension[0]", data) == (None, "")
    judged = ExtensionContext((("element", "Organization"),))
    assert judge(judged, "Patient.extension[0]", data)[0] is False
