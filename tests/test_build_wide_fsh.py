"""``igtools build`` on an IG unlike the ones of ../shared, as SUSHI writes it.

tests/fixtures/fsh-wide-ig is a FSH IG made of the constructs published IGs use and the
corpus may lack: a logical model, profiles of Resource and DomainResource, a chain of
three profiles with a re-slice, an extension on a primitive element (``_birthDate``), a
complex extension with nested sub-extensions, a modifier extension, ``contentReference``
elements constrained (``Questionnaire.item.item``, ``Observation.component.referenceRange``),
choice types restricted to one type and sliced by type, slicing by pattern, type and
profile, a slice of a slice, Questionnaire, QuestionnaireResponse, Parameters and Bundle
profiles, a required binding to a value set with a filter and ``include.valueSet``, an
example binding to a value set nobody defines, FHIRPath invariants (iif, ofType, repeat,
descendants), a CapabilityStatement with its own and core search parameters,
``_include``/``_revinclude`` and a chainable parameter, SearchParameter,
OperationDefinition, NamingSystem, ConceptMap, a CodeSystem with a hierarchy and
properties, an example of each profile (JSON from SUSHI, two hand-written XML ones).

SUSHI compiles it offline (the cache of tests/ir/test_snapshot_sushi.py), then igtools
builds every stage on the folder (differential-only StructureDefinitions), validates
what it generated and the IG's own examples. Skipped, with the reason, without SUSHI or
../shared. Known bugs of other parts are strict xfails naming them: these tests fail
once they are fixed, so that the mark goes.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from igtools.build import Builder, BuildOptions, StageResult
from igtools.cli import cli
from igtools.packages import PackageLoader, PackageSet, Settings
from tests.ir.test_snapshot_sushi import sushi_build

WIDE_IG = Path(__file__).resolve().parent / "fixtures" / "fsh-wide-ig"
SD = "http://example.org/fhir/wide/StructureDefinition/"
NOW = datetime.fromisoformat("2024-06-01T12:00:00+02:00")

# the profiles of concrete resource types: each gets generated examples
PROFILES = [
    "wide-patient",
    "wide-patient-l2",
    "wide-patient-l3",
    "wide-observation",
    "wide-observation-value",
    "wide-questionnaire",
    "wide-questionnaire-response",
    "wide-parameters",
    "wide-bundle",
]

# bugs of parts other agents own (reported with input, message and suggested fix)
KNOWN: dict[str, str] = {}


@dataclass
class Wide:
    ig: Path
    resources: Path
    out: Path
    pset: PackageSet
    results: dict[str, StageResult]
    common: list[str]


def _validate(wide: Wide, files: list[Path]) -> dict[str, str]:
    """``igtools validate`` on files: name -> 'valid' or the errors."""
    result = CliRunner().invoke(
        cli, [*wide.common, "validate", str(wide.ig), *map(str, files)], catch_exceptions=False
    )
    assert result.exit_code in (0, 1), result.output
    verdicts: dict[str, str] = {}
    current = None
    for line in result.output.splitlines():
        for f in files:
            if line.startswith(f"{f}: "):
                current = f.name
                verdicts[current] = line[len(str(f)) + 2 :]
                break
        else:
            if current is not None and line.startswith("  "):
                verdicts[current] += "\n" + line
    assert set(verdicts) == {f.name for f in files}, result.output
    return verdicts


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> Wide:
    from tests.conftest import shared_path

    packages = shared_path("fhir-packages")
    tmp = tmp_path_factory.mktemp("wide")
    ig = sushi_build(WIDE_IG, tmp, packages)
    cache = tmp / "cache"
    pset = PackageLoader(Settings(cache_dir=cache, offline=True, package_dirs=[packages])).load(
        str(ig)
    )
    out = tmp / "out"
    results = Builder(pset, out, BuildOptions(now=NOW)).run()
    common = ["--offline", "-q", "--cache-dir", str(cache), "--package-dir", str(packages)]
    return Wide(
        ig,
        ig / "fsh-generated" / "resources",
        out,
        pset,
        {r.stage: r for r in results},
        common,
    )


def test_sushi_wrote_differentials(wide: Wide) -> None:
    sds = sorted(wide.resources.glob("StructureDefinition-*.json"))
    assert len(sds) == 15
    for f in sds:
        assert "snapshot" not in json.loads(f.read_text()), f.name
    kinds = {f.name.split("-", 1)[0] for f in wide.resources.glob("*.json")}
    assert {"OperationDefinition", "NamingSystem", "ConceptMap", "SearchParameter"} <= kinds


@pytest.mark.parametrize("stage", ["models", "stubs", "docs"])
def test_stage_built(wide: Wide, stage: str) -> None:
    r = wide.results[stage]
    assert r.status == "built", r.error


def test_examples_stage_built(wide: Wide) -> None:
    r = wide.results["examples"]
    assert r.status == "built", r.error


def test_search_parameters_from_the_core_are_known(wide: Wide) -> None:
    """Includes naming core parameters igtools' own subset lacks (Patient:link,
    Observation:has-member, QuestionnaireResponse:questionnaire) are served."""
    warnings = wide.results["stubs"].warnings
    assert not [w for w in warnings if "unknown search parameter" in w], warnings
    api = next((wide.out / "stubs").rglob("api.py")).read_text()
    for code in ("link", "has-member", "questionnaire", "mrn", "wide-subject"):
        assert f'code="{code}"' in api, code


def test_declared_operation_is_routed(wide: Wide) -> None:
    """The statement's ``rest.resource.operation`` $wide-match is routed by the generated
    server at the type level its OperationDefinition allows (to Handlers.operation)."""
    api = next((wide.out / "stubs").rglob("api.py")).read_text()
    assert 'name="wide-match"' in api, api
    head = api.split('name="wide-match"', 1)[1].split(")", 1)[0]
    assert "type=True" in head and "instance=True" not in head, head


def _generated(wide: Wide) -> dict[str, list[str]]:
    index = json.loads((wide.out / "examples" / "index.json").read_text())
    return {url.rsplit("/", 1)[-1]: files for url, files in index.items()}


@pytest.mark.parametrize(
    "profile",
    [
        pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=KNOWN[p])) if p in KNOWN else p
        for p in PROFILES
    ],
)
def test_generated_examples_valid(wide: Wide, profile: str) -> None:
    files = _generated(wide).get(profile, [])
    assert len(files) >= 2, f"{profile}: {files}"
    verdicts = _validate(wide, [wide.out / "examples" / f for f in files])
    assert all(v == "valid" for v in verdicts.values()), verdicts


def test_no_instance_of_an_abstract_type(wide: Wide) -> None:
    """Profiles of Resource and DomainResource get no instance (no resource can have an
    abstract type) and are listed, with the reason, among the profiles without one."""
    generated = _generated(wide)
    bad = [f for p in ("wide-resource", "wide-domain-resource") for f in generated.get(p, [])]
    assert not bad
    readme = (wide.out / "examples" / "README.md").read_text()
    for name, rtype in (("WideResource", "Resource"), ("WideDomainResource", "DomainResource")):
        assert f"{name}: a profile of {rtype}, an abstract type" in readme


def test_the_igs_own_examples_valid(wide: Wide) -> None:
    """The examples the IG publishes (SUSHI's JSON, the hand-written XML) are valid."""
    files = sorted(wide.resources.glob("*-example.json"))
    files += sorted((wide.ig / "input" / "examples").glob("*.xml"))
    assert len(files) == 9
    verdicts = _validate(wide, files)
    assert all(v == "valid" for v in verdicts.values()), verdicts


def test_validate_rejects_broken_copies(wide: Wide, tmp_path: Path) -> None:
    """The same examples, each broken in one place, are rejected at that place."""
    patient = json.loads((wide.resources / "Patient-wide-patient-example.json").read_text())
    # an extension alone counts as the element (as for the reference validator)
    no_birth = {k: v for k, v in patient.items() if k not in ("birthDate", "_birthDate")}
    bad_sub = json.loads(json.dumps(patient))
    complex_ext = bad_sub["extension"][0]["extension"]
    bad_sub["extension"][0]["extension"] = [e for e in complex_ext if e["url"] != "kind"]
    qr = json.loads(
        (
            wide.resources / "QuestionnaireResponse-wide-questionnaire-response-example.json"
        ).read_text()
    )
    qr["item"][0]["item"][0]["answer"].append({"valueBoolean": True})  # item.item.answer 0..1
    # the modifier extension as an extension, a plain extension as a modifier
    mod_in_ext = json.loads(json.dumps(patient))
    mod_in_ext["extension"] += mod_in_ext.pop("modifierExtension")
    ext_in_mod = json.loads(json.dumps(patient))
    ext_in_mod["modifierExtension"] = ext_in_mod.pop("extension")
    # the birth time extension (context Patient.birthDate) on gender
    off_context = json.loads(json.dumps(patient))
    off_context["_gender"] = patient["_birthDate"]
    cases = {
        "off-context.json": off_context,
        "no-birth.json": no_birth,
        "no-kind.json": bad_sub,
        "two-answers.json": qr,
        "mod-in-ext.json": mod_in_ext,
        "ext-in-mod.json": ext_in_mod,
    }
    for name, data in cases.items():
        (tmp_path / name).write_text(json.dumps(data))
    verdicts = _validate(wide, [tmp_path / n for n in cases])
    assert "Patient.birthDate" in verdicts["no-birth.json"], verdicts
    assert "kind" in verdicts["no-kind.json"], verdicts
    assert "answer" in verdicts["two-answers.json"], verdicts
    assert "is not labelled as a modifier" in verdicts["mod-in-ext.json"], verdicts
    assert "is labelled as a modifier" in verdicts["ext-in-mod.json"], verdicts
    assert (
        "not allowed to be used at this point "
        "(allowed = e:Patient.birthDate; this element is [Patient.gender, code])"
        in verdicts["off-context.json"]
    ), verdicts
    assert all(v.startswith("INVALID") for v in verdicts.values()), verdicts


def test_models_accept_the_igs_examples(wide: Wide) -> None:
    """The generated models take every JSON example the IG publishes, by its profile."""
    sys.path.insert(0, str(wide.out / "models"))
    try:
        import example_fhir_wide_models as models  # type: ignore[import-not-found]

        checked = 0
        for f in sorted(wide.resources.glob("*-example.json")):
            data = json.loads(f.read_text())
            for url in data["meta"]["profile"]:
                models.PROFILES[url].model_validate(data)
                checked += 1
        assert checked == 7
    finally:
        sys.path.remove(str(wide.out / "models"))
        for name in [m for m in sys.modules if m.startswith("example_fhir_wide_models")]:
            del sys.modules[name]


def test_docs_page_per_conformance_resource(wide: Wide) -> None:
    pages = {p.name for p in (wide.out / "docs" / "docs" / "artefacts").glob("*.md")}
    for name in (
        "OperationDefinition-wide-match.md",
        "ConceptMap-wide-status-to-kind.md",
        "NamingSystem-wide-mrn-system.md",
    ):
        assert name in pages
    cap = wide.out / "docs" / "docs" / "artefacts" / "CapabilityStatement-wide-server.md"
    assert "| `$wide-match` | [wide-match](OperationDefinition-wide-match.md) |" in cap.read_text()
