"""The measure of snapshot generation: every published snapshot of ../shared, recomputed.

For each package of ``../shared/fhir-packages`` (but hl7.fhir.r4.core), every
StructureDefinition with a differential and a snapshot has its snapshot recomputed from
the differential and compared element by element with the published one
(:func:`igtools.ir.snapshot_compare.compare_package`). The counts are exact, like
tests/corpus/test_corpus_validate.py: fewer identical profiles fails (a regression), and
so do more (raise the figure here and in docs/snapshots.md: the figures only improve).
Every profile that differs has its reasons, and none is ``unexplained`` (a difference no
known class of publisher or dependency behaviour explains: a generator bug).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from igtools.ir.snapshot_compare import compare_package, load_package_index, packages_in

# (identical, comparable, total) per package: comparable when the base chain is loaded
# (see docs/snapshots.md for why the others differ)
EXPECTED: dict[str, tuple[int, int, int]] = {
    "ans.fhir.fr.annuaire#1.2.0-snapshot-2": (44, 48, 48),
    "ans.fhir.fr.cds#2.0.1": (4, 6, 6),
    "ans.fhir.fr.eclaire#0.3.1": (15, 18, 18),
    "ans.fhir.fr.eprescription#1.1.0-ballot": (20, 22, 22),
    "ans.fhir.fr.pdsm#3.1.1": (2, 2, 9),
    "ans.fhir.fr.sas#1.1.0": (1, 1, 19),
    "ans.fhir.fr.sas#1.2.0": (2, 2, 20),
    "ans.fhir.fr.tddui#1.1.0": (2, 2, 2),
    "ans.fhir.fr.telesurveillance#0.1.0": (1, 1, 1),
    "hl7.fhir.fr.core#2.1.0": (38, 63, 63),
    "hl7.fhir.fr.core#2.2.0": (54, 64, 64),
    "hl7.fhir.us.core#6.1.0": (58, 58, 59),
    "hl7.fhir.uv.extensions.r4#5.3.0-ballot-tc1": (680, 680, 680),
    "hl7.terminology.r4#7.0.1": (9, 9, 9),
}


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("snapshot-cache")


def _package_ids() -> list[str]:
    from tests.conftest import SHARED

    folder = SHARED / "fhir-packages"
    return packages_in(folder) if folder.is_dir() else ["(no ../shared)"]


@pytest.mark.parametrize("package", _package_ids())
def test_regenerated_snapshots_match_published(package: str, cache: Path) -> None:
    from tests.conftest import shared_path

    folder = shared_path("fhir-packages")
    index, pkg_id = load_package_index(folder, package, cache)
    results = compare_package(index, pkg_id)
    for r in results:
        if not r.identical:
            print(f"{r.url}: {r.reason}")
            for line in [r.error] if r.error else r.differences[:20]:
                print(f"    {line}")
    same = sum(r.identical for r in results)
    comparable = sum(r.comparable for r in results)
    print(f"{pkg_id}: {same} identical / {comparable} comparable / {len(results)}")
    assert results, f"{pkg_id}: no StructureDefinition with a differential and a snapshot"
    assert all(r.reasons for r in results if not r.identical)
    for r in results:
        if not r.comparable:
            assert r.reason.startswith(("base missing: ", "missing: ")), r.reason
    unexplained = {r.url: r.reason for r in results if r.unexplained}
    assert not unexplained, unexplained
    expected = EXPECTED.get(pkg_id, (len(results), len(results), len(results)))
    assert (same, comparable, len(results)) == expected
