"""Behaviours of the HL7 reference validator seen on its own R4 test cases
(FHIR/fhir-test-cases, ``validator/``), each reproduced here on a small hand-written
fixture: the fullUrl RESTful rule, code lists of whole-system value sets, type slicing
on ``resolve()``, reference targets, FHIRPath ``matches()`` and Identifier values."""

from __future__ import annotations

from typing import Any

from igtools.runtime.bundles import bundle_issues, bundle_resolver, is_restful

OBS = {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"}}


def _collection(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": list(entries)}


# ------------------------------------------------------------------ 1. fullUrl RESTful rule


def test_restful_fullurl_needs_a_resource_type() -> None:
    assert is_restful("http://example.org/fhir/Observation/o1")
    assert is_restful("http://example.org/fhir/Observation/o1/_history/2")
    assert is_restful("Observation/o1")
    # a segment that is not an R4 resource type: just an absolute URL
    assert not is_restful("http://example.org/fhir/Obsrvation/o1")
    assert not is_restful("http://example.org/fhir/Thing/o1")


def test_fullurl_with_a_type_that_is_not_a_resource_is_not_judged_restful() -> None:
    typo = _collection({"fullUrl": "http://example.org/fhir/Obsrvation/o2", "resource": OBS})
    assert bundle_issues(typo) == []
    # the same URL with a real resource type must end with the entry's type and id
    real = _collection({"fullUrl": "http://example.org/fhir/Observation/o2", "resource": OBS})
    assert [msg[-35:] for _, msg, _ in bundle_issues(real)] == [
        "th the resource type and id (Observation/o1)"[-35:]
    ]
    # and a relative reference is not resolved against a fullUrl that is not RESTful
    assert bundle_resolver(typo)("Obsrvation/o2") is None
    assert bundle_resolver(real)("Observation/o2") == "Observation"
