"""`igtools stubs --combine`: one generated server for several SAS statements on one base
(issue 14), typed, serving one CapabilityStatement, checking each body against the
profile of the statement that declares the write, and passing its contract tests."""

from __future__ import annotations

import copy
import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from igtools.errors import IgtoolsError
from igtools.ir import IG, build_ir
from igtools.packages import PackageLoader, Settings
from igtools.project import load_project
from igtools.render.stubs.plan import parse_overlays
from igtools.render.stubs.python import StubsRenderer
from tests.conftest import REPO, shared_path
from tests.render.stubs import serving

PARTS = ["SAS-GestionnaireAgenda-PsIndiv", "SAS-GestionnaireStructure"]
COMBINED = "sas_gestionnaireagenda_psindiv_sas_gestionnairestructure_server"
REGUL = "https://interop.esante.gouv.fr/ig/fhir/sas/StructureDefinition/FrPractitionerRegul"
FHIR = {"Content-Type": "application/fhir+json"}


@pytest.fixture(scope="module")
def ig(tmp_path_factory: pytest.TempPathFactory) -> IG:
    tgz = shared_path("fhir-packages", "ans.fhir.fr.sas-1.2.0.tgz")
    pset = PackageLoader(Settings(cache_dir=tmp_path_factory.mktemp("c"), offline=True)).load(
        str(tgz)
    )
    return build_ir(pset)


def _renderer(ig: IG, combine: list[list[str]]) -> StubsRenderer:
    overlays = parse_overlays(load_project(REPO).stubs_overlay, "cfg")
    return StubsRenderer(ig, overlays, None, combine)


@pytest.fixture(scope="module")
def stubs(ig: IG, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("stubs")
    _renderer(ig, [PARTS]).render(out)
    paths = [str(out / "models"), str(out / COMBINED)]
    sys.path[:0] = paths
    try:
        yield out
    finally:
        for p in paths:
            sys.path.remove(p)
        for mod in [m for m in sys.modules if m.startswith(("sas_", "ans_fhir_fr_sas_models"))]:
            del sys.modules[mod]


def _regul(ig: IG) -> dict[str, Any]:
    body = copy.deepcopy(next(e.data for e in ig.examples if e.id == "ExamplePractitionerRegul1"))
    body.pop("id", None)
    return body


def test_combined_server_serves_both_statements(stubs: Path, ig: IG) -> None:
    mod = importlib.import_module(COMBINED)
    client = TestClient(mod.create_app())
    cs = client.get("/metadata").json()
    assert cs["resourceType"] == "CapabilityStatement"
    assert [u.rsplit("/", 1)[1] for u in cs["instantiates"]] == PARTS
    resources = {r["type"]: r for r in cs["rest"][0]["resource"]}
    assert set(resources) == {"Slot", "Schedule", "Practitioner"}
    codes = {i["code"] for i in resources["Practitioner"]["interaction"]}
    assert codes == {"read", "search-type", "create", "update"}
    # the slot search of the PS indiv statement
    r = client.get("/Slot?status=free&_include=Slot:schedule&_include:iterate=Schedule:actor")
    assert r.status_code == 200
    assert {e["resource"]["resourceType"] for e in r.json()["entry"]} >= {"Slot", "Schedule"}
    # a slot-search practitioner reads through the handlers (typed with the base class)
    r = client.get("/Practitioner/ExamplePractitionerRegul1")
    assert r.status_code == 200, r.text
    # the regulator accounts of the Structure statement
    body = _regul(ig)
    for name in body["name"]:
        del name["family"]
    r = client.post("/Practitioner", content=json.dumps(body), headers=FHIR)
    assert r.status_code == 422, r.text
    assert REGUL in r.text and "Practitioner.name[0].family" in r.text
    r = client.post("/Practitioner", content=json.dumps(_regul(ig)), headers=FHIR)
    assert r.status_code == 201, r.text


def test_combined_server_type_checks(stubs: Path) -> None:
    env = {"MYPYPATH": str(stubs / "models"), "PATH": "/usr/bin:/bin"}
    pkg = str(stubs / COMBINED / COMBINED)
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", pkg],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=stubs,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_combined_contract_tests_pass_on_its_reference_server(stubs: Path) -> None:
    mod = importlib.import_module(COMBINED)
    server, thread, port = serving.serve(mod.create_app())
    try:
        proc = serving.contract(stubs, f"http://127.0.0.1:{port}", COMBINED)
    finally:
        serving.stop(server, thread)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    passed = [line for line in proc.stdout.splitlines() if line.startswith("PASSED")]
    for name in ("test_metadata", "test_flow[", "test_create[", "test_conditional_update["):
        assert any(f"::{name}" in line for line in passed), (name, proc.stdout)


def test_combine_needs_known_statements(ig: IG, tmp_path: Path) -> None:
    with pytest.raises(IgtoolsError, match="--combine NOPE"):
        _renderer(ig, [["SAS-GestionnaireStructure", "NOPE"]]).render(tmp_path)
    assert not (tmp_path / "models").exists()  # nothing written
