"""Resources inside resources (``Parameters.parameter.resource``), profiles of abstract
types, and the final check by igtools' validator when the package set is at hand.

Small profiles made in memory from the core ones of ../shared (the mini IG's package set
with ../shared/fhir-packages as its registry); skipped without ../shared."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from igtools.ir.build import IRBuilder
from igtools.ir.model import IG, Profile, TypeRef
from igtools.packages import PackageLoader, Settings
from igtools.render.examples.writer import ExampleError, ExamplesRenderer, parse_now
from tests.golden import FIXTURE

CORE = "http://hl7.org/fhir/StructureDefinition/"
MINI = "http://example.org/fhir/mini/StructureDefinition/"
NOW = parse_now("2026-01-05")


@pytest.fixture(scope="module")
def source(corpus_cache: Path) -> IRBuilder:
    from tests.conftest import shared_path

    packages = shared_path("fhir-packages")
    settings = Settings(cache_dir=corpus_cache, offline=True, package_dirs=[packages])
    loader = PackageLoader(settings)
    try:
        pset = loader.load(str(FIXTURE))
    finally:
        loader.close()
    return IRBuilder(pset)


def _profile_of(source: IRBuilder, core: str, name: str) -> Profile:
    """A profile of the core type ``core``, as a constraint of the mini IG."""
    base = source.profile(CORE + core)
    assert base is not None, core
    prof = copy.deepcopy(base)
    prof.url, prof.name, prof.id = MINI + name, name, name
    prof.derivation, prof.base_definition, prof.abstract = "constraint", CORE + core, False
    prof.package = "example.fhir.mini"
    return prof


def _ig_with(source: IRBuilder, *profiles: Profile) -> IG:
    ig = copy.deepcopy(source.build())
    for prof in profiles:
        ig.profiles[prof.url] = prof
    return ig


def _parameters(source: IRBuilder, name: str, types: list[TypeRef]) -> Profile:
    """Parameters with one required parameter holding a required resource of ``types``."""
    prof = _profile_of(source, "Parameters", name)
    els = {el.id: el for el in prof.elements()}
    els["Parameters.parameter"].min = 1
    resource = els["Parameters.parameter.resource"]
    resource.min, resource.types = 1, types
    return prof


def _generated(renderer: ExamplesRenderer, url: str) -> list[dict[str, object]]:
    report = renderer.build()
    assert renderer.failures(report) == []
    return [g.resource for g in report.generated if g.profile.url == url]


def test_a_parameter_resource_is_built_to_its_profile(source: IRBuilder) -> None:
    prof = _parameters(source, "mini-params", [TypeRef("Patient", [MINI + "mini-patient"])])
    renderer = ExamplesRenderer(_ig_with(source, prof), now=NOW, source=source)
    instances = _generated(renderer, prof.url)
    assert len(instances) == 2  # minimal and full
    for res in instances:
        held = res["parameter"][0]["resource"]  # type: ignore[index]
        assert held["resourceType"] == "Patient"
        assert held["meta"]["profile"] == [MINI + "mini-patient"]
        assert held["id"].endswith("-patient")


def test_a_parameter_resource_of_an_abstract_type_is_a_concrete_one(source: IRBuilder) -> None:
    prof = _parameters(source, "mini-params-any", [TypeRef("Resource")])
    renderer = ExamplesRenderer(_ig_with(source, prof), now=NOW, source=source)
    for res in _generated(renderer, prof.url):
        held = res["parameter"][0]["resource"]  # type: ignore[index]
        assert held["resourceType"] == "Patient"
        assert "meta" not in held  # claims no profile


def test_profiles_of_abstract_types_get_no_instance(source: IRBuilder) -> None:
    profs = [_profile_of(source, t, f"mini-{t.lower()}") for t in ("Resource", "DomainResource")]
    renderer = ExamplesRenderer(_ig_with(source, *profs), now=NOW, source=source)
    report = renderer.build()
    urls = {g.profile.url for g in report.generated}
    assert not urls & {p.url for p in profs}
    assert MINI + "mini-patient" in urls, "the other profiles still get instances"
    for t in ("Resource", "DomainResource"):
        line = next(x for x in report.impossible if x.startswith(f"mini-{t.lower()}: "))
        assert f"a profile of {t}, an abstract type" in line


def test_abstract_types_without_the_package_set(source: IRBuilder) -> None:
    prof = _profile_of(source, "DomainResource", "mini-dr")
    report = ExamplesRenderer(_ig_with(source, prof), now=NOW).build()
    assert all(g.profile.url != prof.url for g in report.generated)
    assert any(x.startswith("mini-dr: a profile of DomainResource") for x in report.impossible)


def test_the_final_check_is_igtools_validator(source: IRBuilder, tmp_path: Path) -> None:
    """With the package set, the examples are judged as ``igtools validate`` judges them;
    a broken one is named by file, shape, profile, element path, rule and profile name,
    each line once."""
    renderer = ExamplesRenderer(source.build(), now=NOW, source=source)
    report = renderer.build()
    assert renderer.failures(report) == []
    renderer.write(report, tmp_path)
    assert "igtools' validator" in (tmp_path / "README.md").read_text()
    target = next(
        g for g in report.generated if g.kind == "minimal" and g.profile.type == "Patient"
    )
    required = [
        el
        for el in target.profile.elements()
        if el.min >= 1 and el.path.count(".") == 1 and el.path.split(".")[1] in target.resource
    ]
    assert required, "the mini patient has a required top-level element"
    name = required[0].path.split(".")[1]
    del target.resource[name]
    report.generated = [target, copy.deepcopy(target)]  # the same file twice: lines once
    failures = renderer.failures(report)
    where = f"{target.filename} (minimal instance of {target.profile.url}): "
    assert failures, "the validator sees the missing element"
    assert len(failures) == len(set(failures))
    line = next(f for f in failures if f.startswith(where + f"Patient.{name}"))
    assert line.endswith(f"; {target.profile.name})"), line
    assert "(cardinality; " in line or "(slice" in line, line
    with pytest.raises(ExampleError):
        renderer.check(report)
