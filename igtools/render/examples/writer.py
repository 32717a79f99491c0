"""`igtools examples`: build, check with igtools' validator (or the generated models
without the package set), write JSON or XML."""

from __future__ import annotations

import importlib
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from igtools.errors import IgtoolsError
from igtools.ir.model import IG, Profile
from igtools.render.examples.bundles import build_bundle
from igtools.render.examples.contradictions import contradictions
from igtools.render.examples.frdata import FrenchData
from igtools.render.examples.helpers import CORE_SD
from igtools.render.examples.nested import ABSTRACT_TYPES
from igtools.render.examples.realistic import RealisticBuilder
from igtools.render.examples.repair import Checker, ProfileSource
from igtools.render.templating import environment, render

PARIS = ZoneInfo("Europe/Paris")


class ExampleError(IgtoolsError):
    """A generated example breaks its own profile: a bug in the generator."""

    exit_code = 1


@dataclass
class Generated:
    profile: Profile
    kind: str  # minimal | full | variant-N | scenario
    resource: dict[str, Any]

    @property
    def filename(self) -> str:
        return f"{self.resource['resourceType']}-{self.resource['id']}"


@dataclass
class ExamplesReport:
    written: list[Path] = field(default_factory=list)
    generated: list[Generated] = field(default_factory=list)
    impossible: list[str] = field(default_factory=list)  # profile: reason
    warnings: list[str] = field(default_factory=list)


def default_now() -> datetime:
    """Today at midnight, Europe/Paris."""
    return datetime.combine(date.today(), time(0, 0), tzinfo=PARIS)


def parse_now(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise IgtoolsError(f"--now {text!r}: not an ISO date or date-time") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=PARIS)
    return value


