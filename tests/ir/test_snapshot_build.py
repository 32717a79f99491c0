"""``igtools build`` on differential-only profiles gives what it gives on the published
package (issue 15, "done when"), on SAS 1.2.0.

The package is unpacked into a folder of loose JSON resources (with its package.json, so
that its name, version and dependencies are the same) and the snapshots of its
StructureDefinitions are removed; models, stubs, examples and docs are built from that folder
and from the published package, and the two output trees compared file by file.

18 of the 20 SAS 1.2.0 profiles derive from the old French profiles
(``http://interopsante.org/fhir/StructureDefinition/Fr...``, hl7.fhir.fr.core 1.1.0), which
../shared does not hold: no snapshot can be computed for them (as the IG Publisher could not
without that dependency). The first test checks exactly that (each named, with its missing
base); the build test removes the snapshots of the profiles whose base chain is loaded and
keeps the published ones of the others, and wants identical output.
"""

from __future__ import annotations

import filecmp
import json
import tarfile
from collections.abc import Collection
from pathlib import Path

import pytest
from click.testing import CliRunner

from igtools.cli import cli
from igtools.ir.snapshot.fill import ensure_core, generate_package, has_differential
from igtools.packages import PackageLoader, Settings

pytestmark = pytest.mark.shared

SAS = "ans.fhir.fr.sas-1.2.0.tgz"
NOW = "2025-01-15T10:00:00+01:00"


def _unpack(tgz: Path, dest: Path) -> Path:
    with tarfile.open(tgz) as tar:
        tar.extractall(dest, filter="data")
    folder = dest / "package"
    (folder / ".index.json").unlink(missing_ok=True)
    return folder


def _strip(folder: Path, keep: Collection[str] = ()) -> list[str]:
    """Remove the snapshot of every StructureDefinition of ``folder`` with a differential
    (but those whose url is in ``keep``); their urls."""
    stripped = []
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("resourceType") != "StructureDefinition" or not has_differential(data):
            continue
        if data.get("url") in keep or "snapshot" not in data:
            continue
        del data["snapshot"]
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
        stripped.append(str(data["url"]))
    return stripped


def _failures(folder: Path, packages: Path, cache: Path) -> dict[str, str]:
    """url -> why no snapshot can be computed, for the StructureDefinitions of ``folder``."""
    loader = PackageLoader(Settings(cache_dir=cache, package_dirs=[packages], offline=True))
    pset = loader.load(str(folder))
    ensure_core(pset, loader)
    result = generate_package(pset.index, pset.root.entries, regenerate=False)
    return {str(e.data.get("url")): msg for e, msg in result.failed}


def _build(source: Path, out: Path, packages: Path, cache: Path) -> None:
    args = ["--offline", "--cache-dir", str(cache), "--package-dir", str(packages)]
    args += ["build", str(source), "-o", str(out), "--now", NOW]
    for stage in ("models", "examples", "stubs", "docs"):
        args += ["--stage", stage]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output


def _tree_differences(a: Path, b: Path) -> list[str]:
    out: list[str] = []

    def walk(cmp: filecmp.dircmp[str], rel: str) -> None:
        out.extend(f"only in published: {rel}{n}" for n in cmp.left_only)
        out.extend(f"only in differential-only: {rel}{n}" for n in cmp.right_only)
        _, mismatch, errors = filecmp.cmpfiles(cmp.left, cmp.right, cmp.common_files, shallow=False)
        out.extend(f"differs: {rel}{n}" for n in [*mismatch, *errors])
        for name, sub in cmp.subdirs.items():
            walk(sub, f"{rel}{name}/")

    walk(filecmp.dircmp(a, b, ignore=[".igtools-build.json"]), "")
    return out


def test_profiles_whose_base_is_missing_are_named(tmp_path: Path, corpus_cache: Path) -> None:
    from tests.conftest import shared_path

    packages = shared_path("fhir-packages")
    folder = _unpack(packages / SAS, tmp_path)
    stripped = _strip(folder)
    assert len(stripped) == 20
    failures = _failures(folder, packages, corpus_cache)
    assert len(failures) == 18, failures
    for url, why in failures.items():
        assert "http://interopsante.org/fhir/StructureDefinition/Fr" in why, (url, why)
        assert "not found (base of" in why, (url, why)


def test_build_on_differential_only_profiles_as_on_the_published_package(
    tmp_path: Path, corpus_cache: Path
) -> None:
    from tests.conftest import shared_path

    packages = shared_path("fhir-packages")
    cache = corpus_cache  # the session's: installing hl7.fhir.r4.core takes seconds
    probe = _unpack(packages / SAS, tmp_path / "probe")
    _strip(probe)
    unreachable = set(_failures(probe, packages, cache))
    folder = _unpack(packages / SAS, tmp_path / "source")
    stripped = _strip(folder, keep=unreachable)
    assert len(stripped) == 2, stripped  # the profiles whose base chain ../shared holds
    _build(packages / SAS, tmp_path / "published", packages, cache)
    _build(folder, tmp_path / "differential", packages, cache)
    differences = _tree_differences(tmp_path / "published", tmp_path / "differential")
    # the site's JSON downloads of the two profiles are the StructureDefinitions with the
    # snapshot each build has: the same elements; the publisher of 2023 wrote some
    # details otherwise (isModifier false omitted, conditions): every page is the same
    downloads = [d for d in differences if "/artefacts/json/StructureDefinition-" in d]
    assert not [d for d in differences if d not in downloads], "\n".join(differences)
    for d in downloads:
        rel = d.split(": ", 1)[1]
        ids = [
            [
                e["id"]
                for e in json.loads((tmp_path / side / rel).read_text())["snapshot"]["element"]
            ]
            for side in ("published", "differential")
        ]
        assert ids[0] == ids[1], rel
    assert len(downloads) <= 4, downloads  # the two computed, in docs/ and in site/
