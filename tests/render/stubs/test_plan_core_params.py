"""Search parameters of the core package that igtools' own subset lacks: an
``_include`` or a statement naming one is resolved from the loaded dependencies."""

from __future__ import annotations

import json
from pathlib import Path

from igtools.ir.build import build_ir
from igtools.packages import PackageLoader, Settings
from igtools.render.stubs.plan import ParamRegistry, build_plan
from igtools.render.stubs.server import store_params

CAPABILITY = {
    "resourceType": "CapabilityStatement",
    "id": "srv",
    "url": "http://example.org/fhir/t/CapabilityStatement/srv",
    "status": "active",
    "date": "2024-01-01",
    "kind": "requirements",
    "fhirVersion": "4.0.1",
    "format": ["json"],
    "rest": [
        {
            "mode": "server",
            "resource": [
                {
                    "type": "Patient",
                    "interaction": [{"code": "search-type"}],
                    "searchInclude": ["Patient:link", "Patient:nowhere"],
                    "searchParam": [
                        {
                            "name": "deceased",
                            "type": "token",
                            "definition": "http://hl7.org/fhir/SearchParameter/Patient-deceased",
                        }
                    ],
                },
                {
                    "type": "Observation",
                    "interaction": [{"code": "search-type"}],
                    "searchRevInclude": ["Observation:has-member"],
                },
            ],
        }
    ],
}


def test_core_parameters_the_subset_lacks(tmp_path: Path, shared_packages: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "CapabilityStatement-srv.json").write_text(json.dumps(CAPABILITY))
    settings = Settings(cache_dir=tmp_path / "cache", offline=True, package_dirs=[shared_packages])
    ig = build_ir(PackageLoader(settings).load(str(src)))
    registry = ParamRegistry(ig)
    link = registry.get("Patient", "link")
    assert link is not None and link.type == "reference" and link.expression == "Patient.link.other"
    has_member = registry.get("Observation", "has-member")
    assert has_member is not None and "Observation.hasMember" in str(has_member.expression)
    assert registry.get("Patient", "_lastUpdated") is not None  # a parameter of Resource
    assert registry.get("Patient", "nowhere") is None
    _, warnings = build_plan(ig, [])
    assert warnings == ["srv: Patient: Patient:nowhere names an unknown search parameter"]
    stored = {(p.resource, p.code) for p in store_params(ig)}
    assert {("Patient", "link"), ("Observation", "has-member"), ("Patient", "deceased")} <= stored
