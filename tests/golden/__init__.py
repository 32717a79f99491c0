"""Golden records: everything igtools generates for the fixture IG, committed so that
every change to a template or a renderer shows as a reviewable diff.

Regenerate with ``python -m tests.golden`` (or ``nox -s golden``) after an intended
change, and commit the diff with it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from igtools.ir import build_ir
from igtools.packages import PackageLoader, Settings
from igtools.render.examples.writer import ExamplesRenderer
from igtools.render.models.python import ModelsRenderer

HERE = Path(__file__).resolve().parent
FIXTURE = HERE.parent / "fixtures" / "mini-ig"
RECORD = HERE / "mini-ig"
NOW = datetime(2026, 1, 5, tzinfo=ZoneInfo("Europe/Paris"))


def generate(out: Path, cache: Path) -> None:
    """Write every artefact of the fixture IG under ``out``."""
    pset = PackageLoader(Settings(cache_dir=cache, offline=True)).load(str(FIXTURE))
    ig = build_ir(pset)
    ModelsRenderer(ig).render(out / "models")
    examples = ExamplesRenderer(ig, seed=0, now=NOW)
    report = examples.build()
    examples.check(report)
    examples.write(report, out / "examples")


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }
