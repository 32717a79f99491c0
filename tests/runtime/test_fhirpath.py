"""igtools.runtime.fhirpath on small instances: the FHIR-model features invariants need
(choice types below a nested root, resolve() in Bundles and contained resources,
%resource/%rootResource, hasValue, the memberOf/conformsTo hooks), and its use by
profile validation."""

from __future__ import annotations

from typing import Any

import pytest

from igtools.runtime import fhirpath
from igtools.runtime.fhirpath import (
    FhirPathError,
    Hooks,
    compile,
    element_type,
    evaluate,
    to_json,
)
from igtools.runtime.validation import El, Inv, Rules, invariant_supported, validate

VS3 = "value.exists() or dataAbsentReason.exists()"

OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation",
    "id": "bp",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
    "contained": [{"resourceType": "Patient", "id": "p1", "gender": "female"}],
    "subject": {"reference": "#p1"},
    "component": [
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
            "valueQuantity": {"value": 120, "unit": "mmHg", "code": "mm[Hg]"},
        },
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
            "valueString": "n/a",
        },
    ],
}


def values(data: Any, expression: str, **kw: Any) -> list[Any]:
    return to_json(evaluate(data, expression, **kw))


# ------------------------------------------------------------------------------ choice types


def test_choice_type_on_a_nested_root_with_its_type() -> None:
    component = OBSERVATION["component"][0]
    t = "Observation.component"
    assert values(component, VS3, type=t) == [True]
    assert values(component, "value.value", type=t) == [120]
    assert values(component, "value is Quantity", type=t) == [True]
    assert values(component, "value.ofType(Quantity).unit", type=t) == ["mmHg"]
    assert values(OBSERVATION["component"][1], "value is string", type=t) == [True]
    assert values({"code": component["code"]}, VS3, type=t) == [False]


def test_choice_type_from_the_resource_root() -> None:
    assert values(OBSERVATION, "component.value.ofType(Quantity).value") == [120]
    assert values(OBSERVATION, "component.value.count()") == [2]


def test_element_type_walks_the_model() -> None:
    assert element_type("Observation.component") == "Observation.component"
    assert element_type("Observation.component.value[x]", "valueQuantity") == "Quantity"
    assert element_type("Observation.value[x]", "valueDateTime") == "dateTime"
    assert element_type("Patient.name.given") == "string"
    assert element_type("Questionnaire.item.item") == "Questionnaire.item"


def test_types_follow_the_fhir_hierarchy() -> None:
    ext = {"url": "http://example.org/age", "valueAge": {"value": 3, "code": "a"}}
    assert values(ext, "value is Age", type="Extension") == [True]
    assert values(ext, "value is Quantity", type="Extension") == [True]
    assert values(ext, "value is Duration", type="Extension") == [False]
    assert values(OBSERVATION, "status is code and status is string") == [True]
    assert values(OBSERVATION, "status is System.String") == [False]
    with pytest.raises(FhirPathError, match="unknown type"):
        evaluate(OBSERVATION, "status is Strin")


def test_unknown_element_of_a_known_type_is_empty_or_a_strict_error() -> None:
    # as the reference validator on instances: us-core-3 says value.ofType(Quantity) on
    # Observation.value[x], which has no `value` when it is a CodeableConcept
    us_core_3 = "value.ofType(Quantity).system.empty() or value.ofType(Quantity).system = 'x'"
    cc = {"coding": [{"code": "a"}]}
    assert values(cc, us_core_3, type="CodeableConcept") == [True]
    with pytest.raises(FhirPathError, match="CodeableConcept has no element 'value'"):
        evaluate(cc, us_core_3, type="CodeableConcept", strict=True)
    with pytest.raises(FhirPathError, match="the context is not a Patient"):
        evaluate(OBSERVATION, "Patient.name", strict=True)
    assert values(OBSERVATION, "Patient.name") == []


# ------------------------------------------------------------------------------ resolve()

