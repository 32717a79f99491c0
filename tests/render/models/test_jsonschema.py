"""JSON Schema per profile: valid 2020-12 schemas that accept the IG's examples and reject
broken instances. On the real SAS 1.2.0 package, and on a tiny IR built by hand."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from igtools.ir import IG, build_ir
from igtools.ir.model import (
    Binding,
    Concept,
    Discriminator,
    Element,
    Invariant,
    Profile,
    Slicing,
    TypeRef,
)
from igtools.packages import PackageLoader, Settings
from igtools.render.models.jsonschema import (
    DIALECT,
    profile_schema,
    write_schemas,
)

SAS = "https://interop.esante.gouv.fr/ig/fhir/sas/StructureDefinition/"
OLD_SAS = "http://sas.fr/fhir/StructureDefinition/"
CPTS_SLOT = SAS + "sas-cpts-slot-aggregator"
CPTS_BUNDLE = SAS + "sas-cpts-bundle-aggregator"
CPTS_ORG = SAS + "sas-cpts-organization-aggregator"
REGUL = SAS + "FrPractitionerRegul"
R5_EXT = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Slot.serviceType"

# Examples of SAS 1.2.0 that break a constraint the schemas express, checked by hand
# against the snapshot: (example id, claimed profile URL) -> the constraint and why.
# Every example was checked; none breaks a constraint JSON Schema can express (the
# invariants FINESS/SIRET included), and none carries an element its profile's snapshot
# does not define. The test fails if an entry stops failing (a stale excuse) or if a
# new failure appears.
KNOWN_IG_DEFECTS: dict[tuple[str, str], str] = {}


# --- SAS 1.2.0 -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ig(tmp_path_factory: pytest.TempPathFactory) -> IG:
    from tests.conftest import shared_path

    tgz = shared_path("fhir-packages", "ans.fhir.fr.sas-1.2.0.tgz")
    cache = tmp_path_factory.mktemp("cache")
    return build_ir(PackageLoader(Settings(cache_dir=cache, offline=True)).load(str(tgz)))


@pytest.fixture(scope="module")
def schemas(ig: IG) -> dict[str, dict[str, Any]]:
    return {url: profile_schema(p, ig) for url, p in ig.profiles.items() if not p.is_extension}


@pytest.fixture(scope="module")
def validators(schemas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {url: Draft202012Validator(s) for url, s in schemas.items()}


def _errors(validators: dict[str, Any], url: str, instance: Any) -> list[str]:
    return [e.message for e in validators[url].iter_errors(instance)]


def test_every_schema_is_valid_2020_12(ig: IG, schemas: dict[str, dict[str, Any]]) -> None:
    assert len(schemas) == 18  # 20 StructureDefinitions, 2 of them extensions
    for url, schema in schemas.items():
        Draft202012Validator.check_schema(schema)
        p = ig.profiles[url]
        assert schema["$schema"] == DIALECT
        assert schema["$id"] == url + ".schema.json"
        assert schema["title"] == p.name
        assert schema["description"] == p.description  # the IG's own language
        assert schema["type"] == "object"
        assert schema["properties"]["resourceType"] == {"const": p.type}
        assert "resourceType" in schema["required"]
        # the schema is JSON: it survives a round trip unchanged
        assert json.loads(json.dumps(schema)) == schema


def test_every_example_validates_against_its_profiles(ig: IG, validators: dict[str, Any]) -> None:
    checked = 0
    failures: dict[tuple[str, str], list[str]] = {}
    for ex in ig.examples:
        for url in ex.profiles:
            if url not in validators:
                continue
            checked += 1
            errors = _errors(validators, url, ex.data)
            if errors:
                failures[(str(ex.id), url)] = errors
    assert checked == 45
    unexpected = {k: v for k, v in failures.items() if k not in KNOWN_IG_DEFECTS}
    assert unexpected == {}
    stale = set(KNOWN_IG_DEFECTS) - set(failures)
    assert stale == set()


def _example(ig: IG, example_id: str) -> dict[str, Any]:
    for ex in ig.examples:
        if ex.id == example_id:
            return copy.deepcopy(ex.data)
    raise AssertionError(example_id)


Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    """Set ``value`` at a dotted path (integers index lists)."""

    def mutate(data: dict[str, Any]) -> None:
        *head, last = path.split(".")
        node: Any = data
        for part in head:
            node = node[int(part)] if part.isdigit() else node[part]
        if last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


def _pop(path: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        *head, last = path.split(".")
        node: Any = data
        for part in head:
            node = node[int(part)] if part.isdigit() else node[part]
        node.pop(int(last) if last.isdigit() else last)

    return mutate


def _append(path: str, value: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        node: Any = data
        parts = path.split(".")
        for part in parts[:-1]:
            node = node[int(part)] if part.isdigit() else node[part]
        node.setdefault(parts[-1], []).append(copy.deepcopy(value))

    return mutate


def _r5_extension(reference: str) -> dict[str, Any]:
    return {"url": R5_EXT, "valueReference": {"reference": reference}}


def _drop_entries(resource_type: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        data["entry"] = [e for e in data["entry"] if e["resource"]["resourceType"] != resource_type]

    return mutate


def _duplicate(path: str) -> Mutation:
    """Append a copy of the array's first item."""

    def mutate(data: dict[str, Any]) -> None:
        node: Any = data
        for part in path.split("."):
            node = node[int(part)] if part.isdigit() else node[part]
        node.append(copy.deepcopy(node[0]))

    return mutate


