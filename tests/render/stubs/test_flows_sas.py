"""The flow queries of the generated contract tests, on the SAS 1.2.0 examples: each
flow's shape from the plan (overlay included), values from the examples, and the answer
of the reference store."""

from __future__ import annotations

from pathlib import Path

import pytest

from igtools.ir import build_ir
from igtools.packages import PackageLoader, Settings
from igtools.project import load_project
from igtools.render.stubs.flows import NO_VALUE, Flow, flows
from igtools.render.stubs.plan import build_plan, parse_overlays
from igtools.render.stubs.server import api_spec, load_data, store_params
from igtools.runtime.fhirapi import AppConfig
from igtools.runtime.store import Store
from tests.conftest import REPO, shared_path


def _sas_flows(cache: Path) -> dict[str, list[Flow]]:
    tgz = shared_path("fhir-packages", "ans.fhir.fr.sas-1.2.0.tgz")
    ig = build_ir(PackageLoader(Settings(cache_dir=cache, offline=True)).load(str(tgz)))
    apis, _ = build_plan(ig, parse_overlays(load_project(REPO).stubs_overlay, "cfg"))
    store = Store(params=store_params(ig))
    load_data(store, ig, None)
    config = AppConfig(others=store.param_defs_by_type())
    out = {}
    for api in (a for a in apis if a.mode == "server"):
        specs = {r.type: r for r in api_spec(api, {}).resources}
        out[api.capability] = flows(api, specs, store, config)
    return out


@pytest.fixture(scope="module")
def sas_flows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Flow]]:
    return _sas_flows(tmp_path_factory.mktemp("c"))


def _names(flow: Flow) -> list[str]:
    return [name for name, _ in flow.query]


def test_only_shaped_searches_have_flows(sas_flows: dict[str, list[Flow]]) -> None:
    assert {k: [f.type for f in v] for k, v in sas_flows.items() if v} == {
        "SAS-GestionnaireAgenda-CPTS": ["Slot"],
        "SAS-GestionnaireAgenda-PsIndiv": ["Slot"],
        "SAS-GestionnaireAgenda-SOS": ["Schedule"],
    }


def test_ps_indiv_flow(sas_flows: dict[str, list[Flow]]) -> None:
    (flow,) = sas_flows["SAS-GestionnaireAgenda-PsIndiv"]
    # the shape of SAS-API.md's PS indiv search
    assert _names(flow) == [
        "schedule.actor:Practitioner.identifier",
        "status",
        "start",
        "start",
        "_include",
        "_include:iterate",
    ]
    values = dict(flow.query[:2])
    assert values["schedule.actor:Practitioner.identifier"].startswith(
        "urn:oid:1.2.250.1.71.4.2.1|"
    )
    assert values["status"] == "free"
    assert [v[:2] for n, v in flow.query if n == "start"] == ["ge", "le"]
    assert flow.matches and all(m.startswith("Slot/") for m in flow.matches)
    assert {k.split("/")[0] for k in flow.included} == {
        "Schedule",
        "PractitionerRole",
        "Practitioner",
    }
    assert flow.empty_query is not None
    assert ("schedule.actor:Practitioner.identifier", NO_VALUE) in flow.empty_query


def test_cpts_flow_exercises_every_include(sas_flows: dict[str, list[Flow]]) -> None:
    (flow,) = sas_flows["SAS-GestionnaireAgenda-CPTS"]
    assert ("_include", "Slot:service-type-reference") in flow.query
    assert ("_include:iterate", "HealthcareService:organization") in flow.query
    # the chosen practitioner's slots reach a HealthcareService and its Organization
    assert {k.split("/")[0] for k in flow.included} == {
        "Schedule",
        "PractitionerRole",
        "Practitioner",
        "HealthcareService",
        "Organization",
    }


def test_sos_flow(sas_flows: dict[str, list[Flow]]) -> None:
    (flow,) = sas_flows["SAS-GestionnaireAgenda-SOS"]
    assert _names(flow) == [
        "actor:Location.organization.identifier",
        "_has:Slot:schedule:start",
        "_has:Slot:schedule:status",
        "_include",
        "_include:iterate",
        "_revinclude",
    ]
    assert dict(flow.query)["actor:Location.organization.identifier"].startswith(
        "urn:oid:1.2.250.1.71.4.2.2|"
    )
    assert all(m.startswith("Schedule/") for m in flow.matches)
    assert {k.split("/")[0] for k in flow.included} == {"Location", "Organization", "Slot"}


def test_flows_are_deterministic(sas_flows: dict[str, list[Flow]], tmp_path: Path) -> None:
    assert _sas_flows(tmp_path) == sas_flows