BUNDLE: dict[str, Any] = {
    "resourceType": "Bundle",
    "type": "collection",
    "entry": [
        {
            "fullUrl": "http://example.org/fhir/Patient/1",
            "resource": {"resourceType": "Patient", "id": "1", "gender": "male"},
        },
        {
            "fullUrl": "urn:uuid:0a1b2c3d-0000-4000-8000-000000000001",
            "resource": {"resourceType": "Practitioner", "id": "dr"},
        },
        {
            "fullUrl": "http://example.org/fhir/Observation/o1",
            "resource": {
                "resourceType": "Observation",
                "id": "o1",
                "status": "final",
                "code": {"text": "x"},
                "subject": {"reference": "Patient/1"},
                "performer": [
                    {"reference": "urn:uuid:0a1b2c3d-0000-4000-8000-000000000001"},
                    {"reference": "http://example.org/fhir/Patient/1"},
                    {"reference": "Patient/404"},
                ],
            },
        },
    ],
}


def test_resolve_in_a_bundle() -> None:
    obs = "entry.resource.ofType(Observation)"
    assert values(BUNDLE, f"{obs}.subject.resolve().gender") == ["male"]
    assert values(BUNDLE, f"{obs}.performer.resolve().id") == ["dr", "1"]
    assert values(BUNDLE, f"{obs}.subject.resolve() is Patient") == [True]


def test_resolve_from_an_entry_resource_given_the_bundle() -> None:
    obs = BUNDLE["entry"][2]["resource"]
    assert values(obs, "subject.resolve().gender", bundle=BUNDLE) == ["male"]
    assert values(obs, "subject.resolve().gender") == []  # no Bundle: nothing to search


def test_resolve_contained() -> None:
    assert values(OBSERVATION, "subject.resolve().gender") == ["female"]
    assert values(OBSERVATION, "subject.resolve().is(Patient)") == [True]


# ------------------------------------------------------------------------------ %resource


def test_resource_variables_in_a_bundle_entry() -> None:
    entry = BUNDLE["entry"][2]
    obs = entry["resource"]
    got = values(obs["subject"], "%resource.id | %rootResource.id", type="Reference", resource=obs)
    assert got == ["o1"]
    assert values(entry, "%resource.type", type="Bundle.entry", resource=BUNDLE) == ["collection"]


def test_root_resource_of_a_contained_resource() -> None:
    patient = OBSERVATION["contained"][0]
    expr = "%resource.id & '/' & %rootResource.id"
    assert values(patient, expr, resource=patient, root_resource=OBSERVATION) == ["p1/bp"]


def test_collections_as_operands_of_or_count_as_true() -> None:
    role = {"resourceType": "PractitionerRole", "telecom": [{"value": "1"}, {"value": "2"}]}
    assert compile("telecom or endpoint").verdict(role) is True  # pd-1 of US Core
    assert compile("endpoint or telecom.where(value = '3')").verdict(role) is None
    with pytest.raises(FhirPathError, match="expected a single boolean"):
        evaluate(role, "telecom.not()")


def test_ref_1_on_references() -> None:
    ref1 = (
        "reference.startsWith('#').not() or "
        "(reference.substring(1).trace('url') in %rootResource.contained.id.trace('ids'))"
    )
    good = {"reference": "#p1"}
    bad = {"reference": "#p2"}
    kw: dict[str, Any] = {"type": "Reference", "resource": OBSERVATION}
    assert compile(ref1).verdict(good, **kw) is True
    assert compile(ref1).verdict(bad, **kw) is False


# ------------------------------------------------------------------------------ FHIR functions


def test_has_value() -> None:
    patient = {
        "resourceType": "Patient",
        "birthDate": "1970",
        "_gender": {"extension": [{"url": "http://example.org/x", "valueString": "?"}]},
        "name": [{"family": "Doe"}],
    }
    assert values(patient, "birthDate.hasValue()") == [True]
    assert values(patient, "gender.hasValue()") == [False]
    assert values(patient, "gender.exists()") == [True]
    assert values(patient, "gender.extension('http://example.org/x').value") == ["?"]
    assert values(patient, "name.hasValue()") == [False]
    assert values(patient, "birthDate.getValue() = @1970") == [True]


