"""``igtools validate`` against the reference validator, example by example.

For every package of ``../shared/fhir-packages`` that has a QA report in
``../shared/ig-qa/<package>/``, each example of the package is validated by igtools and
its verdict compared with the reference's messages on the same file:

- agree: both accept, or both reject;
- false rejection: igtools reports an error, the reference none at all;
- miss: the reference reports an error that igtools could reproduce (not in
  :data:`corpus.classes.UNREPRODUCIBLE`), igtools none;
- unreproducible: the reference's only errors are of a class left out, igtools none.
"""

from __future__ import annotations

import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from corpus.classes import unreproducible
from corpus.locate import best_line_paths, location_of, related
from corpus.qa import QaMessage, parse_qa
from igtools.ir.build import IRBuilder
from igtools.packages import PackageSet
from igtools.runtime.validation import Issue
from igtools.validate.validator import Validator

# dependency versions the corpus names that ../shared does not hold -> the ones it does
SUBSTITUTES = {
    "hl7.terminology.r4": "7.0.1",
    "hl7.fhir.uv.extensions.r4": "5.3.0-ballot-tc1",
}


@dataclass
class ExampleResult:
    file: str
    verdict: str  # agree-valid | agree-invalid | false-rejection | miss | unreproducible | crash
    igtools: list[str] = field(default_factory=list)  # igtools' errors
    reference: list[QaMessage] = field(default_factory=list)  # the reference's errors
    left_out: Counter[str] = field(default_factory=Counter)  # unreproducible classes
    placed: bool = False  # the reference's lines could be mapped to paths in this file
    located: int = 0  # reproducible reference errors with a place in the file
    found: int = 0  # ... of which igtools reports an error at (or inside) that place
    extra: list[str] = field(default_factory=list)  # igtools errors the reference has not


@dataclass
class PackageResult:
    package: str
    has_qa: bool = True  # without a QA report, "false-rejection" means "rejected"
    examples: list[ExampleResult] = field(default_factory=list)
    seconds: float = 0.0
    load_seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def count(self, verdict: str) -> int:
        return sum(1 for e in self.examples if e.verdict == verdict)


def example_packages_without_qa(shared: Path) -> list[str]:
    """``name#version`` of the packages of ../shared that have examples but no QA
    report: validated alone (an error there is a finding to read, not a verdict)."""
    import tarfile

    with_qa = set(qa_packages(shared))
    out = []
    for tgz in sorted((shared / "fhir-packages").glob("*.tgz")):
        name, _, version = split_folder(tgz.name[: -len(".tgz")])
        if f"{name}#{version}" in with_qa:
            continue
        with tarfile.open(tgz) as tar:
            if any(m.name.startswith("package/example/") for m in tar.getmembers()):
                out.append(f"{name}#{version}")
    return out


def qa_packages(shared: Path) -> list[str]:
    """``name#version`` of every package with both a .tgz and a QA report."""
    out = []
    for qa in sorted((shared / "ig-qa").glob("*/qa-eslintcompact.txt")):
        folder = qa.parent.name
        if (shared / "fhir-packages" / f"{folder}.tgz").is_file():
            name, _, version = split_folder(folder)
            out.append(f"{name}#{version}")
    return out


def split_folder(folder: str) -> tuple[str, str, str]:
    # "<name>-<version>": the version starts at the first '-' followed by a digit
    for i, ch in enumerate(folder):
        if ch == "-" and folder[i + 1 : i + 2].isdigit():
            return folder[:i], "-", folder[i + 1 :]
    raise ValueError(f"{folder}: not <name>-<version>")


def _errors(issues: list[Issue]) -> list[str]:
    return [str(i) for i in issues if i.severity in ("error", "fatal")]


@dataclass
class Loaded:
    """A corpus package loaded as ``igtools validate`` loads it (offline, from
    ../shared/fhir-packages, with :data:`SUBSTITUTES`)."""

    pset: PackageSet
    builder: IRBuilder
    validator: Validator


def load(package: str, shared: Path, cache_dir: Path, invariants: bool = True) -> Loaded:
    """``package`` with its dependencies, its IR builder and a validator over them (the
    cache must outlive the validator: definitions are read lazily)."""
    from igtools.ir.build import IRBuilder
    from igtools.packages import PackageLoader, Settings
    from igtools.validate.validator import Validator

    settings = Settings(
        cache_dir=cache_dir,
        package_dirs=[shared / "fhir-packages"],
        offline=True,
        substitutes=dict(SUBSTITUTES),
    )
    loader = PackageLoader(settings)
    try:
        pset = loader.load(package)
    finally:
        loader.close()
    builder = IRBuilder(pset)
    validator = Validator(builder.build(), invariants=invariants, builder=builder)
    return Loaded(pset, builder, validator)


def validate_package(
    package: str, shared: Path, cache_dir: Path | None = None, invariants: bool = True
) -> PackageResult:
    name, version = package.split("#")
    qa_file = shared / "ig-qa" / f"{name}-{version}" / "qa-eslintcompact.txt"
    qa = parse_qa(qa_file) if qa_file.is_file() else {}
    result = PackageResult(package, has_qa=qa_file.is_file())
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        loaded = load(package, shared, cache_dir or Path(tmp), invariants)
        pset, validator = loaded.pset, loaded.validator
        result.warnings = list(pset.warnings)
        result.load_seconds = time.perf_counter() - start
        for entry in pset.index.examples_of(pset.root.id):
            file = entry.path.rsplit("/", 1)[-1]
            ref = [m for m in qa.get(file, []) if m.is_error]
            try:
                mine = _errors(validator.validate_resource(entry.data))
            except Exception:  # a crash is a verdict of its own, with its traceback
                result.examples.append(
                    ExampleResult(file, "crash", [traceback.format_exc(limit=-3)], ref)
                )
                continue
            left_out: Counter[str] = Counter()
            reproducible = []
            for m in ref:
                cls = unreproducible(m, lambda url: pset.index.resolve(url) is not None)
                if cls is None:
                    reproducible.append(m)
                else:
                    left_out[cls.name] += 1
            if mine and not ref:
                verdict = "false-rejection"
            elif mine:
                verdict = "agree-invalid"
            elif reproducible:
                verdict = "miss"
            elif ref:
                verdict = "unreproducible"
            else:
                verdict = "agree-valid"
            ex = ExampleResult(file, verdict, mine, ref, left_out)
            _compare_places(ex, reproducible, entry.data, qa.get(file, []))
            result.examples.append(ex)
    result.seconds = time.perf_counter() - start
    return result


def _compare_places(
    ex: ExampleResult, reproducible: list[QaMessage], data: object, every: list[QaMessage]
) -> None:
    """Count the reference's reproducible errors that igtools finds at the same place,
    and list igtools' errors at places where the reference reports none."""
    found_paths = best_line_paths(data, every)  # every message constrains the layout
    if found_paths is None:
        return  # the reference read a file laid out otherwise: places unknown
    paths = found_paths
    ex.placed = True
    mine = [(location_of(m), m) for m in ex.igtools]
    ref_places = [paths[m.line] for m in ex.reference if m.line in paths and m.line > 1]
    unplaced = [m.message for m in ex.reference if m.line <= 1]
    for m in reproducible:
        place = paths.get(m.line) if m.line > 1 else None
        if place is None:
            continue
        ex.located += 1
        if any(related(place, loc) for loc, _ in mine):
            ex.found += 1
    for loc, text in mine:
        if any(related(place, loc) for place in ref_places):
            continue
        if any(u.split(" (")[0] in text for u in unplaced):
            continue
        ex.extra.append(text)
