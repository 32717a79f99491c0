"""Value set expansion without a terminology server, on a small package of our own:
whole code systems, filters, exclude, include.valueSet, open systems, a package's own
expansion, ``|version`` look-ups."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from igtools.ir.build import IRBuilder
from igtools.ir.terminology import Terminology
from igtools.packages import PackageLoader, Settings

BASE = "http://example.org/fhir/tx"
COLOUR = "http://example.org/cs/colour"
FRAG = "http://example.org/cs/fragment"
ABSENT = "http://example.org/cs/absent"
EMPTY = "http://example.org/cs/empty"


def _cs(cid: str, url: str, content: str, concepts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "CodeSystem",
        "id": cid,
        "url": url,
        "version": "1.0",
        "name": cid,
        "status": "active",
        "content": content,
        "concept": concepts,
    }


def _vs(vid: str, **body: Any) -> dict[str, Any]:
    return {
        "resourceType": "ValueSet",
        "id": vid,
        "url": f"{BASE}/ValueSet/{vid}",
        "version": "1.0",
        "name": vid,
        "status": "active",
        **body,
    }


def _inc(system: str | None = None, **more: Any) -> dict[str, Any]:
    return {"include": [{**({"system": system} if system else {}), **more}]}


def _el(path: str, typ: list[str], lo: int, hi: str, **more: Any) -> dict[str, Any]:
    return {
        "id": path,
        "path": path,
        "min": lo,
        "max": hi,
        "base": {"path": path, "min": 0, "max": hi},
        "type": [{"code": t} for t in typ],
        **more,
    }


def _bind(strength: str, vid: str) -> dict[str, Any]:
    return {"binding": {"strength": strength, "valueSet": f"{BASE}/ValueSet/{vid}"}}


PROFILE = f"{BASE}/StructureDefinition/bind-observation"


def resources() -> list[dict[str, Any]]:
    colour = _cs(
        "colour",
        COLOUR,
        "complete",
        [
            {
                "code": "red",
                "display": "Red",
                "property": [{"code": "warm", "valueBoolean": True}],
                "concept": [{"code": "dark-red", "display": "Dark red"}],
            },
            {"code": "blue", "display": "Blue"},
            {"code": "navy", "property": [{"code": "parent", "valueCode": "blue"}]},
        ],
    )
    frag = _cs("fragment", FRAG, "fragment", [{"code": "a"}])
    empty = _cs("empty", EMPTY, "complete", [])  # "complete" without a concept: says nothing
    value_sets = [
        _vs("all-colours", compose=_inc(COLOUR)),
        _vs(
            "warm",
            compose=_inc(COLOUR, filter=[{"property": "concept", "op": "is-a", "value": "red"}]),
        ),
        _vs(
            "below-red",
            compose=_inc(
                COLOUR, filter=[{"property": "concept", "op": "descendent-of", "value": "red"}]
            ),
        ),
        _vs(
            "blues",
            compose=_inc(COLOUR, filter=[{"property": "concept", "op": "is-a", "value": "blue"}]),
        ),
        _vs(
            "warm-prop",
            compose=_inc(COLOUR, filter=[{"property": "warm", "op": "=", "value": "true"}]),
        ),
        _vs(
            "no-red",
            compose={
                "include": [{"system": COLOUR}],
                "exclude": [{"system": COLOUR, "concept": [{"code": "red"}]}],
            },
        ),
        _vs("unknown-cs", compose=_inc(ABSENT)),
        _vs(
            "mixed",
            compose={
                "include": [{"system": COLOUR, "concept": [{"code": "blue"}]}, {"system": ABSENT}]
            },
        ),
        _vs("unknown-vs", compose=_inc(valueSet=["http://example.org/vs/absent"])),
        _vs(
            "warm-again",
            compose=_inc(valueSet=[f"{BASE}/ValueSet/all-colours", f"{BASE}/ValueSet/warm"]),
        ),
        _vs("fragment", compose=_inc(FRAG)),
        _vs("empty-cs", compose=_inc(EMPTY)),
        _vs(
            "regex",
            compose=_inc(COLOUR, filter=[{"property": "concept", "op": "regex", "value": "d.*"}]),
        ),
        _vs(
            "odd-filter",
            compose=_inc(
                COLOUR, filter=[{"property": "concept", "op": "child-of", "value": "red"}]
            ),
        ),
        _vs(
            "expanded",
            expansion={
                "timestamp": "2024-01-01",
                "contains": [
                    {"system": "http://example.org/cs/x", "code": "1"},
                    {"system": "http://example.org/cs/x", "code": "2"},
                ],
            },
        ),
    ]
    profile = {
        "resourceType": "StructureDefinition",
        "id": "bind-observation",
        "url": PROFILE,
        "version": "1.0",
        "name": "BindObservation",
        "status": "active",
        "fhirVersion": "4.0.1",
        "kind": "resource",
        "abstract": False,
        "type": "Observation",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Observation",
        "derivation": "constraint",
        "snapshot": {
            "element": [
                {
                    "id": "Observation",
                    "path": "Observation",
                    "min": 0,
                    "max": "*",
                    "base": {"path": "Observation", "min": 0, "max": "*"},
                },
                _el("Observation.status", ["code"], 1, "1"),
                _el(
                    "Observation.code",
                    ["CodeableConcept"],
                    1,
                    "1",
                    **_bind("required", "all-colours"),
                ),
                _el(
                    "Observation.method", ["CodeableConcept"], 0, "1", **_bind("required", "mixed")
                ),
                _el(
                    "Observation.bodySite",
                    ["CodeableConcept"],
                    0,
                    "1",
                    **_bind("extensible", "warm"),
                ),
                _el(
                    "Observation.interpretation",
                    ["CodeableConcept"],
                    0,
                    "*",
                    **_bind("required", "unknown-vs"),
                ),
                _el(
                    "Observation.dataAbsentReason",
                    ["CodeableConcept"],
                    0,
                    "1",
                    **_bind("required", "unknown-cs"),
                ),
                {
                    **_el(
                        "Observation.value[x]",
                        ["Quantity", "CodeableConcept"],
                        0,
                        "1",
                        **_bind("required", "no-red"),
                    ),
                    "base": {"path": "Observation.value[x]", "min": 0, "max": "1"},
                },
            ]
        },
    }
    return [colour, frag, empty, *value_sets, profile]


def write_package(folder: Path) -> Path:
    """A package folder (no dependencies) with the resources above."""
    pkg = folder / "tx-fixture" / "package"
    pkg.mkdir(parents=True)
    manifest = {
        "name": "example.tx",
        "version": "1.0.0",
        "fhirVersions": ["4.0.1"],
        "canonical": BASE,
        "dependencies": {},
    }
    (pkg / "package.json").write_text(json.dumps(manifest), encoding="utf-8")
    for r in resources():
        name = f"{r['resourceType']}-{r['id']}.json"
        (pkg / name).write_text(json.dumps(r), encoding="utf-8")
    return pkg.parent


@pytest.fixture
def tx(tmp_path: Path) -> Terminology:
    folder = write_package(tmp_path)
    pset = PackageLoader(Settings(cache_dir=tmp_path / "c", offline=True)).load(str(folder))
    return IRBuilder(pset).terminology


def _codes(tx: Terminology, vid: str) -> set[tuple[str | None, str]]:
    vs = tx.value_set(f"{BASE}/ValueSet/{vid}")
    assert vs is not None and vs.codes is not None
    return {(c.system, c.code) for c in vs.codes}


def _c(*codes: str) -> set[tuple[str | None, str]]:
    return {(COLOUR, c) for c in codes}


def test_whole_code_system(tx: Terminology) -> None:
    assert _codes(tx, "all-colours") == _c("red", "dark-red", "blue", "navy")
    vs = tx.value_set(f"{BASE}/ValueSet/all-colours")
    assert vs is not None and vs.complete and vs.open_systems == []


def test_filters(tx: Terminology) -> None:
    assert _codes(tx, "warm") == _c("red", "dark-red")
    assert _codes(tx, "below-red") == _c("dark-red")
    assert _codes(tx, "blues") == _c("blue", "navy")  # a parent property is a hierarchy too
    assert _codes(tx, "warm-prop") == _c("red")
    assert _codes(tx, "regex") == _c("dark-red")


def test_exclude_and_include_value_set(tx: Terminology) -> None:
    assert _codes(tx, "no-red") == _c("dark-red", "blue", "navy")
    assert _codes(tx, "warm-again") == _c("red", "dark-red")
    vs = tx.value_set(f"{BASE}/ValueSet/warm-again")
    assert vs is not None and vs.complete


def test_what_cannot_be_expanded_is_open_never_narrowed(tx: Terminology) -> None:
    unknown = tx.value_set(f"{BASE}/ValueSet/unknown-cs")
    assert unknown is not None and not unknown.complete
    assert unknown.open_systems == [ABSENT] and unknown.codes == []
    assert unknown.note is not None and ABSENT in unknown.note
    mixed = tx.value_set(f"{BASE}/ValueSet/mixed")
    assert mixed is not None and mixed.open_systems == [ABSENT] and not mixed.complete
    assert {c.code for c in mixed.codes or []} == {"blue"}
    frag = tx.value_set(f"{BASE}/ValueSet/fragment")
    assert frag is not None and frag.open_systems == [FRAG]
    assert frag.note is not None and "fragment" in frag.note
    empty = tx.value_set(f"{BASE}/ValueSet/empty-cs")
    assert empty is not None and empty.open_systems == [EMPTY] and not empty.complete
    odd = tx.value_set(f"{BASE}/ValueSet/odd-filter")
    assert odd is not None and odd.open_systems == [COLOUR] and odd.codes == []
    unbounded = tx.value_set(f"{BASE}/ValueSet/unknown-vs")
    assert unbounded is not None and unbounded.codes is None and unbounded.open_systems is None


def test_package_expansion_used_as_is(tx: Terminology) -> None:
    assert _codes(tx, "expanded") == {
        ("http://example.org/cs/x", "1"),
        ("http://example.org/cs/x", "2"),
    }


def test_versions_and_cache(tx: Terminology) -> None:
    url = f"{BASE}/ValueSet/warm"
    a = tx.value_set(url + "|1.0")
    b = tx.value_set(url + "|9.9")  # another version is better than none
    assert a is not None and b is not None and a.codes == b.codes
    assert tx.value_set(url) is tx.value_set(url)
    assert tx.value_set("http://example.org/vs/nowhere") is None


def test_any_profile_of_the_package_set_is_bound(tmp_path: Path) -> None:
    """Dependency profiles (here FR Core's and the core's, for FR Core 2.2.0 with
    hl7.terminology) get their bindings expanded as the root package's do."""
    from tests.conftest import shared_path

    packages = shared_path("fhir-packages")
    settings = Settings(
        cache_dir=tmp_path / "c",
        package_dirs=[packages],
        offline=True,
        substitutes={
            "hl7.terminology.r4": "7.0.1",
            "hl7.fhir.uv.extensions.r4": "5.3.0-ballot-tc1",
        },
    )
    pset = PackageLoader(settings).load("hl7.fhir.fr.core#2.2.0")
    builder = IRBuilder(pset)
    patient = builder.profile("http://hl7.org/fhir/StructureDefinition/Patient")
    assert patient is not None
    gender = patient.element("Patient.gender")
    assert gender is not None and gender.binding is not None and gender.binding.complete
    assert {c.code for c in gender.binding.codes or []} == {"male", "female", "other", "unknown"}
    # a value set of hl7.terminology, by canonical URL with its version
    vs = builder.terminology.value_set(
        "http://terminology.hl7.org/ValueSet/v3-ActEncounterCode|2014-03-26"
    )
    assert vs is not None and vs.complete and "AMB" in {c.code for c in vs.codes or []}
    # FR Core's INSEE value set: its one code system is not loaded, so it stays open
    insee = builder.terminology.value_set(
        "https://hl7.fr/ig/fhir/core/ValueSet/fr-core-vs-insee-code"
    )
    assert insee is not None and insee.codes == [] and not insee.complete
    assert insee.open_systems == [
        "https://mos.esante.gouv.fr/NOS/TRE_R13-CommuneOM/FHIR/TRE-R13-CommuneOM"
    ]
