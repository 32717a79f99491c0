"""`igtools stubs` on another IG (the fixture, no overlay): a working server."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from igtools.ir import build_ir
from igtools.packages import PackageLoader, Settings
from igtools.render.stubs.python import StubsRenderer
from tests.golden import FIXTURE
from tests.render.stubs import serving


def test_fixture_server_without_overlay(tmp_path: Path) -> None:
    pset = PackageLoader(Settings(cache_dir=tmp_path / "c", offline=True)).load(str(FIXTURE))
    out = tmp_path / "stubs"
    StubsRenderer(build_ir(pset)).render(out)
    servers = sorted(p.name for p in out.iterdir() if p.name.endswith("_server"))
    assert servers == ["mini_server_server"]
    paths = [str(out / "models"), str(out / servers[0])]
    sys.path[:0] = paths
    try:
        mod = importlib.import_module("mini_server_server")
        client = TestClient(mod.create_app())
        # the statement's own search parameter (an IG SearchParameter on an extension)
        r = client.get("/Patient", params={"birth-place": "lyo"})
        assert r.status_code == 200, r.text
        bundle = r.json()
        assert bundle["type"] == "searchset" and bundle["total"] == 1
        assert "Lyon" in str(bundle["entry"][0]["resource"]["extension"])
        assert client.get("/Patient", params={"birth-place": "Paris"}).json()["total"] == 0
        pid = next(e.id for e in build_ir(pset).examples if e.resource_type == "Patient")
        assert client.get(f"/Patient/{pid}").status_code == 200
    finally:
        for p in paths:
            sys.path.remove(p)
        for m in [
            m
            for m in sys.modules
            if m.startswith(("mini_server_server", "example_fhir_mini_models"))
        ]:
            del sys.modules[m]


def test_fixture_contract_tests_with_flows(tmp_path: Path) -> None:
    """Without any overlay, the statement's own includes make flows: the fixture server's
    contract tests ask them and pass on the reference implementation."""
    pset = PackageLoader(Settings(cache_dir=tmp_path / "c", offline=True)).load(str(FIXTURE))
    out = tmp_path / "stubs"
    StubsRenderer(build_ir(pset)).render(out)
    server = "mini_server_server"
    sys.path[:0] = [str(out / "models"), str(out / server)]
    try:
        app = importlib.import_module(server).create_app()
        srv, thread, port = serving.serve(app)
        try:
            proc = serving.contract(out, f"http://127.0.0.1:{port}", server)
        finally:
            serving.stop(srv, thread)
    finally:
        sys.path[:2] = []
        for m in [m for m in sys.modules if m.startswith((server, "example_fhir_mini_models"))]:
            del sys.modules[m]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for flow in ("Patient?birth-place&_revinclude", "Observation?subject"):
        assert f"test_contract.py::test_flow[{flow}]" in proc.stdout, proc.stdout
        assert f"test_contract.py::test_flow_without_hits[{flow}]" in proc.stdout
