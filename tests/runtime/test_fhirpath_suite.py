"""The official FHIRPath R4 test suite (../shared/fhirpath-tests/tests-fhir-r4.xml) run on
igtools.runtime.fhirpath: one test per case.

Cases the engine gets wrong are listed with the reason in fhirpath_suite_xfail.json and
marked xfail(strict=True), so that a fix shows as XPASS (and must be unlisted).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from igtools.errors import ResourceFileError
from igtools.packages.resources import parse_resource_xml
from igtools.runtime.fhirpath import FhirPathError, Hooks, Node, compile, model
from igtools.runtime.fhirpath import value_of as V
from igtools.runtime.fhirpath_values import Quantity, Temporal
from tests.conftest import SHARED, shared_path

SUITE = SHARED / "fhirpath-tests" / "tests-fhir-r4.xml"
XFAIL: dict[str, str] = json.loads(
    (Path(__file__).parent / "fhirpath_suite_xfail.json").read_text(encoding="utf-8")
)


def _cases() -> list[Any]:
    if not SUITE.is_file():
        return [pytest.param(None, id="suite-absent")]
    out = []
    root = ET.parse(SUITE).getroot()
    seen: dict[str, int] = {}
    for group in root.iter("group"):
        for test in group.iter("test"):
            name = test.get("name") or f"{group.get('name')}-unnamed"
            seen[name] = seen.get(name, 0) + 1
            if seen[name] > 1:
                name = f"{name}-{seen[name]}"
            expr = test.find("expression")
            assert expr is not None
            case = {
                "name": name,
                "input": test.get("inputfile"),
                "expression": expr.text or "",
                "invalid": expr.get("invalid") or test.get("invalid"),
                "predicate": test.get("predicate") == "true",
                "strict": "strict" in (test.get("mode") or "") + (expr.get("mode") or ""),
                "outputs": [(o.get("type"), o.text or "") for o in test.findall("output")],
            }
            marks = []
            if name in XFAIL:
                marks.append(pytest.mark.xfail(reason=XFAIL[name], strict=True))
            out.append(pytest.param(case, id=name, marks=marks))
    return out


@cache
def _input(name: str) -> Any:
    path = SHARED / "fhirpath-tests" / name
    raw = path.read_bytes()
    if name.endswith(".json"):
        return json.loads(raw)
    try:
        return parse_resource_xml(raw, name)
    except ResourceFileError:  # fhir.resources refuses a v1 UUID in one input
        return _plain_xml(ET.fromstring(raw))


_NS = "{http://hl7.org/fhir}"
_NUMBERS = {"integer": int, "positiveInt": int, "unsignedInt": int, "decimal": Decimal}


def _plain_xml(root: ET.Element) -> dict[str, Any]:
    """FHIR XML to JSON without fhir.resources (primitive types from the R4 model)."""
    rt = root.tag.removeprefix(_NS)
    return {"resourceType": rt, **_xml_children(root, rt)}


def _xml_children(el: ET.Element, path: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for child in el:
        name = child.tag.removeprefix(_NS)
        kind, info = model().member(path, name)
        t = str(info) if kind == "plain" else path + "." + name
        value: Any
        if "value" in child.attrib:
            raw = child.attrib["value"]
            suffix = next((s for s in ("Integer", "Decimal", "Boolean") if name.endswith(s)), "")
            conv = _NUMBERS.get(t) or _NUMBERS.get(suffix.lower())
            if t == "boolean" or suffix == "Boolean":
                value = raw == "true"
            else:
                value = conv(raw) if conv else raw
        else:
            value = _xml_children(child, t)
        if name in out:
            out[name] = (out[name] if isinstance(out[name], list) else [out[name]]) + [value]
        elif name in ("parameter", "part", "extension", "coding", "entry"):
            out[name] = [value]
        else:
            out[name] = value
    return out


_CORE = "http://hl7.org/fhir/StructureDefinition/"


def _conforms(value: Any, url: str) -> bool | None:
    """The test suite's profiles: core resource types only; anything else is an error."""
    if not url.startswith(_CORE):
        raise FhirPathError(f"unknown profile {url}")
    return isinstance(value, dict) and value.get("resourceType") == url[len(_CORE) :]


def _matches(item: Any, kind: str, text: str) -> bool:
    v = V(item)
    if isinstance(v, Node):
        return False
    if kind == "boolean":
        return isinstance(v, bool) and ("true" if v else "false") == text
    if kind == "integer":
        return isinstance(v, int) and not isinstance(v, bool) and str(v) == text
    if kind == "decimal":
        try:
            return isinstance(v, int | Decimal) and Decimal(str(v)) == Decimal(text)
        except InvalidOperation:
            return False
    if kind in ("date", "dateTime", "time"):
        return isinstance(v, Temporal) and repr(v) == text
    if kind == "Quantity":
        return isinstance(v, Quantity) and str(v) == text
    if kind is None:
        return _show(v) == text
    return isinstance(v, str) and v == text


def _show(v: Any) -> str:
    """A value as the suite writes an untyped output."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, Temporal):
        return repr(v)
    return str(v)


@pytest.mark.parametrize("case", _cases())
def test_fhirpath_case(case: dict[str, Any] | None) -> None:
    shared_path("fhirpath-tests", "tests-fhir-r4.xml")
    assert case is not None
    data = _input(case["input"]) if case["input"] else {}
    hooks = Hooks(conforms_to=_conforms)
    if case["invalid"]:
        with pytest.raises(FhirPathError):
            compile(case["expression"]).evaluate(data, hooks=hooks, strict=case["strict"])
        return
    result = compile(case["expression"]).evaluate(data, hooks=hooks, strict=case["strict"])
    if case["predicate"]:
        result = [bool(result)]
    expected = case["outputs"]
    shown = [repr(V(r)) for r in result]
    assert len(result) == len(expected), f"got {shown}, expected {expected}"
    for item, (kind, text) in zip(result, expected, strict=True):
        assert _matches(item, kind, text), f"got {shown}, expected {expected}"
