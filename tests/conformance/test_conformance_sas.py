"""`igtools conformance` on the SAS 1.2.0 statements: every check passes against the
reference implementation, and servers broken on purpose (includes missing, another
Bundle type, the profile not enforced, a chained parameter ignored) fail the checks that
catch them, each naming what was expected."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from igtools.cli import cli
from igtools.conformance.contract import build_contract
from igtools.conformance.runner import Result, make_client, run_check
from igtools.ir import IG, build_ir
from igtools.packages import PackageLoader, Settings
from igtools.project import load_project
from igtools.render.stubs.plan import Overlay, build_plan, parse_overlays
from igtools.render.stubs.server import (
    _capability_json,
    api_spec,
    load_data,
    make_app,
    select_apis,
    store_params,
)
from igtools.runtime.conformance import checks
from igtools.runtime.fhirapi import AppConfig, StoreHandlers, build_app
from igtools.runtime.store import Store
from tests.conformance import broken
from tests.conftest import REPO, shared_path
from tests.render.stubs import serving

SERVERS = [
    "SAS-GestionnaireAgenda-CPTS",
    "SAS-GestionnaireAgenda-PsIndiv",
    "SAS-GestionnaireAgenda-RDVSOS",
    "SAS-GestionnaireAgenda-RDVpsindiv",
    "SAS-GestionnaireAgenda-SOS",
    "SAS-GestionnaireStructure",
]
# slot search (a chain, includes, a flow) and regulator accounts (writes) on one base
BASE = ["SAS-GestionnaireAgenda-PsIndiv", "SAS-GestionnaireStructure"]
FLOW = "Slot?schedule.actor:Practitioner.identifier&status&start&start"
REGUL = "Practitioner-ExamplePractitionerRegul1"


@pytest.fixture(scope="module")
def sas() -> tuple[IG, list[Overlay]]:
    tgz = shared_path("fhir-packages", "ans.fhir.fr.sas-1.2.0.tgz")
    pset = PackageLoader(Settings(offline=True)).load(str(tgz))
    project = load_project(REPO)
    return build_ir(pset), parse_overlays(project.stubs_overlay, "cfg")


@contextmanager
def _reference(sas: tuple[IG, list[Overlay]], capabilities: list[str]) -> Iterator[str]:
    """The reference implementation of ``capabilities`` (on one base), on 127.0.0.1."""
    app = make_app(sas[0], capabilities, sas[1])[0]
    server, thread, port = serving.serve(app)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        serving.stop(server, thread)


def _run(sas: tuple[IG, list[Overlay]], base: str, capabilities: list[str]) -> dict[str, Result]:
    contract, _ = build_contract(sas[0], capabilities, sas[1])
    with make_client(base) as client:
        return {c.id: run_check(client, c, True) for c in checks(contract)}


@pytest.mark.parametrize("capability", SERVERS)
def test_every_check_passes_on_the_reference_server(
    sas: tuple[IG, list[Overlay]], capability: str
) -> None:
    with _reference(sas, [capability]) as base:
        results = _run(sas, base, [capability])
    failed = {k: r.message for k, r in results.items() if r.status != "passed"}
    assert not failed, failed
    names = {r.check.name for r in results.values()}
    assert "metadata" in names and len(names) >= 2, names
    if "GestionnaireAgenda" in capability and "RDV" not in capability:  # the slot searches
        assert {"read", "search_by_id", "empty_result_is_200", "flow"} <= names
    if capability in ("SAS-GestionnaireAgenda-PsIndiv", "SAS-GestionnaireAgenda-CPTS"):
        assert f"flow[{FLOW}]" in results and f"flow_without_hits[{FLOW}]" in results
    if capability == "SAS-GestionnaireStructure":
        assert {f"create[{REGUL}]", f"conditional_update[{REGUL}]"} <= set(results)
        assert f"body_outside_profile_is_a_4xx_outcome[{REGUL}]" in results


def test_every_check_passes_for_the_statements_on_one_base(
    sas: tuple[IG, list[Overlay]],
) -> None:
    with _reference(sas, SERVERS) as base:
        results = _run(sas, base, SERVERS)
    failed = {k: r.message for k, r in results.items() if r.status != "passed"}
    assert not failed, failed
    assert len(results) >= 25


def _unenforced_app(ig: IG, overlays: list[Overlay]) -> Any:
    """The reference server of BASE with no profile rules: bodies are only checked
    against the base resources (the profile is not enforced)."""
    chosen = select_apis(build_plan(ig, overlays)[0], BASE)
    store = Store(params=store_params(ig))
    load_data(store, ig, None)
    specs = [api_spec(a, _capability_json(ig, a.capability)) for a in chosen]
    return build_app(specs, StoreHandlers(store), AppConfig(others=store.param_defs_by_type()))


def _failures(sas: tuple[IG, list[Overlay]], app: Any) -> dict[str, str]:
    server, thread, port = serving.serve(app)
    try:
        results = _run(sas, f"http://127.0.0.1:{port}", BASE)
    finally:
        serving.stop(server, thread)
    assert results["metadata"].status == "passed"
    return {k: r.message for k, r in results.items() if r.status != "passed"}


def test_broken_servers_are_caught(sas: tuple[IG, list[Overlay]]) -> None:
    app = make_app(sas[0], BASE, sas[1])[0]

    # _include results left out
    failed = _failures(sas, broken.tamper(app, bundle=broken.without_includes))
    assert "'Schedule/ExampleSchedule3'" in failed[f"flow[{FLOW}]"], failed
    assert "_include=Slot:schedule: missing" in failed["search_by_id[Slot-ExampleSlotPSIndiv1]"]
    assert all(k.startswith(("flow[", "search_by_id[")) for k in failed), failed

    # searchsets answered as another Bundle type
    failed = _failures(sas, broken.tamper(app, bundle=broken.collection))
    for key in (f"flow[{FLOW}]", "search_by_id[Slot-ExampleSlotPSIndiv1]"):
        assert failed[key] == "Bundle.type is collection, expected searchset", failed
    assert "got type collection" in failed["empty_result_is_200[Slot]"]
    assert f"flow_without_hits[{FLOW}]" in failed

    # a chained parameter ignored: other practitioners' slots, and hits where none should be
    failed = _failures(sas, broken.tamper(app, query=broken.without_chains))
    assert sorted(failed) == [f"flow[{FLOW}]", f"flow_without_hits[{FLOW}]"], failed
    assert "matches: missing [], extra ['Slot/" in failed[f"flow[{FLOW}]"]
    assert "expected a searchset with total 0" in failed[f"flow_without_hits[{FLOW}]"]

    # the profile not enforced: a regulator account without Practitioner.active is created
    failed = _failures(sas, _unenforced_app(*sas))
    assert sorted(failed) == [f"body_outside_profile_is_a_4xx_outcome[{REGUL}]"], failed
    assert failed[f"body_outside_profile_is_a_4xx_outcome[{REGUL}]"] == (
        "POST Practitioner: a Practitioner without Practitioner.active was accepted (201), "
        "expected a 4xx OperationOutcome naming Practitioner.active"
    )


def test_the_command_on_a_broken_server(sas: tuple[IG, list[Overlay]], tmp_path: Path) -> None:
    """The command line: the table names the failing check and what was expected; exit 1;
    JUnit XML and HTML reports."""
    tgz = shared_path("fhir-packages", "ans.fhir.fr.sas-1.2.0.tgz")
    app = broken.tamper(make_app(sas[0], BASE, sas[1])[0], bundle=broken.without_includes)
    server, thread, port = serving.serve(app)
    junit, page = tmp_path / "junit.xml", tmp_path / "report.html"
    try:
        r = CliRunner().invoke(
            cli,
            [
                "--offline",
                "--project",
                str(REPO),
                "--cache-dir",
                str(tmp_path / "c"),
                "conformance",
                f"http://127.0.0.1:{port}",
                str(tgz),
                "--capability",
                BASE[0],
                "--capability",
                BASE[1],
                "--data-loaded",
                "--junit",
                str(junit),
                "--html",
                str(page),
            ],
        )
    finally:
        serving.stop(server, thread)
    assert r.exit_code == 1, r.output
    assert "flow" in r.output and FLOW in r.output
    assert "included: missing [" in r.output and "'Schedule/ExampleSchedule3'" in r.output
    assert " failed" in r.output and " passed" in r.output
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and int(suite.get("failures", "0")) >= 1
    names = {
        str(case.get("name")) for case in suite.iter("testcase") if case.find("failure") is not None
    }
    assert f"flow[{FLOW}]" in names
    assert "included: missing" in page.read_text(encoding="utf-8")


def test_the_command_against_igtools_serve(tmp_path: Path) -> None:
    """`igtools serve` and `igtools conformance` of the same statements: exit 0."""
    tgz = shared_path("fhir-packages", "ans.fhir.fr.sas-1.2.0.tgz")
    options = ["--capability", BASE[0], "--capability", BASE[1]]
    with serving.igtools_serve(tmp_path, str(tgz), *options, project=REPO) as (port, _):
        r = CliRunner().invoke(
            cli,
            [
                "--offline",
                "--project",
                str(REPO),
                "--cache-dir",
                str(tmp_path / "c"),
                "conformance",
                f"http://127.0.0.1:{port}",
                str(tgz),
                *options,
                "--data-loaded",
            ],
        )
    assert r.exit_code == 0, r.output
    assert "failed" not in r.output
    assert f"flow_without_hits │ {FLOW}" in r.output or "flow_without_hits" in r.output
