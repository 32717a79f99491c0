"""Generated models for the real SAS packages: imported and run, not just diffed."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pydantic import ValidationError

from igtools.ir import IG, build_ir
from igtools.packages import PackageLoader, Settings
from igtools.render.models.python import ModelsRenderer
from tests.conftest import shared_path
from tests.validate.mutations import mutations
from tests.validate.test_mutations_sas import REFERENCE_INVALID


def _generate(version: str, root: Path) -> tuple[IG, Path, str]:
    tgz = shared_path("fhir-packages", f"ans.fhir.fr.sas-{version}.tgz")
    ig = build_ir(PackageLoader(Settings(cache_dir=root / "cache", offline=True)).load(str(tgz)))
    name = f"sas_{version.replace('.', '_')}_models"
    out = root / "out"
    ModelsRenderer(ig, name).render(out)
    return ig, out, name


@pytest.fixture(scope="module", params=["1.1.0", "1.2.0"])
def generated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[IG, Path, ModuleType]]:
    ig, out, name = _generate(str(request.param), tmp_path_factory.mktemp("models"))
    sys.path.insert(0, str(out))
    try:
        module = importlib.import_module(name)
        yield ig, out, module
    finally:
        sys.path.remove(str(out))
        for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[mod]


def test_one_class_per_profile(generated: tuple[IG, Path, ModuleType]) -> None:
    ig, _, module = generated
    profiles = {u for u, p in ig.profiles.items() if p.is_profile}
    assert set(module.PROFILES) == profiles
    assert len(profiles) == 18
    cls = module.PROFILES["http://sas.fr/fhir/StructureDefinition/FrSlotAgregateur"]
    assert cls.__name__ == "FrSlotAgregateur"
    assert cls.__mro__[1].__module__ == "fhir.resources.R4B.slot"
    assert "Profil" in (cls.__doc__ or "")  # the IG's own (French) description


def test_examples_validate_and_round_trip(generated: tuple[IG, Path, ModuleType]) -> None:
    ig, _, module = generated
    checked = 0
    invalid = REFERENCE_INVALID.get(ig.version, set())
    for ex in ig.examples:
        if f"{ex.resource_type}/{ex.id}" in invalid:  # rejected, as by the reference
            assert all(_errors(module.PROFILES[u], ex.data) for u in ex.profiles)
            checked += 1
            continue
        for url in ex.profiles:
            model = module.PROFILES[url].model_validate(ex.data)
            assert model.model_dump(mode="json", by_alias=True, exclude_none=True) == ex.data
            assert json.loads(model.model_dump_json(by_alias=True, exclude_none=True)) == ex.data
            checked += 1
    assert checked == len(ig.examples)


def _errors(cls: Any, data: dict[str, Any]) -> str | None:
    try:
        cls.model_validate(data)
    except ValidationError as exc:
        return str(exc)
    return None


def test_mutation_suite_through_models(generated: tuple[IG, Path, ModuleType]) -> None:
    ig, _, module = generated
    invalid = missed = 0
    misses: list[str] = []
    for ex in ig.examples:
        if f"{ex.resource_type}/{ex.id}" in REFERENCE_INVALID.get(ig.version, set()):
            continue  # invalid to begin with: its variants would prove nothing
        for url in ex.profiles:
            cls = module.PROFILES[url]
            for m in mutations(ig, ig.profiles[url], ex.data):
                err = _errors(cls, m.data)
                if m.valid:
                    assert err is None, (m.description, err)
                    continue
                invalid += 1
                if err is None:
                    missed += 1
                    misses.append(f"{ex.id}: {m.description}")
                elif m.expect_location:
                    # the error names the element path (profile rule) or the field (base)
                    leaf = m.expect_location.split(".", 1)[-1].split("[")[0]
                    assert m.expect_location in err or leaf in err, (m.description, err)
    assert invalid > 300
    assert missed / invalid <= 0.05, misses
    assert misses == []


def test_error_names_path_rule_and_profile(generated: tuple[IG, Path, ModuleType]) -> None:
    ig, _, module = generated
    ex = next(e for e in ig.examples if e.id == "ExampleSlotPSIndiv1")
    data = json.loads(json.dumps(ex.data))
    data["schedule"] = {"reference": "Practitioner/1"}
    err = _errors(module.FrSlotAgregateur, data)
    assert err is not None
    assert "Slot.schedule.reference" in err
    assert "FrSlotAgregateur" in err
    assert "Schedule" in err


def test_invariants_can_be_switched_off(generated: tuple[IG, Path, ModuleType]) -> None:
    ig, _, module = generated
    org_url = next(
        u
        for u, p in ig.profiles.items()
        if p.is_profile and p.name == "FrOrganizationAgregateurSOS"
    )
    ex = next(e for e in ig.examples if org_url in e.profiles)
    data = json.loads(json.dumps(ex.data))
    data["identifier"][0]["value"] = "ABC"  # breaks SIRET-invariant (value.matches)
    cls = module.PROFILES[org_url]
    assert _errors(cls, data) is not None
    module.set_invariants(False)
    try:
        assert _errors(cls, data) is None
    finally:
        module.set_invariants(True)


def test_slice_accessors(generated: tuple[IG, Path, ModuleType]) -> None:
    ig, _, module = generated
    ex = next((e for e in ig.examples if e.id == "ExampleSlotCPTS1"), None)
    if ex is None:
        pytest.skip("no CPTS slot example in this version")
    cls = module.PROFILES[ex.profiles[0]]
    slot = cls.model_validate(ex.data)
    refs = slot.service_type_referencecpts
    assert len(refs) == 1
    assert refs[0].coding[0].code == "604"


def test_generated_code_is_clean(generated: tuple[IG, Path, ModuleType]) -> None:
    _, out, module = generated
    pkg = Path(module.__file__).parent
    for py in pkg.rglob("*.py"):
        head = py.read_text(encoding="utf-8").splitlines()[0]
        assert head.startswith("# Generated by igtools "), py
        assert "ans.fhir.fr.sas#" in head, py
    mypy = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(pkg)],
        capture_output=True,
        text=True,
        check=False,
        cwd=out,
    )
    assert mypy.returncode == 0, mypy.stdout
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--no-cache", str(pkg)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ruff.returncode == 0, ruff.stdout + ruff.stderr


def test_import_under_a_second(generated: tuple[IG, Path, ModuleType]) -> None:
    _, out, module = generated
    code = (
        "import time, importlib; t = time.perf_counter(); "
        f"importlib.import_module({module.__name__!r}); print(time.perf_counter() - t)"
    )
    # fhir.resources itself is imported first: the cost measured is the package's own
    warm = f"import fhir.resources.R4B.slot, pydantic; {code}"
    proc = subprocess.run(
        [sys.executable, "-c", warm], capture_output=True, text=True, check=True, cwd=out
    )
    assert float(proc.stdout.strip()) < 1.0


def test_generation_is_deterministic(tmp_path: Path) -> None:
    _, a, _ = _generate("1.2.0", tmp_path / "a")
    _, b, _ = _generate("1.2.0", tmp_path / "b")
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
