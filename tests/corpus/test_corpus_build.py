"""``igtools build`` on every IG of ../shared: the fast form of ``nox -s corpus``'s build
table that the test line runs.

Each IG package is built by the code behind ``igtools build`` (``corpus.build``) with the
models and stubs stages; the examples stage is judged on the same packages by
``tests/render/examples/test_examples_corpus.py`` (each generated instance validated), and
the docs stage by the package-only strict site builds of ``tests/render/docs``, so the test
line does not run them twice. ``nox -s corpus`` runs all four stages.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.build import build_package, build_packages
from tests.conftest import SHARED

pytestmark = pytest.mark.shared

PACKAGES = build_packages(SHARED) if (SHARED / "fhir-packages").is_dir() else []


@pytest.mark.parametrize("package", PACKAGES or ["(../shared absent)"])
def test_models_and_stubs_build_clean(package: str, corpus_cache: Path, tmp_path: Path) -> None:
    if not PACKAGES:
        pytest.skip(f"{SHARED}/fhir-packages absent")
    result = build_package(package, SHARED, corpus_cache, ("models", "stubs"), tmp_path)
    assert not result.crash, result.crash
    failed = {s.stage: s.error for s in result.failed}
    assert not failed, f"{package}: {failed}"
    assert [s.status for s in result.stages] == ["built", "built"]
    models = tmp_path / "models"
    assert any(models.rglob("*.py")), f"{package}: no model written"
    assert (tmp_path / "stubs").is_dir()
