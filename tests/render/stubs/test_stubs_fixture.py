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
