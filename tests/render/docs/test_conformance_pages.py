"""Pages of the conformance resources the IR does not model (OperationDefinition,
ConceptMap, NamingSystem, any other kind) and the operations of capability statements:
`igtools docs` on the mini IG with such resources added, built strictly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from igtools.cli import cli
from igtools.render.docs import conformance as conf
from tests.golden import FIXTURE

BASE = "http://example.org/fhir/mini"

OPERATION = {
    "resourceType": "OperationDefinition",
    "id": "mini-match",
    "url": f"{BASE}/OperationDefinition/mini-match",
    "name": "MiniMatch",
    "title": "Mini match",
    "status": "active",
    "kind": "operation",
    "description": "Finds the mini patients like the one given.",
    "code": "mini-match",
    "resource": ["Patient"],
    "system": False,
    "type": True,
    "instance": True,
    "inputProfile": f"{BASE}/StructureDefinition/mini-patient",
    "parameter": [
        {
            "name": "resource",
            "use": "in",
            "min": 1,
            "max": "1",
            "type": "Patient",
            "documentation": "The patient | to match.",
        },
        {
            "name": "kind",
            "use": "in",
            "min": 0,
            "max": "*",
            "type": "code",
            "binding": {"strength": "required", "valueSet": f"{BASE}/ValueSet/mini-score-type"},
        },
        {
            "name": "detail",
            "use": "out",
            "min": 0,
            "max": "*",
            "part": [{"name": "score", "use": "out", "min": 1, "max": "1", "type": "decimal"}],
        },
    ],
}
CONCEPT_MAP = {
    "resourceType": "ConceptMap",
    "id": "mini-score-map",
    "url": f"{BASE}/ConceptMap/mini-score-map",
    "name": "MiniScoreMap",
    "status": "draft",
    "sourceCanonical": f"{BASE}/ValueSet/mini-score-type",
    "targetUri": "http://loinc.org/vs",
    "group": [
        {
            "source": f"{BASE}/CodeSystem/mini-score-type",
            "target": "http://loinc.org",
            "element": [
                {
                    "code": "apgar",
                    "display": "Apgar",
                    "target": [
                        {"code": "9272-6", "display": "1 minute Apgar", "equivalence": "wider"}
                    ],
                },
                {"code": "other", "target": [{"equivalence": "unmatched", "comment": "none"}]},
            ],
            "unmapped": {"mode": "fixed", "code": "unknown"},
        },
        {
            "element": [
                {
                    "code": "Message/score",
                    "target": [
                        {
                            "code": "Observation.value",
                            "equivalence": "relatedto",
                            "dependsOn": [{"property": "Message/kind", "value": "apgar"}],
                            "product": [
                                {"property": "Observation.status", "value": "final"},
                                {"property": "Observation.code", "system": "http://loinc.org"},
                            ],
                        }
                    ],
                }
            ]
        },
    ],
}
NAMING_SYSTEM = {
    "resourceType": "NamingSystem",
    "id": "mini-mrn",
    "name": "MiniMrn",
    "status": "active",
    "kind": "identifier",
    "date": "2024-01-01",
    "responsible": "Mini hospital",
    "type": {"text": "Medical record number"},
    "uniqueId": [
        {"type": "uri", "value": "http://example.org/mrn", "preferred": True},
        {"type": "oid", "value": "1.2.3.4", "preferred": False, "comment": "legacy"},
    ],
}
STRUCTURE_MAP = {
    "resourceType": "StructureMap",
    "id": "mini-map",
    "url": f"{BASE}/StructureMap/mini-map",
    "name": "MiniMap",
    "status": "draft",
    "description": "Maps nothing much.",
    "group": [{"name": "main", "input": [{"name": "src", "mode": "source"}], "rule": []}],
}
GUIDE = {
    "resourceType": "ImplementationGuide",
    "id": "example.fhir.mini",
    "url": f"{BASE}/ImplementationGuide/example.fhir.mini",
    "name": "Mini",
    "status": "active",
    "packageId": "example.fhir.mini",
    "fhirVersion": ["4.0.1"],
}


def _ig(tmp_path: Path) -> Path:
    ig = tmp_path / "ig"
    shutil.copytree(FIXTURE, ig)
    pkg = ig / "package"
    for res in (OPERATION, CONCEPT_MAP, NAMING_SYSTEM, STRUCTURE_MAP, GUIDE):
        name = f"{res['resourceType']}-{res['id']}.json"
        (pkg / name).write_text(json.dumps(res), encoding="utf-8")
    cap_file = pkg / "CapabilityStatement-mini-server.json"
    cap = json.loads(cap_file.read_text(encoding="utf-8"))
    rest = cap["rest"][0]
    rest["resource"][0]["operation"] = [
        {"name": "mini-match", "definition": OPERATION["url"], "documentation": "Matching."}
    ]
    rest["operation"] = [
        {"name": "everything-else", "definition": "http://hl7.org/fhir/OperationDefinition/x"}
    ]
    cap_file.write_text(json.dumps(cap), encoding="utf-8")
    return ig


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("conf")
    out = tmp / "site"
    r = CliRunner().invoke(
        cli,
        ["--offline", "-q", "--cache-dir", str(tmp / "c"), "docs", str(_ig(tmp)), "-o", str(out)],
    )
    assert r.exit_code == 0, r.output
    return out


def _md(out: Path, stem: str) -> str:
    return (out / "docs" / "artefacts" / f"{stem}.md").read_text(encoding="utf-8")


def test_operation_page(built: Path) -> None:
    md = _md(built, "OperationDefinition-mini-match")
    assert md.startswith("# Mini match\n")
    assert "| Code | `$mini-match` |" in md
    assert "| Levels | type, instance |" in md
    assert "- `[base]/Patient/$mini-match`" in md
    assert "- `[base]/Patient/[id]/$mini-match`" in md
    assert "[mini-patient](StructureDefinition-mini-patient.md)" in md  # input profile
    rows = [ln for ln in md.splitlines() if ln.startswith("| in |") or ln.startswith("| out |")]
    assert rows[0] == "| in | `resource` | 1..1 | Patient |  | The patient \\| to match. |"
    assert "[mini-score-type](ValueSet-mini-score-type.md) (required)" in rows[1]
    assert rows[2].startswith("| out | `detail` | 0..* |")
    assert rows[3].startswith("| out | &nbsp;&nbsp;&nbsp;&nbsp;`detail.score` | 1..1 | decimal |")
    assert (built / "site" / "artefacts" / "OperationDefinition-mini-match.html").is_file()
    assert (built / "docs" / "artefacts" / "json" / "OperationDefinition-mini-match.json").is_file()


def test_concept_map_page(built: Path) -> None:
    md = _md(built, "ConceptMap-mini-score-map")
    assert "| Source | [mini-score-type](ValueSet-mini-score-type.md) |" in md
    assert "| Target | [http://loinc.org/vs](http://loinc.org/vs) |" in md
    assert f"Mapping from `{BASE}/CodeSystem/mini-score-type` to `http://loinc.org`" in md
    assert "| `apgar` Apgar | wider | `9272-6` 1 minute Apgar |  |" in md
    assert "| `other` | unmatched |  | none |" in md
    assert "Unmapped codes : fixed unknown" in md
    # a structural map: no systems, dependsOn and product columns in that group only
    assert md.count("Mapping from") == 1
    assert (
        "| `Message/score` | Message/kind = apgar | relatedto | `Observation.value` | "
        "Observation.status = final<br>Observation.code (http://loinc.org) |  |" in md
    )
    assert md.count("Depends on") == 1


def test_naming_system_page(built: Path) -> None:
    md = _md(built, "NamingSystem-mini-mrn")
    assert "| Kind | identifier |" in md
    assert "| Type | Medical record number |" in md
    assert "| Responsible | Mini hospital |" in md
    assert "| uri | `http://example.org/mrn` | yes |  |" in md
    assert "| oid | `1.2.3.4` | no | legacy |" in md


def test_other_kind_listed_with_its_json(built: Path) -> None:
    md = _md(built, "StructureMap-mini-map")
    assert "Maps nothing much." in md
    assert '"resourceType": "StructureMap"' in md
    index = _md(built, "index")
    for heading in ("## Operation definitions", "## Concept maps", "## Naming systems"):
        assert heading in index
    assert "## StructureMap\n" in index
    assert "[MiniMap](StructureMap-mini-map.md) | Maps nothing much. |" in index
    # the ImplementationGuide is the IG itself: no page
    assert not list((built / "docs" / "artefacts").rglob("ImplementationGuide-*"))
    nav = (built / "mkdocs.yml").read_text(encoding="utf-8")
    assert "artefacts/OperationDefinition-mini-match.md" in nav
    assert "artefacts/StructureMap-mini-map.md" in nav


def test_capability_lists_operations(built: Path) -> None:
    md = _md(built, "CapabilityStatement-mini-server")
    assert "| `$mini-match` | [mini-match](OperationDefinition-mini-match.md) | Matching. |" in md
    assert "### System-level operations" in md
    assert "| `$everything-else` | [x](http://hl7.org/fhir/OperationDefinition/x) |  |" in md


def test_french_labels(tmp_path: Path) -> None:
    from igtools.ir import build_ir
    from igtools.packages import PackageLoader, Settings
    from igtools.render.docs.site import DocsRenderer

    pset = PackageLoader(Settings(cache_dir=tmp_path / "c", offline=True)).load(str(_ig(tmp_path)))
    out = tmp_path / "site"
    DocsRenderer(build_ir(pset), pset, language="fr").render(out)  # markdown only
    md = _md(out, "OperationDefinition-mini-match")
    assert "| Niveaux | type, instance |" in md
    assert "| Sens | Nom | Cardinalité |" in md
    assert "| entrée | `resource` |" in md
    assert "## Correspondances de concepts" in _md(out, "index")
    assert "| uri | `http://example.org/mrn` | oui |  |" in _md(out, "NamingSystem-mini-mrn")
    assert "### Opérations au niveau du système" in _md(out, "CapabilityStatement-mini-server")


@pytest.mark.parametrize(
    "data",
    [
        {"parameter": "x", "resource": 3, "type": "yes"},
        {"parameter": [{"name": 1, "part": {"x": 1}, "binding": []}, "p"]},
        {"group": [{"element": [{"target": "x"}], "unmapped": []}], "sourceUri": {}},
        {"uniqueId": [None, {"preferred": "maybe"}], "type": []},
    ],
)
def test_malformed_fields_are_left_out(data: dict[str, Any]) -> None:
    """Published resources of the wrong shape give pages without the bad parts."""
    for rtype in ("OperationDefinition", "ConceptMap", "NamingSystem"):
        res = conf.Resource(rtype, "bad", {"resourceType": rtype, **data})
        assert res.title == "bad"
        conf.operation(res)
        conf.concept_map(res)
        conf.naming_system(res)
