"""Where example values come from (igtools/render/examples/realistic.py, harvest.py,
formats.py): the IG's own examples first, then the format an element's definition names,
then the toolkit's own data; "full" instances carry what the IG's examples use.

A small IR of our own (a Slot profile and one example of it), the fixture IG on disk, and
the real SAS 1.2.0 package of ../shared.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from igtools.ir import build_ir
from igtools.ir.model import (
    IG,
    Binding,
    CodeSystem,
    Concept,
    Element,
    Example,
    Profile,
    TypeRef,
)
from igtools.packages import PackageLoader, Settings
from igtools.render.examples.formats import EMAIL, PHONE, SYSTEM, URL, format_of
from igtools.render.examples.frdata import FrenchData
from igtools.render.examples.harvest import Harvest
from igtools.render.examples.realistic import RealisticBuilder
from igtools.render.examples.writer import ExamplesRenderer, ExamplesReport
from tests.golden import FIXTURE

NOW = datetime(2026, 1, 5, tzinfo=ZoneInfo("Europe/Paris"))
SLOT = "http://example.org/fhir/test/StructureDefinition/test-slot"
SPECIALTY = "http://example.org/fhir/test/CodeSystem/specialty"


def _el(path: str, types: list[str], lo: int = 0, hi: int | None = 1, **kw: Any) -> Element:
    base = kw.pop("base_path", path)
    return Element(
        id=path,
        path=path,
        min=lo,
        max=hi,
        base_path=base,
        base_min=0,
        base_max=hi,
        types=[TypeRef(t) for t in types],
        **kw,
    )


def _slot_ig(examples: bool = True) -> IG:
    """A Slot profile: required status, start, end, schedule; an optional comment the
    profile defines as a URL; an optional specialty bound to three codes; an optional
    overbooked flag nothing marks; a mustSupport appointmentType."""
    specialties = [
        Concept(SPECIALTY, c, d) for c, d in (("A", "Alpha"), ("B", "Beta"), ("C", "Gamma"))
    ]
    root = _el("Slot", [], hi=None)
    root.children = [
        _el(
            "Slot.status",
            ["code"],
            1,
            binding=Binding("required", "http://hl7.org/fhir/ValueSet/slotstatus"),
            in_differential=True,
        ),
        _el("Slot.start", ["instant"], 1, in_differential=True),
        _el("Slot.end", ["instant"], 1, in_differential=True),
        _el(
            "Slot.schedule",
            ["Reference"],
            1,
            in_differential=True,
        ),
        _el(
            "Slot.comment",
            ["string"],
            short="URL de la page de prise de rendez-vous de ce créneau",
            in_differential=True,
        ),
        _el(
            "Slot.specialty",
            ["CodeableConcept"],
            hi=None,
            binding=Binding("required", f"{SPECIALTY}-vs", codes=specialties, complete=True),
        ),
        _el("Slot.overbooked", ["boolean"]),
        _el(
            "Slot.appointmentType",
            ["CodeableConcept"],
            must_support=True,
            binding=Binding(
                "preferred",
                "http://example.org/vs/kinds",
                codes=[Concept("http://example.org/kinds", c) for c in ("x", "y")],
                complete=True,
            ),
        ),
    ]
    root.children[3].types = [
        TypeRef("Reference", [], ["http://hl7.org/fhir/StructureDefinition/Schedule"])
    ]
    prof = Profile(
        url=SLOT,
        version="0.1.0",
        name="TestSlot",
        title=None,
        id="test-slot",
        package="example.test#0.1.0",
        type="Slot",
        kind="resource",
        derivation="constraint",
        base_definition="http://hl7.org/fhir/StructureDefinition/Slot",
        status="active",
        description=None,
        abstract=False,
        root=root,
    )
    example = {
        "resourceType": "Slot",
        "id": "slot-1",
        "meta": {"profile": [SLOT]},
        "specialty": [{"coding": [{"system": SPECIALTY, "code": "B"}]}],
        "schedule": {"reference": "Schedule/s1"},
        "status": "free",
        "start": "2024-01-10T09:00:00+01:00",
        "end": "2024-01-10T09:30:00+01:00",
        "overbooked": False,
        "comment": "https://rdv.exemple.org/creneaux/1",
        "appointmentType": {"coding": [{"system": "http://example.org/other", "code": "walkin"}]},
    }
    second = {
        **{k: v for k, v in example.items() if k != "specialty"},
        "id": "slot-2",
        "status": "busy",
        "overbooked": True,
        "comment": "https://rdv.exemple.org/creneaux/2",
    }
    return IG(
        package="example.test#0.1.0",
        name="example.test",
        version="0.1.0",
        title=None,
        canonical="http://example.org/fhir/test",
        profiles={SLOT: prof},
        extensions={},
        value_sets={},
        code_systems={
            SPECIALTY: CodeSystem(
                SPECIALTY,
                None,
                "Specialty",
                None,
                "specialty",
                "example.test",
                "complete",
                specialties,
            )
        },
        search_params={},
        capabilities=[],
        examples=[
            Example("Slot", "slot-1", "example.test", "x", [SLOT], example),
            Example("Slot", "slot-2", "example.test", "y", [SLOT], second),
        ]
        if examples
        else [],
    )


def _build(ig: IG, full: bool, seed: int = 0) -> dict[str, Any]:
    builder = RealisticBuilder(ig, FrenchData(seed), NOW)
    return builder.instance(ig.profiles[SLOT], "test-slot-x", full=full)


# ---------------------------------------------------------------------- our own IR


def test_harvest_paths_and_values_per_profile() -> None:
    h = Harvest(_slot_ig())
    used = h.used([SLOT])
    assert {"Slot.comment", "Slot.overbooked", "Slot.specialty.coding.code"} <= used
    assert "Slot.id" not in used and "Slot.meta" not in used
    assert h.values([SLOT], "Slot.comment")[0] == "https://rdv.exemple.org/creneaux/1"
    assert h.values(["http://other", "type:Slot"], "Slot.status") == ["free", "busy"]
    assert [r["Slot.comment"] for r in h.examples_of([SLOT])] == [
        ["https://rdv.exemple.org/creneaux/1"],
        ["https://rdv.exemple.org/creneaux/2"],
    ]
    assert h.values(["http://other"], "Slot.status") == []


def test_full_carries_what_the_examples_use_minimal_only_what_is_required() -> None:
    ig = _slot_ig()
    full, minimal = _build(ig, True), _build(ig, False)
    # overbooked: neither required nor mustSupport, but the IG's example uses it
    followed = {
        "https://rdv.exemple.org/creneaux/1": False,
        "https://rdv.exemple.org/creneaux/2": True,
    }
    assert full["overbooked"] is followed[full["comment"]]  # the followed example's values
    assert "appointmentType" in full  # mustSupport
    assert set(minimal) == {"resourceType", "id", "meta", "status", "start", "end", "schedule"}
    assert minimal["status"] == "free"  # the example's code, though "busy" comes first


def test_codes_the_examples_use_come_first_with_their_display() -> None:
    ig = _slot_ig()
    for seed in range(4):
        full = _build(ig, True, seed)
        assert full["specialty"] == [
            {"coding": [{"system": SPECIALTY, "code": "B", "display": "Beta"}]}
        ]


def test_without_examples_the_definition_names_the_format() -> None:
    ig = _slot_ig(examples=False)
    full = _build(ig, True)
    assert re.fullmatch(r"https://www\.exemple\.fr/slot/test-slot-x", full["comment"])
    assert "overbooked" not in full  # nothing uses it, nothing marks it
    assert full["status"] in ("busy", "free", "busy-unavailable", "busy-tentative")
    assert "specialty" not in full  # nothing uses it, nothing marks it


def test_a_loose_binding_takes_the_examples_codings_first() -> None:
    """appointmentType: preferred binding to x, y; the examples use another code."""
    for seed in range(3):
        coding = _build(_slot_ig(), True, seed)["appointmentType"]["coding"][0]
        assert (coding["system"], coding["code"]) == ("http://example.org/other", "walkin")
    coding = _build(_slot_ig(examples=False), True)["appointmentType"]["coding"][0]
    assert coding["code"] in ("x", "y")


def test_a_full_instance_follows_one_example() -> None:
    """The values of one example go together (its comment with its overbooked flag)."""
    ig = _slot_ig()
    pairs = {(f["comment"][-1], f["overbooked"]) for f in (_build(ig, True, s) for s in range(8))}
    assert pairs == {("1", False), ("2", True)}
    minimal = _build(ig, False)
    assert minimal["status"] == "free"  # the first example's


def test_same_seed_same_instance() -> None:
    ig = _slot_ig()
    assert json.dumps(_build(ig, True, 7)) == json.dumps(_build(ig, True, 7))


@pytest.mark.parametrize(
    ("short", "types", "in_diff", "expected"),
    [
        ("URL permettant d'accéder à la prise de RDV", ["string"], True, URL),
        ("Lien vers le site web du cabinet", ["string"], True, URL),
        ("Adresse e-mail de contact", ["string"], True, EMAIL),
        ("Courriel du secrétariat", ["markdown"], True, EMAIL),
        ("Numéro de téléphone du standard", ["string"], True, PHONE),
        ("The identifier system of the booking", ["string"], True, SYSTEM),
        ("URL permettant d'accéder à la prise de RDV", ["string"], False, None),  # inherited
        ("URL of the page", ["uri"], True, None),  # a uri already gets a URL
        ("Comments on the slot", ["string"], True, None),
        ("Family name, that links to the genealogy", ["string"], True, None),
    ],
)
def test_format_of(short: str, types: list[str], in_diff: bool, expected: str | None) -> None:
    el = _el("Slot.comment", types, short=short, in_differential=in_diff)
    assert format_of(el) == expected


def test_format_of_leaves_names_and_addresses_alone() -> None:
    el = _el(
        "Practitioner.name.family",
        ["string"],
        base_path="HumanName.family",
        short="e-mail",
        in_differential=True,
    )
    assert format_of(el) is None


# ---------------------------------------------------------------------- the fixture IG


def test_fixture_extension_value_from_the_examples(tmp_path: Path) -> None:
    pset = PackageLoader(Settings(cache_dir=tmp_path / "c", offline=True)).load(str(FIXTURE))
    ig = build_ir(pset)
    report = ExamplesRenderer(ig, seed=0, now=NOW).build()
    full = next(g.resource for g in report.generated if g.filename.endswith("patient-full"))
    # the birth place extension's value is the example's (Lyon), not a placeholder text
    assert full["extension"][0]["valueString"] == "Lyon"


# ---------------------------------------------------------------------- SAS 1.2.0


@pytest.fixture(scope="module")
def sas(corpus_cache: Path) -> Iterator[tuple[IG, ExamplesReport, Any]]:
    from corpus.validation import load
    from tests.conftest import SHARED

    tgz = SHARED / "fhir-packages" / "ans.fhir.fr.sas-1.2.0.tgz"
    if not tgz.is_file():
        pytest.skip(f"{tgz} absent")
    loaded = load("ans.fhir.fr.sas#1.2.0", SHARED, corpus_cache)
    ig = loaded.validator.ig
    report = ExamplesRenderer(ig, seed=0, now=NOW).build()
    yield ig, report, loaded.validator


def _instance(report: ExamplesReport, filename: str) -> dict[str, Any]:
    return next(g.resource for g in report.generated if g.filename == filename)


def _codings(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if isinstance(node.get("system"), str) and isinstance(node.get("code"), str):
            yield node
        for v in node.values():
            yield from _codings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _codings(v)


@pytest.mark.shared
def test_sas_full_practitioners_carry_what_the_examples_show(
    sas: tuple[IG, ExamplesReport, Any],
) -> None:
    _, report, _ = sas
    regul = _instance(report, "Practitioner-FrPractitionerRegul-full")
    assert regul["name"][0]["family"] and regul["name"][0]["given"]
    # the IG's examples give an e-mail: the full instance has one, built from the name
    assert regul["telecom"][0]["system"] == "email"
    assert re.fullmatch(r"[a-z.-]+@[a-z.-]+\.[a-z]+", regul["telecom"][0]["value"])
    agg = _instance(report, "Practitioner-FrPractitionerAgregateur-full")
    assert "name" in agg
    assert "name" not in _instance(report, "Practitioner-FrPractitionerAgregateur-minimal")


@pytest.mark.shared
def test_sas_full_location_has_an_example_address(sas: tuple[IG, ExamplesReport, Any]) -> None:
    ig, report, _ = sas
    addresses = {
        (ex.data["address"]["city"], ex.data["address"]["postalCode"])
        for ex in ig.examples
        if ex.resource_type == "Location" and "city" in ex.data.get("address", {})
    }
    loc = _instance(report, "Location-sas-sos-location-aggregator-full")
    assert (loc["address"]["city"], loc["address"]["postalCode"]) in addresses
    # the name is the same example's: it names the city
    assert loc["address"]["city"].lower() in loc["name"].lower()


@pytest.mark.shared
def test_sas_slot_comment_is_a_url(sas: tuple[IG, ExamplesReport, Any]) -> None:
    _, report, _ = sas
    comments = [
        g.resource["comment"]
        for g in report.generated
        if g.resource["resourceType"] == "Slot" and "comment" in g.resource
    ]
    assert comments, "no full Slot carries its comment"
    assert all(re.match(r"https?://", c) for c in comments), comments


@pytest.mark.shared
def test_sas_slot_comment_url_from_the_definition_alone(
    sas: tuple[IG, ExamplesReport, Any],
) -> None:
    ig, _, _ = sas
    bare = IG(**{**ig.__dict__, "examples": []})
    prof = bare.profiles["http://sas.fr/fhir/StructureDefinition/FrSlotAgregateur"]
    slot = RealisticBuilder(bare, FrenchData(0), NOW).instance(prof, "s", full=True)
    assert slot["comment"] == "https://www.exemple.fr/slot/s"


@pytest.mark.shared
def test_sas_displays_from_the_code_systems(sas: tuple[IG, ExamplesReport, Any]) -> None:
    ig, report, _ = sas
    known = RealisticBuilder(ig, FrenchData(0), NOW).displays()
    with_display = 0
    for g in report.generated:
        for coding in _codings(g.resource):
            display = known.get((coding["system"], coding["code"]))
            if display is not None:
                assert coding.get("display"), (g.filename, coding)
                with_display += 1
    assert with_display >= 15  # not vacuous (21 on seed 0)


@pytest.mark.shared
def test_sas_every_instance_is_valid(sas: tuple[IG, ExamplesReport, Any]) -> None:
    _, report, validator = sas
    invalid = {
        g.filename: [
            str(i) for i in validator.validate_resource(g.resource) if i.severity == "error"
        ]
        for g in report.generated
    }
    assert {f: e for f, e in invalid.items() if e} == {}


@pytest.mark.shared
def test_sas_deterministic(sas: tuple[IG, ExamplesReport, Any]) -> None:
    ig, report, _ = sas
    again = ExamplesRenderer(ig, seed=0, now=NOW).build()
    assert [json.dumps(g.resource) for g in again.generated] == [
        json.dumps(g.resource) for g in report.generated
    ]
