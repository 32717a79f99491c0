"""Generated clients against generated servers, over real HTTP (and mutual TLS) on
127.0.0.1."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import os
import shutil
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from igtools.ir import IG, build_ir
from igtools.packages import PackageLoader, Settings
from igtools.project import load_project
from igtools.render.stubs.plan import parse_overlays
from igtools.render.stubs.python import StubsRenderer
from igtools.validate.validator import Validator
from tests.conftest import REPO, shared_path
from tests.render.stubs import serving
from tests.tlsutil import make_certificates

IDNPS = "urn:oid:1.2.250.1.71.4.2.1"
CLIENTS = [
    "sas_consommateur_cpts_client",
    "sas_consommateur_psindiv_client",
    "sas_consommateur_sos_client",
]
PS_SERVER = "sas_gestionnaireagenda_psindiv_server"


@pytest.fixture(scope="module")
def stubs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    tgz = shared_path("fhir-packages", "ans.fhir.fr.sas-1.2.0.tgz")
    out = tmp_path_factory.mktemp("stubs")
    pset = PackageLoader(Settings(cache_dir=tmp_path_factory.mktemp("c"), offline=True)).load(
        str(tgz)
    )
    project = load_project(REPO)
    ig = build_ir(pset)
    _drop_text_only_codes(ig)
    StubsRenderer(ig, parse_overlays(project.stubs_overlay, "cfg")).render(out)
    paths = [str(out / "models"), str(out / PS_SERVER), *(str(out / c) for c in CLIENTS)]
    sys.path[:0] = paths
    try:
        yield out
    finally:
        for p in paths:
            sys.path.remove(p)
        for mod in [m for m in sys.modules if m.startswith(("sas_", "ans_fhir_fr_sas_models"))]:
            del sys.modules[mod]


def _drop_text_only_codes(ig: IG) -> None:
    """SAS 1.2.0 ships three examples the reference validator rejects (a ``specialty``
    with text only under a required binding). The generated clients validate what the
    server answers, so the stub server is given those examples without the text-only
    CodeableConcepts: the tests here are about HTTP, not about the IG's examples."""
    import re

    validator = Validator(ig)
    for ex in ig.examples:
        found = [
            i.location
            for i in validator.validate_resource(ex.data)
            if i.message.startswith("No code provided")
        ]
        for loc in sorted(found, reverse=True):  # later items first: indexes stay right
            steps = re.findall(r"\.(\w+)(?:\[(\d+)\])?", loc)
            node: Any = ex.data
            for name, index in steps[:-1]:
                node = node[name] if not index else node[name][int(index)]
            name, index = steps[-1]
            items = node[name]
            del items[int(index)]
            if not items:
                del node[name]


def _serve(app: Any, **ssl_kw: Any) -> tuple[uvicorn.Server, threading.Thread, int]:
    return serving.serve(app, **ssl_kw)


