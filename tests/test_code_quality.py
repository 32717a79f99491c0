"""The toolkit's own code is formatted, lint-clean and passes mypy --strict."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, check=False)


@pytest.mark.skipif(
    shutil.which("ruff") is None and not Path(sys.prefix, "bin/ruff").exists(),
    reason="ruff not installed",
)
def test_ruff() -> None:
    ruff = shutil.which("ruff") or str(Path(sys.prefix, "bin/ruff"))
    check = _run(ruff, "check", "igtools", "tests", "benchmarks", "corpus", "noxfile.py")
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = _run(ruff, "format", "--check", "igtools", "tests", "benchmarks", "corpus", "noxfile.py")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_mypy_strict() -> None:
    result = _run(sys.executable, "-m", "mypy", "--strict", "igtools")
    assert result.returncode == 0, result.stdout + result.stderr


def test_toolkit_is_generic() -> None:
    """Nothing in igtools/ or templates/ names the SAS IG: it belongs in ig-input/."""
    words = ("agregateur", "aggregator", "interop.esante", "ans.fhir.fr.sas", "sas.fr/fhir")
    offenders = []
    for folder in ("igtools", "templates"):
        for path in (REPO / folder).rglob("*"):
            if path.is_file() and path.suffix not in (".pyc",):
                text = path.read_text(encoding="utf-8", errors="ignore").lower()
                offenders += [f"{path.relative_to(REPO)}: {w}" for w in words if w in text]
    assert offenders == []