FINESS_TYPE = {
    "coding": [
        {"system": "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203", "code": "IDNST"}
    ]
}
ORG_TYPE_SYSTEM = "http://interopsante.org/fhir/CodeSystem/fr-v2-3307"
IDNPS_IDENTIFIER = {
    "type": {
        "coding": [
            {"system": "http://interopsante.org/fhir/CodeSystem/fr-v2-0203", "code": "IDNPS"}
        ]
    },
    "system": "urn:oid:1.2.250.1.71.4.2.1",
    "value": "810002909371",
}

# (example, claimed profile, mutation, what it breaks)
MUTATIONS: list[tuple[str, str, Mutation, str]] = [
    # FrSlotAgregateurCPTS
    ("ExampleSlotCPTS1", CPTS_SLOT, _pop("start"), "Slot.start 1..1 removed"),
    ("ExampleSlotCPTS1", CPTS_SLOT, _pop("schedule"), "Slot.schedule 1..1 removed"),
    ("ExampleSlotCPTS1", CPTS_SLOT, _set("status", "busy"), "Slot.status patternCode free"),
    (
        "ExampleSlotCPTS1",
        CPTS_SLOT,
        _append("serviceType.0.extension", _r5_extension("HealthcareService/x")),
        "Slot.serviceType:TypeConsultation.extension:sas-servicetype-r5 0..0 added",
    ),
    (
        "ExampleSlotCPTS1",
        CPTS_SLOT,
        _set("meta.security.0.code", "XYZ"),
        "Slot.meta.security: code outside the IG's required value set "
        "sas-cpts-valueset-typecreneau",
    ),
    (
        "ExampleSlotCPTS1",
        CPTS_SLOT,
        _set("serviceType.1.coding.0.code", "999"),
        "Slot.serviceType:referencecpts: coding outside the IG's required value set "
        "sas-valueset-categorieetablissement",
    ),
    (
        "ExampleSlotCPTS1",
        CPTS_SLOT,
        _set("serviceCategory", [{"text": "a"}, {"text": "b"}]),
        "Slot.serviceCategory 0..1 exceeded",
    ),
    (
        "ExampleSlotCPTS1",
        CPTS_SLOT,
        _append("serviceType.1.extension", _r5_extension("HealthcareService/y")),
        "Slot.serviceType:referencecpts.extension:sas-servicetype-r5 1..1 exceeded",
    ),
    (
        "ExampleSlotCPTS1",
        CPTS_SLOT,
        _set("schedule", {"reference": "Practitioner/ExamplePractitioner"}),
        "Slot.schedule targets FrScheduleAgregateur (a Schedule)",
    ),
    (
        "ExampleSlotCPTS1",
        CPTS_SLOT,
        _set("serviceType.1.extension.0.valueReference.reference", "Organization/x"),
        "the R5 extension's valueReference targets the CPTS HealthcareService profile",
    ),
    ("ExampleSlotCPTS1", CPTS_SLOT, _set("start", "2024-06-12 16:40"), "Slot.start: instant"),
    # FrPractitionerRegul (it prohibits no element)
    ("ExamplePractitionerRegul1", REGUL, _pop("active"), "Practitioner.active 1..1 removed"),
    (
        "ExamplePractitionerRegul1",
        REGUL,
        _pop("identifier"),
        "Practitioner.identifier 1..* removed",
    ),
    (
        "ExamplePractitionerRegul1",
        REGUL,
        _set("telecom.0.system", "phone"),
        "Practitioner.telecom.system patternCode email",
    ),
    (
        "ExamplePractitionerRegul1",
        REGUL,
        _set("meta.source", "urn:oid:1.2.3"),
        "Practitioner.meta.source patternUri urn:oid:1.2.250.1.213.3.6",
    ),
    (
        "ExamplePractitionerRegul1",
        REGUL,
        _append("identifier", IDNPS_IDENTIFIER),
        "Practitioner.identifier:IdentifiantNatPS 0..1 exceeded",
    ),
    (
        "ExamplePractitionerRegul1",
        REGUL,
        _append("name.0.given", "Jean"),
        "Practitioner.name.given 1..1 exceeded",
    ),
    (
        "ExamplePractitionerRegul1",
        REGUL,
        _set("gender", "femme"),
        "Practitioner.gender: required binding administrative-gender",
    ),
    # FrOrganizationAgregateurCPTS (it prohibits no element)
    ("ExampleOrgaCPTS1", CPTS_ORG, _pop("identifier"), "Organization.identifier 1..1 removed"),
    (
        "ExampleOrgaCPTS1",
        CPTS_ORG,
        _set("identifier.0.type.coding.0.code", "IDNPS"),
        "Organization.identifier.type patternCodeableConcept IDNST",
    ),
    (
        "ExampleOrgaCPTS1",
        CPTS_ORG,
        _set("identifier.0.value", "2950047225"),
        "invariant FINESS-invariant value.matches('^1[0-9]{9}$')",
    ),
    (
        "ExampleOrgaCPTS1",
        CPTS_ORG,
        _duplicate("identifier"),
        "Organization.identifier 1..1 exceeded",
    ),
    (
        "ExampleOrgaCPTS1",
        CPTS_ORG,
        _set(
            "type",
            [
                {"coding": [{"system": ORG_TYPE_SYSTEM, "code": "GEOGRAPHIQUE"}]},
                {"coding": [{"system": ORG_TYPE_SYSTEM, "code": "LEGAL"}]},
            ],
        ),
        "Organization.type:organizationType 0..1 exceeded",
    ),
    (
        "ExampleOrgaCPTS1",
        CPTS_ORG,
        _set("identifier.0.use", "primary"),
        "Organization.identifier.use: required binding identifier-use",
    ),
    (
        "ExampleOrgaCPTS1",
        CPTS_ORG,
        _set("identifier.0.assigner", {"reference": "Patient/1"}),
        "Organization.identifier.assigner targets Organization",
    ),
    # BundleAgregateurCPTS: entries sliced by profile, the profiles embedded in $defs
    ("ExampleBundleCPTS1", CPTS_BUNDLE, _pop("total"), "Bundle.total 1..1 removed"),
    ("ExampleBundleCPTS1", CPTS_BUNDLE, _pop("link"), "Bundle.link 1..1 removed"),
    (
        "ExampleBundleCPTS1",
        CPTS_BUNDLE,
        _set("type", "collection"),
        "Bundle.type patternCode searchset",
    ),
    ("ExampleBundleCPTS1", CPTS_BUNDLE, _duplicate("link"), "Bundle.link 1..1 exceeded"),
    (
        "ExampleBundleCPTS1",
        CPTS_BUNDLE,
        _drop_entries("Slot"),
        "Bundle.entry:slotAgregateurCPTS 1..* removed",
    ),
    (
        "ExampleBundleCPTS1",
        CPTS_BUNDLE,
        _pop("entry.0.fullUrl"),
        "Bundle.entry:slotAgregateurCPTS.fullUrl 1..1 removed",
    ),
    (
        "ExampleBundleCPTS1",
        CPTS_BUNDLE,
        _set("entry.0.resource.status", "busy"),
        "the Slot entry breaks FrSlotAgregateurCPTS (Slot.status patternCode free)",
    ),
    (
        "ExampleBundleCPTS1",
        CPTS_BUNDLE,
        _append("entry.0.resource.serviceType.0.extension", _r5_extension("HealthcareService/x")),
        "the Slot entry carries an element FrSlotAgregateurCPTS prohibits",
    ),
    (
        "ExampleBundleCPTS1",
        CPTS_BUNDLE,
        _set("entry.0.resource.meta.security.0.code", "XYZ"),
        "the Slot entry has a code outside sas-cpts-valueset-typecreneau",
    ),
    (
        "ExampleBundleCPTS1",
        CPTS_BUNDLE,
        _set("entry.0.resource.schedule.reference", "Location/1"),
        "the Slot entry's schedule targets a Location",
    ),
    # other profiles: entry slices by type, prohibited elements, the IG's value sets
    (
        "ExampleBundlePSIndiv",
        OLD_SAS + "BundleAgregateur",
        _pop("entry.0.resource.schedule"),
        "Bundle.entry:FrSlotAgregateur (type discriminator): the Slot breaks its profile",
    ),
    (
        "ExampleSchedule",
        OLD_SAS + "FrScheduleAgregateur",
        _set("serviceType", [{"text": "x"}]),
        "Schedule.serviceType 0..0 added",
    ),
    (
        "1",
        OLD_SAS + "FrAppointmentSAS",
        _set("participant.0.status", "declined"),
        "Appointment.participant.status: required IG value set sas-valueset-participant-status",
    ),
    (
        "1",
        OLD_SAS + "FrAppointmentSAS",
        _set("extension.0.valueString", "x"),
        "appointmentOperator value[x]: Reference only",
    ),
    (
        "1",
        OLD_SAS + "FrAppointmentSAS",
        _pop("extension"),
        "Appointment.extension:appointmentOperator 1..1 removed",
    ),
]


@pytest.mark.parametrize(
    ("example_id", "url", "mutate", "what"),
    MUTATIONS,
    ids=[m[3] for m in MUTATIONS],
)
def test_mutation_is_rejected(
    ig: IG,
    validators: dict[str, Any],
    example_id: str,
    url: str,
    mutate: Mutation,
    what: str,
) -> None:
    data = _example(ig, example_id)
    assert _errors(validators, url, data) == [], "the example itself must pass"
    mutate(data)
    assert _errors(validators, url, data), f"accepted: {what}"


CONTROLS: list[tuple[str, str, Mutation, str]] = [
    ("ExampleSlotCPTS1", CPTS_SLOT, _set("overbooked", False), "Slot.overbooked added"),
    (
        "ExampleSlotCPTS1",
        CPTS_SLOT,
        _append("serviceType", {"text": "hors tranche"}),
        "a serviceType in no slice (open slicing)",
    ),
    (
        "ExampleSlotCPTS1",
        CPTS_SLOT,
        _set("schedule", {"reference": "https://example.org/fhir/Schedule/1/_history/2"}),
        "an absolute, versioned reference to a Schedule",
    ),
    (
        "ExampleSlotCPTS1",
        CPTS_SLOT,
        _append("extension", {"url": "http://example.org/x", "valueString": "é"}),
        "an extension the profile does not name",
    ),
    (
        "ExampleSlotCPTS1",
        CPTS_SLOT,
        _set("_comment", {"extension": [{"url": "http://example.org/x", "valueCode": "c"}]}),
        "a primitive extension sibling",
    ),
    ("ExamplePractitionerRegul1", REGUL, _set("birthDate", "1970-01"), "a partial birthDate"),
    (
        "ExamplePractitionerRegul1",
        REGUL,
        _duplicate("telecom"),
        "a second email telecom",
    ),
    ("ExampleOrgaCPTS1", CPTS_ORG, _set("alias", ["CPTS AM"]), "Organization.alias added"),
    (
        "ExampleBundleCPTS1",
        CPTS_BUNDLE,
        _append("entry", {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient"}}),
        "an entry in no slice (open slicing)",
    ),
    (
        "ExampleBundleCPTS1",
        CPTS_BUNDLE,
        _set("timestamp", "2024-06-12T16:20:00+02:00"),
        "Bundle.timestamp added",
    ),
]


@pytest.mark.parametrize(
    ("example_id", "url", "mutate", "what"),
    CONTROLS,
    ids=[m[3] for m in CONTROLS],
)
def test_valid_control_is_accepted(
    ig: IG,
    validators: dict[str, Any],
    example_id: str,
    url: str,
    mutate: Mutation,
    what: str,
) -> None:
    data = _example(ig, example_id)
    mutate(data)
    assert _errors(validators, url, data) == [], what


def test_extension_keywords_carry_what_json_schema_cannot(
    schemas: dict[str, dict[str, Any]],
) -> None:
    slot = schemas[CPTS_SLOT]["properties"]
    slicing = slot["serviceType"]["x-fhir-slicing"]
    assert slicing["discriminators"] == [{"type": "pattern", "path": "$this"}]
    assert slicing["rules"] == "open"
    assert [(s["name"], s["expressed"]) for s in slot["serviceType"]["x-fhir-slices"]] == [
        ("TypeConsultation", True),
        ("referencecpts", True),
    ]
    security = slot["meta"]["properties"]["security"]
    assert security["x-fhir-binding"]["strength"] == "required"
    assert security["x-fhir-binding"]["codesKnown"] is True
    assert slot["schedule"]["x-fhir-targetProfiles"] == [OLD_SAS + "FrScheduleAgregateur"]
    # the slice TypeConsultation: a pattern composed from coding.system, and a binding
    # whose codes are not in the package set
    tc = slot["serviceType"]["items"]["allOf"][0]
    assert tc["if"] == {
        "properties": {
            "coding": {
                "contains": {
                    "properties": {
                        "system": {"const": "http://terminology.hl7.org/CodeSystem/v3-ActCode"}
                    },
                    "required": ["system"],
                }
            }
        },
        "required": ["coding"],
    }
    org = schemas[CPTS_ORG]["properties"]
    assert org["name"]["x-fhir-mustSupport"] is True
    finess = org["identifier"]["x-fhir-invariants"]
    assert finess[0]["key"] == "FINESS-invariant" and finess[0]["expressed"] is True
    bundle = schemas[CPTS_BUNDLE]
    assert set(bundle["$defs"]) >= {"FrSlotAgregateurCPTS", "FrPractitionerAgregateur"}
    embedded = bundle["$defs"]["FrSlotAgregateurCPTS"]
    assert embedded["x-fhir-profile"] == CPTS_SLOT and "$id" not in embedded
    entry = bundle["properties"]["entry"]
    assert {"$ref": "#/$defs/FrSlotAgregateurCPTS"} in [
        c["contains"]["properties"]["resource"] for c in entry["allOf"]
    ]


def test_write_schemas_is_deterministic(ig: IG, tmp_path: Path) -> None:
    first = write_schemas(ig, tmp_path / "a")
    second = write_schemas(ig, tmp_path / "b")
    again = write_schemas(ig, tmp_path / "a")
    assert [p.name for p in first] == [p.name for p in second] == [p.name for p in again]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    assert len(first) == 19 and first[-1].name == "index.json"
    index = json.loads((tmp_path / "a" / "index.json").read_text(encoding="utf-8"))
    assert len(index) == 18
    assert index[CPTS_SLOT] == "FrSlotAgregateurCPTS.schema.json"
    assert R5_EXT not in index  # extension definitions get no file
    text = (tmp_path / "a" / "FrSlotAgregateurCPTS.schema.json").read_text(encoding="utf-8")
    assert text.endswith("}\n") and "\n  " in text
    assert "dérivé" in text  # ensure_ascii=False: the IG's French as written


# --- a tiny IR built by hand ------------------------------------------------------------


def _el(
    path: str,
    min_: int,
    max_: int | None,
    *types: TypeRef,
    base_max: int | None = 1,
    **kw: Any,
) -> Element:
    eid = kw.pop("id", path)
    return Element(
        id=eid,
        path=path,
        min=min_,
        max=max_,
        base_path=kw.pop("base_path", path),
        base_min=0,
        base_max=base_max,
        types=list(types),
        **kw,
    )


def _tiny_ig() -> tuple[IG, Profile]:
    t = TypeRef
    root = _el("Patient", 0, None, base_max=None)
    identifier = _el(
        "Patient.identifier",
        1,
        None,
        t("Identifier"),
        base_max=None,
        slicing=Slicing([Discriminator("value", "system")], rules="open"),
    )
    nir = _el(
        "Patient.identifier",
        1,
        1,
        t("Identifier"),
        base_max=None,
        id="Patient.identifier:nir",
        slice_name="nir",
    )
    nir.children = [
        _el(
            "Patient.identifier.system",
            1,
            1,
            t("uri"),
            id="Patient.identifier:nir.system",
            fixed=("fixedUri", "urn:oid:1.2.250.1.213.1.4.8"),
        ),
        _el("Patient.identifier.value", 1, 1, t("string"), id="Patient.identifier:nir.value"),
    ]
    nir.constraints = [Invariant("nir-1", "error", "15 chiffres", "value.matches('^[0-9]{15}$')")]
    identifier.slices = [nir]
    gender = _el(
        "Patient.gender",
        1,
        1,
        t("code"),
        binding=Binding(
            "required",
            "http://example.org/vs/g",
            codes=[
                Concept("http://example.org/cs/g", "f"),
                Concept("http://example.org/cs/g", "m"),
            ],
            complete=True,
        ),
    )
    marital = _el(
        "Patient.maritalStatus",
        0,
        1,
        t("CodeableConcept"),
        binding=Binding(
            "required",
            "http://example.org/vs/ms",
            codes=[
                Concept("http://example.org/cs/ms", "M"),
                Concept("http://example.org/cs/ms", "S"),
            ],
            complete=True,
        ),
        must_support=True,
    )
    deceased = _el("Patient.deceased[x]", 0, 1, t("boolean"), t("dateTime"))
    birth = _el("Patient.birthDate", 0, 0, t("date"))
    gp = _el(
        "Patient.generalPractitioner",
        0,
        2,
        t(
            "Reference",
            target_profiles=[
                "http://example.org/sd/my-practitioner",
                "http://hl7.org/fhir/StructureDefinition/Organization|4.0.1",
            ],
        ),
        base_max=None,
    )
    name = _el(
        "Patient.name",
        0,
        None,
        t("HumanName"),
        base_max=None,
        pattern=("patternHumanName", {"use": "official", "given": ["A"]}),
    )
    ext = _el("Patient.extension", 0, None, t("Extension"), base_max=None)
    ext.slicing = Slicing([Discriminator("value", "url")])
    ext.slices = [
        _el(
            "Patient.extension",
            1,
            1,
            t("Extension", profiles=["http://example.org/sd/birth-place"]),
            base_max=None,
            id="Patient.extension:birthPlace",
            slice_name="birthPlace",
        )
    ]
    root.children = [identifier, gender, marital, deceased, birth, gp, name, ext]
    root.constraints = [Invariant("pat-1", "warning", "human text", "name.exists()")]
    profile = Profile(
        url="http://example.org/sd/my-patient",
        version="1.0.0",
        name="MyPatient",
        title="My patient",
        id="my-patient",
        package="example#1.0.0",
        type="Patient",
        kind="resource",
        derivation="constraint",
        base_definition="http://hl7.org/fhir/StructureDefinition/Patient",
        status="active",
        description="Un patient, décrit en français.",
        abstract=False,
        root=root,
    )
    practitioner = Profile(
        url="http://example.org/sd/my-practitioner",
        version="1.0.0",
        name="MyPractitioner",
        title=None,
        id="my-practitioner",
        package="example#1.0.0",
        type="Practitioner",
        kind="resource",
        derivation="constraint",
        base_definition="http://hl7.org/fhir/StructureDefinition/Practitioner",
        status="active",
        description=None,
        abstract=False,
        root=_el("Practitioner", 0, None, base_max=None),
    )
    ig = IG(
        package="example#1.0.0",
        name="example",
        version="1.0.0",
        title=None,
        canonical="http://example.org",
        profiles={profile.url: profile, practitioner.url: practitioner},
        extensions={},
        value_sets={},
        code_systems={},
        search_params={},
        capabilities=[],
        examples=[],
    )
    return ig, profile


def test_tiny_ir_schema_fragments(tmp_path: Path) -> None:
    ig, profile = _tiny_ig()
    schema = profile_schema(profile, ig)
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == "http://example.org/sd/my-patient.schema.json"
    assert schema["title"] == "MyPatient"
    assert schema["description"] == "Un patient, décrit en français."
    assert schema["x-fhir-invariants"] == [
        {
            "key": "pat-1",
            "severity": "warning",
            "human": "human text",
            "expression": "name.exists()",
        }
    ]
    props = schema["properties"]
    assert props["resourceType"] == {"const": "Patient"}
    # required: a complex element by name, a primitive with its value or its extensions
    assert schema["required"] == ["resourceType", "identifier"]
    assert {"anyOf": [{"required": ["gender"]}, {"required": ["_gender"]}]} in schema["allOf"]
    # prohibited, with its extension sibling
    assert props["birthDate"] is False and props["_birthDate"] is False
    # choice: expanded names, at most one of them, other types excluded
    assert props["deceasedBoolean"]["type"] == "boolean"
    assert props["deceasedDateTime"]["pattern"].startswith("^([0-9]([0-9]([0-9][1-9]")
    exclusive = {
        "oneOf": [
            {"anyOf": [{"required": ["deceasedBoolean"]}, {"required": ["_deceasedBoolean"]}]},
            {"anyOf": [{"required": ["deceasedDateTime"]}, {"required": ["_deceasedDateTime"]}]},
            {
                "not": {
                    "anyOf": [
                        {
                            "anyOf": [
                                {"required": ["deceasedBoolean"]},
                                {"required": ["_deceasedBoolean"]},
                            ]
                        },
                        {
                            "anyOf": [
                                {"required": ["deceasedDateTime"]},
                                {"required": ["_deceasedDateTime"]},
                            ]
                        },
                    ]
                }
            },
        ]
    }
    assert exclusive in schema["allOf"]
    assert schema["patternProperties"] == {"^_?deceased(?!(Boolean|DateTime)$)[A-Z]": False}
    # required binding on a code: enum; on a CodeableConcept: coding contains a pair
    assert props["gender"]["enum"] == ["f", "m"]
    assert props["gender"]["x-fhir-binding"] == {
        "strength": "required",
        "valueSet": "http://example.org/vs/g",
        "codesKnown": True,
    }
    assert props["maritalStatus"]["properties"]["coding"] == {
        "contains": {
            "properties": {
                "system": {"const": "http://example.org/cs/ms"},
                "code": {"enum": ["M", "S"]},
            },
            "required": ["system", "code"],
        }
    }
    assert props["maritalStatus"]["x-fhir-mustSupport"] is True
    # array cardinality, references restricted to the target types
    gp = props["generalPractitioner"]
    assert (gp["type"], gp["minItems"], gp["maxItems"]) == ("array", 1, 2)
    assert gp["x-fhir-targetProfiles"] == [
        "http://example.org/sd/my-practitioner",
        "http://hl7.org/fhir/StructureDefinition/Organization|4.0.1",
    ]
    assert gp["items"]["x-fhir-type"] == "Reference"
    ref = gp["items"]["properties"]["reference"]
    assert ref["x-fhir-targetTypes"] == ["Organization", "Practitioner"]
    # pattern on a data type that is not expanded: contains-at-least, arrays by contains
    name_item = props["name"]["items"]
    assert name_item["x-fhir-type"] == "HumanName"
    assert name_item["properties"]["use"] == {"const": "official"}
    assert name_item["properties"]["given"] == {"type": "array", "contains": {"const": "A"}}
    assert name_item["required"] == ["use", "given"]
    # slices: value discriminator on system, extension slice by url
    ident = props["identifier"]
    assert ident["minItems"] == 1
    nir_disc = {
        "properties": {"system": {"const": "urn:oid:1.2.250.1.213.1.4.8"}},
        "required": ["system"],
    }
    assert ident["allOf"] == [{"contains": nir_disc, "minContains": 1, "maxContains": 1}]
    assert ident["x-fhir-slicing"] == {
        "discriminators": [{"type": "value", "path": "system"}],
        "rules": "open",
        "ordered": False,
    }
    then = ident["items"]["allOf"][0]["then"]
    assert then["x-fhir-invariants"][0]["key"] == "nir-1"
    assert then["x-fhir-invariants"][0]["expressed"] is True
    assert then["properties"]["value"]["allOf"] == [{"pattern": "^[0-9]{15}$"}]
    url_disc = {
        "properties": {"url": {"const": "http://example.org/sd/birth-place"}},
        "required": ["url"],
    }
    assert props["extension"]["allOf"] == [
        {"contains": url_disc, "minContains": 1, "maxContains": 1}
    ]

    v = Draft202012Validator(schema)
    good = {
        "resourceType": "Patient",
        "identifier": [{"system": "urn:oid:1.2.250.1.213.1.4.8", "value": "1" * 15}],
        "gender": "f",
        "deceasedBoolean": False,
        "maritalStatus": {"coding": [{"system": "http://example.org/cs/ms", "code": "M"}]},
        "generalPractitioner": [{"reference": "Practitioner/1"}, {"reference": "#c1"}],
        "name": [{"use": "official", "given": ["A", "B"], "family": "X"}],
        "extension": [{"url": "http://example.org/sd/birth-place", "valueString": "Paris"}],
    }
    assert list(v.iter_errors(good)) == []
    bad: list[tuple[str, Any]] = [
        ("gender", "x"),
        ("deceasedDateTime", "2020"),  # two variants of one choice
        ("deceasedString", "yes"),  # a type the choice does not allow
        ("birthDate", "2000-01-01"),
        ("generalPractitioner", [{"reference": "Patient/1"}]),
        ("maritalStatus", {"text": "marié"}),
        ("name", [{"use": "usual", "given": ["A"]}]),
        ("identifier", [{"system": "urn:other", "value": "1"}]),
        ("extension", [{"url": "http://example.org/other", "valueString": "x"}]),
        ("generalPractitioner", [{"reference": "Practitioner/1"}] * 3),
    ]
    for key, value in bad:
        instance = {**good, key: value}
        assert list(v.iter_errors(instance)), key
    wrong_nir = copy.deepcopy(good)
    wrong_nir["identifier"][0]["value"] = "12"
    assert list(v.iter_errors(wrong_nir)), "nir-1 expressed as a pattern"

    written = write_schemas(ig, tmp_path)
    assert [p.name for p in written] == [
        "MyPatient.schema.json",
        "MyPractitioner.schema.json",
        "index.json",
    ]
    assert json.loads(written[0].read_text(encoding="utf-8")) == schema
