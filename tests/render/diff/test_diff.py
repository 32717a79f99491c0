"""`igtools diff`: a crafted change set on the fixture IG (exact), and SAS 1.1.0 -> 1.2.0
against facts read independently from the raw packages."""

from __future__ import annotations

import json
import re
import shutil
import tarfile
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from igtools.cli import cli
from igtools.ir import build_ir
from igtools.packages import PackageLoader, Settings
from igtools.render.diff.compare import compare
from tests.conftest import shared_path
from tests.golden import FIXTURE


def _load(path: Path, cache: Path) -> Any:
    return build_ir(PackageLoader(Settings(cache_dir=cache, offline=True)).load(str(path)))


def _edit(path: Path, fn: Any) -> None:
    data = json.loads(path.read_text())
    fn(data)
    path.write_text(json.dumps(data, indent=2))


def test_crafted_changes(tmp_path: Path) -> None:
    new = tmp_path / "new"
    shutil.copytree(FIXTURE, new)
    pkg = new / "package"

    def tighten(sd: dict[str, Any]) -> None:
        for el in sd["snapshot"]["element"]:
            if el["id"] == "Patient.birthDate":
                el["min"] = 1
            if el["id"] == "Patient":
                el["constraint"] = [c for c in el.get("constraint", []) if c["key"] != "mini-pat-1"]

    _edit(pkg / "StructureDefinition-mini-patient.json", tighten)

    def no_search(cs: dict[str, Any]) -> None:
        for r in cs["rest"][0]["resource"]:
            if r["type"] == "Patient":
                r["interaction"] = [i for i in r["interaction"] if i["code"] != "search-type"]

    _edit(pkg / "CapabilityStatement-mini-server.json", no_search)
    vs = json.loads((pkg / "ValueSet-mini-score-type.json").read_text())
    vs.update(
        id="mini-extra", url="http://example.org/fhir/mini/ValueSet/mini-extra", name="MiniExtra"
    )
    (pkg / "ValueSet-mini-extra.json").write_text(json.dumps(vs))

    report = compare(_load(FIXTURE, tmp_path / "c"), _load(new, tmp_path / "c"))
    got = {
        (c.kind, c.artefact, c.path, c.detail.split(" ")[0], c.producer, c.consumer)
        for c in report.changes
    }
    assert got == {
        ("changed", "StructureDefinition MiniPatient", "Patient.birthDate", "min", True, False),
        ("removed", "StructureDefinition MiniPatient", "Patient", "invariant", False, True),
        (
            "changed",
            "CapabilityStatement mini-server",
            "server Patient",
            "interactions",
            False,
            True,
        ),
        (
            "added",
            "ValueSet MiniExtra",
            "",
            "http://example.org/fhir/mini/ValueSet/mini-extra",
            False,
            False,
        ),
    }, got


def _raw(version: str) -> dict[str, dict[str, Any]]:
    tgz = shared_path("fhir-packages", f"ans.fhir.fr.sas-{version}.tgz")
    out = {}
    with tarfile.open(tgz) as tf:
        for m in tf:
            parts = m.name.split("/")
            if (
                len(parts) == 2
                and m.name.endswith(".json")
                and parts[1] != "package.json"
                and not parts[1].startswith(".")
            ):
                fh = tf.extractfile(m)
                assert fh is not None
                res = json.load(fh)
                if "url" in res:
                    out[res["url"]] = res
    return out


