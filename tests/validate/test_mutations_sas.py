"""The mutation suite on the real SAS packages: every invalid variant rejected at the
right place, every valid control accepted."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from igtools.ir import IG, build_ir
from igtools.packages import PackageLoader, Settings
from igtools.validate.validator import Validator
from tests.conftest import shared_path
from tests.validate.mutations import Mutation, mutations


def _ig(version: str, cache: Path) -> IG:
    tgz = shared_path("fhir-packages", f"ans.fhir.fr.sas-{version}.tgz")
    return build_ir(PackageLoader(Settings(cache_dir=cache, offline=True)).load(str(tgz)))


@pytest.fixture(scope="module", params=["1.1.0", "1.2.0"])
def sas(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[IG, Validator]:
    ig = _ig(str(request.param), tmp_path_factory.mktemp("cache"))
    return ig, Validator(ig)


# examples the HL7 validator rejects too (its QA report): a CodeableConcept with text only
# under a required binding ("No code provided") - see tests/validate/test_bindings_corpus.py
REFERENCE_INVALID = {
    "1.2.0": {"Bundle/ExampleBundlePSIndiv", "Slot/ExampleSlotPSIndiv3", "Slot/ExampleSlotPSIndiv5"}
}


def _suite(ig: IG) -> list[Mutation]:
    out = []
    known = REFERENCE_INVALID.get(ig.version, set())
    for ex in ig.examples:
        if f"{ex.resource_type}/{ex.id}" in known:
            continue  # invalid to begin with: its variants would prove nothing
        for url in ex.profiles:
            prof = ig.profiles.get(url)
            if prof is not None:
                out.extend(mutations(ig, prof, ex.data))
    return out


def test_every_example_is_valid(sas: tuple[IG, Validator]) -> None:
    ig, validator = sas
    known = REFERENCE_INVALID.get(ig.version, set())
    for ex in ig.examples:
        issues = [i for i in validator.validate_resource(ex.data) if i.severity == "error"]
        if f"{ex.resource_type}/{ex.id}" in known:
            assert {i.rule for i in issues} == {"binding"}, [str(i) for i in issues]
            continue
        assert issues == [], (ex.resource_type, ex.id, [str(i) for i in issues])


def test_mutations_rejected_controls_accepted(sas: tuple[IG, Validator]) -> None:
    ig, validator = sas
    suite = _suite(ig)
    kinds = Counter(m.kind for m in suite)
    # the suite covers every kind of constraint it knows how to break
    for kind in (
        "required-removed",
        "prohibited-added",
        "fixed-changed",
        "max-exceeded",
        "slice-removed",
        "malformed-date",
        "bad-reference",
        "code-outside-vs",
        "invariant",
        "wrong-type",
        "control",
    ):
        assert kinds[kind] > 0, (kind, kinds)
    missed: list[str] = []
    wrong_place: list[str] = []
    rejected_controls: list[str] = []
    invalid = 0
    for m in suite:
        errors = [
            i
            for i in validator.validate_resource(m.data, profile=m.profile)
            if i.severity == "error"
        ]
        if m.valid:
            if errors:
                rejected_controls.append(f"{m.description}: {[str(e) for e in errors]}")
            continue
        invalid += 1
        if not errors:
            missed.append(f"{m.data.get('resourceType')}/{m.data.get('id')}: {m.description}")
        elif m.expect_location and not any(
            e.location.startswith(m.expect_location) for e in errors
        ):
            wrong_place.append(f"{m.description}: {[str(e) for e in errors]}")
    assert rejected_controls == []
    assert wrong_place == []
    rate = 1 - len(missed) / invalid
    assert rate >= 0.95, (rate, missed)
    # in fact, every mutation the suite derives is caught
    assert missed == []


def test_code_outside_package_value_set(sas: tuple[IG, Validator]) -> None:
    """A code outside a required value set defined in the package is refused."""
    ig, validator = sas
    suite = [m for m in _suite(ig) if m.kind == "code-outside-vs"]
    for m in suite:
        errors = [
            i for i in validator.validate_resource(m.data, profile=m.profile) if i.rule == "binding"
        ]
        assert errors, m.description
