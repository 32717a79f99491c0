"""Docs: rendering and building the SAS 1.2.0 site (with its pages), against a plain
`mkdocs build` of the same number of empty pages measured in the same run (issue 5)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import SHARED, median_time, report
from igtools.ir import build_ir
from igtools.packages import PackageLoader, Settings
from igtools.render.docs.site import DocsRenderer


def _empty_site(root: Path, n: int) -> None:
    docs = root / "docs"
    docs.mkdir(parents=True)
    (docs / "index.md").write_text("# Index\n")
    for i in range(n - 1):
        (docs / f"page{i}.md").write_text(f"# Page {i}\n")
    (root / "mkdocs.yml").write_text(
        "site_name: empty\ntheme:\n  name: material\n  font: false\nplugins:\n  - search\n"
    )


def run(repeat: int) -> dict[str, Any]:
    tgz = SHARED / "fhir-packages" / "ans.fhir.fr.sas-1.2.0.tgz"
    pages = SHARED / "ig-source" / "sas-1.2.0"
    tmp = Path(tempfile.mkdtemp(prefix="igtools-bench-docs-"))
    n = max(1, repeat // 3)
    try:
        pset = PackageLoader(Settings(cache_dir=tmp / "c", offline=True)).load(str(tgz))
        ig = build_ir(pset)
        timings: dict[str, float] = {}

        def igtools_site() -> None:
            out = tmp / "sas"
            shutil.rmtree(out, ignore_errors=True)
            r = DocsRenderer(ig, pset, pages=pages)
            t0 = time.perf_counter()
            rep = r.render(out)
            timings["render"] = time.perf_counter() - t0
            r.build(out, rep)
            timings["pages"] = float(rep.pages)

        full = median_time(igtools_site, n)
        count = int(timings["pages"])
        _empty_site(tmp / "empty", count)

        def plain() -> None:
            shutil.rmtree(tmp / "empty" / "site", ignore_errors=True)
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "mkdocs",
                    "build",
                    "-q",
                    "-f",
                    str(tmp / "empty" / "mkdocs.yml"),
                ],
                check=True,
                env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
            )

        base = median_time(plain, n)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows = [
        (f"plain mkdocs build, {count} empty pages", base, None, "baseline"),
        (
            "igtools docs SAS 1.2.0: render (templates, pages)",
            timings["render"],
            timings["render"] / base,
            "",
        ),
        ("igtools docs SAS 1.2.0: render + strict build + link check", full, full / base, ""),
    ]
    report(f"Docs (median of {n} runs)", rows)
    return {name: {"seconds": s, "ratio": r} for name, s, r, _ in rows}
