"""A CapabilityStatement's ``rest.resource.searchParam`` declares the type of the
SearchParameter its ``definition`` names, as the reference validator checks ("Type
mismatch - SearchParameter 'url' type is token, but type here is date")."""

from __future__ import annotations

from typing import Any

import pytest

from igtools.validate.capability import search_param_issues

SP_URL = "http://example.org/fhir/SearchParameter/thing-status"


def _sp(type_: str) -> dict[str, Any]:
    return {"resourceType": "SearchParameter", "url": SP_URL, "type": type_, "code": "status"}


def _cs(*params: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "CapabilityStatement",
        "status": "draft",
        "kind": "requirements",
        "rest": [
            {"mode": "client"},
            {
                "mode": "server",
                "resource": [
                    {"type": "Patient"},
                    {"type": "Observation", "searchParam": list(params)},
                ],
            },
        ],
    }


def _lookup(resources: dict[str, dict[str, Any]]) -> Any:
    return lambda ref: resources.get(ref.partition("|")[0])


def test_declared_type_differs_from_the_definition() -> None:
    cs = _cs(
        {"name": "code", "type": "token"},
        {"name": "status", "definition": SP_URL + "|1.0", "type": "date"},
    )
    issues = search_param_issues(cs, _lookup({SP_URL: _sp("token")}))
    assert [(i.severity, i.location, i.message) for i in issues] == [
        (
            "error",
            "CapabilityStatement.rest[1].resource[1].searchParam[1]",
            f"Type mismatch - SearchParameter '{SP_URL}' type is token, but type here is date",
        )
    ]


@pytest.mark.parametrize(
    "resources",
    [
        {SP_URL: _sp("date")},  # same type
        {},  # definition not in the package set: not judged
        {SP_URL: {"resourceType": "ValueSet", "url": SP_URL}},  # not a SearchParameter
    ],
)
def test_not_judged_or_agreeing(resources: dict[str, dict[str, Any]]) -> None:
    cs = _cs({"name": "status", "definition": SP_URL, "type": "date"})
    assert search_param_issues(cs, _lookup(resources)) == []


def test_malformed_statement_is_no_crash() -> None:
    cs: dict[str, Any] = {"resourceType": "CapabilityStatement", "rest": {"resource": 3}}
    assert search_param_issues(cs, _lookup({})) == []
    cs = {"resourceType": "CapabilityStatement", "rest": [{"resource": [{"searchParam": [1]}]}]}
    assert search_param_issues(cs, _lookup({})) == []


@pytest.mark.shared
def test_core_search_parameter_through_the_validator(fr_core_validator: Any) -> None:
    """The core's SearchParameters (hl7.fhir.r4.core, a dependency) are found by URL, and
    the check runs on a CapabilityStatement inside a Bundle too."""
    core = "http://hl7.org/fhir/SearchParameter/"
    cs = {
        "resourceType": "CapabilityStatement",
        "status": "draft",
        "date": "2024-01-01",
        "kind": "requirements",
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "resource": [
                    {
                        "type": "AllergyIntolerance",
                        "searchParam": [
                            {
                                "name": "clinical-status",
                                "definition": core + "AllergyIntolerance-clinical-status",
                                "type": "date",
                            },
                            {"name": "code", "definition": core + "clinical-code", "type": "token"},
                        ],
                    }
                ],
            }
        ],
    }
    wrong = "Type mismatch - SearchParameter"
    found = [
        (i.location, i.message)
        for i in fr_core_validator.validate_resource(cs)
        if i.message.startswith(wrong)
    ]
    assert found == [
        (
            "CapabilityStatement.rest[0].resource[0].searchParam[0]",
            f"{wrong} '{core}AllergyIntolerance-clinical-status' type is token, "
            "but type here is date",
        )
    ]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": "urn:uuid:0a0b4c5e-1f2a-4b3c-8d4e-5f6a7b8c9d0e", "resource": cs}],
    }
    in_bundle = [
        i.location
        for i in fr_core_validator.validate_resource(bundle)
        if i.message.startswith(wrong)
    ]
    assert in_bundle == ["Bundle.entry[0].resource.rest[0].resource[0].searchParam[0]"]
