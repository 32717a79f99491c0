"""Slicing as the reference validator applies it, on hand-built rules: an element
belongs to one slice at most, closed slicing reports the unmatched element, slices
discriminated on extension('url') (dots in the URL), by type on a choice element."""

from __future__ import annotations

from typing import Any

from igtools.runtime.validation import El, Match, Rules, select, validate

SYS_A = "http://example.org/a"


def _rules(*slices: El, rules: str = "open") -> Rules:
    identifier = El(
        path="Patient.identifier",
        names=("identifier",),
        slicing_rules=rules,
        slices=slices,
    )
    return Rules("http://example.org/p", "P", "Patient", El("Patient", children=(identifier,)))


def _slice(name: str, system: str, lo: int = 0, hi: int | None = None) -> El:
    return El(
        path="Patient.identifier",
        names=("identifier",),
        min=lo,
        max=hi,
        slice_name=name,
        matches=(Match("value", "system", system),),
    )


def _patient(*systems: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": s, "value": str(i)} for i, s in enumerate(systems)],
    }


def _errors(data: dict[str, Any], rules: Rules) -> list[str]:
    return [str(i) for i in validate(data, rules) if i.severity == "error"]


def test_one_slice_at_most() -> None:
    rules = _rules(_slice("first", SYS_A), _slice("again", SYS_A, hi=0))
    errors = _errors(_patient(SYS_A), rules)
    # matched by both: reported once, and counted in the first only (so `again`, max 0,
    # is not broken by it)
    assert errors == [
        "Patient.identifier[0]: matches more than one slice of Patient.identifier "
        "(first, again) (slice; P)"
    ]


def test_closed_slicing_names_the_element() -> None:
    rules = _rules(_slice("a", SYS_A, lo=1), rules="closed")
    assert _errors(_patient(SYS_A), rules) == []
    errors = _errors(_patient(SYS_A, "http://example.org/other"), rules)
    assert errors == [
        "Patient.identifier[1]: matches no slice of Patient.identifier (slicing is closed) "
        "(slice; P)"
    ]


def test_slice_cardinality() -> None:
    rules = _rules(_slice("a", SYS_A, lo=1, hi=1))
    assert _errors(_patient("http://example.org/other"), rules) == [
        "Patient.identifier: Patient.identifier:a: at least 1 required, found 0 (cardinality; P)"
    ]
    assert "at most 1 allowed, found 2" in _errors(_patient(SYS_A, SYS_A), rules)[0]


def test_select_extension_url_with_dots() -> None:
    url = "https://example.org/fhir/StructureDefinition/ext.v2"
    value = {"extension": [{"url": url, "valueCode": "x"}, {"url": "other", "valueCode": "y"}]}
    assert select(value, f"extension('{url}').value[x]") == ["x"]
    assert select(value, f"extension('{url}')") == [{"url": url, "valueCode": "x"}]


def test_reslicing_counts_the_slice_items() -> None:
    """identifier:a (system A) re-sliced by use: a/official min 1."""
    official = El(
        path="Patient.identifier",
        names=("identifier",),
        min=1,
        slice_name="a/official",
        matches=(Match("value", "use", "official"),),
    )
    a = El(
        path="Patient.identifier",
        names=("identifier",),
        slice_name="a",
        matches=(Match("value", "system", SYS_A),),
        slicing_rules="open",
        slices=(official,),
    )
    rules = _rules(a)
    data = _patient(SYS_A)
    errors = _errors(data, rules)
    assert errors == [
        "Patient.identifier: Patient.identifier:a/official: at least 1 required, found 0 "
        "(cardinality; P)"
    ]
    data["identifier"][0]["use"] = "official"
    assert _errors(data, rules) == []
    # an official identifier of another system is not in slice a: not counted
    other = _patient("http://example.org/other")
    other["identifier"][0]["use"] = "official"
    assert _errors(other, rules) == []
