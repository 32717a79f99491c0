"""Timing helpers shared by the benchmarks."""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IGTOOLS_SHARED", REPO.parent / "shared"))


def igtools_command(cache: Path, *args: str) -> list[str]:
    """``python -m igtools --offline -q --project REPO --cache-dir CACHE ARGS``."""
    return [
        sys.executable,
        "-m",
        "igtools",
        "--offline",
        "-q",
        "--project",
        str(REPO),
        "--cache-dir",
        str(cache),
        *args,
    ]


def median_time(
    fn: Callable[[], object], repeat: int, setup: Callable[[], object] | None = None
) -> float:
    """Median wall time of ``fn`` over ``repeat`` runs (``setup`` runs untimed before each)."""
    times = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def report(title: str, rows: list[tuple[str, float, float | None, str]]) -> None:
    """Print rows of (measure, seconds, ratio to baseline, note)."""
    print(f"\n{title}")
    print(f"  {'measure':<44} {'median s':>10} {'ratio':>8}  note")
    for name, secs, ratio, note in rows:
        if ratio is not None:
            r = f"{ratio:7.2f}x"
        else:
            r = (
                "  (base)"
                if note.startswith("baseline") or name.startswith("floor")
                else "       -"
            )
        print(f"  {name:<44} {secs:10.4f} {r:>8}  {note}")
