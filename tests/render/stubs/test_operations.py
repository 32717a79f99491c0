"""Declared operations (``rest.operation``, ``rest.resource.operation``): kept by the IR,
planned at the levels their OperationDefinition allows (or their place, without one),
routed by ``igtools serve`` and generated servers to ``Handlers.operation`` (501 until
implemented), unioned when statements are merged; undeclared ones stay 404/405.

The fixture is the mini IG plus a second server statement declaring operations and one
OperationDefinition, written to a temporary folder."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from igtools.ir import build_ir
from igtools.ir.model import IG
from igtools.packages import PackageLoader, Settings
from igtools.render.stubs.plan import build_plan
from igtools.render.stubs.python import StubsRenderer
from igtools.render.stubs.server import _capability_json, api_spec, make_app, select_apis
from igtools.runtime.fhirapi import AppConfig, StoreHandlers, build_app
from igtools.runtime.store import Store
from tests.golden import FIXTURE

BASE = "http://example.org/fhir/mini"
MATCH = f"{BASE}/OperationDefinition/mini-match"
OPERATION_DEFINITION = {
    "resourceType": "OperationDefinition",
    "id": "mini-match",
    "url": MATCH,
    "name": "MiniMatch",
    "status": "active",
    "kind": "operation",
    "code": "match",
    "resource": ["Patient"],
    "system": False,
    "type": True,
    "instance": False,
    "parameter": [
        {"name": "resource", "use": "in", "min": 1, "max": "1", "type": "Resource"},
        {"name": "return", "use": "out", "min": 1, "max": "1", "type": "Bundle"},
    ],
}
STATEMENT = {
    "resourceType": "CapabilityStatement",
    "id": "ops-server",
    "url": f"{BASE}/CapabilityStatement/ops-server",
    "name": "OpsServer",
    "status": "active",
    "date": "2024-01-15",
    "kind": "requirements",
    "fhirVersion": "4.0.1",
    "format": ["json"],
    "rest": [
        {
            "mode": "server",
            "resource": [
                {
                    "type": "Patient",
                    "interaction": [{"code": "read"}, {"code": "search-type"}],
                    "operation": [
                        {"name": "match", "definition": MATCH},
                        # not in the package set: every level a resource entry allows
                        {"name": "$everything", "definition": f"{BASE}/OperationDefinition/gone"},
                    ],
                },
                {"type": "Observation", "interaction": [{"code": "read"}]},
            ],
            "operation": [{"name": "ping", "definition": f"{BASE}/OperationDefinition/ping"}],
        }
    ],
}
PARAMETERS = {
    "resourceType": "Parameters",
    "parameter": [{"name": "resource", "resource": {"resourceType": "Patient"}}],
}


@pytest.fixture(scope="module")
def ig(tmp_path_factory: pytest.TempPathFactory) -> IG:
    root = tmp_path_factory.mktemp("ops") / "ig"
    shutil.copytree(FIXTURE, root)
    for name, data in (
        ("OperationDefinition-mini-match.json", OPERATION_DEFINITION),
        ("CapabilityStatement-ops-server.json", STATEMENT),
    ):
        (root / "package" / name).write_text(json.dumps(data), encoding="utf-8")
    cache = tmp_path_factory.mktemp("c")
    return build_ir(PackageLoader(Settings(cache_dir=cache, offline=True)).load(str(root)))


def test_ir_and_plan(ig: IG) -> None:
    cap = next(c for c in ig.capabilities if c.id == "ops-server")
    patient = cap.rest[0].resources[0]
    match, everything = patient.operations
    assert (match.name, match.definition, match.type, match.instance) == (
        "match",
        MATCH,
        True,
        False,
    )
    assert match.resources == ["Patient"]
    assert everything.name == "everything" and everything.type is None  # unresolved
    assert [o.name for o in cap.rest[0].operations] == ["ping"]
    api = next(a for a in build_plan(ig)[0] if a.capability == "ops-server")
    assert [(o.name, o.system) for o in api.operations] == [("ping", True)]
    ops = {o.name: (o.type, o.instance) for o in api.resources[0].operations}
    assert ops == {"match": (True, False), "everything": (True, True)}
    assert api.resources[1].operations == []


def _outcome(r: Any, status: int) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["resourceType"] == "OperationOutcome"
    return str(body["issue"][0]["diagnostics"])


def test_declared_operations_answer_501(ig: IG) -> None:
    app, _, _ = make_app(ig, ["ops-server"])
    client = TestClient(app)
    text = _outcome(client.post("/Patient/$match", json=PARAMETERS), 501)
    assert "$match" in text and "Handlers.operation" in text and "on Patient" in text
    r = client.post("/Patient/$match", json=PARAMETERS)
    assert r.json()["issue"][0]["code"] == "not-supported"
    assert "the system" in _outcome(client.get("/$ping"), 501)
    assert "Patient/mini-patient-1" in _outcome(
        client.get("/Patient/mini-patient-1/$everything", params={"start": "2020"}), 501
    )
    _outcome(client.post("/Patient/$everything"), 501)  # no body: empty Parameters
    # a body that is not Parameters
    assert "Parameters" in _outcome(
        client.post("/Patient/$match", json={"resourceType": "Patient"}), 400
    )
    # the served statement declares them
    rest = client.get("/metadata").json()["rest"][0]
    assert rest["operation"] == [{"name": "ping", "definition": f"{BASE}/OperationDefinition/ping"}]
    assert [o["name"] for o in rest["resource"][0]["operation"]] == ["match", "everything"]


def test_undeclared_operations_stay_404_405(ig: IG) -> None:
    client = TestClient(make_app(ig, ["ops-server"])[0])
    _outcome(client.post("/Observation/$match", json=PARAMETERS), 405)  # not on that type
    _outcome(client.post("/Patient/mini-patient-1/$match", json=PARAMETERS), 404)  # type only
    _outcome(client.get("/Patient/mini-patient-1/$match"), 404)
    _outcome(client.post("/Patient/$other", json=PARAMETERS), 405)
    _outcome(client.get("/Patient/$other"), 404)
    _outcome(client.get("/$other"), 404)
    # the mini server declares none: $match is 405 there, as before
    _outcome(TestClient(make_app(ig, ["mini-server"])[0]).post("/Patient/$match", json={}), 405)


class Matching(StoreHandlers):
    def operation(
        self, name: str, rtype: str | None, rid: str | None, parameters: dict[str, Any]
    ) -> dict[str, Any]:
        got = [p["name"] for p in parameters.get("parameter", [])]
        return {
            "resourceType": "Parameters",
            "parameter": [{"name": "call", "valueString": f"{name} {rtype} {rid} {','.join(got)}"}],
        }


def test_implemented_operation_answers_200(ig: IG) -> None:
    apis, _ = build_plan(ig)
    spec = api_spec(select_apis(apis, ["ops-server"])[0], _capability_json(ig, "ops-server"))
    client = TestClient(build_app([spec], Matching(Store()), AppConfig()))

    def call(r: Any) -> str:
        assert r.status_code == 200, r.text
        assert r.json()["resourceType"] == "Parameters"
        return str(r.json()["parameter"][0]["valueString"])

    assert call(client.post("/Patient/$match", json=PARAMETERS)) == "match Patient None resource"
    assert call(client.get("/Patient/p1/$everything?_count=2")) == "everything Patient p1 _count"
    assert call(client.get("/$ping")) == "ping None None "
    _outcome(client.get("/Patient/bad%20id/$everything"), 400)  # not a FHIR id


def test_merged_statements_union_operations(ig: IG) -> None:
    client = TestClient(make_app(ig, ["mini-server", "ops-server"])[0])
    rest = client.get("/metadata").json()["rest"][0]
    assert [o["name"] for o in rest["operation"]] == ["ping"]
    patient = next(r for r in rest["resource"] if r["type"] == "Patient")
    assert [o["name"] for o in patient["operation"]] == ["match", "everything"]
    _outcome(client.post("/Patient/$match", json=PARAMETERS), 501)
    _outcome(client.get("/Patient/mini-patient-1/$everything"), 501)


@pytest.fixture(scope="module")
def generated(ig: IG, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("stubs")
    StubsRenderer(ig).render(out)
    paths = [str(out / "models"), str(out / "ops_server_server")]
    sys.path[:0] = paths
    try:
        yield out
    finally:
        for p in paths:
            sys.path.remove(p)
        for m in [m for m in sys.modules if m.startswith(("ops_server_server", "example_fhir"))]:
            del sys.modules[m]


def test_generated_server_routes_operations(generated: Path) -> None:
    pkg = generated / "ops_server_server" / "ops_server_server"
    assert 'OperationSpec(\n                    name="match"' in (pkg / "api.py").read_text()
    assert "$everything" in (generated / "ops_server_server" / "README.md").read_text()
    ruff = str(Path(sys.executable).parent / "ruff")
    for args in (["check", "--select", "F,E"], ["format", "--check"]):  # names, imports, format
        lint = subprocess.run(
            [ruff, *args, "--no-cache", str(pkg / "api.py"), str(pkg / "handlers.py")],
            capture_output=True,
            text=True,
        )
        assert lint.returncode == 0, lint.stdout
    server = importlib.import_module("ops_server_server")
    client = TestClient(server.create_app())
    assert "$match" in _outcome(client.post("/Patient/$match", json=PARAMETERS), 501)
    _outcome(client.post("/Observation/$match", json=PARAMETERS), 405)
