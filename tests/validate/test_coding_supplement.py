"""A Coding's system must not be a CodeSystem supplement (its codes extend another code
system, they are no system of their own), as the reference validator says ("CodeSystem
X is a supplement, so can't be used as a value in Coding.system")."""

from __future__ import annotations

from typing import Any

from igtools.ir.codesystems import CodeSystemIndex
from igtools.validate.codes import coding_issues, supplement_issues

BASE = "http://example.org/fhir/CodeSystem/colours"
SUPPLEMENT = "http://example.org/fhir/CodeSystem/colours-fr"


def _lookup() -> Any:
    systems = {
        BASE: CodeSystemIndex(
            {"url": BASE, "content": "complete", "concept": [{"code": "red"}, {"code": "blue"}]}
        ),
        SUPPLEMENT: CodeSystemIndex(
            {
                "url": SUPPLEMENT,
                "content": "supplement",
                "supplements": BASE,
                "concept": [{"code": "red", "display": "rouge"}],
            }
        ),
    }
    return lambda url: systems.get(url.partition("|")[0])


def test_supplement_as_coding_system_is_an_error() -> None:
    codings = [
        ({"system": SUPPLEMENT, "code": "red"}, "Observation.code.coding[0]"),
        ({"system": BASE, "code": "red"}, "Observation.code.coding[1]"),
        ({"system": BASE, "code": "green"}, "Observation.code.coding[2]"),
    ]
    found = [(i.severity, i.location, i.message) for i in coding_issues(codings, _lookup())]
    assert found == [
        (
            "error",
            "Observation.code.coding[0]",
            f"CodeSystem {SUPPLEMENT} is a supplement (of {BASE}), so it cannot be used as a "
            "value in Coding.system",
        ),
        (
            "error",
            "Observation.code.coding[2].code",
            f"Unknown code 'green' in the CodeSystem '{BASE}'",
        ),
    ]


def test_supplement_defines_no_code_of_its_own() -> None:
    supplement = {
        "resourceType": "CodeSystem",
        "url": SUPPLEMENT,
        "status": "draft",
        "content": "supplement",
        "supplements": BASE,
        "concept": [
            {"code": "red", "display": "rouge", "concept": [{"code": "crimson"}]},
            {"code": "blue", "display": "bleu"},
        ],
    }
    found = [(i.location, i.message) for i in supplement_issues(supplement, _lookup())]
    assert found == [
        (
            "CodeSystem.concept[0].concept[0]",
            f"The code 'crimson' is not declared in the base CodeSystem {BASE} so is not "
            "valid in the supplement",
        )
    ]
    # a base the package set does not hold (LOINC here): not judged
    assert supplement_issues({**supplement, "supplements": "http://loinc.org"}, _lookup()) == []
