"""``igtools build`` on every IG of ../shared, as a new user would run it.

Each package of ``../shared/fhir-packages`` that is an IG (not the FHIR core package)
is loaded with its dependencies (the corpus' substitutes standing in for versions
../shared does not hold) and built by :class:`igtools.build.Builder`, the code behind
``igtools build``, into a temporary folder. Then every instance the examples stage
wrote is read back from disk and validated by igtools' validator: an example stage
that passes but writes an instance ``igtools validate`` rejects is a finding too.
"""

from __future__ import annotations

import json
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from corpus.validation import load, split_folder
from igtools.build import STAGES, Builder, BuildOptions, StageResult

# the reference day of the examples: the corpus is deterministic
NOW = "2026-01-05"
# the base definitions: not an IG to build
NOT_IGS = ("hl7.fhir.r4.core",)


@dataclass
class BuildResult:
    package: str
    stages: list[StageResult] = field(default_factory=list)
    load_seconds: float = 0.0
    seconds: float = 0.0
    package_warnings: int = 0
    examples: int = 0  # instances the examples stage wrote
    invalid: dict[str, list[str]] = field(default_factory=dict)  # file -> igtools' errors
    crash: str = ""  # a traceback: a bug outside the stages (loading, validating)

    @property
    def failed(self) -> list[StageResult]:
        return [s for s in self.stages if s.status == "failed"]

    @property
    def clean(self) -> bool:
        return not self.crash and not self.failed and not self.invalid


def build_packages(shared: Path) -> list[str]:
    """``name#version`` of every IG package of ../shared (the FHIR core package left out)."""
    out = []
    for tgz in sorted((shared / "fhir-packages").glob("*.tgz")):
        name, _, version = split_folder(tgz.name[: -len(".tgz")])
        if name not in NOT_IGS:
            out.append(f"{name}#{version}")
    return out


def build_package(
    package: str,
    shared: Path,
    cache_dir: Path,
    stages: tuple[str, ...] = STAGES,
    out: Path | None = None,
) -> BuildResult:
    """``igtools build PACKAGE --now NOW`` into ``out`` (a temporary folder by default),
    then the written examples validated."""
    from igtools.render.examples.writer import parse_now

    result = BuildResult(package)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        target = out or Path(tmp) / "out"
        try:
            loaded = load(package, shared, cache_dir)
            result.package_warnings = len(loaded.pset.warnings)
            result.load_seconds = time.perf_counter() - start
            options = BuildOptions(now=parse_now(NOW), force=True, stages=stages)
            # the IR built once, as the command does
            builder = Builder(loaded.pset, target, options, loaded.builder, loaded.validator.ig)
            result.stages = builder.run()
            examples = target / "examples"
            index = examples / "index.json"  # profile -> the files of its instances
            listed = json.loads(index.read_text()) if index.is_file() else {}
            for name in sorted(n for names in listed.values() for n in names):
                file = examples / name
                result.examples += 1
                errors = [
                    f"{i.location}: {i.rule}: {i.message}"
                    for i in loaded.validator.validate_resource(json.loads(file.read_text()))
                    if i.severity in ("error", "fatal")
                ]
                if errors:
                    result.invalid[file.stem] = errors
        except Exception:
            result.crash = traceback.format_exc(limit=-4)
    result.seconds = time.perf_counter() - start
    return result
