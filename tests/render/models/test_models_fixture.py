"""The golden models of the fixture IG, imported and run (no ../shared needed)."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest
from pydantic import ValidationError

from igtools.ir import IG, build_ir
from igtools.packages import PackageLoader, Settings
from tests.golden import FIXTURE, RECORD
from tests.validate.mutations import mutations

PKG = "example_fhir_mini_models"


@pytest.fixture(scope="module")
def mini(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[IG, ModuleType]]:
    cache = tmp_path_factory.mktemp("cache")
    ig = build_ir(PackageLoader(Settings(cache_dir=cache, offline=True)).load(str(FIXTURE)))
    sys.path.insert(0, str(RECORD / "models"))
    try:
        yield ig, importlib.import_module(PKG)
    finally:
        sys.path.remove(str(RECORD / "models"))
        for mod in [m for m in sys.modules if m == PKG or m.startswith(PKG + ".")]:
            del sys.modules[mod]


def test_examples_validate(mini: tuple[IG, ModuleType]) -> None:
    ig, module = mini
    assert len(ig.examples) == 3
    for ex in ig.examples:
        for url in ex.profiles:
            model = module.PROFILES[url].model_validate(ex.data)
            assert model.model_dump(mode="json", by_alias=True, exclude_none=True) == ex.data


def test_mutations(mini: tuple[IG, ModuleType]) -> None:
    ig, module = mini
    n = 0
    for ex in ig.examples:
        for url in ex.profiles:
            for m in mutations(ig, ig.profiles[url], ex.data):
                try:
                    module.PROFILES[url].model_validate(m.data)
                    ok = True
                except ValidationError:
                    ok = False
                assert ok == m.valid, m.description
                n += 1
    assert n >= 10


def test_ssn_slice_and_invariant(mini: tuple[IG, ModuleType]) -> None:
    ig, module = mini
    pat = next(e for e in ig.examples if e.resource_type == "Patient" and e.data.get("identifier"))
    patient = module.MiniPatient.model_validate(pat.data)
    ssn = patient.identifier_ssn
    assert ssn is not None and ssn.system == "http://example.org/fhir/mini/sid/ssn"
    # two SSNs break the slice's max 1
    data = json.loads(json.dumps(pat.data))
    data["identifier"] = [ssn.model_dump(mode="json", exclude_none=True)] * 2
    with pytest.raises(ValidationError, match="ssn"):
        module.MiniPatient.model_validate(data)
