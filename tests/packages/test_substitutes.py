"""Dependency versions that cannot be had, replaced by configured ones (with a warning)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from igtools.cli import cli
from igtools.errors import ConfigError
from igtools.packages import PackageLoader, PackageSet, Settings
from igtools.project import load_project

pytestmark = pytest.mark.shared

SAS = "ans.fhir.fr.sas#1.2.0"


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One package cache for the module: installing hl7.fhir.r4.core takes seconds."""
    return tmp_path_factory.mktemp("fhir-cache")


def _load(shared_packages: Path, cache_dir: Path, subs: dict[str, str]) -> PackageSet:
    settings = Settings(
        cache_dir=cache_dir, package_dirs=[shared_packages], offline=True, substitutes=subs
    )
    loader = PackageLoader(settings)
    try:
        return loader.load(SAS)
    finally:
        loader.close()


def test_versioned_and_any_version_substitutes(shared_packages: Path, cache_dir: Path) -> None:
    plain = _load(shared_packages, cache_dir, {})
    status = {(d.name, d.wanted): d for d in plain.dependencies}
    assert status["hl7.terminology.r4", "7.2.0"].status == "missing"
    assert status["hl7.fhir.uv.extensions.r4", "5.3.0"].status == "missing"

    pset = _load(
        shared_packages,
        cache_dir,
        {"hl7.terminology.r4#7.2.0": "7.0.1", "hl7.fhir.uv.extensions.r4": "5.3.0-ballot-tc1"},
    )
    status = {(d.name, d.wanted): d for d in pset.dependencies}
    term = status["hl7.terminology.r4", "7.2.0"]
    assert (term.status, term.wanted, term.version) == ("resolved", "7.2.0", "7.0.1")
    ext = status["hl7.fhir.uv.extensions.r4", "5.3.0"]
    assert (ext.status, ext.version) == ("resolved", "5.3.0-ballot-tc1")
    warnings = "\n".join(pset.warnings)
    assert (
        "dependency hl7.terminology.r4#7.2.0 not available: using hl7.terminology.r4#7.0.1 "
        "instead" in warnings
    )
    # a versioned key stands for that version only
    names = {p.id for p in pset.packages}
    assert "hl7.terminology.r4#7.0.1" in names


def test_substitute_that_cannot_be_had_either(shared_packages: Path, cache_dir: Path) -> None:
    pset = _load(shared_packages, cache_dir, {"hl7.terminology.r4": "9.9.9"})
    term = next(d for d in pset.dependencies if d.id == "hl7.terminology.r4#7.2.0")
    assert term.status == "missing"
    assert "its substitute hl7.terminology.r4#9.9.9" in term.reason


def test_cli_option_and_bad_value(shared_packages: Path, cache_dir: Path) -> None:
    base = ["--offline", "--cache-dir", str(cache_dir), "--package-dir", str(shared_packages)]
    result = CliRunner().invoke(
        cli, [*base, "--substitute", "hl7.terminology.r4#7.2.0=7.0.1", "inspect", "--json", SAS]
    )
    assert result.exit_code == 0, result.output
    assert "using hl7.terminology.r4#7.0.1 instead" in result.stderr
    bad = CliRunner().invoke(cli, [*base, "--substitute", "hl7.terminology.r4", "inspect", SAS])
    assert bad.exit_code == 2
    assert "--substitute" in bad.stderr and "NAME[#VERSION]=VERSION" in bad.stderr


def test_config_table(tmp_path: Path) -> None:
    (tmp_path / "ig-input").mkdir()
    cfg = tmp_path / "ig-input" / "igtools.toml"
    head = '[ig]\npackage = "a.b#1.0.0"\n[packages.substitutes]\n'
    cfg.write_text(head + '"hl7.terminology.r4#7.2.0" = "7.0.1"\n')
    assert load_project(tmp_path).substitutes == {"hl7.terminology.r4#7.2.0": "7.0.1"}
    cfg.write_text(head + '"x" = 1\n')
    with pytest.raises(ConfigError, match=r"\[packages.substitutes\] 'x' must name a version"):
        load_project(tmp_path)


def test_one_substitute_for_two_wanted_versions_is_loaded_once(
    shared_packages: Path, cache_dir: Path
) -> None:
    # FR Core 2.2.0 wants hl7.terminology.r4 7.1.0, its extensions pack stand-in 6.5.0:
    # both stand-ins are 7.0.1, one package, no "both loaded" warning
    if not (shared_packages / "hl7.fhir.fr.core-2.2.0.tgz").is_file():
        pytest.skip("hl7.fhir.fr.core-2.2.0.tgz absent from ../shared")
    settings = Settings(
        cache_dir=cache_dir,
        package_dirs=[shared_packages],
        offline=True,
        substitutes={
            "hl7.terminology.r4": "7.0.1",
            "hl7.fhir.uv.extensions.r4": "5.3.0-ballot-tc1",
        },
    )
    loader = PackageLoader(settings)
    try:
        pset = loader.load("hl7.fhir.fr.core#2.2.0")
    finally:
        loader.close()
    term = [d for d in pset.dependencies if d.name == "hl7.terminology.r4"]
    assert len(term) >= 2 and all(d.status == "resolved" for d in term), term
    assert [p.id for p in pset.packages].count("hl7.terminology.r4#7.0.1") == 1
    assert not [w for w in pset.warnings if "both loaded" in w]
