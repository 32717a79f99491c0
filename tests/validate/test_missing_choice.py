"""A required choice element that is missing (``MedicationRequest.medication[x]``) is
one error, as the reference validator reports it ("minimum required = 1, but only found
0"), not one from the base JSON rules and another from the core profile's cardinality."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.shared
def test_missing_required_choice_reported_once(fr_core_validator: Any) -> None:
    res = {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "plan",
        "subject": {"reference": "Patient/p1"},
    }
    errors = [
        (i.location, i.message)
        for i in fr_core_validator.validate_resource(res)
        if i.severity in ("error", "fatal")
    ]
    assert len(errors) == 1, errors
    assert "medication[x]" in errors[0][1]
    # present under one of its types: no error at all
    res["medicationCodeableConcept"] = {"text": "aspirin"}
    assert not [
        i for i in fr_core_validator.validate_resource(res) if i.severity in ("error", "fatal")
    ]