def test_sas_1_1_to_1_2(tmp_path: Path) -> None:
    old_raw, new_raw = _raw("1.1.0"), _raw("1.2.0")
    old = _load(shared_path("fhir-packages", "ans.fhir.fr.sas-1.1.0.tgz"), tmp_path / "c")
    new = _load(shared_path("fhir-packages", "ans.fhir.fr.sas-1.2.0.tgz"), tmp_path / "c")
    report = compare(old, new)
    # oracle 1: artefacts added and removed, from the raw package listings
    kinds = (
        "StructureDefinition",
        "ValueSet",
        "CodeSystem",
        "SearchParameter",
        "CapabilityStatement",
    )
    expected_added = {
        u for u, r in new_raw.items() if u not in old_raw and r["resourceType"] in kinds
    }
    expected_removed = {
        u for u, r in old_raw.items() if u not in new_raw and r["resourceType"] in kinds
    }
    assert {c.detail for c in report.changes if c.kind == "added" and not c.path} == expected_added
    assert {
        c.detail for c in report.changes if c.kind == "removed" and not c.path
    } == expected_removed
    assert not [c for c in report.changes if c.kind == "renamed"]

    # oracle 2: element facts read from the raw snapshots
    def el(raw: dict[str, Any], url: str, eid: str) -> dict[str, Any]:
        return next(e for e in raw[url]["snapshot"]["element"] if e["id"] == eid)

    appt = "http://sas.fr/fhir/StructureDefinition/FrAppointmentSAS"
    assert not el(old_raw, appt, "Appointment.created").get("mustSupport")
    assert el(new_raw, appt, "Appointment.created").get("mustSupport") is True
    ms = [
        c
        for c in report.changes
        if c.path == "Appointment.created" and c.artefact.split()[-1] == "FrAppointmentSAS"
    ]
    assert [(c.detail, c.producer, c.consumer) for c in ms] == [
        ("mustSupport False -> True", True, False)
    ]
    old_vs = el(old_raw, appt, "Appointment.participant.status")["binding"]["valueSet"]
    new_vs = el(new_raw, appt, "Appointment.participant.status")["binding"]["valueSet"]
    assert old_vs != new_vs
    assert any(
        c.path == "Appointment.participant.status"
        and c.detail.startswith("binding")
        and new_vs in c.detail
        for c in report.changes
    )
    # nothing spurious: a version pin alone (url -> url|4.0.1) is not a change
    for c in report.changes:
        if " -> " in c.detail and c.detail.startswith(("binding", "target")):
            before, after = c.detail.split(" -> ", 1)
            assert re.sub(r"\|[0-9.]+", "", before.split(" ", 1)[1]) != re.sub(
                r"\|[0-9.]+", "", after
            ), c.detail
    # oracle 3: the complete list, written by comparing the two packages' JSON by hand
    # (snapshot min/max, types, targets, fixed/pattern, bindings, mustSupport, constraint
    # keys, slicing of every profile; value set composes; code system concepts; search
    # parameters; capability interactions/params/includes/profiles). Deliberately not
    # changes: CategorieEtablissementSAS lost a code's display only (same codes), and the
    # SOS statements' `_has` lost its definition link (to a core SearchParameter that
    # does not exist) while keeping its wire name.
    sas = "https://interop.esante.gouv.fr/ig/fhir/sas/"
    oracle = (
        {("added", "StructureDefinition CategorieOrientation", "", False, False)}
        | {
            ("added", f"ValueSet {n}", "", False, False)
            for n in (
                "CategorieOrientationSASValueSet",
                "AppointmentParticipantTypeSAS",
                "ParticipantStatusSAS",
            )
        }
        | {
            ("added", "CodeSystem CategorieOrientationSASCodeSystem", "", False, False),
            ("removed", "ValueSet ParticipantStatusSASSOS", "", True, True),
            ("changed", "StructureDefinition FrAppointmentSAS", "Appointment.created", True, False),
            (
                "changed",
                "StructureDefinition FrAppointmentSASSOS",
                "Appointment.created",
                True,
                False,
            ),
            # pattern 'accepted' dropped (consumers) and binding to the IG's own value set
            (
                "changed",
                "StructureDefinition FrAppointmentSAS",
                "Appointment.participant.status",
                False,
                True,
            ),
            (
                "changed",
                "StructureDefinition FrAppointmentSAS",
                "Appointment.participant.status",
                True,
                True,
            ),
            (
                "changed",
                "StructureDefinition FrAppointmentSASSOS",
                "Appointment.participant.status",
                True,
                True,
            ),
            # IDNST's system moved to FR Core's code system
            (
                "changed",
                "StructureDefinition FrOrganizationAgregateurCPTS",
                "Organization.identifier.type",
                True,
                True,
            ),
        }
    )
    got = [(c.kind, c.artefact, c.path, c.producer, c.consumer) for c in report.changes]
    assert len(got) == 12 and set(got) == oracle, got
    details = {(c.artefact.split()[-1], c.path): c.detail for c in report.changes if c.path}
    assert details[("FrAppointmentSASSOS", "Appointment.participant.status")] == (
        f"binding required {sas}ValueSet/sas-sos-valueset-participant-status -> "
        f"required {sas}ValueSet/sas-valueset-participant-status"
    )
    assert (
        "fr-core-cs-v2-0203"
        in details[("FrOrganizationAgregateurCPTS", "Organization.identifier.type")]
    )


def test_cli_markdown_and_json(tmp_path: Path) -> None:
    a = shared_path("fhir-packages", "ans.fhir.fr.sas-1.1.0.tgz")
    b = shared_path("fhir-packages", "ans.fhir.fr.sas-1.2.0.tgz")
    args = ["--offline", "-q", "--cache-dir", str(tmp_path / "c"), "diff", str(a), str(b)]
    md = CliRunner().invoke(cli, args)
    assert md.exit_code == 0, md.output
    assert md.stdout.startswith("# ans.fhir.fr.sas#1.1.0 → ans.fhir.fr.sas#1.2.0")
    assert "| changed | `Appointment.created` | mustSupport False -> True | ✗ |" in md.stdout
    js = CliRunner().invoke(cli, [*args, "--format", "json"])
    data = json.loads(js.stdout)
    assert data["old"] == "ans.fhir.fr.sas#1.1.0" and len(data["changes"]) > 5
    assert {"kind", "artefact", "path", "detail", "producer", "consumer", "reason"} <= set(
        data["changes"][0]
    )
