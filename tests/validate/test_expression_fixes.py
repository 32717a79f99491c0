"""Invariants evaluated as the reference validator evaluates them (igtools.validate.fixes):
the published core expressions it corrects, on real core definitions (hl7.fhir.r4.core
from ../shared through fr.core 2.2.0)."""

from __future__ import annotations

from typing import Any

import pytest

from igtools.validate.fixes import evaluated_expression
from igtools.validate.validator import Validator

pytestmark = pytest.mark.shared


def _errors(validator: Validator, res: dict[str, Any], rule: str) -> list[str]:
    return [
        f"{i.location}: {i.message}"
        for i in validator.validate_resource(res)
        if i.severity in ("error", "fatal") and rule in f"{i.rule} {i.message}"
    ]


def _questionnaire(behavior: str | None, conditions: int) -> dict[str, Any]:
    when = [{"question": "1", "operator": "exists", "answerBoolean": True}] * conditions
    item: dict[str, Any] = {"linkId": "2", "type": "string", "enableWhen": when}
    if behavior:
        item["enableBehavior"] = behavior
    return {
        "resourceType": "Questionnaire",
        "status": "draft",
        "item": [{"linkId": "1", "type": "boolean"}, item],
    }


def test_que12_counts_from_two_conditions(fr_core_validator: Validator) -> None:
    # R4 publishes "enableWhen.count() > 2": two conditions without a behaviour passed
    assert _errors(fr_core_validator, _questionnaire(None, 2), "que-12")
    assert not _errors(fr_core_validator, _questionnaire("all", 2), "que-12")
    assert not _errors(fr_core_validator, _questionnaire(None, 1), "que-12")


def test_a_reference_with_only_an_identifier_passes_ref1(fr_core_validator: Validator) -> None:
    res = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "subject": {"identifier": {"system": "urn:oid:1.2.3", "value": "9"}},
        "performer": [{"reference": "#"}],
    }
    assert _errors(fr_core_validator, res, "ref-1") == []


def test_eld19_matches_the_whole_path() -> None:
    fixed = evaluated_expression("eld-19", "path.matches('whatever')")
    assert fixed.startswith("path.matches('^") and fixed.endswith("$')")
    assert evaluated_expression("xyz-1", "a.exists()") == "a.exists()"
