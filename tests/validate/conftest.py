"""Fixtures of the validation tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from igtools.ir.build import IRBuilder
from igtools.packages import PackageLoader, Settings
from igtools.validate.validator import Validator
from tests.conftest import shared_path
from tests.validate.loose_ig import write_folder


@pytest.fixture(scope="session")
def loose_validator(tmp_path_factory: pytest.TempPathFactory, corpus_cache: Path) -> Validator:
    """A validator over this suite's own small IG (tests/validate/loose_ig.py) with
    hl7.fhir.r4.core from ../shared."""
    packages = shared_path("fhir-packages")
    if not (packages / "hl7.fhir.r4.core-4.0.1.tgz").is_file():
        pytest.skip(f"{packages}/hl7.fhir.r4.core-4.0.1.tgz absent")
    return folder_validator(write_folder(tmp_path_factory.mktemp("loose-ig")), corpus_cache)


def folder_validator(folder: Path, cache: Path) -> Validator:
    """A validator over a folder of loose resources (with its sushi-config.yaml) and the
    packages of ../shared it depends on."""
    packages = shared_path("fhir-packages")
    loader = PackageLoader(Settings(cache_dir=cache, package_dirs=[packages], offline=True))
    try:
        pset = loader.load(str(folder))
    finally:
        loader.close()
    builder = IRBuilder(pset)
    return Validator(builder.build(), builder=builder)
