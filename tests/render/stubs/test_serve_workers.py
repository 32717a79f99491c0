"""`igtools serve --workers 2`: two forked processes on one port and one store file; a
write through one is seen by both; SIGTERM to the parent stops them."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import httpx
import pytest

from igtools.ir import build_ir
from igtools.packages import PackageLoader, Settings
from tests.conftest import REPO, shared_path
from tests.render.stubs import serving

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="--workers needs fork()")


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to list the workers")
def test_two_workers_share_the_store(tmp_path: Path) -> None:
    tgz = shared_path("fhir-packages", "ans.fhir.fr.sas-1.2.0.tgz")
    ig = build_ir(PackageLoader(Settings(cache_dir=tmp_path / "c0", offline=True)).load(str(tgz)))
    regul = next(e.data for e in ig.examples if e.id == "ExamplePractitionerRegul1")
    body = json.loads(json.dumps(regul))
    body.pop("id", None)
    fresh = "3" + uuid.uuid4().hex[:11]
    body["identifier"][0]["value"] = fresh
    query = f"identifier={body['identifier'][0]['system']}%7C{fresh}"
    options = (
        "--capability", "SAS-GestionnaireStructure",
        "--capability", "SAS-GestionnaireAgenda-PsIndiv",  # Practitioner search
        "--workers", "2",
    )  # fmt: skip
    with serving.igtools_serve(tmp_path, str(tgz), *options, project=REPO) as (port, proc):
        # the socket listens before the forks: the port may answer before both workers exist
        deadline = time.monotonic() + 30
        while len(workers := _children(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(workers) == 2, workers
        base = f"http://127.0.0.1:{port}"
        headers = {"Content-Type": "application/fhir+json"}
        # a conditional update with no match creates, through one worker...
        r = httpx.put(f"{base}/Practitioner?{query}", content=json.dumps(body), headers=headers)
        assert r.status_code == 201, r.text
        # ...and every later search, whichever worker answers, finds it (one connection each)
        for _ in range(20):
            found = httpx.get(f"{base}/Practitioner?{query}").json()
            assert found["total"] == 1, found
        # a second conditional update matches it: updated, not created again
        body["active"] = False
        r = httpx.put(f"{base}/Practitioner?{query}", content=json.dumps(body), headers=headers)
        assert r.status_code == 200, r.text
        assert httpx.get(f"{base}/Practitioner?{query}&active=false").json()["total"] == 1
    assert proc.returncode is not None
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()], "workers left running"
