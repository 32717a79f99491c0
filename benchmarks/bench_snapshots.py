"""Snapshot generation (igtools.ir.snapshot): every StructureDefinition of the largest
package of ../shared (hl7.fhir.uv.extensions.r4, 680 extensions) and of US Core,
recomputed from its differential, against reading the same package with its published
snapshots (the archive read and every resource parsed).

Target (issue 15): all the profiles of the largest package in a few seconds.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.common import SHARED, median_time, report
from igtools.ir.snapshot import SnapshotGenerationError, SnapshotGenerator
from igtools.packages.index import ResourceIndex
from igtools.packages.package import Package, read_package_archive

PACKAGES = ("hl7.fhir.uv.extensions.r4-5.3.0-ballot-tc1", "hl7.fhir.us.core-6.1.0")


def _read(tgz: Path) -> Package:
    return read_package_archive(tgz)


def _regenerate(index: ResourceIndex, urls: list[str]) -> int:
    gen = SnapshotGenerator(index, regenerate=urls)
    failed = 0
    for url in urls:
        try:
            gen.snapshot_elements(url)
        except SnapshotGenerationError:  # a base in a package ../shared does not hold
            failed += 1
    return failed


def run(repeat: int) -> dict[str, Any]:
    folder = SHARED / "fhir-packages"
    core = _read(folder / "hl7.fhir.r4.core-4.0.1.tgz")
    deps = [_read(folder / "hl7.terminology.r4-7.0.1.tgz")]
    rows: list[tuple[str, float, float | None, str]] = []
    results: dict[str, Any] = {}
    for name in PACKAGES:
        tgz = folder / f"{name}.tgz"
        pkg = _read(tgz)
        index = ResourceIndex([pkg, *deps, core])
        urls = [
            str(e.url)
            for e in pkg.entries
            if e.resource_type == "StructureDefinition"
            and e.data.get("differential")
            and e.data.get("snapshot")
        ]
        read = median_time(partial(_read, tgz), repeat)
        gen = median_time(partial(_regenerate, index, urls), repeat)
        rows.append((f"{name[:30]}: read with snapshots", read, None, "baseline"))
        rows.append((f"{len(urls)} snapshots regenerated", gen, gen / read, "target: a few s"))
        results[name] = {"profiles": len(urls), "read": read, "regenerate": gen}
    report("snapshots: regenerated from differentials vs read as published", rows)
    return results
