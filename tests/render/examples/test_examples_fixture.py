"""Examples on the fixture IG (no ../shared): contradictions are reported, not crashed on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from igtools.cli import cli
from tests.golden import FIXTURE


def _copy(tmp_path: Path) -> Path:
    dst = tmp_path / "ig"
    shutil.copytree(FIXTURE, dst)
    return dst


def test_fixture_examples_cli(tmp_path: Path) -> None:
    r = CliRunner().invoke(
        cli,
        [
            "--offline",
            "-q",
            "--cache-dir",
            str(tmp_path / "c"),
            "examples",
            str(FIXTURE),
            "-o",
            str(tmp_path / "out"),
            "--now",
            "2026-01-05",
            "--count",
            "3",
        ],
    )
    assert r.exit_code == 0, r.output
    files = sorted(p.name for p in (tmp_path / "out").glob("*.json") if p.name != "index.json")
    assert len(files) == 2 * 4  # minimal, full, variant-1, variant-2 for each profile


def test_contradictory_profile_is_reported(tmp_path: Path) -> None:
    ig = _copy(tmp_path)
    sd_path = next((ig / "package").glob("StructureDefinition-mini-patient.json"))
    sd = json.loads(sd_path.read_text())
    for el in sd["snapshot"]["element"]:
        if el["path"] == "Patient.gender":
            el["min"], el["max"] = 1, "0"
    sd_path.write_text(json.dumps(sd))
    r = CliRunner().invoke(
        cli,
        [
            "--offline",
            "--cache-dir",
            str(tmp_path / "c"),
            "examples",
            str(ig),
            "-o",
            str(tmp_path / "out"),
            "--now",
            "2026-01-05",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "no valid instance can be built" in r.stderr
    assert "MiniPatient" in r.stderr and "Patient.gender: min 1 > max 0" in r.stderr
    names = [p.name for p in (tmp_path / "out").glob("*.json")]
    assert not any(n.startswith("Patient-") for n in names)
    assert any(n.startswith("Observation-") for n in names)
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "Profiles without an example" in readme
