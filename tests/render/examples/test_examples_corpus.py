"""The examples stage on every IG of ../shared, judged by ``igtools validate``.

For each package with profiles, the instances ``igtools examples`` generates are
validated with the validator that follows the HL7 reference (profiles of dependencies,
base definitions, Bundle rules, extensions, data type invariants). The instances still
rejected are listed below, per package, with the rule they break: a new rejection fails,
and so does a listed one that no longer happens (remove it from the list: the figures
only improve). The goal is an empty list.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from corpus.validation import load
from tests.conftest import SHARED

pytestmark = pytest.mark.shared

PACKAGES = [
    "ans.fhir.fr.annuaire#1.2.0-snapshot-2",
    "ans.fhir.fr.cds#2.0.1",
    "ans.fhir.fr.eclaire#0.3.1",
    "ans.fhir.fr.eprescription#1.1.0-ballot",
    "ans.fhir.fr.pdsm#3.1.1",
    "ans.fhir.fr.sas#1.1.0",
    "ans.fhir.fr.sas#1.2.0",
    "ans.fhir.fr.tddui#1.1.0",
    "ans.fhir.fr.telesurveillance#0.1.0",
    "hl7.fhir.fr.core#2.1.0",
    "hl7.fhir.fr.core#2.2.0",
    "hl7.fhir.us.core#6.1.0",
]

# package -> {generated file: the rules it still breaks} (the goal is none)
STILL_INVALID: dict[str, dict[str, str]] = {}

# package -> how many instances are generated at least
GENERATED: dict[str, int] = {
    "ans.fhir.fr.annuaire#1.2.0-snapshot-2": 40,
    "ans.fhir.fr.cds#2.0.1": 9,
    "ans.fhir.fr.eclaire#0.3.1": 6,
    "ans.fhir.fr.eprescription#1.1.0-ballot": 16,
    "ans.fhir.fr.pdsm#3.1.1": 11,
    "ans.fhir.fr.sas#1.1.0": 33,
    "ans.fhir.fr.sas#1.2.0": 33,
    "ans.fhir.fr.tddui#1.1.0": 3,
    "ans.fhir.fr.telesurveillance#0.1.0": 2,
    "hl7.fhir.fr.core#2.1.0": 50,
    "hl7.fhir.fr.core#2.2.0": 50,
    "hl7.fhir.us.core#6.1.0": 98,
}


def _generate_and_validate(package: str, cache: Path) -> tuple[int, dict[str, list[str]]]:
    from igtools.render.examples.writer import PARIS, ExamplesRenderer

    loaded = load(package, SHARED, cache)
    ig, validator = loaded.validator.ig, loaded.validator
    # as `igtools examples` and `igtools build` do: with the package set's profiles, the
    # builder validates and repairs what it builds (see repair.py)
    renderer = ExamplesRenderer(
        ig, seed=0, now=datetime(2026, 1, 5, tzinfo=PARIS), source=loaded.builder
    )
    report = renderer.build()
    invalid: dict[str, list[str]] = {}
    for g in report.generated:
        errors = [
            f"{i.location}: {i.rule}: {i.message}"
            for i in validator.validate_resource(g.resource)
            if i.severity in ("error", "fatal")
        ]
        if errors:
            invalid[g.filename] = errors
    return len(report.generated), invalid


@pytest.mark.parametrize("package", PACKAGES)
def test_generated_examples_validate(package: str, corpus_cache: Path) -> None:
    name, _, version = package.partition("#")
    if not (SHARED / "fhir-packages" / f"{name}-{version}.tgz").is_file():
        pytest.skip(f"{SHARED}/fhir-packages/{name}-{version}.tgz absent")
    count, invalid = _generate_and_validate(package, corpus_cache)
    assert count >= GENERATED.get(package, 1)
    expected = STILL_INVALID.get(package, {})
    new = {f: e for f, e in invalid.items() if f not in expected}
    assert not new, f"{package}: generated examples igtools validate rejects: {new}"
    fixed = sorted(set(expected) - set(invalid))
    assert not fixed, f"{package}: now valid, remove from STILL_INVALID: {fixed}"
