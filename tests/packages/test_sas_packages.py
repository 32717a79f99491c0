"""The package layer on the real SAS IG packages (../shared/fhir-packages)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from igtools.cli import cli
from igtools.packages import Package, PackageLoader, PackageRef, Settings
from igtools.packages.package import read_package_archive

# Expected contents, counted by hand from the packages' file listings.
EXPECTED = {
    "1.1.0": {
        "profiles": 18,
        "extensions": 1,
        "value_sets": 7,
        "code_systems": 0,
        "capability_statements": 9,
        "search_parameters": 2,
        "examples": 41,
        "deps": {
            "ans.fr.nos": "missing",
            "hl7.fhir.fr.core": "missing",
            "hl7.fhir.r4.core": "provided",
            "hl7.fhir.uv.extensions.r4": "missing",
            "hl7.terminology.r4": "missing",
        },
    },
    "1.2.0": {
        "profiles": 18,
        "extensions": 2,
        "value_sets": 9,
        "code_systems": 1,
        "capability_statements": 9,
        "search_parameters": 2,
        "examples": 45,
        "deps": {
            "hl7.fhir.fr.core": "missing",
            "hl7.fhir.r4.core": "provided",
            "hl7.fhir.uv.extensions.r4": "missing",
            "hl7.terminology.r4": "missing",
        },
    },
}

CLIENT_CAPS = {"SAS-Consommateur-CPTS", "SAS-Consommateur-SOS", "SAS-Consommateur-psindiv"}


def _inspect(args: list[str]) -> tuple[dict, str]:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.stderr


def test_inspect_counts(sas_tgz: Path, sas_version: str, cache_dir: Path) -> None:
    summary, stderr = _inspect(
        ["--offline", "--cache-dir", str(cache_dir), "inspect", "--json", str(sas_tgz)]
    )
    exp = EXPECTED[sas_version]
    assert summary["package"]["name"] == "ans.fhir.fr.sas"
    assert summary["package"]["version"] == sas_version
    for key in (
        "profiles",
        "extensions",
        "value_sets",
        "code_systems",
        "capability_statements",
        "search_parameters",
        "examples",
    ):
        assert summary["counts"][key] == exp[key], key
    assert {d["name"]: d["status"] for d in summary["dependencies"]} == exp["deps"]
    # the missing dependency is named on stderr, with what is lost
    assert "hl7.fhir.fr.core#1.1.0" in stderr
    assert "Lost:" in stderr
    # nothing was written: a .tgz path is read in memory
    assert list(cache_dir.iterdir()) == []


def test_profiles_grouped_by_base_type(sas_tgz: Path, cache_dir: Path) -> None:
    summary, _ = _inspect(
        ["--offline", "--cache-dir", str(cache_dir), "inspect", "--json", str(sas_tgz)]
    )
    profiles = summary["profiles"]
    assert {p["name"] for p in profiles["Slot"]} == {
        "FrSlotAgregateur",
        "FrSlotAgregateurCPTS",
        "FrSlotAgregateurSOS",
    }
    assert {p["name"] for p in profiles["Bundle"]} == {
        "BundleAgregateur",
        "BundleAgregateurCPTS",
        "BundleAgregateurSOS",
    }
    caps = {c["id"]: c["modes"] for c in summary["capability_statements"]}
    assert len(caps) == 9
    for cid, modes in caps.items():
        assert modes == (["client"] if cid in CLIENT_CAPS else ["server"]), cid
    sps = {s["code"] for s in summary["search_parameters"]}
    assert "start" in sps


def test_every_example_claims_a_resolvable_profile(sas_tgz: Path, cache_dir: Path) -> None:
    loader = PackageLoader(Settings(cache_dir=cache_dir, offline=True))
    pset = loader.load(str(sas_tgz))
    examples = pset.index.examples_of(pset.root.id)
    assert examples
    for ex in examples:
        assert ex.claimed_profiles, ex.key
        for url in ex.claimed_profiles:
            sd = pset.index.resolve(url)
            assert sd is not None, (ex.key, url)
            assert sd.resource_type == "StructureDefinition"
            assert sd.data["type"] == ex.resource_type
    # examples stay out of conformance lookups
    assert pset.index.get("Slot", "ExampleSlotPSIndiv1", examples=False) is None
    assert pset.index.get("Slot", "ExampleSlotPSIndiv1") is not None


def test_index_lookups(cache_dir: Path, shared_packages: Path) -> None:
    loader = PackageLoader(Settings(cache_dir=cache_dir, offline=True))
    pset = loader.load(str(shared_packages / "ans.fhir.fr.sas-1.2.0.tgz"))
    idx = pset.index
    slot = idx.resolve("http://sas.fr/fhir/StructureDefinition/FrSlotAgregateur")
    assert slot is not None and slot.name == "FrSlotAgregateur"
    assert idx.resolve("http://sas.fr/fhir/StructureDefinition/FrSlotAgregateur|1.2.0") is slot
    assert idx.resolve("http://sas.fr/fhir/StructureDefinition/FrSlotAgregateur|9.9") is None
    assert len(idx.of_type("CapabilityStatement")) == 9
    assert idx.get("SearchParameter", "slot-sp-start") is not None
    # FR Core is missing: its profiles stay unresolved and are reported
    assert "http://interopsante.org/fhir/StructureDefinition/FrSlot" in pset.unresolved
    assert any(
        "baseDefinition" in what
        for what in pset.unresolved["http://interopsante.org/fhir/StructureDefinition/FrSlot"]
    )


def test_package_dir_installs_into_cache_then_hits(cache_dir: Path, shared_packages: Path) -> None:
    settings = Settings(cache_dir=cache_dir, package_dirs=[shared_packages], offline=True)
    first = PackageLoader(settings).load("ans.fhir.fr.sas#1.2.0")
    assert first.root.origin == "package-dir"
    assert (cache_dir / "ans.fhir.fr.sas#1.2.0" / "package" / "package.json").is_file()
    second = PackageLoader(settings).load("ans.fhir.fr.sas@1.2.0")
    assert second.root.origin == "cache"
    assert len(second.index) == len(first.index)
    latest = PackageLoader(settings).load("ans.fhir.fr.sas#latest")
    assert latest.root.version == "1.2.0"


def test_strict_fails_on_missing_fr_core(sas_tgz: Path, cache_dir: Path) -> None:
    result = CliRunner().invoke(
        cli, ["--offline", "--strict", "--cache-dir", str(cache_dir), "inspect", str(sas_tgz)]
    )
    assert result.exit_code == 2
    assert "hl7.fhir.fr.core#1.1.0" in result.stderr
    assert "Traceback" not in result.output


def test_archive_read_matches_cache_read(cache_dir: Path, shared_packages: Path) -> None:
    """The in-memory .tgz reader and the cache-folder reader see the same resources."""
    tgz = shared_packages / "ans.fhir.fr.sas-1.2.0.tgz"
    mem = read_package_archive(tgz)
    settings = Settings(cache_dir=cache_dir, package_dirs=[shared_packages], offline=True)
    folder = PackageLoader(settings).fetch(PackageRef("ans.fhir.fr.sas", "1.2.0"))

    def keys(pkg: Package) -> list[tuple[str, str | None, bool]]:
        return sorted((e.resource_type, e.id, e.is_example) for e in pkg.entries)

    assert keys(mem) == keys(folder)
    # lazy entries load the same content
    a = {e.key: e.data for e in mem.entries}
    b = {e.key: e.data for e in folder.entries}
    assert a == b


def test_project_default_package(tmp_path: Path, shared_packages: Path, cache_dir: Path) -> None:
    """Without PACKAGE, inspect uses ig-input/igtools.toml."""
    proj = tmp_path / "proj"
    (proj / "ig-input").mkdir(parents=True)
    (proj / "ig-input" / "igtools.toml").write_text(
        '[ig]\npackage = "ans.fhir.fr.sas#1.1.0"\n'
        f'[packages]\npackage-dirs = ["{shared_packages.as_posix()}"]\n'
    )
    summary, _ = _inspect(
        ["--offline", "--project", str(proj), "--cache-dir", str(cache_dir), "inspect", "--json"]
    )
    assert summary["package"]["version"] == "1.1.0"


def test_human_output(sas_tgz: Path, cache_dir: Path) -> None:
    result = CliRunner().invoke(
        cli, ["--offline", "--cache-dir", str(cache_dir), "inspect", str(sas_tgz)]
    )
    assert result.exit_code == 0
    for word in (
        "Profiles by base type",
        "FrSlotAgregateur",
        "Dependencies",
        "missing",
        "provided",
    ):
        assert word in result.stdout


def test_piped_output_keeps_names_whole(sas_tgz: Path, cache_dir: Path) -> None:
    """Not a terminal (a pipe, a file, here the test runner): no name cut with "…"."""
    result = CliRunner().invoke(
        cli, ["--offline", "--cache-dir", str(cache_dir), "inspect", str(sas_tgz)]
    )
    assert result.exit_code == 0
    assert "…" not in result.stdout
    pkg = read_package_archive(sas_tgz)
    sds = [e for e in pkg.entries if e.resource_type == "StructureDefinition"]
    assert len(sds) >= 19
    for e in sds:
        assert e.data["name"] in result.stdout
        assert str(e.url) in result.stdout


def test_repo_config_is_valid() -> None:
    from igtools.project import load_project

    repo = Path(__file__).resolve().parents[2]
    project = load_project(repo)
    assert project.package == "ans.fhir.fr.sas#1.2.0"
    assert project.pages is not None and project.pages.name == "sas-1.2.0"
    assert project.previous == "ans.fhir.fr.sas#1.1.0"
    assert project.output == repo / "generated"
