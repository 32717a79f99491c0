"""`igtools build`: every stage of the pipeline into one output folder, incrementally.

packages -> IR -> models, examples, docs, stubs, each into ``<output>/<stage>/``. A stage
whose inputs did not change (the package set's content, the templates it renders
through, the igtools version, the stage's options) is skipped; ``force`` redoes all.
``check`` builds into a temporary folder and compares with the output folder, for IG
maintainers' CI.
"""

from __future__ import annotations

import filecmp
import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from igtools import __version__
from igtools.errors import IgtoolsError
from igtools.ir import build_ir
from igtools.ir.build import IRBuilder
from igtools.ir.model import IG
from igtools.packages import PackageSet
from igtools.render.templating import builtin_templates

STATE = ".igtools-build.json"
# written anew by every mkdocs build (dates, gzip time): not compared by --check
VOLATILE = ("site/sitemap.xml", "site/sitemap.xml.gz")
STAGES = ("models", "examples", "stubs", "docs")  # docs last: it documents the others


@dataclass
class StageResult:
    stage: str
    status: str  # built | skipped | failed
    files: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str = ""  # why the stage failed (one message, possibly several lines)


@dataclass
class BuildOptions:
    seed: int = 0
    now: datetime | None = None
    pages: Path | None = None
    previous: PackageSet | None = None  # an earlier version: a Changes page in the docs
    overlays: list[Any] = field(default_factory=list)
    match_types: dict[str, str] = field(default_factory=dict)
    templates: Path | None = None
    force: bool = False
    stages: tuple[str, ...] = STAGES


