"""A generated instance that breaks its profile is reported by element path, constraint
and profile, never with the validation library's internals."""

from __future__ import annotations

import copy

import pytest

from igtools.ir import build_ir
from igtools.packages import PackageLoader, Settings
from igtools.render.examples.writer import ExampleError, ExamplesRenderer, parse_now
from tests.golden import FIXTURE


@pytest.fixture(scope="module")
def renderer(tmp_path_factory: pytest.TempPathFactory) -> ExamplesRenderer:
    settings = Settings(cache_dir=tmp_path_factory.mktemp("cache"), offline=True)
    loader = PackageLoader(settings)
    try:
        pset = loader.load(str(FIXTURE))
    finally:
        loader.close()
    return ExamplesRenderer(build_ir(pset), now=parse_now("2026-01-05"))


def test_broken_instance_is_named_by_path_constraint_and_profile(
    renderer: ExamplesRenderer,
) -> None:
    report = renderer.build()
    assert renderer.failures(report) == []
    target = next(g for g in report.generated if g.kind == "minimal")
    required = [
        el
        for el in target.profile.elements()
        if el.min >= 1 and el.path.count(".") == 1 and el.path.split(".")[1] in target.resource
    ]
    assert required, "the fixture has a profile with a required top-level element"
    name = required[0].path.split(".")[1]
    broken = copy.deepcopy(target.resource)
    del broken[name]
    target.resource = broken
    report.generated = [target]
    with pytest.raises(ExampleError) as info:
        renderer.check(report)
    text = str(info.value)
    assert f"{target.filename} (minimal instance of {target.profile.url})" in text
    assert f"{broken['resourceType']}.{name}" in text
    assert "errors.pydantic.dev" not in text
    assert "input_value" not in text
    assert "For further information" not in text
