"""Loading and indexing SAS 1.2.0, against un-tarring and json.load-ing the same files.

* floor: open the .tgz, read every JSON member of ``package/`` and ``package/example/``,
  ``json.loads`` each (what any loader must at least do);
* cold: ``igtools`` loads the .tgz (in memory, safety checks, index, offline dependency
  resolution, unresolved-reference report);
* cold via package dir: ``name#version`` from a package folder into an empty cache
  (safe extraction, atomic install, read, index);
* warm: the same from the cache.

Target (issue 2): cold within 2x of the floor.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import SHARED, median_time, report
from igtools.packages import PackageLoader, Settings


def _floor(tgz: Path) -> None:
    with tarfile.open(tgz, "r:gz") as tf:
        for m in tf:
            parts = m.name.split("/")
            if (
                m.isfile()
                and m.name.endswith(".json")
                and parts[0] == "package"
                and len(parts) <= 3
            ):
                fh = tf.extractfile(m)
                assert fh is not None
                json.loads(fh.read())


def run(repeat: int) -> dict[str, Any]:
    pkgs = SHARED / "fhir-packages"
    tgz = pkgs / "ans.fhir.fr.sas-1.2.0.tgz"
    tmp = Path(tempfile.mkdtemp(prefix="igtools-bench-"))
    cold_cache = tmp / "cold"
    warm_cache = tmp / "warm"
    try:
        floor = median_time(lambda: _floor(tgz), repeat)

        def load_tgz() -> None:
            s = Settings(cache_dir=tmp / "unused", offline=True)
            PackageLoader(s).load(str(tgz))

        cold = median_time(load_tgz, repeat)

        def reset_cold() -> None:
            shutil.rmtree(cold_cache, ignore_errors=True)

        def load_pkgdir() -> None:
            s = Settings(cache_dir=cold_cache, package_dirs=[pkgs], offline=True)
            PackageLoader(s).load("ans.fhir.fr.sas#1.2.0")

        via_dir = median_time(load_pkgdir, repeat, setup=reset_cold)

        PackageLoader(Settings(cache_dir=warm_cache, package_dirs=[pkgs], offline=True)).load(
            "ans.fhir.fr.sas#1.2.0"
        )

        def load_warm() -> None:
            s = Settings(cache_dir=warm_cache, offline=True)
            pset = PackageLoader(s).load("ans.fhir.fr.sas#1.2.0")
            for e in pset.root.entries:  # lazy entries: count reading them too
                _ = e.data

        warm = median_time(load_warm, repeat)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows = [
        ("floor: untar + json.load (SAS 1.2.0)", floor, None, ""),
        ("cold: igtools load from .tgz", cold, cold / floor, "target <= 2x"),
        ("cold: package dir -> empty cache", via_dir, via_dir / floor, "extract + install"),
        ("warm: from the cache", warm, warm / floor, ""),
    ]
    report(f"Package loading (median of {repeat} runs)", rows)
    return {name: {"seconds": s, "ratio": r} for name, s, r, _ in rows}
