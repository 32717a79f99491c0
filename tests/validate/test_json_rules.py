"""`igtools validate` applies the FHIR R4 JSON rules (igtools.runtime.fhirjson) the way
the reference validator does: on the fixture IG, through the CLI and the Validator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from igtools.cli import cli
from igtools.ir import build_ir
from igtools.packages import PackageLoader, Settings
from igtools.validate.validator import Validator
from tests.golden import FIXTURE


def _run(tmp_path: Path, *files: Path) -> Result:
    args = ["--offline", "-q", "--cache-dir", str(tmp_path / "c"), "validate", str(FIXTURE)]
    return CliRunner().invoke(cli, [*args, *map(str, files)])


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def validator(tmp_path_factory: pytest.TempPathFactory) -> Validator:
    cache = tmp_path_factory.mktemp("c")
    pset = PackageLoader(Settings(cache_dir=cache, offline=True)).load(str(FIXTURE))
    return Validator(build_ir(pset))


def _errors(validator: Validator, data: dict[str, Any]) -> list[str]:
    return [str(i) for i in validator.validate_resource(data) if i.severity == "error"]


def test_reference_accepted_instances_are_valid(validator: Validator) -> None:
    data = {
        "resourceType": "Patient",
        "id": "p",
        "extension": [
            {"url": "https://e.org/meta", "valueMeta": {"versionId": "1"}},
            {"url": "https://e.org/dosage", "valueDosage": {"text": "1/j"}},
        ],
        "name": [{"given": ["Jean", None], "_given": [None, {"id": "g"}]}],
        "_birthDate": {"extension": [{"url": "https://e.org/x", "valueString": "?"}]},
    }
    assert _errors(validator, data) == []


def test_no_coercion_of_primitives(validator: Validator) -> None:
    bundle = {"resourceType": "Bundle", "type": "searchset", "total": "12"}
    assert _errors(validator, bundle) == [
        'Bundle.total: unsignedInt must be a JSON number without fraction, found string "12" '
        "(structure; base Bundle)"
    ]
    assert _errors(validator, {"resourceType": "Patient", "active": "true"}) == [
        'Patient.active: boolean must be JSON true or false, found string "true" '
        "(structure; base Patient)"
    ]


def test_unknown_type_and_element(validator: Validator) -> None:
    assert _errors(validator, {"resourceType": "Patients"}) == [
        'Patients: resourceType "Patients" is not an R4 resource type (structure; FHIR R4)'
    ]
    assert _errors(validator, {"resourceType": "Patient", "nom": "x"}) == [
        "Patient.nom: unknown element 'nom' in Patient (structure; base Patient)"
    ]


def test_bundle_entries_reported_once(validator: Validator) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "urn:uuid:3b5d3e8c-2b0e-4c44-9d37-1b9f0f8c1a11",
                "resource": {
                    "resourceType": "Patient",
                    "meta": {"profile": ["http://example.org/fhir/StructureDefinition/x"]},
                    "gender": "",
                    "active": "true",
                },
            }
        ],
    }
    found = _errors(validator, bundle)
    assert sorted(found) == [
        'Bundle.entry[0].resource.active: boolean must be JSON true or false, found string "true" '
        "(structure; base Bundle)",
        "Bundle.entry[0].resource.gender: empty string (ele-1; base Bundle)",
    ]


def test_duplicate_keys_invalid_with_path(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "dup.json",
        '{"resourceType": "Patient", "name": [{"family": "A", "family": "B"}]}',
    )
    result = _run(tmp_path, path)
    assert result.exit_code == 1, result.output
    assert "Patient.name[0]: duplicate key 'family'" in result.stdout


def test_deeply_nested_file_is_an_input_error(tmp_path: Path) -> None:
    deep = '{"resourceType": "Patient", "extension": ' + "[" * 5000 + "]" * 5000 + "}"
    path = _file(tmp_path, "deep.json", deep)
    result = _run(tmp_path, path)
    assert result.exit_code == 2, result.output
    assert f"{path}: JSON nested deeper than 100 levels" in result.stderr
    assert "internal error" not in result.output + result.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"resourceType": "Patient", "multipleBirthInteger": ' + "9" * 5000 + "}", "too large"),
        ('{"resourceType": "Patient", "multipleBirthInteger": 1e999}', "too large"),
        ('{"resourceType": "Patient",\n "active": tru}', "bad.json:2:"),
    ],
)
def test_unreadable_numbers_and_json(tmp_path: Path, text: str, message: str) -> None:
    result = _run(tmp_path, _file(tmp_path, "bad.json", text))
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "internal error" not in result.output + result.stderr


def test_valid_file_exit_0(tmp_path: Path) -> None:
    data = {"resourceType": "Organization", "name": "O", "active": True}
    result = _run(tmp_path, _file(tmp_path, "ok.json", json.dumps(data)))
    assert result.exit_code == 0, result.output


XML_OK = """<?xml version="1.0" encoding="UTF-8"?>
<!-- any R4 type in an extension value; ids and extensions of repeating primitives -->
<Patient xmlns="http://hl7.org/fhir">
  <id value="p"/>
  <text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml"><p>P</p></div></text>
  <extension url="https://e.org/meta"><valueMeta><versionId value="1"/></valueMeta></extension>
  <active value="true"/>
  <name>
    <given value="Jean"/>
    <given id="g2"><extension url="https://e.org/x"><valueString value="?"/></extension></given>
  </name>
  <multipleBirthInteger value="2"/>
</Patient>
"""


def test_xml_read_with_the_r4_types(tmp_path: Path) -> None:
    from igtools.packages.resources import parse_resource_xml

    data = parse_resource_xml(XML_OK.encode(), "p.xml")
    assert data["extension"] == [{"url": "https://e.org/meta", "valueMeta": {"versionId": "1"}}]
    assert data["active"] is True and data["multipleBirthInteger"] == 2
    assert data["name"] == [
        {
            "given": ["Jean", None],
            "_given": [
                None,
                {"id": "g2", "extension": [{"url": "https://e.org/x", "valueString": "?"}]},
            ],
        }
    ]
    assert data["text"]["div"] == '<div xmlns="http://www.w3.org/1999/xhtml"><p>P</p></div>'
    assert _run(tmp_path, _file(tmp_path, "p.xml", XML_OK)).exit_code == 0


def test_xml_values_judged_by_the_json_rules(tmp_path: Path) -> None:
    bad = XML_OK.replace('<active value="true"/>', '<active value="oui"/>')
    bad = bad.replace('<multipleBirthInteger value="2"/>', "<foo/>")
    result = _run(tmp_path, _file(tmp_path, "bad.xml", bad))
    assert result.exit_code == 1, result.output
    assert "Patient: unknown element 'foo' in Patient" in result.stdout
    result = _run(tmp_path, _file(tmp_path, "bad2.xml", XML_OK.replace('"true"', '"oui"')))
    assert result.exit_code == 1, result.output
    assert 'Patient.active: boolean must be JSON true or false, found string "oui"' in result.stdout
