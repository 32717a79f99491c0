"""Golden records: everything igtools generates for the fixture IG, committed so that
every change to a template or a renderer shows as a reviewable diff.

Regenerate with ``python -m tests.golden`` (or ``nox -s golden``) after an intended
change, and commit the diff with it.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from igtools.ir import build_ir
from igtools.packages import PackageLoader, Settings
from igtools.render.docs.site import DocsRenderer
from igtools.render.examples.writer import ExamplesRenderer
from igtools.render.models.python import ModelsRenderer
from igtools.render.stubs.python import RUNTIME_DIR, StubsRenderer

HERE = Path(__file__).resolve().parent
FIXTURE = HERE.parent / "fixtures" / "mini-ig"
RECORD = HERE / "mini-ig"
NOW = datetime(2026, 1, 5, tzinfo=ZoneInfo("Europe/Paris"))


def generate(out: Path, cache: Path) -> None:
    """Write every artefact of the fixture IG under ``out``: models, examples, stubs (the
    server and client packages) and the docs project (Markdown and mkdocs.yml, before
    mkdocs builds it). Left out of the record, after checking them: the stubs' copy of the
    models (the models record has them) and the engine each stub package carries in
    ``_runtime/`` (verbatim copies of ``igtools/runtime/`` under a header)."""
    pset = PackageLoader(Settings(cache_dir=cache, offline=True)).load(str(FIXTURE))
    ig = build_ir(pset)
    ModelsRenderer(ig).render(out / "models")
    examples = ExamplesRenderer(ig, seed=0, now=NOW)
    report = examples.build()
    examples.check(report)
    examples.write(report, out / "examples")
    StubsRenderer(ig).render(out / "stubs")
    DocsRenderer(ig, pset, stubs_dir=out / "stubs").render(out / "docs")
    _check_stub_copies(out)
    shutil.rmtree(out / "stubs" / "models")
    for runtime in sorted((out / "stubs").glob("*/*/_runtime")):
        shutil.rmtree(runtime)


def _check_stub_copies(out: Path) -> None:
    models = tree(out / "models")
    assert tree(out / "stubs" / "models") == models, "the stubs' models differ from `models`"
    runtimes = sorted((out / "stubs").glob("*/*/_runtime"))
    assert runtimes, "no _runtime/ in the stub packages"
    for runtime in runtimes:
        for f in runtime.glob("*.py"):
            if f.name == "__init__.py":
                continue
            source = (RUNTIME_DIR / f.name).read_text("utf-8")
            assert f.read_text("utf-8").endswith(source), f"{f} is not igtools/runtime/{f.name}"


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }
