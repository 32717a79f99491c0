"""Snapshot generation on hand-written differentials (bases from hl7.fhir.r4.core)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from igtools.cli import cli
from igtools.ir.snapshot import SnapshotGenerationError, SnapshotGenerator
from igtools.packages.index import ResourceIndex
from igtools.packages.package import read_package_archive

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "snapshot"
EX = "http://example.org/fhir/StructureDefinition/"


def _sd(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


@pytest.fixture(scope="module")
def core_index() -> ResourceIndex:
    from tests.conftest import shared_path

    return ResourceIndex(
        [read_package_archive(shared_path("fhir-packages", "hl7.fhir.r4.core-4.0.1.tgz"))]
    )


def _generator(index: ResourceIndex, *names: str) -> SnapshotGenerator:
    gen = SnapshotGenerator(index)
    for name in names:
        gen.add(_sd(name))
    return gen


def _by_id(elements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(e["id"]): e for e in elements}


def test_element_order_slices_and_unfolded_types(core_index: ResourceIndex) -> None:
    snap = _generator(core_index, "patient-base").snapshot_elements(EX + "test-patient")
    ids = [e["id"] for e in snap]
    core = core_index.resolve("http://hl7.org/fhir/StructureDefinition/Patient")
    assert core is not None
    core_ids = [e["id"] for e in core.data["snapshot"]["element"]]
    # every element of the base, in the base's order
    assert [i for i in ids if i in core_ids] == core_ids
    # the slicing entry (a data type the differential does not walk into: no children),
    # then the slice and the children of the type it is unfolded to
    nir = ids.index("Patient.identifier:nir")
    assert ids[nir - 1] == "Patient.identifier"
    assert ids[nir + 1 : nir + 9] == [
        f"Patient.identifier:nir.{n}"
        for n in ("id", "extension", "use", "type", "system", "value", "period", "assigner")
    ]
    # a constraint below a data type unfolds it from the type's definition
    assert "Patient.name.family" in ids and "Patient.name.given" in ids
    # only what the differential walks into is unfolded
    assert "Patient.telecom.system" not in ids


def test_facets_merge_over_the_base(core_index: ResourceIndex) -> None:
    snap = _by_id(_generator(core_index, "patient-base").snapshot_elements(EX + "test-patient"))
    root = snap["Patient"]
    assert root["short"] == "A test patient"
    assert root["definition"].startswith("Demographics")  # inherited
    ident = snap["Patient.identifier"]
    assert (ident["min"], ident["max"]) == (1, "*")
    assert ident["base"] == {"path": "Patient.identifier", "min": 0, "max": "*"}
    nir = snap["Patient.identifier:nir"]
    assert nir["sliceName"] == "nir" and nir["mustSupport"] is True
    assert (nir["min"], nir["max"]) == (0, "1")  # a slice's min is 0 unless stated
    assert "slicing" not in nir
    system = snap["Patient.identifier:nir.system"]
    assert system["fixedUri"] == "urn:oid:1.2.250.1.213.1.4.8" and system["min"] == 1
    assert system["base"] == {"path": "Identifier.system", "min": 0, "max": "1"}
    family = snap["Patient.name.family"]
    assert family["maxLength"] == 50 and family["path"] == "Patient.name.family"
    gender = snap["Patient.gender"]
    assert gender["binding"]["strength"] == "required"
    assert [t["code"] for t in snap["Patient.deceased[x]"]["type"]] == ["boolean"]
    org = snap["Patient.managingOrganization"]
    keys = [c["key"] for c in org["constraint"]]
    assert keys == ["ele-1", "tst-1"]  # appended, the base's kept
    assert org["constraint"][1]["source"] == EX + "test-patient"


def test_extension_slice_takes_the_extension_definition(core_index: ResourceIndex) -> None:
    snap = _by_id(_generator(core_index, "patient-base").snapshot_elements(EX + "test-patient"))
    bp = snap["Patient.extension:birthPlace"]
    ext = core_index.resolve("http://hl7.org/fhir/StructureDefinition/patient-birthPlace")
    assert ext is not None
    ext_root = ext.data["snapshot"]["element"][0]
    assert bp["short"] == ext_root["short"]
    assert (bp["min"], bp["max"]) == (0, "1")
    # children come from the extension's own snapshot: its value is an Address
    value = snap["Patient.extension:birthPlace.value[x]"]
    assert [t["code"] for t in value["type"]] == ["Address"]
    assert value["short"] == "Where born"
    assert snap["Patient.extension:birthPlace.url"]["fixedUri"] == ext.url


def test_derived_profile_and_reslicing(core_index: ResourceIndex) -> None:
    gen = _generator(core_index, "patient-base", "patient-derived")
    snap = gen.snapshot_elements(EX + "test-patient-derived")
    ids = [e["id"] for e in snap]
    by_id = _by_id(snap)
    # the base profile (differential only too) was computed first
    assert by_id["Patient.identifier:nir.system"]["fixedUri"] == "urn:oid:1.2.250.1.213.1.4.8"
    assert by_id["Patient.identifier:nir.value"]["maxLength"] == 15
    # a re-slice follows the slice's children; a new slice comes after the inherited ones
    nir, temp, ins = (
        ids.index(i)
        for i in ("Patient.identifier:nir", "Patient.identifier:nir/temp", "Patient.identifier:ins")
    )
    assert nir < ids.index("Patient.identifier:nir.assigner") < temp < ins
    assert by_id["Patient.identifier:nir/temp"]["sliceName"] == "nir/temp"
    assert by_id["Patient.identifier:nir/temp"]["short"] == "A temporary NIR"
    assert by_id["Patient.identifier:ins"]["min"] == 1
    assert by_id["Patient.identifier:nir"]["slicing"]["discriminator"] == [
        {"type": "value", "path": "type"}
    ]


def test_choice_renames_and_type_slices(core_index: ResourceIndex) -> None:
    by_id = _by_id(_generator(core_index, "observation").snapshot_elements(EX + "test-observation"))
    value = by_id["Observation.value[x]"]
    assert value["slicing"]["discriminator"] == [{"type": "type", "path": "$this"}]
    quantity = by_id["Observation.value[x]:valueQuantity"]
    assert [t["code"] for t in quantity["type"]] == ["Quantity"]
    assert by_id["Observation.value[x]:valueQuantity.unit"]["min"] == 1
    # a required type slice without its [x] element: the [x] takes that type only
    effective = by_id["Observation.effective[x]"]
    assert effective["slicing"]["rules"] == "closed" and effective["min"] == 1
    assert [t["code"] for t in effective["type"]] == ["dateTime"]


def test_content_reference_is_unfolded(core_index: ResourceIndex) -> None:
    snap = _generator(core_index, "questionnaire").snapshot_elements(EX + "test-questionnaire")
    by_id = _by_id(snap)
    item = by_id["Questionnaire.item.item"]
    assert "contentReference" not in item
    link = by_id["Questionnaire.item.item.linkId"]
    assert link["maxLength"] == 10
    assert link["base"]["path"] == "Questionnaire.item.linkId"


def _profile(name: str, base: str, kind: str, type_: str, diff: list[dict[str, Any]]) -> Any:
    return {
        "resourceType": "StructureDefinition",
        "url": EX + name,
        "name": name,
        "status": "draft",
        "kind": kind,
        "abstract": False,
        "type": type_,
        "baseDefinition": base,
        "derivation": "constraint",
        "differential": {"element": diff},
    }


def test_slice_typed_with_a_data_type_profile_keeps_the_entry_constraints(
    core_index: ResourceIndex,
) -> None:
    """A slice typed with a data type profile, of an element whose children the same
    differential constrains: the profile's children, with those constraints over them
    (the publisher's order; annuaire's telecom:mailbox-mss)."""
    email = _profile(
        "test-email",
        "http://hl7.org/fhir/StructureDefinition/ContactPoint",
        "complex-type",
        "ContactPoint",
        [
            {"id": "ContactPoint", "path": "ContactPoint"},
            {
                "id": "ContactPoint.system",
                "path": "ContactPoint.system",
                "min": 1,
                "patternCode": "email",
            },
            {"id": "ContactPoint.value", "path": "ContactPoint.value", "short": "The address"},
        ],
    )
    patient = _profile(
        "test-telecom",
        "http://hl7.org/fhir/StructureDefinition/Patient",
        "resource",
        "Patient",
        [
            {"id": "Patient", "path": "Patient"},
            {
                "id": "Patient.telecom",
                "path": "Patient.telecom",
                "slicing": {"discriminator": [{"type": "value", "path": "system"}]},
            },
            {"id": "Patient.telecom.system", "path": "Patient.telecom.system", "short": "Kind"},
            {"id": "Patient.telecom.use", "path": "Patient.telecom.use", "comment": "Old ones"},
            {
                "id": "Patient.telecom:mail",
                "path": "Patient.telecom",
                "sliceName": "mail",
                "type": [{"code": "ContactPoint", "profile": [EX + "test-email"]}],
            },
        ],
    )
    gen = SnapshotGenerator(core_index)
    gen.add(email)
    gen.add(patient)
    snap = _by_id(gen.snapshot_elements(EX + "test-telecom"))
    system = snap["Patient.telecom:mail.system"]
    assert system["short"] == "Kind"  # the entry's constraint, over the profile's element
    assert system["patternCode"] == "email" and system["min"] == 1  # the profile's
    assert snap["Patient.telecom:mail.use"]["comment"] == "Old ones"
    assert snap["Patient.telecom:mail.value"]["short"] == "The address"
    assert snap["Patient.telecom.system"]["short"] == "Kind"
    assert "patternCode" not in snap["Patient.telecom.system"]


def test_type_slicing_the_differential_states_is_settled_as_the_publisher_does(
    core_index: ResourceIndex,
) -> None:
    """A choice the differential slices by type itself: the publisher writes the slicing
    anew (type/$this, unordered, closed: "the differential might call it open, but that
    just means it's not constraining the slices it doesn't mention") and opens it when a
    type is left without a slice (eprescription's dose[x] and rate[x], SUSHI's output of
    ``effective[x] ^slicing.rules = #open`` and ``value[x] ^slicing.rules = #closed``)."""
    type_slicing = {"discriminator": [{"type": "type", "path": "$this"}]}
    obs = _profile(
        "test-choice-slicing",
        "http://hl7.org/fhir/StructureDefinition/Observation",
        "resource",
        "Observation",
        [
            {
                "id": "Observation.effective[x]",
                "path": "Observation.effective[x]",
                "slicing": {**type_slicing, "rules": "open", "description": "By type"},
                "type": [{"code": "dateTime"}, {"code": "Period"}],
            },
            {
                "id": "Observation.effective[x]:effectiveDateTime",
                "path": "Observation.effective[x]",
                "sliceName": "effectiveDateTime",
                "type": [{"code": "dateTime"}],
            },
            {
                "id": "Observation.effective[x]:effectivePeriod",
                "path": "Observation.effective[x]",
                "sliceName": "effectivePeriod",
                "type": [{"code": "Period"}],
            },
            {
                "id": "Observation.value[x]",
                "path": "Observation.value[x]",
                "slicing": {**type_slicing, "rules": "closed"},
                "min": 1,
                "type": [{"code": "Quantity"}],
            },
            {"id": "Observation.value[x].code", "path": "Observation.value[x].code", "min": 1},
            {
                "id": "Observation.component.value[x]",
                "path": "Observation.component.value[x]",
                "slicing": {**type_slicing, "rules": "closed"},
                "type": [{"code": "Quantity"}, {"code": "string"}],
            },
            {
                "id": "Observation.component.value[x]:valueQuantity",
                "path": "Observation.component.value[x]",
                "sliceName": "valueQuantity",
                "type": [{"code": "Quantity"}],
            },
        ],
    )
    gen = SnapshotGenerator(core_index)
    gen.add(obs)
    snap = _by_id(gen.snapshot_elements(EX + "test-choice-slicing"))
    # every type has its slice: closed, whatever the differential said
    assert snap["Observation.effective[x]"]["slicing"] == {
        **type_slicing,
        "ordered": False,
        "rules": "closed",
    }
    # no slice at all, or a type without one: open, whatever the differential said
    assert snap["Observation.value[x]"]["slicing"] == {
        **type_slicing,
        "ordered": False,
        "rules": "open",
    }
    assert [t["code"] for t in snap["Observation.value[x]"]["type"]] == ["Quantity"]
    assert snap["Observation.value[x].code"]["min"] == 1
    component = snap["Observation.component.value[x]"]
    assert component["slicing"]["rules"] == "open"
    assert [t["code"] for t in component["type"]] == ["Quantity", "string"]
    assert gen.problems == []


def test_type_slicing_the_publisher_refuses_is_reported(core_index: ResourceIndex) -> None:
    """An ordered type slicing, or a choice sliced on another discriminator: the
    publisher refuses the profile; igtools names the element and settles the slicing."""
    obs = _profile(
        "test-bad-choice-slicing",
        "http://hl7.org/fhir/StructureDefinition/Observation",
        "resource",
        "Observation",
        [
            {
                "id": "Observation.effective[x]",
                "path": "Observation.effective[x]",
                "slicing": {
                    "discriminator": [{"type": "type", "path": "$this"}],
                    "ordered": True,
                    "rules": "open",
                },
            },
            {
                "id": "Observation.value[x]",
                "path": "Observation.value[x]",
                "slicing": {"discriminator": [{"type": "value", "path": "code"}], "rules": "open"},
            },
        ],
    )
    gen = SnapshotGenerator(core_index)
    gen.add(obs)
    snap = _by_id(gen.snapshot_elements(EX + "test-bad-choice-slicing"))
    assert snap["Observation.effective[x]"]["slicing"]["ordered"] is False
    where = f"StructureDefinition {EX}test-bad-choice-slicing"
    assert gen.problems == [
        f"{where}: Observation.effective[x]: a choice element's type slicing cannot be "
        "ordered (slicing.ordered is true)",
        f"{where}: Observation.value[x]: a choice element is sliced by type on $this only, "
        "not by value:code",
    ]


def test_circular_chain_names_the_profiles(core_index: ResourceIndex) -> None:
    gen = _generator(core_index, "cycle-a", "cycle-b")
    with pytest.raises(SnapshotGenerationError, match=r"cycle-a -> .*cycle-b -> .*cycle-a"):
        gen.snapshot_elements(EX + "cycle-a")


def test_missing_base_names_both(core_index: ResourceIndex) -> None:
    sd = _sd("patient-derived")
    gen = SnapshotGenerator(core_index)
    gen.add(sd)
    with pytest.raises(
        SnapshotGenerationError, match=r"test-patient not found .base of .*test-patient-derived"
    ):
        gen.snapshot_elements(EX + "test-patient-derived")


def test_unknown_element_is_named(core_index: ResourceIndex) -> None:
    sd = _sd("observation")
    sd["differential"]["element"].append(
        {"id": "Observation.nothing", "path": "Observation.nothing"}
    )
    gen = SnapshotGenerator(core_index)
    gen.add(sd)
    with pytest.raises(
        SnapshotGenerationError, match=r"'Observation.nothing'.*no element 'nothing'"
    ):
        gen.snapshot_elements(EX + "test-observation")


def _snapshot_cli(tmp_path: Path, source: Path, out: Path, *options: str) -> Result:
    from tests.conftest import shared_path

    return CliRunner().invoke(
        cli,
        [
            "--offline",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--package-dir",
            str(shared_path("fhir-packages")),
            "snapshot",
            str(source),
            "-o",
            str(out),
            *options,
        ],
    )


def test_snapshot_command_on_a_loose_folder(tmp_path: Path) -> None:
    source = tmp_path / "fsh-generated" / "resources"
    source.mkdir(parents=True)
    for name in ("patient-base", "patient-derived", "observation"):
        (source / f"StructureDefinition-{name}.json").write_text(
            (FIXTURES / f"{name}.json").read_text()
        )
    broken = _sd("questionnaire")
    del broken["baseDefinition"]
    (source / "StructureDefinition-broken.json").write_text(json.dumps(broken))
    out = tmp_path / "out"
    result = _snapshot_cli(tmp_path, source, out)
    assert result.exit_code == 1, result.output
    assert "3 StructureDefinitions with snapshots written" in result.stdout
    # the one that cannot get a snapshot is named by its file, the others are written
    assert "StructureDefinition-broken.json" in result.stderr
    assert "without baseDefinition" in result.stderr
    written = sorted(p.name for p in out.iterdir())
    assert written == [
        "StructureDefinition-test-observation.json",
        "StructureDefinition-test-patient-derived.json",
        "StructureDefinition-test-patient.json",
    ]
    sd = json.loads((out / "StructureDefinition-test-patient-derived.json").read_text())
    ids = [e["id"] for e in sd["snapshot"]["element"]]
    assert ids[0] == "Patient" and "Patient.identifier:nir/temp" in ids
    assert sd["differential"] == _sd("patient-derived")["differential"]
    # references inherited from the core are versioned by default, as the IR builder does
    # (the differential's own are written as stated)
    targets = _core_targets(sd)
    assert any(t.endswith("|4.0.1") for t in targets), targets
    unpinned = tmp_path / "unpinned"
    result = _snapshot_cli(tmp_path, source, unpinned, "--no-pin-core-versions")
    sd = json.loads((unpinned / "StructureDefinition-test-patient-derived.json").read_text())
    assert _core_targets(sd) and not any("|" in t for t in _core_targets(sd))


def _core_targets(sd: dict[str, Any]) -> list[str]:
    core = "http://hl7.org/fhir/StructureDefinition/"
    return [
        t
        for e in sd["snapshot"]["element"]
        for ty in e.get("type", [])
        for t in ty.get("targetProfile", [])
        if t.startswith(core)
    ]


def test_ir_builder_reads_differential_only_profiles(tmp_path: Path) -> None:
    from igtools.ir.build import IRBuilder
    from igtools.ir.snapshot.fill import ensure_core
    from igtools.packages import PackageLoader, Settings
    from tests.conftest import shared_path

    source = tmp_path / "resources"
    source.mkdir()
    for name in ("patient-base", "patient-derived"):
        (source / f"StructureDefinition-{name}.json").write_text(
            (FIXTURES / f"{name}.json").read_text()
        )
    broken = _sd("observation")
    broken["baseDefinition"] = EX + "nowhere"
    (source / "StructureDefinition-broken.json").write_text(json.dumps(broken))
    loader = PackageLoader(
        Settings(
            cache_dir=tmp_path / "cache",
            package_dirs=[shared_path("fhir-packages")],
            offline=True,
        )
    )
    pset = loader.load(str(source))
    ensure_core(pset, loader)
    builder = IRBuilder(pset)
    ig = builder.build()
    derived = ig.profiles[EX + "test-patient-derived"]
    nir = derived.root.child("identifier")
    assert nir is not None
    assert [s.slice_name for s in nir.slices] == ["nir", "ins"]
    system = nir.slices[0].child("system")
    assert system is not None and system.fixed == ("fixedUri", "urn:oid:1.2.250.1.213.1.4.8")
    assert EX + "test-observation" not in ig.profiles
    assert any(
        "StructureDefinition-broken.json" in w and "nowhere not found" in w
        for w in builder.warnings
    ), builder.warnings


def test_structure_definition_without_name_is_a_warning_naming_its_file(tmp_path: Path) -> None:
    """A loose folder with a StructureDefinition lacking a required field (``name``) is
    read: that file gets a warning, its profile and the others are built."""
    from igtools.ir.build import IRBuilder
    from igtools.ir.snapshot.fill import ensure_core
    from igtools.packages import PackageLoader, Settings
    from tests.conftest import shared_path

    source = tmp_path / "resources"
    source.mkdir()
    (source / "StructureDefinition-patient-base.json").write_text(
        (FIXTURES / "patient-base.json").read_text()
    )
    nameless = _sd("patient-derived")
    del nameless["name"]
    (source / "StructureDefinition-nameless.json").write_text(json.dumps(nameless))
    loader = PackageLoader(
        Settings(
            cache_dir=tmp_path / "cache",
            package_dirs=[shared_path("fhir-packages")],
            offline=True,
        )
    )
    pset = loader.load(str(source))
    ensure_core(pset, loader)
    builder = IRBuilder(pset)
    ig = builder.build()
    assert EX + "test-patient" in ig.profiles
    assert EX + "test-patient-derived" in ig.profiles
    warned = [w for w in builder.warnings if "StructureDefinition-nameless.json" in w]
    assert warned and "without name" in warned[0], builder.warnings
    assert not any("StructureDefinition-patient-base.json" in w for w in builder.warnings)


def test_broken_chain_in_a_loose_folder_names_the_profiles(tmp_path: Path) -> None:
    """``igtools snapshot`` on a folder whose profiles derive from each other in a circle,
    or from a profile nobody defines: each is a warning naming its file and the chain; the
    others are written."""
    source = tmp_path / "resources"
    source.mkdir()
    for name in ("cycle-a", "cycle-b", "patient-derived", "observation"):
        (source / f"StructureDefinition-{name}.json").write_text(
            (FIXTURES / f"{name}.json").read_text()
        )
    out = tmp_path / "out"
    result = _snapshot_cli(tmp_path, source, out)
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    cycle = [line for line in lines if "StructureDefinition-cycle-a.json" in line]
    assert cycle and "circular baseDefinition chain" in cycle[0], result.stderr
    assert "cycle-a" in cycle[0] and "cycle-b" in cycle[0]
    broken = [line for line in lines if "StructureDefinition-patient-derived.json" in line]
    assert broken and "test-patient not found (base of" in broken[0], result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["StructureDefinition-test-observation.json"]


def test_logical_model_on_base(core_index: ResourceIndex) -> None:
    snap = _generator(core_index, "logical").snapshot_elements(EX + "test-logical")
    assert [e["id"] for e in snap] == [
        "test-logical",
        "test-logical.dose",
        "test-logical.timing",
        "test-logical.timing.hour",
    ]
    root, dose = snap[0], snap[1]
    assert root["short"] == "A dosage" and root["base"] == {"path": "Base", "min": 0, "max": "*"}
    assert dose["base"] == {"path": "test-logical.dose", "min": 1, "max": "1"}


def test_cardinality_wider_than_the_base_is_reported(core_index: ResourceIndex) -> None:
    derived = _sd("patient-derived")
    derived["differential"]["element"] = [
        {"id": "Patient.identifier", "path": "Patient.identifier", "min": 0},
        {"id": "Patient.gender", "path": "Patient.gender", "max": "*"},
        *derived["differential"]["element"][:2],  # no required slice
    ]
    gen = _generator(core_index, "patient-base")
    gen.add(derived)
    snap = _by_id(gen.snapshot_elements(EX + "test-patient-derived"))
    assert snap["Patient.identifier"]["min"] == 0  # written as stated, and reported
    assert gen.problems == [
        f"StructureDefinition {EX}test-patient-derived: Patient.identifier: "
        "min 0 is below the base's 1",
        f"StructureDefinition {EX}test-patient-derived: Patient.gender: "
        "max * is above the base's 1",
    ]


def test_unknown_type_is_named(core_index: ResourceIndex) -> None:
    sd = _sd("observation")
    sd["differential"]["element"] = [
        {"id": "Observation.code", "path": "Observation.code", "type": [{"code": "Nothing"}]},
        {"id": "Observation.code.text", "path": "Observation.code.text", "min": 1},
    ]
    gen = SnapshotGenerator(core_index)
    gen.add(sd)
    with pytest.raises(
        SnapshotGenerationError,
        match=r"StructureDefinition/Nothing not found \(type of Observation.code.text in ",
    ):
        gen.snapshot_elements(EX + "test-observation")


def test_inherited_content_references_name_the_type_and_ids_are_typed_id(
    core_index: ResourceIndex,
) -> None:
    """As the IG Publisher writes them: an inherited ``#Observation.referenceRange``
    names its definition, a content reference stated by a differential over an inherited
    element is not taken, and the resource's ``id`` has the FHIR type ``id``
    (``fixTypeOfResourceId``)."""
    diff = [
        {"id": "Observation", "path": "Observation"},
        {"id": "Observation.status", "path": "Observation.status", "mustSupport": True},
        {
            "id": "Observation.component.value[x]",
            "path": "Observation.component.value[x]",
            "contentReference": "#Observation.value[x]",
        },
    ]
    gen = SnapshotGenerator(core_index)
    gen.add(
        _profile(
            "obs-cr",
            "http://hl7.org/fhir/StructureDefinition/vitalsigns",
            "resource",
            "Observation",
            diff,
        )
    )
    by_id = _by_id(gen.snapshot_elements(EX + "obs-cr"))
    ref = by_id["Observation.component.referenceRange"]["contentReference"]
    assert ref == "http://hl7.org/fhir/StructureDefinition/Observation#Observation.referenceRange"
    assert "contentReference" not in by_id["Observation.component.value[x]"]
    (id_type,) = by_id["Observation.id"]["type"]
    assert id_type["code"] == "http://hl7.org/fhirpath/System.String"
    assert id_type["extension"] == [
        {
            "url": "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type",
            "valueUrl": "id",
        }
    ]
    # a data type's id stays a string
    (el_type,) = by_id["Observation.component.id"]["type"]
    assert el_type["extension"][0]["valueUrl"] == "string"


def test_constraint_sources_and_the_root_status_as_the_publisher_writes_them(
    core_index: ResourceIndex,
) -> None:
    """A constraint that names no source gets the definition it is read from (ext-1 on the
    root of Extension), the root does not inherit the base's standards status, and with
    versions pinned the sources are versioned too (the profile's own with its version)."""
    diff = [
        {"id": "Extension", "path": "Extension", "short": "A flag"},
        {
            "id": "Extension.value[x]",
            "path": "Extension.value[x]",
            "type": [{"code": "boolean"}],
            "constraint": [
                {"key": "flg-1", "severity": "error", "human": "h", "expression": "true"}
            ],
        },
    ]
    sd = _profile(
        "flag",
        "http://hl7.org/fhir/StructureDefinition/Extension",
        "complex-type",
        "Extension",
        diff,
    )
    sd["version"] = "1.2.3"
    for pin, ext_source, own_source in (
        (False, "http://hl7.org/fhir/StructureDefinition/Extension", EX + "flag"),
        (True, "http://hl7.org/fhir/StructureDefinition/Extension|4.0.1", EX + "flag|1.2.3"),
    ):
        gen = SnapshotGenerator(core_index, pin_core_versions=pin)
        gen.add(sd)
        by_id = _by_id(gen.snapshot_elements(EX + "flag"))
        root = by_id["Extension"]
        sources = {c["key"]: c["source"] for c in root["constraint"]}
        assert sources["ext-1"] == ext_source
        assert "extension" not in root  # no standards-status / normative-version
        value = {c["key"]: c["source"] for c in by_id["Extension.value[x]"]["constraint"]}
        assert value["flg-1"] == own_source
