"""igtools validate against the HL7 reference validator on every IG of ../shared.

For each package with a QA report, every example is validated and its verdict compared
with the reference's (corpus/validation.py). The expected disagreements are listed
below, each with its reason: a new false rejection, miss or crash fails, and so does a
listed one that no longer happens (remove it from the list: the figures only improve).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.validation import PackageResult, qa_packages, validate_package
from tests.conftest import SHARED

pytestmark = pytest.mark.shared

# package -> {example file: reason} of the examples igtools rejects and the reference
# accepts (the goal is none)
FALSE_REJECTIONS: dict[str, dict[str, str]] = {}

# package -> {example file: reason} of the examples the reference rejects for a reason
# igtools could reproduce, and igtools accepts (the goal: under 2% of the examples)
MISSES: dict[str, dict[str, str]] = {}


def _packages() -> list[str]:
    return qa_packages(SHARED) if (SHARED / "ig-qa").is_dir() else []


def _files(result: PackageResult, verdict: str) -> set[str]:
    return {e.file for e in result.examples if e.verdict == verdict}


@pytest.mark.parametrize("package", _packages() or ["(no ../shared/ig-qa)"])
def test_verdicts_as_the_reference(package: str, corpus_cache: Path) -> None:
    if not (SHARED / "ig-qa").is_dir():
        pytest.skip(f"{SHARED}/ig-qa absent: the corpus lives in ../shared")
    result = validate_package(package, SHARED, corpus_cache)
    assert result.examples, f"{package}: no example found"
    crashes = {e.file: e.igtools for e in result.examples if e.verdict == "crash"}
    assert not crashes, crashes
    details = {
        e.file: (e.igtools, [m.message for m in e.reference])
        for e in result.examples
        if e.verdict in ("false-rejection", "miss")
    }
    assert _files(result, "false-rejection") == set(FALSE_REJECTIONS.get(package, {})), details
    assert _files(result, "miss") == set(MISSES.get(package, {})), details
