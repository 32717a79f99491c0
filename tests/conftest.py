"""Shared test fixtures.

Tests that need the real SAS packages read them from ``../shared`` (beside the
checkout); they are skipped with a clear reason where it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IGTOOLS_SHARED", REPO.parent / "shared"))
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def shared_path(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} absent: the real SAS material lives in ../shared beside the checkout")
    return path


@pytest.fixture
def shared_packages() -> Path:
    """``../shared/fhir-packages`` (a folder of .tgz: an offline registry)."""
    return shared_path("fhir-packages")


@pytest.fixture(params=["1.1.0", "1.2.0"])
def sas_version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sas_tgz(sas_version: str) -> Path:
    return shared_path("fhir-packages", f"ans.fhir.fr.sas-{sas_version}.tgz")


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    """An empty FHIR package cache (never the user's ~/.fhir/packages)."""
    d = tmp_path / "fhir-cache"
    d.mkdir()
    return d


@pytest.fixture(autouse=True)
def _isolate_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's cache, project or package dirs by accident."""
    monkeypatch.setenv("IGTOOLS_CACHE_DIR", str(tmp_path / "default-cache"))
    monkeypatch.delenv("IGTOOLS_PACKAGE_DIR", raising=False)
    monkeypatch.delenv("IGTOOLS_PROJECT", raising=False)
    monkeypatch.delenv("IGTOOLS_OFFLINE", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def corpus_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One FHIR package cache for every test that loads packages of the corpus in
    ../shared with their dependencies (installing hl7.fhir.r4.core, the extensions and
    the terminology takes seconds: once per run is enough)."""
    return tmp_path_factory.mktemp("corpus-cache")


@pytest.fixture(scope="session")
def fr_core_validator(corpus_cache: Path) -> Any:
    """A validator over hl7.fhir.fr.core 2.2.0 and its dependencies (the core among
    them), for tests that judge instances of core resources and profiles; loaded once."""
    from corpus.validation import load

    tgz = SHARED / "fhir-packages" / "hl7.fhir.fr.core-2.2.0.tgz"
    if not tgz.is_file():
        pytest.skip(f"{tgz} absent")
    return load("hl7.fhir.fr.core#2.2.0", SHARED, corpus_cache).validator
