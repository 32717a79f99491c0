"""Every Bundle profile gets two instances: a minimal one (a searchset's empty result
when the profile requires no entry, else only the entries its slices require) and the
scenario. On real packages of
../shared: SAS 1.2.0 (searchsets), CDS 2.0.1 (a transaction requiring a CareTeam and a
FR Core patient), PDSM 3.1.1 (two entry slices of the same type, one required)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from igtools.render.examples.bundles import _entry_counts, _entry_id, entry_kinds
from igtools.render.examples.writer import ExamplesRenderer, ExamplesReport
from tests.conftest import SHARED

pytestmark = pytest.mark.shared

NOW = datetime(2026, 1, 5, tzinfo=ZoneInfo("Europe/Paris"))


def _load(package: str, cache: Path) -> Any:
    from corpus.validation import load

    name, _, version = package.partition("#")
    tgz = SHARED / "fhir-packages" / f"{name}-{version}.tgz"
    if not tgz.is_file():
        pytest.skip(f"{tgz} absent")
    return load(package, SHARED, cache)


@pytest.fixture(scope="module")
def sas(corpus_cache: Path) -> Iterator[tuple[Any, ExamplesReport]]:
    loaded = _load("ans.fhir.fr.sas#1.2.0", corpus_cache)
    yield loaded, ExamplesRenderer(loaded.validator.ig, seed=0, now=NOW).build()


def _bundles(report: ExamplesReport) -> dict[str, dict[str, dict[str, Any]]]:
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for g in report.generated:
        if g.profile.type == "Bundle":
            out.setdefault(g.profile.url, {})[g.kind] = g.resource
    return out


def test_sas_every_bundle_profile_has_a_minimal_bundle_and_the_scenario(
    sas: tuple[Any, ExamplesReport],
) -> None:
    loaded, report = sas
    bundles = _bundles(report)
    ig_profiles = loaded.validator.ig.profiles
    profiles = [p for p in ig_profiles.values() if p.is_profile]
    assert len(bundles) == sum(p.type == "Bundle" for p in profiles) == 3
    for url, kinds in bundles.items():
        assert set(kinds) == {"minimal", "scenario"}, url
        minimal, scenario = kinds["minimal"], kinds["scenario"]
        assert minimal["type"] == scenario["type"] == "searchset"
        assert minimal["link"][0]["relation"] == "self"
        assert minimal["id"] != scenario["id"]
        assert scenario["total"] >= 1 and scenario["entry"]
        required = [k for k in entry_kinds(loaded.validator.ig, ig_profiles[url]) if k.min]
        if not required:  # PS-indiv's aggregator: the empty result
            assert minimal["total"] == 0 and "entry" not in minimal
        else:  # CPTS, SOS: a slot, its schedule... one of each required entry slice
            types = sorted(e["resource"]["resourceType"] for e in minimal["entry"])
            assert types == sorted(k.profile.type for k in required)
            assert minimal["total"] == 1
    for g in report.generated:
        if g.profile.type == "Bundle":
            errors = [
                str(i) for i in loaded.validator.validate_resource(g.resource)
                if i.severity in ("error", "fatal")
            ]  # fmt: skip
            assert errors == [], g.filename


def test_sas_every_profile_has_two_instances(sas: tuple[Any, ExamplesReport]) -> None:
    loaded, report = sas
    counts: dict[str, int] = {}
    for g in report.generated:
        counts[g.profile.url] = counts.get(g.profile.url, 0) + 1
    profiles = [u for u, p in loaded.validator.ig.profiles.items() if p.is_profile]
    assert profiles and all(counts.get(u, 0) >= 2 for u in profiles), counts


def test_cds_transaction_minimal_holds_the_required_entries(corpus_cache: Path) -> None:
    loaded = _load("ans.fhir.fr.cds#2.0.1", corpus_cache)
    ig = loaded.validator.ig
    url = "https://interop.esante.gouv.fr/ig/fhir/cds/StructureDefinition/cds-bundle-transaction-creation"
    report = ExamplesRenderer(ig, seed=0, now=NOW).build()
    minimal = _bundles(report)[url]["minimal"]
    types = sorted(e["resource"]["resourceType"] for e in minimal["entry"])
    # careTeam 1..1 (a profile of the IG) and patient 1..1 (FR Core's: a bare Patient)
    assert types == ["CareTeam", "Patient"]
    assert all(e["request"]["method"] for e in minimal["entry"])
    for kind in ("minimal", "scenario"):
        bundle = _bundles(report)[url][kind]
        errors = [
            str(i) for i in loaded.validator.validate_resource(bundle)
            if i.severity in ("error", "fatal")
        ]  # fmt: skip
        assert errors == [], (kind, errors)


def test_pdsm_required_slice_kept_beside_an_optional_one_of_its_type(
    corpus_cache: Path,
) -> None:
    loaded = _load("ans.fhir.fr.pdsm#3.1.1", corpus_cache)
    ig = loaded.validator.ig
    url = (
        "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/"
        "pdsm-comprehensive-provide-document-bundle"
    )
    bundle = ig.profiles[url]
    kinds = entry_kinds(ig, bundle)
    counts = _entry_counts(bundle, kinds, "List", 1, 1, minimal=True)
    chosen = {k.slice_name: n for k, n in counts}
    assert chosen.get("SubmissionSet") == 1  # List, required
    assert "Folders" not in chosen  # List too, optional: the required one stands for it
    scenario = {k.slice_name: n for k, n in _entry_counts(bundle, kinds, "List", 1, 1, False)}
    assert scenario["SubmissionSet"] == 1 and scenario["DocumentRefs"] >= 1


def test_entry_ids_fit_a_fhir_id() -> None:
    long = "pdsm-find-documentreferences-comprehensive-response-scenario"
    rid = _entry_id(long, "-documentreference-12")
    assert len(rid) == 64 and rid.endswith("-scenario-documentreference-12")
    assert _entry_id("short", "-slot-1") == "short-slot-1"
