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

from benchmarks.common import REPO, SHARED, report
from igtools.ir import build_ir
from igtools.packages import PackageLoader, Settings
from igtools.render.examples.builder import Builder
from igtools.render.examples.bundles import build_bundle
from igtools.render.examples.frdata import FrenchData

SLOTS = 10_000
SECONDS = 8.0
THREADS = 8
CLIENTS = (1, 2, 4, 8)  # concurrent clients of the search


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(repeat: int) -> dict[str, Any]:
    tgz = SHARED / "fhir-packages" / "ans.fhir.fr.sas-1.2.0.tgz"
    tmp = Path(tempfile.mkdtemp(prefix="igtools-bench-stubs-"))
    proc = None
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
        port = _free_port()
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "igtools",
                "--offline",
                "-q",
                "--project",
                str(REPO),
                "--cache-dir",
                str(tmp / "c"),
                "serve",
                str(tgz),
                "--capability",
                "SAS-GestionnaireAgenda-PsIndiv",
                "--data",
                str(data),
                "--port",
                str(port),
            ],
            stdout=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(1200):
            try:
                if httpx.get(base + "/metadata", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.25)
        startup = time.perf_counter() - t0
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
        check = httpx.get(f"{base}/Slot?{query}", timeout=60).json()

        def load(url: str, threads: int = THREADS) -> dict[str, Any]:
            out = subprocess.run(
                [sys.executable, "-m", "benchmarks.loadgen", url, str(SECONDS), str(threads)],
                capture_output=True,
                text=True,
                check=True,
                cwd=REPO,
            )
            result: dict[str, Any] = json.loads(out.stdout)
            return result

        meta = load(f"{base}/metadata")
        searches = {n: load(f"{base}/Slot?{query}", threads=n) for n in CLIENTS}
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=20)
        shutil.rmtree(tmp, ignore_errors=True)
    rows = [
        ("server start with 10,000 slots (load + index)", startup, None, ""),
        (
            f"GET /metadata, {THREADS} clients: {meta['rps']:.0f} req/s",
            1 / meta["rps"],
            None,
            f"baseline; p99 {meta['p99_ms']:.1f} ms",
        ),
    ]
    for n, search in searches.items():
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
        f"Stubs under load ({SECONDS:g} s per measure, load from a second process; "
        f"{check.get('total')} slots, {len(check.get('entry', []))} entries per answer)",
        rows,
    )
    _ = repeat
    return {
        "metadata": meta,
        "search": {str(n): r for n, r in searches.items()},
        "startup_s": startup,
        "matched": check.get("total"),
    }