def test_member_of_hook() -> None:
    seen: list[tuple[Any, str]] = []

    def member_of(value: Any, url: str) -> bool | None:
        seen.append((value, url))
        if url.endswith("/unknown"):
            return None
        return value in ("final", "amended")

    hooks = Hooks(member_of=member_of)
    vs = "http://hl7.org/fhir/ValueSet/observation-status"
    assert values(OBSERVATION, f"status.memberOf('{vs}')", hooks=hooks) == [True]
    assert values({"status": "draft"}, f"status.memberOf('{vs}')", hooks=hooks) == [False]
    assert values(OBSERVATION, "status.memberOf('http://x/unknown')", hooks=hooks) == []
    assert values(OBSERVATION, f"status.memberOf('{vs}')") == []  # no hook: no answer
    assert seen[0] == ("final", vs)
    coding = values(OBSERVATION, "code.memberOf(%`vs-observation-codes`)", hooks=hooks)
    assert coding == [False] and seen[-1][0] == OBSERVATION["code"]


def test_conforms_to_hook_and_core_types() -> None:
    def conforms_to(value: Any, url: str) -> bool | None:
        return value.get("status") == "final" if url == "http://x/final-obs" else None

    hooks = Hooks(conforms_to=conforms_to)
    assert values(OBSERVATION, "conformsTo('http://x/final-obs')", hooks=hooks) == [True]
    assert values(OBSERVATION, "conformsTo('http://x/other')", hooks=hooks) == []
    core = "http://hl7.org/fhir/StructureDefinition/"
    assert values(OBSERVATION, f"conformsTo('{core}Observation')") == [True]
    assert values(OBSERVATION, f"conformsTo('{core}Patient')") == [False]


def test_trace_is_silent_unless_hooked(capsys: pytest.CaptureFixture[str]) -> None:
    assert values(OBSERVATION, "status.trace('s')") == ["final"]
    assert capsys.readouterr().out == ""
    traced: list[tuple[str, list[Any]]] = []
    evaluate(
        OBSERVATION, "status.trace('s')", hooks=Hooks(trace=lambda n, v: traced.append((n, v)))
    )
    assert traced and traced[0][0] == "s"


def test_html_checks_and_dom_3() -> None:
    assert values(OBSERVATION, "text.`div`.htmlChecks()") == []
    assert values(
        {"resourceType": "Observation", "text": {"div": "<div/>"}}, "text.`div`.htmlChecks()"
    ) == [True]
    dom3 = (
        "contained.where((('#'+id in (%resource.descendants().reference | "
        "%resource.descendants().as(canonical) | %resource.descendants().as(uri) | "
        "%resource.descendants().as(url))) or descendants().where(reference = '#').exists() "
        "or descendants().where(as(canonical) = '#').exists() or "
        "descendants().where(as(canonical) = '#').exists()).not()).trace('unmatched', id).empty()"
    )
    assert compile(dom3).verdict(OBSERVATION) is True
    orphan = {**OBSERVATION, "subject": {"reference": "Patient/x"}}
    assert compile(dom3).verdict(orphan) is False


# ------------------------------------------------------------------------------ compiling


def test_compile_is_cached_and_errors_are_clear() -> None:
    assert compile("status = 'final'") is compile("status = 'final'")
    with pytest.raises(FhirPathError, match="syntax error"):
        compile("status = ")
    with pytest.raises(FhirPathError, match="unknown function frobnicate"):
        compile("status.frobnicate()")
    with pytest.raises(FhirPathError, match="expected a single"):
        evaluate(OBSERVATION, "component.code.coding.code.startsWith('8')")


