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
from corpus.qa import QaMessage, parse_qa

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


@dataclass
class PackageResult:
    package: str
    examples: list[ExampleResult] = field(default_factory=list)
    seconds: float = 0.0
    load_seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def count(self, verdict: str) -> int:
        return sum(1 for e in self.examples if e.verdict == verdict)


def qa_packages(shared: Path) -> list[str]:
    """``name#version`` of every package with both a .tgz and a QA report."""
    out = []
    for qa in sorted((shared / "ig-qa").glob("*/qa-eslintcompact.txt")):
        folder = qa.parent.name
        if (shared / "fhir-packages" / f"{folder}.tgz").is_file():
            name, _, version = _split_folder(folder)
            out.append(f"{name}#{version}")
    return out


def _split_folder(folder: str) -> tuple[str, str, str]:
    # "<name>-<version>": the version starts at the first '-' followed by a digit
    for i, ch in enumerate(folder):
        if ch == "-" and folder[i + 1 : i + 2].isdigit():
            return folder[:i], "-", folder[i + 1 :]
    raise ValueError(f"{folder}: not <name>-<version>")


def _errors(issues: list[object]) -> list[str]:
    return [str(i) for i in issues if getattr(i, "severity", "") in ("error", "fatal")]


def validate_package(
    package: str, shared: Path, cache_dir: Path | None = None, invariants: bool = True
) -> PackageResult:
    from igtools.ir.build import IRBuilder
    from igtools.packages import PackageLoader, Settings
    from igtools.validate.validator import Validator

    name, version = package.split("#")
    qa = parse_qa(shared / "ig-qa" / f"{name}-{version}" / "qa-eslintcompact.txt")
    result = PackageResult(package)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            cache_dir=cache_dir or Path(tmp),
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
        ig = builder.build()
        validator = Validator(ig, invariants=invariants, builder=builder)
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
                cls = unreproducible(m)
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
            result.examples.append(ExampleResult(file, verdict, mine, ref, left_out))
    result.seconds = time.perf_counter() - start
    return result
