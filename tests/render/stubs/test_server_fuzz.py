"""Fuzzing the reference server (Hypothesis): no 5xx, no traceback, clear 4xx outcomes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from igtools.ir import build_ir
from igtools.packages import PackageLoader, Settings
from igtools.project import load_project
from igtools.render.stubs.plan import parse_overlays
from igtools.render.stubs.server import make_app
from tests.conftest import REPO, shared_path

NAMES = [
    "start",
    "status",
    "schedule",
    "schedule.actor:Practitioner.identifier",
    "_include",
    "_include:iterate",
    "_revinclude",
    "_count",
    "_has:Slot:schedule:start",
    "identifier",
    "actor:Location.organization.identifier",
    "_id",
    "_sort",
    "unknown",
    "start:missing",
]
NASTY = [
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "ge2021-02-30",
    "xx2021",
    "1e999",
    "9" * 50,
    "\x00",
    "%00",
    "|",
    "||",
    ",,,",
    "urn:oid:1.2|",
    "Slot:*",
    "-1",
    "2021-13-01T25:61:00Z",
    "a" * 3000,
]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    tgz = shared_path("fhir-packages", "ans.fhir.fr.sas-1.2.0.tgz")
    pset = PackageLoader(Settings(cache_dir=tmp_path_factory.mktemp("c"), offline=True)).load(
        str(tgz)
    )
    project = load_project(REPO)
    servers = [
        "SAS-GestionnaireAgenda-PsIndiv",
        "SAS-GestionnaireAgenda-SOS",
        "SAS-GestionnaireStructure",
    ]
    app, _, _ = make_app(build_ir(pset), servers, parse_overlays(project.stubs_overlay, "cfg"))
    return TestClient(app, raise_server_exceptions=False)


def _check(resp: Any) -> None:
    assert resp.status_code < 500, (resp.status_code, resp.text[:500])
    assert "Traceback" not in resp.text
    if resp.status_code >= 400:
        assert resp.json()["resourceType"] == "OperationOutcome"


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rtype=st.sampled_from(["Slot", "Schedule", "Practitioner", "Patient", "Slot/_search"]),
    pairs=st.lists(
        st.tuples(st.sampled_from(NAMES), st.one_of(st.sampled_from(NASTY), st.text(max_size=40))),
        max_size=6,
    ),
)
def test_search_never_5xx(client: TestClient, rtype: str, pairs: list[tuple[str, str]]) -> None:
    if rtype.endswith("_search"):
        resp = client.post(f"/{rtype}", data=dict(pairs))
    else:
        resp = client.get(f"/{rtype}", params=pairs)
    _check(resp)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.one_of(
        st.text(max_size=200),
        st.recursive(
            st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
            lambda children: st.one_of(
                st.lists(children, max_size=3),
                st.dictionaries(
                    st.sampled_from(
                        ["resourceType", "id", "name", "active", "identifier", "meta", "x"]
                    ),
                    children,
                    max_size=4,
                ),
            ),
            max_leaves=10,
        ).map(lambda v: json.dumps({"resourceType": "Practitioner", "extra": v})),
    ),
    ctype=st.sampled_from(
        ["application/fhir+json", "application/json+fhir", "text/plain", "application/xml"]
    ),
)
def test_create_never_5xx(client: TestClient, body: str, ctype: str) -> None:
    _check(client.post("/Practitioner", content=body, headers={"Content-Type": ctype}))
    _check(
        client.put("/Practitioner?identifier=a%7Cb", content=body, headers={"Content-Type": ctype})
    )


def test_oversized_body_and_huge_count(client: TestClient) -> None:
    resp = client.post(
        "/Practitioner",
        content="x" * (6 * 1024 * 1024),
        headers={"Content-Type": "application/fhir+json"},
    )
    assert resp.status_code == 413
    assert resp.json()["resourceType"] == "OperationOutcome"
    resp = client.get("/Slot", params=[("_count", "100000000")])
    assert resp.status_code == 400
