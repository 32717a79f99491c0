"""The reference server over real HTTP on 127.0.0.1: the SAS flows of SAS-API.md."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from igtools.ir import IG, build_ir
from igtools.packages import PackageLoader, Settings
from igtools.project import load_project
from igtools.render.stubs.plan import parse_overlays
from igtools.render.stubs.server import make_app
from igtools.validate.validator import Validator
from tests.conftest import REPO, shared_path
from tests.render.stubs import serving
from tests.validate.test_mutations_sas import REFERENCE_INVALID

IDNPS = "urn:oid:1.2.250.1.71.4.2.1"
IDNST = "urn:oid:1.2.250.1.71.4.2.2"
SERVERS = [
    "SAS-GestionnaireAgenda-PsIndiv",
    "SAS-GestionnaireAgenda-CPTS",
    "SAS-GestionnaireAgenda-SOS",
    "SAS-GestionnaireStructure",
    "SAS-GestionnaireAgenda-RDVpsindiv",
]


@pytest.fixture(scope="module")
def ig(tmp_path_factory: pytest.TempPathFactory) -> IG:
    tgz = shared_path("fhir-packages", "ans.fhir.fr.sas-1.2.0.tgz")
    pset = PackageLoader(Settings(cache_dir=tmp_path_factory.mktemp("c"), offline=True)).load(
        str(tgz)
    )
    return build_ir(pset)


@pytest.fixture(scope="module")
def base(ig: IG) -> Iterator[str]:
    project = load_project(REPO)
    app, _, _ = make_app(ig, SERVERS, parse_overlays(project.stubs_overlay, "cfg"))
    server, thread, port = serving.serve(app)
    yield f"http://127.0.0.1:{port}"
    serving.stop(server, thread)


def _get(base: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.get(base + path, headers={"Accept": "application/json+fhir"}, timeout=30, **kw)


def _entries(bundle: dict[str, Any]) -> list[tuple[str, str, str]]:
    return sorted(
        (e["search"]["mode"], e["resource"]["resourceType"], e["resource"]["id"])
        for e in bundle.get("entry", [])
    )


def _all_valid(ig: IG, bundle: dict[str, Any]) -> None:
    v = Validator(ig)
    for e in bundle.get("entry", []):
        res = e["resource"]
        if e["search"]["mode"] == "outcome":
            continue
        errors = [i for i in v.validate_resource(res) if i.severity == "error"]
        if f"{res['resourceType']}/{res['id']}" in REFERENCE_INVALID.get(ig.version, set()):
            # an example the reference validator rejects too (text-only specialty)
            assert {i.rule for i in errors} == {"binding"}, [str(x) for x in errors]
            continue
        assert errors == [], (res["resourceType"], res["id"], [str(x) for x in errors])


def test_metadata(base: str) -> None:
    r = _get(base, "/metadata")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/fhir+json")
    statement = r.json()  # several statements served at once: one statement, merged
    assert statement["resourceType"] == "CapabilityStatement"
    assert len(statement["instantiates"]) == len(SERVERS)


def test_ps_indiv_slot_search(base: str, ig: IG) -> None:
    q = (
        "start=ge2021-11-04T14:19:35.760%2B00:00&start=le2021-11-06T23:59:59.999%2B00:00"
        f"&schedule.actor:Practitioner.identifier={IDNPS}%7C810002673899,{IDNPS}%7C810100050075"
        "&status=free&_include=Slot:schedule&_include:iterate=Schedule:actor"
    )
    r = _get(base, "/Slot?" + q)
    assert r.status_code == 200, r.text
    b = r.json()
    assert b["type"] == "searchset"
    assert b["meta"]["profile"] == ["http://sas.fr/fhir/StructureDefinition/BundleAgregateur"]
    modes = _entries(b)
    matched = [x for x in modes if x[0] == "match"]
    assert matched and all(t == "Slot" for _, t, _ in matched)
    assert b["total"] == len(matched)
    included_types = {t for m, t, _ in modes if m == "include"}
    assert included_types == {"Schedule", "Practitioner", "PractitionerRole"}
    assert len(modes) == len(set(modes))  # each resource once
    assert b["link"][0]["relation"] == "self"
    for e in b["entry"]:
        assert e["fullUrl"].endswith(f"/{e['resource']['resourceType']}/{e['resource']['id']}")
    _all_valid(ig, b)


def test_unknown_practitioner_is_an_empty_200(base: str) -> None:
    q = (
        "start=ge2021-11-04&start=le2021-11-06"
        f"&schedule.actor:Practitioner.identifier={IDNPS}%7C899999999999&status=free"
    )
    r = _get(base, "/Slot?" + q)
    assert r.status_code == 200
    b = r.json()
    assert b["total"] == 0 and "entry" not in b
    assert "meta" not in b  # an empty Bundle claims no profile


def test_sos_schedule_search(base: str, ig: IG) -> None:
    sirets = []
    for ex in ig.examples:
        if ex.resource_type == "Organization" and "SOS" in str(ex.id):
            sirets += [
                i["value"] for i in ex.data.get("identifier", []) if i.get("system") == IDNST
            ]
    assert sirets
    values = ",".join(f"{IDNST}%7C{v}" for v in sirets)
    q = (
        f"actor:Location.organization.identifier={values}"
        "&_has:Slot:schedule:start=ge2023-08-18T00:00:00%2B02:00"
        "&_has:Slot:schedule:start=le2023-08-20T23:59:59%2B02:00"
        "&_has:Slot:schedule:status=free"
        "&_revinclude=Slot:schedule&_include=Schedule:actor:Location&_include:iterate=Location:organization"
    )
    r = _get(base, "/Schedule?" + q)
    assert r.status_code == 200, r.text
    b = r.json()
    modes = _entries(b)
    assert {t for m, t, _ in modes if m == "match"} == {"Schedule"}
    assert {t for m, t, _ in modes if m == "include"} == {"Slot", "Location", "Organization"}
    _all_valid(ig, b)


def test_regulator_account_create_update_deactivate(base: str, ig: IG) -> None:
    regul = next(e.data for e in ig.examples if e.id == "ExamplePractitionerRegul1")
    body = json.loads(json.dumps(regul))
    body.pop("id", None)
    fresh = "3" + uuid.uuid4().hex[:11]
    body["identifier"][0]["value"] = fresh
    system = body["identifier"][0]["system"]
    headers = {"Content-Type": "application/json+fhir"}
    r = httpx.post(base + "/Practitioner", content=json.dumps(body), headers=headers)
    assert r.status_code == 201, r.text
    assert r.headers["location"].startswith(base + "/Practitioner/")
    url = f"{base}/Practitioner?identifier={system}%7C{fresh}"
    body["active"] = False
    r = httpx.put(url, content=json.dumps(body), headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["active"] is False
    # no match: conditional update creates
    body["identifier"][0]["value"] = "3" + uuid.uuid4().hex[:11]
    r = httpx.put(
        f"{base}/Practitioner?identifier={system}%7C{body['identifier'][0]['value']}",
        content=json.dumps(body),
        headers=headers,
    )
    assert r.status_code == 201
    # several matches: 412
    dup = next(e.data for e in ig.examples if e.id == "ExamplePractitionerRegul2")["identifier"][0]
    r = httpx.put(
        f"{base}/Practitioner?identifier={dup['system']}%7C{dup['value']}",
        content=json.dumps(body),
        headers=headers,
    )
    assert r.status_code == 412
    assert r.json()["resourceType"] == "OperationOutcome"


def test_appointment_create_and_cancel(base: str, ig: IG) -> None:
    appt = next(e.data for e in ig.examples if e.resource_type == "Appointment" and e.id == "1")
    body = json.loads(json.dumps(appt))
    body.pop("id", None)
    body["identifier"][0]["value"] = str(uuid.uuid4())
    headers = {"Content-Type": "application/fhir+json"}
    r = httpx.post(base + "/Appointment", content=json.dumps(body), headers=headers)
    assert r.status_code == 201, r.text
    ident = body["identifier"][0]
    body["status"] = "cancelled"
    r = httpx.put(
        f"{base}/Appointment?identifier={ident['system']}%7C{ident['value']}",
        content=json.dumps(body),
        headers=headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/Slot?start=xx2021-01-01&status=free", None, 400),
        ("GET", "/Slot?start=ge2021-13-45", None, 400),
        ("GET", "/Slot?_count=abc", None, 400),
        ("GET", "/Slot?_count=100000", None, 400),
        ("GET", "/Patient", None, 404),
        ("DELETE", "/Slot/ExampleSlotPSIndiv1", None, 405),
        ("GET", "/Slot/no-such-slot", None, 404),
        ("POST", "/Practitioner", "not json", 400),
        ("POST", "/Practitioner", '{"resourceType": "Patient"}', 400),
        ("POST", "/Practitioner", '{"resourceType": "Practitioner", "active": "oui"}', 400),
        (
            "POST",
            "/Practitioner",
            '{"resourceType": "Practitioner", "name": [{"family": "X", "given": ["Y"]}]}',
            422,
        ),
        ("GET", "/Slot?name=%27%20OR%201%3D1%20--", None, 200),
    ],
)
def test_errors_are_operation_outcomes(
    base: str, method: str, path: str, body: str | None, status: int
) -> None:
    r = httpx.request(
        method, base + path, content=body, headers={"Content-Type": "application/fhir+json"}
    )
    assert r.status_code == status, r.text
    data = r.json()
    if status >= 400:
        assert data["resourceType"] == "OperationOutcome"
        assert "Traceback" not in r.text
    else:
        assert data["resourceType"] == "Bundle"


def test_unknown_parameter_warning_or_strict(base: str) -> None:
    r = _get(base, "/Slot?foo=bar&status=free")
    assert r.status_code == 200
    assert any(e["search"]["mode"] == "outcome" for e in r.json()["entry"])
    r = httpx.get(base + "/Slot?foo=bar", headers={"Prefer": "handling=strict"})
    assert r.status_code == 400


def test_post_search(base: str) -> None:
    r = httpx.post(base + "/Slot/_search", data={"status": "free", "_count": "2"})
    assert r.status_code == 200
    assert len([e for e in r.json()["entry"] if e["search"]["mode"] == "match"]) == 2


def test_read(base: str) -> None:
    r = _get(base, "/Slot/ExampleSlotPSIndiv1")
    assert r.status_code == 200 and r.json()["id"] == "ExampleSlotPSIndiv1"


def test_serve_unknown_capability_is_a_usage_error(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from igtools.cli import cli

    tgz = shared_path("fhir-packages", "ans.fhir.fr.sas-1.2.0.tgz")
    r = CliRunner().invoke(
        cli, ["--offline", "--cache-dir", str(tmp_path), "serve", str(tgz), "--capability", "NOPE"]
    )
    assert r.exit_code == 2
    assert "--capability NOPE" in r.stderr and "SAS-GestionnaireStructure" in r.stderr


def test_cpts_slot_search(base: str, ig: IG) -> None:
    idents = [
        f"{IDNPS}%7C{i['value']}"
        for e in ig.examples
        if e.resource_type == "Practitioner"
        for i in e.data.get("identifier", [])
        if i.get("system") == IDNPS
    ]
    q = (
        "start=ge2024-06-01T00:00:00%2B02:00&start=le2024-06-30T23:59:59%2B02:00"
        f"&schedule.actor:Practitioner.identifier={','.join(idents)}&status=free"
        "&_include=Slot:schedule&_include=Slot:service-type-reference"
        "&_include:iterate=Schedule:actor&_include:iterate=HealthcareService:organization"
    )
    r = _get(base, "/Slot?" + q)
    assert r.status_code == 200, r.text
    b = r.json()
    modes = _entries(b)
    cpts_slots = {i for m, t, i in modes if m == "match" and "CPTS" in i}
    assert cpts_slots == {"ExampleSlotCPTS1", "ExampleSlotCPTS2"}
    included = {t for m, t, _ in modes if m == "include"}
    assert {
        "Schedule",
        "Practitioner",
        "PractitionerRole",
        "HealthcareService",
        "Organization",
    } <= included
    _all_valid(ig, b)