class ExamplesRenderer:
    def __init__(
        self,
        ig: IG,
        seed: int = 0,
        now: datetime | None = None,
        count: int = 1,
        match_types: dict[str, str] | None = None,
        templates: Path | None = None,
        source: ProfileSource | None = None,
    ) -> None:
        self.ig = ig
        # the package set's profiles (an IRBuilder): instances are then validated and
        # repaired as they are built (see repair.py)
        self.source = source
        self._checker: Checker | None = None  # its validator, shared by build and failures
        self.seed = seed
        self.now = (now or default_now()).astimezone(PARIS)
        self.count = max(1, count)
        self.match_types = match_types or {}
        self.env = environment("examples", templates)

    def build(self) -> ExamplesReport:
        report = ExamplesReport()
        builder = RealisticBuilder(self.ig, FrenchData(self.seed), self.now)
        if self.source is not None:
            builder.checker = self._checker = Checker(self.ig, self.source)
        resources = [p for p in self.ig.profiles.values() if p.is_profile and p.kind == "resource"]
        for prof in resources:
            if self.abstract(prof.type):
                report.impossible.append(
                    f"{prof.name}: a profile of {prof.type}, an abstract type: no instance "
                    "can have it as its resourceType"
                )
                continue
            bad = contradictions(prof)
            if bad:
                report.impossible.append(f"{prof.name}: " + "; ".join(bad))
                continue
            if prof.type == "Bundle":
                match = self.match_types.get(prof.url) or self.match_types.get(prof.name)
                bundles = [
                    (kind, build_bundle(builder, self.ig, prof, f"{prof.id}-{kind}", n, match, m))
                    for kind, n, m in (("minimal", 0, True), ("scenario", self.count, False))
                ]
                if all(b is not None for _, b in bundles):
                    report.generated.extend(Generated(prof, k, b) for k, b in bundles if b)
                    continue
            shapes = [("minimal", False, 0), ("full", True, 0)]
            shapes += [(f"variant-{i}", True, i) for i in range(1, self.count)]
            for kind, full, variant in shapes:
                rid = f"{prof.id}-{kind}"
                res = builder.instance(prof, rid, full=full, variant=variant)
                report.generated.append(Generated(prof, kind, res))
        report.warnings.extend(sorted(set(builder.skipped)))
        return report

    def abstract(self, rtype: str) -> bool:
        """Is ``rtype`` an abstract type (Resource, DomainResource)? The core
        StructureDefinition says so when the package set is at hand."""
        if self.source is not None:
            core = self.source.profile(CORE_SD + rtype)
            if core is not None:
                return core.abstract
        return rtype in ABSTRACT_TYPES

    def check(self, report: ExamplesReport) -> None:
        """Validate every instance (:meth:`failures`); :class:`ExampleError` listing the
        instances that break their profile."""
        failures = self.failures(report)
        if failures:
            raise example_error(failures)

    def failures(self, report: ExamplesReport) -> list[str]:
        """The instances that break their own profile, one line per broken constraint:
        ``file (kind instance of url): element path: message (rule; profile)``. With the
        package set at hand (``source``), igtools' own validator judges, as
        ``igtools validate`` does; without it, the generated models (and fhir.resources)."""
        if self.source is not None:
            failures = self._validator_failures(report)
        else:
            failures = self._model_failures(report)
        return list(dict.fromkeys(failures))  # the same line once

    def _validator_failures(self, report: ExamplesReport) -> list[str]:
        if self._checker is None:
            self._checker = Checker(self.ig, self.source)
        validator = self._checker.validator
        assert validator is not None
        failures: list[str] = []
        for g in report.generated:
            where = f"{g.filename} ({g.kind} instance of {g.profile.url})"
            issues = validator.validate_resource(g.resource)
            failures.extend(f"{where}: {i}" for i in issues if i.severity in ("error", "fatal"))
        return failures

    def _model_failures(self, report: ExamplesReport) -> list[str]:
        from igtools.render.models.python import ModelsRenderer

        name = f"_igtools_examples_check_{abs(hash(self.ig.package)) % 10**8}"
        tmp = Path(tempfile.mkdtemp(prefix="igtools-examples-"))
        failures: list[str] = []
        try:
            ModelsRenderer(self.ig, name).render(tmp)
            sys.path.insert(0, str(tmp))
            try:
                models = importlib.import_module(name)
                for g in report.generated:
                    cls = models.PROFILES.get(g.profile.url)
                    if cls is None:
                        continue
                    try:
                        cls.model_validate(g.resource)
                    except ValidationError as exc:
                        where = f"{g.filename} ({g.kind} instance of {g.profile.url})"
                        rt = str(g.resource.get("resourceType"))
                        failures.extend(f"{where}: {x}" for x in describe_errors(exc, rt))
            finally:
                sys.path.remove(str(tmp))
                for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
                    del sys.modules[mod]
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return failures

    def write(self, report: ExamplesReport, out: Path, fmt: str = "json") -> None:
        if out.exists():
            for old in list(out.glob("*.json")) + list(out.glob("*.xml")):
                old.unlink()
        out.mkdir(parents=True, exist_ok=True)
        index: dict[str, list[str]] = {}
        for g in report.generated:
            path = out / f"{g.filename}.{fmt}"
            if fmt == "xml":
                path.write_bytes(to_xml(g.resource))
            else:
                path.write_text(
                    json.dumps(g.resource, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
                )
            index.setdefault(g.profile.url, []).append(path.name)
            report.written.append(path)
        idx = out / "index.json"
        idx.write_text(json.dumps(dict(sorted(index.items())), indent=2, ensure_ascii=False) + "\n")
        report.written.append(idx)
        report.written.append(
            render(
                self.env,
                "README.md.jinja",
                out / "README.md",
                ig=self.ig,
                report=report,
                seed=self.seed,
                now=self.now.isoformat(),
                checked_by="validator" if self.source is not None else "models",
                fmt=fmt,
            )
        )


def example_error(failures: list[str]) -> ExampleError:
    files = {f.split(" ", 1)[0] for f in failures}
    return ExampleError(
        f"{len(files)} generated example(s) break their own profile "
        "(a bug in igtools' example generator):\n" + "\n".join(failures)
    )


def describe_errors(exc: ValidationError, root: str) -> list[str]:
    """A model's validation error as ``element path: constraint`` lines, without the
    library's wording around them (input values, documentation links)."""
    out = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        path = root
        for part in err.get("loc", ()):
            if isinstance(part, int):
                path += f"[{part}]"
            elif part and not str(part).startswith(("function-", "model-")):
                path += f".{part}"
        msg = str(err.get("msg", ""))
        for prefix in ("Value error, ", "Assertion failed, "):
            if msg.startswith(prefix):
                msg = msg[len(prefix) :]
        kind = str(err.get("type", ""))
        if kind == "missing":
            msg = "required element missing (min 1)"
        elif kind == "extra_forbidden":
            msg = "element not allowed here"
        out.append(f"{path}: {msg}")
    return out or [str(exc).splitlines()[0]]


def to_xml(resource: dict[str, Any]) -> bytes:
    """FHIR XML of a resource (fhir.resources R4B, serialised with lxml)."""
    from fhir.resources.R4B import get_fhir_model_class

    model = get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    xml = model.model_dump_xml(pretty_print=True)
    return xml if isinstance(xml, bytes) else str(xml).encode("utf-8")
