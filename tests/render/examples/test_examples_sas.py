"""`igtools examples` on both SAS packages: complete, valid, consistent, realistic,
deterministic."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from igtools.cli import cli
from igtools.ir import IG, build_ir
from igtools.packages import PackageLoader, Settings
from igtools.project import load_project
from igtools.render.examples import checkkeys as ck
from igtools.render.examples.writer import ExamplesRenderer, ExamplesReport
from igtools.validate.validator import Validator
from tests.conftest import REPO, shared_path

NOW = datetime(2026, 12, 1, tzinfo=ZoneInfo("Europe/Paris"))
IDNPS = "urn:oid:1.2.250.1.71.4.2.1"
IDNST = "urn:oid:1.2.250.1.71.4.2.2"


def _ig(version: str, cache: Path) -> IG:
    tgz = shared_path("fhir-packages", f"ans.fhir.fr.sas-{version}.tgz")
    return build_ir(PackageLoader(Settings(cache_dir=cache, offline=True)).load(str(tgz)))


@pytest.fixture(scope="module", params=["1.1.0", "1.2.0"])
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[IG, ExamplesReport]]:
    ig = _ig(str(request.param), tmp_path_factory.mktemp("cache"))
    match = load_project(REPO).example_match  # the SAS settings of ig-input/
    renderer = ExamplesRenderer(ig, seed=3, now=NOW, count=2, match_types=match)
    report = renderer.build()
    renderer.check(report)  # raises if any instance breaks its profile
    yield ig, report


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def test_every_profile_has_minimal_and_full(built: tuple[IG, ExamplesReport]) -> None:
    ig, report = built
    kinds: dict[str, set[str]] = {}
    for g in report.generated:
        kinds.setdefault(g.profile.url, set()).add(g.kind)
    assert report.impossible == []
    for url, prof in ig.profiles.items():
        if not prof.is_profile:
            continue
        if prof.type == "Bundle":
            assert kinds[url] == {"minimal", "scenario"}, url
        else:
            assert {"minimal", "full", "variant-1"} <= kinds[url], url


def test_every_instance_validates(built: tuple[IG, ExamplesReport]) -> None:
    from fhir.resources.R4B import get_fhir_model_class

    ig, report = built
    validator = Validator(ig)
    for g in report.generated:
        errors = [i for i in validator.validate_resource(g.resource) if i.severity == "error"]
        assert errors == [], (g.filename, [str(e) for e in errors])
        # and plain fhir.resources R4B parses it too
        get_fhir_model_class(g.resource["resourceType"]).model_validate(g.resource)


def _paths(node: Any, prefix: str = "") -> set[str]:
    out = set()
    if isinstance(node, dict):
        for k, v in node.items():
            out |= {f"{prefix}.{k}"} | _paths(v, f"{prefix}.{k}")
    elif isinstance(node, list):
        for v in node:
            out |= _paths(v, prefix)
    return out


def test_minimal_is_contained_in_full(built: tuple[IG, ExamplesReport]) -> None:
    _, report = built
    by = {(g.profile.url, g.kind): g.resource for g in report.generated}
    richer = 0
    for (url, kind), res in by.items():
        if kind == "minimal":
            richest = by.get((url, "full")) or by[(url, "scenario")]  # a Bundle: its scenario
            small, big = _paths(res), _paths(richest)
            # an invariant's either-or (an appointment participant's type or actor) may be
            # met otherwise in the full instance, when the IG's examples use the other:
            # the element itself is there
            missing = {p for p in small - big if "." + p.split(".")[1] not in big}
            assert not missing, (url, missing)
            richer += big > small
    assert richer >= 5


def test_bundles_are_consistent(built: tuple[IG, ExamplesReport]) -> None:
    _, report = built
    bundles = [g.resource for g in report.generated if g.kind == "scenario"]
    assert len(bundles) == 3
    for b in bundles:
        assert b["type"] == "searchset"
        full_urls = {e["fullUrl"] for e in b["entry"]}
        assert len(full_urls) == len(b["entry"])
        keys = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in b["entry"]}
        for e in b["entry"]:
            assert e["fullUrl"].endswith(
                "/" + f"{e['resource']['resourceType']}/{e['resource']['id']}"
            )
            contained = {c["id"] for c in e["resource"].get("contained", [])}
            for node in _walk(e["resource"]):
                ref = node.get("reference")
                if isinstance(ref, str):
                    if ref.startswith("#"):
                        assert ref[1:] in contained, ref
                    else:
                        assert ref in keys, (b["id"], ref)
        modes = [e["search"]["mode"] for e in b["entry"]]
        assert b["total"] == modes.count("match") >= 1
        assert set(modes) <= {"match", "include"}


def test_scenario_graphs(built: tuple[IG, ExamplesReport]) -> None:
    """The PS-indiv scenario: Slot -> Schedule -> Practitioner and PractitionerRole."""
    _, report = built
    scenarios = [g for g in report.generated if g.kind == "scenario"]
    b = next(g.resource for g in scenarios if g.profile.name == "BundleAgregateur")
    res = {f"{e['resource']['resourceType']}/{e['resource']['id']}": e for e in b["entry"]}
    slots = [e for e in b["entry"] if e["resource"]["resourceType"] == "Slot"]
    assert slots and all(e["search"]["mode"] == "match" for e in slots)
    for s in slots:
        sched = res[s["resource"]["schedule"]["reference"]]["resource"]
        actors = {a["reference"].split("/")[0] for a in sched["actor"]}
        assert {"Practitioner", "PractitionerRole"} <= actors
    sos = next(g.resource for g in scenarios if g.profile.name == "BundleAgregateurSOS")
    matched = {
        e["resource"]["resourceType"] for e in sos["entry"] if e["search"]["mode"] == "match"
    }
    assert matched == {"Schedule"}  # from ig-input: the SOS flow searches Schedules


def test_times_make_sense(built: tuple[IG, ExamplesReport]) -> None:
    _, report = built
    for g in report.generated:
        for node in _walk(g.resource):
            if node.get("resourceType") == "Slot":
                start = datetime.fromisoformat(node["start"])
                end = datetime.fromisoformat(node["end"])
                assert NOW < start < end
                assert start.utcoffset() is not None
                assert start.tzinfo is not None and node["start"].endswith("+01:00")


def test_identifiers_pass_check_keys(built: tuple[IG, ExamplesReport]) -> None:
    _, report = built
    seen = 0
    for g in report.generated:
        for node in _walk(g.resource):
            system, value = node.get("system"), node.get("value")
            if not isinstance(value, str):
                continue
            if system == IDNPS:
                seen += 1
                assert (value[0] == "8" and ck.rpps_valid(value[1:])) or (
                    value[0] == "0" and ck.adeli_valid(value[1:])
                ), value
            elif system == IDNST:
                seen += 1
                assert (
                    (value[0] == "1" and ck.finess_valid(value[1:]))
                    or (value[0] == "3" and ck.siret_valid(value[1:]))
                    or (value[0] == "4" and ck.rpps_valid(value[1:]))
                ), value
            if node.get("system") == "phone":
                assert re.fullmatch(r"\+33[1-9][0-9]{8}", value), value
    assert seen >= 5


def test_addresses_are_consistent(built: tuple[IG, ExamplesReport]) -> None:
    from igtools.render.examples.frdata import COMMUNES

    by_name = {(c.name, c.postal_code) for c in COMMUNES}
    ig, report = built
    # or an address of the IG's own examples, taken whole
    for ex in ig.examples:
        for node in _walk(ex.data):
            if "postalCode" in node and "city" in node:
                by_name.add((node["city"], node["postalCode"]))
    n = 0
    for g in report.generated:
        for node in _walk(g.resource):
            if "postalCode" in node and "city" in node:
                n += 1
                assert (node["city"], node["postalCode"]) in by_name
    assert n > 0


def test_cli_deterministic_json_and_xml(tmp_path: Path) -> None:
    tgz = shared_path("fhir-packages", "ans.fhir.fr.sas-1.2.0.tgz")
    args = ["--offline", "-q", "--cache-dir", str(tmp_path / "c"), "examples", str(tgz)]
    for out in ("a", "b"):
        r = CliRunner().invoke(
            cli, [*args, "-o", str(tmp_path / out), "--seed", "5", "--now", "2026-12-01"]
        )
        assert r.exit_code == 0, r.output
    a = sorted((tmp_path / "a").iterdir())
    b = sorted((tmp_path / "b").iterdir())
    assert [p.name for p in a] == [p.name for p in b]
    for x, y in zip(a, b, strict=True):
        assert x.read_bytes() == y.read_bytes(), x.name
    index = json.loads((tmp_path / "a" / "index.json").read_text())
    assert "http://sas.fr/fhir/StructureDefinition/FrSlotAgregateur" in index
    other = CliRunner().invoke(
        cli, [*args, "-o", str(tmp_path / "c2"), "--seed", "6", "--now", "2026-12-01"]
    )
    assert other.exit_code == 0
    assert (tmp_path / "c2" / "Slot-FrSlotAgregateur-full.json").read_bytes() != (
        tmp_path / "a" / "Slot-FrSlotAgregateur-full.json"
    ).read_bytes() or (
        tmp_path / "c2" / "Practitioner-FrPractitionerAgregateur-full.json"
    ).read_bytes() != (
        tmp_path / "a" / "Practitioner-FrPractitionerAgregateur-full.json"
    ).read_bytes()
    x = CliRunner().invoke(
        cli, [*args, "-o", str(tmp_path / "x"), "--format", "xml", "--now", "2026-12-01"]
    )
    assert x.exit_code == 0, x.output
    xml_files = sorted((tmp_path / "x").glob("*.xml"))
    json_files = [p for p in (tmp_path / "a").glob("*.json") if p.name != "index.json"]
    assert len(xml_files) == len(json_files) == 36  # 15 profiles x 2, 3 Bundle profiles x 2
    v = CliRunner().invoke(
        cli,
        [
            "--offline",
            "-q",
            "--cache-dir",
            str(tmp_path / "c"),
            "validate",
            str(tgz),
            *map(str, xml_files),
        ],
    )
    assert v.exit_code == 0, v.output


def test_bad_now_is_a_usage_error(tmp_path: Path) -> None:
    tgz = shared_path("fhir-packages", "ans.fhir.fr.sas-1.2.0.tgz")
    r = CliRunner().invoke(
        cli,
        ["--offline", "--cache-dir", str(tmp_path / "c"), "examples", str(tgz), "--now", "demain"],
    )
    assert r.exit_code == 2
    assert "--now" in r.stderr


def test_thousand_slot_bundle(tmp_path: Path) -> None:
    ig = _ig("1.2.0", tmp_path)
    renderer = ExamplesRenderer(ig, seed=1, now=NOW, count=1000)
    report = renderer.build()
    scenarios = [g for g in report.generated if g.kind == "scenario"]
    b = next(g.resource for g in scenarios if g.profile.name == "BundleAgregateur")
    slots = [e for e in b["entry"] if e["resource"]["resourceType"] == "Slot"]
    assert len(slots) == b["total"] == 1000
    schedules = {
        e["resource"]["id"] for e in b["entry"] if e["resource"]["resourceType"] == "Schedule"
    }
    assert len(schedules) == 100
    assert {s["resource"]["schedule"]["reference"].split("/")[1] for s in slots} == schedules
