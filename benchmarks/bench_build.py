"""`igtools build` of SAS 1.2.0 with its pages: cold, then with everything cached (issue 7).
Target: the cached rebuild under 10% of the cold one."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import SHARED, igtools_command, report


def run(repeat: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="igtools-bench-build-"))
    cmd = igtools_command(
        tmp / "c",
        "--package-dir",
        str(SHARED / "fhir-packages"),
        "build",
        "-o",
        str(tmp / "out"),
        "--now",
        "2026-12-01",
    )
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    try:
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        cold = time.perf_counter() - t0
        cached = []
        for _ in range(max(1, repeat // 2)):
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env=env)
            cached.append(time.perf_counter() - t0)
        warm = sorted(cached)[len(cached) // 2]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows = [
        ("igtools build SAS 1.2.0, cold", cold, None, "baseline"),
        ("igtools build, everything cached", warm, warm / cold, "target < 0.10x"),
    ]
    report("Build", rows)
    return {name: {"seconds": s, "ratio": r} for name, s, r, _ in rows}
