"""JSON-representation variants of every SAS example (the mutation suite's other
half): each breaks one rule of FHIR JSON as the reference validator reads it, and each
is rejected at its place. The variants are derived from the examples' own values, not
from a list of SAS paths."""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from igtools.ir import IG, build_ir
from igtools.packages import PackageLoader, Settings
from igtools.validate.validator import Validator
from tests.conftest import shared_path

pytestmark = pytest.mark.shared

JSON = Any


@pytest.fixture(scope="module", params=["1.1.0", "1.2.0"])
def sas(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[IG, Validator]:
    tgz = shared_path("fhir-packages", f"ans.fhir.fr.sas-{request.param}.tgz")
    cache = tmp_path_factory.mktemp("cache")
    ig = build_ir(PackageLoader(Settings(cache_dir=cache, offline=True)).load(str(tgz)))
    return ig, Validator(ig)


def _values(
    value: JSON, loc: str, path: tuple[Any, ...]
) -> Iterator[tuple[str, tuple[Any, ...], JSON]]:
    """(location, path of keys, value) of every value below ``value``, depth first."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k in ("resourceType", "div", "resource", "contained") or k.startswith("_"):
                continue
            yield f"{loc}.{k}", (*path, k), v
            yield from _values(v, f"{loc}.{k}", (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield f"{loc}[{i}]", (*path, i), v
            yield from _values(v, f"{loc}[{i}]", (*path, i))


def _set(data: JSON, path: tuple[Any, ...], value: JSON) -> JSON:
    out = copy.deepcopy(data)
    node = out
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return out


def json_variants(data: dict[str, Any]) -> Iterator[tuple[str, JSON, str]]:
    """(kind, variant, expected location) for one example: the first place of each kind."""
    rt = data["resourceType"]
    seen: set[str] = set()
    for loc, path, v in _values(data, rt, ()):
        in_array = isinstance(path[-1], int)

        def once(kind: str) -> bool:
            if kind in seen:
                return False
            seen.add(kind)
            return True

        if isinstance(v, bool) and once("quoted-boolean"):
            yield "quoted-boolean", _set(data, path, str(v).lower()), loc
        elif isinstance(v, int | float) and not isinstance(v, bool) and once("quoted-number"):
            yield "quoted-number", _set(data, path, str(v)), loc
        elif isinstance(v, str) and v and not in_array:
            if once("empty-string"):
                yield "empty-string", _set(data, path, ""), loc
            elif once("number-for-string"):
                yield "number-for-string", _set(data, path, 12), loc
            elif once("null-value"):
                yield "null-value", _set(data, path, None), loc
        elif isinstance(v, dict) and v and not in_array:
            if once("empty-object"):
                yield "empty-object", _set(data, path, {}), loc
            elif once("array-for-single"):
                yield "array-for-single", _set(data, path, [v]), loc
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            if once("empty-array"):
                yield "empty-array", _set(data, path, []), loc
            elif once("single-for-array"):
                yield "single-for-array", _set(data, path, v[0]), loc
    yield "unknown-element", {**data, "inventedElement": "x"}, f"{rt}.inventedElement"
    yield "unknown-resource-type", {**data, "resourceType": rt + "x"}, rt


def test_every_json_variant_rejected_at_its_place(
    sas: tuple[IG, Validator], tmp_path: Path
) -> None:
    ig, validator = sas
    kinds: Counter[str] = Counter()
    missed: list[str] = []
    for ex in ig.examples:
        for kind, variant, where in json_variants(ex.data):
            kinds[kind] += 1
            errors = [i for i in validator.validate_resource(variant) if i.severity == "error"]
            if not any(e.location.startswith(where) for e in errors):
                shown = [str(e) for e in errors][:3]
                missed.append(f"{ex.resource_type}/{ex.id} {kind} at {where}: {shown}")
        # duplicate keys live in the text: through the file reader
        raw = json.dumps(ex.data, ensure_ascii=False)
        dup = raw.replace('"resourceType"', '"id": "dup", "resourceType"', 1)
        f = tmp_path / "dup.json"
        f.write_text(dup, encoding="utf-8")
        result = validator.validate_file(f)
        kinds["duplicate-key"] += 1
        if result.valid or not any("id" in i.message for i in result.issues):
            missed.append(f"{ex.resource_type}/{ex.id} duplicate-key: {result.issues[:2]}")
    assert missed == []
    for kind in (
        "quoted-boolean",
        "quoted-number",
        "empty-string",
        "number-for-string",
        "null-value",
        "empty-object",
        "array-for-single",
        "empty-array",
        "single-for-array",
        "unknown-element",
        "unknown-resource-type",
        "duplicate-key",
    ):
        assert kinds[kind] > 0, (kind, kinds)
