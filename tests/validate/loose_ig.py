"""A small IG of this test suite's own, as a loose folder (sushi-config.yaml and JSON
resources) depending on hl7.fhir.r4.core: extension definitions with every kind of
context, an ImplementationGuide with a global profile, and that profile."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BASE = "http://example.org/fhir/ctx/StructureDefinition/"


def _extension(name: str, contexts: list[tuple[str, str]], **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "StructureDefinition",
        "id": name,
        "url": BASE + name,
        "name": name.replace("-", "").capitalize(),
        "status": "draft",
        "fhirVersion": "4.0.1",
        "kind": "complex-type",
        "abstract": False,
        "context": [{"type": t, "expression": e} for t, e in contexts],
        **extra,
        "type": "Extension",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Extension",
        "derivation": "constraint",
        "differential": {
            "element": [
                {"id": "Extension.extension", "path": "Extension.extension", "max": "0"},
                {"id": "Extension.url", "path": "Extension.url", "fixedUri": BASE + name},
                {
                    "id": "Extension.value[x]",
                    "path": "Extension.value[x]",
                    "min": 1,
                    "type": [{"code": "boolean"}],
                },
            ]
        },
    }


DEFINITIONS = [
    _extension(
        "mixed",
        [
            ("element", "Organization"),
            ("element", "ContactPoint.period"),
            ("extension", BASE + "holder"),
            ("fhirpath", "Organization.telecom.where(system = 'fax')"),
        ],
    ),
    _extension(
        "by-type",
        [("element", "DomainResource.text"), ("element", "Quantity"), ("element", "string")],
    ),
    _extension("backbone", [("element", "BackboneElement")]),
    _extension("guarded", [("element", "Observation")], contextInvariant=["status = 'final'"]),
    _extension("holder", [("element", "Element")]),
]

GLOBAL_PROFILE = BASE + "encounter-with-subject"
MISSING_GLOBAL = BASE + "not-in-the-package-set"

RESOURCES: list[dict[str, Any]] = [
    *DEFINITIONS,
    {
        "resourceType": "StructureDefinition",
        "id": "encounter-with-subject",
        "url": GLOBAL_PROFILE,
        "name": "EncounterWithSubject",
        "status": "draft",
        "fhirVersion": "4.0.1",
        "kind": "resource",
        "abstract": False,
        "type": "Encounter",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Encounter",
        "derivation": "constraint",
        "differential": {
            "element": [{"id": "Encounter.subject", "path": "Encounter.subject", "min": 1}]
        },
    },
    {
        "resourceType": "ImplementationGuide",
        "id": "example.ctx",
        "url": "http://example.org/fhir/ctx/ImplementationGuide/example.ctx",
        "name": "ExampleCtx",
        "status": "draft",
        "packageId": "example.ctx",
        "fhirVersion": ["4.0.1"],
        "global": [
            {"type": "Encounter", "profile": GLOBAL_PROFILE},
            {"type": "Device", "profile": MISSING_GLOBAL},
        ],
    },
]


def write_folder(folder: Path) -> Path:
    (folder / "sushi-config.yaml").write_text(
        "id: example.ctx\ncanonical: http://example.org/fhir/ctx\nversion: 0.1.0\n"
        "fhirVersion: 4.0.1\ndependencies:\n  hl7.fhir.r4.core: 4.0.1\n",
        encoding="utf-8",
    )
    for res in RESOURCES:
        name = f"{res['resourceType']}-{res['id']}.json"
        (folder / name).write_text(json.dumps(res), encoding="utf-8")
    return folder