def test_clients_type_check(stubs: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            *(str(stubs / c / c) for c in CLIENTS),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"MYPYPATH": str(stubs / "models"), "PATH": "/usr/bin:/bin"},
        cwd=stubs,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_client_against_server(stubs: Path) -> None:
    server_mod = importlib.import_module(PS_SERVER)
    client_mod = importlib.import_module("sas_consommateur_psindiv_client")
    server, thread, port = _serve(server_mod.create_app())
    try:
        query = [
            ("start", "ge2021-11-04T14:19:35.760+00:00"),
            ("start", "le2021-11-06T23:59:59.999+00:00"),
            ("schedule.actor:Practitioner.identifier", f"{IDNPS}|810002673899"),
            ("status", "free"),
            ("_include", "Slot:schedule"),
            ("_include:iterate", "Schedule:actor"),
        ]
        with client_mod.Client(f"http://127.0.0.1:{port}") as client:
            result = client.search_slot(query)
            assert result.total == len(result.matches) >= 1
            slot = result.matches[0]
            assert type(slot).__name__ == "FrSlotAgregateur"  # the claimed profile's class
            schedule = result.resolve(slot.schedule.reference)
            assert schedule is not None and schedule.__class__.__name__ == "FrScheduleAgregateur"
            actors = {type(result.resolve(a.reference)).__name__ for a in schedule.actor}
            assert actors == {"FrPractitionerAgregateur", "FrPractitionerRoleExerciceAgregateur"}
            role = next(
                result.resolve(a.reference) for a in schedule.actor if "Role" in a.reference
            )
            location = result.resolve(role.location[0].reference, within=role)
            assert location is not None and location.get_resource_type() == "Location"
            assert client.read_slot(slot.id).id == slot.id
            with pytest.raises(client_mod.FhirClientError) as err:
                client.search_slot([("start", "xx2021")])
            assert err.value.status == 400 and err.value.outcome is not None

        async def run_async() -> int:
            c = client_mod.AsyncClient(f"http://127.0.0.1:{port}")
            try:
                r = await c.search_slot(query)
                return len(r.matches)
            finally:
                await c.aclose()

        assert asyncio.run(run_async()) >= 1
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_mutual_tls(stubs: Path, tmp_path: Path) -> None:
    d = tmp_path
    make_certificates(d)
    server_mod = importlib.import_module(PS_SERVER)
    client_mod = importlib.import_module("sas_consommateur_psindiv_client")
    mtls: dict[str, Any] = {
        "ssl_certfile": str(d / "server.crt"),
        "ssl_keyfile": str(d / "server.key"),
        "ssl_ca_certs": str(d / "ca.crt"),
        "ssl_cert_reqs": ssl.CERT_REQUIRED,
    }
    server, thread, port = _serve(server_mod.create_app(), **mtls)
    try:
        base = f"https://127.0.0.1:{port}"
        with client_mod.Client(
            base, cert=(str(d / "client.crt"), str(d / "client.key")), verify=str(d / "ca.crt")
        ) as c:
            assert c.read_slot("ExampleSlotPSIndiv1").id == "ExampleSlotPSIndiv1"
        with (
            client_mod.Client(base, verify=str(d / "ca.crt"), retries=0) as c,
            pytest.raises(httpx.TransportError),
        ):
            c.read_slot("ExampleSlotPSIndiv1")  # no client certificate: refused
    finally:
        server.should_exit = True
        thread.join(timeout=10)

    # subject checks (CN/OU): the same client certificate, allowed then refused
    tls = importlib.import_module(f"{PS_SERVER}._runtime.tls")
    for policy, allowed in (
        (tls.ClientCertPolicy(cn=["plateforme-*"], ou=["SAS"]), True),
        (tls.ClientCertPolicy(ou=["Autre", "SOS*"]), False),
        (tls.ClientCertPolicy(cn=["plateforme-prod"]), False),
    ):
        server, thread, port = _serve(
            server_mod.create_app(), **mtls, http=tls.protocol_class(policy)
        )
        try:
            with client_mod.Client(
                f"https://127.0.0.1:{port}",
                cert=(str(d / "client.crt"), str(d / "client.key")),
                verify=str(d / "ca.crt"),
                retries=0,
            ) as c:
                if allowed:
                    assert c.read_slot("ExampleSlotPSIndiv1").id == "ExampleSlotPSIndiv1"
                else:
                    with pytest.raises(client_mod.FhirClientError) as err:
                        c.read_slot("ExampleSlotPSIndiv1")
                    assert err.value.status == 403
                    diag = err.value.outcome["issue"][0]["diagnostics"]
                    assert "CN=plateforme-test, OU=SAS" in diag, diag
        finally:
            server.should_exit = True
            thread.join(timeout=10)


