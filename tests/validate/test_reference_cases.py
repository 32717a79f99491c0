"""Behaviours of the HL7 reference validator seen on its own R4 test cases
(FHIR/fhir-test-cases, ``validator/``), each reproduced here on a small hand-written
fixture: the fullUrl RESTful rule, code lists of whole-system value sets, type slicing
on ``resolve()``, reference targets, FHIRPath ``matches()`` and Identifier values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from igtools.runtime.bundles import bundle_issues, bundle_resolver, is_restful
from igtools.validate.validator import Validator
from tests.conftest import shared_path
from tests.validate.conftest import folder_validator

OBS = {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"}}


def _collection(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": list(entries)}


# ------------------------------------------------------------------ 1. fullUrl RESTful rule


def test_restful_fullurl_needs_a_resource_type() -> None:
    assert is_restful("http://example.org/fhir/Observation/o1")
    assert is_restful("http://example.org/fhir/Observation/o1/_history/2")
    assert is_restful("Observation/o1")
    # a segment that is not an R4 resource type: just an absolute URL
    assert not is_restful("http://example.org/fhir/Obsrvation/o1")
    assert not is_restful("http://example.org/fhir/Thing/o1")


def test_fullurl_with_a_type_that_is_not_a_resource_is_not_judged_restful() -> None:
    typo = _collection({"fullUrl": "http://example.org/fhir/Obsrvation/o2", "resource": OBS})
    assert bundle_issues(typo) == []
    # the same URL with a real resource type must end with the entry's type and id
    real = _collection({"fullUrl": "http://example.org/fhir/Observation/o2", "resource": OBS})
    assert [msg[-35:] for _, msg, _ in bundle_issues(real)] == [
        "th the resource type and id (Observation/o1)"[-35:]
    ]
    # and a relative reference is not resolved against a fullUrl that is not RESTful
    assert bundle_resolver(typo)("Obsrvation/o2") is None
    assert bundle_resolver(real)("Observation/o2") == "Observation"


# ------------------------------------------------------------------ a package set of our own

BASE = "http://hl7.org/fhir/StructureDefinition/"
EX = "http://example.org/fhir/refcases/"


def _profile(name: str, rtype: str, elements: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "StructureDefinition",
        "id": name,
        "url": f"{EX}StructureDefinition/{name}",
        "name": name.title().replace("-", ""),
        "status": "draft",
        "fhirVersion": "4.0.1",
        "kind": "resource",
        "abstract": False,
        "type": rtype,
        "baseDefinition": BASE + rtype,
        "derivation": "constraint",
        "differential": {"element": [{"id": e["path"], **e} for e in elements]},
    }


def _slice(name: str, target: str) -> list[dict[str, Any]]:
    return [
        {"id": f"List.entry:{name}", "path": "List.entry", "sliceName": name, "min": 1, "max": "1"},
        {
            "id": f"List.entry:{name}.item",
            "path": "List.entry.item",
            "type": [{"code": "Reference", "targetProfile": [BASE + target]}],
        },
    ]


RESOURCES: dict[str, dict[str, Any]] = {
    # a list whose entries are told apart by the type of what their item resolves to
    "list-typed": _profile(
        "list-typed",
        "List",
        [
            {
                "path": "List.entry",
                "slicing": {
                    "discriminator": [{"type": "type", "path": "item.resolve()"}],
                    "rules": "closed",
                },
            },
            *_slice("cond", "Condition"),
            *_slice("obs", "Observation"),
        ],
    ),
    # a subject restricted to two types
    "obs-subject": _profile(
        "obs-subject",
        "Observation",
        [
            {
                "path": "Observation.subject",
                "type": [
                    {"code": "Reference", "targetProfile": [BASE + "Patient", BASE + "Location"]}
                ],
            }
        ],
    ),
    # a required binding to a value set that cannot be expanded (a code system the
    # package set lacks): the base definition's codes still bound Observation.status
    "obs-open-status": _profile(
        "obs-open-status",
        "Observation",
        [
            {
                "path": "Observation.status",
                "binding": {"strength": "required", "valueSet": f"{EX}ValueSet/open-status"},
            }
        ],
    ),
    # a resource of the package set: references to it resolve
    "known-group": {"resourceType": "Group", "id": "known-group", "type": "person", "actual": True},
    "open-status": {
        "resourceType": "ValueSet",
        "id": "open-status",
        "url": f"{EX}ValueSet/open-status",
        "status": "draft",
        "compose": {"include": [{"system": f"{EX}CodeSystem/absent"}]},
    },
}

SUSHI = """id: example.refcases
canonical: http://example.org/fhir/refcases
name: RefCases
status: draft
version: 0.1.0
fhirVersion: 4.0.1
dependencies:
  hl7.fhir.r4.core: 4.0.1
