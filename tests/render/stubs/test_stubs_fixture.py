"""`igtools stubs` on another IG (the fixture, no overlay): a working server with every
declared interaction (read, vread, search, update, patch, delete, instance and type
history), its contract tests with flows, and the client generated from the statement's
client side, against it over HTTP."""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from igtools.ir import build_ir
from igtools.packages import PackageLoader, Settings
from igtools.render.stubs.python import StubsRenderer
from tests.golden import FIXTURE
from tests.render.stubs import serving

SERVER, CLIENT, MODELS = "mini_server_server", "mini_server_client", "example_fhir_mini_models"
PATCH = {"Content-Type": "application/json-patch+json"}


@pytest.fixture(scope="module")
def stubs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    cache = tmp_path_factory.mktemp("c")
    pset = PackageLoader(Settings(cache_dir=cache, offline=True)).load(str(FIXTURE))
    out = tmp_path_factory.mktemp("stubs")
    StubsRenderer(build_ir(pset)).render(out)
    paths = [str(out / "models"), str(out / SERVER), str(out / CLIENT)]
    sys.path[:0] = paths
    try:
        yield out
    finally:
        for p in paths:
            sys.path.remove(p)
        for m in [m for m in sys.modules if m.startswith((SERVER, CLIENT, MODELS))]:
            del sys.modules[m]


def test_fixture_server_without_overlay(stubs: Path) -> None:
    assert sorted(p.name for p in stubs.iterdir() if p.name.startswith("mini_")) == [
        CLIENT,
        SERVER,
    ]
    client = TestClient(importlib.import_module(SERVER).create_app())
    # the statement's own search parameter (an IG SearchParameter on an extension)
    r = client.get("/Patient", params={"birth-place": "lyo"})
    assert r.status_code == 200, r.text
    bundle = r.json()
    assert bundle["type"] == "searchset" and bundle["total"] == 1
    assert "Lyon" in str(bundle["entry"][0]["resource"]["extension"])
    assert client.get("/Patient", params={"birth-place": "Paris"}).json()["total"] == 0
    assert client.get("/Patient/mini-patient-1").status_code == 200


def test_every_declared_interaction(stubs: Path) -> None:
    client = TestClient(importlib.import_module(SERVER).create_app())
    patient = client.get("/Patient/mini-patient-2").json()
    version = patient["meta"]["versionId"]
    # JSON Patch: applied, validated against MiniPatient, stored as a new version
    ops = [
        {"op": "test", "path": "/id", "value": "mini-patient-2"},
        {"op": "replace", "path": "/birthDate", "value": "1990-01-02"},
    ]
    r = client.patch("/Patient/mini-patient-2", content=json.dumps(ops), headers=PATCH)
    assert r.status_code == 200, r.text
    assert r.json()["birthDate"] == "1990-01-02"
    assert r.json()["meta"]["versionId"] != version
    # a failed test operation: 422; a path that does not exist: 400; not JSON Patch: 415
    bad = [{"op": "test", "path": "/gender", "value": "other-than-that"}]
    r = client.patch("/Patient/mini-patient-2", content=json.dumps(bad), headers=PATCH)
    assert r.status_code == 422 and "test operation failed" in r.text
    bad = [{"op": "remove", "path": "/no-such-element"}]
    r = client.patch("/Patient/mini-patient-2", content=json.dumps(bad), headers=PATCH)
    assert r.status_code == 400 and r.json()["resourceType"] == "OperationOutcome"
    r = client.patch("/Patient/mini-patient-2", content=json.dumps(ops))
    assert r.status_code == 415
    # a patch leaving the resource outside its profile (gender is 1..1): 422 naming it
    drop = [{"op": "remove", "path": "/gender"}]
    r = client.patch("/Patient/mini-patient-2", content=json.dumps(drop), headers=PATCH)
    assert r.status_code == 422 and "Patient.gender" in r.text, r.text
    assert client.patch("/Patient/nobody", content="[]", headers=PATCH).status_code == 404
    # vread of the first version, instance and type history
    r = client.get(f"/Patient/mini-patient-2/_history/{version}")
    assert r.status_code == 200 and r.json()["birthDate"] != "1990-01-02"
    history = client.get("/Patient/mini-patient-2/_history").json()
    assert history["type"] == "history" and history["total"] == 2
    everything = client.get("/Patient/_history").json()
    assert {e["request"]["url"] for e in everything["entry"]} == {
        "Patient/mini-patient-1",
        "Patient/mini-patient-2",
    }
    # delete: 204, then read 410 and a deletion in the history
    assert client.delete("/Patient/mini-patient-1").status_code == 204
    assert client.get("/Patient/mini-patient-1").status_code == 410
    last = client.get("/Patient/mini-patient-1/_history").json()["entry"][0]
    assert last["request"]["method"] == "DELETE" and "resource" not in last
    # what the statement does not declare stays 405
    assert client.delete("/Observation/mini-observation-1").status_code == 405


def test_generated_client_against_generated_server(stubs: Path) -> None:
    server_mod = importlib.import_module(SERVER)
    client_mod = importlib.import_module(CLIENT)
    srv, thread, port = serving.serve(server_mod.create_app())
    base = f"http://127.0.0.1:{port}"
    try:
        with client_mod.Client(base) as c:
            patient = c.read_patient("mini-patient-2")
            assert patient.gender == "male"
            patched = c.patch_patient(
                "mini-patient-2", [{"op": "replace", "path": "/birthDate", "value": "1991-05-06"}]
            )
            assert str(patched.birthDate) == "1991-05-06"
            first = c.vread_patient("mini-patient-2", "1")
            assert str(first.birthDate) != "1991-05-06"
            patched.birthDate = "1992-07-08"  # type: ignore[assignment]
            updated = c.update_patient(patched)
            assert str(updated.birthDate) == "1992-07-08"
            assert c.history_patient("mini-patient-2")["total"] == 3
            assert c.search_patient([("birth-place", "Lyon")]).total == 1
            c.delete_patient("mini-patient-1")
            assert c.type_history_patient()["total"] >= 4

        async def run() -> Any:
            ac = client_mod.AsyncClient(base)
            try:
                p = await ac.read_patient("mini-patient-2")
                h = await ac.type_history_patient()
                return p, h
            finally:
                await ac.aclose()

        p, h = asyncio.run(run())
        assert str(p.birthDate) == "1992-07-08" and h["type"] == "history"
    finally:
        serving.stop(srv, thread)


def test_fixture_contract_tests_with_flows(stubs: Path) -> None:
    """Without any overlay, the statement's own includes make flows: the fixture server's
    contract tests ask them and pass on the reference implementation."""
    srv, thread, port = serving.serve(importlib.import_module(SERVER).create_app())
    try:
        proc = serving.contract(stubs, f"http://127.0.0.1:{port}", SERVER)
    finally:
        serving.stop(srv, thread)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for flow in ("Patient?birth-place&_revinclude", "Observation?subject"):
        assert f"test_contract.py::test_flow[{flow}]" in proc.stdout, proc.stdout
        assert f"test_contract.py::test_flow_without_hits[{flow}]" in proc.stdout
