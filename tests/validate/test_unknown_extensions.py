"""An extension whose url no loaded package defines, judged as the reference validator
(InstanceValidator.checkExtension) judges it: an error "unknown, and not allowed here",
except for cross-version extensions, example / declared extension domains, and a
warning (not checked) when a declared dependency could not be loaded and may define it.

Two real package sets of this suite's own with hl7.fhir.r4.core from ../shared: the
loose IG of loose_ig.py (every dependency loaded), and a folder declaring a dependency
that no package directory holds and an ``extension-domain`` parameter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from igtools.ir.build import IRBuilder
from igtools.packages import PackageLoader, Settings
from igtools.validate.validator import Validator
from tests.conftest import shared_path

pytestmark = pytest.mark.shared

UNKNOWN = "http://unknown.invalid/fhir/StructureDefinition/age"
DOMAIN = "http://declared.invalid/fhir/StructureDefinition/"
CORE_EXT = "http://hl7.org/fhir/StructureDefinition/patient-birthPlace"
MISSING_DEP = "example.not.anywhere"


def _patient(url: str, where: str = "_birthDate") -> dict[str, Any]:
    ext = {"url": url, "valueString": "x"}
    if where == "_birthDate":
        return {"resourceType": "Patient", "birthDate": "1975", "_birthDate": {"extension": [ext]}}
    return {"resourceType": "Patient", where: [ext]}


def _issues(validator: Validator, res: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (i.severity, i.location, i.message)
        for i in validator.validate_resource(res)
        if "extension" in i.message.lower()
    ]


@pytest.fixture(scope="module")
def degraded(tmp_path_factory: pytest.TempPathFactory, corpus_cache: Path) -> Validator:
    """A package set that could not load one of its declared dependencies, whose IG
    declares an extension domain."""
    packages = shared_path("fhir-packages")
    if not (packages / "hl7.fhir.r4.core-4.0.1.tgz").is_file():
        pytest.skip(f"{packages}/hl7.fhir.r4.core-4.0.1.tgz absent")
    folder = tmp_path_factory.mktemp("degraded-ig")
    (folder / "sushi-config.yaml").write_text(
        "id: example.degraded\ncanonical: http://example.org/fhir/degraded\nversion: 0.1.0\n"
        f"fhirVersion: 4.0.1\ndependencies:\n  hl7.fhir.r4.core: 4.0.1\n  {MISSING_DEP}: 1.0.0\n",
        encoding="utf-8",
    )
    ig = {
        "resourceType": "ImplementationGuide",
        "id": "example.degraded",
        "url": "http://example.org/fhir/degraded/ImplementationGuide/example.degraded",
        "name": "ExampleDegraded",
        "status": "draft",
        "packageId": "example.degraded",
        "fhirVersion": ["4.0.1"],
        "definition": {"parameter": [{"code": "extension-domain", "value": DOMAIN}]},
    }
    (folder / "ImplementationGuide-example.degraded.json").write_text(
        json.dumps(ig), encoding="utf-8"
    )
    loader = PackageLoader(Settings(cache_dir=corpus_cache, package_dirs=[packages], offline=True))
    try:
        pset = loader.load(str(folder))
    finally:
        loader.close()
    assert [d.name for d in pset.missing] == [MISSING_DEP]
    builder = IRBuilder(pset)
    return Validator(builder.build(), builder=builder)


def test_an_unknown_extension_is_an_error(loose_validator: Validator) -> None:
    assert _issues(loose_validator, _patient(UNKNOWN)) == [
        (
            "error",
            "Patient.birthDate.extension[0]",
            f"The extension {UNKNOWN} is unknown, and not allowed here",
        )
    ]
    # a modifier extension and one on the resource: the same verdict, at their place
    got = _issues(loose_validator, _patient(UNKNOWN, "modifierExtension"))
    assert got == [
        (
            "error",
            "Patient.modifierExtension[0]",
            f"The extension {UNKNOWN} is unknown, and not allowed here",
        )
    ]
    assert _issues(loose_validator, _patient(UNKNOWN, "extension")) == [
        (
            "error",
            "Patient.extension[0]",
            f"The extension {UNKNOWN} is unknown, and not allowed here",
        )
    ]


def test_a_known_extension_is_judged_by_its_definition(loose_validator: Validator) -> None:
    # patient-birthPlace (hl7.fhir.r4.core) is an Address: a string value is wrong, and
    # nothing says it is unknown
    res = _patient(CORE_EXT, "extension")
    messages = [i.message for i in loose_validator.validate_resource(res)]
    assert messages and not any("unknown" in m for m in messages)
    res["extension"][0] = {"url": CORE_EXT, "valueAddress": {"city": "Paris"}}
    assert loose_validator.validate_resource(res) == []


@pytest.mark.parametrize(
    "url",
    [
        # cross-version extensions: the reference synthesizes their definitions
        "http://hl7.org/fhir/5.0/StructureDefinition/extension-Patient.contact.additionalName",
        "http://hl7.org/fhir/3.0/StructureDefinition/extension-Patient.animal",
        # example urls (allowed, as by the IG Publisher) and the always-allowed domains
        "http://example.org/fhir/StructureDefinition/something",
        "http://acme.com/fhir/StructureDefinition/something",
        "http://nema.org/fhir/StructureDefinition/something",
        "http://hl7.org/fhir/tools/StructureDefinition/something",
    ],
)
def test_urls_the_reference_lets_through(loose_validator: Validator, url: str) -> None:
    assert _issues(loose_validator, _patient(url)) == []


def test_example_urls_are_unknown_when_not_allowed(loose_validator: Validator) -> None:
    strict = Validator(
        loose_validator.ig, builder=loose_validator._builder, allow_example_urls=False
    )
    url = "http://example.org/fhir/StructureDefinition/something"
    assert _issues(strict, _patient(url)) == [
        (
            "error",
            "Patient.birthDate.extension[0]",
            f"The extension {url} is unknown, and not allowed here",
        )
    ]
    # the cross-version ones stay accepted
    xver = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Patient.contact.additionalName"
    assert _issues(strict, _patient(xver)) == []


def test_an_unavailable_dependency_makes_it_a_warning(degraded: Validator) -> None:
    got = _issues(degraded, _patient(UNKNOWN))
    assert got == [
        (
            "warning",
            "Patient.birthDate.extension[0]",
            f"The extension {UNKNOWN} is unknown: its definition may be in a dependency that "
            f"could not be loaded ({MISSING_DEP}#1.0.0): not checked",
        )
    ]
    res = _patient(UNKNOWN)
    assert not any(i.severity == "error" for i in degraded.validate_resource(res))
    # a definition that is loaded is still judged as usual
    bad = _patient(CORE_EXT, "extension")
    assert any(i.severity == "error" for i in degraded.validate_resource(bad))


def test_a_declared_extension_domain_is_allowed(degraded: Validator) -> None:
    assert _issues(degraded, _patient(DOMAIN + "anything")) == []
    assert _issues(degraded, _patient("http://declared.invalid/other/x")) != []


def test_cli_no_example_urls(tmp_path: Path, corpus_cache: Path) -> None:
    """``validate --no-example-urls`` judges example.org extensions as unknown too."""
    from click.testing import CliRunner

    from igtools.cli import cli

    packages = shared_path("fhir-packages")
    if not (packages / "hl7.fhir.r4.core-4.0.1.tgz").is_file():
        pytest.skip(f"{packages}/hl7.fhir.r4.core-4.0.1.tgz absent")
    url = "http://example.org/fhir/StructureDefinition/something"
    instance = tmp_path / "patient.json"
    instance.write_text(json.dumps(_patient(url)), encoding="utf-8")
    base = ["--offline", "-q", "--cache-dir", str(corpus_cache), "--package-dir", str(packages)]
    args = ["validate", "hl7.fhir.r4.core#4.0.1", str(instance)]
    allowed = CliRunner().invoke(cli, [*base, *args])
    assert allowed.exit_code == 0, allowed.output
    refused = CliRunner().invoke(cli, [*base, *args, "--no-example-urls"])
    assert refused.exit_code == 1, refused.output
    assert f"The extension {url} is unknown, and not allowed here" in refused.output