def _hash_files(root: Path | None) -> str:
    h = hashlib.sha256()
    if root is not None and root.exists():
        for p in sorted(root.rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts:
                h.update(p.relative_to(root).as_posix().encode())
                h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def package_hash(pset: PackageSet) -> str:
    """The content of the package set: every resource of the root package, the
    dependencies' ids and statuses."""
    h = hashlib.sha256(pset.root.id.encode())
    for e in sorted(pset.root.entries, key=lambda e: e.path):
        h.update(e.path.encode())
        h.update(json.dumps(e.data, sort_keys=True).encode())
    for d in pset.dependencies:
        h.update(f"{d.name}#{d.version or d.wanted}:{d.status}".encode())
    return h.hexdigest()


def _count(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


class Builder:
    def __init__(
        self,
        pset: PackageSet,
        out: Path,
        options: BuildOptions,
        ir_builder: IRBuilder | None = None,
        ig: IG | None = None,
    ) -> None:
        """``ir_builder`` and ``ig``: the package set's IR builder and the IR it built,
        when the caller has them (each made once, on first use, otherwise)."""
        self.pset = pset
        self.out = out
        self.options = options
        self._irb: IRBuilder | None = ir_builder
        self._ig: IG | None = ig
        self.base = package_hash(pset)

    @property
    def ig(self) -> IG:
        if self._ig is None:
            self._ig = self.ir_builder.build()
        return self._ig

    @property
    def ir_builder(self) -> IRBuilder:
        """The IR builder of the package set: any profile of it, dependencies included
        (the examples stage validates and repairs against them)."""
        if self._irb is None:
            self._irb = IRBuilder(self.pset)
        return self._irb

    def stage_hash(self, stage: str) -> str:
        o = self.options
        parts: dict[str, Any] = {
            "igtools": __version__,
            "package": self.base,
            "templates": _hash_files(builtin_templates() / stage),
            "user_templates": _hash_files(o.templates / stage) if o.templates else "",
        }
        if stage == "examples":
            parts["seed"] = o.seed
            parts["now"] = o.now.isoformat() if o.now else datetime.now().date().isoformat()
            parts["match"] = sorted(o.match_types.items())
        if stage == "docs":
            parts["pages"] = _hash_files(o.pages)
            parts["models"] = self.stage_hash("models")
            parts["stubs"] = self.stage_hash("stubs")
            parts["previous"] = package_hash(o.previous) if o.previous is not None else ""
        if stage == "stubs":
            parts["overlays"] = repr(o.overlays)
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()

    def run(self, progress: Callable[[str], None] | None = None) -> list[StageResult]:
        """Every stage, in order; one that fails is reported (``failed``, with its
        error) and the next ones still run. A failed stage is never recorded as up to
        date, so the next build redoes it."""
        state_file = self.out / STATE
        try:
            state = json.loads(state_file.read_text()) if state_file.is_file() else {}
        except ValueError:
            state = {}
        results = []
        for stage in self.options.stages:
            if progress is not None:
                progress(stage)
            digest = self.stage_hash(stage)
            target = self.out / stage
            if not self.options.force and state.get(stage) == digest and target.exists():
                results.append(StageResult(stage, "skipped", _count(target)))
                continue
            t0 = time.perf_counter()
            try:
                warnings = getattr(self, f"_{stage}")(target)
            except IgtoolsError as exc:
                results.append(self._failed(stage, target, str(exc), t0))
                state.pop(stage, None)
            except Exception as exc:  # a bug in a stage must not stop the others
                message = f"internal error ({type(exc).__name__}): {exc}"
                results.append(self._failed(stage, target, message, t0))
                state.pop(stage, None)
            else:
                seconds = time.perf_counter() - t0
                results.append(StageResult(stage, "built", _count(target), warnings, seconds))
                state[stage] = digest
            self.out.mkdir(parents=True, exist_ok=True)
            state_file.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
        return results

    @staticmethod
    def _failed(stage: str, target: Path, error: str, t0: float) -> StageResult:
        return StageResult(
            stage, "failed", _count(target), seconds=time.perf_counter() - t0, error=error
        )

    # ------------------------------------------------------------------ stages

    def _models(self, target: Path) -> list[str]:
        from igtools.render.models.python import ModelsRenderer

        shutil.rmtree(target, ignore_errors=True)
        r = ModelsRenderer(self.ig, templates=self.options.templates)
        r.render(target)
        return [*self.ig.warnings, *r.warnings]

    def _examples(self, target: Path) -> list[str]:
        from igtools.render.examples.writer import ExamplesRenderer

        shutil.rmtree(target, ignore_errors=True)
        r = ExamplesRenderer(
            self.ig,
            seed=self.options.seed,
            now=self.options.now,
            match_types=self.options.match_types,
            templates=self.options.templates,
            source=self.ir_builder,
        )
        from igtools.render.examples.writer import example_error

        report = r.build()
        failures = r.failures(report)
        if failures:  # the others are still written; the stage fails at the end
            broken = {f.split(" ", 1)[0] for f in failures}
            report.generated = [g for g in report.generated if g.filename not in broken]
        r.write(report, target)
        if failures:
            raise example_error(failures)
        return [f"no valid instance: {x}" for x in report.impossible]

    def _stubs(self, target: Path) -> list[str]:
        from igtools.render.stubs.python import StubsRenderer

        shutil.rmtree(target, ignore_errors=True)
        r = StubsRenderer(self.ig, self.options.overlays, self.options.templates)
        r.render(target)
        return list(r.warnings)

    def _docs(self, target: Path) -> list[str]:
        from igtools.render.docs.site import DocsRenderer

        stubs = self.out / "stubs"
        changes = None
        if self.options.previous is not None:
            from igtools.render.diff.report import changes_markdown

            changes = changes_markdown(build_ir(self.options.previous), self.ig)
        r = DocsRenderer(
            self.ig,
            self.pset,
            pages=self.options.pages,
            stubs_dir=stubs if stubs.exists() else None,
            models_dir=self.out / "models" if (self.out / "models").exists() else None,
            templates=self.options.templates,
            changes=changes,
        )
        report = r.render(target)
        r.build(target, report)
        return [f"not converted: {x}" for x in report.unconverted]


def compare_trees(a: Path, b: Path) -> list[str]:
    """Files that differ between two output folders (added, removed, changed)."""

    def files(root: Path) -> set[str]:
        return {
            p.relative_to(root).as_posix()
            for p in root.rglob("*")
            if p.is_file()
            and p.name != STATE
            and "__pycache__" not in p.parts
            and not p.relative_to(root).as_posix().endswith(VOLATILE)
        }

    fa, fb = files(a), files(b)
    out = [f"missing: {x}" for x in sorted(fa - fb)] + [f"extra: {x}" for x in sorted(fb - fa)]
    for x in sorted(fa & fb):
        if not filecmp.cmp(a / x, b / x, shallow=False):
            out.append(f"changed: {x}")
    return out


def check(pset: PackageSet, out: Path, options: BuildOptions) -> list[str]:
    """Rebuild into a temporary folder; the differences with ``out`` (empty: up to date)."""
    with tempfile.TemporaryDirectory(prefix="igtools-check-") as tmp:
        fresh = Path(tmp) / "out"
        opts = BuildOptions(**{**options.__dict__, "force": True})
        Builder(pset, fresh, opts).run()
        if not out.exists():
            return [f"{out}: does not exist"]
        return compare_trees(fresh, out)
