"""The maintainer's loop: SUSHI compiles a FSH IG, igtools works on its output.

SUSHI (the npm package ``fsh-sushi``) is not a Python dependency: the test runs when
``IGTOOLS_SUSHI`` names its executable, or ``sushi`` is on the PATH, and is skipped
otherwise. It compiles tests/fixtures/snapshot/fsh-ig offline, against a FHIR package cache
filled from ../shared, then runs ``igtools snapshot`` and ``igtools build --stage models``
on the folder SUSHI wrote (differential-only StructureDefinitions).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from igtools.cli import cli

FSH_IG = Path(__file__).resolve().parents[1] / "fixtures" / "snapshot" / "fsh-ig"
EX = "http://example.org/fhir/fshtest/StructureDefinition/"


def _sushi() -> str:
    exe = os.environ.get("IGTOOLS_SUSHI") or shutil.which("sushi")
    if not exe:
        pytest.skip("SUSHI not found (npm install fsh-sushi; IGTOOLS_SUSHI=path/to/sushi)")
    return exe


def _fhir_cache(home: Path, packages: Path) -> None:
    """~/.fhir/packages as SUSHI reads it, with the core package of ../shared."""
    dest = home / ".fhir" / "packages" / "hl7.fhir.r4.core#4.0.1"
    dest.mkdir(parents=True)
    with tarfile.open(packages / "hl7.fhir.r4.core-4.0.1.tgz") as tar:
        tar.extractall(dest, filter="data")


def sushi_build(source: Path, tmp: Path, packages: Path) -> Path:
    """A copy of the FSH IG ``source`` in ``tmp``, compiled by SUSHI offline against a
    FHIR package cache filled from ``packages``; the copy's folder."""
    sushi = _sushi()
    ig = tmp / "ig"
    shutil.copytree(source, ig)
    home = tmp / "home"
    _fhir_cache(home, packages)
    run = subprocess.run(
        [sushi, "build", str(ig)],
        env={**os.environ, "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    return ig


def test_sushi_output_then_igtools(tmp_path: Path) -> None:
    from tests.conftest import shared_path

    packages = shared_path("fhir-packages")
    ig = sushi_build(FSH_IG, tmp_path, packages)
    resources = ig / "fsh-generated" / "resources"
    for f in resources.glob("StructureDefinition-*.json"):
        assert "snapshot" not in json.loads(f.read_text()), f"{f.name}: SUSHI wrote a snapshot"
    common = ["--offline", "-q", "--cache-dir", str(tmp_path / "cache")]
    common += ["--package-dir", str(packages)]

    out = tmp_path / "snapshots"
    result = CliRunner().invoke(cli, [*common, "snapshot", str(resources), "-o", str(out)])
    assert result.exit_code == 0, result.output
    patient = json.loads((out / "StructureDefinition-test-patient.json").read_text())
    ids = [e["id"] for e in patient["snapshot"]["element"]]
    assert "Patient.identifier:nir.system" in ids and "Patient.extension:birthCity" in ids
    obs = json.loads((out / "StructureDefinition-test-observation.json").read_text())
    value = next(e for e in obs["snapshot"]["element"] if e["id"] == "Observation.value[x]")
    assert [t["code"] for t in value["type"]] == ["Quantity"]

    built = tmp_path / "generated"
    result = CliRunner().invoke(
        cli, [*common, "build", str(ig), "-o", str(built), "--stage", "models"]
    )
    assert result.exit_code == 0, result.output
    models = (built / "models").rglob("*.py")
    text = "\n".join(p.read_text() for p in models)
    assert "TestPatient" in text and "TestObservation" in text
