"""Binding checks as the HL7 validator judges them, on the fixture package of
tests/ir/test_terminology.py: required (at least one coding in the value set, text only is
not enough), extensible (a warning at most), codes of open systems not judged, value sets
that cannot be expanded reported once as not checked, choice types, slices told apart by
their value set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from igtools.ir.build import IRBuilder
from igtools.runtime.validation import El, Issue, Match, Rules, validate
from igtools.validate.validator import Validator
from tests.ir.test_terminology import ABSENT, BASE, COLOUR, PROFILE, write_package


@pytest.fixture(scope="module")
def validator(tmp_path_factory: pytest.TempPathFactory) -> Validator:
    from igtools.packages import PackageLoader, Settings

    tmp = tmp_path_factory.mktemp("tx")
    folder = write_package(tmp)
    pset = PackageLoader(Settings(cache_dir=tmp / "c", offline=True)).load(str(folder))
    builder = IRBuilder(pset)
    return Validator(builder.build())


def _obs(**fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "meta": {"profile": [PROFILE]},
        "status": "final",
        "code": {"coding": [{"system": COLOUR, "code": "red"}]},
        **fields,
    }


def _cc(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def _binding(validator: Validator, data: dict[str, Any]) -> list[Issue]:
    return [i for i in validator.validate_resource(data) if i.rule == "binding"]


def test_valid_instance(validator: Validator) -> None:
    data = _obs(
        method=_cc(COLOUR, "blue"),
        bodySite=_cc(COLOUR, "dark-red"),
        valueCodeableConcept=_cc(COLOUR, "navy"),
    )
    assert _binding(validator, data) == []


@pytest.mark.parametrize(
    "code",
    [
        _cc(COLOUR, "purple"),  # not in the code system the value set includes whole
        _cc("http://example.org/cs/other", "red"),  # right code, other system
        {"coding": [{"system": COLOUR, "code": "purple"}, {"system": COLOUR}]},
    ],
)
def test_required_none_of_the_codings(validator: Validator, code: dict[str, Any]) -> None:
    issues = _binding(validator, _obs(code=code))
    assert [(i.severity, i.location) for i in issues] == [("error", "Observation.code")]
    assert "None of the codings provided are in the value set" in issues[0].message
    assert f"{BASE}/ValueSet/all-colours" in issues[0].message


def test_one_coding_in_the_value_set_is_enough(validator: Validator) -> None:
    code = {"coding": [{"system": "http://example.org/cs/other", "code": "x"}]}
    code["coding"].append({"system": COLOUR, "code": "blue"})
    assert _binding(validator, _obs(code=code)) == []


def test_text_only_under_required_binding(validator: Validator) -> None:
    issues = _binding(validator, _obs(code={"text": "rouge"}))
    assert [(i.severity, i.location) for i in issues] == [("error", "Observation.code")]
    assert issues[0].message.startswith("No code provided, and a code is required")
    # even when the value set cannot be expanded at all
    issues = _binding(validator, _obs(interpretation=[{"text": "haut"}]))
    assert [i.location for i in issues] == ["Observation.interpretation[0]"]
    # a value set that cannot be expanded: any coding is accepted
    assert _binding(validator, _obs(interpretation=[_cc("http://x.org", "H")])) == []


def test_open_systems_not_judged_others_are(validator: Validator) -> None:
    assert _binding(validator, _obs(method=_cc(ABSENT, "anything"))) == []
    assert _binding(validator, _obs(dataAbsentReason=_cc(ABSENT, "anything"))) == []
    issues = _binding(validator, _obs(method=_cc(COLOUR, "red")))  # only blue of colour
    assert [i.location for i in issues] == ["Observation.method"]
    issues = _binding(validator, _obs(dataAbsentReason=_cc(COLOUR, "red")))
    assert [i.location for i in issues] == ["Observation.dataAbsentReason"]


def test_extensible_is_a_warning(validator: Validator) -> None:
    issues = _binding(validator, _obs(bodySite=_cc(COLOUR, "blue")))
    assert [(i.severity, i.location) for i in issues] == [("warning", "Observation.bodySite")]
    assert _binding(validator, _obs(bodySite={"text": "somewhere"})) == []
    # a code of another system: "no suitable code" is the author's call (nothing said)
    assert _binding(validator, _obs(bodySite=_cc("http://example.org/other", "x"))) == []


def test_choice_type_only_its_coded_type(validator: Validator) -> None:
    issues = _binding(validator, _obs(valueCodeableConcept=_cc(COLOUR, "red")))  # excluded
    assert [i.location for i in issues] == ["Observation.valueCodeableConcept"]
    assert _binding(validator, _obs(valueQuantity={"value": 1})) == []


def test_not_checked_reported_once_per_value_set(validator: Validator) -> None:
    notes = [w for w in validator.warnings if "not checked" in w and "unknown-vs" in w]
    assert len(notes) == 1, validator.warnings
    # a value set judged in part: the codes of its open systems are named as not checked
    mixed = [w for w in validator.warnings if f"{BASE}/ValueSet/mixed " in w]
    assert mixed == [
        f"value set {BASE}/ValueSet/mixed (required binding): codes of {ABSENT} not checked "
        f"(code system {ABSENT} is not in the package set)"
    ]


def test_membership_is_a_set_lookup_large_value_set() -> None:
    codes = tuple(("http://s", str(i)) for i in range(20000))
    el = El("Observation.code", ("code",), codes=codes, code_kind="CodeableConcept")
    rules = Rules("u", "P", "Observation", El("Observation", children=(el,)))
    ok = {
        "resourceType": "Observation",
        "code": {"coding": [{"system": "http://s", "code": "19999"}]},
    }
    bad = {"resourceType": "Observation", "code": {"coding": [{"system": "http://s", "code": "x"}]}}
    for _ in range(200):  # 200 look-ups in a 20,000 code value set: instant if hashed
        assert validate(ok, rules) == []
    assert [i.rule for i in validate(bad, rules)] == ["binding"]


def test_slice_told_apart_by_its_value_set() -> None:
    warm = (("http://c", "red"),)
    sl = El(
        "Observation.category",
        ("category",),
        min=0,
        max=1,
        codes=warm,
        code_kind="CodeableConcept",
        strength="required",
        slice_name="warm",
        matches=(Match("binding", "$this", ("CodeableConcept", warm)),),
    )
    cat = El("Observation.category", ("category",), slicing_rules="open", slices=(sl,))
    rules = Rules("u", "P", "Observation", El("Observation", children=(cat,)))

    def cats(*codes: str) -> dict[str, Any]:
        cc = [{"coding": [{"system": "http://c", "code": c}]} for c in codes]
        return {"resourceType": "Observation", "category": cc}

    assert validate(cats("blue"), rules) == []  # outside the slice, open slicing
    assert validate(cats("red"), rules) == []
    assert [i.rule for i in validate(cats("red", "red"), rules)] == ["cardinality"]


def test_cli_reports_binding(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from igtools.cli import cli

    folder = write_package(tmp_path)
    f = tmp_path / "obs.json"
    f.write_text(json.dumps(_obs(code={"text": "rouge"})), encoding="utf-8")
    args = ["--offline", "-q", "--cache-dir", str(tmp_path / "c"), "validate", str(folder), str(f)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert "Observation.code: No code provided" in result.output


def test_unknown_code_in_a_complete_code_system_even_unbound(tmp_path: Path) -> None:
    from igtools.packages import PackageLoader, Settings

    folder = write_package(tmp_path)
    pset = PackageLoader(Settings(cache_dir=tmp_path / "c", offline=True)).load(str(folder))
    builder = IRBuilder(pset)
    validator = Validator(builder.build(), builder=builder)
    frag = "http://example.org/cs/fragment"
    data = _obs(
        category=[_cc(COLOUR, "purple"), _cc(COLOUR, "navy"), _cc(frag, "zz"), _cc(ABSENT, "x")],
        meta={"tag": [{"system": COLOUR, "code": "mauve"}]},
    )

    def unknown(instance: dict[str, Any]) -> list[tuple[str, str, str]]:
        return sorted(
            (i.severity, i.location, i.message)
            for i in validator.validate_resource(instance)
            if i.rule == "code-system"
        )

    assert unknown(data) == [
        (
            "error",
            "Observation.category[0].coding[0].code",
            f"Unknown code 'purple' in the CodeSystem '{COLOUR}' version '1.0'",
        ),
        (
            "error",
            "Observation.meta.tag[0].code",
            f"Unknown code 'mauve' in the CodeSystem '{COLOUR}' version '1.0'",
        ),
    ]
    # an entry is validated on its own: reported once, at its place in the Bundle
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": data}]}
    assert [loc for _, loc, _ in unknown(bundle)] == [
        "Bundle.entry[0].resource.category[0].coding[0].code",
        "Bundle.entry[0].resource.meta.tag[0].code",
    ]
    contained = {"resourceType": "Observation", "contained": [data]}
    assert [loc for _, loc, _ in unknown(contained)] == [
        "Observation.contained[0].category[0].coding[0].code",
        "Observation.contained[0].meta.tag[0].code",
    ]


def test_coding_and_quantity_judged_on_their_code() -> None:
    units = (("http://unitsofmeasure.org", "kg"), ("http://unitsofmeasure.org", "g"))
    qty = El("Observation.valueQuantity", ("valueQuantity",), codes=units, code_kind="Quantity")
    rules = Rules("u", "P", "Observation", El("Observation", children=(qty,)))

    def obs(q: dict[str, Any]) -> dict[str, Any]:
        return {"resourceType": "Observation", "valueQuantity": q}

    assert (
        validate(obs({"value": 1, "system": "http://unitsofmeasure.org", "code": "kg"}), rules)
        == []
    )
    assert validate(obs({"value": 1}), rules) == []  # no units: nothing to judge
    bad = validate(
        obs({"value": 1, "system": "http://unitsofmeasure.org", "code": "[lb_av]"}), rules
    )
    assert [(i.location, i.rule) for i in bad] == [("Observation.valueQuantity", "binding")]
    assert "The code provided (http://unitsofmeasure.org#[lb_av]) was not found" in bad[0].message
