"""Terminology verdicts against the HL7 reference validator on every IG of ../shared.

For each package with a QA report, each example is validated (invariants off: not the
point here) and compared with the reference's terminology errors on the same file
("No code provided", "None of the codings provided", "was not found in the value set",
"Unknown code"):

- every such error that can be reproduced offline (its value set or code system is in
  the loaded package set) is found by igtools at the same element (binding or
  code-system rule);
- igtools reports no binding or code-system error where the reference reports no error.

The exceptions are listed with their reason; a listed one that no longer happens fails
too (remove it: the figures only improve).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from corpus.locate import line_paths, related
from corpus.qa import QaMessage, parse_qa
from corpus.validation import load, qa_packages
from tests.conftest import SHARED

pytestmark = pytest.mark.shared

TERMINOLOGY = re.compile(
    r"^No code provided|^None of the codings provided|was not found in the value set|"
    r"^Unknown code '"
)
# the value set (or code system) a message names
_VS = re.compile(r"value set '.*?' \((?P<url>[^|)\s]+)")
_CS = re.compile(r"in the CodeSystem '(?P<url>[^']+)'")

# (package, example file) -> why a reproducible-looking error is not found
KNOWN_MISSES: dict[tuple[str, str], str] = {}


def _packages() -> list[str]:
    return qa_packages(SHARED) if (SHARED / "ig-qa").is_dir() else []


@pytest.fixture
def cache(corpus_cache: Path) -> Path:
    return corpus_cache  # the session's (tests/conftest.py)


def _coded(message: str) -> str | None:
    """The ``system#code`` a reference message quotes (its line numbers are those of the
    file as built, which json.dumps does not always reproduce: the code tells the place)."""
    m = re.search(r"\(codes = (\S+#[^)\s,]+)\)|The code provided \((\S+#[^)\s]+)\)", message)
    if m:
        return m[1] or m[2]
    m = re.match(r"The value provided \('([^']+)'\)", message)  # a bare code
    return f"({m[1]})" if m else None


def _no_code(message: str) -> str | None:
    """For "No code provided": the value set (no code to tell the place by)."""
    m = re.match(
        r"No code provided, and a code is required from the value set '[^']*' \(([^|)]+)", message
    )
    return f"No code provided, and a code is required from the value set {m[1]}" if m else None


def _reproducible(m: QaMessage, resolves: object) -> bool:
    if m.message.startswith("No code provided"):
        return True  # a binding's strength is enough: no expansion needed
    found = _VS.search(m.message) or _CS.search(m.message)
    return found is not None and bool(resolves(found["url"]))  # type: ignore[operator]


@pytest.mark.parametrize("package", _packages() or ["(no ../shared/ig-qa)"])
def test_terminology_errors_as_the_reference(package: str, cache: Path) -> None:
    if not (SHARED / "ig-qa").is_dir():
        pytest.skip(f"{SHARED}/ig-qa absent: the corpus lives in ../shared")
    name, version = package.split("#")
    qa = parse_qa(SHARED / "ig-qa" / f"{name}-{version}" / "qa-eslintcompact.txt")
    loaded = load(package, SHARED, cache, invariants=False)
    pset, builder, validator = loaded.pset, loaded.builder, loaded.validator

    def resolves(url: str) -> bool:
        tx = builder.terminology
        vs = tx.value_set(url)
        if vs is not None:
            return vs.codes is not None
        cs = tx.code_system_index(url)
        return cs is not None and cs.content == "complete"

    found, missed, extra = 0, [], []
    still_known: set[tuple[str, str]] = set()
    for entry in pset.index.examples_of(pset.root.id):
        file = entry.path.rsplit("/", 1)[-1]
        issues = validator.validate_resource(entry.data)
        mine = [i for i in issues if i.severity == "error" and i.rule in ("binding", "code-system")]
        paths = line_paths(entry.data)
        ref_errors = [m for m in qa.get(file, []) if m.is_error]
        for m in ref_errors:
            if not TERMINOLOGY.search(m.message) or not _reproducible(m, resolves):
                continue
            place = paths.get(m.line, "?")
            coded = _coded(m.message) or _no_code(m.message)
            if any(related(place, i.location) or (coded and coded in i.message) for i in mine):
                found += 1
            elif (package, file) in KNOWN_MISSES:
                still_known.add((package, file))
            else:
                missed.append(f"{file}: {place}: {m.message[:200]}")
        ref_places = [paths[m.line] for m in ref_errors if m.line in paths and m.line > 1]
        ref_coded = {c for m in ref_errors if (c := _coded(m.message) or _no_code(m.message))}
        extra += [
            f"{file}: {i}"
            for i in mine
            if not any(related(p, i.location) for p in ref_places)
            and not any(c in i.message for c in ref_coded)
        ]
    assert missed == []
    assert extra == []
    known_here = {k for k in KNOWN_MISSES if k[0] == package}
    assert still_known == known_here, "a known miss is found now: remove it from KNOWN_MISSES"
    print(f"{package}: {found} reference terminology errors found at the same element")


def test_sas_text_only_codeable_concepts(cache: Path) -> None:
    """The three SAS 1.2.0 examples whose specialty has text only, under a required
    binding: invalid, at the reference's element."""
    from igtools.ir.build import IRBuilder
    from igtools.packages import PackageLoader, Settings
    from igtools.validate.validator import Validator

    tgz = SHARED / "fhir-packages" / "ans.fhir.fr.sas-1.2.0.tgz"
    if not tgz.is_file():
        pytest.skip(f"{tgz} absent: the real SAS material lives in ../shared")
    pset = PackageLoader(Settings(cache_dir=cache, offline=True)).load(str(tgz))
    builder = IRBuilder(pset)
    validator = Validator(builder.build(), builder=builder)
    got = {}
    for entry in pset.index.examples_of(pset.root.id):
        for i in validator.validate_resource(entry.data):
            if i.severity == "error" and i.message.startswith("No code provided"):
                got[f"{entry.resource_type}/{entry.id}"] = i.location
    assert got == {
        "Bundle/ExampleBundlePSIndiv": "Bundle.entry[7].resource.specialty[1]",
        "Slot/ExampleSlotPSIndiv3": "Slot.specialty[1]",
        "Slot/ExampleSlotPSIndiv5": "Slot.specialty[0]",
    }
