"""The FHIR R4 JSON rules (igtools.runtime.fhirjson): each rule both ways on small
instances, the strict parse, the type table, the request bodies of a server."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from igtools.data import make_r4_types
from igtools.runtime import fhirjson
from igtools.runtime.fhirapi import ApiSpec, AppConfig, ResourceSpec, StoreHandlers, build_app
from igtools.runtime.store import Store
from tests.conftest import shared_path


def issues(data: Any) -> list[tuple[str, str]]:
    return [(i.location, i.rule) for i in fhirjson.check_resource(data)]


def patient(**elements: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": "p1", **elements}


# ------------------------------------------------------------------------------ valid


@pytest.mark.parametrize(
    "data",
    [
        patient(),
        patient(active=True, multipleBirthInteger=2, birthDate="1970-12"),
        patient(deceasedDateTime="2020-02-29T10:00:00+01:00"),
        # any R4 type in an extension value, Meta, Dosage and the metadata types included
        patient(extension=[{"url": "https://e.org/a", "valueMeta": {"versionId": "1"}}]),
        patient(
            extension=[
                {"url": "https://e.org/b", "valueContactDetail": {"name": "x"}},
                {"url": "https://e.org/c", "valueDosage": {"text": "1/j"}},
                {"url": "https://e.org/d", "valueExpression": {"language": "text/fhirpath"}},
                {
                    "url": "https://e.org/e",
                    "valueUsageContext": {
                        "code": {"code": "focus"},
                        "valueCodeableConcept": {"text": "x"},
                    },
                },
                {"url": "https://e.org/f", "extension": [{"url": "g", "valueDecimal": 1.50}]},
            ]
        ),
        # primitive arrays aligned with their _name arrays (null on either side)
        patient(name=[{"given": ["Jean", None], "_given": [None, {"id": "g2"}]}]),
        # a primitive with only its extensions, single and repeating
        patient(
            _birthDate={"extension": [{"url": "https://e.org/x", "valueString": "inconnue"}]},
            address=[{"_line": [{"extension": [{"url": "https://e.org/n", "valueString": "1"}]}]}],
        ),
        # nested resources by their own type
        patient(contained=[{"resourceType": "Organization", "id": "o", "name": "O"}]),
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": {"resourceType": "Patient", "gender": "female"}}],
        },
        {
            "resourceType": "Parameters",
            "parameter": [{"name": "r", "resource": {"resourceType": "Patient", "active": False}}],
        },
        # decimals are any JSON number; xhtml is a string
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "t"},
            "valueQuantity": {"value": 3},
            "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml"/>'},
        },
        # non-breaking spaces are not whitespace for the R4 regexes (Java \\s)
        patient(gender="male", name=[{"text": "Jean\u00a0Dupont "}]),
    ],
)
def test_valid_instances_pass(data: dict[str, Any]) -> None:
    assert issues(data) == []


# ------------------------------------------------------------------------------ invalid


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # JSON types of primitives (no coercion)
        (patient(active="true"), [("Patient.active", "json-type")]),
        (patient(active=1), [("Patient.active", "json-type")]),
        (patient(multipleBirthInteger="2"), [("Patient.multipleBirthInteger", "json-type")]),
        (patient(multipleBirthInteger=2.0), [("Patient.multipleBirthInteger", "json-type")]),
        (patient(multipleBirthInteger=True), [("Patient.multipleBirthInteger", "json-type")]),
        (patient(multipleBirthInteger=2**31), [("Patient.multipleBirthInteger", "format")]),
        (patient(birthDate=19700101), [("Patient.birthDate", "json-type")]),
        (patient(gender=["male"]), [("Patient.gender", "cardinality")]),
        (patient(name={"family": "X"}), [("Patient.name", "cardinality")]),
        (patient(name=["X"]), [("Patient.name[0]", "json-type")]),
        # the R4 regexes and the calendar
        (patient(birthDate="1970-13-01"), [("Patient.birthDate", "format")]),
        (patient(birthDate="2021-02-29"), [("Patient.birthDate", "format")]),
        (patient(birthDate="01/02/1970"), [("Patient.birthDate", "format")]),
        (patient(deceasedDateTime="2020-01-01T10:00"), [("Patient.deceasedDateTime", "format")]),
        (patient(id="a b"), [("Patient.id", "format")]),
        (patient(id="x" * 65), [("Patient.id", "format")]),
        (patient(gender="ma le "), [("Patient.gender", "format")]),
        (patient(implicitRules="http://a b"), [("Patient.implicitRules", "format")]),
        (
            patient(identifier=[{"system": "urn:oid:1.2.x", "value": "1"}]),
            [],  # system is a uri, not an oid
        ),
        (
            patient(photo=[{"data": "abc"}]),
            [("Patient.photo[0].data", "format")],
        ),
        (
            patient(extension=[{"url": "u", "valueOid": "1.2.3"}]),
            [("Patient.extension[0].valueOid", "format")],
        ),
        (
            patient(extension=[{"url": "u", "valueUuid": "urn:uuid:ABC"}]),
            [("Patient.extension[0].valueUuid", "format")],
        ),
        (
            {
                "resourceType": "Slot",
                "status": "free",
                "schedule": {"reference": "S/1"},
                "start": "2021-01-01T10:00:00",
                "end": "2021-01-01T10:00:00Z",
            },
            [("Slot.start", "format")],
        ),
        (patient(name=[{"text": "x" * (1024 * 1024 + 1)}]), [("Patient.name[0].text", "format")]),
        (
            patient(text={"status": "generated", "div": "texte"}),
            [("Patient.text.div", "format")],
        ),
        # unknown elements, resource types, R4B-only elements
        (patient(foo=1), [("Patient.foo", "unknown-element")]),
        (
            patient(_gender={"extension": []}, _foo={}),
            [
                ("Patient.gender.extension", "ele-1"),
                ("Patient._foo", "unknown-element"),
            ],
        ),
        (patient(_name=[{}]), [("Patient._name", "unknown-element")]),
        ({"resourceType": "Patients"}, [("Patients", "resource-type")]),
        ({"resourceType": "SubscriptionTopic"}, [("SubscriptionTopic", "resource-type")]),
        ({"id": "x"}, [("Resource", "resource-type")]),
        (
            patient(name=[{"resourceType": "HumanName"}]),
            [("Patient.name[0].resourceType", "unknown-element")],
        ),
        # choice types
        (
            patient(deceasedBoolean=True, deceasedDateTime="2020"),
            [("Patient.deceasedDateTime", "choice")],
        ),
        (patient(deceasedString="x"), [("Patient.deceasedString", "unknown-element")]),
        # null only inside aligned primitive arrays
        (patient(active=None), [("Patient.active", "null")]),
        (patient(name=[None]), [("Patient.name[0]", "null")]),
        (patient(name=[{"given": ["a", None]}]), [("Patient.name[0].given[1]", "null")]),
        (
            patient(name=[{"given": ["a", None], "_given": [None, None]}]),
            [("Patient.name[0].given[1]", "null")],
        ),
        (
            patient(name=[{"_given": [None]}]),
            [("Patient.name[0].given[0]", "null")],
        ),
        (
            patient(name=[{"given": ["a"], "_given": [None, {"id": "x"}]}]),
            [("Patient.name[0].given", "cardinality")],
        ),
        (patient(name=[{"given": "a"}]), [("Patient.name[0].given", "cardinality")]),
        (patient(_birthDate=[{"id": "x"}]), [("Patient.birthDate", "json-type")]),
        # empty values (ele-1) and ext-1
        (patient(name=[]), [("Patient.name", "ele-1")]),
        (patient(name=[{}]), [("Patient.name[0]", "ele-1")]),
        (patient(gender=""), [("Patient.gender", "ele-1")]),
        # a blank string is a value (the reference validator only frowns on the white
        # space); a blank code breaks its type's regex
        (patient(name=[{"family": "  "}]), []),
        (patient(gender=" "), [("Patient.gender", "format")]),
        (patient(meta={}), [("Patient.meta", "ele-1")]),
        (
            patient(
                extension=[
                    {
                        "url": "u",
                        "valueString": "x",
                        "extension": [{"url": "v", "valueString": "y"}],
                    }
                ]
            ),
            [("Patient.extension[0]", "ext-1")],
        ),
        (patient(extension=[{"url": "u"}]), [("Patient.extension[0]", "ext-1")]),
        # elements the base definition requires
        (patient(extension=[{"valueString": "x"}]), [("Patient.extension[0]", "required")]),
        ({"resourceType": "Observation", "code": {"text": "x"}}, [("Observation", "required")]),
        (
            {"resourceType": "Observation", "_status": {"id": "s"}, "code": {"text": "x"}},
            [],  # a primitive's extensions stand for it
        ),
        # nested resources by their own type
        (
            patient(contained=[{"resourceType": "Organization", "active": "yes"}]),
            [("Patient.contained[0].active", "json-type")],
        ),
        (patient(contained=[{"name": "x"}]), [("Patient.contained[0]", "resource-type")]),
        (
            {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": {"resourceType": "Patient", "active": "true"}}],
            },
            [("Bundle.entry[0].resource.active", "json-type")],
        ),
        (
            {
                "resourceType": "Parameters",
                "parameter": [{"name": "r", "resource": {"resourceType": "Patient", "x": 1}}],
            },
            [("Parameters.parameter[0].resource.x", "unknown-element")],
        ),
    ],
)
def test_invalid_instances_named(data: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert issues(data) == expected


def test_messages_name_the_rule() -> None:
    found = fhirjson.check_resource(patient(active="true", total=12))
    assert [str(i) for i in found] == [
        'Patient.active: boolean must be JSON true or false, found string "true"',
        "Patient.total: unknown element 'total' in Patient",
    ]


def test_nesting_limit_in_the_walk() -> None:
    data: dict[str, Any] = {"url": "u", "valueString": "x"}
    for _ in range(60):
        data = {"url": "u", "extension": [data]}
    found = fhirjson.check_resource(patient(extension=[data]))
    assert [i.rule for i in found] == ["depth"]


# ------------------------------------------------------------------------------ parse


def test_parse_keeps_json_types_and_reports_duplicate_keys() -> None:
    raw = b'{"resourceType": "Patient", "active": true, "name": [{"family": "A", "family": "B"}],'
    raw += b' "active": false, "multipleBirthInteger": 2}'
    value, dups = fhirjson.parse(raw)
    assert value["active"] is False and type(value["multipleBirthInteger"]) is int
    assert value["name"][0]["family"] == "B"
    assert [(d.location, d.rule) for d in dups] == [
        ("Patient.name[0]", "duplicate-key"),
        ("Patient", "duplicate-key"),
    ]
    assert "'family'" in dups[0].message


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"a": [1, 2}', "invalid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b'{"a": ' + b"[" * 150 + b"]" * 150 + b"}", "nested deeper than 100 levels"),
        (b"[" * 100_000 + b"]" * 100_000, "nested deeper than 100 levels"),
        (b'{"a": ' + b"9" * 5000 + b"}", "number too large (5000 digits)"),
        (b'{"a": 1e999}', "number too large"),
        (b'{"a": NaN}', "NaN is not a JSON value"),
    ],
)
def test_parse_errors_are_clear(raw: bytes, message: str) -> None:
    with pytest.raises(fhirjson.FhirJsonError) as err:
        fhirjson.parse(raw)
    assert message in str(err.value)


def test_parse_error_position() -> None:
    with pytest.raises(fhirjson.FhirJsonError) as err:
        fhirjson.parse(b'{\n  "a": tru\n}')
    assert err.value.where("f.json") == "f.json:2:8"


def test_depth_of_strings_with_brackets_and_escapes() -> None:
    raw = json.dumps({"a": '[[[{{\\"', "b": [{"c": "\\"}]}).encode()
    assert fhirjson.json_depth(raw) == 3


# ------------------------------------------------------------------------------ the table


def test_table_is_r4_not_r4b() -> None:
    tab = fhirjson.table()
    assert len(tab.resources) == 146
    assert "SubscriptionTopic" not in tab.resources  # R4B
    assert "MedicinalProduct" in tab.resources  # R4 only
    extension = tab.types["Extension"]
    assert {"valueMeta", "valueDosage", "valueContactDetail", "valueUsageContext"} <= set(extension)
    assert "valueInteger64" not in extension


def test_table_regenerates_identically() -> None:
    tgz = shared_path("fhir-packages", "hl7.fhir.r4.core-4.0.1.tgz")
    committed = Path(make_r4_types.OUT).read_text(encoding="utf-8")
    assert make_r4_types.dump(make_r4_types.build(tgz)) == committed


# ------------------------------------------------------------------------------ server bodies


@pytest.fixture
def client() -> TestClient:
    spec = ResourceSpec(type="Patient", interactions=("create", "update", "read"))
    api = ApiSpec(name="t", capability={"resourceType": "CapabilityStatement"}, resources=(spec,))
    return TestClient(build_app([api], StoreHandlers(Store()), AppConfig()))


FHIR = {"Content-Type": "application/fhir+json"}


@pytest.mark.parametrize(
    ("body", "status", "names"),
    [
        (b'{"resourceType": "Patient", "active": true}', 201, []),
        (
            b'{"resourceType": "Patient", "extension": [{"url": "u", "valueMeta": {"tag": []}}]}',
            400,
            ["Patient.extension[0].valueMeta.tag"],
        ),
        (
            b'{"resourceType": "Patient", "extension": [{"url": "u", "valueMeta": {}}]}',
            400,
            ["Patient.extension[0].valueMeta"],
        ),
        (
            b'{"resourceType": "Patient", "extension": '
            b'[{"url": "u", "valueMeta": {"versionId": "1"}}]}',
            201,
            [],
        ),
        (b'{"resourceType": "Patient", "active": "true"}', 400, ["Patient.active"]),
        (b'{"resourceType": "Patient", "total": 1}', 400, ["Patient.total"]),
        (
            b'{"resourceType": "Patient", "name": [{"given": [null]}]}',
            400,
            ["Patient.name[0].given[0]"],
        ),
        (b'{"resourceType": "Patient", "gender": "male", "gender": "female"}', 400, ["Patient"]),
        (b'{"resourceType": "Patient", "a": ' + b"[" * 200 + b"]" * 200 + b"}", 400, []),
        (b'{"resourceType": "Patient", "multipleBirthInteger": ' + b"9" * 9000 + b"}", 400, []),
        (b'{"resourceType": "Patient", "multipleBirthInteger": 1e400}', 400, []),
        (b'{"resourceType": "Patient",}', 400, []),
    ],
)
def test_request_bodies(client: TestClient, body: bytes, status: int, names: list[str]) -> None:
    r = client.post("/Patient", content=body, headers=FHIR)
    assert r.status_code == status, r.text
    out = r.json()
    if status >= 400:
        assert out["resourceType"] == "OperationOutcome"
        assert "Traceback" not in r.text
        assert [e for i in out["issue"] for e in i.get("expression", [])] == names


def test_generated_server_ships_the_table(tmp_path: Path) -> None:
    """The stub package carries fhirjson and its table in _runtime/ and reads it there."""
    from igtools.ir import build_ir
    from igtools.packages import PackageLoader, Settings
    from igtools.render.stubs.python import StubsRenderer
    from tests.golden import FIXTURE

    pset = PackageLoader(Settings(cache_dir=tmp_path / "c", offline=True)).load(str(FIXTURE))
    StubsRenderer(build_ir(pset)).render(tmp_path / "out")
    runtime = tmp_path / "out" / "mini_server_server" / "mini_server_server" / "_runtime"
    assert (runtime / fhirjson.TABLE).read_bytes() == Path(make_r4_types.OUT).read_bytes()
    spec = importlib.util.spec_from_file_location("generated_fhirjson", runtime / "fhirjson.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    try:
        spec.loader.exec_module(mod)
        assert mod._table_file() == runtime / fhirjson.TABLE
        assert [i.rule for i in mod.check_resource(patient(active="true"))] == ["json-type"]
    finally:
        del sys.modules[spec.name]


# ------------------------------------------------------------------------------ the corpus


def test_corpus_rejections_are_the_reference_validators() -> None:
    """Every example of the ../shared packages that have a QA report: what fhirjson
    rejects, the HL7 validator reported as an error on that file too."""
    import tarfile

    packages = shared_path("fhir-packages")
    qa_root = shared_path("ig-qa")
    checked, unconfirmed = 0, []
    for qa_dir in sorted(p for p in qa_root.iterdir() if p.is_dir()):
        tgz = packages / f"{qa_dir.name}.tgz"
        if not tgz.exists():
            continue
        qa = (qa_dir / "qa-eslintcompact.txt").read_text(encoding="utf-8", errors="replace")
        with tarfile.open(tgz) as tar:
            for member in tar.getmembers():
                if not (member.name.startswith("package/example/") and member.isfile()):
                    continue
                fh = tar.extractfile(member)
                assert fh is not None
                try:
                    _, found = fhirjson.check_text(fh.read())
                except fhirjson.FhirJsonError as exc:
                    found = [fhirjson.JsonIssue("$", exc.message, "parse")]
                checked += 1
                name = f"/{Path(member.name).name}:"
                if found and not any(name in ln and " Error - " in ln for ln in qa.splitlines()):
                    unconfirmed.append(f"{qa_dir.name} {member.name}: {found[0]}")
    assert checked > 100
    assert unconfirmed == []
