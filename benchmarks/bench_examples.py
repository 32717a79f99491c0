"""Examples: generating all examples of SAS 1.2.0 and a 1,000-slot scenario Bundle,
next to the models' generation time measured in the same run (issue 4)."""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from benchmarks.common import SHARED, median_time, report
from igtools.ir import build_ir
from igtools.packages import PackageLoader, Settings
from igtools.render.examples.writer import ExamplesRenderer
from igtools.render.models.python import ModelsRenderer

NOW = datetime(2026, 12, 1, tzinfo=ZoneInfo("Europe/Paris"))


def run(repeat: int) -> dict[str, Any]:
    tgz = SHARED / "fhir-packages" / "ans.fhir.fr.sas-1.2.0.tgz"
    tmp = Path(tempfile.mkdtemp(prefix="igtools-bench-examples-"))
    try:
        ig = build_ir(PackageLoader(Settings(cache_dir=tmp / "c", offline=True)).load(str(tgz)))
        n = max(1, repeat // 2)
        models = median_time(lambda: ModelsRenderer(ig, "bench_m").render(tmp / "m"), n)

        def all_examples() -> None:
            r = ExamplesRenderer(ig, seed=1, now=NOW)
            rep = r.build()
            r.write(rep, tmp / "e")

        build = median_time(all_examples, n)

        def checked() -> None:
            r = ExamplesRenderer(ig, seed=1, now=NOW)
            rep = r.build()
            r.check(rep)

        check = median_time(checked, n)

        def big() -> None:
            r = ExamplesRenderer(ig, seed=1, now=NOW, count=1000)
            r.build()

        thousand = median_time(big, 1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows = [
        ("generate all SAS 1.2.0 models", models, None, "baseline"),
        ("build + write all examples", build, build / models, ""),
        ("build + check all examples (generated models)", check, check / models, ""),
        ("build with --count 1000 (1,000-slot Bundles)", thousand, thousand / models, ""),
    ]
    report(f"Examples (median of {n} runs)", rows)
    return {name: {"seconds": s, "ratio": r} for name, s, r, _ in rows}