def test_client_cert_policy_options(stubs: Path) -> None:
    """The server's runner refuses subject checks without client certificates."""
    proc = subprocess.run(
        [sys.executable, "-m", PS_SERVER, "--allow-ou", "SAS"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": f"{stubs / 'models'}:{stubs / PS_SERVER}"},
        timeout=60,
    )
    assert proc.returncode == 2
    assert "--allow-cn/--allow-ou need --require-client-cert" in proc.stderr


def _contract(stubs: Path, base: str, server: str = PS_SERVER) -> subprocess.CompletedProcess[str]:
    return serving.contract(stubs, base, server)


def test_contract_tests_pass_on_the_reference_server(stubs: Path) -> None:
    server_mod = importlib.import_module(PS_SERVER)
    server, thread, port = _serve(server_mod.create_app())
    try:
        proc = _contract(stubs, f"http://127.0.0.1:{port}")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert " passed" in proc.stdout and "failed" not in proc.stdout
        # the PS indiv flow of SAS-API.md, in its shape, was asked (and its empty variant)
        flow = "Slot?schedule.actor:Practitioner.identifier&status&start&start"
        assert f"test_contract.py::test_flow[{flow}]" in proc.stdout
        assert f"test_flow_without_hits[{flow}]" in proc.stdout
    finally:
        server.should_exit = True
        thread.join(timeout=10)


FLOW_SOS = (
    "Schedule?actor:Location.organization.identifier"
    "&_has:Slot:schedule:start&_has:Slot:schedule:status&_revinclude"
)


@pytest.mark.parametrize(
    ("server", "expected"),
    [
        (
            "sas_gestionnaireagenda_cpts_server",
            [
                "test_flow[Slot?schedule.actor:Practitioner.identifier&status&start&start]",
                "test_flow_without_hits[Slot?schedule.actor:Practitioner.identifier&status",
            ],
        ),
        (
            "sas_gestionnaireagenda_sos_server",
            [f"test_flow[{FLOW_SOS}]", f"test_flow_without_hits[{FLOW_SOS}]"],
        ),
        (  # regulator accounts: create, conditional update, a body outside the profile
            "sas_gestionnairestructure_server",
            [
                "test_create[Practitioner-ExamplePractitionerRegul1]",
                "test_conditional_update[Practitioner-ExamplePractitionerRegul1]",
                "test_body_outside_profile_is_a_4xx_outcome[Practitioner-ExamplePractitionerRegul1]",
            ],
        ),
        (
            "sas_gestionnaireagenda_rdvpsindiv_server",
            [
                "test_create[Appointment-1]",
                "test_conditional_update[Appointment-1]",
                "test_body_outside_profile_is_a_4xx_outcome[Appointment-1]",
            ],
        ),
    ],
)
def test_contracts_of_the_other_sas_servers(stubs: Path, server: str, expected: list[str]) -> None:
    sys.path.insert(0, str(stubs / server))
    try:
        app = importlib.import_module(server).create_app()
    finally:
        sys.path.remove(str(stubs / server))
    srv, thread, port = _serve(app)
    try:
        proc = _contract(stubs, f"http://127.0.0.1:{port}", server)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        passed = [line for line in proc.stdout.splitlines() if line.startswith("PASSED")]
        for test in expected:
            assert any(f"test_contract.py::{test}" in line for line in passed), proc.stdout
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def test_contract_tests_catch_broken_handlers(stubs: Path) -> None:
    server_mod = importlib.import_module(PS_SERVER)
    handlers_mod = importlib.import_module(f"{PS_SERVER}.handlers")
    app_mod = importlib.import_module(f"{PS_SERVER}.app")

    class NoIncludes(handlers_mod.ReferenceHandlers):  # type: ignore[misc,name-defined]
        def search_slot(self, request):  # type: ignore[no-untyped-def]
            result = super().search_slot(request)
            result.included = []  # a missing include
            return result

    class OutsideProfile(handlers_mod.ReferenceHandlers):  # type: ignore[misc,name-defined]
        def search_slot(self, request):  # type: ignore[no-untyped-def]
            result = super().search_slot(request)
            for slot in result.matches:
                slot.pop("schedule", None)  # a resource outside its profile
            return result

    class IgnoresChain(handlers_mod.ReferenceHandlers):  # type: ignore[misc,name-defined]
        def search_slot(self, request):  # type: ignore[no-untyped-def]
            # every practitioner's slots: the chained identifier is not applied
            plain = dataclasses.replace(request, params=[p for p in request.params if not p.chain])
            return super().search_slot(plain)

    class NoIterate(handlers_mod.ReferenceHandlers):  # type: ignore[misc,name-defined]
        def search_slot(self, request):  # type: ignore[no-untyped-def]
            result = super().search_slot(request)
            result.included = [r for r in result.included if r["resourceType"] == "Schedule"]
            return result

    for cls, whys in (
        (NoIncludes, ["missing"]),
        (OutsideProfile, ["FrSlotAgregateur"]),
        (IgnoresChain, ["matches: missing [], extra ['Slot/", "test_flow_without_hits["]),
        (NoIterate, ["included: missing [", "'Practitioner/ExamplePractitioner3'"]),
    ):
        broken = server_mod.create_app(cls(app_mod.reference_store()))
        server, thread, port = _serve(broken)
        try:
            proc = _contract(stubs, f"http://127.0.0.1:{port}")
            assert proc.returncode == 1, proc.stdout
            for why in whys:
                assert why in proc.stdout, proc.stdout
        finally:
            server.should_exit = True
            thread.join(timeout=10)

    # a server answering another Bundle type
    from fastapi import FastAPI

    wrong = FastAPI()

    @wrong.get("/{rtype}")
    def _search(rtype: str) -> dict[str, Any]:
        return {"resourceType": "Bundle", "type": "collection", "total": 0}

    server, thread, port = _serve(wrong)
    try:
        proc = _contract(stubs, f"http://127.0.0.1:{port}")
        assert proc.returncode == 1
        assert "Bundle.type is collection" in proc.stdout
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_write_contracts_catch_a_conditional_update_that_always_creates(stubs: Path) -> None:
    server = "sas_gestionnairestructure_server"
    sys.path.insert(0, str(stubs / server))
    try:
        server_mod = importlib.import_module(server)
        handlers_mod = importlib.import_module(f"{server}.handlers")
        app_mod = importlib.import_module(f"{server}.app")
    finally:
        sys.path.remove(str(stubs / server))

    class AlwaysCreates(handlers_mod.ReferenceHandlers):  # type: ignore[misc,name-defined]
        def conditional_update_practitioner(self, request, resource):  # type: ignore[no-untyped-def]
            return self.create_practitioner(resource), True

    srv, thread, port = _serve(server_mod.create_app(AlwaysCreates(app_mod.reference_store())))
    try:
        proc = _contract(stubs, f"http://127.0.0.1:{port}", server)
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
    assert proc.returncode == 1, proc.stdout
    assert "FAILED" in proc.stdout and "test_conditional_update[Practitioner-" in proc.stdout
    assert "matched: expected an update" in proc.stdout
