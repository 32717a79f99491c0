"""The API plan of the SAS CapabilityStatements, with the project's overlay: the wire
contract of SAS-API.md sections 3 to 9."""

from __future__ import annotations

from pathlib import Path

import pytest

from igtools.errors import ConfigError
from igtools.ir import build_ir
from igtools.packages import PackageLoader, Settings
from igtools.project import load_project
from igtools.render.stubs.plan import Api, build_plan, parse_overlays
from tests.conftest import REPO, shared_path


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[tuple[str, str], Api], list[str]]:
    tgz = shared_path("fhir-packages", "ans.fhir.fr.sas-1.2.0.tgz")
    pset = PackageLoader(Settings(cache_dir=tmp_path_factory.mktemp("c"), offline=True)).load(
        str(tgz)
    )
    project = load_project(REPO)
    overlays = parse_overlays(project.stubs_overlay, str(project.config_file))
    apis, warnings = build_plan(build_ir(pset), overlays)
    return {(a.capability, a.mode): a for a in apis}, warnings


def _res(api: Api, rtype: str):  # type: ignore[no-untyped-def]
    return next(r for r in api.resources if r.type == rtype)


def test_every_statement_has_its_mode(plan: tuple[dict[tuple[str, str], Api], list[str]]) -> None:
    apis, warnings = plan
    # every include, chain and _has names a known parameter (IG, base or overlay)
    assert warnings == []
    assert len(apis) == 9
    servers = {c for c, m in apis if m == "server"}
    clients = {c for c, m in apis if m == "client"}
    assert clients == {"SAS-Consommateur-CPTS", "SAS-Consommateur-SOS", "SAS-Consommateur-psindiv"}
    assert len(servers) == 6


def test_ps_indiv_slot_search(plan: tuple[dict[tuple[str, str], Api], list[str]]) -> None:
    apis, _ = plan
    slot = _res(apis[("SAS-GestionnaireAgenda-PsIndiv", "server")], "Slot")
    codes = {p.code: p for p in slot.params}
    # the wire name of SPDateDebutSlot is the SearchParameter's code
    assert codes["start"].type == "date" and codes["start"].label != "start"
    assert codes["start"].comparators == ["ge", "le"]
    assert codes["status"].type == "token" and codes["status"].expression == "Slot.status"
    assert codes["schedule"].targets == ["Schedule"]
    assert slot.chains == ["schedule.actor:Practitioner.identifier"]
    assert slot.includes == ["Slot:schedule"]
    assert slot.include_iterate == ["Schedule:actor"]
    assert slot.bundle_profile == "http://sas.fr/fhir/StructureDefinition/BundleAgregateur"
    assert set(slot.interactions) == {"read", "search-type"}


def test_cpts_and_sos(plan: tuple[dict[tuple[str, str], Api], list[str]]) -> None:
    apis, _ = plan
    cpts = _res(apis[("SAS-GestionnaireAgenda-CPTS", "server")], "Slot")
    assert "Slot:service-type-reference" in cpts.includes
    assert "HealthcareService:organization" in cpts.include_iterate
    sos = _res(apis[("SAS-GestionnaireAgenda-SOS", "server")], "Schedule")
    assert sos.has == ["Slot:schedule:start", "Slot:schedule:status"]
    assert sos.revincludes == ["Slot:schedule"]
    assert sos.chains == ["actor:Location.organization.identifier"]
    assert {p.code for p in sos.params} >= {"actor"}
    client = _res(apis[("SAS-Consommateur-SOS", "client")], "Schedule")
    assert client.has == sos.has


def test_conditional_updates(plan: tuple[dict[tuple[str, str], Api], list[str]]) -> None:
    apis, _ = plan
    prac = _res(apis[("SAS-GestionnaireStructure", "server")], "Practitioner")
    assert set(prac.interactions) == {"create", "update"}
    assert prac.conditional_update == "identifier"
    assert prac.profile and prac.profile.endswith("FrPractitionerRegul")
    appt = _res(apis[("SAS-GestionnaireAgenda-RDVpsindiv", "server")], "Appointment")
    assert appt.conditional_update == "identifier"


def test_bad_overlay_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown keys"):
        parse_overlays([{"capabilities": ["x"], "resource": "Slot", "serch": []}], "cfg")
    with pytest.raises(ConfigError, match="needs"):
        parse_overlays([{"resource": "Slot"}], "cfg")
