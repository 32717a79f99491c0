"""Several CapabilityStatements on one base (issue 14): ``igtools serve PKG --capability
SAS-GestionnaireAgenda-PsIndiv --capability SAS-GestionnaireStructure`` answers one
CapabilityStatement, and checks a request body against the profile of the statement that
declares that interaction for that type (and the profiles the body claims)."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from igtools.ir import IG, build_ir
from igtools.packages import PackageLoader, Settings
from igtools.runtime.capability import merge_capabilities
from tests.conftest import REPO, shared_path
from tests.render.stubs import serving

SAS = "https://interop.esante.gouv.fr/ig/fhir/sas"
REGUL = f"{SAS}/StructureDefinition/FrPractitionerRegul"
AGREGATEUR = "http://sas.fr/fhir/StructureDefinition/FrPractitionerAgregateur"
FHIR = {"Content-Type": "application/fhir+json"}


@pytest.fixture(scope="module")
def ig(tmp_path_factory: pytest.TempPathFactory) -> IG:
    tgz = shared_path("fhir-packages", "ans.fhir.fr.sas-1.2.0.tgz")
    pset = PackageLoader(Settings(cache_dir=tmp_path_factory.mktemp("c"), offline=True)).load(
        str(tgz)
    )
    return build_ir(pset)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The issue's command, in a subprocess, in this repository's project (its overlay)."""
    tgz = shared_path("fhir-packages", "ans.fhir.fr.sas-1.2.0.tgz")
    tmp = tmp_path_factory.mktemp("serve")
    with serving.igtools_serve(
        tmp,
        str(tgz),
        "--capability",
        "SAS-GestionnaireAgenda-PsIndiv",
        "--capability",
        "SAS-GestionnaireStructure",
        project=REPO,
    ) as (port, _):
        yield f"http://127.0.0.1:{port}"


def _regul(ig: IG) -> dict[str, Any]:
    body = copy.deepcopy(next(e.data for e in ig.examples if e.id == "ExamplePractitionerRegul1"))
    body.pop("id", None)
    body["identifier"][0]["value"] = "3" + uuid.uuid4().hex[:11]
    return body


def test_metadata_is_one_merged_statement(base: str) -> None:
    r = httpx.get(base + "/metadata", timeout=30)
    assert r.status_code == 200
    cs = r.json()
    assert cs["resourceType"] == "CapabilityStatement"
    assert cs["kind"] == "instance" and cs["fhirVersion"] == "4.0.1"
    assert cs["status"] == "active" and cs["date"]
    assert "igtools" in cs["software"]["name"]
    assert cs["implementation"]["url"] == base
    assert cs["instantiates"] == [
        f"{SAS}/CapabilityStatement/SAS-GestionnaireAgenda-PsIndiv",
        f"{SAS}/CapabilityStatement/SAS-GestionnaireStructure",
    ]
    [rest] = cs["rest"]
    resources = {res["type"]: res for res in rest["resource"]}
    assert set(resources) == {"Slot", "Schedule", "Practitioner"}
    practitioner = resources["Practitioner"]
    assert [i["code"] for i in practitioner["interaction"]] == [
        "read",
        "search-type",
        "create",
        "update",
    ]
    assert {practitioner["profile"], *practitioner["supportedProfile"]} == {AGREGATEUR, REGUL}
    assert practitioner.get("conditionalUpdate") is True  # from the Structure statement
    names = [p["name"] for p in practitioner["searchParam"]]
    assert "identifier" in names and len(names) == len(set(names))
    assert [i["code"] for i in resources["Slot"]["interaction"]] == ["read", "search-type"]


