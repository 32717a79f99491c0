"""Stubs: the reference server under load (issue 6). A store of 10,000 slots for 1,000
practitioners; a 25-practitioner slot search with includes, under concurrent load from a
second process on loopback; the same server's ``GET /metadata`` rate as the baseline.
Target: p99 under 100 ms (the SAS requirement: an answer within 7 s at ~3,000 calls/h)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import httpx

from benchmarks.common import REPO, SHARED, igtools_command, report
from igtools.ir import build_ir
from igtools.packages import PackageLoader, Settings
from igtools.render.examples.builder import Builder
from igtools.render.examples.bundles import build_bundle
from igtools.render.examples.frdata import FrenchData

SLOTS = 10_000
SECONDS = 8.0
THREADS = 8
CLIENTS = (1, 2, 4, 8)  # concurrent clients of the search
WORKERS = (1, 2)  # igtools serve --workers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _load(url: str, threads: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.loadgen", url, str(SECONDS), str(threads)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def _measure(tgz: Path, tmp: Path, data: Path, query: str, workers: int) -> dict[str, Any]:
    """Start ``igtools serve --workers N`` on ``data``; its /metadata rate and the search
    under 1, 2, 4, 8 clients."""
    port = _free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        igtools_command(
            tmp / "c",
            "serve",
            str(tgz),
            "--capability",
            "SAS-GestionnaireAgenda-PsIndiv",
            "--data",
            str(data),
            "--port",
            str(port),
            "--workers",
            str(workers),
        ),
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(1200):
            try:
                if httpx.get(base + "/metadata", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.25)
        startup = time.perf_counter() - t0
        check = httpx.get(f"{base}/Slot?{query}", timeout=60).json()
        meta = _load(f"{base}/metadata", THREADS)
        searches = {n: _load(f"{base}/Slot?{query}", n) for n in CLIENTS}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {"startup_s": startup, "check": check, "metadata": meta, "search": searches}


def run(repeat: int) -> dict[str, Any]:
    tgz = SHARED / "fhir-packages" / "ans.fhir.fr.sas-1.2.0.tgz"
    tmp = Path(tempfile.mkdtemp(prefix="igtools-bench-stubs-"))
    try:
        ig = build_ir(PackageLoader(Settings(cache_dir=tmp / "c", offline=True)).load(str(tgz)))
        prof = next(p for p in ig.profiles.values() if p.name == "BundleAgregateur")
        now = datetime(2026, 12, 1, tzinfo=ZoneInfo("Europe/Paris"))
        bundle = build_bundle(Builder(ig, FrenchData(1), now), ig, prof, "load", SLOTS, None)
        assert bundle is not None
        data = tmp / "data"
        data.mkdir()
        (data / "bundle.json").write_text(json.dumps(bundle))
        idents = [
            f"{i['system']}|{i['value']}"
            for e in bundle["entry"]
            if e["resource"]["resourceType"] == "Practitioner"
            for i in e["resource"].get("identifier", [])[:1]
        ][:25]
        query = urlencode(
            [
                ("start", "ge2026-12-01T00:00:00+01:00"),
                ("start", "le2026-12-04T23:59:59+01:00"),
                ("schedule.actor:Practitioner.identifier", ",".join(idents)),
                ("status", "free"),
                ("_include", "Slot:schedule"),
                ("_include:iterate", "Schedule:actor"),
            ],
            safe=":,",
        )
        results = {w: _measure(tgz, tmp, data, query, w) for w in WORKERS}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    check = results[WORKERS[0]]["check"]
    for workers, res in results.items():
        meta = res["metadata"]
        rows = [
            ("server start with 10,000 slots (load + index)", res["startup_s"], None, ""),
            (
                f"GET /metadata, {THREADS} clients: {meta['rps']:.0f} req/s",
                1 / meta["rps"],
                None,
                f"baseline; p99 {meta['p99_ms']:.1f} ms",
            ),
        ]
        for n, search in res["search"].items():
            rows.append(
                (
                    f"25-practitioner search, {n} client{'s' if n > 1 else ''}: "
                    f"{search['rps']:.0f} req/s",
                    1 / search["rps"],
                    meta["rps"] / search["rps"],
                    f"p50 {search['p50_ms']:.1f} ms, p99 {search['p99_ms']:.1f} ms"
                    f" (target < 100); errors {search['errors']}",
                )
            )
        report(
            f"Stubs under load, --workers {workers} ({SECONDS:g} s per measure, load from a "
            f"second process; {check.get('total')} slots, "
            f"{len(check.get('entry', []))} entries per answer)",
            rows,
        )
    _ = repeat
    return {
        str(w): {
            "metadata": r["metadata"],
            "search": {str(n): s for n, s in r["search"].items()},
            "startup_s": r["startup_s"],
        }
        for w, r in results.items()
    } | {"matched": check.get("total")}