"""


@pytest.fixture(scope="module")
def validator(tmp_path_factory: pytest.TempPathFactory, corpus_cache: Path) -> Validator:
    packages = shared_path("fhir-packages")
    if not (packages / "hl7.fhir.r4.core-4.0.1.tgz").is_file():
        pytest.skip(f"{packages}/hl7.fhir.r4.core-4.0.1.tgz absent")
    folder = tmp_path_factory.mktemp("refcases")
    (folder / "sushi-config.yaml").write_text(SUSHI, encoding="utf-8")
    for rid, res in RESOURCES.items():
        name = f"{res['resourceType']}-{rid}.json"
        (folder / name).write_text(json.dumps(res), encoding="utf-8")
    return folder_validator(folder, corpus_cache)


def _errors(v: Validator, data: dict[str, Any], profile: str | None = None) -> list[str]:
    url = f"{EX}StructureDefinition/{profile}" if profile else None
    return [str(i) for i in v.validate_resource(data, url) if i.severity in ("error", "fatal")]


# ------------------------------------------------------------------ 2. whole-system code lists


def test_core_code_lists_are_the_cores_value_sets() -> None:
    from igtools.ir.terminology import core_code_list

    # bound to mime types (all of urn:ietf:bcp:13): no list can judge them
    assert core_code_list("CapabilityStatement.format") is None
    assert core_code_list("Attachment.contentType") is None
    # complete lists, not the short descriptions' ("registered | ... | amended +")
    status = core_code_list("Observation.status")
    assert status is not None and "+" not in status
    assert {"corrected", "cancelled", "entered-in-error", "unknown"} <= set(status)
    assert core_code_list("Questionnaire.item.type") is not None
    assert "open-choice" in (core_code_list("Questionnaire.item.type") or ())
    assert core_code_list("Bundle.entry.search.mode") == ("match", "include", "outcome")


@pytest.mark.shared
def test_required_code_table_regenerates_identically() -> None:
    from igtools.data import make_r4_codes

    tgz = shared_path("fhir-packages", "hl7.fhir.r4.core-4.0.1.tgz")
    if not tgz.is_file():
        pytest.skip(f"{tgz} absent")
    committed = Path(make_r4_codes.OUT).read_text(encoding="utf-8")
    assert make_r4_codes.dump(make_r4_codes.build(tgz)) == committed


@pytest.mark.shared
def test_mime_type_codes_are_not_judged(validator: Validator) -> None:
    cap = {
        "resourceType": "CapabilityStatement",
        "status": "draft",
        "date": "2024-01-01",
        "kind": "instance",
        "fhirVersion": "4.0.1",
        "implementation": {"description": "a server"},
        "format": ["xml", "json", "application/fhir+json", "text/turtle"],
        "rest": [{"mode": "server"}],
    }
    assert _errors(validator, cap) == []


@pytest.mark.shared
def test_unexpandable_binding_falls_back_to_the_base_codes(validator: Validator) -> None:
    obs = {**OBS, "status": "corrected"}
    assert _errors(validator, obs, "obs-open-status") == []
    errors = _errors(validator, {**OBS, "status": "bogus"}, "obs-open-status")
    assert any(e.startswith("Observation.status") for e in errors), errors


# ------------------------------------------------------------------ 3. type slicing on resolve()

CONDITION = {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"}}


def _list(*items: str, contained: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"resourceType": "List", "status": "current", "mode": "working"}
    if contained:
        out["contained"] = contained
    out["entry"] = [{"item": {"reference": i}} for i in items]
    return out


@pytest.mark.shared
def test_type_slices_on_resolve_of_contained_references(validator: Validator) -> None:
    good = _list("#c1", "#o1", contained=[CONDITION, OBS])
    assert _errors(validator, good, "list-typed") == []
    # two Conditions: one too many in one slice, none in the other
    bad = _list("#c1", "#c2", contained=[CONDITION, {**CONDITION, "id": "c2"}])
    errors = _errors(validator, bad, "list-typed")
    assert len(errors) == 2, errors
    assert any("List.entry:cond" in e and "found 2" in e for e in errors), errors
    assert any("List.entry:obs" in e and "found 0" in e for e in errors), errors


@pytest.mark.shared
def test_type_slices_on_resolve_of_urls_and_bundle_entries(validator: Validator) -> None:
    # not resolvable: the type the URL names
    assert _errors(validator, _list("Condition/x", "Observation/y"), "list-typed") == []
    errors = _errors(validator, _list("Condition/x", "Patient/y"), "list-typed")
    assert any("matches no slice" in e for e in errors), errors
    # inside a Bundle: the entry the reference names (a urn:uuid: says no type itself)
    lst = {
        **_list("urn:uuid:7c1a4c52-1c8b-4c38-9a1e-3e0c0b8f5a01", "Observation/o1"),
        "id": "l1",
        "meta": {"profile": [f"{EX}StructureDefinition/list-typed"]},
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "http://example.org/fhir/List/l1", "resource": lst},
            {
                "fullUrl": "urn:uuid:7c1a4c52-1c8b-4c38-9a1e-3e0c0b8f5a01",
                "resource": CONDITION,
            },
            {"fullUrl": "http://example.org/fhir/Observation/o1", "resource": OBS},
        ],
    }
    assert _errors(validator, bundle) == []
    bundle["entry"][1]["resource"] = {"resourceType": "Patient", "id": "p"}
    errors = _errors(validator, bundle)
    assert any(e.startswith("Bundle.entry[0].resource.entry[0]") for e in errors), errors


# ------------------------------------------------------------------ 4. unresolvable reference type


@pytest.mark.shared
def test_type_named_by_an_unresolvable_reference_is_not_checked(validator: Validator) -> None:
    """As the reference validator by default: only a reference that resolves has its
    target's type checked (an unresolvable one only under assumeValidRestReferences)."""
    from igtools.runtime.validation import validate

    obs = {**OBS, "subject": {"reference": "Group/12345"}}
    assert _errors(validator, obs, "obs-subject") == []
    absolute = {**OBS, "subject": {"reference": "http://example.org/fhir/Group/1"}}
    assert _errors(validator, absolute, "obs-subject") == []
    rules = validator.resolve_profile(f"{EX}StructureDefinition/obs-subject")
    assert validate(obs, rules, known=lambda rtype, rid: False) == []
    # the same reference once it resolves (known: the resource exists)
    issues = validate(obs, rules, known=lambda rtype, rid: (rtype, rid) == ("Group", "12345"))
    assert [i.location for i in issues] == ["Observation.subject.reference"]
    assert "reference to Group not allowed" in issues[0].message
    # through the validator: a reference to a resource of the package set resolves
    resolved = {**OBS, "subject": {"reference": "Group/known-group"}}
    errors = _errors(validator, resolved, "obs-subject")
    assert any("reference to Group not allowed" in e for e in errors), errors
    # without ``known`` (generated models) the URL is taken at its word
    assert [i.location for i in validate(obs, rules)] == ["Observation.subject.reference"]
    # a contained Group resolves
    contained = {
        **OBS,
        "contained": [{"resourceType": "Group", "id": "g", "type": "person", "actual": True}],
        "subject": {"reference": "#g"},
    }
    errors = _errors(validator, contained, "obs-subject")
    assert any("reference to Group not allowed" in e for e in errors), errors