def test_create_is_checked_against_the_declaring_statement(base: str, ig: IG) -> None:
    body = _regul(ig)
    for name in body["name"]:
        name.pop("family")
    r = httpx.post(base + "/Practitioner", content=json.dumps(body), headers=FHIR, timeout=30)
    assert r.status_code == 422, r.text
    [issue] = r.json()["issue"]
    assert REGUL in issue["diagnostics"]
    assert issue["expression"] == ["Practitioner.name[0].family"]
    # the same body without meta.profile: still the create statement's profile
    del body["meta"]["profile"]
    r = httpx.post(base + "/Practitioner", content=json.dumps(body), headers=FHIR, timeout=30)
    assert r.status_code == 422, r.text
    assert REGUL in r.text and "Practitioner.name[0].family" in r.text
    # and on a conditional update (the same statement declares update)
    ident = body["identifier"][0]
    url = f"{base}/Practitioner?identifier={ident['system']}%7C{ident['value']}"
    r = httpx.put(url, content=json.dumps(body), headers=FHIR, timeout=30)
    assert r.status_code == 422, r.text
    assert REGUL in r.text

    valid = _regul(ig)
    r = httpx.post(base + "/Practitioner", content=json.dumps(valid), headers=FHIR, timeout=30)
    assert r.status_code == 201, r.text
    assert r.headers["location"].startswith(base + "/Practitioner/")


def test_a_claimed_profile_is_checked_too(base: str, ig: IG) -> None:
    """A regulator account whose identifier has another system is in FrPractitionerRegul
    but not in the slot-search profile, whose pattern wants the RPPS system: created as
    it is, 422 naming the slot-search profile when the body also claims it."""
    body = _regul(ig)
    body["identifier"][0]["system"] = "urn:oid:1.2.3.4"
    r = httpx.post(base + "/Practitioner", content=json.dumps(body), headers=FHIR, timeout=30)
    assert r.status_code == 201, r.text
    body["meta"]["profile"].append(AGREGATEUR)
    r = httpx.post(base + "/Practitioner", content=json.dumps(body), headers=FHIR, timeout=30)
    assert r.status_code == 422, r.text
    [issue] = r.json()["issue"]
    assert AGREGATEUR in issue["diagnostics"]
    assert issue["expression"] == ["Practitioner.identifier[0].system"]


def test_merge_capabilities_by_type() -> None:
    a = {
        "url": "http://x/CapabilityStatement/a",
        "name": "A",
        "format": ["application/fhir+json"],
        "rest": [
            {
                "mode": "server",
                "resource": [
                    {
                        "type": "Patient",
                        "profile": "http://x/P1",
                        "interaction": [{"code": "read"}],
                        "searchParam": [{"name": "name", "type": "string"}],
                        "searchInclude": ["Patient:organization"],
                    }
                ],
            },
            {"mode": "client", "resource": [{"type": "Observation"}]},
        ],
    }
    b = {
        "url": "http://x/CapabilityStatement/b",
        "name": "B",
        "format": ["application/fhir+json", "xml"],
        "rest": [
            {
                "mode": "server",
                "resource": [
                    {
                        "type": "Patient",
                        "profile": "http://x/P2",
                        "supportedProfile": ["http://x/P1", "http://x/P3"],
                        "interaction": [{"code": "read"}, {"code": "create"}],
                        "searchParam": [
                            {"name": "name", "type": "string"},
                            {"name": "birthdate", "type": "date"},
                        ],
                        "conditionalUpdate": True,
                    },
                    {"type": "Encounter", "interaction": [{"code": "read"}]},
                ],
            }
        ],
    }
    cs = merge_capabilities([a, b], "2026-01-01T00:00:00+00:00")
    assert cs["instantiates"] == [a["url"], b["url"]]
    assert cs["format"] == ["application/fhir+json", "xml"]
    patient, encounter = cs["rest"][0]["resource"]
    assert patient == {
        "type": "Patient",
        "profile": "http://x/P1",
        "supportedProfile": ["http://x/P2", "http://x/P3"],
        "interaction": [{"code": "read"}, {"code": "create"}],
        "searchParam": [{"name": "name", "type": "string"}, {"name": "birthdate", "type": "date"}],
        "searchInclude": ["Patient:organization"],
        "conditionalUpdate": True,
    }
    assert encounter == {"type": "Encounter", "interaction": [{"code": "read"}]}
    assert [r["mode"] for r in cs["rest"]] == ["server"]  # the client side is not served
