"""The element names an invariant's FHIRPath expression reads (what the example builder
tries first to satisfy it)."""

from __future__ import annotations

import pytest

from igtools.ir.model import Element, Invariant, TypeRef
from igtools.render.examples.checkkeys import luhn_valid
from igtools.render.examples.invariants import mentioned, satisfy
from igtools.render.examples.repair import ExampleValues, alternatives


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        ("(identifier.count() + name.count()) > 0", ["identifier", "name"]),
        ("dataAbsentReason.empty() or value.empty()", ["dataAbsentReason", "value"]),
        (
            "(component.empty() and hasMember.empty()) implies (dataAbsentReason.exists() or "
            "value.exists())",
            ["component", "hasMember", "dataAbsentReason", "value"],
        ),
        ("(start | end).count() = 1", ["start", "end"]),
        ("url.exists() or data.exists()", ["url", "data"]),
        ("status = 'proposed' or start.exists()", ["status", "start"]),
        ("value.matches('^[0-9]{10}$')", ["value"]),
        (
            "reference.startsWith('#').not() or %resource.contained.exists()",
            ["reference", "contained"],
        ),
        ("extension.exists() != value.exists()", ["value"]),
    ],
)
def test_mentioned(expression: str, names: list[str]) -> None:
    assert mentioned(expression) == names


# a Luhn check over a 10-digit value with the 80840 prefix (the NPI's form), written as
# an IG writes it in FHIRPath: digits read with substring(i, 1).toInteger()
_DOUBLE = "select(value.substring({i},1).toInteger()).select(iif($this<5, $this*2, (($this*2)-9)))"
_PLAIN = "(value.substring({i},1).toInteger())"
CHECK_DIGIT = (
    "(("
    + "+".join((_DOUBLE if i % 2 == 0 else _PLAIN).format(i=i) for i in range(10))
    + " + 24) mod 10 = 0)"
)


def _identifier_element() -> Element:
    inv = Invariant("chk-1", "error", "check digit", CHECK_DIGIT)
    return Element(
        id="Practitioner.identifier:chk",
        path="Practitioner.identifier",
        min=0,
        max=1,
        base_path="Practitioner.identifier",
        base_min=0,
        base_max=None,
        types=[TypeRef("Identifier")],
        slice_name="chk",
        constraints=[inv],
    )


def test_check_digit_found_for_an_element_without_children() -> None:
    el = _identifier_element()
    obj = {"system": "urn:oid:1.2.3", "value": "1234567890"}
    ig_examples = ExampleValues()
    broken = satisfy(
        el,
        obj,
        lambda c: None,
        lambda c: c.name,
        lambda e, n, v: alternatives(e, n, v, ig_examples),
    )
    assert broken == []
    assert obj["value"][:9] == "123456789" and obj["value"] != "1234567890"
    digits = [int(c) for c in "80840" + obj["value"]]
    assert luhn_valid("".join(map(str, digits)))


def test_example_values_tried_when_no_check_digit_helps() -> None:
    el = _identifier_element()
    el.constraints = [Invariant("chk-2", "error", "a known value", "value.startsWith('ABC')")]
    obj = {"system": "urn:oid:1.2.3", "value": "Exemple"}
    ig_examples = ExampleValues({"Practitioner.identifier.value": ["XYZ9", "ABC1"]})
    broken = satisfy(
        el,
        obj,
        lambda c: None,
        lambda c: c.name,
        lambda e, n, v: alternatives(e, n, v, ig_examples),
    )
    assert broken == [] and obj["value"] == "ABC1"
    obj = {"system": "urn:oid:1.2.3", "value": "Exemple"}
    assert satisfy(el, obj, lambda c: None, lambda c: c.name) == ["chk-2"]
