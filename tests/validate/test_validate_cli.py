"""`igtools validate` end to end on the SAS examples: exit codes, locations, JSON Lines,
XML, Bundle entries, many files in one call."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from igtools.cli import cli
from tests.conftest import shared_path

SLOT = "http://sas.fr/fhir/StructureDefinition/FrSlotAgregateur"


@pytest.fixture
def sas(tmp_path: Path) -> tuple[Path, dict[str, dict[str, Any]]]:
    tgz = shared_path("fhir-packages", "ans.fhir.fr.sas-1.2.0.tgz")
    examples = {}
    with tarfile.open(tgz) as tf:
        for m in tf:
            if m.name.startswith("package/example/") and m.name.endswith(".json"):
                fh = tf.extractfile(m)
                assert fh is not None
                examples[Path(m.name).stem] = json.load(fh)
    return tgz, examples


def _write(folder: Path, name: str, data: Any) -> Path:
    path = folder / name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def _run(tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--offline", "-q", "--cache-dir", str(tmp_path / "c"), *args])


def test_all_examples_valid_in_one_call(tmp_path: Path, sas: tuple[Path, dict[str, Any]]) -> None:
    tgz, examples = sas
    files = [str(_write(tmp_path, f"{k}.json", v)) for k, v in examples.items()]
    result = _run(tmp_path, "validate", str(tgz), *files)
    # the three the HL7 validator rejects too: a CodeableConcept with text only under a
    # required binding (see tests/validate/test_bindings_corpus.py)
    assert result.exit_code == 1, result.output
    assert result.stdout.count(": valid") == len(files) - 3 == 42
    assert result.stdout.count("No code provided, and a code is required") == 3


def test_invalid_exit_1_with_location_rule_profile(
    tmp_path: Path, sas: tuple[Path, dict[str, Any]]
) -> None:
    tgz, examples = sas
    slot = dict(examples["Slot-ExampleSlotPSIndiv1"])
    # a reference to a resource of a type the profile does not allow (contained, so that
    # it resolves: an unresolvable reference's type is taken as is)
    slot["contained"] = [{"resourceType": "Practitioner", "id": "x"}]
    slot["schedule"] = {"reference": "#x"}
    good = _write(tmp_path, "good.json", examples["Slot-ExampleSlotPSIndiv2"])
    bad = _write(tmp_path, "bad.json", slot)
    result = _run(tmp_path, "validate", str(tgz), str(good), str(bad))
    assert result.exit_code == 1
    assert f"{good}: valid" in result.stdout
    assert "Slot.schedule.reference" in result.stdout
    assert "FrSlotAgregateur" in result.stdout


def test_unresolvable_reference_type_checked_only_when_assumed_valid(
    tmp_path: Path, sas: tuple[Path, dict[str, Any]]
) -> None:
    """As the reference validator: the type a Type/id reference names is checked once it
    resolves, or with --assume-valid-rest-references (its -assumeValidRestReferences)."""
    tgz, examples = sas
    slot = dict(examples["Slot-ExampleSlotPSIndiv1"])
    slot["schedule"] = {"reference": "Practitioner/nowhere"}
    path = _write(tmp_path, "slot.json", slot)
    default = _run(tmp_path, "validate", str(tgz), str(path))
    assert default.exit_code == 0, default.output
    assumed = _run(tmp_path, "validate", "--assume-valid-rest-references", str(tgz), str(path))
    assert assumed.exit_code == 1, assumed.output
    assert "reference to Practitioner not allowed" in assumed.stdout


def test_json_lines(tmp_path: Path, sas: tuple[Path, dict[str, Any]]) -> None:
    tgz, examples = sas
    slot = dict(examples["Slot-ExampleSlotPSIndiv1"])
    del slot["status"]
    a = _write(tmp_path, "a.json", slot)
    b = _write(tmp_path, "b.json", examples["Slot-ExampleSlotPSIndiv2"])
    result = _run(tmp_path, "validate", "--json", str(tgz), str(a), str(b))
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [x["file"] for x in lines] == [str(a), str(b)]
    assert [x["valid"] for x in lines] == [False, True]
    oo = lines[0]["outcome"]
    assert oo["resourceType"] == "OperationOutcome"
    assert any(i["expression"] == ["Slot.status"] and i["severity"] == "error" for i in oo["issue"])


def test_profile_option(tmp_path: Path, sas: tuple[Path, dict[str, Any]]) -> None:
    tgz, examples = sas
    slot = dict(examples["Slot-ExampleSlotPSIndiv1"])
    slot.pop("meta")
    path = _write(tmp_path, "slot.json", slot)
    by_name = _run(tmp_path, "validate", "--profile", "FrSlotAgregateurCPTS", str(tgz), str(path))
    # a PS-indiv slot without meta.profile is also a valid CPTS slot (CPTS parts optional)
    assert by_name.exit_code == 0, by_name.output
    assert ": valid" in by_name.stdout
    slot["status"] = "busy"
    _write(tmp_path, "slot.json", slot)
    by_url = _run(tmp_path, "validate", "--profile", SLOT, str(tgz), str(path))
    assert by_url.exit_code == 1
    assert "Slot.status" in by_url.stdout
    unknown = _run(tmp_path, "validate", "--profile", "NoSuchProfile", str(tgz), str(path))
    assert unknown.exit_code == 2
    assert "NoSuchProfile" in unknown.stderr


def test_bundle_entries_checked_against_their_profiles(
    tmp_path: Path, sas: tuple[Path, dict[str, Any]]
) -> None:
    tgz, examples = sas
    bundle = json.loads(json.dumps(examples["Bundle-ExampleBundlePSIndiv"]))
    i = next(n for n, e in enumerate(bundle["entry"]) if e["resource"]["resourceType"] == "Slot")
    bundle["entry"][i]["resource"]["status"] = "busy"
    path = _write(tmp_path, "bundle.json", bundle)
    result = _run(tmp_path, "validate", str(tgz), str(path))
    assert result.exit_code == 1
    assert f"Bundle.entry[{i}].resource.status" in result.stdout


def test_xml_instances(tmp_path: Path, sas: tuple[Path, dict[str, Any]]) -> None:
    from fhir.resources.R4B.slot import Slot

    tgz, examples = sas
    slot = examples["Slot-ExampleSlotPSIndiv1"]
    xml = Slot.model_validate(slot).model_dump_xml()
    good = tmp_path / "slot.xml"
    good.write_bytes(xml if isinstance(xml, bytes) else xml.encode())
    result = _run(tmp_path, "validate", str(tgz), str(good))
    assert result.exit_code == 0, result.output
    changed = json.loads(json.dumps(slot))
    changed["status"] = "busy"
    bad = tmp_path / "bad.xml"
    xml = Slot.model_validate(changed).model_dump_xml()
    bad.write_bytes(xml if isinstance(xml, bytes) else xml.encode())
    result = _run(tmp_path, "validate", str(tgz), str(bad))
    assert result.exit_code == 1
    assert "Slot.status" in result.stdout
    broken = tmp_path / "broken.xml"
    broken.write_text('<Slot xmlns="http://hl7.org/fhir"><status value="free"/></Slo>')
    result = _run(tmp_path, "validate", str(tgz), str(broken))
    assert result.exit_code == 2
    assert "broken.xml:1" in result.stderr


def test_input_errors_exit_2(tmp_path: Path, sas: tuple[Path, dict[str, Any]]) -> None:
    tgz, _ = sas
    bad = tmp_path / "bad.json"
    bad.write_text('{"resourceType": "Slot",\n "status": }')
    result = _run(tmp_path, "validate", str(tgz), str(bad))
    assert result.exit_code == 2
    assert "bad.json:2:" in result.stderr
    missing = _run(tmp_path, "validate", str(tgz), str(tmp_path / "nope.json"))
    assert missing.exit_code == 2