GUARDED = [
    "contained.meta.security.empty()",
    "contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()",
    "component.exists() implies status = 'final'",
    "value.exists() or dataAbsentReason.exists()",
    "subject.resolve().gender = 'female' or subject.empty()",
    "contained.where(('#' + id in %resource.descendants().reference).not()).empty()",
    "status.exists() and %resource.id = 'bp'",
    "component.all(code.exists()) and effective.empty()",
]


@pytest.mark.parametrize("expression", GUARDED)
def test_the_answer_without_the_elements_read_is_the_evaluated_one(expression: str) -> None:
    expr = compile(expression)
    plain = fhirpath.Expression(expression, expr._fn)  # the same closures, never guarded
    bare = {"resourceType": "Observation", "id": "bp", "status": "final"}
    for data in (OBSERVATION, bare, {"resourceType": "Observation", "contained": []}):
        assert expr.evaluate(data) == plain.evaluate(data), data
    assert to_json(expr.evaluate(bare)) == to_json(plain.evaluate(bare))


def test_absent_elements_answer_without_evaluating() -> None:
    expr = compile("contained.meta.security.empty()")
    assert expr.root_names == {"contained"}
    assert expr.verdict({"resourceType": "Patient", "id": "x"}) is True
    assert expr._guards["Patient"] == (frozenset({"contained", "_contained"}), [True])
    # what reads the root otherwise, or %resource on the way, is always evaluated
    assert compile("hasValue() or children().count() > 0").root_names is None
    short = compile("status.exists() and %resource.id = 'bp'")
    assert short.verdict({"resourceType": "Observation", "id": "bp"}) is False
    assert short._guards["Observation"] == (frozenset({"status", "_status"}), [False])
    reached = compile("status.empty() and %resource.id = 'bp'")
    assert reached.verdict({"resourceType": "Observation", "id": "bp"}) is True
    assert reached.verdict({"resourceType": "Observation", "id": "other"}) is False
    assert reached._guards["Observation"] is None
    choice = compile("value.exists()")
    assert choice.verdict({"resourceType": "Observation", "valueString": "x"}) is True
    assert choice.verdict({"resourceType": "Observation"}) is False


# ------------------------------------------------------------------------------ validation


def _rules(el: El) -> Rules:
    return Rules("http://example.org/obs", "Obs", "Observation", El("Observation", children=(el,)))


def test_validation_evaluates_an_invariant_with_the_element_type() -> None:
    vs3 = Inv("vs-3", "error", "value or data absent reason", VS3)
    component = El("Observation.component", names=("component",), invariants=(vs3,))
    assert validate(OBSERVATION, _rules(component)) == []
    broken = {**OBSERVATION, "component": [{"code": {"text": "x"}}]}
    issues = validate(broken, _rules(component))
    assert [(i.location, i.rule, i.severity) for i in issues] == [
        ("Observation.component[0]", "invariant:vs-3", "error")
    ]


def test_validation_on_a_choice_element_knows_its_type() -> None:
    quantity_with_code = "$this is Quantity implies (code.exists() and unit.exists())"
    inv = Inv("q-1", "error", "a UCUM quantity", quantity_with_code)
    value = El(
        "Observation.component.value[x]",
        names=("valueQuantity", "valueString"),
        choice_stem="value",
        invariants=(inv,),
    )
    component = El("Observation.component", names=("component",), children=(value,))
    assert validate(OBSERVATION, _rules(component)) == []
    odd = {**OBSERVATION, "component": [{"code": {"text": "x"}, "valueQuantity": {"value": 1}}]}
    assert [i.rule for i in validate(odd, _rules(component))] == ["invariant:q-1"]


def test_invariant_the_engine_cannot_run_is_a_warning() -> None:
    assert invariant_supported("status = 'final'")
    assert not invariant_supported("status = ")
    inv = Inv("x-1", "error", "one code", "component.code.coding.code.startsWith('8')")
    issues = validate(
        OBSERVATION, Rules("u", "Obs", "Observation", El("Observation", invariants=(inv,)))
    )
    assert [(i.severity, i.rule) for i in issues] == [("warning", "invariant:x-1")]
    assert "could not be evaluated" in issues[0].message
