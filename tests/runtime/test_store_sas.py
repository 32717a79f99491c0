"""igtools.runtime.store on the SAS IG's examples: the searches of SAS-API.md sections 3-5
(PS indiv, CPTS, SOS) give the resources and the match/include split the IG describes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from igtools.ir import build_ir
from igtools.packages import PackageLoader, Settings
from igtools.render.stubs.plan import ParamRegistry
from igtools.runtime.store import SearchResult, Store, StoreParam, with_bundle_entries
from tests.conftest import shared_path

pytestmark = pytest.mark.shared

PS = "urn:oid:1.2.250.1.71.4.2.1"
ST = "urn:oid:1.2.250.1.71.4.2.2"
JSON = dict[str, Any]


@pytest.fixture(scope="module")
def sas(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, dict[str, JSON]]:
    tgz = shared_path("fhir-packages", "ans.fhir.fr.sas-1.2.0.tgz")
    cache = Path(tmp_path_factory.mktemp("cache"))
    pset = PackageLoader(Settings(cache_dir=cache, offline=True)).load(str(tgz))
    examples = [e.data for e in pset.index.examples_of(pset.root.id)]
    resources = list(with_bundle_entries(examples))
    registry = ParamRegistry(build_ir(pset))
    types = {r["resourceType"] for r in resources} | {"Resource"}
    params = [
        StoreParam(p.resource, p.code, p.type, p.expression, tuple(p.targets))
        for t in sorted(types)
        for p in registry.of(t)
    ]
    store = Store(params=params)
    store.load(resources)
    by_key: dict[str, JSON] = {}
    for r in resources:
        by_key.setdefault(f"{r['resourceType']}/{r['id']}", r)
    return store, by_key


def _keys(resources: list[JSON]) -> list[str]:
    return [f"{r['resourceType']}/{r['id']}" for r in resources]


def _bundle(by_key: dict[str, JSON], *names: str) -> tuple[set[str], set[str]]:
    """(matches, includes) of example search Bundles."""
    matches: set[str] = set()
    included: set[str] = set()
    for name in names:
        for entry in by_key[f"Bundle/{name}"]["entry"]:
            key = f"{entry['resource']['resourceType']}/{entry['resource']['id']}"
            mode = entry.get("search", {}).get("mode")
            (matches if mode == "match" else included).add(key)
    return matches, included


def _identifier(by_key: dict[str, JSON], key: str) -> str:
    ident = by_key[key]["identifier"][0]
    return f"{ident['system']}|{ident['value']}"


def _search(store: Store, rtype: str, pairs: list[tuple[str, str]]) -> SearchResult:
    request = store.parse(rtype, pairs)
    assert request.ok, request.errors
    assert not request.unknown
    return store.search(rtype, request)


def _ps_query(ids: str, start: str, end: str) -> list[tuple[str, str]]:
    return [
        ("_include", "Slot:schedule"),
        ("_include:iterate", "Schedule:actor"),
        ("status", "free"),
        ("start", f"ge{start}"),
        ("start", f"le{end}"),
        ("schedule.actor:Practitioner.identifier", ids),
        ("_count", "1000"),
    ]


def test_every_example_is_stored(sas: tuple[Store, dict[str, JSON]]) -> None:
    store, by_key = sas
    assert store.count() == len(by_key)
    assert store.read("Slot", "ExampleSlotPSIndiv1")["status"] == "free"


def test_ps_indiv(sas: tuple[Store, dict[str, JSON]]) -> None:
    store, by_key = sas
    ids = ",".join(
        _identifier(by_key, f"Practitioner/{p}")
        for p in ("ExamplePractitioner3", "ExamplePractitioner2")
    )
    assert ids == f"{PS}|810002673899,{PS}|810100050075"
    # an offset sent unencoded arrives as a space: the parser reads it as "+"
    result = _search(
        store,
        "Slot",
        _ps_query(ids, "2021-11-04T14:19:35.760 00:00", "2021-11-06T23:59:59.999+00:00"),
    )
    matches, included = _bundle(by_key, "ExampleBundlePSIndiv")
    # the Bundle's 4 Slots, and ExampleSlotPSIndiv5 (same Schedule, not in the Bundle)
    assert set(_keys(result.matches)) == matches | {"Slot/ExampleSlotPSIndiv5"}
    assert result.total == 5
    # ordered by start
    assert _keys(result.matches)[:2] == ["Slot/ExampleSlotPSIndiv3", "Slot/ExampleSlotPSIndiv4"]
    # Schedule, Practitioner, PractitionerRole: included, each once
    assert sorted(_keys(result.included)) == sorted(included)
    assert {k.split("/")[0] for k in included} == {"Schedule", "Practitioner", "PractitionerRole"}
    # ExamplePractitionerRegul2/3 share an identifier but no Schedule points to them
    assert "Practitioner/ExamplePractitionerRegul2" not in _keys(result.included)


def test_ps_indiv_window_and_unknown_practitioner(sas: tuple[Store, dict[str, JSON]]) -> None:
    store, _ = sas
    one = f"{PS}|810002673899"
    narrow = _search(
        store, "Slot", _ps_query(one, "2021-11-04T14:30:00+00:00", "2021-11-04T15:00:00+00:00")
    )
    assert _keys(narrow.matches) == ["Slot/ExampleSlotPSIndiv4"]
    unknown = _search(
        store,
        "Slot",
        _ps_query(f"{PS}|899999999999", "2021-11-01T00:00:00Z", "2021-11-30T00:00:00Z"),
    )
    assert (unknown.total, unknown.matches, unknown.included) == (0, [], [])


def test_cpts(sas: tuple[Store, dict[str, JSON]]) -> None:
    store, by_key = sas
    ident = _identifier(by_key, "Practitioner/ExamplePractitioner")
    pairs = [
        *_ps_query(ident, "2024-06-12T16:20:00.000+02:00", "2024-06-12T17:20:00.000+02:00"),
        ("_include", "Slot:service-type-reference"),
        ("_include:iterate", "HealthcareService:organization"),
    ]
    result = _search(store, "Slot", pairs)
    matches, included = _bundle(by_key, "ExampleBundleCPTS1", "ExampleBundleCPTS2")
    assert (
        _keys(result.matches)
        == sorted(matches)
        == ["Slot/ExampleSlotCPTS1", "Slot/ExampleSlotCPTS2"]
    )
    assert _keys(result.included) == sorted(included)
    assert {k.split("/")[0] for k in included} == {
        "Schedule",
        "Practitioner",
        "PractitionerRole",
        "HealthcareService",
        "Organization",
    }
    # the PS query, without the CPTS includes, brings no HealthcareService
    plain = _search(store, "Slot", pairs[:-2])
    assert not any(k.startswith("HealthcareService/") for k in _keys(plain.included))


def _sos_query(sirets: str) -> list[tuple[str, str]]:
    return [
        ("_revinclude", "Slot:schedule"),
        ("_include", "Schedule:actor:Location"),
        ("_include:iterate", "Location:organization"),
        ("_has:Slot:schedule:start", "ge2023-08-18T09:00:00+02:00"),
        ("_has:Slot:schedule:start", "le2023-08-20T08:00:00+02:00"),
        ("_has:Slot:schedule:status", "free"),
        ("actor:Location.organization.identifier", sirets),
        ("_count", "1000"),
    ]


def test_sos(sas: tuple[Store, dict[str, JSON]]) -> None:
    store, by_key = sas
    sirets = ",".join(
        _identifier(by_key, f"Organization/{o}") for o in ("ExampleOrgaSOS1", "ExampleOrgaSOS2")
    )
    assert sirets == f"{ST}|334173748400020,{ST}|392080466300010"
    result = _search(store, "Schedule", _sos_query(sirets))
    matches, included = _bundle(by_key, "ExampleBundleAgregateurSOS")
    assert _keys(result.matches) == sorted(matches)
    assert result.total == 3  # the example Bundle's total (4) counts its Slots
    assert _keys(result.included) == sorted(included)
    assert sum(k.startswith("Slot/") for k in _keys(result.included)) == 4
    assert {k.split("/")[0] for k in included} == {"Slot", "Location", "Organization"}
    # one SIRET: its two sites
    one = _search(store, "Schedule", _sos_query(f"{ST}|334173748400020"))
    assert _keys(one.matches) == ["Schedule/ExampleScheduleSOS1", "Schedule/ExampleScheduleSOS2"]
    unknown = _search(store, "Schedule", _sos_query(f"{ST}|300000000000000"))
    assert (unknown.total, unknown.included) == (0, [])


def test_sos_revinclude_keeps_only_slots_meeting_has(
    sas: tuple[Store, dict[str, JSON]],
) -> None:
    store, by_key = sas
    extra = [
        {**by_key["Slot/ExampleSlotSOS4"], "id": "BusySOS", "status": "busy"},
        {**by_key["Slot/ExampleSlotSOS4"], "id": "LateSOS", "start": "2023-09-01T10:00:00+02:00"},
    ]
    store.load(extra)
    try:
        result = _search(store, "Schedule", _sos_query(f"{ST}|392080466300010"))
        assert _keys(result.matches) == ["Schedule/ExampleScheduleSOS3"]
        slots = [k for k in _keys(result.included) if k.startswith("Slot/")]
        assert slots == ["Slot/ExampleSlotSOS3", "Slot/ExampleSlotSOS4"]
    finally:
        for r in extra:
            store.delete("Slot", r["id"])