# ------------------------------------------------------------------ 7. FHIRPath matches()


def test_matches_is_a_partial_match_in_r4() -> None:
    """As the official R4 FHIRPath tests ('...Library/FHIR-ModelInfo|4.0.1'.matches(
    'Library') is true) and the reference validator's engine (a find, not a whole-string
    match): the invariants that meant the whole string (eld-19, eld-20, canonical names)
    are anchored where they are evaluated (igtools/validate/fixes.py), as the reference
    validator's FHIRPathExpressionFixer does."""
    from igtools.runtime.fhirpath import evaluate
    from igtools.validate.fixes import evaluated_expression

    assert evaluate({}, "'Observation...unit'.matches('Obs')") == [True]
    assert evaluate({}, "'Observation...unit'.matchesFull('Obs')") == [False]
    assert evaluate({}, "'Observation...unit'.matches('^Obs$')") == [False]
    eld19 = evaluated_expression("eld-19", "path.matches('published, unanchored')")
    assert evaluate({"path": "Observation...unit"}, eld19) == [False]
    assert evaluate({"path": "Observation.value[x]:valueQuantity.unit"}, eld19) == [True]


# ------------------------------------------------------------------ 10. Identifier rfc:3986


def test_absolute_uri_as_the_reference_reads_it() -> None:
    from igtools.validate.identifiers import is_absolute_uri

    for value in ("urn:oid:2.16.840.1.113883.6.57", "https://x.org/a", "file:///tmp/a"):
        assert is_absolute_uri(value), value
    for value in ("2.16.840.1.113883.6.57", "Local identifier", "file:tmp", "1a:b", ":x"):
        assert not is_absolute_uri(value), value


@pytest.mark.shared
def test_rfc3986_identifier_value_must_be_a_full_uri(validator: Validator) -> None:
    cs = {
        "resourceType": "CodeSystem",
        "url": "http://example.org/fhir/CodeSystem/x",
        "status": "draft",
        "content": "not-present",
        "identifier": [
            {"system": "urn:ietf:rfc:3986", "value": "urn:oid:2.16.840.1.113883.6.57"},
            {"system": "urn:ietf:rfc:3986", "value": "2.16.840.1.113883.6.57"},
            {"system": "http://example.org/ids", "value": "2.16.840.1.113883.6.57"},
        ],
    }
    errors = _errors(validator, cs)
    assert len(errors) == 1, errors
    assert errors[0].startswith("CodeSystem.identifier[1]: if identifier.system is ")
    assert "not '2.16.840.1.113883.6.57'" in errors[0] and "urn:oid:2.16" in errors[0]
    # in a contained resource too
    obs = {
        **OBS,
        "contained": [{"resourceType": "Patient", "id": "p", "identifier": [cs["identifier"][1]]}],
        "subject": {"reference": "#p"},
    }
    errors = _errors(validator, obs)
    assert [e.split(":")[0] for e in errors] == ["Observation.contained[0].identifier[0]"]
