"""Bad input to the package layer gives one clear error naming the culprit; the mini IG
fixture (``tests/fixtures/mini-ig``, ``tests/fixtures/mini-ig-source``) loads every way
a package can be given, with exact counts.
"""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from igtools.cli import cli
from igtools.errors import IgtoolsError, PackageError, ResourceFileError
from igtools.packages import Package, PackageLoader, PackageRef, ResourceIndex, Settings
from igtools.packages.package import read_path
from igtools.packages.resources import ResourceEntry
from igtools.packages.spec import (
    PathArg,
    matches,
    parse_package_arg,
    parse_ref,
    pick_version,
    version_key,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MINI = FIXTURES / "mini-ig"
MINI_SRC = FIXTURES / "mini-ig-source"
NAME, VERSION = "example.fhir.mini", "0.1.0"
BASE = "http://example.org/fhir/mini"
PATIENT = f"{BASE}/StructureDefinition/mini-patient"
OBSERVATION = f"{BASE}/StructureDefinition/mini-observation"
BIRTH_PLACE = f"{BASE}/StructureDefinition/mini-birth-place"
SRC_PATIENT = "http://example.org/fhir/minisrc/StructureDefinition/minisrc-patient"
# bindings the snapshots inherit from the core spec, and the core search parameters the
# capability statement links: core resources are not indexed when hl7.fhir.r4.core is only
# "provided" by fhir.resources
CORE_CANONICALS = {
    "http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1",
    "http://hl7.org/fhir/ValueSet/observation-category",
    "http://hl7.org/fhir/ValueSet/observation-status|4.0.1",
    "http://hl7.org/fhir/SearchParameter/clinical-code",
    "http://hl7.org/fhir/SearchParameter/Observation-subject",
}


def offline(tmp_path: Path, *package_dirs: Path) -> list[str]:
    """Global options: offline, a cache in ``tmp_path``, the given package dirs."""
    out = ["--offline", "--cache-dir", str(tmp_path / "c")]
    for d in package_dirs:
        out += ["--package-dir", str(d)]
    return out


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def inspect_json(*args: str) -> dict[str, Any]:
    result = run(*args[:-1], "inspect", "--json", args[-1])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def one_line_error(result: Result) -> str:
    """The CLI failed as it should: exit 2, one ``error:`` line, no traceback."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def make_tgz(folder: Path, dest: Path) -> Path:
    """A package .tgz of ``folder`` (which holds ``package/``)."""
    with tarfile.open(dest, "w:gz") as tf:
        tf.add(folder / "package", arcname="package")
    return dest


def mini_copy(tmp_path: Path) -> Path:
    """A writable copy of the mini IG (the folder holding ``package/``)."""
    dest = tmp_path / "mini"
    shutil.copytree(MINI, dest)
    return dest


def edit_manifest(folder: Path, **changes: Any) -> None:
    path = folder / "package" / "package.json"
    manifest = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            manifest.pop(key, None)
        else:
            manifest[key] = value
    path.write_text(json.dumps(manifest, indent=2))


@pytest.fixture
def package_dir(tmp_path: Path) -> Path:
    """A --package-dir holding the mini IG as example.fhir.mini-0.1.0.tgz."""
    d = tmp_path / "package-dir"
    d.mkdir()
    make_tgz(MINI, d / f"{NAME}-{VERSION}.tgz")
    return d


def offline_loader(cache_dir: Path, *package_dirs: Path, strict: bool = False) -> PackageLoader:
    return PackageLoader(
        Settings(cache_dir=cache_dir, package_dirs=list(package_dirs), offline=True, strict=strict)
    )


# =========================================================================== bad input

BROKEN_JSON = '{\n  "resourceType": "StructureDefinition",\n  "id": oops,\n  "url": "x"\n}\n'


@pytest.mark.parametrize("where", ["", "example/"])
def test_invalid_json_in_package_folder(tmp_path: Path, where: str) -> None:
    folder = mini_copy(tmp_path)
    bad = folder / "package" / f"{where}StructureDefinition-broken.json"
    bad.write_text(BROKEN_JSON)
    with pytest.raises(ResourceFileError) as info:
        read_path(folder)
    assert str(info.value).startswith(f"{bad}:3:9: invalid JSON: Expecting value")
    line = one_line_error(run(*offline(tmp_path), "inspect", str(folder)))
    assert f"{bad}:3:" in line


def test_invalid_json_in_package_archive(tmp_path: Path) -> None:
    folder = mini_copy(tmp_path)
    (folder / "package" / "ValueSet-broken.json").write_text(BROKEN_JSON)
    tgz = make_tgz(folder, tmp_path / "broken.tgz")
    with pytest.raises(ResourceFileError) as info:
        read_path(tgz)
    assert str(info.value).startswith(f"{tgz}!package/ValueSet-broken.json:3:9: invalid JSON")
    line = one_line_error(run(*offline(tmp_path), "inspect", str(tgz)))
    assert f"{tgz}!package/ValueSet-broken.json:3:" in line


def test_invalid_json_in_package_installed_from_package_dir(tmp_path: Path) -> None:
    folder = mini_copy(tmp_path)
    (folder / "package" / "ValueSet-broken.json").write_text(BROKEN_JSON)
    pdir = tmp_path / "pdir"
    pdir.mkdir()
    make_tgz(folder, pdir / f"{NAME}-{VERSION}.tgz")
    line = one_line_error(run(*offline(tmp_path, pdir), "inspect", f"{NAME}#{VERSION}"))
    assert "package/ValueSet-broken.json:3:9: invalid JSON" in line


def test_not_utf8_resource(tmp_path: Path) -> None:
    folder = mini_copy(tmp_path)
    bad = folder / "package" / "ValueSet-latin1.json"
    bad.write_bytes('{"resourceType": "ValueSet", "title": "é"}'.encode("latin-1"))
    with pytest.raises(ResourceFileError, match=r"ValueSet-latin1\.json: not UTF-8 text"):
        read_path(folder)


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        ('{"id": "x", "url": "http://example.org/x"}', "not a FHIR resource (no resourceType)"),
        ('{"resourceType": ""}', "not a FHIR resource (no resourceType)"),
        ('{"resourceType": 42}', "not a FHIR resource (no resourceType)"),
        ('[{"resourceType": "Patient"}]', "not a FHIR resource (top level is not a JSON object)"),
    ],
)
def test_package_resource_without_resource_type(tmp_path: Path, content: str, phrase: str) -> None:
    folder = mini_copy(tmp_path)
    bad = folder / "package" / "Thing-x.json"
    bad.write_text(content)
    with pytest.raises(ResourceFileError) as info:
        read_path(folder)
    assert str(info.value) == f"{bad}: {phrase}"
    tgz = make_tgz(folder, tmp_path / "x.tgz")
    with pytest.raises(ResourceFileError) as info:
        read_path(tgz)
    assert str(info.value) == f"{tgz}!package/Thing-x.json: {phrase}"


@pytest.mark.parametrize(
    ("changes", "phrase"),
    [
        ({"name": None}, "package.json has no name"),
        ({"version": None}, "package.json has no version"),
        ({"name": None, "version": None}, "package.json has no name and no version"),
        ({"name": ""}, "package.json has no name"),
        ({"version": 1.0}, "package.json has no version"),
    ],
)
def test_manifest_without_name_or_version(
    tmp_path: Path, changes: dict[str, Any], phrase: str
) -> None:
    folder = mini_copy(tmp_path)
    edit_manifest(folder, **changes)
    manifest = folder / "package" / "package.json"
    with pytest.raises(PackageError) as info:
        read_path(folder)
    assert str(info.value) == f"{manifest}: {phrase}"
    tgz = make_tgz(folder, tmp_path / "x.tgz")
    with pytest.raises(PackageError) as info:
        read_path(tgz)
    assert str(info.value) == f"{tgz}!package/package.json: {phrase}"
    line = one_line_error(run(*offline(tmp_path), "inspect", str(tgz)))
    assert line == f"error: {tgz}!package/package.json: {phrase}"


@pytest.mark.parametrize(
    ("content", "phrase"),
    [("[1, 2]", ": package.json is not a JSON object"), ('{\n  "name": \n', ":3:1: invalid JSON")],
)
def test_manifest_not_an_object(tmp_path: Path, content: str, phrase: str) -> None:
    folder = mini_copy(tmp_path)
    manifest = folder / "package" / "package.json"
    manifest.write_text(content)
    with pytest.raises(PackageError) as info:
        read_path(folder)
    assert str(info.value).startswith(f"{manifest}{phrase}")


def test_unknown_version_offline(tmp_path: Path, package_dir: Path) -> None:
    cache = tmp_path / "c"
    line = one_line_error(run(*offline(tmp_path, package_dir), "inspect", f"{NAME}#9.9.9"))
    assert line.startswith(f"error: {NAME}#9.9.9: not found (")
    assert f"not in cache {cache}" in line
    assert f"not in package dir {package_dir}" in line
    assert "registries not asked (offline)" in line
    assert not (cache / f"{NAME}#9.9.9").exists()


def test_unknown_package_offline(tmp_path: Path, package_dir: Path) -> None:
    line = one_line_error(run(*offline(tmp_path, package_dir), "inspect", "example.fhir.nothere"))
    assert line.startswith("error: example.fhir.nothere#latest: no matching version found")


def test_unknown_wildcard_version_offline(tmp_path: Path, package_dir: Path) -> None:
    line = one_line_error(run(*offline(tmp_path, package_dir), "inspect", f"{NAME}#0.2.x"))
    assert line.startswith(f"error: {NAME}#0.2.x: no matching version found")


def test_latest_and_wildcard_resolve_locally_offline(tmp_path: Path, package_dir: Path) -> None:
    make_tgz(MINI, package_dir / f"{NAME}-0.1.0-ballot.tgz")  # a pre-release is not picked
    common = ("--offline", "--cache-dir", str(tmp_path / "c"), "--package-dir", str(package_dir))
    for ref in (NAME, f"{NAME}#latest", f"{NAME}@0.1.x"):
        summary = inspect_json(*common, ref)
        assert (summary["package"]["name"], summary["package"]["version"]) == (NAME, VERSION)


@pytest.mark.parametrize("arg", ["missing.tgz", "./missing", "no/such/folder", "missing.tar.gz"])
def test_path_that_does_not_exist(tmp_path: Path, arg: str) -> None:
    line = one_line_error(run(*offline(tmp_path), "inspect", arg))
    assert line == f"error: package path not found: {arg}"
    with pytest.raises(IgtoolsError, match="package path not found"):
        parse_package_arg(arg)


def test_absolute_path_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "gone" / "pkg.tgz"
    line = one_line_error(run(*offline(tmp_path), "inspect", str(missing)))
    assert line == f"error: package path not found: {missing}"


@pytest.mark.parametrize(
    ("arg", "phrase"),
    [
        ("bad name#1.0.0", "invalid package name 'bad name'"),
        ("#1.0.0", "invalid package name ''"),
        ("@1.0.0", "invalid package name ''"),
        ("-dash#1.0.0", "invalid package name '-dash'"),
        ("example.fhir.mini#1.0#2", "invalid package version '1.0#2'"),
        ("example.fhir.mini#1.0 beta", "invalid package version '1.0 beta'"),
        ("example.fhir.mini#^1.0", "invalid package version '^1.0'"),
    ],
)
def test_bad_name_version_syntax(tmp_path: Path, arg: str, phrase: str) -> None:
    with pytest.raises(IgtoolsError) as info:
        parse_ref(arg)
    assert str(info.value).startswith(phrase)
    line = one_line_error(run(*offline(tmp_path), "inspect", "--", arg))
    assert line.startswith(f"error: {phrase}")
    assert repr(arg) in line


def _source_copy(tmp_path: Path) -> Path:
    dest = tmp_path / "src"
    shutil.copytree(MINI_SRC, dest)
    return dest


def test_invalid_json_in_source_folder(tmp_path: Path) -> None:
    src = _source_copy(tmp_path)
    bad = src / "input" / "resources" / "ValueSet-broken.json"
    bad.write_text('{\n  "resourceType": "ValueSet",\n  "status": "draft",,\n}\n')
    with pytest.raises(ResourceFileError) as info:
        read_path(src)
    assert str(info.value).startswith(f"{bad}:3:21: invalid JSON: Expecting property name")
    line = one_line_error(run(*offline(tmp_path), "inspect", str(src)))
    assert f"{bad}:3:" in line


BROKEN_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<Patient xmlns="http://hl7.org/fhir">\n'
    '  <id value="broken"/>\n'
    "  <name>\n"
    '    <family value="Martin"/>\n'
    "</Patient>\n"
)


def test_invalid_xml_in_source_folder(tmp_path: Path) -> None:
    src = _source_copy(tmp_path)
    bad = src / "input" / "examples" / "Patient-broken.xml"
    bad.write_text(BROKEN_XML)
    with pytest.raises(ResourceFileError) as info:
        read_path(src)
    assert str(info.value).startswith(f"{bad}:6: invalid XML: Opening and ending tag mismatch")
    line = one_line_error(run(*offline(tmp_path), "inspect", str(src)))
    assert f"{bad}:6: invalid XML" in line


LAUGHS = "".join(
    f'<!ENTITY {n} "{("&" + p + ";") * 10 if p else "lol" * 10}">'
    for p, n in zip(["", *"abcdefg"], "abcdefgh", strict=True)
)
HOSTILE_XML = {
    "xxe-attribute": '<!DOCTYPE Patient [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
    '<Patient xmlns="http://hl7.org/fhir">\n'
    '  <name><family value="&xxe;"/></name>\n'
    "</Patient>\n",
    "xxe-narrative": '<!DOCTYPE Patient [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
    '<Patient xmlns="http://hl7.org/fhir">\n'
    '  <text><status value="generated"/>'
    '<div xmlns="http://www.w3.org/1999/xhtml">&xxe;</div></text>\n'
    "</Patient>\n",
    "billion-laughs": f"<!DOCTYPE Patient [{LAUGHS}]>\n"
    '<Patient xmlns="http://hl7.org/fhir">\n'
    '  <name><family value="&h;"/></name>\n'
    "</Patient>\n",
}


@pytest.mark.parametrize("case", sorted(HOSTILE_XML))
def test_xml_entities_are_refused(tmp_path: Path, case: str) -> None:
    """An XML resource can neither read local files (XXE) nor blow up (entity bombs)."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    src = _source_copy(tmp_path)
    bad = src / "input" / "examples" / "Patient-hostile.xml"
    bad.write_text('<?xml version="1.0"?>\n' + HOSTILE_XML[case].replace("{secret}", str(secret)))
    with pytest.raises(ResourceFileError) as info:
        read_path(src)
    assert str(info.value).startswith(f"{bad}:")
    assert "TOP-SECRET" not in str(info.value)
    assert "lollollol" not in str(info.value)


def test_xml_of_an_unknown_type_in_source_folder(tmp_path: Path) -> None:
    src = _source_copy(tmp_path)
    bad = src / "input" / "resources" / "Nonsense-x.xml"
    bad.write_text('<Nonsense xmlns="http://hl7.org/fhir"><id value="x"/></Nonsense>\n')
    with pytest.raises(ResourceFileError) as info:
        read_path(src)
    assert str(info.value) == f"{bad}: unknown FHIR resource type 'Nonsense'"


def test_non_fhir_files_in_source_folder_are_noted(tmp_path: Path) -> None:
    src = _source_copy(tmp_path)
    (src / "input" / "includes").mkdir()
    (src / "input" / "includes" / "menu.xml").write_text("<ul><li>Home</li></ul>\n")
    (src / "input" / "data" / "list.json").write_text("[1, 2, 3]\n")
    pkg = read_path(src)
    assert pkg.notes == [
        "skipped input/data/features.json: JSON without resourceType",
        "skipped input/data/list.json: JSON without resourceType",
        "skipped input/includes/menu.xml: XML outside the FHIR namespace",
    ]


def test_folder_without_resources(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    (empty / "input").mkdir(parents=True)
    (empty / "input" / "notes.json").write_text('{"title": "no resource here"}')
    line = one_line_error(run(*offline(tmp_path), "inspect", str(empty)))
    assert line == f"error: {empty}: no package.json and no FHIR resource found in this folder"


def test_invalid_sushi_config(tmp_path: Path) -> None:
    src = _source_copy(tmp_path)
    cfg = src / "sushi-config.yaml"
    cfg.write_text("id: x\ndependencies: [unclosed\n")
    with pytest.raises(PackageError) as info:
        read_path(src)
    assert str(info.value).startswith(f"{cfg}: invalid YAML")


# =========================================================================== the fixture


def _check_mini_summary(summary: dict[str, Any]) -> None:
    pkg = summary["package"]
    assert (pkg["name"], pkg["version"]) == (NAME, VERSION)
    assert pkg["canonical"] == BASE
    assert pkg["fhirVersions"] == ["4.0.1"]
    assert summary["counts"] == {
        "profiles": 2,
        "extensions": 1,
        "logical_models": 0,
        "value_sets": 1,
        "code_systems": 1,
        "capability_statements": 1,
        "search_parameters": 1,
        "other_resources": 0,
        "examples": 3,
    }
    assert {base: [p["name"] for p in rows] for base, rows in summary["profiles"].items()} == {
        "Observation": ["MiniObservation"],
        "Patient": ["MiniPatient"],
    }
    assert (
        summary["profiles"]["Patient"][0]["base"]
        == "http://hl7.org/fhir/StructureDefinition/Patient"
    )
    [ext] = summary["extensions"]
    assert (ext["name"], ext["url"], ext["context"], ext["value_types"]) == (
        "MiniBirthPlace",
        BIRTH_PLACE,
        ["Patient"],
        ["string"],
    )
    [cs] = summary["code_systems"]
    assert (cs["name"], cs["concepts"]) == ("MiniScoreType", 3)
    [vs] = summary["value_sets"]
    assert vs["url"] == f"{BASE}/ValueSet/mini-score-type"
    [cap] = summary["capability_statements"]
    assert (cap["kind"], cap["modes"], cap["resources"]) == (
        "requirements",
        ["server", "client"],
        ["Observation", "Patient"],
    )
    [sp] = summary["search_parameters"]
    assert (sp["code"], sp["base"], sp["type"]) == ("birth-place", ["Patient"], "string")
    assert BIRTH_PLACE in sp["expression"]
    assert [(e["type"], e["id"], e["profiles"]) for e in summary["examples"]] == [
        ("Observation", "mini-observation-1", [{"url": OBSERVATION, "resolved": True}]),
        ("Patient", "mini-patient-1", [{"url": PATIENT, "resolved": True}]),
        ("Patient", "mini-patient-2", [{"url": PATIENT, "resolved": True}]),
    ]
    [core] = summary["dependencies"]
    assert (core["name"], core["wanted"], core["status"], core["source"]) == (
        "hl7.fhir.r4.core",
        "4.0.1",
        "provided",
        "fhir.resources",
    )
    # every reference resolves but the core value sets the snapshots inherit
    assert set(summary["unresolved"]) == CORE_CANONICALS
    assert summary["notes"] == []


def test_fixture_as_folder(tmp_path: Path) -> None:
    summary = inspect_json(*offline(tmp_path), str(MINI))
    _check_mini_summary(summary)
    assert (summary["package"]["origin"], summary["package"]["location"]) == ("folder", str(MINI))


def test_fixture_as_its_package_subfolder_and_manifest(tmp_path: Path) -> None:
    for arg in (MINI / "package", MINI / "package" / "package.json"):
        summary = inspect_json(*offline(tmp_path), str(arg))
        _check_mini_summary(summary)


def test_fixture_as_tgz(tmp_path: Path) -> None:
    tgz = make_tgz(MINI, tmp_path / "mini.tgz")
    summary = inspect_json(*offline(tmp_path), str(tgz))
    _check_mini_summary(summary)
    assert (summary["package"]["origin"], summary["package"]["location"]) == ("tgz", str(tgz))
    assert not (tmp_path / "c").exists()  # a .tgz given as a path is read in memory


def test_fixture_from_package_dir_then_cache(tmp_path: Path, package_dir: Path) -> None:
    cache = tmp_path / "cache"
    common = ("--offline", "--cache-dir", str(cache), "--package-dir", str(package_dir))
    first = inspect_json(*common, f"{NAME}#{VERSION}")
    _check_mini_summary(first)
    assert first["package"]["origin"] == "package-dir"
    assert first["package"]["location"] == str(package_dir / f"{NAME}-{VERSION}.tgz")
    assert (cache / f"{NAME}#{VERSION}" / "package" / "package.json").is_file()
    assert sorted(p.name for p in cache.iterdir()) == [f"{NAME}#{VERSION}"]

    second = inspect_json(*common, f"{NAME}@{VERSION}")
    _check_mini_summary(second)
    assert second["package"]["origin"] == "cache"
    assert second["package"]["location"] == str(cache / f"{NAME}#{VERSION}")
    # the cache alone is enough now
    (package_dir / f"{NAME}-{VERSION}.tgz").unlink()
    third = inspect_json("--offline", "--cache-dir", str(cache), f"{NAME}#{VERSION}")
    assert third["package"]["origin"] == "cache"


def test_fixture_human_output(tmp_path: Path) -> None:
    result = run(*offline(tmp_path), "inspect", str(MINI))
    assert result.exit_code == 0, result.output
    expected = ["example.fhir.mini#0.1.0", "MiniPatient", "MiniObservation", "MiniBirthPlace"]
    for text in [*expected, "birth-place", "mini-server", "provided"]:
        assert text in result.stdout, text
    assert "hl7.fhir.r4.core#4.0.1 not found" in result.stderr


def test_strict_with_only_core_missing_succeeds(tmp_path: Path) -> None:
    summary = inspect_json("--offline", "--strict", "--cache-dir", str(tmp_path / "c"), str(MINI))
    assert summary["dependencies"][0]["status"] == "provided"


def test_strict_with_a_missing_dependency_fails(tmp_path: Path) -> None:
    folder = mini_copy(tmp_path)
    edit_manifest(
        folder, dependencies={"hl7.fhir.r4.core": "4.0.1", "example.fhir.absent": "1.0.0"}
    )
    cache = str(tmp_path / "c")
    line = one_line_error(
        run("--offline", "--strict", "--cache-dir", cache, "inspect", str(folder))
    )
    assert line.startswith("error: unresolved dependencies (--strict): example.fhir.absent#1.0.0 (")
    assert "hl7.fhir.r4.core" not in line  # provided, not missing

    # without --strict: a warning, and the dependency reported missing
    result = run("--offline", "--cache-dir", cache, "inspect", "--json", str(folder))
    assert result.exit_code == 0, result.output
    deps = {d["name"]: d for d in json.loads(result.stdout)["dependencies"]}
    assert deps["example.fhir.absent"]["status"] == "missing"
    assert deps["example.fhir.absent"]["required_by"] == [f"{NAME}#{VERSION}"]
    assert deps["hl7.fhir.r4.core"]["status"] == "provided"
    warning = (
        "dependency example.fhir.absent#1.0.0 (required by example.fhir.mini#0.1.0) not resolved"
    )
    assert warning in result.stderr


def test_strict_with_a_missing_dependency_in_python(tmp_path: Path) -> None:
    folder = mini_copy(tmp_path)
    edit_manifest(folder, dependencies={"example.fhir.absent": "2.x"})
    with pytest.raises(PackageError, match=r"example\.fhir\.absent#2\.x"):
        offline_loader(tmp_path / "c", strict=True).load(str(folder))


def test_source_folder(tmp_path: Path, package_dir: Path) -> None:
    summary = inspect_json(*offline(tmp_path, package_dir), str(MINI_SRC))
    pkg = summary["package"]
    assert (pkg["name"], pkg["version"], pkg["origin"]) == (
        "example.fhir.minisrc",
        "0.2.0",
        "source-folder",
    )
    assert (pkg["canonical"], pkg["fhirVersions"]) == ("http://example.org/fhir/minisrc", ["4.0.1"])
    counts = summary["counts"]
    assert (counts["profiles"], counts["value_sets"], counts["examples"]) == (1, 1, 1)
    assert sum(counts.values()) == 3
    assert summary["profiles"]["Patient"][0]["base"] == PATIENT
    assert summary["examples"] == [
        {
            "type": "Patient",
            "id": "minisrc-patient-1",
            "file": "input/examples/Patient-minisrc-patient-1.xml",
            "profiles": [{"url": SRC_PATIENT, "resolved": True}],
        }
    ]
    assert summary["notes"] == ["skipped input/data/features.json: JSON without resourceType"]
    deps = [(d["name"], d["version"], d["status"], d["source"]) for d in summary["dependencies"]]
    assert deps == [
        (NAME, VERSION, "resolved", "package-dir"),
        ("hl7.fhir.r4.core", "4.0.1", "provided", "fhir.resources"),
    ]
    assert summary["dependencies"][0]["location"] == str(package_dir / f"{NAME}-{VERSION}.tgz")
    # MiniPatient and the mini code system come from the dependency
    assert summary["unresolved"] == {}


def test_source_folder_without_its_dependency(tmp_path: Path) -> None:
    summary = inspect_json(*offline(tmp_path), str(MINI_SRC))
    deps = {d["name"]: d["status"] for d in summary["dependencies"]}
    # the FHIR core is implicit for a SUSHI project (its fhirVersion), as for SUSHI
    assert deps == {NAME: "missing", "hl7.fhir.r4.core": "provided"}
    assert set(summary["unresolved"]) == {PATIENT, f"{BASE}/CodeSystem/mini-score-type"}
    assert summary["unresolved"][PATIENT] == ["StructureDefinition/minisrc-patient baseDefinition"]


def test_source_folder_xml_is_converted(tmp_path: Path) -> None:
    pkg = read_path(MINI_SRC)
    by_key = {e.key: e for e in pkg.entries}
    assert sorted(by_key) == [
        "Patient/minisrc-patient-1",
        "StructureDefinition/minisrc-patient",
        "ValueSet/minisrc-sleep-stress",
    ]
    sd = by_key["StructureDefinition/minisrc-patient"]
    assert not sd.is_example
    assert sd.data["abstract"] is False
    elements = sd.data["differential"]["element"]
    # element ids are XML attributes: they must survive the conversion
    assert [(el["id"], el["path"]) for el in elements] == [
        ("Patient", "Patient"),
        ("Patient.identifier:ssn", "Patient.identifier"),
        ("Patient.birthDate", "Patient.birthDate"),
        ("Patient.address", "Patient.address"),
    ]
    assert elements[1]["sliceName"] == "ssn"
    assert elements[1]["min"] == 1
    assert elements[3]["max"] == "1"
    assert elements[3]["mustSupport"] is True
    assert "fhir_comments" not in json.dumps(sd.data)  # the XML comment is not data

    patient = by_key["Patient/minisrc-patient-1"]
    assert patient.is_example
    assert patient.claimed_profiles == [SRC_PATIENT]
    data = patient.data
    assert data["identifier"] == [
        {"id": "ssn", "system": f"{BASE}/sid/ssn", "value": "2900644109123"}
    ]
    assert data["name"] == [{"family": "Durand", "given": ["Chloé"]}]
    assert data["extension"] == [{"url": BIRTH_PLACE, "valueString": "Nantes"}]
    assert data["text"]["div"].startswith('<div xmlns="http://www.w3.org/1999/xhtml">')


def test_xml_ids_on_primitives_and_contained(tmp_path: Path) -> None:
    """``id`` attributes anywhere: on complex elements, primitives, repeats, contained."""
    src = tmp_path / "src"
    (src / "input").mkdir(parents=True)
    (src / "input" / "Patient-ids.xml").write_text(
        '<Patient xmlns="http://hl7.org/fhir">\n'
        '  <id value="ids"/>\n'
        '  <contained><Organization><id value="org"/><name id="n1" value="Org"/></Organization>'
        "</contained>\n"
        "  <name>\n"
        '    <given value="Anne"/>\n'
        '    <given id="g2" value="Marie"/>\n'
        '    <given id="g3"><extension url="http://example.org/e"><valueString value="x"/>'
        "</extension></given>\n"
        "  </name>\n"
        '  <birthDate id="bd" value="2000-01-01"/>\n'
        "  <!-- a comment -->\n"
        '  <managingOrganization id="mo"><reference value="#org"/></managingOrganization>\n'
        "</Patient>\n"
    )
    [entry] = read_path(src).entries
    data = entry.data
    assert data["contained"] == [
        {"resourceType": "Organization", "id": "org", "name": "Org", "_name": {"id": "n1"}}
    ]
    assert data["name"][0]["given"] == ["Anne", "Marie", None]
    assert data["name"][0]["_given"] == [
        None,
        {"id": "g2"},
        {"id": "g3", "extension": [{"url": "http://example.org/e", "valueString": "x"}]},
    ]
    assert data["_birthDate"] == {"id": "bd"}
    assert data["managingOrganization"] == {"id": "mo", "reference": "#org"}
    assert "fhir_comments" not in json.dumps(data)


# --------------------------------------------------------------------------- coherence


def _mini_resources() -> dict[str, dict[str, Any]]:
    out = {}
    for f in sorted((MINI / "package").rglob("*.json")):
        if f.name != "package.json":
            out[f.relative_to(MINI / "package").as_posix()] = json.loads(f.read_text())
    return out


def test_fixture_is_hand_written_package_without_index() -> None:
    files = sorted(p.relative_to(MINI).as_posix() for p in MINI.rglob("*") if p.is_file())
    assert not [f for f in files if f.endswith(".index.json")]
    manifest = json.loads((MINI / "package" / "package.json").read_text())
    assert manifest["dependencies"] == {"hl7.fhir.r4.core": "4.0.1"}
    assert manifest["directories"] == {"lib": "package", "example": "example"}
    # pretty JSON, two-space indent
    for f in (MINI / "package").rglob("*.json"):
        text = f.read_text()
        assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n", f


def test_fixture_resources_are_valid_fhir() -> None:
    """fhir.resources' R4B models accept every resource (R4B = R4 for these types)."""
    from fhir.resources.R4B import get_fhir_model_class

    checked = []
    for name, res in _mini_resources().items():
        model = get_fhir_model_class(res["resourceType"]).model_validate(res)
        assert model.model_dump(mode="json", by_alias=True, exclude_none=True)["id"] == res["id"]
        checked.append(name)
    assert len(checked) == 10


def _strip_slices(element_id: str) -> str:
    return ".".join(part.split(":")[0] for part in element_id.split("."))


def test_fixture_snapshots_are_coherent() -> None:
    sds = [r for r in _mini_resources().values() if r["resourceType"] == "StructureDefinition"]
    assert len(sds) == 3
    for sd in sds:
        snapshot = sd["snapshot"]["element"]
        differential = sd["differential"]["element"]
        snap_by_id = {el["id"]: el for el in snapshot}
        assert len(snap_by_id) == len(snapshot), "duplicate snapshot ids"
        assert snapshot[0]["id"] == sd["type"]
        for el in [*snapshot, *differential]:
            eid = el["id"]
            # the path is the id without slice names; the last slice name is sliceName
            assert el["path"] == _strip_slices(eid), eid
            assert el["path"].split(".")[0] == sd["type"], eid
            last = eid.split(".")[-1]
            if ":" in last:
                assert el["sliceName"] == last.split(":", 1)[1], eid
            else:
                assert "sliceName" not in el, eid
            # the parent of every element is in the snapshot
            if "." in eid:
                parent = eid.rsplit(".", 1)[0]
                assert parent in snap_by_id, eid
        for el in snapshot:  # sdf-3: definition and cardinalities; base always given
            assert el["definition"] and "min" in el and "max" in el and "base" in el, el["id"]
            assert el["min"] >= el["base"]["min"], el["id"]
            if el["max"] != "*" and el["base"]["max"] != "*":
                assert int(el["max"]) <= int(el["base"]["max"]), el["id"]
        # a slice follows the element it slices, and that element has a slicing
        ids = [el["id"] for el in snapshot]
        for i, eid in enumerate(ids):
            if ":" in eid.split(".")[-1]:
                sliced = eid.rsplit(":", 1)[0]
                assert "slicing" in snap_by_id[sliced], eid
                assert ids.index(sliced) < i, eid
        # the differential is in the snapshot, in the same order, with the same values
        diff_ids = [el["id"] for el in differential]
        assert diff_ids == [i for i in ids if i in set(diff_ids)]
        for d in differential:
            for key, value in d.items():
                assert snap_by_id[d["id"]][key] == value, (d["id"], key)


def test_fixture_profiles_have_the_promised_constraints() -> None:
    res = _mini_resources()
    patient = res["StructureDefinition-mini-patient.json"]["snapshot"]["element"]
    observation = res["StructureDefinition-mini-observation.json"]["snapshot"]["element"]
    p = {el["id"]: el for el in patient}
    o = {el["id"]: el for el in observation}
    assert p["Patient.identifier"]["slicing"]["discriminator"] == [
        {"type": "pattern", "path": "system"}
    ]
    assert p["Patient.identifier:ssn.system"]["patternUri"] == f"{BASE}/sid/ssn"
    assert p["Patient.extension:birthPlace"]["type"][0]["profile"] == [BIRTH_PLACE]
    assert (p["Patient.gender"]["min"], p["Patient.gender"]["max"]) == (1, "1")
    assert o["Observation.code"]["binding"] == {
        "strength": "required",
        "valueSet": f"{BASE}/ValueSet/mini-score-type",
    }
    assert o["Observation.subject"]["type"][0]["targetProfile"] == [PATIENT]
    assert [t["code"] for t in o["Observation.value[x]"]["type"]] == ["integer"]
    must_support = sorted(i for i, el in {**p, **o}.items() if el.get("mustSupport"))
    assert "Patient.identifier:ssn" in must_support and "Observation.code" in must_support
    keys = {c["key"] for el in [*patient, *observation] for c in el.get("constraint", [])}
    assert keys == {"mini-pat-1", "mini-obs-1"}


def test_fixture_examples_satisfy_their_profiles() -> None:
    """The invariants, the search parameter and the slice, evaluated on the examples."""
    fhirpathpy = pytest.importorskip("fhirpathpy")
    from fhirpathpy.models import models

    res = _mini_resources()

    def ev(resource: dict[str, Any], expression: str) -> list[Any]:
        return list(fhirpathpy.evaluate(resource, expression, model=models["r4"]))

    def invariant(sd: str) -> str:
        [c] = res[sd]["snapshot"]["element"][0]["constraint"]
        return str(c["expression"])

    pat_inv = invariant("StructureDefinition-mini-patient.json")
    obs_inv = invariant("StructureDefinition-mini-observation.json")
    patients = [
        res["example/Patient-mini-patient-1.json"],
        res["example/Patient-mini-patient-2.json"],
    ]
    obs = res["example/Observation-mini-observation-1.json"]
    for p in patients:
        assert ev(p, pat_inv) == [True]
        assert ev(p, "gender.exists()") == [True]
    assert ev({"resourceType": "Patient", "gender": "male"}, pat_inv) == [False]
    assert ev(obs, obs_inv) == [True]
    assert ev({k: v for k, v in obs.items() if k != "valueInteger"}, obs_inv) == [False]
    sp = res["SearchParameter-mini-birth-place.json"]
    assert ev(patients[0], sp["expression"]) == ["Lyon"]
    assert ev(patients[1], sp["expression"]) == []
    ssn = f"identifier.where(system = '{BASE}/sid/ssn').value"
    assert [len(ev(p, ssn)) for p in patients] == [1, 0]
    # the observation's code is in the code system, its subject is a fixture patient
    concepts = {c["code"] for c in res["CodeSystem-mini-score-type.json"]["concept"]}
    assert len(concepts) == 3
    assert obs["code"]["coding"][0]["code"] in concepts
    assert obs["subject"]["reference"] in {f"Patient/{p['id']}" for p in patients}
    assert 0 <= obs["valueInteger"] <= 10


# =========================================================================== spec


@pytest.mark.parametrize(
    ("text", "name", "version", "exact"),
    [
        ("example.fhir.mini#0.1.0", NAME, "0.1.0", True),
        ("example.fhir.mini@0.1.0", NAME, "0.1.0", True),
        ("example.fhir.mini#latest", NAME, "latest", False),
        ("example.fhir.mini", NAME, "latest", False),
        ("example.fhir.mini#", NAME, "latest", False),
        ("  hl7.fhir.r4.core#4.0.1  ", "hl7.fhir.r4.core", "4.0.1", True),
        ("hl7.fhir.fr.core@2.1.0-ballot", "hl7.fhir.fr.core", "2.1.0-ballot", True),
        ("example.fhir.mini#1.0.x", NAME, "1.0.x", False),
    ],
)
def test_parse_ref(text: str, name: str, version: str, exact: bool) -> None:
    ref = parse_ref(text)
    assert ref == PackageRef(name, version)
    assert ref.is_exact is exact
    assert str(ref) == f"{name}#{version}"


def test_parse_package_arg_prefers_an_existing_path(tmp_path: Path) -> None:
    (tmp_path / "example.fhir.mini#0.1.0").mkdir()  # a folder named like a reference
    assert parse_package_arg("example.fhir.mini#0.1.0") == PathArg(Path("example.fhir.mini#0.1.0"))
    assert parse_package_arg("example.fhir.mini#0.2.0") == PackageRef(NAME, "0.2.0")


AVAILABLE = ["1.0.0", "1.0.2", "1.0.10", "1.0.11-ballot", "1.1.0", "1.1.1-snapshot", "2.0.0-ballot"]


@pytest.mark.parametrize(
    ("wanted", "picked"),
    [
        ("1.0.x", "1.0.10"),  # numeric, not text, order; the pre-release is not a 1.0.x
        ("1.1.x", "1.1.0"),
        ("1.x", "1.1.0"),
        ("2.0.x", None),  # only a pre-release there
        ("3.0.x", None),
        ("latest", "1.1.0"),  # releases win over later pre-releases
        ("*", "1.1.0"),
        ("1.0.2", "1.0.2"),
        ("2.0.0-ballot", "2.0.0-ballot"),  # asked exactly, a pre-release is fine
        ("1.0.3", None),
    ],
)
def test_pick_version(wanted: str, picked: str | None) -> None:
    assert pick_version(AVAILABLE, wanted) == picked


def test_pick_version_only_pre_releases() -> None:
    assert (
        pick_version(["2.0.0-ballot", "2.0.0-ballot2", "1.9.0-draft"], "latest") == "2.0.0-ballot2"
    )
    assert pick_version([], "latest") is None


def test_matches() -> None:
    assert matches("1.0.4", "1.0.x") and not matches("1.0.4-x", "1.0.x")
    assert not matches("1.01.4", "1.0.x") and not matches("10.0.4", "0.x")
    assert matches("9.9.9", "latest") and matches("9.9.9-a", "latest")


def test_version_key_ordering() -> None:
    shuffled = [
        "1.10.0",
        "1.2.0",
        "1.2.0-ballot",
        "0.9",
        "1.2.0-alpha",
        "1.2.1",
        "2.0.0-ballot",
        "1.2",
    ]
    assert sorted(shuffled, key=version_key) == [
        "0.9",
        "1.2",
        "1.2.0-alpha",
        "1.2.0-ballot",
        "1.2.0",
        "1.2.1",
        "1.10.0",
        "2.0.0-ballot",
    ]
    assert version_key("4.0.1") > version_key("4.0.1-cibuild") > version_key("4.0.0")
    # keys of any two versions compare (no TypeError between a number and text)
    odd = ["1.0", "1.0.0", "1.0.a", "1.0.0+build", "current", "1", "1.0.0-1"]
    assert sorted(odd, key=version_key) == sorted(reversed(odd), key=version_key)


# =========================================================================== index


def _pkg(name: str, version: str, *entries: tuple[str, str | None]) -> Package:
    pkg = Package(name, version, {"name": name, "version": version}, "folder", f"/{name}")
    for url, rversion in entries:
        res = {"resourceType": "ValueSet", "id": f"{name}-{rversion}", "url": url}
        if rversion is not None:
            res["version"] = rversion
        pkg.entries.append(ResourceEntry.from_resource(res, pkg.id, "package/x.json", False))
    return pkg


def test_resolve_with_version() -> None:
    url = "http://example.org/ValueSet/shared"
    root = _pkg("root", "1.0.0", (url, "2.0.1"))
    dep = _pkg("dep", "1.0.0", (url, "1.0.0"), ("http://example.org/ValueSet/unversioned", None))
    index = ResourceIndex([root, dep])

    def who(ref: str) -> str | None:
        entry = index.resolve(ref)
        return None if entry is None else f"{entry.package} {entry.version}"

    assert who(url) == "root#1.0.0 2.0.1"  # no version: the root package wins
    assert who(f"{url}|") == "root#1.0.0 2.0.1"
    assert who(f"{url}|2.0.1") == "root#1.0.0 2.0.1"
    assert who(f"{url}|1.0.0") == "dep#1.0.0 1.0.0"
    assert who(f"{url}|1.0") == "dep#1.0.0 1.0.0"  # a version prefix matches
    assert who(f"{url}|2") == "root#1.0.0 2.0.1"
    assert who(f"{url}|1.0.0-ballot") is None
    assert who(f"{url}|3.0") is None
    assert who(f"{url}|2.0.10") is None  # a prefix of a part is not a prefix
    assert who("http://example.org/ValueSet/unversioned") == "dep#1.0.0 None"
    assert who("http://example.org/ValueSet/unversioned|1.0") is None
    assert who("http://example.org/ValueSet/nothere|1.0") is None
    assert [e.package for e in index.all_versions(url)] == ["root#1.0.0", "dep#1.0.0"]


def test_resolve_on_the_fixture(tmp_path: Path) -> None:
    pset = offline_loader(tmp_path / "c").load(str(MINI))
    index = pset.index
    assert index.resolve(f"{PATIENT}|0.1.0") is index.resolve(PATIENT)
    assert index.resolve(f"{PATIENT}|0.1") is not None
    assert index.resolve(f"{PATIENT}|0.2.0") is None
    entry = index.resolve(f"{BASE}/ValueSet/mini-score-type|0.1.0")
    assert entry is not None and entry.resource_type == "ValueSet"
    assert index.resolve(f"{BASE}/CodeSystem/mini-score-type") is not None
    # examples are not conformance resources
    assert index.get("Patient", "mini-patient-1") is not None
    assert index.get("Patient", "mini-patient-1", examples=False) is None
    assert len(index) == 10
